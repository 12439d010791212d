//! Lowering of point-wise indexing (`vindex`): the points are cut into runs of
//! whole rows of their broadcast shape; each output block gathers its run's
//! points from the input blocks holding them (only those are read), one block
//! per non-indexed axis as the output keeps the input's chunks there.

use crate::error::Result;
use crate::expr::node::{Expr, ExprKind};
use crate::expr::{CustomLower, LowerCtx};
use crate::graph::{stage, ChunkKey, Op, TaskId};
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

/// At most this many distinct input blocks (along the indexed axes) feed one
/// output block, so a task's memory stays a few input blocks whatever the
/// points' spread; a run is cut earlier when it would need more.
pub(crate) const MAX_BLOCKS_PER_TASK: usize = 8;

#[derive(Debug)]
struct VIndex {
    input: Arc<Expr>,
    /// Indexed input axes, ascending.
    axes: Vec<usize>,
    /// Per point (C order over the broadcast shape), its input block and local
    /// coordinate along each indexed axis.
    blocks: Arc<Vec<u32>>,
    locals: Arc<Vec<u32>>,
    /// Points per output row (the broadcast shape without its first axis).
    row: usize,
    /// First row of each output block along the points' first axis.
    run_starts: Vec<usize>,
    /// Number of axes of the broadcast shape.
    lead: usize,
}

impl CustomLower for VIndex {
    fn block(&self, l: &mut dyn LowerCtx, e: &Arc<Expr>, idx: &[u32]) -> Result<TaskId> {
        let k = self.axes.len();
        let nd = self.input.shape.len();
        let rest: Vec<usize> = (0..nd).filter(|a| !self.axes.contains(a)).collect();
        let run = idx[0] as usize;
        let rows = e.grid[0][run];
        let p0 = self.run_starts[run] * self.row;
        let p1 = p0 + rows * self.row;
        // Distinct input blocks, in ascending order: the task's inputs.
        let mut slot_of: BTreeMap<&[u32], u32> = BTreeMap::new();
        for p in p0..p1 {
            slot_of.insert(&self.blocks[p * k..(p + 1) * k], 0);
        }
        let mut inputs = Vec::with_capacity(slot_of.len());
        for (slot, (b, s)) in slot_of.iter_mut().enumerate() {
            *s = u32::try_from(slot).expect("few slots");
            let mut bidx = vec![0u32; nd];
            for (j, &ax) in self.axes.iter().enumerate() {
                bidx[ax] = b[j];
            }
            for (r, &ax) in rest.iter().enumerate() {
                bidx[ax] = idx[self.lead + r];
            }
            inputs.push(l.block(&self.input, &bidx)?);
        }
        let slots: Vec<u32> = (p0..p1)
            .map(|p| slot_of[&self.blocks[p * k..(p + 1) * k]])
            .collect();
        let coords = self.locals[p0 * k..p1 * k].to_vec();
        let shape: Vec<usize> = (0..e.shape.len())
            .map(|a| e.grid[a][idx[a] as usize])
            .collect();
        Ok(l.push_task(
            ChunkKey {
                array: e.id,
                stage: stage::BLOCK,
                block: idx.to_vec(),
            },
            Op::PointGather {
                shape,
                dtype: e.dtype,
                axes: self.axes.clone(),
                slots,
                coords,
            },
            inputs,
            e.block_bytes(idx),
            0,
        ))
    }
}

/// The node gathering `points` (C order over `bshape`, one resolved
/// coordinate per axis of `axes` each) of `input`; the output is `bshape`
/// followed by the non-indexed axes, whose chunks it keeps. Returns the
/// node's shape and grid with it, for the caller's limit checks.
pub(crate) fn vindex(
    input: &Arc<Expr>,
    axes: Vec<usize>,
    bshape: Vec<usize>,
    points: &[usize],
    name: String,
) -> Arc<Expr> {
    let k = axes.len();
    let npoints = bshape.iter().product::<usize>();
    debug_assert_eq!(points.len(), npoints * k);
    let offsets: Vec<Vec<usize>> = axes
        .iter()
        .map(|&ax| {
            let mut o = vec![0usize];
            for &c in &input.grid[ax] {
                o.push(o.last().unwrap() + c);
            }
            o
        })
        .collect();
    let mut blocks = Vec::with_capacity(points.len());
    let mut locals = Vec::with_capacity(points.len());
    for p in 0..npoints {
        for j in 0..k {
            let i = points[p * k + j];
            let o = &offsets[j];
            let b = o.partition_point(|&s| s <= i) - 1;
            blocks.push(u32::try_from(b).expect("block index fits u32"));
            locals.push(u32::try_from(i - o[b]).expect("local index fits u32"));
        }
    }
    let nrows = bshape[0];
    let row = bshape[1..].iter().product::<usize>();
    // Points per block: about one input block's worth along the indexed axes.
    let target: usize = axes
        .iter()
        .map(|&ax| input.grid[ax].first().copied().unwrap_or(1).max(1))
        .product::<usize>()
        .max(1);
    let mut sizes = Vec::new();
    let mut run_starts = Vec::new();
    let mut seen: HashSet<&[u32]> = HashSet::new();
    let mut cur = 0usize;
    for r in 0..nrows {
        let mut grown = seen.clone();
        for p in r * row..(r + 1) * row {
            grown.insert(&blocks[p * k..(p + 1) * k]);
        }
        let too_wide = grown.len() > MAX_BLOCKS_PER_TASK || (cur + 1) * row > target;
        if cur > 0 && too_wide {
            run_starts.push(r - cur);
            sizes.push(cur);
            cur = 0;
            seen.clear();
            for p in r * row..(r + 1) * row {
                seen.insert(&blocks[p * k..(p + 1) * k]);
            }
        } else {
            seen = grown;
        }
        cur += 1;
    }
    run_starts.push(nrows - cur);
    sizes.push(cur);
    let nd = input.shape.len();
    let lead = bshape.len();
    let mut shape = bshape.clone();
    let mut grid: Vec<Vec<usize>> = vec![sizes];
    grid.extend(bshape[1..].iter().map(|&n| vec![n]));
    for ax in (0..nd).filter(|a| !axes.contains(a)) {
        shape.push(input.shape[ax]);
        grid.push(input.grid[ax].clone());
    }
    let node = VIndex {
        input: input.clone(),
        axes,
        blocks: Arc::new(blocks),
        locals: Arc::new(locals),
        row,
        run_starts,
        lead,
    };
    Expr::new(
        name,
        shape,
        grid,
        input.dtype,
        ExprKind::Custom(Arc::new(node)),
    )
}
