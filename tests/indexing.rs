//! Integer-array and boolean indexing against ndarray's `select` on the whole
//! array: random shapes and chunkings (irregular, size-1 and ragged blocks,
//! empty axes), index lists unsorted, repeated, negative and empty; results
//! identical on 1, 2 and 4 threads.

mod common;

use common::*;
use darray::{DArray, Executor, WriteOptions};
use ndarray::{ArrayD, Axis, IxDyn};
use proptest::prelude::*;

/// Index lists for an axis of `n`: `(as given, resolved)`, negatives included.
fn indices(n: usize) -> BoxedStrategy<(Vec<i64>, Vec<usize>)> {
    if n == 0 {
        return Just((vec![], vec![])).boxed();
    }
    proptest::collection::vec((0..n, any::<bool>()), 0..12)
        .prop_map(move |v| {
            let given = v
                .iter()
                .map(|&(i, neg)| if neg { i as i64 - n as i64 } else { i as i64 })
                .collect();
            (given, v.iter().map(|p| p.0).collect())
        })
        .boxed()
}

fn on_all(x: &DArray<f64>) -> ArrayD<f64> {
    let mut first: Option<ArrayD<f64>> = None;
    for exec in executors() {
        let got = x.compute_with(&exec).unwrap();
        match &first {
            Some(f) => assert_bits_eq(&got, f),
            None => first = Some(got),
        }
    }
    first.unwrap()
}

proptest! {
    #![proptest_config(config(64))]

    #[test]
    fn take_matches_select(
        ((a, grid), ax, (given, resolved)) in array_and_grid(3, 9, true)
            .prop_flat_map(|(a, g)| {
                let nd = a.ndim();
                (Just((a, g)), 0..nd)
            })
            .prop_flat_map(|((a, g), ax)| {
                let n = a.shape()[ax];
                (Just((a, g)), Just(ax), indices(n))
            }),
    ) {
        let x = chunked(&a, &grid);
        let got = on_all(&x.take(&given, ax as isize).unwrap());
        assert_bits_eq(&got, &a.select(Axis(ax), &resolved));
    }

    #[test]
    fn oindex_matches_select_twice(
        ((a, grid), (g0, r0), (g1, r1)) in array_and_grid(2, 9, false)
            .prop_filter("2-d", |(a, _)| a.ndim() == 2)
            .prop_flat_map(|(a, g)| {
                let (n0, n1) = (a.shape()[0], a.shape()[1]);
                (Just((a, g)), indices(n0), indices(n1))
            }),
        whole in 0usize..3,
    ) {
        let x = chunked(&a, &grid);
        let (s0, s1): (Option<&[i64]>, Option<&[i64]>) = match whole {
            0 => (None, Some(&g1)),
            1 => (Some(&g0), None),
            _ => (Some(&g0), Some(&g1)),
        };
        let got = on_all(&x.oindex(&[s0, s1]).unwrap());
        let mut want = a.clone();
        if s0.is_some() {
            want = want.select(Axis(0), &r0);
        }
        if s1.is_some() {
            want = want.select(Axis(1), &r1);
        }
        assert_bits_eq(&got, &want);
    }

    #[test]
    fn compress_matches_select(
        ((a, grid), ax, cond) in array_and_grid(3, 9, true)
            .prop_flat_map(|(a, g)| {
                let nd = a.ndim();
                (Just((a, g)), 0..nd)
            })
            .prop_flat_map(|((a, g), ax)| {
                let n = a.shape()[ax];
                (Just((a, g)), Just(ax), proptest::collection::vec(any::<bool>(), 0..=n))
            }),
    ) {
        let x = chunked(&a, &grid);
        let got = on_all(&x.compress(&cond, ax as isize).unwrap());
        let picked: Vec<usize> = cond.iter().enumerate().filter_map(|(i, &c)| c.then_some(i)).collect();
        assert_bits_eq(&got, &a.select(Axis(ax), &picked));
    }
}

/// Only the blocks holding the indices are read from the store, each once
/// per output block that needs it.
#[test]
fn reads_only_the_blocks_it_needs() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.zarr");
    let a = ArrayD::from_shape_fn(IxDyn(&[100, 6]), |ix| (ix[0] * 6 + ix[1]) as f64);
    DArray::from_ndarray(&a, [10, 6])
        .unwrap()
        .to_zarr(&path, &WriteOptions::default())
        .unwrap();
    let x = DArray::<f64>::from_zarr(&path).unwrap();
    // Rows from blocks 9, 0 and 3 only; one output block (10 rows a block).
    let rows = [95i64, 3, 31, 99, 0, 30];
    let y = x.take(&rows, 0).unwrap();
    assert_eq!(y.chunks()[0], vec![6]);
    let exec = darray::LocalExecutor::with_threads(2).unwrap();
    let got = y.compute_with(&exec).unwrap();
    assert_eq!(exec.last_stats().chunks_read, 3);
    let want = a.select(Axis(0), &[95, 3, 31, 99, 0, 30]);
    assert_eq!(got, want);
}

/// Long index lists are cut into blocks of the input's block size.
#[test]
fn output_blocks_follow_the_input() {
    let x = DArray::<f64>::ones(&[50, 4], [8, 4]).unwrap();
    let idx: Vec<i64> = (0..30).rev().collect();
    let y = x.take(&idx, 0).unwrap();
    assert_eq!(y.chunks()[0], vec![8, 8, 8, 6]);
    assert_eq!(y.compute().unwrap().sum(), 120.0);
}

#[test]
fn bad_input_is_refused() {
    let x = DArray::<f64>::ones(&[5, 4], [2, 2]).unwrap();
    let e = x.take(&[0, 5], 0).unwrap_err().to_string();
    assert!(
        e.contains("index 5 (position 1 of the index list) is out of bounds for length 5"),
        "{e}"
    );
    assert!(x.take(&[-6], 0).is_err());
    assert!(x.take(&[0], 2).is_err());
    assert!(x.oindex(&[None]).is_err());
    assert!(x.oindex(&[None, Some(&[4][..])]).is_err());
    let e = x.compress(&[true; 6], 0).unwrap_err().to_string();
    assert!(e.contains("condition of 6 for axis 0 of length 5"), "{e}");
}

proptest! {
    #![proptest_config(config(48))]

    /// Boolean selection, nonzero, flatnonzero and argwhere against the C-order
    /// walk of the whole array; chunk sizes known before computing.
    #[test]
    fn masks_match_the_c_order_walk(
        (a, grid) in array_and_grid(3, 8, true),
        cut in prop_oneof![Just(-1000.0), Just(1000.0), -50.0..50.0f64],
    ) {
        let x = chunked(&a, &grid);
        let m = x.greater(cut).unwrap();
        let y = x.mask(&m).unwrap();
        let want: Vec<f64> = a.iter().copied().filter(|v| *v > cut).collect();
        prop_assert_eq!(y.shape(), &[want.len()]);
        let got = on_all(&y);
        assert_bits_eq(&got, &ArrayD::from_shape_vec(IxDyn(&[want.len()]), want).unwrap());

        let coords: Vec<Vec<usize>> = a
            .indexed_iter()
            .filter(|p| *p.1 > cut)
            .map(|(ix, _)| (0..a.ndim()).map(|k| ix[k]).collect())
            .collect();
        let nz = m.nonzero().unwrap();
        prop_assert_eq!(nz.len(), a.ndim());
        for (ax, col) in nz.iter().enumerate() {
            let got: Vec<i64> = col.compute().unwrap().into_iter().collect();
            let want: Vec<i64> = coords.iter().map(|c| c[ax] as i64).collect();
            prop_assert_eq!(got, want);
        }
        let flat: Vec<i64> = m.flatnonzero().unwrap().compute().unwrap().into_iter().collect();
        let want: Vec<i64> = a.iter().enumerate().filter(|p| *p.1 > cut).map(|p| p.0 as i64).collect();
        prop_assert_eq!(flat, want);
        let aw = m.argwhere().unwrap().compute().unwrap();
        prop_assert_eq!(aw.shape(), &[coords.len(), a.ndim()]);
        for (k, c) in coords.iter().enumerate() {
            for ax in 0..a.ndim() {
                prop_assert_eq!(aw[[k, ax]], c[ax] as i64);
            }
        }
    }
}

/// A mask of another shape, and nonzero of a 0-d array, are refused.
#[test]
fn bad_masks_are_refused() {
    let x = DArray::<f64>::ones(&[5, 4], [2, 2]).unwrap();
    let m = DArray::<bool>::full(&[4, 5], true, [2, 2]).unwrap();
    let e = x.mask(&m).unwrap_err().to_string();
    assert!(
        e.contains("of shape [4, 5] for an array of shape [5, 4]"),
        "{e}"
    );
    let s = DArray::<f64>::ones(&[], [0usize; 0].as_slice()).unwrap();
    assert!(s.nonzero().is_err());
    let t = DArray::<bool>::full(&[], true, [0usize; 0].as_slice()).unwrap();
    assert_eq!(s.mask(&t).unwrap().compute().unwrap().len(), 1);
}

proptest! {
    #![proptest_config(config(48))]

    /// isin against a membership test of every element, integers and floats
    /// (NaN in no set, -0.0 equal to 0.0).
    #[test]
    fn isin_matches_membership(
        (a, grid) in int_array_and_grid(3, 8),
        set in proptest::collection::vec(-25i32..25, 0..8),
        fset in proptest::collection::vec(prop_oneof![Just(f64::NAN), Just(0.0), -3.0..3.0f64], 0..5),
    ) {
        let x = chunked(&a, &grid);
        let got = x.isin(&set).compute().unwrap();
        prop_assert_eq!(got, a.mapv(|v| set.contains(&v)));
        let f = a.mapv(|v| if v == 0 { -0.0 } else { f64::from(v) / 4.0 });
        let y = chunked(&f, &grid);
        let got = y.isin(&fset).compute().unwrap();
        prop_assert_eq!(got, f.mapv(|v| fset.contains(&v)));
    }
}

proptest! {
    #![proptest_config(config(48))]

    /// searchsorted on a sorted 1-d array of any chunking, both sides, against
    /// a count of the sorted values (NaN last, as NumPy sorts).
    #[test]
    fn searchsorted_counts(
        (a, grid) in array_and_grid(1, 12, true),
        values in proptest::collection::vec(prop_oneof![Just(f64::NAN), -100.0..100.0f64], 0..6),
        right in any::<bool>(),
    ) {
        let mut v: Vec<f64> = a.iter().copied().collect();
        v.sort_by(|x, y| match (x.is_nan(), y.is_nan()) {
            (false, false) => x.partial_cmp(y).unwrap(),
            (a, b) => a.cmp(&b),
        });
        // Probe with some of the array's own values too (ties).
        let mut probes = values.clone();
        probes.extend(v.iter().take(2).copied());
        let sorted = ArrayD::from_shape_vec(IxDyn(&[v.len()]), v.clone()).unwrap();
        let x = chunked(&sorted, &grid);
        let got: Vec<i64> = x.searchsorted(&probes, right).unwrap().compute().unwrap().into_iter().collect();
        let below = |p: f64, e: f64| -> bool {
            if p.is_nan() { !e.is_nan() || right } else if e.is_nan() { false } else if right { e <= p } else { e < p }
        };
        let want: Vec<i64> = probes.iter().map(|&p| v.iter().filter(|&&e| below(p, e)).count() as i64).collect();
        prop_assert_eq!(got, want);
    }
}

#[test]
fn searchsorted_needs_1d() {
    let x = DArray::<f64>::ones(&[3, 3], [2, 2]).unwrap();
    assert!(x.searchsorted(&[1.0], false).is_err());
}
