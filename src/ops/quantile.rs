//! Lowering of quantiles. Along one axis: each output block's lanes (the
//! input's column of blocks along the axis) are assembled whole, in bands of
//! lanes small enough for the executor's memory budget (sliced out of the
//! input blocks first when the band must be cut), and each band's quantiles
//! are selected lane by lane; the band results are assembled into the block.
//! Over all axes: a radix selection of a fixed number of passes, each a
//! per-block count of key digits (tree-summed in block order) and a one-task
//! refinement of the ranks' key prefixes, then the values. The array is read
//! once per pass and never gathered.

use crate::error::{Error, Result};
use crate::expr::grid::{block_indices, block_shape, offsets};
use crate::expr::node::{Expr, ExprKind};
use crate::expr::{CustomLower, LowerCtx};
use crate::graph::{stage, AxisTake, ChunkKey, Op, Piece, TaskId};
use darray_kernels::quantile::{radix_rows, radix_state_len, QuantileSpec, RADIX_COLUMNS};
use darray_kernels::DType;
use std::sync::Arc;

#[derive(Debug)]
struct AxisQuantile {
    input: Arc<Expr>,
    axis: usize,
    spec: QuantileSpec,
}

/// Bytes one lane-selection task holds for `lanes` lanes of `lane` bytes
/// (the band assembled from its pieces, or the band, a scratch lane and the
/// output of `out_per_lane` bytes per lane), the larger of the two.
fn band_mem(lanes: u64, lane: u64, out_per_lane: u64) -> u64 {
    (2 * lanes * lane).max(lanes * lane + lane + lanes * out_per_lane)
}

impl AxisQuantile {
    fn key(e: &Expr, stage: u8, idx: &[u32], more: &[u32]) -> ChunkKey {
        let mut block = idx.to_vec();
        block.extend_from_slice(more);
        ChunkKey {
            array: e.id,
            stage,
            block,
        }
    }

    /// The block of the input at `other` (block indices of the other axes)
    /// and `b` along the axis.
    fn in_idx(&self, other: &[u32], b: usize) -> Vec<u32> {
        let mut v = other.to_vec();
        v.insert(self.axis, u32::try_from(b).expect("block index fits u32"));
        v
    }
}

impl CustomLower for AxisQuantile {
    fn block(&self, l: &mut dyn LowerCtx, e: &Arc<Expr>, idx: &[u32]) -> Result<TaskId> {
        let (input, ax) = (&self.input, self.axis);
        let lead = usize::from(self.spec.q_axis);
        let other = &idx[lead..];
        let out_shape = block_shape(&e.grid, idx);
        let ext = &out_shape[lead..];
        let n = input.shape[ax];
        let lane = (n * input.dtype.size()) as u64;
        let out_per_lane = (self.spec.q.len() * e.dtype.size()) as u64;
        let budget = l.memory_budget();
        let one = band_mem(1, lane, out_per_lane);
        if one > budget {
            return Err(Error::LaneTooLarge {
                array: input.name.clone(),
                axis: ax,
                bytes: lane,
                needed: one,
                budget,
            });
        }
        // A band takes at most a quarter of the budget (room for other tasks
        // in flight) and about two input blocks or 64 MiB, whichever is more,
        // so a long axis still gives several bands to run in parallel.
        let largest_block = input
            .grid
            .iter()
            .map(|g| g.iter().copied().max().unwrap_or(0) as u64)
            .product::<u64>()
            * input.dtype.size() as u64;
        let target = (budget / 4).min((2 * largest_block).max(64 << 20)).max(one);
        let per = (target / (2 * lane + out_per_lane).max(1)).max(1);
        let lanes: u64 = ext.iter().product::<usize>() as u64;
        let nb = input.grid[ax].len();
        let starts = offsets(&input.grid[ax]);
        let out_bytes = e.block_bytes(idx);
        let op = Op::QuantileLanes {
            axis: ax,
            spec: self.spec.clone(),
        };
        if lanes <= per {
            let band = if nb == 1 {
                l.block(input, &self.in_idx(other, 0))?
            } else {
                let mut shape = ext.to_vec();
                shape.insert(ax, n);
                let mut inputs = Vec::with_capacity(nb);
                let mut pieces = Vec::with_capacity(nb);
                for (b, &at) in starts.iter().take(nb).enumerate() {
                    let bi = self.in_idx(other, b);
                    inputs.push(l.block(input, &bi)?);
                    let mut dst = vec![0; shape.len()];
                    dst[ax] = at;
                    pieces.push(Piece {
                        src: block_shape(&input.grid, &bi)
                            .iter()
                            .map(|&k| 0..k)
                            .collect(),
                        dst,
                    });
                }
                let band_bytes = lanes * lane;
                l.push_task(
                    Self::key(e, stage::QUANTILE_BAND, idx, &[0]),
                    Op::Assemble {
                        shape,
                        dtype: input.dtype,
                        pieces,
                    },
                    inputs,
                    band_bytes,
                    0,
                )
            };
            let key = Self::key(e, stage::BLOCK, idx, &[]);
            return Ok(l.push_task(key, op, vec![band], out_bytes, lane));
        }
        // Cut the block's lanes into tiles of at most `per` lanes, the last
        // axes whole first.
        let mut sub = vec![1usize; ext.len()];
        let mut prod = 1u64;
        for i in (0..ext.len()).rev() {
            let k = (per / prod).max(1).min(ext[i] as u64);
            sub[i] = usize::try_from(k).expect("at most an axis length");
            prod *= k;
        }
        let counts: Vec<Vec<usize>> = ext
            .iter()
            .zip(&sub)
            .map(|(&x, &s)| vec![0; x.div_ceil(s)])
            .collect();
        let mut parts = Vec::new();
        let mut pieces = Vec::new();
        for (ti, t) in block_indices(&counts).iter().enumerate() {
            let ti = u32::try_from(ti).expect("tile index fits u32");
            let start: Vec<usize> = t.iter().zip(&sub).map(|(&k, &s)| k as usize * s).collect();
            let len: Vec<usize> = start
                .iter()
                .zip(&sub)
                .zip(ext)
                .map(|((&o, &s), &x)| s.min(x - o))
                .collect();
            let tile_lanes = len.iter().product::<usize>() as u64;
            let mut slices = Vec::with_capacity(nb);
            let mut band_pieces = Vec::with_capacity(nb);
            let mut band_shape = len.clone();
            band_shape.insert(ax, n);
            for (b, &at) in starts.iter().take(nb).enumerate() {
                let bi = self.in_idx(other, b);
                let blk = l.block(input, &bi)?;
                let mut take: Vec<AxisTake> = start
                    .iter()
                    .zip(&len)
                    .map(|(&o, &k)| AxisTake::Range {
                        start: o,
                        step: 1,
                        len: k,
                    })
                    .collect();
                let m = input.grid[ax][b];
                take.insert(
                    ax,
                    AxisTake::Range {
                        start: 0,
                        step: 1,
                        len: m,
                    },
                );
                let bytes = tile_lanes * (m * input.dtype.size()) as u64;
                let b32 = u32::try_from(b).expect("block index fits u32");
                slices.push(l.push_task(
                    Self::key(e, stage::QUANTILE_SLICE, idx, &[ti, b32]),
                    Op::Slice { take },
                    vec![blk],
                    bytes,
                    0,
                ));
                let mut dst = vec![0; band_shape.len()];
                dst[ax] = at;
                let mut src: Vec<std::ops::Range<usize>> = len.iter().map(|&k| 0..k).collect();
                src.insert(ax, 0..m);
                band_pieces.push(Piece { src, dst });
            }
            let band = if nb == 1 {
                slices[0]
            } else {
                l.push_task(
                    Self::key(e, stage::QUANTILE_BAND, idx, &[ti]),
                    Op::Assemble {
                        shape: band_shape,
                        dtype: input.dtype,
                        pieces: band_pieces,
                    },
                    slices,
                    tile_lanes * lane,
                    0,
                )
            };
            let part_bytes = tile_lanes * out_per_lane;
            parts.push(l.push_task(
                Self::key(e, stage::QUANTILE_LANES, idx, &[ti]),
                op.clone(),
                vec![band],
                part_bytes,
                lane,
            ));
            let mut src: Vec<std::ops::Range<usize>> = len.iter().map(|&k| 0..k).collect();
            let mut dst = start.clone();
            if self.spec.q_axis {
                src.insert(0, 0..self.spec.q.len());
                dst.insert(0, 0);
            }
            pieces.push(Piece { src, dst });
        }
        Ok(l.push_task(
            Self::key(e, stage::BLOCK, idx, &[]),
            Op::Assemble {
                shape: out_shape,
                dtype: e.dtype,
                pieces,
            },
            parts,
            out_bytes,
            0,
        ))
    }
}

/// The quantiles of `input` along `axis` (checked), in `dtype` (the input's
/// float type): a leading axis of the q's if `spec.q_axis`, then the other
/// axes, cut as the input's.
pub(crate) fn axis_quantile(
    input: &Arc<Expr>,
    axis: usize,
    spec: QuantileSpec,
    dtype: DType,
    name: String,
) -> Arc<Expr> {
    let mut shape = input.shape.clone();
    shape.remove(axis);
    let mut grid = input.grid.clone();
    grid.remove(axis);
    if spec.q_axis {
        shape.insert(0, spec.q.len());
        grid.insert(0, vec![spec.q.len()]);
    }
    Expr::new(
        name,
        shape,
        grid,
        dtype,
        ExprKind::Custom(Arc::new(AxisQuantile {
            input: input.clone(),
            axis,
            spec,
        })),
    )
}

#[derive(Debug)]
struct RadixCounts {
    input: Arc<Expr>,
    state: Option<Arc<Expr>>,
    pass: usize,
    /// The input's block indices in C order: row `b` is block `blocks[b]`.
    blocks: Vec<Vec<u32>>,
}

impl CustomLower for RadixCounts {
    fn block(&self, l: &mut dyn LowerCtx, e: &Arc<Expr>, idx: &[u32]) -> Result<TaskId> {
        // The state first: the executor's depth-first priorities then finish
        // the previous pass before this pass's reads.
        let mut inputs = Vec::with_capacity(2);
        if let Some(s) = &self.state {
            inputs.push(l.block(s, &[0])?);
        }
        inputs.push(l.block(&self.input, &self.blocks[idx[0] as usize])?);
        let out = e.block_bytes(idx);
        Ok(l.push_task(
            ChunkKey {
                array: e.id,
                stage: stage::BLOCK,
                block: idx.to_vec(),
            },
            Op::QuantileCounts { pass: self.pass },
            inputs,
            out,
            out,
        ))
    }
}

/// The `[blocks, rows, RADIX_COLUMNS]` `i64` digit counts of radix pass
/// `pass` over every block of `input`, given the state after the previous
/// pass (none for pass 0); the caller sums axis 0.
pub(crate) fn radix_counts(
    input: &Arc<Expr>,
    state: Option<Arc<Expr>>,
    pass: usize,
    nq: usize,
) -> Arc<Expr> {
    let blocks = block_indices(&input.grid);
    let rows = radix_rows(pass, nq);
    Expr::new(
        format!("{}-quantile-counts{pass}", input.name),
        vec![blocks.len(), rows, RADIX_COLUMNS],
        vec![vec![1; blocks.len()], vec![rows], vec![RADIX_COLUMNS]],
        DType::I64,
        ExprKind::Custom(Arc::new(RadixCounts {
            input: input.clone(),
            state,
            pass,
            blocks,
        })),
    )
}

#[derive(Debug)]
struct RadixStep {
    /// `[counts, state]` (refine) or `[state]` (finish).
    inputs: Vec<Arc<Expr>>,
    op: Op,
}

impl CustomLower for RadixStep {
    fn block(&self, l: &mut dyn LowerCtx, e: &Arc<Expr>, idx: &[u32]) -> Result<TaskId> {
        let inputs = self
            .inputs
            .iter()
            .map(|x| l.block(x, &vec![0; x.shape.len()]))
            .collect::<Result<Vec<_>>>()?;
        Ok(l.push_task(
            ChunkKey {
                array: e.id,
                stage: stage::BLOCK,
                block: idx.to_vec(),
            },
            self.op.clone(),
            inputs,
            e.block_bytes(idx),
            0,
        ))
    }
}

/// The radix state (a 1-d `u64` block) after pass `pass`, from the summed
/// counts (`[rows, RADIX_COLUMNS]`, one block) and the previous state.
pub(crate) fn radix_refine(
    counts: &Arc<Expr>,
    state: Option<Arc<Expr>>,
    pass: usize,
    dtype: DType,
    spec: &QuantileSpec,
) -> Arc<Expr> {
    let len = radix_state_len(spec.q.len());
    let mut inputs = vec![counts.clone()];
    inputs.extend(state);
    Expr::new(
        format!("{}-quantile-state{pass}", counts.name),
        vec![len],
        vec![vec![len]],
        DType::U64,
        ExprKind::Custom(Arc::new(RadixStep {
            inputs,
            op: Op::QuantileRefine {
                pass,
                dtype,
                spec: spec.clone(),
            },
        })),
    )
}

/// The quantiles (in `out`, the input's float type) from the last state.
pub(crate) fn radix_finish(
    state: &Arc<Expr>,
    dtype: DType,
    out: DType,
    spec: &QuantileSpec,
    name: String,
) -> Arc<Expr> {
    let (shape, grid) = if spec.q_axis {
        (vec![spec.q.len()], vec![vec![spec.q.len()]])
    } else {
        (vec![], vec![])
    };
    Expr::new(
        name,
        shape,
        grid,
        out,
        ExprKind::Custom(Arc::new(RadixStep {
            inputs: vec![state.clone()],
            op: Op::QuantileFinish {
                dtype,
                spec: spec.clone(),
            },
        })),
    )
}
