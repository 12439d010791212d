//! Planning a rechunk under a per-task memory bound: pure arithmetic on chunk
//! grids, no graph.
//!
//! One `Rechunk` node assembles each output block from every input block it
//! overlaps, holding those input blocks whole, so its task needs the output block
//! plus all of them. Going from row chunks to column chunks that is a whole column
//! of row blocks per task. The planner here splits such a rechunk into stages,
//! each an ordinary `Rechunk` node, whose tasks each stay under a bound:
//!
//! - a **split** cuts every block of the grid before it into pieces (each task
//!   holds one input block and one piece);
//! - a **merge** joins whole pieces into the blocks of the next grid (each task
//!   holds one output block and the pieces it is made of: twice the block).
//!
//! A stage of the rechunker algorithm (Cubed's multistage rechunk) is a split to
//! the common refinement of the grid before and the grid after, then a merge. One
//! stage (source -> refinement -> target) already has the least memory; more
//! stages, through intermediate chunk shapes spaced geometrically between the
//! source's and the target's, need fewer tasks when the refinement is made of
//! many small pieces (rows to columns of long axes). The planner tries the direct
//! rechunk, then 1 to `MAX_STAGES` (4) stages, and keeps the feasible plan with the
//! fewest tasks. Every stage's projected task bytes are computed exactly as the
//! lowering will state them (`mem_bytes` = inputs + output), so the bound is
//! known before anything runs.

use super::grid::{refine, regular, Grid};
use crate::error::{Error, Result};

/// The most split-and-merge stages the planner tries.
pub(crate) const MAX_STAGES: usize = 4;

/// The default per-task bound never goes below this (64 MiB): staging an array
/// whose tasks already fit in it would only add tasks.
pub(crate) const DEFAULT_MIN_TASK_BYTES: u64 = 64 << 20;

/// The default per-task bound is this many times the largest source or target
/// block (twice a block is the least a merge needs; the rest leaves room for
/// intermediate blocks larger than the pieces, hence fewer tasks).
pub(crate) const DEFAULT_BLOCK_FACTOR: u64 = 4;

/// Options of [`DArray::rechunk_with`](crate::DArray::rechunk_with).
///
/// ```
/// use darray::RechunkOptions;
/// let opts = RechunkOptions::new().max_task_bytes(256 << 20);
/// assert_eq!(opts.task_bytes(), Some(256 << 20));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RechunkOptions {
    max_task_bytes: Option<u64>,
}

impl RechunkOptions {
    /// The default options: the bound of [`RechunkPlan::default_bound`].
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// No task of the rechunk may project more than `bytes` (its input blocks
    /// plus its output block).
    #[must_use]
    pub fn max_task_bytes(mut self, bytes: u64) -> Self {
        self.max_task_bytes = Some(bytes);
        self
    }

    /// The bound set with [`RechunkOptions::max_task_bytes`], if any.
    #[must_use]
    pub fn task_bytes(&self) -> Option<u64> {
        self.max_task_bytes
    }
}

/// How a rechunk runs: the grids it passes through and the memory of its tasks.
///
/// ```
/// use darray::RechunkPlan;
/// // 1024 x 1024 f64 from 64-row chunks to 64-column chunks, 1 MiB per task.
/// let rows = vec![vec![64; 16], vec![1024]];
/// let cols = vec![vec![1024], vec![64; 16]];
/// let plan = RechunkPlan::new(&[1024, 1024], 8, &rows, &cols, 1 << 20).unwrap();
/// assert!(plan.stages.len() > 1); // the direct rechunk needs 8.5 MiB per task
/// assert!(plan.task_bytes <= 1 << 20);
/// assert_eq!(plan.stages.last(), Some(&cols));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RechunkPlan {
    /// The grid after each step, in order; the last is the target. Empty when the
    /// source already has the target grid. Each becomes one `Rechunk` node.
    pub stages: Vec<Grid>,
    /// The largest projected task bytes of each step (its input blocks plus its
    /// output block), as the lowering states them.
    pub stage_task_bytes: Vec<u64>,
    /// The largest of `stage_task_bytes` (0 for no steps).
    pub task_bytes: u64,
    /// The bound the plan was made for.
    pub max_task_bytes: u64,
    /// At most this many tasks: the blocks of every step's grid (a block that is
    /// one whole input block needs none).
    pub tasks: u64,
}

impl RechunkPlan {
    /// Plans the rechunk of an array of `shape` (items of `itemsize` bytes) from
    /// grid `source` to grid `target` so that no task projects more than
    /// `max_task_bytes`.
    ///
    /// # Errors
    /// Grids that do not cut `shape`, or a bound below
    /// [`RechunkPlan::min_task_bytes`] (the error says that minimum).
    pub fn new(
        shape: &[usize],
        itemsize: usize,
        source: &Grid,
        target: &Grid,
        max_task_bytes: u64,
    ) -> Result<RechunkPlan> {
        check(shape, source, "source")?;
        check(shape, target, "target")?;
        let item = itemsize as u64;
        let mut best = Chain::direct(item, source, target);
        if source != target && best.task_bytes > max_task_bytes {
            let mut found: Option<Chain> = None;
            for k in 1..=MAX_STAGES {
                let Some(c) = staged(shape, item, source, target, max_task_bytes, k) else {
                    continue;
                };
                if found.as_ref().is_none_or(|f| c.tasks < f.tasks) {
                    found = Some(c);
                }
            }
            best = found.ok_or_else(|| {
                let need = Self::min_task_bytes(itemsize, source, target);
                Error::InvalidArgument {
                    array: "rechunk".into(),
                    reason: format!(
                        "no plan from chunks of {:?} to chunks of {:?} fits {max_task_bytes} bytes \
                         per task: it needs at least {need} bytes (the largest source block plus \
                         one item, and twice the largest target block)",
                        largest(source),
                        largest(target)
                    ),
                }
            })?;
        }
        Ok(RechunkPlan {
            task_bytes: best.steps.iter().map(|s| s.1).max().unwrap_or(0),
            stage_task_bytes: best.steps.iter().map(|s| s.1).collect(),
            stages: best.steps.into_iter().map(|s| s.0).collect(),
            max_task_bytes,
            tasks: best.tasks,
        })
    }

    /// The smallest bound [`RechunkPlan::new`] accepts for this rechunk: the
    /// direct rechunk's task bytes, or, if smaller, those of the finest staged
    /// plan (largest source block plus one item to split, twice the largest
    /// target block to merge).
    #[must_use]
    pub fn min_task_bytes(itemsize: usize, source: &Grid, target: &Grid) -> u64 {
        let item = itemsize as u64;
        let direct = Chain::direct(item, source, target).task_bytes;
        let blocks = |g: &Grid| item * largest(g).iter().map(|&n| n as u64).product::<u64>();
        let split = blocks(source) + item;
        let merge = 2 * blocks(target);
        direct.min(split.max(merge))
    }

    /// The bound `rechunk` uses when none is given: 4 times the largest source
    /// or target block, at least 64 MiB, and never below
    /// [`RechunkPlan::min_task_bytes`], so a default rechunk always has a plan.
    #[must_use]
    pub fn default_bound(itemsize: usize, source: &Grid, target: &Grid) -> u64 {
        let item = itemsize as u64;
        let blocks = |g: &Grid| item * largest(g).iter().map(|&n| n as u64).product::<u64>();
        (DEFAULT_BLOCK_FACTOR * blocks(source).max(blocks(target)))
            .max(DEFAULT_MIN_TASK_BYTES)
            .max(Self::min_task_bytes(itemsize, source, target))
    }
}

/// A sequence of grids with each step's task bytes and the total task count.
#[derive(Default)]
struct Chain {
    steps: Vec<(Grid, u64)>,
    task_bytes: u64,
    tasks: u64,
}

impl Chain {
    fn direct(item: u64, source: &Grid, target: &Grid) -> Chain {
        let mut c = Chain::default();
        c.push(item, source, target.clone());
        c
    }

    /// Appends the step from `prev` to `next` (nothing if they are equal).
    fn push(&mut self, item: u64, prev: &Grid, next: Grid) {
        if *prev == next {
            return;
        }
        let bytes = step_bytes(item, prev, &next);
        self.task_bytes = self.task_bytes.max(bytes);
        self.tasks = self.tasks.saturating_add(block_count(&next));
        self.steps.push((next, bytes));
    }
}

/// A plan of `k` split-and-merge stages through intermediate grids spaced
/// geometrically between the source's and the target's largest chunks, or
/// `None` if some step cannot fit `bound`.
fn staged(
    shape: &[usize],
    item: u64,
    source: &Grid,
    target: &Grid,
    bound: u64,
    k: usize,
) -> Option<Chain> {
    let (s, t) = (largest(source), largest(target));
    let mut posts: Vec<Grid> = Vec::with_capacity(k);
    for j in 1..k {
        #[allow(clippy::cast_precision_loss)]
        let f = j as f64 / k as f64;
        let mut c: Vec<f64> = s
            .iter()
            .zip(&t)
            .map(|(&a, &b)| {
                #[allow(clippy::cast_precision_loss)]
                let (a, b) = (a.max(1) as f64, b.max(1) as f64);
                a.powf(1.0 - f) * b.powf(f)
            })
            .collect();
        // A merge into these blocks holds two of them.
        #[allow(clippy::cast_precision_loss)]
        let cap = (bound / 2 / item.max(1)) as f64;
        let vol: f64 = c.iter().product();
        if vol > cap && !c.is_empty() {
            #[allow(clippy::cast_precision_loss)]
            let shrink = (cap / vol).powf(1.0 / c.len() as f64);
            for x in &mut c {
                *x *= shrink;
            }
        }
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let grid: Grid = shape
            .iter()
            .zip(&c)
            .map(|(&n, &x)| regular(n, x.floor().max(1.0) as usize))
            .collect();
        posts.push(grid);
    }
    posts.push(target.clone());
    let mut chain = Chain::default();
    let mut pre = source.clone();
    for post in posts {
        let mut pieces: Grid = pre.iter().zip(&post).map(|(a, b)| refine(a, b)).collect();
        // Cut the pieces finer until a split task (one input block, one piece)
        // fits: halve the axis with the longest piece.
        while pieces != pre && step_bytes(item, &pre, &pieces) > bound {
            let (ax, m) = largest(&pieces)
                .into_iter()
                .enumerate()
                .max_by_key(|&(ax, m)| (m, std::cmp::Reverse(ax)))?;
            if m <= 1 {
                return None;
            }
            pieces[ax] = pieces[ax]
                .iter()
                .flat_map(|&n| divide(n, m.div_ceil(2)))
                .collect();
        }
        chain.push(item, &pre, pieces.clone());
        chain.push(item, &pieces, post.clone());
        pre = post;
    }
    (chain.task_bytes <= bound).then_some(chain)
}

/// `n` cut into `ceil(n / width)` near-equal parts (dask's `divide_to_width`).
fn divide(n: usize, width: usize) -> Vec<usize> {
    if n <= width || width == 0 {
        return vec![n];
    }
    let parts = n.div_ceil(width);
    let (q, r) = (n / parts, n % parts);
    (0..parts).map(|i| q + usize::from(i < r)).collect()
}

/// The largest projected task bytes of one `Rechunk` node from `prev` to
/// `next`: over the output blocks, the block plus every input block it overlaps
/// (counted whole, as the lowering holds them). Along each axis an output chunk
/// has a length and the total length of the input chunks it overlaps; a block's
/// bytes are the products of those over the axes, so only the chunks no other
/// chunk beats in both numbers need be combined. A block that is one whole input
/// block needs no task, but is counted anyway (the bound stays an upper bound).
fn step_bytes(item: u64, prev: &Grid, next: &Grid) -> u64 {
    let fronts: Vec<Vec<(u64, u64)>> = prev
        .iter()
        .zip(next)
        .map(|(p, n)| front(&spans(p, n)))
        .collect();
    let combos = fronts
        .iter()
        .try_fold(1usize, |acc, f| acc.checked_mul(f.len()))
        .unwrap_or(usize::MAX);
    if combos > 1 << 16 {
        // Too many to combine: the products of the per-axis maxima bound it.
        let (a, s) = fronts.iter().fold((1u64, 1u64), |(a, s), f| {
            let ma = f.iter().map(|p| p.0).max().unwrap_or(0);
            let ms = f.iter().map(|p| p.1).max().unwrap_or(0);
            (a.saturating_mul(ma), s.saturating_mul(ms))
        });
        return item.saturating_mul(a.saturating_add(s));
    }
    let mut best = 0u64;
    let mut idx = vec![0usize; fronts.len()];
    loop {
        let (a, s) = idx
            .iter()
            .zip(&fronts)
            .fold((1u64, 1u64), |(a, s), (&i, f)| {
                (a.saturating_mul(f[i].0), s.saturating_mul(f[i].1))
            });
        best = best.max(item.saturating_mul(a.saturating_add(s)));
        // Next combination, last axis fastest.
        let mut ax = fronts.len();
        loop {
            if ax == 0 {
                return best;
            }
            ax -= 1;
            idx[ax] += 1;
            if idx[ax] < fronts[ax].len() {
                break;
            }
            idx[ax] = 0;
        }
    }
}

/// Per output chunk along one axis: its length and the total length of the
/// input chunks it overlaps (an empty output chunk takes input chunk 0, as the
/// lowering does).
fn spans(prev: &[usize], next: &[usize]) -> Vec<(u64, u64)> {
    let mut out = Vec::with_capacity(next.len());
    let (mut b, mut b_lo) = (0usize, 0usize);
    let mut lo = 0usize;
    for &len in next {
        let hi = lo + len;
        if len == 0 {
            out.push((0, prev.first().copied().unwrap_or(0) as u64));
            continue;
        }
        // Advance to the input chunk holding `lo`.
        while b < prev.len() && b_lo + prev[b] <= lo {
            b_lo += prev[b];
            b += 1;
        }
        let (mut j, mut j_lo, mut span) = (b, b_lo, 0u64);
        while j < prev.len() && j_lo < hi {
            span += prev[j] as u64;
            j_lo += prev[j];
            j += 1;
        }
        out.push((len as u64, span));
        lo = hi;
    }
    out
}

/// The pairs no other pair beats (is at least as large) in both numbers.
fn front(pairs: &[(u64, u64)]) -> Vec<(u64, u64)> {
    let mut v = pairs.to_vec();
    v.sort_unstable_by(|x, y| y.cmp(x));
    let mut out: Vec<(u64, u64)> = Vec::new();
    for p in v {
        if out.last().is_none_or(|l| p.1 > l.1) {
            out.push(p);
        }
    }
    out
}

/// The largest chunk along each axis.
fn largest(grid: &Grid) -> Vec<usize> {
    grid.iter()
        .map(|g| g.iter().copied().max().unwrap_or(0))
        .collect()
}

fn block_count(grid: &Grid) -> u64 {
    grid.iter()
        .fold(1u64, |acc, g| acc.saturating_mul(g.len() as u64))
}

fn check(shape: &[usize], grid: &Grid, which: &str) -> Result<()> {
    let ok = grid.len() == shape.len()
        && grid
            .iter()
            .zip(shape)
            .all(|(g, &n)| !g.is_empty() && g.iter().sum::<usize>() == n);
    if ok {
        return Ok(());
    }
    Err(Error::InvalidArgument {
        array: "rechunk".into(),
        reason: format!("{which} grid {grid:?} does not cut shape {shape:?}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_count_overlapped_input_chunks() {
        assert_eq!(spans(&[4, 4, 2], &[3, 5, 2]), vec![(3, 4), (5, 8), (2, 2)]);
        assert_eq!(spans(&[0], &[0]), vec![(0, 0)]);
        assert_eq!(front(&[(3, 4), (5, 8), (2, 2)]), vec![(5, 8)]);
        assert_eq!(front(&[(5, 4), (3, 8)]), vec![(5, 4), (3, 8)]);
    }

    #[test]
    fn step_bytes_is_block_plus_inputs() {
        let rows = vec![vec![2, 2], vec![4]];
        let cols = vec![vec![4], vec![2, 2]];
        // A 4x2 column block over both 2x4 row blocks: 8 + 16 items.
        assert_eq!(step_bytes(8, &rows, &cols), 8 * 24);
        assert_eq!(step_bytes(1, &rows, &rows), 16);
    }

    #[test]
    fn rows_to_columns_stage_under_the_bound() {
        let rows = vec![regular(1024, 8), vec![1024]];
        let cols = vec![vec![1024], regular(1024, 8)];
        let direct = step_bytes(8, &rows, &cols);
        assert_eq!(direct, 8 * (8 * 1024 + 1024 * 1024));
        let bound = 256 << 10;
        let p = RechunkPlan::new(&[1024, 1024], 8, &rows, &cols, bound).unwrap();
        assert!(p.task_bytes <= bound, "{p:?}");
        assert_eq!(p.stages.last(), Some(&cols));
        let min = RechunkPlan::min_task_bytes(8, &rows, &cols);
        // Twice a 1024 x 8 target block beats a 8 x 1024 source block plus one item.
        assert_eq!(min, 2 * 8 * 8 * 1024);
        assert!(RechunkPlan::new(&[1024, 1024], 8, &rows, &cols, min).is_ok());
        assert!(RechunkPlan::new(&[1024, 1024], 8, &rows, &cols, min - 1).is_err());
    }

    #[test]
    fn divide_is_near_equal() {
        assert_eq!(divide(10, 4), vec![4, 3, 3]);
        assert_eq!(divide(3, 4), vec![3]);
    }
}
