//! Lowering of halos: a grown block is gathered from the input blocks its range
//! touches (boundary conditions applied by index runs); a trimmed block is a
//! slice of one grown block; a stencil block is a kernel over one grown block.

use super::{bytes, Lowerer};
use crate::error::Result;
use crate::expr::grid::{block_indices, block_shape};
use crate::expr::node::Expr;
use crate::expr::overlap::{axis_runs, AxisHalo, Boundary};
use crate::expr::take::index_runs;
use crate::expr::LowerCtx;
use crate::graph::{AxisTake, ChunkKey, Op, TaskId};
use darray_kernels::stencil::StencilOp;
use darray_kernels::Scalar;
use std::sync::Arc;

impl Lowerer {
    pub(crate) fn overlap_block(
        &mut self,
        e: &Arc<Expr>,
        input: &Arc<Expr>,
        boundary: Boundary,
        halos: &[AxisHalo],
        idx: &[u32],
        key: ChunkKey,
    ) -> Result<TaskId> {
        let offs = self.grid_offsets(input);
        let nd = input.shape.len();
        let mut blocks = Vec::with_capacity(nd);
        let mut runs = Vec::with_capacity(nd);
        for ax in 0..nd {
            let b = idx[ax] as usize;
            let off = offs.axis(ax);
            let (lo, hi) = halos[ax].halo[b];
            let start = off[b] as i64 - lo as i64;
            let end = off[b + 1] as i64 + hi as i64;
            let (bl, r) = axis_runs(off, input.shape[ax], start, end, boundary);
            blocks.push(bl);
            runs.push(r);
        }
        let fill = match boundary {
            Boundary::Constant(v) => Some(Scalar::Float(v)),
            Boundary::None
            | Boundary::Reflect
            | Boundary::Mirror
            | Boundary::Nearest
            | Boundary::Periodic => None,
        };
        self.push_gather(e, input, blocks, runs, fill, idx, key)
    }

    /// The task gathering block `idx` of `e` from `input` by per-axis `runs`
    /// over the input blocks `blocks` (ascending, per axis); the input block
    /// itself when that is all it is.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn push_gather(
        &mut self,
        e: &Arc<Expr>,
        input: &Arc<Expr>,
        blocks: Vec<Vec<u32>>,
        runs: Vec<Vec<darray_kernels::gather::GatherRun>>,
        fill: Option<Scalar>,
        idx: &[u32],
        key: ChunkKey,
    ) -> Result<TaskId> {
        let whole = runs.iter().zip(&blocks).enumerate().all(|(ax, (r, b))| {
            r.len() == 1
                && r[0].step == 1
                && r[0].start == 0
                && r[0].len == input.grid[ax][b[0] as usize]
        });
        if whole {
            let in_idx: Vec<u32> = blocks.iter().map(|b| b[0]).collect();
            return self.block(input, &in_idx);
        }
        let nd = blocks.len();
        let slots: Vec<usize> = blocks.iter().map(Vec::len).collect();
        let counts: Vec<Vec<usize>> = slots.iter().map(|&n| vec![0; n]).collect();
        let mut inputs = Vec::new();
        // Every combination of one touched block per axis, C order (an axis
        // touching no block, all fill, has none: then no inputs at all).
        if slots.iter().all(|&n| n > 0) {
            self.reserve_tasks(e, block_indices(&counts).len() as u64)?;
            for combo in block_indices(&counts) {
                let in_idx: Vec<u32> = combo
                    .iter()
                    .enumerate()
                    .map(|(ax, &k)| blocks[ax][k as usize])
                    .collect();
                inputs.push(self.block(input, &in_idx)?);
            }
        }
        let slots = if inputs.is_empty() {
            vec![0; nd]
        } else {
            slots
        };
        Ok(self.push_leafish(
            key,
            Op::Gather {
                shape: block_shape(&e.grid, idx),
                dtype: e.dtype,
                slots,
                runs,
                fill,
            },
            inputs,
            bytes(e, idx),
        ))
    }

    pub(crate) fn oindex_block(
        &mut self,
        e: &Arc<Expr>,
        input: &Arc<Expr>,
        index: &[Option<Arc<Vec<usize>>>],
        idx: &[u32],
        key: ChunkKey,
    ) -> Result<TaskId> {
        let offs = self.grid_offsets(input);
        let out_offs = self.grid_offsets(e);
        let mut blocks = Vec::with_capacity(index.len());
        let mut runs = Vec::with_capacity(index.len());
        for (ax, sel) in index.iter().enumerate() {
            let b = idx[ax] as usize;
            match sel {
                None => {
                    blocks.push(vec![idx[ax]]);
                    runs.push(vec![darray_kernels::gather::GatherRun {
                        slot: Some(0),
                        start: 0,
                        step: 1,
                        len: input.grid[ax][b],
                        dst: 0,
                    }]);
                }
                Some(list) => {
                    let o = out_offs.axis(ax);
                    let (bl, r) = index_runs(offs.axis(ax), &list[o[b]..o[b + 1]]);
                    blocks.push(bl);
                    runs.push(r);
                }
            }
        }
        self.push_gather(e, input, blocks, runs, None, idx, key)
    }

    pub(crate) fn trim_block(
        &mut self,
        e: &Arc<Expr>,
        input: &Arc<Expr>,
        halos: &[AxisHalo],
        idx: &[u32],
        key: ChunkKey,
    ) -> Result<TaskId> {
        let src = self.block(input, idx)?;
        let shape = block_shape(&e.grid, idx);
        if halos
            .iter()
            .zip(idx)
            .all(|(h, &b)| h.halo[b as usize] == (0, 0))
        {
            return Ok(src);
        }
        let take = halos
            .iter()
            .zip(idx)
            .zip(&shape)
            .map(|((h, &b), &len)| AxisTake::Range {
                start: h.halo[b as usize].0,
                step: 1,
                len,
            })
            .collect();
        Ok(self.push_leafish(key, Op::Slice { take }, vec![src], bytes(e, idx)))
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) fn stencil_block(
        &mut self,
        e: &Arc<Expr>,
        input: &Arc<Expr>,
        op: &StencilOp,
        halos: &[AxisHalo],
        cval: Option<f64>,
        idx: &[u32],
        key: ChunkKey,
    ) -> Result<TaskId> {
        let src = self.block(input, idx)?;
        let out = bytes(e, idx);
        let at = |f: fn(&AxisHalo) -> &Vec<(usize, usize)>| -> Vec<(usize, usize)> {
            halos
                .iter()
                .zip(idx)
                .map(|(h, &b)| f(h)[b as usize])
                .collect()
        };
        let (halo, outside) = (at(|h| &h.halo), at(|h| &h.outside));
        // A separable filter holds a copy of its input and one pass's result.
        let scratch = match op {
            StencilOp::Correlate { .. } => 2 * input.block_bytes(idx),
            StencilOp::Laplace | StencilOp::Gradient { .. } => out,
        };
        Ok(LowerCtx::push_task(
            self,
            key,
            Op::Stencil {
                op: op.clone(),
                halo,
                outside,
                cval,
            },
            vec![src],
            out,
            scratch,
        ))
    }
}

impl Lowerer {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn extract_block(
        &mut self,
        e: &Arc<Expr>,
        mask: &Arc<Expr>,
        values: Option<&Arc<Expr>>,
        what: darray_kernels::select::Extract,
        bands: &[u32],
        idx: &[u32],
        key: ChunkKey,
    ) -> Result<TaskId> {
        let mut band = vec![0u32; mask.shape.len()];
        band[0] = bands[idx[0] as usize];
        let mut inputs = vec![self.block(mask, &band)?];
        if let Some(v) = values {
            inputs.push(self.block(v, &band)?);
        }
        let offset = self.grid_offsets(mask).block(&band);
        Ok(self.push_leafish(
            key,
            Op::Extract {
                what,
                offset,
                global: mask.shape.clone(),
            },
            inputs,
            bytes(e, idx),
        ))
    }
}
