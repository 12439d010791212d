//! A restarted scheduler gets its workers back. In a binary of its own: the
//! restart frees the scheduler's port for a moment, and a cluster started by
//! a test running alongside could be handed that port and meet the other
//! cluster's workers (which then fail its secret).

mod common;

use common::*;
use darray::distributed::LocalCluster;
use darray::{DArray, Error, LocalExecutor};
use std::time::{Duration, Instant};

fn cluster(n: usize, nthreads: usize) -> LocalCluster {
    LocalCluster::builder(n)
        .nthreads(nthreads)
        .worker_command(env!("CARGO_BIN_EXE_darray"), ["worker"])
        .build()
        .expect("cluster starts")
}

fn local() -> LocalExecutor {
    LocalExecutor::with_threads(2).unwrap()
}

#[test]
fn restarted_scheduler_gets_its_workers_back() {
    let mut c = cluster(2, 1);
    let old = c.client().unwrap();
    let x = DArray::<f64>::random_uniform(9, &[200, 300], -1.0, 1.0, [50, 70]).unwrap();
    let m = x.cos().mean_axis(1).unwrap();
    let want = m.compute_with(&local()).unwrap();
    assert_bits_eq(&want, &m.compute_with(&old).unwrap());
    c.restart_scheduler().unwrap();
    // The old connection fails at once with a clear error, not a hang.
    let t = std::time::Instant::now();
    match m.compute_with(&old) {
        Err(Error::Executor(msg)) => assert!(msg.contains("scheduler"), "{msg}"),
        other => panic!("expected an executor error, got {other:?}"),
    }
    assert!(t.elapsed() < std::time::Duration::from_secs(5));
    let client = c.client().unwrap();
    client
        .wait_for_workers(2, std::time::Duration::from_secs(30))
        .unwrap();
    assert_bits_eq(&want, &m.compute_with(&client).unwrap());
}

/// A worker started with `--exit-with-stdin` (as `LocalCluster` starts them)
/// exits once its standard input closes, so workers never outlive a parent
/// that died without dropping its cluster; one without the flag keeps trying.
#[test]
fn workers_exit_when_their_parent_goes() {
    use std::process::{Command, Stdio};
    let c = cluster(1, 1);
    let secret = c.secret_file().to_path_buf();
    let start = |watch: bool| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_darray"));
        cmd.args([
            "worker",
            "--scheduler",
            c.scheduler_addr(),
            "--listen",
            "127.0.0.1:0",
        ])
        .env("DARRAY_SECRET_FILE", &secret)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
        if watch {
            cmd.arg("--exit-with-stdin");
        }
        cmd.spawn().unwrap()
    };
    let mut watching = start(true);
    let mut plain = start(false);
    let client = c.client().unwrap();
    client.wait_for_workers(3, Duration::from_secs(30)).unwrap();
    drop(watching.stdin.take());
    drop(plain.stdin.take());
    let t = Instant::now();
    let status = loop {
        if let Some(s) = watching.try_wait().unwrap() {
            break Some(s);
        }
        if t.elapsed() > Duration::from_secs(10) {
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let plain_alive = plain.try_wait().unwrap().is_none();
    let _ = plain.kill();
    let _ = plain.wait();
    let _ = watching.kill();
    let status = status.expect("the watching worker exits within 10 s of its stdin closing");
    assert!(status.success(), "clean exit, got {status:?}");
    assert!(plain_alive, "a worker without the flag ignores its stdin");
}
