//! Tiled Cholesky of a square matrix chunked along both axes ([`cholesky`]),
//! and the square tiling shared with the tiled LU (`lu.rs`).
//!
//! Right-looking, one task per tile operation: at step `k`, `potrf` on the
//! diagonal tile, a triangular solve (`trsm`) per tile below it, and a
//! `syrk`/`gemm` update of every trailing tile in the lower triangle. A tile's
//! version after `k` updates is memoized under `(k, i, j)`, so the factor's
//! blocks and every later step share the tasks.

use super::nodes::key;
use super::Real;
use crate::array::DArray;
use crate::error::{Error, Result};
use crate::expr::grid::regular;
use crate::expr::node::{Expr, ExprKind};
use crate::expr::select::rechunk_expr;
use crate::expr::{CustomLower, LowerCtx};
use crate::graph::{stage, ArrayId, ChunkKey, Op, TaskId};
use darray_kernels::linalg::LinalgOp;
use std::sync::Arc;

/// Checks that `a` is a square 2-D array, for `what`.
pub(crate) fn check_square<T: Real>(a: &DArray<T>, what: &str) -> Result<usize> {
    if a.ndim() != 2 || a.shape()[0] != a.shape()[1] {
        return Err(Error::InvalidArgument {
            array: a.name().to_string(),
            reason: format!(
                "{what} needs a square 2-D matrix, got shape {:?}",
                a.shape()
            ),
        });
    }
    Ok(a.shape()[0])
}

/// The square tiling of a square matrix: its row chunks if the columns are cut
/// at the same places, else a regular tiling with as many tiles per axis as the
/// finer of the two axes has chunks (so no tile is larger than about the
/// original chunks).
pub(crate) fn square_tiles(e: &Expr) -> Vec<usize> {
    let (rows, cols) = (&e.grid[0], &e.grid[1]);
    if rows == cols {
        return rows.clone();
    }
    let n = e.shape[0];
    regular(n, n.div_ceil(rows.len().max(cols.len()).max(1)))
}

/// Key of an internal task of a tiled plan.
pub(crate) fn plan_key(id: ArrayId, stage: u8, block: &[usize]) -> ChunkKey {
    ChunkKey {
        array: id,
        stage,
        block: block
            .iter()
            .map(|&b| u32::try_from(b).expect("tile index fits u32"))
            .collect(),
    }
}

#[derive(Debug)]
struct CholPlan {
    id: ArrayId,
    /// The input, rechunked to `tiles` on both axes.
    a: Arc<Expr>,
    tiles: Vec<usize>,
}

impl CholPlan {
    fn bytes(&self, i: usize, j: usize) -> u64 {
        (self.tiles[i] * self.tiles[j] * self.a.dtype.size()) as u64
    }

    /// Tile `(i, j)`, `i >= j >= k`, after the updates of steps `0..k`.
    fn tile(&self, l: &mut dyn LowerCtx, k: usize, i: usize, j: usize) -> Result<TaskId> {
        if k == 0 {
            return l.block(&self.a, &[tile_u32(i), tile_u32(j)]);
        }
        let key = plan_key(self.id, stage::CHOL_TILE, &[k, i, j]);
        l.cached(key.clone(), |l| {
            let c = self.tile(l, k - 1, i, j)?;
            let a = self.factor(l, k - 1, i)?;
            let b = self.factor(l, k - 1, j)?;
            Ok(l.push_task(
                key,
                Op::Linalg {
                    op: LinalgOp::TileUpdate { trans_b: true },
                },
                vec![c, a, b],
                self.bytes(i, j),
                0,
            ))
        })
    }

    /// Block `(i, k)`, `i >= k`, of the factor `L`.
    fn factor(&self, l: &mut dyn LowerCtx, k: usize, i: usize) -> Result<TaskId> {
        let key = plan_key(self.id, stage::CHOL_FACTOR, &[i, k]);
        l.cached(key.clone(), |l| {
            let a = self.tile(l, k, i, k)?;
            if i == k {
                return Ok(l.push_task(
                    key,
                    Op::Linalg {
                        op: LinalgOp::TilePotrf { tile: k },
                    },
                    vec![a],
                    self.bytes(k, k),
                    0,
                ));
            }
            let d = self.factor(l, k, k)?;
            // X Lᵀ = A: column-major, L Xᵀ = Aᵀ with L stored as its transpose.
            Ok(l.push_task(
                key,
                Op::Linalg {
                    op: LinalgOp::TileSolve {
                        side: b'L',
                        uplo: b'U',
                        trans: b'T',
                        diag: b'N',
                    },
                },
                vec![d, a],
                self.bytes(i, k),
                // A standard-layout copy of the triangle.
                self.bytes(k, k),
            ))
        })
    }
}

pub(crate) fn tile_u32(i: usize) -> u32 {
    u32::try_from(i).expect("tile index fits u32")
}

#[derive(Debug)]
struct CholL(Arc<CholPlan>);

impl CustomLower for CholL {
    fn block(&self, l: &mut dyn LowerCtx, e: &Arc<Expr>, idx: &[u32]) -> Result<TaskId> {
        let (i, j) = (idx[0] as usize, idx[1] as usize);
        if i >= j {
            return self.0.factor(l, j, i);
        }
        let a = l.block(&self.0.a, idx)?;
        Ok(l.push_task(
            key(e, stage::BLOCK, idx),
            Op::Linalg {
                op: LinalgOp::ZerosLike,
            },
            vec![a],
            self.0.bytes(i, j),
            0,
        ))
    }
}

/// Cholesky factor of a symmetric positive-definite matrix chunked along both
/// axes: lazy lower-triangular `L` with `A = L Lᵀ`, tiled like `a` (a
/// matrix whose row and column chunks differ is first rechunked to a regular
/// square tiling near its chunk size). Only the lower triangle of `a` is read.
/// Tiled right-looking algorithm, one task per tile operation (`potrf`,
/// `trsm`, `syrk`/`gemm`), so the largest task holds three tiles.
///
/// ```
/// use darray::{linalg, DArray};
/// let b = DArray::<f64>::random_normal(3, &[60, 60], 0.0, 1.0, [20, 20]).unwrap();
/// let i = DArray::<f64>::eye(60, 60, 0, [20, 20]).unwrap();
/// let a = (linalg::matmul(&b, &b.t()).unwrap() + &(i * 60.0)).unwrap(); // positive definite
/// let l = linalg::cholesky(&a).unwrap();
/// let back = linalg::matmul(&l, &l.t()).unwrap().compute().unwrap();
/// let a = a.compute().unwrap();
/// assert!(back.iter().zip(a.iter()).all(|(x, y)| (x - y).abs() < 1e-10 * 60.0));
/// ```
///
/// # Errors
/// An array that is not a square 2-D matrix. At run time, a matrix that is not
/// positive definite fails the computation with an error naming the diagonal
/// tile where the factorization broke down.
pub fn cholesky<T: Real>(a: &DArray<T>) -> Result<DArray<T>> {
    let n = check_square(a, "cholesky")?;
    if n == 0 {
        return Ok(a.clone());
    }
    let tiles = square_tiles(&a.expr);
    let e = rechunk_expr(&a.expr, vec![tiles.clone(), tiles.clone()]);
    let plan = Arc::new(CholPlan {
        id: ArrayId::fresh(),
        a: e,
        tiles: tiles.clone(),
    });
    Ok(DArray::wrap(Expr::new(
        "cholesky",
        vec![n, n],
        vec![tiles.clone(), tiles],
        T::DTYPE,
        ExprKind::Custom(Arc::new(CholL(plan))),
    )))
}
