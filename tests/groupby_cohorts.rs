//! Grouped reductions by the cohorts strategy and by lazy (`DArray<i64>`)
//! labels, against a direct loop over the whole array, over random shapes and
//! chunkings (irregular, size-1 and ragged edge chunks, empty axes), labels
//! with dropped positions and empty groups, and NaN. Floats within 1e-9
//! relative (cohorts merge other partials than map-reduce); counts, integer
//! min/max exact. Every strategy bit-identical on 1 and 2 threads, and on a
//! 2-worker cluster.

mod common;
#[path = "common/groupby_oracle.rs"]
mod groupby_oracle;

use common::*;
use darray::{DArray, Error, GroupKind, GroupStrategy, LocalExecutor};
use groupby_oracle::{on_threads, oracle};
use ndarray::ArrayD;
use proptest::prelude::*;

/// An array with a grid, an axis, and periodic labels along it (period
/// `1..=6`, offset, some dropped), so groups recur in some blocks only.
fn periodic_case(
    max_ndim: usize,
) -> impl Strategy<Value = (ArrayD<f64>, Vec<Vec<usize>>, usize, Vec<i64>)> {
    array_and_grid(max_ndim, 9, true).prop_flat_map(|(a, g)| {
        let nd = a.ndim();
        (Just(a), Just(g), 0..nd, 1i64..=6, 0i64..6, any::<u16>()).prop_map(
            |(a, g, ax, period, offset, drop)| {
                let n = a.shape()[ax];
                // Runs of equal labels as long as the period, cycling.
                let labels = (0..n as i64)
                    .map(|i| {
                        if (drop >> (i % 16)) & 1 == 1 && i % 5 == 0 {
                            -1
                        } else {
                            ((i / period) + offset) % 4
                        }
                    })
                    .collect();
                (a, g, ax, labels)
            },
        )
    })
}

/// `(array, grid, axis, labels, label chunks, expected groups)`.
type LazyCase = (
    ArrayD<f64>,
    Vec<Vec<usize>>,
    usize,
    Vec<i64>,
    Vec<usize>,
    Vec<i64>,
);

/// Labels by value (`-3..5`) and expected groups (a shuffled subset, maybe
/// with values no label has).
fn lazy_case() -> impl Strategy<Value = LazyCase> {
    array_and_grid(3, 7, true).prop_flat_map(|(a, g)| {
        let nd = a.ndim();
        (Just(a), Just(g), 0..nd).prop_flat_map(|(a, g, ax)| {
            let n = a.shape()[ax];
            (
                Just(a),
                Just(g),
                Just(ax),
                proptest::collection::vec(-3i64..5, n),
                partition(n),
                proptest::sample::subsequence((-3i64..7).collect::<Vec<_>>(), 0..10).prop_shuffle(),
            )
        })
    })
}

/// Group entries of value-labels for `groups` (others dropped).
fn codes(labels: &[i64], groups: &[i64]) -> Vec<i64> {
    labels
        .iter()
        .map(|l| groups.iter().position(|g| g == l).map_or(-1, |k| k as i64))
        .collect()
}

proptest! {
    #![proptest_config(config(40))]

    #[test]
    fn cohorts_match_a_loop(
        (a, g, ax, labels) in periodic_case(3),
        k in 0..GroupKind::ALL.len(),
        extra in 0usize..2,
        split_every in 2usize..4,
        auto in any::<bool>(),
    ) {
        let kind = GroupKind::ALL[k];
        let x = chunked(&a, &g);
        let by = x.groupby(&labels, ax as isize).unwrap();
        let ngroups = by.group_count() + extra;
        let s = if auto { GroupStrategy::Auto } else { GroupStrategy::Cohorts };
        let by = by.ngroups(ngroups).unwrap().strategy(s).split_every(split_every);
        if !auto {
            prop_assert_eq!(by.chosen_strategy().unwrap(), GroupStrategy::Cohorts);
        }
        // Each output block reads only blocks holding its groups.
        let plan = by.planned_blocks().unwrap();
        prop_assert!(plan.iter().all(|b| !b.is_empty() && b.windows(2).all(|w| w[0] < w[1])));
        let got = on_threads(&by, kind);
        let want = oracle(&a, ax, &labels, ngroups, kind);
        assert_close(&got, &want, 1e-9);
    }

    #[test]
    fn integer_cohorts_are_exact(
        (a, g) in int_array_and_grid(3, 8),
        ax in 0usize..3,
        period in 1i64..4,
    ) {
        prop_assume!(ax < a.ndim());
        let labels: Vec<i64> = (0..a.shape()[ax] as i64).map(|i| (i / period) % 3).collect();
        let x = chunked(&a, &g);
        let by = x.groupby(&labels, ax as isize).unwrap().strategy(GroupStrategy::Cohorts);
        let n = by.group_count();
        let af = a.mapv(f64::from);
        let count = by.count().unwrap().compute().unwrap().mapv(|v| v as f64);
        prop_assert_eq!(count, oracle(&af, ax, &labels, n, GroupKind::Count));
        let sum = by.sum().unwrap().compute().unwrap().mapv(|v| v as f64);
        prop_assert_eq!(sum, oracle(&af, ax, &labels, n, GroupKind::Sum));
        let min = by.min().unwrap().compute().unwrap().mapv(f64::from);
        let want = oracle(&af, ax, &labels, n, GroupKind::Min).mapv(|v| if v.is_nan() { f64::from(i32::MAX) } else { v });
        prop_assert_eq!(min, want);
        let max = by.max().unwrap().compute().unwrap().mapv(f64::from);
        let want = oracle(&af, ax, &labels, n, GroupKind::Max).mapv(|v| if v.is_nan() { f64::from(i32::MIN) } else { v });
        prop_assert_eq!(max, want);
    }

    #[test]
    fn lazy_labels_match_a_loop(
        (a, g, ax, labels, label_chunks, groups) in lazy_case(),
        k in 0..GroupKind::ALL.len(),
    ) {
        let kind = GroupKind::ALL[k];
        let x = chunked(&a, &g);
        // Labels chunked differently from the axis: rechunked to it.
        let by_arr = DArray::from_ndarray(&ndarray::Array1::from(labels.clone()).into_dyn(), vec![label_chunks]).unwrap();
        let by = x.groupby_array(&by_arr, ax as isize, &groups).unwrap();
        prop_assert_eq!(by.chosen_strategy().unwrap(), GroupStrategy::MapReduce);
        prop_assert_eq!(by.group_labels(), groups.clone());
        let got = on_threads(&by, kind);
        let want = oracle(&a, ax, &codes(&labels, &groups), groups.len(), kind);
        assert_close(&got, &want, 1e-9);
        // The unique pass finds the non-negative labels.
        let u = x.groupby_array_unique(&by_arr, ax as isize).unwrap();
        let mut present: Vec<i64> = labels.iter().copied().filter(|&l| l >= 0).collect();
        present.sort_unstable();
        present.dedup();
        prop_assert_eq!(u.group_labels(), present.clone());
        let got = on_threads(&u, kind);
        let want = oracle(&a, ax, &codes(&labels, &present), present.len(), kind);
        assert_close(&got, &want, 1e-9);
    }
}

#[test]
fn day_of_year_climatology_uses_cohorts() {
    // 4 years of daily (time, cell) data of 360 days in 12 months of 30 days,
    // chunked by month: day d recurs in the block of its month each year.
    let (years, cells) = (4, 3);
    let days = years * 360;
    let a = ArrayD::from_shape_fn(vec![days, cells], |i| ((i[0] * 7 + i[1] * 13) % 101) as f64);
    let x = DArray::from_ndarray(&a, vec![vec![30; days / 30], vec![cells]]).unwrap();
    let labels: Vec<i64> = (0..days as i64).map(|d| d % 360).collect();
    let by = x.groupby(&labels, 0).unwrap();
    assert_eq!(by.chosen_strategy().unwrap(), GroupStrategy::Cohorts);
    // One cohort per month, reading that month's block of each year.
    let plan = by.planned_blocks().unwrap();
    assert_eq!(plan.len(), 12);
    assert_eq!(plan[1], vec![1, 13, 25, 37]);
    let m = by.mean().unwrap();
    assert_eq!(m.shape(), &[360, cells]);
    assert_eq!(m.chunks()[0], vec![30; 12]);
    assert_close(
        &m.compute().unwrap(),
        &oracle(&a, 0, &labels, 360, GroupKind::Mean),
        1e-12,
    );
    // As many partials as map-reduce, but 30 groups wide instead of 360.
    let cohorts = m.graph().unwrap().describe();
    let mr = by
        .clone()
        .strategy(GroupStrategy::MapReduce)
        .mean()
        .unwrap()
        .graph()
        .unwrap()
        .describe();
    assert_eq!(cohorts.matches("group_partial").count(), 48);
    assert_eq!(mr.matches("group_partial").count(), 48);
    // With a leap day: day 59 only in some years' blocks is its own cohort.
    let mut leap = labels.clone();
    leap[59] = 360;
    let by = x.groupby(&leap, 0).unwrap();
    assert_eq!(by.chosen_strategy().unwrap(), GroupStrategy::Cohorts);
    assert_close(
        &by.sum().unwrap().compute().unwrap(),
        &oracle(&a, 0, &leap, 361, GroupKind::Sum),
        1e-12,
    );
}

#[test]
fn random_labels_keep_map_reduce() {
    // Every label in every block: one cohort, so Auto stays map-reduce.
    let a = ArrayD::from_shape_fn(vec![60, 2], |i| (i[0] + i[1]) as f64);
    let x = DArray::from_ndarray(&a, vec![vec![20, 20, 20], vec![2]]).unwrap();
    let labels: Vec<i64> = (0..60).map(|i| (i * 7) % 5).collect();
    let by = x.groupby(&labels, 0).unwrap();
    assert_eq!(by.chosen_strategy().unwrap(), GroupStrategy::MapReduce);
    // Forced cohorts: one output block over every input block.
    let c = by.clone().strategy(GroupStrategy::Cohorts);
    assert_eq!(c.planned_blocks().unwrap(), vec![vec![0, 1, 2]]);
    assert_close(
        &c.sum().unwrap().compute().unwrap(),
        &oracle(&a, 0, &labels, 5, GroupKind::Sum),
        1e-12,
    );
}

#[test]
fn lazy_label_errors_are_clear() {
    let x = DArray::<f64>::ones(&[6, 2], [4, 2]).unwrap();
    let l =
        DArray::<i64>::from_ndarray(&ndarray::array![0, 1, 0, 1, 2, 2].into_dyn(), [4]).unwrap();
    let short = DArray::<i64>::zeros(&[5], [5]).unwrap();
    let err = x.groupby_array(&short, 0, &[0]).unwrap_err();
    assert!(err.to_string().contains("expected [6]"), "{err}");
    assert!(matches!(
        x.groupby_array(&l, 3, &[0]),
        Err(Error::AxisOutOfRange { .. })
    ));
    let err = x.groupby_array(&l, 0, &[1, 2, 1]).unwrap_err();
    assert!(err.to_string().contains("listed twice"), "{err}");
    let by = x.groupby_array(&l, 0, &[2, 0]).unwrap();
    for s in [GroupStrategy::Blockwise, GroupStrategy::Cohorts] {
        let err = by.clone().strategy(s).sum().unwrap_err();
        assert!(err.to_string().contains("labels' values"), "{err}");
    }
    assert!(by.clone().ngroups(3).is_err());
    // Quantiles compute the labels, then gather.
    let q = by.median().unwrap().compute().unwrap();
    assert_eq!(q.shape(), &[2, 2]);
    assert!(q.iter().all(|&v| v == 1.0));
}

#[test]
fn cohort_and_lazy_graphs_round_trip_through_postcard() {
    let x = DArray::<f64>::arange(0.0, 24.0, 1.0, [4]).unwrap();
    let labels: Vec<i64> = (0..24).map(|i| (i / 4) % 3).collect();
    let lazy = DArray::<i64>::from_ndarray(&ndarray::Array1::from(labels.clone()).into_dyn(), [5])
        .unwrap();
    let arrays = [
        x.groupby(&labels, 0)
            .unwrap()
            .strategy(GroupStrategy::Cohorts)
            .split_every(2)
            .sum()
            .unwrap(),
        x.groupby_array(&lazy, 0, &[0, 1, 2])
            .unwrap()
            .sum()
            .unwrap(),
    ];
    for m in arrays {
        let g = m.graph().unwrap();
        let bytes = postcard::to_allocvec(&g).unwrap();
        let back: darray::graph::Graph = postcard::from_bytes(&bytes).unwrap();
        assert_eq!(back.describe(), g.describe());
        // Group 0: 0..4 and 12..16; group 1: 4..8, 16..20; group 2: the rest.
        assert_eq!(
            m.compute().unwrap().as_slice().unwrap(),
            &[60.0, 92.0, 124.0]
        );
    }
}

#[test]
fn cohorts_and_lazy_labels_give_local_bits_on_a_cluster() {
    let c = darray_cluster(2, 1);
    let client = c.client().unwrap();
    let local = LocalExecutor::with_threads(2).unwrap();
    let a = ArrayD::from_shape_fn(vec![96, 5], |i| ((i[0] * 31 + i[1] * 17) % 97) as f64 / 7.0);
    let x = DArray::from_ndarray(&a, vec![vec![12; 8], vec![3, 2]]).unwrap();
    let labels: Vec<i64> = (0..96).map(|d| (d / 2) % 12).collect();
    let lazy =
        DArray::from_ndarray(&ndarray::Array1::from(labels.clone()).into_dyn(), [40]).unwrap();
    let cohorts = x.groupby(&labels, 0).unwrap();
    assert_eq!(cohorts.chosen_strategy().unwrap(), GroupStrategy::Cohorts);
    let groups: Vec<i64> = (0..12).rev().collect();
    let results = [
        cohorts.var(1.0).unwrap(),
        x.groupby_array(&lazy, 0, &groups).unwrap().mean().unwrap(),
    ];
    for r in results {
        let want = r.compute_with(&local).unwrap();
        let got = r.compute_with(&client).unwrap();
        assert_bits_eq(&want, &got);
    }
}
