//! Every operation on every dtype family against the reference, at the sizes
//! around tile boundaries, with slice and splat operands; integer and NaN edge
//! cases spelled out.

use super::*;

#[test]
fn every_binary_op_and_dtype_at_tile_sizes() {
    let mut rng = Rng(1);
    for dtype in DType::ALL {
        for op in binary_ops(dtype) {
            for n in SIZES {
                let a = random_chunk(&mut rng, dtype, &[n], Layout::Standard);
                let b = random_chunk(&mut rng, dtype, &[n], Layout::Standard);
                let s = to_scalar(rng.value(dtype));
                let what = format!("{op:?} {dtype} n={n}");
                let p = program(
                    &[dtype, dtype],
                    &[
                        (Node::Input(0), dtype),
                        (Node::Input(1), dtype),
                        (Node::Binary(op, 0, 1), dtype),
                    ],
                );
                check(&p, &[&a, &b], &[n], &what);
                // Slice-splat and splat-slice loops.
                let p = program(
                    &[dtype],
                    &[
                        (Node::Input(0), dtype),
                        (Node::Scalar(s), dtype),
                        (Node::Binary(op, 0, 1), dtype),
                    ],
                );
                check(&p, &[&a], &[n], &format!("{what} x-scalar"));
                let p = program(
                    &[dtype],
                    &[
                        (Node::Input(0), dtype),
                        (Node::Scalar(s), dtype),
                        (Node::Binary(op, 1, 0), dtype),
                    ],
                );
                check(&p, &[&a], &[n], &format!("{what} scalar-x"));
            }
        }
    }
}

#[test]
fn every_unary_op_and_dtype_at_tile_sizes() {
    let mut rng = Rng(2);
    for dtype in DType::ALL {
        for op in unary_ops(dtype) {
            let out = op.result_dtype(dtype);
            for n in SIZES {
                let a = random_chunk(&mut rng, dtype, &[n], Layout::Standard);
                let p = program(
                    &[dtype],
                    &[(Node::Input(0), dtype), (Node::Unary(op, 0), out)],
                );
                check(&p, &[&a], &[n], &format!("{op:?} {dtype} n={n}"));
            }
            // A splat operand computes one element.
            let s = to_scalar(rng.value(dtype));
            let p = program(&[], &[(Node::Scalar(s), dtype), (Node::Unary(op, 0), out)]);
            check(&p, &[], &[3, TILE], &format!("{op:?} {dtype} of scalar"));
        }
    }
}

#[test]
fn every_comparison_and_dtype() {
    let mut rng = Rng(3);
    for dtype in DType::ALL {
        for &op in CmpOp::ALL {
            for n in [0, 1, TILE + 1] {
                let a = random_chunk(&mut rng, dtype, &[n], Layout::Standard);
                let b = random_chunk(&mut rng, dtype, &[n], Layout::Standard);
                let c = random_chunk(&mut rng, DType::Bool, &[n], Layout::Standard);
                // Compares a with where(c, a, b), so many pairs are equal.
                let p = program(
                    &[dtype, dtype, DType::Bool],
                    &[
                        (Node::Input(0), dtype),
                        (Node::Input(1), dtype),
                        (Node::Input(2), DType::Bool),
                        (Node::Where(2, 0, 1), dtype),
                        (Node::Compare(op, 0, 3), DType::Bool),
                    ],
                );
                check(&p, &[&a, &b, &c], &[n], &format!("{op:?} {dtype} n={n}"));
            }
        }
    }
}

#[test]
fn every_cast_pair() {
    let mut rng = Rng(4);
    for from in DType::ALL {
        let a = random_chunk(&mut rng, from, &[TILE + 3], Layout::Standard);
        for to in DType::ALL {
            let p = program(&[from], &[(Node::Input(0), from), (Node::Cast(0), to)]);
            check(&p, &[&a], &[TILE + 3], &format!("cast {from} -> {to}"));
        }
    }
}

#[test]
fn where_and_clip_on_every_dtype() {
    let mut rng = Rng(5);
    for dtype in DType::ALL {
        for n in [0, 1, TILE, 2 * TILE + 3] {
            let c = random_chunk(&mut rng, DType::Bool, &[n], Layout::Standard);
            let a = random_chunk(&mut rng, dtype, &[n], Layout::Standard);
            let b = random_chunk(&mut rng, dtype, &[n], Layout::Standard);
            let (lo, hi) = (to_scalar(rng.value(dtype)), to_scalar(rng.value(dtype)));
            let s = to_scalar(rng.value(dtype));
            let ins = [DType::Bool, dtype, dtype];
            let base = [
                (Node::Input(0), DType::Bool),
                (Node::Input(1), dtype),
                (Node::Input(2), dtype),
                (Node::Scalar(s), dtype),
            ];
            for (x, y) in [(1, 2), (1, 3), (3, 2), (3, 3)] {
                let mut instrs = base.to_vec();
                instrs.push((Node::Where(0, x, y), dtype));
                check(
                    &program(&ins, &instrs),
                    &[&c, &a, &b],
                    &[n],
                    &format!("where {dtype} n={n} ({x},{y})"),
                );
            }
            let mut instrs = base.to_vec();
            instrs.push((Node::Clip(1, lo, hi), dtype));
            check(
                &program(&ins, &instrs),
                &[&c, &a, &b],
                &[n],
                &format!("clip {dtype} n={n}"),
            );
        }
    }
}

#[test]
fn integer_division_edge_cases() {
    let a = [7, -7, 7, i32::MIN, i32::MIN, 5, 0];
    let b = [2, 2, 0, -1, 0, -3, 0];
    let q: Vec<i32> = vec_of(run1(Node::Binary(BinaryOp::Div, 0, 1), DType::I32, &a, &b));
    assert_eq!(q, [3, -3, 0, i32::MIN, 0, -1, 0]);
    let r: Vec<i32> = vec_of(run1(Node::Binary(BinaryOp::Rem, 0, 1), DType::I32, &a, &b));
    assert_eq!(r, [1, -1, 0, 0, 0, 2, 0]);
    let u: Vec<u8> = vec_of(run1(
        Node::Binary(BinaryOp::Div, 0, 1),
        DType::U8,
        &[200u8, 9],
        &[0, 4],
    ));
    assert_eq!(u, [0, 2]);
    let w: Vec<i8> = vec_of(run1(
        Node::Binary(BinaryOp::Add, 0, 1),
        DType::I8,
        &[127i8, -128],
        &[1, -1],
    ));
    assert_eq!(w, [-128, 127]);
    let n: Vec<i8> = vec_of(run1(
        Node::Unary(UnaryOp::Neg, 0),
        DType::I8,
        &[-128i8, 5],
        &[0, 0],
    ));
    assert_eq!(n, [-128, -5]);
    let abs: Vec<i64> = vec_of(run1(
        Node::Unary(UnaryOp::Abs, 0),
        DType::I64,
        &[i64::MIN, -3],
        &[0, 0],
    ));
    assert_eq!(abs, [i64::MIN, 3]);
}

#[test]
fn nan_handling() {
    let nan = f64::NAN;
    let a = [nan, 1.0, nan, 2.0];
    let b = [1.0, nan, nan, 3.0];
    let min: Vec<f64> = vec_of(run1(
        Node::Binary(BinaryOp::Minimum, 0, 1),
        DType::F64,
        &a,
        &b,
    ));
    assert!(min[..3].iter().all(|x| x.is_nan()) && min[3] == 2.0);
    let max: Vec<f64> = vec_of(run1(
        Node::Binary(BinaryOp::Maximum, 0, 1),
        DType::F64,
        &a,
        &b,
    ));
    assert!(max[..3].iter().all(|x| x.is_nan()) && max[3] == 3.0);
    let clip: Vec<f64> = vec_of(run1(
        Node::Clip(0, Scalar::Float(0.0), Scalar::Float(1.5)),
        DType::F64,
        &a,
        &b,
    ));
    assert!(clip[0].is_nan() && clip[2].is_nan());
    assert_eq!((clip[1], clip[3]), (1.0, 1.5));
    let ne: Vec<bool> = vec_of(run1(Node::Compare(CmpOp::Ne, 0, 1), DType::Bool, &a, &b));
    assert_eq!(ne, [true, true, true, true]);
    let le: Vec<bool> = vec_of(run1(Node::Compare(CmpOp::Le, 0, 1), DType::Bool, &a, &b));
    assert_eq!(le, [false, false, false, true]);
    let isnan: Vec<bool> = vec_of(run1(Node::Unary(UnaryOp::IsNan, 0), DType::Bool, &a, &b));
    assert_eq!(isnan, [true, false, true, false]);
    let fin: Vec<bool> = vec_of(run1(
        Node::Unary(UnaryOp::IsFinite, 0),
        DType::Bool,
        &[nan, f64::INFINITY, -1.0],
        &[0.0; 3],
    ));
    assert_eq!(fin, [false, false, true]);
    let to_int: Vec<i32> = vec_of(run1(
        Node::Cast(0),
        DType::I32,
        &[nan, 1e20, -1e20, -2.7],
        &[0.0; 4],
    ));
    assert_eq!(to_int, [0, i32::MAX, i32::MIN, -2]);
    let to_bool: Vec<bool> = vec_of(run1(
        Node::Cast(0),
        DType::Bool,
        &[nan, 0.0, -0.0, 0.5],
        &[0.0; 4],
    ));
    assert_eq!(to_bool, [true, false, false, true]);
    let int_nan: Vec<bool> = vec_of(run1(
        Node::Unary(UnaryOp::IsNan, 0),
        DType::Bool,
        &[1u8, 2],
        &[0, 0],
    ));
    assert_eq!(int_nan, [false, false]);
    let int_fin: Vec<bool> = vec_of(run1(
        Node::Unary(UnaryOp::IsFinite, 0),
        DType::Bool,
        &[true],
        &[false],
    ));
    assert_eq!(int_fin, [true]);
}

#[test]
fn sin_squared_plus_cos_squared_is_one() {
    let n = 3 * TILE + 5;
    let x: Vec<f64> = (0..n)
        .map(|i| f64::from(u32::try_from(i).unwrap()) * 0.37 - 500.0)
        .collect();
    let c = chunk_of(ArrayD::from_shape_vec(IxDyn(&[n]), x).unwrap());
    let p = program(
        &[DType::F64],
        &[
            (Node::Input(0), DType::F64),
            (Node::Unary(UnaryOp::Sin, 0), DType::F64),
            (Node::Unary(UnaryOp::Powi(2), 1), DType::F64),
            (Node::Unary(UnaryOp::Cos, 0), DType::F64),
            (Node::Unary(UnaryOp::Powi(2), 3), DType::F64),
            (Node::Binary(BinaryOp::Add, 2, 4), DType::F64),
        ],
    );
    let out: Vec<f64> = vec_of(eval(&p, &[&c], &[n]).unwrap());
    assert!(
        out.iter().all(|v| (v - 1.0).abs() < 4e-16),
        "sin^2 + cos^2 off by more than 2 ulp"
    );
}

/// A one-op program on literal f64 or i32 inputs, evaluated.
fn run1<T: Element>(node: Node, out: DType, a: &[T], b: &[T]) -> Chunk {
    let d = T::DTYPE;
    let p = program(
        &[d, d],
        &[(Node::Input(0), d), (Node::Input(1), d), (node, out)],
    );
    let ca = chunk_of(ArrayD::from_shape_vec(IxDyn(&[a.len()]), a.to_vec()).unwrap());
    let cb = chunk_of(ArrayD::from_shape_vec(IxDyn(&[b.len()]), b.to_vec()).unwrap());
    eval(&p, &[&ca, &cb], &[a.len()]).unwrap()
}

fn vec_of<T: Element>(c: Chunk) -> Vec<T> {
    T::from_chunk(c).unwrap().iter().copied().collect()
}
