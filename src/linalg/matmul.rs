//! Block products: [`tensordot`] over any axes of n-d arrays and [`matmul`] /
//! [`DArray::dot`] for vectors and matrices. An output block is the sum over the
//! contracted blocks of their products: products of up to [`FAN_IN`] block pairs
//! per task, then a tree of sums of at most [`FAN_IN`] partial results, in block
//! order (so results do not depend on the executor). The contracted axes of
//! both operands are cut at the union of their block boundaries first.

use super::nodes::key;
use super::{Real, FAN_IN};
use crate::array::{normalize_axis, DArray};
use crate::error::{Error, Result};
use crate::expr::grid::{block_indices, refine, Grid};
use crate::expr::node::{Expr, ExprKind};
use crate::expr::select::rechunk_expr;
use crate::expr::{CustomLower, LowerCtx};
use crate::graph::{stage, Op, TaskId};
use darray_kernels::linalg::LinalgOp;
use std::sync::Arc;

/// Input bytes a block-product task gathers at most (unless one pair is larger).
const PAIR_BYTES: u64 = 64 << 20;

/// `e` and its contracted `axes` with a transpose folded in: a contraction
/// reads its blocks through strided views, so `tensordot(a.T, b)` need not
/// copy `a`'s blocks into transposed ones first. Folded only where the free
/// axes keep their order (always for matrices), which the output's axes follow.
fn untranspose(e: &Arc<Expr>, axes: Vec<usize>) -> (Arc<Expr>, Vec<usize>) {
    if let ExprKind::Transpose { input, perm } = &e.kind {
        let free: Vec<usize> = (0..perm.len())
            .filter(|x| !axes.contains(x))
            .map(|x| perm[x])
            .collect();
        if free.windows(2).all(|w| w[0] < w[1]) {
            return (input.clone(), axes.iter().map(|&x| perm[x]).collect());
        }
    }
    (e.clone(), axes)
}

#[derive(Debug)]
struct Tensordot {
    a: Arc<Expr>,
    b: Arc<Expr>,
    axes_a: Vec<usize>,
    axes_b: Vec<usize>,
}

impl CustomLower for Tensordot {
    fn block(&self, l: &mut dyn LowerCtx, e: &Arc<Expr>, idx: &[u32]) -> Result<TaskId> {
        let (a, b) = (&self.a, &self.b);
        let free_a: Vec<usize> = (0..a.shape.len())
            .filter(|x| !self.axes_a.contains(x))
            .collect();
        let free_b: Vec<usize> = (0..b.shape.len())
            .filter(|x| !self.axes_b.contains(x))
            .collect();
        let (ia, ib) = idx.split_at(free_a.len());
        let counts: Grid = self
            .axes_a
            .iter()
            .map(|&x| vec![0; a.grid[x].len()])
            .collect();
        let mut pairs = Vec::new();
        for c in block_indices(&counts) {
            let mut ai = vec![0u32; a.shape.len()];
            let mut bi = vec![0u32; b.shape.len()];
            for (&x, &i) in free_a.iter().zip(ia) {
                ai[x] = i;
            }
            for (&x, &i) in free_b.iter().zip(ib) {
                bi[x] = i;
            }
            for (t, &ci) in c.iter().enumerate() {
                ai[self.axes_a[t]] = ci;
                bi[self.axes_b[t]] = ci;
            }
            pairs.push((l.block(a, &ai)?, l.block(b, &bi)?));
        }
        let out = e.block_bytes(idx);
        // n-d blocks are copied into matrix layout before the product.
        let copies = |l: &dyn LowerCtx, p: &[(TaskId, TaskId)]| -> u64 {
            if a.shape.len() == 2 && b.shape.len() <= 2 || a.shape.len() <= 2 && b.shape.len() == 2
            {
                0
            } else {
                p.iter()
                    .map(|&(x, y)| l.out_bytes(x) + l.out_bytes(y))
                    .max()
                    .unwrap_or(0)
            }
        };
        let op = LinalgOp::TensordotSum {
            axes_a: self.axes_a.clone(),
            axes_b: self.axes_b.clone(),
        };
        // Large blocks get fewer pairs per task, so that a task waits for (and
        // holds) at most about PAIR_BYTES of inputs: a block is freed once its
        // product is taken, not when the whole group is there.
        let pair_bytes = pairs
            .first()
            .map_or(0, |&(x, y)| l.out_bytes(x) + l.out_bytes(y));
        let per_task = usize::try_from(PAIR_BYTES / pair_bytes.max(1))
            .unwrap_or(FAN_IN)
            .clamp(1, FAN_IN);
        let groups: Vec<&[(TaskId, TaskId)]> = pairs.chunks(per_task).collect();
        if groups.len() == 1 {
            let ins = groups[0].iter().flat_map(|&(x, y)| [x, y]).collect();
            let scratch = copies(l, groups[0]);
            return Ok(l.push_task(
                key(e, stage::BLOCK, idx),
                Op::Linalg { op },
                ins,
                out,
                scratch,
            ));
        }
        let mut level: Vec<TaskId> = Vec::new();
        for (g, grp) in groups.iter().enumerate() {
            let ins = grp.iter().flat_map(|&(x, y)| [x, y]).collect();
            let scratch = copies(l, grp);
            let mut k = idx.to_vec();
            k.push(u32::try_from(g).expect("group index fits u32"));
            level.push(l.push_task(
                key(e, stage::PARTIAL, &k),
                Op::Linalg { op: op.clone() },
                ins,
                out,
                scratch,
            ));
        }
        let mut merge_stage = stage::MERGE_FIRST;
        loop {
            let groups: Vec<Vec<TaskId>> = level.chunks(FAN_IN).map(<[TaskId]>::to_vec).collect();
            if groups.len() == 1 {
                let ins = groups.into_iter().next().expect("one group");
                return Ok(l.push_task(
                    key(e, stage::BLOCK, idx),
                    Op::Linalg {
                        op: LinalgOp::SumBlocks,
                    },
                    ins,
                    out,
                    0,
                ));
            }
            level = groups
                .into_iter()
                .enumerate()
                .map(|(g, ins)| {
                    let mut k = idx.to_vec();
                    k.push(u32::try_from(g).expect("group index fits u32"));
                    l.push_task(
                        key(e, merge_stage, &k),
                        Op::Linalg {
                            op: LinalgOp::SumBlocks,
                        },
                        ins,
                        out,
                        0,
                    )
                })
                .collect();
            merge_stage += 1;
            debug_assert!(
                merge_stage <= stage::MERGE_LAST,
                "a tree of fan-in >= 2 over u32 blocks"
            );
        }
    }
}

/// Tensor contraction of `a` over `axes_a` with `b` over `axes_b` (NumPy's
/// `tensordot(a, b, axes=(axes_a, axes_b))`): the output's axes are the free
/// axes of `a`, then those of `b`, chunked as in the inputs. Negative axes count
/// from the end.
///
/// ```
/// use darray::{linalg, DArray};
/// let a = DArray::<f64>::arange(0.0, 24.0, 1.0, [5]).unwrap();
/// let a = linalg::tensordot(&a, &DArray::<f64>::ones(&[24], [7]).unwrap(), &[0], &[0]).unwrap();
/// assert_eq!(a.compute_scalar().unwrap(), 276.0);
/// ```
///
/// # Errors
/// Axes out of range or repeated, `axes_a` and `axes_b` of different lengths,
/// or contracted axes of different lengths.
pub fn tensordot<T: Real>(
    a: &DArray<T>,
    b: &DArray<T>,
    axes_a: &[isize],
    axes_b: &[isize],
) -> Result<DArray<T>> {
    let (ea, eb) = (&a.expr, &b.expr);
    let bad = |reason: String| Error::InvalidArgument {
        array: format!("tensordot({}, {})", ea.name, eb.name),
        reason,
    };
    if axes_a.len() != axes_b.len() {
        return Err(bad(format!(
            "{} axes of the left operand paired with {} of the right",
            axes_a.len(),
            axes_b.len()
        )));
    }
    let norm = |e: &Expr, axes: &[isize]| -> Result<Vec<usize>> {
        let mut out: Vec<usize> = Vec::with_capacity(axes.len());
        for &x in axes {
            let u = normalize_axis(&e.name, x, e.shape.len())?;
            if out.contains(&u) {
                return Err(Error::DuplicateAxis {
                    array: e.name.clone(),
                    axis: u,
                });
            }
            out.push(u);
        }
        Ok(out)
    };
    let (xa, xb) = (norm(ea, axes_a)?, norm(eb, axes_b)?);
    let ((ea, xa), (eb, xb)) = (untranspose(ea, xa), untranspose(eb, xb));
    let (ea, eb) = (&ea, &eb);
    for (&i, &j) in xa.iter().zip(&xb) {
        if ea.shape[i] != eb.shape[j] {
            return Err(bad(format!(
                "contracted axis {i} of shape {:?} has length {}, axis {j} of shape {:?} has {}",
                ea.shape, ea.shape[i], eb.shape, eb.shape[j]
            )));
        }
    }
    let (mut ga, mut gb) = (ea.grid.clone(), eb.grid.clone());
    for (&i, &j) in xa.iter().zip(&xb) {
        let g = refine(&ga[i], &gb[j]);
        ga[i] = g.clone();
        gb[j] = g;
    }
    let (ra, rb) = (rechunk_expr(ea, ga), rechunk_expr(eb, gb));
    let mut shape = Vec::new();
    let mut grid = Vec::new();
    for (e, axes) in [(&ra, &xa), (&rb, &xb)] {
        for d in (0..e.shape.len()).filter(|d| !axes.contains(d)) {
            shape.push(e.shape[d]);
            grid.push(e.grid[d].clone());
        }
    }
    Ok(DArray::wrap(Expr::new(
        "tensordot",
        shape,
        grid,
        T::DTYPE,
        ExprKind::Custom(Arc::new(Tensordot {
            a: ra,
            b: rb,
            axes_a: xa,
            axes_b: xb,
        })),
    )))
}

/// Matrix product of 1-D or 2-D arrays, as NumPy's `matmul`/`dot` for them:
/// matrix @ matrix, matrix @ vector, vector @ matrix, vector @ vector (0-d).
/// Any chunking: the contracted axis is cut at the union of both operands'
/// block boundaries.
///
/// ```
/// use darray::{linalg, DArray};
/// let a = DArray::<f64>::ones(&[4, 6], [3, 4]).unwrap();
/// let b = DArray::<f64>::ones(&[6, 2], [5, 2]).unwrap();
/// let c = linalg::matmul(&a, &b).unwrap();
/// assert_eq!(c.shape(), &[4, 2]);
/// assert!(c.compute().unwrap().iter().all(|&x| x == 6.0));
/// ```
///
/// # Errors
/// Operands that are not 1-D or 2-D, or inner lengths that differ.
pub fn matmul<T: Real>(a: &DArray<T>, b: &DArray<T>) -> Result<DArray<T>> {
    let (na, nb) = (a.ndim(), b.ndim());
    if !(1..=2).contains(&na) || !(1..=2).contains(&nb) {
        return Err(Error::InvalidArgument {
            array: format!("matmul({}, {})", a.name(), b.name()),
            reason: format!(
                "operands of shapes {:?} and {:?}: matmul takes 1-D or 2-D arrays (use tensordot for n-d)",
                a.shape(),
                b.shape()
            ),
        });
    }
    let (ka, kb) = (a.shape()[na - 1], b.shape()[0]);
    if ka != kb {
        return Err(Error::InvalidArgument {
            array: format!("matmul({}, {})", a.name(), b.name()),
            reason: format!("inner dimensions differ: {:?} @ {:?}", a.shape(), b.shape()),
        });
    }
    tensordot(a, b, &[-1], &[0])
}

impl<T: Real> DArray<T> {
    /// Matrix product with `other` (see [`matmul`]).
    ///
    /// ```
    /// use darray::DArray;
    /// let a = DArray::<f64>::eye(3, 3, 0, [2, 2]).unwrap();
    /// let x = DArray::<f64>::arange(0.0, 3.0, 1.0, [2]).unwrap();
    /// assert_eq!(a.dot(&x).unwrap().compute().unwrap().into_raw_vec_and_offset().0, vec![0.0, 1.0, 2.0]);
    /// ```
    ///
    /// # Errors
    /// As [`matmul`].
    pub fn dot(&self, other: &DArray<T>) -> Result<DArray<T>> {
        matmul(self, other)
    }

    /// Matrix product with `other` (see [`matmul`]).
    ///
    /// # Errors
    /// As [`matmul`].
    pub fn matmul(&self, other: &DArray<T>) -> Result<DArray<T>> {
        matmul(self, other)
    }
}
