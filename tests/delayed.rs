//! Delayed graphs of registered Rust functions: typing at build time, shared
//! calls once, failures naming their key, arrays to and from delayed values,
//! and the same graph on the local executor and a 2-worker cluster.

mod common;

use common::*;
use darray::delayed::{self, val, Delayed};
use darray::distributed::{Client, LocalCluster};
use darray::{DArray, Error, LocalExecutor};
use ndarray::{ArrayD, IxDyn};
use proptest::prelude::*;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

static COUNTED: AtomicUsize = AtomicUsize::new(0);

/// A seeded input of `n` values (splitmix64), as a loader would read one.
fn load(seed: u64, n: usize) -> Vec<f64> {
    normals(seed, n)
}

fn normalize(raw: Vec<f64>, reference: Vec<f64>) -> Vec<f64> {
    raw.iter()
        .zip(&reference)
        .map(|(r, m)| (r - m) / (1.0 + m.abs()))
        .collect()
}

fn compare3(a: Vec<f64>, b: Vec<f64>, c: Vec<f64>) -> f64 {
    a.iter().zip(&b).zip(&c).map(|((x, y), z)| x * y - z).sum()
}

fn best(scores: Vec<f64>) -> f64 {
    scores.into_iter().fold(f64::NEG_INFINITY, f64::max)
}

fn counted(x: u64) -> u64 {
    COUNTED.fetch_add(1, Ordering::SeqCst);
    x * 2
}

fn add(a: u64, b: u64) -> u64 {
    a + b
}

fn checked_sqrt(x: f64) -> Result<f64, String> {
    if x < 0.0 {
        Err(format!("negative input {x}"))
    } else {
        Ok(x.sqrt())
    }
}

fn affine_block(b: ArrayD<f64>) -> ArrayD<f64> {
    b.mapv(|v| 2.0 * v + 1.0)
}

fn grow_block(b: ArrayD<f64>) -> ArrayD<f64> {
    ArrayD::zeros(IxDyn(&[b.len() + 1]))
}

fn gather(parts: Vec<f64>, extra: f64) -> Vec<f64> {
    let mut p = parts;
    p.push(extra);
    p
}

/// Registers the test functions in this process (test or worker); idempotent.
fn setup() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        delayed::register("t-load", load).unwrap();
        delayed::register("t-normalize", normalize).unwrap();
        delayed::register("t-compare3", compare3).unwrap();
        delayed::register("t-best", best).unwrap();
        delayed::register("t-counted", counted).unwrap();
        delayed::register("t-add", add).unwrap();
        delayed::register_fallible("t-sqrt", checked_sqrt).unwrap();
        delayed::register("t-affine-block", affine_block).unwrap();
        delayed::register("t-grow-block", grow_block).unwrap();
        delayed::register("t-gather", gather).unwrap();
    });
}

/// In a worker started by this test's cluster: register the functions and
/// serve, before libtest's `main` runs any test.
extern "C" fn serve_as_delayed_worker() {
    if std::env::var_os(darray::distributed::WORKER_ENV).is_none() {
        return;
    }
    macro_setup();
    darray::distributed::serve_if_worker();
}

#[used]
#[cfg_attr(not(target_vendor = "apple"), link_section = ".init_array")]
#[cfg_attr(target_vendor = "apple", link_section = "__DATA,__mod_init_func")]
static SERVE_AS_DELAYED_WORKER: extern "C" fn() = serve_as_delayed_worker;

fn cluster() -> &'static (LocalCluster, Client) {
    static C: OnceLock<(LocalCluster, Client)> = OnceLock::new();
    C.get_or_init(|| {
        let c = LocalCluster::builder(2)
            .nthreads(1)
            .serve_in_main(true)
            .build()
            .expect("cluster starts");
        let client = c.client().unwrap();
        (c, client)
    })
}

/// The ETL pipeline of `examples/custom_etl.rs` on `n` inputs of `len`
/// values, as handles, and the same computation in plain Rust.
fn etl(n: u64, len: usize) -> (Delayed<f64>, f64) {
    setup();
    let reference = delayed::call2::<_, _, Vec<f64>>("t-load", val(&999u64), val(&len)).unwrap();
    let clean: Vec<Delayed<Vec<f64>>> = (0..n)
        .map(|i| {
            let raw = delayed::call2::<_, _, Vec<f64>>("t-load", val(&i), val(&len)).unwrap();
            delayed::call2::<_, _, Vec<f64>>("t-normalize", raw, &reference).unwrap()
        })
        .collect();
    let mut scores: Option<Delayed<Vec<f64>>> = None;
    let mut plain = Vec::new();
    let r = load(999, len);
    let cleaned: Vec<Vec<f64>> = (0..n).map(|i| normalize(load(i, len), r.clone())).collect();
    for w in 0..clean.len().saturating_sub(2) {
        let s =
            delayed::call3::<_, _, _, f64>("t-compare3", &clean[w], &clean[w + 1], &clean[w + 2])
                .unwrap();
        plain.push(compare3(
            cleaned[w].clone(),
            cleaned[w + 1].clone(),
            cleaned[w + 2].clone(),
        ));
        let prev = match scores {
            Some(p) => p,
            None => delayed::value(&Vec::<f64>::new()).unwrap(),
        };
        scores = Some(delayed::call2::<_, _, Vec<f64>>("t-gather", prev, &s).unwrap());
    }
    let scores = scores.unwrap_or_else(|| delayed::value(&Vec::new()).unwrap());
    let out = delayed::call1::<_, f64>("t-best", &scores).unwrap();
    (out, best(plain))
}

#[test]
fn etl_graph_matches_plain_rust_on_every_thread_count() {
    let (out, want) = etl(12, 50);
    // reference + 12 loads + 12 normalizes + 10 compares + empty + 10 gathers + best
    assert_eq!(out.num_tasks().unwrap(), 1 + 24 + 10 + 1 + 10 + 1);
    for exec in executors() {
        assert_eq!(out.compute_with(&exec).unwrap().to_bits(), want.to_bits());
    }
    let g = out.graph().unwrap();
    assert_eq!(
        darray::graph::Graph::from_bytes(&g.to_bytes().unwrap()).unwrap(),
        g
    );
    let dot = out.to_dot().unwrap();
    assert!(
        dot.contains("t-normalize-") && dot.contains("t-best-"),
        "{dot}"
    );
}

#[test]
fn shared_sub_results_run_once() {
    setup();
    let a = delayed::call1::<_, u64>("t-counted", val(&21u64)).unwrap();
    let b = delayed::call2::<_, _, u64>("t-add", &a, &a).unwrap();
    let c = delayed::call2::<_, _, u64>("t-add", &a, &b).unwrap();
    assert_eq!(c.num_tasks().unwrap(), 3);
    let before = COUNTED.load(Ordering::SeqCst);
    let exec = LocalExecutor::with_threads(2).unwrap();
    let got = delayed::compute_all_with(&[b.clone(), c.clone()], &exec).unwrap();
    assert_eq!(got, vec![84, 126]);
    assert_eq!(COUNTED.load(Ordering::SeqCst) - before, 1);
    // Persisted, a handle is a held value: later graphs do not call again.
    let held = a.persist_with(&exec).unwrap();
    let d = delayed::call2::<_, _, u64>("t-add", &held, &held).unwrap();
    assert_eq!(d.compute_with(&exec).unwrap(), 84);
    assert_eq!(COUNTED.load(Ordering::SeqCst) - before, 2);
}

#[test]
fn wrong_names_and_types_are_refused_when_built() {
    setup();
    let x = delayed::value(&1.5f64).unwrap();
    let e = delayed::call1::<_, f64>("t-nowhere", &x).unwrap_err();
    assert!(
        matches!(e, Error::UnknownFunction(ref n) if n == "t-nowhere"),
        "{e}"
    );
    // Argument type: t-sqrt takes f64, not u64.
    let e = delayed::call1::<_, f64>("t-sqrt", val(&4u64)).unwrap_err();
    assert!(matches!(e, Error::FunctionSignature { .. }), "{e}");
    assert!(e.to_string().contains("u64"), "{e}");
    // Result type.
    let e = delayed::call1::<_, u64>("t-sqrt", &x).unwrap_err();
    assert!(matches!(e, Error::FunctionSignature { .. }), "{e}");
    // Arity.
    let e = delayed::call2::<_, _, f64>("t-sqrt", &x, &x).unwrap_err();
    assert!(matches!(e, Error::FunctionSignature { .. }), "{e}");
    let e = delayed::register("t-add", add).unwrap_err();
    assert!(matches!(e, Error::FunctionExists(_)), "{e}");
}

#[test]
fn a_failing_function_names_its_key_and_message() {
    setup();
    let ok = delayed::call1::<_, f64>("t-sqrt", val(&4.0f64)).unwrap();
    let bad = delayed::call1::<_, f64>("t-sqrt", val(&-1.0f64)).unwrap();
    assert_eq!(ok.compute().unwrap(), 2.0);
    let exec = LocalExecutor::with_threads(2).unwrap();
    let e = delayed::compute_all_with(&[ok, bad], &exec).unwrap_err();
    let Error::Task { key, source } = &e else {
        panic!("{e}")
    };
    assert!(key.starts_with("t-sqrt-"), "{key}");
    assert!(
        matches!(&**source, Error::FunctionFailed { function, message }
            if function == "t-sqrt" && message.contains("negative input -1")),
        "{source}"
    );
}

#[test]
fn stated_memory_is_checked_against_the_budget() {
    setup();
    let big = delayed::call1::<_, f64>("t-sqrt", val(&4.0f64))
        .unwrap()
        .mem_bytes(1 << 40);
    let exec = LocalExecutor::with_threads(1)
        .unwrap()
        .memory_budget(1 << 30);
    let e = big.compute_with(&exec).unwrap_err();
    assert!(matches!(e, Error::OverBudget { .. }), "{e}");
}

proptest! {
    #![proptest_config(config(32))]

    /// Blocks to handles, a function per block, handles to blocks: the
    /// blockwise function of plain ndarray, on irregular and empty grids.
    #[test]
    fn to_and_from_delayed_match_ndarray((a, grid) in array_and_grid(3, 9, false)) {
        setup();
        let x = chunked(&a, &grid);
        let blocks = x.to_delayed();
        let per_axis: Vec<usize> = grid.iter().map(Vec::len).collect();
        prop_assert_eq!(blocks.shape(), per_axis.as_slice());
        let mapped = blocks.map(|b| delayed::call1::<_, ArrayD<f64>>("t-affine-block", b).unwrap());
        let y = DArray::<f64>::from_delayed(&mapped, grid.clone()).unwrap();
        prop_assert_eq!(y.chunks(), x.chunks());
        let want = a.mapv(|v| 2.0 * v + 1.0);
        let got = (y * 3.0).compute_with(&LocalExecutor::with_threads(2).unwrap()).unwrap();
        assert_bits_eq(&got, &want.mapv(|v| v * 3.0));
    }
}

#[test]
fn a_block_of_the_wrong_shape_is_named() {
    setup();
    let x = DArray::<f64>::ones(&[7], [3]).unwrap();
    let mut mapped = x
        .to_delayed()
        .map(|b| delayed::call1::<_, ArrayD<f64>>("t-affine-block", b).unwrap());
    mapped[[1]] = delayed::call1::<_, ArrayD<f64>>("t-grow-block", &x.to_delayed()[[1]]).unwrap();
    let y = DArray::<f64>::from_delayed(&mapped, vec![vec![3, 3, 1]]).unwrap();
    let e = y.compute().unwrap_err();
    let Error::Task { source, .. } = &e else {
        panic!("{e}")
    };
    assert!(
        matches!(&**source, Error::BlockShape { block, expected, found, .. }
            if block == &[1] && expected == &[3] && found == &[4]),
        "{e}"
    );
    let e = DArray::<f64>::from_delayed(&mapped, vec![vec![3, 4]]).unwrap_err();
    assert!(matches!(e, Error::InvalidChunks { .. }), "{e}");
}

#[test]
fn the_same_graph_on_a_two_worker_cluster() {
    let (_, client) = cluster();
    let (out, want) = etl(20, 40);
    let local = out
        .compute_with(&LocalExecutor::with_threads(2).unwrap())
        .unwrap();
    let remote = out.compute_with(client).unwrap();
    assert_eq!(local.to_bits(), want.to_bits());
    assert_eq!(remote.to_bits(), local.to_bits());

    // Arrays and delayed calls in one graph.
    let a = ArrayD::from_shape_vec(IxDyn(&[9, 4]), normals(3, 36)).unwrap();
    let x = DArray::from_ndarray(&a, vec![vec![4, 4, 1], vec![3, 1]]).unwrap();
    let mapped = x
        .to_delayed()
        .map(|b| delayed::call1::<_, ArrayD<f64>>("t-affine-block", b).unwrap());
    let y = DArray::<f64>::from_delayed(&mapped, x.chunks().to_vec()).unwrap();
    let s = y.sum_axis(0).unwrap();
    let l = s
        .compute_with(&LocalExecutor::with_threads(2).unwrap())
        .unwrap();
    let r = s.compute_with(client).unwrap();
    assert_bits_eq(&l, &r);

    // A failing function on a worker names its key.
    let bad = delayed::call1::<_, f64>("t-sqrt", val(&-2.0f64)).unwrap();
    let e = bad.compute_with(client).unwrap_err();
    assert!(
        e.to_string().contains("t-sqrt") && e.to_string().contains("negative input"),
        "{e}"
    );
}

fn scale(v: Vec<f64>, k: f64) -> Vec<f64> {
    v.iter().map(|x| x * k).collect()
}

fn length(v: Vec<f64>) -> u64 {
    v.len() as u64
}

static TALLY: AtomicUsize = AtomicUsize::new(0);

fn tally(x: u64) -> u64 {
    TALLY.fetch_add(1, Ordering::SeqCst);
    x * 2
}

fn macro_setup() {
    static ONCE: OnceLock<()> = OnceLock::new();
    setup();
    ONCE.get_or_init(|| {
        // Registered under the function's own name, as `delayed!(f(..))` calls it.
        delayed::register("scale", scale).unwrap();
        delayed::register("length", length).unwrap();
        delayed::register("tally", tally).unwrap();
    });
}

#[test]
fn the_macro_takes_handles_values_and_vals() {
    macro_setup();
    let reference = load(999, 30);
    let raw = darray::delayed!("t-load" => load(7u64, 30usize)).unwrap();
    // A handle and a plain value by reference: `normalize(raw, &reference)`.
    let clean = darray::delayed!("t-normalize" => normalize(&raw, &reference)).unwrap();
    let scaled = darray::delayed!(scale(clean.clone(), val(&2.0))).unwrap();
    let n = darray::delayed!(length(&scaled)).unwrap();
    // A fallible function gives its `Ok` type.
    let root = darray::delayed!("t-sqrt" => checked_sqrt(16.0)).unwrap();
    let want: Vec<f64> = normalize(load(7, 30), reference.clone())
        .iter()
        .map(|x| x * 2.0)
        .collect();
    for exec in executors() {
        assert_eq!(scaled.compute_with(&exec).unwrap(), want);
        assert_eq!(n.compute_with(&exec).unwrap(), 30);
        assert_eq!(root.compute_with(&exec).unwrap(), 4.0);
    }
    // The same graph as the call functions build.
    let by_call = delayed::call2::<_, _, Vec<f64>>("t-normalize", &raw, val(&reference)).unwrap();
    assert_eq!(by_call.num_tasks().unwrap(), clean.num_tasks().unwrap());
    // A path names the function by its last segment.
    let p = darray::delayed!(self::length(vec![1.0, 2.0])).unwrap();
    assert_eq!(p.compute().unwrap(), 2);
}

#[test]
fn the_macro_refuses_names_registered_otherwise_when_built() {
    macro_setup();
    // `length` is not registered as "t-best" (fn(Vec<f64>) -> f64).
    let e = darray::delayed!("t-best" => length(vec![1.0])).unwrap_err();
    assert!(matches!(e, Error::FunctionSignature { .. }), "{e}");
    assert!(e.to_string().contains("u64"), "{e}");
    // `gather` is not registered under its own name.
    let e = darray::delayed!(gather(vec![1.0], 2.0)).unwrap_err();
    assert!(
        matches!(e, Error::UnknownFunction(ref n) if n == "gather"),
        "{e}"
    );
}

#[test]
fn handles_of_different_types_compute_together_and_share_calls() {
    macro_setup();
    let a = darray::delayed!(tally(5u64)).unwrap();
    let b = darray::delayed!("t-add" => add(&a, &a)).unwrap();
    let v = darray::delayed!("t-load" => load(&a, 4usize)).unwrap();
    let n = darray::delayed!(length(&v)).unwrap();
    let before = calls_of_counted();
    let exec = LocalExecutor::with_threads(2).unwrap();
    let (x, y) = delayed::compute2_with(&b, &v, &exec).unwrap();
    assert_eq!((x, y), (20, load(10, 4)));
    assert_eq!(calls_of_counted() - before, 1);
    let (x, y, z) = delayed::compute3_with(&b, &v, &n, &exec).unwrap();
    assert_eq!((x, y.len(), z), (20, 4, 4));
    assert_eq!(calls_of_counted() - before, 2);
    let r = delayed::compute_many_with(&[&n, &b, &v], &exec).unwrap();
    assert_eq!(r.len(), 3);
    assert_eq!(r.get::<u64>(0).unwrap(), 4);
    assert_eq!(r.get::<u64>(1).unwrap(), 20);
    assert_eq!(r.get::<Vec<f64>>(2).unwrap(), load(10, 4));
    assert_eq!(calls_of_counted() - before, 3);
    assert!(matches!(r.get::<u64>(3), Err(Error::DelayedValue { .. })));
    // The same on a 2-worker cluster.
    let (_, client) = cluster();
    let (x, y) = delayed::compute2_with(&b, &n, client).unwrap();
    assert_eq!((x, y), (20, 4));
}

fn calls_of_counted() -> usize {
    TALLY.load(Ordering::SeqCst)
}
