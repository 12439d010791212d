//! [`Op`]: what one task does, as plain data (parameters only).

use darray_kernels::elementwise::{InputView, Part, Window};
use darray_kernels::{ArgContext, Chunk, DType, Distribution, ElementwiseProgram, ReduceKind};
use serde::{Deserialize, Serialize};
use std::ops::Range;
use std::sync::Arc;

/// The selection one task takes from one axis of its input block.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AxisTake {
    /// Elements `start, start+step, ...` (`len` of them) of the block's axis; `step` may be negative.
    Range {
        /// First element (local to the block).
        start: usize,
        /// Step between elements (non-zero).
        step: isize,
        /// Number of elements.
        len: usize,
    },
    /// One element; the axis is removed.
    Index(usize),
    /// A new axis of length 1 (no input axis).
    NewAxis,
}

/// One input's part of an assembled (rechunked) block.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Piece {
    /// The region of the input block to copy.
    pub src: Vec<Range<usize>>,
    /// Where it goes in the output block (start per axis).
    pub dst: Vec<usize>,
}

/// The chunks and windows a fused program reads, per program input: `inputs`
/// as they are when `views` is empty.
///
/// # Errors
/// A view naming an input the task does not have.
pub(crate) fn viewed<'a>(
    inputs: &[&'a Chunk],
    views: &[InputView],
) -> Result<(Vec<&'a Chunk>, Vec<Option<Window>>), darray_kernels::KernelError> {
    if views.is_empty() {
        return Ok((inputs.to_vec(), Vec::new()));
    }
    darray_kernels::elementwise::view_inputs(inputs, views)
}

/// One argument of a [`Op::Call`]: an input of the task, or a value carried in it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CallArg {
    /// The task's input at this index (a value chunk, or an array block for builtins).
    Input(u32),
    /// Postcard bytes of the argument.
    Value(Vec<u8>),
}

/// What a task computes. Parameters only: the inputs are the task's input keys.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Op {
    /// Read a region of a Zarr array.
    ReadZarr {
        /// Path of the array.
        path: String,
        /// The region, per axis.
        region: Vec<Range<u64>>,
        /// Expected dtype.
        dtype: DType,
    },
    /// A block held in the graph itself (from an ndarray, or persisted).
    Literal {
        /// The data.
        data: Arc<darray_kernels::Chunk>,
    },
    /// `start + i * step` for the block's global indices `offset..offset+len`.
    Arange {
        /// Value at index 0.
        start: f64,
        /// Increment.
        step: f64,
        /// First global index of the block.
        offset: usize,
        /// Block length.
        len: usize,
        /// Output dtype.
        dtype: DType,
    },
    /// Ones on the `k`-th diagonal, zeros elsewhere.
    Eye {
        /// Diagonal offset (positive: above the main diagonal).
        k: i64,
        /// Start (row, column) of the block.
        offset: [usize; 2],
        /// Block shape.
        shape: [usize; 2],
        /// Output dtype.
        dtype: DType,
    },
    /// Counter-based random values.
    Random {
        /// The distribution.
        dist: Distribution,
        /// The seed.
        seed: u64,
        /// Output dtype.
        dtype: DType,
        /// Whole array shape.
        global_shape: Vec<usize>,
        /// Block start.
        offset: Vec<usize>,
        /// Block shape.
        shape: Vec<usize>,
    },
    /// A fused elementwise chain.
    Fused {
        /// The chain.
        program: ElementwiseProgram,
        /// The output block shape.
        shape: Vec<usize>,
        /// Per program input, the task input and the region of its block it
        /// reads; empty: program input `i` is task input `i`, whole.
        views: Vec<InputView>,
        /// The block evaluated in parts, each with views of its own (then
        /// `views` is empty); empty: in one piece.
        parts: Vec<Part>,
    },
    /// First stage of a reduction, with the elementwise chain before it fused in.
    PartialReduce {
        /// The reduction.
        kind: ReduceKind,
        /// Elementwise chain feeding the reduction; `None`: reduce the single input.
        program: Option<ElementwiseProgram>,
        /// The chain's input views, as in [`Op::Fused`].
        views: Vec<InputView>,
        /// The chain's parts, as in [`Op::Fused`].
        parts: Vec<Part>,
        /// Shape of the block being reduced.
        shape: Vec<usize>,
        /// Reduced axes.
        axes: Vec<usize>,
        /// Block position, for arg-reductions.
        arg: Option<ArgContext>,
    },
    /// Merge of partials in block order; finalizes when `finalize` is set.
    MergeReduce {
        /// The reduction.
        kind: ReduceKind,
        /// Reduced axes.
        axes: Vec<usize>,
        /// `Some(keepdims)` on the last stage.
        finalize: Option<bool>,
        /// Dtype of the reduced array (fixes the result dtype).
        input: DType,
    },
    /// A basic slice of one input block.
    Slice {
        /// Per output-or-input axis selection.
        take: Vec<AxisTake>,
    },
    /// A block assembled from parts of several input blocks.
    Assemble {
        /// Output block shape.
        shape: Vec<usize>,
        /// Output dtype.
        dtype: DType,
        /// One piece per input, in input order.
        pieces: Vec<Piece>,
    },
    /// A block gathered from several input blocks by per-axis index runs
    /// (halos with a boundary condition): see [`darray_kernels::gather`].
    Gather {
        /// Output block shape.
        shape: Vec<usize>,
        /// Output dtype.
        dtype: DType,
        /// Input blocks per axis; the inputs are every combination, C order.
        slots: Vec<usize>,
        /// Per axis, the runs that make it.
        runs: Vec<Vec<darray_kernels::gather::GatherRun>>,
        /// The value of elements no run covers (a constant boundary).
        fill: Option<darray_kernels::Scalar>,
    },
    /// Point-wise indexing (`vindex`): point `p` of the block is input
    /// `slots[p]` at the local coordinates `coords[p * k..][..k]` on `axes`;
    /// see [`darray_kernels::points`].
    PointGather {
        /// Output block shape: the points' axes, then the other input axes.
        shape: Vec<usize>,
        /// Output dtype.
        dtype: DType,
        /// The indexed input axes, ascending.
        axes: Vec<usize>,
        /// Per point, which input.
        slots: Vec<u32>,
        /// Per point, one local coordinate per indexed axis.
        coords: Vec<u32>,
    },
    /// A built-in stencil over a block grown by halos, which it drops.
    Stencil {
        /// The stencil.
        op: darray_kernels::stencil::StencilOp,
        /// The input's halo (before, after) per axis.
        halo: Vec<(usize, usize)>,
        /// How much of each halo lies beyond the array's ends.
        outside: Vec<(usize, usize)>,
        /// A constant boundary's value.
        cval: Option<f64>,
    },
    /// The elements (or coordinates) of a block where a mask block is true,
    /// in C order: inputs `[mask]` or `[mask, values]`.
    Extract {
        /// Values or coordinates.
        what: darray_kernels::select::Extract,
        /// The block's start in the whole array.
        offset: Vec<usize>,
        /// The whole array's shape.
        global: Vec<usize>,
    },
    /// Per value, the elements of the block below it (`right`: at or below),
    /// as a `[1, values]` i64 row (a block's part of `searchsorted`).
    CountBelow {
        /// The values searched for.
        values: Vec<darray_kernels::Scalar>,
        /// NumPy's `side="right"`.
        right: bool,
    },
    /// Whether each element is one of `values` (a bool block).
    IsIn {
        /// The set (converted to the block's dtype when run).
        values: Vec<darray_kernels::Scalar>,
    },
    /// Sorts, argsorts or top-k of the lanes along one axis of a block.
    Sort {
        /// The axis.
        axis: usize,
        /// What to make of each lane.
        kind: darray_kernels::sort::SortKind,
    },
    /// Axes permuted.
    Transpose {
        /// New order of the input's axes.
        perm: Vec<usize>,
    },
    /// A registered user kernel applied to the inputs.
    MapBlocks {
        /// The kernel's registered name.
        kernel: String,
        /// Expected output dtype.
        dtype: DType,
        /// Expected output block shape.
        shape: Vec<usize>,
        /// Parameters and block information, for kernels that take them.
        call: Option<Arc<KernelCall>>,
    },
    /// A linear-algebra kernel (local QR, SVD, block products, ...).
    Linalg {
        /// Which kernel, with its parameters.
        op: darray_kernels::linalg::LinalgOp,
    },
    /// A registered delayed function (see `crate::delayed`) called on its
    /// arguments; values travel as 1-d `u8` chunks of their postcard bytes.
    Call {
        /// The function's registered name.
        function: String,
        /// The arguments, in the function's order.
        args: Vec<CallArg>,
    },
    /// One step of a built-in scan along `axis` (see `darray_kernels::scan`).
    Scan {
        /// The scan.
        kind: darray_kernels::scan::ScanKind,
        /// Which of its four steps.
        step: darray_kernels::scan::ScanStep,
        /// The scanned axis.
        axis: usize,
    },
    /// One step of a scan with a registered user operator.
    UserScan {
        /// The operator's registered name.
        name: String,
        /// Which of the scan's four steps.
        step: darray_kernels::scan::ScanStep,
        /// The scanned axis.
        axis: usize,
    },
    /// `numpy.diff` of the concatenation along `axis` of `ranges[i]` of input `i`.
    Diff {
        /// Order of the difference.
        n: usize,
        /// The differenced axis.
        axis: usize,
        /// The part of each input taken along `axis`.
        ranges: Vec<Range<usize>>,
    },
    /// The histogram of one block over `edges` (a `[1, bins]` row); with
    /// `weighted`, the second input holds the weights.
    Histogram {
        /// Bin edges (checked when the array was built).
        edges: Vec<f64>,
        /// Whether a weights block follows the data block.
        weighted: bool,
    },
    /// A counting step (`histogramdd`, `bincount`, `digitize`, `unique`):
    /// see `darray_kernels::count::CountOp`.
    Count {
        /// The step, with its parameters.
        op: darray_kernels::count::CountOp,
    },
    /// The quantiles of every lane along `axis` of one block (see
    /// [`darray_kernels::quantile::quantile_lanes`]).
    QuantileLanes {
        /// The reduced axis.
        axis: usize,
        /// Which quantiles, how.
        spec: darray_kernels::quantile::QuantileSpec,
    },
    /// Pass `pass` of a radix selection over one block: inputs `[block]`
    /// (pass 0) or `[state, block]` (see [`darray_kernels::quantile::radix_counts`]).
    QuantileCounts {
        /// The pass.
        pass: usize,
    },
    /// The radix state after pass `pass`: inputs `[counts]` (pass 0) or
    /// `[counts, state]`.
    QuantileRefine {
        /// The pass.
        pass: usize,
        /// The selected array's dtype.
        dtype: DType,
        /// Which quantiles, how.
        spec: darray_kernels::quantile::QuantileSpec,
    },
    /// The quantiles from the last radix state (input `[state]`).
    QuantileFinish {
        /// The selected array's dtype.
        dtype: DType,
        /// Which quantiles, how.
        spec: darray_kernels::quantile::QuantileSpec,
    },
    /// Per-group partials of one block along `axis` (see
    /// [`darray_kernels::groupby`]); finalised in the same task when
    /// `finalize` holds the data's dtype (a blockwise grouped reduction).
    GroupPartial {
        /// The grouped reduction.
        kind: darray_kernels::groupby::GroupKind,
        /// The reduced axis.
        axis: usize,
        /// The block's labels along `axis` (negative: dropped).
        labels: Vec<i64>,
        /// Groups in the output (entries along `axis`).
        ngroups: usize,
        /// `Some(data dtype)`: finalise.
        finalize: Option<DType>,
        /// `Some(values)`: `labels` is empty and the labels are the task's
        /// second input (a 1-d `i64` block); label `values[k]` goes to entry
        /// `k`, others are dropped (see [`darray_kernels::groupby::codes`]).
        groups: Option<Vec<i64>>,
    },
    /// Group partials merged in input order; finalised when `finalize` holds
    /// the data's dtype.
    GroupMerge {
        /// The grouped reduction.
        kind: darray_kernels::groupby::GroupKind,
        /// `Some(data dtype)`: finalise.
        finalize: Option<DType>,
    },
    /// Write the input as one chunk (or shard) of a Zarr array.
    WriteZarr {
        /// Path of the (staging) array.
        path: String,
        /// Chunk (or shard) indices.
        chunk: Vec<u64>,
    },
    /// Write the input into one chunk (or shard) of an existing Zarr array, taken
    /// to have `shape` (larger than stored while an append runs); with an
    /// `overlay`, the input covers only that part of the chunk (relative to its
    /// origin), laid over the chunk's current content (read-modify-write).
    WriteZarrRegion {
        /// Path of the array.
        path: String,
        /// Chunk (or shard) indices.
        chunk: Vec<u64>,
        /// The array shape the write assumes.
        shape: Vec<u64>,
        /// The part of the chunk the input covers; `None` for all of it.
        overlay: Option<Vec<Range<u64>>>,
    },
    /// The input block's elements in C order, cut to `shape` (a blockwise
    /// reshape, after the rechunk its plan asked for).
    Reshape {
        /// Output block shape.
        shape: Vec<usize>,
    },
    /// A creation kernel beyond ranges and identity (diagonals, triangles,
    /// random integers, choice, permutations).
    Create {
        /// What to make.
        op: darray_kernels::create_more::CreateOp,
    },
}

/// Where the output block a kernel computes lies (dask's `block_info[None]`),
/// passed to kernels registered with [`crate::register_kernel_with`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockInfo {
    /// The block's index along every axis (dask's `chunk-location`).
    pub chunk_location: Vec<usize>,
    /// The block's element ranges in the output array (`array-location`).
    pub array_location: Vec<std::ops::Range<usize>>,
    /// The output array's shape.
    pub shape: Vec<usize>,
    /// The output's number of blocks per axis (`num-chunks`).
    pub num_chunks: Vec<usize>,
}

/// What a parameterised kernel is called with besides its blocks.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KernelCall {
    /// The parameters, serialized with postcard (shared by the node's tasks).
    pub params: Arc<Vec<u8>>,
    /// Where the block lies.
    pub info: BlockInfo,
}

impl Op {
    /// A short name for descriptions and DOT labels.
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            Op::ReadZarr { .. } => "read",
            Op::Literal { .. } => "literal",
            Op::Arange { .. } => "arange",
            Op::Eye { .. } => "eye",
            Op::Random { .. } => "random",
            Op::Fused { .. } => "fused",
            Op::PartialReduce { .. } => "partial",
            Op::MergeReduce { finalize: None, .. } => "merge",
            Op::MergeReduce { .. } => "finalize",
            Op::Slice { .. } => "slice",
            Op::Assemble { .. } => "assemble",
            Op::Gather { .. } => "gather",
            Op::PointGather { .. } => "point_gather",
            Op::Stencil { .. } => "stencil",
            Op::Extract { .. } => "extract",
            Op::Sort { .. } => "sort",
            Op::IsIn { .. } => "isin",
            Op::CountBelow { .. } => "count_below",
            Op::Transpose { .. } => "transpose",
            Op::Reshape { .. } => "reshape",
            Op::MapBlocks { .. } => "map_blocks",
            Op::Linalg { op } => op.name(),
            Op::Scan { .. } => "scan",
            Op::UserScan { .. } => "user_scan",
            Op::Diff { .. } => "diff",
            Op::Histogram { .. } => "histogram",
            Op::Count { op } => op.name(),
            Op::QuantileLanes { .. } => "quantile_lanes",
            Op::QuantileCounts { .. } => "quantile_counts",
            Op::QuantileRefine { .. } => "quantile_refine",
            Op::QuantileFinish { .. } => "quantile_finish",
            Op::GroupPartial { finalize: None, .. } => "group_partial",
            Op::GroupPartial { .. } => "group_reduce",
            Op::GroupMerge { finalize: None, .. } => "group_merge",
            Op::GroupMerge { .. } => "group_finalize",
            Op::WriteZarr { .. } => "write",
            Op::WriteZarrRegion { overlay: None, .. } => "write_region",
            Op::WriteZarrRegion { .. } => "write_overlay",
            Op::Call { .. } => "call",
            Op::Create { op } => op.name(),
        }
    }

    /// Whether the task's cost is bounded by its size: computation on chunks
    /// in memory, with no store I/O, user kernel or linear algebra (whose cost
    /// the size does not bound). A worker runs a small task of such an op on
    /// its I/O thread instead of its thread pool. Every variant is named, so a
    /// new op gets a decision here before it can run inline.
    #[must_use]
    pub fn is_cheap_inline(&self) -> bool {
        match self {
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
            | Op::Scan { .. }
            | Op::Diff { .. }
            | Op::Histogram { .. }
            | Op::Count { .. }
            | Op::QuantileLanes { .. }
            | Op::QuantileCounts { .. }
            | Op::QuantileRefine { .. }
            | Op::QuantileFinish { .. }
            | Op::GroupPartial { .. }
            | Op::GroupMerge { .. }
            | Op::Reshape { .. }
            | Op::Create { .. } => true,
            Op::ReadZarr { .. }
            | Op::WriteZarr { .. }
            | Op::WriteZarrRegion { .. }
            | Op::MapBlocks { .. }
            | Op::Call { .. }
            | Op::UserScan { .. }
            | Op::Linalg { .. } => false,
        }
    }
}
