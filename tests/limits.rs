//! Inputs that used to take the process down: a store declaring a huge grid, a
//! result larger than memory, a graph of 10^8 blocks. Each is now an error, raised
//! before anything of that size is allocated or run.

use darray::array::chunks::{MAX_AXIS_BLOCKS, MAX_GRID_BLOCKS};
use darray::exec::Executor;
use darray::{DArray, Error, LocalExecutor};
use ndarray::s;
use std::path::Path;

/// A v3 array of `shape` in chunks of `chunks`, metadata only (no chunk written:
/// every chunk reads as the fill value 0).
fn declare_v3(dir: &Path, shape: &[u64], chunks: &[u64]) {
    std::fs::create_dir_all(dir).unwrap();
    let meta = serde_json::json!({
        "zarr_format": 3, "node_type": "array", "shape": shape, "data_type": "float64",
        "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": chunks}},
        "chunk_key_encoding": {"name": "default", "configuration": {"separator": "/"}},
        "fill_value": 0.0, "codecs": [{"name": "bytes", "configuration": {"endian": "little"}}],
        "attributes": {}
    });
    std::fs::write(dir.join("zarr.json"), meta.to_string()).unwrap();
}

#[test]
fn a_store_declaring_a_huge_grid_is_an_error_not_an_abort() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("huge.zarr");
    // 1.6e13 x 2e4 chunks: the old code allocated 125 TB for the grid and aborted.
    declare_v3(&path, &[1_000_000_000_000_000, 1_000_000], &[64, 50]);
    let e = DArray::<f64>::from_zarr(&path).unwrap_err();
    let Error::TooManyBlocks {
        array,
        shape,
        chunk_shape,
        blocks,
        ..
    } = &e
    else {
        panic!("expected TooManyBlocks, got {e:?}");
    };
    assert_eq!(array, &path.display().to_string());
    assert_eq!(shape, &[1_000_000_000_000_000, 1_000_000]);
    assert_eq!(chunk_shape, &[64, 50]);
    assert_eq!(blocks, &[15_625_000_000_000, 20_000]);
    let msg = e.to_string();
    assert!(
        msg.contains("huge.zarr") && msg.contains("16777216"),
        "{msg}"
    );

    // Per axis within the limit, 2^36 blocks in all: refused too.
    declare_v3(&path, &[1 << 24, 1 << 24], &[64, 64]);
    let e = DArray::<f64>::from_zarr(&path).unwrap_err();
    assert!(e.to_string().contains(&MAX_GRID_BLOCKS.to_string()), "{e}");

    // 128 TiB in 2^24 chunks of 8 MiB, at the per-axis limit: opened from
    // metadata, and a slice computes.
    declare_v3(&path, &[1 << 40, 16], &[1 << 16, 16]);
    let x = DArray::<f64>::from_zarr(&path).unwrap();
    assert_eq!(x.numblocks(), vec![1 << 24, 1]);
    let corner = x.slice(s![..3, ..4]).unwrap().compute().unwrap();
    assert_eq!(corner.shape(), &[3, 4]);
    assert!(corner.iter().all(|&v| v == 0.0));
    // The same store in larger blocks of the caller's choice.
    assert!(DArray::<f64>::from_zarr_with_chunks(&path, [1 << 20, 1 << 20]).is_ok());
    assert!(matches!(
        DArray::<f64>::from_zarr_with_chunks(&path, [64, 50]),
        Err(Error::TooManyBlocks { .. })
    ));
}

#[test]
fn grids_over_the_limits_are_refused_by_every_constructor() {
    let n = usize::try_from(MAX_AXIS_BLOCKS).unwrap() + 1;
    let over = |r: darray::Result<DArray<f64>>| match r {
        Err(Error::TooManyBlocks { array, .. }) => array,
        other => panic!("expected TooManyBlocks, got {other:?}"),
    };
    assert_eq!(over(DArray::zeros(&[1 << 40], [1])), "full");
    assert_eq!(
        over(DArray::zeros(
            &[1 << 40],
            "8 B".parse::<darray::ChunkSpec>().unwrap()
        )),
        "full"
    );
    assert_eq!(over(DArray::arange(0.0, 1e12, 1.0, [1])), "arange");
    assert_eq!(
        over(DArray::random_uniform(1, &[n], 0.0, 1.0, [1])),
        "uniform"
    );
    assert_eq!(
        over(DArray::eye(1 << 30, 1 << 30, 0, [1 << 10, 1 << 10])),
        "eye"
    );
    let x = DArray::<f64>::zeros(&[n], [n]).unwrap();
    assert!(matches!(x.rechunk([1]), Err(Error::TooManyBlocks { .. })));
    let dir = tempfile::tempdir().unwrap();
    let opts = darray::WriteOptions {
        chunk_shape: Some(vec![1]),
        ..Default::default()
    };
    let e = x.to_zarr(dir.path().join("x.zarr"), &opts).unwrap_err();
    assert!(matches!(e, Error::TooManyBlocks { .. }), "{e}");
    assert!(!dir.path().join("x.zarr").exists());
}

#[test]
fn a_result_larger_than_the_budget_is_refused_before_running() {
    // 200,000^2 f64 = 320 GB: the old code started its tasks and aborted.
    let x = DArray::<f64>::zeros(&[200_000, 200_000], darray::ChunkSpec::Auto).unwrap();
    let exec = LocalExecutor::with_threads(1)
        .unwrap()
        .memory_budget(1 << 30);
    let e = x.compute_with(&exec).unwrap_err();
    let Error::ResultTooLarge {
        bytes,
        needed,
        budget,
        ..
    } = e
    else {
        panic!("expected ResultTooLarge, got {e:?}");
    };
    assert_eq!(
        (bytes, needed, budget),
        (320_000_000_000, 640_000_000_000, 1 << 30)
    );
    assert_eq!(exec.last_stats().tasks, 0);
    let msg = x.compute().unwrap_err().to_string();
    assert!(
        msg.contains("320000000000") && msg.contains("to_zarr"),
        "{msg}"
    );
    assert!(matches!(x.persist(), Err(Error::ResultTooLarge { .. })));
    // A reduction of it is small, and fine.
    let small = x.slice(s![..1000, ..1000]).unwrap().sum().unwrap();
    assert_eq!(small.compute_with(&exec).unwrap().sum(), 0.0);

    // Near the budget: blocks and the assembled copy are counted, one block is not
    // (it is the result). 6000 f64 = 48,000 bytes.
    let exec = LocalExecutor::with_threads(1)
        .unwrap()
        .memory_budget(50_000);
    let two = DArray::<f64>::arange(0.0, 6000.0, 1.0, [3000]).unwrap();
    let e = two.compute_with(&exec).unwrap_err();
    assert!(
        matches!(e, Error::ResultTooLarge { needed: 96_000, .. }),
        "{e}"
    );
    let kept = two.persist_with(&exec).unwrap();
    assert_eq!(kept.compute().unwrap().sum(), 17_997_000.0);
    let one = DArray::<f64>::arange(0.0, 6000.0, 1.0, [6000]).unwrap();
    assert_eq!(one.compute_with(&exec).unwrap().sum(), 17_997_000.0);
}

#[test]
fn a_graph_of_too_many_blocks_fails_fast() {
    // 10^8 blocks of one element: the old code built tasks until memory ran out.
    let x = DArray::<f32>::zeros(&[10_000, 10_000], [1, 1]).unwrap();
    for e in [
        x.sum().unwrap().graph().unwrap_err(),
        x.graph().unwrap_err(),
        (&x + 1.0).sum_axis(0).unwrap().graph().unwrap_err(),
        x.sum().unwrap().compute().unwrap_err(),
    ] {
        let Error::TooManyTasks { tasks, limit, .. } = e else {
            panic!("expected TooManyTasks, got {e:?}");
        };
        assert!(tasks > limit, "{tasks} {limit}");
        assert_eq!(limit, 1 << 22);
    }
    let dir = tempfile::tempdir().unwrap();
    let e = x
        .to_zarr(dir.path().join("x.zarr"), &darray::WriteOptions::default())
        .unwrap_err();
    assert!(matches!(e, Error::TooManyTasks { .. }), "{e}");
    assert!(std::fs::read_dir(dir.path()).unwrap().next().is_none());
    // A slice of it lowers only the blocks it needs.
    let corner = x.slice(s![..10, ..10]).unwrap().sum().unwrap();
    assert_eq!(corner.compute_scalar().unwrap(), 0.0);
}
