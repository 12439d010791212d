//! Lowering of `to_zarr`: one write task per stored chunk (or shard), each fed by
//! the block of the array (already rechunked to the store's grid) it stores, so
//! no two tasks ever write the same chunk.

use super::Lowerer;
use crate::error::Result;
use crate::expr::grid::{block_indices, Grid};
use crate::expr::node::Expr;
use crate::graph::{stage, ChunkKey, Graph, Op, Task};
use std::sync::Arc;

/// The graph writing every block of `arr` (whose grid is `grid`, the store's) as
/// chunk `idx` of the Zarr array at `path`, for an executor with a memory budget
/// of `budget` bytes; the graph's outputs are the writes.
pub(crate) fn lower_write(arr: &Arc<Expr>, grid: &Grid, path: &str, budget: u64) -> Result<Graph> {
    let mut l = Lowerer::new(budget);
    let mut outputs = Vec::new();
    // A write task per block, besides the block's own.
    l.reserve_tasks(arr, super::block_count(grid).saturating_mul(2))?;
    for idx in block_indices(grid) {
        let src = l.block(arr, &idx)?;
        let in_bytes = l.graph.task(src).out_bytes;
        outputs.push(l.graph.push(Task {
            key: ChunkKey {
                array: arr.id,
                stage: stage::WRITE,
                block: idx.clone(),
            },
            op: Op::WriteZarr {
                path: path.to_string(),
                chunk: idx.iter().map(|&i| u64::from(i)).collect(),
            },
            inputs: vec![src],
            // The encoder may hold a copy of the block and its encoding.
            mem_bytes: 3 * in_bytes,
            out_bytes: 0,
        }));
    }
    l.graph.outputs = outputs;
    Ok(l.graph)
}
