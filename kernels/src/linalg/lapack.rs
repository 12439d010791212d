//! The LAPACK and BLAS routines the linear-algebra kernels call, for `f32` and
//! `f64`, behind one trait ([`Real`]). Matrices are passed as column-major
//! buffers with a leading dimension, as LAPACK takes them; a C-order `m x n`
//! block is, in memory, the column-major `n x m` transpose.

use crate::error::{KernelError, Result};
use std::os::raw::{c_char, c_int};

extern "C" {
    fn openblas_set_num_threads(n: c_int);
    // BLAS triangular solves, from the same OpenBLAS that provides LAPACK.
    fn dgemm_(
        transa: *const c_char,
        transb: *const c_char,
        m: *const c_int,
        n: *const c_int,
        k: *const c_int,
        alpha: *const f64,
        a: *const f64,
        lda: *const c_int,
        b: *const f64,
        ldb: *const c_int,
        beta: *const f64,
        c: *mut f64,
        ldc: *const c_int,
    );
    fn dtrsm_(
        side: *const c_char,
        uplo: *const c_char,
        transa: *const c_char,
        diag: *const c_char,
        m: *const c_int,
        n: *const c_int,
        alpha: *const f64,
        a: *const f64,
        lda: *const c_int,
        b: *mut f64,
        ldb: *const c_int,
    );
    fn sgemm_(
        transa: *const c_char,
        transb: *const c_char,
        m: *const c_int,
        n: *const c_int,
        k: *const c_int,
        alpha: *const f32,
        a: *const f32,
        lda: *const c_int,
        b: *const f32,
        ldb: *const c_int,
        beta: *const f32,
        c: *mut f32,
        ldc: *const c_int,
    );
    fn strsm_(
        side: *const c_char,
        uplo: *const c_char,
        transa: *const c_char,
        diag: *const c_char,
        m: *const c_int,
        n: *const c_int,
        alpha: *const f32,
        a: *const f32,
        lda: *const c_int,
        b: *mut f32,
        ldb: *const c_int,
    );
}

/// Makes OpenBLAS single-threaded (once): parallelism comes from the task graph,
/// and a fixed thread count keeps results bit-identical across executors.
pub(crate) fn single_threaded_blas() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    // SAFETY: `openblas_set_num_threads` only sets a global integer in OpenBLAS.
    ONCE.call_once(|| unsafe { openblas_set_num_threads(1) });
}

fn int(n: usize) -> Result<c_int> {
    c_int::try_from(n)
        .map_err(|_| KernelError::Other(format!("dimension {n} too large for LAPACK")))
}

fn check(routine: &str, info: c_int) -> Result<()> {
    if info == 0 {
        Ok(())
    } else {
        Err(KernelError::Other(format!(
            "LAPACK {routine} failed (info = {info})"
        )))
    }
}

/// A real floating-point type with the LAPACK routines the kernels need.
/// Implemented for `f32` and `f64`.
pub trait Real:
    crate::dtype::Numeric<Sum = Self, Float = Self>
    + num_traits::Float
    + ndarray::LinalgScalar
    + ndarray_linalg::Lapack<Real = Self>
    + ndarray_linalg::Scalar
    + std::iter::Sum
    + std::ops::AddAssign
{
    /// Unit roundoff (half the machine epsilon).
    const UNIT_ROUNDOFF: f64;

    /// `?geqrf` on the column-major `m x n` matrix `a` (leading dimension `lda`);
    /// writes `min(m, n)` reflector scalars into `tau`.
    ///
    /// # Errors
    /// LAPACK reporting an illegal argument.
    fn geqrf(m: usize, n: usize, a: &mut [Self], lda: usize, tau: &mut [Self]) -> Result<()>;

    /// `?ormqr`: `c := Q c` (`side = b'L'`, `trans = b'N'`) and the other three
    /// combinations, with `Q` from [`Real::geqrf`] of `k` reflectors stored in `a`.
    ///
    /// `a` is taken mutably because LAPACK overwrites its diagonal while it
    /// works (restoring it on exit): it must never be memory another thread
    /// can read, such as a shared chunk.
    ///
    /// # Errors
    /// LAPACK reporting an illegal argument.
    #[allow(clippy::too_many_arguments)]
    fn ormqr(
        side: u8,
        trans: u8,
        m: usize,
        n: usize,
        k: usize,
        a: &mut [Self],
        lda: usize,
        tau: &[Self],
        c: &mut [Self],
        ldc: usize,
    ) -> Result<()>;

    /// `?geqrt`: the compact-WY QR of the column-major `m x n` matrix `a`
    /// (leading dimension `lda`) in column blocks of `nb` (`1 <= nb <= min(m, n)`
    /// when `min(m, n) > 0`): the same reflectors and `R` as [`Real::geqrf`]
    /// (up to rounding), by level-3 BLAS; block `i`'s triangular factor goes to
    /// `t[.., i nb..]` (`nb x min(m, n)`, leading dimension `ldt >= nb`), so
    /// reflector `j`'s scalar is `t[j % nb + j ldt]`.
    ///
    /// # Errors
    /// LAPACK reporting an illegal argument.
    #[allow(clippy::too_many_arguments)]
    fn geqrt(
        m: usize,
        n: usize,
        nb: usize,
        a: &mut [Self],
        lda: usize,
        t: &mut [Self],
        ldt: usize,
    ) -> Result<()>;

    /// `?larft` (forward, columnwise): the `k x k` upper-triangular factor `T`
    /// of `H = H(1)…H(k) = I - V T Vᵀ`, for the `k` reflectors stored below the
    /// diagonal of the `m x k` column-major `v` (as [`Real::geqrf`] leaves them;
    /// the diagonal and above are not read) and their scalars `tau`.
    ///
    /// # Errors
    /// A dimension too large for LAPACK.
    #[allow(clippy::too_many_arguments)]
    fn larft(
        m: usize,
        k: usize,
        v: &[Self],
        ldv: usize,
        tau: &[Self],
        t: &mut [Self],
        ldt: usize,
    ) -> Result<()>;

    /// `?larfb` (forward, columnwise): `C := H C`, `Hᵀ C`, `C H` or `C Hᵀ`
    /// (`side` `b'L'`/`b'R'`, `trans` `b'N'`/`b'T'`) for `H = I - V T Vᵀ` of
    /// `k` reflectors (`v` as for [`Real::larft`], never written), `C` `m x n`
    /// column-major, by level-3 BLAS.
    ///
    /// # Errors
    /// A dimension too large for LAPACK.
    #[allow(clippy::too_many_arguments)]
    fn larfb(
        side: u8,
        trans: u8,
        m: usize,
        n: usize,
        k: usize,
        v: &[Self],
        ldv: usize,
        t: &[Self],
        ldt: usize,
        c: &mut [Self],
        ldc: usize,
    ) -> Result<()>;

    /// `?tpqrt` (`L = 0`): the QR of `[A; B]`, `A` an `n x n` upper triangle and
    /// `B` a full `m x n` block, all three operands in one column-major buffer
    /// with leading dimension `ld`: `A` in rows `0..n`, `B` in rows
    /// `b_row..b_row + m`, the triangular factors `T` (`nb x n`, `1 <= nb <= n`)
    /// in rows `t_row..t_row + nb`, the ranges disjoint. `R` overwrites `A`'s
    /// upper triangle (the rest of `A` is not read), the reflectors' lower parts
    /// overwrite `B` (their upper parts are the identity's columns): about 2/3
    /// of the flops of `?geqrf` on the stacked `2n x n` (for `m = n`), because
    /// the triangle's zeros are never touched.
    ///
    /// # Errors
    /// Row ranges that overlap or do not fit, LAPACK reporting an illegal argument.
    #[allow(clippy::too_many_arguments)]
    fn tpqrt(
        m: usize,
        n: usize,
        nb: usize,
        buf: &mut [Self],
        ld: usize,
        b_row: usize,
        t_row: usize,
    ) -> Result<()>;

    /// `?tpmqrt` (`side = b'L'`, `L = 0`): `[A; B] := Q [A; B]` (`trans =
    /// b'N'`) or `Qᵀ [A; B]` (`b'T'`) for the `Q` of [`Real::tpqrt`], whose `k`
    /// reflectors (`m x k`) and factors (`nb x k`) are rows `rows.0..` and
    /// `rows.1..` of the column-major `rec` (leading dimension `ldr`, only read).
    /// `A` (`k x w`) is rows `0..k` and `B` (`m x w`) rows `k..k + m` of the
    /// column-major `c` (leading dimension `ldc`).
    ///
    /// # Errors
    /// Shapes that do not fit, LAPACK reporting an illegal argument.
    #[allow(clippy::too_many_arguments)]
    fn tpmqrt(
        trans: u8,
        m: usize,
        w: usize,
        k: usize,
        nb: usize,
        rec: &[Self],
        ldr: usize,
        rows: (usize, usize),
        c: &mut [Self],
        ldc: usize,
    ) -> Result<()>;

    /// `?potrf`: Cholesky factor in place; `Ok(false)` if the matrix is not
    /// (numerically) positive definite.
    ///
    /// # Errors
    /// LAPACK reporting an illegal argument.
    fn potrf(uplo: u8, n: usize, a: &mut [Self], lda: usize) -> Result<bool>;

    /// `?trtrs`: solves `op(A) X = B` for triangular `A` (`n x n`), `B` `n x nrhs`.
    ///
    /// # Errors
    /// A singular `A` or LAPACK reporting an illegal argument.
    #[allow(clippy::too_many_arguments)]
    fn trtrs(
        uplo: u8,
        trans: u8,
        n: usize,
        nrhs: usize,
        a: &[Self],
        lda: usize,
        b: &mut [Self],
        ldb: usize,
    ) -> Result<()>;

    /// `?getrf`: LU with partial pivoting in place of the column-major `m x n`
    /// matrix `a`; `ipiv` (`min(m, n)` entries) gets LAPACK's 1-based row
    /// interchanges. Returns LAPACK's `info`: 0, or the 1-based index of the
    /// first exactly zero pivot (the factorization is still completed).
    ///
    /// # Errors
    /// LAPACK reporting an illegal argument.
    fn getrf(m: usize, n: usize, a: &mut [Self], lda: usize, ipiv: &mut [c_int]) -> Result<usize>;

    /// BLAS `?trsm` with `alpha = 1`: `B := op(A)⁻¹ B` (`side = b'L'`) or
    /// `B := B op(A)⁻¹` (`side = b'R'`) for triangular `A`; `B` is `m x n`.
    /// No singularity check (a zero diagonal gives infinities).
    ///
    /// # Errors
    /// A dimension too large for BLAS.
    #[allow(clippy::too_many_arguments)]
    fn trsm(
        side: u8,
        uplo: u8,
        trans: u8,
        diag: u8,
        m: usize,
        n: usize,
        a: &[Self],
        lda: usize,
        b: &mut [Self],
        ldb: usize,
    ) -> Result<()>;

    /// BLAS `?gemm`: `C := alpha op(A) op(B) + beta C`, all column-major,
    /// `C` `m x n`, `k` the inner dimension.
    ///
    /// # Errors
    /// A dimension too large for BLAS.
    #[allow(clippy::too_many_arguments)]
    fn gemm(
        transa: u8,
        transb: u8,
        m: usize,
        n: usize,
        k: usize,
        alpha: Self,
        a: &[Self],
        lda: usize,
        b: &[Self],
        ldb: usize,
        beta: Self,
        c: &mut [Self],
        ldc: usize,
    ) -> Result<()>;
}

macro_rules! impl_real {
    ($t:ty, $u:expr, $geqrf:ident, $ormqr:ident, $potrf:ident, $trtrs:ident, $getrf:ident, $trsm:ident, $gemm:ident, $geqrt:ident, $larft:ident, $larfb:ident, $tpqrt:ident, $tpmqrt:ident) => {
        impl Real for $t {
            const UNIT_ROUNDOFF: f64 = $u;

            fn tpqrt(
                m: usize,
                n: usize,
                nb: usize,
                buf: &mut [Self],
                ld: usize,
                b_row: usize,
                t_row: usize,
            ) -> Result<()> {
                if n == 0 {
                    return Ok(());
                }
                let fits = nb >= 1
                    && nb <= n
                    && b_row >= n
                    && t_row >= b_row + m
                    && t_row + nb <= ld
                    && buf.len() >= ld * n;
                if !fits {
                    return Err(KernelError::Other(format!(
                        "tpqrt: A {n} x {n}, B {m} rows at row {b_row}, T {nb} rows at row {t_row} \
                         do not fit a {ld}-row buffer of {} values",
                        buf.len()
                    )));
                }
                let (mi, ni, li, nbi, ldi) = (int(m)?, int(n)?, 0, int(nb)?, int(ld)?);
                let mut work = vec![0.0 as $t; nb * n];
                let mut info = 0;
                let p = buf.as_mut_ptr();
                // SAFETY: the three operands are disjoint row ranges (checked
                // above) of the `ld x n` column-major `buf`, each addressed with
                // leading dimension `ld`; `work` holds `nb n` values.
                unsafe {
                    lapack_sys::$tpqrt(
                        &mi,
                        &ni,
                        &li,
                        &nbi,
                        p,
                        &ldi,
                        p.add(b_row),
                        &ldi,
                        p.add(t_row),
                        &ldi,
                        work.as_mut_ptr(),
                        &mut info,
                    )
                };
                check(stringify!($tpqrt), info)
            }

            fn tpmqrt(
                trans: u8,
                m: usize,
                w: usize,
                k: usize,
                nb: usize,
                rec: &[Self],
                ldr: usize,
                (v_row, t_row): (usize, usize),
                c: &mut [Self],
                ldc: usize,
            ) -> Result<()> {
                if k == 0 || w == 0 {
                    return Ok(());
                }
                let fits = nb >= 1
                    && nb <= k
                    && v_row + m <= ldr
                    && t_row + nb <= ldr
                    && rec.len() >= ldr * k
                    && ldc >= k + m
                    && c.len() >= ldc * w;
                if !fits {
                    return Err(KernelError::Other(format!(
                        "tpmqrt: {k} reflectors of {m} rows (row {v_row}), T {nb} rows (row {t_row}) \
                         in a {ldr}-row record; C {} x {w} with leading dimension {ldc}",
                        k + m
                    )));
                }
                let (mi, wi, ki, li, nbi) = (int(m)?, int(w)?, int(k)?, 0, int(nb)?);
                let (ldri, ldci) = (int(ldr)?, int(ldc)?);
                let (sd, tr) = (b'L' as c_char, trans as c_char);
                let mut work = vec![0.0 as $t; nb * w];
                let mut info = 0;
                let (r, p) = (rec.as_ptr(), c.as_mut_ptr());
                // SAFETY: `V` and `T` are row ranges of the `ldr x k` record (only
                // read); `A` and `B` the disjoint rows `0..k` and `k..k + m` of
                // the `ldc x w` column-major `c`; all checked above.
                unsafe {
                    lapack_sys::$tpmqrt(
                        &sd,
                        &tr,
                        &mi,
                        &wi,
                        &ki,
                        &li,
                        &nbi,
                        r.add(v_row),
                        &ldri,
                        r.add(t_row),
                        &ldri,
                        p,
                        &ldci,
                        p.add(k),
                        &ldci,
                        work.as_mut_ptr(),
                        &mut info,
                    )
                };
                check(stringify!($tpmqrt), info)
            }

            fn geqrt(
                m: usize,
                n: usize,
                nb: usize,
                a: &mut [Self],
                lda: usize,
                t: &mut [Self],
                ldt: usize,
            ) -> Result<()> {
                let k = m.min(n);
                if k == 0 {
                    return Ok(());
                }
                let (mi, ni, nbi, ldai, ldti) = (
                    int(m)?,
                    int(n)?,
                    int(nb)?,
                    int(lda.max(1))?,
                    int(ldt.max(1))?,
                );
                let mut work = vec![0.0 as $t; nb * n];
                let mut info = 0;
                debug_assert!(a.len() >= lda * (n - 1) + m && t.len() >= ldt * (k - 1) + nb);
                // SAFETY: `a` holds an `m x n` column-major matrix with leading
                // dimension `lda`, `t` an `nb x k` one with `ldt`, `work` `nb n`.
                unsafe {
                    lapack_sys::$geqrt(
                        &mi,
                        &ni,
                        &nbi,
                        a.as_mut_ptr(),
                        &ldai,
                        t.as_mut_ptr(),
                        &ldti,
                        work.as_mut_ptr(),
                        &mut info,
                    )
                };
                check(stringify!($geqrt), info)
            }

            fn larft(
                m: usize,
                k: usize,
                v: &[Self],
                ldv: usize,
                tau: &[Self],
                t: &mut [Self],
                ldt: usize,
            ) -> Result<()> {
                if k == 0 {
                    return Ok(());
                }
                let (mi, ki, ldvi, ldti) = (int(m)?, int(k)?, int(ldv.max(1))?, int(ldt.max(1))?);
                let (d, sv) = (b'F' as c_char, b'C' as c_char);
                debug_assert!(v.len() >= ldv * (k - 1) + m && tau.len() >= k);
                debug_assert!(t.len() >= ldt * (k - 1) + k);
                // SAFETY: `v` holds `k` reflectors of length `m` (leading
                // dimension `ldv`), only read; `t` a `k x k` matrix with `ldt`.
                unsafe {
                    lapack_sys::$larft(
                        &d,
                        &sv,
                        &mi,
                        &ki,
                        v.as_ptr(),
                        &ldvi,
                        tau.as_ptr(),
                        t.as_mut_ptr(),
                        &ldti,
                    )
                };
                Ok(())
            }

            fn larfb(
                side: u8,
                trans: u8,
                m: usize,
                n: usize,
                k: usize,
                v: &[Self],
                ldv: usize,
                t: &[Self],
                ldt: usize,
                c: &mut [Self],
                ldc: usize,
            ) -> Result<()> {
                if m == 0 || n == 0 || k == 0 {
                    return Ok(());
                }
                let (mi, ni, ki) = (int(m)?, int(n)?, int(k)?);
                let (ldvi, ldti, ldci) = (int(ldv.max(1))?, int(ldt.max(1))?, int(ldc.max(1))?);
                let rows_v = if side == b'L' { m } else { n };
                let ldwork = if side == b'L' { n } else { m };
                let mut work = vec![0.0 as $t; ldwork * k];
                let ldwi = int(ldwork)?;
                let (sd, tr, d, sv) = (
                    side as c_char,
                    trans as c_char,
                    b'F' as c_char,
                    b'C' as c_char,
                );
                debug_assert!(v.len() >= ldv * (k - 1) + rows_v && c.len() >= ldc * (n - 1) + m);
                debug_assert!(t.len() >= ldt * (k - 1) + k);
                // SAFETY: `v` holds `k` reflectors of length `rows_v` (only read),
                // `t` a `k x k` matrix, `c` an `m x n` column-major matrix with
                // leading dimension `ldc`, `work` `ldwork x k`.
                unsafe {
                    lapack_sys::$larfb(
                        &sd,
                        &tr,
                        &d,
                        &sv,
                        &mi,
                        &ni,
                        &ki,
                        v.as_ptr(),
                        &ldvi,
                        t.as_ptr(),
                        &ldti,
                        c.as_mut_ptr(),
                        &ldci,
                        work.as_mut_ptr(),
                        &ldwi,
                    )
                };
                Ok(())
            }

            fn geqrf(
                m: usize,
                n: usize,
                a: &mut [Self],
                lda: usize,
                tau: &mut [Self],
            ) -> Result<()> {
                let (mi, ni, ldai) = (int(m)?, int(n)?, int(lda.max(1))?);
                let mut info = 0;
                let mut query = [0.0 as $t];
                // SAFETY: workspace query; LAPACK reads only the dimensions.
                unsafe {
                    lapack_sys::$geqrf(
                        &mi,
                        &ni,
                        a.as_mut_ptr(),
                        &ldai,
                        tau.as_mut_ptr(),
                        query.as_mut_ptr(),
                        &-1,
                        &mut info,
                    )
                };
                check(stringify!($geqrf), info)?;
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                let lwork = (query[0] as usize).max(m.max(n).max(1));
                let mut work = vec![0.0 as $t; lwork];
                let lw = int(lwork)?;
                debug_assert!(a.len() >= lda * n.saturating_sub(1) + m && tau.len() >= m.min(n));
                // SAFETY: `a` holds an `m x n` column-major matrix with leading
                // dimension `lda`, `tau` min(m, n) entries, `work` `lwork`.
                unsafe {
                    lapack_sys::$geqrf(
                        &mi,
                        &ni,
                        a.as_mut_ptr(),
                        &ldai,
                        tau.as_mut_ptr(),
                        work.as_mut_ptr(),
                        &lw,
                        &mut info,
                    )
                };
                check(stringify!($geqrf), info)
            }

            fn ormqr(
                side: u8,
                trans: u8,
                m: usize,
                n: usize,
                k: usize,
                a: &mut [Self],
                lda: usize,
                tau: &[Self],
                c: &mut [Self],
                ldc: usize,
            ) -> Result<()> {
                let (mi, ni, ki, ldai, ldci) = (
                    int(m)?,
                    int(n)?,
                    int(k)?,
                    int(lda.max(1))?,
                    int(ldc.max(1))?,
                );
                let (s, t) = (side as c_char, trans as c_char);
                let mut info = 0;
                let mut query = [0.0 as $t];
                // SAFETY: workspace query; LAPACK reads only the dimensions.
                unsafe {
                    lapack_sys::$ormqr(
                        &s,
                        &t,
                        &mi,
                        &ni,
                        &ki,
                        a.as_mut_ptr(),
                        &ldai,
                        tau.as_ptr(),
                        c.as_mut_ptr(),
                        &ldci,
                        query.as_mut_ptr(),
                        &-1,
                        &mut info,
                    )
                };
                check(stringify!($ormqr), info)?;
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                let lwork = (query[0] as usize).max(m.max(n).max(1));
                let mut work = vec![0.0 as $t; lwork];
                let lw = int(lwork)?;
                debug_assert!(c.len() >= ldc * n.saturating_sub(1) + m && tau.len() >= k);
                // SAFETY: `a` holds `k` reflectors (leading dimension `lda`), `c`
                // an `m x n` column-major matrix with leading dimension `ldc`.
                unsafe {
                    lapack_sys::$ormqr(
                        &s,
                        &t,
                        &mi,
                        &ni,
                        &ki,
                        a.as_mut_ptr(),
                        &ldai,
                        tau.as_ptr(),
                        c.as_mut_ptr(),
                        &ldci,
                        work.as_mut_ptr(),
                        &lw,
                        &mut info,
                    )
                };
                check(stringify!($ormqr), info)
            }

            fn potrf(uplo: u8, n: usize, a: &mut [Self], lda: usize) -> Result<bool> {
                let (ni, ldai) = (int(n)?, int(lda.max(1))?);
                let u = uplo as c_char;
                let mut info = 0;
                debug_assert!(a.len() >= lda * n);
                // SAFETY: `a` holds an `n x n` column-major matrix, leading dimension `lda`.
                unsafe { lapack_sys::$potrf(&u, &ni, a.as_mut_ptr(), &ldai, &mut info) };
                if info > 0 {
                    return Ok(false);
                }
                check(stringify!($potrf), info).map(|()| true)
            }

            fn trtrs(
                uplo: u8,
                trans: u8,
                n: usize,
                nrhs: usize,
                a: &[Self],
                lda: usize,
                b: &mut [Self],
                ldb: usize,
            ) -> Result<()> {
                let (ni, nr, ldai, ldbi) =
                    (int(n)?, int(nrhs)?, int(lda.max(1))?, int(ldb.max(1))?);
                let (u, t, d) = (uplo as c_char, trans as c_char, b'N' as c_char);
                let mut info = 0;
                debug_assert!(a.len() >= lda * n && b.len() >= ldb * nrhs.saturating_sub(1) + n);
                // SAFETY: `a` is `n x n` (leading dimension `lda`), `b` `n x nrhs`
                // (leading dimension `ldb`), both column-major.
                unsafe {
                    lapack_sys::$trtrs(
                        &u,
                        &t,
                        &d,
                        &ni,
                        &nr,
                        a.as_ptr(),
                        &ldai,
                        b.as_mut_ptr(),
                        &ldbi,
                        &mut info,
                    )
                };
                if info > 0 {
                    return Err(KernelError::Other(format!(
                        "triangular factor is singular (zero at diagonal {info})"
                    )));
                }
                check(stringify!($trtrs), info)
            }

            fn getrf(
                m: usize,
                n: usize,
                a: &mut [Self],
                lda: usize,
                ipiv: &mut [c_int],
            ) -> Result<usize> {
                let (mi, ni, ldai) = (int(m)?, int(n)?, int(lda.max(1))?);
                let mut info = 0;
                debug_assert!(a.len() >= lda * n.saturating_sub(1) + m && ipiv.len() >= m.min(n));
                // SAFETY: `a` holds an `m x n` column-major matrix with leading
                // dimension `lda`, `ipiv` at least min(m, n) entries.
                unsafe {
                    lapack_sys::$getrf(
                        &mi,
                        &ni,
                        a.as_mut_ptr(),
                        &ldai,
                        ipiv.as_mut_ptr(),
                        &mut info,
                    )
                };
                if info > 0 {
                    #[allow(clippy::cast_sign_loss)]
                    return Ok(info as usize);
                }
                check(stringify!($getrf), info).map(|()| 0)
            }

            fn trsm(
                side: u8,
                uplo: u8,
                trans: u8,
                diag: u8,
                m: usize,
                n: usize,
                a: &[Self],
                lda: usize,
                b: &mut [Self],
                ldb: usize,
            ) -> Result<()> {
                if m == 0 || n == 0 {
                    return Ok(());
                }
                let (mi, ni, ldai, ldbi) = (int(m)?, int(n)?, int(lda.max(1))?, int(ldb.max(1))?);
                let (s, u, t, d) = (
                    side as c_char,
                    uplo as c_char,
                    trans as c_char,
                    diag as c_char,
                );
                let k = if side == b'L' { m } else { n };
                debug_assert!(a.len() >= lda * k && b.len() >= ldb * (n - 1) + m);
                let one: $t = 1.0;
                // SAFETY: `a` is `k x k` (leading dimension `lda`), `b` `m x n`
                // (leading dimension `ldb`), both column-major; `a` is only read.
                unsafe {
                    $trsm(
                        &s,
                        &u,
                        &t,
                        &d,
                        &mi,
                        &ni,
                        &one,
                        a.as_ptr(),
                        &ldai,
                        b.as_mut_ptr(),
                        &ldbi,
                    )
                };
                Ok(())
            }

            fn gemm(
                transa: u8,
                transb: u8,
                m: usize,
                n: usize,
                k: usize,
                alpha: Self,
                a: &[Self],
                lda: usize,
                b: &[Self],
                ldb: usize,
                beta: Self,
                c: &mut [Self],
                ldc: usize,
            ) -> Result<()> {
                if m == 0 || n == 0 {
                    return Ok(());
                }
                let (mi, ni, ki) = (int(m)?, int(n)?, int(k)?);
                let (ldai, ldbi, ldci) = (int(lda.max(1))?, int(ldb.max(1))?, int(ldc.max(1))?);
                let (ta, tb) = (transa as c_char, transb as c_char);
                debug_assert!(c.len() >= ldc * (n - 1) + m);
                // SAFETY: `a`, `b` and `c` hold column-major `op(A)` (`m x k`),
                // `op(B)` (`k x n`) and `C` (`m x n`) with the leading dimensions
                // given; only `c` is written.
                unsafe {
                    $gemm(
                        &ta,
                        &tb,
                        &mi,
                        &ni,
                        &ki,
                        &alpha,
                        a.as_ptr(),
                        &ldai,
                        b.as_ptr(),
                        &ldbi,
                        &beta,
                        c.as_mut_ptr(),
                        &ldci,
                    )
                };
                Ok(())
            }
        }
    };
}

impl_real!(
    f64,
    f64::EPSILON / 2.0,
    dgeqrf_,
    dormqr_,
    dpotrf_,
    dtrtrs_,
    dgetrf_,
    dtrsm_,
    dgemm_,
    dgeqrt_,
    dlarft_,
    dlarfb_,
    dtpqrt_,
    dtpmqrt_
);
impl_real!(
    f32,
    f32::EPSILON as f64 / 2.0,
    sgeqrf_,
    sormqr_,
    spotrf_,
    strtrs_,
    sgetrf_,
    strsm_,
    sgemm_,
    sgeqrt_,
    slarft_,
    slarfb_,
    stpqrt_,
    stpmqrt_
);
