//! Lowering of the creation nodes of `crate::array::creation_more`: each output
//! block is one task over the few input blocks it needs (none for random
//! sources and for blocks that can only hold zeros).
//!
//! - `diag` of a 1-d `v`: a block meets the diagonal in one run of `v`; it
//!   reads the blocks of `v` holding that run, or none (a zeros task).
//! - `diagonal`: the output's diagonal axis is cut where either input axis has
//!   a block boundary, so every output block lies in one input block.
//! - `tril`/`triu`: a block wholly inside the triangle is the input block's
//!   own task (nothing copied); one wholly outside is a zeros task that reads
//!   nothing; only blocks the diagonal crosses run the mask.
//! - `fromfunction`: a literal of the block's index ranges fed to the
//!   registered kernel through `Op::MapBlocks`.

use crate::error::Result;
use crate::expr::grid::{block_offset, block_shape, offsets};
use crate::expr::node::Expr;
use crate::expr::{CustomLower, LowerCtx};
use crate::graph::{stage, ChunkKey, Op, TaskId};
use darray_kernels::create_more::CreateOp;
use darray_kernels::Chunk;
use ndarray::{ArrayD, IxDyn};
use std::sync::Arc;

fn key(e: &Expr, stage: u8, idx: &[u32]) -> ChunkKey {
    ChunkKey {
        array: e.id,
        stage,
        block: idx.to_vec(),
    }
}

fn u32_of(k: usize) -> u32 {
    u32::try_from(k).expect("block index fits u32")
}

fn zeros(l: &mut dyn LowerCtx, e: &Arc<Expr>, idx: &[u32]) -> TaskId {
    l.push_task(
        key(e, stage::BLOCK, idx),
        Op::Create {
            op: CreateOp::Zeros {
                dtype: e.dtype,
                shape: block_shape(&e.grid, idx),
            },
        },
        vec![],
        e.block_bytes(idx),
        0,
    )
}

/// `diag` of the 1-d `v` on diagonal `k`.
#[derive(Debug)]
pub(crate) struct FromDiagNode {
    pub v: Arc<Expr>,
    pub k: i64,
}

impl CustomLower for FromDiagNode {
    #[allow(clippy::cast_possible_truncation)] // |k| is below the matrix size.
    fn block(&self, l: &mut dyn LowerCtx, e: &Arc<Expr>, idx: &[u32]) -> Result<TaskId> {
        let off = block_offset(&e.grid, idx);
        let shape = block_shape(&e.grid, idx);
        // v[m] sits at row m + max(0, -k), column m + max(0, k).
        let (dr, dc) = (self.k.min(0).unsigned_abs(), self.k.max(0).unsigned_abs());
        let (dr, dc) = (dr as usize, dc as usize);
        let lo = off[0].saturating_sub(dr).max(off[1].saturating_sub(dc));
        let hi = (off[0] + shape[0])
            .saturating_sub(dr)
            .min((off[1] + shape[1]).saturating_sub(dc))
            .min(self.v.shape[0]);
        if lo >= hi || shape.contains(&0) {
            return Ok(zeros(l, e, idx));
        }
        let vo = offsets(&self.v.grid[0]);
        let mut inputs = Vec::new();
        let mut v_start = None;
        for b in 0..self.v.grid[0].len() {
            if vo[b] < hi && vo[b + 1] > lo && vo[b + 1] > vo[b] {
                v_start.get_or_insert(vo[b]);
                inputs.push(l.block(&self.v, &[u32_of(b)])?);
            }
        }
        Ok(l.push_task(
            key(e, stage::BLOCK, idx),
            Op::Create {
                op: CreateOp::FromDiag {
                    k: self.k,
                    v_start: v_start.expect("lo < hi meets a block of v"),
                    offset: [off[0], off[1]],
                    shape: [shape[0], shape[1]],
                },
            },
            inputs,
            e.block_bytes(idx),
            0,
        ))
    }
}

/// `diagonal(offset, axis1, axis2)` of `input`, its diagonal axis (last) cut
/// so that each block lies in one input block.
#[derive(Debug)]
pub(crate) struct DiagonalNode {
    pub input: Arc<Expr>,
    pub axis1: usize,
    pub axis2: usize,
    /// Diagonal element `j` is at `(j + first[0], j + first[1])`.
    pub first: [usize; 2],
}

impl CustomLower for DiagonalNode {
    fn block(&self, l: &mut dyn LowerCtx, e: &Arc<Expr>, idx: &[u32]) -> Result<TaskId> {
        let nd = self.input.shape.len();
        let last = e.shape.len() - 1;
        let j0 = block_offset(&e.grid, idx)[last];
        let len = e.grid[last][idx[last] as usize];
        if len == 0 {
            return Ok(zeros(l, e, idx));
        }
        // The input block holding diagonal element j0.
        let find = |axis: usize, at: usize| -> (usize, usize) {
            let o = offsets(&self.input.grid[axis]);
            let b = (0..o.len() - 1)
                .find(|&b| o[b] <= at && at < o[b + 1])
                .unwrap_or(0);
            (b, at.saturating_sub(o[b]))
        };
        let (b1, s1) = find(self.axis1, j0 + self.first[0]);
        let (b2, s2) = find(self.axis2, j0 + self.first[1]);
        let mut in_idx = Vec::with_capacity(nd);
        let mut rest = idx[..last].iter();
        for d in 0..nd {
            in_idx.push(if d == self.axis1 {
                u32_of(b1)
            } else if d == self.axis2 {
                u32_of(b2)
            } else {
                *rest.next().expect("one output axis per other input axis")
            });
        }
        let src = l.block(&self.input, &in_idx)?;
        Ok(l.push_task(
            key(e, stage::BLOCK, idx),
            Op::Create {
                op: CreateOp::Diagonal {
                    axis1: self.axis1,
                    axis2: self.axis2,
                    start: [s1, s2],
                    len,
                },
            },
            vec![src],
            e.block_bytes(idx),
            0,
        ))
    }
}

/// `tril(k)` (`lower`) or `triu(k)` of `input` on its last two axes.
#[derive(Debug)]
pub(crate) struct TriNode {
    pub input: Arc<Expr>,
    pub lower: bool,
    pub k: i64,
}

impl CustomLower for TriNode {
    #[allow(clippy::cast_possible_wrap)] // Sizes below 2^63.
    fn block(&self, l: &mut dyn LowerCtx, e: &Arc<Expr>, idx: &[u32]) -> Result<TaskId> {
        let nd = e.shape.len();
        let off = block_offset(&e.grid, idx);
        let shape = block_shape(&e.grid, idx);
        let (r0, c0) = (off[nd - 2] as i64, off[nd - 1] as i64);
        let (r1, c1) = (r0 + shape[nd - 2] as i64, c0 + shape[nd - 1] as i64);
        // Smallest and largest col - row in the block.
        let (dmin, dmax) = (c0 - (r1 - 1), (c1 - 1) - r0);
        let (all_kept, none_kept) = if self.lower {
            (dmax <= self.k, dmin > self.k)
        } else {
            (dmin >= self.k, dmax < self.k)
        };
        if shape.contains(&0) || all_kept {
            return l.block(&self.input, idx);
        }
        if none_kept {
            return Ok(zeros(l, e, idx));
        }
        let src = l.block(&self.input, idx)?;
        Ok(l.push_task(
            key(e, stage::BLOCK, idx),
            Op::Create {
                op: CreateOp::Tri {
                    lower: self.lower,
                    k: self.k,
                    offset: [off[nd - 2], off[nd - 1]],
                },
            },
            vec![src],
            e.block_bytes(idx),
            0,
        ))
    }
}

/// A random source: every block is one task with no inputs.
#[derive(Debug)]
pub(crate) enum RandomNode {
    /// Integers on `[low, high)`.
    Integers { low: i64, high: i64, seed: u64 },
    /// Indices drawn with cumulative weights (1-d).
    Weighted { cdf: Arc<Vec<f64>>, seed: u64 },
    /// The first elements of a permutation of `0..n` (1-d).
    Permutation { n: u64, seed: u64 },
}

impl RandomNode {
    /// The op making the block of `shape` at `offset` of an array of
    /// `global_shape` and `dtype`.
    pub(crate) fn op(
        &self,
        dtype: darray_kernels::DType,
        global_shape: &[usize],
        offset: Vec<usize>,
        shape: Vec<usize>,
    ) -> CreateOp {
        match self {
            RandomNode::Integers { low, high, seed } => CreateOp::Integers {
                low: *low,
                high: *high,
                seed: *seed,
                dtype,
                global_shape: global_shape.to_vec(),
                offset,
                shape,
            },
            RandomNode::Weighted { cdf, seed } => CreateOp::Weighted {
                cdf: cdf.to_vec(),
                seed: *seed,
                offset: offset[0],
                len: shape[0],
            },
            RandomNode::Permutation { n, seed } => CreateOp::Permutation {
                n: *n,
                seed: *seed,
                offset: offset[0] as u64,
                len: shape[0],
            },
        }
    }
}

impl CustomLower for RandomNode {
    fn block(&self, l: &mut dyn LowerCtx, e: &Arc<Expr>, idx: &[u32]) -> Result<TaskId> {
        let op = self.op(
            e.dtype,
            &e.shape,
            block_offset(&e.grid, idx),
            block_shape(&e.grid, idx),
        );
        Ok(l.push_task(
            key(e, stage::BLOCK, idx),
            Op::Create { op },
            vec![],
            e.block_bytes(idx),
            0,
        ))
    }
}

/// `fromfunction` with the registered kernel `kernel`.
#[derive(Debug)]
pub(crate) struct FromFunctionNode {
    pub kernel: String,
}

/// Stage of the literal holding a block's index ranges.
const RANGES: u8 = 1;

impl CustomLower for FromFunctionNode {
    fn block(&self, l: &mut dyn LowerCtx, e: &Arc<Expr>, idx: &[u32]) -> Result<TaskId> {
        let offset = block_offset(&e.grid, idx);
        let shape = block_shape(&e.grid, idx);
        let nd = shape.len();
        let bounds: Vec<u64> = (0..nd)
            .flat_map(|d| [offset[d] as u64, (offset[d] + shape[d]) as u64])
            .collect();
        let ranges = Chunk::U64(
            ArrayD::from_shape_vec(IxDyn(&[nd, 2]), bounds).expect("two bounds per axis"),
        );
        let lit = l.push_task(
            key(e, RANGES, idx),
            Op::Literal {
                data: Arc::new(ranges),
            },
            vec![],
            16 * nd as u64,
            0,
        );
        Ok(l.push_task(
            key(e, stage::BLOCK, idx),
            Op::MapBlocks {
                kernel: self.kernel.clone(),
                dtype: e.dtype,
                shape,
                call: None,
            },
            vec![lit],
            e.block_bytes(idx),
            0,
        ))
    }
}

/// Rows (axis 0) of `input` permuted by `permutation_index(n, seed, .)`: the
/// two-pass scatter described at `DArray::random_permutation`.
#[derive(Debug)]
pub(crate) struct PermuteNode {
    pub input: Arc<Expr>,
    pub seed: u64,
}

/// Stages of the permutation's intermediate tasks.
const DEST: u8 = 1;
const PIECE: u8 = 2;

impl CustomLower for PermuteNode {
    fn block(&self, l: &mut dyn LowerCtx, e: &Arc<Expr>, idx: &[u32]) -> Result<TaskId> {
        let n = e.shape[0] as u64;
        let starts: Vec<u64> = offsets(&self.input.grid[0])
            .into_iter()
            .map(|s| s as u64)
            .collect();
        let out_off = block_offset(&e.grid, idx)[0] as u64;
        let out_len = e.grid[0][idx[0] as usize];
        let out_bytes = e.block_bytes(idx);
        let mut pieces = Vec::with_capacity(starts.len() - 1);
        for (b, &start) in starts[..starts.len() - 1].iter().enumerate() {
            let mut dest_idx = vec![0u32; idx.len()];
            dest_idx[0] = u32_of(b);
            let len = self.input.grid[0][b];
            let seed = self.seed;
            let dest = l.cached(key(e, DEST, &dest_idx), |l| {
                Ok(l.push_task(
                    key(e, DEST, &dest_idx),
                    Op::Create {
                        op: CreateOp::PermuteDest {
                            n,
                            seed,
                            start,
                            len,
                        },
                    },
                    vec![],
                    8 * len as u64,
                    0,
                ))
            })?;
            let mut in_idx = idx.to_vec();
            in_idx[0] = u32_of(b);
            let src = l.block(&self.input, &in_idx)?;
            let mut piece_key = vec![idx[0], u32_of(b)];
            piece_key.extend_from_slice(&idx[1..]);
            let bound = out_bytes.min(self.input.block_bytes(&in_idx));
            pieces.push(l.push_task(
                key(e, PIECE, &piece_key),
                Op::Create {
                    op: CreateOp::PermutePiece {
                        out_start: out_off,
                        out_end: out_off + out_len as u64,
                    },
                },
                vec![src, dest],
                bound,
                0,
            ));
        }
        Ok(l.push_task(
            key(e, stage::BLOCK, idx),
            Op::Create {
                op: CreateOp::PermuteMerge {
                    n,
                    seed: self.seed,
                    out_start: out_off,
                    len: out_len,
                    starts,
                },
            },
            pieces,
            out_bytes,
            0,
        ))
    }
}
