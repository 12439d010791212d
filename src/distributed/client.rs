//! The client: submits graphs to a scheduler and gathers their outputs. It is an
//! [`Executor`], so `compute_with(&client)`, `persist_with` and `to_zarr_with`
//! run on a cluster unchanged.

use super::auth::{self, Secret};
use super::batch::batches;
use super::proto::{
    read_chunk, read_msg, write_msg, Failure, FromClient, Hello, ToClient, WorkerInfo,
};
use super::tls::{ReadHalf, TlsConfig, WriteHalf};
use super::wire::{self, FrameKind, Limits, WireError};
use crate::error::{Error, Result};
use crate::exec::{ExecStats, Executor};
use crate::graph::{Graph, Op};
use darray_kernels::Chunk;
use parking_lot::Mutex;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A connection to a scheduler.
///
/// ```no_run
/// use darray::distributed::Client;
/// use darray::DArray;
/// // The secret comes from DARRAY_SECRET_FILE (or DARRAY_SECRET).
/// let client = Client::connect("10.0.0.1:8786").unwrap();
/// let x = DArray::<f64>::random_normal(1, &[10_000, 1_000], 0.0, 1.0, [1_000, 1_000]).unwrap();
/// let m = x.mean().unwrap().compute_with(&client).unwrap();
/// ```
pub struct Client {
    rt: tokio::runtime::Runtime,
    conn: tokio::sync::Mutex<(ReadHalf, WriteHalf)>,
    limits: Limits,
    next_job: std::sync::atomic::AtomicU64,
    stats: Mutex<ExecStats>,
    addr: SocketAddr,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("scheduler", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Connects to the scheduler at `addr` with the secret from
    /// `DARRAY_SECRET_FILE` (a file of mode 0600) or `DARRAY_SECRET`, over TLS if
    /// `DARRAY_TLS_CERT`, `DARRAY_TLS_KEY` and `DARRAY_TLS_CA` name PEM files (see
    /// [`TlsConfig::from_env`]).
    ///
    /// # Errors
    /// No secret, unusable TLS files, an unresolvable address, or the scheduler
    /// unreachable or refusing the handshake.
    pub fn connect(addr: &str) -> Result<Client> {
        let secret = super::secret_from_env()?.ok_or(Error::NoSecret)?;
        let tls = TlsConfig::from_env().map_err(|source| Error::Tls { source })?;
        Client::connect_with_tls(addr, &secret, tls.as_ref(), Limits::default())
    }

    /// Connects to the scheduler at `addr` with `secret` and `limits`.
    ///
    /// # Errors
    /// As [`Client::connect`].
    pub fn connect_with(addr: &str, secret: &Secret, limits: Limits) -> Result<Client> {
        Client::connect_with_tls(addr, secret, None, limits)
    }

    /// Connects to the scheduler at `addr` with `secret` and `limits`, over TLS
    /// when `tls` is given (the scheduler must then use TLS with the same CA).
    ///
    /// # Errors
    /// As [`Client::connect`]; a TLS mismatch (TLS on one side only, or another
    /// CA) says so.
    pub fn connect_with_tls(
        addr: &str,
        secret: &Secret,
        tls: Option<&TlsConfig>,
        limits: Limits,
    ) -> Result<Client> {
        let sa = super::resolve(addr)?;
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .map_err(|source| Error::Start {
                what: "the client's runtime".into(),
                source,
            })?;
        let (r, w) = rt
            .block_on(async {
                let s = auth::connect_with(sa, secret, tls, &limits).await?;
                s.set_nodelay(true)?;
                let (r, mut w) = s.into_split();
                write_msg(&mut w, &Hello::Client, None, &limits).await?;
                Ok::<_, WireError>((r, w))
            })
            .map_err(|source| Error::Connect {
                addr: addr.to_string(),
                source,
            })?;
        Ok(Client {
            rt,
            conn: tokio::sync::Mutex::new((r, w)),
            limits,
            next_job: std::sync::atomic::AtomicU64::new(1),
            stats: Mutex::new(ExecStats::default()),
            addr: sa,
        })
    }

    /// The scheduler's address.
    #[must_use]
    pub fn scheduler_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Workers connected to the scheduler and their total threads (see
    /// [`Client::cluster_info`] for each worker's memory).
    ///
    /// # Errors
    /// The connection failing.
    pub fn info(&self) -> Result<(u32, u32)> {
        let c = self.cluster_info()?;
        Ok((c.n_workers(), c.threads()))
    }

    /// The workers connected to the scheduler, each with its threads, memory
    /// limit and memory as of its last heartbeat (every 0.5 s, and after each
    /// spill pass): bytes held in memory, bytes spilled to disk now and in
    /// total, the process's resident memory, and whether it is paused (see
    /// [`worker::memory`](super::worker::memory)).
    ///
    /// # Errors
    /// The connection failing.
    pub fn cluster_info(&self) -> Result<ClusterInfo> {
        self.rt
            .block_on(async {
                let mut g = self.conn.lock().await;
                let (r, w) = &mut *g;
                write_msg(w, &FromClient::Info, None, &self.limits).await?;
                loop {
                    if let ToClient::Info { workers } = read_msg(r, &self.limits).await? {
                        return Ok::<_, WireError>(ClusterInfo { workers });
                    }
                }
            })
            .map_err(|source| self.lost(source))
    }

    /// Waits until at least `n` workers are connected.
    ///
    /// # Errors
    /// The connection failing, or `timeout` passing first.
    pub fn wait_for_workers(&self, n: u32, timeout: Duration) -> Result<()> {
        let start = Instant::now();
        loop {
            let have = self.info()?.0;
            if have >= n {
                return Ok(());
            }
            if start.elapsed() > timeout {
                return Err(Error::Cluster {
                    reason: format!(
                        "{n} workers did not connect within {timeout:?} ({have} connected)"
                    ),
                    source: None,
                });
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The connection's failure, with the scheduler's address.
    fn lost(&self, source: WireError) -> Error {
        Error::Connection {
            addr: self.addr,
            source,
        }
    }

    async fn run_graph(&self, graph: &Graph) -> std::result::Result<Vec<Arc<Chunk>>, RunError> {
        let job = self
            .next_job
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut g = self.conn.lock().await;
        let (r, w) = &mut *g;
        let n_tasks =
            u32::try_from(graph.len()).map_err(|_| RunError::Other("graph too large".into()))?;
        for (tasks, lits) in batches(graph, &self.limits)? {
            write_msg(w, &FromClient::Tasks { job, tasks }, None, &self.limits).await?;
            for l in lits {
                wire::write_frame(w, FrameKind::Chunk, &wire::encode_chunk(&l)?).await?;
            }
        }
        let submit = FromClient::Submit {
            job,
            n_tasks,
            outputs: graph.outputs.iter().map(|o| o.0).collect(),
            names: graph.names.iter().map(|(k, v)| (*k, v.clone())).collect(),
        };
        write_msg(w, &submit, None, &self.limits).await?;
        let mut results: Vec<Option<Arc<Chunk>>> = vec![None; graph.outputs.len()];
        loop {
            match read_msg::<ToClient, _>(r, &self.limits).await? {
                ToClient::Result { job: j, index } => {
                    let c = read_chunk(r, &self.limits).await?;
                    if j == job {
                        if let Some(slot) = results.get_mut(index as usize) {
                            *slot = Some(Arc::new(c));
                        }
                    }
                }
                ToClient::Finished {
                    job: j,
                    tasks_run,
                    bytes_moved,
                    fetch_nanos,
                } if j == job => {
                    *self.stats.lock() = ExecStats {
                        tasks: tasks_run,
                        bytes_transferred: bytes_moved,
                        transfer_nanos: fetch_nanos,
                        ..ExecStats::default()
                    };
                    break;
                }
                ToClient::Failed { job: j, failure } if j == job => {
                    return Err(RunError::Failed(failure));
                }
                _ => {}
            }
        }
        results
            .into_iter()
            .enumerate()
            .map(|(i, r)| r.ok_or_else(|| RunError::Other(format!("output {i} never arrived"))))
            .collect()
    }
}

/// What [`Client::cluster_info`] returns: the workers connected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterInfo {
    /// Each worker, in the order it joined.
    pub workers: Vec<WorkerInfo>,
}

impl ClusterInfo {
    /// Workers connected.
    #[must_use]
    pub fn n_workers(&self) -> u32 {
        u32::try_from(self.workers.len()).unwrap_or(u32::MAX)
    }

    /// Their total threads.
    #[must_use]
    pub fn threads(&self) -> u32 {
        self.workers.iter().map(|w| w.nthreads).sum()
    }

    /// Bytes all workers have spilled to disk since they started.
    #[must_use]
    pub fn spilled_total(&self) -> u64 {
        self.workers.iter().map(|w| w.memory.spilled_total).sum()
    }
}

enum RunError {
    Wire(WireError),
    Failed(Failure),
    Other(String),
}

impl From<WireError> for RunError {
    fn from(e: WireError) -> Self {
        RunError::Wire(e)
    }
}

/// Zarr paths made absolute, so workers in other directories find them (URLs
/// are left as they are).
fn absolute_paths(graph: &Graph) -> Graph {
    let mut g = graph.clone();
    let abs = |p: &mut String| {
        let path = Path::new(p.as_str());
        if path.is_relative() && !crate::store::is_url(p) {
            if let Ok(cwd) = std::env::current_dir() {
                *p = cwd.join(path).display().to_string();
            }
        }
    };
    for t in &mut g.tasks {
        // Every op named: a new op that names a file gets its path made
        // absolute here, or a decision that it needs none.
        match &mut t.op {
            Op::ReadZarr { path, .. }
            | Op::WriteZarr { path, .. }
            | Op::WriteZarrRegion { path, .. } => abs(path),
            Op::Literal { .. }
            | Op::Arange { .. }
            | Op::Eye { .. }
            | Op::Random { .. }
            | Op::Fused { .. }
            | Op::PartialReduce { .. }
            | Op::MergeReduce { .. }
            | Op::Slice { .. }
            | Op::Assemble { .. }
            | Op::Gather { .. }
            | Op::PointGather { .. }
            | Op::Stencil { .. }
            | Op::Extract { .. }
            | Op::Sort { .. }
            | Op::IsIn { .. }
            | Op::CountBelow { .. }
            | Op::Transpose { .. }
            | Op::Reshape { .. }
            | Op::MapBlocks { .. }
            | Op::Call { .. }
            | Op::Scan { .. }
            | Op::UserScan { .. }
            | Op::Diff { .. }
            | Op::Histogram { .. }
            | Op::Count { .. }
            | Op::QuantileLanes { .. }
            | Op::QuantileCounts { .. }
            | Op::QuantileRefine { .. }
            | Op::QuantileFinish { .. }
            | Op::Create { .. }
            | Op::GroupPartial { .. }
            | Op::GroupMerge { .. }
            | Op::Linalg { .. } => {}
        }
    }
    g
}

impl Executor for Client {
    fn execute(&self, graph: &Graph) -> Result<Vec<Arc<Chunk>>> {
        crate::exec::kernels::check_no_local_kernels(graph)?;
        let graph = absolute_paths(graph);
        match self.rt.block_on(self.run_graph(&graph)) {
            Ok(v) => Ok(v),
            Err(RunError::Wire(e)) => Err(self.lost(e)),
            Err(RunError::Other(reason)) => Err(Error::Protocol { reason }),
            Err(RunError::Failed(Failure::Task { key, message })) => Err(Error::Task {
                key,
                source: Box::new(Error::Remote { message }),
            }),
            Err(RunError::Failed(Failure::OverBudget { key, bytes, budget })) => {
                Err(Error::OverBudget { key, bytes, budget })
            }
            Err(RunError::Failed(Failure::Invalid(reason))) => Err(Error::Protocol { reason }),
        }
    }

    fn last_stats(&self) -> ExecStats {
        self.stats.lock().clone()
    }
}
