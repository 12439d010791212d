//! Where a process becomes a worker of a [`LocalCluster`](super::LocalCluster):
//! darray's process constructor, which serves before `main` runs, and
//! [`serve_if_worker`], which a program calls from `main` once its kernels are
//! registered. Both act only in a process whose environment has [`WORKER_ENV`],
//! which `LocalCluster` sets for the workers it starts and nothing else does;
//! in every other process they return at once.
//!
//! The constructor is an entry of the executable's `.init_array` (ELF) or
//! `__mod_init_func` (Mach-O): the loader runs it before `main`, in every
//! program that links darray, with no call from the program. rustc keeps a
//! `#[used]` static of a dependency in the final link, so a user's binary gets
//! it by depending on darray.

use std::ffi::OsString;

/// The environment variable that marks a process as a worker of a
/// `LocalCluster`; its value says where the worker takes over: `at-start`
/// (darray's process constructor, before `main`) or `in-main` (the program's
/// own call of [`serve_if_worker`] or [`run_from_args`](super::run_from_args)).
/// The worker's arguments are its command line, as for `darray worker`.
pub const WORKER_ENV: &str = "DARRAY_LOCAL_WORKER";

/// Where a worker process takes over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Entry {
    /// darray's process constructor, before `main`.
    AtStart,
    /// The program's `main` (or a constructor of its own), through
    /// [`serve_if_worker`] or `run_from_args`.
    InMain,
}

impl Entry {
    /// [`WORKER_ENV`]'s value for this entry.
    pub(super) fn value(self) -> &'static str {
        match self {
            Entry::AtStart => "at-start",
            Entry::InMain => "in-main",
        }
    }
}

/// If this process was started as a worker of a
/// [`LocalCluster`](super::LocalCluster) ([`WORKER_ENV`] is set), serves as
/// that worker with the kernels registered so far and then exits the process
/// (status 0, or 2 after printing why it could not serve); otherwise returns
/// at once. Call it at the top of `main`, after registering kernels, in a
/// program whose cluster is built with
/// [`serve_in_main(true)`](super::LocalClusterBuilder::serve_in_main).
pub fn serve_if_worker() {
    if std::env::var_os(WORKER_ENV).is_some() {
        serve_and_exit();
    }
}

/// Runs `darray worker` with this process's command line, then exits.
fn serve_and_exit() -> ! {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        // As in the `darray` binary: a failed log write must not panic.
        .log_internal_errors(false)
        .try_init();
    let served = std::panic::catch_unwind(|| super::run_from_args(command_line()));
    let code = match served {
        Ok(Ok(())) => 0,
        Ok(Err(e)) => {
            eprintln!("darray worker: {e}");
            2
        }
        // The panic hook has printed the message.
        Err(_) => 101,
    };
    std::process::exit(code)
}

/// This process's arguments. Before `main`, `std::env::args_os` has them on
/// glibc Linux and macOS (std records them in a constructor of its own that
/// runs first); elsewhere it may still be empty, and `/proc/self/cmdline`
/// has them.
fn command_line() -> Vec<OsString> {
    let args: Vec<OsString> = std::env::args_os().collect();
    if !args.is_empty() {
        return args;
    }
    use std::os::unix::ffi::OsStringExt;
    std::fs::read("/proc/self/cmdline")
        .unwrap_or_default()
        .split(|&b| b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| OsString::from_vec(a.to_vec()))
        .collect()
}

/// darray's process constructor: serves as a worker before `main` when
/// [`WORKER_ENV`] is `at-start`, and does nothing otherwise.
extern "C" fn worker_at_start() {
    if std::env::var_os(WORKER_ENV).as_deref() != Some(Entry::AtStart.value().as_ref()) {
        return;
    }
    // SAFETY: signal(2) with a valid signal number and SIG_IGN, before any
    // other thread exists. Rust's runtime ignores SIGPIPE before `main`; this
    // worker never reaches `main`, so it does the same, and a write to a closed
    // pipe is an error it handles instead of a signal that kills it.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
    }
    serve_and_exit();
}

// Unnumbered, so after std's own constructor (`.init_array.00099`), which
// records the arguments read above.
#[cfg(not(target_vendor = "apple"))]
#[used]
#[link_section = ".init_array"]
static WORKER_AT_START: extern "C" fn() = worker_at_start;

#[cfg(target_vendor = "apple")]
#[used]
#[link_section = "__DATA,__mod_init_func"]
static WORKER_AT_START: extern "C" fn() = worker_at_start;
