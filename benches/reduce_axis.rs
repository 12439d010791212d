//! Axis reductions over a float64 Zarr store (zstd level 1): `sum(axis=0)` and
//! `std(axis=1)` (the latter merges (count, mean, M2) partials). Throughput
//! counts the decoded bytes of the store.
//!
//! `cargo bench --bench reduce_axis` (`./dev.sh bench reduce_axis`).

mod common;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use darray::DArray;
use std::hint::black_box;

fn bench(c: &mut Criterion) {
    let path = common::input_store();
    let x = DArray::<f64>::from_zarr(&path).expect("open the bench store");
    let size = common::size_label(x.nbytes());
    let mut g = c.benchmark_group("reduce_axis");
    common::configure(&mut g);
    g.throughput(Throughput::Bytes(x.nbytes()));
    g.bench_function(BenchmarkId::new("sum_axis0", &size), |b| {
        b.iter(|| {
            let s = x.sum_axis(0).expect("sum_axis").compute().expect("compute");
            assert_eq!(s.len(), x.shape()[1]);
            black_box(s)
        });
    });
    g.bench_function(BenchmarkId::new("std_axis1", &size), |b| {
        b.iter(|| {
            let s = x
                .std_axis(1, 0.0)
                .expect("std_axis")
                .compute()
                .expect("compute");
            assert_eq!(s.len(), x.shape()[0]);
            black_box(s)
        });
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
