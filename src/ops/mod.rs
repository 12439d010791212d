//! Lowering: turns the blocks of lazy expressions into a task [`Graph`], one task
//! per output block. Lowering is demand-driven (only the blocks asked for, and
//! the blocks they need, become tasks: culling by construction) and fuses as it
//! goes (a chain of elementwise nodes becomes one `Fused` task, or folds into the
//! first stage of the reduction it feeds). Per family: `elementwise` (fusion),
//! `reduction` (trees), `layout` (slice, rechunk, transpose, concatenate).

pub(crate) mod blockwise;
pub(crate) mod counting;
pub(crate) mod create_more;
mod elementwise;
pub(crate) mod groupby;
pub(crate) mod histogram;
mod layout;
mod overlap;
pub(crate) mod quantile;
mod reduction;
pub(crate) mod reshape;
pub(crate) mod scan;
pub(crate) mod search;
pub(crate) mod vindex;
pub(crate) mod write;

use crate::error::{Error, Result};
use crate::expr::grid::{block_indices, block_shape, numblocks, GridOffsets};
use crate::expr::node::{Expr, ExprKind};
use crate::expr::select::Run;
use crate::expr::LowerCtx;
use crate::graph::{stage, ArrayId, ChunkKey, Graph, Op, Task, TaskId};
use darray_kernels::sort::SortKind;
use std::collections::HashMap;
use std::ops::Range;
use std::sync::Arc;

/// Builds a graph block by block, memoizing each (array, stage, block) task.
/// Per-array tables that every block needs (block starts, a slice's runs) are
/// computed once per array, so lowering stays linear in the number of blocks.
pub(crate) struct Lowerer {
    pub graph: Graph,
    memo: HashMap<ChunkKey, TaskId>,
    offsets: HashMap<ArrayId, Arc<GridOffsets>>,
    runs: HashMap<(ArrayId, usize), Arc<[Run]>>,
    /// The memory budget of the executor that will run the graph (see
    /// [`LowerCtx::memory_budget`]).
    budget: u64,
}

impl Lowerer {
    /// A lowerer for a graph to run on an executor with `budget` bytes.
    pub(crate) fn new(budget: u64) -> Self {
        Lowerer {
            graph: Graph::default(),
            memo: HashMap::new(),
            offsets: HashMap::new(),
            runs: HashMap::new(),
            budget,
        }
    }

    /// The block starts of `e`'s grid (computed once per array).
    pub(crate) fn grid_offsets(&mut self, e: &Expr) -> Arc<GridOffsets> {
        self.offsets
            .entry(e.id)
            .or_insert_with(|| Arc::new(GridOffsets::new(&e.grid)))
            .clone()
    }

    /// The runs (see [`crate::expr::select::runs`]) of `e`'s selection along
    /// its input axis `in_ax`, computed once per array and axis by `make`.
    pub(crate) fn slice_runs(
        &mut self,
        e: &Expr,
        in_ax: usize,
        make: impl FnOnce() -> Vec<Run>,
    ) -> Arc<[Run]> {
        self.runs
            .entry((e.id, in_ax))
            .or_insert_with(|| make().into())
            .clone()
    }

    /// Refuses to lower `tasks` more tasks for `e` if the graph would then hold
    /// more than [`MAX_GRAPH_TASKS`]: called before a list of that many block
    /// indices is made, so an array of 10^8 blocks fails here, in microseconds,
    /// instead of exhausting memory on its tasks.
    pub(crate) fn reserve_tasks(&self, e: &Expr, tasks: u64) -> Result<()> {
        let total = tasks.saturating_add(self.graph.len() as u64);
        if total > MAX_GRAPH_TASKS {
            return Err(Error::TooManyTasks {
                array: e.name.clone(),
                tasks: total,
                limit: MAX_GRAPH_TASKS,
            });
        }
        Ok(())
    }

    /// Tasks for every block of `e`, in C order of its grid.
    pub(crate) fn all_blocks(&mut self, e: &Arc<Expr>) -> Result<Vec<TaskId>> {
        // A reduction's blocks each need a partial per input block along the
        // reduced axes: counted here, so a reduction over 10^8 blocks fails before
        // the first of its output blocks is lowered.
        let mut per_block = 1u64;
        if let ExprKind::Reduce { axes, input, .. } = &e.kind {
            let nb = numblocks(&input.grid);
            per_block = axes
                .iter()
                .fold(1u64, |acc, &a| acc.saturating_mul(nb[a] as u64));
        }
        self.reserve_tasks(e, block_count(&e.grid).saturating_mul(per_block))?;
        block_indices(&e.grid)
            .iter()
            .map(|idx| self.block(e, idx))
            .collect()
    }

    /// The task computing block `idx` of `e`.
    pub(crate) fn block(&mut self, e: &Arc<Expr>, idx: &[u32]) -> Result<TaskId> {
        let key = ChunkKey {
            array: e.id,
            stage: stage::BLOCK,
            block: idx.to_vec(),
        };
        if let Some(&t) = self.memo.get(&key) {
            return Ok(t);
        }
        // Every path that makes tasks passes here, so the graph stops at the
        // limit even where no count was reserved up front.
        self.reserve_tasks(e, 1)?;
        self.graph
            .names
            .entry(e.id.0)
            .or_insert_with(|| e.name.clone());
        let t = match &e.kind {
            ExprKind::Concatenate { inputs, axis } => {
                return self.concat_block(e, inputs, *axis, idx)
            }
            ExprKind::Elementwise { .. } | ExprKind::Full { .. } => {
                self.fused_block(e, idx, key.clone())?
            }
            ExprKind::Reduce {
                kind,
                axes,
                keepdims,
                split_every,
                input,
            } => {
                // One partial per input block along the reduced axes, listed
                // before they are made.
                let nb = numblocks(&input.grid);
                let partials = axes
                    .iter()
                    .fold(1u64, |acc, &a| acc.saturating_mul(nb[a] as u64));
                self.reserve_tasks(input, partials)?;
                self.reduce_block(e, *kind, axes, *keepdims, *split_every, input, idx)?
            }
            ExprKind::Slice { input, sel } => self.slice_block(e, input, sel, idx, key.clone())?,
            ExprKind::Rechunk { input } => self.rechunk_block(e, input, idx, key.clone())?,
            ExprKind::Transpose { input, perm } => {
                self.transpose_block(e, input, perm, idx, key.clone())?
            }
            ExprKind::MapBlocks {
                kernel,
                inputs,
                params,
                axis_map,
            } => {
                let in_idx: Vec<u32> = match axis_map {
                    None => idx.to_vec(),
                    Some(m) => m.iter().map(|o| o.map_or(0, |o| idx[o])).collect(),
                };
                let ins = inputs
                    .iter()
                    .map(|i| self.block(i, &in_idx))
                    .collect::<Result<Vec<_>>>()?;
                let shape = block_shape(&e.grid, idx);
                let call = match params {
                    None => None,
                    Some(p) => {
                        let location = self
                            .grid_offsets(e)
                            .block(idx)
                            .into_iter()
                            .zip(&shape)
                            .map(|(start, &len)| start..start + len)
                            .collect();
                        Some(Arc::new(crate::graph::KernelCall {
                            params: p.clone(),
                            info: crate::graph::BlockInfo {
                                chunk_location: idx.iter().map(|&b| b as usize).collect(),
                                array_location: location,
                                shape: e.shape.clone(),
                                num_chunks: e.grid.iter().map(Vec::len).collect(),
                            },
                        }))
                    }
                };
                self.push_leafish(
                    key.clone(),
                    Op::MapBlocks {
                        kernel: kernel.clone(),
                        dtype: e.dtype,
                        shape,
                        call,
                    },
                    ins,
                    bytes(e, idx),
                )
            }
            ExprKind::Overlap {
                input,
                boundary,
                halos,
            } => self.overlap_block(e, input, *boundary, halos, idx, key.clone())?,
            ExprKind::Trim { input, halos } => {
                self.trim_block(e, input, halos, idx, key.clone())?
            }
            ExprKind::Stencil {
                input,
                op,
                halos,
                cval,
            } => self.stencil_block(e, input, op, halos, *cval, idx, key.clone())?,
            ExprKind::OIndex { input, index } => {
                self.oindex_block(e, input, index, idx, key.clone())?
            }
            ExprKind::Extract {
                mask,
                values,
                what,
                bands,
            } => self.extract_block(e, mask, values.as_ref(), *what, bands, idx, key.clone())?,
            ExprKind::IsIn { input, values } => {
                let src = self.block(input, idx)?;
                self.push_leafish(
                    key.clone(),
                    Op::IsIn {
                        values: values.to_vec(),
                    },
                    vec![src],
                    bytes(e, idx),
                )
            }
            ExprKind::Sort { input, axis, kind } => {
                let src = self.block(input, idx)?;
                let len = input.grid[*axis][idx[*axis] as usize];
                let start = self.grid_offsets(input).axis(*axis)[idx[*axis] as usize];
                let clamp = |k: i64| k.signum() * k.unsigned_abs().min(len as u64) as i64;
                let kind = match *kind {
                    SortKind::Sort => SortKind::Sort,
                    SortKind::ArgSort => SortKind::ArgSort,
                    SortKind::TopK(k) => SortKind::TopK(clamp(k)),
                    SortKind::ArgTopK(k, off) => SortKind::ArgTopK(clamp(k), off + start as u64),
                };
                // A lane sort holds its positions besides its input and output.
                let out = bytes(e, idx);
                LowerCtx::push_task(
                    self,
                    key.clone(),
                    Op::Sort { axis: *axis, kind },
                    vec![src],
                    out,
                    out,
                )
            }
            ExprKind::Reshape { input } => self.reshape_block(e, input, idx, key.clone())?,
            ExprKind::Custom(c) => c.clone().block(self, e, idx)?,
            ExprKind::Zarr { path } => self.source_block(e, idx, key.clone(), |block, out| {
                let op = Op::ReadZarr {
                    path: path.display().to_string(),
                    region: block.region(),
                    dtype: e.dtype,
                };
                // Decoded block plus the encoded bytes (at most about as large).
                (op, 2 * out)
            }),
            ExprKind::Literal { blocks } => {
                let flat = flat_index(&numblocks(&e.grid), idx);
                let op = Op::Literal {
                    data: blocks[flat].clone(),
                };
                self.source_block(e, idx, key.clone(), |_, out| (op, out))
            }
            ExprKind::Arange { start, step } => {
                self.source_block(e, idx, key.clone(), |block, out| {
                    let op = Op::Arange {
                        start: *start,
                        step: *step,
                        offset: block.offset[0],
                        len: block.shape[0],
                        dtype: e.dtype,
                    };
                    (op, out)
                })
            }
            ExprKind::Eye { k } => self.source_block(e, idx, key.clone(), |block, out| {
                let op = Op::Eye {
                    k: *k,
                    offset: [block.offset[0], block.offset[1]],
                    shape: [block.shape[0], block.shape[1]],
                    dtype: e.dtype,
                };
                (op, out)
            }),
            ExprKind::Random { dist, seed } => {
                self.source_block(e, idx, key.clone(), |block, out| {
                    let op = Op::Random {
                        dist: *dist,
                        seed: *seed,
                        dtype: e.dtype,
                        global_shape: e.shape.clone(),
                        offset: block.offset,
                        shape: block.shape,
                    };
                    (op, out)
                })
            }
        };
        self.memo.insert(key, t);
        Ok(t)
    }

    /// A task whose memory is its inputs plus its output.
    fn push_leafish(
        &mut self,
        key: ChunkKey,
        op: Op,
        inputs: Vec<TaskId>,
        out_bytes: u64,
    ) -> TaskId {
        let in_bytes: u64 = inputs.iter().map(|&i| self.graph.task(i).out_bytes).sum();
        self.graph.push(Task {
            key,
            op,
            inputs,
            mem_bytes: in_bytes + out_bytes,
            out_bytes,
        })
    }

    /// A task with no inputs for block `idx` of a source node: `make` gets the
    /// block's place and bytes, and returns the op and the task's memory.
    fn source_block(
        &mut self,
        e: &Arc<Expr>,
        idx: &[u32],
        key: ChunkKey,
        make: impl FnOnce(BlockPlace, u64) -> (Op, u64),
    ) -> TaskId {
        let place = BlockPlace {
            offset: self.grid_offsets(e).block(idx),
            shape: block_shape(&e.grid, idx),
        };
        let out = bytes(e, idx);
        let (op, mem) = make(place, out);
        self.graph.push(Task {
            key,
            op,
            inputs: vec![],
            mem_bytes: mem,
            out_bytes: out,
        })
    }
}

/// Where a block sits in its array.
struct BlockPlace {
    offset: Vec<usize>,
    shape: Vec<usize>,
}

impl BlockPlace {
    /// The block's elements, per axis.
    fn region(&self) -> Vec<Range<u64>> {
        self.offset
            .iter()
            .zip(&self.shape)
            .map(|(&o, &s)| o as u64..(o + s) as u64)
            .collect()
    }
}

/// Bytes of block `idx` of `e`.
pub(crate) fn bytes(e: &Expr, idx: &[u32]) -> u64 {
    e.block_bytes(idx)
}

impl LowerCtx for Lowerer {
    fn block(&mut self, e: &Arc<Expr>, idx: &[u32]) -> Result<TaskId> {
        Lowerer::block(self, e, idx)
    }

    fn memoized(&self, key: &ChunkKey) -> Option<TaskId> {
        self.memo.get(key).copied()
    }

    fn memoize(&mut self, key: ChunkKey, t: TaskId) {
        self.memo.insert(key, t);
    }

    fn push_task(
        &mut self,
        key: ChunkKey,
        op: Op,
        inputs: Vec<TaskId>,
        out_bytes: u64,
        scratch: u64,
    ) -> TaskId {
        let in_bytes: u64 = inputs.iter().map(|&i| self.graph.task(i).out_bytes).sum();
        self.graph.push(Task {
            key,
            op,
            inputs,
            mem_bytes: in_bytes + out_bytes + scratch,
            out_bytes,
        })
    }

    fn out_bytes(&self, t: TaskId) -> u64 {
        self.graph.task(t).out_bytes
    }

    fn memory_budget(&self) -> u64 {
        self.budget
    }

    fn set_name(&mut self, id: ArrayId, name: &str) {
        self.graph
            .names
            .entry(id.0)
            .or_insert_with(|| name.to_string());
    }

    fn grid_offsets(&mut self, e: &Expr) -> Arc<GridOffsets> {
        Lowerer::grid_offsets(self, e)
    }
}

/// Most tasks one graph may hold: 2^22 (4,194,304). A task costs a few hundred bytes
/// while lowering (its key, op, inputs and memo entry), so this bounds a graph at
/// about a gigabyte; an array needing more is refused with
/// [`Error::TooManyTasks`] before its block list is made.
pub(crate) const MAX_GRAPH_TASKS: u64 = 1 << 22;

/// Number of blocks of `grid` (saturating: it is compared against a limit).
pub(crate) fn block_count(grid: &crate::expr::grid::Grid) -> u64 {
    grid.iter()
        .fold(1u64, |acc, g| acc.saturating_mul(g.len() as u64))
}

/// C-order position of a block index.
pub(crate) fn flat_index(numblocks: &[usize], idx: &[u32]) -> usize {
    numblocks
        .iter()
        .zip(idx)
        .fold(0, |acc, (&n, &i)| acc * n + i as usize)
}

/// The graph computing every block of each expression, for an executor with a
/// memory budget of `budget` bytes; outputs in order.
pub(crate) fn lower(exprs: &[&Arc<Expr>], budget: u64) -> Result<Graph> {
    let mut l = Lowerer::new(budget);
    let mut outputs = Vec::new();
    for e in exprs {
        outputs.extend(l.all_blocks(e)?);
    }
    l.graph.outputs = outputs;
    Ok(l.graph)
}
