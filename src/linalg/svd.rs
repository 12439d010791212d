//! SVD: tall-and-skinny through TSQR and the SVD of the small R factor,
//! short-and-fat through the transpose ([`svd`]); randomized SVD
//! (Halko, Martinsson, Tropp 2011) for any shape and chunking ([`svd_compressed`]).

use super::nodes::small;
use super::qr::{tall_skinny, tsqr_with, QrMethod, QrOptions, TsqrParts};
use super::{matmul, Real};
use crate::array::DArray;
use crate::error::{Error, Result};
use crate::expr::grid::ChunkSpec;
use darray_kernels::linalg::LinalgOp;
use ndarray::s;

/// The packed SVD (see `darray_kernels::linalg::svd`) of a small `k x n` array, `k <= n`.
pub(crate) fn packed_svd<T: Real>(r: &DArray<T>) -> DArray<T> {
    let (k, n) = (r.shape()[0], r.shape()[1]);
    let scratch = ((3 * k * k + 4 * k + 2 * k * n) * T::DTYPE.size()) as u64;
    DArray::wrap(small(
        "svd-packed",
        LinalgOp::SvdPacked,
        &[&r.expr],
        vec![2 * k + 1, n],
        T::DTYPE,
        scratch,
    ))
}

/// Rows and columns of a one-block array.
pub(crate) fn take<T: Real>(
    a: &DArray<T>,
    rows: (usize, usize),
    cols: (usize, usize),
) -> DArray<T> {
    let shape = vec![rows.1 - rows.0, cols.1 - cols.0];
    DArray::wrap(small(
        "take",
        LinalgOp::Take { rows, cols },
        &[&a.expr],
        shape,
        T::DTYPE,
        0,
    ))
}

/// `(U, S, Vᵀ)` of a tall-skinny array (`m >= n`), through a QR built with `opts`.
fn svd_tall<T: Real>(a: &DArray<T>, opts: QrOptions) -> Result<(DArray<T>, DArray<T>, DArray<T>)> {
    // Householder: U = Q U_R, made by the TSQR's own pass over the leaves (Q
    // never formed). The Cholesky methods have no tree to fuse into: U = Q U_R
    // as a product.
    enum Left<T: Real> {
        Tree(TsqrParts<T>),
        Dense(DArray<T>),
    }
    let (left, r) = match opts.method {
        QrMethod::Householder => {
            let parts = TsqrParts::new(a, opts.leaves)?;
            let r = parts.r.clone();
            (Left::Tree(parts), r)
        }
        QrMethod::CholeskyQr2 | QrMethod::ShiftedCholeskyQr3 | QrMethod::Auto => {
            let (q, r) = tsqr_with(a, opts)?;
            (Left::Dense(q), r)
        }
    };
    let (k, n) = (r.shape()[0], r.shape()[1]);
    let p = packed_svd(&r);
    let ur = take(&p, (0, k), (0, k));
    let sv = take(&p, (k, k + 1), (0, k)).slice(s![0, ..])?;
    let vt = take(&p, (k + 1, 2 * k + 1), (0, n));
    let u = match left {
        Left::Tree(parts) => parts.q_times(&ur)?,
        Left::Dense(q) => matmul(&q, &ur)?,
    };
    Ok((u, sv, vt))
}

/// Thin singular value decomposition `A = U diag(S) Vᵀ` of a 2-D array that is
/// tall-and-skinny or short-and-fat: lazy `(U, S, Vᵀ)` with `k = min(m, n)`
/// singular values in descending order. Signs are fixed so that the
/// largest-magnitude entry of each row of `Vᵀ` is positive.
///
/// ```
/// use darray::{linalg, DArray};
/// let a = DArray::<f64>::random_normal(3, &[500, 4], 0.0, 1.0, [100, 4]).unwrap();
/// let (u, s, vt) = linalg::svd(&a).unwrap();
/// assert_eq!((u.shape(), s.shape(), vt.shape()), (&[500, 4][..], &[4][..], &[4, 4][..]));
/// let s = s.compute().unwrap();
/// assert!(s[0] >= s[1] && s[1] >= s[2] && s[2] >= s[3]);
/// ```
///
/// # Errors
/// An array that is not 2-D, or whose smaller side is too long for the small
/// factor to fit in one task.
pub fn svd<T: Real>(a: &DArray<T>) -> Result<(DArray<T>, DArray<T>, DArray<T>)> {
    svd_with(a, QrOptions::default())
}

/// [`svd`] through a QR built with [`QrOptions`] (or just a [`QrMethod`] or a
/// [`TsqrLeaves`](super::TsqrLeaves), the rest default). With
/// [`QrMethod::Householder`] (the default) `U` is made by the TSQR's own pass
/// over the row blocks; with another method, as `Q` times the small `U` of `R`.
///
/// ```
/// use darray::{linalg, DArray};
/// use darray::linalg::{QrOptions, TsqrLeaves};
/// let a = DArray::<f64>::random_normal(3, &[500, 4], 0.0, 1.0, [100, 4]).unwrap();
/// let (_, s, _) = linalg::svd_with(&a, QrOptions::default().leaves(TsqrLeaves::Recompute)).unwrap();
/// let (_, s1, _) = linalg::svd(&a).unwrap();
/// assert_eq!(s.compute().unwrap(), s1.compute().unwrap());
/// ```
///
/// # Errors
/// As [`svd`].
pub fn svd_with<T: Real>(
    a: &DArray<T>,
    opts: impl Into<QrOptions>,
) -> Result<(DArray<T>, DArray<T>, DArray<T>)> {
    let opts = opts.into();
    if a.ndim() != 2 {
        return Err(Error::InvalidArgument {
            array: a.name().to_string(),
            reason: format!("svd needs a 2-D array, got shape {:?}", a.shape()),
        });
    }
    if a.shape()[0] >= a.shape()[1] {
        tall_skinny(a, "svd")?;
        svd_tall(a, opts)
    } else {
        let at = a.t();
        tall_skinny(&at, "svd")?;
        let (u, s, vt) = svd_tall(&at, opts)?;
        Ok((vt.t(), s, u.t()))
    }
}

/// Randomized SVD (Halko, Martinsson, Tropp 2011) of rank `k` of a 2-D array of
/// any chunking: a Gaussian sketch with `oversampling` extra columns (seeded by
/// `seed`, so results are deterministic), `n_power_iter` power iterations each
/// re-orthonormalized by TSQR, then the SVD of the small projected matrix.
/// Returns lazy `(U, S, Vᵀ)` of shapes `m x k`, `k`, `k x n`.
///
/// ```
/// use darray::{linalg, DArray};
/// let a = DArray::<f64>::random_normal(5, &[300, 200], 0.0, 1.0, [100, 50]).unwrap();
/// let (u, s, vt) = linalg::svd_compressed(&a, 5, 2, 10, 42).unwrap();
/// assert_eq!((u.shape(), s.shape(), vt.shape()), (&[300, 5][..], &[5][..], &[5, 200][..]));
/// ```
///
/// # Errors
/// An array that is not 2-D, `k` of 0 or above `min(m, n)`, or a sketch too
/// wide to fit a task.
pub fn svd_compressed<T: Real>(
    a: &DArray<T>,
    k: usize,
    n_power_iter: usize,
    oversampling: usize,
    seed: u64,
) -> Result<(DArray<T>, DArray<T>, DArray<T>)> {
    svd_compressed_with(a, k, n_power_iter, oversampling, seed, QrOptions::default())
}

/// [`svd_compressed`] whose QRs (the power iterations' and the projected
/// matrix's) are built with [`QrOptions`] (or just a [`QrMethod`] or a
/// [`TsqrLeaves`](super::TsqrLeaves), the rest default).
///
/// ```
/// use darray::{linalg, DArray};
/// use darray::linalg::QrMethod;
/// let a = DArray::<f64>::random_normal(5, &[300, 200], 0.0, 1.0, [100, 50]).unwrap();
/// let (u, s, vt) = linalg::svd_compressed_with(&a, 5, 2, 10, 42, QrMethod::CholeskyQr2).unwrap();
/// assert_eq!((u.shape(), s.shape(), vt.shape()), (&[300, 5][..], &[5][..], &[5, 200][..]));
/// ```
///
/// # Errors
/// As [`svd_compressed`].
pub fn svd_compressed_with<T: Real>(
    a: &DArray<T>,
    k: usize,
    n_power_iter: usize,
    oversampling: usize,
    seed: u64,
    opts: impl Into<QrOptions>,
) -> Result<(DArray<T>, DArray<T>, DArray<T>)> {
    let opts = opts.into();
    if a.ndim() != 2 {
        return Err(Error::InvalidArgument {
            array: a.name().to_string(),
            reason: format!(
                "svd_compressed needs a 2-D array, got shape {:?}",
                a.shape()
            ),
        });
    }
    let (m, n) = (a.shape()[0], a.shape()[1]);
    if k == 0 || k > m.min(n) {
        return Err(Error::InvalidArgument {
            array: a.name().to_string(),
            reason: format!(
                "svd_compressed rank k = {k} must be in 1..={} for shape {:?}",
                m.min(n),
                a.shape()
            ),
        });
    }
    let l = (k + oversampling).min(m.min(n));
    let omega = DArray::<T>::random_normal(
        seed,
        &[n, l],
        0.0,
        1.0,
        ChunkSpec::from(vec![a.chunks()[1].clone(), vec![l]]),
    )?;
    let at = a.t();
    let mut q = tsqr_with(&matmul(a, &omega)?, opts)?.0;
    for _ in 0..n_power_iter {
        let z = tsqr_with(&matmul(&at, &q)?, opts)?.0;
        q = tsqr_with(&matmul(a, &z)?, opts)?.0;
    }
    // B = Qᵀ A (l x n) is short-fat: factor Bᵀ = U' S V'ᵀ, so B = V' S U'ᵀ.
    let bt = matmul(&at, &q)?;
    let (ub, s, vbt) = svd_tall(&bt, opts)?;
    let u = matmul(&q, &vbt.t())?;
    let u = u.slice(s![.., ..k])?;
    let s = s.slice(s![..k])?;
    let vt = ub.t().slice(s![..k, ..])?;
    Ok((u, s, vt))
}
