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

/// Task-key stages, named in one place so that two kinds of task of one array
/// cannot share a key. Stage [`BLOCK`](stage::BLOCK) is an array's own blocks;
/// every other stage names an internal task of the computation producing that
/// array, and each family's stages are distinct (checked by a test below).
pub mod stage {
    /// An array's own blocks.
    pub const BLOCK: u8 = 0;

    /// Tree reductions (and matmul's contraction sums): the partials.
    pub const PARTIAL: u8 = 1;
    /// Tree reductions: the first merge level (level `k` is `MERGE_FIRST + k`).
    pub const MERGE_FIRST: u8 = 2;
    /// Tree reductions: the last merge level a tree may have (a tree with a
    /// fan-in of at least 2 over at most 2^32 blocks has at most 32 levels).
    pub const MERGE_LAST: u8 = 62;

    /// TSQR: level `k` of the R tree is `TSQR_R_FIRST + k`.
    pub const TSQR_R_FIRST: u8 = 1;
    /// TSQR: the root's signed right factor.
    pub const TSQR_SIGNED_RIGHT: u8 = 63;
    /// TSQR: level `k` of the Q tree is `TSQR_Q_FIRST + k`.
    pub const TSQR_Q_FIRST: u8 = 64;
    /// TSQR: the last level either tree may have.
    pub const TSQR_LEVELS: u8 = 61;

    /// Tiled Cholesky: a tile after the updates of earlier steps.
    pub const CHOL_TILE: u8 = 1;
    /// Tiled Cholesky: a factored tile.
    pub const CHOL_FACTOR: u8 = 2;

    /// Tiled LU: a tile after the updates of earlier steps.
    pub const LU_TILE: u8 = 1;
    /// Tiled LU: a node of the tournament-pivoting tree.
    pub const LU_PIVOTS: u8 = 2;
    /// Tiled LU: a tile with the step's row swaps applied.
    pub const LU_SWAPPED: u8 = 3;
    /// Tiled LU: a tile of L.
    pub const LU_LOWER: u8 = 4;
    /// Tiled LU: a tile of U.
    pub const LU_UPPER: u8 = 5;
    /// Tiled LU (solve): the right-hand side after a step.
    pub const LU_REST: u8 = 6;
    /// Tiled LU (solve): a block of the solution.
    pub const LU_SOLUTION: u8 = 7;
    /// Tiled LU (solve): a carried block with a column.
    pub const LU_CARRIED_COL: u8 = 8;
    /// Tiled LU (solve): a carried block.
    pub const LU_CARRIED: u8 = 9;
    /// Tiled LU: a factored diagonal block.
    pub const LU_FACTOR_BLOCK: u8 = 10;

    /// Triangular solve: a right-hand-side tile after some products.
    pub const TRI_REST: u8 = 1;
    /// Triangular solve: a tile of the solution.
    pub const TRI_SOLUTION: u8 = 2;

    /// Tiled QR: a tile's rows taken from the running record.
    pub const TQR_TILE: u8 = 1;
    /// Tiled QR: a factored record.
    pub const TQR_FACTOR: u8 = 2;
    /// Tiled QR: a tile with a step's reflectors applied.
    pub const TQR_APPLIED: u8 = 3;
    /// Tiled QR: the top rows of an applied record.
    pub const TQR_TOP: u8 = 4;
    /// Tiled QR (Q): a block with a step's reflectors applied.
    pub const TQR_Q_APPLIED: u8 = 5;
    /// Tiled QR (Q): the top rows of an applied Q record.
    pub const TQR_Q_TOP: u8 = 6;
    /// Tiled QR (Q): a finished block of Q.
    pub const TQR_Q_DONE: u8 = 7;
    /// Tiled QR (Q): the identity block a Q column starts from.
    pub const TQR_Q_INIT: u8 = 8;
    /// Tiled QR: a block of R.
    pub const TQR_R: u8 = 9;

    /// Scans: a block's scan that is not yet an output block.
    pub const SCAN_BLOCK: u8 = 1;
    /// Scans: a block's total along the scanned axis.
    pub const SCAN_TOTAL: u8 = 2;
    /// Scans: the carry into a block (the totals of the blocks before it).
    pub const SCAN_CARRY: u8 = 3;

    /// Quantiles along an axis: a slice of an input block for one lane band.
    pub const QUANTILE_SLICE: u8 = 1;
    /// Quantiles along an axis: a band of whole lanes assembled from slices.
    pub const QUANTILE_BAND: u8 = 2;
    /// Quantiles along an axis: one band's quantiles, before the block is assembled.
    pub const QUANTILE_LANES: u8 = 3;

    /// Chunk writes of `to_zarr`.
    pub const WRITE: u8 = 255;

    #[cfg(test)]
    mod tests {
        use super::*;

        fn distinct(family: &[u8]) {
            let mut v = family.to_vec();
            v.sort_unstable();
            v.dedup();
            assert_eq!(v.len(), family.len(), "{family:?}");
        }

        #[test]
        fn stages_of_a_family_are_distinct() {
            let reduce: Vec<u8> = [BLOCK, PARTIAL]
                .into_iter()
                .chain(MERGE_FIRST..=MERGE_LAST)
                .chain([WRITE])
                .collect();
            distinct(&reduce);
            let tsqr: Vec<u8> = [BLOCK, TSQR_SIGNED_RIGHT, WRITE]
                .into_iter()
                .chain(TSQR_R_FIRST..=TSQR_R_FIRST + TSQR_LEVELS)
                .chain(TSQR_Q_FIRST..=TSQR_Q_FIRST + TSQR_LEVELS)
                .collect();
            distinct(&tsqr);
            distinct(&[BLOCK, CHOL_TILE, CHOL_FACTOR, WRITE]);
            distinct(&[BLOCK, TRI_REST, TRI_SOLUTION, WRITE]);
            distinct(&[BLOCK, SCAN_BLOCK, SCAN_TOTAL, SCAN_CARRY, WRITE]);
            distinct(&[BLOCK, QUANTILE_SLICE, QUANTILE_BAND, QUANTILE_LANES, WRITE]);
            distinct(&[
                BLOCK,
                LU_TILE,
                LU_PIVOTS,
                LU_SWAPPED,
                LU_LOWER,
                LU_UPPER,
                LU_REST,
                LU_SOLUTION,
                LU_CARRIED_COL,
                LU_CARRIED,
                LU_FACTOR_BLOCK,
                WRITE,
            ]);
            distinct(&[
                BLOCK,
                TQR_TILE,
                TQR_FACTOR,
                TQR_APPLIED,
                TQR_TOP,
                TQR_Q_APPLIED,
                TQR_Q_TOP,
                TQR_Q_DONE,
                TQR_Q_INIT,
                TQR_R,
                WRITE,
            ]);
        }
    }
}
