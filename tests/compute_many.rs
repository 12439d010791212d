//! `darray::compute` and `darray::persist` of several arrays: one graph, shared
//! inputs read once, each result equal to its own `compute`, bit for bit.

mod common;

use common::*;
use darray::{DArray, Error, Executor, LocalExecutor, WriteOptions};
use ndarray::{ArrayD, Axis};
use proptest::prelude::*;

proptest! {
    #![proptest_config(config(32))]

    /// Three results of different kinds and dtypes from one input, computed
    /// together, equal the oracle and the arrays computed one by one.
    #[test]
    fn together_equals_apart((a, grid) in array_and_grid(3, 9, true)) {
        let x = chunked(&a, &grid);
        let doubled = &x * 2.0;
        let sums = x.nansum_axis(0).unwrap();
        let nan = x.isnan();
        for exec in executors() {
            let (d, s, n) = darray::compute_with(&(&doubled, &sums, &nan), &exec).unwrap();
            assert_bits_eq(&d, &doubled.compute_with(&exec).unwrap());
            assert_bits_eq(&s, &sums.compute_with(&exec).unwrap());
            assert_eq!(n, a.mapv(f64::is_nan));
            assert_close(&d, &a.mapv(|v| v * 2.0), 0.0);
            let want = a.map_axis(Axis(0), |l| l.iter().filter(|v| !v.is_nan()).sum::<f64>());
            assert_close(&s, &want, 1e-12);
        }
    }

    /// A slice of arrays of one dtype gives a `Vec`, in order; `persist` of it
    /// gives arrays whose compute equals the original's.
    #[test]
    fn slices_and_persist((a, grid) in array_and_grid(2, 8, false), k in 1usize..4) {
        let x = chunked(&a, &grid);
        let parts: Vec<DArray<f64>> = (0..k).map(|i| &x + i as f64).collect();
        let got = darray::compute(&parts).unwrap();
        prop_assert_eq!(got.len(), k);
        for (i, g) in got.iter().enumerate() {
            assert_close(g, &a.mapv(|v| v + i as f64), 0.0);
        }
        let kept = darray::persist(&parts).unwrap();
        for (p, g) in kept.iter().zip(&got) {
            prop_assert_eq!(p.chunks(), x.chunks());
            assert_bits_eq(&p.compute().unwrap(), g);
        }
    }
}

/// Shared inputs are read once: two reductions of one Zarr array computed
/// together read each stored chunk once, where computing them apart reads
/// every chunk twice.
#[test]
fn shared_store_read_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.zarr");
    let a = ArrayD::from_shape_fn(vec![40, 30], |ix| (ix[0] * 30 + ix[1]) as f64);
    DArray::from_ndarray(&a, [10, 10])
        .unwrap()
        .to_zarr(&path, &WriteOptions::default())
        .unwrap();
    let x = DArray::<f64>::from_zarr(&path).unwrap();
    let total = x.sum().unwrap();
    let cols = x.max_axis(0).unwrap();
    let exec = LocalExecutor::with_threads(2).unwrap();

    let (t, c) = darray::compute_with(&(&total, &cols), &exec).unwrap();
    let together = exec.last_stats();
    assert_eq!(together.chunks_read, 12, "{together:?}");
    assert_eq!(t.sum(), a.sum());
    assert_eq!(c, a.fold_axis(Axis(0), f64::MIN, |m, v| m.max(*v)));

    total.compute_with(&exec).unwrap();
    let one = exec.last_stats().chunks_read;
    cols.compute_with(&exec).unwrap();
    let other = exec.last_stats().chunks_read;
    assert_eq!(one + other, 24);
}

/// Results that do not fit the budget together are refused before anything
/// runs, naming the largest, even when each would fit alone.
#[test]
fn together_over_budget_is_refused() {
    let x = DArray::<f64>::ones(&[100, 100], [50, 50]).unwrap();
    let y = &x + 1.0;
    // 80 kB each, 160 kB assembled each (blocks and the whole array).
    let exec = LocalExecutor::with_threads(1)
        .unwrap()
        .memory_budget(200_000);
    assert!(y.compute_with(&exec).is_ok());
    let before = exec.last_stats();
    match darray::compute_with(&(&x, &y), &exec) {
        Err(Error::ResultTooLarge { needed, budget, .. }) => {
            assert_eq!(needed, 320_000);
            assert_eq!(budget, 200_000);
        }
        other => panic!("expected ResultTooLarge, got {other:?}"),
    }
    assert_eq!(exec.last_stats(), before, "the refused run ran nothing");
}
