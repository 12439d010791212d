//! Lowering of layout operations: a slice block is a slice of one input block; a
//! rechunked block is assembled from the input blocks it overlaps; a transposed
//! block is one input block permuted; a concatenated block is an input block.

use super::{bytes, Lowerer};
use crate::error::Result;
use crate::expr::grid::block_shape;
use crate::expr::node::{AxisSel, Expr, ExprKind};
use crate::expr::select::runs;
use crate::graph::{AxisTake, ChunkKey, Op, Piece, TaskId};
use std::sync::Arc;

impl Lowerer {
    pub(crate) fn slice_block(
        &mut self,
        e: &Arc<Expr>,
        input: &Arc<Expr>,
        sel: &[AxisSel],
        idx: &[u32],
        key: ChunkKey,
    ) -> Result<TaskId> {
        let mut in_idx = Vec::with_capacity(input.shape.len());
        let mut take = Vec::with_capacity(sel.len());
        let mut in_ax = 0;
        let mut out_ax = 0;
        // Whether this block is one whole input block, in order (then it is
        // that block's task: no copy).
        let mut whole = true;
        for s in sel {
            match *s {
                AxisSel::NewAxis => {
                    take.push(AxisTake::NewAxis);
                    out_ax += 1;
                    whole = false;
                }
                AxisSel::Index(i) => {
                    whole = false;
                    let offs = self.grid_offsets(input);
                    let off = offs.axis(in_ax);
                    let b = off.partition_point(|&o| o <= i) - 1;
                    let b = b.min(input.grid[in_ax].len() - 1);
                    in_idx.push(u32::try_from(b).expect("block index fits u32"));
                    take.push(AxisTake::Index(i - off[b]));
                    in_ax += 1;
                }
                AxisSel::Range { start, step, len } => {
                    let r = self
                        .slice_runs(e, in_ax, || runs(&input.grid[in_ax], start, step, len))
                        [idx[out_ax] as usize];
                    in_idx.push(u32::try_from(r.block).expect("block index fits u32"));
                    whole &= r.local == 0
                        && r.len == input.grid[in_ax][r.block]
                        && (step == 1 || r.len == 1);
                    take.push(s.to_take(r.local, r.len));
                    in_ax += 1;
                    out_ax += 1;
                }
            }
        }
        let src = self.block(input, &in_idx)?;
        if whole {
            return Ok(src);
        }
        Ok(self.push_leafish(key, Op::Slice { take }, vec![src], bytes(e, idx)))
    }

    pub(crate) fn rechunk_block(
        &mut self,
        e: &Arc<Expr>,
        input: &Arc<Expr>,
        idx: &[u32],
        key: ChunkKey,
    ) -> Result<TaskId> {
        let shape = block_shape(&e.grid, idx);
        let start = self.grid_offsets(e).block(idx);
        let in_offs = self.grid_offsets(input);
        // Per axis: the input blocks overlapping [start, start + len), with the
        // overlap in input-block and output-block coordinates.
        let mut per_axis: Vec<Vec<(u32, std::ops::Range<usize>, usize)>> = Vec::new();
        for ax in 0..shape.len() {
            let off = in_offs.axis(ax);
            let (lo, hi) = (start[ax], start[ax] + shape[ax]);
            let mut v = Vec::new();
            // From the last input block starting at or before `lo` (the
            // first one for an empty output block) to the first starting at
            // or after `hi`.
            let first = off.partition_point(|&o| o <= lo).saturating_sub(1);
            let first = if lo == hi { 0 } else { first };
            for b in first..input.grid[ax].len() {
                let (bl, bh) = (off[b], off[b + 1]);
                if bl >= hi && !(lo == hi && b == 0) {
                    break;
                }
                let (s, t) = (lo.max(bl), hi.min(bh));
                if s < t || (lo == hi && b == 0) {
                    v.push((
                        u32::try_from(b).expect("block index fits u32"),
                        s - bl..t.max(s) - bl,
                        s - lo,
                    ));
                }
            }
            per_axis.push(v);
        }
        let counts: Vec<Vec<usize>> = per_axis.iter().map(|v| vec![0; v.len()]).collect();
        let combos = crate::expr::grid::block_indices(&counts);
        if combos.len() == 1 {
            let c = &combos[0];
            let in_idx: Vec<u32> = per_axis
                .iter()
                .zip(c)
                .map(|(v, &k)| v[k as usize].0)
                .collect();
            let whole =
                per_axis.iter().zip(c).enumerate().all(|(ax, (v, &k))| {
                    v[k as usize].1 == (0..input.grid[ax][in_idx[ax] as usize])
                });
            if whole {
                return self.block(input, &in_idx);
            }
        }
        let in_offs = self.grid_offsets(input);
        let mut sources = Vec::with_capacity(combos.len());
        let mut pieces = Vec::with_capacity(combos.len());
        for c in combos {
            let in_idx: Vec<u32> = per_axis
                .iter()
                .zip(&c)
                .map(|(v, &k)| v[k as usize].0)
                .collect();
            pieces.push(Piece {
                src: per_axis
                    .iter()
                    .zip(&c)
                    .map(|(v, &k)| v[k as usize].1.clone())
                    .collect(),
                dst: per_axis
                    .iter()
                    .zip(&c)
                    .map(|(v, &k)| v[k as usize].2)
                    .collect(),
            });
            sources.push(in_idx);
        }
        // The pieces of a step-1 slice are read from the blocks of the node
        // below, without a slice task (and its copy) per piece: if every piece
        // lies in a block of its own there.
        let mut below = Vec::new();
        if matches!(input.kind, ExprKind::Slice { .. }) {
            for (in_idx, p) in sources.iter().zip(&pieces) {
                let origin = in_offs.block(in_idx);
                let start = origin
                    .iter()
                    .zip(&p.src)
                    .map(|(o, r)| o + r.start)
                    .collect();
                let len: Vec<usize> = p.src.iter().map(|r| r.end - r.start).collect();
                match self.region_of(input, start, len.clone()) {
                    Some((base, bidx, w))
                        if !below.iter().any(|(_, b, _): &(_, Vec<u32>, _)| *b == bidx) =>
                    {
                        let from = w.map_or_else(|| vec![0; len.len()], |w| w.origin);
                        let src = from.iter().zip(&len).map(|(&f, &n)| f..f + n).collect();
                        below.push((base, bidx, src));
                    }
                    _ => {
                        below.clear();
                        break;
                    }
                }
            }
        }
        let mut inputs = Vec::with_capacity(pieces.len());
        if below.len() == pieces.len() {
            for (p, (base, bidx, src)) in pieces.iter_mut().zip(below) {
                inputs.push(self.block(&base, &bidx)?);
                p.src = src;
            }
        } else {
            for in_idx in &sources {
                inputs.push(self.block(input, in_idx)?);
            }
        }
        Ok(self.push_leafish(
            key,
            Op::Assemble {
                shape,
                dtype: e.dtype,
                pieces,
            },
            inputs,
            bytes(e, idx),
        ))
    }

    pub(crate) fn transpose_block(
        &mut self,
        e: &Arc<Expr>,
        input: &Arc<Expr>,
        perm: &[usize],
        idx: &[u32],
        key: ChunkKey,
    ) -> Result<TaskId> {
        let mut in_idx = vec![0u32; perm.len()];
        for (out_ax, &p) in perm.iter().enumerate() {
            in_idx[p] = idx[out_ax];
        }
        let src = self.block(input, &in_idx)?;
        Ok(self.push_leafish(
            key,
            Op::Transpose {
                perm: perm.to_vec(),
            },
            vec![src],
            bytes(e, idx),
        ))
    }

    pub(crate) fn concat_block(
        &mut self,
        _e: &Arc<Expr>,
        inputs: &[Arc<Expr>],
        axis: usize,
        idx: &[u32],
    ) -> Result<TaskId> {
        let mut b = idx[axis] as usize;
        for input in inputs {
            let n = input.grid[axis].len();
            if b < n {
                let mut in_idx = idx.to_vec();
                in_idx[axis] = u32::try_from(b).expect("block index fits u32");
                return self.block(input, &in_idx);
            }
            b -= n;
        }
        unreachable!("concatenate block index within the inputs' blocks")
    }
}
