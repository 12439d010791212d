//! The state machine under losses, races and bad ids, driven in-process
//! through the stand-in cluster: each case ends with a job whose every output
//! is checked.

use super::super::{Event, Sent, State};
use super::cluster::Sim;
use crate::array::{DArray, ReduceOpts};
use crate::distributed::proto::{Failure, FromClient, FromWorker, JobId, ToWorker};
use crate::graph::Graph;

/// One output, a tree of merges over 1-element chunks (small tasks).
fn reduction() -> Graph {
    crate::distributed::sim::tree_reduction(400, 4).unwrap()
}

/// Eight outputs, each a small tree of merges.
fn many_outputs() -> Graph {
    DArray::<f64>::ones(&[8, 32], [2, 4])
        .unwrap()
        .sum_with(&ReduceOpts::axes([0]).split_every(2))
        .unwrap()
        .graph()
        .unwrap()
}

/// Tasks of scheduler job `job` that satisfy `f`.
fn tasks_where(sim: &Sim, job: JobId, f: impl Fn(&super::super::JTask) -> bool) -> Vec<u32> {
    let j = &sim.s.jobs[&job];
    (0..j.tasks.len())
        .filter(|&t| f(&j.tasks[t]))
        .map(|t| u32::try_from(t).unwrap())
        .collect()
}

#[test]
fn a_lost_worker_s_running_tasks_go_back_and_its_held_results_are_recomputed() {
    let g = reduction();
    let mut sim = Sim::new(3);
    sim.submit(100, 1, &g);
    let id = sim.job_id(100, 1).unwrap();
    sim.round();
    sim.s.schedule();
    sim.route_all();
    let held = tasks_where(&sim, id, |t| t.state == State::Memory && t.holders == [1]);
    let running = tasks_where(&sim, id, |t| t.state == State::Processing(1));
    assert!(
        !held.is_empty() && !running.is_empty(),
        "{held:?} {running:?}"
    );

    sim.kill(1);
    for &t in &running {
        assert!(matches!(
            sim.state(id, t),
            Some(State::Ready | State::Waiting)
        ));
    }
    assert!(sim.s.free_is_consistent());
    sim.pump();
    sim.assert_correct(100, 1, &g);
    for &t in &held {
        assert_eq!(sim.runs[&(id, t)], 2, "task {t}, held by the lost worker");
    }
    for &t in &running {
        assert_eq!(sim.runs[&(id, t)], 1, "task {t}, queued on the lost worker");
    }
}

/// A job whose ten roots all sit on worker 1, and a second, idle worker: the
/// scheduler asks worker 1 to give one back. Returns the outbox with the
/// steal request, and the request.
fn steal_setup(sim: &mut Sim, g: &Graph) -> (Vec<Sent>, (JobId, u32, u32)) {
    sim.submit(100, 1, g);
    sim.s.schedule();
    sim.route_all();
    let w2 = sim.join(1);
    assert_eq!(w2, 2);
    sim.s.schedule();
    let sent = sim.outbox();
    let steal = sent
        .iter()
        .find_map(|m| match m {
            Sent::Worker(1, ToWorker::Steal { job, task, attempt }, _) => {
                Some((*job, *task, *attempt))
            }
            _ => None,
        })
        .expect("a steal request for the idle worker");
    (sent, steal)
}

fn ten_roots() -> Graph {
    DArray::<f64>::ones(&[10], [1])
        .unwrap()
        .sum()
        .unwrap()
        .graph()
        .unwrap()
}

#[test]
fn a_steal_that_loses_the_race_to_a_completion_changes_nothing() {
    let g = ten_roots();
    let mut sim = Sim::new(1);
    let (sent, (job, task, _)) = steal_setup(&mut sim, &g);
    // Worker 1 runs the task before it reads the steal request, then refuses it.
    let (steals, rest): (Vec<_>, Vec<_>) = sent
        .into_iter()
        .partition(|m| matches!(m, Sent::Worker(_, ToWorker::Steal { .. }, _)));
    for m in rest {
        sim.route(m);
    }
    sim.run_queued();
    for m in steals {
        sim.route(m);
    }
    sim.deliver_events();
    assert!(matches!(
        sim.state(job, task),
        Some(State::Memory | State::Released)
    ));
    sim.pump();
    sim.assert_correct(100, 1, &g);
    assert!(sim.runs.values().all(|&r| r == 1), "{:?}", sim.runs);
}

#[test]
fn a_late_report_of_a_stolen_attempt_is_ignored() {
    let g = ten_roots();
    let mut sim = Sim::new(1);
    let (sent, (job, task, attempt)) = steal_setup(&mut sim, &g);
    for m in sent {
        sim.route(m);
    }
    // Given back: ready again, then sent to the idle worker as a new attempt.
    sim.deliver_events();
    assert_eq!(sim.state(job, task), Some(State::Ready));
    sim.s.schedule();
    let sent = sim.outbox();
    assert!(sent.iter().any(|m| matches!(m,
        Sent::Worker(2, ToWorker::Run { task: t, attempt: a, .. }, _) if *t == task && *a == attempt + 1)));
    for m in sent {
        sim.route(m);
    }
    // Worker 1's report of the old attempt crosses the steal: it is told to
    // drop that result, and is not dropped itself.
    let late = FromWorker::Done {
        job,
        task,
        attempt,
        nbytes: 8,
        fetched: Vec::new(),
        fetch_nanos: 0,
    };
    sim.s.handle(Event::FromWorker(1, late, None));
    assert_eq!(sim.state(job, task), Some(State::Processing(2)));
    assert!(sim.s.workers.contains_key(&1));
    let sent = sim.outbox();
    assert!(sent.iter().any(|m| matches!(m,
        Sent::Worker(1, ToWorker::Release { job: j, tasks }, _) if *j == job && tasks == &[task])));
    for m in sent {
        sim.route(m);
    }
    sim.pump();
    sim.assert_correct(100, 1, &g);
    assert!(sim.runs.values().all(|&r| r == 1), "{:?}", sim.runs);
}

#[test]
fn a_duplicate_submit_fails_that_job_alone() {
    let g = reduction();
    let mut sim = Sim::new(2);
    sim.submit(100, 1, &g);
    sim.submit(101, 1, &g);
    sim.round();
    // The old scheduler wired every dependent twice, and a count underflowed.
    let again = FromClient::Submit {
        job: 1,
        n_tasks: u32::try_from(g.len()).unwrap(),
        outputs: g.outputs.iter().map(|o| o.0).collect(),
        names: Vec::new(),
    };
    sim.s.handle(Event::FromClient(100, again, Vec::new()));
    sim.pump();
    assert!(
        matches!(sim.failed.get(&(100, 1)), Some(Failure::Invalid(m)) if m.contains("twice")),
        "{:?}",
        sim.failed
    );
    sim.assert_correct(101, 1, &g);
    sim.submit(100, 2, &g);
    sim.pump();
    sim.assert_correct(100, 2, &g);
}

#[test]
fn a_data_reply_for_a_released_task_is_ignored() {
    let g = many_outputs();
    let mut sim = Sim::new(2);
    sim.submit(100, 1, &g);
    let id = sim.job_id(100, 1).unwrap();
    // The last output's data is held back, so the job stays open while the
    // others are delivered and released.
    let last = g.outputs.last().unwrap().0;
    let mut withheld = Vec::new();
    for _ in 0..100 {
        sim.s.schedule();
        sim.route_all();
        sim.run_queued();
        let events = std::mem::take(&mut sim.events);
        let (held, rest): (Vec<_>, Vec<_>) = events.into_iter().partition(|e| {
            matches!(e, Event::FromWorker(_, FromWorker::Data { task, .. }, _) if *task == last)
        });
        withheld.extend(held);
        sim.events.extend(rest);
        if !sim.deliver_events() && !withheld.is_empty() {
            break;
        }
    }
    assert_eq!(sim.results.len(), g.outputs.len() - 1);
    assert!(!sim.finished.contains_key(&(100, 1)));
    let (_, _, index) = *sim.results.keys().next().unwrap();
    let delivered = g.outputs[index as usize].0;
    let released = tasks_where(&sim, id, |t| t.state == State::Released);
    assert!(released.contains(&delivered), "{released:?}");
    let garbage = darray_kernels::Chunk::U64(ndarray::arr1(&[12345u64]).into_dyn());
    for &task in released.iter().take(4).chain([&delivered]) {
        for w in [1, 2] {
            for present in [false, true] {
                let msg = FromWorker::Data {
                    job: id,
                    task,
                    present,
                };
                let chunk = present.then(|| Box::new(garbage.clone()));
                sim.s.handle(Event::FromWorker(w, msg, chunk));
            }
        }
    }
    assert!(sim.s.workers.contains_key(&1) && sim.s.workers.contains_key(&2));
    sim.events.extend(withheld);
    sim.pump();
    sim.assert_correct(100, 1, &g);
}

/// Bad reports a worker could send about `job`, whose task `task` runs on it
/// at `attempt`: each names something the scheduler never issued.
fn bad_reports(job: JobId, n: u32, task: u32, attempt: u32, not_input: u32) -> Vec<FromWorker> {
    let done = |job, task, attempt, fetched| FromWorker::Done {
        job,
        task,
        attempt,
        nbytes: 8,
        fetched,
        fetch_nanos: 0,
    };
    vec![
        // The old scheduler indexed the task list with this one, and panicked.
        FromWorker::Data {
            job,
            task: 1_000_000,
            present: false,
        },
        FromWorker::Data {
            job: u64::MAX,
            task,
            present: false,
        },
        done(99, task, attempt, Vec::new()),
        done(0, task, attempt, Vec::new()),
        done(job, n, 1, Vec::new()),
        done(job, task, attempt + 5, Vec::new()),
        done(job, task, attempt, vec![not_input]),
        FromWorker::Failed {
            job,
            task,
            attempt: 0,
            message: "x".into(),
        },
        FromWorker::Missing {
            job,
            task,
            attempt,
            inputs: vec![(not_input, Vec::new())],
        },
        FromWorker::StealReply {
            job,
            task: u32::MAX,
            attempt,
            stolen: true,
        },
    ]
}

#[test]
fn a_worker_naming_unknown_jobs_tasks_attempts_or_inputs_is_dropped_and_the_job_completes() {
    let g = reduction();
    let n = u32::try_from(g.len()).unwrap();
    let cases = bad_reports(1, n, 0, 1, n - 1).len();
    for case in 0..cases {
        let mut sim = Sim::new(2);
        sim.submit(100, 1, &g);
        let id = sim.job_id(100, 1).unwrap();
        sim.round();
        sim.s.schedule();
        sim.route_all();
        let task = tasks_where(&sim, id, |t| t.state == State::Processing(1))[0];
        let t = &sim.s.jobs[&id].tasks[task as usize];
        let attempt = t.attempt;
        let not_input = (0..n).rev().find(|i| !t.inputs.contains(i)).unwrap();
        let msg = bad_reports(id, n, task, attempt, not_input).swap_remove(case);
        let shown = format!("{msg:?}");
        // From a worker that never joined: ignored.
        sim.s.handle(Event::FromWorker(77, msg.clone(), None));
        assert!(sim.s.workers.contains_key(&1));
        sim.s.handle(Event::FromWorker(1, msg, None));
        assert!(!sim.s.workers.contains_key(&1), "kept after {shown}");
        assert!(sim.s.free_is_consistent());
        // Its connection closes; its queued tasks and results are gone.
        sim.workers.remove(&1);
        sim.pump();
        sim.assert_correct(100, 1, &g);
        assert!(sim.s.workers.contains_key(&2));
    }
}

#[test]
fn reports_about_a_finished_job_are_late_not_bad() {
    let g = reduction();
    let mut sim = Sim::new(2);
    sim.submit(100, 1, &g);
    let id = sim.job_id(100, 1).unwrap();
    sim.pump();
    sim.assert_correct(100, 1, &g);
    assert!(sim.job_id(100, 1).is_none());
    for msg in [
        FromWorker::Data {
            job: id,
            task: 1_000_000,
            present: false,
        },
        FromWorker::Done {
            job: id,
            task: 3,
            attempt: 7,
            nbytes: u64::MAX,
            fetched: vec![u32::MAX],
            fetch_nanos: u64::MAX,
        },
    ] {
        sim.s.handle(Event::FromWorker(1, msg, None));
    }
    assert!(sim.s.workers.contains_key(&1));
    sim.submit(100, 2, &g);
    sim.pump();
    sim.assert_correct(100, 2, &g);
}

#[test]
fn a_client_naming_unknown_jobs_or_tasks_fails_its_own_job_only() {
    let g = reduction();
    let n = u32::try_from(g.len()).unwrap();
    let mut sim = Sim::new(2);
    sim.submit(100, 1, &g);
    sim.round();
    let submit = |job, n_tasks, outputs| FromClient::Submit {
        job,
        n_tasks,
        outputs,
        names: Vec::new(),
    };
    // Submitted, never sent.
    sim.s
        .handle(Event::FromClient(101, submit(5, 3, vec![0]), Vec::new()));
    // An input that is not an earlier task.
    let (mut tasks, _) = crate::distributed::batch::batches(&g, &Default::default())
        .unwrap()
        .swap_remove(0);
    tasks.truncate(2);
    tasks[1].inputs = vec![7];
    let msg = FromClient::Tasks { job: 6, tasks };
    sim.s.handle(Event::FromClient(101, msg, Vec::new()));
    // An output that is not a task, and a task count that is wrong.
    for (job, n_tasks, outputs) in [(7, n, vec![n + 10]), (8, n + 1, vec![0])] {
        sim.send_tasks(101, job, &g);
        sim.s.handle(Event::FromClient(
            101,
            submit(job, n_tasks, outputs),
            Vec::new(),
        ));
    }
    sim.pump();
    for job in [5, 6, 7, 8] {
        assert!(
            matches!(sim.failed.get(&(101, job)), Some(Failure::Invalid(_))),
            "job {job}: {:?}",
            sim.failed
        );
    }
    sim.assert_correct(100, 1, &g);
}
