//! Tests of `eval` and `for_each_tile` against the naive per-element reference in
//! `reference`: every op on every dtype family at tile-boundary sizes, splat
//! operands, broadcasting, memory layouts, NaN and integer edge cases, errors, and
//! random programs (`random_programs`).

// Exact float results are the point of these tests.
#![allow(clippy::float_cmp)]

mod random_programs;
mod reference;

use super::eval::TILE;
use super::program::{BinaryOp, CmpOp, ElementwiseProgram, Node, UnaryOp};
use super::{eval, for_each_tile, TileSlice};
use crate::{dispatch_dtype, Chunk, DType, Element, KernelError, Scalar};
use ndarray::{ArrayD, Axis, IxDyn, Slice};
use reference::{assert_values, reference, tile_values, values, V};

pub(crate) const SIZES: [usize; 6] = [0, 1, TILE - 1, TILE, TILE + 1, 2 * TILE + 3];

/// `SplitMix64`.
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub(crate) fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n as u64).unwrap()
    }

    pub(crate) fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len())]
    }

    #[allow(clippy::cast_precision_loss)]
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A value of `dtype`, biased towards edge cases: extremes, zero, NaN, infinities.
    #[allow(clippy::cast_possible_truncation, clippy::cast_possible_wrap)]
    pub(crate) fn value(&mut self, dtype: DType) -> V {
        let r = self.below(8);
        if dtype.is_float() {
            let x = match r {
                0 => self.pick(&[
                    f64::NAN,
                    f64::INFINITY,
                    f64::NEG_INFINITY,
                    0.0,
                    -0.0,
                    5e-324,
                    1e300,
                    -3e5,
                ]),
                1 => (self.unit() - 0.5) * 2e3,
                _ => {
                    ((self.unit() - 0.5) * 20.0 * 64.0).round() / 64.0 + (self.unit() - 0.5) * 1e-3
                }
            };
            return if dtype == DType::F32 {
                V::F32(x as f32)
            } else {
                V::F64(x)
            };
        }
        let bits = match r {
            0 => self.pick(&[
                0,
                1,
                u64::MAX,
                1 << 63,
                (1 << 63) - 1,
                0x80,
                0x7f,
                0x8000,
                0x8000_0000,
            ]),
            1 => self.next(),
            _ => (i64::try_from(self.below(11)).unwrap() - 5).cast_unsigned(),
        };
        V::U64(bits).cast(dtype)
    }
}

/// How an input chunk's memory is laid out.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Layout {
    Standard,
    /// Built with reversed axes (Fortran order).
    Transposed,
    /// Every other element of a twice-as-long array on every axis.
    Stepped,
    /// Every axis reversed (negative strides).
    Reversed,
}

pub(crate) const LAYOUTS: [Layout; 4] = [
    Layout::Standard,
    Layout::Transposed,
    Layout::Stepped,
    Layout::Reversed,
];

fn to_scalar(v: V) -> Scalar {
    match v {
        V::Bool(b) => Scalar::Bool(b),
        V::F32(x) => Scalar::Float(x.into()),
        V::F64(x) => Scalar::Float(x),
        V::U64(x) => Scalar::UInt(x),
        V::U8(_) | V::U16(_) | V::U32(_) => to_scalar(v.cast(DType::U64)),
        _ => match v.cast(DType::I64) {
            V::I64(x) => Scalar::Int(x),
            _ => unreachable!(),
        },
    }
}

/// A chunk of `shape` with random values of `dtype`, in `layout`.
pub(crate) fn random_chunk(rng: &mut Rng, dtype: DType, shape: &[usize], layout: Layout) -> Chunk {
    dispatch_dtype!(dtype, T => chunk_of(make::<T>(rng, shape, layout)))
}

fn make<T: Element>(rng: &mut Rng, shape: &[usize], layout: Layout) -> ArrayD<T> {
    let build = |rng: &mut Rng, shape: &[usize]| {
        let n = shape.iter().product();
        let data: Vec<T> = (0..n)
            .map(|_| to_scalar(rng.value(T::DTYPE)).to::<T>())
            .collect();
        ArrayD::from_shape_vec(IxDyn(shape), data).unwrap()
    };
    match layout {
        Layout::Standard => build(rng, shape),
        Layout::Transposed => {
            let rev: Vec<usize> = shape.iter().rev().copied().collect();
            build(rng, &rev).reversed_axes()
        }
        Layout::Stepped => {
            let big: Vec<usize> = shape.iter().map(|&n| 2 * n).collect();
            let mut a = build(rng, &big);
            a.slice_each_axis_inplace(|_| Slice::new(0, None, 2));
            a
        }
        Layout::Reversed => {
            let mut a = build(rng, shape);
            for ax in 0..a.ndim() {
                a.invert_axis(Axis(ax));
            }
            a
        }
    }
}

pub(crate) fn chunk_of<T: Element>(a: ArrayD<T>) -> Chunk {
    T::into_chunk(a)
}

pub(crate) fn program(inputs: &[DType], instrs: &[(Node, DType)]) -> ElementwiseProgram {
    let mut p = ElementwiseProgram {
        inputs: inputs.to_vec(),
        instrs: Vec::new(),
    };
    for (n, d) in instrs {
        p.push(n.clone(), *d);
    }
    p
}

/// Checks `eval` and `for_each_tile` against the reference; eval's output must be in
/// standard layout.
pub(crate) fn check(p: &ElementwiseProgram, inputs: &[&Chunk], out: &[usize], what: &str) {
    let want = reference(p, inputs, out);
    let got = eval(p, inputs, out).unwrap_or_else(|e| panic!("{what}: {e}"));
    assert_eq!(got.shape(), out, "{what}: shape");
    assert_eq!(got.dtype(), Some(p.out_dtype()), "{what}: dtype");
    assert!(
        crate::map_chunk!(&got, a => a.is_standard_layout(), _ => false),
        "{what}: layout"
    );
    assert_values(&values(&got), &want, what);
    let mut tiles = Vec::new();
    let mut next = 0;
    for_each_tile(p, inputs, out, &mut |start, t| {
        assert_eq!(start, next, "{what}: tiles in order without gaps");
        assert!(!t.is_empty() && t.len() <= TILE);
        assert_eq!(t.dtype(), p.out_dtype());
        next += t.len();
        tiles.extend(tile_values(t));
        Ok(())
    })
    .unwrap();
    assert_values(&tiles, &want, &format!("{what} (tiles)"));
}

fn binary_ops(dtype: DType) -> Vec<BinaryOp> {
    use BinaryOp::{Add, And, Div, Maximum, Minimum, Mul, Or, Pow, Rem, Sub};
    match dtype {
        DType::Bool => vec![And, Or, Minimum, Maximum],
        d if d.is_float() => vec![Add, Sub, Mul, Div, Rem, Pow, Minimum, Maximum],
        _ => vec![Add, Sub, Mul, Div, Rem, Minimum, Maximum],
    }
}

pub(crate) fn unary_ops(dtype: DType) -> Vec<UnaryOp> {
    use UnaryOp::{
        Abs, Ceil, Cos, Exp, Floor, IsFinite, IsNan, Ln, Log10, Neg, Not, Powi, Round, Sin, Sqrt,
        Tan, Tanh,
    };
    match dtype {
        DType::Bool => vec![Not, IsNan, IsFinite],
        d if d.is_float() => vec![
            Neg,
            Abs,
            Sqrt,
            Exp,
            Ln,
            Log10,
            Sin,
            Cos,
            Tan,
            Tanh,
            Floor,
            Ceil,
            Round,
            IsNan,
            IsFinite,
            Powi(0),
            Powi(1),
            Powi(2),
            Powi(3),
            Powi(-1),
            Powi(-4),
            Powi(7),
            Powi(i32::MIN),
        ],
        _ => vec![Neg, Abs, IsNan, IsFinite],
    }
}

pub(crate) fn unary_dtype(op: UnaryOp, operand: DType) -> DType {
    if matches!(op, UnaryOp::IsNan | UnaryOp::IsFinite) {
        DType::Bool
    } else {
        operand
    }
}

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
            let out = unary_dtype(op, dtype);
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
        for op in [
            CmpOp::Eq,
            CmpOp::Ne,
            CmpOp::Lt,
            CmpOp::Le,
            CmpOp::Gt,
            CmpOp::Ge,
        ] {
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
        (&bad, vec![&i], vec![2, 3], "needs a float"),
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
