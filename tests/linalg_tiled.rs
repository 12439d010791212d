//! Tiled factorizations of square matrices chunked along both axes, against
//! LAPACK on the whole matrix (ndarray-linalg), on random inputs drawn anew per
//! case, regular and irregular chunkings (row and column chunks differing), f64
//! and f32. Tolerances: Cholesky ‖A - LLᵀ‖_F/‖A‖_F < 1e-12 (f64) / 1e-5 (f32);
//! solve ‖Ax - b‖_F/(‖A‖_F ‖x‖_F) < 1e-12 / 1e-5 on matrices that need pivoting
//! (tiny diagonal); inv ‖A A⁻¹ - I‖_F < 100 n cond(A) u; tiled QR
//! ‖A - QR‖_F/‖A‖_F and ‖QᵀQ - I‖_F < 1e-12 / 1e-5, |R| within 1e-10 of
//! LAPACK's. Results are bit-identical for 1, 2 and 4 threads.

mod common;

use common::*;
use darray::linalg;
use darray::{DArray, Error};
use ndarray::{Array1, Array2, ArrayD, Ix2};
use ndarray_linalg::{Cholesky, Inverse, Solve, QR, UPLO};
use proptest::prelude::*;

/// A symmetric positive-definite matrix `B Bᵀ + n I`.
fn spd(seed: u64, n: usize) -> Array2<f64> {
    let b = random(seed, n, n);
    b.dot(&b.t()) + Array2::<f64>::eye(n) * n as f64
}

/// A random matrix with a tiny diagonal: Gaussian elimination without
/// pivoting would divide by 1e-14.
fn needs_pivoting(seed: u64, n: usize) -> Array2<f64> {
    let mut a = random(seed, n, n);
    for i in 0..n {
        a[[i, i]] *= 1e-14;
    }
    a
}

fn fro(a: &Array2<f64>) -> f64 {
    a.iter().map(|x| x * x).sum::<f64>().sqrt()
}

fn two(a: ArrayD<f64>) -> Array2<f64> {
    a.into_dimensionality::<Ix2>().unwrap()
}

/// Computes `x` on every executor, checks the bits agree, returns it as f64.
fn on_all<T: darray::linalg::Real>(x: &DArray<T>, to64: impl Fn(T) -> f64) -> ArrayD<f64> {
    let mut first: Option<ArrayD<f64>> = None;
    for exec in executors() {
        let got = x.compute_with(&exec).unwrap().mapv(&to64);
        match &first {
            None => first = Some(got),
            Some(f) => assert_bits_eq(f, &got),
        }
    }
    first.unwrap()
}

/// A square size and independent row and column chunkings (regular or not).
fn square() -> impl Strategy<Value = (usize, Vec<usize>, Vec<usize>, u64)> {
    (1usize..48, any::<u64>())
        .prop_flat_map(|(n, seed)| (Just(n), partition(n), partition(n), Just(seed)))
        .prop_filter("at most 12 tiles per axis", |(_, r, c, _)| {
            r.len() <= 12 && c.len() <= 12
        })
}

fn check_cholesky(a: &Array2<f64>, l: &Array2<f64>, tol: f64) {
    let n = a.nrows();
    assert_eq!(l.dim(), (n, n));
    for i in 0..n {
        for j in i + 1..n {
            assert_eq!(l[[i, j]], 0.0, "L[{i}, {j}] above the diagonal");
        }
    }
    let rec = fro(&(l.dot(&l.t()) - a)) / fro(a);
    assert!(rec < tol, "‖A - LLᵀ‖/‖A‖ = {rec:e}");
}

proptest! {
    #![proptest_config(config(24))]

    #[test]
    fn cholesky_matches_lapack_f64((n, rows, cols, seed) in square()) {
        let a = spd(seed, n);
        let l = linalg::cholesky(&DArray::from_ndarray(&a, vec![rows, cols]).unwrap()).unwrap();
        let l = two(on_all(&l, |v| v));
        check_cholesky(&a, &l, 1e-12);
        let want = a.cholesky(UPLO::Lower).unwrap();
        prop_assert!(fro(&(&l - &want)) < 1e-10 * fro(&want));
    }

    #[test]
    fn cholesky_matches_lapack_f32((n, rows, cols, seed) in square()) {
        let a = spd(seed, n).mapv(|v| v as f32);
        let l = linalg::cholesky(&DArray::from_ndarray(&a, vec![rows, cols]).unwrap()).unwrap();
        let l = two(on_all(&l, f64::from));
        check_cholesky(&a.mapv(f64::from), &l, 1e-5);
    }

    #[test]
    fn solve_needs_pivoting_f64((n, rows, cols, seed) in square(), p in 0usize..4, bcols in 1usize..4) {
        let a = needs_pivoting(seed, n);
        let da = DArray::from_ndarray(&a, vec![rows, cols]).unwrap();
        // p == 0: a vector; else p columns in `bcols`-wide chunks.
        let (x, b) = if p == 0 {
            let b = Array1::from_vec(normals(seed ^ 5, n));
            let x = linalg::solve(&da, &DArray::from_ndarray(&b, [7]).unwrap()).unwrap();
            prop_assert_eq!(x.shape(), &[n]);
            let x = on_all(&x, |v| v).into_shape_with_order((n, 1)).unwrap();
            (x, b.into_shape_with_order((n, 1)).unwrap())
        } else {
            let b = random(seed ^ 5, n, p);
            let x = linalg::solve(&da, &DArray::from_ndarray(&b, [5, bcols]).unwrap()).unwrap();
            (two(on_all(&x, |v| v)), b)
        };
        let res = fro(&(a.dot(&x) - &b)) / (fro(&a) * fro(&x));
        prop_assert!(res < 1e-12, "‖Ax - b‖/(‖A‖‖x‖) = {res:e}");
        let mut want = Array2::<f64>::zeros(b.dim());
        for j in 0..b.ncols() {
            want.column_mut(j).assign(&a.solve(&b.column(j).to_owned()).unwrap());
        }
        // Forward error against LAPACK's gesv, for these moderately conditioned
        // random matrices.
        prop_assert!(fro(&(&x - &want)) < 1e-7 * fro(&want).max(1.0));
    }

    #[test]
    fn solve_f32((n, rows, cols, seed) in square()) {
        let a = needs_pivoting(seed, n).mapv(|v| v as f32);
        let b = random(seed ^ 9, n, 2).mapv(|v| v as f32);
        let x = linalg::solve(
            &DArray::from_ndarray(&a, vec![rows, cols]).unwrap(),
            &DArray::from_ndarray(&b, [6, 1]).unwrap(),
        ).unwrap();
        let x = two(on_all(&x, f64::from));
        let (a, b) = (a.mapv(f64::from), b.mapv(f64::from));
        let res = fro(&(a.dot(&x) - &b)) / (fro(&a) * fro(&x));
        prop_assert!(res < 1e-5, "‖Ax - b‖/(‖A‖‖x‖) = {res:e}");
    }

    #[test]
    fn lu_reconstructs((n, rows, cols, seed) in square(), single in any::<bool>()) {
        let a = needs_pivoting(seed, n);
        let a = if single { a.mapv(|v| f64::from(v as f32)) } else { a };
        let (perm, l, u) = if single {
            let (p, l, u) = linalg::lu(&DArray::from_ndarray(&a.mapv(|v| v as f32), vec![rows, cols]).unwrap()).unwrap();
            (p, two(on_all(&l, f64::from)), two(on_all(&u, f64::from)))
        } else {
            let (p, l, u) = linalg::lu(&DArray::from_ndarray(&a, vec![rows, cols]).unwrap()).unwrap();
            (p, two(on_all(&l, |v| v)), two(on_all(&u, |v| v)))
        };
        let perm: Vec<usize> = perm.compute().unwrap().iter().map(|&p| p as usize).collect();
        let mut sorted = perm.clone();
        sorted.sort_unstable();
        prop_assert_eq!(sorted, (0..n).collect::<Vec<_>>());
        for i in 0..n {
            prop_assert_eq!(l[[i, i]], 1.0);
            for j in i + 1..n {
                prop_assert_eq!(l[[i, j]], 0.0);
                prop_assert_eq!(u[[j, i]], 0.0);
            }
        }
        let pa = Array2::from_shape_fn((n, n), |(r, c)| a[[perm[r], c]]);
        let rec = fro(&(l.dot(&u) - &pa)) / fro(&a);
        prop_assert!(rec < if single { 1e-5 } else { 1e-12 }, "‖PA - LU‖/‖A‖ = {rec:e}");
    }

    #[test]
    fn inv_matches_lapack((n, rows, cols, seed) in square()) {
        let a = needs_pivoting(seed, n);
        let ai = linalg::inv(&DArray::from_ndarray(&a, vec![rows, cols]).unwrap()).unwrap();
        let ai = two(on_all(&ai, |v| v));
        let want = a.inv().unwrap();
        let cond = fro(&a) * fro(&want);
        let err = fro(&(a.dot(&ai) - Array2::<f64>::eye(n)));
        prop_assert!(err < 100.0 * n as f64 * cond * f64::EPSILON / 2.0, "‖A A⁻¹ - I‖ = {err:e}, cond {cond:e}");
    }
}

proptest! {
    #![proptest_config(config(24))]

    /// The other triangle (and, with a unit diagonal, the diagonal) holds NaN,
    /// so reading it would show; the oracle is LAPACK's `trtrs` on the clean
    /// triangle, and the same bits come out on every executor.
    #[test]
    fn solve_triangular_matches_lapack(
        (n, rows, cols, seed) in square(),
        lower in any::<bool>(),
        trans in any::<bool>(),
        unit in any::<bool>(),
        p in 0usize..4,
    ) {
        use ndarray_linalg::{Diag, SolveTriangular};
        let r = random(seed, n, n);
        let tri = |i: usize, j: usize| if lower { i >= j } else { i <= j };
        let clean = Array2::from_shape_fn((n, n), |(i, j)| match (i == j, tri(i, j)) {
            (true, _) if unit => 1.0,
            (true, _) => 4.0 + r[[i, j]].abs(),
            (false, true) => r[[i, j]] / n as f64,
            (false, false) => 0.0,
        });
        let dirty = Array2::from_shape_fn((n, n), |(i, j)| {
            if (i == j && unit) || !tri(i, j) { f64::NAN } else { clean[[i, j]] }
        });
        let b = random(seed ^ 3, n, p.max(1));
        let da = DArray::from_ndarray(&dirty, vec![rows, cols]).unwrap();
        let x = if p == 0 {
            let b1 = DArray::from_ndarray(&b.column(0).to_owned(), [5]).unwrap();
            let x = linalg::solve_triangular_with(&da, &b1, lower, trans, unit).unwrap();
            prop_assert_eq!(x.shape(), &[n]);
            on_all(&x, |v| v).into_shape_with_order((n, 1)).unwrap()
        } else {
            let db = DArray::from_ndarray(&b, [6, 2]).unwrap();
            two(on_all(&linalg::solve_triangular_with(&da, &db, lower, trans, unit).unwrap(), |v| v))
        };
        let (m, uplo) = match (trans, lower) {
            (false, true) | (true, false) => (if trans { clean.t().to_owned() } else { clean.clone() }, UPLO::Lower),
            _ => (if trans { clean.t().to_owned() } else { clean.clone() }, UPLO::Upper),
        };
        let want = m.solve_triangular(uplo, Diag::NonUnit, &b).unwrap();
        prop_assert!(
            fro(&(&x - &want)) <= 1e-12 * fro(&want).max(1.0),
            "‖x - x_lapack‖ = {:e}", fro(&(&x - &want))
        );
    }
}

#[test]
fn solve_triangular_bad_shapes_are_errors() {
    let a = DArray::<f64>::ones(&[4, 4], [2, 2]).unwrap();
    let r = DArray::<f64>::ones(&[4, 3], [2, 2]).unwrap();
    let b = DArray::<f64>::ones(&[5], [2]).unwrap();
    assert!(matches!(
        linalg::solve_triangular(&r, &b, true),
        Err(Error::InvalidArgument { .. })
    ));
    assert!(matches!(
        linalg::solve_triangular(&a, &b, true),
        Err(Error::InvalidArgument { .. })
    ));
    let b3 = DArray::<f64>::ones(&[4, 1, 1], [2, 1, 1]).unwrap();
    assert!(matches!(
        linalg::solve_triangular(&a, &b3, false),
        Err(Error::InvalidArgument { .. })
    ));
}

/// A tall-or-square shape chunked along both axes (at least two chunks each).
fn tall_tiled() -> impl Strategy<Value = (usize, usize, Vec<usize>, Vec<usize>, u64)> {
    (2usize..40, 0usize..40, any::<u64>())
        .prop_flat_map(|(n, extra, seed)| {
            let m = n + extra;
            (Just(m), Just(n), partition(m), partition(n), Just(seed))
        })
        .prop_filter(
            "chunked along both axes, at most 16 chunks each",
            |(_, _, r, c, _)| (2..=16).contains(&r.len()) && (2..=16).contains(&c.len()),
        )
}

fn check_qr(a: &Array2<f64>, q: &Array2<f64>, r: &Array2<f64>, tol: f64) {
    let k = a.nrows().min(a.ncols());
    assert_eq!(q.dim(), (a.nrows(), k));
    assert_eq!(r.dim(), (k, a.ncols()));
    let rec = fro(&(q.dot(r) - a)) / fro(a);
    let orth = fro(&(q.t().dot(q) - Array2::<f64>::eye(k)));
    assert!(rec < tol, "‖A - QR‖/‖A‖ = {rec:e}");
    assert!(orth < tol, "‖QᵀQ - I‖ = {orth:e}");
    for i in 0..k {
        assert!(r[[i, i]] >= 0.0, "R[{i}, {i}] = {}", r[[i, i]]);
        for j in 0..i {
            assert_eq!(r[[i, j]], 0.0);
        }
    }
}

proptest! {
    #![proptest_config(config(24))]

    #[test]
    fn tiled_qr_matches_lapack_f64((m, n, rows, cols, seed) in tall_tiled(), wide in any::<bool>()) {
        let a = random(seed, m, n);
        let (a, grid) = if wide { (a.t().to_owned(), vec![cols, rows]) } else { (a, vec![rows, cols]) };
        let (q, r) = linalg::qr(&DArray::from_ndarray(&a, grid).unwrap()).unwrap();
        let (q, r) = (two(on_all(&q, |v| v)), two(on_all(&r, |v| v)));
        check_qr(&a, &q, &r, 1e-12);
        let (_, want) = a.qr().unwrap();
        let d = fro(&(r.mapv(f64::abs) - want.mapv(f64::abs)));
        prop_assert!(d < 1e-10 * fro(&want), "|R| differs from LAPACK's by {d:e}");
    }

    #[test]
    fn tiled_qr_f32((m, n, rows, cols, seed) in tall_tiled()) {
        let a = random(seed, m, n).mapv(|v| v as f32);
        let (q, r) = linalg::qr(&DArray::from_ndarray(&a, vec![rows, cols]).unwrap()).unwrap();
        let (q, r) = (two(on_all(&q, f64::from)), two(on_all(&r, f64::from)));
        check_qr(&a.mapv(f64::from), &q, &r, 1e-5);
    }
}

#[test]
fn tiled_qr_graph_round_trips_and_uses_tiles() {
    let a = random(12, 300, 200);
    let da = DArray::from_ndarray(&a, [50, 50]).unwrap();
    let (q, r) = linalg::qr(&da).unwrap();
    let g = q.graph().unwrap();
    assert_eq!(
        g,
        darray::graph::Graph::from_bytes(&g.to_bytes().unwrap()).unwrap()
    );
    // 4 panels over 6, 5, 4, 3 tile rows.
    assert_eq!(g.op_counts()["tqr_factor"], 6 + 5 + 4 + 3);
    check_qr(
        &a,
        &two(q.compute().unwrap()),
        &two(r.compute().unwrap()),
        1e-12,
    );
}

#[test]
fn irregular_tiles_are_rechunked_square() {
    let a = spd(3, 37);
    let da = DArray::from_ndarray(&a, vec![vec![5, 20, 12], vec![1, 9, 9, 9, 9]]).unwrap();
    let l = linalg::cholesky(&da).unwrap();
    assert_eq!(l.chunks()[0], l.chunks()[1]);
    check_cholesky(&a, &two(l.compute().unwrap()), 1e-12);
    let g = l.graph().unwrap();
    let g2 = darray::graph::Graph::from_bytes(&g.to_bytes().unwrap()).unwrap();
    assert_eq!(g, g2);
    assert_eq!(g.op_counts()["potrf"], 5);
}

#[test]
fn not_positive_definite_names_the_tile() {
    let mut a = spd(4, 30);
    a[[25, 25]] = -1e6;
    let l = linalg::cholesky(&DArray::from_ndarray(&a, [10, 10]).unwrap()).unwrap();
    let err = l.compute().unwrap_err().to_string();
    assert!(
        err.contains("not positive definite") && err.contains("tile (2, 2)"),
        "{err}"
    );
}

#[test]
fn singular_is_an_error() {
    let mut a = random(6, 30, 30);
    a.column_mut(17).fill(0.0);
    let da = DArray::from_ndarray(&a, [8, 8]).unwrap();
    let b = DArray::<f64>::ones(&[30], [8]).unwrap();
    for x in [linalg::solve(&da, &b).unwrap(), linalg::inv(&da).unwrap()] {
        let err = x.compute().unwrap_err().to_string();
        assert!(err.contains("singular") && err.contains("panel 2"), "{err}");
    }
}

#[test]
fn bad_shapes_are_errors() {
    let rect = DArray::<f64>::ones(&[4, 5], [2, 2]).unwrap();
    let sq = DArray::<f64>::ones(&[4, 4], [2, 2]).unwrap();
    let cube = DArray::<f64>::ones(&[2, 2, 2], [1, 1, 1]).unwrap();
    let v3 = DArray::<f64>::ones(&[3], [2]).unwrap();
    let bad = |r: darray::Result<DArray<f64>>| matches!(r, Err(Error::InvalidArgument { .. }));
    assert!(bad(linalg::cholesky(&rect)));
    assert!(bad(linalg::cholesky(&cube)));
    assert!(bad(linalg::cholesky(&v3)));
    assert!(bad(linalg::solve(&rect, &v3)));
    assert!(bad(linalg::solve(&sq, &v3)));
    assert!(bad(linalg::solve(&sq, &cube)));
    assert!(bad(linalg::inv(&rect)));
    assert!(linalg::lu(&rect).is_err() && linalg::lu(&cube).is_err());
    // Empty matrices are fine.
    let e = DArray::<f64>::zeros(&[0, 0], [1, 1]).unwrap();
    assert_eq!(
        linalg::cholesky(&e).unwrap().compute().unwrap().shape(),
        &[0, 0]
    );
    let e0 = DArray::<f64>::zeros(&[0], [1]).unwrap();
    assert_eq!(
        linalg::solve(&e, &e0).unwrap().compute().unwrap().shape(),
        &[0]
    );
}

/// The case: 4,000 x 4,000 float64 in 500 x 500 chunks. Checked with
/// random probes (`‖A v - L Lᵀ v‖`, `‖A x - b‖`), O(n²) instead of O(n³).
#[test]
fn large_4000_in_500_chunks() {
    let n = 4000;
    let r = random(8, n, n);
    // Diagonally dominant: symmetric positive definite.
    let a = (&r + &r.t()) * 0.5 + Array2::<f64>::eye(n) * n as f64;
    let da = DArray::from_ndarray(&a, [500, 500]).unwrap();
    let exec = darray::LocalExecutor::with_threads(2).unwrap();
    // No task holds more than a few tiles (2 MB each) of the 128 MB matrix.
    let tile = 500 * 500 * 8;
    let chol = linalg::cholesky(&da).unwrap();
    let (_, most) = chol.graph().unwrap().max_task_mem().unwrap();
    assert!(most <= 6 * tile, "{most} bytes");
    let l = two(chol.compute_with(&exec).unwrap());
    let v = Array1::from_vec(normals(9, n));
    let rec = fro(&(a.dot(&v) - l.dot(&l.t().dot(&v))).insert_axis(ndarray::Axis(1)));
    assert!(
        rec < 1e-12 * fro(&a) * fro(&v.clone().insert_axis(ndarray::Axis(1))),
        "{rec:e}"
    );

    let an = needs_pivoting(10, n);
    let b = Array1::from_vec(normals(11, n));
    let x = linalg::solve(
        &DArray::from_ndarray(&an, [500, 500]).unwrap(),
        &DArray::from_ndarray(&b, [500]).unwrap(),
    )
    .unwrap();
    // The widest tasks: a tournament root stacking 8 candidate sets, and the
    // row interchanges of the first panel gathering a whole tile column.
    let (_, most) = x.graph().unwrap().max_task_mem().unwrap();
    assert!(most <= 30 * tile, "{most} bytes");
    let x = x
        .compute_with(&exec)
        .unwrap()
        .into_dimensionality::<ndarray::Ix1>()
        .unwrap();
    let col = |v: Array1<f64>| v.insert_axis(ndarray::Axis(1));
    let res = fro(&col(an.dot(&x) - &b)) / (fro(&an) * fro(&col(x.clone())));
    assert!(res < 1e-12, "{res:e}");
}

/// Tiled QR of the size: 4,000 x 4,000 float64 in 500 x 500 chunks.
/// `‖A - QR‖_F / ‖A‖_F` and `‖QᵀQ - I‖_F` estimated with 4 Gaussian probes `V`
/// (`E‖E V‖²_F = 4 ‖E‖²_F`), O(n²) instead of the O(n³) products.
#[test]
fn tiled_qr_4000_in_500_chunks() {
    let n = 4000;
    let a = random(12, n, n);
    let da = DArray::from_ndarray(&a, [500, 500]).unwrap();
    let exec = darray::LocalExecutor::with_threads(2).unwrap();
    let (q, r) = linalg::qr(&da).unwrap();
    let q = two(q.compute_with(&exec).unwrap());
    let r = two(r.compute_with(&exec).unwrap());
    let v = Array2::from_shape_vec((n, 4), normals(13, 4 * n)).unwrap();
    let probe = |e: Array2<f64>| fro(&e) / 2.0;
    let rec = probe(a.dot(&v) - q.dot(&r.dot(&v))) / fro(&a);
    let orth = probe(q.t().dot(&q.dot(&v)) - &v);
    assert!(rec < 1e-12, "‖A - QR‖/‖A‖ ≈ {rec:e}");
    assert!(orth < 1e-12, "‖QᵀQ - I‖ ≈ {orth:e}");
    for i in 0..n {
        assert!(r[[i, i]] >= 0.0);
        assert!((0..i).all(|j| r[[i, j]] == 0.0));
    }
}
