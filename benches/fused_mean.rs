//! `(sin(x)^2 + cos(x)^2).mean()` over a float64 Zarr store (zstd level 1): one
//! fused read + elementwise + partial-reduce task per chunk, then a tree merge.
//! Throughput counts the decoded bytes of the store.
//!
//! `cargo bench --bench fused_mean` (`./dev.sh bench fused_mean`).

mod common;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use darray::DArray;
use std::hint::black_box;

fn bench(c: &mut Criterion) {
    let path = common::input_store();
    let x = DArray::<f64>::from_zarr(&path).expect("open the bench store");
    let size = common::size_label(x.nbytes());
    let mut g = c.benchmark_group("fused_mean");
    common::configure(&mut g);
    g.throughput(Throughput::Bytes(x.nbytes()));
    g.bench_function(BenchmarkId::new("sin2_plus_cos2_mean", &size), |b| {
        b.iter(|| {
            let y = (x.sin().powi(2) + &x.cos().powi(2)).expect("same shapes");
            let m = y.mean().expect("mean").compute_scalar().expect("compute");
            assert!((m - 1.0).abs() < 1e-9, "mean(sin^2 + cos^2) = {m}");
            black_box(m)
        });
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
