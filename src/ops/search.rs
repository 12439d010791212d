//! Lowering of `searchsorted`: per block of the sorted array, how many of its
//! elements lie below each value, as row `b` of a `[blocks, values]` array
//! that the caller sums with the tree reduction (`sum_axis(0)`).

use crate::error::Result;
use crate::expr::node::{Expr, ExprKind};
use crate::expr::{CustomLower, LowerCtx};
use crate::graph::{stage, ChunkKey, Op, TaskId};
use darray_kernels::{DType, Scalar};
use std::sync::Arc;

#[derive(Debug)]
struct PartialCounts {
    input: Arc<Expr>,
    values: Vec<Scalar>,
    right: bool,
}

impl CustomLower for PartialCounts {
    fn block(&self, l: &mut dyn LowerCtx, e: &Arc<Expr>, idx: &[u32]) -> Result<TaskId> {
        let input = l.block(&self.input, &[idx[0]])?;
        // The block's values, sorted in a copy.
        let scratch = self.input.block_bytes(&[idx[0]]);
        Ok(l.push_task(
            ChunkKey {
                array: e.id,
                stage: stage::BLOCK,
                block: idx.to_vec(),
            },
            Op::CountBelow {
                values: self.values.clone(),
                right: self.right,
            },
            vec![input],
            e.block_bytes(idx),
            scratch,
        ))
    }
}

/// The `[blocks, values]` i64 array of per-block counts below each value of
/// the 1-d `input`.
pub(crate) fn partial_counts(input: &Arc<Expr>, values: Vec<Scalar>, right: bool) -> Arc<Expr> {
    let blocks = input.grid[0].len();
    let k = values.len();
    Expr::new(
        format!("{}-searchsorted", input.name),
        vec![blocks, k],
        vec![vec![1; blocks], vec![k]],
        DType::I64,
        ExprKind::Custom(Arc::new(PartialCounts {
            input: input.clone(),
            values,
            right,
        })),
    )
}
