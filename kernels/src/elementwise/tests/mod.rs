//! Tests of `eval` and `for_each_tile` against the naive per-element reference in
//! `reference`: every op on every dtype family at tile-boundary sizes, splat
//! operands, broadcasting, memory layouts, NaN and integer edge cases, errors, and
//! random programs (`random_programs`).

// Exact float results are the point of these tests.
#![allow(clippy::float_cmp)]

mod ops;
mod random_programs;
mod reference;
mod shapes;
mod ufuncs;

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

/// The binary ops defined for `dtype`, from [`BinaryOp::ALL`].
pub(crate) fn binary_ops(dtype: DType) -> Vec<BinaryOp> {
    BinaryOp::ALL
        .iter()
        .copied()
        .filter(|op| op.domain().contains(dtype))
        .collect()
}

/// The unary ops defined for `dtype`, from [`UnaryOp::ALL`], with `Powi` at
/// several exponents (edge cases of its bit loop).
pub(crate) fn unary_ops(dtype: DType) -> Vec<UnaryOp> {
    let mut ops: Vec<UnaryOp> = UnaryOp::ALL
        .iter()
        .copied()
        .filter(|op| op.domain().contains(dtype))
        .collect();
    if UnaryOp::Powi(0).domain().contains(dtype) {
        ops.extend([0, 1, 3, -1, -4, 7, i32::MIN].map(UnaryOp::Powi));
    }
    ops
}
