//! Tile kernels of the tiled Householder QR (flat tree per panel, in the style
//! of PLASMA's tile QR, with `?geqrf`/`?ormqr` on stacked tiles instead of the
//! structured `?tpqrt`/`?tpmqrt`: the triangle on top keeps its zeros, at the
//! price of some flops on them).
//!
//! Factorizations are packed as [`super::qr`] describes. [`tqr_factor`]
//! factors a tile, or the R factor of the previous record stacked on a tile;
//! [`tqr_apply`] multiplies tiles stacked by rows by that factorization's `Qᵀ`
//! (or `Q`), on a private copy of the reflectors (`?ormqr` writes into them).

use super::qr::{factor_views, packed_dims, r_of, signs};
use super::{mat, Real};
use crate::chunk::Chunk;
use crate::error::{KernelError, Result};
use ndarray::{s, Array2, ArrayView2};

/// Householder QR of `[tile]`, or of `[record, tile]`: the R factor of the
/// packed `record` stacked on `tile`.
///
/// # Errors
/// Dtypes other than `T`, column counts that differ, not one or two inputs.
pub fn tqr_factor<T: Real>(inputs: &[&Chunk]) -> Result<Chunk> {
    match inputs {
        [a] => factor_views(&[mat::<T>(a)?]),
        [p, a] => {
            let r = r_of(&mat::<T>(p)?)?;
            factor_views(&[r.view(), mat::<T>(a)?])
        }
        _ => Err(KernelError::Other(format!(
            "tqr_factor: {} inputs",
            inputs.len()
        ))),
    }
}

/// `Qᵀ C` (or `Q C` if `!trans`) for the packed factorization `inputs[0]` and
/// `C` the other inputs stacked by rows (as many rows as the factorization).
///
/// # Errors
/// Dtypes other than `T`, shapes that do not fit.
pub fn tqr_apply<T: Real>(inputs: &[&Chunk], trans: bool) -> Result<Chunk> {
    let (p, parts) = inputs
        .split_first()
        .ok_or_else(|| KernelError::Other("tqr_apply: no inputs".into()))?;
    let p = mat::<T>(p)?;
    let (m, _, k) = packed_dims(&p)?;
    let parts = parts
        .iter()
        .map(|c| mat::<T>(c))
        .collect::<Result<Vec<ArrayView2<T>>>>()?;
    let w = parts.first().map_or(0, |v| v.ncols());
    let rows: usize = parts.iter().map(|v| v.nrows()).sum();
    if rows != m || parts.iter().any(|v| v.ncols() != w) {
        return Err(KernelError::Other(format!(
            "tqr_apply: {rows} stacked rows for a factorization of {m}"
        )));
    }
    let mut c = vec![T::zero(); m * w];
    let mut row0 = 0;
    for v in &parts {
        for ((i, j), &x) in v.indexed_iter() {
            c[j * m + row0 + i] = x;
        }
        row0 += v.nrows();
    }
    if k > 0 && w > 0 {
        // A private copy: `?ormqr` writes into the reflectors while it works.
        let mut flat: Vec<T> = p.as_standard_layout().iter().copied().collect();
        let lda = m + 1;
        let tau: Vec<T> = (0..k).map(|j| flat[j * lda + m]).collect();
        let t = if trans { b'T' } else { b'N' };
        T::ormqr(b'L', t, m, w, k, &mut flat, lda, &tau, &mut c, m)?;
    }
    let out = Array2::from_shape_fn((m, w), |(i, j)| c[j * m + i]);
    Ok(T::into_chunk(out.into_dyn()))
}

/// Rows `rows.0..rows.1` of `inputs[1]`, each multiplied by the sign of the
/// matching diagonal entry of the R factor of the packed `inputs[0]`.
///
/// # Errors
/// Dtypes other than `T`, rows out of range.
pub fn tqr_signed_rows<T: Real>(inputs: &[&Chunk], rows: (usize, usize)) -> Result<Chunk> {
    let ins = super::arity("tqr_signed_rows", inputs, 2)?;
    let (p, a) = (mat::<T>(ins[0])?, mat::<T>(ins[1])?);
    let (_, _, k) = packed_dims(&p)?;
    if rows.0 > rows.1 || rows.1 > a.nrows() || rows.1 - rows.0 > k {
        return Err(KernelError::Other(format!(
            "tqr_signed_rows: rows {rows:?} of {:?} with {k} signs",
            a.shape()
        )));
    }
    let sg = signs(&p, k);
    let mut out = a.slice(s![rows.0..rows.1, ..]).to_owned();
    for (mut row, s) in out.rows_mut().into_iter().zip(sg) {
        row.mapv_inplace(|v| v * s);
    }
    Ok(T::into_chunk(out.into_dyn()))
}

/// A `rows x k` tile with the signs of the R factor of the packed `inputs[0]`
/// on its diagonal: where forming Q starts, so `Q` and `R` get the same
/// non-negative-diagonal convention as [`super::qr::r_factor`].
///
/// # Errors
/// A dtype other than `T`.
pub fn sign_eye<T: Real>(inputs: &[&Chunk], rows: usize) -> Result<Chunk> {
    let p = mat::<T>(super::arity("sign_eye", inputs, 1)?[0])?;
    let (_, _, k) = packed_dims(&p)?;
    let sg = signs(&p, k);
    let out = Array2::from_shape_fn((rows, k), |(i, j)| if i == j { sg[j] } else { T::zero() });
    Ok(T::into_chunk(out.into_dyn()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::linalg::qr::r_factor;

    fn c(a: &Array2<f64>) -> Chunk {
        Chunk::F64(a.clone().into_dyn())
    }

    fn get(c: &Chunk) -> Array2<f64> {
        mat::<f64>(c).unwrap().to_owned()
    }

    #[test]
    fn stacked_factor_and_apply_reconstruct() {
        let a0 = Array2::from_shape_fn((4, 4), |(i, j)| {
            ((i * 5 + j * 3) % 7) as f64 - 3.0 + i as f64 * 0.1
        });
        let a1 = Array2::from_shape_fn((3, 4), |(i, j)| ((i * 2 + j * 5) % 5) as f64 - 2.0);
        let f0 = tqr_factor::<f64>(&[&c(&a0)]).unwrap();
        let f1 = tqr_factor::<f64>(&[&f0, &c(&a1)]).unwrap();
        // Qᵀ [A0; A1] through both: top rows are R, the rest zero.
        let t0 = get(&tqr_apply::<f64>(&[&f0, &c(&a0)], true).unwrap());
        let both = get(&tqr_apply::<f64>(&[&f1, &c(&t0), &c(&a1)], true).unwrap());
        let r = get(&r_factor::<f64>(&[&f1]).unwrap());
        let top = get(&tqr_signed_rows::<f64>(&[&f1, &c(&both)], (0, 4)).unwrap());
        assert!((&top - &r).iter().all(|v| v.abs() < 1e-12));
        assert!(both.slice(s![4.., ..]).iter().all(|v| v.abs() < 1e-12));
        // Q S applied back gives A.
        let e = get(&sign_eye::<f64>(&[&f1], 4).unwrap());
        let z = Array2::<f64>::zeros((3, 4));
        let q1 = get(&tqr_apply::<f64>(&[&f1, &c(&e), &c(&z)], false).unwrap());
        let q0 =
            get(&tqr_apply::<f64>(&[&f0, &c(&q1.slice(s![..4, ..]).to_owned())], false).unwrap());
        let q = ndarray::concatenate![ndarray::Axis(0), q0, q1.slice(s![4.., ..])];
        let a = ndarray::concatenate![ndarray::Axis(0), a0, a1];
        assert!((q.dot(&r) - a).iter().all(|v| v.abs() < 1e-12));
    }
}
