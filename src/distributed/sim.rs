//! Scheduler simulation: the real [`scheduler`](super::scheduler) state
//! machine, driven in-process by stand-in workers, to learn what a large
//! cluster costs the scheduler before anyone runs one.
//!
//! Nothing goes over a socket and nothing is computed: [`simulate_graph`]
//! registers `workers` stand-ins and one client over in-process links, submits
//! the graph in batches as a client would, and then feeds the scheduler the
//! stand-ins' replies as events, one batch of events per scheduling pass, as
//! the networked actor does. A stand-in acknowledges every task at once (a
//! `Done` with a made-up result size, naming the inputs it would have fetched
//! from peers), refuses steals (the task already ran) and sends an empty chunk
//! when asked for an output. What is measured is the scheduler alone: its
//! decisions per second and the bytes it holds per task.
//!
//! The scheduler's messages are built as for the network (keys, ops and input
//! locations cloned) but not encoded: on the network path, encoding happens as
//! a message is queued for its connection.

use super::batch::wire_task;
use super::proto::{FromClient, FromWorker, ToClient, ToWorker};
use super::scheduler::{Event, Link, Scheduler, Sent};
use super::wire::Limits;
use crate::array::{DArray, ReduceOpts};
use crate::error::{Error, Result};
use crate::graph::Graph;
use darray_kernels::Chunk;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Instant;

/// Tasks per `Tasks` message, as a client batches a graph.
const SUBMIT_BATCH: usize = 10_000;

/// What to simulate: cluster size, how the stand-ins answer, and (for
/// [`simulate`]) the graph.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// Stand-in workers.
    pub workers: usize,
    /// Task slots of each (the scheduler gives a worker threads + 1 tasks).
    pub threads_per_worker: u32,
    /// Memory limit each stand-in announces, in bytes.
    pub memory_limit: u64,
    /// About how many tasks [`simulate`]'s graph has (see [`tree_reduction`]).
    pub tasks: usize,
    /// Fan-in of the graph's reduction tree (`split_every`, at least 2).
    pub fan_in: usize,
    /// Result size every stand-in reports for every task, in bytes.
    pub result_bytes: u64,
    /// Events the scheduler handles between two scheduling passes. 1 is the
    /// worst case (a quiet actor schedules after every event); a busy one
    /// drains everything queued first.
    pub events_per_pass: usize,
    /// Bytes allocated and not yet freed in this process, e.g. read from a
    /// counting global allocator; without it no memory is reported.
    pub memory_probe: Option<fn() -> usize>,
}

impl Default for SimConfig {
    /// 1,000 workers of 1 thread, a graph of about 1,000,000 tasks with fan-in
    /// 8, 8 MiB results, one event per scheduling pass, no memory probe.
    fn default() -> Self {
        SimConfig {
            workers: 1_000,
            threads_per_worker: 1,
            memory_limit: 64 << 30,
            tasks: 1_000_000,
            fan_in: 8,
            result_bytes: 8 << 20,
            events_per_pass: 1,
            memory_probe: None,
        }
    }
}

/// What a simulation measured.
#[derive(Clone, Debug, PartialEq)]
pub struct SimReport {
    /// Tasks in the graph.
    pub tasks: usize,
    /// Stand-in workers.
    pub workers: usize,
    /// Task state changes (waiting, ready, processing, memory, released).
    pub transitions: u64,
    /// Seconds to take the graph in (task messages and submit: dependents,
    /// priorities, the ready set).
    pub submit_seconds: f64,
    /// Seconds from the first scheduling pass to the job's end.
    pub run_seconds: f64,
    /// Submit plus run.
    pub seconds: f64,
    /// `transitions / seconds`.
    pub transitions_per_sec: f64,
    /// Run messages sent (each task once when no worker is lost).
    pub tasks_run: u64,
    /// Tasks run at least once.
    pub distinct_tasks_run: usize,
    /// Most runs of one task.
    pub max_runs_per_task: u32,
    /// Steal requests the scheduler sent.
    pub steals: u64,
    /// Results the client received.
    pub results: usize,
    /// Outputs the graph asks for.
    pub outputs: usize,
    /// `tasks_run` of the scheduler's `Finished` message.
    pub finished_tasks_run: u64,
    /// Bytes the scheduler held after submit (live bytes then, less before
    /// the scheduler was made), if a probe was given.
    pub scheduler_bytes: Option<u64>,
    /// `scheduler_bytes / tasks`.
    pub bytes_per_task: Option<f64>,
    /// Most bytes the scheduler held at any scheduling pass, if a probe was given.
    pub peak_scheduler_bytes: Option<u64>,
}

/// A tree reduction of an elementwise chain, built with the [`DArray`] API:
/// `sum(sin(x) * 2 + 1)` over a 1-d random array in one-element chunks, merged
/// `fan_in` partials at a time. The elementwise chain fuses into the partial
/// sums, so the graph has a random-source task and a partial per chunk plus the
/// merge tree: about `tasks` tasks in all.
///
/// # Errors
/// `tasks` under 4 or `fan_in` under 2.
pub fn tree_reduction(tasks: usize, fan_in: usize) -> Result<Graph> {
    if tasks < 4 || fan_in < 2 {
        return Err(invalid(format!(
            "a tree reduction needs at least 4 tasks and a fan-in of at least 2 (got {tasks} and {fan_in})"
        )));
    }
    // Per chunk: a source and a partial; merges add about 1/(fan_in - 1) more.
    #[allow(
        clippy::cast_precision_loss,
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss
    )]
    let chunks = ((tasks as f64) / (2.0 + 1.0 / (fan_in as f64 - 1.0))).round() as usize;
    let x = DArray::<f64>::random_uniform(7, &[chunks.max(1)], 0.0, 1.0, [1])?;
    let y = x.sin() * 2.0 + 1.0;
    y.sum_with(&ReduceOpts::all().split_every(fan_in))?.graph()
}

/// Simulates [`tree_reduction`]`(config.tasks, config.fan_in)` on the
/// configured cluster (see [`simulate_graph`]).
///
/// # Errors
/// As [`tree_reduction`] and [`simulate_graph`].
pub fn simulate(config: &SimConfig) -> Result<SimReport> {
    let graph = tree_reduction(config.tasks, config.fan_in)?;
    simulate_graph(&graph, config)
}

fn invalid(reason: String) -> Error {
    Error::InvalidArgument {
        array: "simulation".into(),
        reason,
    }
}

/// Runs `graph` through the real scheduler with `config.workers` stand-in
/// workers (see the module docs), and reports what it cost the scheduler.
///
/// # Errors
/// No workers or threads, `events_per_pass` 0, a graph the scheduler refuses
/// (a task over the memory limit), or a run that stops before the job finishes.
pub fn simulate_graph(graph: &Graph, config: &SimConfig) -> Result<SimReport> {
    if config.workers == 0 || config.threads_per_worker == 0 || config.events_per_pass == 0 {
        return Err(invalid(format!(
            "needs at least one worker, one thread and one event per pass (got {}, {}, {})",
            config.workers, config.threads_per_worker, config.events_per_pass
        )));
    }
    let n = graph.len();
    let n_u32 = u32::try_from(n).map_err(|_| invalid(format!("{n} tasks: too many")))?;
    let probe = || config.memory_probe.map(|p| p() as u64);
    let before = probe();

    let mut sched = Scheduler::new(Limits::default());
    let workers = u64::try_from(config.workers).map_err(|_| invalid("too many workers".into()))?;
    for w in 1..=workers {
        // Made-up, distinct data addresses: nothing connects to them.
        let ip = std::net::Ipv4Addr::from(0x0a00_0000 + u32::try_from(w).unwrap_or(0));
        sched.handle(Event::WorkerJoined {
            id: w,
            nthreads: config.threads_per_worker,
            memory_limit: config.memory_limit,
            data_addr: SocketAddr::from((ip, 8788)),
            name: format!("sim-{w}"),
            link: Link::Local,
        });
    }
    let client = workers + 1;
    sched.handle(Event::ClientJoined(client, Link::Local));

    // Take the graph in as the client sends it.
    let t0 = Instant::now();
    let job = 1;
    for start in (0..n).step_by(SUBMIT_BATCH) {
        let mut tasks = Vec::with_capacity(SUBMIT_BATCH.min(n - start));
        let mut literals = Vec::new();
        for (i, t) in graph
            .tasks
            .iter()
            .enumerate()
            .skip(start)
            .take(SUBMIT_BATCH)
        {
            let (wt, lit) = wire_task(i, t);
            if let Some(data) = lit {
                literals.push(Chunk::clone(data));
            }
            tasks.push(wt);
        }
        sched.handle(Event::FromClient(
            client,
            FromClient::Tasks { job, tasks },
            literals,
        ));
    }
    sched.handle(Event::FromClient(
        client,
        FromClient::Submit {
            job,
            n_tasks: n_u32,
            outputs: graph.outputs.iter().map(|o| o.0).collect(),
            names: graph.names.iter().map(|(k, v)| (*k, v.clone())).collect(),
        },
        Vec::new(),
    ));
    let submit_seconds = t0.elapsed().as_secs_f64();
    let held = |now: Option<u64>| Some(now?.saturating_sub(before?));
    let scheduler_bytes = held(probe());

    // Run: the stand-ins answer every message at once.
    let t1 = Instant::now();
    let mut state = Standins {
        client,
        runs: vec![0; n],
        result_bytes: config.result_bytes,
        queue: VecDeque::new(),
        sent: Vec::new(),
        steals: 0,
        results: 0,
        finished: None,
    };
    let mut peak = scheduler_bytes;
    loop {
        sched.schedule();
        sched.take_outbox(&mut state.sent);
        state.answer()?;
        if let Some(now) = held(probe()) {
            peak = peak.max(Some(now));
        }
        if state.queue.is_empty() {
            break;
        }
        for _ in 0..config.events_per_pass {
            let Some(ev) = state.queue.pop_front() else {
                break;
            };
            sched.handle(ev);
        }
    }
    let run_seconds = t1.elapsed().as_secs_f64();
    let Some(finished_tasks_run) = state.finished else {
        return Err(Error::Simulation {
            reason: format!(
                "the scheduler stopped with the job unfinished ({} of {n} tasks run)",
                state.runs.iter().filter(|&&r| r > 0).count()
            ),
        });
    };
    let transitions = sched.transitions();
    let seconds = submit_seconds + run_seconds;
    #[allow(clippy::cast_precision_loss)]
    Ok(SimReport {
        tasks: n,
        workers: config.workers,
        transitions,
        submit_seconds,
        run_seconds,
        seconds,
        transitions_per_sec: transitions as f64 / seconds.max(1e-9),
        tasks_run: state.runs.iter().map(|&r| u64::from(r)).sum(),
        distinct_tasks_run: state.runs.iter().filter(|&&r| r > 0).count(),
        max_runs_per_task: state.runs.iter().copied().max().unwrap_or(0),
        steals: state.steals,
        results: state.results,
        outputs: graph.outputs.len(),
        finished_tasks_run,
        scheduler_bytes,
        bytes_per_task: scheduler_bytes.map(|b| b as f64 / n.max(1) as f64),
        peak_scheduler_bytes: peak,
    })
}

/// The stand-in workers and client: what they were sent, and their replies.
struct Standins {
    /// The client's id.
    client: u64,
    /// Run (or literal) messages per task.
    runs: Vec<u32>,
    result_bytes: u64,
    /// Replies not yet handed to the scheduler, in order.
    queue: VecDeque<Event>,
    /// Messages taken from the scheduler, not yet answered.
    sent: Vec<Sent>,
    steals: u64,
    results: usize,
    finished: Option<u64>,
}

impl Standins {
    fn answer(&mut self) -> Result<()> {
        for m in self.sent.drain(..) {
            match m {
                Sent::Worker(w, msg, chunk) => match msg {
                    ToWorker::Run {
                        job,
                        task,
                        attempt,
                        inputs,
                        ..
                    } => {
                        self.runs[task as usize] += 1;
                        // Inputs held elsewhere would be fetched and kept here.
                        let fetched = inputs
                            .iter()
                            .filter(|i| !i.holders.is_empty())
                            .map(|i| i.task)
                            .collect();
                        self.queue.push_back(Event::FromWorker(
                            w,
                            FromWorker::Done {
                                job,
                                task,
                                attempt,
                                nbytes: self.result_bytes,
                                fetched,
                                fetch_nanos: 0,
                            },
                            None,
                        ));
                    }
                    ToWorker::Literal { job, task, attempt } => {
                        if chunk.is_none() {
                            return Err(Error::Simulation {
                                reason: format!("literal task {task} sent without its chunk"),
                            });
                        }
                        self.runs[task as usize] += 1;
                        self.queue.push_back(Event::FromWorker(
                            w,
                            FromWorker::Done {
                                job,
                                task,
                                attempt,
                                nbytes: self.result_bytes,
                                fetched: Vec::new(),
                                fetch_nanos: 0,
                            },
                            None,
                        ));
                    }
                    ToWorker::Steal { job, task, attempt } => {
                        self.steals += 1;
                        let reply = FromWorker::StealReply {
                            job,
                            task,
                            attempt,
                            stolen: false,
                        };
                        self.queue.push_back(Event::FromWorker(w, reply, None));
                    }
                    ToWorker::Send { job, task } => {
                        let reply = FromWorker::Data {
                            job,
                            task,
                            present: true,
                        };
                        let chunk = Some(Box::new(Chunk::Unit));
                        self.queue.push_back(Event::FromWorker(w, reply, chunk));
                    }
                    ToWorker::Release { .. } | ToWorker::ReleaseJob { .. } => {}
                },
                Sent::Client(c, msg, chunk) => match msg {
                    ToClient::Result { .. } if c == self.client && chunk.is_some() => {
                        self.results += 1;
                    }
                    ToClient::Result { index, .. } => {
                        return Err(Error::Simulation {
                            reason: format!(
                                "output {index} sent to client {c} with{} a chunk",
                                if chunk.is_some() { "" } else { "out" }
                            ),
                        });
                    }
                    ToClient::Finished { tasks_run, .. } => self.finished = Some(tasks_run),
                    ToClient::Failed { failure, .. } => {
                        return Err(Error::Simulation {
                            reason: format!("the scheduler failed the job: {failure:?}"),
                        });
                    }
                    ToClient::Info { .. } => {}
                },
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::Op;

    fn small() -> SimConfig {
        SimConfig {
            workers: 50,
            tasks: 20_000,
            ..SimConfig::default()
        }
    }

    #[test]
    fn every_task_runs_exactly_once_and_the_result_arrives() {
        let graph = tree_reduction(20_000, 8).unwrap();
        assert!((19_000..=21_000).contains(&graph.len()), "{}", graph.len());
        let r = simulate_graph(&graph, &small()).unwrap();
        assert_eq!(r.tasks, graph.len());
        assert_eq!(r.distinct_tasks_run, graph.len());
        assert_eq!(r.max_runs_per_task, 1);
        assert_eq!(r.tasks_run, graph.len() as u64);
        assert_eq!(r.finished_tasks_run, graph.len() as u64);
        assert_eq!((r.outputs, r.results), (1, 1));
        // Every task goes waiting -> ready -> processing -> memory -> released.
        assert_eq!(r.transitions, 4 * graph.len() as u64);
        assert!(r.transitions_per_sec > 0.0 && r.scheduler_bytes.is_none());
    }

    #[test]
    fn batched_events_and_several_threads_give_the_same_counts() {
        let cfg = SimConfig {
            threads_per_worker: 4,
            events_per_pass: 64,
            fan_in: 3,
            ..small()
        };
        let r = simulate(&cfg).unwrap();
        assert_eq!(r.distinct_tasks_run, r.tasks);
        assert_eq!(r.max_runs_per_task, 1);
        assert_eq!(r.finished_tasks_run, r.tasks as u64);
        assert_eq!(r.results, 1);
        assert_eq!(r.transitions, 4 * r.tasks as u64);
    }

    #[test]
    fn more_workers_than_tasks_many_outputs_and_literal_data() {
        // Every chunk of an elementwise result is an output; the input chunks
        // travel from the client as literals.
        let a = ndarray::Array1::<f64>::linspace(0.0, 1.0, 300);
        let x = DArray::from_ndarray(&a, [1]).unwrap();
        let graph = (x.sin() + 1.0).graph().unwrap();
        assert!(graph
            .tasks
            .iter()
            .any(|t| matches!(t.op, Op::Literal { .. })));
        let cfg = SimConfig {
            workers: 1_000,
            ..SimConfig::default()
        };
        let r = simulate_graph(&graph, &cfg).unwrap();
        assert_eq!(r.outputs, 300);
        assert_eq!(r.results, 300);
        assert_eq!(r.distinct_tasks_run, graph.len());
        assert_eq!(r.max_runs_per_task, 1);
    }

    #[test]
    fn bad_configurations_are_errors() {
        let g = tree_reduction(100, 4).unwrap();
        for cfg in [
            SimConfig {
                workers: 0,
                ..small()
            },
            SimConfig {
                threads_per_worker: 0,
                ..small()
            },
            SimConfig {
                events_per_pass: 0,
                ..small()
            },
        ] {
            assert!(matches!(
                simulate_graph(&g, &cfg),
                Err(Error::InvalidArgument { .. })
            ));
        }
        assert!(tree_reduction(3, 8).is_err());
        assert!(tree_reduction(100, 1).is_err());
        // A task over every worker's memory limit: the scheduler refuses the job.
        let tiny = SimConfig {
            memory_limit: 1,
            ..small()
        };
        let err = simulate_graph(&g, &tiny).unwrap_err().to_string();
        assert!(err.contains("OverBudget"), "{err}");
    }
}
