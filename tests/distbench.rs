//! The scheduler simulation under a counting allocator: the scheduler's memory
//! per task stays under the 1 KiB target, and every task completes once.

use darray::distributed::{simulate, SimConfig};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The system allocator, counting the bytes live (requested sizes).
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call forwards to the system allocator with the same arguments;
// the counter is only bookkeeping.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded as is.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded as is.
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded as is.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            LIVE.fetch_add(new_size, Ordering::Relaxed);
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        }
        p
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

fn live() -> usize {
    LIVE.load(Ordering::Relaxed)
}

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
