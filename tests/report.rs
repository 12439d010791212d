//! Performance reports of the local executor: a Chrome trace with one complete
//! event per task, and a self-contained HTML page with one bar per task.

use darray::delayed::{self, val};
use darray::{DArray, LocalExecutor};
use std::sync::OnceLock;

fn slow_square(x: u64) -> u64 {
    std::thread::sleep(std::time::Duration::from_millis(1));
    x * x
}

fn sum(a: u64, b: u64) -> u64 {
    a + b
}

fn setup() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        delayed::register("r-square", slow_square).unwrap();
        delayed::register("r-sum", sum).unwrap();
    });
}

#[test]
fn recording_is_off_by_default() {
    let exec = LocalExecutor::with_threads(1).unwrap();
    DArray::<f64>::ones(&[10], [5])
        .unwrap()
        .sum()
        .unwrap()
        .compute_with(&exec)
        .unwrap();
    assert!(exec.last_report().is_none());
}

#[test]
fn chrome_trace_and_html_have_one_entry_per_task() {
    setup();
    let squares: Vec<_> = (0..20u64)
        .map(|i| delayed::call1::<_, u64>("r-square", val(&i)).unwrap())
        .collect();
    let total = squares.iter().skip(1).fold(squares[0].clone(), |acc, s| {
        delayed::call2::<_, _, u64>("r-sum", acc, s).unwrap()
    });
    let exec = LocalExecutor::with_threads(2).unwrap().record(true);
    assert_eq!(
        total.compute_with(&exec).unwrap(),
        (0..20u64).map(|i| i * i).sum::<u64>()
    );
    let n = total.num_tasks().unwrap();
    let report = exec.last_report().unwrap();
    assert_eq!(report.records.len(), n);
    assert!(report.task_time_ns() >= 20 * 1_000_000, "20 sleeps of 1 ms");
    assert!(report
        .records
        .iter()
        .all(|r| r.end_ns <= report.wall_ns && (r.thread as usize) < 2));
    let by = report.by_function();
    assert_eq!(by["r-square"].tasks, 20);
    assert_eq!(by["r-sum"].tasks, 19);

    let trace: serde_json::Value = serde_json::from_str(&report.to_chrome_trace()).unwrap();
    let events = trace["traceEvents"].as_array().unwrap();
    assert_eq!(events.len(), n);
    let mut keys: Vec<&str> = events
        .iter()
        .map(|e| e["args"]["key"].as_str().unwrap())
        .collect();
    keys.sort_unstable();
    keys.dedup();
    assert_eq!(keys.len(), n, "one event per task");
    for e in events {
        assert_eq!(e["ph"], "X");
        assert!(e["ts"].as_f64().unwrap() >= 0.0 && e["dur"].as_f64().unwrap() >= 0.0);
        assert!(e["tid"].as_u64().unwrap() < 2);
        assert!(["r-square", "r-sum"].contains(&e["name"].as_str().unwrap()));
    }

    let html = report.to_html();
    assert_eq!(html.matches("<rect class=\"task\"").count(), n);
    assert!(html.contains("<table id=\"by-function\">") && html.contains("r-square"));
    // Self-contained: nothing fetched from elsewhere.
    assert!(!html.contains("src=") && !html.contains("href=") && !html.contains("http"));
    let dir = tempfile::tempdir().unwrap();
    report.write_html(dir.path().join("report.html")).unwrap();
    report
        .write_chrome_trace(dir.path().join("trace.json"))
        .unwrap();
    assert!(
        std::fs::metadata(dir.path().join("report.html"))
            .unwrap()
            .len()
            > 1000
    );
}

#[test]
fn array_tasks_are_recorded_by_op() {
    let exec = LocalExecutor::with_threads(2).unwrap().record(true);
    let x = DArray::<f64>::random_uniform(1, &[40, 30], 0.0, 1.0, [10, 10]).unwrap();
    let m = x.sin().mean().unwrap();
    let want = m.compute_scalar().unwrap();
    assert_eq!(
        m.compute_with(&exec)
            .unwrap()
            .into_iter()
            .next()
            .unwrap()
            .to_bits(),
        want.to_bits()
    );
    let report = exec.last_report().unwrap();
    assert_eq!(report.records.len(), m.num_tasks().unwrap());
    let by = report.by_function();
    assert!(
        by.contains_key("partial") && by.contains_key("finalize"),
        "{by:?}"
    );
}
