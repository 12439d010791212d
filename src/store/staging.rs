//! Staging directories left behind by writers that died: how they are named, how
//! their writer is recognised as gone, and [`clean_staging`].
//!
//! A write goes to a hidden directory beside its destination
//! (`.{name}.darray-staging-{suffix}`, see `create.rs`), renamed into place at the
//! commit; a commit renames the array it replaces aside to `.{name}.darray-old-{suffix}`
//! before removing it. A writer killed in between leaves these behind. The suffix
//! names the writer: `{pid}-{start}-{nanos}-{n}-{host}`, where `start` is the
//! process's start time (clock ticks after boot, from `/proc/{pid}/stat`; 0 where
//! unknown) so that a new process that reuses the PID is not taken for the writer,
//! and `host` keeps a writer on another machine sharing the filesystem from being
//! judged by this machine's process table. Directories of the earlier form
//! `{pid}-{nanos}-{n}` are judged by their PID alone.
//!
//! A directory is removed only when its writer is known to be gone: its PID is not
//! running here, or runs a process that started at another time. Anything else (a
//! live writer, this process's own writes, another host's, a name that does not
//! parse) is kept.

use super::fs::TMP_MARK;
use super::StoreError;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

/// Marks a staging directory: `.{name}{STAGING_MARK}{suffix}`.
pub(super) const STAGING_MARK: &str = ".darray-staging-";

/// Marks the previous array moved aside by a commit: `.{name}{OLD_MARK}{suffix}`.
pub(super) const OLD_MARK: &str = ".darray-old-";

/// A suffix unique to this write, naming this process (see the module docs).
pub(super) fn unique_suffix() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let me = this_process();
    format!(
        "{}-{}-{nanos}-{n}-{}",
        me.pid,
        me.start.unwrap_or(0),
        me.host.as_deref().unwrap_or("")
    )
}

/// The process that made a staging directory, as its name records it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Writer {
    pid: u32,
    /// Start time in clock ticks after boot; `None` if not recorded.
    start: Option<u64>,
    /// Host name; `None` if not recorded (the earlier naming).
    host: Option<String>,
}

/// Whether a writer still runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Liveness {
    /// It runs (or may: this process, an unanswerable check).
    Alive,
    /// It is gone: its directories may be removed.
    Gone,
}

/// The writer recorded in a staging or old directory's name, if `file_name` is one:
/// `.{anything}{mark}{suffix}` with a suffix of either form in the module docs.
pub(super) fn parse_writer(file_name: &str) -> Option<Writer> {
    if !file_name.starts_with('.') {
        return None;
    }
    let suffix = [STAGING_MARK, OLD_MARK]
        .iter()
        .find_map(|m| file_name.rfind(m).map(|i| &file_name[i + m.len()..]))?;
    parse_suffix(suffix)
}

/// The writer recorded in the name of a chunk write's temporary file
/// (`{chunk}{TMP_MARK}{suffix}`, see `fs.rs`): the suffix in either form of the
/// module docs, or the earliest `{pid}-{n}`, judged by its PID alone.
pub(super) fn parse_temp_writer(file_name: &str) -> Option<Writer> {
    let i = file_name.rfind(TMP_MARK)?;
    let suffix = &file_name[i + TMP_MARK.len()..];
    let fields: Vec<&str> = suffix.split('-').collect();
    match fields.as_slice() {
        [pid, n] if n.parse::<u64>().is_ok() => Some(Writer {
            pid: pid.parse().ok()?,
            start: None,
            host: None,
        }),
        _ => parse_suffix(suffix),
    }
}

fn parse_suffix(suffix: &str) -> Option<Writer> {
    let fields: Vec<&str> = suffix.splitn(5, '-').collect();
    let num = |s: &str| s.parse::<u64>().ok();
    match fields.as_slice() {
        [pid, nanos, n] if num(nanos).is_some() && num(n).is_some() => Some(Writer {
            pid: pid.parse().ok()?,
            start: None,
            host: None,
        }),
        [pid, start, nanos, n, host] if num(nanos).is_some() && num(n).is_some() => Some(Writer {
            pid: pid.parse().ok()?,
            start: num(start).filter(|&s| s != 0),
            host: Some((*host).to_string()),
        }),
        _ => None,
    }
}

/// This process as a writer.
fn this_process() -> &'static Writer {
    static ME: OnceLock<Writer> = OnceLock::new();
    ME.get_or_init(|| {
        let pid = std::process::id();
        Writer {
            pid,
            start: start_time(pid),
            host: Some(host_name()),
        }
    })
}

/// Whether `w` still runs, judged from this machine.
pub(super) fn liveness(w: &Writer) -> Liveness {
    let me = this_process();
    if w.host.as_ref().is_some_and(|h| Some(h) != me.host.as_ref()) {
        // Another machine's process table is not ours to read.
        return Liveness::Alive;
    }
    if w.pid == me.pid {
        return if w.start.is_some() && w.start != me.start {
            Liveness::Gone
        } else {
            Liveness::Alive
        };
    }
    if w.pid == 0 || i32::try_from(w.pid).is_err() {
        return Liveness::Alive;
    }
    if Path::new("/proc/self/stat").is_file() {
        return match std::fs::read_to_string(format!("/proc/{}/stat", w.pid)) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Liveness::Gone,
            Err(_) => Liveness::Alive,
            Ok(stat) => match (w.start, stat_start_time(&stat)) {
                (Some(recorded), Some(now)) if recorded != now => Liveness::Gone,
                _ => Liveness::Alive,
            },
        };
    }
    signal_zero(w.pid)
}

/// Liveness by `kill(pid, 0)`, where there is no `/proc`: only "no such process"
/// means gone.
#[cfg(unix)]
fn signal_zero(pid: u32) -> Liveness {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return Liveness::Alive;
    };
    // SAFETY: signal 0 sends nothing, it only checks that `pid` exists; pid is
    // positive (checked by the caller), so it names one process, not a group.
    let r = unsafe { libc::kill(pid, 0) };
    if r != 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH) {
        Liveness::Gone
    } else {
        Liveness::Alive
    }
}

#[cfg(not(unix))]
fn signal_zero(_pid: u32) -> Liveness {
    Liveness::Alive
}

/// The start time of `pid` (clock ticks after boot), where `/proc` has it.
fn start_time(pid: u32) -> Option<u64> {
    stat_start_time(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// Field 22 of a `/proc/{pid}/stat` line. The command name (field 2) is in
/// parentheses and may hold spaces and parentheses, so fields are counted from
/// the last `)`.
fn stat_start_time(stat: &str) -> Option<u64> {
    let (_, rest) = stat.rsplit_once(')')?;
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// This machine's name, as a file-name-safe string.
fn host_name() -> String {
    let raw = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_default();
    raw.trim()
        .chars()
        .take(64)
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Removes the staging (and moved-aside old) directories of `name`'s dead writers
/// from `parent`, best effort: a write calls this before it stages, and a failure
/// here must not fail it.
pub(super) fn clean_beside(parent: &Path, name: &str) {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    let prefixes = [
        format!(".{name}{STAGING_MARK}"),
        format!(".{name}{OLD_MARK}"),
    ];
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        let Some(file_name) = file_name.to_str() else {
            continue;
        };
        if prefixes.iter().any(|p| file_name.starts_with(p.as_str())) {
            let _ = remove_if_gone(&entry.path(), file_name);
        }
    }
}

/// Removes `path` if it is a staging or old directory whose writer is gone;
/// `Ok(true)` if it was removed (or vanished meanwhile, removed by another cleaner).
fn remove_if_gone(path: &Path, file_name: &str) -> std::io::Result<bool> {
    let gone = parse_writer(file_name).is_some_and(|w| liveness(&w) == Liveness::Gone);
    // Never follow a link: only a real directory named like ours is removed.
    let is_dir = std::fs::symlink_metadata(path).is_ok_and(|m| m.is_dir());
    if !gone || !is_dir {
        return Ok(false);
    }
    match std::fs::remove_dir_all(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

/// Removes, from the directory tree under `dir`, the staging directories (and
/// replaced arrays moved aside by a commit) that writers killed during
/// [`DArray::to_zarr`](crate::DArray::to_zarr) left behind, and returns their paths.
///
/// A directory is removed only if its writer is gone: its process no longer runs on
/// this machine (a PID now used by a process started later counts as gone). A live
/// writer's directory, this process's own, one written from another host (on a
/// shared filesystem) and anything not named by darray are kept. Zarr arrays are
/// not descended into (their chunk trees are not searched), nor are symbolic links
/// followed. A write to a destination already removes its own dead writers'
/// directories; this call is for the rest of a tree.
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// let removed = darray::store::clean_staging(dir.path()).unwrap();
/// assert!(removed.is_empty());
/// ```
///
/// # Errors
/// [`StoreError::Io`] if `dir` or a directory under it cannot be listed, or a dead
/// writer's directory cannot be removed.
pub fn clean_staging(dir: &Path) -> Result<Vec<PathBuf>, StoreError> {
    let mut removed = Vec::new();
    clean_tree(dir, &mut removed)?;
    Ok(removed)
}

/// Turns an I/O error of `op` on `path` into [`StoreError::Io`].
fn io(path: &Path, op: &'static str) -> impl FnOnce(std::io::Error) -> StoreError {
    let path = path.to_path_buf();
    move |source| StoreError::Io { path, op, source }
}

fn clean_tree(dir: &Path, removed: &mut Vec<PathBuf>) -> Result<(), StoreError> {
    for entry in std::fs::read_dir(dir).map_err(io(dir, "list directory"))? {
        let entry = entry.map_err(io(dir, "list directory"))?;
        let path = entry.path();
        let kind = entry.file_type().map_err(io(&path, "stat"))?;
        if !kind.is_dir() {
            continue;
        }
        let file_name = entry.file_name();
        let file_name = file_name.to_string_lossy();
        if parse_writer(&file_name).is_some() {
            if remove_if_gone(&path, &file_name).map_err(io(&path, "remove directory"))? {
                removed.push(path);
            }
        } else if !is_array(&path) {
            clean_tree(&path, removed)?;
        }
    }
    Ok(())
}

/// Removes, from the chunk tree of the Zarr array at `array`, the temporary files
/// of chunk writes whose writer was killed mid-write (a region write or an append
/// in place: each chunk is written aside and renamed over, so a killed writer
/// leaves at most such a file, never a torn chunk), and returns their paths.
/// Files of live writers (judged as [`clean_staging`] does) are kept. Region
/// writes and appends call this on their destination before they write.
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// // A writer that is gone: a process that has exited.
/// let mut gone = std::process::Command::new("true").spawn().unwrap();
/// gone.wait().unwrap();
/// let name = format!("0.0.darray-tmp-{}-0", gone.id());
/// std::fs::write(dir.path().join(name), b"half").unwrap();
/// let removed = darray::store::clean_chunk_temps(dir.path()).unwrap();
/// assert_eq!(removed.len(), 1);
/// ```
///
/// # Errors
/// [`StoreError::Io`] if a directory of the array cannot be listed, or a dead
/// writer's file cannot be removed.
pub fn clean_chunk_temps(array: &Path) -> Result<Vec<PathBuf>, StoreError> {
    fn walk(dir: &Path, removed: &mut Vec<PathBuf>) -> Result<(), StoreError> {
        for entry in std::fs::read_dir(dir).map_err(io(dir, "list directory"))? {
            let entry = entry.map_err(io(dir, "list directory"))?;
            let path = entry.path();
            let kind = entry.file_type().map_err(io(&path, "stat"))?;
            if kind.is_dir() {
                walk(&path, removed)?;
                continue;
            }
            let file_name = entry.file_name();
            let gone = kind.is_file()
                && parse_temp_writer(&file_name.to_string_lossy())
                    .is_some_and(|w| liveness(&w) == Liveness::Gone);
            if gone {
                match std::fs::remove_file(&path) {
                    Ok(()) => removed.push(path),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(io(&path, "remove file")(e)),
                }
            }
        }
        Ok(())
    }
    let mut removed = Vec::new();
    walk(array, &mut removed)?;
    Ok(removed)
}

/// True for a Zarr array's directory (v2 `.zarray`, or a v3 `zarr.json` that is
/// not a group's).
fn is_array(dir: &Path) -> bool {
    dir.join(".zarray").is_file()
        || std::fs::read(dir.join("zarr.json"))
            .ok()
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
            .is_some_and(|v| v.get("node_type").and_then(|t| t.as_str()) == Some("array"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temp_file_names_parse_in_every_form() {
        let w = parse_temp_writer("0.1.darray-tmp-77-3").unwrap();
        assert_eq!((w.pid, w.start, w.host), (77, None, None));
        let w = parse_temp_writer("c0.darray-tmp-77-12345-99-3-my-host").unwrap();
        assert_eq!((w.pid, w.start), (77, Some(12345)));
        assert_eq!(w.host.as_deref(), Some("my-host"));
        assert!(parse_temp_writer("0.1").is_none());
        assert!(parse_temp_writer("0.darray-tmp-x-y").is_none());
    }

    #[test]
    fn names_parse_in_both_forms() {
        let w = parse_writer(".x.zarr.darray-staging-42-7-1700-3-node-1").unwrap();
        assert_eq!(
            w,
            Writer {
                pid: 42,
                start: Some(7),
                host: Some("node-1".into())
            }
        );
        let w = parse_writer(".x.darray-old-42-1700-3").unwrap();
        assert_eq!((w.pid, w.start, w.host), (42, None, None));
        assert_eq!(
            parse_writer(".x.darray-staging-42-0-1-2-").unwrap().start,
            None
        );
        for bad in [
            "x.darray-staging-1-2-3",
            ".x.darray-staging-a-2-3",
            ".x.darray-staging-1-2",
            ".x.zarr",
        ] {
            assert_eq!(parse_writer(bad), None, "{bad}");
        }
        let me = unique_suffix();
        let w = parse_writer(&format!(".x{STAGING_MARK}{me}")).unwrap();
        assert_eq!(&w, this_process());
    }

    #[test]
    fn stat_start_time_counts_from_the_command_name() {
        let line = "12 (a) b (c)) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 999 rest";
        assert_eq!(stat_start_time(line), Some(999));
        if cfg!(target_os = "linux") {
            assert!(start_time(std::process::id()).is_some());
        }
    }

    #[test]
    fn only_gone_writers_are_gone() {
        let me = this_process().clone();
        assert_eq!(liveness(&me), Liveness::Alive);
        let other_host = Writer {
            host: Some(format!("{}-elsewhere", me.host.clone().unwrap())),
            pid: u32::MAX - 1,
            start: None,
        };
        assert_eq!(liveness(&other_host), Liveness::Alive);
        if cfg!(target_os = "linux") {
            // This PID, started at another time: the PID was reused.
            let reused = Writer {
                start: Some(me.start.unwrap() + 1),
                ..me.clone()
            };
            assert_eq!(liveness(&reused), Liveness::Gone);
            // PID 1 runs, but not since then.
            let init = Writer {
                pid: 1,
                start: Some(u64::MAX),
                host: me.host.clone(),
            };
            assert_eq!(liveness(&init), Liveness::Gone);
        }
        // Above the kernel's PID limit (2^22): no such process.
        let none = Writer {
            pid: (1 << 22) + 5,
            start: None,
            host: None,
        };
        assert_eq!(liveness(&none), Liveness::Gone);
    }
}
