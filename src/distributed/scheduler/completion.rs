//! A task done: its result held, inputs no longer needed released, dependents
//! made ready, outputs fetched from their holder and delivered to the client,
//! and the job finished once every output arrived.

use super::{Scheduler, State};
use crate::distributed::proto::{JobId, ToClient, ToWorker};
use darray_kernels::Chunk;
use std::collections::BTreeMap;
use std::sync::Arc;

impl Scheduler {
    /// `task`, processing on `w`, finished with a result of `nbytes`; `w` now
    /// also holds the inputs it `fetched`. The caller checked every index.
    pub(super) fn done(&mut self, w: u64, job: JobId, task: u32, nbytes: u64, fetched: &[u32]) {
        let Some(j) = self.jobs.get_mut(&job) else {
            return;
        };
        let ti = task as usize;
        if j.tasks[ti].state != State::Processing(w) {
            // Callers check `current` first; nothing to do for anything else.
            return;
        }
        j.tasks_run += 1;
        // Sizes come from the worker: summed saturating, so no report overflows.
        let mut held = nbytes;
        for &f in fetched {
            if let Some(t) = j.tasks.get_mut(f as usize) {
                if t.state == State::Memory && !t.holders.contains(&w) {
                    t.holders.push(w);
                    held = held.saturating_add(t.nbytes);
                    j.bytes_moved = j.bytes_moved.saturating_add(t.nbytes);
                }
            }
        }
        j.transition(task, State::Memory);
        let t = &mut j.tasks[ti];
        t.holders = vec![w];
        t.nbytes = nbytes;
        if let Some(wk) = self.workers.get_mut(&w) {
            wk.held = wk.held.saturating_add(held);
        }
        let inputs = j.tasks[ti].inputs.clone();
        let mut release: Vec<(u32, Vec<u64>)> = Vec::new();
        for i in inputs {
            let it = &mut j.tasks[i as usize];
            it.refs -= 1;
            if it.refs == 0 && it.state == State::Memory {
                let holders = std::mem::take(&mut it.holders);
                j.transition(i, State::Released);
                release.push((i, holders));
            }
        }
        for d in j.tasks[ti].dependents.clone() {
            let dt = &mut j.tasks[d as usize];
            if dt.state == State::Waiting {
                dt.waiting -= 1;
                if dt.waiting == 0 {
                    j.transition(d, State::Ready);
                }
            }
        }
        if j.outputs.contains_key(&task) && j.sending.insert(task) {
            self.send_worker(w, ToWorker::Send { job, task }, None);
        }
        self.release(job, release);
    }

    /// Sends releases and updates held bytes.
    pub(super) fn release(&mut self, job: JobId, release: Vec<(u32, Vec<u64>)>) {
        let mut by_worker: BTreeMap<u64, Vec<u32>> = BTreeMap::new();
        for (task, holders) in release {
            let nbytes = self
                .jobs
                .get(&job)
                .and_then(|j| j.tasks.get(task as usize))
                .map_or(0, |t| t.nbytes);
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
    pub(super) fn deliver(&mut self, job: JobId, task: u32, chunk: Arc<Chunk>) {
        let cjob = self.client_job(job);
        let Some(j) = self.jobs.get_mut(&job) else {
            return;
        };
        // Not an output still owed (never one, or delivered already): nothing
        // to pass on.
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
            let holders = std::mem::take(&mut t.holders);
            j.transition(task, State::Released);
            release.push((task, holders));
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
}
