//! A scheduler and worker processes on this machine, for tests and examples.
//!
//! The workers are this program itself: [`LocalCluster`] starts its own
//! executable (`std::env::current_exe()`) with [`WORKER_ENV`] set, and
//! darray's process constructor (see [`entry`](super::entry)) turns such a
//! process into a worker before `main` runs. A program that depends on darray
//! thus gets a working cluster with nothing built or installed by hand.
//! Kernels registered in `main` are known to workers that run `main` up to
//! [`serve_if_worker`](super::serve_if_worker) ([`LocalClusterBuilder::serve_in_main`]).

use super::auth::Secret;
use super::client::Client;
use super::entry::{Entry, WORKER_ENV};
use super::tls::{ClusterCa, TlsConfig};
use super::wire::Limits;
use super::worker::memory::MemoryFractions;
use crate::error::{Error, Result};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

/// How a [`LocalCluster`] starts.
#[derive(Clone, Debug)]
pub struct LocalClusterBuilder {
    n_workers: usize,
    nthreads: usize,
    memory_limit: u64,
    memory_target_fraction: f64,
    memory_pause_fraction: f64,
    program: Option<PathBuf>,
    args: Vec<String>,
    entry: Entry,
    env: Vec<(OsString, OsString)>,
    tls: bool,
}

impl LocalClusterBuilder {
    /// With `true`, every connection of the cluster (scheduler, worker peers,
    /// clients) runs over mutual TLS 1.3: a CA and a certificate for 127.0.0.1 and
    /// localhost are generated for the cluster, written (mode 0600) into its
    /// private directory and given to the workers by path. Default `false`.
    #[must_use]
    pub fn tls(mut self, on: bool) -> Self {
        self.tls = on;
        self
    }

    /// Threads per worker (default 1).
    #[must_use]
    pub fn nthreads(mut self, n: usize) -> Self {
        self.nthreads = n.max(1);
        self
    }

    /// Memory limit per worker in bytes (default: the local default budget
    /// divided among the workers).
    #[must_use]
    pub fn memory_limit(mut self, bytes: u64) -> Self {
        self.memory_limit = bytes;
        self
    }

    /// Fraction of the memory limit beyond which a worker spills results to
    /// disk (default 0.6; see [`worker::memory`](super::worker::memory)).
    #[must_use]
    pub fn memory_target_fraction(mut self, fraction: f64) -> Self {
        self.memory_target_fraction = fraction;
        self
    }

    /// Fraction of the memory limit beyond which a worker starts no new tasks
    /// until its memory drops (default 0.8).
    #[must_use]
    pub fn memory_pause_fraction(mut self, fraction: f64) -> Self {
        self.memory_pause_fraction = fraction;
        self
    }

    /// With `true`, workers run this program's `main` until it calls
    /// [`serve_if_worker`](super::serve_if_worker), so that the kernels `main` registered before that
    /// call are known to them:
    ///
    /// ```no_run
    /// # fn scaled(x: &[ndarray::ArrayViewD<'_, f64>]) -> ndarray::ArrayD<f64> { x[0].to_owned() }
    /// fn main() -> darray::Result<()> {
    ///     darray::register_kernel::<f64, f64>("scaled", scaled)?;
    ///     darray::distributed::serve_if_worker(); // the cluster's workers stay here
    ///     let cluster = darray::distributed::LocalCluster::builder(2)
    ///         .serve_in_main(true)
    ///         .build()?;
    ///     # Ok(())
    /// }
    /// ```
    ///
    /// With `false` (the default), workers take over when the process starts,
    /// before `main`, and know the kernels darray itself registers only. A
    /// worker whose `main` reaches [`LocalClusterBuilder::build`] without
    /// calling [`serve_if_worker`](super::serve_if_worker) gets an error there (it never starts
    /// workers of its own), exits, and the parent's `build` reports it.
    #[must_use]
    pub fn serve_in_main(mut self, on: bool) -> Self {
        self.entry = if on { Entry::InMain } else { Entry::AtStart };
        self
    }

    /// Sets an environment variable for every worker process.
    #[must_use]
    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// The program to start as a worker, with the arguments that make it one
    /// (default: this program, `std::env::current_exe()`, with `worker`),
    /// for example the `darray` binary with `["worker"]`. Such a program runs
    /// its `main` (as with [`serve_in_main`](Self::serve_in_main)): `darray
    /// worker`, or a program that calls
    /// [`run_from_args`](super::run_from_args) or [`serve_if_worker`](super::serve_if_worker).
    #[must_use]
    pub fn worker_command<I, S>(mut self, program: impl Into<PathBuf>, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.program = Some(program.into());
        self.args = args.into_iter().map(Into::into).collect();
        self.entry = Entry::InMain;
        self
    }

    /// Starts the scheduler and the workers, and waits until all workers joined.
    ///
    /// # Errors
    /// Memory fractions out of order (`0 < target <= pause <= 1`), this
    /// process itself a worker of a cluster (see
    /// [`serve_in_main`](Self::serve_in_main)), this program's path unknown, a
    /// process that fails to start, a worker that exits before it joins, or
    /// workers that do not join within 120 s.
    pub fn build(self) -> Result<LocalCluster> {
        MemoryFractions::new(self.memory_target_fraction, self.memory_pause_fraction)?;
        // A worker that runs `main` and reaches this point would start workers
        // of its own, which would do the same: stop the chain at its first link.
        if let Some(v) = std::env::var_os(WORKER_ENV) {
            return Err(Error::Cluster {
                reason: format!(
                    "this process was started as a worker of a LocalCluster ({WORKER_ENV}={}) \
                     and must not start a cluster itself: call \
                     darray::distributed::serve_if_worker() in main after registering kernels \
                     and before building the cluster",
                    v.to_string_lossy()
                ),
                source: None,
            });
        }
        let program = match self.program.clone() {
            Some(p) => p,
            None => std::env::current_exe().map_err(|e| Error::Start {
                what: "a worker from this program's executable (not found; use \
                       LocalCluster::builder(n).worker_command(..))"
                    .into(),
                source: e,
            })?,
        };
        let dir = private_dir()?;
        let secret = Secret::generate();
        let secret_path = dir.join("secret");
        secret
            .write_file(&secret_path)
            .map_err(|source| Error::Secret {
                origin: secret_path.display().to_string(),
                source,
            })?;
        let secret = Arc::new(secret);
        let tls = if self.tls {
            let files = ClusterCa::generate()
                .and_then(|ca| ca.issue_local(&dir, "node"))
                .and_then(|files| TlsConfig::from_files(&files))
                .map_err(|source| Error::Tls { source })?;
            Some(Arc::new(files))
        } else {
            None
        };
        let (addr, stop_tx, thread) = start_scheduler(
            "127.0.0.1:0".parse().expect("an address"),
            secret.clone(),
            tls.clone(),
        )?;
        let mut cluster = LocalCluster {
            addr: addr.to_string(),
            secret,
            tls,
            secret_path,
            dir,
            program,
            args: self.args.clone(),
            entry: self.entry,
            env: self.env.clone(),
            nthreads: self.nthreads,
            memory_limit: self.memory_limit,
            memory_fractions: (self.memory_target_fraction, self.memory_pause_fraction),
            workers: Vec::new(),
            stop: Some(stop_tx),
            thread: Some(thread),
        };
        for _ in 0..self.n_workers {
            cluster.add_worker()?;
        }
        cluster.wait_for_start(self.n_workers, Duration::from_secs(120))?;
        Ok(cluster)
    }
}

/// A scheduler (in this process) and `n` worker processes on 127.0.0.1,
/// authenticated with a secret generated for this cluster. Dropping it stops
/// everything.
///
/// ```no_run
/// use darray::distributed::LocalCluster;
/// use darray::DArray;
/// let cluster = LocalCluster::new(2).unwrap();
/// let client = cluster.client().unwrap();
/// let x = DArray::<f64>::random_normal(1, &[4_000, 4_000], 0.0, 1.0, [1_000, 1_000]).unwrap();
/// let s = x.sum().unwrap().compute_with(&client).unwrap();
/// ```
pub struct LocalCluster {
    addr: String,
    secret: Arc<Secret>,
    tls: Option<Arc<TlsConfig>>,
    secret_path: PathBuf,
    dir: PathBuf,
    program: PathBuf,
    args: Vec<String>,
    entry: Entry,
    env: Vec<(OsString, OsString)>,
    nthreads: usize,
    memory_limit: u64,
    memory_fractions: (f64, f64),
    workers: Vec<Child>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for LocalCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalCluster")
            .field("scheduler", &self.addr)
            .field("workers", &self.workers.len())
            .finish_non_exhaustive()
    }
}

impl LocalCluster {
    /// A cluster of `n_workers` single-threaded workers (see [`LocalCluster::builder`]).
    ///
    /// # Errors
    /// As [`LocalClusterBuilder::build`].
    pub fn new(n_workers: usize) -> Result<LocalCluster> {
        LocalCluster::builder(n_workers).build()
    }

    /// A builder for a cluster of `n_workers` workers.
    #[must_use]
    pub fn builder(n_workers: usize) -> LocalClusterBuilder {
        let n = n_workers.max(1) as u64;
        LocalClusterBuilder {
            n_workers,
            nthreads: 1,
            memory_limit: crate::exec::default_memory_budget() / n,
            memory_target_fraction: MemoryFractions::DEFAULT_TARGET,
            memory_pause_fraction: MemoryFractions::DEFAULT_PAUSE,
            program: None,
            args: vec!["worker".into()],
            entry: Entry::AtStart,
            env: Vec::new(),
            tls: false,
        }
    }

    /// The scheduler's address.
    #[must_use]
    pub fn scheduler_addr(&self) -> &str {
        &self.addr
    }

    /// The file holding the cluster's secret (mode 0600), for other processes
    /// (`DARRAY_SECRET_FILE`).
    #[must_use]
    pub fn secret_file(&self) -> &Path {
        &self.secret_path
    }

    /// The cluster's TLS config (its files under [`TlsConfig::files`]), if built
    /// with [`LocalClusterBuilder::tls`].
    #[must_use]
    pub fn tls_config(&self) -> Option<&TlsConfig> {
        self.tls.as_deref()
    }

    /// A new client of this cluster (over TLS if the cluster uses it).
    ///
    /// # Errors
    /// The scheduler unreachable.
    pub fn client(&self) -> Result<Client> {
        Client::connect_with_tls(
            &self.addr,
            &self.secret,
            self.tls.as_deref(),
            Limits::default(),
        )
    }

    /// Number of worker processes started (running or not).
    #[must_use]
    pub fn n_workers(&self) -> usize {
        self.workers.len()
    }

    /// Process ids of the workers started, in order (running or not).
    #[must_use]
    pub fn worker_pids(&self) -> Vec<u32> {
        self.workers.iter().map(Child::id).collect()
    }

    /// Starts one more worker process. Its local directory (spill files) is
    /// inside the cluster's private directory, removed with the cluster even
    /// if the worker was killed. Unless set already, `MALLOC_TRIM_THRESHOLD_`
    /// is 65536 in its environment, as dask's nanny sets it: glibc then
    /// returns freed chunks to the system at once instead of keeping them
    /// resident, so the memory a worker measures is the memory it holds.
    ///
    /// # Errors
    /// The process failing to start.
    pub fn add_worker(&mut self) -> Result<()> {
        let i = self.workers.len();
        let log = std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into());
        let mut tls_args = Vec::new();
        if let Some(tls) = &self.tls {
            let f = tls.files();
            for (flag, path) in [
                ("--tls-cert", &f.cert),
                ("--tls-key", &f.key),
                ("--tls-ca", &f.ca),
            ] {
                tls_args.push(std::ffi::OsString::from(flag));
                tls_args.push(path.as_os_str().to_owned());
            }
        }
        let mut cmd = Command::new(&self.program);
        if std::env::var_os("MALLOC_TRIM_THRESHOLD_").is_none() {
            cmd.env("MALLOC_TRIM_THRESHOLD_", "65536");
        }
        let local_dir = self.dir.join(format!("worker-{i}"));
        let child = cmd
            .args(&self.args)
            .args(&tls_args)
            .args([
                "--scheduler",
                &self.addr,
                "--nthreads",
                &self.nthreads.to_string(),
                "--memory-limit",
                &self.memory_limit.to_string(),
                "--listen",
                "127.0.0.1:0",
                "--name",
                &format!("local-{i}"),
                "--memory-target-fraction",
                &self.memory_fractions.0.to_string(),
                "--memory-pause-fraction",
                &self.memory_fractions.1.to_string(),
            ])
            .arg("--local-dir")
            .arg(&local_dir)
            // The worker exits when this pipe closes: when the cluster is
            // dropped, and also when this process dies without dropping it
            // (a static cluster, a panic, kill -9).
            .arg("--exit-with-stdin")
            .env("DARRAY_SECRET_FILE", &self.secret_path)
            .env_remove("DARRAY_SECRET")
            // TLS comes from the flags above or not at all.
            .env_remove("DARRAY_TLS_CERT")
            .env_remove("DARRAY_TLS_KEY")
            .env_remove("DARRAY_TLS_CA")
            .env_remove("DARRAY_TLS_SERVER_NAME")
            .env("RUST_LOG", log)
            .env(WORKER_ENV, self.entry.value())
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .map_err(|source| Error::Start {
                what: format!("worker {:?}", self.program),
                source,
            })?;
        self.workers.push(child);
        Ok(())
    }

    /// Waits until `n` workers joined the scheduler. A worker process that
    /// exits first ends the wait at once with its exit status: a program that
    /// cannot serve as a worker fails fast, not after the timeout.
    fn wait_for_start(&mut self, n: usize, timeout: Duration) -> Result<()> {
        let client = self.client()?;
        let n = u32::try_from(n).unwrap_or(u32::MAX);
        let start = std::time::Instant::now();
        loop {
            let joined = client.info()?.0;
            if joined >= n {
                return Ok(());
            }
            let exited: Vec<String> = self
                .workers
                .iter_mut()
                .enumerate()
                .filter_map(|(i, c)| Some(format!("worker {i}: {}", c.try_wait().ok()??)))
                .collect();
            let hint = match self.entry {
                Entry::AtStart => "",
                Entry::InMain => {
                    "; a worker that runs main must call darray::distributed::serve_if_worker() \
                     (or run_from_args) there, after registering kernels and before building a cluster"
                }
            };
            if !exited.is_empty() {
                return Err(Error::Cluster {
                    reason: format!(
                        "worker program {:?} exited before joining the cluster ({}){hint}",
                        self.program,
                        exited.join(", ")
                    ),
                    source: None,
                });
            }
            if start.elapsed() > timeout {
                return Err(Error::Cluster {
                    reason: format!(
                        "{n} workers did not join within {timeout:?} ({joined} joined); \
                         worker program {:?}{hint}",
                        self.program
                    ),
                    source: None,
                });
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops the scheduler (its clients' connections drop) and starts a new
    /// one on the same address; the workers reconnect to it on their own.
    ///
    /// # Errors
    /// The address cannot be bound again.
    pub fn restart_scheduler(&mut self) -> Result<()> {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let addr: std::net::SocketAddr = self.addr.parse().map_err(|e| Error::Address {
            addr: self.addr.clone(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidInput, e),
        })?;
        let (_, stop, thread) = start_scheduler(addr, self.secret.clone(), self.tls.clone())?;
        self.stop = Some(stop);
        self.thread = Some(thread);
        Ok(())
    }

    /// Kills worker `i` (as a crash would): the scheduler reschedules its work.
    ///
    /// # Errors
    /// No such worker.
    pub fn kill_worker(&mut self, i: usize) -> Result<()> {
        let w = self.workers.get_mut(i).ok_or_else(|| Error::Cluster {
            reason: format!("no worker {i}"),
            source: None,
        })?;
        let _ = w.kill();
        let _ = w.wait();
        Ok(())
    }
}

impl Drop for LocalCluster {
    fn drop(&mut self) {
        for w in &mut self.workers {
            let _ = w.kill();
            let _ = w.wait();
        }
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

type SchedulerHandle = (
    std::net::SocketAddr,
    tokio::sync::oneshot::Sender<()>,
    std::thread::JoinHandle<()>,
);

/// Starts a scheduler on its own thread and runtime, listening on `addr`
/// (address reuse on, so a restart can take the same port).
fn start_scheduler(
    addr: std::net::SocketAddr,
    secret: Arc<Secret>,
    tls: Option<Arc<TlsConfig>>,
) -> Result<SchedulerHandle> {
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let thread = std::thread::Builder::new()
        .name("darray-scheduler".into())
        .spawn(move || {
            // One thread for the actor and its connections: an event crosses no
            // thread on its way from a socket to the actor and back out.
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    let _ = ready_tx.send(Err(e.to_string()));
                    return;
                }
            };
            rt.block_on(async move {
                let bound = (|| {
                    let sock = tokio::net::TcpSocket::new_v4()?;
                    sock.set_reuseaddr(true)?;
                    sock.bind(addr)?;
                    sock.listen(1024)
                })();
                let listener = match bound {
                    Ok(l) => l,
                    Err(e) => {
                        let _ = ready_tx.send(Err(format!("scheduler cannot bind {addr}: {e}")));
                        return;
                    }
                };
                let _ = ready_tx.send(listener.local_addr().map_err(|e| e.to_string()));
                tokio::select! {
                    () = super::scheduler::serve_with(listener, secret, tls, Limits::default()) => {}
                    _ = stop_rx => {}
                }
            });
        })
        .map_err(|source| Error::Start {
            what: "the scheduler thread".into(),
            source,
        })?;
    let addr = ready_rx
        .recv()
        .map_err(|_| Error::Cluster {
            reason: "the scheduler thread ended early".into(),
            source: None,
        })?
        .map_err(|reason| Error::Cluster {
            reason,
            source: None,
        })?;
    Ok((addr, stop_tx, thread))
}

/// A fresh directory only this user can enter.
fn private_dir() -> Result<PathBuf> {
    use std::os::unix::fs::DirBuilderExt;
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let mut nonce = [0u8; 8];
    getrandom::fill(&mut nonce).map_err(|e| Error::Start {
        what: "a cluster directory (no randomness)".into(),
        source: std::io::Error::other(e.to_string()),
    })?;
    let dir = std::env::temp_dir().join(format!(
        "darray-cluster-{}-{}-{:016x}",
        std::process::id(),
        N.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        u64::from_le_bytes(nonce)
    ));
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&dir)
        .map_err(|source| Error::Start {
            what: format!("a cluster directory: cannot create {}", dir.display()),
            source,
        })?;
    Ok(dir)
}
