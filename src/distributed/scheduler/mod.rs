//! The scheduler: one actor owning all state, fed by connection tasks.
//!
//! Task states follow dask.distributed: waiting (inputs not all in memory),
//! ready, processing (sent to a worker), memory (held by one or more workers),
//! released (no longer needed, or lost and not needed). Every change of state
//! goes through `Job::transition`, which counts it and keeps the ready set in
//! step. Ready tasks are not pushed to workers wholesale: a worker receives
//! tasks only while it has a free slot (its threads plus one queued ahead), so
//! root tasks are handed out about as fast as they finish (dask's queuing,
//! distributed#6360); only small tasks (a few KiB, cheap to hold) are queued
//! deeper, so that a worker always has the next batch of tiny tasks at hand
//! instead of waiting a round trip for each. For a free slot the scheduler
//! picks, among the first ready tasks in priority order, the one with the most
//! input bytes already on that worker. An idle worker with nothing ready steals
//! a queued task from a busy one. Results are released as soon as no waiting
//! task needs them. A lost worker's running tasks go back to the ready set and
//! its results that are still needed are recomputed, recursively through
//! inputs already released.
//!
//! The state machine knows nothing of sockets: it is fed `Event`s
//! (`Scheduler::handle`, then `Scheduler::schedule` after each batch) and
//! sends over a `Link` per worker and client, either a connection's queue
//! (encoded at once) or, for an in-process driver such as the simulation
//! ([`sim`](super::sim)) and the unit tests, an outbox of plain messages.
//!
//! Nothing that arrives from the network is trusted as an index: every job id,
//! task index, attempt number and input list in a worker's report is checked
//! first (`reports`); a worker that names what the scheduler never issued is
//! dropped as if it had disconnected, and a client's malformed job fails alone.
//!
//! What each file owns:
//! - `mod.rs`: the state (jobs, tasks, workers, clients), `Event`, `Link`,
//!   the run loop, heartbeats, sending.
//! - `net`: listening, and one task per connection turning frames into events.
//! - `jobs`: a client's messages: task intake, submit, the budget check,
//!   failing and dropping a job.
//! - `reports`: a worker's messages: the checks on their ids, then dispatch.
//! - `completion`: a task done, results released, outputs delivered.
//! - `recovery`: a worker lost, a result lost, inputs missing, recomputation.
//! - `placement`: slots, picking a ready task for a worker, stealing.
//!
//! The client cuts a graph into messages itself (`distributed::batch`).

mod completion;
mod jobs;
mod net;
mod placement;
mod recovery;
mod reports;

pub use net::{serve, serve_with};

use super::proto::{out, FromClient, FromWorker, JobId, MemoryReport, ToClient, ToWorker};
use super::wire::Limits;
use crate::graph::{ChunkKey, Op};
use darray_kernels::Chunk;
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::mpsc;

/// A worker silent this long is removed.
const HEARTBEAT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Worker losses a task survives (it is rescheduled); one more fails the job.
const MAX_LOSSES: u32 = 3;

pub(super) use crate::graph::SMALL_TASK_BYTES;

/// Events that drive the scheduler: sent by the connection tasks, or fed
/// directly by an in-process driver (the simulation).
pub(super) enum Event {
    WorkerJoined {
        id: u64,
        nthreads: u32,
        memory_limit: u64,
        data_addr: SocketAddr,
        name: String,
        link: Link,
    },
    WorkerLeft(u64),
    ClientJoined(u64, Link),
    ClientLeft(u64),
    FromWorker(u64, FromWorker, Option<Box<Chunk>>),
    FromClient(u64, FromClient, Vec<Chunk>),
}

/// Where the scheduler's messages to one worker or client go.
pub(super) enum Link {
    /// Encoded at once and queued for the connection's writer task.
    Net(mpsc::UnboundedSender<super::proto::Outgoing>),
    /// Kept, unencoded, in the scheduler's outbox for an in-process driver
    /// (no network I/O): see [`Scheduler::take_outbox`].
    Local,
}

/// A message the scheduler sent over a [`Link::Local`].
pub(super) enum Sent {
    /// To a worker, with the chunk that follows it.
    Worker(u64, ToWorker, Option<Arc<Chunk>>),
    /// To a client, with the chunk that follows it.
    Client(u64, ToClient, Option<Arc<Chunk>>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Waiting,
    Ready,
    Processing(u64),
    Memory,
    Released,
}

struct JTask {
    key: ChunkKey,
    op: Option<Op>,
    literal: Option<Arc<Chunk>>,
    inputs: Vec<u32>,
    dependents: Vec<u32>,
    mem_bytes: u64,
    /// Change it only through [`Job::transition`].
    state: State,
    waiting: u32,
    refs: u32,
    holders: Vec<u64>,
    nbytes: u64,
    /// A steal request is out for it.
    stealing: bool,
    /// Attempts started (the current one's number).
    attempt: u32,
    /// Times a worker was lost while running it.
    losses: u32,
}

struct Job {
    client: u64,
    /// The client's number for it.
    cjob: JobId,
    tasks: Vec<JTask>,
    /// Output task -> positions in the client's output list.
    outputs: BTreeMap<u32, Vec<u32>>,
    /// Outputs not yet delivered.
    undelivered: usize,
    /// Outputs asked of a worker and not yet arrived.
    sending: BTreeSet<u32>,
    prio: Vec<u32>,
    /// Exactly the tasks in [`State::Ready`], by priority.
    ready: BTreeSet<(u32, u32)>,
    submitted: bool,
    tasks_run: u64,
    names: BTreeMap<u64, String>,
    /// Task state changes so far.
    transitions: u64,
    /// Bytes of inputs workers fetched from each other.
    bytes_moved: u64,
    /// Nanoseconds workers spent fetching those bytes.
    fetch_nanos: u64,
}

impl Job {
    fn new(client: u64, cjob: JobId) -> Self {
        Job {
            client,
            cjob,
            tasks: Vec::new(),
            outputs: BTreeMap::new(),
            undelivered: 0,
            sending: BTreeSet::new(),
            prio: Vec::new(),
            ready: BTreeSet::new(),
            submitted: false,
            tasks_run: 0,
            names: BTreeMap::new(),
            transitions: 0,
            bytes_moved: 0,
            fetch_nanos: 0,
        }
    }

    /// Moves `task` to `to` and counts the change; the ready set follows, so
    /// it always holds exactly the ready tasks. The one place a task's state
    /// changes. `task` is an index the caller has checked.
    fn transition(&mut self, task: u32, to: State) {
        let ti = task as usize;
        // Before submit no task is ready and `prio` is empty; the fallback keeps
        // insert and remove in step all the same.
        let key = (self.prio.get(ti).copied().unwrap_or(u32::MAX), task);
        let t = &mut self.tasks[ti];
        if t.state == State::Ready {
            self.ready.remove(&key);
        }
        if to == State::Ready {
            self.ready.insert(key);
        }
        t.state = to;
        self.transitions += 1;
    }

    /// Tasks of `task`'s inputs not in memory.
    fn inputs_missing(&self, task: u32) -> u32 {
        let n = self.tasks[task as usize]
            .inputs
            .iter()
            .filter(|&&i| self.tasks[i as usize].state != State::Memory)
            .count();
        u32::try_from(n).unwrap_or(u32::MAX)
    }

    /// Puts `task` (no longer processing anywhere) back to ready, or to waiting
    /// for those of its inputs not in memory.
    fn requeue(&mut self, task: u32) {
        let waiting = self.inputs_missing(task);
        let t = &mut self.tasks[task as usize];
        t.waiting = waiting;
        t.stealing = false;
        let to = if waiting == 0 {
            State::Ready
        } else {
            State::Waiting
        };
        self.transition(task, to);
    }
}

struct Worker {
    name: String,
    nthreads: u32,
    memory_limit: u64,
    data_addr: SocketAddr,
    link: Link,
    /// Tasks sent and not reported, with their projected memory.
    assigned: BTreeMap<(JobId, u32), u64>,
    /// Bytes of results held (in memory or spilled).
    held: u64,
    /// Its memory at its last heartbeat.
    memory: MemoryReport,
    /// When it last said anything.
    last_seen: std::time::Instant,
}

pub(super) struct Scheduler {
    limits: Limits,
    workers: BTreeMap<u64, Worker>,
    /// Workers with a free slot (fewer tasks assigned than [`Worker::slots`]),
    /// so that filling slots looks only at them, not at every worker.
    free: BTreeSet<u64>,
    /// Workers whose slots are taken but which may queue more small tasks
    /// (fewer assigned than [`Worker::small_slots`]); disjoint from `free`.
    roomy: BTreeSet<u64>,
    clients: HashMap<u64, Link>,
    /// Messages sent over [`Link::Local`], until the driver takes them.
    outbox: RefCell<Vec<Sent>>,
    /// Task state changes of jobs already dropped (for the simulation's rate).
    transitions: u64,
    jobs: BTreeMap<JobId, Job>,
    /// Client job numbers -> scheduler job ids.
    job_ids: HashMap<(u64, JobId), JobId>,
    /// Every job id below it was issued, none at or above it.
    next_job: JobId,
}

impl Scheduler {
    pub(super) fn new(limits: Limits) -> Self {
        Scheduler {
            limits,
            workers: BTreeMap::new(),
            free: BTreeSet::new(),
            roomy: BTreeSet::new(),
            clients: HashMap::new(),
            outbox: RefCell::new(Vec::new()),
            transitions: 0,
            jobs: BTreeMap::new(),
            job_ids: HashMap::new(),
            next_job: 1,
        }
    }

    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Event>) {
        let mut tick = tokio::time::interval(super::worker::HEARTBEAT);
        loop {
            tokio::select! {
                ev = rx.recv() => {
                    let Some(ev) = ev else { return };
                    self.handle(ev);
                    while let Ok(ev) = rx.try_recv() {
                        self.handle(ev);
                    }
                }
                _ = tick.tick() => self.check_heartbeats(),
            }
            self.schedule();
        }
    }

    /// Removes workers that missed their heartbeats (closing their connection,
    /// so a live one reconnects as a new worker).
    fn check_heartbeats(&mut self) {
        let silent: Vec<u64> = self
            .workers
            .iter()
            .filter(|(_, w)| w.last_seen.elapsed() > HEARTBEAT_TIMEOUT)
            .map(|(&id, _)| id)
            .collect();
        for w in silent {
            tracing::warn!(worker = w, "no heartbeat for {HEARTBEAT_TIMEOUT:?}");
            self.worker_left(w);
        }
    }

    fn send_worker(&self, w: u64, msg: ToWorker, chunk: Option<Arc<Chunk>>) {
        match self.workers.get(&w).map(|wk| &wk.link) {
            Some(Link::Net(tx)) => match out(&msg, chunk, &self.limits) {
                Ok(o) => {
                    let _ = tx.send(o);
                }
                Err(e) => tracing::error!("message to worker {w} not sent: {e}"),
            },
            Some(Link::Local) => self.outbox.borrow_mut().push(Sent::Worker(w, msg, chunk)),
            None => {}
        }
    }

    fn send_client(&self, c: u64, msg: ToClient, chunk: Option<Arc<Chunk>>) {
        match self.clients.get(&c) {
            Some(Link::Net(tx)) => match out(&msg, chunk, &self.limits) {
                Ok(o) => {
                    let _ = tx.send(o);
                }
                Err(e) => tracing::error!("message to client {c} not sent: {e}"),
            },
            Some(Link::Local) => self.outbox.borrow_mut().push(Sent::Client(c, msg, chunk)),
            None => {}
        }
    }

    /// The messages sent over [`Link::Local`] since the last call, in order.
    pub(super) fn take_outbox(&self, into: &mut Vec<Sent>) {
        into.append(&mut self.outbox.borrow_mut());
    }

    /// Task state changes so far, over all jobs.
    pub(super) fn transitions(&self) -> u64 {
        self.transitions + self.jobs.values().map(|j| j.transitions).sum::<u64>()
    }

    /// Applies one event; messages go out at once (see [`Link`]). Call
    /// [`Scheduler::schedule`] after a batch of events.
    pub(super) fn handle(&mut self, ev: Event) {
        match ev {
            Event::WorkerJoined {
                id,
                nthreads,
                memory_limit,
                data_addr,
                name,
                link,
            } => {
                self.workers.insert(
                    id,
                    Worker {
                        name,
                        nthreads,
                        memory_limit,
                        data_addr,
                        link,
                        assigned: BTreeMap::new(),
                        held: 0,
                        memory: MemoryReport::default(),
                        last_seen: std::time::Instant::now(),
                    },
                );
                self.refresh_free(id);
            }
            Event::WorkerLeft(id) => self.worker_left(id),
            Event::ClientJoined(id, tx) => {
                self.clients.insert(id, tx);
            }
            Event::ClientLeft(id) => self.client_left(id),
            Event::FromClient(c, msg, chunks) => self.on_client(c, msg, chunks),
            Event::FromWorker(w, msg, chunk) => self.on_worker(w, msg, chunk),
        }
    }
}

/// A key with its array's name, as [`Graph::key_name`](crate::graph::Graph::key_name) renders it.
fn key_name(names: &BTreeMap<u64, String>, k: &ChunkKey) -> String {
    crate::graph::named_key(names, k)
}

#[cfg(test)]
mod tests;
