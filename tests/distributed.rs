//! Distributed execution end to end: a scheduler and `darray worker` processes
//! on 127.0.0.1 ([`LocalCluster`]), against the local executor bit for bit.

mod common;

use common::*;
use darray::distributed::auth::Secret;
use darray::distributed::wire::Limits;
use darray::distributed::{Client, LocalCluster};
use darray::{linalg, DArray, Error, Executor, LocalExecutor, QuantileMethod, WriteOptions};
use ndarray::s;
use ndarray::{ArrayD, IxDyn};
use proptest::prelude::*;
use std::io::Write;
use std::sync::OnceLock;

/// One shared two-worker cluster for the property test.
fn shared() -> &'static (LocalCluster, Client) {
    static C: OnceLock<(LocalCluster, Client)> = OnceLock::new();
    C.get_or_init(|| {
        let c = darray_cluster(2, 2);
        let client = c.client().unwrap();
        (c, client)
    })
}

fn local() -> LocalExecutor {
    LocalExecutor::with_threads(2).unwrap()
}

proptest! {
    #![proptest_config(config(12))]

    /// Elementwise chains, reductions over any axes, slices and literals: the
    /// cluster gives the local executor's bits, chunks moving between workers.
    #[test]
    fn cluster_matches_local_bitwise((a, grid) in array_and_grid(3, 12, false), seed in any::<u64>()) {
        let (_, client) = shared();
        let x = chunked(&a, &grid);
        let r = DArray::<f64>::random_normal(seed, a.shape(), 0.0, 1.0, grid.clone()).unwrap();
        let y = ((x.sin() * 2.0 + &r).unwrap() * &x).unwrap();
        let ndim = a.ndim();
        let exprs: Vec<DArray<f64>> = vec![
            y.clone(),
            y.sum().unwrap(),
            y.std(1.0).unwrap(),
            y.sum_axis(ndim as isize - 1).unwrap(),
            y.mean_axis(0).unwrap(),
        ];
        for e in exprs {
            let want = e.compute_with(&local()).unwrap();
            let got = e.compute_with(client).unwrap();
            assert_bits_eq(&want, &got);
        }
    }
}

/// The analysis toolbox on the cluster: quantiles (along an axis and the
/// all-axes radix selection), grouped reductions (map-reduce and blockwise),
/// creation and random functions, statistics, einsum, a triangular solve,
/// pointwise indexing, scans and stencils give the local executor's bits.
#[test]
fn toolbox_on_a_cluster_matches_local() {
    let (_, client) = shared();
    let a = ndarray::Array2::from_shape_fn((37, 23), |(i, j)| {
        ((i * 31 + j * 17) % 29) as f64 - 0.37 * (i as f64) + 0.011 * (j * j) as f64
    });
    let x = DArray::from_ndarray(&a, vec![vec![10, 3, 20, 4], vec![7, 16]]).unwrap();
    let m = QuantileMethod::Linear;
    let labels: Vec<i64> = (0..37).map(|i| (i % 5) as i64).collect();
    let runs: Vec<i64> = (0..37).map(|i| (i / 10) as i64).collect();
    let sq = x.slice(s![..23, ..]).unwrap();
    let tri =
        (sq.tril(0).unwrap() + &(DArray::<f64>::eye(23, 23, 0, [7, 7]).unwrap() * 40.0)).unwrap();
    let f64s: Vec<DArray<f64>> = vec![
        x.quantile([0.1, 0.5, 0.9], Some(0), m).unwrap(),
        x.nanpercentile(90.0, Some(1), m).unwrap(),
        x.quantile(0.37, None, m).unwrap(),
        x.groupby(&labels, 0).unwrap().mean().unwrap(),
        x.groupby(&labels, 0).unwrap().var(1.0).unwrap(),
        x.groupby(&runs, 0).unwrap().sum().unwrap(),
        x.diag(2).unwrap(),
        x.triu(-3).unwrap(),
        DArray::<i64>::random_integers(5, &[30, 11], -4, 9, [7, 5])
            .unwrap()
            .cast::<f64>(),
        DArray::<i64>::permutation(41, 3, [9])
            .unwrap()
            .cast::<f64>(),
        darray::cov(&x, false, 1.0).unwrap(),
        x.moment_axis(3, 1).unwrap(),
        linalg::einsum("ij,kj->ik", &[&x, &x]).unwrap(),
        linalg::solve_triangular(&tri, &x.slice(s![..23, ..5]).unwrap(), true).unwrap(),
        x.vindex_points(&[&[0, 36, 12, 5], &[22, 0, 7, 7]]).unwrap(),
        x.cumsum(0).unwrap(),
        x.gaussian_filter(1.5, darray::Boundary::Reflect).unwrap(),
        // Shifted slices: fused tasks reading blocks through windows.
        (&x.slice(s![2.., 1..]).unwrap() - &x.slice(s![..-2, ..-1]).unwrap()).unwrap(),
        (&x.slice(s![1.., ..]).unwrap() * &x.slice(s![..-1, ..]).unwrap())
            .unwrap()
            .sum_axis(1)
            .unwrap(),
    ];
    for (i, e) in f64s.iter().enumerate() {
        let want = e.compute_with(&local()).unwrap();
        let got = e.compute_with(client).unwrap();
        assert_eq!(want.shape(), got.shape(), "expression {i}");
        assert_bits_eq(&want, &got);
    }
}

#[test]
fn linalg_and_zarr_round_trip_on_a_cluster() {
    let (_, client) = shared();
    let a = DArray::<f64>::random_normal(
        7,
        &[600, 6],
        0.0,
        1.0,
        vec![vec![100, 150, 200, 150], vec![6]],
    )
    .unwrap();
    let (q, r) = linalg::tsqr(&a).unwrap();
    let (u, sv, vt) = linalg::svd(&a).unwrap();
    // The Q pass reading and factoring every row block again.
    let again = linalg::TsqrLeaves::Recompute;
    let (q2, u2) = (
        linalg::tsqr_with(&a, again).unwrap().0,
        linalg::svd_with(&a, again).unwrap().0,
    );
    assert!(q2
        .graph()
        .unwrap()
        .op_counts()
        .contains_key("refactor_apply_q"));
    for e in [&q, &r, &u, &sv, &vt, &q2, &u2] {
        assert_bits_eq(
            &e.compute_with(&local()).unwrap(),
            &e.compute_with(client).unwrap(),
        );
    }
    let b = DArray::<f64>::random_uniform(3, &[90, 70], -1.0, 1.0, [25, 30]).unwrap();
    let c = linalg::matmul(&b, &b.t()).unwrap();
    assert_bits_eq(
        &c.compute_with(&local()).unwrap(),
        &c.compute_with(client).unwrap(),
    );

    // Workers write the chunks (to a relative path, made absolute for them);
    // the client commits; reading back through the cluster gives the same bits.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.zarr");
    let y = b.exp() - 1.0;
    y.to_zarr_with(&path, &WriteOptions::default(), client)
        .unwrap();
    let back = DArray::<f64>::from_zarr(&path).unwrap();
    assert_bits_eq(
        &y.compute_with(&local()).unwrap(),
        &back.compute_with(client).unwrap(),
    );
    let part = back.slice(s![10..40, ..]).unwrap().sum().unwrap();
    assert_bits_eq(
        &part.compute_with(&local()).unwrap(),
        &part.compute_with(client).unwrap(),
    );
}

#[test]
fn literal_data_travels_to_workers() {
    let (_, client) = shared();
    let a = ArrayD::from_shape_fn(IxDyn(&[50, 40]), |i| (i[0] * 40 + i[1]) as f64 * 0.5);
    let x = DArray::from_ndarray(&a, [13, 11]).unwrap();
    let got = x.compute_with(client).unwrap();
    assert_eq!(got, a);
    let m = (x * 2.0).sum_axis(1).unwrap().compute_with(client).unwrap();
    assert_bits_eq(
        &m,
        &(DArray::from_ndarray(&a, [13, 11]).unwrap() * 2.0)
            .sum_axis(1)
            .unwrap()
            .compute_with(&local())
            .unwrap(),
    );
}

#[test]
fn failing_task_names_its_key_and_the_cluster_goes_on() {
    let (_, client) = shared();
    // Registered here, not in the `darray` worker binary: the workers cannot run it.
    darray::register_kernel::<f64, f64>("only-in-the-test-process", |ins| ins[0].to_owned())
        .unwrap();
    let x = DArray::<f64>::ones(&[20, 20], [10, 10]).unwrap();
    let y: DArray<f64> = x.map_blocks("only-in-the-test-process").unwrap();
    match y.sum().unwrap().compute_with(client) {
        Err(Error::Task { key, source }) => {
            assert!(key.contains('('), "{key}");
            assert!(matches!(*source, Error::Remote { .. }), "{source:?}");
            assert!(
                source.to_string().contains("only-in-the-test-process"),
                "{source}"
            );
        }
        other => panic!("expected a task error, got {other:?}"),
    }
    let z = x.sum().unwrap().compute_with(client).unwrap();
    assert_eq!(z.sum(), 400.0);
}

#[test]
fn over_budget_plans_are_refused_before_running() {
    let c = LocalCluster::builder(1)
        .memory_limit(1 << 20)
        .worker_command(env!("CARGO_BIN_EXE_darray"), ["worker"])
        .build()
        .unwrap();
    let client = c.client().unwrap();
    let x = DArray::<f64>::ones(&[2000, 2000], [1000, 1000]).unwrap();
    match x.sum().unwrap().compute_with(&client) {
        Err(Error::OverBudget { bytes, budget, .. }) => {
            assert!(bytes > budget && budget == 1 << 20)
        }
        other => panic!("expected OverBudget, got {other:?}"),
    }
    assert_eq!(client.last_stats().tasks, 0);
}

#[test]
fn lost_worker_is_recovered_with_identical_results() {
    let mut c = darray_cluster(3, 1);
    let client = c.client().unwrap();
    let x = DArray::<f64>::random_normal(11, &[4000, 4000], 0.0, 1.0, [200, 200]).unwrap();
    let y = (x.sin() * &x).unwrap();
    let total = y.std_axis(0, 0.0).unwrap();
    let cols = y.sum_axis(0).unwrap();
    let want = (
        total.compute_with(&local()).unwrap(),
        cols.compute_with(&local()).unwrap(),
    );
    // How long the job takes here, to kill a worker half-way through it.
    let t0 = std::time::Instant::now();
    assert_bits_eq(&want.0, &total.compute_with(&client).unwrap());
    let half = t0.elapsed() / 2;
    eprintln!("cluster run: {:?}", t0.elapsed());
    let n_tasks = client.last_stats().tasks;
    let killer = std::thread::scope(|s| {
        let h = s.spawn(|| {
            std::thread::sleep(half);
            c.kill_worker(0)
        });
        let got = (total.compute_with(&client), client.last_stats().tasks);
        (h.join().unwrap(), got)
    });
    let got_cols = cols.compute_with(&client);
    killer.0.unwrap();
    let (t, run) = killer.1;
    assert_bits_eq(&want.0, &t.unwrap());
    assert_bits_eq(&want.1, &got_cols.unwrap());
    eprintln!("tasks run: {n_tasks} without a loss, {run} with one (recomputations included)");
    // The cluster keeps working with the survivors.
    assert_eq!(client.info().unwrap().0, 2);
    assert_bits_eq(&want.0, &total.compute_with(&client).unwrap());
}

#[test]
fn strangers_and_garbage_do_not_disturb_the_cluster() {
    let (c, client) = shared();
    let addr: std::net::SocketAddr = c.scheduler_addr().parse().unwrap();
    // A wrong secret is refused.
    let wrong = Secret::generate();
    assert!(Client::connect_with(c.scheduler_addr(), &wrong, Limits::default()).is_err());
    // Garbage, an oversized announced frame and a silent connection.
    let mut g = std::net::TcpStream::connect(addr).unwrap();
    let _ = g.write_all(b"GET / HTTP/1.1\r\n\r\n");
    let mut big = std::net::TcpStream::connect(addr).unwrap();
    let mut hdr = vec![0u8];
    hdr.extend_from_slice(&u64::MAX.to_le_bytes());
    let _ = big.write_all(&hdr);
    let _silent = std::net::TcpStream::connect(addr).unwrap();
    let x = DArray::<f64>::random_uniform(5, &[100, 100], 0.0, 1.0, [30, 30]).unwrap();
    let s = x.sum().unwrap();
    assert_bits_eq(
        &s.compute_with(&local()).unwrap(),
        &s.compute_with(client).unwrap(),
    );
    drop((g, big));
}

#[test]
fn transfers_between_workers_are_timed() {
    let (_, client) = shared();
    // Pairs of chunks summed together: where a pair's chunks were made on
    // different workers, one moves.
    let x = DArray::<f64>::arange(0.0, 64_000.0, 1.0, [4000]).unwrap();
    let a = x.slice(s![..32_000]).unwrap();
    let b = x.slice(s![32_000..]).unwrap();
    let y = (a + &b).unwrap().sum().unwrap();
    assert_bits_eq(
        &y.compute_with(client).unwrap(),
        &y.compute_with(&local()).unwrap(),
    );
    // Stats are per client and the tests share one: whichever job they are
    // from, bytes moved come with the time their fetches took.
    let st = client.last_stats();
    assert_eq!(st.bytes_transferred > 0, st.transfer_nanos > 0, "{st:?}");
}
