//! The typed kernels of every instruction, over one tile. An operand is either a
//! slice of the tile's length or a splat (one value for the whole tile); each
//! combination gets its own plain loop over slices, which LLVM vectorizes. When
//! every operand is a splat the result is a splat too: one element is computed.

// The per-element closures and ops must inline into the slice loops to vectorize.
#![allow(clippy::inline_always)]

use super::lane::{Kind, Lane};
use super::math;
use crate::elementwise::program::{BinaryOp, CmpOp, UnaryOp};

/// One operand of an instruction for the current tile.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Operand<'a, T> {
    /// One value per element of the tile.
    Slice(&'a [T]),
    /// The same value for every element of the tile.
    Splat(T),
}

#[inline(always)]
pub(crate) fn map1<A: Copy, O>(
    a: Operand<'_, A>,
    out: &mut [O],
    f: impl Fn(A) -> O,
) -> Kind<'static> {
    match a {
        Operand::Slice(a) => {
            debug_assert_eq!(a.len(), out.len(), "a full register for a slice result");
            for (o, &x) in out.iter_mut().zip(a) {
                *o = f(x);
            }
            Kind::Full
        }
        Operand::Splat(x) => {
            out[0] = f(x);
            Kind::Splat
        }
    }
}

#[inline(always)]
pub(crate) fn map2<A: Copy, B: Copy, O>(
    a: Operand<'_, A>,
    b: Operand<'_, B>,
    out: &mut [O],
    f: impl Fn(A, B) -> O,
) -> Kind<'static> {
    match (a, b) {
        (Operand::Slice(a), Operand::Slice(b)) => {
            debug_assert!(
                a.len() == out.len() && b.len() == out.len(),
                "operand and output lengths"
            );
            for ((o, &x), &y) in out.iter_mut().zip(a).zip(b) {
                *o = f(x, y);
            }
        }
        (Operand::Slice(a), Operand::Splat(y)) => {
            debug_assert_eq!(a.len(), out.len(), "a full register for a slice result");
            for (o, &x) in out.iter_mut().zip(a) {
                *o = f(x, y);
            }
        }
        (Operand::Splat(x), Operand::Slice(b)) => {
            debug_assert_eq!(b.len(), out.len(), "a full register for a slice result");
            for (o, &y) in out.iter_mut().zip(b) {
                *o = f(x, y);
            }
        }
        (Operand::Splat(x), Operand::Splat(y)) => {
            out[0] = f(x, y);
            return Kind::Splat;
        }
    }
    Kind::Full
}

/// Applies a whole-slice kernel (`math::sin_f64` and friends) to an operand.
fn map_slice<T: Copy>(a: Operand<'_, T>, out: &mut [T], f: fn(&[T], &mut [T])) -> Kind<'static> {
    match a {
        Operand::Slice(a) => {
            f(a, &mut out[..a.len()]);
            Kind::Full
        }
        Operand::Splat(x) => {
            // The same kernel on one element, so splat and slice results agree bit for bit.
            f(&[x], &mut out[..1]);
            Kind::Splat
        }
    }
}

/// Integer and float arithmetic with the program's semantics.
pub(crate) trait Arith: Lane {
    fn add(a: Self, b: Self) -> Self;
    fn sub(a: Self, b: Self) -> Self;
    fn mul(a: Self, b: Self) -> Self;
    fn div(a: Self, b: Self) -> Self;
    fn rem(a: Self, b: Self) -> Self;
    fn neg(a: Self) -> Self;
    fn abs(a: Self) -> Self;
}

macro_rules! int_arith {
    ($($t:ty => $abs:expr),*) => {$(
        impl Arith for $t {
            #[inline(always)]
            fn add(a: Self, b: Self) -> Self { a.wrapping_add(b) }
            #[inline(always)]
            fn sub(a: Self, b: Self) -> Self { a.wrapping_sub(b) }
            #[inline(always)]
            fn mul(a: Self, b: Self) -> Self { a.wrapping_mul(b) }
            // Division by zero gives 0 rather than a panic; MIN / -1 wraps to MIN.
            #[inline(always)]
            fn div(a: Self, b: Self) -> Self { if b == 0 { 0 } else { a.wrapping_div(b) } }
            #[inline(always)]
            fn rem(a: Self, b: Self) -> Self { if b == 0 { 0 } else { a.wrapping_rem(b) } }
            #[inline(always)]
            fn neg(a: Self) -> Self { a.wrapping_neg() }
            #[inline(always)]
            fn abs(a: Self) -> Self { $abs(a) }
        }
    )*};
}

int_arith!(
    i8 => i8::wrapping_abs, i16 => i16::wrapping_abs, i32 => i32::wrapping_abs,
    i64 => i64::wrapping_abs, u8 => std::convert::identity, u16 => std::convert::identity,
    u32 => std::convert::identity, u64 => std::convert::identity
);

/// The float-only operations.
pub(crate) trait FloatArith: Arith {
    const ONE: Self;
    fn is_nan(a: Self) -> bool;
    fn is_finite(a: Self) -> bool;
    fn powf(a: Self, b: Self) -> Self;
    fn sqrt(a: Self) -> Self;
    fn ln(a: Self) -> Self;
    fn log10(a: Self) -> Self;
    fn tan(a: Self) -> Self;
    fn tanh(a: Self) -> Self;
    fn floor(a: Self) -> Self;
    fn ceil(a: Self) -> Self;
    fn round(a: Self) -> Self;
    fn sin(xs: &[Self], out: &mut [Self]);
    fn cos(xs: &[Self], out: &mut [Self]);
    fn sincos(xs: &[Self], sin: &mut [Self], cos: &mut [Self]);
    fn exp(xs: &[Self], out: &mut [Self]);
}

macro_rules! float_arith {
    ($t:ident, $sin:path, $cos:path, $sincos:path, $exp:path) => {
        impl Arith for $t {
            #[inline(always)]
            fn add(a: Self, b: Self) -> Self {
                a + b
            }
            #[inline(always)]
            fn sub(a: Self, b: Self) -> Self {
                a - b
            }
            #[inline(always)]
            fn mul(a: Self, b: Self) -> Self {
                a * b
            }
            #[inline(always)]
            fn div(a: Self, b: Self) -> Self {
                a / b
            }
            #[inline(always)]
            fn rem(a: Self, b: Self) -> Self {
                a % b
            }
            #[inline(always)]
            fn neg(a: Self) -> Self {
                -a
            }
            #[inline(always)]
            fn abs(a: Self) -> Self {
                a.abs()
            }
        }
        impl FloatArith for $t {
            const ONE: Self = 1.0;
            #[inline(always)]
            fn is_nan(a: Self) -> bool {
                a.is_nan()
            }
            #[inline(always)]
            fn is_finite(a: Self) -> bool {
                a.is_finite()
            }
            #[inline(always)]
            fn powf(a: Self, b: Self) -> Self {
                a.powf(b)
            }
            #[inline(always)]
            fn sqrt(a: Self) -> Self {
                a.sqrt()
            }
            #[inline(always)]
            fn ln(a: Self) -> Self {
                a.ln()
            }
            #[inline(always)]
            fn log10(a: Self) -> Self {
                a.log10()
            }
            #[inline(always)]
            fn tan(a: Self) -> Self {
                a.tan()
            }
            #[inline(always)]
            fn tanh(a: Self) -> Self {
                a.tanh()
            }
            #[inline(always)]
            fn floor(a: Self) -> Self {
                a.floor()
            }
            #[inline(always)]
            fn ceil(a: Self) -> Self {
                a.ceil()
            }
            #[inline(always)]
            fn round(a: Self) -> Self {
                a.round()
            }
            fn sin(xs: &[Self], out: &mut [Self]) {
                $sin(xs, out)
            }
            fn cos(xs: &[Self], out: &mut [Self]) {
                $cos(xs, out)
            }
            fn sincos(xs: &[Self], sin: &mut [Self], cos: &mut [Self]) {
                $sincos(xs, sin, cos)
            }
            fn exp(xs: &[Self], out: &mut [Self]) {
                $exp(xs, out)
            }
        }
    };
}

float_arith!(
    f32,
    math::sin_f32,
    math::cos_f32,
    math::sincos_f32,
    math::exp_f32
);
float_arith!(
    f64,
    math::sin_f64,
    math::cos_f64,
    math::sincos_f64,
    math::exp_f64
);

/// `Neg` and `Abs`.
pub(crate) fn unary_arith<T: Arith>(
    op: UnaryOp,
    a: Operand<'_, T>,
    out: &mut [T],
) -> Kind<'static> {
    match op {
        UnaryOp::Abs => map1(a, out, T::abs),
        _ => map1(a, out, T::neg),
    }
}

/// The float-only unary operations except `IsNan`/`IsFinite`.
pub(crate) fn unary_float<T: FloatArith>(
    op: UnaryOp,
    a: Operand<'_, T>,
    out: &mut [T],
) -> Kind<'static> {
    match op {
        UnaryOp::Sin => map_slice(a, out, T::sin),
        UnaryOp::Cos => map_slice(a, out, T::cos),
        UnaryOp::Exp => map_slice(a, out, T::exp),
        UnaryOp::Powi(n) => match a {
            Operand::Slice(a) => {
                powi(a, n, &mut out[..a.len()]);
                Kind::Full
            }
            Operand::Splat(x) => {
                powi(&[x], n, &mut out[..1]);
                Kind::Splat
            }
        },
        UnaryOp::Sqrt => map1(a, out, T::sqrt),
        UnaryOp::Ln => map1(a, out, T::ln),
        UnaryOp::Log10 => map1(a, out, T::log10),
        UnaryOp::Tan => map1(a, out, T::tan),
        UnaryOp::Tanh => map1(a, out, T::tanh),
        UnaryOp::Floor => map1(a, out, T::floor),
        UnaryOp::Ceil => map1(a, out, T::ceil),
        // validate() admits only the float ops above and Round here.
        _ => map1(a, out, T::round),
    }
}

/// `Sin` and `Cos` of the same operand in one pass; both results have the
/// returned kind.
pub(crate) fn sincos<T: FloatArith>(
    a: Operand<'_, T>,
    sin: &mut [T],
    cos: &mut [T],
) -> Kind<'static> {
    match a {
        Operand::Slice(a) => {
            T::sincos(a, &mut sin[..a.len()], &mut cos[..a.len()]);
            Kind::Full
        }
        Operand::Splat(x) => {
            T::sincos(&[x], &mut sin[..1], &mut cos[..1]);
            Kind::Splat
        }
    }
}

/// `x^n` as `powi` computes it (compiler-rt's `__powidf2`: square-and-multiply from
/// the low bit, reciprocal at the end for negative `n`), so results match `powi`
/// exactly; but the loop over bits is outside, the loop over elements inside, so
/// it vectorizes. Blocks keep the squared bases on the stack.
fn powi<T: FloatArith>(xs: &[T], n: i32, out: &mut [T]) {
    const BLOCK: usize = 64;
    for (xs, out) in xs.chunks(BLOCK).zip(out.chunks_mut(BLOCK)) {
        let mut base = [T::default(); BLOCK];
        let base = &mut base[..xs.len()];
        base.copy_from_slice(xs);
        out.fill(T::ONE);
        let mut bits = n.unsigned_abs();
        loop {
            if bits & 1 != 0 {
                for (o, &b) in out.iter_mut().zip(base.iter()) {
                    *o = T::mul(*o, b);
                }
            }
            bits >>= 1;
            if bits == 0 {
                break;
            }
            for b in base.iter_mut() {
                *b = T::mul(*b, *b);
            }
        }
        if n < 0 {
            for o in out.iter_mut() {
                *o = T::div(T::ONE, *o);
            }
        }
    }
}

/// `Add`, `Sub`, `Mul`, `Div` and `Rem` (the caller routes the others elsewhere).
pub(crate) fn binary_arith<T: Arith>(
    op: BinaryOp,
    a: Operand<'_, T>,
    b: Operand<'_, T>,
    out: &mut [T],
) -> Kind<'static> {
    match op {
        BinaryOp::Add => map2(a, b, out, T::add),
        BinaryOp::Sub => map2(a, b, out, T::sub),
        BinaryOp::Mul => map2(a, b, out, T::mul),
        BinaryOp::Div => map2(a, b, out, T::div),
        _ => map2(a, b, out, T::rem),
    }
}

/// `Minimum` and `Maximum`, defined for every dtype.
pub(crate) fn binary_any<T: Lane>(
    op: BinaryOp,
    a: Operand<'_, T>,
    b: Operand<'_, T>,
    out: &mut [T],
) -> Kind<'static> {
    match op {
        BinaryOp::Minimum => map2(a, b, out, T::np_minimum),
        _ => map2(a, b, out, T::np_maximum),
    }
}

/// `Not`.
pub(crate) fn not(a: Operand<'_, bool>, out: &mut [bool]) -> Kind<'static> {
    map1(a, out, |x| !x)
}

/// `And` and `Or` (bitwise on bools, which vectorizes where `&&` would not).
pub(crate) fn binary_bool(
    op: BinaryOp,
    a: Operand<'_, bool>,
    b: Operand<'_, bool>,
    out: &mut [bool],
) -> Kind<'static> {
    match op {
        BinaryOp::And => map2(a, b, out, |x, y| x & y),
        _ => map2(a, b, out, |x, y| x | y),
    }
}

/// `Pow` (floats).
pub(crate) fn pow<T: FloatArith>(
    a: Operand<'_, T>,
    b: Operand<'_, T>,
    out: &mut [T],
) -> Kind<'static> {
    map2(a, b, out, T::powf)
}

/// `IsNan` and `IsFinite` of a float operand.
pub(crate) fn classify<T: FloatArith>(
    op: UnaryOp,
    a: Operand<'_, T>,
    out: &mut [bool],
) -> Kind<'static> {
    match op {
        UnaryOp::IsNan => map1(a, out, T::is_nan),
        _ => map1(a, out, T::is_finite),
    }
}

pub(crate) fn compare<T: Lane>(
    op: CmpOp,
    a: Operand<'_, T>,
    b: Operand<'_, T>,
    out: &mut [bool],
) -> Kind<'static> {
    match op {
        CmpOp::Eq => map2(a, b, out, |x, y| x == y),
        CmpOp::Ne => map2(a, b, out, |x, y| x != y),
        CmpOp::Lt => map2(a, b, out, |x, y| x < y),
        CmpOp::Le => map2(a, b, out, |x, y| x <= y),
        CmpOp::Gt => map2(a, b, out, |x, y| x > y),
        CmpOp::Ge => map2(a, b, out, |x, y| x >= y),
    }
}

/// `if cond { a } else { b }` per element; the loops are selects, so they vectorize.
pub(crate) fn select<T: Copy>(
    cond: Operand<'_, bool>,
    a: Operand<'_, T>,
    b: Operand<'_, T>,
    out: &mut [T],
) -> Kind<'static> {
    let c = match cond {
        Operand::Splat(c) => return map1(if c { a } else { b }, out, |x| x),
        Operand::Slice(c) => Operand::Slice(c),
    };
    match (a, b) {
        (Operand::Slice(a), Operand::Slice(b)) => {
            let Operand::Slice(c) = c else {
                unreachable!("matched above")
            };
            debug_assert!(c.len() == out.len() && a.len() == out.len() && b.len() == out.len());
            for (((o, &c), &x), &y) in out.iter_mut().zip(c).zip(a).zip(b) {
                *o = if c { x } else { y };
            }
            Kind::Full
        }
        (a @ Operand::Slice(_), Operand::Splat(y)) => map2(c, a, out, |c, x| if c { x } else { y }),
        (Operand::Splat(x), b @ Operand::Slice(_)) => map2(c, b, out, |c, y| if c { x } else { y }),
        (Operand::Splat(x), Operand::Splat(y)) => map1(c, out, |c| if c { x } else { y }),
    }
}

/// `Clip`: NumPy's `minimum(maximum(x, lo), hi)`, so a NaN `x` stays NaN.
pub(crate) fn clip<T: Lane>(a: Operand<'_, T>, lo: T, hi: T, out: &mut [T]) -> Kind<'static> {
    map1(a, out, |x| T::np_minimum(T::np_maximum(x, lo), hi))
}

/// Conversion as Rust's `as`, extended to bool (`!= 0` to it, 0/1 from it).
pub(crate) trait CastFrom<S>: Sized {
    fn cast_from(v: S) -> Self;
}

macro_rules! cast_impls {
    ($($s:ty),*) => {$(
        cast_impls!(@pairs $s; i8 i16 i32 i64 u8 u16 u32 u64 f32 f64);
        impl CastFrom<$s> for bool {
            #[inline(always)]
            #[allow(clippy::float_cmp)] // exactly `!= 0`, as `as bool` would be
            fn cast_from(v: $s) -> bool { v != <$s>::default() }
        }
        impl CastFrom<bool> for $s {
            #[inline(always)]
            #[allow(clippy::cast_lossless, clippy::cast_possible_wrap, clippy::unnecessary_cast)]
            fn cast_from(v: bool) -> $s { u8::from(v) as $s }
        }
    )*};
    (@pairs $s:ty; $($d:ty)*) => {$(
        impl CastFrom<$s> for $d {
            #[inline(always)]
            #[allow(
                clippy::cast_possible_truncation,
                clippy::cast_possible_wrap,
                clippy::cast_sign_loss,
                clippy::cast_precision_loss,
                clippy::cast_lossless,
                clippy::unnecessary_cast
            )]
            fn cast_from(v: $s) -> $d { v as $d }
        }
    )*};
}

cast_impls!(i8, i16, i32, i64, u8, u16, u32, u64, f32, f64);

impl CastFrom<bool> for bool {
    #[inline(always)]
    fn cast_from(v: bool) -> bool {
        v
    }
}

pub(crate) fn cast<S: Copy, D: CastFrom<S>>(a: Operand<'_, S>, out: &mut [D]) -> Kind<'static> {
    map1(a, out, D::cast_from)
}
