//! Reductions against whole-array oracles in plain ndarray, over random shapes,
//! chunkings (irregular, size-1 and ragged edges), axes and values with NaN.
//! Tolerances: exact for integer kinds, min/max/arg and counts; sums and means
//! within 1e-12 of the sum of magnitudes of the reduced values; variances within
//! 1e-9 relative (to max(1, |expected|)).

mod common;

use common::*;
use darray::{DArray, ReduceOpts};
use darray_kernels::ReduceKind;
use ndarray::{ArrayD, Axis, IxDyn};
use proptest::prelude::*;

/// Applies `f` to every lane of the reduced axes (in C order of those axes) and
/// returns the result in the output shape.
fn oracle<T: Copy, U>(
    a: &ArrayD<T>,
    axes: &[usize],
    keepdims: bool,
    f: impl Fn(&[T]) -> U,
) -> ArrayD<U> {
    let nd = a.ndim();
    let kept: Vec<usize> = (0..nd).filter(|x| !axes.contains(x)).collect();
    let perm: Vec<usize> = kept.iter().chain(axes.iter()).copied().collect();
    let p = a.view().permuted_axes(IxDyn(&perm));
    let p = p.as_standard_layout();
    let outer: usize = kept.iter().map(|&x| a.shape()[x]).product();
    let inner: usize = axes.iter().map(|&x| a.shape()[x]).product();
    let flat = p.as_slice().unwrap();
    let vals: Vec<U> = (0..outer)
        .map(|o| f(&flat[o * inner..(o + 1) * inner]))
        .collect();
    let shape: Vec<usize> = (0..nd)
        .filter_map(|x| {
            if axes.contains(&x) {
                keepdims.then_some(1)
            } else {
                Some(a.shape()[x])
            }
        })
        .collect();
    ArrayD::from_shape_vec(IxDyn(&shape), vals).unwrap()
}

/// Neumaier-compensated sum: a near-exact reference.
fn exact_sum(v: &[f64]) -> f64 {
    let (mut s, mut c) = (0.0f64, 0.0f64);
    for &x in v {
        let t = s + x;
        c += if s.abs() >= x.abs() {
            (s - t) + x
        } else {
            (x - t) + s
        };
        s = t;
    }
    s + c
}

fn nanless(v: &[f64]) -> Vec<f64> {
    v.iter().copied().filter(|x| !x.is_nan()).collect()
}

fn var(v: &[f64], ddof: f64) -> f64 {
    let n = v.len() as f64;
    if n - ddof <= 0.0 {
        return f64::NAN;
    }
    let m = exact_sum(v) / n;
    let d: Vec<f64> = v.iter().map(|x| (x - m) * (x - m)).collect();
    exact_sum(&d) / (n - ddof)
}

fn minmax(v: &[f64], max: bool) -> f64 {
    if v.iter().any(|x| x.is_nan()) {
        return f64::NAN;
    }
    v.iter().copied().fold(
        if max {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        },
        |a, b| if max { a.max(b) } else { a.min(b) },
    )
}

fn nanminmax(v: &[f64], max: bool) -> f64 {
    let w = nanless(v);
    if w.is_empty() {
        f64::NAN
    } else {
        minmax(&w, max)
    }
}

fn arg(v: &[f64], max: bool) -> i64 {
    if let Some(i) = v.iter().position(|x| x.is_nan()) {
        return i as i64;
    }
    let mut best = 0;
    for (i, &x) in v.iter().enumerate() {
        if (max && x > v[best]) || (!max && x < v[best]) {
            best = i;
        }
    }
    best as i64
}

fn axes_from_mask(ndim: usize, mask: u8) -> Vec<usize> {
    (0..ndim).filter(|&a| mask & (1 << a) != 0).collect()
}

fn check_sumlike(
    got: &ArrayD<f64>,
    a: &ArrayD<f64>,
    axes: &[usize],
    keepdims: bool,
    f: fn(&[f64]) -> f64,
) {
    let want = oracle(a, axes, keepdims, f);
    let scale = oracle(a, axes, keepdims, |v| {
        v.iter()
            .filter(|x| !x.is_nan())
            .map(|x| x.abs())
            .sum::<f64>()
    });
    assert_eq!(got.shape(), want.shape());
    for ((g, w), s) in got.iter().zip(want.iter()).zip(scale.iter()) {
        assert!(
            close(*g, *w, 0.0) || (g - w).abs() <= 1e-12 * s.max(1.0),
            "got {g}, want {w}, scale {s}"
        );
    }
}

type Oracle = Box<dyn Fn(&[f64]) -> f64>;

/// `kind` through its `DArray` method (the result as f64) and its naive oracle
/// over one lane. No wildcard arm: a new `ReduceKind` does not compile here
/// until it has a method and an oracle.
#[allow(clippy::cast_precision_loss)]
fn reduction_case(
    kind: ReduceKind,
    x: &DArray<f64>,
    opts: &ReduceOpts,
) -> (darray::Result<ArrayD<f64>>, Oracle) {
    fn run<U: darray::Element>(
        r: darray::Result<DArray<U>>,
        to: fn(U) -> f64,
    ) -> darray::Result<ArrayD<f64>> {
        Ok(r?.compute()?.mapv(to))
    }
    let same = |v: f64| v;
    let index = |i: i64| i as f64;
    let flag = |b: bool| f64::from(u8::from(b));
    match kind {
        ReduceKind::Sum => (run(x.sum_with(opts), same), Box::new(exact_sum)),
        ReduceKind::NanSum => (
            run(x.nansum_with(opts), same),
            Box::new(|v| exact_sum(&nanless(v))),
        ),
        ReduceKind::Prod => (
            run(x.prod_with(opts), same),
            Box::new(|v| v.iter().product()),
        ),
        ReduceKind::Mean => (
            run(x.mean_with(opts), same),
            Box::new(|v| exact_sum(v) / v.len() as f64),
        ),
        ReduceKind::NanMean => (
            run(x.nanmean_with(opts), same),
            Box::new(|v| {
                let w = nanless(v);
                exact_sum(&w) / w.len() as f64
            }),
        ),
        ReduceKind::Var { ddof } => (
            run(x.var_with(opts, ddof), same),
            Box::new(move |v| var(v, ddof)),
        ),
        ReduceKind::Std { ddof } => (
            run(x.std_with(opts, ddof), same),
            Box::new(move |v| var(v, ddof).sqrt()),
        ),
        ReduceKind::NanVar { ddof } => (
            run(x.nanvar_with(opts, ddof), same),
            Box::new(move |v| var(&nanless(v), ddof)),
        ),
        ReduceKind::NanStd { ddof } => (
            run(x.nanstd_with(opts, ddof), same),
            Box::new(move |v| var(&nanless(v), ddof).sqrt()),
        ),
        ReduceKind::Min => (run(x.min_with(opts), same), Box::new(|v| minmax(v, false))),
        ReduceKind::Max => (run(x.max_with(opts), same), Box::new(|v| minmax(v, true))),
        ReduceKind::NanMin => (
            run(x.nanmin_with(opts), same),
            Box::new(|v| nanminmax(v, false)),
        ),
        ReduceKind::NanMax => (
            run(x.nanmax_with(opts), same),
            Box::new(|v| nanminmax(v, true)),
        ),
        ReduceKind::ArgMin => (
            run(x.argmin_with(opts), index),
            Box::new(|v| arg(v, false) as f64),
        ),
        ReduceKind::ArgMax => (
            run(x.argmax_with(opts), index),
            Box::new(|v| arg(v, true) as f64),
        ),
        ReduceKind::Any => (
            run(x.any_with(opts), flag),
            Box::new(move |v| flag(v.iter().any(|&x| x != 0.0))),
        ),
        ReduceKind::All => (
            run(x.all_with(opts), flag),
            Box::new(move |v| flag(v.iter().all(|&x| x != 0.0))),
        ),
        ReduceKind::CountNonzero => (
            run(x.count_nonzero_with(opts), index),
            Box::new(|v| v.iter().filter(|&&x| x != 0.0).count() as f64),
        ),
    }
}

proptest! {
    #![proptest_config(config(64))]

    #[test]
    fn float_reductions_match_ndarray((a, g) in array_and_grid(4, 7, true), mask in any::<u8>(), keepdims in any::<bool>(), split in 2usize..6) {
        let axes = axes_from_mask(a.ndim(), mask);
        let x = chunked(&a, &g);
        let opts = ReduceOpts::axes(axes.iter().map(|&a| a as isize)).keepdims(keepdims).split_every(split);
        check_sumlike(&x.sum_with(&opts).unwrap().compute().unwrap(), &a, &axes, keepdims, exact_sum);
        check_sumlike(&x.nansum_with(&opts).unwrap().compute().unwrap(), &a, &axes, keepdims, |v| exact_sum(&nanless(v)));
        let mean = |v: &[f64]| exact_sum(v) / v.len() as f64;
        check_sumlike(&x.mean_with(&opts).unwrap().compute().unwrap(), &a, &axes, keepdims, mean);
        check_sumlike(&x.nanmean_with(&opts).unwrap().compute().unwrap(), &a, &axes, keepdims, |v| { let w = nanless(v); exact_sum(&w) / w.len() as f64 });
        for ddof in [0.0, 1.0] {
            assert_close(&x.var_with(&opts, ddof).unwrap().compute().unwrap(), &oracle(&a, &axes, keepdims, |v| var(v, ddof)), 1e-9);
            assert_close(&x.std_with(&opts, ddof).unwrap().compute().unwrap(), &oracle(&a, &axes, keepdims, |v| var(v, ddof).sqrt()), 1e-9);
            assert_close(&x.nanvar_with(&opts, ddof).unwrap().compute().unwrap(), &oracle(&a, &axes, keepdims, |v| var(&nanless(v), ddof)), 1e-9);
            assert_close(&x.nanstd_with(&opts, ddof).unwrap().compute().unwrap(), &oracle(&a, &axes, keepdims, |v| var(&nanless(v), ddof).sqrt()), 1e-9);
        }
        let nonempty = axes.iter().all(|&ax| a.shape()[ax] > 0);
        if nonempty {
            assert_close(&x.min_with(&opts).unwrap().compute().unwrap(), &oracle(&a, &axes, keepdims, |v| minmax(v, false)), 0.0);
            assert_close(&x.max_with(&opts).unwrap().compute().unwrap(), &oracle(&a, &axes, keepdims, |v| minmax(v, true)), 0.0);
            assert_close(&x.nanmin_with(&opts).unwrap().compute().unwrap(), &oracle(&a, &axes, keepdims, |v| nanminmax(v, false)), 0.0);
            assert_close(&x.nanmax_with(&opts).unwrap().compute().unwrap(), &oracle(&a, &axes, keepdims, |v| nanminmax(v, true)), 0.0);
        } else {
            prop_assert!(x.min_with(&opts).is_err());
        }
        let cnz = x.count_nonzero_with(&opts).unwrap().compute().unwrap();
        prop_assert_eq!(cnz, oracle(&a, &axes, keepdims, |v| v.iter().filter(|&&x| x != 0.0).count() as i64));
        let anyv = x.any_with(&opts).unwrap().compute().unwrap();
        prop_assert_eq!(anyv, oracle(&a, &axes, keepdims, |v| v.iter().any(|&x| x != 0.0)));
        let allv = x.all_with(&opts).unwrap().compute().unwrap();
        prop_assert_eq!(allv, oracle(&a, &axes, keepdims, |v| v.iter().all(|&x| x != 0.0)));
    }

    /// Every kind of [`ReduceKind::ALL`] (variances at ddof 0 and 1) on values
    /// in [0.9, 1.1] and NaN, so products stay finite: within 1e-9 relative, and
    /// an error exactly where NumPy raises (no identity over an empty axis, an
    /// arg-reduction over some but not all of several axes).
    #[test]
    fn every_kind_matches_its_oracle((a, g) in array_and_grid(3, 6, true), mask in any::<u8>(), keepdims in any::<bool>()) {
        let a = a.mapv(|v| 1.0 + 0.1 * v.tanh());
        let axes = axes_from_mask(a.ndim(), mask);
        let x = chunked(&a, &g);
        let opts = ReduceOpts::axes(axes.iter().map(|&a| a as isize)).keepdims(keepdims).split_every(3);
        let mut kinds: Vec<ReduceKind> = ReduceKind::ALL.iter().flat_map(|k| [k.with_ddof(0.0), k.with_ddof(1.0)]).collect();
        kinds.dedup();
        for kind in kinds {
            let (got, lane) = reduction_case(kind, &x, &opts);
            let empty = axes.iter().any(|&ax| a.shape()[ax] == 0);
            let arg_axes = axes.len() == 1 || axes.len() == a.ndim();
            if (empty && !kind.has_identity()) || (kind.is_arg() && !arg_axes) {
                prop_assert!(got.is_err(), "{:?} over {:?} of {:?}", kind, axes, a.shape());
                continue;
            }
            let got = got.unwrap();
            // Over all axes the lane is the flat array, so an arg's index is flat.
            let want = oracle(&a, &axes, keepdims, &*lane);
            prop_assert_eq!(got.shape(), want.shape(), "{:?}", kind);
            for (g, w) in got.iter().zip(want.iter()) {
                prop_assert!(close(*g, *w, 1e-9), "{:?}: got {}, want {}", kind, g, w);
            }
        }
    }

    #[test]
    fn arg_reductions_match_ndarray((a, g) in array_and_grid(3, 7, true), ax in 0usize..3) {
        let x = chunked(&a, &g);
        if !a.is_empty() {
            prop_assert_eq!(x.argmin().unwrap().compute_scalar().unwrap(), arg(a.as_slice().unwrap(), false));
            prop_assert_eq!(x.argmax().unwrap().compute_scalar().unwrap(), arg(a.as_slice().unwrap(), true));
        } else {
            prop_assert!(x.argmin().is_err());
        }
        if ax < a.ndim() && a.shape()[ax] > 0 {
            let got = x.argmin_axis(ax as isize).unwrap().compute().unwrap();
            prop_assert_eq!(got, oracle(&a, &[ax], false, |v| arg(v, false)));
            let got = x.argmax_axis(ax as isize).unwrap().compute().unwrap();
            prop_assert_eq!(got, oracle(&a, &[ax], false, |v| arg(v, true)));
        }
    }

    #[test]
    fn integer_reductions_are_exact((a, g) in int_array_and_grid(4, 6), mask in any::<u8>(), keepdims in any::<bool>()) {
        let axes = axes_from_mask(a.ndim(), mask);
        let x = chunked(&a, &g);
        let opts = ReduceOpts::axes(axes.iter().map(|&a| a as isize)).keepdims(keepdims).split_every(3);
        prop_assert_eq!(x.sum_with(&opts).unwrap().compute().unwrap(), oracle(&a, &axes, keepdims, |v| v.iter().map(|&x| i64::from(x)).sum::<i64>()));
        prop_assert_eq!(x.prod_with(&opts).unwrap().compute().unwrap(), oracle(&a, &axes, keepdims, |v| v.iter().fold(1i64, |p, &x| p.wrapping_mul(i64::from(x)))));
        if axes.iter().all(|&ax| a.shape()[ax] > 0) {
            prop_assert_eq!(x.min_with(&opts).unwrap().compute().unwrap(), oracle(&a, &axes, keepdims, |v| *v.iter().min().unwrap()));
            prop_assert_eq!(x.nanmax_with(&opts).unwrap().compute().unwrap(), oracle(&a, &axes, keepdims, |v| *v.iter().max().unwrap()));
        }
        let m = x.mean_with(&opts).unwrap().compute().unwrap();
        assert_close(&m, &oracle(&a, &axes, keepdims, |v| v.iter().map(|&x| f64::from(x)).sum::<f64>() / v.len() as f64), 1e-12);
    }

    #[test]
    fn float_prod_matches((a, g) in shape(3, 6).prop_flat_map(|s| {
        let n: usize = s.iter().product();
        (proptest::collection::vec(0.5f64..1.5, n).prop_map(move |v| ArrayD::from_shape_vec(IxDyn(&s), v).unwrap()), Just(()))
    }).prop_flat_map(|(a, ())| { let s = a.shape().to_vec(); (Just(a), grid(s)) }), ax in 0usize..3) {
        let x = chunked(&a, &g);
        if ax < a.ndim() {
            let got = x.prod_axis(ax as isize).unwrap().compute().unwrap();
            assert_close(&got, &a.map_axis(Axis(ax), |l| l.iter().product::<f64>()), 1e-12);
        }
    }
}

#[test]
fn results_do_not_depend_on_thread_count() {
    let x = DArray::<f64>::random_normal(
        3,
        &[3001, 517],
        0.0,
        1.0,
        vec![
            vec![1000, 1, 2000],
            vec![17; 30].into_iter().chain([7]).collect(),
        ],
    )
    .unwrap();
    let exprs = [
        x.sum().unwrap(),
        x.var_axis(0, 1.0).unwrap().sum().unwrap(),
        ((&x * 3.0).sin().mean_axis(1).unwrap()).std(0.0).unwrap(),
    ];
    for e in &exprs {
        let results: Vec<ArrayD<f64>> = executors()
            .iter()
            .map(|ex| e.compute_with(ex).unwrap())
            .collect();
        for r in &results[1..] {
            assert_bits_eq(&results[0], r);
        }
    }
}

#[test]
fn merge_fan_in_is_bounded() {
    let x = DArray::<f64>::ones(&[1000], [1]).unwrap();
    let g = x
        .sum_with(&ReduceOpts::all().split_every(4))
        .unwrap()
        .graph()
        .unwrap();
    assert!(g.tasks.iter().all(|t| t.inputs.len() <= 4));
    assert_eq!(g.op_counts()["partial"], 1000);
    assert_eq!(
        x.sum_with(&ReduceOpts::all().split_every(4))
            .unwrap()
            .compute_scalar()
            .unwrap(),
        1000.0
    );
}

#[test]
fn bad_reductions_are_errors() {
    let x = DArray::<f64>::ones(&[3, 0], [2, 1]).unwrap();
    assert!(matches!(
        x.max_axis(1),
        Err(darray::Error::EmptyReduction { .. })
    ));
    assert!(x.max_axis(0).is_ok());
    assert!(matches!(
        x.sum_axis(2),
        Err(darray::Error::AxisOutOfRange {
            axis: 2,
            ndim: 2,
            ..
        })
    ));
    assert!(matches!(
        x.sum_with(&ReduceOpts::axes([0, -2])),
        Err(darray::Error::DuplicateAxis { .. })
    ));
    assert!(x.argmin_with(&ReduceOpts::axes([0, 1])).is_err());
    assert!(DArray::<f64>::ones(&[3, 2], [2, 1])
        .unwrap()
        .argmin_with(&ReduceOpts::axes([0, 1]))
        .is_ok());
    let y = DArray::<f64>::ones(&[2, 2, 2], [1, 1, 1]).unwrap();
    assert!(y.argmin_with(&ReduceOpts::axes([0, 1])).is_err());
    // Empty sums and means follow NumPy.
    assert_eq!(x.sum().unwrap().compute_scalar().unwrap(), 0.0);
    assert!(x.mean().unwrap().compute_scalar().unwrap().is_nan());
}

#[test]
fn f32_reductions_stay_f32() {
    let a =
        ndarray::Array2::from_shape_fn((30, 17), |(i, j)| (i * 17 + j) as f32 * 0.25).into_dyn();
    let x = DArray::from_ndarray(&a, [7, 5]).unwrap();
    let m: f32 = x.mean().unwrap().compute_scalar().unwrap();
    assert!((m - a.mean().unwrap()).abs() < 1e-4);
    let v = x.var_axis(0, 1.0).unwrap().compute().unwrap();
    let want = a.var_axis(Axis(0), 1.0);
    assert!(v
        .iter()
        .zip(want.iter())
        .all(|(g, w)| (g - w).abs() <= 1e-5 * w.abs().max(1.0)));
    let s: f32 = x.nansum().unwrap().compute_scalar().unwrap();
    assert!((s - a.sum()).abs() <= 1e-5 * a.sum());
}
