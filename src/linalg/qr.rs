//! QR: the direct tall-and-skinny QR of Benson, Gleich and Demmel ([`tsqr`]),
//! CholeskyQR2 and shifted CholeskyQR3 ([`QrMethod`]), and [`qr`] choosing
//! between the tall-skinny and the transposed short-fat variant.
//!
//! TSQR: every row block gets a local Householder QR (kept packed, Q never
//! formed); the R factors are stacked and factored again in a tree of at most
//! [`FAN_IN`] children per node; then, top down, each node multiplies the slice
//! of its parent's product that belongs to it by its own Q (implicitly), so a
//! leaf's product is its block of Q. The plan is shared by the Q and R arrays.

use super::nodes::{key, rowwise, single_block, small};
use super::{matmul, tensordot, Real, FAN_IN, MAX_SMALL_BYTES};
use crate::array::DArray;
use crate::error::{Error, Result};
use crate::expr::node::{recomputed, Expr, ExprKind};
use crate::expr::select::rechunk_expr;
use crate::expr::{CustomLower, LowerCtx};
use crate::graph::{stage, ArrayId, ChunkKey, Op, TaskId};
use darray_kernels::linalg::LinalgOp;
use ndarray::s;
use std::sync::Arc;

/// How [`tsqr_with`] and [`qr_with`] factor a tall-skinny matrix (part of
/// [`QrOptions`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum QrMethod {
    /// Direct Householder TSQR: backward stable for any matrix.
    #[default]
    Householder,
    /// CholeskyQR2 (`R = chol(AᵀA)`, `Q = A R⁻¹`, twice): the speed of `AᵀA`,
    /// accurate while `cond(A)` is below about `u^(-1/2)` (1e8 for `f64`). A Gram
    /// matrix that is not positive definite fails the computation.
    CholeskyQr2,
    /// Shifted CholeskyQR3 (Fukaya et al. 2020): a shifted first pass, then
    /// CholeskyQR2; accurate while `cond(A)` is below about `u^(-1)`.
    ShiftedCholeskyQr3,
    /// CholeskyQR2 when it is accurate, Householder TSQR when not, decided while
    /// the graph runs: the first Cholesky factor refuses (NaN) when its estimated
    /// condition number exceeds `u^(-1/2)/8`, then `‖QᵀQ - I‖_F` of the result is
    /// measured (one more pass, at the speed of `AᵀA`); above 1e-12 (`f64`) or
    /// 1e-5 (`f32`), the Householder tasks, which wait on that check and are
    /// no-ops otherwise, compute the answer. Never worse than [`QrMethod::Householder`].
    Auto,
}

/// What a Householder TSQR keeps of each row block between its R pass (which
/// needs every block's R before the tree's root is known) and its Q pass (part
/// of [`QrOptions`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TsqrLeaves {
    /// [`TsqrLeaves::Recompute`] when the array is larger than an eighth of the
    /// memory budget of the executor that runs the graph
    /// ([`Executor::memory_budget`](crate::Executor::memory_budget); for
    /// [`DArray::graph`], the default executor's), [`TsqrLeaves::Hold`]
    /// otherwise. The choice is made when the graph is built for that executor,
    /// so one lazy result may hold its leaves on one executor and recompute them
    /// on another, to the same bits.
    #[default]
    Auto,
    /// Hold every row block's factorization (as large as the block) until its
    /// block of `Q` is made: one read and one local QR per block, and a peak
    /// memory of the whole array (as dask's TSQR).
    Hold,
    /// Keep only each row block's R (`n x n`); the Q pass reads the block
    /// again and factors it again, to the same bits. Peak memory is bounded by
    /// the blocks in flight, for one more read and local QR per block. Where
    /// the input is not cheap to read again (a reduction's or a product's
    /// result, an in-memory array), its blocks are held as with
    /// [`TsqrLeaves::Hold`], and so are those of [`QrMethod::Auto`]'s
    /// Householder fallback (whose tasks wait for the fast path's check).
    Recompute,
}

/// How a QR is built, wherever one is ([`tsqr_with`], [`qr_with`],
/// [`svd_with`](super::svd_with), [`svd_compressed_with`](super::svd_compressed_with),
/// [`lstsq_with`](super::lstsq_with)): the [`QrMethod`] of the tall-skinny
/// factorization and what its Householder tree keeps of the leaves
/// ([`TsqrLeaves`]). The options are part of the lazy result they build and
/// of nothing else. `Default` is Householder TSQR with [`TsqrLeaves::Auto`],
/// what [`tsqr`], [`qr`], [`svd`](super::svd) and [`lstsq`](super::lstsq) use.
///
/// ```
/// use darray::{linalg, DArray};
/// use darray::linalg::{QrOptions, TsqrLeaves};
/// let a = DArray::<f64>::random_normal(7, &[4000, 6], 0.0, 1.0, [500, 6]).unwrap();
/// let (q, r) = linalg::tsqr_with(&a, QrOptions::default().leaves(TsqrLeaves::Recompute)).unwrap();
/// let (q1, r1) = linalg::tsqr_with(&a, QrOptions::default().leaves(TsqrLeaves::Hold)).unwrap();
/// assert_eq!(q.compute().unwrap(), q1.compute().unwrap()); // the same bits
/// assert_eq!(r.compute().unwrap(), r1.compute().unwrap());
/// assert!(q.num_tasks().unwrap() > q1.num_tasks().unwrap()); // blocks read twice
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct QrOptions {
    /// How the tall-skinny factorization is computed.
    pub method: QrMethod,
    /// What a Householder TSQR keeps of its row blocks for the Q pass.
    pub leaves: TsqrLeaves,
}

impl QrOptions {
    /// These options with `method`.
    #[must_use]
    pub fn method(mut self, method: QrMethod) -> Self {
        self.method = method;
        self
    }

    /// These options with `leaves`.
    #[must_use]
    pub fn leaves(mut self, leaves: TsqrLeaves) -> Self {
        self.leaves = leaves;
        self
    }
}

impl From<QrMethod> for QrOptions {
    fn from(method: QrMethod) -> Self {
        QrOptions::default().method(method)
    }
}

impl From<TsqrLeaves> for QrOptions {
    fn from(leaves: TsqrLeaves) -> Self {
        QrOptions::default().leaves(leaves)
    }
}

/// Per-node sizes of a TSQR tree: `levels[0]` are the row blocks, each level's
/// node `j` stacks the R factors of nodes `j*FAN_IN..` of the level below.
#[derive(Debug)]
struct TsqrPlan {
    id: ArrayId,
    a: Arc<Expr>,
    /// `(rows stacked, rank bound k)` per node per level.
    levels: Vec<Vec<(usize, usize)>>,
    /// For [`QrMethod::Auto`]: the 0-d flag (1: fast path passed) that every
    /// task of this plan waits on, running only if it is 0.
    guard: Option<Arc<Expr>>,
    /// The policy asked for; [`TsqrLeaves::Auto`] is decided per graph, by
    /// [`TsqrPlan::reread`].
    leaves: TsqrLeaves,
    /// Where the leaves may be recomputed (`leaves` is not `Hold`, the tree
    /// has several leaves, no guard, and `a` is cheap to read again): a copy
    /// of `a` whose blocks the Q pass reads again (see [`recomputed`]), made
    /// once so every graph of this plan names the same copy.
    rereadable: Option<Arc<Expr>>,
}

impl TsqrPlan {
    fn new(a: Arc<Expr>, guard: Option<Arc<Expr>>, leaves: TsqrLeaves) -> TsqrPlan {
        let n = a.shape[1];
        let mut levels = vec![a.grid[0].iter().map(|&m| (m, m.min(n))).collect::<Vec<_>>()];
        while levels.last().expect("a level").len() > 1 {
            let next = levels
                .last()
                .expect("a level")
                .chunks(FAN_IN)
                .map(|c| {
                    let m: usize = c.iter().map(|x| x.1).sum();
                    (m, m.min(n))
                })
                .collect();
            levels.push(next);
        }
        // One block: its factorization is the root's, nothing to save.
        // Guarded (`QrMethod::Auto`'s fallback): the leaves wait for the flag
        // and so hold their blocks anyway, and unguarded re-reads would run
        // even when the fast path passed.
        let rereadable = (levels[0].len() >= 2 && guard.is_none() && leaves != TsqrLeaves::Hold)
            .then(|| recomputed(&a))
            .flatten();
        TsqrPlan {
            id: ArrayId::fresh(),
            a,
            levels,
            guard,
            leaves,
            rereadable,
        }
    }

    /// The copy of `a` the Q pass reads again, if the leaves are recomputed in
    /// the graph being lowered: always with [`TsqrLeaves::Recompute`]; with
    /// [`TsqrLeaves::Auto`], when `a` is larger than an eighth of the budget of
    /// the executor the graph is lowered for (held whole, it would take that
    /// share of the budget from everything else in flight). The answer is the
    /// same for every task of one graph, as the budget is.
    fn reread(&self, l: &dyn LowerCtx) -> Option<&Arc<Expr>> {
        let copy = self.rereadable.as_ref()?;
        match self.leaves {
            TsqrLeaves::Hold => None,
            TsqrLeaves::Recompute => Some(copy),
            TsqrLeaves::Auto => {
                let held = self.a.shape.iter().product::<usize>() as u64 * self.elem();
                (held > l.memory_budget() / 8).then_some(copy)
            }
        }
    }

    /// Appends a task, guarded by the plan's flag if it has one.
    fn push(
        &self,
        l: &mut dyn LowerCtx,
        key: ChunkKey,
        op: LinalgOp,
        mut ins: Vec<TaskId>,
        out: u64,
        scratch: u64,
    ) -> Result<TaskId> {
        let op = match &self.guard {
            Some(g) => {
                ins.push(l.block(g, &[])?);
                LinalgOp::Fallback { op: Box::new(op) }
            }
            None => op,
        };
        Ok(l.push_task(key, Op::Linalg { op }, ins, out, scratch))
    }

    fn top(&self) -> usize {
        self.levels.len() - 1
    }

    fn rank(&self) -> usize {
        self.levels[self.top()][0].1
    }

    /// Key of node `j` at `level` of the tree whose first stage is `first`
    /// (`stage::TSQR_R_FIRST` or `stage::TSQR_Q_FIRST`).
    fn pkey(&self, first: u8, level: usize, j: usize) -> ChunkKey {
        let level = u8::try_from(level)
            .ok()
            .filter(|&l| l <= stage::TSQR_LEVELS)
            .expect("a TSQR tree over u32 blocks has at most 33 levels");
        ChunkKey {
            array: self.id,
            stage: first + level,
            block: vec![u32::try_from(j).expect("block index fits u32")],
        }
    }

    fn elem(&self) -> u64 {
        self.a.dtype.size() as u64
    }

    /// LAPACK workspace of a QR or Q application on `n` columns (block size 64).
    fn work(&self) -> u64 {
        let n = self.a.shape[1] as u64;
        (n + 64) * 64 * self.elem()
    }

    /// Rows per sub-block if row block `j` is factored as a blocked leaf
    /// (`darray_kernels::linalg::qr::qr_leaf`): blocks of at least twice
    /// [`leaf_block_rows`] rows.
    fn leaf_blocking(&self, j: usize) -> Option<usize> {
        let (rows, n) = (self.levels[0][j].0, self.a.shape[1]);
        let b = leaf_block_rows(n);
        (n > 0 && rows >= 2 * b).then_some(b)
    }

    /// Scratch of a blocked leaf task: one sub-block's copies, and (applying)
    /// the stacked R factors' product.
    fn leaf_work(&self, b: usize, rows: usize) -> u64 {
        let n = self.a.shape[1] as u64;
        let subs = (rows / b) as u64;
        ((2 * b as u64 + 2) * n + (subs * n + 1) * n) * self.elem() + self.work()
    }

    /// The packed factorization of node `j` of `level` (of a row block when
    /// [`TsqrPlan::reread`] has a copy: its R alone).
    fn packed(&self, l: &mut dyn LowerCtx, level: usize, j: usize) -> Result<TaskId> {
        l.cached(self.pkey(stage::TSQR_R_FIRST, level, j), |l| {
            let n = self.a.shape[1] as u64;
            let (rows, k) = self.levels[level][j];
            if level == 0 {
                let input = row_block(l, &self.a, j)?;
                let block_rows = self.leaf_blocking(j);
                let (out, scratch) = self.leaf_bytes(j);
                let (op, out, scratch) = match (self.reread(l), block_rows) {
                    (Some(_), _) => (
                        LinalgOp::QrR { block_rows },
                        (k as u64 + 1) * n * self.elem(),
                        out + scratch,
                    ),
                    (None, Some(b)) => (LinalgOp::QrLeaf { block_rows: b }, out, scratch),
                    (None, None) => (LinalgOp::QrStack { packed: false }, out, scratch),
                };
                return self.push(
                    l,
                    self.pkey(stage::TSQR_R_FIRST, 0, j),
                    op,
                    vec![input],
                    out,
                    scratch,
                );
            }
            let lo = j * FAN_IN;
            let hi = (lo + FAN_IN).min(self.levels[level - 1].len());
            let ins = (lo..hi)
                .map(|c| self.packed(l, level - 1, c))
                .collect::<Result<Vec<_>>>()?;
            let out = (rows as u64 + 1) * n * self.elem();
            self.push(
                l,
                self.pkey(stage::TSQR_R_FIRST, level, j),
                LinalgOp::QrStack { packed: true },
                ins,
                out,
                self.work(),
            )
        })
    }

    /// `Q_node · C_node` for node `j` of `level`: rows of Q for a leaf; with a
    /// `right` factor `W`, rows of `Q W` (the root's `C` is `diag(signs) W`
    /// instead of `diag(signs)`, so every node's product is `p` columns wide).
    fn applied(
        &self,
        l: &mut dyn LowerCtx,
        level: usize,
        j: usize,
        leaf_key: Option<ChunkKey>,
        right: Option<&RightFactor>,
    ) -> Result<TaskId> {
        let make = |l: &mut dyn LowerCtx, k: ChunkKey| -> Result<TaskId> {
            if level == 0 {
                if let Some(reread) = self.reread(l) {
                    return self.refactor_applied(l, reread, j, k, right);
                }
            }
            let p = self.packed(l, level, j)?;
            let (ins, offset) = if level == self.top() {
                match right {
                    None => (vec![p], 0),
                    Some(w) => (vec![p, self.signed_right(l, w)?], 0),
                }
            } else {
                let parent = j / FAN_IN;
                let offset = (parent * FAN_IN..j).map(|s| self.levels[level][s].1).sum();
                (
                    vec![p, self.applied(l, level + 1, parent, None, right)?],
                    offset,
                )
            };
            let rows = self.levels[level][j].0;
            let width = right.map_or(self.rank(), |w| w.expr.shape[1]);
            let out = (rows * width) as u64 * self.elem();
            match (level, self.leaf_blocking(j)) {
                (0, Some(block_rows)) => self.push(
                    l,
                    k,
                    LinalgOp::ApplyQLeaf {
                        offset,
                        rows,
                        block_rows,
                    },
                    ins,
                    out,
                    self.leaf_work(block_rows, rows),
                ),
                _ => self.push(l, k, LinalgOp::ApplyQ { offset }, ins, out, self.work()),
            }
        };
        match leaf_key {
            Some(k) => make(l, k),
            None => {
                let mut k = self.pkey(stage::TSQR_Q_FIRST, level, j);
                if let Some(w) = right {
                    k.array = w.id;
                }
                l.cached(k.clone(), |l| make(l, k))
            }
        }
    }

    /// Output and scratch bytes of row block `j`'s full factorization, as
    /// [`LinalgOp::QrLeaf`] or [`LinalgOp::QrStack`] makes it (a task that
    /// factors the block and keeps or applies only part of it needs both as
    /// scratch).
    fn leaf_bytes(&self, j: usize) -> (u64, u64) {
        let (rows, n) = (self.levels[0][j].0 as u64, self.a.shape[1] as u64);
        match self.leaf_blocking(j) {
            Some(b) => {
                let subs = rows / b as u64;
                (
                    (rows + subs + subs * n + 1) * n * self.elem(),
                    self.leaf_work(b, rows as usize),
                )
            }
            None => ((rows + 1) * n * self.elem(), self.work()),
        }
    }

    /// Row block `j` of `Q · C` when the R pass kept only the block's R: the
    /// block is read again (from `reread`, so its first read was released after
    /// the R pass) and factored again, to the same bits, then applied. The
    /// parent's product is the first input, so the depth-first priorities run
    /// the whole R pass before any re-read.
    fn refactor_applied(
        &self,
        l: &mut dyn LowerCtx,
        reread: &Arc<Expr>,
        j: usize,
        key: ChunkKey,
        right: Option<&RightFactor>,
    ) -> Result<TaskId> {
        let parent = j / FAN_IN;
        let offset = (parent * FAN_IN..j).map(|s| self.levels[0][s].1).sum();
        let c = self.applied(l, 1, parent, None, right)?;
        let block = row_block(l, reread, j)?;
        let rows = self.levels[0][j].0;
        let width = right.map_or(self.rank(), |w| w.expr.shape[1]);
        let (full, scratch) = self.leaf_bytes(j);
        self.push(
            l,
            key,
            LinalgOp::RefactorApplyQ {
                offset,
                block_rows: self.leaf_blocking(j),
            },
            vec![c, block],
            (rows * width) as u64 * self.elem(),
            full + scratch,
        )
    }

    /// `diag(signs of the root's R) · W`: the root's `C` for a right factor `W`.
    fn signed_right(&self, l: &mut dyn LowerCtx, w: &RightFactor) -> Result<TaskId> {
        let k = ChunkKey {
            array: w.id,
            stage: stage::TSQR_SIGNED_RIGHT,
            block: vec![0],
        };
        l.cached(k.clone(), |l| {
            let p = self.packed(l, self.top(), 0)?;
            let wb = l.block(&w.expr, &[0, 0])?;
            let rank = self.rank();
            let out = (rank * w.expr.shape[1]) as u64 * self.elem();
            self.push(
                l,
                k,
                LinalgOp::TqrSignedRows { rows: (0, rank) },
                vec![p, wb],
                out,
                0,
            )
        })
    }
}

/// The task of row block `j` of the one-column-block array `e`.
fn row_block(l: &mut dyn LowerCtx, e: &Arc<Expr>, j: usize) -> Result<TaskId> {
    l.block(e, &[u32::try_from(j).expect("block index fits u32"), 0])
}

/// A small one-block `k x p` right factor `W` of a TSQR's Q: its blocks of
/// `Q W` are made by the same tree pass that makes Q's, with `p` columns.
#[derive(Debug)]
struct RightFactor {
    /// Keys of the tree's inner products and the signed `W`.
    id: ArrayId,
    /// `W`, one block.
    expr: Arc<Expr>,
}

/// Rows per sub-block of a blocked leaf with `n` columns: a sub-block of 2048
/// rows of 32 float64 columns is 512 KiB, in a core's L2 cache here; wider
/// matrices get taller sub-blocks (8 n rows), keeping the extra QR of the
/// stacked R factors under an eighth of the leaf's flops.
pub(crate) fn leaf_block_rows(n: usize) -> usize {
    (8 * n).max(2048)
}

#[derive(Debug)]
struct TsqrQ(Arc<TsqrPlan>, Option<RightFactor>);

impl CustomLower for TsqrQ {
    fn block(&self, l: &mut dyn LowerCtx, e: &Arc<Expr>, idx: &[u32]) -> Result<TaskId> {
        self.0.applied(
            l,
            0,
            idx[0] as usize,
            Some(key(e, stage::BLOCK, idx)),
            self.1.as_ref(),
        )
    }
}

/// A Householder TSQR whose `R` is known before its `Q` is used: `Q W` for a
/// small `W` computed from `R` (the SVD's `U = Q U_R`) is made in the tree's
/// single pass over the leaves, never forming `Q` ([`TsqrParts::q_times`]).
pub(crate) struct TsqrParts<T: Real> {
    plan: Arc<TsqrPlan>,
    /// The R factor (`k x n`, non-negative diagonal), as [`tsqr`]'s.
    pub r: DArray<T>,
}

impl<T: Real> TsqrParts<T> {
    /// Householder TSQR of `a` (see [`tsqr`]) keeping `leaves`.
    pub(crate) fn new(a: &DArray<T>, leaves: TsqrLeaves) -> Result<TsqrParts<T>> {
        let e = tall_skinny(a, "tsqr")?;
        let plan = Arc::new(TsqrPlan::new(e, None, leaves));
        let r = r_expr::<T>(&plan);
        Ok(TsqrParts { plan, r })
    }

    /// `Q W` (`m x p`, chunked like `a` by rows) for a `k x p` array `W`
    /// (rechunked to one block): one pass of the tree, as forming `Q` costs.
    pub(crate) fn q_times(&self, w: &DArray<T>) -> Result<DArray<T>> {
        let k = self.plan.rank();
        if w.ndim() != 2 || w.shape()[0] != k {
            return Err(Error::InvalidArgument {
                array: w.name().to_string(),
                reason: format!(
                    "the right factor of a TSQR's Q of rank {k} must be {k} x p, got shape {:?}",
                    w.shape()
                ),
            });
        }
        let p = w.shape()[1];
        let right = RightFactor {
            id: ArrayId::fresh(),
            expr: single_block(&w.expr),
        };
        let (m, grid) = (self.plan.a.shape[0], self.plan.a.grid[0].clone());
        Ok(DArray::wrap(Expr::new(
            "tsqr-qw",
            vec![m, p],
            vec![grid, vec![p]],
            T::DTYPE,
            ExprKind::Custom(Arc::new(TsqrQ(self.plan.clone(), Some(right)))),
        )))
    }
}

fn r_expr<T: Real>(plan: &Arc<TsqrPlan>) -> DArray<T> {
    let (k, n) = (plan.rank(), plan.a.shape[1]);
    DArray::wrap(Expr::new(
        "tsqr-r",
        vec![k, n],
        vec![vec![k], vec![n]],
        T::DTYPE,
        ExprKind::Custom(Arc::new(TsqrR(plan.clone()))),
    ))
}

#[derive(Debug)]
struct TsqrR(Arc<TsqrPlan>);

impl CustomLower for TsqrR {
    fn block(&self, l: &mut dyn LowerCtx, e: &Arc<Expr>, idx: &[u32]) -> Result<TaskId> {
        let plan = &self.0;
        let p = plan.packed(l, plan.top(), 0)?;
        plan.push(
            l,
            key(e, stage::BLOCK, idx),
            LinalgOp::RFactor,
            vec![p],
            e.block_bytes(idx),
            0,
        )
    }
}

/// `a` as a tall-skinny operand: 2-D, columns in one chunk (rechunked if needed).
pub(crate) fn tall_skinny<T: Real>(a: &DArray<T>, what: &str) -> Result<Arc<Expr>> {
    let e = &a.expr;
    if e.shape.len() != 2 {
        return Err(Error::InvalidArgument {
            array: e.name.clone(),
            reason: format!("{what} needs a 2-D array, got shape {:?}", e.shape),
        });
    }
    let n = e.shape[1] as u64;
    let size = T::DTYPE.size() as u64;
    if n * n * size > MAX_SMALL_BYTES {
        return Err(Error::InvalidArgument {
            array: e.name.clone(),
            reason: format!(
                "{what} of shape {:?}: {n} columns make an R factor of {} bytes, over the {MAX_SMALL_BYTES}-byte limit for a tall-and-skinny factorization",
                e.shape,
                n * n * size
            ),
        });
    }
    Ok(rechunk_expr(e, vec![e.grid[0].clone(), vec![e.shape[1]]]))
}

/// The direct tall-and-skinny QR (Benson, Gleich, Demmel 2013) of a 2-D array:
/// lazy `(Q, R)` with `A = Q R`, `Q` (`m x k`, `k = min(m, n)`) chunked like `a`
/// by rows with orthonormal columns, `R` (`k x n`) upper triangular with a
/// non-negative diagonal. Columns spread over several chunks are rechunked into
/// one.
///
/// ```
/// use darray::{linalg, DArray};
/// let a = DArray::<f64>::random_normal(7, &[1000, 5], 0.0, 1.0, [128, 5]).unwrap();
/// let (q, r) = linalg::tsqr(&a).unwrap();
/// let back = linalg::matmul(&q, &r).unwrap().compute().unwrap();
/// let a = a.compute().unwrap();
/// assert!(back.iter().zip(a.iter()).all(|(x, y)| (x - y).abs() < 1e-12));
/// ```
///
/// # Errors
/// An array that is not 2-D, or too many columns for the R factor to fit a task.
pub fn tsqr<T: Real>(a: &DArray<T>) -> Result<(DArray<T>, DArray<T>)> {
    tsqr_with(a, QrOptions::default())
}

/// [`tsqr`] with [`QrOptions`] (or just a [`QrMethod`] or a [`TsqrLeaves`],
/// the rest default).
///
/// ```
/// use darray::{linalg, DArray};
/// use darray::linalg::{QrMethod, QrOptions};
/// let a = DArray::<f64>::random_normal(7, &[1000, 5], 0.0, 1.0, [128, 5]).unwrap();
/// let (q, r) = linalg::tsqr_with(&a, QrOptions::default().method(QrMethod::CholeskyQr2)).unwrap();
/// let (q1, r1) = linalg::tsqr_with(&a, QrMethod::Householder).unwrap();
/// let (r, r1) = (r.compute().unwrap(), r1.compute().unwrap());
/// assert!(r.iter().zip(r1.iter()).all(|(x, y)| (x - y).abs() < 1e-10));
/// ```
///
/// # Errors
/// As [`tsqr`].
pub fn tsqr_with<T: Real>(
    a: &DArray<T>,
    opts: impl Into<QrOptions>,
) -> Result<(DArray<T>, DArray<T>)> {
    let QrOptions { method, leaves } = opts.into();
    let e = tall_skinny(a, "tsqr")?;
    match method {
        QrMethod::Householder => Ok(householder::<T>(e, None, leaves)),
        QrMethod::CholeskyQr2 => cholesky_qr(&DArray::wrap(e), 2, 0.0, None),
        QrMethod::ShiftedCholeskyQr3 => {
            let (m, n) = (e.shape[0] as f64, e.shape[1] as f64);
            let shift = 11.0 * (m * n + n * (n + 1.0)) * T::UNIT_ROUNDOFF;
            cholesky_qr(&DArray::wrap(e), 3, shift, None)
        }
        QrMethod::Auto if e.shape[0] < e.shape[1] => Ok(householder::<T>(e, None, leaves)),
        QrMethod::Auto => {
            let n = e.shape[1];
            let max_cond = (1.0 / T::UNIT_ROUNDOFF).sqrt() / 8.0;
            let a = DArray::<T>::wrap(e.clone());
            let (qf, rf, factors) = cholesky_qr_parts(&a, 2, 0.0, Some(max_cond), true)?;
            let g = tensordot(&qf, &qf, &[0], &[0])?;
            let tol = if T::UNIT_ROUNDOFF < 1e-10 {
                1e-12
            } else {
                1e-5
            };
            let flag = small(
                "qr-check",
                LinalgOp::OrthoCheck { tol },
                &[&g.expr],
                vec![],
                T::DTYPE,
                0,
            );
            let (qh, rh) = householder::<T>(e, Some(flag.clone()), leaves);
            // A is held anyway (for the fallback), so every Q is made from A's
            // blocks where it is needed (each pass's Gram, the check, and the
            // output once the check has passed) and none is held: the peak is
            // A and the blocks in flight, and the same kernels give the same
            // bits each time.
            let mut side: Vec<&Arc<Expr>> = factors.iter().map(|f| &f.expr).collect();
            side.push(&flag);
            let q = rowwise(
                "qr-q",
                LinalgOp::SelectCholeskyQ,
                &[&a.expr, &qh.expr],
                &side,
                n,
                T::DTYPE,
            );
            let r = small(
                "qr-r",
                LinalgOp::Select,
                &[&rf.expr, &rh.expr, &flag],
                vec![n, n],
                T::DTYPE,
                0,
            );
            Ok((DArray::wrap(q), DArray::wrap(r)))
        }
    }
}

/// Lazy `(Q, R)` of Householder TSQR of `e` (2-D, one column block).
fn householder<T: Real>(
    e: Arc<Expr>,
    guard: Option<Arc<Expr>>,
    leaves: TsqrLeaves,
) -> (DArray<T>, DArray<T>) {
    let plan = Arc::new(TsqrPlan::new(e, guard, leaves));
    let (m, k) = (plan.a.shape[0], plan.rank());
    let q = Expr::new(
        "tsqr-q",
        vec![m, k],
        vec![plan.a.grid[0].clone(), vec![k]],
        T::DTYPE,
        ExprKind::Custom(Arc::new(TsqrQ(plan.clone(), None))),
    );
    (DArray::wrap(q), r_expr(&plan))
}

/// `passes` rounds of CholeskyQR, the first with a relative diagonal shift (and,
/// for the automatic method, a condition limit).
fn cholesky_qr<T: Real>(
    a: &DArray<T>,
    passes: usize,
    shift: f64,
    max_cond: Option<f64>,
) -> Result<(DArray<T>, DArray<T>)> {
    cholesky_qr_parts(a, passes, shift, max_cond, false).map(|(q, r, _)| (q, r))
}

/// CholeskyQR's `Q`, `R` and each pass's R factor.
type CholeskyQrParts<T> = (DArray<T>, DArray<T>, Vec<DArray<T>>);

/// [`cholesky_qr`], and each pass's R factor (`Q = A R₁⁻¹ R₂⁻¹ …`). With
/// `from_a`, each pass's Q is made from `A`'s blocks through every factor so
/// far (the same bits), so no pass's Q is held while the next R is computed:
/// for callers that hold `A` anyway.
fn cholesky_qr_parts<T: Real>(
    a: &DArray<T>,
    passes: usize,
    shift: f64,
    max_cond: Option<f64>,
    from_a: bool,
) -> Result<CholeskyQrParts<T>> {
    let n = a.shape()[1];
    if a.shape()[0] < n {
        return Err(Error::InvalidArgument {
            array: a.name().to_string(),
            reason: format!(
                "CholeskyQR needs at least as many rows as columns, got shape {:?}",
                a.shape()
            ),
        });
    }
    let mut q = a.clone();
    let mut r: Option<DArray<T>> = None;
    let mut factors = Vec::with_capacity(passes);
    for pass in 0..passes {
        let g = tensordot(&q, &q, &[0], &[0])?;
        let (shift, max_cond) = if pass == 0 {
            (shift, max_cond)
        } else {
            (0.0, max_cond.map(|_| f64::INFINITY))
        };
        let ri = DArray::wrap(small(
            "chol",
            LinalgOp::Cholesky { shift, max_cond },
            &[&g.expr],
            vec![n, n],
            T::DTYPE,
            0,
        ));
        factors.push(ri.clone());
        let (src, side): (&Arc<Expr>, Vec<&Arc<Expr>>) = if from_a {
            (&a.expr, factors.iter().map(|f| &f.expr).collect())
        } else {
            (&q.expr, vec![&ri.expr])
        };
        let next = rowwise(
            "cholqr-q",
            LinalgOp::TriSolveRight,
            &[src],
            &side,
            n,
            T::DTYPE,
        );
        q = DArray::wrap(next);
        r = Some(match r {
            None => ri,
            Some(prev) => matmul(&ri, &prev)?,
        });
    }
    Ok((q, r.expect("at least one pass"), factors))
}

/// QR of a 2-D array. Tall (`m >= n`) and chunked along both axes: a tiled
/// Householder QR (PLASMA-style tile QR with a flat tree per panel; tiles of
/// the size of the finer axis's chunks), whose largest task holds a few tiles.
/// Tall with the columns in one chunk (or a method other than
/// [`QrMethod::Householder`]): [`tsqr`]. Short-and-fat (`m < n`): the leading
/// `m x m` block is factored as above (`A₁ = Q R₁`) and `R = [R₁, Qᵀ A₂]`.
/// `Q` is `m x min(m, n)`, `R` is `min(m, n) x n`, upper triangular with a
/// non-negative diagonal.
///
/// ```
/// use darray::{linalg, DArray};
/// let a = DArray::<f64>::random_normal(1, &[4, 30], 0.0, 1.0, [4, 7]).unwrap();
/// let (q, r) = linalg::qr(&a).unwrap();
/// assert_eq!((q.shape(), r.shape()), (&[4, 4][..], &[4, 30][..]));
///
/// let a = DArray::<f64>::random_normal(2, &[90, 60], 0.0, 1.0, [20, 20]).unwrap();
/// let (q, r) = linalg::qr(&a).unwrap(); // tiled: 20 x 20 tiles
/// let back = linalg::matmul(&q, &r).unwrap().compute().unwrap();
/// let a = a.compute().unwrap();
/// assert!(back.iter().zip(a.iter()).all(|(x, y)| (x - y).abs() < 1e-12));
/// ```
///
/// # Errors
/// An array that is not 2-D, or (with the columns in one chunk) one whose
/// smaller side is too long for its square factor to fit in one task.
pub fn qr<T: Real>(a: &DArray<T>) -> Result<(DArray<T>, DArray<T>)> {
    qr_with(a, QrOptions::default())
}

/// [`qr`] with [`QrOptions`] for the tall-skinny factorization (or just a
/// [`QrMethod`] or a [`TsqrLeaves`], the rest default).
///
/// # Errors
/// As [`qr`].
pub fn qr_with<T: Real>(
    a: &DArray<T>,
    opts: impl Into<QrOptions>,
) -> Result<(DArray<T>, DArray<T>)> {
    let opts = opts.into();
    if a.ndim() != 2 {
        return Err(Error::InvalidArgument {
            array: a.name().to_string(),
            reason: format!("qr needs a 2-D array, got shape {:?}", a.shape()),
        });
    }
    let (m, n) = (a.shape()[0], a.shape()[1]);
    if m >= n {
        let both = a.chunks()[0].len() > 1 && a.chunks()[1].len() > 1;
        if both && n > 0 && opts.method == QrMethod::Householder {
            return super::tiled_qr::tiled_qr(a);
        }
        return tsqr_with(a, opts);
    }
    let left = a.slice(s![.., ..m])?;
    let (q, r1) = qr_with(&left, opts)?;
    let right = a.slice(s![.., m..])?;
    let r2 = matmul(&q.t(), &right)?;
    let r = DArray::concatenate(&[&r1, &r2], 1)?;
    Ok((q, r))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{Array2, Ix2};

    fn arr(seed: u64, m: usize, n: usize) -> Array2<f64> {
        Array2::from_shape_fn((m, n), |(i, j)| {
            let x = (i as u64 * 31 + j as u64 * 17 + seed * 7) as f64;
            (x * 0.618).sin() + 0.1 * (x * 1.3).cos()
        })
    }

    /// `Q W` from the tree's own pass equals `Q` times `W` (to 1e-12), for a
    /// `W` of another width than `k`, on irregular and single row blocks, and
    /// costs the same Q applications as forming `Q` (no block product).
    #[test]
    fn q_times_matches_q_then_product() {
        for (rows, n, p) in [
            (vec![40, 13, 27, 5, 61], 5, 3),
            (vec![9], 9, 12),
            (vec![5000, 4200, 30], 4, 2),
        ] {
            let m: usize = rows.iter().sum();
            let a = arr(n as u64, m, n);
            let w = arr(99, n, p);
            let da = DArray::from_ndarray(&a, vec![rows.clone(), vec![n]]).unwrap();
            let dw = DArray::from_ndarray(&w, vec![vec![2.min(n), n - 2.min(n)], vec![p]]).unwrap();
            let parts = TsqrParts::new(&da, TsqrLeaves::Auto).unwrap();
            let qw = parts.q_times(&dw).unwrap();
            assert_eq!(qw.chunks()[0], rows);
            let (q, r) = tsqr(&da).unwrap();
            let q = q.compute().unwrap().into_dimensionality::<Ix2>().unwrap();
            let got = qw.compute().unwrap().into_dimensionality::<Ix2>().unwrap();
            let want = q.dot(&w);
            let err = (&got - &want).iter().fold(0.0f64, |e, x| e.max(x.abs()));
            assert!(err < 1e-12, "{rows:?}: {err:e}");
            // The same R as tsqr's.
            assert_eq!(parts.r.compute().unwrap(), r.compute().unwrap());
            let (cq, cw) = (
                tsqr(&da).unwrap().0.graph().unwrap().op_counts(),
                qw.graph().unwrap().op_counts(),
            );
            for op in ["apply_q", "apply_q_leaf", "qr", "qr_leaf"] {
                assert_eq!(cq.get(op), cw.get(op), "{op}");
            }
            assert!(!cw.contains_key("tensordot"));
        }
    }

    #[test]
    fn q_times_rejects_a_wrong_right_factor() {
        let da = DArray::from_ndarray(&arr(1, 20, 3), [7, 3]).unwrap();
        let parts = TsqrParts::new(&da, TsqrLeaves::Auto).unwrap();
        let bad = DArray::from_ndarray(&arr(2, 4, 3), [4, 3]).unwrap();
        assert!(matches!(
            parts.q_times(&bad),
            Err(Error::InvalidArgument { .. })
        ));
        let flat = DArray::from_ndarray(&arr(2, 3, 1), [3, 1])
            .unwrap()
            .slice(s![.., 0])
            .unwrap();
        assert!(parts.q_times(&flat).is_err());
    }
}
