//! The local executor: a rayon work-stealing pool fed by a scheduler loop on the
//! calling thread. Ready tasks are dispatched in a fixed priority order (depth
//! first from the outputs, so a reduction branch finishes before new reads
//! start), never more at once than fit the memory budget (which counts every
//! dispatched task, queued or running), and each result is dropped as soon as its
//! last consumer has run.
//!
//! How many are in flight: one per thread always (if the budget allows); beyond
//! that, up to [`QUEUE_AHEAD`] per thread more, but only tasks of at most
//! [`SMALL_TASK_BYTES`] and reducing tasks ([`reduces`]), queued in the pool so a
//! worker that finishes a task takes the next at once instead of waiting for the
//! scheduler's round trip (which made 100,000 tiny tasks cost 2.8 µs each, and
//! left a worker idle 2-4 ms, a timer tick, after many of the block products of
//! `svd_compressed` on 2 cores, where the scheduler's thread waits for a busy
//! core). Other large tasks keep the one-per-thread limit: queueing them ahead
//! would hold their memory early.

pub(crate) mod order;

use super::report::{Report, TaskRecord};
use super::run::{run_op, RunContext};
use super::{ExecStats, Executor};
use crate::error::{Error, Result};
use crate::graph::{Graph, Task, TaskId};
use crate::store::StoreCache;
use darray_kernels::Chunk;
use parking_lot::Mutex;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::Instant;

/// Tasks in flight per thread, at most (see the module docs): one running plus
/// queued small tasks.
const QUEUE_AHEAD: usize = 4;

// Tasks projected at no more than SMALL_TASK_BYTES may be queued ahead of the
// threads; larger ones are dispatched only when a thread is free. Small enough that
// no chunk-sized task is queued ahead (their results would pile up before their
// consumers run, past the 4-chunks-per-thread memory target), large enough for the
// per-element tasks that are latency-bound.
use crate::graph::SMALL_TASK_BYTES;

/// Output and scratch bytes a reducing task may allocate (see [`reduces`]).
const SMALL_FRESH_BYTES: u64 = 1 << 20;

/// Whether `task` may be queued ahead although it is large: its inputs (held
/// until it runs in any case) are at least 16 times what it allocates itself,
/// which is at most [`SMALL_FRESH_BYTES`] (a block product of a held block with
/// a thin factor, a partial reduction). Running it early holds no input longer
/// and little new memory.
fn reduces(graph: &Graph, task: &Task) -> bool {
    let inputs: u64 = task.inputs.iter().map(|&i| graph.task(i).out_bytes).sum();
    let fresh = task.mem_bytes.saturating_sub(inputs);
    fresh <= SMALL_FRESH_BYTES && fresh.saturating_mul(16) <= inputs
}

/// Runs graphs on a local rayon pool.
///
/// ```
/// use darray::{DArray, Executor, LocalExecutor};
/// let exec = LocalExecutor::with_threads(1).unwrap().memory_budget(1 << 30);
/// let x = DArray::<f64>::ones(&[1000], [100]).unwrap();
/// let s = x.sum().unwrap().compute_with(&exec).unwrap();
/// assert_eq!(s.into_iter().next(), Some(1000.0));
/// // Tiny tasks are queued ahead of the one thread, up to 4 in flight.
/// assert!(exec.last_stats().peak_running <= 4);
/// ```
pub struct LocalExecutor {
    pool: rayon::ThreadPool,
    threads: usize,
    budget: u64,
    progress: bool,
    record: bool,
    stats: Mutex<ExecStats>,
    report: Mutex<Option<Report>>,
}

impl std::fmt::Debug for LocalExecutor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalExecutor")
            .field("threads", &self.threads)
            .field("budget", &self.budget)
            .finish_non_exhaustive()
    }
}

/// Half of the machine's memory (from /proc/meminfo), or 4 GiB where unknown.
#[must_use]
pub fn default_memory_budget() -> u64 {
    let total = std::fs::read_to_string("/proc/meminfo").ok().and_then(|s| {
        s.lines()
            .find(|l| l.starts_with("MemTotal:"))
            .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
    });
    total.map_or(4 << 30, |kib| kib * 1024 / 2)
}

impl LocalExecutor {
    /// An executor on all cores.
    ///
    /// # Errors
    /// If the thread pool cannot be created.
    pub fn new() -> Result<Self> {
        Self::with_threads(std::thread::available_parallelism().map_or(1, std::num::NonZero::get))
    }

    /// An executor with `threads` worker threads (at least 1).
    ///
    /// # Errors
    /// If the thread pool cannot be created.
    pub fn with_threads(threads: usize) -> Result<Self> {
        let threads = threads.max(1);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("darray-{i}"))
            .build()
            .map_err(|source| Error::ThreadPool { threads, source })?;
        Ok(LocalExecutor {
            pool,
            threads,
            budget: default_memory_budget(),
            progress: false,
            record: false,
            stats: Mutex::new(ExecStats::default()),
            report: Mutex::new(None),
        })
    }

    /// Sets the memory budget in bytes: a graph with a task projected above it is
    /// refused before anything runs, and running tasks never project more in total.
    #[must_use]
    pub fn memory_budget(mut self, bytes: u64) -> Self {
        self.budget = bytes;
        self
    }

    /// Shows a progress bar on stderr (tasks, bytes read and written).
    #[must_use]
    pub fn progress(mut self, on: bool) -> Self {
        self.progress = on;
        self
    }

    /// Records one [`TaskRecord`] per task of each run (off by default): its
    /// key, function or op, thread, start, end, bytes out and memory, for
    /// [`LocalExecutor::last_report`]. Each task takes two clock readings and
    /// sends them with its result; the scheduler loop collects them, so
    /// recording takes no lock.
    #[must_use]
    pub fn record(mut self, on: bool) -> Self {
        self.record = on;
        self
    }

    /// The report of the most recent run, if recording is on
    /// ([`LocalExecutor::record`]): write it as a Chrome trace or an HTML page.
    ///
    /// ```
    /// use darray::{DArray, LocalExecutor};
    /// let exec = LocalExecutor::with_threads(2).unwrap().record(true);
    /// let x = DArray::<f64>::ones(&[100], [10]).unwrap();
    /// x.sum().unwrap().compute_with(&exec).unwrap();
    /// let report = exec.last_report().unwrap();
    /// assert_eq!(report.records.len(), x.sum().unwrap().num_tasks().unwrap());
    /// assert!(report.to_html().contains("<rect class=\"task\""));
    /// ```
    #[must_use]
    pub fn last_report(&self) -> Option<Report> {
        self.report.lock().clone()
    }

    /// Number of worker threads.
    #[must_use]
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// The memory budget in bytes.
    #[must_use]
    pub fn budget(&self) -> u64 {
        self.budget
    }
}

/// Refuses a graph with a task over `budget`, naming the task.
pub(crate) fn check_budget(graph: &Graph, budget: u64) -> Result<()> {
    if let Some((id, bytes)) = graph.max_task_mem() {
        if bytes > budget {
            return Err(Error::OverBudget {
                key: graph.key_name(&graph.task(id).key),
                bytes,
                budget,
            });
        }
    }
    Ok(())
}

/// When recording: the thread that ran a task, its start and its end.
type Timing = Option<(u32, Instant, Instant)>;

type Done = (TaskId, std::result::Result<Chunk, Error>, Timing);

impl Executor for LocalExecutor {
    fn execute(&self, graph: &Graph) -> Result<Vec<Arc<Chunk>>> {
        check_budget(graph, self.budget)?;
        let n = graph.len();
        let prio = order::priorities(graph);
        let mut waiting: Vec<u32> = vec![0; n];
        let mut dependents: Vec<Vec<TaskId>> = vec![Vec::new(); n];
        let mut refs: Vec<u32> = vec![0; n];
        for (i, t) in graph.tasks.iter().enumerate() {
            waiting[i] = u32::try_from(t.inputs.len()).expect("fewer than 2^32 inputs");
            for inp in &t.inputs {
                dependents[inp.0 as usize]
                    .push(TaskId(u32::try_from(i).expect("task id fits u32")));
                refs[inp.0 as usize] += 1;
            }
        }
        for o in &graph.outputs {
            refs[o.0 as usize] += 1;
        }
        let mut ready: BinaryHeap<Reverse<(u32, u32)>> = (0..n)
            .filter(|&i| waiting[i] == 0)
            .map(|i| Reverse((prio[i], u32::try_from(i).expect("task id fits u32"))))
            .collect();
        let mut results: Vec<Option<Arc<Chunk>>> = vec![None; n];
        let ctx = RunContext {
            store: StoreCache::with_buffer_pool(self.threads),
        };
        let bar = progress_bar(self.progress, n);
        let mut stats = ExecStats::default();
        let (tx, rx) = crossbeam_channel::unbounded::<Done>();
        let mut running = 0usize;
        let mut running_mem = 0u64;
        let mut held = 0u64;
        let mut done = 0usize;
        let mut failure: Option<Error> = None;
        let record = self.record;
        let t0 = Instant::now();
        let mut records: Vec<TaskRecord> = Vec::new();

        self.pool.in_place_scope(|scope| {
            loop {
                // Dispatch while the window and budget allow; always let one run.
                while failure.is_none() && running < QUEUE_AHEAD * self.threads {
                    let Some(&Reverse((_, id))) = ready.peek() else {
                        break;
                    };
                    let task = &graph.tasks[id as usize];
                    if running >= self.threads
                        && task.mem_bytes > SMALL_TASK_BYTES
                        && !reduces(graph, task)
                    {
                        break;
                    }
                    if running > 0 && running_mem + task.mem_bytes > self.budget {
                        break;
                    }
                    ready.pop();
                    let inputs: Vec<Arc<Chunk>> = task
                        .inputs
                        .iter()
                        .map(|i| {
                            results[i.0 as usize]
                                .clone()
                                .expect("inputs are computed before their users")
                        })
                        .collect();
                    running += 1;
                    running_mem += task.mem_bytes;
                    stats.peak_running = stats.peak_running.max(running as u64);
                    let tx = tx.clone();
                    let ctx = &ctx;
                    scope.spawn(move |_| {
                        let start = record.then(Instant::now);
                        let refs: Vec<&Chunk> = inputs.iter().map(AsRef::as_ref).collect();
                        let out = catch_unwind(AssertUnwindSafe(|| run_op(&task.op, &refs, ctx)))
                            .unwrap_or_else(|p| Err(Error::Panic(panic_message(&p))));
                        drop(refs);
                        drop(inputs);
                        let timing = start.map(|s| {
                            let thread = rayon::current_thread_index().unwrap_or(0);
                            (u32::try_from(thread).unwrap_or(u32::MAX), s, Instant::now())
                        });
                        let _ = tx.send((TaskId(id), out, timing));
                    });
                }
                if running == 0 {
                    break;
                }
                // Block for one result, then take every other one already in.
                let first = rx.recv().expect("a running task always reports");
                for (id, out, timing) in std::iter::once(first).chain(rx.try_iter()) {
                    let task = graph.task(id);
                    running -= 1;
                    running_mem -= task.mem_bytes;
                    match out {
                        Err(e) => {
                            if failure.is_none() {
                                failure = Some(Error::Task {
                                    key: graph.key_name(&task.key),
                                    source: Box::new(e),
                                });
                            }
                        }
                        Ok(chunk) => {
                            if let Some((thread, start, end)) = timing {
                                records.push(task_record(
                                    graph,
                                    task,
                                    &chunk,
                                    thread,
                                    start - t0,
                                    end - t0,
                                ));
                            }
                            done += 1;
                            stats.tasks += 1;
                            if !bar.is_hidden() {
                                bar.inc(1);
                                bar.set_message(format!(
                                    "{} MiB read, {} MiB written",
                                    ctx.store.bytes_read() >> 20,
                                    ctx.store.bytes_written() >> 20
                                ));
                            }
                            let i = id.0 as usize;
                            if refs[i] > 0 {
                                held += chunk.nbytes() as u64;
                                results[i] = Some(Arc::new(chunk));
                            }
                            for inp in &task.inputs {
                                let j = inp.0 as usize;
                                refs[j] -= 1;
                                if refs[j] == 0 {
                                    if let Some(c) = results[j].take() {
                                        held -= c.nbytes() as u64;
                                        // The task has dropped its references: this is the last.
                                        if let Ok(c) = Arc::try_unwrap(c) {
                                            ctx.store.recycle(c);
                                        }
                                    }
                                }
                            }
                            stats.peak_bytes = stats.peak_bytes.max(held);
                            for d in &dependents[i] {
                                let k = d.0 as usize;
                                waiting[k] -= 1;
                                if waiting[k] == 0 {
                                    ready.push(Reverse((prio[k], d.0)));
                                }
                            }
                        }
                    }
                }
            }
        });
        bar.finish_and_clear();
        stats.chunks_read = ctx.store.chunks_read();
        stats.bytes_read = ctx.store.bytes_read();
        stats.chunks_written = ctx.store.chunks_written();
        stats.bytes_written = ctx.store.bytes_written();
        *self.stats.lock() = stats;
        if record {
            records.sort_by_key(|r| (r.start_ns, r.thread));
            *self.report.lock() = Some(Report {
                records,
                threads: self.threads,
                wall_ns: nanos(t0.elapsed()),
            });
        }
        if let Some(e) = failure {
            return Err(e);
        }
        debug_assert_eq!(done, n);
        Ok(graph
            .outputs
            .iter()
            .map(|o| {
                results[o.0 as usize]
                    .clone()
                    .expect("outputs are kept until returned")
            })
            .collect())
    }

    fn last_stats(&self) -> ExecStats {
        self.stats.lock().clone()
    }

    fn memory_budget(&self) -> u64 {
        self.budget
    }
}

fn nanos(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// The record of a task that ran on `thread` from `start` to `end` (since the
/// run began), named by its delayed function where it is a call.
fn task_record(
    graph: &Graph,
    task: &Task,
    out: &Chunk,
    thread: u32,
    start: std::time::Duration,
    end: std::time::Duration,
) -> TaskRecord {
    let name = if let crate::graph::Op::Call { function, .. } = &task.op {
        function.clone()
    } else {
        task.op.name().to_string()
    };
    TaskRecord {
        key: graph.key_name(&task.key),
        name,
        thread,
        start_ns: nanos(start),
        end_ns: nanos(end),
        bytes_out: out.nbytes() as u64,
        mem_bytes: task.mem_bytes,
    }
}

pub(crate) fn panic_message(p: &Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<&str>()
        .map(ToString::to_string)
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}

fn progress_bar(on: bool, n: usize) -> indicatif::ProgressBar {
    if !on {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::with_draw_target(
        Some(n as u64),
        indicatif::ProgressDrawTarget::stderr(),
    );
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{elapsed_precise} [{bar:40}] {pos}/{len} tasks, {msg}",
    ) {
        bar.set_style(style);
    }
    bar
}
