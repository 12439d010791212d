//! Tile kernels of the tiled Householder QR (flat tree per panel, in the style
//! of PLASMA's tile QR).
//!
//! [`tqr_factor`] factors a tile (`?geqrt`, packed as [`super::qr`] describes),
//! or the square R factor of the previous record stacked on a tile: that one by
//! `?tpqrt`, which never touches the triangle's zeros (about 2/3 of the flops
//! of a QR of the stacked pair), packed as a *stacked record*: column-major
//! with `n + m + nb` rows, `R` in the upper triangle of rows `0..n` (zeros
//! below it), the reflectors' lower parts in rows `n..n + m`, the triangular
//! factors `T` (`nb x n`) in the last `nb` rows. `R` and its signs sit where
//! they sit in a packed factorization, so [`super::qr::r_factor`],
//! [`tqr_signed_rows`] and [`sign_eye`] read either. [`tqr_apply`] multiplies
//! tiles stacked by rows by a factorization's `Qᵀ` (or `Q`): `?ormqr` on a
//! private copy of the reflectors for a single tile's factorization, `?tpmqrt`
//! straight from a stacked record.

use super::qr::{factor_views, packed_dims, r_of, signs};
use super::{mat, Real};
use crate::chunk::Chunk;
use crate::error::{KernelError, Result};
use ndarray::{s, Array2, ArrayView2};

/// Column block of the `?tpqrt` factorization (rows of `T`).
const TS_BLOCK: usize = 32;

/// Rows of `T` in the stacked record of an `n`-column factorization (and of
/// `?tpmqrt`'s workspace, per column applied to).
#[must_use]
pub fn ts_block(n: usize) -> usize {
    n.clamp(1, TS_BLOCK)
}

/// Rows of the stacked record of an `n`-column R factor stacked on an `m`-row
/// tile (the record is stored transposed: `n x stacked_rows(n, m)`).
#[must_use]
pub fn stacked_rows(n: usize, m: usize) -> usize {
    n + m + ts_block(n)
}

/// Householder QR of `[tile]`, or of `[record, tile]`: the R factor of the
/// packed `record` (square) stacked on `tile`, as a stacked record.
///
/// # Errors
/// Dtypes other than `T`, column counts that differ, an R factor that is not
/// square, not one or two inputs.
pub fn tqr_factor<T: Real>(inputs: &[&Chunk]) -> Result<Chunk> {
    match inputs {
        [a] => factor_views(&[mat::<T>(a)?]),
        [p, a] => {
            let r = r_of(&mat::<T>(p)?)?;
            let a = mat::<T>(a)?;
            let (n, m) = (r.ncols(), a.nrows());
            if r.nrows() != n || a.ncols() != n {
                return Err(KernelError::Other(format!(
                    "tqr_factor: R {:?} stacked on a tile {:?} (R must be square, the \
                     column counts equal)",
                    r.shape(),
                    a.shape()
                )));
            }
            let nb = ts_block(n);
            let ld = stacked_rows(n, m);
            let mut buf = vec![T::zero(); ld * n];
            for j in 0..n {
                let col = &mut buf[j * ld..(j + 1) * ld];
                for i in 0..=j {
                    col[i] = r[[i, j]];
                }
                for (i, &x) in a.column(j).iter().enumerate() {
                    col[n + i] = x;
                }
            }
            T::tpqrt(m, n, nb, &mut buf, ld, n, n + m)?;
            // Stored transposed: C order `n x ld` is the column-major `ld x n`.
            let out = Array2::from_shape_vec((n, ld), buf)
                .map_err(|e| KernelError::Other(format!("tqr_factor: {e}")))?;
            Ok(T::into_chunk(out.into_dyn()))
        }
        _ => Err(KernelError::Other(format!(
            "tqr_factor: {} inputs",
            inputs.len()
        ))),
    }
}

/// `Qᵀ C` (or `Q C` if `!trans`) for the factorization `inputs[0]` and `C` the
/// other inputs stacked by rows: one tile for a single tile's factorization,
/// the running top rows and a tile for a stacked record.
///
/// # Errors
/// Dtypes other than `T`, shapes that do not fit.
pub fn tqr_apply<T: Real>(inputs: &[&Chunk], trans: bool) -> Result<Chunk> {
    let (p, parts) = inputs
        .split_first()
        .ok_or_else(|| KernelError::Other("tqr_apply: no inputs".into()))?;
    let p = mat::<T>(p)?;
    let parts = parts
        .iter()
        .map(|c| mat::<T>(c))
        .collect::<Result<Vec<ArrayView2<T>>>>()?;
    let w = parts.first().map_or(0, |v| v.ncols());
    let rows: usize = parts.iter().map(|v| v.nrows()).sum();
    if parts.iter().any(|v| v.ncols() != w) {
        return Err(KernelError::Other(
            "tqr_apply: stacked tiles with different column counts".into(),
        ));
    }
    let mut c = vec![T::zero(); rows * w];
    let mut row0 = 0;
    for v in &parts {
        for ((i, j), &x) in v.indexed_iter() {
            c[j * rows + row0 + i] = x;
        }
        row0 += v.nrows();
    }
    let t = if trans { b'T' } else { b'N' };
    match parts.as_slice() {
        [_] => {
            let (m, _, k) = packed_dims(&p)?;
            if rows != m {
                return Err(KernelError::Other(format!(
                    "tqr_apply: {rows} rows for a factorization of {m}"
                )));
            }
            if k > 0 && w > 0 {
                // A private copy: `?ormqr` writes into the reflectors while it works.
                let mut flat: Vec<T> = p.as_standard_layout().iter().copied().collect();
                let lda = m + 1;
                let tau: Vec<T> = (0..k).map(|j| flat[j * lda + m]).collect();
                T::ormqr(b'L', t, m, w, k, &mut flat, lda, &tau, &mut c, m)?;
            }
        }
        [top, tile] => {
            let (n, ld) = (p.nrows(), p.ncols());
            let m = tile.nrows();
            if top.nrows() != n || ld != stacked_rows(n, m) {
                return Err(KernelError::Other(format!(
                    "tqr_apply: top rows {} and a tile of {m} rows for a stacked record {:?}",
                    top.nrows(),
                    p.shape()
                )));
            }
            let rec = p.as_standard_layout();
            let rec = rec
                .as_slice()
                .ok_or_else(|| KernelError::Other("tqr_apply: record not contiguous".into()))?;
            T::tpmqrt(t, m, w, n, ts_block(n), rec, ld, (n, n + m), &mut c, rows)?;
        }
        _ => {
            return Err(KernelError::Other(format!(
                "tqr_apply: {} stacked tiles",
                parts.len()
            )))
        }
    }
    let out = Array2::from_shape_fn((rows, w), |(i, j)| c[j * rows + i]);
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

    /// Deterministic values in [-1, 1) (a small LCG), so the tests need no RNG.
    fn filled(rows: usize, cols: usize, seed: u64) -> Array2<f64> {
        let mut x = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        Array2::from_shape_fn((rows, cols), |_| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (x >> 11) as f64 / (1u64 << 52) as f64 - 1.0
        })
    }

    /// A chain of stacked records over several tiles, with more columns than
    /// one `T` block (and a ragged last block) and tiles shorter and taller than
    /// the triangle: `Qᵀ A` gives `[R; 0]` with R equal to LAPACK's R of the
    /// whole matrix up to row signs, and `Q` applied back to `[S; 0]` gives
    /// columns whose product with R is `A`, orthonormal to 1e-13.
    #[test]
    fn stacked_records_match_the_qr_of_the_whole() {
        for (n, tails) in [(40, vec![37, 40, 3]), (33, vec![70]), (1, vec![1, 5])] {
            let top = filled(n, n, 1);
            let tiles: Vec<Array2<f64>> = tails
                .iter()
                .enumerate()
                .map(|(i, &m)| filled(m, n, i as u64 + 2))
                .collect();
            let mut recs = vec![tqr_factor::<f64>(&[&c(&top)]).unwrap()];
            for t in &tiles {
                let prev = recs.last().unwrap().clone();
                recs.push(tqr_factor::<f64>(&[&prev, &c(t)]).unwrap());
            }
            // Qᵀ A, tile by tile, the running top rows passed along.
            let mut run = get(&tqr_apply::<f64>(&[&recs[0], &c(&top)], true).unwrap());
            for (rec, t) in recs[1..].iter().zip(&tiles) {
                let both = get(&tqr_apply::<f64>(&[rec, &c(&run), &c(t)], true).unwrap());
                assert!(both.slice(s![n.., ..]).iter().all(|v| v.abs() < 1e-12));
                run = both.slice(s![..n, ..]).to_owned();
            }
            let last = recs.last().unwrap();
            let r = get(&r_factor::<f64>(&[last]).unwrap());
            let signed = get(&tqr_signed_rows::<f64>(&[last, &c(&run)], (0, n)).unwrap());
            assert!((&signed - &r).iter().all(|v| v.abs() < 1e-12));
            let whole = ndarray::concatenate(
                ndarray::Axis(0),
                &std::iter::once(top.view())
                    .chain(tiles.iter().map(|t| t.view()))
                    .collect::<Vec<_>>(),
            )
            .unwrap();
            let m_all = whole.nrows();
            let mut w = whole
                .t()
                .as_standard_layout()
                .iter()
                .copied()
                .collect::<Vec<_>>();
            let mut tau = vec![0.0; n];
            <f64 as Real>::geqrf(m_all, n, &mut w, m_all, &mut tau).unwrap();
            for i in 0..n {
                for j in i..n {
                    assert!((w[j * m_all + i].abs() - r[[i, j]].abs()).abs() < 1e-12);
                }
            }
            // Q, applied last to first to [S; 0].
            let mut q_top = get(&sign_eye::<f64>(&[last], n).unwrap());
            let mut q_rows = Vec::new();
            for (rec, t) in recs[1..].iter().zip(&tiles).rev() {
                let z = Array2::<f64>::zeros((t.nrows(), n));
                let both = get(&tqr_apply::<f64>(&[rec, &c(&q_top), &c(&z)], false).unwrap());
                q_rows.push(both.slice(s![n.., ..]).to_owned());
                q_top = both.slice(s![..n, ..]).to_owned();
            }
            q_rows.push(get(
                &tqr_apply::<f64>(&[&recs[0], &c(&q_top)], false).unwrap()
            ));
            q_rows.reverse();
            let q = ndarray::concatenate(
                ndarray::Axis(0),
                &q_rows.iter().map(|t| t.view()).collect::<Vec<_>>(),
            )
            .unwrap();
            assert!((q.dot(&r) - &whole).iter().all(|v| v.abs() < 1e-12));
            let e = q.t().dot(&q) - Array2::<f64>::eye(n);
            assert!(e.iter().all(|v| v.abs() < 1e-13), "n = {n}");
        }
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
