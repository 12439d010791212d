//! The state a worker's connections, slots and monitor share: results held
//! (spilled as memory requires), the task queue, the scheduler connection's
//! outgoing queue and the peer connection pool.

use super::memory::{Key, Lookup, MemoryManager, ProcessProbe, Removed};
use super::slots::Queued;
use super::{WorkerConfig, MEMORY_INTERVAL};
use crate::distributed::auth::Secret;
use crate::distributed::proto::{out, FromWorker, JobId, Outgoing};
use crate::distributed::tls::{Stream, TlsConfig};
use crate::distributed::wire::Limits;
use crate::exec::run::RunContext;
use crate::store::StoreCache;
use darray_kernels::Chunk;
use parking_lot::Mutex;
use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use tokio::sync::{mpsc, Notify};

/// Inputs fetched from peers for a task, and the nanoseconds that took.
pub(super) type Fetched = (Vec<u32>, u64);

pub(super) struct Shared {
    /// Results held, spilled as memory requires.
    pub(super) memory: MemoryManager,
    /// Runs task bodies: `nthreads` threads.
    pub(super) pool: rayon::ThreadPool,
    pub(super) queue: Mutex<VecDeque<Queued>>,
    pub(super) released_jobs: Mutex<HashSet<JobId>>,
    pub(super) notify: Notify,
    /// The current scheduler connection's queue (none while reconnecting).
    pub(super) to_sched: Mutex<Option<mpsc::UnboundedSender<Outgoing>>>,
    /// Bumped on every reconnect: work from an older connection is dropped.
    pub(super) generation: std::sync::atomic::AtomicU64,
    pub(super) limits: Limits,
    pub(super) secret: Arc<Secret>,
    pub(super) tls: Option<Arc<TlsConfig>>,
    pub(super) ctx: RunContext,
    pub(super) peers: Mutex<HashMap<SocketAddr, Arc<tokio::sync::Mutex<Option<Stream>>>>>,
    /// [`WorkerConfig::peer_send_bytes_per_sec`], zero taken as unset.
    pub(super) peer_send_bytes_per_sec: Option<usize>,
}

impl Shared {
    /// A worker's state, before any scheduler connection.
    pub(super) fn new(
        config: &WorkerConfig,
        secret: Arc<Secret>,
        tls: Option<Arc<TlsConfig>>,
        spill_base: &Path,
    ) -> std::io::Result<Self> {
        let probe = config
            .memory_probe
            .clone()
            .unwrap_or_else(|| Arc::new(ProcessProbe));
        let memory = MemoryManager::new(
            config.memory_limit,
            config.memory_fractions,
            probe,
            spill_base,
        )?;
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(config.nthreads.max(1))
            .thread_name(|i| format!("darray-task-{i}"))
            .build()
            .map_err(std::io::Error::other)?;
        Ok(Shared {
            memory,
            pool,
            queue: Mutex::new(VecDeque::new()),
            released_jobs: Mutex::new(HashSet::new()),
            notify: Notify::new(),
            to_sched: Mutex::new(None),
            generation: std::sync::atomic::AtomicU64::new(0),
            limits: config.limits.clone(),
            secret,
            tls,
            ctx: RunContext {
                // One pooled chunk buffer per task thread, as the local executor.
                store: StoreCache::with_buffer_pool(config.nthreads.max(1)),
            },
            peers: Mutex::new(HashMap::new()),
            peer_send_bytes_per_sec: config.peer_send_bytes_per_sec.filter(|&n| n > 0),
        })
    }

    pub(super) fn send(&self, msg: &FromWorker, chunk: Option<Arc<Chunk>>) {
        match out(msg, chunk, &self.limits) {
            Ok(o) => {
                if let Some(tx) = &*self.to_sched.lock() {
                    let _ = tx.send(o);
                }
            }
            Err(e) => tracing::error!("message to the scheduler not sent: {e}"),
        }
    }

    /// Keeps a task's result and reports it done (with the inputs fetched for
    /// it and the time their fetches took).
    pub(super) fn hold(&self, job: JobId, task: u32, attempt: u32, chunk: Chunk, fetched: Fetched) {
        let (fetched, fetch_nanos) = fetched;
        let nbytes = chunk.nbytes() as u64;
        self.memory.insert((job, task), Arc::new(chunk));
        let done = FromWorker::Done {
            job,
            task,
            attempt,
            nbytes,
            fetched,
            fetch_nanos,
        };
        self.send(&done, None);
    }

    pub(super) fn generation(&self) -> u64 {
        self.generation.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Tells the scheduler the worker is alive, with its memory.
    pub(super) fn heartbeat(&self) {
        let memory = self.memory.report();
        self.send(&FromWorker::Heartbeat { memory }, None);
    }

    /// Forgets everything of the previous scheduler connection.
    pub(super) fn reset(&self) {
        self.generation
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        *self.to_sched.lock() = None;
        self.queue.lock().clear();
        dispose(self, self.memory.clear());
        self.released_jobs.lock().clear();
    }

    /// The chunk held under `key`, read back from disk (off the reactor) if
    /// it was spilled; `None` if not held.
    pub(super) async fn load(self: &Arc<Self>, key: Key) -> Option<Arc<Chunk>> {
        match self.memory.lookup(key) {
            Lookup::Memory(c) => Some(c),
            Lookup::Absent => None,
            Lookup::Disk => {
                let sh = self.clone();
                match tokio::task::spawn_blocking(move || sh.memory.load_blocking(key)).await {
                    Ok(Ok(c)) => c,
                    Ok(Err(e)) => {
                        tracing::error!(
                            job = key.0,
                            task = key.1,
                            "cannot read a spilled chunk back: {e}"
                        );
                        None
                    }
                    Err(e) => {
                        tracing::error!("reading a spilled chunk back did not finish: {e}");
                        None
                    }
                }
            }
        }
    }

    /// Spills down to the target (off the reactor), then reports the new
    /// memory to the scheduler if anything was spilled.
    pub(super) async fn spill(self: &Arc<Self>) {
        let sh = self.clone();
        if let Ok(pass) = tokio::task::spawn_blocking(move || sh.memory.spill_to_target()).await {
            if pass.chunks > 0 {
                tracing::debug!(chunks = pass.chunks, bytes = pass.bytes, "spilled");
                self.heartbeat();
            }
        }
    }
}

/// Gives released chunks that nothing else holds back to the store's buffer
/// pool, so the next chunk read reuses their memory instead of mapping fresh
/// pages (as the local executor does), and deletes released spill files off the
/// reactor.
pub(super) fn dispose(shared: &Shared, mut removed: Removed) {
    for c in removed.take_chunks() {
        if let Ok(c) = Arc::try_unwrap(c) {
            shared.ctx.store.recycle(c);
        }
    }
    if removed.has_files() {
        tokio::task::spawn_blocking(move || removed.delete_files());
    }
}

/// Reads the probe every [`MEMORY_INTERVAL`]: pauses or resumes the worker,
/// and spills when due.
pub(super) async fn monitor(shared: Arc<Shared>) {
    let mut tick = tokio::time::interval(MEMORY_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if shared.memory.check() {
            shared.spill().await;
        }
    }
}
