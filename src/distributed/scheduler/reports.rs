//! A worker's messages. Every id in them (job, task index, attempt, the
//! inputs it names) is checked against what the scheduler issued before
//! anything is looked up by it. A report about a job that has since finished
//! or failed, or about an attempt that was superseded, is normal (messages
//! cross) and is ignored; one naming a job never issued, a task the job does
//! not have, an attempt never started or an input the task does not take can
//! only come from a buggy or mismatched worker: it is logged and the worker is
//! dropped, as if it had disconnected (its running tasks go back, its results
//! are recomputed where needed), and the scheduler serves everyone else.

use super::{key_name, Scheduler, State};
use crate::distributed::proto::{Failure, FromWorker, ToWorker};
use darray_kernels::Chunk;
use std::sync::Arc;

impl Scheduler {
    pub(super) fn on_worker(&mut self, w: u64, msg: FromWorker, chunk: Option<Box<Chunk>>) {
        match self.workers.get_mut(&w) {
            Some(wk) => {
                wk.last_seen = std::time::Instant::now();
                if let FromWorker::Heartbeat { memory } = &msg {
                    wk.memory = *memory;
                }
            }
            // Removed (missed heartbeats, or a bad message): its reports no
            // longer count.
            None => return,
        }
        if let Err(why) = self.check_report(&msg) {
            let name = self.workers.get(&w).map_or("", |wk| wk.name.as_str());
            tracing::warn!(
                worker = w,
                name,
                "bad message from worker ({why}); dropping it"
            );
            self.worker_left(w);
            return;
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
                    // A repeated report must not release the result it
                    // reported: the scheduler counts on `w` holding it.
                    if self.holds(w, job, task, attempt) {
                        return;
                    }
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
                    j.fetch_nanos = j.fetch_nanos.saturating_add(fetch_nanos);
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
                    self.missing(w, job, task, &inputs);
                }
            }
            FromWorker::StealReply {
                job,
                task,
                attempt,
                stolen,
            } => self.steal_reply(w, job, task, attempt, stolen),
            FromWorker::Data { job, task, present } => {
                self.on_data(w, job, task, present.then_some(chunk).flatten());
            }
        }
    }

    /// Whether every id in a worker's report names something the scheduler
    /// issued (see the module docs); the reason if not.
    fn check_report(&self, msg: &FromWorker) -> Result<(), String> {
        let (job, task, attempt) = match msg {
            FromWorker::Heartbeat { .. } => return Ok(()),
            FromWorker::Done {
                job, task, attempt, ..
            }
            | FromWorker::Failed {
                job, task, attempt, ..
            }
            | FromWorker::Missing {
                job, task, attempt, ..
            }
            | FromWorker::StealReply {
                job, task, attempt, ..
            } => (*job, *task, Some(*attempt)),
            FromWorker::Data { job, task, .. } => (*job, *task, None),
        };
        if job == 0 || job >= self.next_job {
            return Err(format!("job {job} was never issued"));
        }
        // Issued and gone (finished, failed, dropped): a late report.
        let Some(j) = self.jobs.get(&job) else {
            return Ok(());
        };
        let Some(t) = j.tasks.get(task as usize) else {
            return Err(format!(
                "job {job} has no task {task} (it has {})",
                j.tasks.len()
            ));
        };
        if let Some(a) = attempt {
            // Attempts count from 1, and only the scheduler starts one.
            if a == 0 || a > t.attempt {
                return Err(format!(
                    "attempt {a} of task {task} of job {job} was never started (latest {})",
                    t.attempt
                ));
            }
        }
        let named: &[u32] = match msg {
            FromWorker::Done { fetched, .. } => fetched,
            FromWorker::Missing { inputs, .. } => {
                if let Some((i, _)) = inputs.iter().find(|(i, _)| !t.inputs.contains(i)) {
                    return Err(format!("task {task} of job {job} has no input {i}"));
                }
                &[]
            }
            _ => &[],
        };
        if let Some(i) = named.iter().find(|i| !t.inputs.contains(i)) {
            return Err(format!("task {task} of job {job} has no input {i}"));
        }
        Ok(())
    }

    /// Whether a report about `attempt` of `task` from `w` is about the attempt
    /// the scheduler is waiting for (late or duplicated reports are not).
    pub(super) fn current(&self, job: u64, task: u32, attempt: u32, w: u64) -> bool {
        self.jobs
            .get(&job)
            .and_then(|j| j.tasks.get(task as usize))
            .is_some_and(|t| t.attempt == attempt && t.state == State::Processing(w))
    }

    /// Whether `w` holds the result of `attempt` of `task`, as far as the
    /// scheduler knows.
    fn holds(&self, w: u64, job: u64, task: u32, attempt: u32) -> bool {
        self.jobs
            .get(&job)
            .and_then(|j| j.tasks.get(task as usize))
            .is_some_and(|t| {
                t.attempt == attempt && t.state == State::Memory && t.holders.contains(&w)
            })
    }

    /// A data reply to [`ToWorker::Send`]: the output (passed on), or word that
    /// `w` no longer holds it (ask another holder, or recompute).
    fn on_data(&mut self, w: u64, job: u64, task: u32, chunk: Option<Box<Chunk>>) {
        let Some(j) = self.jobs.get_mut(&job) else {
            return;
        };
        j.sending.remove(&task);
        if let Some(c) = chunk {
            self.deliver(job, task, Arc::new(*c));
            return;
        }
        self.lose_holder(job, task, w);
        let other = self.jobs.get(&job).and_then(|j| {
            let t = j.tasks.get(task as usize)?;
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
