//! Futures: dependencies resolve to the plain-Rust values on 1 and 2 threads,
//! failures name the failing key, function and message while other branches
//! stay available, cancel, wait with a timeout, dropping releases results,
//! as_completed yields each future once, scatter, and the same futures on a
//! 2-worker cluster.

mod common;

use common::*;
use darray::delayed::{self, val, AnyFuture, Future, FutureStatus, Futures};
use darray::distributed::{Client, LocalCluster};
use darray::{submit, Error};
use futures_util::StreamExt;
use parking_lot::Mutex;
use proptest::prelude::*;
use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// Calls of `f-counted` per ticket (each test uses its own tickets).
static CALLS: Mutex<Vec<u64>> = Mutex::new(Vec::new());
/// Tickets whose `f-blocked` calls may return.
static OPEN: Mutex<Option<HashSet<u64>>> = Mutex::new(None);
static NEXT_TICKET: AtomicU64 = AtomicU64::new(1);

fn ticket() -> u64 {
    NEXT_TICKET.fetch_add(1, Ordering::SeqCst)
}

fn open(t: u64) {
    OPEN.lock().get_or_insert_with(HashSet::new).insert(t);
}

/// Blocks until `t` is opened (a task that stands for long work).
fn blocked(t: u64) -> f64 {
    while !OPEN.lock().as_ref().is_some_and(|s| s.contains(&t)) {
        std::thread::sleep(Duration::from_millis(1));
    }
    t as f64
}

fn counted(t: u64) -> u64 {
    CALLS.lock().push(t);
    t
}

fn calls_of(t: u64) -> usize {
    CALLS.lock().iter().filter(|&&c| c == t).count()
}

/// A mixing step (splitmix64 of both inputs): any change of order or input
/// changes the value.
fn mix(a: u64, b: u64) -> u64 {
    let mut z = a.rotate_left(17) ^ b.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z ^ (z >> 27)
}

fn inc(x: u64) -> u64 {
    x + 1
}

fn checked_sqrt(x: f64) -> Result<f64, String> {
    if x < 0.0 {
        Err(format!("negative input {x}"))
    } else {
        Ok(x.sqrt())
    }
}

fn total(v: Vec<f64>, k: f64) -> f64 {
    v.iter().sum::<f64>() * k
}

fn setup() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        delayed::register("f-blocked", blocked).unwrap();
        delayed::register("f-counted", counted).unwrap();
        delayed::register("mix", mix).unwrap();
        delayed::register("inc", inc).unwrap();
        delayed::register_fallible("f-sqrt", checked_sqrt).unwrap();
        delayed::register("total", total).unwrap();
    });
}

extern "C" fn serve_as_futures_worker() {
    if std::env::var_os(darray::distributed::WORKER_ENV).is_none() {
        return;
    }
    setup();
    darray::distributed::serve_if_worker();
}

#[used]
#[cfg_attr(not(target_vendor = "apple"), link_section = ".init_array")]
#[cfg_attr(target_vendor = "apple", link_section = "__DATA,__mod_init_func")]
static SERVE_AS_FUTURES_WORKER: extern "C" fn() = serve_as_futures_worker;

/// A random DAG: node `i` mixes two earlier nodes (or seeds), as `(left,
/// right)` indices into the values so far, `None` for a seed value.
fn dag() -> impl Strategy<Value = Vec<(Option<usize>, Option<usize>, u64)>> {
    proptest::collection::vec((any::<u16>(), any::<u16>(), any::<u64>()), 1..40).prop_map(|v| {
        v.into_iter()
            .enumerate()
            .map(|(i, (l, r, seed))| {
                let pick = |x: u16| (i > 0 && !x.is_multiple_of(4)).then(|| usize::from(x) % i);
                (pick(l), pick(r), seed)
            })
            .collect()
    })
}

/// Submits the DAG (futures as arguments, work submitted while earlier work
/// runs) and returns the last node's value and every node's.
fn run_dag(futures: &Futures, nodes: &[(Option<usize>, Option<usize>, u64)]) -> Vec<u64> {
    let mut fs: Vec<Future<u64>> = Vec::new();
    for &(l, r, seed) in nodes {
        let f = match (l, r) {
            (Some(l), Some(r)) => submit!(futures, mix(&fs[l], &fs[r])),
            (Some(l), None) => submit!(futures, mix(&fs[l], seed)),
            (None, Some(r)) => submit!(futures, mix(seed, &fs[r])),
            (None, None) => submit!(futures, mix(seed, seed ^ 1)),
        };
        fs.push(f.unwrap());
    }
    futures.gather(&fs).unwrap()
}

fn plain_dag(nodes: &[(Option<usize>, Option<usize>, u64)]) -> Vec<u64> {
    let mut v: Vec<u64> = Vec::new();
    for &(l, r, seed) in nodes {
        let x = match (l, r) {
            (Some(l), Some(r)) => mix(v[l], v[r]),
            (Some(l), None) => mix(v[l], seed),
            (None, Some(r)) => mix(seed, v[r]),
            (None, None) => mix(seed, seed ^ 1),
        };
        v.push(x);
    }
    v
}

proptest! {
    #![proptest_config(config(24))]

    /// Every future of a random DAG equals the plain-Rust value, on 1 and 2
    /// threads; afterwards nothing is held but what the handles keep.
    #[test]
    fn dependencies_resolve_on_one_and_two_threads(nodes in dag()) {
        setup();
        let want = plain_dag(&nodes);
        for (threads, batch) in [(1, 1), (2, 1), (2, 4)] {
            let futures = Futures::local(threads).unwrap().batch(batch);
            prop_assert_eq!(&run_dag(&futures, &nodes), &want);
            prop_assert_eq!(futures.held().futures, 0);
            prop_assert_eq!(futures.held().bytes, 0);
            prop_assert_eq!(futures.tasks_run(), nodes.len() as u64);
        }
    }
}

#[test]
fn map_gather_and_the_typed_submit() {
    setup();
    let futures = Futures::local(2).unwrap();
    let fs = futures
        .map::<u64, _>("inc", (0..50u64).map(|x| (val(&x),)))
        .unwrap();
    let got = futures.gather(&fs).unwrap();
    assert_eq!(got, (1..=50).collect::<Vec<u64>>());
    let s = futures
        .submit::<u64, _>("mix", (&fs[3], val(&7u64)))
        .unwrap();
    assert_eq!(s.result().unwrap(), mix(4, 7));
    assert_eq!(s.function(), "mix");
    assert!(s.key().starts_with("mix-"), "{}", s.key());
}

#[test]
fn wrong_calls_are_refused_when_submitted() {
    setup();
    let futures = Futures::local(1).unwrap();
    let e = futures
        .submit::<u64, _>("f-nowhere", (val(&1u64),))
        .unwrap_err();
    assert!(
        matches!(e, Error::UnknownFunction(ref n) if n == "f-nowhere"),
        "{e}"
    );
    let e = futures
        .submit::<u64, _>("inc", (val(&1.0f64),))
        .unwrap_err();
    assert!(matches!(e, Error::FunctionSignature { .. }), "{e}");
    let e = futures
        .submit::<u64, _>("inc", (val(&1u64), val(&2u64)))
        .unwrap_err();
    assert!(matches!(e, Error::FunctionSignature { .. }), "{e}");
    // A future of another runner.
    let other = Futures::local(1).unwrap();
    let x = other.scatter(&3u64).unwrap();
    let e = submit!(futures, inc(&x)).unwrap_err();
    assert!(
        matches!(e, Error::DelayedValue { .. }) && e.to_string().contains("another Futures"),
        "{e}"
    );
}

#[test]
fn a_failure_names_key_function_and_message_and_spares_other_branches() {
    setup();
    let futures = Futures::local(2).unwrap();
    let ok = submit!(futures, "f-sqrt" => checked_sqrt(16.0)).unwrap();
    let bad = submit!(futures, "f-sqrt" => checked_sqrt(-4.0)).unwrap();
    let after_ok = submit!(futures, "total" => total(vec![1.0, 2.0], &ok)).unwrap();
    let after_bad = submit!(futures, "total" => total(vec![1.0], &bad)).unwrap();
    let further = submit!(futures, "f-sqrt" => checked_sqrt(&after_bad)).unwrap();
    for e in [
        bad.result().unwrap_err(),
        after_bad.result().unwrap_err(),
        further.result().unwrap_err(),
    ] {
        let Error::Task { key, source } = &e else {
            panic!("{e}")
        };
        assert_eq!(key, bad.key());
        assert!(
            matches!(&**source, Error::FunctionFailed { function, message }
                if function == "f-sqrt" && message.contains("negative input -4")),
            "{e}"
        );
    }
    assert_eq!(bad.status(), FutureStatus::Error);
    assert_eq!(further.status(), FutureStatus::Error);
    assert_eq!(ok.result().unwrap(), 4.0);
    assert_eq!(after_ok.result().unwrap(), 12.0);
    // A failed future in a gather: the first failure in order.
    let e = futures.gather(&[ok.clone(), bad.clone()]).unwrap_err();
    assert!(e.to_string().contains("negative input"), "{e}");
}

#[test]
fn cancel_stops_dependants_with_a_clear_error() {
    setup();
    let futures = Futures::local(1).unwrap();
    let (t_run, t_count) = (ticket(), ticket());
    let running = submit!(futures, "f-blocked" => blocked(t_run)).unwrap();
    // Queued behind `running` on the single driver: never starts.
    let queued = submit!(futures, "f-counted" => counted(t_count)).unwrap();
    let dependant = submit!(futures, inc(&queued)).unwrap();
    let grand = submit!(futures, inc(&dependant)).unwrap();
    futures.cancel(&[&queued]);
    assert_eq!(queued.status(), FutureStatus::Cancelled);
    let e = queued.result().unwrap_err();
    assert!(
        matches!(&e, Error::Cancelled { key, function, .. }
            if key == queued.key() && function == "f-counted"),
        "{e}"
    );
    for f in [&dependant, &grand] {
        let e = f.result().unwrap_err();
        let Error::Cancelled { key, reason, .. } = &e else {
            panic!("{e}")
        };
        assert_eq!(key, f.key());
        assert!(reason.contains("was cancelled"), "{e}");
    }
    assert!(dependant
        .result()
        .unwrap_err()
        .to_string()
        .contains(queued.key()));
    // A running future: its result is dropped when it ends.
    running.cancel();
    open(t_run);
    assert!(matches!(
        running.result().unwrap_err(),
        Error::Cancelled { .. }
    ));
    // Later work runs; the cancelled call never did.
    let later = submit!(futures, inc(1)).unwrap();
    assert_eq!(later.result().unwrap(), 2);
    assert_eq!(calls_of(t_count), 0);
    // Submitting on a cancelled future fails at once.
    let e = submit!(futures, inc(&queued))
        .unwrap()
        .result()
        .unwrap_err();
    assert!(matches!(e, Error::Cancelled { .. }), "{e}");
}

#[test]
fn wait_times_out_then_succeeds() {
    setup();
    let futures = Futures::local(2).unwrap();
    let t = ticket();
    let slow = submit!(futures, "f-blocked" => blocked(t)).unwrap();
    let quick = submit!(futures, inc(5)).unwrap();
    let e = futures
        .wait(&[&quick, &slow], Duration::from_millis(50))
        .unwrap_err();
    assert!(
        matches!(&e, Error::WaitTimeout { pending: 1, first, .. } if first == slow.key()),
        "{e}"
    );
    let e = slow.result_timeout(Duration::from_millis(10)).unwrap_err();
    assert!(matches!(e, Error::WaitTimeout { .. }), "{e}");
    assert!(quick.done());
    open(t);
    futures
        .wait(&[&quick, &slow], Duration::from_secs(30))
        .unwrap();
    assert_eq!(slow.result().unwrap(), t as f64);
}

#[test]
fn dropping_the_last_handle_releases_the_result() {
    setup();
    let futures = Futures::local(2).unwrap();
    let big = futures.scatter(&vec![1.5f64; 10_000]).unwrap();
    let scattered = futures.held();
    assert_eq!(scattered.results, 1);
    assert!(scattered.bytes >= 80_000, "{scattered:?}");
    // Twenty calls share the one scattered copy.
    let fs: Vec<Future<f64>> = (0..20)
        .map(|k| submit!(futures, total(&big, f64::from(k))).unwrap())
        .collect();
    let got = futures.gather(&fs).unwrap();
    assert_eq!(got[3], 15_000.0 * 3.0);
    let h = futures.held();
    assert_eq!(h.results, 21);
    assert!(h.bytes < scattered.bytes + 21 * 16, "{h:?}");
    let clone = fs[0].clone();
    drop(fs);
    assert_eq!(futures.held().results, 2, "the clone keeps one");
    drop(clone);
    drop(big);
    assert_eq!(futures.held(), delayed::Held::default());

    // A dropped argument lives until its dependant has started, then goes.
    let t = ticket();
    let gate = submit!(futures, "f-blocked" => blocked(t)).unwrap();
    let a = submit!(futures, "f-sqrt" => checked_sqrt(&gate)).unwrap();
    let b = submit!(futures, "f-sqrt" => checked_sqrt(&a)).unwrap();
    drop(a);
    drop(gate);
    assert_eq!(futures.held().futures, 3);
    open(t);
    assert_eq!(b.result().unwrap(), (t as f64).sqrt().sqrt());
    assert_eq!(futures.held().results, 1);
    assert_eq!(futures.held().futures, 1);

    // A future dropped before it starts, needed by no one, never runs.
    let t2 = ticket();
    let t3 = ticket();
    let gate = submit!(futures, "f-blocked" => blocked(t2)).unwrap();
    let _gate2 = submit!(futures, "f-blocked" => blocked(t2)).unwrap();
    let forgotten = submit!(futures, "f-counted" => counted(t3)).unwrap();
    drop(forgotten);
    open(t2);
    gate.result().unwrap();
    let after = submit!(futures, inc(1)).unwrap();
    after.result().unwrap();
    assert_eq!(calls_of(t3), 0);
}

#[test]
fn as_completed_yields_every_future_once_with_work_added_as_it_runs() {
    setup();
    let futures = Futures::local(2).unwrap();
    let fs = futures
        .map::<u64, _>("inc", (0..30u64).map(|x| (val(&x),)))
        .unwrap();
    let mut keys: Vec<String> = fs.iter().map(|f| f.key().to_string()).collect();
    let mut ac = futures.as_completed(fs.clone());
    ac.add(fs[0].clone()); // added twice: yielded once
    let mut seen: Vec<String> = Vec::new();
    let mut sum = 0;
    while let Some(f) = ac.next() {
        seen.push(f.key().to_string());
        let v = f.result().unwrap();
        sum += v;
        if v % 10 == 0 {
            let g = submit!(futures, inc(v * 100)).unwrap();
            keys.push(g.key().to_string());
            ac.add(g);
        }
    }
    assert_eq!(ac.remaining(), 0);
    seen.sort();
    keys.sort();
    assert_eq!(seen, keys);
    assert_eq!(sum, (1..=30).sum::<u64>() + 1001 + 2001 + 3001);

    // As an async stream, failures and cancellations included.
    let bad = submit!(futures, "f-sqrt" => checked_sqrt(-1.0)).unwrap();
    let t = ticket();
    let never = submit!(futures, "f-sqrt" => checked_sqrt(&submit!(futures, "f-blocked" => blocked(t)).unwrap()))
        .unwrap();
    let one = submit!(futures, "f-sqrt" => checked_sqrt(1.0)).unwrap();
    never.cancel();
    let mut stream = futures.as_completed([bad, one]).into_stream();
    stream.add(never);
    let statuses: Vec<FutureStatus> =
        futures_executor::block_on(stream.map(|f| f.status()).collect::<Vec<_>>());
    assert_eq!(statuses.len(), 3);
    for s in [
        FutureStatus::Error,
        FutureStatus::Cancelled,
        FutureStatus::Finished,
    ] {
        assert!(statuses.contains(&s), "{statuses:?}");
    }
    open(t);
}

#[test]
fn dropping_the_runner_cancels_what_did_not_run() {
    setup();
    let futures = Futures::local(1).unwrap();
    let t = ticket();
    let running = submit!(futures, "f-blocked" => blocked(t)).unwrap();
    let waiting = submit!(futures, "f-sqrt" => checked_sqrt(&running)).unwrap();
    while running.status() != FutureStatus::Running {
        std::thread::sleep(Duration::from_millis(1));
    }
    let opener = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(30));
        open(t);
    });
    drop(futures);
    opener.join().unwrap();
    assert_eq!(running.result().unwrap(), t as f64);
    let e = waiting.result().unwrap_err();
    assert!(
        matches!(&e, Error::Cancelled { reason, .. } if reason.contains("dropped")),
        "{e}"
    );
}

fn cluster() -> &'static (LocalCluster, Arc<Client>) {
    static C: OnceLock<(LocalCluster, Arc<Client>)> = OnceLock::new();
    C.get_or_init(|| {
        let c = LocalCluster::builder(2)
            .nthreads(1)
            .serve_in_main(true)
            .build()
            .expect("cluster starts");
        let client = Arc::new(c.client().unwrap());
        (c, client)
    })
}

#[test]
fn the_same_futures_on_a_two_worker_cluster() {
    setup();
    let (_, client) = cluster();
    let futures = Futures::new(client.clone(), 2).unwrap().batch(8);
    let nodes: Vec<(Option<usize>, Option<usize>, u64)> = (0..25usize)
        .map(|i| {
            let l = (i > 0).then(|| (i * 7) % i.max(1));
            let r = (i > 1 && !i.is_multiple_of(3)).then(|| (i * 5 + 1) % i.max(1));
            (l, r, i as u64 * 31)
        })
        .collect();
    assert_eq!(run_dag(&futures, &nodes), plain_dag(&nodes));
    // A failure on a worker names the function and message.
    let bad = submit!(futures, "f-sqrt" => checked_sqrt(-9.0)).unwrap();
    let e = bad.result().unwrap_err();
    let Error::Task { key, source } = &e else {
        panic!("{e}")
    };
    assert_eq!(key, bad.key());
    assert!(
        source.to_string().contains("f-sqrt") && source.to_string().contains("negative input"),
        "{e}"
    );
    // A failure inside a batch is charged to its own task; the rest finish.
    let xs: [f64; 6] = [4.0, 9.0, -1.0, 16.0, 25.0, 36.0];
    let roots = futures
        .map::<f64, _>("f-sqrt", xs.iter().map(|x| (val(x),)))
        .unwrap();
    for (x, f) in xs.iter().zip(&roots) {
        match f.result() {
            Ok(v) => assert_eq!(v, x.sqrt()),
            Err(Error::Task { key, .. }) => {
                assert!(*x < 0.0);
                assert_eq!(key, f.key());
            }
            Err(e) => panic!("{e}"),
        }
    }
    let fs = futures
        .map::<u64, _>("inc", (0..10u64).map(|x| (val(&x),)))
        .unwrap();
    let refs: Vec<&dyn AnyFuture> = fs.iter().map(|f| f as &dyn AnyFuture).collect();
    futures.wait(&refs, Duration::from_secs(60)).unwrap();
    assert_eq!(futures.gather(&fs).unwrap(), (1..=10).collect::<Vec<u64>>());
}

/// A future awaited in async code: pending while its call runs (the task is
/// woken when it is done, with no thread blocked on it), then its value; a
/// failure and a cancellation come back as errors; `(&f).await` keeps `f`.
#[test]
fn futures_can_be_awaited() {
    use std::future::{Future as _, IntoFuture};
    use std::task::{Context, Poll, Wake, Waker};
    setup();
    struct Flag(std::sync::atomic::AtomicBool);
    impl Wake for Flag {
        fn wake(self: std::sync::Arc<Self>) {
            self.0.store(true, Ordering::SeqCst);
        }
    }
    let futures = Futures::local(2).unwrap();
    let t = ticket();
    let slow = submit!(futures, "f-blocked" => blocked(t)).unwrap();
    let root = submit!(futures, "f-sqrt" => checked_sqrt(&slow)).unwrap();
    let flag = std::sync::Arc::new(Flag(std::sync::atomic::AtomicBool::new(false)));
    let waker = Waker::from(flag.clone());
    let mut cx = Context::from_waker(&waker);
    let mut pending = std::pin::pin!((&root).into_future());
    assert!(pending.as_mut().poll(&mut cx).is_pending());
    assert!(!flag.0.load(Ordering::SeqCst));
    open(t);
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !flag.0.load(Ordering::SeqCst) {
        assert!(std::time::Instant::now() < deadline, "never woken");
        std::thread::sleep(Duration::from_millis(1));
    }
    match pending.as_mut().poll(&mut cx) {
        Poll::Ready(v) => assert_eq!(v.unwrap(), (t as f64).sqrt()),
        Poll::Pending => panic!("woken but not ready"),
    }
    // Awaiting by reference keeps the handle; by value consumes it.
    let again = futures_executor::block_on(async { (&root).await });
    assert_eq!(again.unwrap(), (t as f64).sqrt());
    assert_eq!(root.result().unwrap(), (t as f64).sqrt());
    let bad = submit!(futures, "f-sqrt" => checked_sqrt(-4.0)).unwrap();
    let t2 = ticket();
    let never = submit!(futures, "f-blocked" => blocked(t2)).unwrap();
    never.cancel();
    let (b, n) = futures_executor::block_on(async { (bad.await, never.await) });
    let b = b.unwrap_err().to_string();
    assert!(b.contains("negative input -4"), "{b}");
    assert!(matches!(n, Err(darray::Error::Cancelled { .. })), "{n:?}");
    open(t2);
}
