//! Tile kernels of the tiled factorizations of square matrices: right-looking
//! Cholesky ([`potrf_tile`], [`tile_solve`], [`tile_update`]) and LU with
//! tournament pivoting (CALU, Grigori, Demmel and Xiang 2011: [`lu_pivots`]
//! selects a panel's pivot rows in a tree, [`lu_swap`] moves them up).
//!
//! Every kernel copies the tiles it writes: inputs are shared chunks that other
//! tasks read at the same time, and LAPACK/BLAS only ever see private buffers
//! in the routines that write.
//!
//! # Tournament records
//! A pivot candidate set is a C-order `c x (t + 1)` block: `c` rows of the
//! panel (`t` columns) and, in column `t`, each row's global row number (exact
//! in `f64` below 2⁵³ rows and in `f32` below 2²⁴, which the graph checks). The
//! root of a panel's tournament returns `t x (t + 1)`: in columns `0..t` the LU
//! factors (unit lower `L` below the diagonal, `U` on and above it) of the
//! selected rows in the order selected, which is the unpivoted LU of the
//! panel's diagonal tile once they are swapped up, and in column `t` their row
//! numbers.

use super::{arity, mat, Real};
use crate::chunk::Chunk;
use crate::error::{KernelError, Result};
use ndarray::{s, Array2, ArrayView2};
use std::os::raw::c_int;

fn chunk<T: Real>(a: Array2<T>) -> Chunk {
    T::into_chunk(a.into_dyn())
}

/// Lower Cholesky factor `L` (`A = L Lᵀ`) of a diagonal tile, reading its lower
/// triangle; the strict upper triangle of the result is zero.
///
/// # Errors
/// A tile that is not square or not positive definite (the message names tile
/// `(tile, tile)`).
pub fn potrf_tile<T: Real>(inputs: &[&Chunk], tile: usize) -> Result<Chunk> {
    let a = mat::<T>(arity("potrf", inputs, 1)?[0])?;
    let n = a.nrows();
    if a.ncols() != n {
        return Err(KernelError::Shape {
            expected: vec![n, n],
            got: a.shape().to_vec(),
        });
    }
    let mut l = a.as_standard_layout().into_owned();
    // C-order lower triangle = column-major upper: LAPACK's `U` (UᵀU = A) read
    // back in C order is `L = Uᵀ`.
    let ok = T::potrf(b'U', n, l.as_slice_mut().expect("standard layout"), n)?;
    if !ok {
        return Err(KernelError::Other(format!(
            "matrix is not positive definite: Cholesky factorization failed on diagonal tile ({tile}, {tile})"
        )));
    }
    for i in 0..n {
        for j in i + 1..n {
            l[[i, j]] = T::zero();
        }
    }
    Ok(chunk(l))
}

/// `op(A)⁻¹ X` (`side = b'L'`) or `X op(A)⁻¹` (`side = b'R'`) for the C-order
/// tile `X = inputs[1]` and triangular `A` in the first `k` columns of
/// `inputs[0]` (`k` its row count). `uplo`, `trans` and `diag` are BLAS's,
/// applied to the column-major reading of the C-order tiles (`Aᵀ`, `Xᵀ`), so
/// `side` is mirrored: `b'L'` here solves from the right in C order.
///
/// # Errors
/// Dtypes other than `T`, shapes that do not fit.
pub fn tile_solve<T: Real>(
    inputs: &[&Chunk],
    side: u8,
    uplo: u8,
    trans: u8,
    diag: u8,
) -> Result<Chunk> {
    let ins = arity("trsm_tile", inputs, 2)?;
    let (a, x) = (mat::<T>(ins[0])?, mat::<T>(ins[1])?);
    let k = a.nrows();
    let (r, c) = x.dim();
    // Column-major B is `c x r`: side L needs `c == k`, side R `r == k`.
    let fits = a.ncols() >= k && if side == b'L' { c == k } else { r == k };
    if !fits {
        return Err(KernelError::Other(format!(
            "trsm_tile: triangle {:?} does not fit tile {:?} (side {})",
            a.shape(),
            x.shape(),
            side as char
        )));
    }
    let tri = a.slice(s![.., ..k]).as_standard_layout().into_owned();
    let mut out = x.as_standard_layout().into_owned();
    T::trsm(
        side,
        uplo,
        trans,
        diag,
        c,
        r,
        tri.as_slice().expect("standard layout"),
        k,
        out.as_slice_mut().expect("standard layout"),
        c,
    )?;
    Ok(chunk(out))
}

/// `C - A B` (or `C - A Bᵀ` if `trans_b`) for tiles `inputs = [C, A, B]`.
///
/// # Errors
/// Dtypes other than `T`, shapes that do not fit.
pub fn tile_update<T: Real>(inputs: &[&Chunk], trans_b: bool) -> Result<Chunk> {
    let ins = arity("gemm_tile", inputs, 3)?;
    let (c, a, b) = (mat::<T>(ins[0])?, mat::<T>(ins[1])?, mat::<T>(ins[2])?);
    let b: ArrayView2<T> = if trans_b { b.reversed_axes() } else { b };
    if a.nrows() != c.nrows() || b.ncols() != c.ncols() || a.ncols() != b.nrows() {
        return Err(KernelError::Other(format!(
            "gemm_tile: {:?} - {:?} x {:?}",
            c.shape(),
            a.shape(),
            b.shape()
        )));
    }
    let mut out = c.as_standard_layout().into_owned();
    let (r, w) = out.dim();
    let k = a.ncols();
    if k == 0 {
        return Ok(chunk(out));
    }
    let a = a.as_standard_layout();
    // Column-major, C-order tiles are transposed: Cᵀ -= op(B)ᵀ Aᵀ, where the
    // memory of C-order `B` reads as `Bᵀ` (`k x w`), or as `B` (`w x k`) when
    // the product wants its transpose.
    let bt = b.reversed_axes();
    let (b_mem, tb, ldb) = if trans_b {
        (bt.as_standard_layout(), b'T', k)
    } else {
        (b.as_standard_layout(), b'N', w)
    };
    T::gemm(
        tb,
        b'N',
        w,
        r,
        k,
        -T::one(),
        b_mem.as_slice().expect("standard layout"),
        ldb,
        a.as_slice().expect("standard layout"),
        k,
        T::one(),
        out.as_slice_mut().expect("standard layout"),
        w,
    )?;
    Ok(chunk(out))
}

/// Zeros shaped like the input.
///
/// # Errors
/// A dtype other than `T`.
pub fn zeros_like<T: Real>(inputs: &[&Chunk]) -> Result<Chunk> {
    let a = mat::<T>(arity("zeros_like", inputs, 1)?[0])?;
    Ok(chunk(Array2::<T>::zeros(a.dim())))
}

fn index<T: Real>(v: T) -> Result<usize> {
    num_traits::ToPrimitive::to_usize(&v)
        .ok_or_else(|| KernelError::Other(format!("bad row number {v:?} in a pivot record")))
}

/// One node of a panel's pivot tournament (module docs): a leaf reads a panel
/// tile whose first row is global row `leaf_row0`, an inner node stacks the
/// candidate records of its children. Partial-pivoting LU of the stacked rows
/// (`?getrf`) picks up to `t` of them; an inner node or leaf returns their
/// original values, the root (`root`) their LU factors.
///
/// # Errors
/// At the root, a panel of rank below `t` (the matrix is singular; the
/// message names panel `panel`). Malformed records.
pub fn lu_pivots<T: Real>(
    inputs: &[&Chunk],
    leaf_row0: Option<usize>,
    root: bool,
    panel: usize,
) -> Result<Chunk> {
    let (vals, idx): (Array2<T>, Vec<usize>) = match leaf_row0 {
        Some(r0) => {
            let a = mat::<T>(arity("tournament", inputs, 1)?[0])?;
            (a.to_owned(), (r0..r0 + a.nrows()).collect())
        }
        None => {
            let recs = inputs
                .iter()
                .map(|c| mat::<T>(c))
                .collect::<Result<Vec<_>>>()?;
            let w = recs.first().map_or(1, |r| r.ncols());
            if w == 0 || recs.iter().any(|r| r.ncols() != w) {
                return Err(KernelError::Other(
                    "tournament: candidate records of different widths".into(),
                ));
            }
            let t = w - 1;
            let m = recs.iter().map(|r| r.nrows()).sum();
            let mut vals = Array2::zeros((m, t));
            let mut idx = Vec::with_capacity(m);
            let mut row = 0;
            for r in &recs {
                vals.slice_mut(s![row..row + r.nrows(), ..])
                    .assign(&r.slice(s![.., ..t]));
                for &v in r.column(t) {
                    idx.push(index(v)?);
                }
                row += r.nrows();
            }
            (vals, idx)
        }
    };
    let (m, t) = vals.dim();
    let k = m.min(t);
    let mut buf = vec![T::zero(); m * t];
    for ((i, j), &v) in vals.indexed_iter() {
        buf[j * m + i] = v;
    }
    let mut ipiv: Vec<c_int> = vec![0; k];
    let info = if k > 0 {
        T::getrf(m, t, &mut buf, m, &mut ipiv)?
    } else {
        0
    };
    // Row order after LAPACK's interchanges: position s holds stacked row perm[s].
    let mut perm: Vec<usize> = (0..m).collect();
    for (s, &p) in ipiv.iter().enumerate() {
        let p = usize::try_from(p - 1).map_err(|_| KernelError::Other("getrf pivot".into()))?;
        perm.swap(s, p);
    }
    let num = |i: usize| {
        T::from(i).ok_or_else(|| KernelError::Other(format!("row {i} not representable")))
    };
    if root {
        if m < t || info > 0 {
            return Err(KernelError::Other(format!(
                "matrix is singular: panel {panel} (tile column {panel}) has an exactly zero pivot in its column {}",
                if info > 0 { info - 1 } else { m }
            )));
        }
        let mut out = Array2::zeros((t, t + 1));
        for i in 0..t {
            for j in 0..t {
                out[[i, j]] = buf[j * m + i];
            }
            out[[i, t]] = num(idx[perm[i]])?;
        }
        Ok(chunk(out))
    } else {
        let mut out = Array2::zeros((k, t + 1));
        for i in 0..k {
            out.slice_mut(s![i, ..t]).assign(&vals.row(perm[i]));
            out[[i, t]] = num(idx[perm[i]])?;
        }
        Ok(chunk(out))
    }
}

/// A tile after a panel's row interchanges: `inputs[0]` is the root record of
/// the tournament of the panel whose first row is `row0`; `inputs[1..]` are
/// tiles of one tile column whose first rows are `starts` (the output is
/// `inputs[1]` permuted). The selected rows `p_s` move to rows `row0 + s`; the
/// rows they displace there that were not selected fill the vacated rows, both
/// in increasing order.
///
/// # Errors
/// Malformed records, or a source row in none of the input tiles.
pub fn lu_swap<T: Real>(inputs: &[&Chunk], row0: usize, starts: &[usize]) -> Result<Chunk> {
    let (rec, tiles) = inputs
        .split_first()
        .ok_or_else(|| KernelError::Other("laswp: no inputs".into()))?;
    let rec = mat::<T>(rec)?;
    let t = rec.nrows();
    if rec.ncols() != t + 1 || tiles.len() != starts.len() || tiles.is_empty() {
        return Err(KernelError::Other(format!(
            "laswp: record {:?} with {} tiles and {} starts",
            rec.shape(),
            tiles.len(),
            starts.len()
        )));
    }
    let piv = rec
        .column(t)
        .iter()
        .map(|&v| index(v))
        .collect::<Result<Vec<_>>>()?;
    let mut sorted = piv.clone();
    sorted.sort_unstable();
    let displaced: Vec<usize> = (row0..row0 + t)
        .filter(|r| sorted.binary_search(r).is_err())
        .collect();
    let vacated: Vec<usize> = sorted.into_iter().filter(|&r| r >= row0 + t).collect();
    let source = |r: usize| -> usize {
        if (row0..row0 + t).contains(&r) {
            piv[r - row0]
        } else if let Ok(q) = vacated.binary_search(&r) {
            displaced[q]
        } else {
            r
        }
    };
    let views = tiles
        .iter()
        .map(|c| mat::<T>(c))
        .collect::<Result<Vec<_>>>()?;
    let mut out = views[0].to_owned();
    for i in 0..out.nrows() {
        let src = source(starts[0] + i);
        let (v, st) = views
            .iter()
            .zip(starts)
            .find(|(v, &st)| (st..st + v.nrows()).contains(&src))
            .ok_or_else(|| KernelError::Other(format!("laswp: row {src} not in the inputs")))?;
        if v.ncols() != out.ncols() {
            return Err(KernelError::Other(
                "laswp: tiles of different widths".into(),
            ));
        }
        out.row_mut(i).assign(&v.row(src - st));
    }
    Ok(chunk(out))
}

/// The unit lower `L` (`lower`) or the upper `U` factor of a panel's diagonal
/// tile, from the root record of its tournament (`inputs[0]`, `t x (t + 1)`).
///
/// # Errors
/// A malformed record.
pub fn lu_part<T: Real>(inputs: &[&Chunk], lower: bool) -> Result<Chunk> {
    let rec = mat::<T>(arity("lu_part", inputs, 1)?[0])?;
    let t = rec.nrows();
    if rec.ncols() != t + 1 {
        return Err(KernelError::Other(format!(
            "lu_part: record of shape {:?}",
            rec.shape()
        )));
    }
    let out = Array2::from_shape_fn((t, t), |(i, j)| match (lower, i.cmp(&j)) {
        (true, std::cmp::Ordering::Greater)
        | (false, std::cmp::Ordering::Less | std::cmp::Ordering::Equal) => rec[[i, j]],
        (true, std::cmp::Ordering::Equal) => T::one(),
        _ => T::zero(),
    });
    Ok(chunk(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(c: &Chunk) -> Array2<f64> {
        mat::<f64>(c).unwrap().to_owned()
    }

    fn c(a: &Array2<f64>) -> Chunk {
        Chunk::F64(a.clone().into_dyn())
    }

    fn test_matrix(m: usize, n: usize) -> Array2<f64> {
        Array2::from_shape_fn((m, n), |(i, j)| {
            ((i * 7 + j * 13) % 17) as f64 - 8.0 + (i as f64 * 1.3 + j as f64).sin()
        })
    }

    #[test]
    fn potrf_solve_and_update_reconstruct() {
        for n in [1, 3, 8] {
            let b = test_matrix(n, n);
            let a = b.dot(&b.t()) + Array2::<f64>::eye(n) * n as f64;
            let l = get(&potrf_tile::<f64>(&[&c(&a)], 0).unwrap());
            assert!((l.dot(&l.t()) - &a).iter().all(|x| x.abs() < 1e-10));
            // X Lᵀ = P
            let p = test_matrix(5, n);
            let x = get(&tile_solve::<f64>(&[&c(&l), &c(&p)], b'L', b'U', b'T', b'N').unwrap());
            assert!((x.dot(&l.t()) - &p).iter().all(|v| v.abs() < 1e-10));
            let u = get(&tile_update::<f64>(
                &[&c(&a), &c(&p.t().to_owned()), &c(&p.t().to_owned())],
                true,
            )
            .unwrap());
            assert!((u - (&a - &p.t().dot(&p))).iter().all(|v| v.abs() < 1e-10));
            let q = test_matrix(n, 4);
            let cc = test_matrix(5, 4);
            let u = get(&tile_update::<f64>(&[&c(&cc), &c(&p), &c(&q)], false).unwrap());
            assert!((u - (&cc - &p.dot(&q))).iter().all(|v| v.abs() < 1e-10));
        }
        let bad = -Array2::<f64>::eye(2);
        let e = potrf_tile::<f64>(&[&c(&bad)], 3).unwrap_err().to_string();
        assert!(e.contains("tile (3, 3)"), "{e}");
    }

    #[test]
    fn tournament_root_factors_the_selected_rows() {
        let (m, t) = (13, 4);
        let a = test_matrix(m, t);
        let l1 =
            lu_pivots::<f64>(&[&c(&a.slice(s![..6, ..]).to_owned())], Some(0), false, 0).unwrap();
        let l2 =
            lu_pivots::<f64>(&[&c(&a.slice(s![6.., ..]).to_owned())], Some(6), false, 0).unwrap();
        let root = get(&lu_pivots::<f64>(&[&l1, &l2], None, true, 0).unwrap());
        let rows: Vec<usize> = root.column(t).iter().map(|&v| v as usize).collect();
        let sel = Array2::from_shape_fn((t, t), |(i, j)| a[[rows[i], j]]);
        let lo = Array2::from_shape_fn((t, t), |(i, j)| match i.cmp(&j) {
            std::cmp::Ordering::Greater => root[[i, j]],
            std::cmp::Ordering::Equal => 1.0,
            std::cmp::Ordering::Less => 0.0,
        });
        let up = Array2::from_shape_fn((t, t), |(i, j)| if j >= i { root[[i, j]] } else { 0.0 });
        assert!((lo.dot(&up) - sel).iter().all(|v| v.abs() < 1e-12));
        let rc = c(&root);
        assert_eq!(get(&lu_part::<f64>(&[&rc], true).unwrap()), lo);
        assert_eq!(get(&lu_part::<f64>(&[&rc], false).unwrap()), up);
        // Swapping: rows 0..t of the stacked matrix become the selected rows.
        let rec = c(&root);
        let top = get(&lu_swap::<f64>(
            &[
                &rec,
                &c(&a.slice(s![..6, ..]).to_owned()),
                &c(&a.slice(s![6.., ..]).to_owned()),
            ],
            0,
            &[0, 6],
        )
        .unwrap());
        for (i, &r) in rows.iter().enumerate() {
            assert_eq!(top.row(i), a.row(r));
        }
        let bottom = get(&lu_swap::<f64>(
            &[
                &rec,
                &c(&a.slice(s![6.., ..]).to_owned()),
                &c(&a.slice(s![..6, ..]).to_owned()),
            ],
            0,
            &[6, 0],
        )
        .unwrap());
        let mut all: Vec<Vec<u64>> = top
            .rows()
            .into_iter()
            .chain(bottom.rows())
            .map(|r| r.iter().map(|v| v.to_bits()).collect())
            .collect();
        let mut want: Vec<Vec<u64>> = a
            .rows()
            .into_iter()
            .map(|r| r.iter().map(|v| v.to_bits()).collect())
            .collect();
        all.sort();
        want.sort();
        assert_eq!(all, want, "a permutation of the rows");
    }

    #[test]
    fn singular_panel_is_an_error() {
        let mut a = test_matrix(6, 3);
        a.column_mut(1).fill(0.0);
        let e = lu_pivots::<f64>(&[&c(&a)], Some(0), true, 2)
            .unwrap_err()
            .to_string();
        assert!(e.contains("singular") && e.contains("panel 2"), "{e}");
    }
}
