//! The scheduler simulation under a counting allocator: the scheduler's memory
//! per task stays under the 1 KiB target, and every task completes once.

use darray::distributed::{simulate, SimConfig};

#[path = "common/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::live;

/// One test in this binary, so no other test allocates while it measures.
#[test]
fn scheduler_memory_per_task_is_under_a_kibibyte() {
    let cfg = SimConfig {
        workers: 200,
        tasks: 50_000,
        memory_probe: Some(live),
        ..SimConfig::default()
    };
    let r = simulate(&cfg).unwrap();
    assert_eq!(r.distinct_tasks_run, r.tasks);
    assert_eq!(r.max_runs_per_task, 1);
    assert_eq!(r.results, 1);
    let per_task = r.bytes_per_task.expect("a probe was given");
    // A scheduler that kept nothing per task could not schedule it.
    assert!(per_task > 16.0, "{per_task} bytes per task");
    assert!(per_task < 1024.0, "{per_task} bytes per task");
    let peak = r.peak_scheduler_bytes.expect("a probe was given");
    assert!(peak >= r.scheduler_bytes.unwrap());
    #[allow(clippy::cast_precision_loss)]
    let peak_per_task = peak as f64 / r.tasks as f64;
    assert!(
        peak_per_task < 2048.0,
        "{peak_per_task} peak bytes per task"
    );
}
