//! Task slots with an injected memory probe: pause and resume, spilled inputs
//! read back, task bodies on the worker's rayon pool with panics reported.

use super::shared::{dispose, Shared};
use super::slots::{runs_inline, slot, Queued};
use super::*;
use crate::distributed::proto::{read_msg, FromWorker, Hello, InputLoc, Outgoing};
use crate::distributed::wire::decode;
use crate::graph::Op;
use darray_kernels::Chunk;
use memory::MemoryProbe;
use ndarray::{ArrayD, IxDyn};
use parking_lot::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::mpsc;

#[derive(Debug, Default)]
struct FakeProbe(AtomicU64);

impl MemoryProbe for FakeProbe {
    fn rss(&self) -> Option<u64> {
        Some(self.0.load(Ordering::SeqCst))
    }
}

struct Fixture {
    _base: tempfile::TempDir,
    probe: Arc<FakeProbe>,
    shared: Arc<Shared>,
    rx: mpsc::UnboundedReceiver<Outgoing>,
}

/// A worker's state with `limit` bytes (target 0.6, spill 0.7, pause 0.8),
/// its messages to the scheduler going to `rx`, and one slot running.
fn worker(limit: u64) -> Fixture {
    let base = tempfile::tempdir().unwrap();
    let probe = Arc::new(FakeProbe::default());
    let config = WorkerConfig {
        scheduler: "127.0.0.1:9".parse().unwrap(),
        nthreads: 1,
        memory_limit: limit,
        memory_fractions: MemoryFractions::default(),
        memory_probe: Some(probe.clone()),
        listen: "127.0.0.1:0".parse().unwrap(),
        local_dir: None,
        name: "test".into(),
        limits: Limits::default(),
        reconnect_for: Duration::from_secs(1),
        peer_send_bytes_per_sec: None,
    };
    let shared =
        Arc::new(Shared::new(&config, Arc::new(Secret::generate()), None, base.path()).unwrap());
    let (tx, rx) = mpsc::unbounded_channel();
    *shared.to_sched.lock() = Some(tx);
    tokio::spawn(slot(shared.clone()));
    Fixture {
        _base: base,
        probe,
        shared,
        rx,
    }
}

fn f64_chunk(rows: usize, cols: usize) -> Chunk {
    Chunk::F64(ArrayD::from_shape_fn(IxDyn(&[rows, cols]), |i| {
        (i[0] * cols + i[1]) as f64 - 0.5
    }))
}

/// Queues task `task` of job 1 with inputs held here.
fn queue(shared: &Shared, task: u32, op: Op, inputs: &[u32]) {
    shared.queue.lock().push_back(Queued {
        generation: shared.generation(),
        job: 1,
        task,
        attempt: 1,
        mem_bytes: 0,
        op,
        inputs: inputs
            .iter()
            .map(|&t| InputLoc {
                task: t,
                holders: Vec::new(),
            })
            .collect(),
    });
    shared.notify.notify_one();
}

/// The next message to the scheduler other than a heartbeat.
async fn next(rx: &mut mpsc::UnboundedReceiver<Outgoing>) -> FromWorker {
    loop {
        let (bytes, _) = tokio::time::timeout(Duration::from_secs(60), rx.recv())
            .await
            .expect("a message within 60 s")
            .expect("channel open");
        let msg: FromWorker = decode(&bytes).unwrap();
        if !matches!(msg, FromWorker::Heartbeat { .. }) {
            return msg;
        }
    }
}

fn transpose() -> Op {
    Op::Transpose { perm: vec![1, 0] }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_worker_starts_no_task_until_memory_drops() {
    let mut f = worker(1 << 20);
    f.shared.memory.insert((1, 0), Arc::new(f64_chunk(4, 3)));
    f.probe.0.store(900 << 10, Ordering::SeqCst); // above pause (0.8 MiB)
    f.shared.memory.check();
    assert!(f.shared.memory.is_paused());
    queue(&f.shared, 1, transpose(), &[0]);
    // Nothing starts while paused (a negative check: a slow machine can only
    // make it pass), and the task stays queued, where a steal finds it.
    let quiet = tokio::time::timeout(Duration::from_millis(300), f.rx.recv()).await;
    assert!(quiet.is_err(), "a message while paused");
    assert_eq!(f.shared.queue.lock().len(), 1);

    f.probe.0.store(100 << 10, Ordering::SeqCst);
    f.shared.memory.check();
    assert!(!f.shared.memory.is_paused());
    match next(&mut f.rx).await {
        FromWorker::Done {
            job: 1,
            task: 1,
            nbytes,
            ..
        } => assert_eq!(nbytes, 96),
        other => panic!("expected Done, got {other:?}"),
    }
    assert!(f.shared.queue.lock().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spilled_inputs_are_read_back_and_results_spilled_after_the_task() {
    // Limit 1000: target 600. The input (4 KiB) is over it by itself.
    let mut f = worker(1000);
    let input = f64_chunk(16, 32);
    f.shared.memory.insert((1, 0), Arc::new(input.clone()));
    let pass = f.shared.memory.spill_to_target();
    assert_eq!(pass.bytes, 4096);
    queue(&f.shared, 1, transpose(), &[0]);
    assert!(matches!(
        next(&mut f.rx).await,
        FromWorker::Done { task: 1, .. }
    ));
    // The slot spills down to target before looking for more work, and says
    // so: both the input (read back for the task) and the result go to disk.
    let r = loop {
        let (bytes, _) = tokio::time::timeout(Duration::from_secs(60), f.rx.recv())
            .await
            .expect("a heartbeat after the spill")
            .unwrap();
        if let FromWorker::Heartbeat { memory } = decode(&bytes).unwrap() {
            break memory;
        }
    };
    assert_eq!((r.memory, r.spilled), (0, 8192));
    assert_eq!(r.spilled_total, 3 * 4096);
    let got = f.shared.load((1, 1)).await.expect("held");
    let Chunk::F64(a) = &*got else { panic!("f64") };
    let Chunk::F64(x) = &input else {
        unreachable!()
    };
    assert_eq!(a, &x.t().to_owned());
    // Released: the files go (off the reactor).
    let removed = f.shared.memory.release([(1, 0), (1, 1)]);
    tokio::task::spawn_blocking(move || removed.delete_files())
        .await
        .unwrap();
    assert_eq!(std::fs::read_dir(f.shared.memory.dir()).unwrap().count(), 0);
}

static TASK_THREAD: Mutex<Option<String>> = Mutex::new(None);

fn record_thread(inputs: &[&Chunk]) -> std::result::Result<Chunk, String> {
    *TASK_THREAD.lock() = std::thread::current().name().map(String::from);
    Ok(inputs[0].clone())
}

fn panics(_: &[&Chunk]) -> std::result::Result<Chunk, String> {
    panic!("boom in a kernel")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn task_bodies_run_on_the_rayon_pool_and_panics_become_errors() {
    crate::register_kernel_raw("worker-test-record-thread", record_thread).unwrap();
    crate::register_kernel_raw("worker-test-panics", panics).unwrap();
    let mut f = worker(1 << 30);
    f.shared.memory.insert((1, 0), Arc::new(f64_chunk(2, 2)));
    let map = |kernel: &str| Op::MapBlocks {
        kernel: kernel.into(),
        dtype: darray_kernels::DType::F64,
        shape: vec![2, 2],
        call: None,
    };
    queue(&f.shared, 1, map("worker-test-record-thread"), &[0]);
    assert!(matches!(
        next(&mut f.rx).await,
        FromWorker::Done { task: 1, .. }
    ));
    assert_eq!(TASK_THREAD.lock().as_deref(), Some("darray-task-0"));
    queue(&f.shared, 2, map("worker-test-panics"), &[0]);
    match next(&mut f.rx).await {
        FromWorker::Failed {
            task: 2, message, ..
        } => {
            assert!(message.contains("panic: boom in a kernel"), "{message}");
        }
        other => panic!("expected Failed, got {other:?}"),
    }
    // The slot goes on.
    queue(&f.shared, 3, transpose(), &[0]);
    assert!(matches!(
        next(&mut f.rx).await,
        FromWorker::Done { task: 3, .. }
    ));
}

#[tokio::test]
async fn released_chunks_nothing_else_holds_go_back_to_the_read_pool() {
    let f = worker(1 << 30);
    // 2 MiB chunks: over the pool's minimum size.
    let held = Arc::new(f64_chunk(512, 512));
    f.shared
        .memory
        .insert((1, 0), Arc::new(f64_chunk(512, 512)));
    f.shared.memory.insert((1, 1), held.clone());
    dispose(&f.shared, f.shared.memory.release([(1, 0), (1, 1)]));
    // The chunk still referenced elsewhere is not pooled; the other one is.
    assert_eq!(f.shared.ctx.store.pooled(), 1);
    assert_eq!(held.nbytes(), 512 * 512 * 8);
}

#[test]
fn only_small_computing_tasks_run_inline() {
    let small = super::super::scheduler::SMALL_TASK_BYTES;
    assert!(runs_inline(&transpose(), 0));
    assert!(runs_inline(&transpose(), small));
    assert!(!runs_inline(&transpose(), small + 1));
    let kernel = Op::MapBlocks {
        kernel: "k".into(),
        dtype: darray_kernels::DType::F64,
        shape: vec![1],
        call: None,
    };
    assert!(!runs_inline(&kernel, 8));
    let write = Op::WriteZarr {
        path: "x".into(),
        chunk: vec![0],
    };
    assert!(!runs_inline(&write, 8));
    let linalg = Op::Linalg {
        op: darray_kernels::linalg::LinalgOp::SumBlocks,
    };
    assert!(!runs_inline(&linalg, 8));
    let read = Op::ReadZarr {
        path: "x".into(),
        region: std::iter::once(0..1).collect(),
        dtype: darray_kernels::DType::F64,
    };
    assert!(!runs_inline(&read, 8));
}

#[tokio::test]
async fn a_small_task_run_inline_is_reported_and_held() {
    let mut f = worker(1 << 30);
    f.shared.memory.insert((1, 0), Arc::new(f64_chunk(2, 3)));
    // 48 bytes: small, so it runs on the slot, not the pool.
    queue(&f.shared, 1, transpose(), &[0]);
    match next(&mut f.rx).await {
        FromWorker::Done {
            task: 1, nbytes, ..
        } => assert_eq!(nbytes, 48),
        other => panic!("expected Done, got {other:?}"),
    }
    let got = f.shared.memory.lookup((1, 1));
    match got {
        memory::Lookup::Memory(c) => assert_eq!(c.shape(), &[3, 2]),
        _ => panic!("result not held"),
    }
}

/// A one-thread worker of `scheduler` with 1 GiB and the default limits.
fn plain_config(scheduler: SocketAddr, name: &str, reconnect_for: Duration) -> WorkerConfig {
    WorkerConfig {
        scheduler,
        nthreads: 1,
        memory_limit: 1 << 30,
        memory_fractions: MemoryFractions::default(),
        memory_probe: None,
        listen: "127.0.0.1:0".parse().unwrap(),
        local_dir: None,
        name: name.into(),
        limits: Limits::default(),
        reconnect_for,
        peer_send_bytes_per_sec: None,
    }
}

/// A scheduler address that accepts connections and drops them during the
/// handshake: the worker's attempts back off (50 ms doubling to 2 s) instead
/// of retrying some twenty times a second, and it gives up after
/// `reconnect_for` with no session that lasted.
#[tokio::test]
async fn reconnection_attempts_back_off_when_the_scheduler_keeps_dropping_us() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicU64::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        while let Ok((s, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            drop(s);
        }
    });
    let config = plain_config(addr, "backoff", Duration::from_secs(3));
    let res = tokio::time::timeout(
        Duration::from_secs(60),
        run(config, Arc::new(Secret::generate())),
    )
    .await;
    let res = res.expect("the worker gives up within reconnect_for plus its backoff");
    assert!(matches!(res, Err(WireError::Refused(_))), "{res:?}");
    // Sessions and probes both connect: 50+100+...+1600 ms of waits fit
    // about 6 attempts (12 connections) in 3 s; without backoff it was ~60.
    let n = accepted.load(Ordering::SeqCst);
    assert!((2..=20).contains(&n), "{n} connections in 3 s");
}

/// A worker started before its scheduler waits for it (refused connections
/// are retried with backoff) and registers once it listens; one whose
/// scheduler never comes gives up after `reconnect_for`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_started_before_its_scheduler_waits_for_it() {
    // An address nothing listens on yet (bound once to find a free port).
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let secret = Arc::new(Secret::generate());
    let config = |reconnect_for| plain_config(addr, "early", reconnect_for);
    let gone = tokio::time::timeout(
        Duration::from_secs(30),
        run(config(Duration::from_millis(300)), secret.clone()),
    )
    .await
    .expect("gives up after reconnect_for");
    assert!(
        matches!(&gone, Err(WireError::Refused(m)) if m.contains("no scheduler")),
        "{gone:?}"
    );

    let worker = tokio::spawn(run(config(Duration::from_secs(60)), secret.clone()));
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(
        !worker.is_finished(),
        "the worker exited instead of waiting"
    );
    // The scheduler comes up on that address; the worker authenticates and
    // says hello (after a probe that only connects and closes).
    let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
    let lim = Limits::default();
    let hello = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            let (mut conn, _) = listener.accept().await.unwrap();
            match crate::distributed::auth::handshake_acceptor(&mut conn, &secret, &lim).await {
                Ok(()) => return read_msg::<Hello, _>(&mut conn, &lim).await.unwrap(),
                Err(WireError::Closed) => {}
                Err(e) => panic!("handshake: {e}"),
            }
        }
    })
    .await
    .expect("the worker connects once the scheduler listens");
    assert!(
        matches!(hello, Hello::Worker { ref name, .. } if name == "early"),
        "{hello:?}"
    );
    worker.abort();
}

/// A task's inputs held by different peers are fetched at once: peer A keeps
/// its connection silent until peer B has been reached, which a worker
/// fetching one input after the other only does once A's handshake has timed
/// out (5 s; A gives up waiting after 3 s). Both peers then hang up, and the
/// task reports both inputs missing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inputs_on_different_peers_are_fetched_at_once() {
    let mut f = worker(1 << 30);
    let a = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let b = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (addr_a, addr_b) = (a.local_addr().unwrap(), b.local_addr().unwrap());
    let (reached_b, b_seen) = tokio::sync::oneshot::channel::<()>();
    let peer_b = tokio::spawn(async move {
        let (conn, _) = b.accept().await.unwrap();
        let _ = reached_b.send(());
        drop(conn);
    });
    let peer_a = tokio::spawn(async move {
        let (conn, _) = a.accept().await.unwrap();
        let overlapped = tokio::time::timeout(Duration::from_secs(3), b_seen)
            .await
            .is_ok();
        drop(conn);
        overlapped
    });
    f.shared.queue.lock().push_back(Queued {
        generation: f.shared.generation(),
        job: 1,
        task: 2,
        attempt: 1,
        mem_bytes: 0,
        op: Op::Linalg {
            op: darray_kernels::linalg::LinalgOp::SumBlocks,
        },
        inputs: [(0, addr_a), (1, addr_b)]
            .into_iter()
            .map(|(task, holder)| InputLoc {
                task,
                holders: vec![holder],
            })
            .collect(),
    });
    f.shared.notify.notify_one();
    assert!(peer_a.await.unwrap(), "peer B reached while A was pending");
    peer_b.await.unwrap();
    match next(&mut f.rx).await {
        FromWorker::Missing {
            task: 2, inputs, ..
        } => assert_eq!(
            inputs,
            vec![(0, vec![addr_a]), (1, vec![addr_b])],
            "both missing, in input order"
        ),
        other => panic!("expected Missing, got {other:?}"),
    }
}

/// A worker run in-process creates its local directory and spills under it,
/// and leaves the process's working directory as it was (it used to change
/// into the local directory, for every thread of the process).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_leaves_the_working_directory_alone() {
    let before = std::env::current_dir().unwrap();
    let base = tempfile::tempdir().unwrap();
    let local = base.path().join("worker-dir");
    // An address nothing listens on: the worker retries, then gives up.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let mut config = plain_config(addr, "cwd", Duration::from_millis(800));
    config.local_dir = Some(local.clone());
    let worker = tokio::spawn(run(config, Arc::new(Secret::generate())));
    tokio::time::sleep(Duration::from_millis(200)).await;
    let spill_dirs: Vec<_> = std::fs::read_dir(&local)
        .expect("the local directory is created")
        .collect();
    assert_eq!(spill_dirs.len(), 1, "one spill directory under it");
    assert_eq!(std::env::current_dir().unwrap(), before);
    let res = tokio::time::timeout(Duration::from_secs(30), worker)
        .await
        .expect("gives up after reconnect_for")
        .unwrap();
    assert!(matches!(res, Err(WireError::Refused(_))), "{res:?}");
    assert_eq!(std::env::current_dir().unwrap(), before);
    assert_eq!(
        std::fs::read_dir(&local).unwrap().count(),
        0,
        "spill directory removed"
    );
}
