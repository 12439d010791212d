//! Unit tests of the scheduler's state machine, driven in-process over
//! [`Link::Local`]: how many tasks a worker is handed at once (here), losses,
//! races and bad ids ([`faults`]), and fuzzed worker reports ([`fuzz`]).

mod cluster;
mod faults;
mod fuzz;

use super::placement::SMALL_AHEAD;
use super::*;
use crate::distributed::batch::batches;
use crate::graph::Graph;
use crate::DArray;

/// A scheduler with one worker of `nthreads` threads and one client, both
/// in-process (messages kept in the outbox).
fn scheduler(nthreads: u32) -> Scheduler {
    let mut s = Scheduler::new(Limits::default());
    s.handle(Event::WorkerJoined {
        id: 1,
        nthreads,
        memory_limit: 1 << 40,
        data_addr: "127.0.0.1:9".parse().unwrap(),
        name: "w".into(),
        link: Link::Local,
    });
    s.handle(Event::ClientJoined(2, Link::Local));
    s
}

/// Submits `graph` as job 1, schedules, and returns the projected bytes of each
/// task sent to the worker.
fn submit(s: &mut Scheduler, graph: &Graph) -> Vec<u64> {
    for (tasks, lits) in batches(graph, &Limits::default()).unwrap() {
        let lits = lits.iter().map(|c| Chunk::clone(c)).collect();
        s.handle(Event::FromClient(
            2,
            FromClient::Tasks { job: 1, tasks },
            lits,
        ));
    }
    let submit = FromClient::Submit {
        job: 1,
        n_tasks: u32::try_from(graph.len()).unwrap(),
        outputs: graph.outputs.iter().map(|o| o.0).collect(),
        names: Vec::new(),
    };
    s.handle(Event::FromClient(2, submit, Vec::new()));
    s.schedule();
    sent_runs(s)
}

fn sent_runs(s: &Scheduler) -> Vec<u64> {
    let mut sent = Vec::new();
    s.take_outbox(&mut sent);
    sent.into_iter()
        .filter_map(|m| match m {
            Sent::Worker(1, ToWorker::Run { mem_bytes, .. }, _) => Some(mem_bytes),
            _ => None,
        })
        .collect()
}

#[test]
fn small_tasks_are_queued_deeper_than_the_slots_and_large_ones_are_not() {
    for nthreads in [1u32, 3] {
        let slots = nthreads as usize + 1;
        // 1,000 one-element chunks: small root tasks.
        let small = DArray::<f64>::ones(&[1000], [1]).unwrap().sum().unwrap();
        let mut s = scheduler(nthreads);
        let runs = submit(&mut s, &small.graph().unwrap());
        assert_eq!(runs.len(), slots + SMALL_AHEAD * nthreads as usize);
        assert!(runs.iter().all(|&b| b <= SMALL_TASK_BYTES));
        // 8 MiB chunks: root tasks stay throttled to the slots.
        let large = DArray::<f64>::ones(&[64 << 20], [1 << 20])
            .unwrap()
            .sum()
            .unwrap();
        let mut s = scheduler(nthreads);
        let runs = submit(&mut s, &large.graph().unwrap());
        assert_eq!(runs.len(), slots);
        assert!(runs.iter().all(|&b| b > SMALL_TASK_BYTES));
    }
}

#[test]
fn a_worker_full_of_small_tasks_takes_no_large_one_until_a_slot_frees() {
    // Large and small roots side by side: chunks of 8 MiB, and of 8 bytes.
    let large = DArray::<f64>::ones(&[4 << 20], [1 << 20])
        .unwrap()
        .sum()
        .unwrap();
    let small = DArray::<f64>::ones(&[200], [1]).unwrap().sum().unwrap();
    let both = (large + &small).unwrap();
    let graph = both.graph().unwrap();
    let mut s = scheduler(1);
    let runs = submit(&mut s, &graph);
    let n_large = runs.iter().filter(|&&b| b > SMALL_TASK_BYTES).count();
    assert!(n_large <= 2, "{n_large} large tasks on a 1-thread worker");
    assert_eq!(runs.len(), 2 + SMALL_AHEAD);
    assert!(s.free_is_consistent());
}
