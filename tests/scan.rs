//! Scans and `diff` against a direct loop over each lane of the whole array,
//! over random shapes and chunkings (irregular, size-1 and ragged edge chunks,
//! empty axes) with NaN. Tolerances: sums and products within 1e-10 relative
//! (to max(1, |expected|)): blocks are scanned separately and the carry added
//! after; max, min, fills and diff exact. Every result is bit-identical on 1
//! and 2 threads.

mod common;

use common::*;
use darray::{register_scan, DArray, Error, LocalExecutor};
use ndarray::{ArrayD, Axis};
use proptest::prelude::*;

/// `f` applied to a copy of every lane of `a` along `axis`.
fn per_lane<T: Copy>(a: &ArrayD<T>, axis: usize, f: impl Fn(&mut [T])) -> ArrayD<T> {
    let mut out = a.clone();
    for mut lane in out.lanes_mut(Axis(axis)) {
        let mut v: Vec<T> = lane.iter().copied().collect();
        f(&mut v);
        for (o, x) in lane.iter_mut().zip(v) {
            *o = x;
        }
    }
    out
}

fn nan_max(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.max(b)
    }
}

fn nan_min(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.min(b)
    }
}

/// The inclusive scan of each lane with `op`, after `pre` on every element.
fn oracle(
    a: &ArrayD<f64>,
    axis: usize,
    pre: fn(f64) -> f64,
    op: fn(f64, f64) -> f64,
) -> ArrayD<f64> {
    per_lane(a, axis, |v| {
        for i in 0..v.len() {
            v[i] = pre(v[i]);
            if i > 0 {
                v[i] = op(v[i - 1], v[i]);
            }
        }
    })
}

fn fill_oracle(a: &ArrayD<f64>, axis: usize, limit: Option<usize>, backward: bool) -> ArrayD<f64> {
    per_lane(a, axis, |v| {
        if backward {
            v.reverse();
        }
        let mut last: Option<(f64, usize)> = None;
        for (j, x) in v.iter_mut().enumerate() {
            if !x.is_nan() {
                last = Some((*x, j));
            } else if let Some((val, p)) = last {
                if limit.is_none_or(|l| j - p <= l) {
                    *x = val;
                }
            }
        }
        if backward {
            v.reverse();
        }
    })
}

fn diff_oracle(a: &ArrayD<f64>, axis: usize, n: usize) -> ArrayD<f64> {
    let mut out = a.clone();
    for _ in 0..n {
        let len = out.shape()[axis];
        if len == 0 {
            break;
        }
        let hi = out.slice_axis(Axis(axis), (1..).into());
        let lo = out.slice_axis(Axis(axis), (..len - 1).into());
        out = &hi - &lo;
    }
    out
}

/// Computes `y` on 1 and 2 threads, checks the bits agree, returns the result.
fn on_threads(y: &DArray<f64>) -> ArrayD<f64> {
    let one = y
        .compute_with(&LocalExecutor::with_threads(1).unwrap())
        .unwrap();
    let two = y
        .compute_with(&LocalExecutor::with_threads(2).unwrap())
        .unwrap();
    assert_bits_eq(&one, &two);
    one
}

fn keep(x: f64) -> f64 {
    x
}

proptest! {
    #![proptest_config(config(48))]

    #[test]
    fn arithmetic_scans_match_a_loop((a, g) in array_and_grid(3, 7, true), ax in 0usize..3) {
        prop_assume!(ax < a.ndim());
        let x = chunked(&a, &g);
        let axis = isize::try_from(ax).unwrap();
        let add = |p: f64, q: f64| p + q;
        let mul = |p: f64, q: f64| p * q;
        let zero_nan = |v: f64| if v.is_nan() { 0.0 } else { v };
        let one_nan = |v: f64| if v.is_nan() { 1.0 } else { v };
        assert_close(&on_threads(&x.cumsum(axis).unwrap()), &oracle(&a, ax, keep, add), 1e-10);
        assert_close(&on_threads(&x.cumprod(axis).unwrap()), &oracle(&a, ax, keep, mul), 1e-10);
        assert_close(&on_threads(&x.nancumsum(axis).unwrap()), &oracle(&a, ax, zero_nan, add), 1e-10);
        assert_close(&on_threads(&x.nancumprod(axis).unwrap()), &oracle(&a, ax, one_nan, mul), 1e-10);
        assert_close(&on_threads(&x.cummax(axis).unwrap()), &oracle(&a, ax, keep, nan_max), 0.0);
        assert_close(&on_threads(&x.cummin(axis).unwrap()), &oracle(&a, ax, keep, nan_min), 0.0);
    }

    #[test]
    fn fills_match_a_loop(
        (a, g) in array_and_grid(3, 8, true),
        ax in 0usize..3,
        limit in prop_oneof![Just(None), (0usize..4).prop_map(Some)],
    ) {
        prop_assume!(ax < a.ndim());
        let x = chunked(&a, &g);
        let axis = isize::try_from(ax).unwrap();
        assert_close(&on_threads(&x.ffill(axis, limit).unwrap()), &fill_oracle(&a, ax, limit, false), 0.0);
        assert_close(&on_threads(&x.bfill(axis, limit).unwrap()), &fill_oracle(&a, ax, limit, true), 0.0);
    }

    #[test]
    fn diff_matches_a_loop((a, g) in array_and_grid(3, 8, true), ax in 0usize..3, n in 0usize..5) {
        prop_assume!(ax < a.ndim());
        let y = chunked(&a, &g).diff(n, isize::try_from(ax).unwrap()).unwrap();
        let want = diff_oracle(&a, ax, n);
        prop_assert_eq!(y.shape(), want.shape());
        assert_close(&on_threads(&y), &want, 0.0);
    }

    #[test]
    fn integer_cumsum_is_exact_in_i64((a, g) in int_array_and_grid(3, 7), ax in 0usize..3) {
        prop_assume!(ax < a.ndim());
        let got = chunked(&a, &g).cumsum(isize::try_from(ax).unwrap()).unwrap().compute().unwrap();
        let wide = a.mapv(i64::from);
        let want = per_lane(&wide, ax, |v| {
            for i in 1..v.len() {
                v[i] += v[i - 1];
            }
        });
        prop_assert_eq!(got, want);
    }

    #[test]
    fn user_scan_matches_a_loop((a, g) in array_and_grid(2, 8, false), ax in 0usize..2) {
        prop_assume!(ax < a.ndim());
        // Associative but not commutative: the carry must come first.
        fn first_nonzero(p: f64, q: f64) -> f64 { if p != 0.0 { p } else { q } }
        let _ = register_scan::<f64>("test-first-nonzero", first_nonzero);
        let y = chunked(&a, &g).scan("test-first-nonzero", isize::try_from(ax).unwrap()).unwrap();
        assert_close(&on_threads(&y), &oracle(&a, ax, keep, first_nonzero), 0.0);
    }
}

#[test]
fn scan_tasks_grow_linearly_with_blocks() {
    let x = DArray::<f64>::ones(&[100], [1]).unwrap();
    let g = x.cumsum(0).unwrap().graph().unwrap();
    // 100 block scans, 99 totals, 98 carries, 99 applies, 100 literal blocks at most.
    assert!(g.len() <= 4 * 100 + 100, "{} tasks", g.len());
    let y = x.cumsum(0).unwrap().compute().unwrap();
    assert_eq!(y[99], 100.0);
}

#[test]
fn scan_graph_round_trips_through_postcard() {
    fn plus(a: f64, b: f64) -> f64 {
        a + b
    }
    let _ = register_scan::<f64>("test-plus-postcard", plus);
    let x = DArray::<f64>::ones(&[7, 5], [3, 2]).unwrap();
    for y in [
        x.cumsum(1).unwrap(),
        x.bfill(0, Some(2)).unwrap(),
        x.diff(2, 0).unwrap(),
        x.scan("test-plus-postcard", 0).unwrap(),
    ] {
        let g = y.graph().unwrap();
        let bytes = postcard::to_allocvec(&g).unwrap();
        let back: darray::graph::Graph = postcard::from_bytes(&bytes).unwrap();
        assert_eq!(back.describe(), g.describe());
    }
}

#[test]
fn user_operators_are_checked_before_running() {
    fn plus(a: i32, b: i32) -> i32 {
        a.wrapping_add(b)
    }
    register_scan::<i32>("test-plus-i32", plus).unwrap();
    assert!(matches!(
        register_scan::<i32>("test-plus-i32", plus),
        Err(Error::ScanOperatorExists(name)) if name == "test-plus-i32"
    ));
    let x = DArray::<f64>::ones(&[4], [2]).unwrap();
    assert!(matches!(
        x.scan("test-no-such-op", 0),
        Err(Error::UnknownScanOperator(_))
    ));
    assert!(matches!(
        x.scan("test-plus-i32", 0),
        Err(Error::DTypeMismatch { .. })
    ));
    assert!(matches!(x.cumsum(1), Err(Error::AxisOutOfRange { .. })));
    assert!(matches!(x.diff(1, -2), Err(Error::AxisOutOfRange { .. })));
}

#[test]
fn fills_of_integers_and_f32_cumsum() {
    let a = ndarray::arr1(&[3i32, 1, 2]).into_dyn();
    let x = DArray::from_ndarray(&a, [2]).unwrap();
    assert_eq!(x.ffill(0, None).unwrap().compute().unwrap(), a);
    let f = DArray::from_ndarray(&ndarray::arr1(&[1.5f32, f32::NAN, 2.0]).into_dyn(), [1]).unwrap();
    let s = f.nancumsum(0).unwrap().compute().unwrap();
    assert_eq!(s.as_slice().unwrap(), &[1.5f32, 1.5, 3.5]);
    let filled = f.ffill(0, None).unwrap().compute().unwrap();
    assert_eq!(filled.as_slice().unwrap(), &[1.5f32, 1.5, 2.0]);
}
