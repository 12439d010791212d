//! Lowering of the counting family (`histogramdd`, `bincount`, `digitize`,
//! `unique`): per-block rows that the caller sums with the tree reduction,
//! blockwise maps, and `unique`'s merge tree.

use crate::error::Result;
use crate::expr::grid::block_indices;
use crate::expr::node::{Expr, ExprKind};
use crate::expr::{CustomLower, LowerCtx};
use crate::graph::{stage, ChunkKey, Op, TaskId};
use darray_kernels::count::CountOp;
use darray_kernels::DType;
use std::sync::Arc;

/// Inputs of `unique`'s merge tasks: few enough that a merge holds little
/// more than its output, enough that the tree stays shallow.
const UNIQUE_FAN_IN: usize = 8;

fn elements(e: &Expr, idx: &[u32]) -> u64 {
    e.block_bytes(idx) / e.dtype.size().max(1) as u64
}

#[derive(Debug)]
struct PerBlockRows {
    /// Arrays on one grid; a task takes the same block of each.
    inputs: Vec<Arc<Expr>>,
    op: CountOp,
    /// The inputs' block indices in C order: row `b` is block `blocks[b]`.
    blocks: Vec<Vec<u32>>,
}

impl CustomLower for PerBlockRows {
    fn block(&self, l: &mut dyn LowerCtx, e: &Arc<Expr>, idx: &[u32]) -> Result<TaskId> {
        let src = &self.blocks[idx[0] as usize];
        let inputs = self
            .inputs
            .iter()
            .map(|x| l.block(x, src))
            .collect::<Result<Vec<_>>>()?;
        // Every input widened to f64 or i64, plus a cell index per element.
        let n = elements(&self.inputs[0], src);
        let scratch = n * 8 * (self.inputs.len() as u64 + 1);
        Ok(l.push_task(
            ChunkKey {
                array: e.id,
                stage: stage::BLOCK,
                block: idx.to_vec(),
            },
            Op::Count {
                op: self.op.clone(),
            },
            inputs,
            e.block_bytes(idx),
            scratch,
        ))
    }
}

/// The `[blocks, width]` array whose row `b` is `op` run on block `b` (C
/// order) of each of `inputs` (arrays on one grid).
pub(crate) fn per_block_rows(
    inputs: Vec<Arc<Expr>>,
    op: CountOp,
    width: usize,
    dtype: DType,
    name: String,
) -> Arc<Expr> {
    let blocks = block_indices(&inputs[0].grid);
    Expr::new(
        name,
        vec![blocks.len(), width],
        vec![vec![1; blocks.len()], vec![width]],
        dtype,
        ExprKind::Custom(Arc::new(PerBlockRows { inputs, op, blocks })),
    )
}

#[derive(Debug)]
struct Blockwise {
    input: Arc<Expr>,
    op: CountOp,
}

impl CustomLower for Blockwise {
    fn block(&self, l: &mut dyn LowerCtx, e: &Arc<Expr>, idx: &[u32]) -> Result<TaskId> {
        let input = l.block(&self.input, idx)?;
        // The block widened to f64 (or `unique_inverse`'s copy of its values).
        let mut scratch = elements(&self.input, idx) * 8;
        if let CountOp::UniqueInverse { values } = &self.op {
            scratch += values.nbytes() as u64;
        }
        Ok(l.push_task(
            ChunkKey {
                array: e.id,
                stage: stage::BLOCK,
                block: idx.to_vec(),
            },
            Op::Count {
                op: self.op.clone(),
            },
            vec![input],
            e.block_bytes(idx),
            scratch,
        ))
    }
}

/// `op` on every block of `input`, giving a block of the same shape in `dtype`.
pub(crate) fn blockwise(input: &Arc<Expr>, op: CountOp, dtype: DType, name: String) -> Arc<Expr> {
    Expr::new(
        name,
        input.shape.clone(),
        input.grid.clone(),
        dtype,
        ExprKind::Custom(Arc::new(Blockwise {
            input: input.clone(),
            op,
        })),
    )
}

#[derive(Debug)]
struct UniqueTree {
    inputs: Vec<Arc<Expr>>,
    /// With NumPy's `return_index`: one array per input, on its grid, holding
    /// each element's flat index; the tree then keeps first indices, not counts.
    flat: Option<Vec<Arc<Expr>>>,
}

impl CustomLower for UniqueTree {
    fn block(&self, l: &mut dyn LowerCtx, e: &Arc<Expr>, idx: &[u32]) -> Result<TaskId> {
        let item = e.dtype.size() as u64 + 8;
        let mut level: Vec<TaskId> = Vec::new();
        let (part, merge) = if self.flat.is_some() {
            (CountOp::UniqueFirstPart, CountOp::UniqueFirstMerge)
        } else {
            (CountOp::UniquePart, CountOp::UniqueMerge)
        };
        for (i, x) in self.inputs.iter().enumerate() {
            for b in block_indices(&x.grid) {
                let mut input = vec![l.block(x, &b)?];
                if let Some(flat) = &self.flat {
                    input.push(l.block(&flat[i], &b)?);
                }
                let n = elements(x, &b);
                let k = u32::try_from(level.len()).expect("block count fits u32");
                level.push(l.push_task(
                    ChunkKey {
                        array: e.id,
                        stage: stage::PARTIAL,
                        block: vec![k],
                    },
                    Op::Count { op: part.clone() },
                    input,
                    n * item,
                    // The sorted copy (with the flat indices, if kept).
                    n * (x.dtype.size() as u64 + if self.flat.is_some() { 8 } else { 0 }),
                ));
            }
        }
        // Merge in fixed groups of consecutive tasks, level by level, until
        // one task (keyed as this array's only block) is left.
        let mut depth = 0u8;
        loop {
            let last = level.len() <= UNIQUE_FAN_IN;
            let mut next = Vec::with_capacity(level.len().div_ceil(UNIQUE_FAN_IN));
            for (j, group) in level.chunks(UNIQUE_FAN_IN).enumerate() {
                let out: u64 = group.iter().map(|&t| l.out_bytes(t)).sum();
                let key = if last {
                    ChunkKey {
                        array: e.id,
                        stage: stage::BLOCK,
                        block: idx.to_vec(),
                    }
                } else {
                    ChunkKey {
                        array: e.id,
                        stage: stage::MERGE_FIRST + depth,
                        block: vec![u32::try_from(j).expect("block count fits u32")],
                    }
                };
                // The running union, copied at each pairwise step.
                next.push(l.push_task(
                    key,
                    Op::Count { op: merge.clone() },
                    group.to_vec(),
                    out,
                    out,
                ));
            }
            if last {
                return Ok(next[0]);
            }
            level = next;
            depth += 1;
        }
    }
}

/// One block holding the sorted distinct values (with counts) of all the
/// blocks of `inputs` (same dtype). Its size is only known once run: the
/// node is lowered and run directly, never assembled by its shape.
///
/// With `flat` (one array per input, on its grid, holding each element's flat
/// index), the counts are replaced by each value's smallest flat index.
pub(crate) fn unique_tree(
    inputs: Vec<Arc<Expr>>,
    flat: Option<Vec<Arc<Expr>>>,
    name: String,
) -> Arc<Expr> {
    let dtype = inputs[0].dtype;
    Expr::new(
        name,
        vec![1],
        vec![vec![1]],
        dtype,
        ExprKind::Custom(Arc::new(UniqueTree { inputs, flat })),
    )
}
