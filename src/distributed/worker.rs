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
//! In parts: `reconnect` (the connect and backoff loop), `session` (one
//! scheduler connection), `peer` (serving chunks to other workers), `slots`
//! (the queue, running tasks, inline batches), `fetch` (getting inputs from
//! peers), `shared` (the state they all read), and [`memory`] (spilling and
//! pausing).
//!
//! Everything a worker needs is in its [`WorkerConfig`]: it reads no
//! environment variable and does not change the process's working directory
//! (its spill directory is created under [`WorkerConfig::local_dir`]).

pub mod memory;

mod fetch;
mod peer;
mod reconnect;
mod session;
mod shared;
mod slots;

use super::auth::{self, Secret};
use super::tls::TlsConfig;
use super::wire::{Limits, WireError};
use memory::{MemoryFractions, MemoryProbe};
use shared::Shared;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

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
    /// How the worker reads its process's memory (`None`: [`ProcessProbe`](memory::ProcessProbe)).
    pub memory_probe: Option<Arc<dyn MemoryProbe>>,
    /// Where to listen for peers; port 0 picks one.
    pub listen: SocketAddr,
    /// The worker's directory (created if missing): it spills into a
    /// subdirectory of it (without one, of the system's temporary directory).
    /// The process's working directory is left as it is.
    pub local_dir: Option<PathBuf>,
    /// A name for logs.
    pub name: String,
    /// Frame and connection limits.
    pub limits: Limits,
    /// How long to keep trying to reach a lost scheduler before exiting.
    pub reconnect_for: Duration,
    /// Sends chunks to peers at about this many bytes per second, in pieces,
    /// and logs `peer send throttled` once the first bytes are out: a testing
    /// aid, so a test can kill a worker in the middle of a worker-to-worker
    /// transfer. `None` (the default) sends at full speed.
    pub peer_send_bytes_per_sec: Option<usize>,
}

/// How often the memory monitor reads the probe (dask's
/// `distributed.worker.memory.monitor-interval`).
pub const MEMORY_INTERVAL: Duration = Duration::from_millis(100);

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
    // The spill directory is named absolutely: the process may change its
    // working directory while the worker runs, and nothing here changes it.
    let spill_base = match &config.local_dir {
        Some(dir) => {
            std::fs::create_dir_all(dir)?;
            std::path::absolute(dir)?
        }
        None => std::env::temp_dir(),
    };
    auth::check_listen(&config.listen, Some(&secret))?;
    let listener = TcpListener::bind(config.listen).await?;
    let listen_addr = listener.local_addr()?;
    let shared = Arc::new(Shared::new(&config, secret.clone(), tls, &spill_base)?);
    tracing::info!(dir = %shared.memory.dir().display(), "spilling to");
    let res = tokio::select! {
        r = reconnect::serve(&config, &secret, &shared, listener, listen_addr) => r,
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
        .map_err(|source| crate::Error::Start {
            what: "the worker's runtime".into(),
            source,
        })?;
    rt.block_on(run_with(config, Arc::new(secret), tls.map(Arc::new)))
        .map_err(|source| crate::Error::Worker { source })
}

#[cfg(test)]
mod tests;
