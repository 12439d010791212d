//! Task slots: each takes queued tasks, gathers their inputs (held here or
//! fetched from peers), runs them inline or on the rayon pool, reports the
//! result, and spills before taking the next.

use super::fetch::fetch;
use super::shared::Shared;
use crate::distributed::proto::{FromWorker, InputLoc, JobId};
use crate::exec::run::{run_op, RunContext};
use crate::graph::Op;
use darray_kernels::Chunk;
use std::sync::Arc;
use std::time::Instant;

/// A task waiting for a slot, as the scheduler sent it.
pub(super) struct Queued {
    pub(super) generation: u64,
    pub(super) job: JobId,
    pub(super) task: u32,
    pub(super) attempt: u32,
    /// Projected peak bytes, as the scheduler sent them.
    pub(super) mem_bytes: u64,
    pub(super) op: Op,
    pub(super) inputs: Vec<InputLoc>,
}

/// Whether a task is cheap enough to run on its slot, on the I/O thread, rather
/// than be handed to the thread pool and back: small (see
/// [`SMALL_TASK_BYTES`](crate::distributed::scheduler::SMALL_TASK_BYTES)) and of
/// an op whose cost its size bounds ([`Op::is_cheap_inline`], an allow-list).
pub(super) fn runs_inline(op: &Op, mem_bytes: u64) -> bool {
    mem_bytes <= crate::distributed::scheduler::SMALL_TASK_BYTES && op.is_cheap_inline()
}

/// Inline tasks a slot runs in a row before letting the connection tasks run
/// (which then send the batch of results in one write).
pub(super) const INLINE_BATCH: usize = 32;

/// One task slot: takes queued tasks, gathers inputs, runs them, and spills
/// down to the memory target before taking the next (so a slot cannot outrun
/// the disk). While the worker is paused it takes nothing: queued tasks stay
/// in the queue, where the scheduler can steal them.
pub(super) async fn slot(shared: Arc<Shared>) {
    let mut inline_run = 0;
    loop {
        if inline_run >= INLINE_BATCH {
            inline_run = 0;
            tokio::task::yield_now().await;
        }
        if shared.memory.is_paused() {
            shared.memory.unpaused().await;
            continue;
        }
        let next = shared.queue.lock().pop_front();
        let Some(q) = next else {
            inline_run = 0;
            shared.notify.notified().await;
            continue;
        };
        if runs_inline(&q.op, q.mem_bytes) {
            inline_run += 1;
        } else {
            inline_run = 0;
        }
        {
            let _running = shared.memory.running();
            run_one(&shared, q).await;
        }
        if shared.memory.over_target() {
            shared.spill().await;
        }
    }
}

pub(super) async fn run_one(shared: &Arc<Shared>, q: Queued) {
    let Queued {
        generation,
        job,
        task,
        attempt,
        mem_bytes,
        op,
        inputs,
    } = q;
    let mut chunks = Vec::with_capacity(inputs.len());
    let mut fetched = Vec::new();
    let mut missing = Vec::new();
    let mut remote = Vec::new();
    for (i, inp) in inputs.iter().enumerate() {
        match shared.load((job, inp.task)).await {
            Some(c) => chunks.push(Some(c)),
            None => {
                chunks.push(None);
                remote.push(i);
            }
        }
    }
    // Inputs held elsewhere are fetched at once (one connection per peer, so
    // inputs from different peers overlap); the time is the wait for all.
    let t0 = Instant::now();
    let got =
        futures_util::future::join_all(remote.iter().map(|&i| fetch(shared, job, &inputs[i])))
            .await;
    let fetch_nanos = if remote.is_empty() {
        0
    } else {
        u64::try_from(t0.elapsed().as_nanos()).unwrap_or(u64::MAX)
    };
    for (&i, got) in remote.iter().zip(got) {
        let inp = &inputs[i];
        match got {
            Some(c) => {
                shared.memory.insert((job, inp.task), c.clone());
                fetched.push(inp.task);
                chunks[i] = Some(c);
            }
            None => missing.push((inp.task, inp.holders.clone())),
        }
    }
    if shared.released_jobs.lock().contains(&job) || shared.generation() != generation {
        return;
    }
    if !missing.is_empty() {
        shared.send(
            &FromWorker::Missing {
                job,
                task,
                attempt,
                inputs: missing,
            },
            None,
        );
        return;
    }
    let chunks: Vec<Arc<Chunk>> = chunks
        .into_iter()
        .map(|c| c.expect("every input is local or fetched"))
        .collect();
    let inline = runs_inline(&op, mem_bytes);
    let body = move |ctx: &RunContext| {
        let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let refs: Vec<&Chunk> = chunks.iter().map(AsRef::as_ref).collect();
            run_op(&op, &refs, ctx)
        }));
        // Inputs are let go before the result is reported.
        drop(chunks);
        res
    };
    let res = if inline {
        Ok(body(&shared.ctx))
    } else {
        // The body runs on the worker's rayon pool; its result comes back here.
        let (tx, rx) = tokio::sync::oneshot::channel();
        let sh = shared.clone();
        shared.pool.spawn(move || {
            let _ = tx.send(body(&sh.ctx));
        });
        rx.await
    };
    if shared.released_jobs.lock().contains(&job) || shared.generation() != generation {
        return;
    }
    let out = match res {
        Ok(Ok(r)) => r.map_err(|e| e.to_string()),
        Ok(Err(p)) => Err(format!("panic: {}", crate::exec::panic_message(&p))),
        Err(_) => Err("task did not complete: its thread dropped it".to_string()),
    };
    match out {
        Ok(c) => shared.hold(job, task, attempt, c, (fetched, fetch_nanos)),
        Err(message) => shared.send(
            &FromWorker::Failed {
                job,
                task,
                attempt,
                message,
            },
            None,
        ),
    }
}
