//! Lowering of grouped reductions (flox's strategies). The output replaces the
//! reduced axis by one entry per group.
//!
//! - map-reduce: the output axis is one block; each input block along the
//!   axis makes a partial with `ngroups` entries, merged in a tree of at most
//!   `split_every` partials per task, in block order, then finalised.
//! - blockwise: when every group lives in one input block along the axis and
//!   the blocks' groups are increasing id ranges, output block `k` holds the
//!   groups of the `k`-th input block that has any, reduced in one task.
//! - cohorts (flox's `method="cohorts"`): the groups are cut into ranges of
//!   consecutive ids whose labels occur in the same set of blocks (a
//!   cohort); output block `k` is cohort `k`'s groups, reduced over only the
//!   blocks that hold them (a tree of partials as wide as the cohort), so a
//!   day-of-year climatology over a time axis chunked by month reads each
//!   month's blocks for that month's days instead of merging 366-wide
//!   partials of every block.
//!
//! Labels are either on the host (a slice, known when the graph is built,
//! which every strategy needs) or a lazy `i64` array whose blocks are inputs
//! of the partial tasks (map-reduce only: the plan of the other strategies
//! depends on the labels' values).

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
    /// Output block `k` is groups `cohorts[k].first..cohorts[k].end` reduced
    /// over `cohorts[k].blocks` only.
    Cohorts {
        /// The cohorts, in group order.
        cohorts: Vec<Cohort>,
        /// Largest number of partials one merge combines.
        split_every: usize,
    },
}

/// Groups `first..end` and the blocks along the axis that hold any of them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Cohort {
    /// Input blocks along the axis, increasing.
    pub(crate) blocks: Vec<usize>,
    /// First group.
    pub(crate) first: usize,
    /// One past the last group.
    pub(crate) end: usize,
}

/// Where the labels come from.
#[derive(Clone, Debug)]
pub(crate) enum GroupLabels {
    /// Group ids per position (negative: dropped), known now.
    Host(Arc<[i64]>),
    /// A lazy 1-d `i64` array with the reduced axis's grid; label
    /// `groups[k]` is output entry `k`, other labels are dropped.
    Lazy {
        /// The labels.
        labels: Arc<Expr>,
        /// The group values, in output order.
        groups: Arc<[i64]>,
    },
}

/// The cohorts of `labels` over the axis cut into `sizes`: consecutive
/// group ids that occur in exactly the same blocks form one cohort (flox's
/// `find_group_cohorts` groups labels by their block sets too; here a cohort
/// is also a range of ids, so the output axis is cut, not permuted). Ids no
/// block holds join the cohort before them (the first one's, at the start).
/// Without any present label: one cohort of every block.
pub(crate) fn cohorts(labels: &[i64], sizes: &[usize], ngroups: usize) -> Vec<Cohort> {
    let starts = offsets(sizes);
    let mut blocks_of: Vec<Vec<usize>> = vec![Vec::new(); ngroups];
    for (b, (&start, &len)) in starts.iter().zip(sizes).enumerate() {
        for &l in &labels[start..start + len] {
            if let Some(bs) = usize::try_from(l).ok().and_then(|g| blocks_of.get_mut(g)) {
                // Blocks are visited in order, so each list stays sorted.
                if bs.last() != Some(&b) {
                    bs.push(b);
                }
            }
        }
    }
    let mut out: Vec<Cohort> = Vec::new();
    for (g, bs) in blocks_of.into_iter().enumerate() {
        if bs.is_empty() {
            continue;
        }
        match out.last_mut() {
            Some(c) if c.blocks == bs => {}
            _ => out.push(Cohort {
                blocks: bs,
                first: g,
                end: g,
            }),
        }
    }
    if out.is_empty() {
        return vec![Cohort {
            blocks: (0..sizes.len()).collect(),
            first: 0,
            end: ngroups,
        }];
    }
    out[0].first = 0;
    let nexts: Vec<usize> = out[1..].iter().map(|c| c.first).collect();
    for (c, end) in out.iter_mut().zip(nexts.into_iter().chain([ngroups])) {
        c.end = end;
    }
    out
}

/// Whether `cohorts` beat map-reduce over `nblocks` blocks and `ngroups`
/// groups (the rule [`GroupStrategy::Auto`](crate::GroupStrategy::Auto)
/// documents): at least two cohorts, partials at most half as wide in total
/// (`Σ blocks × groups` per cohort against `nblocks × ngroups`), and at most
/// twice as many partial tasks (a block read by several cohorts makes one
/// partial for each).
pub(crate) fn cohorts_pay_off(cohorts: &[Cohort], nblocks: usize, ngroups: usize) -> bool {
    let width: usize = cohorts
        .iter()
        .map(|c| c.blocks.len() * (c.end - c.first))
        .sum();
    let tasks: usize = cohorts.iter().map(|c| c.blocks.len()).sum();
    cohorts.len() >= 2 && 2 * width <= nblocks * ngroups && tasks <= 2 * nblocks
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
    labels: GroupLabels,
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
        let (labels, groups, inputs) = match &self.labels {
            GroupLabels::Host(all) => {
                let start = l.grid_offsets(&self.input).axis(self.axis)[b];
                let len = self.input.grid[self.axis][b];
                let labels: Vec<i64> = all[start..start + len]
                    .iter()
                    .map(|&g| match usize::try_from(g) {
                        Ok(g) if (first..end).contains(&g) => {
                            i64::try_from(g - first).expect("a label")
                        }
                        _ => -1,
                    })
                    .collect();
                (labels, None, vec![src])
            }
            GroupLabels::Lazy { labels, groups } => {
                let by = l.block(labels, &[in_idx[self.axis]])?;
                (Vec::new(), Some(groups[first..end].to_vec()), vec![src, by])
            }
        };
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
                groups,
            },
            inputs,
            out,
            scratch,
        ))
    }

    /// Output block `idx`: groups `first..end` reduced over the input blocks
    /// `blocks` along the axis, as partials merged in a tree of at most
    /// `split_every` per task, in block order. `sub(stage, k)` keys the tree's
    /// `k`-th task of a stage.
    #[allow(clippy::too_many_arguments)]
    fn tree(
        &self,
        l: &mut dyn LowerCtx,
        e: &Arc<Expr>,
        idx: &[u32],
        blocks: &[usize],
        (first, end): (usize, usize),
        split_every: usize,
        sub: &dyn Fn(u8, usize) -> ChunkKey,
    ) -> Result<TaskId> {
        let out_key = ChunkKey {
            array: e.id,
            stage: stage::BLOCK,
            block: idx.to_vec(),
        };
        let in_idx = |b: usize| {
            let mut in_idx = idx.to_vec();
            in_idx[self.axis] = u32::try_from(b).expect("block index fits u32");
            in_idx
        };
        if let [b] = blocks {
            return self.partial_task(l, e, &in_idx(*b), first, end, out_key, true);
        }
        let mut level = Vec::with_capacity(blocks.len());
        for &b in blocks {
            let key = sub(stage::PARTIAL, b);
            level.push(self.partial_task(l, e, &in_idx(b), first, end, key, false)?);
        }
        let mut merge_stage = stage::MERGE_FIRST;
        loop {
            let last = level.len() <= split_every;
            let mut next = Vec::new();
            for (k, group) in level.chunks(split_every).enumerate() {
                let part = l.out_bytes(group[0]);
                let (key, out) = if last {
                    (out_key.clone(), e.block_bytes(idx))
                } else {
                    (sub(merge_stage, k), part)
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

impl CustomLower for GroupReduce {
    fn block(&self, l: &mut dyn LowerCtx, e: &Arc<Expr>, idx: &[u32]) -> Result<TaskId> {
        let ax = self.axis;
        // An input block may serve several output blocks: the keys of a
        // tree's tasks extend the output block's index, so they stay distinct.
        let extended = |stage: u8, k: usize| {
            let mut block = idx.to_vec();
            block.push(u32::try_from(k).expect("block index fits u32"));
            ChunkKey {
                array: e.id,
                stage,
                block,
            }
        };
        match &self.plan {
            GroupPlan::Blockwise { ranges } => {
                let (b, first, end) = ranges[idx[ax] as usize];
                self.tree(l, e, idx, &[b], (first, end), 2, &extended)
            }
            GroupPlan::MapReduce { split_every } => {
                let blocks: Vec<usize> = (0..self.input.grid[ax].len()).collect();
                // The output axis is one block, so the tree's keys replace
                // its index along the axis.
                let sub = |stage: u8, k: usize| {
                    let mut block = idx.to_vec();
                    block[ax] = u32::try_from(k).expect("block index fits u32");
                    ChunkKey {
                        array: e.id,
                        stage,
                        block,
                    }
                };
                self.tree(l, e, idx, &blocks, (0, self.ngroups), *split_every, &sub)
            }
            GroupPlan::Cohorts {
                cohorts,
                split_every,
            } => {
                let c = &cohorts[idx[ax] as usize];
                self.tree(
                    l,
                    e,
                    idx,
                    &c.blocks,
                    (c.first, c.end),
                    *split_every,
                    &extended,
                )
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
    labels: GroupLabels,
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
        GroupPlan::Cohorts { cohorts, .. } => cohorts.iter().map(|c| c.end - c.first).collect(),
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
    use super::{blockwise_ranges, cohorts, cohorts_pay_off, Cohort};

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

    fn c(blocks: &[usize], first: usize, end: usize) -> Cohort {
        Cohort {
            blocks: blocks.to_vec(),
            first,
            end,
        }
    }

    #[test]
    fn cohorts_are_id_ranges_with_one_block_set() {
        // A cycle of 4 labels over blocks of 2: {0,1} in blocks 0 and 2,
        // {2,3} in blocks 1 and 3.
        let l = [0, 1, 2, 3, 0, 1, 2, 3];
        let got = cohorts(&l, &[2, 2, 2, 2], 4);
        assert_eq!(got, vec![c(&[0, 2], 0, 2), c(&[1, 3], 2, 4)]);
        assert!(cohorts_pay_off(&got, 4, 4));
        // Every label in every block: one cohort, map-reduce.
        let got = cohorts(&l, &[4, 4], 4);
        assert_eq!(got, vec![c(&[0, 1], 0, 4)]);
        assert!(!cohorts_pay_off(&got, 2, 4));
        // Absent ids join the cohort before; leading ones the first.
        let got = cohorts(&[2, -1, 4, 4], &[2, 2], 6);
        assert_eq!(got, vec![c(&[0], 0, 4), c(&[1], 4, 6)]);
        // No labels at all.
        assert_eq!(cohorts(&[-1, -1], &[1, 1], 2), vec![c(&[0, 1], 0, 2)]);
    }
}
