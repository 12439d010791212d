//! The lazy expression behind every `DArray`: a DAG of nodes, each with its
//! shape, chunk grid and dtype. `crate::ops::lower` turns the blocks asked for
//! into tasks, fusing elementwise chains on the way.

use super::grid::Grid;
use crate::graph::{ArrayId, AxisTake};
use darray_kernels::{BinaryOp, CmpOp, DType, Distribution, ReduceKind, Scalar, UnaryOp};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

/// One node of the expression DAG.
#[derive(Debug)]
pub(crate) struct Expr {
    pub id: ArrayId,
    pub name: String,
    pub shape: Vec<usize>,
    pub grid: Grid,
    pub dtype: DType,
    pub kind: ExprKind,
}

/// The elementwise operation of an `ExprKind::Elementwise` node.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum EwOp {
    Unary(UnaryOp),
    Binary(BinaryOp),
    Compare(CmpOp),
    /// args: (cond, a, b)
    Where,
    Cast,
    Clip(Scalar, Scalar),
}

/// Per-axis selection of a slice, in input coordinates.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum AxisSel {
    /// `start, start+step, ...`, `len` elements (step != 0, may be negative).
    Range {
        start: usize,
        step: isize,
        len: usize,
    },
    /// One element; the axis disappears.
    Index(usize),
    /// A new axis of length 1.
    NewAxis,
}

#[derive(Debug)]
pub(crate) enum ExprKind {
    Zarr {
        path: PathBuf,
    },
    /// Blocks in C order of the grid.
    Literal {
        blocks: Arc<Vec<Arc<darray_kernels::Chunk>>>,
    },
    Full {
        value: Scalar,
    },
    Arange {
        start: f64,
        step: f64,
    },
    Eye {
        k: i64,
    },
    Random {
        dist: Distribution,
        seed: u64,
    },
    Elementwise {
        op: EwOp,
        args: Vec<Arc<Expr>>,
    },
    Reduce {
        kind: ReduceKind,
        axes: Vec<usize>,
        keepdims: bool,
        split_every: usize,
        input: Arc<Expr>,
    },
    Slice {
        input: Arc<Expr>,
        sel: Vec<AxisSel>,
    },
    Rechunk {
        input: Arc<Expr>,
    },
    Transpose {
        input: Arc<Expr>,
        perm: Vec<usize>,
    },
    Concatenate {
        inputs: Vec<Arc<Expr>>,
        axis: usize,
    },
    MapBlocks {
        kernel: String,
        inputs: Vec<Arc<Expr>>,
        /// Serialized parameters, for a kernel that takes them (it is then
        /// also given its block's [`crate::graph::BlockInfo`]).
        params: Option<Arc<Vec<u8>>>,
        /// Per input axis, the output axis whose block index it takes (`None`:
        /// an axis the kernel drops, in one block); `None` for the identity.
        axis_map: Option<Arc<Vec<Option<usize>>>>,
    },
    /// The blocks of `input` grown by halos (see [`super::overlap`]); the
    /// node's grid is the grown one.
    Overlap {
        input: Arc<Expr>,
        boundary: super::overlap::Boundary,
        halos: Arc<Vec<super::overlap::AxisHalo>>,
    },
    /// Each block of `input` (grown by `halos`) without its halos.
    Trim {
        input: Arc<Expr>,
        halos: Arc<Vec<super::overlap::AxisHalo>>,
    },
    /// A built-in stencil over the grown blocks of `input` (an `Overlap`
    /// node), each output block without the halos; `cval` for a constant
    /// boundary.
    Stencil {
        input: Arc<Expr>,
        op: darray_kernels::stencil::StencilOp,
        halos: Arc<Vec<super::overlap::AxisHalo>>,
        cval: Option<f64>,
    },
    /// Outer (orthogonal) integer indexing: along each axis with `Some`, the
    /// listed input indices (in range, any order, repeats allowed), cut into
    /// the node's grid; other axes whole.
    OIndex {
        input: Arc<Expr>,
        index: Vec<Option<Arc<Vec<usize>>>>,
    },
    /// A 1-d selection where `mask` is true, in C order: of `values`, or of
    /// coordinates. `mask` (and `values`) are cut in bands of whole trailing
    /// axes; output block `k` is band `bands[k]`'s selection.
    Extract {
        mask: Arc<Expr>,
        values: Option<Arc<Expr>>,
        what: darray_kernels::select::Extract,
        bands: Vec<u32>,
    },
    /// Whether each element of `input` is in `values`.
    IsIn {
        input: Arc<Expr>,
        values: Arc<Vec<Scalar>>,
    },
    /// `kind` on the lanes along `axis` of every block; a top-k's `k` is
    /// clamped to each block's length (the first stage of a top-k tree) and an
    /// arg-top-k's indices offset by the block's start.
    Sort {
        input: Arc<Expr>,
        axis: usize,
        kind: darray_kernels::sort::SortKind,
    },
    /// Each block is one block of `input` (same C-order position in the block
    /// grid, same number of elements) reshaped: `input` already has the grid
    /// the reshape plan asked for (see `crate::ops::reshape`).
    Reshape {
        input: Arc<Expr>,
    },
    /// A node that lowers itself (linear algebra): see [`super::CustomLower`].
    Custom(Arc<dyn super::CustomLower>),
}

impl Expr {
    pub(crate) fn new(
        name: impl Into<String>,
        shape: Vec<usize>,
        grid: Grid,
        dtype: DType,
        kind: ExprKind,
    ) -> Arc<Expr> {
        let id = ArrayId::fresh();
        Arc::new(Expr {
            id,
            name: name.into(),
            shape,
            grid,
            dtype,
            kind,
        })
    }

    /// Bytes of block `idx`.
    pub(crate) fn block_bytes(&self, idx: &[u32]) -> u64 {
        (super::grid::block_shape(&self.grid, idx)
            .iter()
            .product::<usize>()
            * self.dtype.size()) as u64
    }

    /// True for nodes folded into a fused elementwise program instead of becoming tasks.
    pub(crate) fn is_fusable(&self) -> bool {
        match self.kind {
            ExprKind::Elementwise { .. } | ExprKind::Full { .. } => true,
            ExprKind::Zarr { .. }
            | ExprKind::Literal { .. }
            | ExprKind::Arange { .. }
            | ExprKind::Eye { .. }
            | ExprKind::Random { .. }
            | ExprKind::Reduce { .. }
            | ExprKind::Slice { .. }
            | ExprKind::Rechunk { .. }
            | ExprKind::Transpose { .. }
            | ExprKind::Concatenate { .. }
            | ExprKind::MapBlocks { .. }
            | ExprKind::Overlap { .. }
            | ExprKind::Trim { .. }
            | ExprKind::Stencil { .. }
            | ExprKind::OIndex { .. }
            | ExprKind::Extract { .. }
            | ExprKind::Sort { .. }
            | ExprKind::IsIn { .. }
            | ExprKind::Reshape { .. }
            | ExprKind::Custom(_) => false,
        }
    }
}

/// A copy of `e` whose blocks lower to new tasks that compute them again: the
/// nodes cheap to recompute block by block (reads, creation, elementwise,
/// slicing, rechunking, transposition, concatenation) get fresh ids, the others
/// (in-memory literals, reductions, mapped kernels, linear algebra) stay shared,
/// so their tasks run once. `None` if `e` itself is not cheap to recompute.
///
/// Lowering memoizes tasks by array id, so a consumer that reads a block of the
/// copy late (a TSQR's Q pass) re-reads it instead of keeping the first read's
/// result alive from the start.
pub(crate) fn recomputed(e: &Arc<Expr>) -> Option<Arc<Expr>> {
    fn copy(e: &Arc<Expr>, done: &mut HashMap<ArrayId, Arc<Expr>>) -> Arc<Expr> {
        if let Some(c) = done.get(&e.id) {
            return c.clone();
        }
        let mut sub = |x: &Arc<Expr>| copy(x, done);
        let kind = match &e.kind {
            ExprKind::Zarr { path } => ExprKind::Zarr { path: path.clone() },
            ExprKind::Full { value } => ExprKind::Full { value: *value },
            ExprKind::Arange { start, step } => ExprKind::Arange {
                start: *start,
                step: *step,
            },
            ExprKind::Eye { k } => ExprKind::Eye { k: *k },
            ExprKind::Random { dist, seed } => ExprKind::Random {
                dist: *dist,
                seed: *seed,
            },
            ExprKind::Elementwise { op, args } => ExprKind::Elementwise {
                op: op.clone(),
                args: args.iter().map(&mut sub).collect(),
            },
            ExprKind::Slice { input, sel } => ExprKind::Slice {
                input: sub(input),
                sel: sel.clone(),
            },
            ExprKind::Rechunk { input } => ExprKind::Rechunk { input: sub(input) },
            ExprKind::Reshape { input } => ExprKind::Reshape { input: sub(input) },
            ExprKind::Transpose { input, perm } => ExprKind::Transpose {
                input: sub(input),
                perm: perm.clone(),
            },
            ExprKind::Concatenate { inputs, axis } => ExprKind::Concatenate {
                inputs: inputs.iter().map(&mut sub).collect(),
                axis: *axis,
            },
            ExprKind::Literal { .. }
            | ExprKind::Reduce { .. }
            | ExprKind::MapBlocks { .. }
            | ExprKind::Overlap { .. }
            | ExprKind::Trim { .. }
            | ExprKind::Stencil { .. }
            | ExprKind::OIndex { .. }
            | ExprKind::Extract { .. }
            | ExprKind::Sort { .. }
            | ExprKind::IsIn { .. }
            | ExprKind::Custom(_) => return e.clone(),
        };
        let c = Expr::new(
            e.name.clone(),
            e.shape.clone(),
            e.grid.clone(),
            e.dtype,
            kind,
        );
        done.insert(e.id, c.clone());
        c
    }
    let c = copy(e, &mut HashMap::new());
    (c.id != e.id).then_some(c)
}

impl AxisSel {
    pub(crate) fn to_take(&self, local_start: usize, len: usize) -> AxisTake {
        match *self {
            AxisSel::Range { step, .. } => AxisTake::Range {
                start: local_start,
                step,
                len,
            },
            AxisSel::Index(_) => AxisTake::Index(local_start),
            AxisSel::NewAxis => AxisTake::NewAxis,
        }
    }
}
