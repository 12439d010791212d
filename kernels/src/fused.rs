//! A reduction's first stage with the elementwise chain before it fused in.
//!
//! Over all axes (the common `x.f().mean()` case) the chain is evaluated tile by
//! tile and each tile reduced at once, so the chain's result never exists as a
//! whole block: the partial streams at cache speed. Otherwise (some axes, or
//! arg-reductions, whose indices need block coordinates) the chain's result is
//! evaluated into one block-sized buffer, then reduced.

use crate::chunk::{Chunk, Partial};
use crate::elementwise::{eval, for_each_tile, TileSlice};
use crate::error::Result;
use crate::reduce::{merge, partial, ArgContext, ReduceKind};
use crate::ElementwiseProgram;
use ndarray::{ArrayD, IxDyn};

/// The partial of `kind` over `axes` of the program's result on `inputs`
/// (broadcast to `shape`), without a graph task for the program's result.
///
/// # Errors
/// As [`eval`] and [`partial`].
pub fn partial_fused(
    kind: ReduceKind,
    program: &ElementwiseProgram,
    inputs: &[&Chunk],
    shape: &[usize],
    axes: &[usize],
    arg: Option<&ArgContext>,
) -> Result<Chunk> {
    let n: usize = shape.iter().product();
    let streamable = !shape.is_empty()
        && n > 0
        && axes.len() == shape.len()
        && !matches!(kind, ReduceKind::ArgMin | ReduceKind::ArgMax);
    if !streamable {
        let values = eval(program, inputs, shape)?;
        return partial(kind, &values, axes, arg);
    }
    let mut acc: Option<Chunk> = None;
    for_each_tile(program, inputs, shape, &mut |_, tile| {
        let p = partial(kind, &tile_chunk(&tile), &[0], None)?;
        acc = Some(match acc.take() {
            None => p,
            Some(a) => merge(kind, &[&a, &p])?,
        });
        Ok(())
    })?;
    let acc = acc.expect("a non-empty block has at least one tile");
    Ok(keepdims(acc, shape.len()))
}

/// A tile as a 1-d chunk.
fn tile_chunk(tile: &TileSlice<'_>) -> Chunk {
    fn one<T: crate::Element>(s: &[T]) -> Chunk {
        T::into_chunk(
            ArrayD::from_shape_vec(IxDyn(&[s.len()]), s.to_vec()).expect("length matches"),
        )
    }
    match tile {
        TileSlice::Bool(s) => one(s),
        TileSlice::I8(s) => one(s),
        TileSlice::I16(s) => one(s),
        TileSlice::I32(s) => one(s),
        TileSlice::I64(s) => one(s),
        TileSlice::U8(s) => one(s),
        TileSlice::U16(s) => one(s),
        TileSlice::U32(s) => one(s),
        TileSlice::U64(s) => one(s),
        TileSlice::F32(s) => one(s),
        TileSlice::F64(s) => one(s),
    }
}

/// A partial over the single axis of a 1-d tile (arrays of shape `[1]`) given
/// the shape `[1; ndim]` of a partial over every axis of an `ndim`-d block.
fn keepdims(c: Chunk, ndim: usize) -> Chunk {
    fn re<T: Clone>(a: ArrayD<T>, ndim: usize) -> ArrayD<T> {
        a.into_shape_with_order(IxDyn(&vec![1; ndim]))
            .expect("a one-element partial reshapes to any all-ones shape")
    }
    match c {
        Chunk::Partial(Partial::SumCount { sum, count }) => Chunk::Partial(Partial::SumCount {
            sum: re(sum, ndim),
            count: re(count, ndim),
        }),
        Chunk::Partial(Partial::Moments { count, mean, m2 }) => Chunk::Partial(Partial::Moments {
            count: re(count, ndim),
            mean: re(mean, ndim),
            m2: re(m2, ndim),
        }),
        Chunk::Partial(Partial::Arg { value, index }) => Chunk::Partial(Partial::Arg {
            value: Box::new(keepdims(*value, ndim)),
            index: re(index, ndim),
        }),
        Chunk::Unit => Chunk::Unit,
        data => {
            crate::map_chunk!(data, a => crate::Element::into_chunk(re(a, ndim)), _ => unreachable!("data chunk"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reduce::finalize;
    use crate::{DType, Instr, Node, UnaryOp};

    /// `sin(x)` over a 3-d block: streamed partials equal the unfused ones to
    /// rounding, for every kind that streams.
    #[test]
    fn streamed_partials_match_unfused() {
        let n = 5 * 7 * 300; // several tiles, a ragged last one
        let x = ArrayD::from_shape_fn(IxDyn(&[5, 7, 300]), |i| {
            (i[0] * 2100 + i[1] * 300 + i[2]) as f64 * 0.37 - 50.0
        });
        let input = Chunk::F64(x.clone());
        let p = ElementwiseProgram {
            inputs: vec![DType::F64],
            instrs: vec![
                Instr {
                    node: Node::Input(0),
                    dtype: DType::F64,
                },
                Instr {
                    node: Node::Unary(UnaryOp::Sin, 0),
                    dtype: DType::F64,
                },
            ],
        };
        let values = eval(&p, &[&input], &[5, 7, 300]).unwrap();
        let kinds = [
            ReduceKind::Sum,
            ReduceKind::Mean,
            ReduceKind::Var { ddof: 1.0 },
            ReduceKind::Max,
            ReduceKind::NanMin,
            ReduceKind::CountNonzero,
        ];
        for kind in kinds {
            let got = partial_fused(kind, &p, &[&input], &[5, 7, 300], &[0, 1, 2], None).unwrap();
            let want = partial(kind, &values, &[0, 1, 2], None).unwrap();
            let f = |c: &Chunk| match finalize(kind, c, &[0, 1, 2], false).unwrap() {
                Chunk::F64(a) => a.into_iter().next().unwrap(),
                Chunk::I64(a) => a.into_iter().next().unwrap() as f64,
                other => panic!("{other:?}"),
            };
            let (g, w) = (f(&got), f(&want));
            assert!((g - w).abs() <= 1e-12 * (n as f64), "{kind:?}: {g} vs {w}");
            assert_eq!(got.shape(), &[1, 1, 1]);
        }
    }
}
