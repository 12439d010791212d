//! [`DArray`]: a lazy, chunked n-dimensional array. Methods build an expression;
//! nothing runs until [`DArray::compute`], [`DArray::to_zarr`] or
//! [`DArray::persist`]. The user API is split by family: creation, elementwise,
//! reduction, slicing (slice, rechunk, transpose, concatenate), map_blocks, compute.

mod blocks;
mod blockwise;
mod compute;
mod counting;
mod creation;
mod creation_more;
mod elementwise;
mod groupby;
mod groupby_quantile;
mod histogram;
mod indexing;
mod many;
pub(crate) mod map_blocks;
mod np_slice;
mod order;
mod overlap;
mod quantile;
mod random_more;
mod reduction;
mod reduction_more;
mod scan;
mod shape;
pub(crate) mod slicing;
mod sorting;
mod ufunc;
mod unique;
mod vindex;
mod write;

/// Chunk grids and chunk specifications (defined with the lowering IR in
/// `crate::expr::grid`; re-exported here, where users look for them).
pub use crate::expr::grid as chunks;
pub use blocks::Nested;
pub use blockwise::{blockwise, BlockwiseOptions, Contraction};
pub use chunks::{AxisChunks, ChunkSpec, Grid};
pub use counting::{histogram2d, histogram2d_with, histogramdd, histogramdd_with};
pub use creation_more::{register_block_function, Indexing};
pub use elementwise::{where_, Operand};
pub use groupby::{GroupBy, GroupStrategy};
pub use histogram::Bins;
pub use many::{compute, compute_with, persist, persist_with, Blocks, Computable, Roots};
pub use map_blocks::{
    map_blocks, map_blocks_local, map_blocks_with, register_kernel, register_kernel_raw,
    register_kernel_with, register_lane_function, AnyArray, ArrayArg, BlockInfo, KernelFn,
    MapBlocksOptions,
};
pub use np_slice::NpIndex;
pub use order::PadMode;
pub use overlap::{Boundary, Overlapped};
pub use quantile::{QuantileMethod, Quantiles};
pub use reduction::{ReduceOpts, DEFAULT_SPLIT_EVERY};
pub use scan::register_scan;
pub use shape::ReshapeOpts;
pub use unique::{union1d, union1d_with, UniqueAll};
pub use write::{to_zarr_group, to_zarr_group_with, Member, MemberPlan, RegionOptions, ZarrMember};

use crate::error::{Error, Result};
use crate::expr::node::Expr;
use darray_kernels::{DType, Element};
use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

/// A lazy chunked array of `T`: a shape, a grid of chunks, and the expression that
/// computes them.
///
/// ```
/// use darray::DArray;
/// let x = DArray::<f64>::arange(0.0, 10.0, 1.0, [4]).unwrap();
/// assert_eq!(x.shape(), &[10]);
/// assert_eq!(x.chunks(), &vec![vec![4, 4, 2]]);
/// let y = (&x * 2.0 + 1.0).sum().unwrap();
/// assert_eq!(y.compute_scalar().unwrap(), 100.0);
/// ```
#[must_use = "DArray is lazy: call compute() or to_zarr()"]
pub struct DArray<T: Element> {
    pub(crate) expr: Arc<Expr>,
    _t: PhantomData<fn() -> T>,
}

impl<T: Element> Clone for DArray<T> {
    fn clone(&self) -> Self {
        DArray::wrap(self.expr.clone())
    }
}

impl<T: Element> fmt::Debug for DArray<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "DArray<{}>(name={:?}, shape={:?}, chunks={:?})",
            self.expr.dtype, self.expr.name, self.expr.shape, self.expr.grid
        )
    }
}

impl<T: Element> DArray<T> {
    pub(crate) fn wrap(expr: Arc<Expr>) -> Self {
        debug_assert_eq!(expr.dtype, T::DTYPE, "expression dtype matches T");
        DArray {
            expr,
            _t: PhantomData,
        }
    }

    /// The shape.
    #[must_use]
    pub fn shape(&self) -> &[usize] {
        &self.expr.shape
    }

    /// Number of dimensions.
    #[must_use]
    pub fn ndim(&self) -> usize {
        self.expr.shape.len()
    }

    /// Number of elements.
    #[must_use]
    pub fn len(&self) -> usize {
        self.expr.shape.iter().product()
    }

    /// True if the array has no elements.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The element dtype.
    #[must_use]
    pub fn dtype(&self) -> DType {
        T::DTYPE
    }

    /// Bytes of the whole array.
    #[must_use]
    pub fn nbytes(&self) -> u64 {
        (self.len() * T::DTYPE.size()) as u64
    }

    /// The chunk sizes along each axis (dask's `chunks`).
    #[must_use]
    pub fn chunks(&self) -> &Grid {
        &self.expr.grid
    }

    /// Number of blocks along each axis.
    #[must_use]
    pub fn numblocks(&self) -> Vec<usize> {
        chunks::numblocks(&self.expr.grid)
    }

    /// The array's name (used in task keys and errors).
    #[must_use]
    pub fn name(&self) -> &str {
        &self.expr.name
    }
}

pub(crate) fn normalize_axis(name: &str, axis: isize, ndim: usize) -> Result<usize> {
    let n = isize::try_from(ndim).expect("ndim fits isize");
    let a = if axis < 0 { axis + n } else { axis };
    if a < 0 || a >= n {
        Err(Error::AxisOutOfRange {
            array: name.to_string(),
            axis,
            ndim,
        })
    } else {
        Ok(usize::try_from(a).expect("checked non-negative"))
    }
}
