//! What a worker's memory management is configured with: the probe that
//! reads the process's memory, and the thresholds as fractions of the limit.

use crate::error::{Error, Result};

/// Where a worker learns how much memory its process uses.
///
/// The default, [`ProcessProbe`], reads the operating system's count; tests
/// inject their own, so spilling and pausing are exercised deterministically
/// rather than by racing the allocator.
pub trait MemoryProbe: Send + Sync + std::fmt::Debug {
    /// Resident bytes of this process, or `None` where the probe cannot tell
    /// (the worker then goes by the bytes it manages).
    fn rss(&self) -> Option<u64>;
}

/// The process's resident set size: `VmRSS` of `/proc/self/status` on Linux
/// (in kB there, so no page size is needed); unknown elsewhere.
#[derive(Clone, Copy, Debug, Default)]
pub struct ProcessProbe;

impl MemoryProbe for ProcessProbe {
    fn rss(&self) -> Option<u64> {
        if cfg!(target_os = "linux") {
            let status = std::fs::read_to_string("/proc/self/status").ok()?;
            status_bytes(&status, "VmRSS")
        } else {
            None
        }
    }
}

/// A `/proc/<pid>/status` field given in kB (`VmRSS`, `VmHWM`), in bytes.
#[must_use]
pub fn status_bytes(status: &str, field: &str) -> Option<u64> {
    let line = status
        .lines()
        .find(|l| l.strip_prefix(field).is_some_and(|r| r.starts_with(':')))?;
    let mut words = line[field.len() + 1..].split_whitespace();
    let n: u64 = words.next()?.parse().ok()?;
    match words.next() {
        Some("kB") => n.checked_mul(1024),
        _ => None,
    }
}

/// A worker's memory thresholds as fractions of its memory limit (see the
/// [`memory` module](super)): `0 < target <= pause <= 1`; the probe's
/// spill threshold lies midway between them.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MemoryFractions {
    target: f64,
    pause: f64,
}

impl Default for MemoryFractions {
    /// dask.distributed's: target 0.6, spill 0.7, pause 0.8.
    fn default() -> Self {
        MemoryFractions {
            target: Self::DEFAULT_TARGET,
            pause: Self::DEFAULT_PAUSE,
        }
    }
}

impl MemoryFractions {
    /// The default target fraction (dask's `distributed.worker.memory.target`).
    pub const DEFAULT_TARGET: f64 = 0.6;
    /// The default pause fraction (dask's `distributed.worker.memory.pause`).
    pub const DEFAULT_PAUSE: f64 = 0.8;

    /// Thresholds at `target` and `pause` times the memory limit.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] unless `0 < target <= pause <= 1` (NaN is refused).
    pub fn new(target: f64, pause: f64) -> Result<Self> {
        // Written so NaN fails every comparison and lands in the error.
        if target > 0.0 && target <= pause && pause <= 1.0 {
            Ok(MemoryFractions { target, pause })
        } else {
            Err(Error::InvalidArgument {
                array: "darray worker".into(),
                reason: format!(
                    "memory fractions must satisfy 0 < target <= pause <= 1; got target {target}, pause {pause}"
                ),
            })
        }
    }

    /// Managed bytes above `target * limit` are spilled.
    #[must_use]
    pub fn target(&self) -> f64 {
        self.target
    }

    /// A process above `spill * limit` (by the probe) spills back to target.
    #[must_use]
    pub fn spill(&self) -> f64 {
        (self.target + self.pause) / 2.0
    }

    /// A process above `pause * limit` (by the probe) starts no new tasks.
    #[must_use]
    pub fn pause(&self) -> f64 {
        self.pause
    }
}
