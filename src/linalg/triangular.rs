//! Triangular systems with a matrix chunked along both axes:
//! [`solve_triangular`] (scipy's `solve_triangular`), by tiled forward or
//! back substitution.
//!
//! For a lower `L` with square tiles, tile `i` of the solution is
//! `X_i = L_ii⁻¹ (B_i - Σ_{j<i} L_ij X_j)`: the sum is a chain of `gemm` tasks
//! (`TileUpdate`), one per tile of the row, in a fixed order, and the last is
//! a `trsm` (`TileSolve`) against the diagonal tile. An upper `U` runs the same
//! from the last tile up. Tiles of the other triangle are never read; a task
//! holds at most three tiles, and right-hand-side columns are independent.

use super::tiled::{check_square, plan_key, square_tiles, tile_u32};
use super::Real;
use crate::array::DArray;
use crate::error::{Error, Result};
use crate::expr::node::{Expr, ExprKind};
use crate::expr::select::rechunk_expr;
use crate::expr::{CustomLower, LowerCtx};
use crate::graph::{stage, ArrayId, Op, TaskId};
use darray_kernels::linalg::LinalgOp;
use ndarray::{s, NewAxis};
use std::sync::Arc;

#[derive(Debug)]
struct TriPlan {
    id: ArrayId,
    /// The matrix, tiled by `tiles` on both axes.
    a: Arc<Expr>,
    /// The right-hand sides (2-D), rows tiled by `tiles`.
    b: Arc<Expr>,
    tiles: Vec<usize>,
    lower: bool,
    unit_diagonal: bool,
}

impl TriPlan {
    fn n(&self) -> usize {
        self.tiles.len()
    }

    fn bytes(&self, i: usize, c: usize) -> u64 {
        (self.tiles[i] * self.b.grid[1][c]) as u64 * self.a.dtype.size() as u64
    }

    /// Tiles `j` that feed tile `i` of the solution, in the order they are
    /// subtracted (nearest the start of the substitution first).
    fn feeding(&self, i: usize) -> Vec<usize> {
        if self.lower {
            (0..i).collect()
        } else {
            (i + 1..self.n()).rev().collect()
        }
    }

    /// Tile `(i, c)` of `B` minus the first `m` products of `feeding(i)`.
    fn rest(&self, l: &mut dyn LowerCtx, i: usize, c: usize, m: usize) -> Result<TaskId> {
        if m == 0 {
            return l.block(&self.b, &[tile_u32(i), tile_u32(c)]);
        }
        let key = plan_key(self.id, stage::TRI_REST, &[i, c, m]);
        l.cached(key.clone(), |l| {
            let j = self.feeding(i)[m - 1];
            let ins = vec![
                self.rest(l, i, c, m - 1)?,
                l.block(&self.a, &[tile_u32(i), tile_u32(j)])?,
                self.solution(l, j, c)?,
            ];
            Ok(l.push_task(
                key,
                Op::Linalg {
                    op: LinalgOp::TileUpdate { trans_b: false },
                },
                ins,
                self.bytes(i, c),
                0,
            ))
        })
    }

    /// Tile `(i, c)` of the solution.
    fn solution(&self, l: &mut dyn LowerCtx, i: usize, c: usize) -> Result<TaskId> {
        let key = plan_key(self.id, stage::TRI_SOLUTION, &[i, c]);
        l.cached(key.clone(), |l| {
            let m = self.feeding(i).len();
            let ins = vec![
                l.block(&self.a, &[tile_u32(i), tile_u32(i)])?,
                self.rest(l, i, c, m)?,
            ];
            // T X = Z in C order is Xᵀ Tᵀ = Zᵀ column-major, where Tᵀ is upper
            // for a lower T (module docs of the kernel).
            let op = LinalgOp::TileSolve {
                side: b'R',
                uplo: if self.lower { b'U' } else { b'L' },
                trans: b'N',
                diag: if self.unit_diagonal { b'U' } else { b'N' },
            };
            let scratch = (self.tiles[i] * self.tiles[i]) as u64 * self.a.dtype.size() as u64;
            Ok(l.push_task(key, Op::Linalg { op }, ins, self.bytes(i, c), scratch))
        })
    }
}

#[derive(Debug)]
struct TriNode(Arc<TriPlan>);

impl CustomLower for TriNode {
    fn block(&self, l: &mut dyn LowerCtx, _e: &Arc<Expr>, idx: &[u32]) -> Result<TaskId> {
        self.0.solution(l, idx[0] as usize, idx[1] as usize)
    }
}

/// Solves `T x = b` for a triangular `T` (scipy's
/// `solve_triangular(a, b, lower=lower)`): only the `lower` (or upper)
/// triangle of `a` is read, the other is ignored. `b` is a vector or a matrix
/// of right-hand sides (rows rechunked to `a`'s tiles, columns chunked as
/// given). A matrix whose row and column chunks differ is first rechunked to a
/// square tiling. See [`solve_triangular_with`] for a unit diagonal and `Tᵀ`.
///
/// ```
/// use darray::{linalg, DArray};
/// let a = DArray::<f64>::random_normal(5, &[50, 50], 0.0, 1.0, [20, 20]).unwrap();
/// let eye = DArray::<f64>::eye(50, 50, 0, [20, 20]).unwrap();
/// let l = (a.tril(0).unwrap() + &(eye * 10.0)).unwrap();
/// let b = DArray::<f64>::ones(&[50], [20]).unwrap();
/// let x = linalg::solve_triangular(&l, &b, true).unwrap();
/// let r = (linalg::matmul(&l, &x).unwrap() - &b).unwrap().compute().unwrap();
/// assert!(r.iter().all(|v| v.abs() < 1e-12));
/// ```
///
/// # Errors
/// `a` not a square 2-D matrix, `b` not 1-D or 2-D or with a row count other
/// than `a`'s. A zero on the diagonal gives infinities or NaN, as LAPACK's
/// `trsm` does (scipy raises `LinAlgError`).
pub fn solve_triangular<T: Real>(a: &DArray<T>, b: &DArray<T>, lower: bool) -> Result<DArray<T>> {
    solve_triangular_with(a, b, lower, false, false)
}

/// [`solve_triangular`] with scipy's other options: `trans` solves `Tᵀ x = b`
/// (`trans='T'`), and `unit_diagonal` takes the diagonal as ones without
/// reading it.
///
/// ```
/// use darray::{linalg, DArray};
/// let u = DArray::<f64>::from_ndarray(&ndarray::array![[1.0, 2.0], [0.0, 1.0]], [1, 1]).unwrap();
/// let b = DArray::<f64>::from_ndarray(&ndarray::array![1.0, 5.0], [1]).unwrap();
/// // Uᵀ x = b with U's unit diagonal: x = [1, 3].
/// let x = linalg::solve_triangular_with(&u, &b, false, true, true).unwrap();
/// assert_eq!(x.compute().unwrap().into_raw_vec_and_offset().0, vec![1.0, 3.0]);
/// ```
///
/// # Errors
/// As [`solve_triangular`].
pub fn solve_triangular_with<T: Real>(
    a: &DArray<T>,
    b: &DArray<T>,
    lower: bool,
    trans: bool,
    unit_diagonal: bool,
) -> Result<DArray<T>> {
    let n = check_square(a, "solve_triangular")?;
    if !(1..=2).contains(&b.ndim()) || b.shape()[0] != n {
        return Err(Error::InvalidArgument {
            array: format!("solve_triangular({}, {})", a.name(), b.name()),
            reason: format!(
                "right-hand side of shape {:?} for a {n} x {n} matrix (needs {n} rows, 1-D or 2-D)",
                b.shape()
            ),
        });
    }
    if trans {
        // Tᵀ is triangular the other way; a transpose is a free relabelling
        // of blocks.
        return solve_triangular_with(&a.t(), b, !lower, false, unit_diagonal);
    }
    if b.ndim() == 1 {
        return solve_triangular_with(a, &b.slice(s![.., NewAxis])?, lower, false, unit_diagonal)?
            .slice(s![.., 0]);
    }
    if n == 0 || b.shape()[1] == 0 {
        return Ok(b.clone());
    }
    let tiles = square_tiles(&a.expr);
    let plan = Arc::new(TriPlan {
        id: ArrayId::fresh(),
        a: rechunk_expr(&a.expr, vec![tiles.clone(), tiles.clone()]),
        b: rechunk_expr(&b.expr, vec![tiles.clone(), b.expr.grid[1].clone()]),
        tiles: tiles.clone(),
        lower,
        unit_diagonal,
    });
    let grid = vec![tiles, b.expr.grid[1].clone()];
    Ok(DArray::wrap(Expr::new(
        "solve_triangular",
        b.shape().to_vec(),
        grid,
        T::DTYPE,
        ExprKind::Custom(Arc::new(TriNode(plan))),
    )))
}
