//! Thousands of authenticated worker reports with random ids and fields, fed
//! through the in-process link while stand-ins run jobs honestly alongside:
//! no report may panic the scheduler, a worker is dropped only for naming
//! what was never issued, and afterwards every job ends and a new one
//! computes the right outputs.

use super::super::Event;
use super::cluster::{chunk_of, Sim};
use crate::distributed::proto::{FromWorker, MemoryReport};
use std::net::SocketAddr;

/// xorshift64*: seeded, so a failure replays.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[usize::try_from(self.below(xs.len() as u64)).unwrap()]
    }

    fn coin(&mut self) -> bool {
        self.next() & 1 == 0
    }
}

/// A report from `w` with fields now plausible (a task it runs, its attempt,
/// its inputs), now random, now extreme.
fn report(r: &mut Rng, sim: &Sim, w: u64) -> FromWorker {
    let live: Vec<u64> = sim.s.jobs.keys().copied().collect();
    let issued = sim.s.next_job;
    let any = r.next();
    let mut job = r.pick(&[0, 1, issued, issued - 1, u64::MAX, any]);
    if r.coin() && !live.is_empty() {
        job = r.pick(&live);
    }
    let n = sim
        .s
        .jobs
        .get(&job)
        .map_or(500, |j| u32::try_from(j.tasks.len()).unwrap());
    let mut task = r.pick(&[0, 1, n.saturating_sub(1), n, n + 1, u32::MAX]);
    if r.coin() {
        task = u32::try_from(r.below(u64::from(n))).unwrap();
    }
    let mut attempt = r.pick(&[0, 1, 2, 3, u32::MAX]);
    let mut inputs = Vec::new();
    // Half the time, a task running on `w` with its attempt and inputs.
    if let Some(wk) = sim.s.workers.get(&w) {
        if r.coin() && !wk.assigned.is_empty() {
            let k = usize::try_from(r.below(wk.assigned.len() as u64)).unwrap();
            let &(j, t) = wk.assigned.keys().nth(k).unwrap();
            (job, task) = (j, t);
            if let Some(tk) = sim.s.jobs.get(&j).and_then(|jj| jj.tasks.get(t as usize)) {
                attempt = tk.attempt;
                inputs.clone_from(&tk.inputs);
            }
        }
    }
    let some_tasks = |r: &mut Rng| -> Vec<u32> {
        (0..r.below(4))
            .map(|_| {
                if !inputs.is_empty() && r.coin() {
                    r.pick(&inputs)
                } else {
                    u32::try_from(r.below(u64::from(n) + 2)).unwrap()
                }
            })
            .collect()
    };
    let addrs: Vec<SocketAddr> = sim.s.workers.values().map(|w| w.data_addr).collect();
    let big = |r: &mut Rng| {
        let any = r.next();
        r.pick(&[0, 8, 1 << 20, u64::MAX, any])
    };
    match r.below(7) {
        0 => FromWorker::Heartbeat {
            memory: MemoryReport {
                memory: big(r),
                spilled: big(r),
                spilled_total: big(r),
                process: big(r),
                paused: r.coin(),
            },
        },
        1 | 2 => FromWorker::Done {
            job,
            task,
            attempt,
            nbytes: big(r),
            fetched: some_tasks(r),
            fetch_nanos: big(r),
        },
        // Rare: every one that is current fails its job.
        3 if r.below(8) == 0 => FromWorker::Failed {
            job,
            task,
            attempt,
            message: "fuzz".into(),
        },
        3 | 4 => FromWorker::Missing {
            job,
            task,
            attempt,
            inputs: some_tasks(r)
                .into_iter()
                .map(|i| {
                    let holders = (0..r.below(3))
                        .filter(|_| !addrs.is_empty())
                        .map(|_| r.pick(&addrs))
                        .collect();
                    (i, holders)
                })
                .collect(),
        },
        5 => FromWorker::StealReply {
            job,
            task,
            attempt,
            stolen: r.coin(),
        },
        _ => FromWorker::Data {
            job,
            task,
            present: r.coin(),
        },
    }
}

#[test]
fn thousands_of_random_worker_reports_leave_the_cluster_serving() {
    let g = crate::distributed::sim::tree_reduction(200, 4).unwrap();
    let mut r = Rng(0x05EE_D0FD_A77A);
    let mut sim = Sim::new(3);
    let (mut next_cjob, mut dropped, mut sent) = (1u64, 0u32, 0u32);
    for i in 0..6_000 {
        if sim.s.jobs.is_empty() {
            sim.submit(100, next_cjob, &g);
            next_cjob += 1;
        }
        let mut ids: Vec<u64> = sim.s.workers.keys().copied().collect();
        ids.push(999);
        let w = r.pick(&ids);
        let msg = report(&mut r, &sim, w);
        let chunk = matches!(msg, FromWorker::Data { present: true, .. } if r.coin())
            .then(|| Box::new(chunk_of(r.next())));
        sim.s.handle(Event::FromWorker(w, msg, chunk));
        sent += 1;
        if sim.workers.contains_key(&w) && !sim.s.workers.contains_key(&w) {
            // Dropped: its connection closes, and it reconnects as a new worker.
            dropped += 1;
            sim.workers.remove(&w);
            sim.join(1);
        }
        if i % 5 == 0 {
            sim.round();
            let honest_dropped = sim.workers.keys().any(|w| !sim.s.workers.contains_key(w));
            assert!(!honest_dropped, "a well-behaved worker was dropped");
        }
        assert!(sim.s.free_is_consistent());
    }
    assert!(sent == 6_000 && dropped > 100, "{dropped} workers dropped");
    // The fuzzed jobs end (finished or failed), and a new one is right.
    sim.pump();
    assert!(sim.s.jobs.is_empty(), "{} jobs left", sim.s.jobs.len());
    assert!(next_cjob > 2, "only {} jobs ran", next_cjob - 1);
    let fresh = crate::array::DArray::<f64>::ones(&[8, 32], [2, 4])
        .unwrap()
        .sum_axis(0)
        .unwrap()
        .graph()
        .unwrap();
    sim.submit(101, 1, &fresh);
    sim.pump();
    sim.assert_correct(101, 1, &fresh);
}
