//! Performance reports: one record per task of a run (recorded by the local
//! executor on request, see [`LocalExecutor::record`](super::LocalExecutor::record)),
//! written as a Chrome trace (trace-event JSON, for Perfetto and
//! `chrome://tracing`) or as one self-contained HTML page (inline CSS and SVG,
//! no network access needed) with a task-stream chart and a per-function table.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

/// What one task did, as recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskRecord {
    /// The task's key, with its array's (or function's) name: `normalize-12()`.
    pub key: String,
    /// The delayed function's name for a call, else the op's name (`fused`, `read`).
    pub name: String,
    /// The pool thread that ran it (0-based).
    pub thread: u32,
    /// Start, nanoseconds since the run started.
    pub start_ns: u64,
    /// End, nanoseconds since the run started.
    pub end_ns: u64,
    /// Bytes of its result.
    pub bytes_out: u64,
    /// Its projected memory (the task's `mem_bytes`).
    pub mem_bytes: u64,
}

/// The records of one run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// One per task that completed, ordered by start time (then thread).
    pub records: Vec<TaskRecord>,
    /// Threads of the executor.
    pub threads: usize,
    /// Wall time of the run, nanoseconds.
    pub wall_ns: u64,
}

/// Per-function totals, for the table of the HTML report.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FunctionSummary {
    /// Tasks run.
    pub tasks: u64,
    /// Sum of their durations, nanoseconds.
    pub total_ns: u64,
    /// Longest duration, nanoseconds.
    pub max_ns: u64,
    /// Sum of their result bytes.
    pub bytes_out: u64,
}

impl Report {
    /// The sum of every task's duration, nanoseconds (compare with
    /// `wall_ns * threads` for the pool's utilisation).
    #[must_use]
    pub fn task_time_ns(&self) -> u64 {
        self.records.iter().map(|r| r.end_ns - r.start_ns).sum()
    }

    /// Totals per function (or op) name, sorted by name.
    #[must_use]
    pub fn by_function(&self) -> BTreeMap<String, FunctionSummary> {
        let mut m: BTreeMap<String, FunctionSummary> = BTreeMap::new();
        for r in &self.records {
            let s = m.entry(r.name.clone()).or_default();
            let d = r.end_ns - r.start_ns;
            s.tasks += 1;
            s.total_ns += d;
            s.max_ns = s.max_ns.max(d);
            s.bytes_out += r.bytes_out;
        }
        m
    }

    /// The run in Chrome's trace-event format: one complete (`"ph": "X"`) event
    /// per task, on thread `tid` = its pool thread, times in microseconds.
    #[must_use]
    pub fn to_chrome_trace(&self) -> String {
        let events: Vec<serde_json::Value> = self
            .records
            .iter()
            .map(|r| {
                serde_json::json!({
                    "name": r.name,
                    "cat": "task",
                    "ph": "X",
                    "ts": r.start_ns as f64 / 1e3,
                    "dur": (r.end_ns - r.start_ns) as f64 / 1e3,
                    "pid": 0,
                    "tid": r.thread,
                    "args": {"key": r.key, "bytes_out": r.bytes_out, "mem_bytes": r.mem_bytes},
                })
            })
            .collect();
        serde_json::json!({"traceEvents": events, "displayTimeUnit": "ms"}).to_string()
    }

    /// Writes [`Report::to_chrome_trace`] to `path`.
    ///
    /// # Errors
    /// If the file cannot be written.
    pub fn write_chrome_trace(&self, path: impl AsRef<Path>) -> std::io::Result<()> {
        std::fs::write(path, self.to_chrome_trace())
    }

    /// Writes [`Report::to_html`] to `path`.
    ///
    /// # Errors
    /// If the file cannot be written.
    pub fn write_html(&self, path: impl AsRef<Path>) -> std::io::Result<()> {
        std::fs::write(path, self.to_html())
    }

    /// One self-contained HTML page: a task-stream chart (one bar, an SVG
    /// `rect` of class `task`, per task, on its thread's row, coloured by
    /// function, its key and times in a tooltip) and a table per function.
    /// Nothing is loaded from the network.
    #[must_use]
    pub fn to_html(&self) -> String {
        const WIDTH: f64 = 1200.0;
        const ROW: usize = 24;
        let funcs = self.by_function();
        let colour: BTreeMap<&str, String> = funcs
            .keys()
            .enumerate()
            .map(|(i, name)| {
                // Golden-angle hues: neighbours in the list get distant colours.
                let hue = (i as f64 * 137.508) % 360.0;
                (name.as_str(), format!("hsl({hue:.0},65%,55%)"))
            })
            .collect();
        let span = self.wall_ns.max(1) as f64;
        let height = self.threads.max(1) * ROW + 20;
        let mut s = String::with_capacity(4096 + self.records.len() * 160);
        s.push_str("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>darray performance report</title>\n<style>\nbody{font-family:sans-serif;margin:20px;color:#222}\nsvg{border:1px solid #ccc;background:#fafafa}\nrect.task:hover{stroke:#000;stroke-width:1}\ntable{border-collapse:collapse;margin-top:16px}\ntd,th{border:1px solid #ccc;padding:3px 8px;text-align:right}\ntd:first-child,th:first-child{text-align:left}\n.sw{display:inline-block;width:10px;height:10px;margin-right:6px}\n</style></head><body>\n");
        let _ = writeln!(
            s,
            "<h1>darray performance report</h1>\n<p>{} tasks on {} threads; wall {:.3} ms; task time {:.3} ms</p>",
            self.records.len(),
            self.threads,
            self.wall_ns as f64 / 1e6,
            self.task_time_ns() as f64 / 1e6
        );
        let _ = writeln!(
            s,
            "<h2>Task stream</h2>\n<svg id=\"task-stream\" width=\"{WIDTH}\" height=\"{height}\" viewBox=\"0 0 {WIDTH} {height}\">"
        );
        for t in 0..self.threads {
            let _ = writeln!(
                s,
                "<text x=\"2\" y=\"{}\" font-size=\"10\">thread {t}</text>",
                t * ROW + 14
            );
        }
        for r in &self.records {
            let x = 60.0 + r.start_ns as f64 / span * (WIDTH - 70.0);
            let w = ((r.end_ns - r.start_ns) as f64 / span * (WIDTH - 70.0)).max(0.5);
            let _ = writeln!(
                s,
                "<rect class=\"task\" x=\"{x:.2}\" y=\"{}\" width=\"{w:.2}\" height=\"{}\" fill=\"{}\"><title>{} ({}): {:.3} ms, {} bytes out</title></rect>",
                r.thread as usize * ROW + 2,
                ROW - 4,
                colour[r.name.as_str()],
                escape(&r.key),
                escape(&r.name),
                (r.end_ns - r.start_ns) as f64 / 1e6,
                r.bytes_out
            );
        }
        s.push_str("</svg>\n<h2>By function</h2>\n<table id=\"by-function\"><tr><th>function</th><th>tasks</th><th>total ms</th><th>mean ms</th><th>max ms</th><th>bytes out</th></tr>\n");
        for (name, f) in &funcs {
            let _ = writeln!(
                s,
                "<tr><td><span class=\"sw\" style=\"background:{}\"></span>{}</td><td>{}</td><td>{:.3}</td><td>{:.3}</td><td>{:.3}</td><td>{}</td></tr>",
                colour[name.as_str()],
                escape(name),
                f.tasks,
                f.total_ns as f64 / 1e6,
                f.total_ns as f64 / 1e6 / f.tasks.max(1) as f64,
                f.max_ns as f64 / 1e6,
                f.bytes_out
            );
        }
        s.push_str("</table>\n</body></html>\n");
        s
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
