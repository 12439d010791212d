//! A reduction's first stage with the elementwise chain before it fused in.
//!
//! Over all axes (the common `x.f().mean()` case) the chain is evaluated tile by
//! tile and each tile reduced at once, so the chain's result never exists as a
//! whole block: the partial streams at cache speed. Over some axes including the
//! first (`x.f().sum_axis(0)`, column sums), tiles are whole rows of the first
//! axis (at least one row, about [`TILE_ELEMS`] elements), each reduced over the
//! same axes and merged into the running partial: again no block-sized buffer.
//! Otherwise (the first axis kept, or arg-reductions, whose indices need block
//! coordinates) the chain's result is evaluated into one block-sized buffer,
//! then reduced.

use crate::chunk::{Chunk, Partial};
use crate::elementwise::{
    check_grid, eval_parts, eval_windows, for_each_tile_windows, view_inputs, Part, TileSlice,
    Window, TILE,
};
use crate::error::Result;
use crate::reduce::{merge, partial, ArgContext, ReduceKind};
use crate::ElementwiseProgram;
use ndarray::{ArrayD, IxDyn};

/// The partial of `kind` over `axes` of the program's result on `inputs`
/// (broadcast to `shape`), without a graph task for the program's result.
/// Inputs are read through `windows` as in [`eval_windows`] (empty: no windows).
///
/// # Errors
/// As [`eval_windows`] and [`partial`].
pub fn partial_fused(
    kind: ReduceKind,
    program: &ElementwiseProgram,
    inputs: &[&Chunk],
    windows: &[Option<Window>],
    shape: &[usize],
    axes: &[usize],
    arg: Option<&ArgContext>,
) -> Result<Chunk> {
    let n: usize = shape.iter().product();
    let streams = !shape.is_empty() && n > 0 && !kind.is_arg();
    if streams && axes.len() == shape.len() {
        let acc = fold_tiles(program, inputs, windows, shape, TILE, kind, |tile| {
            partial(kind, &tile_chunk(tile), &[0], None)
        })?;
        return Ok(keepdims(acc, shape.len()));
    }
    let row: usize = shape.iter().skip(1).product();
    if streams && shape.len() > 1 && shape[0] > 1 && axes.contains(&0) && row <= MAX_ROW_ELEMS {
        let rows_per_tile = (TILE_ELEMS / row).max(1);
        let mut tile_shape = shape.to_vec();
        return fold_tiles(
            program,
            inputs,
            windows,
            shape,
            rows_per_tile * row,
            kind,
            |tile| {
                tile_shape[0] = tile.len() / row;
                partial(kind, &shaped_tile(tile, &tile_shape), axes, None)
            },
        );
    }
    let values = eval_windows(program, inputs, windows, shape)?;
    partial(kind, &values, axes, arg)
}

/// [`partial_fused`] of a program evaluated part by part ([`eval_parts`]).
/// Over all axes it streams: each part's tiles are reduced as they are
/// computed, and the parts' partials merged in their order; otherwise the
/// block is evaluated whole, then reduced.
///
/// # Errors
/// As [`eval_parts`] and [`partial`].
pub fn partial_parts(
    kind: ReduceKind,
    program: &ElementwiseProgram,
    inputs: &[&Chunk],
    parts: &[Part],
    shape: &[usize],
    axes: &[usize],
    arg: Option<&ArgContext>,
) -> Result<Chunk> {
    let n: usize = shape.iter().product();
    if !shape.is_empty() && n > 0 && !kind.is_arg() && axes.len() == shape.len() {
        check_grid(parts, shape)?;
        let mut acc: Option<Chunk> = None;
        for part in parts {
            let (chunks, windows) = view_inputs(inputs, &part.views)?;
            let p = fold_tiles(
                program,
                &chunks,
                &windows,
                &part.shape,
                TILE,
                kind,
                |tile| partial(kind, &tile_chunk(tile), &[0], None),
            )?;
            acc = Some(match acc.take() {
                None => p,
                Some(a) => merge(kind, &[&a, &p])?,
            });
        }
        let acc = acc.expect("a non-empty block has at least one part");
        return Ok(keepdims(acc, shape.len()));
    }
    let values = eval_parts(program, inputs, parts, shape)?;
    partial(kind, &values, axes, arg)
}

/// The program's result over `shape` in tiles of `tile` elements, each turned
/// into a partial by `part` and merged into the running one, in order.
fn fold_tiles(
    program: &ElementwiseProgram,
    inputs: &[&Chunk],
    windows: &[Option<Window>],
    shape: &[usize],
    tile: usize,
    kind: ReduceKind,
    mut part: impl FnMut(&TileSlice<'_>) -> Result<Chunk>,
) -> Result<Chunk> {
    let mut acc: Option<Chunk> = None;
    for_each_tile_windows(program, inputs, windows, shape, tile, &mut |_, t| {
        let p = part(&t)?;
        acc = Some(match acc.take() {
            None => p,
            Some(a) => merge(kind, &[&a, &p])?,
        });
        Ok(())
    })?;
    Ok(acc.expect("a non-empty block has at least one tile"))
}

/// Elements per tile of a row-wise streamed partial (rows are never split).
pub const TILE_ELEMS: usize = 8192;

/// Longest row streamed row-wise: the evaluator's registers grow to a tile,
/// so longer rows take the block-sized path instead.
const MAX_ROW_ELEMS: usize = 1 << 16;

/// A tile of whole rows as a chunk of `shape`.
fn shaped_tile(tile: &TileSlice<'_>, shape: &[usize]) -> Chunk {
    fn one<T: crate::Element>(s: &[T], shape: &[usize]) -> Chunk {
        T::into_chunk(ArrayD::from_shape_vec(IxDyn(shape), s.to_vec()).expect("whole rows"))
    }
    match tile {
        TileSlice::Bool(s) => one(s, shape),
        TileSlice::I8(s) => one(s, shape),
        TileSlice::I16(s) => one(s, shape),
        TileSlice::I32(s) => one(s, shape),
        TileSlice::I64(s) => one(s, shape),
        TileSlice::U8(s) => one(s, shape),
        TileSlice::U16(s) => one(s, shape),
        TileSlice::U32(s) => one(s, shape),
        TileSlice::U64(s) => one(s, shape),
        TileSlice::F32(s) => one(s, shape),
        TileSlice::F64(s) => one(s, shape),
    }
}

/// A tile as a 1-d chunk.
fn tile_chunk(tile: &TileSlice<'_>) -> Chunk {
    shaped_tile(tile, &[tile.len()])
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
    use crate::elementwise::eval;
    use crate::reduce::finalize;
    use crate::{DType, Instr, Node, UnaryOp};

    /// `sin(x)` of one float64 input.
    fn sin_program() -> ElementwiseProgram {
        ElementwiseProgram {
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
        }
    }

    /// `sin(x)` over a 3-d block: streamed partials equal the unfused ones to
    /// rounding, for every kind that streams.
    #[test]
    fn streamed_partials_match_unfused() {
        let n = 5 * 7 * 300; // several tiles, a ragged last one
        let x = ArrayD::from_shape_fn(IxDyn(&[5, 7, 300]), |i| {
            (i[0] * 2100 + i[1] * 300 + i[2]) as f64 * 0.37 - 50.0
        });
        let input = Chunk::F64(x.clone());
        let p = sin_program();
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
            let got =
                partial_fused(kind, &p, &[&input], &[], &[5, 7, 300], &[0, 1, 2], None).unwrap();
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

    /// A block evaluated in parts (each reading a window of the input) and
    /// reduced: over all axes streamed part by part, over some axes through
    /// the whole block; each finalizes to the unfused partial to rounding.
    #[test]
    fn partials_of_parts_match_unfused() {
        use crate::elementwise::{InputView, Part};
        let shape = [5usize, 300];
        let x = ArrayD::from_shape_fn(IxDyn(&shape), |i| (i[0] * 300 + i[1]) as f64 * 0.37 - 50.0);
        let input = Chunk::F64(x);
        let p = sin_program();
        let values = eval(&p, &[&input], &shape).unwrap();
        let mut parts = Vec::new();
        for (r0, r1) in [(0, 2), (2, 5)] {
            for (c0, c1) in [(0, 7), (7, 299), (299, 300)] {
                parts.push(Part {
                    start: vec![r0, c0],
                    shape: vec![r1 - r0, c1 - c0],
                    views: vec![InputView {
                        input: 0,
                        window: Some(Window {
                            origin: vec![r0, c0],
                            shape: vec![r1 - r0, c1 - c0],
                        }),
                    }],
                });
            }
        }
        for kind in [
            ReduceKind::Sum,
            ReduceKind::Var { ddof: 1.0 },
            ReduceKind::Max,
        ] {
            for axes in [&[0usize, 1][..], &[0], &[1]] {
                let got = partial_parts(kind, &p, &[&input], &parts, &shape, axes, None).unwrap();
                let want = partial(kind, &values, axes, None).unwrap();
                let f = |c: &Chunk| match finalize(kind, c, axes, false).unwrap() {
                    Chunk::F64(a) => a.into_iter().collect::<Vec<_>>(),
                    other => panic!("{other:?}"),
                };
                let (g, w) = (f(&got), f(&want));
                assert_eq!(g.len(), w.len());
                for (a, b) in g.iter().zip(&w) {
                    assert!((a - b).abs() <= 1e-9, "{kind:?} {axes:?}: {a} vs {b}");
                }
            }
        }
        // Parts that do not cover the block are an error, streamed or not.
        let short = &parts[..5];
        assert!(
            partial_parts(ReduceKind::Sum, &p, &[&input], short, &shape, &[0, 1], None).is_err()
        );
        assert!(partial_parts(ReduceKind::Sum, &p, &[&input], short, &shape, &[0], None).is_err());
    }

    /// `sin(x)` reduced over axis sets that include the first: the row-wise
    /// streamed partials (tiles of whole rows, a ragged last tile, rows longer
    /// than a tile) finalize to the unfused ones to rounding, shapes included.
    #[test]
    fn row_streamed_partials_match_unfused() {
        let p = sin_program();
        let kinds = [
            ReduceKind::Sum,
            ReduceKind::Mean,
            ReduceKind::Var { ddof: 0.0 },
            ReduceKind::Min,
            ReduceKind::NanMax,
            ReduceKind::CountNonzero,
        ];
        let cases: [(&[usize], &[usize]); 5] = [
            (&[1000, 32], &[0]),
            (&[37, 5, 300], &[0]),
            (&[37, 5, 300], &[0, 2]),
            (&[3, 20_000], &[0]),
            (&[2, 3], &[0, 1][..1]),
        ];
        for (shape, axes) in cases {
            let x = ArrayD::from_shape_fn(IxDyn(shape), |i| {
                (0..shape.len())
                    .map(|d| i[d])
                    .fold(0.3, |a, k| a * 1.7 + k as f64)
                    - 20.0
            });
            let input = Chunk::F64(x);
            let values = eval(&p, &[&input], shape).unwrap();
            for kind in kinds {
                let got = partial_fused(kind, &p, &[&input], &[], shape, axes, None).unwrap();
                let want = partial(kind, &values, axes, None).unwrap();
                assert_eq!(got.shape(), want.shape(), "{kind:?} {shape:?} {axes:?}");
                let fin = |c: &Chunk| match finalize(kind, c, axes, false).unwrap() {
                    Chunk::F64(a) => a.into_iter().collect::<Vec<_>>(),
                    Chunk::I64(a) => a.into_iter().map(|v| v as f64).collect(),
                    other => panic!("{other:?}"),
                };
                let (g, w) = (fin(&got), fin(&want));
                assert_eq!(g.len(), w.len());
                for (a, b) in g.iter().zip(&w) {
                    assert!(
                        (a - b).abs() <= 1e-9 * (1.0 + b.abs()),
                        "{kind:?} {shape:?}: {a} vs {b}"
                    );
                }
            }
        }
    }
}
