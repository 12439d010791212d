//! Grouped reductions against a direct loop over the whole array, over random
//! shapes and chunkings (irregular, size-1 and ragged edge chunks, empty
//! axes), random labels (negative = dropped, empty groups) and NaN, for every
//! kind and strategy. Floats within 1e-9 relative (partials are reduced per
//! block, then merged in block order); integers exact. Results bit-identical on
//! 1 and 2 threads.

mod common;
#[path = "common/groupby_oracle.rs"]
mod groupby_oracle;

use common::*;
use darray::{DArray, Error, GroupKind, GroupStrategy, LocalExecutor};
use groupby_oracle::{on_threads, oracle};
use ndarray::{ArrayD, Axis};
use proptest::prelude::*;

fn strategy_of(i: usize) -> GroupStrategy {
    [
        GroupStrategy::Auto,
        GroupStrategy::MapReduce,
        GroupStrategy::Blockwise,
        GroupStrategy::Cohorts,
    ][i % 4]
}

/// An array with a grid, an axis, and labels along it in `-1..max_label`.
fn case(max_ndim: usize) -> impl Strategy<Value = (ArrayD<f64>, Vec<Vec<usize>>, usize, Vec<i64>)> {
    array_and_grid(max_ndim, 7, true).prop_flat_map(|(a, g)| {
        let nd = a.ndim();
        (Just(a), Just(g), 0..nd).prop_flat_map(|(a, g, ax)| {
            let n = a.shape()[ax];
            (
                Just(a),
                Just(g),
                Just(ax),
                proptest::collection::vec(-1i64..5, n),
            )
        })
    })
}

/// Labels whose groups never span two blocks of `sizes`: increasing, a new
/// group at every block start and at random places inside blocks, some
/// dropped, some ids skipped (empty groups).
fn block_aligned(sizes: &[usize], cuts: &[u8]) -> Vec<i64> {
    let mut labels = Vec::new();
    let mut g = 0i64;
    let mut i = 0;
    for &s in sizes {
        for j in 0..s {
            let c = cuts.get(i).copied().unwrap_or(0);
            if (j == 0 && i > 0) || c % 4 == 1 {
                g += 1 + i64::from(c % 3 == 0);
            }
            labels.push(if c % 7 == 3 { -1 } else { g });
            i += 1;
        }
    }
    labels
}

proptest! {
    #![proptest_config(config(48))]

    #[test]
    fn every_kind_matches_a_loop(
        (a, g, ax, labels) in case(3),
        k in 0..GroupKind::ALL.len(),
        s in 0usize..4,
        extra in 0usize..2,
        split_every in 2usize..4,
    ) {
        let kind = GroupKind::ALL[k];
        let x = chunked(&a, &g);
        let by = x.groupby(&labels, ax as isize).unwrap();
        let ngroups = by.group_count() + extra;
        let by = by.ngroups(ngroups).unwrap().strategy(strategy_of(s)).split_every(split_every);
        if by.chosen_strategy().is_err() {
            prop_assert_eq!(strategy_of(s), GroupStrategy::Blockwise);
            return Ok(());
        }
        let got = on_threads(&by, kind);
        let want = oracle(&a, ax, &labels, ngroups, kind);
        assert_close(&got, &want, 1e-9);
    }

    #[test]
    fn block_aligned_groups_reduce_blockwise(
        (a, g) in array_and_grid(3, 7, true),
        ax in 0usize..3,
        cuts in proptest::collection::vec(any::<u8>(), 7),
        k in 0..GroupKind::ALL.len(),
    ) {
        prop_assume!(ax < a.ndim());
        let kind = GroupKind::ALL[k];
        let labels = block_aligned(&g[ax], &cuts);
        let x = chunked(&a, &g);
        let by = x.groupby(&labels, ax as isize).unwrap();
        let expected = if labels.iter().any(|&l| l >= 0) {
            GroupStrategy::Blockwise
        } else {
            GroupStrategy::MapReduce
        };
        prop_assert_eq!(by.chosen_strategy().unwrap(), expected);
        let got = on_threads(&by, kind);
        let want = oracle(&a, ax, &labels, by.group_count(), kind);
        assert_close(&got, &want, 1e-9);
        // Map-reduce gives the same values.
        let mr = on_threads(&by.clone().strategy(GroupStrategy::MapReduce), kind);
        assert_close(&mr, &want, 1e-9);
    }

    #[test]
    fn integer_kinds_are_exact(
        (a, g) in int_array_and_grid(3, 6),
        ax in 0usize..3,
        raw in proptest::collection::vec(-1i64..4, 6),
        s in 0usize..4,
    ) {
        prop_assume!(ax < a.ndim());
        let labels: Vec<i64> = (0..a.shape()[ax]).map(|i| raw[i % raw.len()]).collect();
        let x = chunked(&a, &g);
        let by = x.groupby(&labels, ax as isize).unwrap().strategy(strategy_of(s));
        prop_assume!(by.chosen_strategy().is_ok());
        let n = by.group_count();
        let af = a.mapv(f64::from);
        let sum = by.sum().unwrap().compute().unwrap().mapv(|v| v as f64);
        prop_assert_eq!(sum, oracle(&af, ax, &labels, n, GroupKind::Sum));
        let count = by.count().unwrap().compute().unwrap().mapv(|v| v as f64);
        prop_assert_eq!(count, oracle(&af, ax, &labels, n, GroupKind::Count));
        // Integer min/max: the identity for empty groups.
        let min = by.min().unwrap().compute().unwrap().mapv(f64::from);
        let want = oracle(&af, ax, &labels, n, GroupKind::Min).mapv(|v| if v.is_nan() { f64::from(i32::MAX) } else { v });
        prop_assert_eq!(min, want);
        let max = by.max().unwrap().compute().unwrap().mapv(f64::from);
        let want = oracle(&af, ax, &labels, n, GroupKind::Max).mapv(|v| if v.is_nan() { f64::from(i32::MIN) } else { v });
        prop_assert_eq!(max, want);
        let mean = by.mean().unwrap().compute().unwrap();
        assert_close(&mean, &oracle(&af, ax, &labels, n, GroupKind::Mean), 1e-12);
    }
}

/// NumPy's linear quantile of `v` (NaN if any NaN unless skipped; NaN when empty).
fn linear_quantile(v: &[f64], q: f64, skip_nan: bool) -> f64 {
    if !skip_nan && v.iter().any(|x| x.is_nan()) {
        return f64::NAN;
    }
    let mut s: Vec<f64> = v.iter().copied().filter(|x| !x.is_nan()).collect();
    if s.is_empty() {
        return f64::NAN;
    }
    s.sort_by(f64::total_cmp);
    let pos = q * (s.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = (lo + 1).min(s.len() - 1);
    s[lo] + (s[hi] - s[lo]) * (pos - lo as f64)
}

proptest! {
    #![proptest_config(config(32))]

    /// Group quantiles (one and several q, with and without NaN skipping)
    /// against sorting each group's lanes; empty groups NaN.
    #[test]
    fn group_quantiles_match_sorting(
        (a, g, ax, labels) in case(3),
        qs in proptest::collection::vec(0.0f64..=1.0, 1..4),
        many in any::<bool>(),
        skip in any::<bool>(),
    ) {
        prop_assume!(labels.iter().any(|&l| l >= 0));
        let x = chunked(&a, &g);
        let by = x.groupby(&labels, ax as isize).unwrap();
        let n = by.group_count();
        let q: darray::Quantiles = if many { qs.clone().into() } else { qs[0].into() };
        let m = darray::QuantileMethod::Linear;
        let r = if skip { by.nanquantile(q, m) } else { by.quantile(q, m) }.unwrap();
        let got = [1, 2].map(|t| r.compute_with(&LocalExecutor::with_threads(t).unwrap()).unwrap());
        assert_bits_eq(&got[0], &got[1]);
        let used: &[f64] = if many { &qs } else { &qs[..1] };
        for (k, &q) in used.iter().enumerate() {
            let mut shape = a.shape().to_vec();
            shape[ax] = n;
            let mut want = ArrayD::<f64>::zeros(shape);
            for grp in 0..n {
                let idx: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] == grp as i64).collect();
                let sub = a.select(Axis(ax), &idx);
                let lanes = sub.map_axis(Axis(ax), |lane| linear_quantile(&lane.to_vec(), q, skip));
                want.index_axis_mut(Axis(ax), grp).assign(&lanes);
            }
            let this = if many { got[0].index_axis(Axis(0), k).to_owned() } else { got[0].clone() };
            assert_close(&this, &want, 1e-12);
        }
    }
}

#[test]
fn climatology_by_weekday_uses_map_reduce() {
    // 10 weeks of daily (time, cell) data in 3 chunks: every weekday occurs in
    // every chunk, so groups span blocks.
    let days = 70;
    let a = ArrayD::from_shape_fn(vec![days, 4], |i| (i[0] * 4 + i[1]) as f64);
    let x = DArray::from_ndarray(&a, vec![vec![25, 25, 20], vec![4]]).unwrap();
    let labels: Vec<i64> = (0..days as i64).map(|d| d % 7).collect();
    let by = x.groupby(&labels, 0).unwrap();
    assert_eq!(by.chosen_strategy().unwrap(), GroupStrategy::MapReduce);
    let m = by.mean().unwrap();
    assert_eq!(m.shape(), &[7, 4]);
    assert_close(
        &m.compute().unwrap(),
        &oracle(&a, 0, &labels, 7, GroupKind::Mean),
        1e-12,
    );
    let g = m.graph().unwrap();
    assert!(g.describe().contains("group_merge") || g.describe().contains("group_finalize"));
    // Forcing blockwise is refused before anything runs.
    assert!(matches!(
        by.clone().strategy(GroupStrategy::Blockwise).mean(),
        Err(Error::InvalidArgument { .. })
    ));
}

#[test]
fn sorted_block_aligned_labels_use_blockwise() {
    let a = ArrayD::from_shape_fn(vec![12, 3], |i| (i[0] * 3 + i[1]) as f64);
    let x = DArray::from_ndarray(&a, vec![vec![4, 4, 4], vec![2, 1]]).unwrap();
    let labels = [0, 0, 1, 1, 2, 2, 2, 2, 3, 3, 4, 4];
    let by = x.groupby(&labels, 0).unwrap();
    assert_eq!(by.chosen_strategy().unwrap(), GroupStrategy::Blockwise);
    let s = by.sum().unwrap();
    assert_eq!(s.chunks(), &vec![vec![2, 1, 2], vec![2, 1]]);
    assert_eq!(
        s.compute().unwrap(),
        oracle(&a, 0, &labels, 5, GroupKind::Sum)
    );
    // One task per input block: no merges.
    let d = s.graph().unwrap().describe();
    assert!(
        !d.contains("group_merge") && !d.contains("group_finalize"),
        "{d}"
    );
}

#[test]
fn bad_input_is_refused_before_running() {
    let x = DArray::<f64>::ones(&[6, 2], [4, 2]).unwrap();
    assert!(matches!(
        x.groupby(&[0, 1, 2], 0),
        Err(Error::InvalidArgument { .. })
    ));
    assert!(matches!(
        x.groupby(&[0, 1], 2),
        Err(Error::AxisOutOfRange { .. })
    ));
    let by = x.groupby(&[0, 1, 5, 1, -1, 0], 0).unwrap();
    assert_eq!(by.group_count(), 6);
    let err = by.clone().ngroups(3).unwrap_err();
    assert!(err.to_string().contains("position 2"), "{err}");
    assert!(matches!(by.var(f64::NAN), Err(Error::Kernel(_))));
    assert!(matches!(
        by.reduce::<f32>(GroupKind::Sum),
        Err(Error::DTypeMismatch { .. })
    ));
}

#[test]
fn partials_over_the_budget_are_refused() {
    // 1000 groups x 500 columns x 24 bytes of moments: 12 MB per partial.
    let x = DArray::<f64>::ones(&[2000, 500], [500, 500]).unwrap();
    let labels: Vec<i64> = (0..2000).map(|i| i % 1000).collect();
    let by = x.groupby(&labels, 0).unwrap();
    // Labels 0..500 recur in blocks 0 and 2, 500..1000 in 1 and 3.
    assert_eq!(by.chosen_strategy().unwrap(), GroupStrategy::Cohorts);
    let v = by.strategy(GroupStrategy::MapReduce).var(0.0).unwrap();
    let exec = LocalExecutor::with_threads(1)
        .unwrap()
        .memory_budget(4 << 20);
    assert!(matches!(
        v.compute_with(&exec),
        Err(Error::OverBudget { .. })
    ));
}

#[test]
fn groupby_graph_round_trips_through_postcard() {
    let x = DArray::<f64>::arange(0.0, 40.0, 1.0, [3]).unwrap();
    let labels: Vec<i64> = (0..40).map(|i| i % 3 - 1).collect();
    for s in [GroupStrategy::MapReduce, GroupStrategy::Auto] {
        let m = x
            .groupby(&labels, 0)
            .unwrap()
            .strategy(s)
            .split_every(2)
            .nanmax()
            .unwrap();
        let g = m.graph().unwrap();
        let bytes = postcard::to_allocvec(&g).unwrap();
        let back: darray::graph::Graph = postcard::from_bytes(&bytes).unwrap();
        assert_eq!(back.describe(), g.describe());
        assert_eq!(m.compute().unwrap().as_slice().unwrap(), &[37.0, 38.0]);
    }
}
