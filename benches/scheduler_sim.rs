//! Scheduler simulation: the real scheduler, 1,000 in-process stand-in workers
//! that acknowledge every task at once, and a graph of about 1,000,000 tasks (a
//! tree reduction of an elementwise chain, built with the DArray API). Prints
//! transitions per second and the scheduler's bytes per task, measured with the
//! counting global allocator below (bytes allocated and not freed).
//!
//! ```text
//! cargo bench --bench scheduler_sim
//! DARRAY_SIM_TASKS=200000 DARRAY_SIM_WORKERS=100 DARRAY_SIM_EVENTS_PER_PASS=1,64 cargo bench --bench scheduler_sim
//! ```
//!
//! Environment: `DARRAY_SIM_TASKS` (default 1,000,000 under `cargo bench`, 20,000
//! under `cargo test --benches`), `DARRAY_SIM_WORKERS` (1,000 / 50),
//! `DARRAY_SIM_THREADS` (threads per worker, 1), `DARRAY_SIM_FAN_IN` (8),
//! `DARRAY_SIM_RESULT_BYTES` (8 MiB), `DARRAY_SIM_EVENTS_PER_PASS` (events per
//! scheduling pass, a comma-separated list for one row each; default 1, the
//! worst case: a scheduling pass after every event).

use darray::distributed::{simulate_graph, tree_reduction, SimConfig};

#[path = "../tests/common/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::live;

fn env<T: std::str::FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(v) => v
            .replace('_', "")
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v:?} is not a number")),
        Err(_) => default,
    }
}

const TARGET_RATE: f64 = 200_000.0;
const TARGET_BYTES: f64 = 1024.0;

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` does not: run small.
    let full = std::env::args().any(|a| a == "--bench");
    let tasks = env("DARRAY_SIM_TASKS", if full { 1_000_000 } else { 20_000 });
    let workers = env("DARRAY_SIM_WORKERS", if full { 1_000 } else { 50 });
    let fan_in = env("DARRAY_SIM_FAN_IN", 8);
    let passes: Vec<usize> = std::env::var("DARRAY_SIM_EVENTS_PER_PASS")
        .unwrap_or_else(|_| "1".into())
        .split(',')
        .map(|s| {
            s.trim()
                .parse()
                .expect("DARRAY_SIM_EVENTS_PER_PASS: numbers")
        })
        .collect();
    let base = SimConfig {
        workers,
        threads_per_worker: env("DARRAY_SIM_THREADS", 1),
        tasks,
        fan_in,
        result_bytes: env("DARRAY_SIM_RESULT_BYTES", 8 << 20),
        memory_probe: Some(live),
        ..SimConfig::default()
    };
    let t = std::time::Instant::now();
    let graph = tree_reduction(tasks, fan_in).expect("graph");
    println!(
        "scheduler_sim: graph of {} tasks (tree reduction of an elementwise chain, fan-in {fan_in}) built in {:.2?}; {workers} stand-in workers x {} threads",
        graph.len(),
        t.elapsed(),
        base.threads_per_worker,
    );
    println!();
    println!("| events/pass | tasks | workers | transitions | submit s | run s | transitions/s | scheduler bytes/task | peak bytes/task | steals |");
    println!("|---|---|---|---|---|---|---|---|---|---|");
    let mut worst_rate = f64::INFINITY;
    let mut worst_bytes: f64 = 0.0;
    for &p in &passes {
        let cfg = SimConfig {
            events_per_pass: p,
            ..base.clone()
        };
        let r = simulate_graph(&graph, &cfg).expect("simulation");
        assert_eq!(r.distinct_tasks_run, r.tasks, "every task ran");
        assert_eq!(r.max_runs_per_task, 1, "no task ran twice");
        assert_eq!(r.results, r.outputs, "every output arrived");
        let bpt = r.bytes_per_task.unwrap_or(f64::NAN);
        #[allow(clippy::cast_precision_loss)]
        let peak = r.peak_scheduler_bytes.unwrap_or(0) as f64 / r.tasks as f64;
        println!(
            "| {p} | {} | {} | {} | {:.3} | {:.3} | {:.0} | {bpt:.0} | {peak:.0} | {} |",
            r.tasks,
            r.workers,
            r.transitions,
            r.submit_seconds,
            r.run_seconds,
            r.transitions_per_sec,
            r.steals
        );
        worst_rate = worst_rate.min(r.transitions_per_sec);
        worst_bytes = worst_bytes.max(bpt);
    }
    println!();
    let verdict = |ok: bool| if ok { "met" } else { "MISSED" };
    println!(
        "target >= {TARGET_RATE:.0} transitions/s: {} (slowest row {worst_rate:.0}/s, {:.2}x the target)",
        verdict(worst_rate >= TARGET_RATE),
        worst_rate / TARGET_RATE
    );
    println!(
        "target < {TARGET_BYTES:.0} bytes of scheduler memory per task: {} (largest {worst_bytes:.0} bytes/task)",
        verdict(worst_bytes < TARGET_BYTES)
    );
    println!(
        "load average: {}",
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .trim()
    );
}
