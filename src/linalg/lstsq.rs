//! Least squares through TSQR ([`lstsq`]) and matrix and vector norms ([`norm`]).

use super::nodes::small;
use super::qr::{tall_skinny, tsqr_with, QrOptions};
use super::svd::{packed_svd, take};
use super::{matmul, svd, tensordot, Real};
use crate::array::DArray;
use crate::error::{Error, Result};
use darray_kernels::linalg::LinalgOp;
use ndarray::s;

/// The lazy result of [`lstsq`], as NumPy's `lstsq` returns it.
#[derive(Clone, Debug)]
#[must_use = "DArray is lazy: call compute() or to_zarr()"]
pub struct Lstsq<T: Real> {
    /// The minimum-norm solution `x` (`n` or `n x p`, like `b`).
    pub solution: DArray<T>,
    /// Sums of squared residuals `‖b - A x‖²` per column of `b` (shape `[p]`, or
    /// `[1]` for a vector `b`). Unlike NumPy, always computed (as dask does).
    pub residuals: DArray<T>,
    /// Numerical rank of `A` (0-d): singular values above `rcond · s_max`, with
    /// NumPy's default `rcond = eps · max(m, n)`.
    pub rank: DArray<i64>,
    /// Singular values of `A`, descending.
    pub singular_values: DArray<T>,
}

/// Least-squares solution of `A x = b` for a tall-and-skinny `A` (`m x n`,
/// `m >= n`) through TSQR: `x = V S⁺ Uᵀ Qᵀ b` from the SVD of `R`, so
/// rank-deficient problems get the minimum-norm solution as in NumPy.
///
/// ```
/// use darray::{linalg, DArray};
/// let a = DArray::<f64>::random_normal(1, &[200, 3], 0.0, 1.0, [50, 3]).unwrap();
/// let x = DArray::<f64>::from_ndarray(&ndarray::arr1(&[1.0, -2.0, 0.5]), [3]).unwrap();
/// let b = linalg::matmul(&a, &x).unwrap();
/// let sol = linalg::lstsq(&a, &b).unwrap();
/// let got = sol.solution.compute().unwrap();
/// assert!((got[0] - 1.0).abs() < 1e-12 && (got[1] + 2.0).abs() < 1e-12);
/// assert_eq!(sol.rank.compute_scalar().unwrap(), 3);
/// ```
///
/// # Errors
/// `a` not 2-D or wider than tall, `b` not 1-D or 2-D, or lengths that differ.
pub fn lstsq<T: Real>(a: &DArray<T>, b: &DArray<T>) -> Result<Lstsq<T>> {
    lstsq_with(a, b, QrOptions::default())
}

/// [`lstsq`] through a QR of `a` built with [`QrOptions`] (or just a
/// [`QrMethod`](super::QrMethod) or a [`TsqrLeaves`](super::TsqrLeaves), the
/// rest default).
///
/// ```
/// use darray::{linalg, DArray};
/// use darray::linalg::TsqrLeaves;
/// let a = DArray::<f64>::random_normal(1, &[200, 3], 0.0, 1.0, [50, 3]).unwrap();
/// let b = DArray::<f64>::random_normal(2, &[200], 0.0, 1.0, [50]).unwrap();
/// let x = linalg::lstsq_with(&a, &b, TsqrLeaves::Recompute).unwrap().solution;
/// let x1 = linalg::lstsq(&a, &b).unwrap().solution;
/// assert_eq!(x.compute().unwrap(), x1.compute().unwrap());
/// ```
///
/// # Errors
/// As [`lstsq`].
pub fn lstsq_with<T: Real>(
    a: &DArray<T>,
    b: &DArray<T>,
    opts: impl Into<QrOptions>,
) -> Result<Lstsq<T>> {
    tall_skinny(a, "lstsq")?;
    let (m, n) = (a.shape()[0], a.shape()[1]);
    let bad = |reason: String| Error::InvalidArgument {
        array: format!("lstsq({}, {})", a.name(), b.name()),
        reason,
    };
    if m < n {
        return Err(bad(format!(
            "A of shape {:?} has fewer rows than columns (lstsq needs a tall-and-skinny A)",
            a.shape()
        )));
    }
    if !(1..=2).contains(&b.ndim()) || b.shape()[0] != m {
        return Err(bad(format!(
            "b of shape {:?} does not match A of shape {:?}",
            b.shape(),
            a.shape()
        )));
    }
    let vector = b.ndim() == 1;
    let b2 = if vector {
        b.slice(s![.., ndarray::NewAxis])?
    } else {
        b.clone()
    };
    let p = b2.shape()[1];
    let (q, r) = tsqr_with(a, opts)?;
    let k = r.shape()[0];
    let qtb = tensordot(&q, &b2, &[0], &[0])?;
    let packed = packed_svd(&r);
    // NumPy's default: machine epsilon times the larger dimension.
    let rcond = 2.0 * T::UNIT_ROUNDOFF * m.max(n) as f64;
    let x = DArray::wrap(small(
        "lstsq-x",
        LinalgOp::LstsqSolve { rcond },
        &[&packed.expr, &qtb.expr],
        vec![n, p],
        T::DTYPE,
        0,
    ));
    let resid = (&b2 - &matmul(a, &x)?)?.powi(2).sum_axis(0)?;
    let rank = DArray::wrap(small(
        "lstsq-rank",
        LinalgOp::Rank { rcond },
        &[&packed.expr],
        vec![],
        darray_kernels::DType::I64,
        0,
    ));
    let sv = take(&packed, (k, k + 1), (0, k)).slice(s![0, ..])?;
    let solution = if vector { x.slice(s![.., 0])? } else { x };
    Ok(Lstsq {
        solution,
        residuals: resid,
        rank,
        singular_values: sv,
    })
}

/// Which norm [`norm`] computes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NormOrd {
    /// Frobenius (matrices) or Euclidean (vectors).
    Fro,
    /// Largest column sum of magnitudes (matrices); sum of magnitudes (vectors).
    One,
    /// Largest row sum of magnitudes (matrices); largest magnitude (vectors).
    Inf,
    /// Largest singular value (tall-skinny or short-fat matrices); Euclidean (vectors).
    Two,
}

/// A norm of a vector or matrix, as a lazy 0-d array (NumPy's `norm` with `ord`
/// `None`/`'fro'`, `1`, `inf`, `2`).
///
/// ```
/// use darray::{linalg, linalg::NormOrd, DArray};
/// let a = DArray::<f64>::from_ndarray(&ndarray::arr2(&[[3.0, -4.0], [0.0, 0.0]]), [1, 1]).unwrap();
/// assert_eq!(linalg::norm(&a, NormOrd::Fro).unwrap().compute_scalar().unwrap(), 5.0);
/// assert_eq!(linalg::norm(&a, NormOrd::One).unwrap().compute_scalar().unwrap(), 4.0);
/// assert_eq!(linalg::norm(&a, NormOrd::Inf).unwrap().compute_scalar().unwrap(), 7.0);
/// assert!((linalg::norm(&a, NormOrd::Two).unwrap().compute_scalar().unwrap() - 5.0).abs() < 1e-12);
/// ```
///
/// # Errors
/// Arrays that are not 1-D or 2-D; the 2-norm of a matrix too large on both sides
/// for [`svd`].
pub fn norm<T: Real>(a: &DArray<T>, ord: NormOrd) -> Result<DArray<T>> {
    match (a.ndim(), ord) {
        (1, NormOrd::Fro | NormOrd::Two) | (2, NormOrd::Fro) => a.powi(2).sum()?.sqrt_ok(),
        (1, NormOrd::One) => a.abs().sum(),
        (1, NormOrd::Inf) => a.abs().max(),
        (2, NormOrd::One) => a.abs().sum_axis(0)?.max(),
        (2, NormOrd::Inf) => a.abs().sum_axis(1)?.max(),
        (2, NormOrd::Two) => {
            let (_, s, _) = svd(a)?;
            s.slice(s![0])
        }
        _ => Err(Error::InvalidArgument {
            array: a.name().to_string(),
            reason: format!("norm of a {}-d array (needs 1-D or 2-D)", a.ndim()),
        }),
    }
}

trait SqrtOk: Sized {
    fn sqrt_ok(self) -> Result<Self>;
}

impl<T: Real> SqrtOk for DArray<T> {
    fn sqrt_ok(self) -> Result<Self> {
        Ok(self.sqrt())
    }
}
