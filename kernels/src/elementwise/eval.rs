//! The tile-by-tile evaluator: [`eval`] and [`for_each_tile`].
//!
//! The output is cut into tiles of [`TILE`] consecutive C-order elements. For each
//! tile every live instruction runs once over the whole tile, reading its operands'
//! tiles and writing its own register, so intermediates stay in cache and no
//! full-chunk temporary exists. Registers are allocated once per call. A value can
//! also be a splat (one element for the whole tile: scalars, 0-d inputs, results
//! of splats) or borrowed from an input's memory (C-contiguous inputs), which the
//! kernels in [`super::ops`] read without copying.

use super::cast;
use super::lane::{dispatch_arith, dispatch_float, dispatch_int, Kind, Lane, Reg, TileSlice};
use super::ops::{self, Operand};
use super::program::{
    BinaryKernel, Classify, ElementwiseProgram, Instr, Node, UnaryKernel, UnaryOp,
};
use super::tile::{broadcasts_to, contiguous_copy, Source, Window};
use super::validate::{operands, validate};
use crate::dtype::DType;
use crate::error::{KernelError, Result};
use crate::{dispatch_dtype, Chunk};
use std::ops::Range;

/// Elements per tile: 16 KiB of f64 per register, so an operand and a result fit
/// in L1 together, and loops are long enough to amortize the per-tile dispatch.
/// Measured: 1024-2048 beat 4096 by a few percent on memory-bound programs.
pub(crate) const TILE: usize = 2048;

/// Scratch bytes [`eval`] needs for `p` beyond its inputs and output: one tile
/// register per instruction, of at most 8-byte elements. Planners state a fused
/// task's memory with this, so the estimate follows the tile size.
#[must_use]
pub fn scratch_bytes(p: &ElementwiseProgram) -> u64 {
    (p.instrs.len() * TILE * std::mem::size_of::<f64>()) as u64
}

/// Evaluates the program on the inputs, broadcast (NumPy rules) to `out_shape`;
/// returns a C-contiguous (standard layout) chunk of dtype `p.out_dtype()`.
///
/// Inputs may have any memory layout and fewer or size-1 axes.
///
/// # Errors
/// An invalid program (see [`validate`]), `inputs.len() != p.inputs.len()`, an
/// input whose dtype differs from `p.inputs[i]` ([`KernelError::DType`]) or whose
/// shape does not broadcast to `out_shape` ([`KernelError::Shape`]), or an output
/// too large to allocate.
pub fn eval(p: &ElementwiseProgram, inputs: &[&Chunk], out_shape: &[usize]) -> Result<Chunk> {
    eval_windows(p, inputs, &[], out_shape)
}

/// [`eval`] with input `i` read through `windows[i]` where that is `Some`: the
/// region of the chunk, broadcast as a chunk of the window's shape would be.
/// `windows` may be empty (no windows) or have one entry per input.
///
/// # Errors
/// As [`eval`], and a window that does not lie inside its chunk.
pub fn eval_windows(
    p: &ElementwiseProgram,
    inputs: &[&Chunk],
    windows: &[Option<Window>],
    out_shape: &[usize],
) -> Result<Chunk> {
    with_evaluator(p, inputs, windows, out_shape, TILE, |ev| {
        let mut out = Reg::zeros(p.out_dtype(), ev.total);
        for start in (0..ev.total).step_by(TILE) {
            ev.tile_into(start, TILE.min(ev.total - start), &mut out);
        }
        out.into_chunk(out_shape)
    })
}

/// Evaluates the program tile by tile in C order over `out_shape`, calling
/// `f(start, tile)` where `start` is the flat C-order index of the tile's first
/// element; tiles cover the output exactly once, in increasing order. Used by
/// fused reductions so no full chunk is materialized.
///
/// # Errors
/// As [`eval`], and the first error `f` returns (which stops the evaluation).
pub fn for_each_tile(
    p: &ElementwiseProgram,
    inputs: &[&Chunk],
    out_shape: &[usize],
    f: &mut dyn FnMut(usize, TileSlice<'_>) -> Result<()>,
) -> Result<()> {
    for_each_tile_len(p, inputs, out_shape, TILE, f)
}

/// [`for_each_tile`] with tiles of `tile` elements (the last may be shorter;
/// `tile` of 0 is taken as 1). Registers grow to the tile length, so a long
/// tile costs memory in proportion.
///
/// # Errors
/// As [`for_each_tile`].
pub fn for_each_tile_len(
    p: &ElementwiseProgram,
    inputs: &[&Chunk],
    out_shape: &[usize],
    tile: usize,
    f: &mut dyn FnMut(usize, TileSlice<'_>) -> Result<()>,
) -> Result<()> {
    for_each_tile_windows(p, inputs, &[], out_shape, tile, f)
}

/// [`for_each_tile_len`] with inputs read through windows, as [`eval_windows`].
///
/// # Errors
/// As [`eval_windows`], and the first error `f` returns.
pub fn for_each_tile_windows(
    p: &ElementwiseProgram,
    inputs: &[&Chunk],
    windows: &[Option<Window>],
    out_shape: &[usize],
    tile: usize,
    f: &mut dyn FnMut(usize, TileSlice<'_>) -> Result<()>,
) -> Result<()> {
    let tile = tile.max(1);
    with_evaluator(p, inputs, windows, out_shape, tile, |ev| {
        for start in (0..ev.total).step_by(tile) {
            f(start, ev.tile(start, tile.min(ev.total - start)))?;
        }
        Ok(())
    })
}

/// Checks the arguments, builds an evaluator and runs `body` with it.
pub(super) fn with_evaluator<R>(
    p: &ElementwiseProgram,
    inputs: &[&Chunk],
    windows: &[Option<Window>],
    out_shape: &[usize],
    tile: usize,
    body: impl FnOnce(&mut Evaluator<'_>) -> Result<R>,
) -> Result<R> {
    validate(p)?;
    if inputs.len() != p.inputs.len() {
        return Err(KernelError::Other(format!(
            "elementwise program takes {} inputs, got {}",
            p.inputs.len(),
            inputs.len()
        )));
    }
    if !windows.is_empty() && windows.len() != inputs.len() {
        return Err(KernelError::Other(format!(
            "elementwise program has {} inputs and {} windows",
            inputs.len(),
            windows.len()
        )));
    }
    let window = |i: usize| windows.get(i).and_then(Option::as_ref);
    for (i, (c, &dtype)) in inputs.iter().zip(&p.inputs).enumerate() {
        if c.dtype() != Some(dtype) {
            let got = c
                .dtype()
                .map_or_else(|| "a partial or unit chunk".to_string(), |d| d.to_string());
            return Err(KernelError::DType {
                expected: dtype.to_string(),
                got,
            });
        }
        if let Some(w) = window(i) {
            if !w.fits(c.shape()) {
                return Err(KernelError::Other(format!(
                    "input {i}: window from {:?} of shape {:?} is outside its chunk of shape {:?}",
                    w.origin,
                    w.shape,
                    c.shape()
                )));
            }
        }
        let shape = window(i).map_or(c.shape(), |w| w.shape.as_slice());
        if !broadcasts_to(shape, out_shape) {
            return Err(KernelError::Shape {
                expected: out_shape.to_vec(),
                got: shape.to_vec(),
            });
        }
    }
    let total = out_shape
        .iter()
        .try_fold(1usize, |n, &d| n.checked_mul(d))
        .filter(|n| {
            n.checked_mul(p.out_dtype().size())
                .is_some_and(|b| isize::try_from(b).is_ok())
        })
        .ok_or_else(|| KernelError::Other(format!("output shape {out_shape:?} is too large")))?;
    // Without tiles there is nothing to read, so skip the copies.
    let copies: Vec<Option<Chunk>> = inputs
        .iter()
        .map(|c| if total == 0 { None } else { contiguous_copy(c) })
        .collect();
    let sources = if total == 0 {
        Vec::new()
    } else {
        inputs
            .iter()
            .zip(&copies)
            .enumerate()
            .map(|(i, (&c, copy))| Source::new(copy.as_ref().unwrap_or(c), window(i), out_shape))
            .collect()
    };
    let n = p.instrs.len();
    let mut live = vec![false; n];
    live[n - 1] = true;
    for k in (0..n).rev() {
        if live[k] {
            operands(&p.instrs[k].node).for_each(|j| live[j] = true);
        }
    }
    let sincos_pair = pair_sin_cos(&p.instrs, &live);
    let mut ev = Evaluator {
        instrs: &p.instrs,
        sincos_pair,
        sources,
        live,
        regs: p.instrs.iter().map(|i| Reg::new(i.dtype)).collect(),
        kinds: vec![Kind::Splat; n],
        total,
        capacity: tile.min(total),
    };
    body(&mut ev)
}

/// Per-call state: the inputs, one register per instruction, and where each
/// instruction's value for the current tile is.
pub(super) struct Evaluator<'c> {
    instrs: &'c [Instr],
    sources: Vec<Source<'c>>,
    /// Instructions the result depends on; the others are skipped.
    live: Vec<bool>,
    /// `Some(j)` at the `Sin` or `Cos` that also computes the matching `Cos` or
    /// `Sin` `j` of the same operand (one reduction for both); `Some(usize::MAX)`
    /// at that partner `j`, which then is skipped.
    sincos_pair: Vec<Option<usize>>,
    regs: Vec<Reg>,
    kinds: Vec<Kind<'c>>,
    pub(super) total: usize,
    /// Register length: the longest tile.
    capacity: usize,
}

impl<'c> Evaluator<'c> {
    /// Computes the tile at `start` into `out[start..start + len]`.
    fn tile_into(&mut self, start: usize, len: usize, out: &mut Reg) {
        let last = self.run_operands(start, len);
        let range = start..start + len;
        match self.exec(last, start, len, Some(out)) {
            Kind::Full => {}
            Kind::Splat => out.splat_fill(range),
            Kind::Borrowed(t) => out.copy_tile(range, t),
        }
    }

    /// Computes the tile at `start` and returns it.
    pub(super) fn tile(&mut self, start: usize, len: usize) -> TileSlice<'_> {
        let last = self.run_operands(start, len);
        match self.exec(last, start, len, None) {
            Kind::Full => self.regs[last].tile(len),
            Kind::Splat => {
                self.regs[last].ensure_len(len);
                self.regs[last].splat_fill(0..len);
                self.regs[last].tile(len)
            }
            Kind::Borrowed(t) => t,
        }
    }

    /// Runs every live instruction but the last; returns the last's index.
    fn run_operands(&mut self, start: usize, len: usize) -> usize {
        let last = self.instrs.len() - 1;
        for k in 0..last {
            match self.sincos_pair[k] {
                _ if !self.live[k] => {}
                None => self.kinds[k] = self.exec(k, start, len, None),
                Some(PARTNER_DONE) => {}
                Some(j) => self.exec_sincos(k, j, len),
            }
        }
        last
    }

    /// Runs instruction `k` on the tile, into `out[start..]` if given, else into
    /// its own register.
    fn exec(&mut self, k: usize, start: usize, len: usize, out: Option<&mut Reg>) -> Kind<'c> {
        let need = self.register_need(k);
        let (done, rest) = self.regs.split_at_mut(k);
        let (dest, range) = if let Some(out) = out {
            (out, start..start + len)
        } else {
            rest[0].ensure_len(need);
            (&mut rest[0], 0..len)
        };
        let args = Args {
            instrs: self.instrs,
            kinds: &self.kinds[..k],
            regs: done,
            len,
        };
        let kind = exec_node(
            &self.instrs[k],
            &args,
            &mut self.sources,
            start,
            dest,
            range,
        );
        self.kinds[k] = kind;
        kind
    }
}

impl Evaluator<'_> {
    /// Runs the paired `Sin`/`Cos` instructions `k < j` together.
    fn exec_sincos(&mut self, k: usize, j: usize, len: usize) {
        let need = self.register_need(k);
        let Node::Unary(op, a) = self.instrs[k].node else {
            unreachable!("paired by pair_sin_cos")
        };
        let (done, rest) = self.regs.split_at_mut(k);
        let (rk, after) = rest.split_first_mut().expect("k is an instruction");
        let rj = &mut after[j - k - 1];
        rk.ensure_len(need);
        rj.ensure_len(need);
        let (sin, cos) = if op == UnaryOp::Sin {
            (rk, rj)
        } else {
            (rj, rk)
        };
        let args = Args {
            instrs: self.instrs,
            kinds: &self.kinds[..k],
            regs: done,
            len,
        };
        let kind = dispatch_float!(self.instrs[k].dtype,
            T => ops::sincos(args.get::<T>(a), out::<T>(sin, 0..len), out::<T>(cos, 0..len)),
            _ => unreachable!("{VALIDATED}"));
        self.kinds[k] = kind;
        self.kinds[j] = kind;
    }

    /// How many register elements instruction `k` may write this tile: one for a
    /// splat (scalars, splat operands, 0-d or contiguous inputs, which are splat or
    /// borrowed), else a whole tile. Keeps constant registers from growing to (and
    /// zero-filling) a full tile.
    fn register_need(&self, k: usize) -> usize {
        let splat = match self.instrs[k].node {
            Node::Scalar(_) => true,
            Node::Input(i) => self.sources[i].never_gathers(),
            ref node => operands(node).all(|j| self.kinds[j] == Kind::Splat),
        };
        if splat {
            1
        } else {
            self.capacity
        }
    }
}

/// Marks the partner of a fused `Sin`/`Cos` pair in `Evaluator::sincos_pair`.
const PARTNER_DONE: usize = usize::MAX;

/// Pairs each live `Sin(a)` with a live `Cos(a)` (or the reverse), neither being
/// the result (which is written elsewhere), so both come from one pass.
fn pair_sin_cos(instrs: &[Instr], live: &[bool]) -> Vec<Option<usize>> {
    let mut pair = vec![None; instrs.len()];
    let last = instrs.len() - 1;
    for k in 0..last {
        let Node::Unary(op @ (UnaryOp::Sin | UnaryOp::Cos), a) = instrs[k].node else {
            continue;
        };
        if !live[k] || pair[k].is_some() {
            continue;
        }
        let other = if op == UnaryOp::Sin {
            UnaryOp::Cos
        } else {
            UnaryOp::Sin
        };
        if let Some(j) = (k + 1..last)
            .find(|&j| live[j] && pair[j].is_none() && instrs[j].node == Node::Unary(other, a))
        {
            pair[k] = Some(j);
            pair[j] = Some(PARTNER_DONE);
        }
    }
    pair
}

/// The operands available to an instruction: the values of earlier instructions.
struct Args<'a, 'c> {
    instrs: &'a [Instr],
    kinds: &'a [Kind<'c>],
    regs: &'a [Reg],
    len: usize,
}

impl<'a> Args<'a, '_> {
    fn dtype(&self, j: usize) -> DType {
        self.instrs[j].dtype
    }

    fn get<T: Lane>(&self, j: usize) -> Operand<'a, T> {
        match self.kinds[j] {
            Kind::Full => Operand::Slice(&T::of_reg(&self.regs[j])[..self.len]),
            Kind::Splat => Operand::Splat(T::of_reg(&self.regs[j])[0]),
            Kind::Borrowed(t) => Operand::Slice(T::from_tile(t)),
        }
    }
}

const VALIDATED: &str = "validate() checked the operation's dtypes";

/// The typed output slice of a register: `range`, cut to the register's length.
/// A register holds a whole tile or, when [`Evaluator::register_need`] says only
/// a splat can be written, one element; kernels given slice operands (which then
/// have full registers) check that the output is as long as the operands.
fn out<T: Lane>(dest: &mut Reg, range: Range<usize>) -> &mut [T] {
    let v = T::of_reg_mut(dest);
    let end = range.end.min(v.len());
    &mut v[range.start..end]
}

/// Dispatches one instruction to its typed kernel.
fn exec_node<'c>(
    instr: &Instr,
    args: &Args<'_, 'c>,
    sources: &mut [Source<'c>],
    start: usize,
    dest: &mut Reg,
    range: Range<usize>,
) -> Kind<'c> {
    let dtype = instr.dtype;
    match instr.node {
        Node::Input(i) => {
            dispatch_dtype!(dtype, T => sources[i].fetch::<T>(start, range.len(), out::<T>(dest, range)))
        }
        Node::Scalar(s) => dispatch_dtype!(dtype, T => {
            out::<T>(dest, range)[0] = s.to::<T>();
            Kind::Splat
        }),
        Node::Unary(op, a) => exec_unary(op, a, dtype, args, dest, range),
        Node::Binary(op, a, b) => match op.kernel() {
            BinaryKernel::Arith(op) => dispatch_arith!(dtype,
                    T => ops::binary_arith(op, args.get::<T>(a), args.get::<T>(b), out::<T>(dest, range)),
                    bool => unreachable!("{VALIDATED}")),
            BinaryKernel::Float(op) => dispatch_float!(dtype,
                    T => ops::binary_float(op, args.get::<T>(a), args.get::<T>(b), out::<T>(dest, range)),
                    _ => unreachable!("{VALIDATED}")),
            BinaryKernel::Bits(op) => dispatch_int!(dtype,
                    T => ops::binary_bits(op, args.get::<T>(a), args.get::<T>(b), out::<T>(dest, range)),
                    _ => unreachable!("{VALIDATED}")),
            BinaryKernel::Extremum(op) => dispatch_dtype!(dtype,
                    T => ops::binary_any(op, args.get::<T>(a), args.get::<T>(b), out::<T>(dest, range))),
            BinaryKernel::Logic(op) => {
                ops::binary_bool(op, args.get(a), args.get(b), out::<bool>(dest, range))
            }
        },
        Node::Compare(op, a, b) => dispatch_dtype!(args.dtype(a),
            T => ops::compare(op, args.get::<T>(a), args.get::<T>(b), out::<bool>(dest, range))),
        Node::Where(c, a, b) => dispatch_dtype!(dtype,
            T => ops::select(args.get(c), args.get::<T>(a), args.get::<T>(b), out::<T>(dest, range))),
        Node::Cast(a) => dispatch_dtype!(args.dtype(a),
            S => dispatch_dtype!(dtype, D => cast::cast(args.get::<S>(a), out::<D>(dest, range)))),
        Node::Clip(a, lo, hi) => dispatch_dtype!(dtype,
            T => ops::clip(args.get::<T>(a), lo.to::<T>(), hi.to::<T>(), out::<T>(dest, range))),
    }
}

fn exec_unary<'c>(
    op: UnaryOp,
    a: usize,
    dtype: DType,
    args: &Args<'_, 'c>,
    dest: &mut Reg,
    range: Range<usize>,
) -> Kind<'c> {
    match op.kernel() {
        UnaryKernel::Not => ops::not(args.get(a), out::<bool>(dest, range)),
        UnaryKernel::Classify(op) => {
            let out = out::<bool>(dest, range);
            dispatch_float!(args.dtype(a), T => ops::classify(op, args.get::<T>(a), out), _ => {
                // Integers and bools are never NaN or infinite, always finite.
                out[0] = match op {
                    Classify::IsNan | Classify::IsInf => false,
                    Classify::IsFinite => true,
                    Classify::Signbit => unreachable!("{VALIDATED}"),
                };
                Kind::Splat
            })
        }
        UnaryKernel::Arith(op) => dispatch_arith!(dtype,
            T => ops::unary_arith(op, args.get::<T>(a), out::<T>(dest, range)),
            bool => unreachable!("{VALIDATED}")),
        UnaryKernel::Float(op) => dispatch_float!(dtype,
            T => ops::unary_float(op, args.get::<T>(a), out::<T>(dest, range)),
            _ => unreachable!("{VALIDATED}")),
        UnaryKernel::BitNot => dispatch_int!(dtype,
            T => ops::bit_not(args.get::<T>(a), out::<T>(dest, range)),
            _ => unreachable!("{VALIDATED}")),
    }
}
