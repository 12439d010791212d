//! quantile, percentile, median and their nan variants against NumPy's
//! formulas over a total-order sort of each lane (or of the whole array), for
//! every method, several q, random shapes and chunkings (irregular, ragged,
//! size-1 blocks), NaN, ints; bit-identical on 1 and 2 threads; lanes cut into
//! thin bands under small memory budgets; bad input refused before running.

mod common;

use common::*;
use darray::{DArray, Error, LocalExecutor, QuantileMethod};
use ndarray::{ArrayD, Axis, IxDyn};
use proptest::prelude::*;

fn lerp(a: f64, b: f64, t: f64) -> f64 {
    if t == 0.0 {
        return a;
    }
    let d = b - a;
    if t >= 0.5 {
        b - d * (1.0 - t)
    } else {
        a + d * t
    }
}

/// NumPy's quantile of `v` by a full sort (`total_cmp`), written out per method.
fn oracle(v: &[f64], q: f64, m: QuantileMethod, skip_nan: bool) -> f64 {
    if !skip_nan && v.iter().any(|x| x.is_nan()) {
        return f64::NAN;
    }
    let mut s: Vec<f64> = v.iter().copied().filter(|x| !x.is_nan()).collect();
    if s.is_empty() {
        return f64::NAN;
    }
    s.sort_by(f64::total_cmp);
    let n = s.len();
    let last = (n - 1) as f64;
    let h = last * q;
    let at = |i: f64| s[i as usize];
    let cont = |x: f64| {
        if x < 0.0 {
            s[0]
        } else if x >= last {
            s[n - 1]
        } else {
            let lo = x.floor();
            lerp(s[lo as usize], s[lo as usize + 1], x - lo)
        }
    };
    let ab = |a: f64, b: f64| cont(n as f64 * q + (a + q * (1.0 - a - b)) - 1.0);
    match m {
        QuantileMethod::Linear => cont(h),
        QuantileMethod::Lower => at(h.floor()),
        QuantileMethod::Higher => at(h.ceil()),
        QuantileMethod::Nearest => at(h.round_ties_even()),
        QuantileMethod::Midpoint => {
            if h.floor() == h.ceil() {
                at(h)
            } else {
                lerp(at(h.floor()), at(h.ceil()), 0.5)
            }
        }
        QuantileMethod::Hazen => ab(0.5, 0.5),
        QuantileMethod::Weibull => ab(0.0, 0.0),
        QuantileMethod::MedianUnbiased => ab(1.0 / 3.0, 1.0 / 3.0),
        QuantileMethod::NormalUnbiased => ab(3.0 / 8.0, 3.0 / 8.0),
    }
}

/// The oracle along `ax` (or over all, `None`), with a leading q axis if `many`.
fn want(
    a: &ArrayD<f64>,
    qs: &[f64],
    ax: Option<usize>,
    m: QuantileMethod,
    skip: bool,
    many: bool,
) -> ArrayD<f64> {
    let per_q: Vec<ArrayD<f64>> = qs
        .iter()
        .map(|&q| match ax {
            None => {
                let v: Vec<f64> = a.iter().copied().collect();
                ArrayD::from_elem(IxDyn(&[]), oracle(&v, q, m, skip))
            }
            Some(ax) => a.map_axis(Axis(ax), |lane| {
                oracle(&lane.iter().copied().collect::<Vec<_>>(), q, m, skip)
            }),
        })
        .collect();
    if !many {
        return per_q[0].clone();
    }
    let views: Vec<_> = per_q
        .iter()
        .map(|x| x.view().insert_axis(Axis(0)))
        .collect();
    ndarray::concatenate(Axis(0), &views).unwrap()
}

fn method() -> impl Strategy<Value = QuantileMethod> {
    (0..QuantileMethod::ALL.len()).prop_map(|i| QuantileMethod::ALL[i])
}

fn qs() -> impl Strategy<Value = (Vec<f64>, bool)> {
    (
        proptest::collection::vec(
            prop_oneof![Just(0.0), Just(1.0), Just(0.5), 0.0..=1.0f64],
            1..4,
        ),
        any::<bool>(),
    )
        .prop_map(|(v, many)| {
            if many {
                (v, true)
            } else {
                (v[..1].to_vec(), false)
            }
        })
}

fn run(
    x: &DArray<f64>,
    qs: &[f64],
    ax: Option<isize>,
    m: QuantileMethod,
    skip: bool,
    many: bool,
    exec: &LocalExecutor,
) -> ArrayD<f64> {
    let r = match (many, skip) {
        (true, false) => x.quantile(qs, ax, m),
        (true, true) => x.nanquantile(qs, ax, m),
        (false, false) => x.quantile(qs[0], ax, m),
        (false, true) => x.nanquantile(qs[0], ax, m),
    };
    r.unwrap().compute_with(exec).unwrap()
}

fn one_two() -> [LocalExecutor; 2] {
    [
        LocalExecutor::with_threads(1).unwrap(),
        LocalExecutor::with_threads(2).unwrap(),
    ]
}

proptest! {
    #![proptest_config(config(48))]

    #[test]
    fn along_an_axis_matches_the_lane_sort(
        ((a, grid), ax) in array_and_grid(3, 8, true).prop_flat_map(|(a, g)| {
            let nd = a.ndim();
            (Just((a, g)), 0..nd)
        }),
        (q, many) in qs(),
        m in method(),
        skip in any::<bool>(),
    ) {
        let x = chunked(&a, &grid);
        let w = want(&a, &q, Some(ax), m, skip, many);
        let [one, two] = one_two();
        let g1 = run(&x, &q, Some(ax as isize), m, skip, many, &one);
        let g2 = run(&x, &q, Some(ax as isize), m, skip, many, &two);
        assert_bits_eq(&g1, &w);
        assert_bits_eq(&g2, &g1);
    }

    #[test]
    fn over_all_axes_matches_the_sort(
        (a, grid) in array_and_grid(3, 8, true),
        (q, many) in qs(),
        m in method(),
        skip in any::<bool>(),
    ) {
        let x = chunked(&a, &grid);
        let w = want(&a, &q, None, m, skip, many);
        let [one, two] = one_two();
        let g1 = run(&x, &q, None, m, skip, many, &one);
        let g2 = run(&x, &q, None, m, skip, many, &two);
        assert_bits_eq(&g1, &w);
        assert_bits_eq(&g2, &g1);
    }

    #[test]
    fn ints_give_f64_as_numpy(
        ((a, grid), ax) in int_array_and_grid(2, 9).prop_flat_map(|(a, g)| {
            let nd = a.ndim();
            (Just((a, g)), prop_oneof![Just(None), (0..nd).prop_map(Some)])
        }),
        q in 0.0..=1.0f64,
        m in method(),
    ) {
        let x = chunked(&a, &grid);
        let af = a.mapv(f64::from);
        let w = want(&af, &[q], ax, m, false, false);
        let got = x.quantile(q, ax.map(|a| a as isize), m).unwrap().compute().unwrap();
        assert_bits_eq(&got, &w);
    }

    /// Budgets a few lanes wide: the lanes of a block are cut into thin bands
    /// (sliced from the input blocks, assembled, selected, reassembled), and
    /// every task fits the budget (the executor refuses one that does not).
    #[test]
    fn thin_bands_under_a_small_budget(
        ((a, grid), ax) in array_and_grid(3, 9, true).prop_flat_map(|(a, g)| {
            let nd = a.ndim();
            (Just((a, g)), 0..nd)
        }),
        (q, many) in qs(),
        m in method(),
        extra in 0u64..2048,
    ) {
        let x = chunked(&a, &grid);
        let lane = (a.shape()[ax] * 8) as u64;
        let block = grid.iter().map(|g| g.iter().copied().max().unwrap_or(0)).product::<usize>() as u64 * 8;
        // The assembled result (held twice while assembling) must fit too.
        let rest: usize = (0..a.ndim()).filter(|&d| d != ax).map(|d| a.shape()[d]).product();
        let out = (rest * q.len() * 8) as u64;
        let budget = (4 * (2 * block).max(2 * lane + 8 * q.len() as u64 + lane).max(64)).max(2 * out) + extra;
        let exec = LocalExecutor::with_threads(2).unwrap().memory_budget(budget);
        let got = run(&x, &q, Some(ax as isize), m, true, many, &exec);
        assert_bits_eq(&got, &want(&a, &q, Some(ax), m, true, many));
    }
}

#[test]
fn median_percentile_and_nan_variants() {
    let a = ndarray::array![[1.0, f64::NAN, 3.0, 8.0], [4.0, 5.0, -6.0, 2.0]].into_dyn();
    let x = DArray::<f64>::from_ndarray(&a, [1, 3]).unwrap();
    assert!(x.median(None).unwrap().compute_scalar().unwrap().is_nan());
    assert_eq!(x.nanmedian(None).unwrap().compute_scalar().unwrap(), 3.0);
    let m = x.nanmedian(Some(1)).unwrap().compute().unwrap();
    assert_eq!(m.into_raw_vec_and_offset().0, vec![3.0, 3.0]);
    let p = x
        .nanpercentile([25.0, 75.0], Some(-1), QuantileMethod::Lower)
        .unwrap();
    assert_eq!(p.shape(), &[2, 2]);
    assert_eq!(
        p.compute().unwrap().into_raw_vec_and_offset().0,
        vec![1.0, -6.0, 3.0, 4.0]
    );
    let p = x
        .percentile(50.0, Some(0), QuantileMethod::Midpoint)
        .unwrap()
        .compute()
        .unwrap();
    assert_eq!(p[[0]], 2.5);
    assert!(p[[1]].is_nan());
    // f32 stays f32; an empty array gives NaN.
    let y = DArray::<f32>::from_ndarray(&ndarray::array![1.0f32, 2.0].into_dyn(), [1]).unwrap();
    assert_eq!(y.median(None).unwrap().compute_scalar().unwrap(), 1.5f32);
    let e = DArray::<f64>::zeros(&[0, 3], [1, 2]).unwrap();
    assert!(e.median(None).unwrap().compute_scalar().unwrap().is_nan());
    assert_eq!(e.median(Some(0)).unwrap().compute().unwrap().len(), 3);
}

#[test]
fn bad_input_is_refused_before_running() {
    let x = DArray::<f64>::ones(&[4, 5], [2, 2]).unwrap();
    let lin = QuantileMethod::Linear;
    for r in [
        x.quantile(1.5, None, lin),
        x.quantile(-0.1, Some(0), lin),
        x.quantile(f64::NAN, None, lin),
        x.quantile(Vec::<f64>::new(), None, lin),
        x.percentile(100.5, None, lin),
        x.nanpercentile([50.0, f64::NAN], Some(1), lin),
    ] {
        assert!(matches!(r, Err(Error::InvalidArgument { .. })), "{r:?}");
    }
    assert!(matches!(
        x.median(Some(2)),
        Err(Error::AxisOutOfRange { .. })
    ));
    assert!(x.percentile(100.0, Some(-2), lin).is_ok());
}

#[test]
fn a_lane_over_the_budget_is_named() {
    let x = DArray::<f64>::ones(&[200_000, 2], [10_000, 1]).unwrap();
    let exec = LocalExecutor::with_threads(1)
        .unwrap()
        .memory_budget(2 << 20);
    let err = x.median(Some(0)).unwrap().compute_with(&exec).unwrap_err();
    match err {
        Error::LaneTooLarge {
            array, axis, bytes, ..
        } => {
            assert_eq!((axis, bytes), (0, 1_600_000));
            assert_eq!(array, x.name());
        }
        e => panic!("{e}"),
    }
    // Over all axes the same array needs no lane in memory.
    let all = x.median(None).unwrap().compute_with(&exec).unwrap();
    assert_eq!(all.iter().copied().collect::<Vec<_>>(), vec![1.0]);
}

#[test]
fn quantile_graphs_round_trip_through_postcard() {
    let x = DArray::<f64>::arange(0.0, 30.0, 1.0, [7]).unwrap();
    for q in [
        x.quantile([0.1, 0.9], None, QuantileMethod::Linear)
            .unwrap(),
        x.quantile([0.1, 0.9], Some(0), QuantileMethod::Linear)
            .unwrap(),
    ] {
        let g = q.graph().unwrap();
        let bytes = postcard::to_allocvec(&g).unwrap();
        let back: darray::graph::Graph = postcard::from_bytes(&bytes).unwrap();
        assert_eq!(back.describe(), g.describe());
        let v = q.compute().unwrap();
        assert!(
            (v[[0]] - 2.9).abs() < 1e-12 && (v[[1]] - 26.1).abs() < 1e-12,
            "{v}"
        );
    }
}
