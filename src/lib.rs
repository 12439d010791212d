//! # darray
//!
//! Lazy chunked n-dimensional arrays over Zarr, computed as graphs of blockwise
//! tasks: what dask.array is for Python, for Rust.
//!
//! - [`DArray`] builds an expression; nothing runs until [`DArray::compute`],
//!   [`DArray::to_zarr`] or [`DArray::persist`].
//! - Elementwise chains fuse into one task per chunk; reductions are tree
//!   reductions with a bounded fan-in; slices read only the chunks they touch.
//! - Every task states its projected memory; a plan over budget is refused before
//!   anything runs.
//! - Results do not depend on the thread count or on the order tasks finish.
//!
//! ```
//! use darray::DArray;
//! let x = DArray::<f64>::random_uniform(42, &[1000, 500], 0.0, 1.0, [250, 250]).unwrap();
//! let y = (x.sin().powi(2) + &x.cos().powi(2)).unwrap();
//! let m = y.mean().unwrap().compute_scalar().unwrap();
//! assert!((m - 1.0).abs() < 1e-12);
//! ```

#![warn(missing_docs, unreachable_pub)]

pub mod array;
pub mod delayed;
pub mod distributed;
pub mod error;
pub mod exec;
mod expr;
pub mod graph;
pub mod linalg;
mod ops;
pub mod store;

pub use array::{blockwise, BlockwiseOptions, Contraction};
pub use array::{
    compute, compute_with, map_blocks, persist, persist_with, register_kernel, register_kernel_raw,
    where_, AnyArray, ArrayArg, AxisChunks, Boundary, ChunkSpec, Computable, DArray, Grid,
    KernelFn, Operand, Overlapped, ReduceOpts,
};
pub use array::{
    histogram2d, histogram2d_with, histogramdd, histogramdd_with, union1d, union1d_with,
};
pub use array::{
    map_blocks_local, map_blocks_with, register_kernel_with, register_lane_function, BlockInfo,
    MapBlocksOptions,
};
pub use array::{register_block_function, Indexing};
pub use array::{register_scan, Bins};
pub use array::{to_zarr_group, to_zarr_group_with, RegionOptions, ZarrMember};
pub use array::{GroupBy, GroupStrategy};
pub use array::{Nested, NpIndex, PadMode, ReshapeOpts};
pub use array::{QuantileMethod, Quantiles, UniqueAll};
pub use darray_kernels::groupby::GroupKind;
pub use darray_kernels::{Chunk, DType, Element, Numeric};
pub use delayed::Delayed;
pub use error::{Error, Result};
pub use exec::{default_executor, default_memory_budget, ExecStats, Executor, LocalExecutor};
pub use expr::rechunk_plan::{RechunkOptions, RechunkPlan};
pub use linalg::{corrcoef, cov, cov2, outer};
pub use store::{Compression, StoreOptions, WriteOptions, ZarrFormat};

/// The README's Rust snippets, compiled and run by `cargo test --doc` so the
/// README cannot drift from the API.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
mod readme {}
