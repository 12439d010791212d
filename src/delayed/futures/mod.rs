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

mod args;
mod as_completed;
mod future;
mod run;
mod state;

pub use args::{FutureArg, IntoFutureArg, SubmitTuple};
pub use as_completed::{AsCompleted, AsCompletedStream};
pub use future::{AnyFuture, Awaiting, Future, Handle};

use super::{registry, DEFAULT_CALL_BYTES};
use crate::error::{Error, Result};
use crate::exec::{Executor, LocalExecutor};
use crate::graph::ArrayId;
use parking_lot::{Condvar, Mutex};
use serde::de::DeserializeOwned;
use serde::Serialize;
use state::{Entry, Failure, PendArg, State, Status};
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
                .spawn(move || run::drive(&s))
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
