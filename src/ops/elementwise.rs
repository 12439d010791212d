//! Fusion: an elementwise node and every elementwise node beneath it become one
//! program run by one task per output block. Non-elementwise operands become the
//! task's inputs (each block once, however often it is used); constants become
//! immediates.

use super::{bytes, Lowerer};
use crate::error::Result;
use crate::expr::grid::block_shape;
use crate::expr::node::{EwOp, Expr, ExprKind};
use crate::graph::{ArrayId, ChunkKey, Op, Task, TaskId};
use darray_kernels::{ElementwiseProgram, Node};
use std::collections::HashMap;
use std::sync::Arc;

/// A program under construction for one output block.
pub(crate) struct Fusion {
    pub program: ElementwiseProgram,
    pub inputs: Vec<TaskId>,
    input_slot: HashMap<TaskId, usize>,
    nodes: HashMap<ArrayId, usize>,
}

impl Fusion {
    fn new() -> Self {
        Fusion {
            program: ElementwiseProgram::default(),
            inputs: Vec::new(),
            input_slot: HashMap::new(),
            nodes: HashMap::new(),
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
                let t = self.block(e, idx)?;
                let slot = *f.input_slot.entry(t).or_insert_with(|| {
                    f.inputs.push(t);
                    f.program.inputs.push(e.dtype);
                    f.inputs.len() - 1
                });
                f.program.push(Node::Input(slot), e.dtype)
            }
        };
        f.nodes.insert(e.id, n);
        Ok(n)
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
                program: f.program,
                shape,
            },
            inputs: f.inputs,
            mem_bytes: in_bytes + out + scratch,
            out_bytes: out,
        }))
    }
}
