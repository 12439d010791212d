//! The runner's bookkeeping: one entry per live future, its dependencies and
//! dependants, who still needs its result, and who waits for it. Every change
//! happens under the one lock of [`Shared`](super::Shared); nothing here runs a
//! task.

use super::as_completed::Queue;
use crate::error::Error;
use darray_kernels::Chunk;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

/// An argument as the runner holds it until the task starts.
pub(super) enum PendArg {
    /// Postcard bytes.
    Value(Vec<u8>),
    /// The result of another future (its id).
    Future(u64),
}

/// Why a future has no value. Dependants of a failed future share its failure
/// (the failing key, function and message); dependants of a cancelled one get
/// their own, naming the cancelled argument.
#[derive(Clone, Debug)]
pub(super) enum Failure {
    /// The function (or the executor running it) failed.
    Error {
        key: String,
        function: String,
        message: String,
    },
    /// Cancelled, or an argument was.
    Cancelled {
        key: String,
        function: String,
        reason: String,
    },
}

impl Failure {
    pub(super) fn to_error(&self) -> Error {
        match self {
            Failure::Error {
                key,
                function,
                message,
            } => Error::Task {
                key: key.clone(),
                source: Box::new(Error::FunctionFailed {
                    function: function.clone(),
                    message: message.clone(),
                }),
            },
            Failure::Cancelled {
                key,
                function,
                reason,
            } => Error::Cancelled {
                key: key.clone(),
                function: function.clone(),
                reason: reason.clone(),
            },
        }
    }
}

pub(super) enum Status {
    /// Some arguments are not computed yet.
    Waiting,
    /// Every argument is computed; queued for a driver.
    Ready,
    /// A driver runs it.
    Running,
    /// Its result, held here until gathered and released.
    Finished(Arc<Chunk>),
    /// No value, for good.
    Failed(Arc<Failure>),
}

impl Status {
    pub(super) fn is_done(&self) -> bool {
        match self {
            Status::Finished(_) | Status::Failed(_) => true,
            Status::Waiting | Status::Ready | Status::Running => false,
        }
    }
}

pub(super) struct Entry {
    pub key: String,
    pub function: String,
    /// Taken when the task starts.
    pub args: Vec<PendArg>,
    /// Distinct futures among the arguments, not yet started on.
    pub deps: Vec<u64>,
    /// Of `deps`, how many are not finished.
    pub waiting: usize,
    pub dependents: Vec<u64>,
    /// Dependants that have not started (and may still read the result).
    pub pending_uses: usize,
    /// A user handle is alive.
    pub held: bool,
    pub status: Status,
    /// Completion queues ([`AsCompleted`](super::AsCompleted)) to tell once.
    pub watchers: Vec<Arc<Queue>>,
    pub mem_bytes: u64,
}

/// What a driver needs to run one task, taken out under the lock.
pub(super) struct Job {
    pub id: u64,
    pub key: String,
    pub function: String,
    pub args: Vec<JobArg>,
    pub mem_bytes: u64,
}

pub(super) enum JobArg {
    Value(Vec<u8>),
    /// The argument future's id and its result.
    Chunk(u64, Arc<Chunk>),
}

#[derive(Default)]
pub(super) struct State {
    pub entries: HashMap<u64, Entry>,
    /// Ready ids, lowest (earliest submitted) first.
    pub ready: BTreeSet<u64>,
    pub shutdown: bool,
    /// Bytes of finished results held.
    pub held_bytes: u64,
    /// Finished results held.
    pub held_results: usize,
    /// Tasks the drivers ran (finished or failed).
    pub tasks_run: u64,
    /// Ready tasks a driver takes at once (0 and 1 both mean one).
    pub batch: usize,
}

impl State {
    /// Adds a task whose futures arguments are `deps` (live entries).
    pub(super) fn add(&mut self, id: u64, mut entry: Entry) {
        let mut waiting = 0;
        let mut failed: Option<(String, Arc<Failure>)> = None;
        for d in &entry.deps {
            let dep = self.entries.get_mut(d).expect("a held future has an entry");
            dep.dependents.push(id);
            dep.pending_uses += 1;
            match &dep.status {
                Status::Finished(_) => {}
                Status::Failed(f) => {
                    failed.get_or_insert_with(|| (dep.key.clone(), f.clone()));
                }
                Status::Waiting | Status::Ready | Status::Running => waiting += 1,
            }
        }
        entry.waiting = waiting;
        if waiting == 0 && failed.is_none() {
            entry.status = Status::Ready;
            self.ready.insert(id);
        }
        self.entries.insert(id, entry);
        if let Some((dep_key, f)) = failed {
            let f = self.inherit(id, &dep_key, &f);
            self.fail(id, f);
        }
    }

    /// Adds a finished entry (a scattered value).
    pub(super) fn add_finished(&mut self, id: u64, mut entry: Entry, chunk: Arc<Chunk>) {
        self.held_bytes += chunk.nbytes() as u64;
        self.held_results += 1;
        entry.status = Status::Finished(chunk);
        self.entries.insert(id, entry);
    }

    /// Takes the lowest ready task and marks it running; its arguments'
    /// results are cloned (shared) out, and each argument that no one else
    /// needs any more is released.
    pub(super) fn start_next(&mut self) -> Option<Job> {
        let id = self.ready.pop_first()?;
        let e = self.entries.get_mut(&id).expect("a ready id has an entry");
        e.status = Status::Running;
        let args = std::mem::take(&mut e.args);
        let deps = std::mem::take(&mut e.deps);
        let (key, function, mem_bytes) = (e.key.clone(), e.function.clone(), e.mem_bytes);
        let args = args
            .into_iter()
            .map(|a| match a {
                PendArg::Value(b) => JobArg::Value(b),
                PendArg::Future(d) => match &self.entries[&d].status {
                    Status::Finished(c) => JobArg::Chunk(d, c.clone()),
                    Status::Waiting | Status::Ready | Status::Running | Status::Failed(_) => {
                        unreachable!("a task is ready only when every argument is finished")
                    }
                },
            })
            .collect();
        for d in deps {
            self.unuse(d);
        }
        Some(Job {
            id,
            key,
            function,
            args,
            mem_bytes,
        })
    }

    /// One dependant of `id` no longer needs its result.
    fn unuse(&mut self, id: u64) {
        if let Some(e) = self.entries.get_mut(&id) {
            e.pending_uses -= 1;
            self.maybe_release(id);
        }
    }

    /// A task's outcome; ignored if the future was cancelled while it ran.
    pub(super) fn finish(&mut self, id: u64, out: Result<Arc<Chunk>, Failure>) {
        let Some(e) = self.entries.get_mut(&id) else {
            return;
        };
        if !matches!(e.status, Status::Running) {
            return;
        }
        self.tasks_run += 1;
        match out {
            Ok(c) => {
                self.held_bytes += c.nbytes() as u64;
                self.held_results += 1;
                e.status = Status::Finished(c);
                let dependents = e.dependents.clone();
                notify(e, id);
                for d in dependents {
                    if let Some(de) = self.entries.get_mut(&d) {
                        if matches!(de.status, Status::Waiting) {
                            de.waiting -= 1;
                            if de.waiting == 0 {
                                de.status = Status::Ready;
                                self.ready.insert(d);
                            }
                        }
                    }
                }
                self.maybe_release(id);
            }
            Err(f) => self.fail(id, Arc::new(f)),
        }
    }

    /// The failure a dependant `id` of the future `dep_key` gets from its `f`.
    fn inherit(&self, id: u64, dep_key: &str, f: &Arc<Failure>) -> Arc<Failure> {
        match &**f {
            Failure::Error { .. } => f.clone(),
            Failure::Cancelled { .. } => {
                let e = &self.entries[&id];
                Arc::new(Failure::Cancelled {
                    key: e.key.clone(),
                    function: e.function.clone(),
                    reason: format!("its argument {dep_key} was cancelled"),
                })
            }
        }
    }

    /// Fails `id` (and, transitively, every dependant not done) with `f`;
    /// a finished result is released. Cancelling a done-and-failed future
    /// changes nothing.
    pub(super) fn fail(&mut self, id: u64, f: Arc<Failure>) {
        let mut todo = vec![(id, f)];
        while let Some((id, f)) = todo.pop() {
            let Some(e) = self.entries.get_mut(&id) else {
                continue;
            };
            let (never_started, was) = match &e.status {
                Status::Failed(_) => continue,
                Status::Waiting | Status::Ready => (true, None),
                Status::Running => (false, None),
                Status::Finished(c) => (false, Some(c.nbytes() as u64)),
            };
            if let Some(bytes) = was {
                self.held_bytes -= bytes;
                self.held_results -= 1;
            }
            e.status = Status::Failed(f.clone());
            e.args.clear();
            let deps = std::mem::take(&mut e.deps);
            let dependents = e.dependents.clone();
            let key = e.key.clone();
            notify(e, id);
            self.ready.remove(&id);
            if never_started {
                for d in deps {
                    self.unuse(d);
                }
            }
            for d in dependents {
                if self.entries.get(&d).is_some_and(|de| !de.status.is_done()) {
                    let g = self.inherit(d, &key, &f);
                    todo.push((d, g));
                }
            }
            self.maybe_release(id);
        }
    }

    /// The user's last handle of `id` was dropped.
    pub(super) fn drop_handle(&mut self, id: u64) {
        if let Some(e) = self.entries.get_mut(&id) {
            e.held = false;
            self.maybe_release(id);
        }
    }

    /// Removes `id` if no handle and no pending dependant needs it: its result
    /// is freed; a task not started is forgotten (never runs), which may in
    /// turn release its arguments. A running task is removed when it ends.
    fn maybe_release(&mut self, id: u64) {
        let mut todo = vec![id];
        while let Some(id) = todo.pop() {
            let Some(e) = self.entries.get(&id) else {
                continue;
            };
            if e.held || e.pending_uses > 0 || matches!(e.status, Status::Running) {
                continue;
            }
            let e = self.entries.remove(&id).expect("checked above");
            self.ready.remove(&id);
            match e.status {
                Status::Finished(c) => {
                    self.held_bytes -= c.nbytes() as u64;
                    self.held_results -= 1;
                }
                Status::Waiting | Status::Ready => {
                    for d in e.deps {
                        if let Some(de) = self.entries.get_mut(&d) {
                            de.pending_uses -= 1;
                            todo.push(d);
                        }
                    }
                }
                Status::Running | Status::Failed(_) => {}
            }
        }
    }
}

/// Tells every completion queue watching `e` (once: the list is emptied).
fn notify(e: &mut Entry, id: u64) {
    for q in std::mem::take(&mut e.watchers) {
        q.push(id);
    }
}
