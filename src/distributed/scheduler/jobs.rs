//! A client's messages: task intake (checked as it arrives), submit (which
//! wires dependents, priorities and the ready set), the budget check, and
//! failing or dropping a job. A malformed job fails alone: the client is told
//! why, and every other job runs on.

use super::{key_name, JTask, Job, Scheduler, State};
use crate::distributed::proto::{Failure, FromClient, JobId, ToClient, ToWorker, WireTask};
use darray_kernels::Chunk;
use std::collections::BTreeMap;
use std::sync::Arc;

impl Scheduler {
    pub(super) fn on_client(&mut self, c: u64, msg: FromClient, chunks: Vec<Chunk>) {
        match msg {
            FromClient::Info => {
                let workers = self
                    .workers
                    .values()
                    .map(|w| crate::distributed::proto::WorkerInfo {
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
            FromClient::Tasks { job, tasks } => self.take_tasks(c, job, tasks, chunks),
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
                self.submit(id, n_tasks, &outputs, names.into_iter().collect());
            }
        }
    }

    /// A batch of a job's tasks: each must be the next in order and name only
    /// earlier tasks as inputs, so every index kept is in range.
    fn take_tasks(&mut self, c: u64, job: JobId, tasks: Vec<WireTask>, chunks: Vec<Chunk>) {
        let id = match self.job_ids.get(&(c, job)) {
            Some(&id) => id,
            None => {
                let id = self.next_job;
                self.next_job += 1;
                self.job_ids.insert((c, job), id);
                self.jobs.insert(id, Job::new(c, job));
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

    fn submit(&mut self, id: JobId, n_tasks: u32, outputs: &[u32], names: BTreeMap<u64, String>) {
        let Some(j) = self.jobs.get_mut(&id) else {
            return;
        };
        // A second submit would wire every dependent twice.
        if j.submitted {
            self.fail(id, Failure::Invalid("job submitted twice".into()));
            return;
        }
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
                j.transition(i as u32, State::Ready);
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

    /// A client is gone: so are its jobs.
    pub(super) fn client_left(&mut self, id: u64) {
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

    pub(super) fn client_job(&self, id: JobId) -> JobId {
        self.jobs.get(&id).map_or(0, |j| j.cjob)
    }

    pub(super) fn fail(&mut self, id: JobId, failure: Failure) {
        if let Some(j) = self.jobs.get(&id) {
            let (client, job) = (j.client, self.client_job(id));
            tracing::info!(job, "job failed: {failure:?}");
            self.send_client(client, ToClient::Failed { job, failure }, None);
        }
        self.drop_job(id);
    }

    /// Forgets a job everywhere.
    pub(super) fn drop_job(&mut self, id: JobId) {
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
                            wk.held = wk.held.saturating_add(t.nbytes);
                        }
                    }
                }
            }
        }
    }
}
