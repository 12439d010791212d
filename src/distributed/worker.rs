//! A worker: runs the tasks the scheduler sends on `nthreads` slots, keeps
//! their results, serves them to peers (authenticated, like every listener),
//! fetches inputs from peers, and gives queued tasks back when the scheduler
//! steals them.
//!
//! Tasks run the same `run_op` as the local executor, so results are
//! bit-identical wherever they run. User kernels (`map_blocks`) run here when
//! this process registered them: a user's own binary can act as a worker
//! ([`run_from_args`](super::run_from_args)).
//!
//! Testing aid: `DARRAY_TEST_PEER_SEND_BYTES_PER_SEC=N`, read once, makes the
//! peer server send chunk frames at about `N` bytes per second and log
//! `peer send throttled` once the first bytes are out, so a test can kill a
//! worker in the middle of a worker-to-worker transfer. Unset (the default),
//! sends are not touched.

pub mod memory;

use super::auth::{self, Secret};
use super::proto::{
    out, read_chunk, read_chunk_pooled, read_msg, write_msg, writer, FromWorker, Hello, InputLoc,
    JobId, Outgoing, PeerReply, PeerRequest, ToWorker, READ_BUFFER,
};
use super::tls::{Stream, TlsConfig};
use super::wire::{Limits, WireError};
use crate::exec::run::{run_op, RunContext};
use crate::graph::Op;
use crate::store::StoreCache;
use darray_kernels::Chunk;
use memory::{Key, Lookup, MemoryFractions, MemoryManager, MemoryProbe, ProcessProbe, Removed};
use parking_lot::Mutex;
use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, Notify};

/// How a worker starts.
#[derive(Clone, Debug)]
pub struct WorkerConfig {
    /// The scheduler's address.
    pub scheduler: SocketAddr,
    /// Task slots (threads running tasks at once).
    pub nthreads: usize,
    /// Bytes of task memory this worker accepts (results held plus running
    /// tasks); results beyond `memory_fractions.target()` of it are spilled to
    /// disk (see [`memory`]).
    pub memory_limit: u64,
    /// Where spilling and pausing start, as fractions of `memory_limit`
    /// (default: target 0.6, pause 0.8).
    pub memory_fractions: MemoryFractions,
    /// How the worker reads its process's memory (`None`: [`ProcessProbe`]).
    pub memory_probe: Option<Arc<dyn MemoryProbe>>,
    /// Where to listen for peers; port 0 picks one.
    pub listen: SocketAddr,
    /// Working directory (created if missing); the process changes into it
    /// and spills into a subdirectory of it (without one, of the system's
    /// temporary directory).
    pub local_dir: Option<PathBuf>,
    /// A name for logs.
    pub name: String,
    /// Frame and connection limits.
    pub limits: Limits,
    /// How long to keep trying to reach a lost scheduler before exiting.
    pub reconnect_for: Duration,
}

struct Queued {
    generation: u64,
    job: JobId,
    task: u32,
    attempt: u32,
    /// Projected peak bytes, as the scheduler sent them.
    mem_bytes: u64,
    op: Op,
    inputs: Vec<InputLoc>,
}

/// Whether a task is cheap enough to run on its slot, on the I/O thread, rather
/// than be handed to the thread pool and back: small (see
/// [`SMALL_TASK_BYTES`](super::scheduler::SMALL_TASK_BYTES)) and computing only,
/// no store I/O, user kernel or linear algebra, whose cost the size does not
/// bound.
fn runs_inline(op: &Op, mem_bytes: u64) -> bool {
    mem_bytes <= super::scheduler::SMALL_TASK_BYTES
        && !matches!(
            op,
            Op::ReadZarr { .. } | Op::WriteZarr { .. } | Op::MapBlocks { .. } | Op::Linalg { .. }
        )
}

/// Inline tasks a slot runs in a row before letting the connection tasks run
/// (which then send the batch of results in one write).
const INLINE_BATCH: usize = 32;

/// Inputs fetched from peers for a task, and the nanoseconds that took.
type Fetched = (Vec<u32>, u64);

struct Shared {
    /// Results held, spilled as memory requires.
    memory: MemoryManager,
    /// Runs task bodies: `nthreads` threads.
    pool: rayon::ThreadPool,
    queue: Mutex<VecDeque<Queued>>,
    released_jobs: Mutex<HashSet<JobId>>,
    notify: Notify,
    /// The current scheduler connection's queue (none while reconnecting).
    to_sched: Mutex<Option<mpsc::UnboundedSender<Outgoing>>>,
    /// Bumped on every reconnect: work from an older connection is dropped.
    generation: std::sync::atomic::AtomicU64,
    limits: Limits,
    secret: Arc<Secret>,
    tls: Option<Arc<TlsConfig>>,
    ctx: RunContext,
    peers: Mutex<HashMap<SocketAddr, Arc<tokio::sync::Mutex<Option<Stream>>>>>,
}

impl Shared {
    /// A worker's state, before any scheduler connection.
    fn new(
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
        })
    }

    fn send(&self, msg: &FromWorker, chunk: Option<Arc<Chunk>>) {
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
    fn hold(&self, job: JobId, task: u32, attempt: u32, chunk: Chunk, fetched: Fetched) {
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

    fn generation(&self) -> u64 {
        self.generation.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Tells the scheduler the worker is alive, with its memory.
    fn heartbeat(&self) {
        let memory = self.memory.report();
        self.send(&FromWorker::Heartbeat { memory }, None);
    }

    /// Forgets everything of the previous scheduler connection.
    fn reset(&self) {
        self.generation
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        *self.to_sched.lock() = None;
        self.queue.lock().clear();
        dispose(self, self.memory.clear());
        self.released_jobs.lock().clear();
    }

    /// The chunk held under `key`, read back from disk (off the reactor) if
    /// it was spilled; `None` if not held.
    async fn load(self: &Arc<Self>, key: Key) -> Option<Arc<Chunk>> {
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
    async fn spill(self: &Arc<Self>) {
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
fn dispose(shared: &Shared, mut removed: Removed) {
    for c in removed.take_chunks() {
        if let Ok(c) = Arc::try_unwrap(c) {
            shared.ctx.store.recycle(c);
        }
    }
    if removed.has_files() {
        tokio::task::spawn_blocking(move || removed.delete_files());
    }
}

/// How often the memory monitor reads the probe (dask's
/// `distributed.worker.memory.monitor-interval`).
pub const MEMORY_INTERVAL: Duration = Duration::from_millis(100);

/// Reads the probe every [`MEMORY_INTERVAL`]: pauses or resumes the worker,
/// and spills when due.
async fn monitor(shared: Arc<Shared>) {
    let mut tick = tokio::time::interval(MEMORY_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if shared.memory.check() {
            shared.spill().await;
        }
    }
}

/// How often a worker tells the scheduler it is alive.
pub const HEARTBEAT: Duration = Duration::from_millis(500);

/// Runs a worker: connects to the scheduler, and after losing it keeps trying
/// to reconnect (with backoff, for `reconnect_for`), so a restarted scheduler
/// gets its workers back. Results held for the old scheduler are dropped. A
/// worker started before its scheduler waits for it the same way.
///
/// # Errors
/// The peer listener failing to bind, the first connection failing for a
/// reason other than no scheduler listening yet (a wrong secret or version,
/// TLS on one side only), or no scheduler for `reconnect_for`.
pub async fn run(config: WorkerConfig, secret: Arc<Secret>) -> Result<(), WireError> {
    run_with(config, secret, None).await
}

/// As [`run`], over TLS when `tls` is given: to the scheduler, on the peer port
/// and for peer fetches.
///
/// # Errors
/// As [`run`].
pub async fn run_with(
    config: WorkerConfig,
    secret: Arc<Secret>,
    tls: Option<Arc<TlsConfig>>,
) -> Result<(), WireError> {
    if let Some(dir) = &config.local_dir {
        std::fs::create_dir_all(dir)?;
        std::env::set_current_dir(dir)?;
    }
    let spill_base = match &config.local_dir {
        Some(_) => std::env::current_dir()?,
        None => std::env::temp_dir(),
    };
    auth::check_listen(&config.listen, Some(&secret))?;
    let listener = TcpListener::bind(config.listen).await?;
    let listen_addr = listener.local_addr()?;
    let shared = Arc::new(Shared::new(&config, secret.clone(), tls, &spill_base)?);
    tracing::info!(dir = %shared.memory.dir().display(), "spilling to");
    let res = tokio::select! {
        r = serve(&config, &secret, &shared, listener, listen_addr) => r,
        () = shutdown_signal() => {
            tracing::info!("signal received: exiting");
            Ok(())
        }
    };
    shared.memory.remove_dir();
    res
}

/// Resolves on SIGINT or SIGTERM (never, if they cannot be caught).
async fn shutdown_signal() {
    let int = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(t) => t,
                Err(_) => return std::future::pending().await,
            };
        tokio::select! {
            _ = int => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = int.await;
    }
}

/// Serves peers, runs task slots and the memory monitor, and keeps a
/// scheduler connection (reconnecting after a loss) until that fails.
async fn serve(
    config: &WorkerConfig,
    secret: &Arc<Secret>,
    shared: &Arc<Shared>,
    listener: TcpListener,
    listen_addr: SocketAddr,
) -> Result<(), WireError> {
    let peer_shared = shared.clone();
    tokio::spawn(auth::serve_with(
        listener,
        secret.clone(),
        shared.tls.clone(),
        config.limits.clone(),
        move |stream, peer, admission| {
            let shared = peer_shared.clone();
            async move {
                let _admission = admission;
                if let Err(e) = serve_peer(stream, &shared).await {
                    if !matches!(e, WireError::Closed) {
                        tracing::info!(%peer, "peer connection closed: {e}");
                    }
                }
            }
        },
    ));
    for _ in 0..config.nthreads.max(1) {
        tokio::spawn(slot(shared.clone()));
    }
    tokio::spawn(monitor(shared.clone()));
    let mut first = true;
    // Backoff between attempts; it grows while sessions keep failing at once
    // (a scheduler that drops us during the handshake, at its connection
    // cap), and starts over after a session that lasted.
    let mut wait = RECONNECT_FIRST;
    // When the last lasting session ended: past `reconnect_for` without one,
    // the worker gives up.
    let mut lost_since: Option<Instant> = None;
    loop {
        let began = Instant::now();
        let res = session(config, secret, shared, listen_addr).await;
        shared.reset();
        match res {
            // A scheduler at its handshake cap (silent or slow connections
            // holding the slots) drops us at once: try again, as after a loss.
            Err(e) if first && dropped_in_handshake(&e) => {
                tracing::warn!(
                    "scheduler dropped the connection during the handshake: {e}; retrying"
                );
            }
            // Started before its scheduler (as dask workers may be): keep
            // trying for `reconnect_for`, as after a loss.
            Err(e) if first && not_up_yet(&e) => {
                tracing::warn!(
                    "no scheduler at {} yet: {e}; retrying for {:?}",
                    config.scheduler,
                    config.reconnect_for
                );
            }
            Err(e) if first => return Err(e),
            Err(e) => tracing::warn!("scheduler connection lost: {e}"),
            Ok(()) => tracing::warn!("scheduler closed the connection"),
        }
        first = false;
        if began.elapsed() >= RECONNECT_LASTING {
            wait = RECONNECT_FIRST;
            lost_since = None;
        }
        let start = *lost_since.get_or_insert_with(Instant::now);
        // Reconnect with backoff.
        loop {
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(RECONNECT_MAX);
            let up = matches!(
                tokio::time::timeout(
                    config.limits.handshake_timeout,
                    tokio::net::TcpStream::connect(config.scheduler),
                )
                .await,
                Ok(Ok(_))
            );
            if start.elapsed() > config.reconnect_for {
                return Err(WireError::Refused(format!(
                    "no scheduler at {} for {:?}",
                    config.scheduler, config.reconnect_for
                )));
            }
            if up {
                break;
            }
        }
    }
}

/// First wait before reconnecting to the scheduler.
const RECONNECT_FIRST: Duration = Duration::from_millis(50);
/// Longest wait between reconnection attempts.
const RECONNECT_MAX: Duration = Duration::from_secs(2);
/// A session at least this long resets the backoff.
const RECONNECT_LASTING: Duration = Duration::from_secs(5);

/// Whether `e` says nothing listens at the scheduler's address (yet), or the
/// network does not reach it: worth retrying, unlike a wrong secret or version.
fn not_up_yet(e: &WireError) -> bool {
    use std::io::ErrorKind::{ConnectionRefused, HostUnreachable, NetworkUnreachable, TimedOut};
    matches!(e, WireError::Io(io) if matches!(
        io.kind(),
        ConnectionRefused | HostUnreachable | NetworkUnreachable | TimedOut
    ))
}

/// Whether `e` is a connection the scheduler accepted and then closed before
/// the handshake finished (not a refused connection, a wrong secret or version).
fn dropped_in_handshake(e: &WireError) -> bool {
    use std::io::ErrorKind::{BrokenPipe, ConnectionAborted, ConnectionReset, UnexpectedEof};
    match e {
        WireError::Closed | WireError::Timeout => true,
        WireError::Io(io) => matches!(
            io.kind(),
            UnexpectedEof | ConnectionReset | ConnectionAborted | BrokenPipe
        ),
        _ => false,
    }
}

/// One scheduler connection: register, then serve its messages until it ends.
async fn session(
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

/// Answers fetch requests from one peer.
async fn serve_peer(stream: Stream, shared: &Arc<Shared>) -> Result<(), WireError> {
    stream.set_nodelay(true)?;
    let (mut r, mut w) = stream.into_split();
    loop {
        let req: PeerRequest = read_msg(&mut r, &shared.limits).await?;
        match req {
            PeerRequest::Fetch { job, task } => {
                let c = shared.load((job, task)).await;
                let reply = PeerReply {
                    present: c.is_some(),
                };
                match (c.as_deref(), peer_send_throttle()) {
                    (Some(c), Some(rate)) => {
                        write_msg(&mut w, &reply, None, &shared.limits).await?;
                        send_throttled(&mut w, c, rate, (job, task)).await?;
                    }
                    _ => write_msg(&mut w, &reply, c.as_deref(), &shared.limits).await?,
                }
            }
        }
    }
}

/// Bytes per second from `DARRAY_TEST_PEER_SEND_BYTES_PER_SEC` (a testing aid,
/// see the module docs), read once.
fn peer_send_throttle() -> Option<usize> {
    static RATE: std::sync::OnceLock<Option<usize>> = std::sync::OnceLock::new();
    *RATE.get_or_init(|| {
        std::env::var("DARRAY_TEST_PEER_SEND_BYTES_PER_SEC")
            .ok()
            .and_then(|v| v.parse().ok())
            .filter(|&n: &usize| n > 0)
    })
}

/// Writes `c` as one chunk frame in pieces, a tenth of `rate` bytes every
/// 100 ms; logs once the first piece is out, so the transfer is under way.
async fn send_throttled<W: tokio::io::AsyncWrite + Unpin>(
    w: &mut W,
    c: &Chunk,
    rate: usize,
    (job, task): Key,
) -> Result<(), WireError> {
    use tokio::io::AsyncWriteExt;
    let mut frame = Vec::new();
    let payload = super::wire::encode_chunk(c)?;
    super::wire::write_frame(&mut frame, super::wire::FrameKind::Chunk, &payload).await?;
    for (i, piece) in frame.chunks((rate / 10).max(1)).enumerate() {
        if i > 0 {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        w.write_all(piece).await?;
        w.flush().await?;
        if i == 0 {
            tracing::info!(job, task, bytes = frame.len(), "peer send throttled");
        }
    }
    Ok(())
}

/// One task slot: takes queued tasks, gathers inputs, runs them, and spills
/// down to the memory target before taking the next (so a slot cannot outrun
/// the disk). While the worker is paused it takes nothing: queued tasks stay
/// in the queue, where the scheduler can steal them.
async fn slot(shared: Arc<Shared>) {
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

async fn run_one(shared: &Arc<Shared>, q: Queued) {
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

/// Fetches an input from one of its holders (in order), over a pooled,
/// authenticated connection per peer.
async fn fetch(shared: &Shared, job: JobId, inp: &InputLoc) -> Option<Arc<Chunk>> {
    for &addr in &inp.holders {
        let conn = shared
            .peers
            .lock()
            .entry(addr)
            .or_insert_with(|| Arc::new(tokio::sync::Mutex::new(None)))
            .clone();
        let mut guard = conn.lock().await;
        for _attempt in 0..2 {
            if guard.is_none() {
                match auth::connect_with(
                    addr,
                    &shared.secret,
                    shared.tls.as_deref(),
                    &shared.limits,
                )
                .await
                {
                    Ok(s) => {
                        let _ = s.set_nodelay(true);
                        *guard = Some(s);
                    }
                    Err(e) => {
                        tracing::info!(%addr, "cannot reach peer: {e}");
                        break;
                    }
                }
            }
            let Some(s) = guard.as_mut() else { break };
            let res = async {
                write_msg(
                    s,
                    &PeerRequest::Fetch {
                        job,
                        task: inp.task,
                    },
                    None,
                    &shared.limits,
                )
                .await?;
                let reply: PeerReply = read_msg(s, &shared.limits).await?;
                if reply.present {
                    // Into a recycled buffer when there is one, as a store read.
                    let pool = Some(&shared.ctx.store);
                    Ok(Some(read_chunk_pooled(s, &shared.limits, pool).await?))
                } else {
                    Ok::<_, WireError>(None)
                }
            }
            .await;
            match res {
                Ok(Some(c)) => return Some(Arc::new(c)),
                Ok(None) => break,
                Err(e) => {
                    tracing::info!(%addr, "fetch failed: {e}");
                    *guard = None;
                }
            }
        }
    }
    None
}

/// Parses worker command-line arguments and secret (as the `darray worker`
/// subcommand does) and runs a worker: call this from your own binary, after
/// registering your kernels, so its workers know them.
///
/// # Errors
/// Bad arguments, a missing secret, or the worker failing to start.
pub fn run_config(config: WorkerConfig, secret: Secret) -> crate::Result<()> {
    run_config_with(config, secret, None)
}

/// As [`run_config`], over TLS when `tls` is given.
///
/// # Errors
/// As [`run_config`].
pub fn run_config_with(
    config: WorkerConfig,
    secret: Secret,
    tls: Option<TlsConfig>,
) -> crate::Result<()> {
    // Connections, slots and the monitor share one thread (task bodies run on
    // the rayon pool, small ones inline): a message crosses no thread between
    // the socket, the queue and the reply.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| crate::Error::Executor(format!("cannot start the runtime: {e}")))?;
    rt.block_on(run_with(config, Arc::new(secret), tls.map(Arc::new)))
        .map_err(|e| crate::Error::Executor(format!("worker: {e}")))
}

#[cfg(test)]
mod tests;
