//! Tree reductions: one partial per input block (the elementwise chain feeding
//! it fused in), then merges of at most `split_every` partials, grouped by block
//! coordinates along the reduced axes and folded in block order, so the result
//! does not depend on which task finishes first.

use super::{bytes, Lowerer};
use crate::error::Result;
use crate::expr::grid::{block_shape, numblocks};
use crate::expr::node::Expr;
use crate::graph::{stage, ChunkKey, Op, Task, TaskId};
use darray_kernels::{reduce, ArgContext, ReduceKind};
use std::sync::Arc;

/// Fan-in per reduced axis so that their product is at most `split_every`.
fn group_sizes(dims: &[usize], split_every: usize) -> Vec<usize> {
    let active = dims.iter().filter(|&&d| d > 1).count();
    let mut g = vec![1; dims.len()];
    if active == 0 {
        return g;
    }
    let mut remaining = split_every;
    let mut left = active;
    for (i, &d) in dims.iter().enumerate() {
        if d <= 1 {
            continue;
        }
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss
        )]
        let share = (remaining as f64).powf(1.0 / left as f64).floor() as usize;
        g[i] = share.clamp(1, d);
        remaining /= g[i].max(1);
        left -= 1;
    }
    if g.iter().all(|&x| x == 1) {
        let i = dims.iter().position(|&d| d > 1).expect("an active axis");
        g[i] = dims[i].min(split_every);
    }
    g
}

impl Lowerer {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn reduce_block(
        &mut self,
        e: &Arc<Expr>,
        kind: ReduceKind,
        axes: &[usize],
        keepdims: bool,
        split_every: usize,
        input: &Arc<Expr>,
        idx: &[u32],
    ) -> Result<TaskId> {
        let ndim = input.shape.len();
        let nb = numblocks(&input.grid);
        // Input-grid coordinates of the non-reduced axes.
        let mut base = vec![0u32; ndim];
        let mut it = idx.iter();
        for (ax, b) in base.iter_mut().enumerate() {
            let reduced = axes.contains(&ax);
            if !reduced || keepdims {
                let v = *it.next().expect("output index has an entry per kept axis");
                if !reduced {
                    *b = v;
                }
            }
        }
        let pbytes = |shape: &[usize]| -> u64 {
            let n: usize = shape
                .iter()
                .enumerate()
                .map(|(ax, &s)| if axes.contains(&ax) { 1 } else { s })
                .product();
            reduce::partial_nbytes(kind, input.dtype, n) as u64
        };

        // Stage 1: partials, in C order over the reduced axes.
        let red_dims: Vec<usize> = axes.iter().map(|&a| nb[a]).collect();
        let mut level: Vec<(Vec<u32>, TaskId)> = Vec::new();
        for coords in
            crate::expr::grid::block_indices(&red_dims.iter().map(|&d| vec![0; d]).collect())
        {
            let mut in_idx = base.clone();
            for (k, &a) in axes.iter().enumerate() {
                in_idx[a] = coords[k];
            }
            let arg = kind.is_arg().then(|| ArgContext {
                offset: self.grid_offsets(input).block(&in_idx),
                global_shape: input.shape.clone(),
            });
            let shape = block_shape(&input.grid, &in_idx);
            let (program, reads, inputs) = if input.is_fusable() {
                let f = self.fuse(input, &in_idx)?;
                let reads = f.finish(&shape);
                (Some(f.program), reads, f.inputs)
            } else {
                let reads = super::elementwise::Reads {
                    views: Vec::new(),
                    parts: Vec::new(),
                };
                (None, reads, vec![self.block(input, &in_idx)?])
            };
            let in_bytes: u64 = inputs.iter().map(|&i| self.graph.task(i).out_bytes).sum();
            let out = pbytes(&shape);
            let scratch = if program.is_some() {
                bytes(input, &in_idx)
            } else {
                0
            };
            let t = self.graph.push(Task {
                key: ChunkKey {
                    array: e.id,
                    stage: stage::PARTIAL,
                    block: in_idx.clone(),
                },
                op: Op::PartialReduce {
                    kind,
                    program,
                    views: reads.views,
                    parts: reads.parts,
                    shape,
                    axes: axes.to_vec(),
                    arg,
                },
                inputs,
                mem_bytes: in_bytes + out + scratch,
                out_bytes: out,
            });
            level.push((coords, t));
        }

        // Merge levels until one partial is left; the last merge finalizes.
        let mut dims = red_dims;
        let mut merge_stage = stage::MERGE_FIRST;
        loop {
            let done = dims.iter().all(|&d| d <= 1);
            let g = if done {
                vec![1; dims.len()]
            } else {
                group_sizes(&dims, split_every)
            };
            let new_dims: Vec<usize> = dims
                .iter()
                .zip(&g)
                .map(|(&d, &g)| d.div_ceil(g).max(1))
                .collect();
            let mut groups: Vec<Vec<TaskId>> = vec![Vec::new(); new_dims.iter().product()];
            for (coords, t) in &level {
                let parent: Vec<u32> = coords
                    .iter()
                    .zip(&g)
                    .map(|(&c, &g)| c / u32::try_from(g).expect("fan-in fits u32"))
                    .collect();
                groups[super::flat_index(&new_dims, &parent)].push(*t);
            }
            let last = new_dims.iter().all(|&d| d <= 1);
            let parents =
                crate::expr::grid::block_indices(&new_dims.iter().map(|&d| vec![0; d]).collect());
            let mut next = Vec::new();
            for (pc, inputs) in parents.into_iter().zip(groups) {
                let part_bytes = self.graph.task(inputs[0]).out_bytes;
                let in_bytes: u64 = inputs.iter().map(|&i| self.graph.task(i).out_bytes).sum();
                let (key, finalize, out) = if last {
                    (
                        ChunkKey {
                            array: e.id,
                            stage: stage::BLOCK,
                            block: idx.to_vec(),
                        },
                        Some(keepdims),
                        bytes(e, idx),
                    )
                } else {
                    let mut block = base.clone();
                    for (k, &a) in axes.iter().enumerate() {
                        block[a] = pc[k];
                    }
                    (
                        ChunkKey {
                            array: e.id,
                            stage: merge_stage,
                            block,
                        },
                        None,
                        part_bytes,
                    )
                };
                let t = self.graph.push(Task {
                    key,
                    op: Op::MergeReduce {
                        kind,
                        axes: axes.to_vec(),
                        finalize,
                        input: input.dtype,
                    },
                    inputs,
                    mem_bytes: in_bytes + part_bytes + out,
                    out_bytes: out,
                });
                next.push((pc, t));
            }
            if last {
                return Ok(next[0].1);
            }
            level = next;
            dims = new_dims;
            merge_stage += 1;
            debug_assert!(
                merge_stage <= stage::MERGE_LAST,
                "a tree of fan-in >= 2 over u32 blocks"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::group_sizes;

    #[test]
    fn fan_in_never_exceeds_split_every() {
        for dims in [vec![100], vec![7, 9], vec![3, 3, 3], vec![1, 50]] {
            for se in [2, 3, 4, 16, 32] {
                let g = group_sizes(&dims, se);
                assert!(g.iter().product::<usize>() <= se, "{dims:?} {se} {g:?}");
                assert!(g.iter().zip(&dims).any(|(&g, &d)| g > 1 || d <= 1));
            }
        }
    }
}
