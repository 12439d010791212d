//! A stencil written by hand with shifted slices of one array, as a NumPy user
//! writes it: `x[1.., ..] + x[..-1, ..]` and the 5-point Laplacian over an
//! 8192 x 8192 float64 array in 1024 x 1024 chunks (random, generated per
//! chunk), summed so the result stays small. The operands' grids differ by one
//! or two elements; this measures how their unification is planned.
//!
//! `cargo bench --bench stencil` (`./dev.sh bench stencil`).

// ndarray's s![1..-1] counts -1 from the end; clippy reads it as an empty range.
#![allow(clippy::reversed_empty_ranges)]

mod common;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use darray::DArray;
use ndarray::s;
use std::hint::black_box;

fn shift2(x: &DArray<f64>) -> DArray<f64> {
    (&x.slice(s![1.., ..]).expect("slice") + &x.slice(s![..-1, ..]).expect("slice"))
        .expect("same shapes")
}

fn laplace5(x: &DArray<f64>) -> DArray<f64> {
    let at = |r: ndarray::SliceInfo<[ndarray::SliceInfoElem; 2], ndarray::Ix2, ndarray::Ix2>| {
        x.slice(r).expect("slice")
    };
    let n = at(s![..-2, 1..-1]);
    let so = at(s![2.., 1..-1]);
    let w = at(s![1..-1, ..-2]);
    let e = at(s![1..-1, 2..]);
    let c = at(s![1..-1, 1..-1]);
    let sum = (((&n + &so).expect("shapes") + &w).expect("shapes") + &e).expect("shapes");
    (sum - c * 4.0).expect("shapes")
}

fn bench(c: &mut Criterion) {
    let (n, chunk) = if common::test_mode() {
        (256, 32)
    } else {
        (8192, 1024)
    };
    let x = DArray::<f64>::random_uniform(7, &[n, n], 0.0, 1.0, [chunk, chunk]).expect("random");
    let size = format!("{n}x{n}-c{chunk}");
    let mut g = c.benchmark_group("stencil");
    common::configure(&mut g);
    g.throughput(Throughput::Bytes(x.nbytes()));
    for (name, f) in [
        // The floor: generating the random blocks and summing them.
        ("none", DArray::clone as fn(&DArray<f64>) -> DArray<f64>),
        ("shift2", shift2),
        ("laplace5", laplace5),
    ] {
        let y = f(&x);
        eprintln!(
            "stencil/{name}/{size}: {:?} output blocks, {} tasks",
            y.numblocks(),
            y.sum().expect("sum").num_tasks().expect("graph")
        );
        g.bench_function(BenchmarkId::new(name, &size), |b| {
            b.iter(|| black_box(f(&x).sum().expect("sum").compute_scalar().expect("compute")));
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
