//! Rechunk under a per-task memory bound: the staged plan's values equal the
//! input, every task of every stage projects at most the bound, a bound no plan
//! fits is an error, a plan over the executor's budget is refused before running,
//! and a rechunk + `to_zarr` of a store larger than the budget completes.

mod common;

use common::{array_f64, assert_bits_eq, config, grid, shape};
use darray::{DArray, Error, Executor, LocalExecutor, RechunkOptions, RechunkPlan, WriteOptions};
use ndarray::{Array2, ArrayD};
use proptest::prelude::*;

/// The largest projected task bytes of `x`'s graph.
fn max_task_bytes<T: darray::Element>(x: &DArray<T>) -> u64 {
    x.graph().unwrap().max_task_mem().map_or(0, |(_, b)| b)
}

/// A shape (up to 3-d), its array, a source and a target grid, and a bound
/// factor in [0, 1] that places the bound between the minimum and 3 times it.
type Case = (ArrayD<f64>, Vec<Vec<usize>>, Vec<Vec<usize>>, f64);

fn case() -> impl Strategy<Value = Case> {
    shape(3, 12).prop_flat_map(|s| {
        (
            array_f64(s.clone(), true),
            grid(s.clone()),
            grid(s),
            0.0..=1.0f64,
        )
    })
}

proptest! {
    #![proptest_config(config(40))]

    #[test]
    fn staged_rechunk_equals_the_input_within_the_bound((a, src, dst, f) in case()) {
        let x = DArray::from_ndarray(&a, src.clone()).unwrap();
        let min = RechunkPlan::min_task_bytes(8, &src, &dst);
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_precision_loss)]
        let bound = min + (f * 2.0 * min as f64) as u64;
        let opts = RechunkOptions::new().max_task_bytes(bound);
        let plan = x.rechunk_plan(dst.clone(), &opts).unwrap();
        prop_assert!(plan.task_bytes <= bound, "{plan:?}");
        prop_assert_eq!(plan.stages.len(), plan.stage_task_bytes.len());
        if src != dst {
            prop_assert_eq!(plan.stages.last(), Some(&dst));
        }
        let y = x.rechunk_with(dst.clone(), &opts).unwrap();
        prop_assert_eq!(y.chunks(), &dst);
        // Every task the plan's graph states fits the bound (the source blocks
        // are below it: the minimum holds one).
        if src != dst {
            prop_assert!(max_task_bytes(&y) <= bound, "{} > {bound}: {plan:?}", max_task_bytes(&y));
        }
        let one = y.compute_with(&LocalExecutor::with_threads(1).unwrap()).unwrap();
        let two = y.compute_with(&LocalExecutor::with_threads(2).unwrap()).unwrap();
        assert_bits_eq(&one, &a);
        assert_bits_eq(&two, &a);
        // Below the minimum there is no plan, unless nothing needs doing.
        if min > 0 && src != dst {
            let low = RechunkOptions::new().max_task_bytes(min - 1);
            prop_assert!(x.rechunk_with(dst, &low).is_err());
        }
    }
}

/// 256 x 256 f64 (512 KiB) in 8-row chunks, to 8-column chunks.
fn rows() -> (Array2<f64>, DArray<f64>) {
    #[allow(clippy::cast_precision_loss)]
    let a = Array2::from_shape_fn((256, 256), |(i, j)| (i * 256 + j) as f64 * 0.5);
    let x = DArray::from_ndarray(&a, [8, 256]).unwrap();
    (a, x)
}

#[test]
fn rows_to_columns_stage_where_the_direct_rechunk_exceeds_the_bound() {
    let (a, x) = rows();
    let bound = 64 << 10;
    // Direct: a 256 x 8 column block over all 32 row blocks, the whole array.
    let direct = x.rechunk_with([256, 8], &RechunkOptions::new().max_task_bytes(u64::MAX));
    let direct = direct.unwrap();
    assert!(max_task_bytes(&direct) > 512 << 10);
    let opts = RechunkOptions::new().max_task_bytes(bound);
    let plan = x.rechunk_plan([256, 8], &opts).unwrap();
    assert!(plan.stages.len() >= 2, "{plan:?}");
    assert!(plan.task_bytes <= bound);
    let y = x.rechunk_with([256, 8], &opts).unwrap();
    assert_eq!(y.chunks(), &vec![vec![256], vec![8; 32]]);
    assert!(max_task_bytes(&y) <= bound);
    // Tasks stated per stage match the plan's count (at most).
    assert!(y.num_tasks().unwrap() as u64 <= plan.tasks + 32);
    for threads in [1, 2] {
        // The gathered result is the whole array, so the budget here is the
        // default; the tasks' bound is checked on the graph above.
        let exec = LocalExecutor::with_threads(threads).unwrap();
        let got = y.compute_with(&exec).unwrap();
        assert_eq!(got, a.clone().into_dyn());
    }
}

#[test]
fn a_bound_below_twice_an_output_block_is_an_error_naming_the_minimum() {
    let (_, x) = rows();
    let opts = RechunkOptions::new().max_task_bytes(16 << 10);
    let e = x.rechunk_with([256, 8], &opts).unwrap_err();
    let Error::InvalidArgument { reason, .. } = &e else {
        panic!("expected InvalidArgument, got {e:?}");
    };
    // Twice a 256 x 8 f64 block is 32 KiB.
    assert!(reason.contains("32768"), "{reason}");
    assert!(reason.contains("16384"), "{reason}");
}

#[test]
fn a_plan_over_the_executor_budget_is_refused_before_running() {
    let (_, x) = rows();
    let y = x
        .rechunk_with([256, 8], &RechunkOptions::new().max_task_bytes(64 << 10))
        .unwrap();
    let exec = LocalExecutor::with_threads(2)
        .unwrap()
        .memory_budget(24 << 10);
    let e = exec.execute(&y.graph().unwrap()).unwrap_err();
    assert!(matches!(e, Error::OverBudget { .. }), "{e:?}");
    assert_eq!(exec.last_stats().tasks, 0);
}

#[test]
fn the_default_rechunk_keeps_small_arrays_direct_and_stages_large_ones() {
    let (_, x) = rows();
    let p = x.rechunk_plan([256, 8], &RechunkOptions::new()).unwrap();
    assert_eq!(p.stages.len(), 1, "a 512 KiB array stays direct: {p:?}");
    // 16384 x 8192 f64 (1 GiB) from 2048-row to 256-column chunks: direct needs
    // the whole array per task, over 4 x 128 MiB.
    let big = DArray::<f64>::zeros(&[16384, 8192], [2048, 8192]).unwrap();
    let p = big
        .rechunk_plan([16384, 256], &RechunkOptions::new())
        .unwrap();
    assert!(p.stages.len() >= 2, "{p:?}");
    assert!(p.task_bytes <= 4 * (128 << 20), "{p:?}");
    assert_eq!(p.max_task_bytes, 4 * (128 << 20));
}

#[test]
fn rechunk_and_to_zarr_of_a_store_larger_than_the_budget() {
    let dir = tempfile::tempdir().unwrap();
    let (src, dst) = (dir.path().join("rows.zarr"), dir.path().join("cols.zarr"));
    // 512 x 512 f64 = 2 MiB in 64 x 64 chunks; to 512 x 16 columns.
    #[allow(clippy::cast_precision_loss)]
    let a = Array2::from_shape_fn((512, 512), |(i, j)| {
        ((i * 7919 + j * 31) % 1000) as f64 / 8.0
    });
    DArray::from_ndarray(&a, [64, 64])
        .unwrap()
        .to_zarr(&src, &WriteOptions::default())
        .unwrap();
    let budget: u64 = 512 << 10;
    let bound = budget / 4;
    let mut bits = Vec::new();
    for threads in [1, 2] {
        let x = DArray::<f64>::from_zarr(&src).unwrap();
        let y = x
            .rechunk_with([512, 16], &RechunkOptions::new().max_task_bytes(bound))
            .unwrap();
        // The direct rechunk holds 8 input chunks per task: over the bound.
        assert!(
            x.rechunk_plan([512, 16], &RechunkOptions::new().max_task_bytes(u64::MAX))
                .unwrap()
                .task_bytes
                > bound
        );
        let exec = LocalExecutor::with_threads(threads)
            .unwrap()
            .memory_budget(budget);
        let opts = WriteOptions {
            overwrite: true,
            ..WriteOptions::default()
        };
        y.to_zarr_with(&dst, &opts, &exec).unwrap();
        let stats = exec.last_stats();
        // Results held at once: a 64-column slab, never the whole array.
        assert!(stats.peak_bytes < 2 << 20, "{stats:?}");
        let back = DArray::<f64>::from_zarr(&dst).unwrap();
        assert_eq!(back.chunks(), &vec![vec![512], vec![16; 32]]);
        let got = back.compute().unwrap();
        assert_eq!(got, a.clone().into_dyn());
        bits.push(got);
    }
    assert_bits_eq(&bits[0], &bits[1]);
}
