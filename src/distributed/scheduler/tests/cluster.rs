//! A stand-in cluster around the real state machine, all in-process over
//! [`Link::Local`]: workers that "compute" a task as a hash of its index and
//! its inputs' values, in input order, so a result is right only if the
//! scheduler sent every task the right inputs and delivered the right output
//! at the right position. Inputs held elsewhere are fetched from the stand-in
//! at the address the scheduler names, as a real worker fetches from a peer.

use super::super::{Event, Link, Scheduler, Sent, State};
use crate::distributed::batch::batches;
use crate::distributed::proto::{
    Failure, FromClient, FromWorker, InputLoc, JobId, ToClient, ToWorker,
};
use crate::distributed::wire::Limits;
use crate::graph::{Graph, Op};
use darray_kernels::Chunk;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;

/// The value a stand-in computes for `task` from its inputs' values.
fn mix(task: u32, inputs: impl IntoIterator<Item = u64>) -> u64 {
    let mut h = (u64::from(task) + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    for v in inputs {
        h = (h ^ v).wrapping_mul(0xff51_afd7_ed55_8ccd).rotate_left(29);
    }
    h
}

/// The value a chunk stands for: its one `u64`, else (client data) its size.
fn value(c: &Chunk) -> u64 {
    match c {
        Chunk::U64(a) if a.len() == 1 => a.iter().copied().next().unwrap_or(0),
        c => c.nbytes() as u64,
    }
}

pub(super) fn chunk_of(v: u64) -> Chunk {
    Chunk::U64(ndarray::arr1(&[v]).into_dyn())
}

/// What every output of `graph` must be, in output order.
pub(super) fn expected(graph: &Graph) -> Vec<u64> {
    let mut vals = Vec::with_capacity(graph.len());
    for (i, t) in graph.tasks.iter().enumerate() {
        let v = match &t.op {
            Op::Literal { data } => value(data),
            _ => mix(
                u32::try_from(i).unwrap(),
                t.inputs.iter().map(|x| vals[x.0 as usize]),
            ),
        };
        vals.push(v);
    }
    graph.outputs.iter().map(|o| vals[o.0 as usize]).collect()
}

struct Queued {
    job: JobId,
    task: u32,
    attempt: u32,
    inputs: Vec<InputLoc>,
}

/// One stand-in worker.
#[derive(Default)]
pub(super) struct StandIn {
    pub addr: Option<SocketAddr>,
    pub held: HashMap<(JobId, u32), Arc<Chunk>>,
    queue: VecDeque<Queued>,
}

/// The scheduler, its stand-in workers and what its clients received.
pub(super) struct Sim {
    pub s: Scheduler,
    pub workers: BTreeMap<u64, StandIn>,
    /// Results per client job and output position, with how often each came.
    pub results: BTreeMap<(u64, JobId, u32), (u64, u32)>,
    pub finished: BTreeMap<(u64, JobId), u64>,
    pub failed: BTreeMap<(u64, JobId), Failure>,
    /// Executions per scheduler job and task.
    pub runs: HashMap<(JobId, u32), u32>,
    /// Replies the stand-ins sent, not yet handed to the scheduler.
    pub events: VecDeque<Event>,
    next_worker: u64,
}

impl Sim {
    /// A scheduler with `workers` stand-ins of one thread (ids 1, 2, ...) and
    /// clients 100 and 101.
    pub(super) fn new(workers: u64) -> Self {
        let mut sim = Sim {
            s: Scheduler::new(Limits::default()),
            workers: BTreeMap::new(),
            results: BTreeMap::new(),
            finished: BTreeMap::new(),
            failed: BTreeMap::new(),
            runs: HashMap::new(),
            events: VecDeque::new(),
            next_worker: 1,
        };
        for _ in 0..workers {
            sim.join(1);
        }
        for c in [100, 101] {
            sim.s.handle(Event::ClientJoined(c, Link::Local));
        }
        sim
    }

    /// A new stand-in with `nthreads` threads; its id.
    pub(super) fn join(&mut self, nthreads: u32) -> u64 {
        let id = self.next_worker;
        self.next_worker += 1;
        let addr = SocketAddr::from(([10, 0, 0, 1], u16::try_from(1000 + id).unwrap()));
        self.s.handle(Event::WorkerJoined {
            id,
            nthreads,
            memory_limit: 1 << 40,
            data_addr: addr,
            name: format!("standin-{id}"),
            link: Link::Local,
        });
        self.workers.insert(
            id,
            StandIn {
                addr: Some(addr),
                ..StandIn::default()
            },
        );
        id
    }

    /// Stand-in `w` dies: its data is gone and the scheduler hears of it.
    pub(super) fn kill(&mut self, w: u64) {
        self.workers.remove(&w);
        self.s.handle(Event::WorkerLeft(w));
    }

    /// Sends the tasks of `graph` from `client` as its job `cjob`.
    pub(super) fn send_tasks(&mut self, client: u64, cjob: JobId, graph: &Graph) {
        for (tasks, lits) in batches(graph, &Limits::default()).unwrap() {
            let lits = lits.iter().map(|c| Chunk::clone(c)).collect();
            let msg = FromClient::Tasks { job: cjob, tasks };
            self.s.handle(Event::FromClient(client, msg, lits));
        }
    }

    /// Sends `graph` from `client` as its job `cjob`, and submits it.
    pub(super) fn submit(&mut self, client: u64, cjob: JobId, graph: &Graph) {
        self.send_tasks(client, cjob, graph);
        let msg = FromClient::Submit {
            job: cjob,
            n_tasks: u32::try_from(graph.len()).unwrap(),
            outputs: graph.outputs.iter().map(|o| o.0).collect(),
            names: Vec::new(),
        };
        self.s.handle(Event::FromClient(client, msg, Vec::new()));
    }

    /// The scheduler's id for `client`'s job `cjob`, while it lives.
    pub(super) fn job_id(&self, client: u64, cjob: JobId) -> Option<JobId> {
        self.s.job_ids.get(&(client, cjob)).copied()
    }

    /// What the scheduler sent since the last call.
    pub(super) fn outbox(&mut self) -> Vec<Sent> {
        let mut sent = Vec::new();
        self.s.take_outbox(&mut sent);
        sent
    }

    /// Hands one message to its stand-in or client; a stand-in's immediate
    /// reply (to a literal, a steal, a send) joins [`Sim::events`].
    pub(super) fn route(&mut self, m: Sent) {
        match m {
            Sent::Client(c, msg, chunk) => match msg {
                ToClient::Result { job, index } => {
                    let v = chunk.as_deref().map_or(u64::MAX, value);
                    let e = self.results.entry((c, job, index)).or_insert((v, 0));
                    e.0 = v;
                    e.1 += 1;
                }
                ToClient::Finished { job, tasks_run, .. } => {
                    self.finished.insert((c, job), tasks_run);
                }
                ToClient::Failed { job, failure } => {
                    self.failed.insert((c, job), failure);
                }
                ToClient::Info { .. } => {}
            },
            Sent::Worker(w, msg, chunk) => {
                let Some(si) = self.workers.get_mut(&w) else {
                    return;
                };
                let reply = match msg {
                    ToWorker::Run {
                        job,
                        task,
                        attempt,
                        inputs,
                        ..
                    } => {
                        si.queue.push_back(Queued {
                            job,
                            task,
                            attempt,
                            inputs,
                        });
                        None
                    }
                    ToWorker::Literal { job, task, attempt } => {
                        let c = chunk.expect("a literal comes with its chunk");
                        si.held.insert((job, task), c);
                        *self.runs.entry((job, task)).or_default() += 1;
                        Some(FromWorker::Done {
                            job,
                            task,
                            attempt,
                            nbytes: 8,
                            fetched: Vec::new(),
                            fetch_nanos: 0,
                        })
                    }
                    ToWorker::Steal { job, task, attempt } => {
                        let before = si.queue.len();
                        si.queue
                            .retain(|q| !(q.job == job && q.task == task && q.attempt == attempt));
                        let stolen = si.queue.len() != before;
                        Some(FromWorker::StealReply {
                            job,
                            task,
                            attempt,
                            stolen,
                        })
                    }
                    ToWorker::Send { job, task } => {
                        let c = si.held.get(&(job, task)).cloned();
                        let present = c.is_some();
                        let c = c.map(|c| Box::new(Chunk::clone(&c)));
                        self.events.push_back(Event::FromWorker(
                            w,
                            FromWorker::Data { job, task, present },
                            c,
                        ));
                        None
                    }
                    ToWorker::Release { job, tasks } => {
                        for t in tasks {
                            si.held.remove(&(job, t));
                        }
                        None
                    }
                    ToWorker::ReleaseJob { job } => {
                        si.held.retain(|k, _| k.0 != job);
                        si.queue.retain(|q| q.job != job);
                        None
                    }
                };
                if let Some(r) = reply {
                    self.events.push_back(Event::FromWorker(w, r, None));
                }
            }
        }
    }

    /// Routes everything the scheduler sent.
    pub(super) fn route_all(&mut self) {
        for m in self.outbox() {
            self.route(m);
        }
    }

    /// Every stand-in runs the tasks queued on it, fetching inputs from peers.
    /// Whether any ran.
    pub(super) fn run_queued(&mut self) -> bool {
        let ids: Vec<u64> = self.workers.keys().copied().collect();
        let mut any = false;
        for w in ids {
            while let Some(q) = self.workers.get_mut(&w).and_then(|s| s.queue.pop_front()) {
                any = true;
                self.run_one(w, q);
            }
        }
        any
    }

    fn run_one(&mut self, w: u64, q: Queued) {
        let mut vals = Vec::new();
        let mut fetched = Vec::new();
        let mut missing = Vec::new();
        for inp in &q.inputs {
            let key = (q.job, inp.task);
            let local = self.workers[&w].held.get(&key).cloned();
            let got = local.or_else(|| {
                let c = inp.holders.iter().find_map(|a| {
                    self.workers
                        .values()
                        .find(|s| s.addr == Some(*a))
                        .and_then(|s| s.held.get(&key).cloned())
                })?;
                fetched.push(inp.task);
                Some(c)
            });
            match got {
                Some(c) => vals.push(value(&c)),
                None => missing.push((inp.task, inp.holders.clone())),
            }
        }
        let si = self.workers.get_mut(&w).unwrap();
        let (job, task, attempt) = (q.job, q.task, q.attempt);
        let msg = if missing.is_empty() {
            for &f in &fetched {
                let c = vals[q.inputs.iter().position(|i| i.task == f).unwrap()];
                si.held.insert((job, f), Arc::new(chunk_of(c)));
            }
            si.held
                .insert((job, task), Arc::new(chunk_of(mix(task, vals))));
            *self.runs.entry((job, task)).or_default() += 1;
            FromWorker::Done {
                job,
                task,
                attempt,
                nbytes: 8,
                fetched,
                fetch_nanos: 1,
            }
        } else {
            FromWorker::Missing {
                job,
                task,
                attempt,
                inputs: missing,
            }
        };
        self.events.push_back(Event::FromWorker(w, msg, None));
    }

    /// Hands the stand-ins' replies to the scheduler. Whether there were any.
    pub(super) fn deliver_events(&mut self) -> bool {
        let any = !self.events.is_empty();
        while let Some(ev) = self.events.pop_front() {
            self.s.handle(ev);
        }
        any
    }

    /// One round: schedule, route, run, reply. Whether anything happened.
    pub(super) fn round(&mut self) -> bool {
        self.s.schedule();
        self.route_all();
        let ran = self.run_queued();
        let replied = self.deliver_events();
        ran || replied
    }

    /// Rounds until nothing moves (at most 10,000).
    pub(super) fn pump(&mut self) {
        for _ in 0..10_000 {
            if !self.round() {
                return;
            }
        }
        panic!("the stand-in cluster did not settle in 10,000 rounds");
    }

    /// Asserts `client`'s job `cjob` finished with every output of `graph`
    /// right, each delivered once.
    pub(super) fn assert_correct(&self, client: u64, cjob: JobId, graph: &Graph) {
        assert!(
            self.finished.contains_key(&(client, cjob)),
            "job {cjob} of client {client} did not finish (failed: {:?})",
            self.failed.get(&(client, cjob))
        );
        for (i, want) in expected(graph).into_iter().enumerate() {
            let got = self.results.get(&(client, cjob, u32::try_from(i).unwrap()));
            assert_eq!(got, Some(&(want, 1)), "output {i} of job {cjob}");
        }
    }

    /// The state of task `task` of scheduler job `job`.
    pub(super) fn state(&self, job: JobId, task: u32) -> Option<State> {
        Some(self.s.jobs.get(&job)?.tasks.get(task as usize)?.state)
    }
}
