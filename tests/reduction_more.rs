//! The composed reductions (`nanprod`, `nanargmin`/`nanargmax`, `ptp`, weighted
//! `average`) against whole-array oracles in plain ndarray, over random shapes,
//! chunkings and NaN. Tolerances: exact for positions and extremes; products
//! and weighted means within 1e-12 relative (to max(1, |expected|)).

mod common;

use common::*;
use darray::{DArray, Error, ReduceOpts};
use ndarray::{ArrayD, Axis, IxDyn};
use proptest::prelude::*;

/// `f` over each lane of one axis (or of all axes, in C order, for `None`).
fn oracle<U>(a: &ArrayD<f64>, axis: Option<usize>, f: impl Fn(&[f64]) -> U) -> ArrayD<U> {
    match axis {
        None => {
            let flat: Vec<f64> = a.iter().copied().collect();
            ArrayD::from_shape_vec(IxDyn(&[]), vec![f(&flat)]).unwrap()
        }
        Some(ax) => a.map_axis(Axis(ax), |lane| f(&lane.to_vec())),
    }
}

fn opts(axis: Option<usize>) -> ReduceOpts {
    axis.map_or_else(ReduceOpts::all, |ax| ReduceOpts::axes([ax as isize]))
}

/// NumPy's nanargmin/nanargmax: NaN replaced by `fill`, first extreme; -1 where
/// every element is NaN (NumPy raises there).
fn nanarg(v: &[f64], fill: f64, better: fn(f64, f64) -> bool) -> i64 {
    if v.iter().all(|x| x.is_nan()) {
        return -1;
    }
    let v: Vec<f64> = v
        .iter()
        .map(|&x| if x.is_nan() { fill } else { x })
        .collect();
    let mut best = 0;
    for i in 1..v.len() {
        if better(v[i], v[best]) {
            best = i;
        }
    }
    best as i64
}

fn axis_choice(ndim: usize, pick: usize) -> Option<usize> {
    (pick <= ndim && pick > 0).then(|| pick - 1)
}

proptest! {
    #![proptest_config(config(40))]

    #[test]
    fn nan_reductions_match_numpy((a, g) in array_and_grid(3, 6, true), pick in 0usize..4) {
        let a = a.mapv(|v| v / 50.0);
        let x = chunked(&a, &g);
        let axis = axis_choice(a.ndim(), pick);
        let o = opts(axis);
        let prod = oracle(&a, axis, |v| v.iter().filter(|x| !x.is_nan()).product::<f64>());
        assert_close(&x.nanprod_with(&o).unwrap().compute().unwrap(), &prod, 1e-12);
        let empty = match axis { Some(ax) => a.shape()[ax] == 0, None => a.is_empty() };
        if empty {
            prop_assert!(x.nanargmin_with(&o).is_err() && x.ptp_with(&o).is_err());
        } else {
            let amin = oracle(&a, axis, |v| nanarg(v, f64::INFINITY, |p, q| p < q));
            let amax = oracle(&a, axis, |v| nanarg(v, f64::NEG_INFINITY, |p, q| p > q));
            prop_assert_eq!(x.nanargmin_with(&o).unwrap().compute().unwrap(), amin);
            prop_assert_eq!(x.nanargmax_with(&o).unwrap().compute().unwrap(), amax);
            let ptp = oracle(&a, axis, |v| {
                if v.iter().any(|x| x.is_nan()) {
                    f64::NAN
                } else {
                    v.iter().copied().fold(f64::NEG_INFINITY, f64::max) - v.iter().copied().fold(f64::INFINITY, f64::min)
                }
            });
            assert_close(&x.ptp_with(&o).unwrap().compute().unwrap(), &ptp, 0.0);
        }
    }

    #[test]
    fn integer_ptp_and_nanarg_are_the_plain_ones((a, g) in int_array_and_grid(3, 6), pick in 1usize..4) {
        prop_assume!(pick <= a.ndim() && a.shape()[pick - 1] > 0);
        let x = chunked(&a, &g);
        let ax = pick as isize - 1;
        let want = a.map_axis(Axis(pick - 1), |l| l.iter().max().unwrap() - l.iter().min().unwrap());
        prop_assert_eq!(x.ptp_axis(ax).unwrap().compute().unwrap(), want);
        prop_assert_eq!(x.nanargmax_axis(ax).unwrap().compute().unwrap(), x.argmax_axis(ax).unwrap().compute().unwrap());
        prop_assert_eq!(x.nanprod_axis(ax).unwrap().compute().unwrap(), x.prod_axis(ax).unwrap().compute().unwrap());
    }

    #[test]
    fn average_matches_the_weighted_sum((a, g, wf) in array_and_grid(3, 6, false).prop_flat_map(|(a, g)| {
        // At least one weight per index of any axis (at most 6), for 1-d weights.
        let n = a.len().max(6);
        (Just(a), Just(g), proptest::collection::vec(0.1f64..2.0, n))
    }), pick in 0usize..4, along_axis in any::<bool>()) {
        let x = chunked(&a, &g);
        let axis = axis_choice(a.ndim(), pick);
        let o = opts(axis);
        let (w, wfull) = match axis {
            Some(ax) if along_axis => {
                let w1 = ndarray::Array1::from_vec(wf[..a.shape()[ax]].to_vec()).into_dyn();
                let wb = ArrayD::from_shape_fn(a.raw_dim(), |i| w1[[i[ax]]]);
                (DArray::from_ndarray(&w1, [3]).unwrap(), wb)
            }
            _ => {
                let wa = ArrayD::from_shape_vec(a.raw_dim(), wf[..a.len()].to_vec()).unwrap();
                (chunked(&wa, &g), wa)
            }
        };
        let got = x.average(&w, &o).unwrap().compute().unwrap();
        let num = oracle(&(&a * &wfull), axis, |v| v.iter().sum::<f64>());
        let den = oracle(&wfull, axis, |v| v.iter().sum::<f64>());
        assert_close(&got, &(&num / &den), 1e-12);
    }
}

#[test]
fn average_broadcasts_weights_and_names_bad_ones() {
    // (time, lat, lon) with a (lat, 1) area weight: the weighted mean per time.
    let a = ArrayD::from_shape_fn(IxDyn(&[4, 3, 5]), |i| (i[0] * 15 + i[1] * 5 + i[2]) as f64);
    let x = DArray::from_ndarray(&a, [2, 2, 3]).unwrap();
    let wl = ndarray::arr2(&[[1.0], [2.0], [3.0]]).into_dyn();
    let w = DArray::from_ndarray(&wl, [2, 1]).unwrap();
    let got = x
        .average(&w, &ReduceOpts::axes([1, 2]))
        .unwrap()
        .compute()
        .unwrap();
    for t in 0..4 {
        let (mut num, mut den) = (0.0, 0.0);
        for la in 0..3 {
            for lo in 0..5 {
                num += wl[[la, 0]] * a[[t, la, lo]];
                den += wl[[la, 0]];
            }
        }
        assert!((got[[t]] - num / den).abs() < 1e-12);
    }
    let bad = DArray::<f64>::ones(&[7], [7]).unwrap();
    match x.average(&bad, &ReduceOpts::axes([0])) {
        Err(Error::InvalidArgument { array, reason }) => {
            assert_eq!(array, bad.name());
            assert!(reason.contains("[7]"), "{reason}");
        }
        other => panic!("expected InvalidArgument, got {other:?}"),
    }
    // Weights summing to zero: NaN where NumPy raises ZeroDivisionError.
    let z = DArray::<f64>::zeros(&[4], [2]).unwrap();
    let got = x
        .average(&z, &ReduceOpts::axes([0]))
        .unwrap()
        .compute()
        .unwrap();
    assert!(got.iter().all(|v| v.is_nan()));
}

#[test]
fn nanargmin_of_an_all_nan_slice_is_minus_one() {
    let a = ndarray::arr2(&[[f64::NAN, f64::NAN], [3.0, f64::NAN]]).into_dyn();
    let x = DArray::from_ndarray(&a, [1, 1]).unwrap();
    let got: Vec<i64> = x
        .nanargmin_axis(1)
        .unwrap()
        .compute()
        .unwrap()
        .into_iter()
        .collect();
    assert_eq!(got, [-1, 0]);
    assert_eq!(x.nanargmax().unwrap().compute_scalar().unwrap(), 2);
}
