//! Moments, covariance, correlation, trace, diagonal and outer products
//! against direct loops over the whole array, on random shapes and chunkings
//! (irregular, ragged edges, empty axes, NaN for moments). Tolerances: moments
//! within `2^k · 1e-10 · (1 + max|x - x₀|^k)` absolute (the one-pass power
//! sums' bound, see `DArray::moment_with`); covariances within `1e-10 · n ·
//! (1 + max|x|)²`; correlations within 1e-9; trace, diagonal and outer exact.

mod common;

use common::*;
use darray::{DArray, Error, ReduceOpts};
use ndarray::{Array2, ArrayD, Axis, IxDyn};
use proptest::prelude::*;

/// Two-pass central moment (or about `center`) of a lane.
fn moment_of(v: &[f64], k: i32, center: Option<f64>) -> f64 {
    let n = v.len() as f64;
    let c = center.unwrap_or_else(|| v.iter().sum::<f64>() / n);
    v.iter().map(|x| (x - c).powi(k)).sum::<f64>() / n
}

fn lanes(a: &ArrayD<f64>, axis: Option<usize>, f: impl Fn(&[f64]) -> f64) -> ArrayD<f64> {
    match axis {
        None => {
            let flat: Vec<f64> = a.iter().copied().collect();
            ArrayD::from_elem(IxDyn(&[]), f(&flat))
        }
        Some(ax) => a.map_axis(Axis(ax), |l| f(&l.to_vec())),
    }
}

fn assert_abs(got: &ArrayD<f64>, want: &ArrayD<f64>, tol: f64) {
    assert_eq!(got.shape(), want.shape());
    for (g, w) in got.iter().zip(want) {
        if w.is_nan() {
            assert!(g.is_nan(), "got {g}, want NaN");
        } else {
            assert!((g - w).abs() <= tol, "got {g}, want {w} (tol {tol})");
        }
    }
}

/// Covariance by loops over a row-variable matrix, NumPy's ddof rule.
fn cov_oracle(x: &Array2<f64>, ddof: f64) -> Array2<f64> {
    let (v, n) = x.dim();
    let means: Vec<f64> = (0..v).map(|i| x.row(i).sum() / n as f64).collect();
    let fact = (n as f64 - ddof).max(0.0);
    Array2::from_shape_fn((v, v), |(i, j)| {
        (0..n)
            .map(|t| (x[[i, t]] - means[i]) * (x[[j, t]] - means[j]))
            .sum::<f64>()
            / fact
    })
}

fn matrix() -> impl Strategy<Value = (Array2<f64>, Vec<Vec<usize>>)> {
    (0usize..7, 0usize..9).prop_flat_map(|(m, n)| {
        (array_f64(vec![m, n], false), grid(vec![m, n]))
            .prop_map(move |(a, g)| (a.into_dimensionality().unwrap(), g))
    })
}

proptest! {
    #![proptest_config(config(48))]

    #[test]
    fn moment_matches_two_pass((a, g) in array_and_grid(3, 6, true), pick in 0usize..4, k in 0u32..6, about in prop::option::of(-5.0..5.0f64)) {
        let x = chunked(&a, &g);
        let axis = (pick > 0 && pick <= a.ndim()).then(|| pick - 1);
        let opts = axis.map_or_else(ReduceOpts::all, |ax| ReduceOpts::axes([ax as isize]));
        let got = x.moment_with(k, &opts, about).unwrap().compute().unwrap();
        let want = lanes(&a, axis, |v| {
            if k == 1 && about.is_none() && !v.iter().any(|x| x.is_nan()) && !v.is_empty() {
                0.0
            } else {
                moment_of(v, k as i32, about)
            }
        });
        let spread = a.iter().filter(|x| !x.is_nan()).fold(0.0f64, |m, x| m.max(x.abs())) * 2.0 + 10.0;
        let tol = 2f64.powi(k as i32) * 1e-10 * (1.0 + spread.powi(k as i32));
        assert_abs(&got, &want, tol);
        // Same bits on one and several threads.
        let e = executors();
        let m = x.moment_with(k, &opts, about).unwrap();
        assert_bits_eq(&m.compute_with(&e[0]).unwrap(), &m.compute_with(&e[2]).unwrap());
    }

    #[test]
    fn moment_of_offset_data_keeps_precision(n in 1usize..40, c in 1usize..9) {
        // A large common offset (kelvin-like) cancels in the shift.
        let v: Vec<f64> = normals(n as u64, n).iter().map(|z| 300.0 + z).collect();
        let a = ndarray::Array1::from(v.clone());
        let x = DArray::from_ndarray(&a, [c]).unwrap();
        for k in 2..5 {
            let got = x.moment(k).unwrap().compute_scalar().unwrap();
            let want = moment_of(&v, k as i32, None);
            prop_assert!((got - want).abs() <= 1e-11 * (1.0 + want.abs()) * 8.0, "k {k}: {got} vs {want}");
        }
    }

    #[test]
    fn cov_and_corrcoef_match_loops((a, g) in matrix(), rowvar in any::<bool>(), ddof in 0u8..2) {
        let x = chunked(&a.clone().into_dyn(), &g);
        let rows = if rowvar { a.clone() } else { a.t().to_owned() };
        let n = rows.ncols() as f64;
        let want = cov_oracle(&rows, f64::from(ddof));
        let got = darray::cov(&x, rowvar, f64::from(ddof)).unwrap().compute().unwrap();
        let tol = 1e-10 * (n + 1.0) * 201.0 * 201.0;
        assert_abs(&got, &want.clone().into_dyn(), tol);
        let r = darray::corrcoef(&x, rowvar).unwrap().compute().unwrap();
        let d = cov_oracle(&rows, 0.0);
        let want_r = Array2::from_shape_fn(d.dim(), |(i, j)| {
            (d[[i, j]] / (d[[i, i]] * d[[j, j]]).sqrt()).clamp(-1.0, 1.0)
        });
        assert_abs(&r, &want_r.into_dyn(), 1e-9);
    }

    #[test]
    fn cov2_stacks_variables((a, g) in matrix(), seed in 0u64..100) {
        let x = chunked(&a.clone().into_dyn(), &g);
        let b = random(seed, 2, a.ncols());
        let y = DArray::from_ndarray(&b, [1, 3]).unwrap();
        let got = darray::cov2(&x, &y, true, 1.0).unwrap().compute().unwrap();
        let both = ndarray::concatenate(Axis(0), &[a.view(), b.view()]).unwrap();
        let tol = 1e-10 * (a.ncols() as f64 + 1.0) * 201.0 * 201.0;
        assert_abs(&got, &cov_oracle(&both, 1.0).into_dyn(), tol);
    }

    #[test]
    fn trace_diagonal_outer_are_exact((a, g) in matrix(), off in -8i64..9, (u, gu) in array_and_grid(1, 7, true)) {
        let x = chunked(&a.clone().into_dyn(), &g);
        let (m, n) = a.dim();
        let diag: Vec<f64> = (0..m as i64)
            .filter_map(|i| {
                let j = i + off;
                (j >= 0 && (j as usize) < n).then(|| a[[i as usize, j as usize]])
            })
            .collect();
        let got = x.diagonal(off, 0, 1).unwrap().compute().unwrap();
        assert_bits_eq(&got, &ArrayD::from_shape_vec(IxDyn(&[diag.len()]), diag.clone()).unwrap());
        let t = x.trace(off).unwrap().compute_scalar().unwrap();
        let want = diag.iter().sum::<f64>();
        prop_assert!((t - want).abs() <= 1e-12 * (1.0 + want.abs()) * diag.len() as f64, "{t} vs {want}");
        let ud = chunked(&u, &gu);
        let o = darray::outer(&ud, &ud).unwrap();
        prop_assert_eq!(o.chunks()[0].clone(), gu[0].clone());
        let o = o.compute().unwrap();
        let k = u.len();
        let want = ArrayD::from_shape_fn(IxDyn(&[k, k]), |ix| u[[ix[0]]] * u[[ix[1]]]);
        assert_bits_eq(&o, &want);
    }
}

#[test]
fn one_dimensional_cov_is_a_variance() {
    let a = ndarray::arr1(&[1.0, 2.0, 4.0, 7.0]);
    let x = DArray::from_ndarray(&a, [3]).unwrap();
    let c = darray::cov(&x, true, 1.0).unwrap();
    assert_eq!(c.shape(), &[] as &[usize]);
    let want = moment_of(a.as_slice().unwrap(), 2, None) * 4.0 / 3.0;
    assert!((c.compute_scalar().unwrap() - want).abs() < 1e-12);
}

#[test]
fn bad_inputs_are_typed_errors() {
    let x = DArray::<f64>::zeros(&[2, 3, 4], [2, 2, 2]).unwrap();
    assert!(matches!(
        darray::cov(&x, true, 1.0),
        Err(Error::InvalidArgument { .. })
    ));
    assert!(matches!(
        darray::corrcoef(&x, true),
        Err(Error::InvalidArgument { .. })
    ));
    assert!(matches!(x.trace(0), Err(Error::InvalidArgument { .. })));
    assert!(matches!(
        x.moment_axis(2, 5),
        Err(Error::AxisOutOfRange { .. })
    ));
    let y = DArray::<f64>::zeros(&[2, 5], [2, 2]).unwrap();
    let z = DArray::<f64>::zeros(&[2, 4], [2, 2]).unwrap();
    assert!(matches!(
        darray::cov2(&y, &z, true, 1.0),
        Err(Error::InvalidArgument { .. })
    ));
}
