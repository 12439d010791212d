//! Execution: the [`Executor`] trait, the one place an [`Op`](crate::graph::Op)
//! becomes a kernel call (`run`), and the local work-stealing executor
//! ([`LocalExecutor`]). Array code reaches execution only through `Executor`, so
//! a remote executor plugs in without touching it.

pub mod functions;
pub(crate) mod kernels;
mod local;
pub mod report;
pub(crate) mod run;
pub(crate) mod scan_ops;

pub(crate) use local::order::priorities_of;
pub(crate) use local::panic_message;
pub use local::{default_memory_budget, LocalExecutor};
pub use report::{Report, TaskRecord};

use crate::error::Result;
use crate::graph::Graph;
use darray_kernels::Chunk;
use std::sync::{Arc, OnceLock};

/// What one run did: counts and bytes, for tests, benchmarks and progress.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExecStats {
    /// Tasks run.
    pub tasks: u64,
    /// Zarr chunks (or regions) read.
    pub chunks_read: u64,
    /// Decoded bytes read from Zarr.
    pub bytes_read: u64,
    /// Zarr chunks (or shards) written.
    pub chunks_written: u64,
    /// Decoded bytes written to Zarr.
    pub bytes_written: u64,
    /// Peak bytes of task results held at once.
    pub peak_bytes: u64,
    /// Largest number of tasks in flight at once: dispatched to the pool, running or
    /// queued there (the local executor queues small tasks ahead of its threads).
    pub peak_running: u64,
    /// Bytes of task inputs moved between workers (distributed execution only).
    pub bytes_transferred: u64,
    /// Nanoseconds the workers spent fetching those bytes from each other,
    /// summed over the tasks that fetched inputs, each timed from its first
    /// fetch to its last (a task's fetches run at once; distributed execution
    /// only): `bytes_transferred` over this is the rate of the transfers alone.
    pub transfer_nanos: u64,
}

/// Something that runs task graphs.
pub trait Executor: Send + Sync {
    /// Runs `graph` and returns the results of `graph.outputs`, in order.
    ///
    /// # Errors
    /// A task over the memory budget (before anything runs), or the first task
    /// that fails, wrapped in [`Error::Task`](crate::Error::Task) with its key.
    fn execute(&self, graph: &Graph) -> Result<Vec<Arc<Chunk>>>;

    /// Statistics of the most recent [`Executor::execute`].
    fn last_stats(&self) -> ExecStats;

    /// The memory budget (bytes) that plans run here are checked against: a
    /// [`LocalExecutor`]'s own budget; by default
    /// [`default_memory_budget`] (a share of this machine's memory).
    fn memory_budget(&self) -> u64 {
        default_memory_budget()
    }
}

/// The process-wide default executor: a [`LocalExecutor`] on all cores, with the
/// default memory budget. `DARRAY_PROGRESS=1` turns its progress bar on.
///
/// # Panics
/// If the thread pool cannot be created.
pub fn default_executor() -> &'static LocalExecutor {
    static DEFAULT: OnceLock<LocalExecutor> = OnceLock::new();
    DEFAULT.get_or_init(|| {
        let progress = std::env::var("DARRAY_PROGRESS").is_ok_and(|v| v == "1");
        LocalExecutor::new()
            .expect("the default thread pool starts")
            .progress(progress)
    })
}
