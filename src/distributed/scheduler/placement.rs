//! Placement: each worker's slots (and the sets of workers with room, so a
//! pass looks only at them), picking a ready task for a free slot by locality
//! then priority, sending it, and stealing for idle workers.

use super::{Scheduler, State, Worker, SMALL_TASK_BYTES};
use crate::distributed::proto::{InputLoc, JobId, ToWorker};

/// How many ready tasks (in priority order) a free slot looks at for locality.
const LOCALITY_WINDOW: usize = 16;

/// Small tasks a worker may hold per thread beyond its slots, so that tiny tasks
/// are not each a round trip to the scheduler apart: the worker reports a batch
/// while the next batch is already queued. Root tasks reading inputs are
/// larger, and stay throttled to the slots.
pub(super) const SMALL_AHEAD: usize = 32;

/// Ready tasks a worker takes in a row when slots are filled in turn, so that
/// neighbouring tasks (inputs of one merge) tend to run on one worker.
const RUN: usize = 8;

impl Worker {
    pub(super) fn slots(&self) -> usize {
        self.nthreads as usize + 1
    }

    /// Tasks it may hold when the ones beyond [`Worker::slots`] are small.
    pub(super) fn small_slots(&self) -> usize {
        self.slots() + SMALL_AHEAD * self.nthreads as usize
    }

    /// Memory it would use with one more task: results held in memory (what
    /// it holds less what its last heartbeat says is spilled, so spilled data
    /// never blocks scheduling and a computation larger than the cluster's
    /// memory runs by spilling) plus the projected memory of its tasks.
    /// Saturating: the sizes come from workers and clients.
    fn projected(&self) -> u64 {
        self.assigned
            .values()
            .fold(self.held.saturating_sub(self.memory.spilled), |a, &b| {
                a.saturating_add(b)
            })
    }
}

impl Scheduler {
    /// Takes `task` of `job` off worker `w`'s assigned tasks, returning its
    /// projected memory; the worker's slot is free again.
    pub(super) fn unassign(&mut self, w: u64, job: JobId, task: u32) -> Option<u64> {
        let wk = self.workers.get_mut(&w)?;
        let mem = wk.assigned.remove(&(job, task));
        self.refresh_free(w);
        mem
    }

    /// Puts `w` in [`Scheduler::free`] or [`Scheduler::roomy`] (or neither, or
    /// out of both once it is gone) by its assigned tasks.
    pub(super) fn refresh_free(&mut self, w: u64) {
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

    /// Fills free worker slots with ready tasks, up to [`RUN`] per worker in
    /// turn (small tasks also beyond the slots, see [`SMALL_AHEAD`]); steals for
    /// idle workers. Looks only at workers with room, and at none while nothing
    /// is ready, so its cost does not grow with the cluster.
    pub(in crate::distributed) fn schedule(&mut self) {
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
    pub(super) fn free_is_consistent(&self) -> bool {
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
    /// priority; only a small one once its slots are taken. It stays ready
    /// until [`Scheduler::assign`] moves it on.
    fn pick(&self, w: u64) -> Option<(JobId, u32)> {
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
            let mut best: Option<(u64, u32)> = None;
            for &(_, t) in j.ready.iter().take(LOCALITY_WINDOW) {
                let task = &j.tasks[t as usize];
                if !idle && projected.saturating_add(task.mem_bytes) > limit
                    || small_only && task.mem_bytes > SMALL_TASK_BYTES
                {
                    continue;
                }
                let local: u64 = task
                    .inputs
                    .iter()
                    .map(|&i| &j.tasks[i as usize])
                    .filter(|it| it.holders.contains(&w))
                    .fold(0, |a, it| a.saturating_add(it.nbytes));
                if best.is_none_or(|(b, _)| local > b) {
                    best = Some((local, t));
                }
            }
            if let Some((_, t)) = best {
                return Some((job, t));
            }
        }
        None
    }

    /// Sends ready `task` of `job` to worker `w` as a new attempt.
    fn assign(&mut self, w: u64, job: JobId, task: u32) {
        let Some(j) = self.jobs.get_mut(&job) else {
            return;
        };
        let ti = task as usize;
        j.transition(task, State::Processing(w));
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
                    requests.push((v, job, task, t.attempt));
                    break;
                }
            }
            if requests.len() >= idle {
                break;
            }
        }
        for (v, job, task, attempt) in requests {
            if let Some(t) = self
                .jobs
                .get_mut(&job)
                .and_then(|j| j.tasks.get_mut(task as usize))
            {
                t.stealing = true;
            }
            self.send_worker(v, ToWorker::Steal { job, task, attempt }, None);
        }
    }

    /// `w`'s answer to a steal request: if it gave `task` back, the task is
    /// ready again (unless it already went elsewhere).
    pub(super) fn steal_reply(
        &mut self,
        w: u64,
        job: JobId,
        task: u32,
        attempt: u32,
        stolen: bool,
    ) {
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
                j.transition(task, State::Ready);
            }
            self.unassign(w, job, task);
        }
    }
}
