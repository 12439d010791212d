//! One scheduler connection: register with a hello, send heartbeats, and turn
//! the scheduler's messages into queued tasks, steals, sends and releases.

use super::shared::{dispose, Shared};
use super::slots::Queued;
use super::{WorkerConfig, HEARTBEAT};
use crate::distributed::auth::{self, Secret};
use crate::distributed::proto::{
    out, read_chunk, read_msg, write_msg, writer, FromWorker, Hello, ToWorker, READ_BUFFER,
};
use crate::distributed::wire::WireError;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::mpsc;

/// One scheduler connection: register, then serve its messages until it ends.
pub(super) async fn session(
    config: &WorkerConfig,
    secret: &Secret,
    shared: &Arc<Shared>,
    listen_addr: SocketAddr,
) -> Result<(), WireError> {
    let stream = auth::connect_with(
        config.scheduler,
        secret,
        shared.tls.as_deref(),
        &config.limits,
    )
    .await?;
    stream.set_nodelay(true)?;
    let mut data_addr = listen_addr;
    if data_addr.ip().is_unspecified() {
        // Peers reach us at the address the scheduler connection uses.
        data_addr.set_ip(stream.local_addr()?.ip());
    }
    let (r, mut w) = stream.into_split();
    let mut r = tokio::io::BufReader::with_capacity(READ_BUFFER, r);
    let hello = Hello::Worker {
        nthreads: u32::try_from(config.nthreads.max(1)).unwrap_or(u32::MAX),
        memory_limit: config.memory_limit,
        data_addr,
        name: config.name.clone(),
    };
    write_msg(&mut w, &hello, None, &config.limits).await?;
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(writer(w, rx));
    *shared.to_sched.lock() = Some(tx.clone());
    tracing::info!(name = config.name, %data_addr, nthreads = config.nthreads, "worker registered");
    // Heartbeats until the connection's queue closes.
    let beat_shared = shared.clone();
    let limits = config.limits.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(HEARTBEAT);
        loop {
            tick.tick().await;
            let memory = beat_shared.memory.report();
            let Ok(beat) = out(&FromWorker::Heartbeat { memory }, None, &limits) else {
                return;
            };
            if tx.send(beat).is_err() {
                return;
            }
        }
    });
    loop {
        let msg: ToWorker = match read_msg(&mut r, &config.limits).await {
            Ok(m) => m,
            Err(WireError::Closed) => return Ok(()),
            Err(e) => return Err(e),
        };
        match msg {
            ToWorker::Run {
                job,
                task,
                attempt,
                mem_bytes,
                op,
                inputs,
            } => {
                shared.queue.lock().push_back(Queued {
                    generation: shared.generation(),
                    job,
                    task,
                    attempt,
                    mem_bytes,
                    op: *op,
                    inputs,
                });
                shared.notify.notify_one();
            }
            ToWorker::Literal { job, task, attempt } => {
                let chunk = read_chunk(&mut r, &config.limits).await?;
                shared.hold(job, task, attempt, chunk, (Vec::new(), 0));
            }
            ToWorker::Steal { job, task, attempt } => {
                let stolen = {
                    let mut q = shared.queue.lock();
                    let before = q.len();
                    q.retain(|t| !(t.job == job && t.task == task && t.attempt == attempt));
                    q.len() != before
                };
                shared.send(
                    &FromWorker::StealReply {
                        job,
                        task,
                        attempt,
                        stolen,
                    },
                    None,
                );
            }
            ToWorker::Send { job, task } => {
                // A spilled chunk is read back first, without holding up this loop.
                let sh = shared.clone();
                tokio::spawn(async move {
                    let c = sh.load((job, task)).await;
                    let present = c.is_some();
                    sh.send(&FromWorker::Data { job, task, present }, c);
                });
            }
            ToWorker::Release { job, tasks } => {
                dispose(
                    shared,
                    shared.memory.release(tasks.into_iter().map(|t| (job, t))),
                );
            }
            ToWorker::ReleaseJob { job } => {
                shared.released_jobs.lock().insert(job);
                shared.queue.lock().retain(|t| t.job != job);
                dispose(shared, shared.memory.release_job(job));
            }
        }
    }
}
