//! The one error type of the `darray` crate.

use crate::distributed::wire::WireError;
use crate::store::StoreError;
use darray_kernels::{DType, KernelError};

/// Everything that can go wrong building or running a computation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An axis index outside `-ndim..ndim`.
    #[error("array `{array}`: axis {axis} out of range for {ndim}-d array")]
    AxisOutOfRange {
        /// The array's name.
        array: String,
        /// The axis asked for.
        axis: isize,
        /// The array's number of dimensions.
        ndim: usize,
    },
    /// The same axis named twice.
    #[error("array `{array}`: axis {axis} given more than once")]
    DuplicateAxis {
        /// The array's name.
        array: String,
        /// The repeated axis.
        axis: usize,
    },
    /// Shapes that do not broadcast together.
    #[error("shapes {left:?} and {right:?} do not broadcast")]
    Broadcast {
        /// Shape of the left operand.
        left: Vec<usize>,
        /// Shape of the right operand.
        right: Vec<usize>,
    },
    /// A chunk specification that does not fit the shape.
    #[error("array `{array}`: invalid chunks for shape {shape:?}: {reason}")]
    InvalidChunks {
        /// The array's name.
        array: String,
        /// The array's shape.
        shape: Vec<usize>,
        /// What is wrong.
        reason: String,
    },
    /// An argument that is not valid for the operation.
    #[error("array `{array}`: {reason}")]
    InvalidArgument {
        /// The array's name.
        array: String,
        /// What is wrong.
        reason: String,
    },
    /// A reshape that is neither a merge nor a split of whole axes: every output
    /// block along the axes named would need data from every input block along
    /// them (an all-to-all exchange), which the caller has not allowed.
    #[error(
        "array `{array}`: reshape from {from:?} to {to:?} needs an all-to-all exchange: \
         input axes {in_axes:?} become output axes {out_axes:?}, which is neither a merge \
         nor a split of whole axes; allow it with \
         `reshape_with(shape, &ReshapeOpts::default().allow_exchange(true))` (which \
         rechunks those axes first), or reshape in steps that each merge or split axes"
    )]
    ReshapeExchange {
        /// The array's name.
        array: String,
        /// Its shape.
        from: Vec<usize>,
        /// The shape asked for.
        to: Vec<usize>,
        /// The input axes of the group that needs the exchange.
        in_axes: std::ops::Range<usize>,
        /// The output axes of that group.
        out_axes: std::ops::Range<usize>,
    },
    /// A stored array whose dtype is not the one asked for.
    #[error("array `{array}`: dtype mismatch: expected {expected}, found {found}")]
    DTypeMismatch {
        /// The array's name.
        array: String,
        /// The dtype asked for.
        expected: DType,
        /// The dtype found.
        found: DType,
    },
    /// A reduction without identity over zero elements (min, max, argmin, argmax).
    #[error("array `{array}`: {op} of an empty array (axis length 0) has no identity")]
    EmptyReduction {
        /// The array's name.
        array: String,
        /// The reduction.
        op: String,
    },
    /// A `map_blocks` kernel name that is not registered.
    #[error("kernel `{0}` is not registered")]
    UnknownKernel(String),
    /// A kernel name registered twice.
    #[error("kernel `{0}` is already registered")]
    KernelExists(String),
    /// A graph with a closure given to `map_blocks_local` sent to a cluster.
    #[error("kernel `{0}` is a closure given to map_blocks_local: it exists in this process only and cannot run on a cluster's workers; register a named kernel (register_kernel_with) in every process instead")]
    LocalOnlyKernel(String),
    /// A delayed function name that is not registered (in the process that
    /// builds the call, or the one that runs it).
    #[error("delayed function `{0}` is not registered in this process; register it (in every worker too) before calling it")]
    UnknownFunction(String),
    /// A delayed function name registered twice.
    #[error("delayed function `{0}` is already registered")]
    FunctionExists(String),
    /// A call whose argument or result types differ from the registered ones.
    #[error(
        "delayed function `{function}` is registered as `{registered}` but called as `{called}`"
    )]
    FunctionSignature {
        /// The function's name.
        function: String,
        /// The registered signature.
        registered: String,
        /// The signature of the call.
        called: String,
    },
    /// A delayed function that failed (returned `Err`, or got undecodable arguments).
    #[error("function `{function}` failed: {message}")]
    FunctionFailed {
        /// The function's name.
        function: String,
        /// Its error message.
        message: String,
    },
    /// A future that was cancelled, or whose argument was (or whose runner
    /// was dropped before it ran).
    #[error("future {key} (function `{function}`): {reason}")]
    Cancelled {
        /// The future's key.
        key: String,
        /// Its function.
        function: String,
        /// Why it has no value.
        reason: String,
    },
    /// Futures not done within a wait's timeout.
    #[error("{pending} future(s) not done after {timeout:?} (first: {first})")]
    WaitTimeout {
        /// How many were not done.
        pending: usize,
        /// The key of the first of them.
        first: String,
        /// The timeout.
        timeout: std::time::Duration,
    },
    /// A delayed value that does not serialize or decode.
    #[error("delayed value {what}: {reason}")]
    DelayedValue {
        /// Which value.
        what: String,
        /// What is wrong.
        reason: String,
    },
    /// A scan operator name that is not registered.
    #[error("scan operator `{0}` is not registered; register it with register_scan first")]
    UnknownScanOperator(String),
    /// A scan operator name registered twice.
    #[error("scan operator `{0}` is already registered")]
    ScanOperatorExists(String),
    /// A task whose projected memory exceeds the budget; refused before anything runs.
    #[error("task {key} needs {bytes} bytes, over the memory budget of {budget} bytes; use smaller chunks or raise the budget")]
    OverBudget {
        /// The task's key.
        key: String,
        /// Its projected bytes.
        bytes: u64,
        /// The budget.
        budget: u64,
    },
    /// A task that failed while running.
    #[error("task {key}: {source}")]
    Task {
        /// The task's key (array name and block index).
        key: String,
        /// Why it failed.
        #[source]
        source: Box<Error>,
    },
    /// A kernel error (inside a task).
    #[error(transparent)]
    Kernel(#[from] KernelError),
    /// A storage error.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A user kernel (map_blocks) returned an error.
    #[error("kernel `{kernel}`: {message}")]
    UserKernel {
        /// The kernel's name.
        kernel: String,
        /// Its message.
        message: String,
    },
    /// A task panicked; the panic was caught and the computation stopped.
    #[error("panic: {0}")]
    Panic(String),
    /// The local executor's thread pool could not start.
    #[error("executor: cannot start a pool of {threads} threads: {source}")]
    ThreadPool {
        /// The number of threads asked for.
        threads: usize,
        /// What the pool builder said.
        #[source]
        source: rayon::ThreadPoolBuildError,
    },
    /// A task with a number of inputs its op does not take: a graph built by
    /// hand or received from elsewhere, not one darray lowered.
    #[error("task op `{op}`: expected {expected} input(s), got {got}")]
    TaskInputs {
        /// The op's name.
        op: &'static str,
        /// Inputs the op takes.
        expected: usize,
        /// Inputs the task had.
        got: usize,
    },
    /// An executor returned a block of another dtype than its array's (a
    /// custom [`Executor`](crate::Executor), or a graph that does not match it).
    #[error(
        "array `{array}`: block {block:?} came back as {}, expected {expected}",
        .found.map_or_else(|| "no data".to_string(), |d| d.to_string())
    )]
    BlockDType {
        /// The array's name.
        array: String,
        /// The block's index in the grid.
        block: Vec<u32>,
        /// The array's dtype.
        expected: DType,
        /// The block's dtype (`None`: a block without data).
        found: Option<DType>,
    },
    /// An executor returned another number of blocks than the array has.
    #[error("array `{array}`: {found} block(s) came back, expected {expected}")]
    BlockCount {
        /// The array's name.
        array: String,
        /// The grid's number of blocks.
        expected: usize,
        /// Blocks returned.
        found: usize,
    },
    /// A block of another shape than the grid gives (from an executor, or a
    /// delayed value made into a block).
    #[error(
        "array `{array}`: block {block:?} came back with shape {found:?}, expected {expected:?}"
    )]
    BlockShape {
        /// The array's name.
        array: String,
        /// The block's index in the grid.
        block: Vec<u32>,
        /// The grid's shape for the block.
        expected: Vec<usize>,
        /// The block's shape.
        found: Vec<usize>,
    },

    // Distributed execution: each keeps the failure below it as its source.
    /// A scheduler that could not be reached, or refused the handshake.
    #[error("cannot connect to the scheduler at {addr}: {source}; check that a scheduler runs there and that this process has the cluster's secret (and its TLS files, if the cluster uses TLS)")]
    Connect {
        /// The address dialled.
        addr: String,
        /// Why: a refused connection, a timeout, a failed handshake.
        #[source]
        source: WireError,
    },
    /// An established connection to the scheduler that failed.
    #[error("connection to the scheduler at {addr} failed: {source}; check that the scheduler is still running (its log says why it stopped)")]
    Connection {
        /// The scheduler's address.
        addr: std::net::SocketAddr,
        /// What failed on the connection.
        #[source]
        source: WireError,
    },
    /// An address that does not resolve.
    #[error(
        "address `{addr}` does not resolve: {source}; give HOST:PORT, for example 127.0.0.1:8786"
    )]
    Address {
        /// The address as given.
        addr: String,
        /// The resolver's error.
        #[source]
        source: std::io::Error,
    },
    /// A listener that could not start.
    #[error("cannot listen on {addr}: {source}; check that the address is this machine's and the port is free (a non-loopback address needs a secret)")]
    Listen {
        /// The address to listen on.
        addr: std::net::SocketAddr,
        /// Why.
        #[source]
        source: WireError,
    },
    /// A cluster secret that cannot be read, written or used.
    #[error("cluster secret ({origin}): {source}; the secret file must be a regular file of mode 0600 holding the secret the scheduler uses")]
    Secret {
        /// Where the secret comes from or goes: a path or an environment variable.
        origin: String,
        /// Why it failed.
        #[source]
        source: WireError,
    },
    /// No cluster secret given.
    #[error("no cluster secret: give --secret-file, or set DARRAY_SECRET_FILE (a file of mode 0600) or DARRAY_SECRET")]
    NoSecret,
    /// TLS files that cannot be loaded or used.
    #[error("TLS: {source}; check the certificate, key and CA files (--tls-cert/--tls-key/--tls-ca or DARRAY_TLS_CERT/DARRAY_TLS_KEY/DARRAY_TLS_CA)")]
    Tls {
        /// Why.
        #[source]
        source: WireError,
    },
    /// A runtime, thread or process that could not be started.
    #[error("cannot start {what}: {source}; check the system's limits on threads, processes and open files")]
    Start {
        /// What was being started.
        what: String,
        /// The system's error.
        #[source]
        source: std::io::Error,
    },
    /// A local cluster (or its use) failing: workers that did not connect or
    /// exited, a scheduler thread that ended, no such worker.
    #[error("cluster: {reason}")]
    Cluster {
        /// What went wrong, with what was seen (exited workers, counts).
        reason: String,
        /// The error underneath, when there is one.
        #[source]
        source: Option<Box<Error>>,
    },
    /// A peer that broke the protocol: a job the scheduler refused as invalid,
    /// an output that never arrived, a graph too large to send.
    #[error(
        "protocol: {reason}; check that every process of the cluster runs the same darray version"
    )]
    Protocol {
        /// What was wrong.
        reason: String,
    },
    /// The scheduler misbehaving under [`simulate`](crate::distributed::simulate):
    /// a job left unfinished, an output or literal sent wrongly.
    #[error("simulation: {reason}; the scheduler broke its protocol (a bug in darray)")]
    Simulation {
        /// What the stand-in workers or client saw.
        reason: String,
    },
    /// A task that failed on a worker; the error crossed the network as text,
    /// inside [`Error::Task`].
    #[error("on a worker: {message}")]
    Remote {
        /// The worker's error message.
        message: String,
    },
    /// A worker that stopped: the scheduler gone for longer than
    /// `reconnect_for`, a refused handshake, a listener that failed.
    #[error(
        "worker stopped: {source}; check the scheduler's address, the secret and the TLS settings"
    )]
    Worker {
        /// Why it stopped.
        #[source]
        source: WireError,
    },
    /// Command-line arguments of `darray` (or of a program calling
    /// [`run_from_args`](crate::distributed::run_from_args)) that do not parse,
    /// or a request for help or the version: [`clap::Error::exit`] prints it
    /// where clap would and exits with its code.
    #[error("{0}")]
    Cli(#[source] clap::Error),
    /// A chunk grid with more blocks than darray represents (see
    /// [`MAX_AXIS_BLOCKS`](crate::array::chunks::MAX_AXIS_BLOCKS) and
    /// [`MAX_GRID_BLOCKS`](crate::array::chunks::MAX_GRID_BLOCKS)), or an array whose
    /// size in bytes does not fit in 64 bits; refused before the grid is allocated.
    #[error("array `{array}`: shape {shape:?} in chunks of {chunk_shape:?} ({blocks:?} blocks per axis): {reason}")]
    TooManyBlocks {
        /// The array's name (its path, for a Zarr store).
        array: String,
        /// The array's shape.
        shape: Vec<u64>,
        /// The block size along each axis (the largest, for explicit sizes).
        chunk_shape: Vec<u64>,
        /// The number of blocks along each axis.
        blocks: Vec<u64>,
        /// Which limit is exceeded.
        reason: String,
    },
    /// A graph that would hold more tasks than one graph may (2^22); refused while
    /// lowering, before the tasks are made.
    #[error("array `{array}`: lowering it needs at least {tasks} tasks, over the limit of {limit} tasks in one graph; use larger chunks, or compute a slice of it")]
    TooManyTasks {
        /// The array whose blocks were being lowered.
        array: String,
        /// The number of tasks it needs at least.
        tasks: u64,
        /// The limit.
        limit: u64,
    },
    /// A result larger than the executor's memory budget; refused before anything
    /// runs.
    #[error("array `{array}`: its result holds {bytes} bytes and needs {needed} bytes to assemble, over the memory budget of {budget} bytes; write it with `to_zarr` instead, or compute a slice or a reduction of it")]
    ResultTooLarge {
        /// The array's name.
        array: String,
        /// Bytes of the result.
        bytes: u64,
        /// Bytes held while it is assembled (blocks and result).
        needed: u64,
        /// The executor's memory budget.
        budget: u64,
    },
    /// A region to write is not inside the stored array; nothing was written.
    #[error("array `{array}`: region {region:?} is not inside Zarr array `{path}` of shape {shape:?}; nothing was written")]
    RegionOutside {
        /// The array being written.
        array: String,
        /// The stored array's path.
        path: String,
        /// The region asked for.
        region: Vec<std::ops::Range<u64>>,
        /// The stored array's shape.
        shape: Vec<u64>,
    },
    /// A region to write only partly covers some stored chunks, and the caller did
    /// not opt in to rewriting them; nothing was written.
    #[error("array `{array}`: region {region:?} is not aligned to the chunks {chunk_shape:?} of Zarr array `{path}` along axis {axis}; nothing was written (set RegionOptions::read_modify_write to rewrite the partly covered chunks)")]
    RegionMisaligned {
        /// The array being written.
        array: String,
        /// The stored array's path.
        path: String,
        /// The first misaligned axis.
        axis: usize,
        /// The region asked for.
        region: Vec<std::ops::Range<u64>>,
        /// The stored chunk (or shard) shape.
        chunk_shape: Vec<u64>,
    },
    /// A reduction along an axis that needs whole lanes (a quantile) whose one
    /// lane does not fit the memory budget; refused before anything runs.
    #[error("array `{array}`: one lane along axis {axis} holds {bytes} bytes and selecting in it needs {needed} bytes, over the memory budget of {budget} bytes; reduce over all axes instead (memory-bounded at any size), or raise the budget")]
    LaneTooLarge {
        /// The array's name.
        array: String,
        /// The reduced axis.
        axis: usize,
        /// Bytes of one lane.
        bytes: u64,
        /// Bytes one task holds to select in one lane.
        needed: u64,
        /// The executor's memory budget.
        budget: u64,
    },
}

/// Result alias used throughout darray.
pub type Result<T, E = Error> = std::result::Result<T, E>;
