//! Piecewise evaluation: an output block cut into parts, each evaluated with
//! its own views of the inputs. A fused task whose operand is another
//! operand's blocks shifted by a few elements (a stencil written by hand with
//! slices) reads each part of that operand from the one block that holds it,
//! instead of a task assembling the shifted block first.

use super::eval::{with_evaluator, TILE};
use super::lane::Reg;
use super::tile::Window;
use super::ElementwiseProgram;
use crate::error::{KernelError, Result};
use crate::Chunk;
use serde::{Deserialize, Serialize};

/// What one input of a program reads: chunk `input` of the task's inputs, whole
/// or through a window (a region of it).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct InputView {
    /// Index into the task's chunks.
    pub input: u32,
    /// The region read; `None`: the whole chunk.
    pub window: Option<Window>,
}

/// One part of an output block: the region from `start` of `shape`, and per
/// program input the chunk and region it reads there (broadcast to `shape` as
/// a chunk of the window's shape would be).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Part {
    /// First element of the part in the output block, per axis.
    pub start: Vec<usize>,
    /// The part's shape.
    pub shape: Vec<usize>,
    /// Per program input, what it reads in this part.
    pub views: Vec<InputView>,
}

/// The program's result over `out_shape`, part by part: each part evaluated on
/// its views and written to its region. The parts must cut `out_shape` into a
/// grid (per axis, the same cuts for every part), each region once.
///
/// # Errors
/// Parts that do not form such a grid, a view naming a missing chunk, and the
/// errors of [`super::eval_windows`] for each part.
pub fn eval_parts(
    p: &ElementwiseProgram,
    inputs: &[&Chunk],
    parts: &[Part],
    out_shape: &[usize],
) -> Result<Chunk> {
    let total: usize = out_shape.iter().product();
    if total == 0 {
        return Reg::zeros(p.out_dtype(), 0).into_chunk(out_shape);
    }
    check_grid(parts, out_shape)?;
    let mut out = Reg::zeros(p.out_dtype(), total);
    let n = out_shape.len();
    // C-order strides of the output, in elements.
    let mut strides = vec![1usize; n];
    for ax in (0..n.saturating_sub(1)).rev() {
        strides[ax] = strides[ax + 1] * out_shape[ax + 1];
    }
    for part in parts {
        let (chunks, windows) = view_inputs(inputs, &part.views)?;
        let row = part.shape.last().copied().unwrap_or(1).max(1);
        let base: usize = part.start.iter().zip(&strides).map(|(s, t)| s * t).sum();
        with_evaluator(p, &chunks, &windows, &part.shape, TILE, |ev| {
            for s in (0..ev.total).step_by(TILE) {
                let len = TILE.min(ev.total - s);
                let tile = ev.tile(s, len);
                // Copy the tile run by run: a run ends at the end of a row of
                // the part, where the output jumps to the part's next row.
                let mut f = s;
                while f < s + len {
                    let (q, col) = (f / row, f % row);
                    let run = (row - col).min(s + len - f);
                    let mut off = base + col;
                    let mut rest = q;
                    for ax in (0..n.saturating_sub(1)).rev() {
                        off += (rest % part.shape[ax]) * strides[ax];
                        rest /= part.shape[ax];
                    }
                    out.copy_tile(off..off + run, tile.slice(f - s..f - s + run));
                    f += run;
                }
            }
            Ok(())
        })?;
    }
    out.into_chunk(out_shape)
}

/// The chunks and windows that `views` read of `inputs`, per program input.
///
/// # Errors
/// A view naming a chunk beyond `inputs`.
pub fn view_inputs<'a>(
    inputs: &[&'a Chunk],
    views: &[InputView],
) -> Result<(Vec<&'a Chunk>, Vec<Option<Window>>)> {
    let mut chunks = Vec::with_capacity(views.len());
    let mut windows = Vec::with_capacity(views.len());
    for v in views {
        let c = inputs.get(v.input as usize).ok_or_else(|| {
            KernelError::Other(format!(
                "a program input reads input {} of {}",
                v.input,
                inputs.len()
            ))
        })?;
        chunks.push(*c);
        windows.push(v.window.clone());
    }
    Ok((chunks, windows))
}

/// Checks that `parts` cut `shape` into a grid: per axis the parts' ranges are
/// the segments of one set of cuts, and every combination appears once.
pub(crate) fn check_grid(parts: &[Part], shape: &[usize]) -> Result<()> {
    let bad =
        |why: String| KernelError::Other(format!("parts of a block of shape {shape:?}: {why}"));
    let n = shape.len();
    let mut cuts: Vec<Vec<(usize, usize)>> = vec![Vec::new(); n];
    for p in parts {
        if p.start.len() != n || p.shape.len() != n {
            return Err(bad(format!(
                "a part from {:?} of shape {:?}",
                p.start, p.shape
            )));
        }
        for (segs, seg) in cuts
            .iter_mut()
            .zip(p.start.iter().copied().zip(p.shape.iter().copied()))
        {
            if !segs.contains(&seg) {
                segs.push(seg);
            }
        }
    }
    let mut count = 1usize;
    for (ax, segs) in cuts.iter_mut().enumerate() {
        segs.sort_unstable();
        let mut at = 0;
        for &(s, len) in segs.iter() {
            if s != at || len == 0 {
                return Err(bad(format!(
                    "axis {ax} is not cut into consecutive segments: {segs:?}"
                )));
            }
            at += len;
        }
        if at != shape[ax] {
            return Err(bad(format!(
                "axis {ax}'s segments {segs:?} do not end at {}",
                shape[ax]
            )));
        }
        count = count.saturating_mul(segs.len());
    }
    let mut seen = std::collections::HashSet::new();
    for p in parts {
        if !seen.insert(&p.start) {
            return Err(bad(format!("two parts start at {:?}", p.start)));
        }
    }
    if parts.len() != count {
        return Err(bad(format!("{} parts for a grid of {count}", parts.len())));
    }
    Ok(())
}
