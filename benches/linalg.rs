//! Linear-algebra workloads on an in-memory (persisted) tall-skinny matrix:
//! `A.T @ A`, TSQR (R only, and Q with R), SVD (S only, and U), randomized SVD.
//! Sizes from `DARRAY_BENCH_ROWS` (default 1,000,000 x 32 float64 in 8,192-row
//! chunks) and `DARRAY_BENCH_SKETCH` (default 4096: a 2n x n matrix in
//! 1024 x 1024 chunks for svd_compressed, k = 10, 2 power iterations).
//!
//! `OPENBLAS_NUM_THREADS=1 cargo bench --bench linalg`

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use darray::linalg::{self, QrMethod};
use darray::DArray;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn tall_skinny(c: &mut Criterion) {
    let (m, n) = (env("DARRAY_BENCH_ROWS", 1_000_000), 32);
    let a = DArray::<f64>::random_normal(1, &[m, n], 0.0, 1.0, [8192, n])
        .unwrap()
        .persist()
        .unwrap();
    let mut g = c.benchmark_group("tall_skinny");
    g.sample_size(10);
    g.throughput(Throughput::Bytes(a.nbytes()));
    let id = |name: &str| BenchmarkId::new(name, format!("{m}x{n}"));
    g.bench_function(id("ata"), |b| {
        b.iter(|| {
            linalg::tensordot(&a, &a, &[0], &[0])
                .unwrap()
                .compute()
                .unwrap()
        })
    });
    g.bench_function(id("tsqr_r"), |b| {
        b.iter(|| linalg::tsqr(&a).unwrap().1.compute().unwrap())
    });
    g.bench_function(id("tsqr_q"), |b| {
        b.iter(|| linalg::tsqr(&a).unwrap().0.persist().unwrap())
    });
    g.bench_function(id("cholqr2_q"), |b| {
        b.iter(|| {
            linalg::tsqr_with(&a, QrMethod::CholeskyQr2)
                .unwrap()
                .0
                .persist()
                .unwrap()
        })
    });
    g.bench_function(id("auto_q"), |b| {
        b.iter(|| {
            linalg::tsqr_with(&a, QrMethod::Auto)
                .unwrap()
                .0
                .persist()
                .unwrap()
        });
    });
    g.bench_function(id("svd_s"), |b| {
        b.iter(|| linalg::svd(&a).unwrap().1.compute().unwrap())
    });
    g.bench_function(id("svd_u"), |b| {
        b.iter(|| linalg::svd(&a).unwrap().0.persist().unwrap())
    });
    g.finish();
}

fn sketch(c: &mut Criterion) {
    let n = env("DARRAY_BENCH_SKETCH", 4096);
    let a = DArray::<f64>::random_normal(2, &[2 * n, n], 0.0, 1.0, [1024, 1024])
        .unwrap()
        .persist()
        .unwrap();
    let mut g = c.benchmark_group("svd_compressed");
    g.sample_size(10);
    g.throughput(Throughput::Bytes(a.nbytes()));
    g.bench_function(BenchmarkId::new("k10_q2", format!("{}x{n}", 2 * n)), |b| {
        b.iter(|| {
            linalg::svd_compressed(&a, 10, 2, 10, 0)
                .unwrap()
                .1
                .compute()
                .unwrap()
        });
    });
    g.finish();
}

criterion_group!(benches, tall_skinny, sketch);
criterion_main!(benches);
