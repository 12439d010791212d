//! Task keys: which array (or reduction stage) and which block.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Identity of a lazy array within the process (unique, never reused).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ArrayId(pub u64);

impl ArrayId {
    /// A fresh id.
    pub(crate) fn fresh() -> ArrayId {
        use std::sync::atomic::{AtomicU64, Ordering};
        static NEXT: AtomicU64 = AtomicU64::new(1);
        ArrayId(NEXT.fetch_add(1, Ordering::Relaxed))
    }
}

/// The name of one task's output: the array it belongs to, the stage within that
/// array's computation (0 for the array's own blocks, 1.. for reduction partials
/// and merge levels, 255 for chunk writes), and the block coordinates.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ChunkKey {
    /// The array.
    pub array: ArrayId,
    /// The stage within the array's computation.
    pub stage: u8,
    /// Block coordinates in that stage's grid.
    pub block: Vec<u32>,
}

impl fmt::Display for ChunkKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a{}", self.array.0)?;
        if self.stage != 0 {
            write!(f, ".s{}", self.stage)?;
        }
        f.write_str("(")?;
        for (i, b) in self.block.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{b}")?;
        }
        f.write_str(")")
    }
}
