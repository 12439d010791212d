//! The arithmetic of each element type as the program defines it: wrapping
//! integer ops with division by zero giving 0, IEEE float ops, and the float-only
//! functions (the vectorized ones from [`super::vecmath`], the rest from `std`).

// These run inside the vectorized per-element loops, so they must inline.
#![allow(clippy::inline_always)]

use super::lane::Lane;
use super::vecmath;

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
    vecmath::sin_f32,
    vecmath::cos_f32,
    vecmath::sincos_f32,
    vecmath::exp_f32
);
float_arith!(
    f64,
    vecmath::sin_f64,
    vecmath::cos_f64,
    vecmath::sincos_f64,
    vecmath::exp_f64
);
