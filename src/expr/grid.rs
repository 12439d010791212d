//! Chunk grids: how an array is cut along each axis, and how users ask for one.

use crate::error::{Error, Result};
use std::str::FromStr;

/// Chunk sizes per axis (dask's `chunks` tuple): `grid[axis]` lists the lengths of
/// the blocks along `axis`, summing to the axis length. A zero-length axis has one
/// block of length 0.
pub type Grid = Vec<Vec<usize>>;

/// How one axis is to be chunked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AxisChunks {
    /// Blocks of this size (the last one may be smaller).
    Size(usize),
    /// One block for the whole axis (dask's `-1`).
    Full,
    /// Chosen to meet the byte target (dask's `"auto"`).
    Auto,
    /// These exact sizes, summing to the axis length.
    Explicit(Vec<usize>),
}

/// A requested chunking, resolved against a shape by [`ChunkSpec::resolve`].
///
/// ```
/// use darray::ChunkSpec;
/// let g = ChunkSpec::from([4, 3]).resolve(&[10, 3], 8).unwrap();
/// assert_eq!(g, vec![vec![4, 4, 2], vec![3]]);
/// let g = "800 B".parse::<ChunkSpec>().unwrap().resolve(&[100, 100], 8).unwrap();
/// assert_eq!(g[0].iter().sum::<usize>(), 100);
/// assert!(g[0][0] * g[1][0] * 8 <= 800);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChunkSpec {
    /// Every axis `Auto` with the default target of 128 MiB, as dask.
    Auto,
    /// Every axis `Auto` with this many bytes per block.
    Bytes(u64),
    /// One entry per axis, with the byte target for `Auto` axes.
    PerAxis(Vec<AxisChunks>, u64),
}

/// dask's default `array.chunk-size`.
pub const DEFAULT_CHUNK_BYTES: u64 = 128 << 20;

impl From<&[usize]> for ChunkSpec {
    fn from(sizes: &[usize]) -> Self {
        ChunkSpec::PerAxis(
            sizes.iter().map(|&s| AxisChunks::Size(s)).collect(),
            DEFAULT_CHUNK_BYTES,
        )
    }
}

impl From<Vec<usize>> for ChunkSpec {
    fn from(sizes: Vec<usize>) -> Self {
        ChunkSpec::from(sizes.as_slice())
    }
}

impl<const N: usize> From<[usize; N]> for ChunkSpec {
    fn from(sizes: [usize; N]) -> Self {
        ChunkSpec::from(sizes.as_slice())
    }
}

impl From<Vec<Vec<usize>>> for ChunkSpec {
    fn from(grid: Vec<Vec<usize>>) -> Self {
        ChunkSpec::PerAxis(
            grid.into_iter().map(AxisChunks::Explicit).collect(),
            DEFAULT_CHUNK_BYTES,
        )
    }
}

impl From<Vec<AxisChunks>> for ChunkSpec {
    fn from(axes: Vec<AxisChunks>) -> Self {
        ChunkSpec::PerAxis(axes, DEFAULT_CHUNK_BYTES)
    }
}

/// Parses a byte size such as `"64 MiB"`, `"1GB"`, `"4096"` or `"auto"`.
impl FromStr for ChunkSpec {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        if s.trim().eq_ignore_ascii_case("auto") {
            return Ok(ChunkSpec::Auto);
        }
        parse_bytes(s).map(ChunkSpec::Bytes)
    }
}

/// Parses `"64 MiB"`, `"1.5 GB"`, `"100kB"`, `"4096"` into bytes.
///
/// # Errors
/// [`Error::InvalidArgument`] if the text is not a size.
pub fn parse_bytes(s: &str) -> Result<u64> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let bad = || Error::InvalidArgument {
        array: String::new(),
        reason: format!("cannot parse byte size {s:?} (expected e.g. \"64 MiB\")"),
    };
    let value: f64 = num.parse().map_err(|_| bad())?;
    let mult: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "kb" => 1e3,
        "mb" => 1e6,
        "gb" => 1e9,
        "tb" => 1e12,
        "kib" => 1024.0,
        "mib" => 1024.0 * 1024.0,
        "gib" => 1024.0 * 1024.0 * 1024.0,
        "tib" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => return Err(bad()),
    };
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    Ok((value * mult) as u64)
}

impl ChunkSpec {
    /// The grid for an array of `shape` with `itemsize`-byte elements.
    ///
    /// The number of blocks is checked against [`MAX_AXIS_BLOCKS`] and
    /// [`MAX_GRID_BLOCKS`] before any per-block list is allocated.
    ///
    /// # Errors
    /// [`Error::InvalidChunks`] if the spec has the wrong number of axes, a zero
    /// block size on a non-empty axis, or explicit sizes that do not sum to the axis;
    /// [`Error::TooManyBlocks`] if the grid would exceed the limits above, or the
    /// array's size in bytes does not fit in 64 bits.
    pub fn resolve(&self, shape: &[usize], itemsize: usize) -> Result<Grid> {
        let (axes, target) = match self {
            ChunkSpec::Auto => (vec![AxisChunks::Auto; shape.len()], DEFAULT_CHUNK_BYTES),
            ChunkSpec::Bytes(b) => (vec![AxisChunks::Auto; shape.len()], *b),
            ChunkSpec::PerAxis(a, b) => (a.clone(), *b),
        };
        let invalid = |reason: String| Error::InvalidChunks {
            array: String::new(),
            shape: shape.to_vec(),
            reason,
        };
        if axes.len() != shape.len() {
            return Err(invalid(format!(
                "{} chunk entries for {} axes",
                axes.len(),
                shape.len()
            )));
        }
        let mut plan: Vec<Option<AxisPlan>> = Vec::with_capacity(shape.len());
        for (ax, (spec, &n)) in axes.into_iter().zip(shape).enumerate() {
            plan.push(match spec {
                AxisChunks::Size(0) if n > 0 => {
                    return Err(invalid(format!("axis {ax}: block size 0")));
                }
                AxisChunks::Size(s) => Some(AxisPlan::Regular(s)),
                AxisChunks::Full => Some(AxisPlan::Regular(n)),
                AxisChunks::Auto => None,
                AxisChunks::Explicit(v) => {
                    if v.iter().sum::<usize>() != n {
                        return Err(invalid(format!("axis {ax}: sizes {v:?} do not sum to {n}")));
                    }
                    if n > 0 && v.contains(&0) {
                        return Err(invalid(format!("axis {ax}: zero-length block in {v:?}")));
                    }
                    if n == 0 {
                        Some(AxisPlan::Regular(0))
                    } else {
                        Some(AxisPlan::Sizes(v))
                    }
                }
            });
        }
        auto_fill(&mut plan, shape, itemsize, target);
        let plan: Vec<AxisPlan> = plan
            .into_iter()
            .map(|p| p.expect("auto axes filled"))
            .collect();
        // Counted from the sizes alone, so a spec that would make billions of
        // blocks is refused before their list is allocated.
        let counts: Vec<u64> = plan.iter().zip(shape).map(|(p, &n)| p.count(n)).collect();
        let largest: Vec<u64> = plan
            .iter()
            .zip(shape)
            .map(|(p, &n)| p.largest(n) as u64)
            .collect();
        let shape64: Vec<u64> = shape.iter().map(|&n| n as u64).collect();
        check_grid("", &shape64, &largest, &counts, itemsize)?;
        Ok(plan
            .into_iter()
            .zip(shape)
            .map(|(p, &n)| p.into_sizes(n))
            .collect())
    }
}

/// One axis of a grid being resolved, before its block list is made.
enum AxisPlan {
    /// Blocks of this size (clamped to `1..=n`), the last one smaller.
    Regular(usize),
    /// These sizes, already checked to sum to the axis length.
    Sizes(Vec<usize>),
}

impl AxisPlan {
    fn count(&self, n: usize) -> u64 {
        match self {
            AxisPlan::Regular(s) => count_regular(n as u64, *s as u64),
            AxisPlan::Sizes(v) => v.len() as u64,
        }
    }

    /// The largest block (at least 1), as [`regular`] would make it.
    fn largest(&self, n: usize) -> usize {
        match self {
            AxisPlan::Regular(_) if n == 0 => 1,
            AxisPlan::Regular(s) => (*s).clamp(1, n),
            AxisPlan::Sizes(v) => v.iter().copied().max().unwrap_or(1).max(1),
        }
    }

    fn into_sizes(self, n: usize) -> Vec<usize> {
        match self {
            AxisPlan::Regular(s) => regular(n, s),
            AxisPlan::Sizes(v) => v,
        }
    }
}

/// Most blocks along one axis of any grid: 2^24 (16,777,216). A grid lists every
/// block's size along each axis, 8 bytes a block, and every derived array copies its
/// grid; this keeps one axis's list at 128 MiB at most. A regular grid is not stored
/// more compactly (a per-chunk list is what slicing and planning read), so a larger
/// count is refused rather than represented.
pub const MAX_AXIS_BLOCKS: u64 = 1 << 24;

/// Most blocks of any grid in all: 2^32. A grid this large can be opened and sliced
/// (its lists are per axis, so small), but one computation lowers at most 2^22 tasks
/// (see [`DArray::graph`](crate::DArray::graph)), so only a part of it can be
/// computed at once.
pub const MAX_GRID_BLOCKS: u64 = 1 << 32;

/// Blocks along an axis of `n` elements in blocks of `size` (one block for an empty
/// axis), without making the list.
#[must_use]
pub fn count_regular(n: u64, size: u64) -> u64 {
    if n == 0 {
        1
    } else {
        n.div_ceil(size.clamp(1, n))
    }
}

/// Checks a grid of `counts[ax]` blocks per axis (blocks of at most
/// `chunk_shape[ax]`) over `shape` against [`MAX_AXIS_BLOCKS`] and
/// [`MAX_GRID_BLOCKS`], and that the array's size in bytes fits in 64 bits.
///
/// # Errors
/// [`Error::TooManyBlocks`], naming `array`, the shape, the chunk shape and the
/// limit exceeded.
pub fn check_grid(
    array: &str,
    shape: &[u64],
    chunk_shape: &[u64],
    counts: &[u64],
    itemsize: usize,
) -> Result<()> {
    let over = |reason: String| Error::TooManyBlocks {
        array: array.to_string(),
        shape: shape.to_vec(),
        chunk_shape: chunk_shape.to_vec(),
        blocks: counts.to_vec(),
        reason,
    };
    if let Some(ax) = counts.iter().position(|&c| c > MAX_AXIS_BLOCKS) {
        return Err(over(format!(
            "{} blocks along axis {ax}, over the limit of {MAX_AXIS_BLOCKS} (2^24) blocks \
             along one axis; use larger chunks",
            counts[ax]
        )));
    }
    let total = counts
        .iter()
        .try_fold(1u64, |acc, &c| acc.checked_mul(c))
        .filter(|&t| t <= MAX_GRID_BLOCKS);
    if total.is_none() {
        let total: u128 = counts.iter().map(|&c| u128::from(c)).product();
        return Err(over(format!(
            "{total} blocks in all, over the limit of {MAX_GRID_BLOCKS} (2^32) blocks in a \
             grid; use larger chunks"
        )));
    }
    let bytes = shape
        .iter()
        .try_fold(itemsize.max(1) as u64, |acc, &n| acc.checked_mul(n));
    if bytes.is_none() && !shape.contains(&0) {
        return Err(over(
            "the array's size in bytes does not fit in 64 bits".to_string(),
        ));
    }
    Ok(())
}

/// The regular grid of `shape` in blocks of `chunk_shape` (a Zarr array's grid),
/// checked with [`check_grid`] before its lists are made.
///
/// # Errors
/// As [`check_grid`]; [`Error::InvalidChunks`] if the lengths differ or a dimension
/// does not fit in `usize`.
pub fn regular_grid(
    array: &str,
    shape: &[u64],
    chunk_shape: &[u64],
    itemsize: usize,
) -> Result<Grid> {
    let invalid = |reason: String| Error::InvalidChunks {
        array: array.to_string(),
        shape: shape
            .iter()
            .map(|&n| usize::try_from(n).unwrap_or(usize::MAX))
            .collect(),
        reason,
    };
    if shape.len() != chunk_shape.len() {
        return Err(invalid(format!(
            "chunk shape {chunk_shape:?} has {} axes, the shape {}",
            chunk_shape.len(),
            shape.len()
        )));
    }
    let counts: Vec<u64> = shape
        .iter()
        .zip(chunk_shape)
        .map(|(&n, &c)| count_regular(n, c))
        .collect();
    check_grid(array, shape, chunk_shape, &counts, itemsize)?;
    shape
        .iter()
        .zip(chunk_shape)
        .map(|(&n, &c)| {
            let n = usize::try_from(n)
                .map_err(|_| invalid(format!("dimension {n} does not fit in usize")))?;
            Ok(regular(n, usize::try_from(c).unwrap_or(usize::MAX)))
        })
        .collect()
}

/// Blocks of `size` along an axis of `n` (one empty block when `n == 0`).
#[must_use]
pub fn regular(n: usize, size: usize) -> Vec<usize> {
    if n == 0 {
        return vec![0];
    }
    let size = size.clamp(1, n);
    let mut v = vec![size; n / size];
    if !n.is_multiple_of(size) {
        v.push(n % size);
    }
    v
}

/// Chooses sizes for the `None` axes so a block holds about `target` bytes, as
/// square as the shape allows (dask's `auto_chunks`): axes too short for the
/// ideal size take their whole length, and the rest share what remains.
fn auto_fill(grid: &mut [Option<AxisPlan>], shape: &[usize], itemsize: usize, target: u64) {
    let fixed: f64 = grid
        .iter()
        .zip(shape)
        .filter_map(|(g, &n)| g.as_ref().map(|p| p.largest(n)))
        .map(|m| m as f64)
        .product();
    let mut budget = (target as f64 / itemsize.max(1) as f64 / fixed).max(1.0);
    let mut auto: Vec<usize> = (0..shape.len()).filter(|&a| grid[a].is_none()).collect();
    loop {
        if auto.is_empty() {
            return;
        }
        let ideal = budget.powf(1.0 / auto.len() as f64);
        let small: Vec<usize> = auto
            .iter()
            .copied()
            .filter(|&a| (shape[a] as f64) <= ideal)
            .collect();
        if small.is_empty() {
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let size = ideal.floor().max(1.0) as usize;
            for &a in &auto {
                grid[a] = Some(AxisPlan::Regular(size));
            }
            return;
        }
        for &a in &small {
            grid[a] = Some(AxisPlan::Regular(shape[a]));
            budget /= shape[a].max(1) as f64;
        }
        budget = budget.max(1.0);
        auto.retain(|a| !small.contains(a));
    }
}

/// Start offset of every block along one axis, plus the total at the end.
#[must_use]
pub fn offsets(sizes: &[usize]) -> Vec<usize> {
    let mut v = Vec::with_capacity(sizes.len() + 1);
    let mut acc = 0;
    v.push(0);
    for &s in sizes {
        acc += s;
        v.push(acc);
    }
    v
}

/// Number of blocks per axis.
#[must_use]
pub fn numblocks(grid: &Grid) -> Vec<usize> {
    grid.iter().map(Vec::len).collect()
}

/// The shape of block `idx`.
#[must_use]
pub fn block_shape(grid: &Grid, idx: &[u32]) -> Vec<usize> {
    grid.iter().zip(idx).map(|(g, &i)| g[i as usize]).collect()
}

/// Start of block `idx` in each axis. This sums the sizes before the block, so
/// a loop over many blocks should use [`GridOffsets`] instead.
#[must_use]
pub fn block_offset(grid: &Grid, idx: &[u32]) -> Vec<usize> {
    grid.iter()
        .zip(idx)
        .map(|(g, &i)| g[..i as usize].iter().sum())
        .collect()
}

/// The block starts of every axis of a grid, computed once, so the offset of
/// a block is a lookup per axis (a loop over all blocks stays linear).
///
/// ```
/// use darray::array::chunks::{block_offset, GridOffsets};
/// let grid = vec![vec![3, 3, 1], vec![2, 5]];
/// let offs = GridOffsets::new(&grid);
/// assert_eq!(offs.block(&[2, 1]), vec![6, 2]);
/// assert_eq!(offs.block(&[2, 1]), block_offset(&grid, &[2, 1]));
/// ```
#[derive(Clone, Debug)]
pub struct GridOffsets(Vec<Vec<usize>>);

impl GridOffsets {
    /// The starts of `grid`'s blocks along every axis.
    #[must_use]
    pub fn new(grid: &Grid) -> Self {
        GridOffsets(grid.iter().map(|g| offsets(g)).collect())
    }

    /// Start of block `idx` in each axis.
    #[must_use]
    pub fn block(&self, idx: &[u32]) -> Vec<usize> {
        self.0
            .iter()
            .zip(idx)
            .map(|(o, &i)| o[i as usize])
            .collect()
    }

    /// Block starts along `axis`, plus the axis length at the end.
    #[must_use]
    pub fn axis(&self, axis: usize) -> &[usize] {
        &self.0[axis]
    }
}

/// Every block index of the grid in C order.
#[must_use]
pub fn block_indices(grid: &Grid) -> Vec<Vec<u32>> {
    let nb = numblocks(grid);
    let total: usize = nb.iter().product();
    let mut out = Vec::with_capacity(total);
    let mut idx = vec![0u32; nb.len()];
    for _ in 0..total {
        out.push(idx.clone());
        for ax in (0..nb.len()).rev() {
            idx[ax] += 1;
            if (idx[ax] as usize) < nb[ax] {
                break;
            }
            idx[ax] = 0;
        }
    }
    out
}

/// The union of the block boundaries of two chunkings of the same axis length
/// (dask's common refinement), so both can be sliced to it without moving data
/// between blocks.
#[must_use]
pub fn refine(a: &[usize], b: &[usize]) -> Vec<usize> {
    let (oa, ob) = (offsets(a), offsets(b));
    let mut cuts: Vec<usize> = oa.iter().chain(ob.iter()).copied().collect();
    cuts.sort_unstable();
    cuts.dedup();
    let sizes: Vec<usize> = cuts.windows(2).map(|w| w[1] - w[0]).collect();
    if sizes.is_empty() {
        vec![0]
    } else {
        sizes
    }
}

/// True if the grid is regular along every axis (all blocks equal but the last,
/// which is not larger), as Zarr's chunk grid requires.
#[must_use]
pub fn is_regular(grid: &Grid) -> bool {
    grid.iter().all(|g| {
        g.len() <= 1 || (g[..g.len() - 1].iter().all(|&s| s == g[0]) && g[g.len() - 1] <= g[0])
    })
}

/// True if `other`, a chunking of the same axis, is `target` shifted by a few
/// elements, so rechunking it to `target` is cheap: both have as many blocks,
/// each cut of `other` lies within an eighth of the largest block (at least one
/// element) of the matching cut of `target`, and no block of `target` holds more
/// than one cut of `other`, so each of its blocks is assembled from at most two
/// blocks of `other`. Shifted slices of one array (`x[1..]` against `x[..-1]`,
/// a stencil written by hand) are what this recognizes; their common refinement
/// ([`refine`]) would cut slivers of one or two elements at every block edge.
///
/// ```
/// use darray::array::chunks::aligns_to;
/// assert!(aligns_to(&[1023, 1024, 1024], &[1024, 1024, 1023]));
/// assert!(!aligns_to(&[4, 4, 4], &[3, 3, 3, 3]));
/// ```
#[must_use]
pub fn aligns_to(target: &[usize], other: &[usize]) -> bool {
    if target.len() != other.len() || target.iter().sum::<usize>() != other.iter().sum::<usize>() {
        return false;
    }
    let (ot, oo) = (offsets(target), offsets(other));
    let largest = target.iter().chain(other).copied().max().unwrap_or(0);
    let tolerance = (largest / 8).max(1);
    if ot.iter().zip(&oo).any(|(&t, &o)| t.abs_diff(o) > tolerance) {
        return false;
    }
    ot.windows(2).all(|w| {
        let inside = oo.partition_point(|&c| c < w[1]) - oo.partition_point(|&c| c <= w[0]);
        inside <= 1
    })
}

/// Of chunkings of one axis, the index of the one every other aligns to (see
/// [`aligns_to`]), if any. Among several, the one whose cuts sit nearest the
/// others' (the middle one of `x[2..]`, `x[1..-1]`, `x[..-2]`), so that each
/// operand of a symmetric stencil is shifted on as few axes as possible.
///
/// ```
/// use darray::array::chunks::common_alignment;
/// let (left, mid, right) = (vec![1022, 1024, 1024], vec![1023, 1024, 1023], vec![1024, 1024, 1022]);
/// assert_eq!(common_alignment(&[&left, &mid, &right]), Some(1));
/// assert_eq!(common_alignment(&[&[4, 4, 2], &[5, 5]]), None);
/// ```
#[must_use]
pub fn common_alignment(grids: &[&[usize]]) -> Option<usize> {
    let spread = |c: &[usize]| {
        let oc = offsets(c);
        grids
            .iter()
            .flat_map(|g| offsets(g).into_iter().zip(&oc).map(|(o, &t)| o.abs_diff(t)))
            .max()
            .unwrap_or(0)
    };
    (0..grids.len())
        .filter(|&i| grids.iter().all(|g| aligns_to(grids[i], g)))
        .min_by_key(|&i| spread(grids[i]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regular_edges() {
        assert_eq!(regular(10, 4), vec![4, 4, 2]);
        assert_eq!(regular(0, 4), vec![0]);
        assert_eq!(regular(3, 10), vec![3]);
    }

    #[test]
    fn auto_meets_target() {
        let g = ChunkSpec::Bytes(8 * 1000 * 1000)
            .resolve(&[100_000, 100_000], 8)
            .unwrap();
        assert_eq!(g[0][0], 1000);
        assert_eq!(g[1][0], 1000);
        let g = ChunkSpec::Bytes(8 * 1000 * 1000)
            .resolve(&[10, 10_000_000], 8)
            .unwrap();
        assert_eq!(g[0], vec![10]);
        assert_eq!(g[1][0], 100_000);
    }

    #[test]
    fn bad_specs_are_errors() {
        assert!(ChunkSpec::from([0]).resolve(&[5], 8).is_err());
        assert!(ChunkSpec::from(vec![vec![2, 2]]).resolve(&[5], 8).is_err());
        assert!(ChunkSpec::from([1, 1]).resolve(&[5], 8).is_err());
        assert!("12 parsecs".parse::<ChunkSpec>().is_err());
        assert_eq!(parse_bytes("64 MiB").unwrap(), 64 << 20);
    }

    #[test]
    fn grids_over_the_limits_are_refused_before_allocating() {
        // 10^15 blocks along axis 0: the old code allocated their list (8 PB).
        let e = ChunkSpec::from([1, 1])
            .resolve(&[1_000_000_000_000_000, 2], 8)
            .unwrap_err();
        assert!(matches!(e, Error::TooManyBlocks { .. }), "{e}");
        assert!(e.to_string().contains("along axis 0"), "{e}");
        // Auto chunks of a huge axis also count.
        assert!(ChunkSpec::Bytes(8).resolve(&[1 << 40], 8).is_err());
        // 2^20 x 2^20 blocks: each axis is fine, the total (2^40) is not.
        let e = ChunkSpec::from([1, 1])
            .resolve(&[1 << 20, 1 << 20], 1)
            .unwrap_err();
        assert!(e.to_string().contains("in all"), "{e}");
        // At the per-axis limit exactly, and a size that overflows 64 bits.
        let at = usize::try_from(MAX_AXIS_BLOCKS).unwrap();
        assert_eq!(ChunkSpec::from([1]).resolve(&[at], 1).unwrap()[0].len(), at);
        assert!(ChunkSpec::from([at + 1]).resolve(&[at + 1], 1).is_ok());
        assert!(ChunkSpec::from([1]).resolve(&[at + 1], 1).is_err());
        let e = regular_grid("x", &[u64::MAX / 2, 4], &[u64::MAX / 2, 4], 8).unwrap_err();
        assert!(e.to_string().contains("64 bits"), "{e}");
        assert_eq!(count_regular(0, 5), 1);
        assert_eq!(count_regular(10, 0), 10);
        assert_eq!(count_regular(10, 4), 3);
    }

    #[test]
    fn shifted_grids_align_and_others_do_not() {
        assert!(aligns_to(&[1023, 1024], &[1024, 1023]));
        assert!(aligns_to(&[4, 4, 2], &[4, 4, 2]));
        // Too far apart for 4-element blocks (tolerance 1), or a different count.
        assert!(!aligns_to(&[4, 4, 2], &[2, 4, 4]));
        assert!(!aligns_to(&[4, 4, 4], &[4, 4, 2, 2]));
        // A block of the target may hold one cut of the other, not two.
        assert!(aligns_to(&[2, 2, 2], &[1, 3, 2]));
        assert!(!aligns_to(&[8, 8, 8], &[9, 6, 9]));
        assert!(aligns_to(&[8, 8], &[9, 7]));
        assert!(!aligns_to(&[8, 8], &[10, 6]));
        assert_eq!(common_alignment(&[&[7, 8], &[8, 7]]), Some(0));
    }

    #[test]
    fn refinement_is_union_of_cuts() {
        assert_eq!(refine(&[4, 4, 2], &[5, 5]), vec![4, 1, 3, 2]);
        assert!(is_regular(&vec![vec![4, 4, 2]]));
        assert!(!is_regular(&vec![vec![4, 1, 3, 2]]));
    }
}
