//! Fusion: an elementwise node and every elementwise node beneath it become one
//! program run by one task per output block. Non-elementwise operands become the
//! task's inputs (each block once, however often it is used); constants become
//! immediates.

use super::{bytes, Lowerer};
use crate::error::Result;
use crate::expr::grid::block_shape;
use crate::expr::node::{AxisSel, EwOp, Expr, ExprKind};
use crate::graph::{ArrayId, ChunkKey, Op, Task, TaskId};
use darray_kernels::elementwise::{InputView, Part, Window};
use darray_kernels::{DType, ElementwiseProgram, Node};
use std::collections::HashMap;
use std::sync::Arc;

/// Most pieces one operand is read in ([`Lowerer::pieces_of`]): an
/// alignment moves at most two axes (two blocks each), and a piece more per
/// axis would read blocks the operand's own rechunk reads anyway.
const MAX_PIECES: usize = 8;

/// One piece of a region cut at a node's block edges ([`Lowerer::split_region`]).
struct RegionPiece {
    /// The node's block holding it.
    block: Vec<u32>,
    /// Where it starts in that block.
    origin: Vec<usize>,
    /// Where it starts in the region.
    at: Vec<usize>,
    shape: Vec<usize>,
}

/// The node computed by tasks under `e`'s step-1 slices that keep every
/// axis, and `start` (a position in `e`) there; `None` if a slice steps,
/// drops or adds an axis, or the node is fused (elementwise).
fn below_slices(e: &Arc<Expr>, start: Vec<usize>) -> Option<(Arc<Expr>, Vec<usize>)> {
    let (mut node, mut from) = (e.clone(), start);
    while let ExprKind::Slice { input, sel } = &node.kind {
        if sel.len() != input.shape.len() || sel.len() != from.len() {
            return None;
        }
        let mut next = Vec::with_capacity(from.len());
        for (s, &at) in sel.iter().zip(&from) {
            match *s {
                AxisSel::Range { start, step: 1, .. } => next.push(start + at),
                AxisSel::Range { .. } | AxisSel::Index(_) | AxisSel::NewAxis => return None,
            }
        }
        (node, from) = (input.clone(), next);
    }
    (!node.is_fusable()).then_some((node, from))
}

/// A program under construction for one output block.
pub(crate) struct Fusion {
    pub program: ElementwiseProgram,
    /// The task's inputs, each task once.
    pub inputs: Vec<TaskId>,
    /// Per program input, what it reads (see [`Fusion::finish`]).
    reads: Vec<Read>,
    /// The shape of the fused node (an operand of this shape may be read in
    /// pieces, since its blocks are the output's).
    shape: Vec<usize>,
    input_of: HashMap<TaskId, u32>,
    slot_of: HashMap<(TaskId, Option<Window>), usize>,
    nodes: HashMap<ArrayId, usize>,
}

/// How one program input is read over the output block.
enum Read {
    /// One chunk, whole (`window` `None`) or through a window; `extent` is the
    /// region's shape (the operand's block, on its own axes).
    One {
        input: u32,
        window: Option<Window>,
        extent: Vec<usize>,
    },
    /// An operand of the output's shape whose block lies across several
    /// chunks: per piece, where it starts in the output block and the region
    /// of its chunk.
    Pieces(Vec<(Vec<usize>, u32, Window)>),
}

/// What [`Fusion::finish`] gives the op: its views or its parts.
pub(crate) struct Reads {
    pub views: Vec<InputView>,
    pub parts: Vec<Part>,
}

impl Fusion {
    fn new(shape: &[usize]) -> Self {
        Fusion {
            program: ElementwiseProgram::default(),
            inputs: Vec::new(),
            reads: Vec::new(),
            shape: shape.to_vec(),
            input_of: HashMap::new(),
            slot_of: HashMap::new(),
            nodes: HashMap::new(),
        }
    }

    fn input(&mut self, t: TaskId) -> u32 {
        *self.input_of.entry(t).or_insert_with(|| {
            self.inputs.push(t);
            u32::try_from(self.inputs.len() - 1).expect("fewer than 2^32 inputs")
        })
    }

    /// The program input reading `window` of task `t`'s block (once per
    /// pair); `extent` is the shape read.
    fn slot(
        &mut self,
        t: TaskId,
        window: Option<Window>,
        extent: Vec<usize>,
        dtype: DType,
    ) -> usize {
        if let Some(&s) = self.slot_of.get(&(t, window.clone())) {
            return s;
        }
        let input = self.input(t);
        self.reads.push(Read::One {
            input,
            window: window.clone(),
            extent,
        });
        self.program.inputs.push(dtype);
        let s = self.reads.len() - 1;
        self.slot_of.insert((t, window), s);
        s
    }

    /// A program input read in pieces: (start in the output block, task, region).
    fn pieces_slot(&mut self, pieces: Vec<(Vec<usize>, TaskId, Window)>, dtype: DType) -> usize {
        let pieces = pieces
            .into_iter()
            .map(|(at, t, w)| (at, self.input(t), w))
            .collect();
        self.reads.push(Read::Pieces(pieces));
        self.program.inputs.push(dtype);
        self.reads.len() - 1
    }

    /// The op's views (empty when program input `i` is task input `i`,
    /// whole), or, when an input is read in pieces, the output block of
    /// `shape` cut into parts at every piece's edge, each with its views.
    pub(crate) fn finish(&self, shape: &[usize]) -> Reads {
        let mut cuts: Vec<Vec<usize>> = shape.iter().map(|&n| vec![0, n]).collect();
        for r in &self.reads {
            if let Read::Pieces(pieces) = r {
                for (at, _, w) in pieces {
                    for ax in 0..shape.len() {
                        cuts[ax].push(at[ax]);
                        cuts[ax].push(at[ax] + w.shape[ax]);
                    }
                }
            }
        }
        if cuts.iter().all(|c| c.len() == 2) {
            let plain = self.reads.iter().enumerate().all(
                |(i, r)| matches!(r, Read::One { input, window: None, .. } if *input as usize == i),
            ) && self.reads.len() == self.inputs.len();
            let views = if plain {
                Vec::new()
            } else {
                self.reads
                    .iter()
                    .map(|r| match r {
                        Read::One { input, window, .. } => InputView {
                            input: *input,
                            window: window.clone(),
                        },
                        Read::Pieces(_) => unreachable!("no cuts: no pieces"),
                    })
                    .collect()
            };
            return Reads {
                views,
                parts: Vec::new(),
            };
        }
        let segs: Vec<Vec<(usize, usize)>> = cuts
            .iter_mut()
            .map(|c| {
                c.sort_unstable();
                c.dedup();
                c.windows(2).map(|w| (w[0], w[1] - w[0])).collect()
            })
            .collect();
        let counts: Vec<Vec<usize>> = segs.iter().map(|s| vec![0; s.len()]).collect();
        let parts = crate::expr::grid::block_indices(&counts)
            .into_iter()
            .map(|k| {
                let start: Vec<usize> =
                    k.iter().zip(&segs).map(|(&i, s)| s[i as usize].0).collect();
                let pshape: Vec<usize> =
                    k.iter().zip(&segs).map(|(&i, s)| s[i as usize].1).collect();
                let views = self
                    .reads
                    .iter()
                    .map(|r| part_view(r, shape, &start, &pshape))
                    .collect();
                Part {
                    start,
                    shape: pshape,
                    views,
                }
            })
            .collect();
        Reads {
            views: Vec::new(),
            parts,
        }
    }
}

/// What `r` reads in the part from `start` of `pshape` of an output block of
/// `shape`.
fn part_view(r: &Read, shape: &[usize], start: &[usize], pshape: &[usize]) -> InputView {
    match r {
        Read::One {
            input,
            window,
            extent,
        } => {
            // Axes aligned on the right; an axis of extent 1 under a longer
            // output axis is broadcast, so the part reads its one element.
            let lead = shape.len() - extent.len();
            let origin0 = window
                .as_ref()
                .map_or_else(|| vec![0; extent.len()], |w| w.origin.clone());
            let (origin, wshape) = (0..extent.len())
                .map(|aax| {
                    let ax = aax + lead;
                    if extent[aax] == 1 && shape[ax] != 1 {
                        (origin0[aax], 1)
                    } else {
                        (origin0[aax] + start[ax], pshape[ax])
                    }
                })
                .unzip();
            InputView {
                input: *input,
                window: Some(Window {
                    origin,
                    shape: wshape,
                }),
            }
        }
        Read::Pieces(pieces) => {
            let (at, input, w) = pieces
                .iter()
                .find(|(at, _, w)| {
                    (0..start.len())
                        .all(|ax| at[ax] <= start[ax] && start[ax] < at[ax] + w.shape[ax])
                })
                .expect("the parts are cut at every piece's edge");
            InputView {
                input: *input,
                window: Some(Window {
                    origin: (0..start.len())
                        .map(|ax| w.origin[ax] + start[ax] - at[ax])
                        .collect(),
                    shape: pshape.to_vec(),
                }),
            }
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
        let mut f = Fusion::new(&e.shape);
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
                let slot = if let Some((t, window)) = self.window_of(e, idx)? {
                    let extent = window
                        .as_ref()
                        .map_or_else(|| block_shape(&e.grid, idx), |w| w.shape.clone());
                    f.slot(t, window, extent, e.dtype)
                } else if let Some(pieces) = self.pieces_of(e, idx, &f.shape)? {
                    f.pieces_slot(pieces, e.dtype)
                } else {
                    let t = self.block(e, idx)?;
                    f.slot(t, None, block_shape(&e.grid, idx), e.dtype)
                };
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
        let top = if let ExprKind::Rechunk { input } = &e.kind {
            input
        } else {
            e
        };
        Ok(match self.region_of(top, start, shape) {
            Some((base, bidx, window)) => Some((self.block(&base, &bidx)?, window)),
            None => None,
        })
    }

    /// Block `idx` of `e`, a rechunk of a step-1 slice (another operand's
    /// blocks shifted by a few elements: see `array::elementwise`) of the
    /// fused node's shape `root`, as pieces that each lie in one block of the
    /// node under the slice: (start in the block, that block's task, the
    /// region). `None` for other nodes, or past [`MAX_PIECES`] pieces.
    #[allow(clippy::type_complexity)]
    fn pieces_of(
        &mut self,
        e: &Arc<Expr>,
        idx: &[u32],
        root: &[usize],
    ) -> Result<Option<Vec<(Vec<usize>, TaskId, Window)>>> {
        let ExprKind::Rechunk { input } = &e.kind else {
            return Ok(None);
        };
        if e.shape != root || !matches!(input.kind, ExprKind::Slice { .. }) {
            return Ok(None);
        }
        let start = self.grid_offsets(e).block(idx);
        let shape = block_shape(&e.grid, idx);
        if shape.contains(&0) {
            return Ok(None);
        }
        let Some((node, from)) = below_slices(input, start) else {
            return Ok(None);
        };
        let Some(split) = self.split_region(&node, &from, &shape, MAX_PIECES) else {
            return Ok(None);
        };
        let mut pieces = Vec::with_capacity(split.len());
        for p in split {
            let t = self.block(&node, &p.block)?;
            pieces.push((
                p.at,
                t,
                Window {
                    origin: p.origin,
                    shape: p.shape,
                },
            ));
        }
        Ok(Some(pieces))
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
        let (base, from) = below_slices(e, start)?;
        let p = self.split_region(&base, &from, &shape, 1)?.pop()?;
        let whole =
            p.origin.iter().all(|&o| o == 0) && p.shape == block_shape(&base.grid, &p.block);
        let window = (!whole).then_some(Window {
            origin: p.origin,
            shape: p.shape,
        });
        Some((base, p.block, window))
    }

    /// The region from `from` of `shape` of `node` cut at its block edges, in
    /// C order of the pieces (an axis of length 0 is one empty piece); `None`
    /// past `max` pieces or outside the node.
    fn split_region(
        &mut self,
        node: &Expr,
        from: &[usize],
        shape: &[usize],
        max: usize,
    ) -> Option<Vec<RegionPiece>> {
        let offs = self.grid_offsets(node);
        // Per axis: (block, origin in it, start in the region, length).
        let mut per_axis: Vec<Vec<(u32, usize, usize, usize)>> = Vec::with_capacity(shape.len());
        let mut count = 1usize;
        for (ax, (&lo, &n)) in from.iter().zip(shape).enumerate() {
            let off = offs.axis(ax);
            let mut v = Vec::new();
            let mut at = lo;
            loop {
                let b = off.partition_point(|&o| o <= at).checked_sub(1)?;
                if b + 1 >= off.len() {
                    return None;
                }
                let end = off[b + 1].min(lo + n);
                v.push((
                    u32::try_from(b).expect("block index fits u32"),
                    at - off[b],
                    at - lo,
                    end - at,
                ));
                at = end;
                if at >= lo + n {
                    break;
                }
            }
            count *= v.len();
            if count > max {
                return None;
            }
            per_axis.push(v);
        }
        let counts: Vec<Vec<usize>> = per_axis.iter().map(|v| vec![0; v.len()]).collect();
        let pieces = crate::expr::grid::block_indices(&counts)
            .into_iter()
            .map(|k| {
                let sel: Vec<_> = k
                    .iter()
                    .zip(&per_axis)
                    .map(|(&i, v)| v[i as usize])
                    .collect();
                RegionPiece {
                    block: sel.iter().map(|p| p.0).collect(),
                    origin: sel.iter().map(|p| p.1).collect(),
                    at: sel.iter().map(|p| p.2).collect(),
                    shape: sel.iter().map(|p| p.3).collect(),
                }
            })
            .collect();
        Some(pieces)
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
        let reads = f.finish(&shape);
        let out = bytes(e, idx);
        let in_bytes: u64 = f.inputs.iter().map(|&i| self.graph.task(i).out_bytes).sum();
        // Tile registers are small and fixed: a few KiB per instruction.
        let scratch = darray_kernels::elementwise::scratch_bytes(&f.program);
        Ok(self.graph.push(Task {
            key,
            op: Op::Fused {
                views: reads.views,
                parts: reads.parts,
                program: f.program,
                shape,
            },
            inputs: f.inputs,
            mem_bytes: in_bytes + out + scratch,
            out_bytes: out,
        }))
    }
}
