//! Futures (dask's `client.submit`): calls of registered functions that start
//! as soon as their arguments are computed, while the program goes on
//! submitting more.
//!
//! A [`Futures`] runner owns a few driver threads over an [`Executor`] (the
//! local pool, or a cluster's [`Client`](crate::distributed::Client)). Each
//! submission is one `Op::Call` task of a registered function, data only:
//! when its argument futures are finished, a driver builds the one-call graph
//! (the arguments' results as `Op::Literal` inputs, shared, not copied) and
//! runs it on the executor. Results stay in the runner until every
//! [`Future`] handle of them is dropped and no pending submission needs them;
//! then they are released ([`Futures::held`] counts what is held).
//!
//! On a cluster the same runner works through the client's `Executor`, with
//! two limits: results come back to the client after each job and go out
//! again as literal inputs of the jobs that take them (so they stay in the
//! client process, not on the workers, and a scattered value travels with each
//! job that uses it); and the client runs one job at a time over its
//! connection, so ready tasks spread over the workers only when a driver takes
//! several at once ([`Futures::batch`]). Keeping results on workers needs
//! scheduler messages to keep a job's outputs after it ends and to release
//! them when the last handle is dropped.
//!
//! This module owns the runner and its handles; the bookkeeping is `state`'s,
//! completion order is `as_completed`'s, running a task is the executor's.

mod as_completed;
mod state;

pub use as_completed::{AsCompleted, AsCompletedStream};

use super::{registry, Delayed, Node, NodeArg, NodeKind, Val, DEFAULT_CALL_BYTES};
use crate::error::{Error, Result};
use crate::exec::{Executor, LocalExecutor};
use crate::graph::ArrayId;
use as_completed::Queue;
use darray_kernels::Chunk;
use parking_lot::{Condvar, Mutex};
use serde::de::DeserializeOwned;
use serde::Serialize;
use state::{Entry, Failure, Job, JobArg, PendArg, State, Status};
use std::any::type_name;
use std::marker::PhantomData;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// State shared by the runner, its drivers and every handle.
pub(crate) struct Shared {
    state: Mutex<State>,
    /// Signalled when a task becomes ready or the runner shuts down.
    work: Condvar,
    /// Signalled when any future is done.
    done: Condvar,
    exec: Arc<dyn Executor>,
}

/// A runner of futures over an executor: dask's `distributed.Client` futures
/// API (`submit`, `map`, `gather`, `as_completed`, `cancel`, `wait`,
/// `scatter`). Dropping it stops its drivers after the running tasks; futures
/// not done then fail as cancelled.
///
/// ```
/// use darray::delayed::{self, val, Futures};
/// fn add(a: i64, b: i64) -> i64 { a + b }
/// delayed::register("doc-futures-add", add).unwrap();
/// let futures = Futures::local(2)?;
/// let x = futures.scatter(&40i64)?;
/// let y = futures.submit::<i64, _>("doc-futures-add", (&x, val(&2i64)))?;
/// assert_eq!(y.result()?, 42);
/// # Ok::<(), darray::Error>(())
/// ```
pub struct Futures {
    shared: Arc<Shared>,
    drivers: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for Futures {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Futures")
            .field("drivers", &self.drivers.len())
            .finish_non_exhaustive()
    }
}

/// What a [`Futures`] runner holds now.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Held {
    /// Finished results held (scattered values included).
    pub results: usize,
    /// Their bytes (encoded values).
    pub bytes: u64,
    /// Futures known: held results, and tasks waiting, queued or running.
    pub futures: usize,
}

/// Where a future is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FutureStatus {
    /// Waiting for arguments, or queued.
    Pending,
    /// Running on the executor.
    Running,
    /// Its value is held.
    Finished,
    /// The function (or an argument's) failed.
    Error,
    /// Cancelled, or an argument was.
    Cancelled,
}

impl Futures {
    /// A runner of `drivers` tasks at once on `exec` (each driver runs one
    /// task at a time and waits for it). On a [`LocalExecutor`], one driver
    /// per thread keeps the pool busy.
    ///
    /// # Errors
    /// [`Error::Start`] if a driver thread cannot start.
    pub fn new(exec: Arc<dyn Executor>, drivers: usize) -> Result<Futures> {
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            work: Condvar::new(),
            done: Condvar::new(),
            exec,
        });
        let mut runner = Futures {
            shared,
            drivers: Vec::new(),
        };
        for i in 0..drivers.max(1) {
            let s = runner.shared.clone();
            let h = std::thread::Builder::new()
                .name(format!("darray-futures-{i}"))
                .spawn(move || drive(&s))
                .map_err(|source| Error::Start {
                    what: "a futures driver thread".into(),
                    source,
                })?;
            runner.drivers.push(h);
        }
        Ok(runner)
    }

    /// Lets each driver run up to `n` ready tasks as one graph (default 1).
    /// On a cluster's [`Client`](crate::distributed::Client), whose connection
    /// runs one graph at a time, batches are what spread ready tasks over the
    /// workers; completion is then reported per batch. If a batch fails, its
    /// tasks run again one by one, so the failure is charged to its own task.
    #[must_use]
    pub fn batch(self, n: usize) -> Self {
        self.shared.state.lock().batch = n.max(1);
        self
    }

    /// A runner on a new [`LocalExecutor`] of `threads` threads, one driver
    /// per thread.
    ///
    /// # Errors
    /// The pool or a driver thread not starting.
    pub fn local(threads: usize) -> Result<Futures> {
        let exec = LocalExecutor::with_threads(threads.max(1))?;
        Futures::new(Arc::new(exec), threads)
    }

    /// Submits a call of the registered function `function` on `args`, a
    /// tuple of up to four arguments, each a future (`&Future<A>`,
    /// `Future<A>`) or a [`val`](super::val). It runs once every argument
    /// future is finished; the returned future can itself be an argument of
    /// later submissions. Write the result type; the argument types are
    /// inferred. [`submit!`](crate::submit!) takes plain values too and is
    /// typed by the function item.
    ///
    /// # Errors
    /// [`Error::UnknownFunction`], [`Error::FunctionSignature`] (checked now,
    /// never on a driver), a value that does not serialize, or a future of
    /// another runner ([`Error::DelayedValue`]).
    pub fn submit<R, X: SubmitTuple>(&self, function: &str, args: X) -> Result<Future<R>> {
        self.submit_checked(function, X::types(), args.into_args()?)
    }

    /// [`Futures::submit`] of `function` on each argument tuple of `args`
    /// (dask's `client.map`), in order.
    ///
    /// # Errors
    /// As [`Futures::submit`], for the first tuple refused (those before it
    /// are submitted).
    pub fn map<R, X: SubmitTuple>(
        &self,
        function: &str,
        args: impl IntoIterator<Item = X>,
    ) -> Result<Vec<Future<R>>> {
        args.into_iter().map(|a| self.submit(function, a)).collect()
    }

    /// Checks the signature, then enters the task.
    #[doc(hidden)]
    pub fn submit_checked<R>(
        &self,
        function: &str,
        arg_types: Vec<&'static str>,
        args: Vec<FutureArg>,
    ) -> Result<Future<R>> {
        super::check_call::<R>(function, arg_types)?;
        let mut pend = Vec::with_capacity(args.len());
        let mut deps: Vec<u64> = Vec::new();
        // Keep the argument handles alive until the entry counts its use.
        let mut handles = Vec::new();
        for (i, a) in args.into_iter().enumerate() {
            match a {
                FutureArg::Value(b) => pend.push(PendArg::Value(b)),
                FutureArg::Future(h) => {
                    if !Arc::ptr_eq(&h.shared, &self.shared) {
                        return Err(Error::DelayedValue {
                            what: format!("argument {i} of `{function}`"),
                            reason: format!("future {} belongs to another Futures runner", h.key),
                        });
                    }
                    if !deps.contains(&h.id) {
                        deps.push(h.id);
                    }
                    pend.push(PendArg::Future(h.id));
                    handles.push(h);
                }
            }
        }
        let id = ArrayId::fresh().0;
        let key = format!("{function}-{id}()");
        let entry = new_entry(key.clone(), function.to_string(), pend, deps);
        let mut st = self.shared.state.lock();
        st.add(id, entry);
        drop(st);
        drop(handles);
        self.shared.work.notify_one();
        self.shared.done.notify_all();
        Ok(Future::new(&self.shared, id, key, function.to_string()))
    }

    /// A finished future holding `value`, encoded once (dask's `scatter`):
    /// every submission that takes it shares the one copy.
    ///
    /// # Errors
    /// [`Error::DelayedValue`] if `value` does not serialize.
    pub fn scatter<T: Serialize>(&self, value: &T) -> Result<Future<T>> {
        let chunk = Arc::new(registry::encode_value(value)?);
        let id = ArrayId::fresh().0;
        let key = format!("scatter-{id}()");
        let entry = new_entry(key.clone(), "scatter".into(), Vec::new(), Vec::new());
        self.shared.state.lock().add_finished(id, entry, chunk);
        Ok(Future::new(&self.shared, id, key, "scatter".into()))
    }

    /// The values of `futures`, in order, waiting for each (dask's `gather`).
    ///
    /// # Errors
    /// The first future (in order) that failed or was cancelled.
    pub fn gather<T: DeserializeOwned>(&self, futures: &[Future<T>]) -> Result<Vec<T>> {
        futures.iter().map(Future::result).collect()
    }

    /// Waits until every future in `futures` is done (finished, failed or
    /// cancelled), at most `timeout`.
    ///
    /// # Errors
    /// [`Error::WaitTimeout`] naming how many are not done and the first.
    pub fn wait(&self, futures: &[&dyn AnyFuture], timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        let mut st = self.shared.state.lock();
        loop {
            let pending: Vec<&dyn AnyFuture> = futures
                .iter()
                .copied()
                .filter(|f| !status_in(&st, f.handle()).is_done())
                .collect();
            let Some(first) = pending.first() else {
                return Ok(());
            };
            if self.shared.done.wait_until(&mut st, deadline).timed_out() {
                let still = futures
                    .iter()
                    .filter(|f| !status_in(&st, f.handle()).is_done())
                    .count();
                if still > 0 {
                    return Err(Error::WaitTimeout {
                        pending: still,
                        first: first.handle().key.clone(),
                        timeout,
                    });
                }
            }
        }
    }

    /// Cancels each future: one not started never runs, a running one's
    /// result is dropped when it ends, a finished one's is released. Their
    /// dependants fail with [`Error::Cancelled`] naming the cancelled
    /// argument. Futures already failed are left as they are.
    pub fn cancel(&self, futures: &[&dyn AnyFuture]) {
        for f in futures {
            f.handle().cancel();
        }
    }

    /// A completion-order iterator (and stream) over `futures`; more can be
    /// added while it runs ([`AsCompleted::add`]).
    pub fn as_completed<T>(&self, futures: impl IntoIterator<Item = Future<T>>) -> AsCompleted<T> {
        let mut ac = AsCompleted::new();
        for f in futures {
            ac.add(f);
        }
        ac
    }

    /// What the runner holds now: results not yet released and tasks known.
    #[must_use]
    pub fn held(&self) -> Held {
        let st = self.shared.state.lock();
        Held {
            results: st.held_results,
            bytes: st.held_bytes,
            futures: st.entries.len(),
        }
    }

    /// Tasks run so far (finished or failed; not scatters or cancelled ones).
    #[must_use]
    pub fn tasks_run(&self) -> u64 {
        self.shared.state.lock().tasks_run
    }
}

impl Drop for Futures {
    fn drop(&mut self) {
        self.shared.state.lock().shutdown = true;
        self.shared.work.notify_all();
        for d in self.drivers.drain(..) {
            // A driver's panic is caught per task; joining only waits.
            let _ = d.join();
        }
        let mut st = self.shared.state.lock();
        let open: Vec<u64> = st
            .entries
            .iter()
            .filter(|(_, e)| !e.status.is_done())
            .map(|(id, _)| *id)
            .collect();
        for id in open {
            let e = &st.entries[&id];
            let f = Failure::Cancelled {
                key: e.key.clone(),
                function: e.function.clone(),
                reason: "its Futures runner was dropped before it ran".into(),
            };
            st.fail(id, Arc::new(f));
        }
        drop(st);
        self.shared.done.notify_all();
    }
}

fn new_entry(key: String, function: String, args: Vec<PendArg>, deps: Vec<u64>) -> Entry {
    Entry {
        key,
        function,
        args,
        deps,
        waiting: 0,
        dependents: Vec::new(),
        pending_uses: 0,
        held: true,
        status: Status::Waiting,
        watchers: Vec::new(),
        mem_bytes: DEFAULT_CALL_BYTES,
    }
}

fn status_in<'a>(st: &'a State, h: &Handle) -> &'a Status {
    &st.entries
        .get(&h.id)
        .expect("a future with a live handle has an entry")
        .status
}

/// A driver: takes the lowest ready tasks (up to the batch size), runs them,
/// records the outcomes.
fn drive(shared: &Shared) {
    loop {
        let jobs = {
            let mut st = shared.state.lock();
            loop {
                if st.shutdown {
                    return;
                }
                let mut jobs = Vec::new();
                while jobs.len() < st.batch.max(1) {
                    match st.start_next() {
                        Some(job) => jobs.push(job),
                        None => break,
                    }
                }
                if !jobs.is_empty() {
                    break jobs;
                }
                shared.work.wait(&mut st);
            }
        };
        let outs = run_batch(&*shared.exec, &jobs);
        let mut st = shared.state.lock();
        for (job, out) in jobs.iter().zip(outs) {
            st.finish(job.id, out);
        }
        drop(st);
        // A finish may make several tasks ready.
        shared.work.notify_all();
        shared.done.notify_all();
    }
}

type Outcome = std::result::Result<Arc<Chunk>, Failure>;

/// Runs `jobs` as one graph; if that fails, each alone, so a failure is
/// charged to its own task and the others' results are kept (the tasks of a
/// failed batch run again: functions are expected to be pure).
fn run_batch(exec: &dyn Executor, jobs: &[Job]) -> Vec<Outcome> {
    if let [job] = jobs {
        return vec![run_job(exec, job)];
    }
    let calls: Vec<Delayed<()>> = jobs.iter().map(call_of).collect();
    let refs: Vec<&dyn super::AnyDelayed> =
        calls.iter().map(|c| c as &dyn super::AnyDelayed).collect();
    let together = super::graph_for(&refs, exec.memory_budget())
        .ok()
        .and_then(|g| {
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| exec.execute(&g))).ok()
        })
        .and_then(std::result::Result::ok);
    match together {
        Some(outs) if outs.len() == jobs.len() => outs.into_iter().map(Ok).collect(),
        Some(_) | None => jobs.iter().map(|j| run_job(exec, j)).collect(),
    }
}

/// The call of `job`, its argument results as held values (literal tasks).
fn call_of(job: &Job) -> Delayed<()> {
    let args = job
        .args
        .iter()
        .map(|a| match a {
            JobArg::Value(b) => NodeArg::Value(b.clone()),
            JobArg::Chunk(id, c) => NodeArg::Handle(Arc::new(Node {
                id: ArrayId(*id),
                mem_bytes: c.nbytes() as u64,
                kind: NodeKind::Literal(c.clone()),
            })),
        })
        .collect();
    Delayed::from_node(Node {
        id: ArrayId(job.id),
        kind: NodeKind::Call {
            function: job.function.clone(),
            args,
        },
        mem_bytes: job.mem_bytes,
    })
}

/// Runs one task: the call with its argument results as literal inputs.
fn run_job(exec: &dyn Executor, job: &Job) -> Outcome {
    let fail = |message: String| Failure::Error {
        key: job.key.clone(),
        function: job.function.clone(),
        message,
    };
    let call = call_of(job);
    let graph =
        super::graph_for(&[&call], exec.memory_budget()).map_err(|e| fail(e.to_string()))?;
    let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| exec.execute(&graph)));
    match run {
        Ok(Ok(mut out)) => out
            .pop()
            .ok_or_else(|| fail("the executor returned no result".into())),
        Ok(Err(Error::Task { source, .. })) => Err(fail(match *source {
            Error::FunctionFailed { message, .. } => message,
            other => other.to_string(),
        })),
        Ok(Err(e)) => Err(fail(e.to_string())),
        Err(p) => Err(fail(format!(
            "the executor panicked: {}",
            crate::exec::panic_message(&p)
        ))),
    }
}

/// One future's identity; the last clone dropped releases it in the runner.
#[doc(hidden)]
pub struct Handle {
    id: u64,
    key: String,
    function: String,
    shared: Arc<Shared>,
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.shared.state.lock().drop_handle(self.id);
    }
}

impl Handle {
    fn cancel(&self) {
        let f = Failure::Cancelled {
            key: self.key.clone(),
            function: self.function.clone(),
            reason: "cancelled".into(),
        };
        self.shared.state.lock().fail(self.id, Arc::new(f));
        self.shared.done.notify_all();
    }
}

impl Shared {
    /// Tells `queue` when `id` is done (now, if it is).
    pub(super) fn watch(&self, id: u64, queue: &Arc<Queue>) {
        let mut st = self.state.lock();
        let e = st
            .entries
            .get_mut(&id)
            .expect("a future with a live handle has an entry");
        if e.status.is_done() {
            queue.push(id);
        } else {
            e.watchers.push(queue.clone());
        }
    }
}

/// The result of a submitted call, of type `T`, computed in the background:
/// dask's `Future`. Clones share the result; when the last clone is dropped
/// (and no pending submission takes it), the result is released.
#[must_use = "a Future's result is released when its last handle is dropped"]
pub struct Future<T> {
    handle: Arc<Handle>,
    _t: PhantomData<fn() -> T>,
}

impl<T> Clone for Future<T> {
    fn clone(&self) -> Self {
        Future {
            handle: self.handle.clone(),
            _t: PhantomData,
        }
    }
}

impl<T> std::fmt::Debug for Future<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Future<{}>({})", type_name::<T>(), self.handle.key)
    }
}

impl<T> Future<T> {
    fn new(shared: &Arc<Shared>, id: u64, key: String, function: String) -> Self {
        Future {
            handle: Arc::new(Handle {
                id,
                key,
                function,
                shared: shared.clone(),
            }),
            _t: PhantomData,
        }
    }

    /// The task's key (`function-id()`), as errors name it.
    #[must_use]
    pub fn key(&self) -> &str {
        &self.handle.key
    }

    /// The function called (`scatter` for a scattered value).
    #[must_use]
    pub fn function(&self) -> &str {
        &self.handle.function
    }

    /// Where the future is now.
    #[must_use]
    pub fn status(&self) -> FutureStatus {
        let st = self.handle.shared.state.lock();
        match status_in(&st, &self.handle) {
            Status::Waiting | Status::Ready => FutureStatus::Pending,
            Status::Running => FutureStatus::Running,
            Status::Finished(_) => FutureStatus::Finished,
            Status::Failed(f) => match **f {
                Failure::Error { .. } => FutureStatus::Error,
                Failure::Cancelled { .. } => FutureStatus::Cancelled,
            },
        }
    }

    /// Whether it is done (finished, failed or cancelled).
    #[must_use]
    pub fn done(&self) -> bool {
        let st = self.handle.shared.state.lock();
        status_in(&st, &self.handle).is_done()
    }

    /// Cancels this future ([`Futures::cancel`]).
    pub fn cancel(&self) {
        self.handle.cancel();
    }

    /// The result's encoded chunk, waiting until `deadline` (forever if none).
    fn chunk(&self, deadline: Option<Instant>) -> Result<Option<Arc<Chunk>>> {
        let shared = &self.handle.shared;
        let mut st = shared.state.lock();
        loop {
            match status_in(&st, &self.handle) {
                Status::Finished(c) => return Ok(Some(c.clone())),
                Status::Failed(f) => return Err(f.to_error()),
                Status::Waiting | Status::Ready | Status::Running => {}
            }
            match deadline {
                None => shared.done.wait(&mut st),
                Some(d) => {
                    if shared.done.wait_until(&mut st, d).timed_out()
                        && !status_in(&st, &self.handle).is_done()
                    {
                        return Ok(None);
                    }
                }
            }
        }
    }
}

impl<T: DeserializeOwned> Future<T> {
    /// The value, waiting for it (dask's `future.result()`). The result stays
    /// held for other readers until the future is dropped.
    ///
    /// # Errors
    /// The function's failure ([`Error::Task`] with the failing key around
    /// [`Error::FunctionFailed`] with its name and message; for a dependant of
    /// a failed future, the failing argument's), or [`Error::Cancelled`].
    pub fn result(&self) -> Result<T> {
        let c = self.chunk(None)?.expect("no deadline: waits until done");
        self.decode(&c)
    }

    /// [`Future::result`], waiting at most `timeout`.
    ///
    /// # Errors
    /// As [`Future::result`]; [`Error::WaitTimeout`] if not done in time.
    pub fn result_timeout(&self, timeout: Duration) -> Result<T> {
        match self.chunk(Some(Instant::now() + timeout))? {
            Some(c) => self.decode(&c),
            None => Err(Error::WaitTimeout {
                pending: 1,
                first: self.handle.key.clone(),
                timeout,
            }),
        }
    }

    fn decode(&self, c: &Chunk) -> Result<T> {
        registry::decode_value(c, &format!("the result of {}", self.handle.key))
    }
}

/// Any future, its result type erased: for [`Futures::wait`] and
/// [`Futures::cancel`] over futures of several types.
pub trait AnyFuture {
    /// The future's handle.
    #[doc(hidden)]
    fn handle(&self) -> &Handle;
}

impl<T> AnyFuture for Future<T> {
    fn handle(&self) -> &Handle {
        &self.handle
    }
}

/// A submission's argument: postcard bytes, or a future of the same runner.
#[doc(hidden)]
pub enum FutureArg {
    /// Bytes carried in the task.
    Value(Vec<u8>),
    /// Another future's result.
    Future(Arc<Handle>),
}

impl FutureArg {
    pub(crate) fn of_future<A>(f: &Future<A>) -> FutureArg {
        FutureArg::Future(f.handle.clone())
    }
}

/// One argument of [`Futures::submit`]: `&Future<A>`, `Future<A>` or a
/// [`val`](super::val) of an `A`.
pub trait IntoFutureArg {
    /// The parameter type `A`.
    type Arg;
    /// The argument as the runner holds it.
    #[doc(hidden)]
    fn into_future_arg(self) -> Result<FutureArg>;
}

impl<A> IntoFutureArg for &Future<A> {
    type Arg = A;
    fn into_future_arg(self) -> Result<FutureArg> {
        Ok(FutureArg::of_future(self))
    }
}

impl<A> IntoFutureArg for Future<A> {
    type Arg = A;
    fn into_future_arg(self) -> Result<FutureArg> {
        Ok(FutureArg::of_future(&self))
    }
}

impl<A> IntoFutureArg for Val<A> {
    type Arg = A;
    fn into_future_arg(self) -> Result<FutureArg> {
        Ok(FutureArg::Value(self.bytes?))
    }
}

/// The arguments of [`Futures::submit`]: a tuple of up to four
/// [`IntoFutureArg`]s (`()` for none).
pub trait SubmitTuple {
    /// The parameter type names.
    #[doc(hidden)]
    fn types() -> Vec<&'static str>;
    /// The arguments.
    #[doc(hidden)]
    fn into_args(self) -> Result<Vec<FutureArg>>;
}

impl SubmitTuple for () {
    fn types() -> Vec<&'static str> {
        Vec::new()
    }
    fn into_args(self) -> Result<Vec<FutureArg>> {
        Ok(Vec::new())
    }
}

macro_rules! impl_submit_tuple {
    ($($x:ident $i:tt),*) => {
        impl<$($x: IntoFutureArg),*> SubmitTuple for ($($x,)*) {
            fn types() -> Vec<&'static str> {
                vec![$(type_name::<$x::Arg>()),*]
            }
            fn into_args(self) -> Result<Vec<FutureArg>> {
                Ok(vec![$(self.$i.into_future_arg()?),*])
            }
        }
    };
}

impl_submit_tuple!(X0 0);
impl_submit_tuple!(X0 0, X1 1);
impl_submit_tuple!(X0 0, X1 1, X2 2);
impl_submit_tuple!(X0 0, X1 1, X2 2, X3 3);
