//! Lowering of histograms: one partial histogram per input block, as row `b`
//! of a `[blocks, bins]` array whose rows the caller sums with the tree
//! reduction (`sum_axis(0)`), so partials merge in block order with at most
//! `split_every` per merge task.

use crate::error::Result;
use crate::expr::grid::block_indices;
use crate::expr::node::{Expr, ExprKind};
use crate::expr::{CustomLower, LowerCtx};
use crate::graph::{stage, ChunkKey, Op, TaskId};
use darray_kernels::DType;
use std::sync::Arc;

#[derive(Debug)]
struct PartialHistograms {
    input: Arc<Expr>,
    weights: Option<Arc<Expr>>,
    edges: Vec<f64>,
    /// The input's block indices in C order: row `b` is block `blocks[b]`.
    blocks: Vec<Vec<u32>>,
}

impl CustomLower for PartialHistograms {
    fn block(&self, l: &mut dyn LowerCtx, e: &Arc<Expr>, idx: &[u32]) -> Result<TaskId> {
        let src = &self.blocks[idx[0] as usize];
        let mut inputs = vec![l.block(&self.input, src)?];
        if let Some(w) = &self.weights {
            inputs.push(l.block(w, src)?);
        }
        // The block's values widened to f64 while binning.
        let scratch = self.input.block_bytes(src) / self.input.dtype.size() as u64 * 8;
        Ok(l.push_task(
            ChunkKey {
                array: e.id,
                stage: stage::BLOCK,
                block: idx.to_vec(),
            },
            Op::Histogram {
                edges: self.edges.clone(),
                weighted: self.weights.is_some(),
            },
            inputs,
            e.block_bytes(idx),
            scratch,
        ))
    }
}

/// The `[blocks, bins]` array of per-block histograms of `input` (weights on
/// the same grid), `i64` counts or `f64` weight sums.
pub(crate) fn partial_histograms(
    input: &Arc<Expr>,
    weights: Option<Arc<Expr>>,
    edges: Vec<f64>,
) -> Arc<Expr> {
    let blocks = block_indices(&input.grid);
    let bins = edges.len() - 1;
    let dtype = if weights.is_some() {
        DType::F64
    } else {
        DType::I64
    };
    Expr::new(
        format!("{}-histogram", input.name),
        vec![blocks.len(), bins],
        vec![vec![1; blocks.len()], vec![bins]],
        dtype,
        ExprKind::Custom(Arc::new(PartialHistograms {
            input: input.clone(),
            weights,
            edges,
            blocks,
        })),
    )
}
