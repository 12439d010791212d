//! Small dense SVDs (of an R factor or a sketch), slicing packed results, and the
//! least-squares solve built on them.
//!
//! # Packed SVD
//! [`svd_packed`] of a `k x n` block (`k <= n`) returns a C-order
//! `(2k + 1) x n` array: rows `0..k` hold `U` (`k x k`, in columns `0..k`), row
//! `k` the singular values (descending, columns `0..k`), rows `k+1..2k+1` hold
//! `Vᵀ` (`k x n`). Signs are fixed so the largest-magnitude entry of each row of
//! `Vᵀ` is positive (the first such entry on ties), which makes results
//! independent of LAPACK's arbitrary choice.

use super::{arity, mat, Real};
use crate::chunk::Chunk;
use crate::error::{KernelError, Result};
use ndarray::{s, Array2, ArrayD, IxDyn};
use ndarray_linalg::{JobSvd, SVDDC};

/// Thin SVD of a small 2-D block, packed as the module describes; a block with
/// more rows than columns is first reduced to its first `n` rows' worth by the
/// caller (the graph only asks for `k <= n`).
///
/// # Errors
/// A dtype other than `T`, `k > n`, or LAPACK failing to converge.
pub fn svd_packed<T: Real>(inputs: &[&Chunk]) -> Result<Chunk> {
    let a = mat::<T>(arity("svd", inputs, 1)?[0])?;
    let (k, n) = a.dim();
    if k > n {
        return Err(KernelError::Other(format!(
            "svd_packed of a {k} x {n} block (needs rows <= columns)"
        )));
    }
    let mut out = Array2::<T>::zeros((2 * k + 1, n));
    if k > 0 {
        let (u, sv, vt) = a
            .svddc(JobSvd::Some)
            .map_err(|e| KernelError::Other(format!("SVD failed: {e}")))?;
        let (mut u, mut vt) = (u.expect("U asked for"), vt.expect("Vt asked for"));
        for i in 0..k {
            let row = vt.row(i);
            let mut best = 0;
            for (j, v) in row.iter().enumerate() {
                if num_traits::Float::abs(*v) > num_traits::Float::abs(row[best]) {
                    best = j;
                }
            }
            if row[best] < T::zero() {
                vt.row_mut(i).mapv_inplace(|v| -v);
                u.column_mut(i).mapv_inplace(|v| -v);
            }
        }
        out.slice_mut(s![..k, ..k]).assign(&u);
        out.slice_mut(s![k, ..k]).assign(&sv);
        out.slice_mut(s![k + 1.., ..]).assign(&vt);
    }
    Ok(T::into_chunk(out.into_dyn()))
}

/// Rows `rows.0..rows.1` and columns `cols.0..cols.1` of a 2-D input.
///
/// # Errors
/// A dtype other than `T` or ranges out of bounds.
pub fn take<T: Real>(
    inputs: &[&Chunk],
    rows: (usize, usize),
    cols: (usize, usize),
) -> Result<Chunk> {
    let a = mat::<T>(arity("take", inputs, 1)?[0])?;
    if rows.0 > rows.1 || rows.1 > a.nrows() || cols.0 > cols.1 || cols.1 > a.ncols() {
        return Err(KernelError::Other(format!(
            "take {rows:?} x {cols:?} of a {:?} block",
            a.shape()
        )));
    }
    let t = a
        .slice(s![rows.0..rows.1, cols.0..cols.1])
        .as_standard_layout()
        .into_owned();
    Ok(T::into_chunk(t.into_dyn()))
}

fn unpack<T: Real>(p: &ndarray::ArrayView2<'_, T>) -> Result<usize> {
    let k = p.nrows().saturating_sub(1) / 2;
    if p.nrows() != 2 * k + 1 || k > p.ncols() {
        return Err(KernelError::Other(format!(
            "not a packed SVD: shape {:?}",
            p.shape()
        )));
    }
    Ok(k)
}

fn cutoff<T: Real>(p: &ndarray::ArrayView2<'_, T>, k: usize, rcond: f64) -> (usize, T) {
    let smax = if k > 0 { p[[k, 0]] } else { T::zero() };
    let tol = smax * T::real(rcond);
    let r = (0..k).filter(|&i| p[[k, i]] > tol).count();
    (r, tol)
}

/// Minimum-norm solution `x = V S⁺ Uᵀ c` from a packed SVD of `R` (`k x n`) and
/// `c = Qᵀ b` (`k x p`): `n x p`.
///
/// # Errors
/// Dtypes other than `T` or shapes that do not fit.
pub fn lstsq_solve<T: Real>(inputs: &[&Chunk], rcond: f64) -> Result<Chunk> {
    let ins = arity("lstsq", inputs, 2)?;
    let (p, c) = (mat::<T>(ins[0])?, mat::<T>(ins[1])?);
    let k = unpack(&p)?;
    let n = p.ncols();
    if c.nrows() != k {
        return Err(KernelError::Shape {
            expected: vec![k, c.ncols()],
            got: c.shape().to_vec(),
        });
    }
    let (r, _) = cutoff(&p, k, rcond);
    let u = p.slice(s![..k, ..r]);
    let mut y = u.t().dot(&c);
    for (i, mut row) in y.rows_mut().into_iter().enumerate() {
        let si = p[[k, i]];
        row.mapv_inplace(|v| v / si);
    }
    let vt = p.slice(s![k + 1..k + 1 + r, ..n]);
    let x = vt.t().dot(&y);
    Ok(T::into_chunk(
        x.as_standard_layout().into_owned().into_dyn(),
    ))
}

/// Number of singular values above `rcond · s_max` in a packed SVD, as a 0-d `i64`.
///
/// # Errors
/// A dtype other than `T` or an input that is not a packed SVD.
pub fn rank<T: Real>(inputs: &[&Chunk], rcond: f64) -> Result<Chunk> {
    let p = mat::<T>(arity("rank", inputs, 1)?[0])?;
    let k = unpack(&p)?;
    let (r, _) = cutoff(&p, k, rcond);
    let r = i64::try_from(r).expect("rank fits i64");
    Ok(Chunk::I64(ArrayD::from_elem(IxDyn(&[]), r)))
}

/// `‖G - I‖_F` of a square input, as a 0-d array of `T`.
///
/// # Errors
/// A dtype other than `T` or a non-square input.
pub fn ortho_error<T: Real>(inputs: &[&Chunk]) -> Result<Chunk> {
    let g = mat::<T>(arity("ortho_error", inputs, 1)?[0])?;
    if g.nrows() != g.ncols() {
        return Err(KernelError::Shape {
            expected: vec![g.nrows(), g.nrows()],
            got: g.shape().to_vec(),
        });
    }
    let mut acc = T::zero();
    for ((i, j), &v) in g.indexed_iter() {
        let d = if i == j { v - T::one() } else { v };
        acc += d * d;
    }
    Ok(T::into_chunk(ArrayD::from_elem(
        IxDyn(&[]),
        num_traits::Float::sqrt(acc),
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_svd_reconstructs_and_is_signed() {
        let a = Array2::from_shape_fn((3, 5), |(i, j)| ((i * 5 + j * 3) % 7) as f64 - 3.0);
        let c = Chunk::F64(a.clone().into_dyn());
        let p = svd_packed::<f64>(&[&c]).unwrap();
        let pv = mat::<f64>(&p).unwrap();
        let u = pv.slice(s![..3, ..3]).to_owned();
        let sv = pv.slice(s![3, ..3]).to_owned();
        let vt = pv.slice(s![4.., ..]).to_owned();
        let rec = u.dot(&Array2::from_diag(&sv)).dot(&vt);
        assert!((&rec - &a).iter().all(|x| x.abs() < 1e-12));
        assert!(sv[0] >= sv[1] && sv[1] >= sv[2]);
        for row in vt.rows() {
            let m = row
                .iter()
                .copied()
                .fold(0.0f64, |m, v| if v.abs() > m.abs() { v } else { m });
            assert!(m > 0.0);
        }
    }
}
