//! Histograms against a direct loop over the whole array, over random shapes
//! and chunkings (irregular, size-1 and ragged edge chunks, empty axes) with
//! NaN. Counts exact; weighted sums and densities within 1e-12 relative
//! (partials are summed per block, then merged in block order). Results
//! bit-identical on 1 and 2 threads.

mod common;

use common::*;
use darray::{Bins, DArray, Error, LocalExecutor};
use ndarray::ArrayD;
use proptest::prelude::*;

/// NumPy's histogram by a loop: half-open bins, the last one closed.
fn oracle(a: &ArrayD<f64>, w: Option<&ArrayD<f64>>, edges: &[f64]) -> Vec<f64> {
    let n = edges.len() - 1;
    let mut out = vec![0.0; n];
    for (k, &x) in a.iter().enumerate() {
        for i in 0..n {
            let hit = x >= edges[i] && (x < edges[i + 1] || (i + 1 == n && x <= edges[i + 1]));
            if hit {
                out[i] += w.map_or(1.0, |w| w.iter().nth(k).copied().unwrap());
                break;
            }
        }
    }
    out
}

fn edges_strategy() -> impl Strategy<Value = Vec<f64>> {
    proptest::collection::vec(-120.0..120.0f64, 2..8).prop_map(|mut v| {
        v.sort_by(f64::total_cmp);
        v
    })
}

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

proptest! {
    #![proptest_config(config(48))]

    #[test]
    fn counts_match_a_loop((a, g) in array_and_grid(3, 7, true), edges in edges_strategy()) {
        let (h, e) = chunked(&a, &g).histogram(&Bins::Edges(edges.clone())).unwrap();
        prop_assert_eq!(&e, &edges);
        let got = h.compute().unwrap().mapv(|c| c as f64);
        let want = ArrayD::from_shape_vec(vec![edges.len() - 1], oracle(&a, None, &edges)).unwrap();
        prop_assert_eq!(got, want);
    }

    #[test]
    fn count_bins_over_a_range((a, g) in array_and_grid(2, 8, true), count in 1usize..6, lo in -100.0..0.0f64, width in 0.0..150.0f64) {
        let bins = Bins::Count { count, range: (lo, lo + width) };
        let (h, edges) = chunked(&a, &g).histogram(&bins).unwrap();
        prop_assert_eq!(edges.len(), count + 1);
        let got = h.compute().unwrap().mapv(|c| c as f64);
        let want = oracle(&a, None, &edges);
        prop_assert_eq!(got.as_slice().unwrap(), want.as_slice());
    }

    #[test]
    fn weights_and_density_match_a_loop(
        ((a, w), g) in shape(3, 6).prop_flat_map(|s| ((array_f64(s.clone(), true), array_f64(s.clone(), false)), grid(s))),
        edges in edges_strategy(),
    ) {
        let x = chunked(&a, &g);
        let wd = DArray::from_ndarray(&w, [3]).unwrap_or_else(|_| chunked(&w, &g));
        let bins = Bins::Edges(edges.clone());
        let (h, _) = x.histogram_with(&bins, Some(&wd), false).unwrap();
        let want = oracle(&a, Some(&w), &edges);
        let scale: f64 = w.iter().map(|v| v.abs()).sum::<f64>().max(1.0);
        let got = on_threads(&h);
        for (g, t) in got.iter().zip(&want) {
            prop_assert!((g - t).abs() <= 1e-12 * scale, "{} vs {}", g, t);
        }
        let (d, _) = x.histogram_with(&bins, None, true).unwrap();
        let counts = oracle(&a, None, &edges);
        let total: f64 = counts.iter().sum();
        let got = on_threads(&d);
        for (i, (g, c)) in got.iter().zip(&counts).enumerate() {
            let want = c / total / (edges[i + 1] - edges[i]);
            prop_assert!(close(*g, want, 1e-12) || (g.is_nan() && !want.is_finite()), "{} vs {}", g, want);
        }
    }
}

#[test]
fn last_bin_is_closed_and_nan_is_skipped() {
    let a = ndarray::arr1(&[0.0, 1.0, 2.0, f64::NAN, 3.0]).into_dyn();
    let (h, _) = DArray::from_ndarray(&a, [2])
        .unwrap()
        .histogram(&Bins::Edges(vec![0.0, 1.0, 2.0]))
        .unwrap();
    assert_eq!(h.compute().unwrap().as_slice().unwrap(), &[1, 2]);
}

#[test]
fn bad_bins_are_refused_before_running() {
    let x = DArray::<f64>::ones(&[4], [2]).unwrap();
    let bad = [
        Bins::Edges(vec![0.0, 2.0, 1.0]),
        Bins::Edges(vec![1.0]),
        Bins::Count {
            count: 0,
            range: (0.0, 1.0),
        },
        Bins::Count {
            count: 3,
            range: (2.0, 1.0),
        },
        Bins::Count {
            count: 3,
            range: (0.0, f64::INFINITY),
        },
    ];
    for b in &bad {
        assert!(
            matches!(x.histogram(b), Err(Error::InvalidArgument { .. })),
            "{b:?}"
        );
    }
    let w = DArray::<f64>::ones(&[5], [2]).unwrap();
    let ok = Bins::Edges(vec![0.0, 1.0]);
    assert!(matches!(
        x.histogram_with(&ok, Some(&w), false),
        Err(Error::Broadcast { .. })
    ));
    // A degenerate range widens as NumPy's.
    let (_, e) = x
        .histogram(&Bins::Count {
            count: 1,
            range: (1.0, 1.0),
        })
        .unwrap();
    assert_eq!(e, vec![0.5, 1.5]);
}

#[test]
fn histogram_graph_round_trips_through_postcard() {
    let x = DArray::<f64>::ones(&[40], [3]).unwrap();
    let (h, _) = x
        .histogram(&Bins::Count {
            count: 4,
            range: (0.0, 2.0),
        })
        .unwrap();
    let g = h.graph().unwrap();
    let bytes = postcard::to_allocvec(&g).unwrap();
    let back: darray::graph::Graph = postcard::from_bytes(&bytes).unwrap();
    assert_eq!(back.describe(), g.describe());
    assert_eq!(h.compute().unwrap().as_slice().unwrap(), &[0, 0, 40, 0]);
}
