//! Helpers for the multi-process tests: the test binary as a worker that knows
//! the test kernels (through a process constructor, not a test entry), worker processes with captured logs, and what `/proc` says
//! about processes and their sockets.
#![allow(dead_code)]

use darray::distributed::LocalCluster;
use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::OnceLock;

/// Where the `tick` kernel counts its calls (one byte appended per call).
static TICKS: OnceLock<PathBuf> = OnceLock::new();

/// `x -> 2x + 1`, blockwise: a user kernel only the test binary knows.
fn affine(ins: &[ndarray::ArrayViewD<'_, f64>]) -> ndarray::ArrayD<f64> {
    ins[0].mapv(|v| 2.0 * v + 1.0)
}

/// Identity that appends a byte to the tick file per call: progress a test can
/// read from outside the worker process.
fn tick(ins: &[ndarray::ArrayViewD<'_, f64>]) -> ndarray::ArrayD<f64> {
    if let Some(p) = TICKS.get() {
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(p)
        {
            let _ = f.write_all(b".");
        }
    }
    ins[0].to_owned()
}

/// Registers the test kernels (`affine`, `tick`) in this process; idempotent.
pub fn register_test_kernels() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        darray::register_kernel::<f64, f64>("affine", affine).expect("register affine");
        darray::register_kernel::<f64, f64>("tick", tick).expect("register tick");
    });
}

/// Names the file the `tick` kernel of a test worker counts into.
const TICKS_ENV: &str = "DARRAY_TEST_TICKS";

/// This test binary's own process constructor: in a worker started by
/// [`test_cluster`] (`DARRAY_LOCAL_WORKER` set, as `LocalCluster` sets it),
/// registers the test kernels and serves, so the process never reaches
/// libtest's `main` and runs no test; in any other process, returns at once.
/// The cluster's workers take over "in main" (`serve_in_main`), so darray's own
/// constructor leaves them to this one, whichever of the two runs first.
extern "C" fn serve_as_test_worker() {
    if std::env::var_os(darray::distributed::WORKER_ENV).is_none() {
        return;
    }
    if let Some(t) = std::env::var_os(TICKS_ENV) {
        let _ = TICKS.set(PathBuf::from(t));
    }
    register_test_kernels();
    darray::distributed::serve_if_worker();
}

#[used]
#[cfg_attr(not(target_vendor = "apple"), link_section = ".init_array")]
#[cfg_attr(target_vendor = "apple", link_section = "__DATA,__mod_init_func")]
static SERVE_AS_TEST_WORKER: extern "C" fn() = serve_as_test_worker;

/// A cluster of `n` workers with `nthreads` each: this test binary, which
/// knows the test kernels. `ticks` names the file the `tick` kernel counts into.
pub fn test_cluster(n: usize, nthreads: usize, ticks: Option<&Path>) -> LocalCluster {
    let mut b = LocalCluster::builder(n)
        .nthreads(nthreads)
        .serve_in_main(true);
    if let Some(t) = ticks {
        b = b.env(TICKS_ENV, t);
    }
    b.build().expect("cluster starts")
}

/// A worker process started by a test, its stderr lines forwarded to a channel.
pub struct LoggedWorker {
    pub child: Child,
    pub lines: mpsc::Receiver<String>,
    /// Every line seen so far (filled by [`LoggedWorker::drain`]).
    pub seen: Vec<String>,
}

impl LoggedWorker {
    /// Starts `darray worker` (the binary built by cargo) for `cluster`'s
    /// scheduler, logging at `info`, with extra arguments `args`.
    pub fn start(cluster: &LocalCluster, name: &str, args: &[&str]) -> LoggedWorker {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_darray"));
        cmd.args([
            "worker",
            "--scheduler",
            cluster.scheduler_addr(),
            "--nthreads",
            "1",
            "--listen",
            "127.0.0.1:0",
            "--name",
            name,
        ])
        .env("DARRAY_SECRET_FILE", cluster.secret_file())
        .env_remove("DARRAY_SECRET")
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
        cmd.args(args);
        let mut child = cmd.spawn().expect("worker starts");
        let (tx, lines) = mpsc::channel();
        let err = child.stderr.take().expect("piped stderr");
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        LoggedWorker {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Takes the lines logged so far.
    pub fn drain(&mut self) {
        while let Ok(l) = self.lines.try_recv() {
            self.seen.push(l);
        }
    }

    /// Everything the worker logged so far and whether it has exited, for a
    /// test's failure message.
    pub fn report(&mut self, name: &str) -> String {
        // Give the forwarding thread a moment to pass on the last lines.
        std::thread::sleep(std::time::Duration::from_millis(200));
        self.drain();
        let status = match self.child.try_wait() {
            Ok(Some(s)) => format!("exited: {s}"),
            Ok(None) => "running".to_string(),
            Err(e) => format!("status unknown: {e}"),
        };
        format!("--- {name} ({status}):\n{}\n", self.seen.join("\n"))
    }

    /// SIGKILL, as a crash.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for LoggedWorker {
    fn drop(&mut self) {
        self.kill();
    }
}

/// An element's exact bits, so that `-0.0 != 0.0` and NaN payloads count.
pub trait Bits: Copy + std::fmt::Debug {
    /// The bits, widened.
    fn bits(self) -> u64;
}

impl Bits for f64 {
    fn bits(self) -> u64 {
        self.to_bits()
    }
}

impl Bits for i64 {
    fn bits(self) -> u64 {
        self as u64
    }
}

impl Bits for bool {
    fn bits(self) -> u64 {
        u64::from(self)
    }
}

/// Bitwise equality of two arrays, naming `what` on failure.
pub fn assert_same<T: Bits>(what: &str, want: &ndarray::ArrayD<T>, got: &ndarray::ArrayD<T>) {
    assert_eq!(want.shape(), got.shape(), "{what}: shapes differ");
    let same = want
        .iter()
        .zip(got.iter())
        .all(|(a, b)| a.bits() == b.bits());
    assert!(same, "{what}: results differ\nwant {want:?}\ngot {got:?}");
}

// ---- /proc ----

/// Pids of the live processes whose command line contains `needle` (other than
/// this process).
pub fn pids_with_arg(needle: &str) -> Vec<u32> {
    let me = std::process::id();
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        if pid == me || !alive(pid) {
            continue;
        }
        let Ok(cmd) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
            continue;
        };
        if cmd.split(|&b| b == 0).any(|a| a == needle.as_bytes()) {
            out.push(pid);
        }
    }
    out.sort_unstable();
    out
}

/// The worker processes of `cluster` (started with `--scheduler ADDR`).
pub fn worker_pids(cluster: &LocalCluster) -> Vec<u32> {
    pids_with_arg(cluster.scheduler_addr())
}

/// Whether `pid` exists and is not a zombie.
pub fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the parenthesised command name.
        Ok(s) => s
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|st| st != "Z" && st != "X"),
        Err(_) => false,
    }
}

/// Resident memory of `pid` in KiB (`VmRSS`).
pub fn rss_kib(pid: u32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    s.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("VmRSS in /proc/PID/status")
}

/// Socket inodes held open by `pid`.
fn socket_inodes(pid: u32) -> Vec<u64> {
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| std::fs::read_link(e.path()).ok())
        .filter_map(|l| {
            let l = l.to_string_lossy().into_owned();
            l.strip_prefix("socket:[")?.strip_suffix(']')?.parse().ok()
        })
        .collect()
}

/// A `/proc/net/tcp{,6}` address (`0100007F:1F90`) as a socket address.
fn proc_addr(s: &str, v6: bool) -> SocketAddr {
    let (ip, port) = s.split_once(':').unwrap();
    let port = u16::from_str_radix(port, 16).unwrap();
    let bytes: Vec<u8> = (0..ip.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&ip[i..i + 2], 16).unwrap())
        .collect();
    // The kernel prints each 32-bit word in host (little-endian) order.
    let mut fixed = Vec::with_capacity(bytes.len());
    for w in bytes.chunks(4) {
        fixed.extend(w.iter().rev());
    }
    if v6 {
        let a: [u8; 16] = fixed.try_into().unwrap();
        SocketAddr::new(std::net::Ipv6Addr::from(a).into(), port)
    } else {
        let a: [u8; 4] = fixed.try_into().unwrap();
        SocketAddr::new(std::net::Ipv4Addr::from(a).into(), port)
    }
}

/// The TCP sockets in LISTEN state that `pid` holds, with their local addresses.
pub fn listening(pid: u32) -> Vec<SocketAddr> {
    let inodes = socket_inodes(pid);
    let mut out = Vec::new();
    for (file, v6) in [("/proc/net/tcp", false), ("/proc/net/tcp6", true)] {
        let Ok(text) = std::fs::read_to_string(file) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            // sl local rem st tx:rx tr:when retr uid timeout inode
            if f.len() < 10 || f[3] != "0A" {
                continue;
            }
            if f[9].parse::<u64>().is_ok_and(|i| inodes.contains(&i)) {
                out.push(proc_addr(f[1], v6));
            }
        }
    }
    out
}

/// The listening address of a worker process (it has exactly one listener).
pub fn worker_peer_addr(pid: u32) -> SocketAddr {
    let l = listening(pid);
    assert_eq!(l.len(), 1, "worker {pid} listens on {l:?}");
    l[0]
}
