//! Lowering of `blockwise` with index notation (dask.array's `blockwise`):
//! output block `idx` is a registered kernel applied to one block of each
//! input, the blocks chosen by the inputs' indices. The user API, the index
//! parsing and the chunk alignment live in `crate::array::blockwise`.
//!
//! Contracted indices (in inputs, not in the output) are either one block
//! (the inputs were rechunked so: one task per output block), or kept in
//! their blocks: one kernel call per combination of contracted blocks, in C
//! order, whose outputs are summed in that order in a tree of at most
//! `split_every` per task (a fused elementwise sum).

use crate::error::Result;
use crate::expr::grid::{block_shape, Grid};
use crate::expr::node::{Expr, ExprKind};
use crate::expr::{CustomLower, LowerCtx};
use crate::graph::{stage, BlockInfo, ChunkKey, KernelCall, Op, TaskId};
use darray_kernels::{BinaryOp, DType, ElementwiseProgram, Node};
use std::sync::Arc;

/// Where an input axis's block coordinate comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AxisSource {
    /// The output block's coordinate along output axis `o`.
    Out(usize),
    /// The coordinate of contracted index `k` in the current combination.
    Contracted(usize),
    /// Always block 0 (a broadcast size-1 axis, or a contraction in one block).
    Zero,
}

/// A planned blockwise operation (built and checked by the user API).
#[derive(Debug)]
pub(crate) struct BlockwisePlan {
    /// The registered kernel.
    pub(crate) kernel: String,
    /// The inputs, rechunked to the common grid.
    pub(crate) inputs: Vec<Arc<Expr>>,
    /// Per input, per axis: where its block coordinate comes from.
    pub(crate) sources: Vec<Vec<AxisSource>>,
    /// Blocks per contracted index kept in blocks (empty: one call per output
    /// block).
    pub(crate) contracted: Vec<usize>,
    /// Serialized parameters, for kernels registered with them.
    pub(crate) params: Option<Arc<Vec<u8>>>,
    /// Largest number of partial outputs one sum task adds.
    pub(crate) split_every: usize,
}

#[derive(Debug)]
struct Blockwise(BlockwisePlan);

impl Blockwise {
    /// The kernel call of output block `idx` for contracted blocks `combo`.
    fn call(
        &self,
        l: &mut dyn LowerCtx,
        e: &Arc<Expr>,
        idx: &[u32],
        combo: &[u32],
        key: ChunkKey,
    ) -> Result<TaskId> {
        let p = &self.0;
        let mut ins = Vec::with_capacity(p.inputs.len());
        for (x, src) in p.inputs.iter().zip(&p.sources) {
            let b: Vec<u32> = src
                .iter()
                .map(|s| match *s {
                    AxisSource::Out(o) => idx[o],
                    AxisSource::Contracted(k) => combo[k],
                    AxisSource::Zero => 0,
                })
                .collect();
            ins.push(l.block(x, &b)?);
        }
        let shape = block_shape(&e.grid, idx);
        let offsets = p.params.as_ref().map(|_| l.grid_offsets(e));
        let call = p.params.as_ref().zip(offsets).map(|(params, offsets)| {
            let array_location = offsets
                .block(idx)
                .iter()
                .zip(&shape)
                .map(|(&start, &len)| start..start + len)
                .collect();
            Arc::new(KernelCall {
                params: params.clone(),
                info: BlockInfo {
                    chunk_location: idx.iter().map(|&b| b as usize).collect(),
                    array_location,
                    shape: e.shape.clone(),
                    num_chunks: e.grid.iter().map(Vec::len).collect(),
                },
            })
        });
        Ok(l.push_task(
            key,
            Op::MapBlocks {
                kernel: p.kernel.clone(),
                dtype: e.dtype,
                shape,
                call,
            },
            ins,
            e.block_bytes(idx),
            0,
        ))
    }
}

/// The elementwise sum of `n` inputs of `dtype`, added left to right.
fn sum_program(dtype: DType, n: usize) -> ElementwiseProgram {
    let mut p = ElementwiseProgram {
        inputs: vec![dtype; n],
        instrs: Vec::new(),
    };
    let mut acc = p.push(Node::Input(0), dtype);
    for i in 1..n {
        let x = p.push(Node::Input(i), dtype);
        acc = p.push(Node::Binary(BinaryOp::Add, acc, x), dtype);
    }
    p
}

impl CustomLower for Blockwise {
    fn block(&self, l: &mut dyn LowerCtx, e: &Arc<Expr>, idx: &[u32]) -> Result<TaskId> {
        let out_key = ChunkKey {
            array: e.id,
            stage: stage::BLOCK,
            block: idx.to_vec(),
        };
        let sub = |stage: u8, k: usize| {
            let mut block = idx.to_vec();
            block.push(u32::try_from(k).expect("block counts fit u32"));
            ChunkKey {
                array: e.id,
                stage,
                block,
            }
        };
        let counts = &self.0.contracted;
        let total: usize = counts.iter().product();
        if total <= 1 {
            return self.call(l, e, idx, &vec![0; counts.len()], out_key);
        }
        // Combinations of contracted blocks in C order.
        let mut level = Vec::with_capacity(total);
        let mut combo = vec![0u32; counts.len()];
        for k in 0..total {
            level.push(self.call(l, e, idx, &combo, sub(stage::PARTIAL, k))?);
            for d in (0..counts.len()).rev() {
                combo[d] += 1;
                if (combo[d] as usize) < counts[d] {
                    break;
                }
                combo[d] = 0;
            }
        }
        let shape = block_shape(&e.grid, idx);
        let bytes = e.block_bytes(idx);
        let mut merge_stage = stage::MERGE_FIRST;
        loop {
            let last = level.len() <= self.0.split_every;
            let mut next = Vec::new();
            for (k, group) in level.chunks(self.0.split_every).enumerate() {
                let key = if last {
                    out_key.clone()
                } else {
                    sub(merge_stage, k)
                };
                next.push(l.push_task(
                    key,
                    Op::Fused {
                        program: sum_program(e.dtype, group.len()),
                        shape: shape.clone(),
                        views: Vec::new(),
                        parts: Vec::new(),
                    },
                    group.to_vec(),
                    bytes,
                    0,
                ));
            }
            if last {
                return Ok(next[0]);
            }
            level = next;
            merge_stage += 1;
            debug_assert!(merge_stage <= stage::MERGE_LAST, "fan-in >= 2");
        }
    }
}

/// The blockwise node of output `shape`, `grid` and `dtype`.
pub(crate) fn blockwise_expr(
    name: &str,
    shape: Vec<usize>,
    grid: Grid,
    dtype: DType,
    plan: BlockwisePlan,
) -> Arc<Expr> {
    Expr::new(
        name,
        shape,
        grid,
        dtype,
        ExprKind::Custom(Arc::new(Blockwise(plan))),
    )
}

#[cfg(test)]
mod tests {
    use super::sum_program;
    use darray_kernels::{DType, Node};

    #[test]
    fn sums_add_left_to_right() {
        let p = sum_program(DType::F64, 3);
        assert_eq!(p.inputs.len(), 3);
        assert_eq!(p.instrs.len(), 5);
        assert!(matches!(p.instrs[0].node, Node::Input(0)));
        assert_eq!(sum_program(DType::I32, 1).instrs.len(), 1);
    }
}
