//! Fusion: an elementwise node and every elementwise node beneath it become one
//! program run by one task per output block. Non-elementwise operands become the
//! task's inputs (each block once, however often it is used); constants become
//! immediates.

use super::{bytes, Lowerer};
use crate::error::Result;
use crate::expr::grid::block_shape;
use crate::expr::node::{AxisSel, EwOp, Expr, ExprKind};
use crate::graph::{ArrayId, ChunkKey, InputView, Op, Task, TaskId};
use darray_kernels::elementwise::Window;
use darray_kernels::{DType, ElementwiseProgram, Node};
use std::collections::HashMap;
use std::sync::Arc;

/// A program under construction for one output block.
pub(crate) struct Fusion {
    pub program: ElementwiseProgram,
    /// The task's inputs, each task once.
    pub inputs: Vec<TaskId>,
    /// Per program input, what it reads (see [`Fusion::views`]).
    reads: Vec<InputView>,
    input_of: HashMap<TaskId, u32>,
    slot_of: HashMap<(TaskId, Option<Window>), usize>,
    nodes: HashMap<ArrayId, usize>,
}

impl Fusion {
    fn new() -> Self {
        Fusion {
            program: ElementwiseProgram::default(),
            inputs: Vec::new(),
            reads: Vec::new(),
            input_of: HashMap::new(),
            slot_of: HashMap::new(),
            nodes: HashMap::new(),
        }
    }

    /// The program input reading `window` of task `t`'s block (once per pair).
    fn slot(&mut self, t: TaskId, window: Option<Window>, dtype: DType) -> usize {
        if let Some(&s) = self.slot_of.get(&(t, window.clone())) {
            return s;
        }
        let input = *self.input_of.entry(t).or_insert_with(|| {
            self.inputs.push(t);
            u32::try_from(self.inputs.len() - 1).expect("fewer than 2^32 inputs")
        });
        self.reads.push(InputView {
            input,
            window: window.clone(),
        });
        self.program.inputs.push(dtype);
        let s = self.reads.len() - 1;
        self.slot_of.insert((t, window), s);
        s
    }

    /// The op's `views`: empty when program input `i` is task input `i`, whole.
    pub(crate) fn views(&self) -> Vec<InputView> {
        let plain = self.reads.len() == self.inputs.len()
            && self
                .reads
                .iter()
                .enumerate()
                .all(|(i, r)| r.window.is_none() && r.input as usize == i);
        if plain {
            Vec::new()
        } else {
            self.reads.clone()
        }
    }
}

/// Block index of an operand of shape `arg.shape` for output block `idx` of an
/// array of `out_ndim` dims: aligned on the right, broadcast axes at block 0.
fn operand_index(arg: &Expr, out_shape: &[usize], idx: &[u32]) -> Vec<u32> {
    let n = out_shape.len();
    let k = arg.shape.len();
    (0..k)
        .map(|aax| {
            let ax = aax + n - k;
            if arg.shape[aax] == out_shape[ax] {
                idx[ax]
            } else {
                0
            }
        })
        .collect()
}

impl Lowerer {
    /// Builds the fused program of `e` for block `idx`, with its input tasks.
    pub(crate) fn fuse(&mut self, e: &Arc<Expr>, idx: &[u32]) -> Result<Fusion> {
        let mut f = Fusion::new();
        self.fuse_node(&mut f, e, idx)?;
        Ok(f)
    }

    fn fuse_node(&mut self, f: &mut Fusion, e: &Arc<Expr>, idx: &[u32]) -> Result<usize> {
        if let Some(&n) = f.nodes.get(&e.id) {
            return Ok(n);
        }
        let n = match &e.kind {
            ExprKind::Full { value } => f.program.push(Node::Scalar(*value), e.dtype),
            ExprKind::Elementwise { op, args } => {
                let mut operands = Vec::with_capacity(args.len());
                for a in args {
                    let aidx = operand_index(a, &e.shape, idx);
                    operands.push(self.fuse_node(f, a, &aidx)?);
                }
                let node = match op {
                    EwOp::Unary(u) => Node::Unary(*u, operands[0]),
                    EwOp::Binary(b) => Node::Binary(*b, operands[0], operands[1]),
                    EwOp::Compare(c) => Node::Compare(*c, operands[0], operands[1]),
                    EwOp::Where => Node::Where(operands[0], operands[1], operands[2]),
                    EwOp::Cast => Node::Cast(operands[0]),
                    EwOp::Clip(lo, hi) => Node::Clip(operands[0], *lo, *hi),
                };
                f.program.push(node, e.dtype)
            }
            // Every other node is computed by tasks of its own, whose block
            // becomes an input of the program.
            ExprKind::Zarr { .. }
            | ExprKind::Literal { .. }
            | ExprKind::Arange { .. }
            | ExprKind::Eye { .. }
            | ExprKind::Random { .. }
            | ExprKind::Reduce { .. }
            | ExprKind::Slice { .. }
            | ExprKind::Rechunk { .. }
            | ExprKind::Transpose { .. }
            | ExprKind::Concatenate { .. }
            | ExprKind::MapBlocks { .. }
            | ExprKind::Overlap { .. }
            | ExprKind::Trim { .. }
            | ExprKind::Stencil { .. }
            | ExprKind::OIndex { .. }
            | ExprKind::Extract { .. }
            | ExprKind::Sort { .. }
            | ExprKind::IsIn { .. }
            | ExprKind::Reshape { .. }
            | ExprKind::Custom(_) => {
                let (t, window) = match self.window_of(e, idx)? {
                    Some(tw) => tw,
                    None => (self.block(e, idx)?, None),
                };
                let slot = f.slot(t, window, e.dtype);
                f.program.push(Node::Input(slot), e.dtype)
            }
        };
        f.nodes.insert(e.id, n);
        Ok(n)
    }

    /// Block `idx` of `e` as a region of one block of a node computed by
    /// tasks, seen through step-1 slices (and a rechunk on top): that block's task and
    /// the window (`None`: the whole block). `None` when `e` is not such a
    /// chain, or the region spans several blocks (then `e`'s own tasks
    /// assemble it). Shifted slices of one array read its blocks this way,
    /// without a slice task or a copy.
    fn window_of(
        &mut self,
        e: &Arc<Expr>,
        idx: &[u32],
    ) -> Result<Option<(TaskId, Option<Window>)>> {
        if !matches!(e.kind, ExprKind::Slice { .. } | ExprKind::Rechunk { .. }) {
            return Ok(None);
        }
        let start = self.grid_offsets(e).block(idx);
        let shape = block_shape(&e.grid, idx);
        if shape.contains(&0) {
            return Ok(None);
        }
        // A rechunk (alignment to another operand's grid) is seen through at
        // the top only: below, a rechunk's blocks are its own tasks, so a
        // staged rechunk keeps its stages' memory bound.
        let top = match &e.kind {
            ExprKind::Rechunk { input } => input,
            _ => e,
        };
        Ok(match self.region_of(top, start, shape) {
            Some((base, bidx, window)) => Some((self.block(&base, &bidx)?, window)),
            None => None,
        })
    }

    /// The region `start`, `shape` of `e` as a region of one block of a node
    /// computed by tasks, through step-1 slices: that node, the block's index
    /// and the window (`None`: the whole block). Makes no task, so a caller
    /// that finds no region leaves no unused task behind.
    pub(super) fn region_of(
        &mut self,
        e: &Arc<Expr>,
        start: Vec<usize>,
        shape: Vec<usize>,
    ) -> Option<(Arc<Expr>, Vec<u32>, Option<Window>)> {
        match &e.kind {
            ExprKind::Slice { input, sel } => {
                let mut from = Vec::with_capacity(start.len());
                for (s, &at) in sel.iter().zip(&start) {
                    match *s {
                        AxisSel::Range {
                            start: a, step: 1, ..
                        } => from.push(a + at),
                        AxisSel::Range { .. } | AxisSel::Index(_) | AxisSel::NewAxis => {
                            return None
                        }
                    }
                }
                if sel.len() != input.shape.len() {
                    return None;
                }
                self.region_of(input, from, shape)
            }
            _ if e.is_fusable() => None,
            _ => {
                let offs = self.grid_offsets(e);
                let mut bidx = Vec::with_capacity(start.len());
                let mut origin = Vec::with_capacity(start.len());
                for (ax, (&s, &n)) in start.iter().zip(&shape).enumerate() {
                    let off = offs.axis(ax);
                    let b = off.partition_point(|&o| o <= s) - 1;
                    if b + 1 >= off.len() || s + n > off[b + 1] {
                        return None;
                    }
                    bidx.push(u32::try_from(b).expect("block index fits u32"));
                    origin.push(s - off[b]);
                }
                let whole = origin.iter().all(|&o| o == 0) && shape == block_shape(&e.grid, &bidx);
                Some((
                    e.clone(),
                    bidx,
                    (!whole).then_some(Window { origin, shape }),
                ))
            }
        }
    }

    /// One `Fused` task for block `idx` of an elementwise (or constant) node.
    pub(crate) fn fused_block(
        &mut self,
        e: &Arc<Expr>,
        idx: &[u32],
        key: ChunkKey,
    ) -> Result<TaskId> {
        let f = self.fuse(e, idx)?;
        let shape = block_shape(&e.grid, idx);
        let out = bytes(e, idx);
        let in_bytes: u64 = f.inputs.iter().map(|&i| self.graph.task(i).out_bytes).sum();
        // Tile registers are small and fixed: a few KiB per instruction.
        let scratch = darray_kernels::elementwise::scratch_bytes(&f.program);
        Ok(self.graph.push(Task {
            key,
            op: Op::Fused {
                views: f.views(),
                program: f.program,
                shape,
            },
            inputs: f.inputs,
            mem_bytes: in_bytes + out + scratch,
            out_bytes: out,
        }))
    }
}
