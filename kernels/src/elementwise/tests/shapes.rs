//! Broadcasting, memory layouts, degenerate shapes, tile coverage and errors.

use super::*;

#[test]
fn broadcasting_and_layouts() {
    let mut rng = Rng(6);
    let out = [3, 5, 7];
    let shapes: [&[usize]; 9] = [
        &[],
        &[1],
        &[7],
        &[5, 1],
        &[1, 7],
        &[3, 1, 7],
        &[3, 5, 7],
        &[1, 1, 1],
        &[5, 7],
    ];
    for a_shape in shapes {
        for b_shape in [&[3usize, 5, 7][..], &[1, 5, 1], &[]] {
            for layout in LAYOUTS {
                let a = random_chunk(&mut rng, DType::F64, a_shape, layout);
                let b_layout = LAYOUTS[rng.below(4)];
                let b = random_chunk(&mut rng, DType::I32, b_shape, b_layout);
                let p = program(
                    &[DType::F64, DType::I32],
                    &[
                        (Node::Input(0), DType::F64),
                        (Node::Input(1), DType::I32),
                        (Node::Cast(1), DType::F64),
                        (Node::Binary(BinaryOp::Mul, 0, 2), DType::F64),
                    ],
                );
                check(
                    &p,
                    &[&a, &b],
                    &out,
                    &format!("{a_shape:?} {layout:?} * {b_shape:?}"),
                );
            }
        }
    }
    // Rows longer than a tile, broadcast along the other axis, and columns.
    for (a_shape, out) in [
        (&[TILE + 5][..], &[3, TILE + 5][..]),
        (&[3, 1], &[3, TILE + 5]),
        (&[2, 1, 3], &[2, 1500, 3]),
    ] {
        for layout in LAYOUTS {
            let a = random_chunk(&mut rng, DType::I16, a_shape, layout);
            let p = program(
                &[DType::I16],
                &[
                    (Node::Input(0), DType::I16),
                    (Node::Unary(UnaryOp::Neg, 0), DType::I16),
                ],
            );
            check(
                &p,
                &[&a],
                out,
                &format!("{a_shape:?} {layout:?} -> {out:?}"),
            );
        }
    }
}

#[test]
fn a_single_input_or_scalar_program() {
    let mut rng = Rng(7);
    for layout in LAYOUTS {
        let a = random_chunk(&mut rng, DType::U32, &[4, TILE / 2 + 1], layout);
        check(
            &program(&[DType::U32], &[(Node::Input(0), DType::U32)]),
            &[&a],
            &[4, TILE / 2 + 1],
            &format!("identity {layout:?}"),
        );
    }
    let p = program(&[], &[(Node::Scalar(Scalar::Float(2.5)), DType::F32)]);
    check(&p, &[], &[2, TILE + 1], "scalar only");
    // Instructions the result does not use are skipped but still validated.
    let p = program(
        &[DType::F64],
        &[
            (Node::Input(0), DType::F64),
            (Node::Unary(UnaryOp::Ln, 0), DType::F64),
            (Node::Scalar(Scalar::Int(3)), DType::I8),
        ],
    );
    check(
        &p,
        &[&random_chunk(&mut rng, DType::F64, &[5], Layout::Standard)],
        &[5],
        "dead code",
    );
}

#[test]
fn zero_size_and_zero_d_outputs() {
    let mut rng = Rng(8);
    let p = program(
        &[DType::F64, DType::F64],
        &[
            (Node::Input(0), DType::F64),
            (Node::Input(1), DType::F64),
            (Node::Binary(BinaryOp::Add, 0, 1), DType::F64),
        ],
    );
    let z = random_chunk(&mut rng, DType::F64, &[0, 3], Layout::Stepped);
    let one = random_chunk(&mut rng, DType::F64, &[1], Layout::Standard);
    check(&p, &[&z, &one], &[0, 3], "zero-size");
    check(
        &p,
        &[&one, &one],
        &[2, 0, 1],
        "zero-size out, size-1 inputs",
    );
    let s = random_chunk(&mut rng, DType::F64, &[], Layout::Standard);
    check(&p, &[&s, &s], &[], "0-d");
    let got = eval(&p, &[&s, &s], &[]).unwrap();
    assert_eq!(got.shape(), &[] as &[usize]);
    let mut calls = 0;
    for_each_tile(&p, &[&z, &one], &[0, 3], &mut |_, _| {
        calls += 1;
        Ok(())
    })
    .unwrap();
    assert_eq!(calls, 0);
}

#[test]
fn tiles_cover_output_once_in_order() {
    let n = 3 * TILE + 17;
    let a = chunk_of(ArrayD::from_shape_fn(IxDyn(&[n]), |i| {
        i64::try_from(i[0]).unwrap()
    }));
    let p = program(
        &[DType::I64],
        &[
            (Node::Input(0), DType::I64),
            (Node::Scalar(Scalar::Int(1)), DType::I64),
            (Node::Binary(BinaryOp::Add, 0, 1), DType::I64),
        ],
    );
    let mut seen = vec![0u8; n];
    let mut last_start = None;
    for_each_tile(&p, &[&a], &[n], &mut |start, t| {
        assert!(last_start.is_none_or(|s| s < start));
        last_start = Some(start);
        let TileSlice::I64(v) = t else {
            panic!("dtype")
        };
        for (k, &x) in v.iter().enumerate() {
            assert_eq!(x, i64::try_from(start + k).unwrap() + 1);
            seen[start + k] += 1;
        }
        Ok(())
    })
    .unwrap();
    assert!(seen.iter().all(|&c| c == 1));
    // An error from the callback stops the evaluation and is returned.
    let mut calls = 0;
    let r = for_each_tile(&p, &[&a], &[n], &mut |_, _| {
        calls += 1;
        Err(KernelError::Other("stop".into()))
    });
    assert_eq!(r, Err(KernelError::Other("stop".into())));
    assert_eq!(calls, 1);
}

#[test]
fn every_error_case_returns_err() {
    let f = chunk_of(ArrayD::<f64>::zeros(IxDyn(&[2, 3])));
    let i = chunk_of(ArrayD::<i32>::zeros(IxDyn(&[2, 3])));
    let good = program(
        &[DType::F64],
        &[
            (Node::Input(0), DType::F64),
            (Node::Unary(UnaryOp::Sin, 0), DType::F64),
        ],
    );
    let empty = ElementwiseProgram::default();
    let bad = program(
        &[DType::I32],
        &[
            (Node::Input(0), DType::I32),
            (Node::Unary(UnaryOp::Sin, 0), DType::I32),
        ],
    );
    let cases: Vec<(&ElementwiseProgram, Vec<&Chunk>, Vec<usize>, &str)> = vec![
        (&good, vec![], vec![2, 3], "takes 1 inputs, got 0"),
        (&good, vec![&f, &f], vec![2, 3], "takes 1 inputs, got 2"),
        (
            &good,
            vec![&i],
            vec![2, 3],
            "expected a chunk of dtype float64, got int32",
        ),
        (&good, vec![&f], vec![3, 2], "shape mismatch"),
        (&good, vec![&f], vec![3], "shape mismatch"),
        (&good, vec![&f], vec![4, 3, 3], "shape mismatch"),
        (&good, vec![&f], vec![usize::MAX, 2, 3], "too large"),
        (&bad, vec![&i], vec![2, 3], "needs float operands"),
        (&empty, vec![], vec![], "no instructions"),
    ];
    let partial = Chunk::Unit;
    for (p, inputs, out, needle) in
        cases
            .into_iter()
            .chain([(&good, vec![&partial], vec![], "partial or unit")])
    {
        let e = eval(p, &inputs, &out).expect_err(needle).to_string();
        assert!(e.contains(needle), "{e:?} should mention {needle:?}");
        let e = for_each_tile(p, &inputs, &out, &mut |_, _| Ok(()))
            .expect_err(needle)
            .to_string();
        assert!(e.contains(needle), "{e:?} should mention {needle:?}");
    }
}

/// A window reads the region of its chunk as a chunk of that region would:
/// every memory layout, regions touching either edge, broadcast windows.
#[test]
fn windows_read_regions_of_their_chunks() {
    use super::super::{eval_windows, for_each_tile_windows, Window};
    let mut rng = Rng(11);
    let p = program(
        &[DType::F64, DType::F64],
        &[
            (Node::Input(0), DType::F64),
            (Node::Input(1), DType::F64),
            (Node::Binary(BinaryOp::Sub, 0, 1), DType::F64),
        ],
    );
    for layout in LAYOUTS {
        for _ in 0..40 {
            let shape = [1 + rng.below(9), 1 + rng.below(TILE / 64 + 40)];
            let a = random_chunk(&mut rng, DType::F64, &shape, layout);
            let lb = LAYOUTS[rng.below(4)];
            let b = random_chunk(&mut rng, DType::F64, &shape, lb);
            let out: Vec<usize> = shape.iter().map(|&n| 1 + rng.below(n)).collect();
            let origin = |rng: &mut Rng| -> Vec<usize> {
                shape
                    .iter()
                    .zip(&out)
                    .map(|(&n, &o)| rng.below(n - o + 1))
                    .collect()
            };
            let (oa, ob) = (origin(&mut rng), origin(&mut rng));
            // `b` read as one row, broadcast over the output's rows.
            let row = rng.below(2) == 0;
            let wb = Window {
                origin: if row { vec![ob[0], ob[1]] } else { ob.clone() },
                shape: if row { vec![1, out[1]] } else { out.clone() },
            };
            let cut = |c: &Chunk, w: &Window| -> Chunk {
                let Chunk::F64(x) = c else { unreachable!() };
                Chunk::F64(
                    x.slice_each_axis(|d| {
                        let ax = d.axis.index();
                        Slice::from(w.origin[ax]..w.origin[ax] + w.shape[ax])
                    })
                    .to_owned(),
                )
            };
            let wa = Window {
                origin: oa,
                shape: out.clone(),
            };
            let want = eval(&p, &[&cut(&a, &wa), &cut(&b, &wb)], &out).unwrap();
            let windows = [Some(wa.clone()), Some(wb.clone())];
            let got = eval_windows(&p, &[&a, &b], &windows, &out).unwrap();
            let bits = |c: &Chunk| -> Vec<u64> {
                let Chunk::F64(x) = c else { unreachable!() };
                x.iter().map(|v| v.to_bits()).collect()
            };
            assert_eq!(got.shape(), want.shape());
            assert_eq!(bits(&got), bits(&want), "{layout:?} {shape:?} {windows:?}");
            let mut tiles = Vec::new();
            for_each_tile_windows(&p, &[&a, &b], &windows, &out, 7, &mut |_, t| {
                let TileSlice::F64(v) = t else { unreachable!() };
                tiles.extend_from_slice(v);
                Ok(())
            })
            .unwrap();
            let tiles: Vec<u64> = tiles.iter().map(|v| v.to_bits()).collect();
            assert_eq!(tiles, bits(&want));
        }
    }
    // A window outside its chunk, or with the wrong number of axes, is an error.
    let a = random_chunk(&mut rng, DType::F64, &[4, 5], LAYOUTS[0]);
    for w in [
        Window {
            origin: vec![1, 1],
            shape: vec![4, 2],
        },
        Window {
            origin: vec![0],
            shape: vec![4],
        },
    ] {
        let windows = [Some(w.clone()), None];
        assert!(
            eval_windows(&p, &[&a, &a], &windows, &w.shape).is_err(),
            "{w:?}"
        );
    }
    assert!(eval_windows(&p, &[&a, &a], &[None], &[4, 5]).is_err());
}

/// A block evaluated in parts, each reading its own region of the inputs,
/// equals the block evaluated whole; parts that do not cut the block into a
/// grid are an error.
#[test]
fn parts_equal_the_whole_block() {
    use super::super::{eval_parts, InputView, Part, Window};
    let mut rng = Rng(12);
    let p = program(
        &[DType::F64, DType::F64],
        &[
            (Node::Input(0), DType::F64),
            (Node::Input(1), DType::F64),
            (Node::Binary(BinaryOp::Mul, 0, 1), DType::F64),
            (Node::Unary(UnaryOp::Sin, 2), DType::F64),
        ],
    );
    for _ in 0..60 {
        let out = [1 + rng.below(7), 1 + rng.below(TILE / 32 + 90)];
        // `a` of the output's shape, `b` one row broadcast over the rows.
        let (la, lb) = (LAYOUTS[rng.below(4)], LAYOUTS[rng.below(4)]);
        let a = random_chunk(&mut rng, DType::F64, &out, la);
        let b = random_chunk(&mut rng, DType::F64, &[1, out[1]], lb);
        let want = eval(&p, &[&a, &b], &out).unwrap();
        let cuts: Vec<Vec<usize>> = out
            .iter()
            .map(|&n| {
                let mut c = vec![0, n];
                for _ in 0..rng.below(3) {
                    c.push(rng.below(n + 1));
                }
                c.sort_unstable();
                c.dedup();
                c
            })
            .collect();
        let mut parts = Vec::new();
        for r in cuts[0].windows(2) {
            for c in cuts[1].windows(2) {
                let (start, shape) = (vec![r[0], c[0]], vec![r[1] - r[0], c[1] - c[0]]);
                let views = vec![
                    InputView {
                        input: 0,
                        window: Some(Window {
                            origin: start.clone(),
                            shape: shape.clone(),
                        }),
                    },
                    InputView {
                        input: 1,
                        window: Some(Window {
                            origin: vec![0, c[0]],
                            shape: vec![1, shape[1]],
                        }),
                    },
                ];
                parts.push(Part {
                    start,
                    shape,
                    views,
                });
            }
        }
        // Parts may come in any order.
        parts.reverse();
        let got = eval_parts(&p, &[&a, &b], &parts, &out).unwrap();
        let bits = |c: &Chunk| -> Vec<u64> {
            let Chunk::F64(x) = c else { unreachable!() };
            x.iter().map(|v| v.to_bits()).collect()
        };
        assert_eq!(got.shape(), want.shape());
        assert_eq!(bits(&got), bits(&want), "{out:?} {cuts:?}");
    }
    // A gap, an overlap, a missing input.
    let a = random_chunk(&mut rng, DType::F64, &[4, 6], LAYOUTS[0]);
    let part = |start: Vec<usize>, shape: Vec<usize>, input: u32| Part {
        views: vec![
            InputView {
                input,
                window: Some(Window {
                    origin: start.clone(),
                    shape: shape.clone(),
                }),
            },
            InputView {
                input: 0,
                window: Some(Window {
                    origin: start.clone(),
                    shape: shape.clone(),
                }),
            },
        ],
        start,
        shape,
    };
    for parts in [
        vec![part(vec![0, 0], vec![4, 3], 0)],
        vec![
            part(vec![0, 0], vec![4, 4], 0),
            part(vec![0, 3], vec![4, 3], 0),
        ],
        vec![part(vec![0, 0], vec![4, 6], 1)],
        vec![
            part(vec![0, 0], vec![2, 6], 0),
            part(vec![2, 0], vec![2, 3], 0),
        ],
    ] {
        assert!(eval_parts(&p, &[&a], &parts, &[4, 6]).is_err(), "{parts:?}");
    }
}
