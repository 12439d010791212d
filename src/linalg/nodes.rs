//! Generic custom nodes: a single-block result of a kernel over single-block
//! inputs ([`small`]), and a row-blockwise kernel with small side inputs
//! ([`rowwise`]).

use crate::error::Result;
use crate::expr::node::{Expr, ExprKind};
use crate::expr::select::rechunk_expr;
use crate::expr::{CustomLower, LowerCtx};
use crate::graph::{stage, ChunkKey, Op, TaskId};
use darray_kernels::linalg::LinalgOp;
use darray_kernels::DType;
use std::sync::Arc;

/// `e` rechunked to one block.
pub(crate) fn single_block(e: &Arc<Expr>) -> Arc<Expr> {
    rechunk_expr(e, e.shape.iter().map(|&n| vec![n]).collect())
}

/// The task key of block `idx` of `e` at `stage`.
pub(crate) fn key(e: &Expr, stage: u8, idx: &[u32]) -> ChunkKey {
    ChunkKey {
        array: e.id,
        stage,
        block: idx.to_vec(),
    }
}

#[derive(Debug)]
struct Small {
    op: LinalgOp,
    inputs: Vec<Arc<Expr>>,
    scratch: u64,
}

impl CustomLower for Small {
    fn block(&self, l: &mut dyn LowerCtx, e: &Arc<Expr>, idx: &[u32]) -> Result<TaskId> {
        let ins = self
            .inputs
            .iter()
            .map(|i| l.block(i, &vec![0; i.shape.len()]))
            .collect::<Result<Vec<_>>>()?;
        Ok(l.push_task(
            key(e, stage::BLOCK, idx),
            Op::Linalg {
                op: self.op.clone(),
            },
            ins,
            e.block_bytes(idx),
            self.scratch,
        ))
    }
}

/// A one-block array of `shape` computed by `op` from the single blocks of
/// `inputs` (rechunked to one block where they have several).
pub(crate) fn small(
    name: &str,
    op: LinalgOp,
    inputs: &[&Arc<Expr>],
    shape: Vec<usize>,
    dtype: DType,
    scratch: u64,
) -> Arc<Expr> {
    let grid = shape.iter().map(|&n| vec![n]).collect();
    let inputs = inputs.iter().map(|i| single_block(i)).collect();
    Expr::new(
        name,
        shape,
        grid,
        dtype,
        ExprKind::Custom(Arc::new(Small {
            op,
            inputs,
            scratch,
        })),
    )
}

#[derive(Debug)]
struct Rowwise {
    op: LinalgOp,
    rows: Vec<Arc<Expr>>,
    side: Vec<Arc<Expr>>,
    scratch_per_row: u64,
}

impl CustomLower for Rowwise {
    fn block(&self, l: &mut dyn LowerCtx, e: &Arc<Expr>, idx: &[u32]) -> Result<TaskId> {
        let mut ins = Vec::with_capacity(self.rows.len() + self.side.len());
        for r in &self.rows {
            ins.push(l.block(r, &[idx[0], 0])?);
        }
        for s in &self.side {
            ins.push(l.block(s, &vec![0; s.shape.len()])?);
        }
        let rows = e.grid[0][idx[0] as usize] as u64;
        Ok(l.push_task(
            key(e, stage::BLOCK, idx),
            Op::Linalg {
                op: self.op.clone(),
            },
            ins,
            e.block_bytes(idx),
            rows * self.scratch_per_row,
        ))
    }
}

/// A 2-D array chunked by rows like `rows[0]` (with `cols` columns in one
/// block): block `i` is `op` on block `i` of each of `rows` (2-D, one column
/// block each) followed by the single blocks of `side`.
pub(crate) fn rowwise(
    name: &str,
    op: LinalgOp,
    rows: &[&Arc<Expr>],
    side: &[&Arc<Expr>],
    cols: usize,
    dtype: DType,
) -> Arc<Expr> {
    let row_grid = rows[0].grid[0].clone();
    let shape = vec![rows[0].shape[0], cols];
    let rows: Vec<Arc<Expr>> = rows
        .iter()
        .map(|r| rechunk_expr(r, vec![row_grid.clone(), vec![r.shape[1]]]))
        .collect();
    let side = side.iter().map(|s| single_block(s)).collect();
    // A copy of the row block while solving in place.
    let scratch_per_row = (cols * dtype.size()) as u64;
    Expr::new(
        name,
        shape,
        vec![row_grid, vec![cols]],
        dtype,
        ExprKind::Custom(Arc::new(Rowwise {
            op,
            rows,
            side,
            scratch_per_row,
        })),
    )
}
