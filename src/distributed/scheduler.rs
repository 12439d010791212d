//! The scheduler: one actor owning all state, fed by connection tasks.
//!
//! Task states follow dask.distributed: waiting (inputs not all in memory),
//! ready, processing (sent to a worker), memory (held by one or more workers),
//! released (no longer needed, or lost and not needed). Ready tasks are not
//! pushed to workers wholesale: a worker receives tasks only while it has a free
//! slot (its threads plus one queued ahead), so root tasks are handed out about
//! as fast as they finish (dask's queuing, distributed#6360); only small tasks
//! (a few KiB, cheap to hold) are queued deeper, so that a worker always has the
//! next batch of tiny tasks at hand instead of waiting a round trip for each.
//! For a free slot
//! the scheduler picks, among the first ready tasks in priority order, the one
//! with the most input bytes already on that worker. An idle worker with nothing
//! ready steals a queued task from a busy one. Results are released as soon as
//! no waiting task needs them. A lost worker's running tasks go back to the
//! ready set and its results that are still needed are recomputed, recursively
//! through inputs already released.
//!
//! The state machine knows nothing of sockets: it is fed `Event`s
//! (`Scheduler::handle`, then `Scheduler::schedule` after each batch) and
//! sends over a `Link` per worker and client, either a connection's queue
//! (encoded at once) or, for an in-process driver such as the simulation
//! ([`sim`](super::sim)), an outbox of plain messages. A set of the workers with
//! a free slot keeps a scheduling pass from walking the whole cluster.

use super::auth::{self, Secret};
use super::proto::{
    out, read_chunk, read_msg, writer, Failure, FromClient, FromWorker, Hello, InputLoc, JobId,
    MemoryReport, Outgoing, ToClient, ToWorker, WireTask, WorkerInfo, READ_BUFFER,
};
use super::tls::{Stream, TlsConfig};
use super::wire::{Limits, WireError};
use crate::graph::{ChunkKey, Graph, Op, Task};
use darray_kernels::Chunk;
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// A worker silent this long is removed.
const HEARTBEAT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Worker losses a task survives (it is rescheduled); one more fails the job.
const MAX_LOSSES: u32 = 3;

/// How many ready tasks (in priority order) a free slot looks at for locality.
const LOCALITY_WINDOW: usize = 16;

/// Tasks projected to need at most this many bytes are small (as on the local
/// executor): a worker may queue more of them than it has slots, and runs them
/// inline rather than on its thread pool.
pub(super) const SMALL_TASK_BYTES: u64 = 64 << 10;

/// Small tasks a worker may hold per thread beyond its slots, so that tiny tasks
/// are not each a round trip to the scheduler apart: the worker reports a batch
/// while the next batch is already queued. Root tasks reading inputs are
/// larger, and stay throttled to the slots.
const SMALL_AHEAD: usize = 32;

/// Ready tasks a worker takes in a row when slots are filled in turn, so that
/// neighbouring tasks (inputs of one merge) tend to run on one worker.
const RUN: usize = 8;

/// Runs a scheduler on `listener` until the process ends (plain TCP; see
/// [`serve_with`] for TLS).
pub async fn serve(listener: TcpListener, secret: Arc<Secret>, limits: Limits) {
    serve_with(listener, secret, None, limits).await;
}

/// Runs a scheduler on `listener` until the process ends, over TLS when `tls` is
/// given (every client and worker must then use TLS with the same cluster CA).
pub async fn serve_with(
    listener: TcpListener,
    secret: Arc<Secret>,
    tls: Option<Arc<TlsConfig>>,
    limits: Limits,
) {
    let (tx, rx) = mpsc::unbounded_channel();
    let lim = limits.clone();
    tokio::spawn(auth::serve_with(
        listener,
        secret,
        tls,
        limits.clone(),
        move |stream, peer, admission| {
            let tx = tx.clone();
            let lim = lim.clone();
            async move {
                let _admission = admission;
                if let Err(e) = connection(stream, peer, tx, lim).await {
                    tracing::info!(%peer, "connection closed: {e}");
                }
            }
        },
    ));
    Scheduler::new(limits).run(rx).await;
}

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
    Net(mpsc::UnboundedSender<Outgoing>),
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

static NEXT_CONN: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// Reads one authenticated connection and forwards what arrives as events.
async fn connection(
    stream: Stream,
    peer: SocketAddr,
    events: mpsc::UnboundedSender<Event>,
    limits: Limits,
) -> Result<(), WireError> {
    stream.set_nodelay(true)?;
    let (r, w) = stream.into_split();
    let mut r = tokio::io::BufReader::with_capacity(READ_BUFFER, r);
    let hello: Hello = read_msg(&mut r, &limits).await?;
    let id = NEXT_CONN.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let (otx, orx) = mpsc::unbounded_channel();
    tokio::spawn(writer(w, orx));
    match hello {
        Hello::Worker {
            nthreads,
            memory_limit,
            data_addr,
            name,
        } => {
            tracing::info!(%peer, name, nthreads, memory_limit, %data_addr, "worker joined");
            let _ = events.send(Event::WorkerJoined {
                id,
                nthreads: nthreads.max(1),
                memory_limit,
                data_addr,
                name,
                link: Link::Net(otx),
            });
            let res = async {
                loop {
                    let msg: FromWorker = read_msg(&mut r, &limits).await?;
                    let chunk = match &msg {
                        FromWorker::Data { present: true, .. } => {
                            Some(Box::new(read_chunk(&mut r, &limits).await?))
                        }
                        _ => None,
                    };
                    if events.send(Event::FromWorker(id, msg, chunk)).is_err() {
                        return Ok::<(), WireError>(());
                    }
                }
            }
            .await;
            let _ = events.send(Event::WorkerLeft(id));
            res
        }
        Hello::Client => {
            let _ = events.send(Event::ClientJoined(id, Link::Net(otx)));
            let res = async {
                loop {
                    let msg: FromClient = read_msg(&mut r, &limits).await?;
                    let mut chunks = Vec::new();
                    if let FromClient::Tasks { tasks, .. } = &msg {
                        for _ in tasks.iter().filter(|t| t.op.is_none()) {
                            chunks.push(read_chunk(&mut r, &limits).await?);
                        }
                    }
                    if events.send(Event::FromClient(id, msg, chunks)).is_err() {
                        return Ok::<(), WireError>(());
                    }
                }
            }
            .await;
            let _ = events.send(Event::ClientLeft(id));
            res
        }
    }
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

impl Worker {
    fn slots(&self) -> usize {
        self.nthreads as usize + 1
    }

    /// Tasks it may hold when the ones beyond [`Worker::slots`] are small.
    fn small_slots(&self) -> usize {
        self.slots() + SMALL_AHEAD * self.nthreads as usize
    }

    /// Memory it would use with one more task: results held in memory (what
    /// it holds less what its last heartbeat says is spilled, so spilled data
    /// never blocks scheduling and a computation larger than the cluster's
    /// memory runs by spilling) plus the projected memory of its tasks.
    fn projected(&self) -> u64 {
        self.held.saturating_sub(self.memory.spilled) + self.assigned.values().sum::<u64>()
    }
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
    /// Task state changes so far (for the simulation's rate).
    transitions: u64,
    jobs: BTreeMap<JobId, Job>,
    /// Client job numbers -> scheduler job ids.
    job_ids: HashMap<(u64, JobId), JobId>,
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

    /// Takes `task` of `job` off worker `w`'s assigned tasks, returning its
    /// projected memory; the worker's slot is free again.
    fn unassign(&mut self, w: u64, job: JobId, task: u32) -> Option<u64> {
        let wk = self.workers.get_mut(&w)?;
        let mem = wk.assigned.remove(&(job, task));
        self.refresh_free(w);
        mem
    }

    /// Puts `w` in [`Scheduler::free`] or [`Scheduler::roomy`] (or neither, or
    /// out of both once it is gone) by its assigned tasks.
    fn refresh_free(&mut self, w: u64) {
        let (free, roomy) = match self.workers.get(&w) {
            Some(wk) => {
                let n = wk.assigned.len();
                (n < wk.slots(), n >= wk.slots() && n < wk.small_slots())
            }
            None => (false, false),
        };
        if free {
            self.free.insert(w);
        } else {
            self.free.remove(&w);
        }
        if roomy {
            self.roomy.insert(w);
        } else {
            self.roomy.remove(&w);
        }
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
            Event::ClientLeft(id) => {
                self.clients.remove(&id);
                let gone: Vec<JobId> = self
                    .jobs
                    .iter()
                    .filter(|(_, j)| j.client == id)
                    .map(|(&k, _)| k)
                    .collect();
                for j in gone {
                    self.drop_job(j);
                }
                self.job_ids.retain(|(c, _), _| *c != id);
            }
            Event::FromClient(c, msg, chunks) => self.on_client(c, msg, chunks),
            Event::FromWorker(w, msg, chunk) => self.on_worker(w, msg, chunk),
        }
    }

    fn on_client(&mut self, c: u64, msg: FromClient, chunks: Vec<Chunk>) {
        match msg {
            FromClient::Info => {
                let workers = self
                    .workers
                    .values()
                    .map(|w| WorkerInfo {
                        name: w.name.clone(),
                        data_addr: w.data_addr,
                        nthreads: w.nthreads,
                        memory_limit: w.memory_limit,
                        memory: w.memory,
                    })
                    .collect();
                let msg = ToClient::Info { workers };
                self.send_client(c, msg, None);
            }
            FromClient::Tasks { job, tasks } => {
                let id = match self.job_ids.get(&(c, job)) {
                    Some(&id) => id,
                    None => {
                        let id = self.next_job;
                        self.next_job += 1;
                        self.job_ids.insert((c, job), id);
                        self.jobs.insert(
                            id,
                            Job {
                                client: c,
                                cjob: job,
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
                            },
                        );
                        id
                    }
                };
                let Some(j) = self.jobs.get_mut(&id) else {
                    return;
                };
                let mut chunks = chunks.into_iter();
                let mut bad = None;
                for t in tasks {
                    if t.id as usize != j.tasks.len() || j.submitted {
                        bad = Some(format!("task {} out of order", t.id));
                        break;
                    }
                    if let Some(&i) = t.inputs.iter().find(|&&i| i >= t.id) {
                        bad = Some(format!("task {} has input {i}, not an earlier task", t.id));
                        break;
                    }
                    let literal = if t.op.is_none() {
                        chunks.next().map(Arc::new)
                    } else {
                        None
                    };
                    j.tasks.push(JTask {
                        key: t.key,
                        op: t.op,
                        literal,
                        inputs: t.inputs,
                        dependents: Vec::new(),
                        mem_bytes: t.mem_bytes,
                        state: State::Waiting,
                        waiting: 0,
                        refs: 0,
                        holders: Vec::new(),
                        nbytes: 0,
                        stealing: false,
                        attempt: 0,
                        losses: 0,
                    });
                }
                if let Some(reason) = bad {
                    self.fail(id, Failure::Invalid(reason));
                }
            }
            FromClient::Submit {
                job,
                n_tasks,
                outputs,
                names,
            } => {
                let Some(&id) = self.job_ids.get(&(c, job)) else {
                    if n_tasks == 0 && outputs.is_empty() {
                        self.send_client(
                            c,
                            ToClient::Finished {
                                job,
                                tasks_run: 0,
                                bytes_moved: 0,
                                fetch_nanos: 0,
                            },
                            None,
                        );
                    } else {
                        let msg = ToClient::Failed {
                            job,
                            failure: Failure::Invalid("no tasks received".into()),
                        };
                        self.send_client(c, msg, None);
                    }
                    return;
                };
                self.submit(id, n_tasks, outputs, names.into_iter().collect());
            }
        }
    }

    fn submit(&mut self, id: JobId, n_tasks: u32, outputs: Vec<u32>, names: BTreeMap<u64, String>) {
        let Some(j) = self.jobs.get_mut(&id) else {
            return;
        };
        if j.tasks.len() != n_tasks as usize {
            let reason = format!("{} tasks received of {n_tasks}", j.tasks.len());
            self.fail(id, Failure::Invalid(reason));
            return;
        }
        if let Some(&o) = outputs.iter().find(|&&o| o >= n_tasks) {
            self.fail(id, Failure::Invalid(format!("output {o} is not a task")));
            return;
        }
        if let Some(t) = j
            .tasks
            .iter()
            .find(|t| t.op.is_none() && t.literal.is_none())
        {
            let reason = format!("literal task {:?} came without its data", t.key);
            self.fail(id, Failure::Invalid(reason));
            return;
        }
        j.submitted = true;
        for i in 0..j.tasks.len() {
            let ins = j.tasks[i].inputs.clone();
            j.tasks[i].waiting = u32::try_from(ins.len()).unwrap_or(u32::MAX);
            for inp in ins {
                j.tasks[inp as usize].dependents.push(i as u32);
                j.tasks[inp as usize].refs += 1;
            }
        }
        for (pos, &o) in outputs.iter().enumerate() {
            j.outputs.entry(o).or_default().push(pos as u32);
            j.tasks[o as usize].refs += 1;
        }
        j.undelivered = j.outputs.len();
        // The local executor's priorities: depth-first, memory-friendly.
        let outs: Vec<usize> = outputs.iter().map(|&o| o as usize).collect();
        let tasks = &j.tasks;
        j.prio = crate::exec::priorities_of(tasks.len(), &outs, |t, k| {
            tasks[t].inputs.get(k).map(|&i| i as usize)
        });
        j.names = names;
        for i in 0..j.tasks.len() {
            if j.tasks[i].waiting == 0 {
                j.tasks[i].state = State::Ready;
                j.transitions += 1;
                j.ready.insert((j.prio[i], i as u32));
            }
        }
        if j.outputs.is_empty() {
            let (client, job) = (j.client, self.client_job(id));
            self.send_client(
                client,
                ToClient::Finished {
                    job,
                    tasks_run: 0,
                    bytes_moved: 0,
                    fetch_nanos: 0,
                },
                None,
            );
            self.drop_job(id);
            return;
        }
        self.check_budget(id);
    }

    /// Fails the job if a task needs more memory than every worker accepts.
    fn check_budget(&mut self, id: JobId) {
        let Some(budget) = self.workers.values().map(|w| w.memory_limit).max() else {
            return;
        };
        let Some(j) = self.jobs.get(&id) else { return };
        if let Some(t) = j.tasks.iter().find(|t| t.mem_bytes > budget) {
            let failure = Failure::OverBudget {
                key: key_name(&j.names, &t.key),
                bytes: t.mem_bytes,
                budget,
            };
            self.fail(id, failure);
        }
    }

    fn client_job(&self, id: JobId) -> JobId {
        self.jobs.get(&id).map_or(0, |j| j.cjob)
    }

    fn fail(&mut self, id: JobId, failure: Failure) {
        if let Some(j) = self.jobs.get(&id) {
            let (client, job) = (j.client, self.client_job(id));
            tracing::info!(job, "job failed: {failure:?}");
            self.send_client(client, ToClient::Failed { job, failure }, None);
        }
        self.drop_job(id);
    }

    /// Forgets a job everywhere.
    fn drop_job(&mut self, id: JobId) {
        let Some(j) = self.jobs.remove(&id) else {
            return;
        };
        self.transitions += j.transitions;
        self.job_ids.retain(|_, v| *v != id);
        let ws: Vec<u64> = self.workers.keys().copied().collect();
        for w in ws {
            self.send_worker(w, ToWorker::ReleaseJob { job: id }, None);
            if let Some(wk) = self.workers.get_mut(&w) {
                wk.assigned.retain(|(j, _), _| *j != id);
            }
            self.refresh_free(w);
        }
        // Held bytes are approximate after a drop; recount from live jobs.
        self.recount_held();
    }

    fn recount_held(&mut self) {
        for wk in self.workers.values_mut() {
            wk.held = 0;
        }
        for j in self.jobs.values() {
            for t in &j.tasks {
                if t.state == State::Memory {
                    for h in &t.holders {
                        if let Some(wk) = self.workers.get_mut(h) {
                            wk.held += t.nbytes;
                        }
                    }
                }
            }
        }
    }

    /// Whether a report about `attempt` of `task` from `w` is about the attempt
    /// the scheduler is waiting for (late or duplicated reports are not).
    fn current(&self, job: JobId, task: u32, attempt: u32, w: u64) -> bool {
        self.jobs
            .get(&job)
            .and_then(|j| j.tasks.get(task as usize))
            .is_some_and(|t| t.attempt == attempt && t.state == State::Processing(w))
    }

    fn on_worker(&mut self, w: u64, msg: FromWorker, chunk: Option<Box<Chunk>>) {
        match self.workers.get_mut(&w) {
            Some(wk) => {
                wk.last_seen = std::time::Instant::now();
                if let FromWorker::Heartbeat { memory } = &msg {
                    wk.memory = *memory;
                }
            }
            // Removed (missed heartbeats): its reports no longer count.
            None => return,
        }
        match msg {
            FromWorker::Heartbeat { .. } => {}
            FromWorker::Done {
                job,
                task,
                attempt,
                nbytes,
                fetched,
                fetch_nanos,
            } => {
                let mem = self.unassign(w, job, task);
                if mem.is_none() || !self.current(job, task, attempt, w) {
                    self.send_worker(
                        w,
                        ToWorker::Release {
                            job,
                            tasks: vec![task],
                        },
                        None,
                    );
                    return;
                }
                if let Some(j) = self.jobs.get_mut(&job) {
                    j.fetch_nanos += fetch_nanos;
                }
                self.done(w, job, task, nbytes, &fetched);
            }
            FromWorker::Failed {
                job,
                task,
                attempt,
                message,
            } => {
                self.unassign(w, job, task);
                if !self.current(job, task, attempt, w) {
                    return;
                }
                if let Some(j) = self.jobs.get(&job) {
                    let key = j
                        .tasks
                        .get(task as usize)
                        .map_or_else(|| format!("task {task}"), |t| key_name(&j.names, &t.key));
                    self.fail(job, Failure::Task { key, message });
                }
            }
            FromWorker::Missing {
                job,
                task,
                attempt,
                inputs,
            } => {
                self.unassign(w, job, task);
                if self.current(job, task, attempt, w) {
                    self.missing(job, task, &inputs);
                }
            }
            FromWorker::StealReply {
                job,
                task,
                attempt,
                stolen,
            } => {
                let Some(j) = self.jobs.get_mut(&job) else {
                    return;
                };
                let Some(t) = j.tasks.get_mut(task as usize) else {
                    return;
                };
                if t.attempt != attempt {
                    return;
                }
                t.stealing = false;
                if stolen {
                    if t.state == State::Processing(w) {
                        t.state = State::Ready;
                        j.transitions += 1;
                        j.ready.insert((j.prio[task as usize], task));
                    }
                    self.unassign(w, job, task);
                }
            }
            FromWorker::Data { job, task, present } => {
                let Some(j) = self.jobs.get_mut(&job) else {
                    return;
                };
                j.sending.remove(&task);
                match chunk {
                    Some(c) if present => self.deliver(job, task, Arc::new(*c)),
                    _ => {
                        // The holder no longer has it: ask another, or recompute.
                        self.lose_holder(job, task, w);
                        let other = self.jobs.get(&job).and_then(|j| {
                            let t = &j.tasks[task as usize];
                            (t.state == State::Memory)
                                .then(|| t.holders.first().copied())
                                .flatten()
                        });
                        if let (Some(h), Some(j)) = (other, self.jobs.get_mut(&job)) {
                            j.sending.insert(task);
                            self.send_worker(h, ToWorker::Send { job, task }, None);
                        }
                    }
                }
            }
        }
    }

    fn done(&mut self, w: u64, job: JobId, task: u32, nbytes: u64, fetched: &[u32]) {
        let Some(j) = self.jobs.get_mut(&job) else {
            return;
        };
        let ti = task as usize;
        if j.tasks[ti].state != State::Processing(w) {
            // Callers check `current` first; nothing to do for anything else.
            return;
        }
        j.tasks_run += 1;
        let mut held = nbytes;
        for &f in fetched {
            if let Some(t) = j.tasks.get_mut(f as usize) {
                if t.state == State::Memory && !t.holders.contains(&w) {
                    t.holders.push(w);
                    held += t.nbytes;
                    j.bytes_moved += t.nbytes;
                }
            }
        }
        let t = &mut j.tasks[ti];
        t.state = State::Memory;
        j.transitions += 1;
        t.holders = vec![w];
        t.nbytes = nbytes;
        if let Some(wk) = self.workers.get_mut(&w) {
            wk.held += held;
        }
        let inputs = j.tasks[ti].inputs.clone();
        let mut release: Vec<(u32, Vec<u64>)> = Vec::new();
        for i in inputs {
            let it = &mut j.tasks[i as usize];
            it.refs -= 1;
            if it.refs == 0 && it.state == State::Memory {
                it.state = State::Released;
                j.transitions += 1;
                release.push((i, std::mem::take(&mut it.holders)));
            }
        }
        for d in j.tasks[ti].dependents.clone() {
            let dt = &mut j.tasks[d as usize];
            if dt.state == State::Waiting {
                dt.waiting -= 1;
                if dt.waiting == 0 {
                    dt.state = State::Ready;
                    j.transitions += 1;
                    j.ready.insert((j.prio[d as usize], d));
                }
            }
        }
        if j.outputs.contains_key(&task) && j.sending.insert(task) {
            self.send_worker(w, ToWorker::Send { job, task }, None);
        }
        self.release(job, release);
    }

    /// Sends releases and updates held bytes.
    fn release(&mut self, job: JobId, release: Vec<(u32, Vec<u64>)>) {
        let mut by_worker: BTreeMap<u64, Vec<u32>> = BTreeMap::new();
        for (task, holders) in release {
            let nbytes = self
                .jobs
                .get(&job)
                .map_or(0, |j| j.tasks[task as usize].nbytes);
            for h in holders {
                if let Some(wk) = self.workers.get_mut(&h) {
                    wk.held = wk.held.saturating_sub(nbytes);
                }
                by_worker.entry(h).or_default().push(task);
            }
        }
        for (w, tasks) in by_worker {
            self.send_worker(w, ToWorker::Release { job, tasks }, None);
        }
    }

    /// An output arrived from a worker: pass it on, unpin it.
    fn deliver(&mut self, job: JobId, task: u32, chunk: Arc<Chunk>) {
        let cjob = self.client_job(job);
        let Some(j) = self.jobs.get_mut(&job) else {
            return;
        };
        let Some(positions) = j.outputs.remove(&task) else {
            return;
        };
        let client = j.client;
        let pins = u32::try_from(positions.len()).unwrap_or(u32::MAX);
        let mut msgs = Vec::new();
        for index in positions {
            msgs.push(ToClient::Result { job: cjob, index });
        }
        j.undelivered -= 1;
        let t = &mut j.tasks[task as usize];
        t.refs -= pins;
        let mut release = Vec::new();
        if t.refs == 0 && t.state == State::Memory {
            t.state = State::Released;
            j.transitions += 1;
            release.push((task, std::mem::take(&mut t.holders)));
        }
        let finished = j.undelivered == 0;
        let (tasks_run, bytes_moved, fetch_nanos) = (j.tasks_run, j.bytes_moved, j.fetch_nanos);
        for m in msgs {
            self.send_client(client, m, Some(chunk.clone()));
        }
        self.release(job, release);
        if finished {
            self.send_client(
                client,
                ToClient::Finished {
                    job: cjob,
                    tasks_run,
                    bytes_moved,
                    fetch_nanos,
                },
                None,
            );
            self.drop_job(job);
        }
    }

    /// A worker could not fetch inputs of `task` from the holders it names.
    fn missing(&mut self, job: JobId, task: u32, inputs: &[(u32, Vec<SocketAddr>)]) {
        let addr_to_id: HashMap<SocketAddr, u64> = self
            .workers
            .iter()
            .map(|(&id, w)| (w.data_addr, id))
            .collect();
        for (i, addrs) in inputs {
            for a in addrs {
                if let Some(&h) = addr_to_id.get(a) {
                    self.lose_holder(job, *i, h);
                }
            }
        }
        let Some(j) = self.jobs.get_mut(&job) else {
            return;
        };
        let Some(t) = j.tasks.get(task as usize) else {
            return;
        };
        if !matches!(t.state, State::Processing(_)) {
            return;
        }
        let waiting = t
            .inputs
            .iter()
            .filter(|&&i| j.tasks[i as usize].state != State::Memory)
            .count();
        let t = &mut j.tasks[task as usize];
        t.waiting = u32::try_from(waiting).unwrap_or(u32::MAX);
        if waiting == 0 {
            t.state = State::Ready;
            j.transitions += 1;
            j.ready.insert((j.prio[task as usize], task));
        } else {
            t.state = State::Waiting;
            j.transitions += 1;
        }
    }

    /// `w` no longer holds `task`: drop it as a holder; if no holder is left and
    /// the result is still needed, recompute it.
    fn lose_holder(&mut self, job: JobId, task: u32, w: u64) {
        let Some(j) = self.jobs.get_mut(&job) else {
            return;
        };
        let Some(t) = j.tasks.get_mut(task as usize) else {
            return;
        };
        if t.state != State::Memory {
            return;
        }
        t.holders.retain(|&h| h != w);
        if t.holders.is_empty() {
            self.lost(job, task);
        }
    }

    /// `task` was in memory and no worker holds it any more.
    fn lost(&mut self, job: JobId, task: u32) {
        let Some(j) = self.jobs.get_mut(&job) else {
            return;
        };
        j.sending.remove(&task);
        let ti = task as usize;
        if j.tasks[ti].refs == 0 {
            j.tasks[ti].state = State::Released;
            j.transitions += 1;
            return;
        }
        // Dependents that counted it as available wait for it again.
        for d in j.tasks[ti].dependents.clone() {
            let dt = &mut j.tasks[d as usize];
            match dt.state {
                State::Waiting => dt.waiting += 1,
                State::Ready => {
                    j.ready.remove(&(j.prio[d as usize], d));
                    dt.state = State::Waiting;
                    j.transitions += 1;
                    dt.waiting = 1;
                }
                _ => {}
            }
        }
        j.tasks[ti].state = State::Released;
        j.transitions += 1;
        recompute(j, task);
    }

    fn worker_left(&mut self, w: u64) {
        let Some(wk) = self.workers.remove(&w) else {
            return;
        };
        self.refresh_free(w);
        tracing::warn!(worker = wk.name, addr = %wk.data_addr, "worker lost; rescheduling its work");
        let job_ids: Vec<JobId> = self.jobs.keys().copied().collect();
        for job in job_ids {
            let Some(j) = self.jobs.get_mut(&job) else {
                continue;
            };
            // Its running and queued tasks go back.
            let mut gave_up = None;
            for ti in 0..j.tasks.len() {
                if j.tasks[ti].state == State::Processing(w) {
                    j.tasks[ti].losses += 1;
                    if j.tasks[ti].losses > MAX_LOSSES && gave_up.is_none() {
                        gave_up = Some(ti);
                    }
                    let waiting = j.tasks[ti]
                        .inputs
                        .iter()
                        .filter(|&&i| j.tasks[i as usize].state != State::Memory)
                        .count();
                    let t = &mut j.tasks[ti];
                    t.stealing = false;
                    if waiting == 0 {
                        t.state = State::Ready;
                        j.transitions += 1;
                        j.ready.insert((j.prio[ti], ti as u32));
                    } else {
                        t.state = State::Waiting;
                        j.transitions += 1;
                        t.waiting = u32::try_from(waiting).unwrap_or(u32::MAX);
                    }
                }
            }
            if let Some(ti) = gave_up {
                let key = key_name(&j.names, &j.tasks[ti].key);
                let message = format!("{MAX_LOSSES} workers were lost while running it; giving up");
                self.fail(job, Failure::Task { key, message });
                continue;
            }
            let held: Vec<u32> = (0..j.tasks.len())
                .filter(|&ti| {
                    j.tasks[ti].state == State::Memory && j.tasks[ti].holders.contains(&w)
                })
                .map(|ti| ti as u32)
                .collect();
            for t in held {
                self.lose_holder(job, t, w);
            }
        }
    }

    /// Fills free worker slots with ready tasks, up to [`RUN`] per worker in
    /// turn (small tasks also beyond the slots, see [`SMALL_AHEAD`]); steals for
    /// idle workers. Looks only at workers with room, and at none while nothing
    /// is ready, so its cost does not grow with the cluster.
    pub(super) fn schedule(&mut self) {
        let mut ids: Vec<u64> = Vec::new();
        loop {
            if !self.any_ready() {
                break;
            }
            ids.clear();
            ids.extend(self.free.iter().copied());
            ids.extend(self.roomy.iter().copied());
            let mut progressed = false;
            for &w in &ids {
                for _ in 0..RUN {
                    let Some((job, task)) = self.pick(w) else {
                        break;
                    };
                    self.assign(w, job, task);
                    progressed = true;
                }
            }
            if !progressed {
                break;
            }
        }
        self.steal();
        debug_assert!(self.free_is_consistent(), "free-slot set out of date");
    }

    /// Whether [`Scheduler::free`] and [`Scheduler::roomy`] hold exactly the
    /// workers with a free slot and with room for small tasks only.
    fn free_is_consistent(&self) -> bool {
        self.workers.iter().all(|(w, wk)| {
            let n = wk.assigned.len();
            (n < wk.slots()) == self.free.contains(w)
                && (n >= wk.slots() && n < wk.small_slots()) == self.roomy.contains(w)
        }) && self
            .free
            .iter()
            .chain(&self.roomy)
            .all(|w| self.workers.contains_key(w))
    }

    /// Whether a submitted job has a ready task.
    fn any_ready(&self) -> bool {
        self.jobs
            .values()
            .any(|j| j.submitted && !j.ready.is_empty())
    }

    /// The best ready task for worker `w`: most input bytes already there, then
    /// priority; only a small one once its slots are taken.
    fn pick(&mut self, w: u64) -> Option<(JobId, u32)> {
        let wk = self.workers.get(&w)?;
        let n = wk.assigned.len();
        if n >= wk.small_slots() {
            return None;
        }
        let small_only = n >= wk.slots();
        let projected = wk.projected();
        let (limit, idle) = (wk.memory_limit, wk.assigned.is_empty());
        for (&job, j) in &self.jobs {
            if !j.submitted {
                continue;
            }
            let mut best: Option<(u64, (u32, u32))> = None;
            for &(p, t) in j.ready.iter().take(LOCALITY_WINDOW) {
                let task = &j.tasks[t as usize];
                if !idle && projected + task.mem_bytes > limit
                    || small_only && task.mem_bytes > SMALL_TASK_BYTES
                {
                    continue;
                }
                let local: u64 = task
                    .inputs
                    .iter()
                    .map(|&i| &j.tasks[i as usize])
                    .filter(|it| it.holders.contains(&w))
                    .map(|it| it.nbytes)
                    .sum();
                if best.is_none_or(|(b, _)| local > b) {
                    best = Some((local, (p, t)));
                }
            }
            if let Some((_, key)) = best {
                let j = self.jobs.get_mut(&job)?;
                j.ready.remove(&key);
                return Some((job, key.1));
            }
        }
        None
    }

    fn assign(&mut self, w: u64, job: JobId, task: u32) {
        let Some(j) = self.jobs.get_mut(&job) else {
            return;
        };
        let ti = task as usize;
        j.tasks[ti].state = State::Processing(w);
        j.transitions += 1;
        j.tasks[ti].attempt += 1;
        let attempt = j.tasks[ti].attempt;
        let mem = j.tasks[ti].mem_bytes;
        let msg;
        let mut chunk = None;
        if let Some(op) = &j.tasks[ti].op {
            let inputs = j.tasks[ti]
                .inputs
                .iter()
                .map(|&i| {
                    let it = &j.tasks[i as usize];
                    InputLoc {
                        task: i,
                        holders: if it.holders.contains(&w) {
                            Vec::new()
                        } else {
                            it.holders
                                .iter()
                                .filter_map(|h| self.workers.get(h).map(|x| x.data_addr))
                                .collect()
                        },
                    }
                })
                .collect();
            msg = ToWorker::Run {
                job,
                task,
                attempt,
                mem_bytes: mem,
                op: Box::new(op.clone()),
                inputs,
            };
        } else {
            msg = ToWorker::Literal { job, task, attempt };
            chunk = j.tasks[ti].literal.clone();
        }
        if let Some(wk) = self.workers.get_mut(&w) {
            wk.assigned.insert((job, task), mem);
        }
        self.refresh_free(w);
        self.send_worker(w, msg, chunk);
    }

    /// An idle worker (free threads, nothing ready) takes a queued task from a
    /// worker with more tasks than threads.
    fn steal(&mut self) {
        // A worker with more tasks than threads has no free slot (slots are
        // threads plus one), so with every worker free nothing can be stolen.
        if self.any_ready() || self.free.len() == self.workers.len() {
            return;
        }
        let idle = self
            .free
            .iter()
            .filter_map(|w| self.workers.get(w))
            .filter(|w| w.assigned.len() < w.nthreads as usize)
            .count();
        if idle == 0 {
            return;
        }
        let mut requests = Vec::new();
        for (&v, wk) in &self.workers {
            if wk.assigned.len() <= wk.nthreads as usize {
                continue;
            }
            // The most recently queued task is the one least likely to have started.
            for &(job, task) in wk.assigned.keys().rev() {
                let Some(t) = self.jobs.get(&job).and_then(|j| j.tasks.get(task as usize)) else {
                    continue;
                };
                if !t.stealing && t.state == State::Processing(v) {
                    requests.push((v, job, task));
                    break;
                }
            }
            if requests.len() >= idle {
                break;
            }
        }
        for (v, job, task) in requests {
            if let Some(t) = self
                .jobs
                .get_mut(&job)
                .and_then(|j| j.tasks.get_mut(task as usize))
            {
                t.stealing = true;
            }
            let attempt = self
                .jobs
                .get(&job)
                .map_or(0, |j| j.tasks[task as usize].attempt);
            self.send_worker(v, ToWorker::Steal { job, task, attempt }, None);
        }
    }
}

/// Makes a released (or lost) task run again, and, recursively, those of its
/// inputs that are no longer anywhere. Iterative, so deep graphs cannot
/// overflow the stack.
fn recompute(j: &mut Job, task: u32) {
    let mut stack = vec![task];
    while let Some(x) = stack.pop() {
        let xi = x as usize;
        if j.tasks[xi].state != State::Released {
            continue;
        }
        let mut waiting = 0u32;
        for i in j.tasks[xi].inputs.clone() {
            let it = &mut j.tasks[i as usize];
            // `x` consumes its inputs once more.
            it.refs += 1;
            if it.state != State::Memory {
                waiting += 1;
                if it.state == State::Released {
                    stack.push(i);
                }
            }
        }
        let t = &mut j.tasks[xi];
        t.waiting = waiting;
        if waiting == 0 {
            t.state = State::Ready;
            j.transitions += 1;
            j.ready.insert((j.prio[xi], x));
        } else {
            t.state = State::Waiting;
            j.transitions += 1;
        }
    }
}

/// A key with its array's name, as [`Graph::key_name`] renders it.
fn key_name(names: &BTreeMap<u64, String>, k: &ChunkKey) -> String {
    let name = names.get(&k.array.0).map_or("array", String::as_str);
    let full = k.to_string();
    let rest = full.trim_start_matches(|c: char| c == 'a' || c.is_ascii_digit());
    format!("{name}-{}{rest}", k.array.0)
}

/// Graph task `i` as it travels to the scheduler, and its literal chunk (sent
/// apart, after the batch) if it is client data.
pub(crate) fn wire_task(i: usize, t: &Task) -> (WireTask, Option<&Arc<Chunk>>) {
    let (op, lit) = match &t.op {
        Op::Literal { data } => (None, Some(data)),
        op => (Some(op.clone()), None),
    };
    let wt = WireTask {
        id: u32::try_from(i).unwrap_or(u32::MAX),
        key: t.key.clone(),
        op,
        inputs: t.inputs.iter().map(|x| x.0).collect(),
        mem_bytes: t.mem_bytes,
        out_bytes: t.out_bytes,
    };
    (wt, lit)
}

/// Tasks for one message and the literal chunks that follow it.
pub(crate) type Batch = (Vec<WireTask>, Vec<Arc<Chunk>>);

/// Splits a graph into [`WireTask`] batches under the control-frame limit; the
/// literal chunks to send after each batch, in order.
pub(crate) fn batches(graph: &Graph, limits: &Limits) -> Result<Vec<Batch>, WireError> {
    let budget = limits.control_frame / 2;
    let mut out = Vec::new();
    let mut cur: Vec<WireTask> = Vec::new();
    let mut lits = Vec::new();
    let mut size = 0usize;
    for (i, t) in graph.tasks.iter().enumerate() {
        let (wt, lit) = wire_task(i, t);
        let lit = lit.cloned();
        let n = super::wire::encode(&wt)?.len();
        if n > budget {
            return Err(WireError::TooLarge {
                kind: super::wire::FrameKind::Control,
                len: n as u64,
                limit: budget,
            });
        }
        if size + n > budget && !cur.is_empty() {
            out.push((std::mem::take(&mut cur), std::mem::take(&mut lits)));
            size = 0;
        }
        size += n;
        cur.push(wt);
        if let Some(l) = lit {
            lits.push(l);
        }
    }
    if !cur.is_empty() {
        out.push((cur, lits));
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
