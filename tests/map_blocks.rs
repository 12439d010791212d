//! User kernels with parameters and new shapes (`map_blocks_with`,
//! `register_kernel_with`, `apply_along_axis`), against whole-array loops over
//! random shapes and chunkings, on 1 and 2 threads.

mod common;

use common::*;
use darray::{
    map_blocks_with, register_kernel, register_kernel_with, register_lane_function, BlockInfo,
    ChunkSpec, DArray, Error, MapBlocksOptions,
};
use ndarray::{Array1, ArrayD, ArrayView1, ArrayViewD, Axis, Dimension, IxDyn};
use proptest::prelude::*;
use serde::{Deserialize, Serialize};
use std::sync::Once;

#[derive(Serialize, Deserialize)]
struct Affine {
    scale: f64,
    shift: f64,
}

/// `scale x + shift + (C-order flat index of the element in the whole array)`,
/// from the block's place: checks the parameters and every field of `BlockInfo`.
fn affine_indexed(x: &[ArrayViewD<f64>], p: &Affine, info: &BlockInfo) -> ArrayD<f64> {
    assert_eq!(info.shape.len(), x[0].ndim());
    assert_eq!(info.chunk_location.len(), info.num_chunks.len());
    let mut out = x[0].mapv(|v| p.scale * v + p.shift);
    for (ix, v) in out.indexed_iter_mut() {
        let mut flat = 0usize;
        for (d, &i) in ix.slice().iter().enumerate() {
            assert_eq!(
                info.array_location[d].len(),
                x[0].shape()[d],
                "location of the block"
            );
            flat = flat * info.shape[d] + info.array_location[d].start + i;
        }
        *v += flat as f64;
    }
    out
}

/// Sums of `pow`-th powers along axis 1 (dropped).
fn row_powers(x: &[ArrayViewD<f64>], pow: &i32, _: &BlockInfo) -> ArrayD<f64> {
    x[0].mapv(|v| v.powi(*pow)).sum_axis(Axis(1))
}

/// `[x, 2x, 3x]` along a new last axis (`reps` copies, scaled).
fn fan_out(x: &[ArrayViewD<f64>], reps: &usize, _: &BlockInfo) -> ArrayD<f64> {
    let mut shape = x[0].shape().to_vec();
    shape.push(*reps);
    ArrayD::from_shape_fn(IxDyn(&shape), |ix| {
        let n = ix.ndim();
        let src: Vec<usize> = ix.slice()[..n - 1].to_vec();
        x[0][IxDyn(&src)] * (ix[n - 1] + 1) as f64
    })
}

/// Cumulative maximum of a lane, then its sum appended.
fn max_and_sum(x: ArrayView1<f64>) -> Array1<f64> {
    let mut m = f64::NEG_INFINITY;
    let mut v: Vec<f64> = x
        .iter()
        .map(|&a| {
            m = m.max(a);
            m
        })
        .collect();
    v.push(x.sum());
    Array1::from_vec(v)
}

fn wrong_length(x: ArrayView1<f64>) -> Array1<f64> {
    Array1::from_elem(x.len() % 2, 0.0)
}

fn plain(x: &[ArrayViewD<f64>]) -> ArrayD<f64> {
    x[0].to_owned()
}

fn register() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        register_kernel_with::<f64, f64, Affine>("t-affine", affine_indexed).unwrap();
        register_kernel_with::<f64, f64, i32>("t-row-powers", row_powers).unwrap();
        register_kernel_with::<f64, f64, usize>("t-fan-out", fan_out).unwrap();
        register_lane_function::<f64, f64>("t-max-and-sum", max_and_sum).unwrap();
        register_lane_function::<f64, f64>("t-wrong-length", wrong_length).unwrap();
        register_kernel::<f64, f64>("t-plain", plain).unwrap();
    });
}

fn both_threads(x: &DArray<f64>) -> ArrayD<f64> {
    let [one, two] = [1, 2].map(|n| {
        x.compute_with(&darray::LocalExecutor::with_threads(n).unwrap())
            .unwrap()
    });
    assert_bits_eq(&one, &two);
    one
}

proptest! {
    #![proptest_config(config(32))]

    #[test]
    fn params_and_block_info((a, grid) in array_and_grid(3, 9, false), scale in -3.0f64..3.0, shift in -5.0f64..5.0) {
        register();
        let x = chunked(&a, &grid);
        let opts = MapBlocksOptions::default().params(&Affine { scale, shift }).unwrap();
        let y = x.map_blocks_with::<f64>("t-affine", &opts).unwrap();
        prop_assert_eq!(y.chunks(), x.chunks());
        let got = both_threads(&y);
        let mut want = a.mapv(|v| scale * v + shift);
        for (flat, v) in want.iter_mut().enumerate() {
            *v += flat as f64;
        }
        assert_bits_eq(&got, &want);
    }

    #[test]
    fn drop_axis_sees_whole_lanes((a, grid) in array_and_grid(3, 9, false).prop_filter("2-d or more", |(a, _)| a.ndim() >= 2), pow in 1i32..4) {
        register();
        let x = chunked(&a, &grid);
        let opts = MapBlocksOptions::default().drop_axis([1]).params(&pow).unwrap();
        let y = x.map_blocks_with::<f64>("t-row-powers", &opts).unwrap();
        let mut want_chunks = x.chunks().clone();
        want_chunks.remove(1);
        prop_assert_eq!(y.chunks(), &want_chunks);
        let got = both_threads(&y);
        let want = a.mapv(|v| v.powi(pow)).sum_axis(Axis(1));
        assert_close(&got, &want, 1e-12);
    }

    #[test]
    fn new_axis_with_its_chunks((a, grid) in array_and_grid(2, 9, false), reps in 1usize..4) {
        register();
        let x = chunked(&a, &grid);
        let nd = a.ndim();
        let mut out: Vec<Vec<usize>> = grid.clone();
        out.push(vec![reps]);
        let opts = MapBlocksOptions::default()
            .new_axis([nd])
            .chunks(ChunkSpec::from(out))
            .params(&reps)
            .unwrap();
        let y = map_blocks_with::<f64>("t-fan-out", &[&x], &opts).unwrap();
        let mut shape = a.shape().to_vec();
        shape.push(reps);
        prop_assert_eq!(y.shape(), shape.as_slice());
        let got = both_threads(&y);
        let want = ArrayD::from_shape_fn(IxDyn(&shape), |ix| {
            a[IxDyn(&ix.slice()[..nd])] * (ix[nd] + 1) as f64
        });
        assert_bits_eq(&got, &want);
    }

    #[test]
    fn apply_along_axis_matches_lanes(((a, grid), axis) in array_and_grid(3, 8, false).prop_flat_map(|(a, g)| {
        let nd = a.ndim();
        (Just((a, g)), 0..nd)
    })) {
        register();
        let x = chunked(&a, &grid);
        let n = a.shape()[axis];
        let y = x.apply_along_axis::<f64>("t-max-and-sum", axis as isize, n + 1).unwrap();
        for (d, c) in y.chunks().iter().enumerate() {
            if d != axis {
                prop_assert_eq!(c, &grid[d]);
            }
        }
        let got = both_threads(&y);
        let mut shape = a.shape().to_vec();
        shape[axis] = n + 1;
        let mut want = ArrayD::<f64>::zeros(IxDyn(&shape));
        for (lane, mut dst) in a.lanes(Axis(axis)).into_iter().zip(want.lanes_mut(Axis(axis))) {
            dst.assign(&max_and_sum(lane.as_standard_layout().view()));
        }
        assert_bits_eq(&got, &want);
    }
}

#[test]
fn bad_calls_are_errors() {
    register();
    let x = DArray::<f64>::ones(&[4, 6], [2, 3]).unwrap();
    // Parameters for a plain kernel, none for a parameterised one.
    let with = MapBlocksOptions::default().params(&1i32).unwrap();
    assert!(matches!(
        x.map_blocks_with::<f64>("t-plain", &with),
        Err(Error::InvalidArgument { .. })
    ));
    assert!(matches!(
        x.map_blocks_with::<f64>("t-row-powers", &MapBlocksOptions::default()),
        Err(Error::InvalidArgument { .. })
    ));
    assert!(matches!(
        x.map_blocks_with::<f64>("t-nobody", &with),
        Err(Error::UnknownKernel(_))
    ));
    for opts in [
        with.clone().drop_axis([2]),
        with.clone().drop_axis([1, 1]),
        with.clone().new_axis([3]),
        with.clone().new_axis([0, 0]),
    ] {
        assert!(
            matches!(
                x.map_blocks_with::<f64>("t-row-powers", &opts),
                Err(Error::InvalidArgument { .. })
            ),
            "{opts:?}"
        );
    }
    // Output chunks with another number of blocks.
    let opts = with.chunks(ChunkSpec::from(vec![vec![4], vec![6]]));
    assert!(matches!(
        x.map_blocks_with::<f64>("t-row-powers", &opts),
        Err(Error::InvalidChunks { .. })
    ));
    // Parameters of the wrong type fail the computation, naming the kernel.
    let wrong = MapBlocksOptions::default().params(&7u8).unwrap();
    let y = x.map_blocks_with::<f64>("t-affine", &wrong).unwrap();
    let e = format!("{:?}", y.compute().unwrap_err());
    assert!(
        e.contains("UserKernel") && e.contains("t-affine") && e.contains("deserialize"),
        "{e}"
    );
    // A lane function returning another length than promised.
    let y = x.apply_along_axis::<f64>("t-wrong-length", 1, 6).unwrap();
    let e = format!("{:?}", y.compute().unwrap_err());
    assert!(e.contains("UserKernel") && e.contains("elements"), "{e}");
    assert!(matches!(
        x.apply_along_axis::<f64>("t-max-and-sum", 2, 3),
        Err(Error::AxisOutOfRange { .. }) | Err(Error::InvalidArgument { .. })
    ));
}

proptest! {
    #![proptest_config(config(24))]

    /// A closure capturing a parameter, with its block's location, against a
    /// whole-array loop; same bits on 1 and 2 threads.
    #[test]
    fn local_closures_match_the_oracle((a, g) in array_and_grid(3, 7, true), k in -3.0f64..3.0) {
        let x = chunked(&a, &g);
        let y = darray::map_blocks_local::<f64, f64>(&[&x, &x], &MapBlocksOptions::default(), move |b, info| {
            let first = info.array_location.first().map_or(0, |r| r.start) as f64;
            (&b[0] * k + &b[1]) + first
        })
        .unwrap();
        let offs: Vec<usize> = {
            let mut o = vec![0];
            if let Some(g0) = g.first() {
                for s in g0 {
                    o.push(o.last().unwrap() + s);
                }
            }
            o
        };
        // The row offset of each element's block along axis 0.
        let want = ArrayD::from_shape_fn(a.raw_dim(), |ix| {
            let i = if ix.ndim() == 0 { 0 } else { ix[0] };
            let start = offs.iter().rev().find(|&&o| o <= i).copied().unwrap_or(0);
            let start = if ix.ndim() == 0 { 0 } else { start };
            a[&ix] * k + a[&ix] + start as f64
        });
        let one = y.compute_with(&darray::LocalExecutor::with_threads(1).unwrap()).unwrap();
        let two = y.compute_with(&darray::LocalExecutor::with_threads(2).unwrap()).unwrap();
        assert_bits_eq(&one, &two);
        prop_assert!(one.iter().zip(want.iter()).all(|(p, q)| p == q || (p.is_nan() && q.is_nan())));
        let single = x.map_blocks_local::<f64>(move |b, _| b.mapv(|v| v * k)).unwrap();
        prop_assert_eq!(single.chunks(), x.chunks());
        let got = single.compute().unwrap();
        prop_assert!(got.iter().zip(a.iter()).all(|(p, q)| *p == q * k || (p.is_nan() && q.is_nan())));
    }
}

#[test]
fn local_closures_are_refused_by_a_cluster_before_anything_runs() {
    let x = DArray::<f64>::ones(&[6, 4], [3, 2]).unwrap();
    let y = x
        .map_blocks_local::<f64>(|b, _| b.mapv(|v| v + 1.0))
        .unwrap();
    let z = y.sum().unwrap();
    let bad = darray::map_blocks_local::<f64, f64>(
        &[&x],
        &MapBlocksOptions::default().params(&1.0).unwrap(),
        |b, _| b[0].to_owned(),
    );
    assert!(matches!(bad, Err(Error::InvalidArgument { .. })));
    let cluster = darray_cluster(1, 1);
    let client = cluster.client().unwrap();
    match z.compute_with(&client) {
        Err(Error::LocalOnlyKernel(name)) => assert!(name.starts_with("local-closure-")),
        other => panic!("expected LocalOnlyKernel, got {other:?}"),
    }
    // The same graph runs locally, and the cluster still serves named kernels.
    assert_eq!(z.compute_scalar().unwrap(), 48.0);
    assert_eq!(x.sum().unwrap().compute_with(&client).unwrap().sum(), 24.0);
}
