//! The drivers: each takes ready tasks under the lock, runs them on the
//! executor as a graph of `Op::Call` tasks (argument results as literal
//! inputs), and records the outcomes.

use super::state::{Failure, Job, JobArg};
use super::Shared;
use crate::delayed::{AnyDelayed, Delayed, Node, NodeArg, NodeKind};
use crate::error::Error;
use crate::exec::Executor;
use crate::graph::ArrayId;
use darray_kernels::Chunk;
use std::sync::Arc;

/// A driver: takes the lowest ready tasks (up to the batch size), runs them,
/// records the outcomes.
pub(super) fn drive(shared: &Shared) {
    loop {
        let jobs = {
            let mut st = shared.state.lock();
            loop {
                if st.shutdown {
                    return;
                }
                let mut jobs = Vec::new();
                while jobs.len() < st.batch.max(1) {
                    match st.start_next() {
                        Some(job) => jobs.push(job),
                        None => break,
                    }
                }
                if !jobs.is_empty() {
                    break jobs;
                }
                shared.work.wait(&mut st);
            }
        };
        let outs = run_batch(&*shared.exec, &jobs);
        let mut st = shared.state.lock();
        for (job, out) in jobs.iter().zip(outs) {
            st.finish(job.id, out);
        }
        drop(st);
        // A finish may make several tasks ready.
        shared.work.notify_all();
        shared.done.notify_all();
    }
}

type Outcome = std::result::Result<Arc<Chunk>, Failure>;

/// Runs `jobs` as one graph; if that fails, each alone, so a failure is
/// charged to its own task and the others' results are kept (the tasks of a
/// failed batch run again: functions are expected to be pure).
fn run_batch(exec: &dyn Executor, jobs: &[Job]) -> Vec<Outcome> {
    if let [job] = jobs {
        return vec![run_job(exec, job)];
    }
    let calls: Vec<Delayed<()>> = jobs.iter().map(call_of).collect();
    let refs: Vec<&dyn AnyDelayed> = calls.iter().map(|c| c as &dyn AnyDelayed).collect();
    let together = crate::delayed::graph_for(&refs, exec.memory_budget())
        .ok()
        .and_then(|g| {
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| exec.execute(&g))).ok()
        })
        .and_then(std::result::Result::ok);
    match together {
        Some(outs) if outs.len() == jobs.len() => outs.into_iter().map(Ok).collect(),
        Some(_) | None => jobs.iter().map(|j| run_job(exec, j)).collect(),
    }
}

/// The call of `job`, its argument results as held values (literal tasks).
fn call_of(job: &Job) -> Delayed<()> {
    let args = job
        .args
        .iter()
        .map(|a| match a {
            JobArg::Value(b) => NodeArg::Value(b.clone()),
            JobArg::Chunk(id, c) => NodeArg::Handle(Arc::new(Node {
                id: ArrayId(*id),
                mem_bytes: c.nbytes() as u64,
                kind: NodeKind::Literal(c.clone()),
            })),
        })
        .collect();
    Delayed::from_node(Node {
        id: ArrayId(job.id),
        kind: NodeKind::Call {
            function: job.function.clone(),
            args,
        },
        mem_bytes: job.mem_bytes,
    })
}

/// Runs one task: the call with its argument results as literal inputs.
fn run_job(exec: &dyn Executor, job: &Job) -> Outcome {
    let fail = |message: String| Failure::Error {
        key: job.key.clone(),
        function: job.function.clone(),
        message,
    };
    let call = call_of(job);
    let graph = crate::delayed::graph_for(&[&call], exec.memory_budget())
        .map_err(|e| fail(e.to_string()))?;
    let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| exec.execute(&graph)));
    match run {
        Ok(Ok(mut out)) => out
            .pop()
            .ok_or_else(|| fail("the executor returned no result".into())),
        Ok(Err(Error::Task { source, .. })) => Err(fail(match *source {
            Error::FunctionFailed { message, .. } => message,
            other => other.to_string(),
        })),
        Ok(Err(e)) => Err(fail(e.to_string())),
        Err(p) => Err(fail(format!(
            "the executor panicked: {}",
            crate::exec::panic_message(&p)
        ))),
    }
}
