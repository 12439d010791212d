//! Shared set-up of the criterion benches: the input Zarr store, created once.
//!
//! `cargo bench` passes `--bench` to every bench binary; `cargo test --benches`
//! (and `--all-targets`) does not, and criterion then runs each benchmark once
//! as a test. In that test mode the benches use a tiny store, so the test suite
//! stays fast; under `cargo bench` they use a 256 MiB store of float64 normal
//! values (8192 x 4096 in 2048 x 2048 chunks of 32 MiB, zstd level 1).

#![allow(dead_code)] // each bench binary uses part of this module

use darray::{Compression, DArray, WriteOptions};
use std::path::PathBuf;
use std::time::Duration;

/// True when criterion will run each benchmark once as a test.
pub fn test_mode() -> bool {
    let args: Vec<String> = std::env::args().collect();
    args.iter().any(|a| a == "--test") || !args.iter().any(|a| a == "--bench")
}

/// `target/bench-data` of the workspace (or `$DARRAY_BENCH_DATA`).
pub fn data_dir() -> PathBuf {
    std::env::var_os("DARRAY_BENCH_DATA").map_or_else(
        || {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("target")
                .join("bench-data")
        },
        PathBuf::from,
    )
}

/// Shape and chunk shape of the bench store (tiny in test mode).
pub fn store_layout() -> ([usize; 2], [usize; 2]) {
    if test_mode() {
        ([512, 256], [128, 128])
    } else {
        ([8192, 4096], [2048, 2048])
    }
}

/// Human-readable size of the store for bench ids, e.g. `256MiB`.
pub fn size_label(bytes: u64) -> String {
    if bytes >= 1 << 20 {
        format!("{}MiB", bytes >> 20)
    } else {
        format!("{}KiB", bytes >> 10)
    }
}

/// The input store, created once with `random_normal(...).to_zarr(...)`.
pub fn input_store() -> PathBuf {
    let (shape, chunks) = store_layout();
    let dir = data_dir();
    let path = dir.join(format!(
        "criterion-{}x{}-c{}x{}.zarr",
        shape[0], shape[1], chunks[0], chunks[1]
    ));
    if !path.join("zarr.json").exists() {
        std::fs::create_dir_all(&dir).expect("create target/bench-data");
        let t = std::time::Instant::now();
        let x = DArray::<f64>::random_normal(42, &shape, 0.0, 1.0, chunks).expect("random_normal");
        let opts = WriteOptions {
            compression: Compression::Zstd { level: 1 },
            overwrite: true,
            ..WriteOptions::default()
        };
        x.to_zarr(&path, &opts).expect("write the bench store");
        eprintln!("created {} in {:.2?}", path.display(), t.elapsed());
    }
    path
}

/// Short measurement settings: a full `cargo bench` takes minutes. Flat sampling
/// (every sample the same iteration count) keeps a slow workload at about 10
/// iterations instead of linear sampling's 55.
pub fn configure<M: criterion::measurement::Measurement>(g: &mut criterion::BenchmarkGroup<'_, M>) {
    g.sampling_mode(criterion::SamplingMode::Flat);
    g.sample_size(10);
    g.warm_up_time(Duration::from_secs(1));
    g.measurement_time(Duration::from_secs(5));
}
