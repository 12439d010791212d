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
//!   line); the wire carries no code, only named kernels and data. Optional
//!   mutual TLS 1.3 ([`tls`]) on every connection, the handshake bound to the
//!   TLS session.
//! - Scheduling ([`scheduler`]): locality, bounded root-task queuing, work
//!   stealing, release of results no longer needed, recovery from lost workers.
//! - Worker memory ([`worker::memory`]): results spilled to disk past a target
//!   fraction of the limit, least recently used first; no new tasks past a
//!   pause fraction; reported in heartbeats and [`Client::cluster_info`].
//! - Simulation ([`sim`]): the scheduler driven in-process by stand-in workers
//!   ([`simulate`]), to measure its decisions per second and memory per task at
//!   cluster sizes this machine cannot run.

pub mod auth;
mod batch;
pub mod client;
pub mod cluster;
pub mod entry;
pub mod proto;
pub mod scheduler;
pub mod sim;
pub mod tls;
pub mod wire;
pub mod worker;

#[cfg(test)]
mod error_tests;

pub use client::{Client, ClusterInfo};
pub use cluster::{LocalCluster, LocalClusterBuilder};
pub use entry::{serve_if_worker, WORKER_ENV};
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
        /// TLS certificate files.
        #[command(flatten)]
        tls: TlsArgs,
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
        /// The worker's directory (created if missing): chunks are spilled into
        /// a subdirectory of it (without it, of the system's temporary
        /// directory). The process's working directory is not changed.
        #[arg(long)]
        local_dir: Option<PathBuf>,
        /// Results held beyond this fraction of the memory limit are spilled
        /// to disk, least recently used first.
        #[arg(long, default_value_t = worker::memory::MemoryFractions::DEFAULT_TARGET)]
        memory_target_fraction: f64,
        /// Above this fraction of the memory limit (the process's resident
        /// memory) the worker starts no new tasks until memory drops.
        #[arg(long, default_value_t = worker::memory::MemoryFractions::DEFAULT_PAUSE)]
        memory_pause_fraction: f64,
        /// Address for peers to fetch chunks from (port 0 picks one).
        #[arg(long, default_value = "0.0.0.0:0")]
        listen: String,
        /// A name for logs.
        #[arg(long, default_value = "worker")]
        name: String,
        /// File holding the cluster secret (mode 0600); else DARRAY_SECRET_FILE or DARRAY_SECRET.
        #[arg(long)]
        secret_file: Option<PathBuf>,
        /// Seconds to keep trying to reach the scheduler (lost, or not up yet) before exiting.
        #[arg(long, default_value_t = 300)]
        reconnect_for: u64,
        /// Exit (as on SIGTERM) when standard input reaches end of file: a
        /// parent that started the worker with a pipe on its stdin (as
        /// `LocalCluster` does) takes the worker with it when it dies, even by
        /// kill -9, instead of leaving it to retry a scheduler that is gone.
        #[arg(long, hide = true)]
        exit_with_stdin: bool,
        /// Testing aid: send chunks to peers at about this many bytes per
        /// second (see `WorkerConfig::peer_send_bytes_per_sec`).
        #[arg(long, hide = true)]
        test_peer_send_bytes_per_sec: Option<usize>,
        /// TLS certificate files.
        #[command(flatten)]
        tls: TlsArgs,
    },
    /// Print a Zarr array's shape, dtype, chunks, codecs, attributes and stored
    /// size: a path, or a URL (s3://, gs://, az://, http(s)://). Credentials come
    /// from the environment (AWS_ACCESS_KEY_ID, ...).
    Info {
        /// The array's path or URL.
        url: String,
        /// Object-store endpoint, e.g. http://127.0.0.1:9000.
        #[arg(long)]
        endpoint: Option<String>,
        /// Region (S3).
        #[arg(long)]
        region: Option<String>,
        /// Unsigned requests (public buckets).
        #[arg(long)]
        anonymous: bool,
        /// Allow a plain-HTTP endpoint.
        #[arg(long)]
        allow_http: bool,
        /// S3 path-style addressing (S3-compatible servers).
        #[arg(long)]
        path_style: bool,
    },
}

/// TLS options shared by both subcommands: all three files or none. Without
/// them, `DARRAY_TLS_CERT`, `DARRAY_TLS_KEY` and `DARRAY_TLS_CA`; without those,
/// plain TCP.
#[derive(Debug, clap::Args)]
pub struct TlsArgs {
    /// This process's certificate chain (PEM), used as server and client certificate.
    #[arg(long, requires_all = ["tls_key", "tls_ca"])]
    pub tls_cert: Option<PathBuf>,
    /// The certificate's private key (PEM).
    #[arg(long, requires_all = ["tls_cert", "tls_ca"])]
    pub tls_key: Option<PathBuf>,
    /// The cluster CA (PEM): every peer's certificate must be signed by it.
    #[arg(long, requires_all = ["tls_cert", "tls_key"])]
    pub tls_ca: Option<PathBuf>,
    /// Check servers' certificates for this DNS name instead of the address dialled.
    #[arg(long, requires = "tls_ca")]
    pub tls_server_name: Option<String>,
}

impl TlsArgs {
    /// The TLS config these options (or the environment) name, if any.
    fn load(&self) -> Result<Option<tls::TlsConfig>> {
        self.load_wire().map_err(|source| Error::Tls { source })
    }

    fn load_wire(&self) -> std::result::Result<Option<tls::TlsConfig>, wire::WireError> {
        let config = match (&self.tls_cert, &self.tls_key, &self.tls_ca) {
            (Some(cert), Some(key), Some(ca)) => {
                let files = tls::TlsFiles {
                    cert: cert.clone(),
                    key: key.clone(),
                    ca: ca.clone(),
                };
                let config = tls::TlsConfig::from_files(&files)?;
                match &self.tls_server_name {
                    Some(name) => Some(config.with_server_name(name)?),
                    None => Some(config),
                }
            }
            _ => tls::TlsConfig::from_env()?,
        };
        Ok(config)
    }
}

/// The first address `addr` resolves to.
pub(crate) fn resolve(addr: &str) -> Result<SocketAddr> {
    let unresolved = |source| Error::Address {
        addr: addr.to_string(),
        source,
    };
    addr.to_socket_addrs()
        .map_err(unresolved)?
        .next()
        .ok_or_else(|| {
            unresolved(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "it resolves to no address",
            ))
        })
}

fn load_secret(file: Option<&PathBuf>) -> Result<Option<Secret>> {
    match file {
        Some(p) => Secret::from_file(p)
            .map(Some)
            .map_err(|source| Error::Secret {
                origin: p.display().to_string(),
                source,
            }),
        None => secret_from_env(),
    }
}

/// The secret `DARRAY_SECRET_FILE` or `DARRAY_SECRET` gives, if any.
pub(crate) fn secret_from_env() -> Result<Option<Secret>> {
    Secret::from_env().map_err(|source| Error::Secret {
        origin: "DARRAY_SECRET_FILE or DARRAY_SECRET".into(),
        source,
    })
}

/// Runs `darray scheduler ...` or `darray worker ...` from command-line
/// arguments (the first is the program name). Call it from your own binary,
/// after registering your kernels, to make that binary a worker that knows them.
/// `--help` and `--version` print clap's text on standard output and return
/// `Ok(())`.
///
/// # Errors
/// [`Error::Cli`] for arguments that do not parse (call [`clap::Error::exit`] on
/// it to print it as clap does); a missing or unsafe secret, or the process
/// failing to serve.
pub fn run_from_args<I, T>(args: I) -> Result<()>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        // Help and version are what was asked for, not errors.
        Err(e) if !e.use_stderr() => {
            let _ = e.print();
            return Ok(());
        }
        Err(e) => return Err(Error::Cli(e)),
    };
    run(cli)
}

/// Runs a parsed `darray` command line (see [`run_from_args`]).
///
/// # Errors
/// A missing or unsafe secret, or the process failing to serve.
pub fn run(cli: Cli) -> Result<()> {
    let limits = wire::Limits::default();
    match cli.command {
        Command::Info {
            url,
            endpoint,
            region,
            anonymous,
            allow_http,
            path_style,
        } => {
            let opts = crate::store::StoreOptions {
                endpoint,
                region,
                anonymous,
                allow_http,
                path_style,
                ..crate::store::StoreOptions::default()
            };
            let location = opts.locate(&url)?;
            let report = crate::store::inspect(std::path::Path::new(&location))?;
            print!("{report}");
            Ok(())
        }
        Command::Scheduler {
            listen,
            secret_file,
            tls,
        } => {
            let tls = tls.load()?.map(Arc::new);
            let addr = resolve(&listen)?;
            let given = load_secret(secret_file.as_ref())?;
            if given.is_none() {
                auth::check_listen(&addr, None).map_err(|source| Error::Listen { addr, source })?;
            }
            // The scheduler is one actor: its connections share its thread, so
            // no event crosses threads (see `cluster::start_scheduler`).
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|source| Error::Start {
                    what: "the scheduler's runtime".into(),
                    source,
                })?;
            rt.block_on(async {
                let listener = tokio::net::TcpListener::bind(addr)
                    .await
                    .map_err(|e| Error::Listen {
                        addr,
                        source: e.into(),
                    })?;
                // The address bound: with port 0, the port the system chose.
                let addr = listener.local_addr().unwrap_or(addr);
                let secret = match given {
                    Some(s) => s,
                    None => {
                        let s = Secret::generate();
                        let path =
                            std::env::temp_dir().join(format!("darray-{}.secret", addr.port()));
                        let _ = std::fs::remove_file(&path);
                        s.write_file(&path)
                            .map_err(|source| Error::Secret {
                                origin: path.display().to_string(),
                                source,
                            })?;
                        tracing::warn!(path = %path.display(), "no secret given: generated one; give workers DARRAY_SECRET_FILE={}", path.display());
                        s
                    }
                };
                auth::check_listen(&addr, Some(&secret))
                    .map_err(|source| Error::Listen { addr, source })?;
                tracing::info!(%addr, tls = tls.is_some(), "scheduler listening");
                scheduler::serve_with(listener, Arc::new(secret), tls, limits).await;
                Ok(())
            })
        }
        Command::Worker {
            scheduler,
            nthreads,
            memory_limit,
            local_dir,
            memory_target_fraction,
            memory_pause_fraction,
            listen,
            name,
            secret_file,
            reconnect_for,
            exit_with_stdin,
            test_peer_send_bytes_per_sec,
            tls,
        } => {
            if exit_with_stdin {
                exit_when_stdin_closes();
            }
            let tls = tls.load()?;
            let memory_fractions = worker::memory::MemoryFractions::new(
                memory_target_fraction,
                memory_pause_fraction,
            )?;
            let secret = load_secret(secret_file.as_ref())?.ok_or(Error::NoSecret)?;
            let config = worker::WorkerConfig {
                scheduler: resolve(&scheduler)?,
                nthreads,
                memory_limit: crate::expr::grid::parse_bytes(&memory_limit)?,
                memory_fractions,
                memory_probe: None,
                listen: resolve(&listen)?,
                local_dir,
                name,
                limits,
                reconnect_for: std::time::Duration::from_secs(reconnect_for),
                peer_send_bytes_per_sec: test_peer_send_bytes_per_sec,
            };
            worker::run_config_with(config, secret, tls)
        }
    }
}

/// Sends this process SIGTERM once standard input reaches end of file (or
/// fails), from a thread of its own: the worker then shuts down as on a
/// signal, removing its spill directory.
fn exit_when_stdin_closes() {
    let spawned = std::thread::Builder::new()
        .name("darray-stdin-watch".into())
        .spawn(|| {
            let mut sink = [0u8; 64];
            let mut stdin = std::io::stdin().lock();
            loop {
                match std::io::Read::read(&mut stdin, &mut sink) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
            }
            tracing::info!("standard input closed: the parent is gone, exiting");
            // SAFETY: kill(2) on our own pid with a valid signal number.
            unsafe {
                libc::kill(libc::getpid(), libc::SIGTERM);
            }
        });
    if let Err(e) = spawned {
        tracing::warn!("cannot watch standard input: {e}");
    }
}
