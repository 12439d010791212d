//! `histogram2d`/`histogramdd`, `bincount` and `digitize` against direct
//! loops over the whole array, over random shapes and chunkings (irregular,
//! size-1 and ragged edge chunks, empty axes) with NaN. Counts exact; weighted
//! sums and densities within 1e-12 relative (partials summed per block, then
//! merged in block order). Results bit-identical on 1 and 2 threads.

mod common;

use common::*;
use darray::{histogram2d, histogramdd, histogramdd_with, Bins, DArray, Error, LocalExecutor};
use ndarray::{ArrayD, IxDyn};
use proptest::prelude::*;

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

/// NumPy's histogramdd bin along one dimension: searchsorted right - 1, the
/// last edge in the last bin.
fn dd_bin(v: f64, e: &[f64]) -> Option<usize> {
    let n = e.len() - 1;
    if v.is_nan() || v < e[0] || v > e[n] {
        return None;
    }
    if v == e[n] {
        return Some(n - 1);
    }
    (0..n).rev().find(|&i| e[i] <= v)
}

fn dd_oracle(cols: &[ArrayD<f64>], w: Option<&ArrayD<f64>>, edges: &[Vec<f64>]) -> ArrayD<f64> {
    let shape: Vec<usize> = edges.iter().map(|e| e.len() - 1).collect();
    let mut out = ArrayD::<f64>::zeros(IxDyn(&shape));
    let flat: Vec<Vec<f64>> = cols.iter().map(|c| c.iter().copied().collect()).collect();
    let ws: Option<Vec<f64>> = w.map(|w| w.iter().copied().collect());
    for k in 0..flat[0].len() {
        let cell: Option<Vec<usize>> = (0..cols.len())
            .map(|d| dd_bin(flat[d][k], &edges[d]))
            .collect();
        if let Some(cell) = cell {
            out[IxDyn(&cell)] += ws.as_ref().map_or(1.0, |w| w[k]);
        }
    }
    out
}

fn edges_strategy() -> impl Strategy<Value = Vec<f64>> {
    proptest::collection::vec(-120.0..120.0f64, 2..6).prop_map(|mut v| {
        v.sort_by(f64::total_cmp);
        v
    })
}

/// Three arrays of one shape (NaN in the first two) with a grid each.
#[allow(clippy::type_complexity)]
fn three_arrays() -> impl Strategy<Value = (Vec<ArrayD<f64>>, Vec<Vec<Vec<usize>>>)> {
    shape(3, 6).prop_flat_map(|s| {
        (
            (
                array_f64(s.clone(), true),
                array_f64(s.clone(), true),
                array_f64(s.clone(), false),
            ),
            (grid(s.clone()), grid(s.clone()), grid(s)),
        )
            .prop_map(|((a, b, c), (ga, gb, gc))| (vec![a, b, c], vec![ga, gb, gc]))
    })
}

proptest! {
    #![proptest_config(config(32))]

    #[test]
    fn histogramdd_matches_a_loop(
        (arrays, grids) in three_arrays(),
        e0 in edges_strategy(),
        e1 in edges_strategy(),
        count in 1usize..4,
    ) {
        // Different chunkings per array: aligned by rechunking.
        let x = chunked(&arrays[0], &grids[0]);
        let y = chunked(&arrays[1], &grids[1]);
        let bins = [Bins::Edges(e0.clone()), Bins::Count { count, range: (-50.0, 50.0) }];
        let (h, edges) = histogram2d(&x, &y, &bins).unwrap();
        prop_assert_eq!(&edges[0], &e0);
        let want = dd_oracle(&arrays[..2], None, &edges);
        prop_assert_eq!(on_threads(&h), want);

        // Three dimensions, weighted, and density.
        let z = chunked(&arrays[2], &grids[2]);
        let w = chunked(&arrays[2], &grids[0]);
        let bins3 = [Bins::Edges(e0), Bins::Edges(e1), Bins::Count { count, range: (-100.0, 100.0) }];
        let (hw, edges) = histogramdd_with(&[&x, &y, &z], &bins3, Some(&w), false).unwrap();
        let want = dd_oracle(&arrays, Some(&arrays[2]), &edges);
        let scale: f64 = arrays[2].iter().map(|v| v.abs()).sum::<f64>().max(1.0);
        let got = on_threads(&hw);
        prop_assert_eq!(got.shape(), want.shape());
        for (g, t) in got.iter().zip(&want) {
            prop_assert!((g - t).abs() <= 1e-12 * scale, "{} vs {}", g, t);
        }
        let (d, _) = histogramdd_with(&[&x, &y, &z], &bins3, None, true).unwrap();
        let counts = dd_oracle(&arrays, None, &edges);
        let total: f64 = counts.iter().sum();
        let got = on_threads(&d);
        for (ix, c) in counts.indexed_iter() {
            let vol: f64 = (0..3).map(|k| edges[k][ix[k] + 1] - edges[k][ix[k]]).product();
            let want = c / total / vol;
            let g = got[&ix];
            prop_assert!(close(g, want, 1e-12) || (g.is_nan() && !want.is_finite()), "{} vs {}", g, want);
        }
    }

    #[test]
    fn bincount_matches_a_loop(
        ((a, w), (g, gw)) in shape(3, 7).prop_flat_map(|s| {
            let n: usize = s.iter().product();
            (
                (
                    proptest::collection::vec(0i64..12, n).prop_map({
                        let s = s.clone();
                        move |v| ArrayD::from_shape_vec(IxDyn(&s), v).unwrap()
                    }),
                    array_f64(s.clone(), false),
                ),
                (grid(s.clone()), grid(s)),
            )
        }),
        minlength in 0usize..16,
    ) {
        let x = chunked(&a, &g);
        let len = a.iter().map(|&v| v as usize + 1).max().unwrap_or(0).max(minlength);
        let mut want = vec![0i64; len];
        let mut want_w = vec![0.0f64; len];
        for (&v, &wt) in a.iter().zip(w.iter()) {
            want[v as usize] += 1;
            want_w[v as usize] += wt;
        }
        let got = x.bincount(minlength).unwrap().compute().unwrap();
        prop_assert_eq!(got.into_raw_vec_and_offset().0, want);
        let wd = chunked(&w, &gw);
        let got = on_threads(&x.bincount_weighted(&wd, minlength).unwrap());
        prop_assert_eq!(got.len(), len);
        let scale: f64 = w.iter().map(|v| v.abs()).sum::<f64>().max(1.0);
        for (g, t) in got.iter().zip(&want_w) {
            prop_assert!((g - t).abs() <= 1e-12 * scale, "{} vs {}", g, t);
        }
        // Narrow unsigned values count the same.
        let u = chunked(&a.mapv(|v| v as u8), &g);
        let got = u.bincount(minlength).unwrap().compute().unwrap();
        prop_assert_eq!(got.len(), len);
    }

    #[test]
    fn digitize_matches_numpy_rules(
        (a, g) in array_and_grid(3, 7, true),
        bins in proptest::collection::vec(-120.0..120.0f64, 0..6),
        right in any::<bool>(),
        decreasing in any::<bool>(),
    ) {
        let mut bins = bins;
        bins.sort_by(f64::total_cmp);
        if decreasing {
            bins.reverse();
        }
        let n = bins.len() as i64;
        // NumPy's definition, element by element.
        let want = a.mapv(|x| {
            if x.is_nan() {
                return if decreasing && n > 0 && bins[0] != bins[bins.len() - 1] { 0 } else { n };
            }
            let inc = !decreasing || bins.windows(2).all(|w| w[0] <= w[1]);
            if inc {
                bins.iter().filter(|&&b| if right { b < x } else { b <= x }).count() as i64
            } else {
                n - bins.iter().filter(|&&b| if right { b < x } else { b <= x }).count() as i64
            }
        });
        let got = chunked(&a, &g).digitize(&bins, right).unwrap().compute().unwrap();
        prop_assert_eq!(got, want);
    }
}

#[test]
fn bad_input_is_refused_before_running() {
    let x = DArray::<f64>::ones(&[4], [2]).unwrap();
    let y = DArray::<f64>::ones(&[5], [2]).unwrap();
    let b = Bins::Edges(vec![0.0, 1.0]);
    assert!(matches!(
        histogram2d(&x, &y, &[b.clone(), b.clone()]),
        Err(Error::Broadcast { .. })
    ));
    assert!(matches!(
        histogramdd(&[&x], &[b.clone(), b.clone()]),
        Err(Error::InvalidArgument { .. })
    ));
    assert!(matches!(
        histogramdd::<f64>(&[], &[]),
        Err(Error::InvalidArgument { .. })
    ));
    assert!(matches!(
        histogramdd(&[&x, &x], &[b, Bins::Edges(vec![1.0, 0.0])]),
        Err(Error::InvalidArgument { .. })
    ));
    // Not monotonic, or NaN, with the array named.
    for bad in [vec![0.0, 2.0, 1.0], vec![0.0, f64::NAN]] {
        match x.digitize(&bad, false) {
            Err(Error::InvalidArgument { array, reason }) => {
                assert_eq!(array, x.name());
                assert!(reason.contains("digitize"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
    }
    // bincount: floats refused; a negative value named with its block.
    assert!(matches!(x.bincount(0), Err(Error::InvalidArgument { .. })));
    let neg = DArray::<i32>::from_ndarray(&ndarray::array![1, 2, 3, -4, 5], [2]).unwrap();
    match neg.bincount(0) {
        Err(Error::InvalidArgument { array, reason }) => {
            assert_eq!(array, neg.name());
            assert!(reason.contains("[1]") && reason.contains("-4"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn empty_bincount_has_minlength_zeros() {
    let e = DArray::<i64>::zeros(&[0, 3], [1, 2]).unwrap();
    assert_eq!(e.bincount(0).unwrap().compute().unwrap().len(), 0);
    let c = e.bincount(3).unwrap().compute().unwrap();
    assert_eq!(c.into_raw_vec_and_offset().0, vec![0, 0, 0]);
}

#[test]
fn counting_graphs_round_trip_through_postcard() {
    let x = DArray::<f64>::arange(0.0, 40.0, 1.0, [7]).unwrap();
    let b = Bins::Count {
        count: 2,
        range: (0.0, 40.0),
    };
    let (h, _) = histogram2d(&x, &x, &[b.clone(), b]).unwrap();
    let i = x.cast::<i64>().bincount(0).unwrap();
    let d = x.digitize(&[10.0, 20.0], true).unwrap();
    for g in [h.graph().unwrap(), i.graph().unwrap(), d.graph().unwrap()] {
        let bytes = postcard::to_allocvec(&g).unwrap();
        let back: darray::graph::Graph = postcard::from_bytes(&bytes).unwrap();
        assert_eq!(back.describe(), g.describe());
    }
    assert_eq!(
        h.compute().unwrap(),
        ndarray::array![[20.0, 0.0], [0.0, 20.0]].into_dyn()
    );
}
