//! Tiled Householder QR of a matrix (`m >= n`) chunked along both axes, the
//! path [`super::qr`] takes for such inputs: in the style of PLASMA's tile QR
//! (Buttari et al. 2009) with a flat tree per panel.
//!
//! Panel `k` factors its diagonal tile, then stacks the running R factor on
//! each tile below it in turn and factors again (`tqr_factor`: `?tpqrt`, which
//! skips the triangle's zeros, as PLASMA's `tsqrt`); each of these
//! factorizations is applied (`Qᵀ`) to the matching tiles of every trailing
//! tile column (`tqr_apply`), the running top rows passing from one to the
//! next. `Q` is formed blockwise by applying the factorizations in reverse to
//! the first `n` columns of the identity, whose diagonal tiles carry the signs
//! that make `R`'s diagonal non-negative. Column tiles are regular; row tiles
//! repeat them and continue regularly, so every panel's top tile is square.

use super::tiled::{plan_key, tile_u32};
use super::Real;
use crate::array::DArray;
use crate::error::Result;
use crate::expr::grid::regular;
use crate::expr::node::{Expr, ExprKind};
use crate::expr::select::rechunk_expr;
use crate::expr::{CustomLower, LowerCtx};
use crate::graph::{stage, ArrayId, Op, TaskId};
use darray_kernels::linalg::{tiled_qr, LinalgOp};
use std::sync::Arc;

#[derive(Debug)]
struct QrPlan {
    id: ArrayId,
    a: Arc<Expr>,
    /// `m x n` zeros tiled like `a` (off-diagonal tiles of the identity).
    zq: Arc<Expr>,
    /// `n x n` zeros tiled like `R`.
    zr: Arc<Expr>,
    rows: Vec<usize>,
    cols: Vec<usize>,
}

impl QrPlan {
    fn last(&self) -> usize {
        self.rows.len() - 1
    }

    fn elem(&self) -> u64 {
        self.a.dtype.size() as u64
    }

    fn size(&self, r: usize, c: usize) -> u64 {
        (r * c) as u64 * self.elem()
    }

    /// Rows stacked in factorization `(k, i)`.
    fn stacked(&self, k: usize, i: usize) -> usize {
        if i == k {
            self.rows[k]
        } else {
            self.cols[k] + self.rows[i]
        }
    }

    /// Rows of factorization `(k, i)`'s record (stored transposed): a packed
    /// factorization of the diagonal tile, or a stacked record below it.
    fn record_rows(&self, k: usize, i: usize) -> usize {
        if i == k {
            self.rows[k] + 1
        } else {
            tiled_qr::stacked_rows(self.cols[k], self.rows[i])
        }
    }

    /// Scratch of applying factorization `(k, i)` to `w` columns: the stacked
    /// copy it works on, and `?ormqr`'s private copy of the reflectors and
    /// workspace (diagonal tile) or `?tpmqrt`'s workspace (stacked record).
    fn apply_scratch(&self, k: usize, i: usize, w: usize) -> u64 {
        let work = if i == k {
            self.size(self.record_rows(k, i), self.cols[k]) + self.size(w + 64, 64)
        } else {
            self.size(tiled_qr::ts_block(self.cols[k]), w)
        };
        self.size(self.stacked(k, i), w) + work
    }

    fn linalg(op: LinalgOp) -> Op {
        Op::Linalg { op }
    }

    /// Rows `r0..r1` of `src`, a stacked tile of tile column `kij[2]`,
    /// memoized under `(stage, kij)`.
    fn take(
        &self,
        l: &mut dyn LowerCtx,
        stage: u8,
        kij: [usize; 3],
        src: TaskId,
        (r0, r1): (usize, usize),
    ) -> Result<TaskId> {
        let w = self.cols[kij[2]];
        let key = plan_key(self.id, stage, &kij);
        l.cached(key.clone(), |l| {
            let op = LinalgOp::Take {
                rows: (r0, r1),
                cols: (0, w),
            };
            Ok(l.push_task(key, Self::linalg(op), vec![src], self.size(r1 - r0, w), 0))
        })
    }

    /// Tile `(i, j)` at the start of panel `k`.
    fn tile(&self, l: &mut dyn LowerCtx, k: usize, i: usize, j: usize) -> Result<TaskId> {
        if k == 0 {
            return l.block(&self.a, &[tile_u32(i), tile_u32(j)]);
        }
        let src = self.applied(l, k - 1, i, j)?;
        let c = self.cols[k - 1];
        self.take(l, stage::TQR_TILE, [k, i, j], src, (c, c + self.rows[i]))
    }

    /// The factorization of panel `k` through tile row `i`.
    fn factor(&self, l: &mut dyn LowerCtx, k: usize, i: usize) -> Result<TaskId> {
        let key = plan_key(self.id, stage::TQR_FACTOR, &[k, i]);
        l.cached(key.clone(), |l| {
            let mut ins = Vec::new();
            if i > k {
                ins.push(self.factor(l, k, i - 1)?);
            }
            ins.push(self.tile(l, k, i, k)?);
            let c = self.cols[k];
            let out = self.size(self.record_rows(k, i), c);
            // The record is the output; R of the previous record, workspace.
            let scratch = self.size(c, c) + self.size(c + 64, 64);
            Ok(l.push_task(key, Self::linalg(LinalgOp::TqrFactor), ins, out, scratch))
        })
    }

    /// `Qᵀ` of factorization `(k, i)` applied to tile column `j > k`: the
    /// running top rows stacked on tile `(i, j)`.
    fn applied(&self, l: &mut dyn LowerCtx, k: usize, i: usize, j: usize) -> Result<TaskId> {
        let key = plan_key(self.id, stage::TQR_APPLIED, &[k, i, j]);
        l.cached(key.clone(), |l| {
            let mut ins = vec![self.factor(l, k, i)?];
            if i > k {
                ins.push(self.top(l, k, i - 1, j)?);
            }
            ins.push(self.tile(l, k, i, j)?);
            let w = self.cols[j];
            let op = LinalgOp::TqrApply { trans: true };
            let out = self.size(self.stacked(k, i), w);
            let scratch = self.apply_scratch(k, i, w);
            Ok(l.push_task(key, Self::linalg(op), ins, out, scratch))
        })
    }

    /// The running top rows of tile column `j` after factorization `(k, i)`.
    fn top(&self, l: &mut dyn LowerCtx, k: usize, i: usize, j: usize) -> Result<TaskId> {
        let src = self.applied(l, k, i, j)?;
        self.take(l, stage::TQR_TOP, [k, i, j], src, (0, self.cols[k]))
    }

    /// Tile `(i, j)` of the identity's first `n` columns, diagonal signed.
    fn init(&self, l: &mut dyn LowerCtx, i: usize, j: usize) -> Result<TaskId> {
        if i != j {
            return l.block(&self.zq, &[tile_u32(i), tile_u32(j)]);
        }
        let key = plan_key(self.id, stage::TQR_Q_INIT, &[i, j]);
        l.cached(key.clone(), |l| {
            let f = self.factor(l, j, self.last())?;
            let op = LinalgOp::SignEye { rows: self.rows[i] };
            Ok(l.push_task(
                key,
                Self::linalg(op),
                vec![f],
                self.size(self.rows[i], self.cols[j]),
                0,
            ))
        })
    }

    /// `Q` of factorization `(k, i)` applied while forming Q, tile column `j >= k`.
    fn q_applied(&self, l: &mut dyn LowerCtx, k: usize, i: usize, j: usize) -> Result<TaskId> {
        let key = plan_key(self.id, stage::TQR_Q_APPLIED, &[k, i, j]);
        l.cached(key.clone(), |l| {
            let mut ins = vec![self.factor(l, k, i)?, self.q_top(l, k, i, j)?];
            if i > k {
                ins.push(self.q_done(l, k + 1, i, j)?);
            }
            let w = self.cols[j];
            let op = LinalgOp::TqrApply { trans: false };
            let out = self.size(self.stacked(k, i), w);
            let scratch = self.apply_scratch(k, i, w);
            Ok(l.push_task(key, Self::linalg(op), ins, out, scratch))
        })
    }

    /// Tile row `k` of Q's tile column `j` just before factorization `(k, i)`
    /// is applied (factorizations are applied last to first).
    fn q_top(&self, l: &mut dyn LowerCtx, k: usize, i: usize, j: usize) -> Result<TaskId> {
        if i == self.last() {
            return self.init(l, k, j);
        }
        let src = self.q_applied(l, k, i + 1, j)?;
        self.take(l, stage::TQR_Q_TOP, [k, i, j], src, (0, self.cols[k]))
    }

    /// Tile `(i, j)` of Q once panels `k..` are applied.
    fn q_done(&self, l: &mut dyn LowerCtx, k: usize, i: usize, j: usize) -> Result<TaskId> {
        if k >= self.cols.len() || j < k || i < k {
            return self.init(l, i, j);
        }
        let src = self.q_applied(l, k, i, j)?;
        if i == k {
            return Ok(src);
        }
        let c = self.cols[k];
        self.take(l, stage::TQR_Q_DONE, [k, i, j], src, (c, c + self.rows[i]))
    }

    /// Block `(k, j)` of R.
    fn r_block(&self, l: &mut dyn LowerCtx, k: usize, j: usize) -> Result<TaskId> {
        if j < k {
            return l.block(&self.zr, &[tile_u32(k), tile_u32(j)]);
        }
        let key = plan_key(self.id, stage::TQR_R, &[k, j]);
        l.cached(key.clone(), |l| {
            let f = self.factor(l, k, self.last())?;
            let (op, ins) = if j == k {
                (LinalgOp::RFactor, vec![f])
            } else {
                let top = self.applied(l, k, self.last(), j)?;
                let op = LinalgOp::TqrSignedRows {
                    rows: (0, self.cols[k]),
                };
                (op, vec![f, top])
            };
            let out = self.size(self.cols[k], self.cols[j]);
            Ok(l.push_task(key, Self::linalg(op), ins, out, 0))
        })
    }
}

#[derive(Debug)]
struct TiledQ(Arc<QrPlan>);

impl CustomLower for TiledQ {
    fn block(&self, l: &mut dyn LowerCtx, _e: &Arc<Expr>, idx: &[u32]) -> Result<TaskId> {
        self.0.q_done(l, 0, idx[0] as usize, idx[1] as usize)
    }
}

#[derive(Debug)]
struct TiledR(Arc<QrPlan>);

impl CustomLower for TiledR {
    fn block(&self, l: &mut dyn LowerCtx, _e: &Arc<Expr>, idx: &[u32]) -> Result<TaskId> {
        self.0.r_block(l, idx[0] as usize, idx[1] as usize)
    }
}

/// Lazy `(Q, R)` of the tiled QR of a 2-D `a` with `m >= n >= 1`, chunked
/// along both axes: Q `m x n`, R `n x n` with a non-negative diagonal.
pub(crate) fn tiled_qr<T: Real>(a: &DArray<T>) -> Result<(DArray<T>, DArray<T>)> {
    let e = &a.expr;
    let (m, n) = (e.shape[0], e.shape[1]);
    let t = n
        .div_ceil(e.grid[1].len())
        .min(m.div_ceil(e.grid[0].len()))
        .max(1);
    let cols = regular(n, t);
    let mut rows = cols.clone();
    if m > n {
        rows.extend(regular(m - n, t));
    }
    let zq = DArray::<T>::zeros(&[m, n], vec![rows.clone(), cols.clone()])?;
    let zr = DArray::<T>::zeros(&[n, n], vec![cols.clone(), cols.clone()])?;
    let plan = Arc::new(QrPlan {
        id: ArrayId::fresh(),
        a: rechunk_expr(e, vec![rows.clone(), cols.clone()]),
        zq: zq.expr.clone(),
        zr: zr.expr.clone(),
        rows: rows.clone(),
        cols: cols.clone(),
    });
    let q = Expr::new(
        "qr-q",
        vec![m, n],
        vec![rows, cols.clone()],
        T::DTYPE,
        ExprKind::Custom(Arc::new(TiledQ(plan.clone()))),
    );
    let r = Expr::new(
        "qr-r",
        vec![n, n],
        vec![cols.clone(), cols],
        T::DTYPE,
        ExprKind::Custom(Arc::new(TiledR(plan))),
    );
    Ok((DArray::wrap(q), DArray::wrap(r)))
}
