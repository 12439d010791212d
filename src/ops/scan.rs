//! Lowering of scans (dask's `cumreduction`) and `diff`.
//!
//! A scan along an axis is, per lane of blocks along that axis: the scan of
//! every block, the total of every block, a chain of carries (the carry into
//! block `k` combines the carry into the block before it with that block's
//! total, in block order, so the result never depends on which task finishes
//! first), and the carry applied to every block but the first. Blocks of length
//! zero along the axis are left out of the chain. Tasks grow linearly with the
//! blocks: at most four per block.
//!
//! `diff(n)` output block `b` is one task over the input blocks holding its
//! elements and the `n` after them (several blocks when blocks are thinner
//! than `n`).

use crate::error::Result;
use crate::expr::grid::{block_shape, offsets, Grid};
use crate::expr::node::{Expr, ExprKind};
use crate::expr::{CustomLower, LowerCtx};
use crate::graph::{stage, ChunkKey, Op, TaskId};
use darray_kernels::scan::{ScanKind, ScanStep};
use darray_kernels::DType;
use std::ops::Range;
use std::sync::Arc;

/// The operator of a scan node.
#[derive(Clone, Debug)]
pub(crate) enum ScanOp {
    /// A built-in scan.
    Builtin(ScanKind),
    /// A registered user operator, by name.
    User(String),
}

impl ScanOp {
    fn op(&self, step: ScanStep, axis: usize) -> Op {
        match self {
            ScanOp::Builtin(kind) => Op::Scan {
                kind: *kind,
                step,
                axis,
            },
            ScanOp::User(name) => Op::UserScan {
                name: name.clone(),
                step,
                axis,
            },
        }
    }

    fn is_fill(&self) -> bool {
        matches!(self, ScanOp::Builtin(ScanKind::Fill { .. }))
    }

    fn backward(&self) -> bool {
        matches!(self, ScanOp::Builtin(ScanKind::Fill { backward: true, .. }))
    }
}

#[derive(Debug)]
struct ScanNode {
    scan: ScanOp,
    axis: usize,
    input: Arc<Expr>,
}

fn key(e: &Expr, stage: u8, idx: &[u32]) -> ChunkKey {
    ChunkKey {
        array: e.id,
        stage,
        block: idx.to_vec(),
    }
}

fn u32_of(k: usize) -> u32 {
    u32::try_from(k).expect("block index fits u32")
}

impl ScanNode {
    /// Block `idx` with its scanned-axis index replaced by `k`.
    fn at(&self, idx: &[u32], k: usize) -> Vec<u32> {
        let mut i = idx.to_vec();
        i[self.axis] = u32_of(k);
        i
    }

    /// The non-empty blocks along the axis, in scan order.
    fn chain(&self) -> Vec<usize> {
        let sizes = &self.input.grid[self.axis];
        let mut v: Vec<usize> = (0..sizes.len()).filter(|&k| sizes[k] > 0).collect();
        if self.scan.backward() {
            v.reverse();
        }
        v
    }

    /// Bytes of a total or carry of the lane through `idx`.
    fn total_bytes(&self, e: &Expr, idx: &[u32]) -> u64 {
        let shape = block_shape(&e.grid, idx);
        let lanes: usize = shape
            .iter()
            .enumerate()
            .filter(|&(ax, _)| ax != self.axis)
            .map(|(_, &s)| s)
            .product();
        // A fill carries (value, distance) in f64.
        let per_lane = if self.scan.is_fill() {
            16
        } else {
            e.dtype.size()
        };
        (lanes * per_lane) as u64
    }

    /// The scan of input block `idx` (the output block itself when `first`).
    fn scanned(
        &self,
        l: &mut dyn LowerCtx,
        e: &Arc<Expr>,
        idx: &[u32],
        first: bool,
    ) -> Result<TaskId> {
        if first {
            return l.block(e, idx);
        }
        l.cached(key(e, stage::SCAN_BLOCK, idx), |l| {
            let src = l.block(&self.input, idx)?;
            Ok(l.push_task(
                key(e, stage::SCAN_BLOCK, idx),
                self.scan.op(ScanStep::Block, self.axis),
                vec![src],
                e.block_bytes(idx),
                0,
            ))
        })
    }

    /// The total of block `idx`; `first` as in [`Self::scanned`].
    fn total(
        &self,
        l: &mut dyn LowerCtx,
        e: &Arc<Expr>,
        idx: &[u32],
        first: bool,
    ) -> Result<TaskId> {
        l.cached(key(e, stage::SCAN_TOTAL, idx), |l| {
            // A fill's total is the last valid value, which the block's fill
            // may have dropped (beyond the limit): it reads the raw block.
            let src = if self.scan.is_fill() {
                l.block(&self.input, idx)?
            } else {
                self.scanned(l, e, idx, first)?
            };
            Ok(l.push_task(
                key(e, stage::SCAN_TOTAL, idx),
                self.scan.op(ScanStep::Total, self.axis),
                vec![src],
                self.total_bytes(e, idx),
                0,
            ))
        })
    }

    /// The carry into `chain[j]` (`j >= 1`), built forward from the last
    /// carry already made, so a long chain needs no recursion.
    fn carry(
        &self,
        l: &mut dyn LowerCtx,
        e: &Arc<Expr>,
        idx: &[u32],
        chain: &[usize],
        j: usize,
    ) -> Result<TaskId> {
        let carry_key = |k: usize| key(e, stage::SCAN_CARRY, &self.at(idx, k));
        let mut start = 1;
        let mut c = None;
        for i in (2..=j).rev() {
            if let Some(t) = l.memoized(&carry_key(chain[i])) {
                start = i;
                c = Some(t);
                break;
            }
        }
        let mut c = match c {
            Some(t) => t,
            None => self.total(l, e, &self.at(idx, chain[0]), true)?,
        };
        for i in start + 1..=j {
            let t = self.total(l, e, &self.at(idx, chain[i - 1]), false)?;
            let k = self.at(idx, chain[i]);
            c = l.push_task(
                carry_key(chain[i]),
                self.scan.op(ScanStep::Carry, self.axis),
                vec![c, t],
                self.total_bytes(e, &k),
                0,
            );
            l.memoize(carry_key(chain[i]), c);
        }
        Ok(c)
    }
}

impl CustomLower for ScanNode {
    fn block(&self, l: &mut dyn LowerCtx, e: &Arc<Expr>, idx: &[u32]) -> Result<TaskId> {
        let b = idx[self.axis] as usize;
        let chain = self.chain();
        match chain.iter().position(|&k| k == b) {
            // The first non-empty block, or an empty one: its scan is final.
            None | Some(0) => {
                let src = l.block(&self.input, idx)?;
                Ok(l.push_task(
                    key(e, stage::BLOCK, idx),
                    self.scan.op(ScanStep::Block, self.axis),
                    vec![src],
                    e.block_bytes(idx),
                    0,
                ))
            }
            Some(j) => {
                let c = self.carry(l, e, idx, &chain, j)?;
                let s = self.scanned(l, e, idx, false)?;
                Ok(l.push_task(
                    key(e, stage::BLOCK, idx),
                    self.scan.op(ScanStep::Apply, self.axis),
                    vec![c, s],
                    e.block_bytes(idx),
                    0,
                ))
            }
        }
    }
}

/// The scan `scan` of `input` along `axis`, giving `dtype`.
pub(crate) fn scan_expr(
    name: &str,
    scan: ScanOp,
    input: &Arc<Expr>,
    axis: usize,
    dtype: DType,
) -> Arc<Expr> {
    Expr::new(
        name,
        input.shape.clone(),
        input.grid.clone(),
        dtype,
        ExprKind::Custom(Arc::new(ScanNode {
            scan,
            axis,
            input: input.clone(),
        })),
    )
}

#[derive(Debug)]
struct DiffNode {
    n: usize,
    axis: usize,
    input: Arc<Expr>,
    /// Block starts of the input along the axis (and its length last).
    in_offsets: Vec<usize>,
    /// Block starts of the output along the axis.
    out_offsets: Vec<usize>,
}

impl CustomLower for DiffNode {
    fn block(&self, l: &mut dyn LowerCtx, e: &Arc<Expr>, idx: &[u32]) -> Result<TaskId> {
        let ax = self.axis;
        let b = idx[ax] as usize;
        let len = *self.in_offsets.last().expect("offsets end with the length");
        let lo = self.out_offsets[b];
        let hi = (self.out_offsets[b + 1] + self.n).min(len);
        let mut inputs = Vec::new();
        let mut ranges: Vec<Range<usize>> = Vec::new();
        for k in 0..self.in_offsets.len() - 1 {
            let (s, t) = (self.in_offsets[k], self.in_offsets[k + 1]);
            if s < hi && t > lo {
                let mut i = idx.to_vec();
                i[ax] = u32_of(k);
                inputs.push(l.block(&self.input, &i)?);
                ranges.push(lo.max(s) - s..hi.min(t) - s);
            }
        }
        if inputs.is_empty() {
            // An empty output block still needs one input for its dtype.
            let mut i = idx.to_vec();
            i[ax] = 0;
            inputs.push(l.block(&self.input, &i)?);
            ranges.push(0..0);
        }
        let shape = block_shape(&e.grid, idx);
        let lanes: usize = shape
            .iter()
            .enumerate()
            .filter(|&(a, _)| a != ax)
            .map(|(_, &s)| s)
            .product();
        // The concatenation and one difference of it alive at once.
        let scratch = 2 * (hi - lo) * lanes * e.dtype.size();
        Ok(l.push_task(
            key(e, stage::BLOCK, idx),
            Op::Diff {
                n: self.n,
                axis: ax,
                ranges,
            },
            inputs,
            e.block_bytes(idx),
            scratch as u64,
        ))
    }
}

/// `numpy.diff(input, n, axis)`: the output grid is the input's with `n`
/// elements taken off the end of the axis (blocks left empty dropped, one kept).
pub(crate) fn diff_expr(input: &Arc<Expr>, n: usize, axis: usize) -> Arc<Expr> {
    let sizes = &input.grid[axis];
    let total = input.shape[axis].saturating_sub(n);
    let mut out = Vec::new();
    let mut acc = 0;
    for &c in sizes {
        let take = c.min(total - acc);
        if take > 0 {
            out.push(take);
        }
        acc += take;
    }
    if out.is_empty() {
        out.push(0);
    }
    let mut shape = input.shape.clone();
    shape[axis] = total;
    let mut grid: Grid = input.grid.clone();
    let out_offsets = offsets(&out);
    grid[axis] = out;
    Expr::new(
        "diff",
        shape,
        grid,
        input.dtype,
        ExprKind::Custom(Arc::new(DiffNode {
            n,
            axis,
            input: input.clone(),
            in_offsets: offsets(sizes),
            out_offsets,
        })),
    )
}
