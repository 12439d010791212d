//! Elementwise program evaluation on a 2048x2048 f64 chunk: a transcendental-heavy
//! program (`sin(x)^2 + cos(x)^2`) against a naive per-element loop over std, and
//! a memory-bound one (`x * 2 + 1`) against ndarray's whole-array arithmetic.
//! Throughput counts the input bytes.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use darray_kernels::elementwise::{eval, BinaryOp, ElementwiseProgram, Node, UnaryOp};
use darray_kernels::{Chunk, DType, Scalar};
use ndarray::{ArrayD, IxDyn};
use std::hint::black_box;

const N: usize = 2048;

fn sin2_cos2() -> ElementwiseProgram {
    let mut p = ElementwiseProgram {
        inputs: vec![DType::F64],
        instrs: Vec::new(),
    };
    let x = p.push(Node::Input(0), DType::F64);
    let s = p.push(Node::Unary(UnaryOp::Sin, x), DType::F64);
    let s2 = p.push(Node::Unary(UnaryOp::Powi(2), s), DType::F64);
    let c = p.push(Node::Unary(UnaryOp::Cos, x), DType::F64);
    let c2 = p.push(Node::Unary(UnaryOp::Powi(2), c), DType::F64);
    p.push(Node::Binary(BinaryOp::Add, s2, c2), DType::F64);
    p
}

fn times_two_plus_one() -> ElementwiseProgram {
    let mut p = ElementwiseProgram {
        inputs: vec![DType::F64],
        instrs: Vec::new(),
    };
    let x = p.push(Node::Input(0), DType::F64);
    let two = p.push(Node::Scalar(Scalar::Float(2.0)), DType::F64);
    let one = p.push(Node::Scalar(Scalar::Float(1.0)), DType::F64);
    let m = p.push(Node::Binary(BinaryOp::Mul, x, two), DType::F64);
    p.push(Node::Binary(BinaryOp::Add, m, one), DType::F64);
    p
}

fn bench(c: &mut Criterion) {
    // Arguments spread over [-1000, 1000): all take the fast sin/cos path.
    #[allow(clippy::cast_precision_loss)]
    let x = ArrayD::from_shape_fn(IxDyn(&[N, N]), |i| {
        ((i[0] * N + i[1]) as f64).mul_add(2000.0 / (N * N) as f64, -1000.0)
    });
    let chunk = Chunk::F64(x.clone());
    let size = format!("{N}x{N}");
    let mut g = c.benchmark_group("elementwise");
    g.throughput(Throughput::Bytes((N * N * size_of::<f64>()) as u64));
    g.sample_size(20);

    let p = sin2_cos2();
    g.bench_function(BenchmarkId::new("sin2_cos2", &size), |b| {
        b.iter(|| eval(black_box(&p), &[black_box(&chunk)], &[N, N]).unwrap());
    });
    g.bench_function(BenchmarkId::new("sin2_cos2_naive_std", &size), |b| {
        b.iter(|| black_box(&x).mapv(|v| v.sin().powi(2) + v.cos().powi(2)));
    });

    let p = times_two_plus_one();
    g.bench_function(BenchmarkId::new("x_times_2_plus_1", &size), |b| {
        b.iter(|| eval(black_box(&p), &[black_box(&chunk)], &[N, N]).unwrap());
    });
    g.bench_function(BenchmarkId::new("x_times_2_plus_1_ndarray", &size), |b| {
        b.iter(|| black_box(&x).mapv(|v| v * 2.0 + 1.0));
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
