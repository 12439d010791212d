//! Linear systems with a square matrix chunked along both axes: [`solve`] and
//! [`inv`], through a tiled LU with tournament pivoting (CALU: Grigori, Demmel
//! and Xiang, "CALU: a communication optimal LU factorization algorithm", 2011).
//!
//! Step `k` works on panel `k` (tile column `k`): a tree of partial-pivoting
//! LUs (`getrf`) over its tiles, at most [`FAN_IN`] candidate sets per node,
//! picks the panel's pivot rows and, at the root, factors them; every tile
//! column then swaps those rows up (`laswp`); the tiles below the diagonal are
//! solved against `U` and those right of it against `L` (`trsm`), and the
//! trailing tiles updated (`gemm`). The right-hand sides ride along as extra
//! tile columns, so they leave the factorization as `L⁻¹ P b`; back substitution
//! then runs tile by tile, right-looking. A tile's version at each step is
//! memoized under `(step, row, column)`.

use super::tiled::{check_square, plan_key, square_tiles, tile_u32};
use super::{Real, FAN_IN};
use crate::array::DArray;
use crate::error::{Error, Result};
use crate::expr::grid::offsets;
use crate::expr::node::{Expr, ExprKind};
use crate::expr::select::rechunk_expr;
use crate::expr::{CustomLower, LowerCtx};
use crate::graph::{stage, ArrayId, Op, TaskId};
use darray_kernels::linalg::LinalgOp;
use ndarray::{s, NewAxis};
use std::sync::Arc;

#[derive(Debug)]
struct LuPlan {
    id: ArrayId,
    /// The matrix, tiled by `tiles` on both axes.
    a: Arc<Expr>,
    /// The right-hand sides (2-D), rows tiled by `tiles` (none for [`lu`]).
    b: Option<Arc<Expr>>,
    /// Row numbers `0..n` as an `n x 1` column tiled by `tiles`, and `n x n`
    /// zeros tiled like `a` (for [`lu`]).
    rows: Option<(Arc<Expr>, Arc<Expr>)>,
    tiles: Vec<usize>,
    starts: Vec<usize>,
}

impl LuPlan {
    fn n(&self) -> usize {
        self.tiles.len()
    }

    fn rhs(&self) -> &Arc<Expr> {
        self.b
            .as_ref()
            .expect("right-hand sides asked for only by solve")
    }

    fn extras(&self) -> &(Arc<Expr>, Arc<Expr>) {
        self.rows
            .as_ref()
            .expect("row numbers asked for only by lu")
    }

    /// Tile `i` of a column carried through the row interchanges without
    /// elimination, at the start of step `s`: block column `j` of `L` (`Some(j)`,
    /// `i > j`, from step `j + 1`) or the row numbers (`None`).
    fn carried(
        &self,
        l: &mut dyn LowerCtx,
        s: usize,
        i: usize,
        col: Option<usize>,
    ) -> Result<TaskId> {
        match col {
            Some(j) if s == j + 1 => return self.lower(l, j, i),
            None if s == 0 => return l.block(&self.extras().0, &[tile_u32(i), 0]),
            _ => {}
        }
        let k = s - 1;
        if i < k {
            return self.carried(l, k, i, col);
        }
        let key = match col {
            Some(j) => plan_key(self.id, stage::LU_CARRIED_COL, &[s, i, j]),
            None => plan_key(self.id, stage::LU_CARRIED, &[s, i]),
        };
        l.cached(key.clone(), |l| {
            let mut ins = vec![self.root(l, k)?];
            let from: Vec<usize> = if i == k {
                (k..self.n()).collect()
            } else {
                vec![i, k]
            };
            for &r in &from {
                ins.push(self.carried(l, k, r, col)?);
            }
            let w = col.map_or(1, |j| self.tiles[j]);
            Ok(l.push_task(
                key,
                Self::op(LinalgOp::LuSwap {
                    row0: self.starts[k],
                    starts: from.iter().map(|&r| self.starts[r]).collect(),
                }),
                ins,
                (self.tiles[i] * w) as u64 * self.elem(),
                0,
            ))
        })
    }

    /// Block `(i, j)` of `L` (`lower`) or `U`.
    fn factor_block(
        &self,
        l: &mut dyn LowerCtx,
        i: usize,
        j: usize,
        lower: bool,
    ) -> Result<TaskId> {
        if i == j {
            let key = plan_key(self.id, stage::LU_FACTOR_BLOCK, &[i, usize::from(lower)]);
            return l.cached(key.clone(), |l| {
                let root = self.root(l, i)?;
                Ok(l.push_task(
                    key,
                    Self::op(LinalgOp::LuPart { lower }),
                    vec![root],
                    self.bytes(i, i),
                    0,
                ))
            });
        }
        match (lower, i > j) {
            (true, true) => self.carried(l, self.n(), i, Some(j)),
            (false, false) => self.upper(l, i, j),
            _ => l.block(&self.extras().1, &[tile_u32(i), tile_u32(j)]),
        }
    }

    fn elem(&self) -> u64 {
        self.a.dtype.size() as u64
    }

    /// Width of tile column `j`: the matrix's, then the right-hand sides'.
    fn width(&self, j: usize) -> usize {
        match j.checked_sub(self.n()) {
            None => self.tiles[j],
            Some(c) => self.rhs().grid[1][c],
        }
    }

    fn bytes(&self, i: usize, j: usize) -> u64 {
        (self.tiles[i] * self.width(j)) as u64 * self.elem()
    }

    fn op(op: LinalgOp) -> Op {
        Op::Linalg { op }
    }

    /// Tile `(i, j)` (`i, j >= k`) at the start of step `k`.
    fn tile(&self, l: &mut dyn LowerCtx, k: usize, i: usize, j: usize) -> Result<TaskId> {
        if k == 0 {
            return match j.checked_sub(self.n()) {
                None => l.block(&self.a, &[tile_u32(i), tile_u32(j)]),
                Some(c) => l.block(self.rhs(), &[tile_u32(i), tile_u32(c)]),
            };
        }
        let key = plan_key(self.id, stage::LU_TILE, &[k, i, j]);
        l.cached(key.clone(), |l| {
            let ins = vec![
                self.swapped(l, k - 1, i, j)?,
                self.lower(l, k - 1, i)?,
                self.upper(l, k - 1, j)?,
            ];
            Ok(l.push_task(
                key,
                Self::op(LinalgOp::TileUpdate { trans_b: false }),
                ins,
                self.bytes(i, j),
                0,
            ))
        })
    }

    /// Number of nodes at each level of step `k`'s tournament.
    fn levels(&self, k: usize) -> Vec<usize> {
        let mut v = vec![self.n() - k];
        while *v.last().expect("a level") > 1 {
            v.push(v.last().expect("a level").div_ceil(FAN_IN));
        }
        v
    }

    /// Rows a tournament node stacks (an upper bound for inner nodes).
    fn stacked(&self, k: usize, level: usize, node: usize) -> usize {
        if level == 0 {
            return self.tiles[k + node];
        }
        let below = self.levels(k)[level - 1];
        (node * FAN_IN..below.min((node + 1) * FAN_IN))
            .map(|c| self.stacked(k, level - 1, c).min(self.tiles[k]))
            .sum()
    }

    /// Node `node` of `level` of step `k`'s tournament.
    fn pivots(&self, l: &mut dyn LowerCtx, k: usize, level: usize, node: usize) -> Result<TaskId> {
        let key = plan_key(self.id, stage::LU_PIVOTS, &[k, level, node]);
        l.cached(key.clone(), |l| {
            let levels = self.levels(k);
            let root = level + 1 == levels.len();
            let (ins, leaf_row0) = if level == 0 {
                let i = k + node;
                (vec![self.tile(l, k, i, k)?], Some(self.starts[i]))
            } else {
                let hi = levels[level - 1].min((node + 1) * FAN_IN);
                let ins = (node * FAN_IN..hi)
                    .map(|c| self.pivots(l, k, level - 1, c))
                    .collect::<Result<Vec<_>>>()?;
                (ins, None)
            };
            let t = self.tiles[k];
            let rows = self.stacked(k, level, node);
            let out = (rows.min(t) * (t + 1)) as u64 * self.elem();
            // The stacked rows, and the column-major copy LAPACK factors.
            let scratch = 2 * (rows * (t + 1)) as u64 * self.elem();
            Ok(l.push_task(
                key,
                Self::op(LinalgOp::LuPivots {
                    leaf_row0,
                    root,
                    panel: k,
                }),
                ins,
                out,
                scratch,
            ))
        })
    }

    /// The root record of step `k`: pivot rows and the LU of the diagonal tile.
    fn root(&self, l: &mut dyn LowerCtx, k: usize) -> Result<TaskId> {
        let top = self.levels(k).len() - 1;
        self.pivots(l, k, top, 0)
    }

    /// Tile `(i, j)` after step `k`'s row interchanges.
    fn swapped(&self, l: &mut dyn LowerCtx, k: usize, i: usize, j: usize) -> Result<TaskId> {
        let key = plan_key(self.id, stage::LU_SWAPPED, &[k, i, j]);
        l.cached(key.clone(), |l| {
            let mut ins = vec![self.root(l, k)?];
            // Row `k` of tiles can receive rows from any tile of the panel;
            // a lower tile only from tile row `k` (module docs of the kernel).
            let from: Vec<usize> = if i == k {
                (k..self.n()).collect()
            } else {
                vec![i, k]
            };
            for &r in &from {
                ins.push(self.tile(l, k, r, j)?);
            }
            Ok(l.push_task(
                key,
                Self::op(LinalgOp::LuSwap {
                    row0: self.starts[k],
                    starts: from.iter().map(|&r| self.starts[r]).collect(),
                }),
                ins,
                self.bytes(i, j),
                0,
            ))
        })
    }

    /// Block `(i, k)`, `i > k`, of `L`: the swapped tile times `U_kk⁻¹`.
    fn lower(&self, l: &mut dyn LowerCtx, k: usize, i: usize) -> Result<TaskId> {
        let key = plan_key(self.id, stage::LU_LOWER, &[i, k]);
        l.cached(key.clone(), |l| {
            let ins = vec![self.root(l, k)?, self.swapped(l, k, i, k)?];
            // X U = A: column-major Uᵀ Xᵀ = Aᵀ, Uᵀ the lower part of the record.
            let op = LinalgOp::TileSolve {
                side: b'L',
                uplo: b'L',
                trans: b'N',
                diag: b'N',
            };
            let scratch = self.bytes(k, k);
            Ok(l.push_task(key, Self::op(op), ins, self.bytes(i, k), scratch))
        })
    }

    /// Block `(k, j)`, `j > k`, of `U` (for a right-hand side column, of `L⁻¹ P b`).
    fn upper(&self, l: &mut dyn LowerCtx, k: usize, j: usize) -> Result<TaskId> {
        let key = plan_key(self.id, stage::LU_UPPER, &[k, j]);
        l.cached(key.clone(), |l| {
            let ins = vec![self.root(l, k)?, self.swapped(l, k, k, j)?];
            // L X = A: column-major Xᵀ Lᵀ = Aᵀ, Lᵀ the unit upper part of the record.
            let op = LinalgOp::TileSolve {
                side: b'R',
                uplo: b'U',
                trans: b'N',
                diag: b'U',
            };
            let scratch = self.bytes(k, k);
            Ok(l.push_task(key, Self::op(op), ins, self.bytes(k, j), scratch))
        })
    }

    /// Tile `(i, c)` of `L⁻¹ P b` minus `U_ij x_j` for all `j >= s` (`i < s`).
    fn rest(&self, l: &mut dyn LowerCtx, s: usize, i: usize, c: usize) -> Result<TaskId> {
        let n = self.n();
        if s == n {
            return self.upper_or_y(l, i, c);
        }
        let key = plan_key(self.id, stage::LU_REST, &[s, i, c]);
        l.cached(key.clone(), |l| {
            let ins = vec![
                self.rest(l, s + 1, i, c)?,
                self.upper(l, i, s)?,
                self.solution(l, s, c)?,
            ];
            Ok(l.push_task(
                key,
                Self::op(LinalgOp::TileUpdate { trans_b: false }),
                ins,
                self.bytes(i, n + c),
                0,
            ))
        })
    }

    /// Tile `(i, c)` of `y = L⁻¹ P b`.
    fn upper_or_y(&self, l: &mut dyn LowerCtx, i: usize, c: usize) -> Result<TaskId> {
        self.upper(l, i, self.n() + c)
    }

    /// Tile `(k, c)` of the solution `x = U⁻¹ y`.
    fn solution(&self, l: &mut dyn LowerCtx, k: usize, c: usize) -> Result<TaskId> {
        let key = plan_key(self.id, stage::LU_SOLUTION, &[k, c]);
        l.cached(key.clone(), |l| {
            let ins = vec![self.root(l, k)?, self.rest(l, k + 1, k, c)?];
            // X = U⁻¹ Z: column-major Xᵀ Uᵀ = Zᵀ.
            let op = LinalgOp::TileSolve {
                side: b'R',
                uplo: b'L',
                trans: b'N',
                diag: b'N',
            };
            let scratch = self.bytes(k, k);
            Ok(l.push_task(key, Self::op(op), ins, self.bytes(k, self.n() + c), scratch))
        })
    }
}

/// Which array of an LU a custom node lowers.
#[derive(Debug)]
enum Part {
    Solution,
    Lower,
    Upper,
    Rows,
}

#[derive(Debug)]
struct LuNode(Arc<LuPlan>, Part);

impl CustomLower for LuNode {
    fn block(&self, l: &mut dyn LowerCtx, _e: &Arc<Expr>, idx: &[u32]) -> Result<TaskId> {
        let (i, j) = (idx[0] as usize, idx[1] as usize);
        match self.1 {
            Part::Solution => self.0.solution(l, i, j),
            Part::Lower => self.0.factor_block(l, i, j, true),
            Part::Upper => self.0.factor_block(l, i, j, false),
            Part::Rows => self.0.carried(l, self.0.n(), i, None),
        }
    }
}

/// Solves `A x = b` for a square `a` chunked along both axes (tiled LU with
/// tournament pivoting, see the module docs), `b` a vector or a matrix of
/// right-hand sides (its rows rechunked to `a`'s tiles, its columns chunked as
/// given). Stable as partial pivoting in practice; a matrix whose row and
/// column chunks differ is first rechunked to a regular square tiling.
///
/// ```
/// use darray::{linalg, DArray};
/// let a = DArray::<f64>::random_normal(5, &[50, 50], 0.0, 1.0, [20, 20]).unwrap();
/// let b = DArray::<f64>::ones(&[50], [20]).unwrap();
/// let x = linalg::solve(&a, &b).unwrap();
/// let r = (linalg::matmul(&a, &x).unwrap() - &b).unwrap().compute().unwrap();
/// assert!(r.iter().all(|v| v.abs() < 1e-9));
/// ```
///
/// # Errors
/// `a` not a square 2-D matrix, `b` not 1-D or 2-D or with a row count other
/// than `a`'s. At run time, a matrix found exactly singular (a zero pivot)
/// fails the computation, naming the panel.
pub fn solve<T: Real>(a: &DArray<T>, b: &DArray<T>) -> Result<DArray<T>> {
    let n = check_square(a, "solve")?;
    if !(1..=2).contains(&b.ndim()) || b.shape()[0] != n {
        return Err(Error::InvalidArgument {
            array: format!("solve({}, {})", a.name(), b.name()),
            reason: format!(
                "right-hand side of shape {:?} for a {n} x {n} matrix (needs {n} rows, 1-D or 2-D)",
                b.shape()
            ),
        });
    }
    if b.ndim() == 1 {
        return solve(a, &b.slice(s![.., NewAxis])?)?.slice(s![.., 0]);
    }
    if n == 0 {
        return Ok(b.clone());
    }
    // Row numbers travel as floats in the pivot records.
    if T::UNIT_ROUNDOFF > 1e-10 && n >= 1 << 24 {
        return Err(Error::InvalidArgument {
            array: a.name().to_string(),
            reason: format!("solve in float32 supports at most 2^24 rows, got {n}"),
        });
    }
    let tiles = square_tiles(&a.expr);
    let plan = Arc::new(LuPlan {
        id: ArrayId::fresh(),
        a: rechunk_expr(&a.expr, vec![tiles.clone(), tiles.clone()]),
        b: Some(rechunk_expr(
            &b.expr,
            vec![tiles.clone(), b.expr.grid[1].clone()],
        )),
        rows: None,
        starts: offsets(&tiles),
        tiles: tiles.clone(),
    });
    let grid = vec![tiles, b.expr.grid[1].clone()];
    Ok(DArray::wrap(Expr::new(
        "solve",
        b.shape().to_vec(),
        grid,
        T::DTYPE,
        ExprKind::Custom(Arc::new(LuNode(plan, Part::Solution))),
    )))
}

/// Inverse of a square matrix chunked along both axes: [`solve`] with the
/// identity, tiled like `a`.
///
/// ```
/// use darray::{linalg, DArray};
/// let a = DArray::<f64>::random_normal(9, &[40, 40], 0.0, 1.0, [16, 16]).unwrap();
/// let ai = linalg::inv(&a).unwrap();
/// let i = linalg::matmul(&a, &ai).unwrap().compute().unwrap();
/// assert!(i.indexed_iter().all(|(ix, v)| (v - f64::from(u8::from(ix[0] == ix[1]))).abs() < 1e-8));
/// ```
///
/// # Errors
/// As [`solve`].
pub fn inv<T: Real>(a: &DArray<T>) -> Result<DArray<T>> {
    let n = check_square(a, "inv")?;
    let tiles = square_tiles(&a.expr);
    let eye = DArray::<T>::eye(n, n, 0, vec![tiles.clone(), tiles])?;
    solve(a, &eye)
}

/// LU factorization with tournament pivoting (see the module docs) of a
/// square matrix chunked along both axes: lazy `(perm, L, U)` with row `r` of
/// `L U` equal to row `perm[r]` of `a` (`P A = L U`), `L` unit lower and `U`
/// upper triangular, both tiled like `a` (or its square rechunking).
///
/// ```
/// use darray::{linalg, DArray};
/// let a = DArray::<f64>::random_normal(4, &[30, 30], 0.0, 1.0, [8, 8]).unwrap();
/// let (perm, l, u) = linalg::lu(&a).unwrap();
/// let lu = linalg::matmul(&l, &u).unwrap().compute().unwrap();
/// let (perm, a) = (perm.compute().unwrap(), a.compute().unwrap());
/// for (r, &p) in perm.iter().enumerate() {
///     for c in 0..30 {
///         assert!((lu[[r, c]] - a[[p as usize, c]]).abs() < 1e-12 * 30.0);
///     }
/// }
/// ```
///
/// # Errors
/// As [`solve`] for `a`.
#[allow(clippy::type_complexity)]
pub fn lu<T: Real>(a: &DArray<T>) -> Result<(DArray<i64>, DArray<T>, DArray<T>)> {
    let n = check_square(a, "lu")?;
    if n == 0 {
        return Ok((DArray::<i64>::zeros(&[0], [1])?, a.clone(), a.clone()));
    }
    if T::UNIT_ROUNDOFF > 1e-10 && n >= 1 << 24 {
        return Err(Error::InvalidArgument {
            array: a.name().to_string(),
            reason: format!("lu in float32 supports at most 2^24 rows, got {n}"),
        });
    }
    let tiles = square_tiles(&a.expr);
    let grid = vec![tiles.clone(), tiles.clone()];
    #[allow(clippy::cast_precision_loss)] // checked above: n is exact in T
    let rows =
        DArray::<T>::arange(0.0, n as f64, 1.0, vec![tiles.clone()])?.slice(s![.., NewAxis])?;
    let zeros = DArray::<T>::zeros(&[n, n], grid.clone())?;
    let plan = Arc::new(LuPlan {
        id: ArrayId::fresh(),
        a: rechunk_expr(&a.expr, grid.clone()),
        b: None,
        rows: Some((
            rechunk_expr(&rows.expr, vec![tiles.clone(), vec![1]]),
            zeros.expr.clone(),
        )),
        starts: offsets(&tiles),
        tiles: tiles.clone(),
    });
    let node = |name: &str, part: Part, shape: Vec<usize>, grid| {
        Expr::new(
            name,
            shape,
            grid,
            T::DTYPE,
            ExprKind::Custom(Arc::new(LuNode(plan.clone(), part))),
        )
    };
    let perm = DArray::<T>::wrap(node(
        "lu-perm",
        Part::Rows,
        vec![n, 1],
        vec![tiles, vec![1]],
    ));
    let l = DArray::wrap(node("lu-l", Part::Lower, vec![n, n], grid.clone()));
    let u = DArray::wrap(node("lu-u", Part::Upper, vec![n, n], grid));
    Ok((perm.slice(s![.., 0])?.cast::<i64>(), l, u))
}
