//! The task graph and the local executor: plain-data graphs that round-trip
//! through postcard, DOT output, memory budgets refused before running, bounded
//! peak memory, errors naming the failing task, map_blocks and persist.

mod common;

use darray::graph::Graph;
use darray::{
    map_blocks, register_kernel, register_kernel_raw, Chunk, DArray, Error, Executor, LocalExecutor,
};
use ndarray::{ArrayD, ArrayViewD};

fn sample_graphs() -> Vec<Graph> {
    let x = DArray::<f64>::random_uniform(5, &[40, 30], 0.0, 1.0, [15, 7]).unwrap();
    let a = ndarray::Array2::<i32>::ones((6, 5));
    let y = DArray::from_ndarray(&a, [4, 2]).unwrap();
    vec![
        x.sin().sum_axis(0).unwrap().graph().unwrap(),
        x.slice(ndarray::s![3..20;2, ..])
            .unwrap()
            .rechunk([5, 30])
            .unwrap()
            .t()
            .graph()
            .unwrap(),
        y.cast::<f64>().argmax_axis(1).unwrap().graph().unwrap(),
        DArray::concatenate(&[&x, &x], 1)
            .unwrap()
            .var(1.0)
            .unwrap()
            .graph()
            .unwrap(),
    ]
}

#[test]
fn graphs_round_trip_through_postcard() {
    for g in sample_graphs() {
        let bytes = g.to_bytes().unwrap();
        let back = Graph::from_bytes(&bytes).unwrap();
        assert_eq!(back, g);
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(Graph::from_bytes(&longer).is_err());
        assert!(Graph::from_bytes(&bytes[..bytes.len() / 2]).is_err());
    }
}

#[test]
fn dot_and_describe_show_every_task() {
    let x = DArray::<f64>::ones(&[4], [2]).unwrap();
    let s = (&x + 1.0).sum().unwrap();
    let g = s.graph().unwrap();
    let dot = g.to_dot();
    assert!(dot.starts_with("digraph"));
    assert_eq!(dot.matches("label=").count(), g.len());
    assert_eq!(dot.matches("doublecircle").count(), 1);
    let d = g.describe();
    assert_eq!(d.lines().count(), g.len());
    assert!(d.contains("partial"), "{d}");
    assert!(d.contains("finalize"), "{d}");
}

#[test]
fn plans_over_budget_are_refused_before_running() {
    let exec = LocalExecutor::with_threads(2)
        .unwrap()
        .memory_budget(1 << 20);
    let x = DArray::<f64>::ones(&[1000, 1000], [500, 500]).unwrap();
    match x.sum().unwrap().compute_with(&exec) {
        Err(Error::OverBudget { key, bytes, budget }) => {
            assert!(bytes > budget);
            assert!(key.contains("sum"), "{key}");
        }
        other => panic!("expected OverBudget, got {other:?}"),
    }
    assert_eq!(exec.last_stats().tasks, 0);
    let small = DArray::<f64>::ones(&[1000, 1000], [100, 100]).unwrap();
    assert_eq!(small.sum().unwrap().compute_with(&exec).unwrap().sum(), 1e6);
}

#[test]
fn peak_memory_is_bounded_by_chunks_in_flight() {
    // 200 blocks of 800 KB; the whole array is 160 MB.
    let x = DArray::<f64>::random_uniform(1, &[20_000, 1000], 0.0, 1.0, [100, 1000]).unwrap();
    let block = 100 * 1000 * 8;
    for threads in [1, 2] {
        let exec = LocalExecutor::with_threads(threads).unwrap();
        let m = x
            .mean_axis(1)
            .unwrap()
            .sum()
            .unwrap()
            .compute_with(&exec)
            .unwrap();
        assert!(m.iter().all(|v| v.is_finite()));
        let st = exec.last_stats();
        assert!(st.peak_bytes < (4 * threads * block) as u64, "{st:?}");
        // Small tasks may be queued ahead, up to 4 per thread in flight.
        assert!(st.peak_running <= 4 * threads as u64, "{st:?}");
    }
}

/// Large tasks that make little from a large held input (here 80 KB columns
/// sliced out of one 80 MB block) are queued ahead of the one thread; before,
/// every task over 64 KiB waited for a free thread (peak 1).
#[test]
fn reducing_tasks_are_queued_ahead() {
    let (m, n) = (10_000, 1_000);
    let a = ndarray::Array2::from_shape_fn((m, n), |(i, j)| (i * 7 + j * 3) as f64);
    let da = DArray::from_ndarray(&a, [m, n]).unwrap();
    let cols: Vec<DArray<f64>> = (0..6)
        .map(|k| da.slice(ndarray::s![.., k * 100]).unwrap())
        .collect();
    let all = DArray::concatenate(&cols.iter().collect::<Vec<_>>(), 0).unwrap();
    let exec = LocalExecutor::with_threads(1).unwrap();
    let got = all.compute_with(&exec).unwrap();
    let st = exec.last_stats();
    assert!(st.peak_running > 1 && st.peak_running <= 4, "{st:?}");
    let want: Vec<f64> = (0..6).flat_map(|k| a.column(k * 100).to_vec()).collect();
    assert_eq!(got.iter().copied().collect::<Vec<_>>(), want);
}

fn failing(_: &[&Chunk]) -> Result<Chunk, String> {
    Err("this block is corrupt".into())
}

fn panicking(_: &[ArrayViewD<f64>]) -> ArrayD<f64> {
    panic!("kernel bug")
}

fn add_blocks(x: &[ArrayViewD<f64>]) -> ArrayD<f64> {
    &x[0] + &x[1]
}

#[test]
fn failing_tasks_name_their_key_and_cause() {
    register_kernel_raw("graph-test-fail", failing).unwrap();
    register_kernel::<f64, f64>("graph-test-panic", panicking).unwrap();
    let x = DArray::<f64>::ones(&[10], [5]).unwrap();
    let err = x
        .map_blocks::<f64>("graph-test-fail")
        .unwrap()
        .compute()
        .unwrap_err();
    match &err {
        Error::Task { key, source } => {
            assert!(key.starts_with("graph-test-fail-"), "{key}");
            assert!(source.to_string().contains("corrupt"));
        }
        other => panic!("{other:?}"),
    }
    let err = x
        .map_blocks::<f64>("graph-test-panic")
        .unwrap()
        .sum()
        .unwrap()
        .compute()
        .unwrap_err();
    assert!(err.to_string().contains("kernel bug"), "{err}");
}

#[test]
fn map_blocks_registry() {
    register_kernel::<f64, f64>("graph-test-add", add_blocks).unwrap();
    assert!(matches!(
        register_kernel::<f64, f64>("graph-test-add", add_blocks),
        Err(Error::KernelExists(_))
    ));
    let a = ndarray::Array1::from_iter((0..10).map(f64::from)).into_dyn();
    let x = DArray::from_ndarray(&a, [3]).unwrap();
    let y = DArray::from_ndarray(&a, [4]).unwrap();
    let z = map_blocks::<f64>("graph-test-add", &[&x, &y], None).unwrap();
    assert_eq!(z.compute().unwrap(), &a * 2.0);
    assert!(matches!(
        x.map_blocks::<f64>("no-such-kernel"),
        Err(Error::UnknownKernel(_))
    ));
    // A kernel returning the wrong dtype is an error, not a wrong answer.
    let w = map_blocks::<i32>("graph-test-add", &[&x, &y], None).unwrap();
    assert!(w.compute().is_err());
}

#[test]
fn persist_reuses_computed_blocks() {
    let x = DArray::<f64>::random_uniform(2, &[50, 50], 0.0, 1.0, [10, 10]).unwrap();
    let y = x.exp().persist().unwrap();
    let g = y.sum().unwrap().graph().unwrap();
    assert_eq!(g.op_counts()["literal"], 25);
    assert_eq!(y.compute().unwrap(), x.exp().compute().unwrap());
}

#[test]
fn same_bits_with_any_thread_count_and_from_a_shared_graph() {
    let x = DArray::<f32>::random_normal(4, &[300, 301], 0.0, 1.0, [7, 50]).unwrap();
    let e = x.cast::<f64>().sin().std_axis(0, 1.0).unwrap();
    let g = e.graph().unwrap();
    let outs: Vec<Vec<u64>> = common::executors()
        .iter()
        .map(|ex| {
            let r = ex.execute(&g).unwrap();
            r.iter()
                .flat_map(|c| match &**c {
                    Chunk::F64(a) => a.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                    _ => panic!("f64 result"),
                })
                .collect()
        })
        .collect();
    assert!(outs.windows(2).all(|w| w[0] == w[1]));
}
