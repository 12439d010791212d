//! Distributed execution, as dask.distributed: a scheduler and worker processes
//! over TCP (tokio), and a [`Client`] that is an [`Executor`](crate::Executor),
//! so the graph that runs locally runs on a cluster unchanged and gives
//! bit-identical results.
//!
//! - Processes: `darray scheduler --listen ADDR` and `darray worker --scheduler
//!   ADDR --nthreads N --memory-limit 4GiB --local-dir DIR` (the `darray`
//!   binary), or [`LocalCluster`] for a scheduler and workers on this machine.
//!   A user program that registers its own kernels acts as a worker with
//!   [`run_from_args`].
//! - Protocol ([`wire`], [`proto`]): length-prefixed frames; control messages
//!   are postcard, chunk payloads raw bytes behind a small header.
//! - Security ([`auth`]): every listener requires a mutual HMAC handshake with a
//!   shared secret (from a 0600 file or the environment, never the command
//!   line); the wire carries no code, only named kernels and data.
//! - Scheduling ([`scheduler`]): locality, bounded root-task queuing, work
//!   stealing, release of results no longer needed, recovery from lost workers.
//! - Simulation ([`sim`]): the scheduler driven in-process by stand-in workers
//!   ([`simulate`]), to measure its decisions per second and memory per task at
//!   cluster sizes this machine cannot run.

pub mod auth;
pub mod client;
pub mod cluster;
pub mod proto;
pub mod scheduler;
pub mod sim;
pub mod wire;
pub mod worker;

pub use client::Client;
pub use cluster::{LocalCluster, LocalClusterBuilder};
pub use sim::{simulate, simulate_graph, tree_reduction, SimConfig, SimReport};

use crate::error::{Error, Result};
use auth::Secret;
use clap::{Parser, Subcommand};
use std::ffi::OsString;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::Arc;

/// The `darray` command line.
#[derive(Debug, Parser)]
#[command(name = "darray", version, about = "darray scheduler and workers")]
pub struct Cli {
    /// What to run.
    #[command(subcommand)]
    pub command: Command,
}

/// `darray` subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a scheduler.
    Scheduler {
        /// Address to listen on (a non-loopback address needs a secret).
        #[arg(long, default_value = "127.0.0.1:8786")]
        listen: String,
        /// File holding the cluster secret (mode 0600). Without it,
        /// DARRAY_SECRET_FILE or DARRAY_SECRET; without those, on a loopback
        /// address, a secret is generated and written to the path printed.
        #[arg(long)]
        secret_file: Option<PathBuf>,
    },
    /// Run a worker.
    Worker {
        /// The scheduler's address.
        #[arg(long)]
        scheduler: String,
        /// Task slots.
        #[arg(long, default_value_t = 1)]
        nthreads: usize,
        /// Memory for results and running tasks, e.g. `4GiB`.
        #[arg(long, default_value = "4GiB")]
        memory_limit: String,
        /// Working directory (created if missing).
        #[arg(long)]
        local_dir: Option<PathBuf>,
        /// Address for peers to fetch chunks from (port 0 picks one).
        #[arg(long, default_value = "0.0.0.0:0")]
        listen: String,
        /// A name for logs.
        #[arg(long, default_value = "worker")]
        name: String,
        /// File holding the cluster secret (mode 0600); else DARRAY_SECRET_FILE or DARRAY_SECRET.
        #[arg(long)]
        secret_file: Option<PathBuf>,
        /// Seconds to keep trying to reach a lost scheduler before exiting.
        #[arg(long, default_value_t = 300)]
        reconnect_for: u64,
    },
}

fn resolve(addr: &str) -> Result<SocketAddr> {
    addr.to_socket_addrs()
        .map_err(|e| Error::Executor(format!("address {addr:?}: {e}")))?
        .next()
        .ok_or_else(|| Error::Executor(format!("address {addr:?} resolves to nothing")))
}

fn load_secret(file: Option<&PathBuf>) -> Result<Option<Secret>> {
    let s = match file {
        Some(p) => Some(Secret::from_file(p)),
        None => Secret::from_env().transpose(),
    };
    s.transpose()
        .map_err(|e| Error::Executor(format!("secret: {e}")))
}

/// Runs `darray scheduler ...` or `darray worker ...` from command-line
/// arguments (the first is the program name). Call it from your own binary,
/// after registering your kernels, to make that binary a worker that knows them.
///
/// # Errors
/// Bad arguments (the message is clap's usage), a missing or unsafe secret, or
/// the process failing to serve.
pub fn run_from_args<I, T>(args: I) -> Result<()>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = Cli::try_parse_from(args).map_err(|e| Error::InvalidArgument {
        array: "darray".into(),
        reason: e.to_string(),
    })?;
    let limits = wire::Limits::default();
    match cli.command {
        Command::Scheduler {
            listen,
            secret_file,
        } => {
            let addr = resolve(&listen)?;
            let secret = match load_secret(secret_file.as_ref())? {
                Some(s) => s,
                None => {
                    auth::check_listen(&addr, None)
                        .map_err(|e| Error::Executor(format!("scheduler: {e}")))?;
                    let s = Secret::generate();
                    let path = std::env::temp_dir().join(format!("darray-{}.secret", addr.port()));
                    let _ = std::fs::remove_file(&path);
                    s.write_file(&path)
                        .map_err(|e| Error::Executor(format!("cannot write {path:?}: {e}")))?;
                    tracing::warn!(path = %path.display(), "no secret given: generated one; give workers DARRAY_SECRET_FILE={}", path.display());
                    s
                }
            };
            auth::check_listen(&addr, Some(&secret))
                .map_err(|e| Error::Executor(format!("scheduler: {e}")))?;
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .map_err(|e| Error::Executor(format!("cannot start the runtime: {e}")))?;
            rt.block_on(async {
                let listener = tokio::net::TcpListener::bind(addr)
                    .await
                    .map_err(|e| Error::Executor(format!("cannot listen on {addr}: {e}")))?;
                tracing::info!(%addr, "scheduler listening");
                scheduler::serve(listener, Arc::new(secret), limits).await;
                Ok(())
            })
        }
        Command::Worker {
            scheduler,
            nthreads,
            memory_limit,
            local_dir,
            listen,
            name,
            secret_file,
            reconnect_for,
        } => {
            let secret = load_secret(secret_file.as_ref())?.ok_or_else(|| {
                Error::Executor(
                    "worker: no secret (use --secret-file, DARRAY_SECRET_FILE or DARRAY_SECRET)"
                        .into(),
                )
            })?;
            let config = worker::WorkerConfig {
                scheduler: resolve(&scheduler)?,
                nthreads,
                memory_limit: crate::array::chunks::parse_bytes(&memory_limit)?,
                listen: resolve(&listen)?,
                local_dir,
                name,
                limits,
                reconnect_for: std::time::Duration::from_secs(reconnect_for),
            };
            worker::run_config(config, secret)
        }
    }
}
