//! [`Op`]: what one task does, as plain data (parameters only).

use darray_kernels::{ArgContext, DType, Distribution, ElementwiseProgram, ReduceKind};
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
    },
    /// First stage of a reduction, with the elementwise chain before it fused in.
    PartialReduce {
        /// The reduction.
        kind: ReduceKind,
        /// Elementwise chain feeding the reduction; `None`: reduce the single input.
        program: Option<ElementwiseProgram>,
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
    },
    /// A linear-algebra kernel (local QR, SVD, block products, ...).
    Linalg {
        /// Which kernel, with its parameters.
        op: darray_kernels::linalg::LinalgOp,
    },
    /// Write the input as one chunk (or shard) of a Zarr array.
    WriteZarr {
        /// Path of the (staging) array.
        path: String,
        /// Chunk (or shard) indices.
        chunk: Vec<u64>,
    },
    /// The input block's elements in C order, cut to `shape` (a blockwise
    /// reshape, after the rechunk its plan asked for).
    Reshape {
        /// Output block shape.
        shape: Vec<usize>,
    },
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
            Op::Transpose { .. } => "transpose",
            Op::Reshape { .. } => "reshape",
            Op::MapBlocks { .. } => "map_blocks",
            Op::Linalg { op } => op.name(),
            Op::WriteZarr { .. } => "write",
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
            | Op::Transpose { .. }
            | Op::Reshape { .. } => true,
            Op::ReadZarr { .. }
            | Op::WriteZarr { .. }
            | Op::MapBlocks { .. }
            | Op::Linalg { .. } => false,
        }
    }
}
