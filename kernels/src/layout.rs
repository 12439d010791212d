//! Layout kernels: slicing one block, assembling a block from pieces of others,
//! permuting axes. Pure data movement; the output is always C-contiguous.

use crate::chunk::Chunk;
use crate::dtype::{DType, Element};
use crate::error::{KernelError, Result};
use ndarray::{ArrayD, Axis, IxDyn, SliceInfoElem};
use std::ops::Range;

/// What to take from one axis of a block (see the graph's `AxisTake`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Take {
    /// `len` elements from local `start`, stepping `step` (negative: backwards).
    Range {
        /// First element.
        start: usize,
        /// Step (non-zero).
        step: isize,
        /// Count.
        len: usize,
    },
    /// One element; the axis disappears.
    Index(usize),
    /// A new axis of length 1.
    NewAxis,
}

fn slice_elems(take: &[Take], shape: &[usize]) -> Result<Vec<SliceInfoElem>> {
    let mut out = Vec::with_capacity(take.len());
    let mut ax = 0;
    for t in take {
        let n = shape.get(ax).copied();
        let oob = |what: String| KernelError::Other(format!("slice out of bounds on axis {ax}: {what}"));
        match *t {
            Take::NewAxis => out.push(SliceInfoElem::NewAxis),
            Take::Index(i) => {
                let n = n.ok_or_else(|| oob("no such axis".into()))?;
                if i >= n {
                    return Err(oob(format!("index {i} of {n}")));
                }
                out.push(SliceInfoElem::Index(isize::try_from(i).map_err(|_| oob("index".into()))?));
                ax += 1;
            }
            Take::Range { start, step, len } => {
                let n = n.ok_or_else(|| oob("no such axis".into()))?;
                let stride = step.unsigned_abs();
                let (lo, hi) = if len == 0 {
                    (0, 0)
                } else if step > 0 {
                    (start, start + (len - 1) * stride + 1)
                } else {
                    (
                        start.checked_sub((len - 1) * stride).ok_or_else(|| oob(format!("start {start}")))?,
                        start + 1,
                    )
                };
                if hi > n || step == 0 {
                    return Err(oob(format!("{lo}..{hi} step {step} of {n}")));
                }
                let as_i = |v: usize| isize::try_from(v).map_err(|_| oob("range".into()));
                out.push(SliceInfoElem::Slice {
                    start: as_i(lo)?,
                    end: Some(as_i(hi)?),
                    step,
                });
                ax += 1;
            }
        }
    }
    if ax != shape.len() {
        return Err(KernelError::Other(format!(
            "slice names {ax} axes of a {}-d block",
            shape.len()
        )));
    }
    Ok(out)
}

/// The selection `take` of a block, C-contiguous.
///
/// # Errors
/// A selection that does not fit the block, or a non-data chunk.
pub fn slice(input: &Chunk, take: &[Take]) -> Result<Chunk> {
    let elems = slice_elems(take, input.shape())?;
    crate::map_chunk!(input, a => {
        let v = a.slice(elems.as_slice());
        Ok(Element::into_chunk(v.as_standard_layout().into_owned()))
    }, _ => Err(not_data(input)))
}

/// A block of `shape` and `dtype` made of `pieces`: region `src` of input `i`
/// copied to `dst` onwards. Pieces must tile the block (unfilled parts stay zero).
///
/// # Errors
/// Inputs of another dtype, or pieces outside their input or the block.
pub fn assemble(shape: &[usize], dtype: DType, inputs: &[&Chunk], pieces: &[(Vec<Range<usize>>, Vec<usize>)]) -> Result<Chunk> {
    if inputs.len() != pieces.len() {
        return Err(KernelError::Other(format!(
            "{} inputs for {} pieces",
            inputs.len(),
            pieces.len()
        )));
    }
    crate::dispatch_dtype!(dtype, T => {
        let mut out = ArrayD::<T>::default(IxDyn(shape));
        for (input, (src, dst)) in inputs.iter().zip(pieces) {
            let a = T::view_chunk(input).ok_or_else(|| KernelError::DType {
                expected: dtype.to_string(),
                got: format!("{:?}", input.dtype()),
            })?;
            if src.len() != shape.len() || dst.len() != shape.len() {
                return Err(KernelError::Other("piece rank differs from block rank".into()));
            }
            let mut from = a.view();
            let mut to = out.view_mut();
            for ax in 0..shape.len() {
                let r = &src[ax];
                let len = r.end.saturating_sub(r.start);
                if r.end > from.shape()[ax] || dst[ax] + len > shape[ax] {
                    return Err(KernelError::Shape {
                        expected: shape.to_vec(),
                        got: a.shape().to_vec(),
                    });
                }
                from.slice_axis_inplace(Axis(ax), ndarray::Slice::from(r.clone()));
                to.slice_axis_inplace(Axis(ax), ndarray::Slice::from(dst[ax]..dst[ax] + len));
            }
            to.assign(&from);
        }
        Ok(T::into_chunk(out))
    })
}

/// The block with axes permuted (output axis `i` is input axis `perm[i]`).
///
/// # Errors
/// `perm` not a permutation of the block's axes, or a non-data chunk.
pub fn transpose(input: &Chunk, perm: &[usize]) -> Result<Chunk> {
    let nd = input.shape().len();
    let mut seen = vec![false; nd];
    if perm.len() != nd || perm.iter().any(|&p| p >= nd || std::mem::replace(&mut seen[p], true)) {
        return Err(KernelError::Other(format!("{perm:?} is not a permutation of {nd} axes")));
    }
    crate::map_chunk!(input, a => {
        let v = a.view().permuted_axes(IxDyn(perm));
        Ok(Element::into_chunk(v.as_standard_layout().into_owned()))
    }, _ => Err(not_data(input)))
}

pub(crate) fn not_data(c: &Chunk) -> KernelError {
    KernelError::Other(format!(
        "expected a data chunk, got {}",
        match c {
            Chunk::Partial(_) => "a partial reduction",
            Chunk::Unit => "a unit",
            _ => "data",
        }
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{s, Array, NewAxis};

    fn arr() -> Chunk {
        Chunk::I32(Array::from_iter(0..24).into_shape_with_order(IxDyn(&[4, 6])).unwrap())
    }

    #[test]
    fn slice_matches_ndarray() {
        let c = arr();
        let Chunk::I32(a) = &c else { unreachable!() };
        let got = slice(&c, &[Take::Range { start: 1, step: 2, len: 2 }, Take::Index(4)]).unwrap();
        assert_eq!(got, Chunk::I32(a.slice(s![1..4;2, 4]).into_owned().into_dyn()));
        // Negative step from local 5 backwards: 5, 3, 1.
        let got = slice(&c, &[Take::NewAxis, Take::Index(0), Take::Range { start: 5, step: -2, len: 3 }]).unwrap();
        assert_eq!(got, Chunk::I32(a.slice(s![NewAxis, 0, 1..6;-2]).into_owned().into_dyn()));
        assert!(slice(&c, &[Take::Index(4), Take::Index(0)]).is_err());
        assert!(slice(&c, &[Take::Index(0)]).is_err());
    }

    #[test]
    fn assemble_tiles_and_checks() {
        let c = arr();
        let Chunk::I32(a) = &c else { unreachable!() };
        let got = assemble(
            &[4, 8],
            DType::I32,
            &[&c, &c],
            &[(vec![0..4, 0..6], vec![0, 0]), (vec![0..4, 4..6], vec![0, 6])],
        )
        .unwrap();
        let Chunk::I32(g) = got else { unreachable!() };
        assert_eq!(g.slice(s![.., ..6]).into_dyn(), a.view());
        assert_eq!(g.slice(s![.., 6..]), a.slice(s![.., 4..6]));
        assert!(assemble(&[2, 2], DType::I32, &[&c], &[(vec![0..4, 0..2], vec![0, 0])]).is_err());
        assert!(assemble(&[2, 2], DType::F64, &[&c], &[(vec![0..2, 0..2], vec![0, 0])]).is_err());
    }

    #[test]
    fn transpose_permutes() {
        let c = arr();
        let Chunk::I32(a) = &c else { unreachable!() };
        let Chunk::I32(t) = transpose(&c, &[1, 0]).unwrap() else { unreachable!() };
        assert_eq!(t, a.t());
        assert!(t.is_standard_layout());
        assert!(transpose(&c, &[0, 0]).is_err());
    }
}
