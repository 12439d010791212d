//! `to_zarr` copy of a float64 Zarr store (zstd level 1) into a new store with
//! the same chunks and codec: every chunk is read, decoded, re-encoded and written
//! by its own task, and the staging directory is renamed into place at the end.
//! Throughput counts the decoded bytes of the store.
//!
//! `cargo bench --bench zarr_copy` (`./dev.sh bench zarr_copy`).

mod common;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use darray::{Compression, DArray, WriteOptions};

fn bench(c: &mut Criterion) {
    let path = common::input_store();
    let out = common::data_dir().join("criterion-copy-out.zarr");
    let x = DArray::<f64>::from_zarr(&path).expect("open the bench store");
    let opts = WriteOptions {
        compression: Compression::Zstd { level: 1 },
        overwrite: true,
        ..WriteOptions::default()
    };
    let size = common::size_label(x.nbytes());
    let mut g = c.benchmark_group("zarr_copy");
    common::configure(&mut g);
    g.throughput(Throughput::Bytes(x.nbytes()));
    g.bench_function(BenchmarkId::new("to_zarr", &size), |b| {
        b.iter(|| x.to_zarr(&out, &opts).expect("to_zarr"));
    });
    g.finish();
    let _ = std::fs::remove_dir_all(&out);
}

criterion_group!(benches, bench);
criterion_main!(benches);
