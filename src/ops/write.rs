//! Lowering of `to_zarr` and of writes into existing arrays: one write task per
//! stored chunk (or shard), each fed by the block of the array (already rechunked
//! to the store's grid, or for a region to the grid the store's chunks cut it
//! into) it stores, so no two tasks ever write the same chunk. Several arrays
//! written in one graph ([`lower_writes`]) share the tasks of what they share.

use super::Lowerer;
use crate::error::Result;
use crate::expr::grid::{block_indices, block_shape, Grid, GridOffsets};
use crate::expr::node::Expr;
use crate::graph::{stage, ChunkKey, Graph, Op, Task};
use std::collections::HashSet;
use std::ops::Range;
use std::sync::Arc;

/// Where the blocks of an array being written go.
pub(crate) enum Target {
    /// Every chunk of the array at `path`, whose grid is the array's: block `i` is
    /// chunk `i`.
    Whole {
        /// Path of the (staging) array.
        path: String,
    },
    /// The region starting at `start` of the existing array at `path` (of `shape`,
    /// stored in chunks of `chunk_shape`); the array's grid is
    /// [`region_grid`]'s, so each block lies in one stored chunk.
    Region {
        /// Path of the array.
        path: String,
        /// First element of the region per axis.
        start: Vec<u64>,
        /// The stored chunk (or shard) shape.
        chunk_shape: Vec<u64>,
        /// The array shape the writes assume (the new shape, for an append).
        shape: Vec<u64>,
    },
}

/// One array to write: `arr`, of grid `grid`, to `target`.
pub(crate) struct WriteJob<'a> {
    pub(crate) arr: &'a Arc<Expr>,
    pub(crate) grid: &'a Grid,
    pub(crate) target: Target,
}

/// The graph writing every block of `arr` (whose grid is `grid`, the store's) as
/// chunk `idx` of the Zarr array at `path`, for an executor with a memory budget
/// of `budget` bytes; the graph's outputs are the writes.
pub(crate) fn lower_write(arr: &Arc<Expr>, grid: &Grid, path: &str, budget: u64) -> Result<Graph> {
    lower_writes(
        &[WriteJob {
            arr,
            grid,
            target: Target::Whole {
                path: path.to_string(),
            },
        }],
        budget,
    )
}

/// The graph of every job's writes, in one graph so that what the arrays share
/// (a store read, a common sub-expression) is computed once.
pub(crate) fn lower_writes(jobs: &[WriteJob<'_>], budget: u64) -> Result<Graph> {
    let mut l = Lowerer::new(budget);
    let mut outputs = Vec::new();
    let mut seen = HashSet::new();
    for (j, job) in jobs.iter().enumerate() {
        let arr = job.arr;
        // A write task per block, besides the block's own.
        l.reserve_tasks(arr, super::block_count(job.grid).saturating_mul(2))?;
        // The same array written twice (two group members): its write keys get
        // the job's number, so no two tasks share a key.
        let repeated = !seen.insert(arr.id);
        let offsets = GridOffsets::new(job.grid);
        for idx in block_indices(job.grid) {
            if block_shape(job.grid, &idx).contains(&0) {
                // An empty region or array: nothing to store.
                if matches!(job.target, Target::Region { .. }) {
                    continue;
                }
            }
            let src = l.block(arr, &idx)?;
            let in_bytes = l.graph.task(src).out_bytes;
            let (op, mem_bytes) = match &job.target {
                Target::Whole { path } => (
                    Op::WriteZarr {
                        path: path.clone(),
                        chunk: idx.iter().map(|&i| u64::from(i)).collect(),
                    },
                    // The encoder may hold a copy of the block and its encoding.
                    3 * in_bytes,
                ),
                Target::Region {
                    path,
                    start,
                    chunk_shape,
                    shape,
                } => {
                    let off = offsets.block(&idx);
                    let size = block_shape(job.grid, &idx);
                    let place = place_block(start, &off, &size, chunk_shape, shape);
                    let chunk_bytes = place
                        .bounded
                        .iter()
                        .product::<u64>()
                        .saturating_mul(arr.dtype.size() as u64);
                    let mem = if place.overlay.is_some() {
                        // The block, the chunk read back, and its encoding.
                        in_bytes.saturating_add(chunk_bytes.saturating_mul(3))
                    } else {
                        3 * in_bytes
                    };
                    (
                        Op::WriteZarrRegion {
                            path: path.clone(),
                            chunk: place.chunk,
                            shape: shape.clone(),
                            overlay: place.overlay,
                        },
                        mem,
                    )
                }
            };
            let mut block = idx.clone();
            if repeated {
                block.push(u32::try_from(j).unwrap_or(u32::MAX));
            }
            outputs.push(l.graph.push(Task {
                key: ChunkKey {
                    array: arr.id,
                    stage: stage::WRITE,
                    block,
                },
                op,
                inputs: vec![src],
                mem_bytes,
                out_bytes: 0,
            }));
        }
    }
    l.graph.outputs = outputs;
    Ok(l.graph)
}

/// Where a block of a region lands: its stored chunk, that chunk's extent inside
/// the array, and the part of the chunk the block covers (`None` for all of it).
struct Placement {
    chunk: Vec<u64>,
    bounded: Vec<u64>,
    overlay: Option<Vec<Range<u64>>>,
}

fn place_block(
    start: &[u64],
    off: &[usize],
    size: &[usize],
    chunk_shape: &[u64],
    shape: &[u64],
) -> Placement {
    let mut chunk = Vec::with_capacity(start.len());
    let mut bounded = Vec::with_capacity(start.len());
    let mut overlay = Vec::with_capacity(start.len());
    let mut full = true;
    for ax in 0..start.len() {
        let c = chunk_shape[ax];
        let first = start[ax] + off[ax] as u64;
        let i = first / c;
        let origin = i * c;
        let extent = c.min(shape[ax] - origin);
        let o = first - origin..first - origin + size[ax] as u64;
        full &= o.start == 0 && o.end == extent;
        chunk.push(i);
        bounded.push(extent);
        overlay.push(o);
    }
    Placement {
        chunk,
        bounded,
        overlay: (!full).then_some(overlay),
    }
}

/// The grid that cuts a region of shape `region` starting at `start` along the
/// stored chunk boundaries (multiples of `chunk_shape`), so that each block lies in
/// exactly one stored chunk. A zero-length axis has one empty block.
pub(crate) fn region_grid(start: &[u64], region: &[usize], chunk_shape: &[u64]) -> Grid {
    start
        .iter()
        .zip(region)
        .zip(chunk_shape)
        .map(|((&s, &n), &c)| {
            if n == 0 {
                return vec![0];
            }
            let end = s + n as u64;
            let mut sizes = Vec::new();
            let mut at = s;
            while at < end {
                let next = ((at / c + 1) * c).min(end);
                sizes.push(usize::try_from(next - at).expect("part of a usize-long axis"));
                at = next;
            }
            sizes
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_grid_cuts_at_chunk_boundaries() {
        assert_eq!(
            region_grid(&[3, 0, 8], &[10, 4, 0], &[4, 4, 4]),
            vec![vec![1, 4, 4, 1], vec![4], vec![0]]
        );
        assert_eq!(region_grid(&[4], &[4], &[4]), vec![vec![4]]);
    }

    #[test]
    #[allow(clippy::single_range_in_vec_init)] // a list of one axis' range
    fn blocks_overlay_only_partial_chunks() {
        // Shape 10 in chunks of 4: the last chunk holds 2 elements.
        let p = place_block(&[8], &[0], &[2], &[4], &[10]);
        assert_eq!((p.chunk, p.bounded, p.overlay), (vec![2], vec![2], None));
        let p = place_block(&[3], &[1], &[4], &[4], &[10]);
        assert_eq!((p.chunk, p.overlay), (vec![1], None));
        let p = place_block(&[3], &[0], &[1], &[4], &[10]);
        assert_eq!((p.chunk, p.overlay), (vec![0], Some([3..4].to_vec())));
    }
}
