//! Losses: a worker gone (its running tasks go back, its results are
//! recomputed where still needed), a result no holder has any more, and a
//! worker's report that inputs could not be fetched. Recomputation walks back
//! through inputs already released, iteratively.

use super::{key_name, Job, Scheduler, State, MAX_LOSSES};
use crate::distributed::proto::{Failure, JobId};
use std::collections::HashMap;
use std::net::SocketAddr;

impl Scheduler {
    /// Removes worker `w` (disconnected, silent, or dropped for a bad message)
    /// and recovers its work.
    pub(super) fn worker_left(&mut self, w: u64) {
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
                    j.requeue(ti as u32);
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

    /// `w` no longer holds `task`: drop it as a holder; if no holder is left and
    /// the result is still needed, recompute it.
    pub(super) fn lose_holder(&mut self, job: JobId, task: u32, w: u64) {
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
            j.transition(task, State::Released);
            return;
        }
        // Dependents that counted it as available wait for it again.
        for d in j.tasks[ti].dependents.clone() {
            let dt = &mut j.tasks[d as usize];
            match dt.state {
                State::Waiting => dt.waiting += 1,
                State::Ready => {
                    dt.waiting = 1;
                    j.transition(d, State::Waiting);
                }
                State::Processing(_) | State::Memory | State::Released => {}
            }
        }
        j.transition(task, State::Released);
        recompute(j, task);
    }

    /// Worker `w` could not fetch inputs of `task` from the holders it names.
    /// No holder named means `w` itself was to hold the input, and does not:
    /// without losing it there, the task would go straight back to `w`.
    pub(super) fn missing(
        &mut self,
        w: u64,
        job: JobId,
        task: u32,
        inputs: &[(u32, Vec<SocketAddr>)],
    ) {
        let addr_to_id: HashMap<SocketAddr, u64> = self
            .workers
            .iter()
            .map(|(&id, w)| (w.data_addr, id))
            .collect();
        for (i, addrs) in inputs {
            if addrs.is_empty() {
                self.lose_holder(job, *i, w);
            }
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
        j.requeue(task);
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
        j.tasks[xi].waiting = waiting;
        let to = if waiting == 0 {
            State::Ready
        } else {
            State::Waiting
        };
        j.transition(x, to);
    }
}
