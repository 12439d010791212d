//! The one error type of the `darray` crate.

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
    /// The executor could not start (thread pool).
    #[error("executor: {0}")]
    Executor(String),
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
}

/// Result alias used throughout darray.
pub type Result<T, E = Error> = std::result::Result<T, E>;
