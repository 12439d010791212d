//! Per-task overhead: `DArray::<f64>::ones(&[100_000], [1]).sum()`, a graph of
//! 100,000 one-element chunks, a partial sum per chunk and a tree of merges.
//!
//! Two benchmarks: `graph_build` (lowering the expression to its task graph) and
//! `compute` (graph build + execution, as `compute_scalar` does). Throughput is in
//! elements = tasks of the graph, so criterion's `elem/s` is tasks per second; the
//! time per task (time / `graph.len()`) is also printed after the run.
//!
//! A third group, `graph_build_layout`, lowers graphs over as many one-element
//! chunks through a slice, a rechunk and an argmax, whose blocks each need
//! the start of their block or a slice's runs (they used to re-sum the chunk
//! sizes for every block, quadratic in the number of chunks; 100,000 chunks
//! through a strided slice took 151 s to build, now 0.13 s).
//!
//! `cargo bench --bench tiny_tasks` (`./dev.sh bench tiny_tasks`).

mod common;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use darray::DArray;
use std::hint::black_box;
use std::time::{Duration, Instant};

fn bench(c: &mut Criterion) {
    let n: usize = if common::test_mode() { 1_000 } else { 100_000 };
    let x = DArray::<f64>::ones(&[n], [1]).expect("ones");
    let s = x.sum().expect("sum");
    let tasks = s.num_tasks().expect("graph");
    let tasks_u64 = u64::try_from(tasks).expect("task count fits u64");
    let id = format!("{n}chunks_{tasks}tasks");

    let mut g = c.benchmark_group("tiny_tasks");
    common::configure(&mut g);
    g.throughput(Throughput::Elements(tasks_u64));
    g.bench_function(BenchmarkId::new("graph_build", &id), |b| {
        b.iter(|| black_box(s.graph().expect("graph")));
    });
    g.bench_function(BenchmarkId::new("compute", &id), |b| {
        b.iter(|| {
            let v = s.compute_scalar().expect("compute");
            assert!((v - n as f64).abs() < 0.5, "sum of ones = {v}");
            black_box(v)
        });
    });
    g.finish();

    // Time per task from a few plain runs (best of 3), build and total apart.
    let best = |f: &dyn Fn()| -> Duration {
        (0..3)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed()
            })
            .min()
            .expect("three runs")
    };
    let build = best(&|| drop(black_box(s.graph().expect("graph"))));
    let total = best(&|| {
        black_box(s.compute_scalar().expect("compute"));
    });
    #[allow(clippy::cast_precision_loss)]
    let per = |d: Duration| d.as_secs_f64() * 1e6 / tasks as f64;
    eprintln!(
        "tiny_tasks: {tasks} tasks; graph build {build:.2?} ({:.3} us/task), compute {total:.2?} ({:.3} us/task, {:.3} us/task without the build)",
        per(build),
        per(total),
        per(total.saturating_sub(build)),
    );
}

fn bench_layout(c: &mut Criterion) {
    let n: usize = if common::test_mode() { 1_000 } else { 100_000 };
    let x = DArray::<f64>::ones(&[n], [1]).expect("ones");
    let r = DArray::<f64>::random_uniform(1, &[n], 0.0, 1.0, [1]).expect("random");
    let cases = [
        (
            "slice_step2",
            x.slice(ndarray::s![1..n - 1; 2])
                .expect("slice")
                .sum()
                .expect("sum"),
        ),
        (
            "rechunk_1_to_3",
            x.rechunk([3]).expect("rechunk").sum().expect("sum"),
        ),
        ("argmax", r.argmax().expect("argmax").cast::<f64>()),
    ];
    let mut g = c.benchmark_group("graph_build_layout");
    common::configure(&mut g);
    for (name, a) in &cases {
        let tasks = a.num_tasks().expect("graph");
        g.throughput(Throughput::Elements(u64::try_from(tasks).expect("fits")));
        g.bench_function(
            BenchmarkId::new(*name, format!("{n}chunks_{tasks}tasks")),
            |b| {
                b.iter(|| black_box(a.graph().expect("graph")));
            },
        );
    }
    g.finish();
}

criterion_group!(benches, bench, bench_layout);
criterion_main!(benches);
