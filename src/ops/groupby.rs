//! Lowering of grouped reductions (flox's strategies). The output replaces the
//! reduced axis by one entry per group.
//!
//! - map-reduce: the output axis is one block; each input block along the
//!   axis makes a partial with `ngroups` entries, merged in a tree of at most
//!   `split_every` partials per task, in block order, then finalised.
//! - blockwise: when every group lives in one input block along the axis and
//!   the blocks' groups are increasing id ranges, output block `k` holds the
//!   groups of the `k`-th input block that has any, reduced in one task.

use crate::error::{Error, Result};
use crate::expr::grid::{block_shape, offsets, Grid};
use crate::expr::node::{Expr, ExprKind};
use crate::expr::{CustomLower, LowerCtx};
use crate::graph::{stage, ChunkKey, Op, TaskId};
use darray_kernels::groupby::GroupKind;
use std::sync::Arc;

/// How a grouped reduction is planned, with its parameters.
#[derive(Clone, Debug)]
pub(crate) enum GroupPlan {
    /// Partials per block, merged in a tree.
    MapReduce {
        /// Largest number of partials one merge combines.
        split_every: usize,
    },
    /// Output block `k` is input block `ranges[k].0` along the axis reduced
    /// alone, holding groups `ranges[k].1..ranges[k].2`.
    Blockwise {
        /// (input block, first group, end group) per output block.
        ranges: Vec<(usize, usize, usize)>,
    },
}

/// The blockwise plan for `labels` over the axis cut into `sizes`, if no
/// group spans two blocks and the blocks' groups increase with the block;
/// `None` also when no block has a group (nothing to cut by).
pub(crate) fn blockwise_ranges(
    labels: &[i64],
    sizes: &[usize],
    ngroups: usize,
) -> Option<Vec<(usize, usize, usize)>> {
    let starts = offsets(sizes);
    // (block, min label, max label) of the blocks that hold any group.
    let mut held = Vec::new();
    for (b, (&start, &len)) in starts.iter().zip(sizes).enumerate() {
        let valid = labels[start..start + len]
            .iter()
            .filter_map(|&l| usize::try_from(l).ok());
        let (lo, hi) = valid.fold((usize::MAX, 0), |(lo, hi), l| (lo.min(l), hi.max(l)));
        if lo != usize::MAX {
            held.push((b, lo, hi));
        }
    }
    if held.is_empty() || held.windows(2).any(|w| w[0].2 >= w[1].1) {
        return None;
    }
    let mut ranges = Vec::with_capacity(held.len());
    for (k, &(b, lo, _)) in held.iter().enumerate() {
        let first = if k == 0 { 0 } else { lo };
        let end = held.get(k + 1).map_or(ngroups, |n| n.1);
        ranges.push((b, first, end));
    }
    Some(ranges)
}

#[derive(Debug)]
struct GroupReduce {
    input: Arc<Expr>,
    kind: GroupKind,
    axis: usize,
    labels: Arc<[i64]>,
    ngroups: usize,
    plan: GroupPlan,
}

impl GroupReduce {
    /// Bytes of the partial of input block `in_idx` with `n` groups.
    fn partial_bytes(&self, in_idx: &[u32], n: usize) -> u64 {
        let mut shape = block_shape(&self.input.grid, in_idx);
        shape[self.axis] = n;
        self.kind
            .partial_nbytes(self.input.dtype, shape.iter().product()) as u64
    }

    /// The task making the partial (finalised when `finalize`) of input block
    /// `in_idx` for groups `first..end`.
    #[allow(clippy::too_many_arguments)]
    fn partial_task(
        &self,
        l: &mut dyn LowerCtx,
        e: &Arc<Expr>,
        in_idx: &[u32],
        first: usize,
        end: usize,
        key: ChunkKey,
        finalize: bool,
    ) -> Result<TaskId> {
        let src = l.block(&self.input, in_idx)?;
        let b = in_idx[self.axis] as usize;
        let start = offsets(&self.input.grid[self.axis])[b];
        let len = self.input.grid[self.axis][b];
        let labels: Vec<i64> = self.labels[start..start + len]
            .iter()
            .map(|&g| match usize::try_from(g) {
                Ok(g) if (first..end).contains(&g) => i64::try_from(g - first).expect("a label"),
                _ => -1,
            })
            .collect();
        let part = self.partial_bytes(in_idx, end - first);
        let budget = l.memory_budget();
        if part > budget {
            return Err(Error::OverBudget {
                key: format!(
                    "`{}` grouped partial of block {in_idx:?} ({} groups)",
                    e.name,
                    end - first
                ),
                bytes: part,
                budget,
            });
        }
        let out = if finalize {
            let mut shape = block_shape(&self.input.grid, in_idx);
            shape[self.axis] = end - first;
            (shape.iter().product::<usize>() * e.dtype.size()) as u64
        } else {
            part
        };
        // The slices of each group are copied out before being reduced, and
        // the per-group pieces are held until concatenated.
        let scratch = self.input.block_bytes(in_idx) + part;
        Ok(l.push_task(
            key,
            Op::GroupPartial {
                kind: self.kind,
                axis: self.axis,
                labels,
                ngroups: end - first,
                finalize: finalize.then_some(self.input.dtype),
            },
            vec![src],
            out,
            scratch,
        ))
    }
}

impl CustomLower for GroupReduce {
    fn block(&self, l: &mut dyn LowerCtx, e: &Arc<Expr>, idx: &[u32]) -> Result<TaskId> {
        let out_key = ChunkKey {
            array: e.id,
            stage: stage::BLOCK,
            block: idx.to_vec(),
        };
        let ax = self.axis;
        match &self.plan {
            GroupPlan::Blockwise { ranges } => {
                let (b, first, end) = ranges[idx[ax] as usize];
                let mut in_idx = idx.to_vec();
                in_idx[ax] = u32::try_from(b).expect("block index fits u32");
                self.partial_task(l, e, &in_idx, first, end, out_key, true)
            }
            GroupPlan::MapReduce { split_every } => {
                let nb = self.input.grid[ax].len();
                if nb == 1 {
                    return self.partial_task(l, e, idx, 0, self.ngroups, out_key, true);
                }
                let mut level = Vec::with_capacity(nb);
                for b in 0..nb {
                    let mut in_idx = idx.to_vec();
                    in_idx[ax] = u32::try_from(b).expect("block index fits u32");
                    let key = ChunkKey {
                        array: e.id,
                        stage: stage::PARTIAL,
                        block: in_idx.clone(),
                    };
                    level.push(self.partial_task(l, e, &in_idx, 0, self.ngroups, key, false)?);
                }
                let mut merge_stage = stage::MERGE_FIRST;
                loop {
                    let last = level.len() <= *split_every;
                    let mut next = Vec::new();
                    for (k, group) in level.chunks(*split_every).enumerate() {
                        let part = l.out_bytes(group[0]);
                        let (key, out) = if last {
                            (out_key.clone(), e.block_bytes(idx))
                        } else {
                            let mut block = idx.to_vec();
                            block[ax] = u32::try_from(k).expect("block index fits u32");
                            let key = ChunkKey {
                                array: e.id,
                                stage: merge_stage,
                                block,
                            };
                            (key, part)
                        };
                        next.push(l.push_task(
                            key,
                            Op::GroupMerge {
                                kind: self.kind,
                                finalize: last.then_some(self.input.dtype),
                            },
                            group.to_vec(),
                            out,
                            part,
                        ));
                    }
                    if last {
                        return Ok(next[0]);
                    }
                    level = next;
                    merge_stage += 1;
                    debug_assert!(merge_stage <= stage::MERGE_LAST, "fan-in >= 2");
                }
            }
        }
    }
}

/// The grouped reduction of `input` along `axis` (labels checked by the
/// caller), planned by `plan`.
pub(crate) fn group_reduce(
    input: &Arc<Expr>,
    kind: GroupKind,
    axis: usize,
    labels: Arc<[i64]>,
    ngroups: usize,
    plan: GroupPlan,
) -> Result<Arc<Expr>> {
    let dtype = kind.result_dtype(input.dtype)?;
    let mut shape = input.shape.clone();
    shape[axis] = ngroups;
    let mut grid: Grid = input.grid.clone();
    grid[axis] = match &plan {
        GroupPlan::MapReduce { .. } => vec![ngroups],
        GroupPlan::Blockwise { ranges } => ranges.iter().map(|&(_, a, b)| b - a).collect(),
    };
    let label = format!("{kind:?}").to_lowercase();
    let label = label.split(' ').next().unwrap_or("reduce").to_string();
    Ok(Expr::new(
        format!("{}-groupby-{label}", input.name),
        shape,
        grid,
        dtype,
        ExprKind::Custom(Arc::new(GroupReduce {
            input: input.clone(),
            kind,
            axis,
            labels,
            ngroups,
            plan,
        })),
    ))
}

#[cfg(test)]
mod tests {
    use super::blockwise_ranges;

    #[test]
    fn blockwise_needs_groups_in_one_block_each() {
        // Sorted labels aligned with the blocks.
        let l = [0, 0, 1, 1, 2, 2];
        assert_eq!(
            blockwise_ranges(&l, &[2, 2, 2], 3),
            Some(vec![(0, 0, 1), (1, 1, 2), (2, 2, 3)])
        );
        // Several groups per block, a dropped block, more groups than labels.
        let l = [0, 1, -1, -1, 3, 3];
        assert_eq!(
            blockwise_ranges(&l, &[2, 2, 2], 5),
            Some(vec![(0, 0, 3), (2, 3, 5)])
        );
        // Group 1 spans two blocks; group ids not increasing.
        assert_eq!(blockwise_ranges(&[0, 1, 1, 2], &[2, 2], 3), None);
        assert_eq!(blockwise_ranges(&[1, 1, 0, 0], &[2, 2], 2), None);
        assert_eq!(blockwise_ranges(&[-1, -1], &[2], 0), None);
    }
}
