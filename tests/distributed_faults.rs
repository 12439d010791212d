//! Distributed execution with 1, 2 and 3 workers, and with workers killed
//! (SIGKILL) half-way through a large graph and in the middle of a
//! worker-to-worker chunk transfer: always the local executor's bits.

#[path = "common/cluster.rs"]
mod cluster;
mod common;

use cluster::*;
use common::assert_bits_eq;
use darray::distributed::LocalCluster;
use darray::{linalg, DArray, Executor, LocalExecutor};
use ndarray::{s, ArrayD};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

fn local() -> LocalExecutor {
    LocalExecutor::with_threads(2).unwrap()
}

/// A lazy result of one of the element types the cases produce.
enum Case {
    F(DArray<f64>),
    I(DArray<i64>),
    B(DArray<bool>),
}

enum Out {
    F(ArrayD<f64>),
    I(ArrayD<i64>),
    B(ArrayD<bool>),
}

impl Case {
    fn eval(&self, exec: &dyn Executor) -> Out {
        match self {
            Case::F(a) => Out::F(a.compute_with(exec).unwrap()),
            Case::I(a) => Out::I(a.compute_with(exec).unwrap()),
            Case::B(a) => Out::B(a.compute_with(exec).unwrap()),
        }
    }
}

fn assert_out(what: &str, want: &Out, got: &Out) {
    match (want, got) {
        (Out::F(a), Out::F(b)) => assert_same(what, a, b),
        (Out::I(a), Out::I(b)) => assert_same(what, a, b),
        (Out::B(a), Out::B(b)) => assert_same(what, a, b),
        _ => panic!("{what}: element types differ"),
    }
}

/// The core operations and the linear algebra, as named lazy results.
fn cases() -> Vec<(&'static str, Case)> {
    use Case::{B, F, I};
    register_test_kernels();
    let x = DArray::<f64>::random_normal(1, &[37, 29], 0.0, 1.0, [10, 8]).unwrap();
    let row = DArray::<f64>::random_uniform(2, &[29], -1.0, 1.0, [7]).unwrap();
    let col = DArray::<f64>::random_uniform(3, &[37, 1], 0.5, 1.5, [9, 1]).unwrap();
    // Broadcasting a row and a column, fused into one chain.
    let e = (((x.sin() * &row).unwrap() + &col).unwrap() * 0.5)
        .exp()
        .powi(2);
    let z = (e.clone() - &x).unwrap();
    let mapped: DArray<f64> = x.map_blocks("affine").unwrap();

    // Linear algebra on small matrices.
    let tall =
        DArray::<f64>::random_normal(7, &[240, 6], 0.0, 1.0, vec![vec![60, 80, 100], vec![6]])
            .unwrap();
    let (q, r) = linalg::tsqr(&tall).unwrap();
    let (u, sv, vt) = linalg::svd(&tall).unwrap();
    let wide = DArray::<f64>::random_normal(8, &[120, 40], 0.0, 1.0, [40, 20]).unwrap();
    let (cu, cs, cvt) = linalg::svd_compressed(&wide, 3, 1, 4, 9).unwrap();
    let rhs = DArray::<f64>::random_uniform(10, &[240], -1.0, 1.0, [60]).unwrap();
    let ls = linalg::lstsq(&tall, &rhs).unwrap();
    let c = DArray::<f64>::random_normal(11, &[48, 48], 0.0, 1.0, [16, 16]).unwrap();
    let eye = DArray::<f64>::eye(48, 48, 0, [16, 16]).unwrap();
    let spd = (linalg::matmul(&c, &c.t()).unwrap() + &(eye * 48.0)).unwrap();
    let b = DArray::<f64>::random_uniform(12, &[48, 2], -1.0, 1.0, [16, 2]).unwrap();

    vec![
        ("random_normal", F(x.clone())),
        ("elementwise chain with broadcasting", F(e.clone())),
        ("sum", F(z.sum().unwrap())),
        ("mean_axis(0)", F(z.mean_axis(0).unwrap())),
        ("var(1)", F(z.var(1.0).unwrap())),
        ("std_axis(1, 0)", F(z.std_axis(1, 0.0).unwrap())),
        ("max_axis(1)", F(z.max_axis(1).unwrap())),
        ("argmin", I(z.argmin().unwrap())),
        ("argmin_axis(0)", I(z.argmin_axis(0).unwrap())),
        (
            "count_nonzero",
            I(x.greater(&row).unwrap().count_nonzero().unwrap()),
        ),
        (
            "any_axis(1)",
            B(x.greater(&col).unwrap().any_axis(1).unwrap()),
        ),
        ("slice", F(z.slice(s![3..30;2, 5..]).unwrap())),
        (
            "slice then sum_axis",
            F(e.slice(s![4, ..]).unwrap().sum_axis(0).unwrap()),
        ),
        ("rechunk", F(z.rechunk([13, 29]).unwrap())),
        (
            "rechunk then std_axis",
            F(z.rechunk([5, 29]).unwrap().std_axis(0, 1.0).unwrap()),
        ),
        (
            "concatenate",
            F(DArray::concatenate(&[&x, &e, &z], 0).unwrap()),
        ),
        (
            "concatenate then mean",
            F(DArray::concatenate(&[&x, &z], 1)
                .unwrap()
                .mean_axis(1)
                .unwrap()),
        ),
        (
            "map_blocks (registered kernel)",
            F((mapped.clone() * &x).unwrap().sum_axis(0).unwrap()),
        ),
        ("tsqr q", F(q)),
        ("tsqr r", F(r)),
        ("svd u", F(u)),
        ("svd s", F(sv)),
        ("svd vt", F(vt)),
        ("svd_compressed u", F(cu)),
        ("svd_compressed s", F(cs)),
        ("svd_compressed vt", F(cvt)),
        ("lstsq solution", F(ls.solution)),
        ("lstsq residuals", F(ls.residuals)),
        ("lstsq rank", I(ls.rank)),
        ("cholesky", F(linalg::cholesky(&spd).unwrap())),
        ("solve", F(linalg::solve(&spd, &b).unwrap())),
    ]
}

/// 1, 2 and 3 workers (one cluster each, reused across the cases) give the
/// local executor's bits for every case.
#[test]
fn one_two_and_three_workers_match_local_bitwise() {
    let cases = cases();
    let want: Vec<Out> = cases.iter().map(|(_, c)| c.eval(&local())).collect();
    for n in 1..=3 {
        let t = Instant::now();
        let cluster = test_cluster(n, 1, None);
        let client = cluster.client().unwrap();
        assert_eq!(client.info().unwrap(), (n as u32, n as u32));
        for ((name, case), w) in cases.iter().zip(&want) {
            let got = case.eval(&client);
            assert_out(&format!("{name} on {n} workers"), w, &got);
        }
        eprintln!("{n} worker(s): {} cases in {:?}", cases.len(), t.elapsed());
    }
}

/// Kill -9 one of three workers when about half of a graph of more than 10,000
/// tasks has run (progress read from the `tick` kernel's count): the result
/// is the local one, bit for bit, and the survivors go on.
#[test]
fn worker_killed_half_way_through_ten_thousand_tasks() {
    register_test_kernels();
    let dir = tempfile::tempdir().unwrap();
    let ticks = dir.path().join("ticks");
    let mut c = test_cluster(3, 1, Some(&ticks));
    let client = c.client().unwrap();
    // 62 x 55 chunks of 10 x 10: a tick per chunk, then a fused chain and a
    // reduction tree over all of them.
    let x = DArray::<f64>::random_normal(11, &[620, 550], 0.0, 1.0, [10, 10]).unwrap();
    let t: DArray<f64> = x.map_blocks("tick").unwrap();
    let y = (t.sin() * &x).unwrap();
    let out = y.std_axis(0, 0.0).unwrap();
    let n_tasks = out.graph().unwrap().len();
    assert!(n_tasks >= 10_000, "{n_tasks} tasks");
    let n_ticks = 62 * 55;
    let want = out.compute_with(&local()).unwrap();

    let finished = AtomicBool::new(false);
    let t0 = Instant::now();
    let (got, killed_at) = std::thread::scope(|s| {
        let killer = s.spawn(|| loop {
            let done = std::fs::metadata(&ticks).map_or(0, |m| m.len() as usize);
            if done * 2 >= n_ticks {
                if finished.load(Ordering::SeqCst) {
                    return None;
                }
                c.kill_worker(0).unwrap();
                return Some((done, t0.elapsed()));
            }
            if finished.load(Ordering::SeqCst) || t0.elapsed() > Duration::from_secs(120) {
                return None;
            }
            std::thread::sleep(Duration::from_millis(2));
        });
        let got = out.compute_with(&client);
        finished.store(true, Ordering::SeqCst);
        (got, killer.join().unwrap())
    });
    let total = t0.elapsed();
    let (done, at) = killed_at.expect("the worker was killed while the graph ran");
    assert_bits_eq(&want, &got.unwrap());
    let run = client.last_stats().tasks;
    eprintln!(
        "{n_tasks} tasks; worker killed after {done}/{n_ticks} ticks at {at:?} of {total:?}; \
         {run} tasks run (recomputations included)"
    );
    assert_eq!(client.info().unwrap().0, 2);
    // The survivors compute the next graph alone.
    let s = y.sum().unwrap();
    assert_bits_eq(
        &s.compute_with(&local()).unwrap(),
        &s.compute_with(&client).unwrap(),
    );
}

/// A worker killed while it sends a chunk to another worker: the fetching
/// worker sees the transfer break, the scheduler recomputes what was lost, and
/// the result is the local one, bit for bit. Peer sends are throttled
/// (the hidden `--test-peer-send-bytes-per-sec` flag) so that each 512 KiB chunk takes
/// about a second on the wire; the sender is killed right after it logs
/// that its first bytes are out.
#[test]
fn worker_killed_while_sending_a_chunk_to_a_peer() {
    let c = LocalCluster::builder(0).build().unwrap();
    let throttle = ["--test-peer-send-bytes-per-sec", "500000"];
    let mut workers: Vec<LoggedWorker> = (0..3)
        .map(|i| LoggedWorker::start(&c, &format!("w{i}"), &throttle))
        .collect();
    let client = c.client().unwrap();
    if let Err(e) = client.wait_for_workers(3, Duration::from_secs(180)) {
        let logs: String = workers
            .iter_mut()
            .enumerate()
            .map(|(i, w)| w.report(&format!("w{i}")))
            .collect();
        panic!("{e}; what the workers logged:\n{logs}");
    }
    let addrs: Vec<_> = workers
        .iter()
        .map(|w| worker_peer_addr(w.child.id()))
        .collect();

    // Every block of the product needs a row and a column of 512 KiB blocks,
    // most of them held by other workers.
    let x = DArray::<f64>::random_normal(21, &[512, 512], 0.0, 1.0, [256, 256]).unwrap();
    let p = linalg::matmul(&x, &x).unwrap().sum_axis(0).unwrap();
    let want = p.compute_with(&local()).unwrap();

    let t0 = Instant::now();
    let (got, victim) = std::thread::scope(|s| {
        let job = s.spawn(|| p.compute_with(&client));
        let deadline = Instant::now() + Duration::from_secs(120);
        let mut victim = None;
        while victim.is_none() && Instant::now() < deadline && !job.is_finished() {
            for (i, w) in workers.iter_mut().enumerate() {
                w.drain();
                if w.seen.iter().any(|l| l.contains("peer send throttled")) {
                    w.kill();
                    eprintln!("killed w{i} mid-send at {:?}", t0.elapsed());
                    victim = Some(i);
                    break;
                }
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        (job.join().unwrap(), victim)
    });
    let victim = victim.expect("a worker started sending a chunk to a peer");
    assert_bits_eq(&want, &got.unwrap());
    eprintln!("completed at {:?}", t0.elapsed());

    // A survivor's fetch from the victim broke in the middle.
    let victim_addr = addrs[victim].to_string();
    let broke: Vec<String> = workers
        .iter_mut()
        .enumerate()
        .filter(|(i, _)| *i != victim)
        .flat_map(|(_, w)| {
            w.drain();
            w.seen.clone()
        })
        .filter(|l| l.contains("fetch failed") && l.contains(&victim_addr))
        // Inside the chunk frame: the stream ended or was reset mid-transfer.
        .filter(|l| l.contains("unexpected end of file") || l.contains("reset"))
        .collect();
    assert!(
        !broke.is_empty(),
        "no survivor saw its fetch from {victim_addr} break"
    );
    eprintln!("{}", broke[0]);
    // The survivors go on (small chunks, so the throttle costs little).
    assert_eq!(client.info().unwrap().0, 2);
    let y = DArray::<f64>::random_normal(22, &[200, 200], 0.0, 1.0, [50, 50]).unwrap();
    let q = linalg::matmul(&y, &y.t()).unwrap().sum().unwrap();
    assert_bits_eq(
        &q.compute_with(&local()).unwrap(),
        &q.compute_with(&client).unwrap(),
    );
}

/// A `darray scheduler` whose log pipe is closed (its reader gone, as with
/// `darray scheduler | head`) keeps its workers and computes: a failed log
/// write is not a failed connection.
#[test]
fn scheduler_with_a_closed_log_pipe_keeps_its_workers() {
    use std::io::BufRead;
    use std::process::{Command, Stdio};
    let dir = tempfile::tempdir().unwrap();
    let secret_path = dir.path().join("secret");
    let secret = darray::distributed::auth::Secret::generate();
    secret.write_file(&secret_path).unwrap();
    // A free port (the log line names the address asked for, not the one bound).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let bin = env!("CARGO_BIN_EXE_darray");
    let mut sched = Command::new(bin)
        .args(["scheduler", "--listen", &addr, "--secret-file"])
        .arg(&secret_path)
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(sched.stderr.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    assert!(first.contains("scheduler listening"), "{first}");
    drop(lines); // the log pipe's only reader
    let mut worker = Command::new(bin)
        .args(["worker", "--scheduler", &addr, "--listen", "127.0.0.1:0"])
        .env("DARRAY_SECRET_FILE", &secret_path)
        .env_remove("DARRAY_SECRET")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let res = (|| {
        let client = darray::distributed::Client::connect_with(
            &addr,
            &secret,
            darray::distributed::wire::Limits::default(),
        )?;
        client.wait_for_workers(1, Duration::from_secs(120))?;
        let x = DArray::<f64>::random_normal(5, &[300, 200], 0.0, 1.0, [60, 50])?;
        let m = x.cos().mean_axis(0)?;
        let got = m.compute_with(&client)?;
        assert_bits_eq(&m.compute_with(&local())?, &got);
        assert_eq!(client.info()?.0, 1);
        Ok::<_, darray::Error>(())
    })();
    for c in [&mut worker, &mut sched] {
        let _ = c.kill();
        let _ = c.wait();
    }
    res.unwrap();
}
