//! Linear algebra against LAPACK on the whole matrix (ndarray-linalg) and by
//! reconstruction, on random inputs drawn anew per case, random chunkings
//! (irregular, 1 to 64 row blocks), f64 and f32, and ill-conditioned matrices
//! (condition number 1e10). Tolerances: products within 1e-12 of the sum of
//! magnitudes; QR ‖A - QR‖_F/‖A‖_F and ‖QᵀQ - I‖_F below 1e-12 (f64) and 1e-5
//! (f32); singular values within 1e-12 · s_max of LAPACK's.

mod common;

use common::*;
use darray::linalg::{self, NormOrd, QrMethod, QrOptions};
use darray::{DArray, Error, Executor};
use ndarray::{Array1, Array2, ArrayD, Ix2};
use ndarray_linalg::{LeastSquaresSvd, QR, SVD};
use proptest::prelude::*;

/// `U diag(s) Vᵀ` with random orthonormal `U`, `V` and singular values from 1
/// down to `1 / cond`, log-spaced.
fn conditioned(seed: u64, m: usize, n: usize, cond: f64) -> Array2<f64> {
    let (u, _) = random(seed, m, n).qr().unwrap();
    let (v, _) = random(seed + 1, n, n).qr().unwrap();
    let s = Array1::from_shape_fn(n, |i| cond.powf(-(i as f64) / ((n.max(2) - 1) as f64)));
    u.dot(&Array2::from_diag(&s)).dot(&v.t())
}

fn fro(a: &Array2<f64>) -> f64 {
    a.iter().map(|x| x * x).sum::<f64>().sqrt()
}

fn two(a: ArrayD<f64>) -> Array2<f64> {
    a.into_dimensionality::<Ix2>().unwrap()
}

fn two32(a: ArrayD<f32>) -> Array2<f64> {
    a.into_dimensionality::<Ix2>().unwrap().mapv(f64::from)
}

/// Checks `‖A - QR‖/‖A‖` and `‖QᵀQ - I‖` below `tol`, and R upper triangular.
fn check_qr(a: &Array2<f64>, q: &Array2<f64>, r: &Array2<f64>, tol: f64) {
    let k = a.nrows().min(a.ncols());
    assert_eq!(q.dim(), (a.nrows(), k));
    assert_eq!(r.dim(), (k, a.ncols()));
    let rec = fro(&(q.dot(r) - a)) / fro(a).max(f64::MIN_POSITIVE);
    let orth = fro(&(q.t().dot(q) - Array2::<f64>::eye(k)));
    assert!(rec < tol, "‖A - QR‖/‖A‖ = {rec:e}");
    assert!(orth < tol, "‖QᵀQ - I‖ = {orth:e}");
    for i in 0..k {
        for j in 0..i.min(r.ncols()) {
            assert_eq!(r[[i, j]], 0.0);
        }
    }
}

/// A tall shape with 1 to 64 row blocks, regular or irregular.
fn tall() -> impl Strategy<Value = (usize, usize, Vec<usize>, u64)> {
    (1usize..12, 0usize..300, any::<u64>())
        .prop_flat_map(|(n, extra, seed)| {
            let m = n + extra;
            (Just(n), partition(m), Just(seed))
        })
        .prop_filter("at most 64 row blocks", |(_, rows, _)| rows.len() <= 64)
        .prop_map(|(n, rows, seed)| (rows.iter().sum(), n, rows, seed))
}

proptest! {
    #![proptest_config(config(24))]

    #[test]
    fn matmul_matches_ndarray(m in 1usize..30, k in 0usize..30, n in 1usize..20, seed in any::<u64>()) {
        let a = random(seed, m, k);
        let b = random(seed ^ 1, k, n);
        let ga = vec![partition_fixed(m, seed), partition_fixed(k, seed >> 3)];
        let gb = vec![partition_fixed(k, seed >> 5), partition_fixed(n, seed >> 7)];
        let da = DArray::from_ndarray(&a, ga).unwrap();
        let db = DArray::from_ndarray(&b, gb).unwrap();
        let c = linalg::matmul(&da, &db).unwrap();
        let want = a.dot(&b);
        let mags = a.mapv(f64::abs).dot(&b.mapv(f64::abs));
        let mut first: Option<ArrayD<f64>> = None;
        for exec in executors() {
            let got = c.compute_with(&exec).unwrap();
            for ((g, w), s) in got.iter().zip(want.iter()).zip(mags.iter()) {
                prop_assert!((g - w).abs() <= 1e-12 * s.max(1.0), "{g} vs {w}");
            }
            match &first {
                None => first = Some(got),
                Some(f) => assert_bits_eq(f, &got),
            }
        }
    }

    #[test]
    fn tsqr_reconstructs_f64((m, n, rows, seed) in tall()) {
        let a = random(seed, m, n);
        let (q, r) = linalg::tsqr(&DArray::from_ndarray(&a, vec![rows, vec![n]]).unwrap()).unwrap();
        check_qr(&a, &two(q.compute().unwrap()), &two(r.compute().unwrap()), 1e-12);
    }

    #[test]
    fn tsqr_ill_conditioned((m, n, rows, seed) in tall()) {
        let a = conditioned(seed, m, n, 1e10);
        let (q, r) = linalg::tsqr(&DArray::from_ndarray(&a, vec![rows, vec![n]]).unwrap()).unwrap();
        check_qr(&a, &two(q.compute().unwrap()), &two(r.compute().unwrap()), 1e-12);
    }

    #[test]
    fn tsqr_reconstructs_f32((m, n, rows, seed) in tall()) {
        let a = random(seed, m, n);
        let a32 = a.mapv(|x| x as f32);
        let (q, r) = linalg::tsqr(&DArray::from_ndarray(&a32, vec![rows, vec![n]]).unwrap()).unwrap();
        check_qr(&a32.mapv(f64::from), &two32(q.compute().unwrap()), &two32(r.compute().unwrap()), 1e-5);
    }

    #[test]
    fn cholesky_qr_methods((m, n, rows, seed) in tall(), ill in any::<bool>()) {
        prop_assume!(m >= n);
        let a = if ill { conditioned(seed, m, n, 1e6) } else { random(seed, m, n) };
        let da = DArray::from_ndarray(&a, vec![rows, vec![n]]).unwrap();
        for method in [QrMethod::CholeskyQr2, QrMethod::ShiftedCholeskyQr3, QrMethod::Auto] {
            let (q, r) = linalg::tsqr_with(&da, method).unwrap();
            check_qr(&a, &two(q.compute().unwrap()), &two(r.compute().unwrap()), 1e-12);
        }
    }

    #[test]
    fn auto_qr_falls_back_when_cholesky_is_not_accurate((m, n, rows, seed) in tall(), cond_exp in 0i32..14) {
        // Condition numbers 1 to 1e13: CholeskyQR2 below about 1e7, Householder above.
        let a = conditioned(seed, m, n, 10f64.powi(cond_exp));
        let da = DArray::from_ndarray(&a, vec![rows, vec![n]]).unwrap();
        let (q, r) = linalg::tsqr_with(&da, QrMethod::Auto).unwrap();
        check_qr(&a, &two(q.compute().unwrap()), &two(r.compute().unwrap()), 1e-12);
    }

    #[test]
    fn svd_matches_lapack((m, n, rows, seed) in tall(), ill in any::<bool>(), wide in any::<bool>()) {
        let a = if ill { conditioned(seed, m, n, 1e10) } else { random(seed, m, n) };
        let (a, grid) = if wide { (a.t().to_owned(), vec![vec![n], rows]) } else { (a, vec![rows, vec![n]]) };
        let (u, s, vt) = linalg::svd(&DArray::from_ndarray(&a, grid).unwrap()).unwrap();
        let (u, s, vt) = (two(u.compute().unwrap()), s.compute().unwrap(), two(vt.compute().unwrap()));
        let (_, want, _) = a.svd(false, false).unwrap();
        let k = m.min(n);
        prop_assert_eq!(s.len(), k);
        for i in 0..k {
            prop_assert!((s[i] - want[i]).abs() <= 1e-12 * want[0], "s[{}] = {} vs {}", i, s[i], want[i]);
        }
        let rec = u.dot(&Array2::from_diag(&s.clone().into_dimensionality::<ndarray::Ix1>().unwrap())).dot(&vt);
        prop_assert!(fro(&(rec - &a)) <= 1e-12 * fro(&a));
        prop_assert!(fro(&(u.t().dot(&u) - Array2::<f64>::eye(k))) < 1e-12);
        prop_assert!(fro(&(vt.dot(&vt.t()) - Array2::<f64>::eye(k))) < 1e-12);
    }

    /// The SVD's U is made by the TSQR tree's own pass (Q never formed): it
    /// equals `Q U_R` with `U_R = R V Σ⁻¹` from the same run's TSQR (to 1e-12
    /// times the condition number, the rounding of forming `U_R` that way), is
    /// orthonormal, and its graph holds as many Q applications as Q's and no
    /// block product.
    #[test]
    fn svd_u_is_q_times_u_of_r((m, n, rows, seed) in tall()) {
        let a = random(seed, m, n);
        let da = DArray::from_ndarray(&a, vec![rows, vec![n]]).unwrap();
        let (u, s, vt) = linalg::svd(&da).unwrap();
        let (q, r) = linalg::tsqr(&da).unwrap();
        let (cu, cq) = (u.graph().unwrap().op_counts(), q.graph().unwrap().op_counts());
        prop_assert_eq!(cu.get("apply_q"), cq.get("apply_q"));
        prop_assert!(!cu.contains_key("tensordot"));
        let (u, s, vt) = (two(u.compute().unwrap()), s.compute().unwrap(), two(vt.compute().unwrap()));
        let (q, r) = (two(q.compute().unwrap()), two(r.compute().unwrap()));
        let s = s.into_dimensionality::<ndarray::Ix1>().unwrap();
        let smin = s[n - 1];
        prop_assume!(smin > 1e-8 * s[0]);
        let ur = r.dot(&vt.t()).dot(&Array2::from_diag(&s.mapv(|x| 1.0 / x)));
        let want = q.dot(&ur);
        prop_assert!(fro(&(&u - &want)) <= 1e-12 * (s[0] / smin), "{:e}", fro(&(&u - &want)));
        prop_assert!(fro(&(u.t().dot(&u) - Array2::<f64>::eye(n))) < 1e-12);
    }

    #[test]
    fn lstsq_matches_lapack((m, n, rows, seed) in tall(), p in 1usize..4) {
        let a = random(seed, m, n);
        let b = random(seed ^ 7, m, p);
        let da = DArray::from_ndarray(&a, vec![rows.clone(), vec![n]]).unwrap();
        let db = DArray::from_ndarray(&b, vec![rows, vec![p]]).unwrap();
        let sol = linalg::lstsq(&da, &db).unwrap();
        let want = a.least_squares(&b).unwrap();
        let x = two(sol.solution.compute().unwrap());
        let scale = fro(&want.solution).max(1.0);
        prop_assert!(fro(&(&x - &want.solution)) <= 1e-10 * scale);
        prop_assert_eq!(sol.rank.compute_scalar().unwrap(), want.rank as i64);
        let res = sol.residuals.compute().unwrap();
        let direct = (&b - &a.dot(&want.solution)).mapv(|v| v * v).sum_axis(ndarray::Axis(0));
        for (g, w) in res.iter().zip(direct.iter()) {
            prop_assert!((g - w).abs() <= 1e-10 * fro(&b).powi(2).max(1.0), "{g} vs {w}");
        }
    }
}

/// A partition of `n` chosen from `seed` (irregular), so seeds drive chunkings.
fn partition_fixed(n: usize, seed: u64) -> Vec<usize> {
    if n == 0 {
        return vec![0];
    }
    let mut v = Vec::new();
    let mut left = n;
    let mut s = seed | 1;
    while left > 0 {
        s = s
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let take = 1 + (s >> 33) as usize % left.min(7);
        v.push(take);
        left -= take;
    }
    v
}

#[test]
fn tensordot_nd_matches_loops() {
    let a = ArrayD::from_shape_vec(ndarray::IxDyn(&[3, 4, 5]), normals(1, 60)).unwrap();
    let b = ArrayD::from_shape_vec(ndarray::IxDyn(&[5, 2, 4]), normals(2, 40)).unwrap();
    let da = DArray::from_ndarray(&a, vec![vec![2, 1], vec![1, 3], vec![2, 2, 1]]).unwrap();
    let db = DArray::from_ndarray(&b, vec![vec![3, 2], vec![1, 1], vec![4]]).unwrap();
    let got = linalg::tensordot(&da, &db, &[1, -1], &[2, 0])
        .unwrap()
        .compute()
        .unwrap();
    assert_eq!(got.shape(), &[3, 2]);
    for i in 0..3 {
        for l in 0..2 {
            let mut w = 0.0;
            for j in 0..4 {
                for k in 0..5 {
                    w += a[[i, j, k]] * b[[k, l, j]];
                }
            }
            assert!((got[[i, l]] - w).abs() < 1e-12);
        }
    }
}

#[test]
fn matmul_many_blocks_uses_a_tree() {
    let a = random(3, 4, 100);
    let b = random(4, 100, 3);
    let da = DArray::from_ndarray(&a, [4, 3]).unwrap();
    let db = DArray::from_ndarray(&b, [1, 3]).unwrap();
    let c = linalg::matmul(&da, &db).unwrap();
    let g = c.graph().unwrap();
    assert!(g.op_counts()["sum_blocks"] >= 2);
    let g2 = darray::graph::Graph::from_bytes(&g.to_bytes().unwrap()).unwrap();
    assert_eq!(g, g2);
    let got = two(c.compute().unwrap());
    assert!(fro(&(got - a.dot(&b))) < 1e-12 * fro(&a) * fro(&b));
}

#[test]
fn tsqr_rechunks_columns_and_shares_the_tree() {
    let a = random(9, 500, 6);
    let da = DArray::from_ndarray(&a, [7, 4]).unwrap();
    let (q, r) = linalg::tsqr(&da).unwrap();
    check_qr(
        &a,
        &two(q.compute().unwrap()),
        &two(r.compute().unwrap()),
        1e-12,
    );
    // 72 row blocks: a local QR each, then a tree of fan-in 8 (9 + 2 + 1 nodes),
    // and one Q application per node.
    let g = darray::graph::Graph::from_bytes(&q.graph().unwrap().to_bytes().unwrap()).unwrap();
    assert_eq!(g.op_counts()["qr"], 72 + 9 + 2 + 1);
    assert_eq!(g.op_counts()["apply_q"], 72 + 9 + 2 + 1);
}

#[test]
fn tsqr_bit_identical_across_executors() {
    let a = DArray::<f64>::random_normal(11, &[3000, 8], 0.0, 1.0, [97, 8]).unwrap();
    let (q, r) = linalg::tsqr(&a).unwrap();
    let (u, s, _) = linalg::svd(&a).unwrap();
    let mut first = None;
    for exec in executors() {
        let got = [
            q.compute_with(&exec).unwrap(),
            r.compute_with(&exec).unwrap(),
            u.compute_with(&exec).unwrap(),
            s.compute_with(&exec).unwrap(),
        ];
        match &first {
            None => first = Some(got),
            Some(f) => f.iter().zip(&got).for_each(|(x, y)| assert_bits_eq(x, y)),
        }
    }
}

/// Row blocks of at least 4096 rows (with few columns) are factored as blocked
/// leaves (sub-blocks of 2048 rows, the last one taking the remainder); smaller
/// ones as before. Both kinds in one matrix, ill-conditioned, Q, R and the SVD's
/// U checked, bit for bit the same on every executor.
#[test]
fn tsqr_blocked_leaves_are_accurate_and_deterministic() {
    let a = conditioned(31, 15_000, 7, 1e10);
    // 6500 rows: 3 sub-blocks (2048, 2048, 2404); 4096: 2; 3000 and 1404: unblocked.
    let grid = vec![vec![6500, 4096, 3000, 1404], vec![7]];
    let da = chunked(&a.clone().into_dyn(), &grid);
    let (q, r) = linalg::tsqr(&da).unwrap();
    let counts = q.graph().unwrap().op_counts();
    assert_eq!(counts["qr_leaf"], 2);
    assert_eq!(counts["apply_q_leaf"], 2);
    let (u, s, vt) = linalg::svd(&da).unwrap();
    let mut first: Option<Vec<ArrayD<f64>>> = None;
    for exec in executors() {
        let got = vec![
            q.compute_with(&exec).unwrap(),
            r.compute_with(&exec).unwrap(),
            u.compute_with(&exec).unwrap(),
        ];
        match &first {
            None => first = Some(got),
            Some(f) => f.iter().zip(&got).for_each(|(x, y)| assert_bits_eq(x, y)),
        }
    }
    let got = first.unwrap();
    check_qr(&a, &two(got[0].clone()), &two(got[1].clone()), 1e-12);
    let u = two(got[2].clone());
    let (s, vt) = (s.compute().unwrap(), two(vt.compute().unwrap()));
    let us = u.dot(&Array2::from_diag(
        &s.into_dimensionality::<ndarray::Ix1>().unwrap(),
    ));
    assert!(fro(&(us.dot(&vt) - &a)) < 1e-12 * fro(&a));
    assert!(fro(&(u.t().dot(&u) - Array2::<f64>::eye(7))) < 1e-12);
}

#[test]
fn matmul_of_a_transpose_reads_blocks_in_place() {
    let a = random(41, 900, 6);
    let da = DArray::from_ndarray(&a, [200, 6]).unwrap();
    let g = linalg::matmul(&da.t(), &da).unwrap();
    assert!(!g.graph().unwrap().op_counts().contains_key("transpose"));
    let got = two(g.compute().unwrap());
    assert!(fro(&(got - a.t().dot(&a))) < 1e-12 * fro(&a) * fro(&a));
    // A column vector times its transpose (outer product, no contraction left).
    let b = DArray::from_ndarray(&random(42, 5, 3), [2, 3]).unwrap();
    let want = random(42, 5, 3).dot(&random(42, 5, 3).t());
    let got = two(linalg::matmul(&b, &b.t()).unwrap().compute().unwrap());
    assert!(fro(&(got - want)) < 1e-12 * 100.0);
}

#[test]
fn auto_qr_rank_deficient_falls_back() {
    let mut a = random(51, 300, 6);
    a.column_mut(3).fill(0.0);
    let da = DArray::from_ndarray(&a, [40, 6]).unwrap();
    let (q, r) = linalg::qr_with(&da, QrMethod::Auto).unwrap();
    let (q, r) = (two(q.compute().unwrap()), two(r.compute().unwrap()));
    assert!(fro(&(q.dot(&r) - &a)) < 1e-12 * fro(&a));
    assert!(fro(&(q.t().dot(&q) - Array2::<f64>::eye(6))) < 1e-12);
    let g = linalg::tsqr_with(&da, QrMethod::Auto)
        .unwrap()
        .0
        .graph()
        .unwrap();
    let ops = g.op_counts();
    assert!(ops.contains_key("ortho_check") && ops.contains_key("select_cholesky_q"));
}

#[test]
fn qr_short_fat() {
    let a = random(5, 6, 40);
    let (q, r) = linalg::qr(&DArray::from_ndarray(&a, [4, 9]).unwrap()).unwrap();
    let (q, r) = (two(q.compute().unwrap()), two(r.compute().unwrap()));
    assert_eq!((q.dim(), r.dim()), ((6, 6), (6, 40)));
    assert!(fro(&(q.dot(&r) - &a)) < 1e-12 * fro(&a));
    assert!(fro(&(q.t().dot(&q) - Array2::<f64>::eye(6))) < 1e-12);
}

#[test]
fn svd_compressed_recovers_low_rank() {
    let (m, n, k) = (400, 300, 8);
    let low = random(21, m, k).dot(&random(22, k, n));
    let noise = random(23, m, n) * 1e-12;
    let a = &low + &noise;
    let da = DArray::from_ndarray(&a, [64, 50]).unwrap();
    let (u, s, vt) = linalg::svd_compressed(&da, k, 2, 10, 7).unwrap();
    let s = s.compute().unwrap();
    let (_, want, _) = a.svd(false, false).unwrap();
    for i in 0..k {
        assert!(
            (s[i] - want[i]).abs() <= 1e-8 * want[i],
            "{} vs {}",
            s[i],
            want[i]
        );
    }
    let (u, vt) = (two(u.compute().unwrap()), two(vt.compute().unwrap()));
    let rec = u
        .dot(&Array2::from_diag(
            &s.into_dimensionality::<ndarray::Ix1>().unwrap(),
        ))
        .dot(&vt);
    assert!(fro(&(rec - &a)) < 1e-8 * fro(&a));
    // Same seed, same bits.
    let again = linalg::svd_compressed(&da, k, 2, 10, 7)
        .unwrap()
        .1
        .compute()
        .unwrap();
    let once = linalg::svd_compressed(&da, k, 2, 10, 7)
        .unwrap()
        .1
        .compute()
        .unwrap();
    assert_bits_eq(&again, &once);
}

#[test]
fn svd_compressed_within_halko_bound() {
    // Decaying spectrum s_i = 0.7^i: with p = 10 oversampling and q = 1 power
    // iteration, Halko et al. (Cor. 10.10) bound E‖A - QQᵀA‖ by
    // (1 + 4 sqrt(2 min(m,n) / (k - 1)) ... )^(1/(2q+1)) s_{k+1}; check a generous 10 s_{k+1}.
    let (m, n, k) = (300, 200, 10);
    let (u, _) = random(31, m, n).qr().unwrap();
    let (v, _) = random(32, n, n).qr().unwrap();
    let sv = Array1::from_shape_fn(n, |i| 0.7f64.powi(i as i32));
    let a = u.dot(&Array2::from_diag(&sv)).dot(&v.t());
    let da = DArray::from_ndarray(&a, [70, 45]).unwrap();
    let (uk, sk, vtk) = linalg::svd_compressed(&da, k, 1, 10, 3).unwrap();
    let (uk, vtk) = (two(uk.compute().unwrap()), two(vtk.compute().unwrap()));
    let sk = sk
        .compute()
        .unwrap()
        .into_dimensionality::<ndarray::Ix1>()
        .unwrap();
    let err = (a.clone() - uk.dot(&Array2::from_diag(&sk)).dot(&vtk))
        .svd(false, false)
        .unwrap()
        .1[0];
    assert!(err <= 10.0 * sv[k], "{err} vs s_(k+1) = {}", sv[k]);
}

#[test]
fn norms_match_ndarray() {
    let a = random(41, 50, 7);
    let da = DArray::from_ndarray(&a, [9, 3]).unwrap();
    let get = |o| linalg::norm(&da, o).unwrap().compute_scalar().unwrap();
    let one = a
        .mapv(f64::abs)
        .sum_axis(ndarray::Axis(0))
        .fold(0.0f64, |m, &x| m.max(x));
    let inf = a
        .mapv(f64::abs)
        .sum_axis(ndarray::Axis(1))
        .fold(0.0f64, |m, &x| m.max(x));
    let (_, s, _) = a.svd(false, false).unwrap();
    assert!((get(NormOrd::Fro) - fro(&a)).abs() < 1e-12 * fro(&a));
    assert!((get(NormOrd::One) - one).abs() < 1e-12 * one);
    assert!((get(NormOrd::Inf) - inf).abs() < 1e-12 * inf);
    assert!((get(NormOrd::Two) - s[0]).abs() < 1e-12 * s[0]);
}

#[test]
fn bad_shapes_are_errors() {
    let a = DArray::<f64>::ones(&[4, 5], [2, 2]).unwrap();
    let v = DArray::<f64>::ones(&[3], [2]).unwrap();
    let c = DArray::<f64>::ones(&[2, 2, 2], [1, 1, 1]).unwrap();
    assert!(matches!(
        linalg::matmul(&a, &a),
        Err(Error::InvalidArgument { .. })
    ));
    assert!(matches!(
        linalg::matmul(&a, &v),
        Err(Error::InvalidArgument { .. })
    ));
    assert!(matches!(
        linalg::matmul(&c, &a),
        Err(Error::InvalidArgument { .. })
    ));
    assert!(matches!(
        linalg::tensordot(&a, &a, &[0], &[0, 1]),
        Err(Error::InvalidArgument { .. })
    ));
    assert!(matches!(
        linalg::tensordot(&a, &a, &[2], &[0]),
        Err(Error::AxisOutOfRange { .. })
    ));
    assert!(matches!(
        linalg::tsqr(&v),
        Err(Error::InvalidArgument { .. })
    ));
    assert!(matches!(
        linalg::svd(&c),
        Err(Error::InvalidArgument { .. })
    ));
    assert!(matches!(linalg::qr(&c), Err(Error::InvalidArgument { .. })));
    assert!(matches!(
        linalg::lstsq(&a, &v),
        Err(Error::InvalidArgument { .. })
    ));
    assert!(matches!(
        linalg::svd_compressed(&a, 0, 1, 1, 0),
        Err(Error::InvalidArgument { .. })
    ));
    assert!(matches!(
        linalg::norm(&c, NormOrd::Fro),
        Err(Error::InvalidArgument { .. })
    ));
    let huge = DArray::<f64>::ones(&[100_000, 100_000], [1000, 1000]).unwrap();
    assert!(matches!(
        linalg::svd(&huge),
        Err(Error::InvalidArgument { .. })
    ));
    let i = DArray::<f64>::eye(5, 5, 0, [2, 2]).unwrap();
    // CholeskyQR on a singular matrix fails at run time with a clear message.
    let sing = linalg::matmul(&i, &DArray::<f64>::zeros(&[5, 5], [5, 5]).unwrap()).unwrap();
    let err = linalg::tsqr_with(&sing, QrMethod::CholeskyQr2)
        .unwrap()
        .0
        .compute()
        .unwrap_err();
    assert!(err.to_string().contains("not positive definite"), "{err}");
}

/// Regression: `?ormqr` writes into its reflector argument while it works; the
/// Q blocks once passed a shared chunk to it, and a concurrent R-factor task
/// then read a corrupted diagonal in about one run in ten. Many repetitions on
/// two threads must give the same bits as one thread.
#[test]
fn svd_is_bit_identical_under_concurrency() {
    let a = random(77, 250, 11);
    let da = DArray::from_ndarray(&a, vec![vec![67, 67, 67, 49], vec![11]]).unwrap();
    let (u, s, vt) = linalg::svd(&da).unwrap();
    let one = darray::LocalExecutor::with_threads(1).unwrap();
    let two = darray::LocalExecutor::with_threads(2).unwrap();
    let want = (
        u.compute_with(&one).unwrap(),
        s.compute_with(&one).unwrap(),
        vt.compute_with(&one).unwrap(),
    );
    for _ in 0..40 {
        assert_bits_eq(&want.0, &u.compute_with(&two).unwrap());
        assert_bits_eq(&want.1, &s.compute_with(&two).unwrap());
        assert_bits_eq(&want.2, &vt.compute_with(&two).unwrap());
    }
}

proptest! {
    #![proptest_config(config(16))]

    /// `TsqrLeaves::Recompute` (the R pass keeps each row block's R only, the Q
    /// pass reads and factors the block again) gives the bits of holding the
    /// factorizations, for Q, R and the SVD's U, on 1 to 64 irregular row
    /// blocks (blocked leaves included) and ill-conditioned matrices; with one
    /// row block there is nothing to recompute.
    #[test]
    fn tsqr_recompute_matches_hold((m, n, rows, seed) in tall(), tall_leaf in any::<bool>()) {
        let (m, rows) = if tall_leaf { (m + 4100, [vec![4100], rows].concat()) } else { (m, rows) };
        let a = conditioned(seed, m, n, 1e10);
        // 2 · A, elementwise: cheap to compute again block by block.
        let da = 2.0 * &DArray::from_ndarray(&a, vec![rows.clone(), vec![n]]).unwrap();
        let build = |leaves: linalg::TsqrLeaves| {
            let (q, r) = linalg::tsqr_with(&da, leaves).unwrap();
            let (u, _, _) = linalg::svd_with(&da, leaves).unwrap();
            (q, r, u)
        };
        let (held, again) = (build(linalg::TsqrLeaves::Hold), build(linalg::TsqrLeaves::Recompute));
        let counts = again.0.graph().unwrap().op_counts();
        let blocks = if rows.len() > 1 { rows.len() } else { 0 };
        prop_assert_eq!(counts.get("qr_r").copied().unwrap_or(0), blocks);
        prop_assert_eq!(counts.get("refactor_apply_q").copied().unwrap_or(0), blocks);
        prop_assert!(!held.0.graph().unwrap().op_counts().contains_key("qr_r"));
        let exec = darray::LocalExecutor::with_threads(2).unwrap();
        for (x, y) in [(&held.0, &again.0), (&held.1, &again.1), (&held.2, &again.2)] {
            assert_bits_eq(&x.compute_with(&exec).unwrap(), &y.compute_with(&exec).unwrap());
        }
        let a2 = a.mapv(|x| 2.0 * x);
        check_qr(&a2, &two(again.0.compute().unwrap()), &two(again.1.compute().unwrap()), 1e-12);
    }
}

/// A `blocks * rows x n` standard-normal matrix in a Zarr store in a temporary
/// directory (kept alive by the first value), in row blocks of `rows`.
fn zarr_normal(
    seed: u64,
    blocks: usize,
    rows: usize,
    n: usize,
) -> (tempfile::TempDir, DArray<f64>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.zarr");
    DArray::<f64>::random_normal(seed, &[blocks * rows, n], 0.0, 1.0, [rows, n])
        .unwrap()
        .to_zarr(&path, &darray::WriteOptions::default())
        .unwrap();
    let a = DArray::<f64>::from_zarr(&path).unwrap();
    (dir, a)
}

/// With `TsqrLeaves::Recompute`, the peak of results held while forming Q
/// (reduced as it is made) stays a few blocks, where holding the factorizations
/// keeps the whole array; the automatic policy holds an array this small. The
/// input must be cheap to read again (a Zarr store is); an in-memory array is
/// held either way.
#[test]
fn tsqr_recompute_bounds_peak_memory() {
    let (blocks, rows, n) = (32, 8192, 8);
    let block = (rows * n * 8) as u64;
    let (_dir, a) = zarr_normal(5, blocks, rows, n);
    let exec = darray::LocalExecutor::with_threads(1).unwrap();
    let mut peaks = Vec::new();
    for leaves in [
        linalg::TsqrLeaves::Hold,
        linalg::TsqrLeaves::Recompute,
        linalg::TsqrLeaves::Auto,
    ] {
        let (q, _) = linalg::tsqr_with(&a, leaves).unwrap();
        let sums = q.abs().sum_axis(0).unwrap();
        let got = sums.compute_with(&exec).unwrap();
        // Columns of an orthonormal Q: each |q_j|_1 is between 1 and sqrt(m).
        assert!(got
            .iter()
            .all(|&s| s > 1.0 && s < ((blocks * rows) as f64).sqrt()));
        peaks.push(exec.last_stats().peak_bytes);
    }
    assert!(peaks[0] >= blocks as u64 * block, "{peaks:?}");
    assert!(peaks[1] <= 8 * block, "{peaks:?}");
    assert_eq!(peaks[2], peaks[0], "{peaks:?}");
    // Held anyway: an in-memory array, and QrMethod::Auto's fallback.
    let lit = DArray::from_ndarray(&random(3, 1000, 4), [100, 4]).unwrap();
    let (q, _) = linalg::tsqr_with(&lit, linalg::TsqrLeaves::Recompute).unwrap();
    assert!(!q.graph().unwrap().op_counts().contains_key("qr_r"));
    let opts = QrOptions::default()
        .method(QrMethod::Auto)
        .leaves(linalg::TsqrLeaves::Recompute);
    let (q, _) = linalg::tsqr_with(&a, opts).unwrap();
    let counts = q.graph().unwrap().op_counts();
    assert!(counts.contains_key("qr_leaf") && !counts.contains_key("qr_r"));
}

/// `QrMethod::Auto` on a well-conditioned matrix: its Q and R are
/// CholeskyQR2's, bit for bit (Q is made again from A's blocks after the
/// check, by the same kernels), and its peak, with Q reduced as it is made,
/// holds A once (for the fallback) plus a few blocks, not A and the checked Q
/// both.
#[test]
fn auto_qr_matches_cholesky_qr2_and_holds_a_once() {
    let (blocks, rows, n) = (16, 4096, 8);
    let block = (rows * n * 8) as u64;
    let (_dir, a) = zarr_normal(9, blocks, rows, n);
    let exec = darray::LocalExecutor::with_threads(2).unwrap();
    let (qa, ra) = linalg::tsqr_with(&a, QrMethod::Auto).unwrap();
    let (qc, rc) = linalg::tsqr_with(&a, QrMethod::CholeskyQr2).unwrap();
    assert_bits_eq(
        &qc.compute_with(&exec).unwrap(),
        &qa.compute_with(&exec).unwrap(),
    );
    assert_bits_eq(
        &rc.compute_with(&exec).unwrap(),
        &ra.compute_with(&exec).unwrap(),
    );
    // Q reduced block by block as it is made: A held for the fallback (16
    // blocks) and the blocks in flight (24 blocks measured); holding each
    // pass's Q until the next factor, and the checked Q until the check had
    // passed, was 32. On one thread, so the order, and the peak, do not
    // depend on timing (two threads peaked at 24 to 26 blocks).
    let one = darray::LocalExecutor::with_threads(1).unwrap();
    qa.abs().sum_axis(0).unwrap().compute_with(&one).unwrap();
    let peak = one.last_stats().peak_bytes;
    assert!(
        peak <= (blocks as u64 + 10) * block,
        "peak {peak} for blocks of {block}"
    );
    // The fallback: an ill-conditioned matrix still gets an accurate answer.
    let ill = conditioned(4, 2000, 6, 1e12);
    let di = DArray::from_ndarray(&ill, vec![vec![500; 4], vec![6]]).unwrap();
    let (q, r) = linalg::tsqr_with(&di, QrMethod::Auto).unwrap();
    check_qr(
        &ill,
        &two(q.compute().unwrap()),
        &two(r.compute().unwrap()),
        1e-12,
    );
}

/// Options are part of the result they build and of nothing else: on one
/// thread, a TSQR built to recompute its leaves, then one built to hold them,
/// then an SVD and a TSQR with the defaults each get the graph their own
/// options say (the policy once set on the thread by `with_tsqr_leaves` made
/// every later build on it recompute too).
#[test]
fn qr_options_belong_to_the_result_they_build() {
    let a = DArray::<f64>::random_normal(3, &[4000, 6], 0.0, 1.0, [500, 6]).unwrap();
    let recomputes = |q: &DArray<f64>| q.graph().unwrap().op_counts().get("qr_r").copied();
    let opts = QrOptions::default().leaves(linalg::TsqrLeaves::Recompute);
    let (again, _) = linalg::tsqr_with(&a, opts).unwrap();
    let (held, _) = linalg::tsqr_with(&a, opts.leaves(linalg::TsqrLeaves::Hold)).unwrap();
    let (u, _, _) = linalg::svd(&a).unwrap();
    let (q, _) = linalg::tsqr(&a).unwrap();
    let (u_again, _, _) = linalg::svd_with(&a, opts).unwrap();
    assert_eq!(recomputes(&again), Some(8));
    assert_eq!(recomputes(&u_again), Some(8));
    // The defaults hold the leaves of a 192 KB matrix on the default executor.
    for x in [&held, &u, &q] {
        assert_eq!(recomputes(x), None);
    }
    assert_ne!(again.num_tasks().unwrap(), held.num_tasks().unwrap());
    assert_bits_eq(&again.compute().unwrap(), &held.compute().unwrap());
    // Building with options changes nothing built before them.
    assert_eq!(recomputes(&held), None);
    assert_eq!(opts, QrOptions::from(linalg::TsqrLeaves::Recompute));
    assert_eq!(
        QrOptions::from(QrMethod::Auto),
        QrOptions::default().method(QrMethod::Auto)
    );
}

/// `TsqrLeaves::Auto` decides when the graph is built for an executor, against
/// that executor's memory budget: the same lazy `(Q, R)` of a 192 KB matrix
/// recomputes its leaves on an executor with a 1 MiB budget (the matrix is
/// above an eighth of it: every block is read twice, in more tasks) and holds
/// them with 1 GiB, to the same bits; `persist_with` and `to_zarr_with` lower
/// for their executor too.
#[test]
fn auto_leaves_follow_the_executors_budget() {
    let (blocks, rows, n) = (8, 500, 6);
    let (dir, a) = zarr_normal(11, blocks, rows, n);
    let (q, r) = linalg::tsqr(&a).unwrap();
    let small = darray::LocalExecutor::with_threads(2)
        .unwrap()
        .memory_budget(1 << 20);
    let large = darray::LocalExecutor::with_threads(2)
        .unwrap()
        .memory_budget(1 << 30);
    let mut runs = Vec::new();
    for exec in [&small, &large] {
        let qs = q.compute_with(exec).unwrap();
        let stats = exec.last_stats();
        runs.push((qs, r.compute_with(exec).unwrap(), stats));
    }
    let (again, held) = (&runs[0].2, &runs[1].2);
    // The Q pass's re-reads, one per block (re-factoring and applying is one
    // task, in place of the held leaf's application).
    assert_eq!(
        again.tasks,
        held.tasks + blocks as u64,
        "{again:?} {held:?}"
    );
    assert_eq!(again.chunks_read, 2 * blocks as u64);
    assert_eq!(held.chunks_read, blocks as u64);
    assert_bits_eq(&runs[0].0, &runs[1].0);
    assert_bits_eq(&runs[0].1, &runs[1].1);
    // The graph without an executor is the default executor's: held.
    assert!(!q.graph().unwrap().op_counts().contains_key("qr_r"));

    let p = q.persist_with(&small).unwrap();
    assert_eq!(small.last_stats().chunks_read, 2 * blocks as u64);
    assert_bits_eq(&p.compute().unwrap(), &runs[1].0);
    let path = dir.path().join("q.zarr");
    q.to_zarr_with(&path, &darray::WriteOptions::default(), &small)
        .unwrap();
    assert_eq!(small.last_stats().chunks_read, 2 * blocks as u64);
    let back = DArray::<f64>::from_zarr(&path).unwrap().compute().unwrap();
    assert_bits_eq(&back, &runs[1].0);
}
