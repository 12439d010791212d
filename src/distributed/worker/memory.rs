//! A worker's memory: the results it holds, in least-recently-used order,
//! spilled to files under its local directory when they outgrow a target and
//! read back when needed again; and the pause that stops the worker from
//! starting new tasks while its process is close to its limit.
//!
//! Thresholds are fractions of the worker's memory limit, with
//! dask.distributed's defaults and meanings ([`MemoryFractions`]):
//! - **target** (0.6): when the managed bytes in memory (results held, inputs
//!   fetched or read back) exceed it, least-recently-used chunks are written to
//!   disk until they are below it again;
//! - **spill** (midway between target and pause, so 0.7): when the process's
//!   resident memory, as the [`MemoryProbe`] reads it, exceeds it, chunks are
//!   spilled until the process is estimated to be back at target (the probe
//!   also sees what is not managed: running tasks, buffers, allocator slack);
//! - **pause** (0.8): while the process is above it, the worker starts no new
//!   task from its queue (queued tasks stay there, so the scheduler can steal
//!   them for other workers) and spills meanwhile; it resumes once below.
//!
//! A *use* of a chunk, which makes it the most recently used, is a lookup: a
//! task reading it as an input, or a peer or the scheduler fetching it. A chunk
//! that something else still holds (a running task's input, a chunk being
//! sent) is not spilled, as that would free nothing.
//!
//! What this module owns and what it leaves: it owns the chunks, the spill
//! directory (one per process, `darray-spill-<pid>-<n>` under the local
//! directory, emptied at start and removed on exit), the byte counts and the
//! pause flag. Its spilling, reading back and deleting of files are blocking
//! calls the worker makes on threads that may block (`spawn_blocking`), never
//! on the tokio reactor: a spill pass after each task, before the slot takes
//! the next (so a slot cannot outrun the disk), and whenever the worker's
//! memory monitor, every [`MEMORY_INTERVAL`](super::MEMORY_INTERVAL), finds
//! one due; a read-back when a task, a peer or the scheduler needs a spilled
//! chunk.
//!
//! Spill files are the chunk wire format ([`encode_chunk`]: a flat header, then
//! raw little-endian elements), so a chunk read back is bit-identical. Each is
//! written under a temporary name and renamed into place; none is synced, since
//! spilled data does not outlive the process.

use crate::distributed::proto::{JobId, MemoryReport};
use crate::distributed::wire::{decode_chunk, encode_chunk};
use darray_kernels::Chunk;
use parking_lot::Mutex;
use std::collections::{BTreeMap, HashMap};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::sync::watch;

mod config;

pub use config::{status_bytes, MemoryFractions, MemoryProbe, ProcessProbe};

/// A held result: its job and task index.
pub(crate) type Key = (JobId, u32);

enum Entry {
    Memory {
        chunk: Arc<Chunk>,
        nbytes: u64,
        tick: u64,
    },
    Disk {
        file: u64,
        nbytes: u64,
    },
}

#[derive(Default)]
struct State {
    entries: HashMap<Key, Entry>,
    /// In-memory entries by last use, oldest first.
    lru: BTreeMap<u64, Key>,
    tick: u64,
    memory: u64,
    spilled: u64,
    spilled_total: u64,
}

impl State {
    fn touch(&mut self, key: Key) {
        self.tick += 1;
        let now = self.tick;
        if let Some(Entry::Memory { tick, .. }) = self.entries.get_mut(&key) {
            self.lru.remove(tick);
            *tick = now;
            self.lru.insert(now, key);
        }
    }

    /// Takes an entry out, returning what must be freed outside the lock.
    fn remove(&mut self, key: &Key, dir: &Path, removed: &mut Removed) {
        match self.entries.remove(key) {
            Some(Entry::Memory {
                chunk,
                nbytes,
                tick,
            }) => {
                self.lru.remove(&tick);
                self.memory -= nbytes;
                removed.chunks.push(chunk);
            }
            Some(Entry::Disk { file, nbytes }) => {
                self.spilled -= nbytes;
                removed.files.push(file_path(dir, file));
            }
            None => {}
        }
    }
}

/// What a lookup found.
pub(crate) enum Lookup {
    /// In memory (now the most recently used).
    Memory(Arc<Chunk>),
    /// On disk: read it back with [`MemoryManager::load_blocking`].
    Disk,
    /// Not held.
    Absent,
}

/// Chunks and spill files taken out of a [`MemoryManager`]: the chunks are
/// freed when this drops; the files need [`Removed::delete_files`], on a
/// thread that may block.
#[derive(Default)]
#[must_use = "spill files stay on disk until delete_files is called"]
pub(crate) struct Removed {
    chunks: Vec<Arc<Chunk>>,
    files: Vec<PathBuf>,
}

impl Removed {
    /// Whether there are files to delete.
    pub(crate) fn has_files(&self) -> bool {
        !self.files.is_empty()
    }

    /// Takes the released chunks (the caller may give their buffers back to a
    /// pool once it holds the last reference).
    pub(crate) fn take_chunks(&mut self) -> Vec<Arc<Chunk>> {
        std::mem::take(&mut self.chunks)
    }

    /// Deletes the spill files (blocking I/O).
    pub(crate) fn delete_files(self) {
        for f in &self.files {
            if let Err(e) = std::fs::remove_file(f) {
                if e.kind() != io::ErrorKind::NotFound {
                    tracing::warn!(path = %f.display(), "cannot delete a spill file: {e}");
                }
            }
        }
    }
}

/// What one spill pass wrote.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct SpillPass {
    /// Chunks written to disk.
    pub(crate) chunks: u64,
    /// Their bytes.
    pub(crate) bytes: u64,
}

/// A task counted as running while this lives (see [`MemoryManager::running`]).
pub(crate) struct Running<'a>(&'a AtomicUsize);

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The chunks a worker holds, their spilling, and its pause flag (see the
/// [module documentation](self)).
pub(crate) struct MemoryManager {
    limit: u64,
    fractions: MemoryFractions,
    probe: Arc<dyn MemoryProbe>,
    dir: PathBuf,
    state: Mutex<State>,
    /// One spill pass at a time.
    spilling: Mutex<()>,
    paused: watch::Sender<bool>,
    running: AtomicUsize,
    next_file: AtomicU64,
    /// The probe has been seen above pause with nothing left to spill.
    warned_unmanaged: AtomicBool,
}

impl std::fmt::Debug for MemoryManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryManager")
            .field("limit", &self.limit)
            .field("fractions", &self.fractions)
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

fn file_path(dir: &Path, file: u64) -> PathBuf {
    dir.join(format!("{file}.chunk"))
}

impl MemoryManager {
    /// A manager for `limit` bytes, spilling into a fresh per-process
    /// directory under `base` (removed first if a process of the same id left
    /// one behind).
    ///
    /// # Errors
    /// The directory cannot be created.
    pub(crate) fn new(
        limit: u64,
        fractions: MemoryFractions,
        probe: Arc<dyn MemoryProbe>,
        base: &Path,
    ) -> io::Result<Self> {
        // Unique within the process too, for tests that run several workers.
        static N: AtomicU64 = AtomicU64::new(0);
        let dir = base.join(format!(
            "darray-spill-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        Self::open(dir, limit, fractions, probe)
    }

    /// A manager spilling into `dir`, emptied first.
    fn open(
        dir: PathBuf,
        limit: u64,
        fractions: MemoryFractions,
        probe: Arc<dyn MemoryProbe>,
    ) -> io::Result<Self> {
        match std::fs::remove_dir_all(&dir) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        std::fs::create_dir_all(&dir)?;
        Ok(MemoryManager {
            limit,
            fractions,
            probe,
            dir,
            state: Mutex::new(State::default()),
            spilling: Mutex::new(()),
            paused: watch::Sender::new(false),
            running: AtomicUsize::new(0),
            next_file: AtomicU64::new(0),
            warned_unmanaged: AtomicBool::new(false),
        })
    }

    /// The spill directory.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    fn bytes_at(&self, fraction: f64) -> u64 {
        // Limits are far below 2^53, where f64 is exact for integers.
        #[allow(
            clippy::cast_precision_loss,
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss
        )]
        let b = (self.limit as f64 * fraction) as u64;
        b
    }

    /// Holds `chunk` under `key` as the most recently used. A key already held
    /// keeps its chunk (a task's result is the same bits however often it runs).
    pub(crate) fn insert(&self, key: Key, chunk: Arc<Chunk>) {
        let nbytes = chunk.nbytes() as u64;
        let mut s = self.state.lock();
        if s.entries.contains_key(&key) {
            s.touch(key);
            return;
        }
        s.tick += 1;
        let tick = s.tick;
        s.entries.insert(
            key,
            Entry::Memory {
                chunk,
                nbytes,
                tick,
            },
        );
        s.lru.insert(tick, key);
        s.memory += nbytes;
    }

    /// Looks `key` up; a chunk in memory becomes the most recently used.
    pub(crate) fn lookup(&self, key: Key) -> Lookup {
        let mut s = self.state.lock();
        let found = match s.entries.get(&key) {
            Some(Entry::Memory { chunk, .. }) => Lookup::Memory(chunk.clone()),
            Some(Entry::Disk { .. }) => Lookup::Disk,
            None => return Lookup::Absent,
        };
        s.touch(key);
        found
    }

    /// The chunk under `key`, read back from disk if spilled (blocking I/O;
    /// it is then in memory again, most recently used, and its file deleted).
    /// `None` if not held (or released meanwhile).
    ///
    /// # Errors
    /// The spill file cannot be read or decoded.
    pub(crate) fn load_blocking(&self, key: Key) -> io::Result<Option<Arc<Chunk>>> {
        // A second round only if the chunk was spilled again, to a new file,
        // while this one read the old one.
        loop {
            let file = {
                let mut s = self.state.lock();
                match s.entries.get(&key) {
                    Some(Entry::Memory { chunk, .. }) => {
                        let c = chunk.clone();
                        s.touch(key);
                        return Ok(Some(c));
                    }
                    Some(Entry::Disk { file, .. }) => *file,
                    None => return Ok(None),
                }
            };
            let path = file_path(&self.dir, file);
            let read = std::fs::read(&path).and_then(|bytes| {
                decode_chunk(&bytes).map_err(|e| {
                    io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("{}: {e}", path.display()),
                    )
                })
            });
            let mut s = self.state.lock();
            match s.entries.get(&key) {
                Some(Entry::Disk { file: f, nbytes }) if *f == file => {
                    let nbytes = *nbytes;
                    let chunk = Arc::new(read?);
                    s.tick += 1;
                    let tick = s.tick;
                    s.entries.insert(
                        key,
                        Entry::Memory {
                            chunk: chunk.clone(),
                            nbytes,
                            tick,
                        },
                    );
                    s.lru.insert(tick, key);
                    s.spilled -= nbytes;
                    s.memory += nbytes;
                    drop(s);
                    if let Err(e) = std::fs::remove_file(&path) {
                        tracing::warn!(path = %path.display(), "cannot delete a spill file: {e}");
                    }
                    return Ok(Some(chunk));
                }
                // Read back by another caller, or released: look again.
                Some(Entry::Memory { .. }) | None => {}
                // Spilled once more to a new file meanwhile.
                Some(Entry::Disk { .. }) => {}
            }
        }
    }

    /// Drops `keys` (in memory or on disk).
    pub(crate) fn release(&self, keys: impl IntoIterator<Item = Key>) -> Removed {
        let mut removed = Removed::default();
        let mut s = self.state.lock();
        for k in keys {
            s.remove(&k, &self.dir, &mut removed);
        }
        removed
    }

    /// Drops everything of `job`.
    pub(crate) fn release_job(&self, job: JobId) -> Removed {
        let mut s = self.state.lock();
        let keys: Vec<Key> = s.entries.keys().filter(|k| k.0 == job).copied().collect();
        let mut removed = Removed::default();
        for k in keys {
            s.remove(&k, &self.dir, &mut removed);
        }
        removed
    }

    /// Drops everything.
    pub(crate) fn clear(&self) -> Removed {
        let mut s = self.state.lock();
        let keys: Vec<Key> = s.entries.keys().copied().collect();
        let mut removed = Removed::default();
        for k in keys {
            s.remove(&k, &self.dir, &mut removed);
        }
        removed
    }

    /// Whether the managed bytes in memory exceed the target (cheap: no probe).
    pub(crate) fn over_target(&self) -> bool {
        self.state.lock().memory > self.bytes_at(self.fractions.target())
    }

    /// Spills least-recently-used chunks that nothing else holds until the
    /// managed bytes are at most the target and, if the probe reads above the
    /// spill threshold, until the bytes spilled cover the process's excess over
    /// the target. Blocking I/O; one pass at a time (a second caller waits,
    /// then finds less to do). A file that cannot be written ends the pass with
    /// the chunk kept in memory.
    pub(crate) fn spill_to_target(&self) -> SpillPass {
        let _one = self.spilling.lock();
        let target = self.bytes_at(self.fractions.target());
        let excess = match self.probe.rss() {
            Some(rss) if rss > self.bytes_at(self.fractions.spill()) => rss - target,
            _ => 0,
        };
        let mut pass = SpillPass::default();
        loop {
            let (key, chunk) = {
                let s = self.state.lock();
                if s.memory <= target && pass.bytes >= excess {
                    break;
                }
                let candidate = s.lru.values().find_map(|k| match s.entries.get(k) {
                    Some(Entry::Memory { chunk, .. }) if Arc::strong_count(chunk) == 1 => {
                        Some((*k, chunk.clone()))
                    }
                    _ => None,
                });
                match candidate {
                    Some(c) => c,
                    None => break,
                }
            };
            let file = self.next_file.fetch_add(1, Ordering::Relaxed);
            if let Err(e) = self.write(file, &chunk) {
                tracing::error!(dir = %self.dir.display(), "cannot spill a chunk: {e}");
                break;
            }
            let mut s = self.state.lock();
            let held = match s.entries.get(&key) {
                Some(Entry::Memory {
                    chunk: c,
                    nbytes,
                    tick,
                }) if Arc::ptr_eq(c, &chunk) => Some((*nbytes, *tick)),
                _ => None,
            };
            if let Some((nbytes, tick)) = held {
                let old = s.entries.insert(key, Entry::Disk { file, nbytes });
                s.lru.remove(&tick);
                s.memory -= nbytes;
                s.spilled += nbytes;
                s.spilled_total += nbytes;
                drop(s);
                pass.chunks += 1;
                pass.bytes += nbytes;
                // The chunk's memory is freed here, outside the lock.
                drop(old);
                drop(chunk);
            } else {
                // Released while being written.
                drop(s);
                let _ = std::fs::remove_file(file_path(&self.dir, file));
            }
        }
        pass
    }

    fn write(&self, file: u64, chunk: &Chunk) -> io::Result<()> {
        let bytes = encode_chunk(chunk).map_err(io::Error::other)?;
        let tmp = self.dir.join(format!("{file}.tmp"));
        std::fs::write(&tmp, &bytes)?;
        std::fs::rename(&tmp, file_path(&self.dir, file))
    }

    /// Counts a task as running until the guard drops (a paused worker with
    /// nothing left to spill and nothing running resumes, rather than waiting
    /// forever for memory it cannot free).
    pub(crate) fn running(&self) -> Running<'_> {
        self.running.fetch_add(1, Ordering::SeqCst);
        Running(&self.running)
    }

    /// The memory monitor's check: reads the probe, pauses or resumes the
    /// worker (logging each change once), and says whether a spill pass is
    /// due (managed bytes over target, or the process over the spill threshold
    /// with something in memory).
    pub(crate) fn check(&self) -> bool {
        let (memory, spillable) = {
            let s = self.state.lock();
            let spillable = s.lru.values().any(|k| {
                matches!(s.entries.get(k), Some(Entry::Memory { chunk, .. }) if Arc::strong_count(chunk) == 1)
            });
            (s.memory, spillable)
        };
        let process = self.probe.rss().unwrap_or(memory);
        let over_pause = process > self.bytes_at(self.fractions.pause());
        let running = self.running.load(Ordering::SeqCst) > 0;
        // Pausing only helps while spilling or a running task can bring memory down.
        let pause = over_pause && (spillable || running);
        let was = *self.paused.borrow();
        if pause && !was {
            tracing::warn!(
                process,
                limit = self.limit,
                managed = memory,
                "memory above the pause fraction: starting no new tasks until it drops"
            );
            self.paused.send_replace(true);
        } else if !pause && was {
            if over_pause {
                tracing::warn!(
                    process,
                    limit = self.limit,
                    "memory still above the pause fraction with nothing left to spill and no task running: resuming"
                );
            } else {
                tracing::info!(
                    process,
                    limit = self.limit,
                    "memory below the pause fraction: resuming"
                );
            }
            self.paused.send_replace(false);
        } else if over_pause && !pause && !self.warned_unmanaged.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                process,
                limit = self.limit,
                "memory above the pause fraction, but none of it is held results: not pausing"
            );
        }
        memory > self.bytes_at(self.fractions.target())
            || (spillable && process > self.bytes_at(self.fractions.spill()))
    }

    /// Whether the worker is paused.
    pub(crate) fn is_paused(&self) -> bool {
        *self.paused.borrow()
    }

    /// Resolves once the worker is not paused.
    pub(crate) async fn unpaused(&self) {
        let mut rx = self.paused.subscribe();
        // The sender lives as long as `self`, so this cannot fail.
        let _ = rx.wait_for(|p| !*p).await;
    }

    /// Bytes in memory and on disk, and the pause flag, for heartbeats.
    pub(crate) fn report(&self) -> MemoryReport {
        let (memory, spilled, spilled_total) = {
            let s = self.state.lock();
            (s.memory, s.spilled, s.spilled_total)
        };
        MemoryReport {
            memory,
            spilled,
            spilled_total,
            process: self.probe.rss().unwrap_or(0),
            paused: self.is_paused(),
        }
    }

    /// Removes the spill directory (at exit; also on drop).
    pub(crate) fn remove_dir(&self) {
        match std::fs::remove_dir_all(&self.dir) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => {
                tracing::warn!(dir = %self.dir.display(), "cannot remove the spill directory: {e}");
            }
            _ => {}
        }
    }

    #[cfg(test)]
    fn spilled_keys(&self) -> Vec<Key> {
        let s = self.state.lock();
        let mut v: Vec<Key> = s
            .entries
            .iter()
            .filter(|(_, e)| matches!(e, Entry::Disk { .. }))
            .map(|(k, _)| *k)
            .collect();
        v.sort_unstable();
        v
    }
}

impl Drop for MemoryManager {
    fn drop(&mut self) {
        self.remove_dir();
    }
}

#[cfg(test)]
mod tests;
