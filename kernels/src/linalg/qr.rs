//! Local Householder QR in the layout LAPACK wants, and the Cholesky pieces of
//! CholeskyQR.
//!
//! # Packed factorization
//! [`qr_stack`] copies its `m x n` input (transposing from C order, which costs
//! far less than the factorization and lets `?geqrf` work on contiguous
//! columns: about twice as fast as `?gelqf` on the untransposed rows) into a
//! column-major `(m + 1) x n` matrix `P`, factors rows `0..m` in place (`R` in
//! the upper triangle of rows `0..k`, `k = min(m, n)`, reflectors below) and
//! stores the reflector scalars in row `m`. The chunk holds `P`'s memory as a
//! C-order `n x (m + 1)` array (`chunk[j][i] = P[i][j]`). [`apply_q`]
//! multiplies by `Q` implicitly (`?ormqr`), never forming it.
//!
//! # Blocked leaf factorization
//! Householder QR of a tall block sweeps the whole block once per column
//! (`?geqrf` and `?ormqr` fall back to their unblocked, matrix-vector code when
//! `n` is at most their block size, 32): for a block larger than the cache that
//! runs at memory speed. [`qr_leaf`] factors a tall block as a two-level TSQR
//! instead: sub-blocks of `block_rows` rows (the last one takes the remainder,
//! so every sub-block has at least `block_rows` rows), each factored in cache,
//! and their R factors stacked and factored again. Its chunk holds the packed
//! factorization of the stacked R factors first (so [`r_factor`] and a parent's
//! [`qr_stack`] read it as an ordinary packed factorization, whose R is the
//! block's R), then those of the sub-blocks, one after another along the second
//! axis. [`apply_q_leaf`] multiplies by its Q, one sub-block at a time.

use super::{arity, mat, out_vec, Buffers, Real};
use crate::chunk::Chunk;
use crate::error::{KernelError, Result};
use ndarray::{Array2, ArrayView2};

/// Rows, columns and rank bound of a packed factorization (its chunk is `n x (m + 1)`).
pub(crate) fn packed_dims<T>(p: &ArrayView2<'_, T>) -> Result<(usize, usize, usize)> {
    let m = p
        .ncols()
        .checked_sub(1)
        .ok_or_else(|| KernelError::Other("packed QR factorization with no rows".into()))?;
    let n = p.nrows();
    Ok((m, n, m.min(n)))
}

/// The `R` factor (`k x n`, upper trapezoidal) held in a packed factorization.
pub(crate) fn r_of<T: Real>(p: &ArrayView2<'_, T>) -> Result<Array2<T>> {
    let (_, n, k) = packed_dims(p)?;
    Ok(Array2::from_shape_fn((k, n), |(i, j)| {
        if j >= i {
            p[[j, i]]
        } else {
            T::zero()
        }
    }))
}

/// Householder QR of the inputs stacked by rows: raw blocks, or (if `packed`)
/// the R factors of packed factorizations. Output packed as the module describes.
///
/// # Errors
/// Dtypes other than `T`, non-2-D inputs, column counts that differ.
pub fn qr_stack<T: Real>(inputs: &[&Chunk], packed: bool) -> Result<Chunk> {
    let mut owned: Vec<Array2<T>> = Vec::new();
    let mut views: Vec<ArrayView2<T>> = Vec::with_capacity(inputs.len());
    for c in inputs {
        let v = mat::<T>(c)?;
        if packed {
            owned.push(r_of(&v)?);
        } else {
            views.push(v);
        }
    }
    if packed {
        views = owned.iter().map(|a| a.view()).collect();
    }
    factor_views(&views)
}

/// Householder QR of `views` stacked by rows, packed as the module describes.
///
/// # Errors
/// Column counts that differ.
pub(crate) fn factor_views<T: Real>(views: &[ArrayView2<'_, T>]) -> Result<Chunk> {
    let n = views.first().map_or(0, |v| v.ncols());
    if views.iter().any(|v| v.ncols() != n) {
        return Err(KernelError::Other(
            "QR of blocks with different column counts".into(),
        ));
    }
    let m: usize = views.iter().map(|v| v.nrows()).sum();
    let (k, lda) = (m.min(n), m + 1);
    let mut buf = vec![T::zero(); lda * n];
    let mut row0 = 0;
    for v in views {
        for (i, row) in v.rows().into_iter().enumerate() {
            for (j, &x) in row.iter().enumerate() {
                buf[j * lda + row0 + i] = x;
            }
        }
        row0 += v.nrows();
    }
    if k > 0 {
        // Compact-WY QR (level-3 BLAS; `?geqrf` runs its unblocked, level-2
        // code for n <= 32): the same reflectors, whose scalars are T's diagonal.
        let nb = k.min(PANEL);
        let mut t = vec![T::zero(); nb * k];
        T::geqrt(m, n, nb, &mut buf, lda, &mut t, nb)?;
        for j in 0..k {
            buf[j * lda + m] = t[j % nb + j * nb];
        }
    }
    let out = Array2::from_shape_vec((n, lda), buf).expect("n * (m + 1) elements");
    Ok(T::into_chunk(out.into_dyn()))
}

/// `±1` per row of `R`, making its diagonal non-negative.
pub(crate) fn signs<T: Real>(p: &ArrayView2<'_, T>, k: usize) -> Vec<T> {
    (0..k)
        .map(|i| {
            if p[[i, i]] < T::zero() {
                -T::one()
            } else {
                T::one()
            }
        })
        .collect()
}

/// `Q [C; 0]` (`m x p`, C order) for the packed factorization `inputs[0]` (`m`
/// rows, `k` reflectors) and `C` the rows `offset..offset + k` of `inputs[1]`;
/// with one input, `C` is the diagonal sign matrix of its R (the root of a TSQR
/// tree, whose R [`r_factor`] signs the same way). The output goes into a buffer
/// from `buffers` where it has one.
///
/// # Errors
/// Dtypes other than `T`, `C` rows out of range.
pub fn apply_q<T: Real>(inputs: &[&Chunk], offset: usize, buffers: &dyn Buffers) -> Result<Chunk> {
    let p = mat::<T>(inputs[0])?;
    let (m, _, k) = packed_dims(&p)?;
    let c: Array2<T> = match inputs {
        [_] => {
            let s = signs(&p, k);
            Array2::from_shape_fn((k, k), |(i, j)| if i == j { s[i] } else { T::zero() })
        }
        [_, src] => {
            let src = mat::<T>(src)?;
            if offset + k > src.nrows() {
                return Err(KernelError::Other(format!(
                    "apply_q: rows {offset}..{} of {}",
                    offset + k,
                    src.nrows()
                )));
            }
            src.slice(ndarray::s![offset..offset + k, ..]).to_owned()
        }
        _ => {
            return Err(KernelError::Other(format!(
                "apply_q: {} inputs",
                inputs.len()
            )))
        }
    };
    let pc = c.ncols();
    // Overwritten whole by `apply_packed`.
    let mut x = out_vec::<T>(buffers, m * pc);
    let full = p.as_standard_layout();
    let base = full.as_slice().expect("standard layout");
    apply_packed(base, m + 1, 0, m, k, c.view(), &mut x)?;
    Ok(T::into_chunk(
        Array2::from_shape_vec((m, pc), x)
            .expect("m * pc elements")
            .into_dyn(),
    ))
}

/// Reflectors per block of a compact-WY factorization or application.
const PANEL: usize = 32;

/// `x := Q [C; 0]` (C order, `m x pc`, `pc = c.ncols()`) for the packed
/// factorization of `m` rows and `k` reflectors whose column `j`, row `i` is
/// `base[j ld + row0 + i]` (the reflector scalars in row `m`): blocks of
/// [`PANEL`] reflectors applied last to first by `?larft` and `?larfb` (level-3
/// BLAS), read in place (never written, so a shared chunk serves).
fn apply_packed<T: Real>(
    base: &[T],
    ld: usize,
    row0: usize,
    m: usize,
    k: usize,
    c: ArrayView2<'_, T>,
    x: &mut [T],
) -> Result<()> {
    let pc = c.ncols();
    debug_assert_eq!(x.len(), m * pc);
    debug_assert!(c.nrows() >= k.min(m) && row0 + m < ld.max(1));
    x.fill(T::zero());
    for (dst, src) in x.chunks_mut(pc.max(1)).zip(c.rows()) {
        for (d, s) in dst.iter_mut().zip(src) {
            *d = *s;
        }
    }
    if k == 0 || pc == 0 {
        return Ok(());
    }
    let v = &base[row0..];
    let tau: Vec<T> = (0..k).map(|j| v[j * ld + m]).collect();
    // C-order X is column-major Xᵀ (pc x m, leading dimension pc), and
    // Xᵀ := Xᵀ Qᵀ = Xᵀ P_lastᵀ … P_firstᵀ for the blocks P of Q = P_first … P_last.
    let mut t = vec![T::zero(); PANEL * PANEL];
    let mut j1 = k;
    while j1 > 0 {
        let j0 = (j1 - 1) / PANEL * PANEL;
        let kb = j1 - j0;
        let vp = &v[j0 * ld + j0..];
        T::larft(m - j0, kb, vp, ld, &tau[j0..j1], &mut t, kb)?;
        T::larfb(
            b'R',
            b'T',
            pc,
            m - j0,
            kb,
            vp,
            ld,
            &t,
            kb,
            &mut x[j0 * pc..],
            pc,
        )?;
        j1 = j0;
    }
    Ok(())
}

/// First row and row count of each sub-block of a blocked leaf of `m` rows:
/// `m / block_rows` sub-blocks of `block_rows` rows, the last one also taking
/// the remainder (one sub-block if `m < 2 block_rows`).
#[must_use]
pub fn sub_blocks(m: usize, block_rows: usize) -> Vec<(usize, usize)> {
    let s = (m / block_rows.max(1)).max(1);
    (0..s)
        .map(|b| {
            let row0 = b * block_rows;
            let rows = if b + 1 == s { m - row0 } else { block_rows };
            (row0, rows)
        })
        .collect()
}

/// A blocked leaf needs sub-blocks at least as tall as they are wide, so that
/// its R is the stacked R factors' R.
fn check_leaf(what: &str, m: usize, n: usize, block_rows: usize) -> Result<()> {
    if block_rows < n.max(1) || m < n {
        return Err(KernelError::Other(format!(
            "{what}: a blocked factorization of a {m} x {n} block needs block_rows (got {block_rows}) >= n >= 1 and m >= n"
        )));
    }
    Ok(())
}

/// Columns of a blocked leaf's chunk: where each sub-block's packed
/// factorization starts, and the chunk's width.
fn leaf_layout(m: usize, n: usize, block_rows: usize) -> (Vec<usize>, usize) {
    let subs = sub_blocks(m, block_rows);
    let top: usize = subs.iter().map(|&(_, r)| r.min(n)).sum();
    let mut col = top + 1;
    let mut starts = Vec::with_capacity(subs.len());
    for &(_, r) in &subs {
        starts.push(col);
        col += r + 1;
    }
    (starts, col)
}

/// Householder QR of one tall `m x n` block as a two-level TSQR (sub-blocks of
/// `block_rows` rows, see the module docs), packed as the module describes.
///
/// # Errors
/// Dtype other than `T`, a non-2-D input, `block_rows` of 0.
pub fn qr_leaf<T: Real>(inputs: &[&Chunk], block_rows: usize) -> Result<Chunk> {
    let a = mat::<T>(arity("qr_leaf", inputs, 1)?[0])?;
    let (m, n) = a.dim();
    check_leaf("qr_leaf", m, n, block_rows)?;
    let subs = sub_blocks(m, block_rows);
    let (starts, width) = leaf_layout(m, n, block_rows);
    // The chunk, C-order n x width: column-major width x n.
    let mut out = vec![T::zero(); n * width];
    let top_rows: usize = subs.iter().map(|&(_, r)| r.min(n)).sum();
    let mut stacked = Vec::with_capacity(subs.len());
    let nb = n.min(PANEL);
    let mut t = vec![T::zero(); nb * n];
    for (&(row0, rows), &start) in subs.iter().zip(&starts) {
        // Factored in place in the chunk (column-major, leading dimension
        // `width`): its rows transposed in, `?geqrt`, the scalars in row `rows`.
        for (i, row) in a
            .slice(ndarray::s![row0..row0 + rows, ..])
            .rows()
            .into_iter()
            .enumerate()
        {
            for (j, &x) in row.iter().enumerate() {
                out[j * width + start + i] = x;
            }
        }
        T::geqrt(rows, n, nb, &mut out[start..], width, &mut t, nb)?;
        for j in 0..n {
            out[j * width + start + rows] = t[j % nb + j * nb];
        }
        stacked.push(Array2::from_shape_fn((n, n), |(i, j)| {
            if j >= i {
                out[j * width + start + i]
            } else {
                T::zero()
            }
        }));
    }
    let views: Vec<ArrayView2<T>> = stacked.iter().map(|r| r.view()).collect();
    let top = factor_views(&views)?;
    let p = mat::<T>(&top)?;
    debug_assert_eq!(p.ncols(), top_rows + 1);
    for (j, col) in p.rows().into_iter().enumerate() {
        for (d, s) in out[j * width..=j * width + top_rows].iter_mut().zip(col) {
            *d = *s;
        }
    }
    let out = Array2::from_shape_vec((n, width), out).expect("n * width elements");
    Ok(T::into_chunk(out.into_dyn()))
}

/// [`apply_q`] for a blocked leaf of `m` rows made by [`qr_leaf`] with the same
/// `block_rows`: `Q [C; 0]` (`m x p`, C order), `Q` applied one sub-block at a
/// time (the stacked R factors' `Q` first).
/// The output goes into a buffer from `buffers` where it has one.
///
/// # Errors
/// Dtypes other than `T`, a chunk whose width does not fit `m` and
/// `block_rows`, `C` rows out of range.
pub fn apply_q_leaf<T: Real>(
    inputs: &[&Chunk],
    offset: usize,
    m: usize,
    block_rows: usize,
    buffers: &dyn Buffers,
) -> Result<Chunk> {
    let p = mat::<T>(
        inputs
            .first()
            .copied()
            .ok_or_else(|| KernelError::Other("apply_q_leaf: no inputs".into()))?,
    )?;
    let n = p.nrows();
    check_leaf("apply_q_leaf", m, n, block_rows)?;
    let (starts, width) = leaf_layout(m, n, block_rows);
    if p.ncols() != width {
        return Err(KernelError::Other(format!(
            "apply_q_leaf: a blocked factorization of {m} rows in blocks of {block_rows} is {n} x {width}, got {n} x {}",
            p.ncols()
        )));
    }
    let subs = sub_blocks(m, block_rows);
    let top_rows: usize = subs.iter().map(|&(_, r)| r.min(n)).sum();
    let top = p.slice(ndarray::s![.., ..=top_rows]);
    // C as apply_q takes it, then Y = Q_top [C; 0] (top_rows x pc).
    let signs_c;
    let c =
        match inputs {
            [_] => {
                let s = signs(&top, top_rows.min(n));
                signs_c = Array2::from_shape_fn((s.len(), s.len()), |(i, j)| {
                    if i == j {
                        s[i]
                    } else {
                        T::zero()
                    }
                });
                signs_c.view()
            }
            [_, src] => {
                let src = mat::<T>(src)?;
                let k = top_rows.min(n);
                if offset + k > src.nrows() {
                    return Err(KernelError::Other(format!(
                        "apply_q_leaf: rows {offset}..{} of {}",
                        offset + k,
                        src.nrows()
                    )));
                }
                src.slice_move(ndarray::s![offset..offset + k, ..])
            }
            _ => {
                return Err(KernelError::Other(format!(
                    "apply_q_leaf: {} inputs",
                    inputs.len()
                )))
            }
        };
    let pc = c.ncols();
    let full = p.as_standard_layout();
    let base = full.as_slice().expect("standard layout");
    let mut y = vec![T::zero(); top_rows * pc];
    apply_packed(base, width, 0, top_rows, top_rows.min(n), c, &mut y)?;
    let y = ArrayView2::from_shape((top_rows, pc), &y).expect("top_rows * pc elements");
    // Every row is in one sub-block, whose `apply_packed` overwrites it.
    let mut x = out_vec::<T>(buffers, m * pc);
    let mut yrow = 0;
    for (&(row0, rows), &start) in subs.iter().zip(&starts) {
        let k = rows.min(n);
        apply_packed(
            base,
            width,
            start,
            rows,
            k,
            y.slice(ndarray::s![yrow..yrow + k, ..]),
            &mut x[row0 * pc..(row0 + rows) * pc],
        )?;
        yrow += k;
    }
    Ok(T::into_chunk(
        Array2::from_shape_vec((m, pc), x)
            .expect("m * pc elements")
            .into_dyn(),
    ))
}

/// The Householder QR of one raw row block: blocked ([`qr_leaf`]) with
/// `Some(block_rows)`, else [`qr_stack`] of the block alone.
fn factor_block<T: Real>(block: &Chunk, block_rows: Option<usize>) -> Result<Chunk> {
    match block_rows {
        Some(b) => qr_leaf::<T>(&[block], b),
        None => qr_stack::<T>(&[block], false),
    }
}

/// The R factor (`k x n`) of a row block's Householder QR (factored as
/// [`qr_leaf`] does with `Some(block_rows)`, else as [`qr_stack`]), packed as
/// a factorization with zero reflector scalars: a chunk that a parent's
/// [`qr_stack`] reads like the block's full packed factorization (it only
/// reads R), at `(k + 1) x n` elements instead of the block's size.
///
/// # Errors
/// Dtype other than `T`, a non-2-D input, a `block_rows` the block cannot take.
pub fn qr_r<T: Real>(inputs: &[&Chunk], block_rows: Option<usize>) -> Result<Chunk> {
    let full = factor_block::<T>(arity("qr_r", inputs, 1)?[0], block_rows)?;
    let r = r_of(&mat::<T>(&full)?)?;
    let (k, n) = r.dim();
    let out = Array2::from_shape_fn(
        (n, k + 1),
        |(j, i)| if i < k { r[[i, j]] } else { T::zero() },
    );
    Ok(T::into_chunk(out.into_dyn()))
}

/// `Q [C; 0]` for the raw row block `inputs[1]`, factored again exactly as
/// [`qr_r`] factors it (same code on the same block: the same reflectors, to
/// the bit), with `C` the rows `offset..offset + k` of `inputs[0]`: the leaf
/// step of a TSQR's Q pass that re-reads its block instead of holding the
/// block-sized factorization from the R pass.
/// The output goes into a buffer from `buffers` where it has one.
///
/// # Errors
/// As [`qr_r`], and `C` rows out of range.
pub fn refactor_apply_q<T: Real>(
    inputs: &[&Chunk],
    offset: usize,
    block_rows: Option<usize>,
    buffers: &dyn Buffers,
) -> Result<Chunk> {
    let ins = arity("refactor_apply_q", inputs, 2)?;
    let (c, block) = (ins[0], ins[1]);
    let packed = factor_block::<T>(block, block_rows)?;
    match block_rows {
        Some(b) => {
            let m = mat::<T>(block)?.nrows();
            apply_q_leaf::<T>(&[&packed, c], offset, m, b, buffers)
        }
        None => apply_q::<T>(&[&packed, c], offset, buffers),
    }
}

/// The R factor of a packed factorization with its rows signed so the diagonal
/// is non-negative (matching [`apply_q`] with one input).
///
/// # Errors
/// Dtype other than `T`.
pub fn r_factor<T: Real>(inputs: &[&Chunk]) -> Result<Chunk> {
    let p = mat::<T>(arity("r_factor", inputs, 1)?[0])?;
    let (_, _, k) = packed_dims(&p)?;
    let s = signs(&p, k);
    let mut r = r_of(&p)?;
    for (mut row, s) in r.rows_mut().into_iter().zip(s) {
        row.mapv_inplace(|v| v * s);
    }
    Ok(T::into_chunk(r.into_dyn()))
}

/// Upper Cholesky factor `R` (`RᵀR = G + shift · trace(G) · I`) of a square `G`.
/// With `max_cond`, a failure (or `R` with `max|rᵢᵢ| / min|rᵢᵢ|`, a lower bound on
/// its condition number, above `max_cond`) gives a NaN matrix instead of an error.
///
/// # Errors
/// `G` not square, or (without `max_cond`) not positive definite: rank
/// deficient or too ill-conditioned for CholeskyQR.
pub fn cholesky<T: Real>(inputs: &[&Chunk], shift: f64, max_cond: Option<f64>) -> Result<Chunk> {
    let g = mat::<T>(arity("cholesky", inputs, 1)?[0])?;
    let n = g.nrows();
    if g.ncols() != n {
        return Err(KernelError::Shape {
            expected: vec![n, n],
            got: g.shape().to_vec(),
        });
    }
    let mut a = g.as_standard_layout().into_owned();
    if shift > 0.0 {
        let tr: T = (0..n).map(|i| a[[i, i]]).sum();
        let s = T::real(shift) * tr;
        for i in 0..n {
            a[[i, i]] += s;
        }
    }
    let buf = a.as_slice_mut().expect("standard layout");
    // C-order `G` is column-major `Gᵀ = G`; its lower factor `L` is C-order `Lᵀ = R`.
    let ok = T::potrf(b'L', n, buf, n)?;
    if let Some(limit) = max_cond {
        let d: Vec<T> = (0..n).map(|i| num_traits::Float::abs(a[[i, i]])).collect();
        let (hi, lo) = d.iter().fold((T::zero(), T::infinity()), |(h, l), &v| {
            (h.max(v), l.min(v))
        });
        let within = matches!(
            hi.partial_cmp(&(lo * T::real(limit))),
            Some(std::cmp::Ordering::Less | std::cmp::Ordering::Equal)
        );
        if !ok || !within {
            return Ok(T::into_chunk(ndarray::ArrayD::from_elem(
                ndarray::IxDyn(&[n, n]),
                T::nan(),
            )));
        }
    }
    if !ok {
        return Err(KernelError::Other(
            "Gram matrix is not positive definite: the matrix is rank deficient or too ill-conditioned for CholeskyQR (use Householder TSQR)".into(),
        ));
    }
    for i in 0..n {
        for j in 0..i {
            a[[i, j]] = T::zero();
        }
    }
    Ok(T::into_chunk(a.into_dyn()))
}

/// `A R⁻¹` for a 2-D block `A` (`m x n`) and upper-triangular `R` (`n x n`);
/// with more inputs `R₁, R₂, …`, `(A R₁⁻¹) R₂⁻¹ …`, one factor at a time (the
/// bits of as many tasks of one factor each): `R⁻¹` by a triangular solve,
/// then one GEMM. A triangular solve with the block's rows as right-hand
/// sides ran at a fraction of GEMM's speed (35% of CholeskyQR2's CPU on a
/// 4,000,000 x 32 matrix). The price, measured on
/// CholeskyQR2 and shifted CholeskyQR3 of 3000 x 32 matrices with condition
/// numbers 1e2 to 1e12: `‖A - QR‖/‖A‖` up to 2e-15 instead of 3e-16, `‖QᵀQ - I‖`
/// unchanged (2e-15 to 3e-15).
/// The output goes into a buffer from `buffers` where it has one (CholeskyQR's
/// `Q` blocks are as large as the row blocks).
///
/// # Errors
/// Dtypes other than `T`, shapes that do not fit, a singular `R`.
pub fn tri_solve_right<T: Real>(inputs: &[&Chunk], buffers: &dyn Buffers) -> Result<Chunk> {
    let (a, factors) = inputs
        .split_first()
        .filter(|(_, f)| !f.is_empty())
        .ok_or_else(|| {
            KernelError::Other(format!(
                "trsm: {} inputs, a block and at least one factor expected",
                inputs.len()
            ))
        })?;
    let mut x = solve_right::<T>(mat::<T>(a)?, mat::<T>(factors[0])?, buffers)?;
    for r in &factors[1..] {
        x = solve_right::<T>(x.view(), mat::<T>(r)?, buffers)?;
    }
    Ok(T::into_chunk(x.into_dyn()))
}

/// `A R⁻¹`, as [`tri_solve_right`] describes.
fn solve_right<T: Real>(
    a: ArrayView2<'_, T>,
    r: ArrayView2<'_, T>,
    buffers: &dyn Buffers,
) -> Result<Array2<T>> {
    let (m, n) = a.dim();
    if r.dim() != (n, n) {
        return Err(KernelError::Shape {
            expected: vec![n, n],
            got: r.shape().to_vec(),
        });
    }
    if m == 0 || n == 0 {
        return Ok(Array2::<T>::zeros((m, n)));
    }
    let r = r.as_standard_layout();
    // R⁻¹ by a triangular solve against the identity: C-order `R` is column-major
    // lower `Rᵀ`, and `X = R⁻ᵀ` column-major is C-order `R⁻¹`.
    let mut rinv = vec![T::zero(); n * n];
    for i in 0..n {
        rinv[i * n + i] = T::one();
    }
    T::trtrs(
        b'L',
        b'N',
        n,
        n,
        r.as_slice().expect("standard layout"),
        n,
        &mut rinv,
        n,
    )?;
    // Then one GEMM (BLAS's fastest kernel; a triangular solve with 250,000
    // right-hand sides of 32 runs at a fraction of its speed): column-major
    // `Qᵀ = R⁻ᵀ Aᵀ`, which is C-order `Q = A R⁻¹`.
    let a = a.as_standard_layout();
    let mut q = out_vec::<T>(buffers, m * n);
    T::gemm(
        b'N',
        b'N',
        n,
        m,
        n,
        T::one(),
        &rinv,
        n,
        a.as_slice().expect("standard layout"),
        n,
        T::zero(),
        &mut q,
        n,
    )?;
    Ok(Array2::from_shape_vec((m, n), q).expect("m * n elements"))
}

#[cfg(test)]
mod tests {
    use super::super::NoBuffers;
    use super::*;
    use ndarray::Array2;

    fn test_matrix(m: usize, n: usize) -> Array2<f64> {
        Array2::from_shape_fn((m, n), |(i, j)| {
            ((i * 7 + j * 13) % 17) as f64 - 8.0 + (i as f64).sin()
        })
    }

    fn get(c: &Chunk) -> Array2<f64> {
        mat::<f64>(c).unwrap().to_owned()
    }

    #[test]
    fn packed_qr_reconstructs() {
        // (100, 70), (80, 33), (33, 80): several blocks of reflectors.
        for (m, n) in [
            (1, 1),
            (5, 3),
            (40, 7),
            (3, 5),
            (0, 3),
            (7, 0),
            (100, 70),
            (80, 33),
            (33, 80),
        ] {
            let a = test_matrix(m, n);
            let ca = Chunk::F64(a.clone().into_dyn());
            let p = qr_stack::<f64>(&[&ca], false).unwrap();
            let q = get(&apply_q::<f64>(&[&p], 0, &NoBuffers).unwrap());
            let r = get(&r_factor::<f64>(&[&p]).unwrap());
            let k = m.min(n);
            assert_eq!(q.dim(), (m, k));
            assert_eq!(r.dim(), (k, n));
            let err = (&q.dot(&r) - &a).iter().map(|x| x * x).sum::<f64>().sqrt();
            assert!(
                err < 1e-12 * (1.0 + a.iter().map(|x| x * x).sum::<f64>().sqrt()),
                "{m}x{n}: {err}"
            );
            let ortho = (&q.t().dot(&q) - &Array2::<f64>::eye(k))
                .iter()
                .map(|x: &f64| x.abs())
                .fold(0.0, f64::max);
            assert!(ortho < 1e-13, "{ortho}");
            assert!((0..k).all(|i| r[[i, i]] >= 0.0));
        }
    }

    #[test]
    fn sub_blocks_cover_the_rows() {
        assert_eq!(sub_blocks(10, 4), vec![(0, 4), (4, 6)]);
        assert_eq!(sub_blocks(8, 4), vec![(0, 4), (4, 4)]);
        assert_eq!(sub_blocks(3, 4), vec![(0, 3)]);
    }

    /// `qr_r` keeps exactly the R a parent reads from the full factorization,
    /// and `refactor_apply_q` gives the bits of applying the held factorization,
    /// blocked and unblocked, tall and wide blocks.
    #[test]
    fn r_only_and_refactored_application_match_the_held_factorization() {
        for (m, n, b) in [
            (40, 3, Some(8)),
            (300, 40, Some(90)),
            (9, 2, None),
            (3, 5, None),
            (1, 1, None),
        ] {
            let a = test_matrix(m, n);
            let ca = Chunk::F64(a.clone().into_dyn());
            let full = factor_block::<f64>(&ca, b).unwrap();
            let packed_r = qr_r::<f64>(&[&ca], b).unwrap();
            let k = m.min(n);
            assert_eq!(get(&packed_r).dim(), (n, k + 1));
            let want = r_of(&mat::<f64>(&full).unwrap()).unwrap();
            assert_eq!(r_of(&mat::<f64>(&packed_r).unwrap()).unwrap(), want);
            // A parent stacking two such blocks gets the same factorization.
            let two_full = qr_stack::<f64>(&[&full, &full], true).unwrap();
            let two_r = qr_stack::<f64>(&[&packed_r, &packed_r], true).unwrap();
            assert_eq!(get(&two_full), get(&two_r));
            // C = rows 1..1 + k of a random-ish source.
            let src = Chunk::F64(test_matrix(k + 3, 4).into_dyn());
            let held = match b {
                Some(b) => apply_q_leaf::<f64>(&[&full, &src], 1, m, b, &NoBuffers).unwrap(),
                None => apply_q::<f64>(&[&full, &src], 1, &NoBuffers).unwrap(),
            };
            let again = refactor_apply_q::<f64>(&[&src, &ca], 1, b, &NoBuffers).unwrap();
            assert_eq!(get(&again), get(&held));
        }
        let ca = Chunk::F64(test_matrix(10, 3).into_dyn());
        assert!(qr_r::<f64>(&[&ca], Some(2)).is_err());
        assert!(refactor_apply_q::<f64>(&[&ca], 0, None, &NoBuffers).is_err()); // one input
        let src = Chunk::F64(test_matrix(2, 2).into_dyn());
        assert!(refactor_apply_q::<f64>(&[&src, &ca], 0, None, &NoBuffers).is_err());
        // C too short
    }

    /// Q applications write into a buffer from the pool when it has one of the
    /// output's size (stale values: NaN here) and give the bits of a fresh one.
    #[test]
    fn applications_into_pooled_buffers_match_fresh_ones() {
        struct Stale(std::sync::Mutex<Vec<Chunk>>);
        impl Buffers for Stale {
            fn take(&self, dtype: crate::dtype::DType, n: usize) -> Option<Chunk> {
                let mut v = self.0.lock().unwrap();
                let i = v.iter().position(|c| {
                    c.dtype() == Some(dtype) && c.shape().iter().product::<usize>() == n
                })?;
                Some(v.swap_remove(i))
            }
        }
        let nan = |r: usize, c: usize| Chunk::F64(Array2::from_elem((r, c), f64::NAN).into_dyn());
        let (m, n, b) = (300, 6, 64);
        let ca = Chunk::F64(test_matrix(m, n).into_dyn());
        let src = Chunk::F64(test_matrix(n + 2, 3).into_dyn());
        let leaf = qr_leaf::<f64>(&[&ca], b).unwrap();
        let plain = qr_stack::<f64>(&[&ca], false).unwrap();
        // Wrong sizes and dtypes first: they must be left alone.
        let pool = Stale(std::sync::Mutex::new(vec![
            nan(m, 4),
            Chunk::F32(ndarray::ArrayD::zeros(ndarray::IxDyn(&[m, 3]))),
            nan(m, 3),
            nan(3, m),
            nan(m, 3),
        ]));
        let got = [
            apply_q_leaf::<f64>(&[&leaf, &src], 1, m, b, &pool).unwrap(),
            apply_q::<f64>(&[&plain, &src], 2, &pool).unwrap(),
            refactor_apply_q::<f64>(&[&src, &ca], 1, Some(b), &pool).unwrap(),
        ];
        assert_eq!(
            pool.0.lock().unwrap().len(),
            2,
            "three buffers of m x 3 f64 taken"
        );
        assert_eq!(
            got[0],
            apply_q_leaf::<f64>(&[&leaf, &src], 1, m, b, &NoBuffers).unwrap()
        );
        assert_eq!(
            got[1],
            apply_q::<f64>(&[&plain, &src], 2, &NoBuffers).unwrap()
        );
        assert_eq!(got[2], got[0]);
        // CholeskyQR's A R⁻¹ too, and it matches the triangular solve.
        let r = r_factor::<f64>(&[&plain]).unwrap();
        let pool = Stale(std::sync::Mutex::new(vec![nan(m, n)]));
        let x = tri_solve_right::<f64>(&[&ca, &r], &pool).unwrap();
        assert!(pool.0.lock().unwrap().is_empty());
        assert_eq!(x, tri_solve_right::<f64>(&[&ca, &r], &NoBuffers).unwrap());
        let (a, r, x) = (get(&ca), get(&r), get(&x));
        assert!((x.dot(&r) - &a).iter().all(|v| v.abs() < 1e-12));
        // A selection (QrMethod::Auto's R) copies the chosen block into one too.
        let pool = Stale(std::sync::Mutex::new(vec![nan(m, n)]));
        let flag = |v: f64| Chunk::F64(ndarray::arr0(v).into_dyn());
        let (left, right) = (ca.clone(), Chunk::F64(x.clone().into_dyn()));
        for (v, want) in [(1.0, &left), (0.0, &right)] {
            let got = super::super::run(
                &super::super::LinalgOp::Select,
                &[&left, &right, &flag(v)],
                &pool,
            )
            .unwrap();
            assert_eq!(&got, want);
        }
        assert!(pool.0.lock().unwrap().is_empty());
    }

    #[test]
    fn blocked_leaf_matches_reconstruction_and_r() {
        for (m, n, b) in [
            (40, 3, 8),
            (41, 5, 5),
            (7, 7, 7),
            (9, 2, 4),
            (12, 1, 4),
            (300, 40, 90),
        ] {
            let a = test_matrix(m, n);
            let ca = Chunk::F64(a.clone().into_dyn());
            let p = qr_leaf::<f64>(&[&ca], b).unwrap();
            let q = get(&apply_q_leaf::<f64>(&[&p], 0, m, b, &NoBuffers).unwrap());
            let r = get(&r_factor::<f64>(&[&p]).unwrap());
            assert_eq!((q.dim(), r.dim()), ((m, n), (n, n)));
            let err = (&q.dot(&r) - &a).iter().map(|x| x * x).sum::<f64>().sqrt();
            let norm = a.iter().map(|x| x * x).sum::<f64>().sqrt();
            assert!(err < 1e-12 * (1.0 + norm), "{m}x{n}/{b}: {err}");
            let ortho = (&q.t().dot(&q) - &Array2::<f64>::eye(n))
                .iter()
                .map(|x: &f64| x.abs())
                .fold(0.0, f64::max);
            assert!(ortho < 1e-13, "{ortho}");
            // The same R as the unblocked factorization, up to rounding.
            let r1 = get(&r_factor::<f64>(&[&qr_stack::<f64>(&[&ca], false).unwrap()]).unwrap());
            assert!((&r - &r1)
                .iter()
                .all(|x: &f64| x.abs() < 1e-10 * (1.0 + norm)));
            // Q [C; 0] with C = I, read at offset 1 of a parent's product: the
            // unsigned Q, so Q up to the sign of each column.
            let mut src = Array2::<f64>::zeros((n + 1, n));
            src.slice_mut(ndarray::s![1.., ..]).assign(&Array2::eye(n));
            let c = Chunk::F64(src.into_dyn());
            let unsigned = get(&apply_q_leaf::<f64>(&[&p, &c], 1, m, b, &NoBuffers).unwrap());
            assert!(unsigned
                .iter()
                .zip(&q)
                .all(|(x, y): (&f64, &f64)| (x.abs() - y.abs()).abs() < 1e-14));
        }
        let ca = Chunk::F64(test_matrix(10, 3).into_dyn());
        assert!(qr_leaf::<f64>(&[&ca], 2).is_err()); // sub-blocks narrower than n
        let p = qr_leaf::<f64>(&[&ca], 4).unwrap();
        assert!(apply_q_leaf::<f64>(&[&p], 0, 11, 4, &NoBuffers).is_err()); // wrong row count
    }

    #[test]
    fn cholesky_and_solve_give_orthonormal_q() {
        let a = test_matrix(50, 6);
        let ca = Chunk::F64(a.clone().into_dyn());
        let g = crate::linalg::matmul::gram::<f64>(&[&ca]).unwrap();
        let r = cholesky::<f64>(&[&g], 0.0, None).unwrap();
        let q = get(&tri_solve_right::<f64>(&[&ca, &r], &NoBuffers).unwrap());
        let rr = get(&r);
        assert!((&q.dot(&rr) - &a).iter().all(|x: &f64| x.abs() < 1e-10));
        assert!((&q.t().dot(&q) - &Array2::<f64>::eye(6))
            .iter()
            .all(|x: &f64| x.abs() < 1e-10));
    }
}
