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
    /// NumPy's `floor_divide`.
    fn floor_div(a: Self, b: Self) -> Self;
    /// NumPy's `sign`.
    fn sign(a: Self) -> Self;
}

/// The bit operations of integers.
pub(crate) trait IntBits: Arith {
    fn not(a: Self) -> Self;
    fn and(a: Self, b: Self) -> Self;
    fn or(a: Self, b: Self) -> Self;
    fn xor(a: Self, b: Self) -> Self;
    fn shl(a: Self, b: Self) -> Self;
    fn shr(a: Self, b: Self) -> Self;
}

macro_rules! int_arith {
    ($($t:ty => $abs:expr, $floor_div:expr, $sign:expr);*) => {$(
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
            #[inline(always)]
            fn floor_div(a: Self, b: Self) -> Self {
                if b == 0 { 0 } else { $floor_div(a, b) }
            }
            #[inline(always)]
            fn sign(a: Self) -> Self { $sign(a) }
        }
        impl IntBits for $t {
            #[inline(always)]
            fn not(a: Self) -> Self { !a }
            #[inline(always)]
            fn and(a: Self, b: Self) -> Self { a & b }
            #[inline(always)]
            fn or(a: Self, b: Self) -> Self { a | b }
            #[inline(always)]
            fn xor(a: Self, b: Self) -> Self { a ^ b }
            // A negative shift sign-extends to a huge u64, so it is out of range too,
            // as NumPy's `(size_t)b < bits` test makes it.
            #[allow(clippy::cast_sign_loss, clippy::cast_possible_truncation)]
            #[inline(always)]
            fn shl(a: Self, b: Self) -> Self {
                if (b as u64) < u64::from(<$t>::BITS) { a.wrapping_shl(b as u32) } else { 0 }
            }
            // Out of range: all sign bits (-1 or 0), two shifts that are each in range.
            #[allow(clippy::cast_sign_loss, clippy::cast_possible_truncation)]
            #[inline(always)]
            fn shr(a: Self, b: Self) -> Self {
                if (b as u64) < u64::from(<$t>::BITS) {
                    a.wrapping_shr(b as u32)
                } else {
                    a.wrapping_shr(<$t>::BITS - 1).wrapping_shr(1)
                }
            }
        }
    )*};
}

/// Python's `//`: the truncated quotient, one less when the remainder is nonzero
/// and of the other sign than the divisor. `b != 0` here; `MIN // -1` wraps.
macro_rules! signed_floor_div {
    ($t:ty) => {
        |a: $t, b: $t| {
            let (q, r) = (a.wrapping_div(b), a.wrapping_rem(b));
            if r != 0 && (r ^ b) < 0 {
                q - 1
            } else {
                q
            }
        }
    };
}

/// `0` or `1` for an unsigned integer.
macro_rules! unsigned_sign {
    ($t:ty) => {
        |a: $t| <$t>::from(a != 0)
    };
}

int_arith!(
    i8 => i8::wrapping_abs, signed_floor_div!(i8), i8::signum;
    i16 => i16::wrapping_abs, signed_floor_div!(i16), i16::signum;
    i32 => i32::wrapping_abs, signed_floor_div!(i32), i32::signum;
    i64 => i64::wrapping_abs, signed_floor_div!(i64), i64::signum;
    u8 => std::convert::identity, u8::wrapping_div, unsigned_sign!(u8);
    u16 => std::convert::identity, u16::wrapping_div, unsigned_sign!(u16);
    u32 => std::convert::identity, u32::wrapping_div, unsigned_sign!(u32);
    u64 => std::convert::identity, u64::wrapping_div, unsigned_sign!(u64)
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
    fn log2(a: Self) -> Self;
    fn log1p(a: Self) -> Self;
    fn expm1(a: Self) -> Self;
    fn exp2(a: Self) -> Self;
    fn cbrt(a: Self) -> Self;
    fn sinh(a: Self) -> Self;
    fn cosh(a: Self) -> Self;
    fn asin(a: Self) -> Self;
    fn acos(a: Self) -> Self;
    fn atan(a: Self) -> Self;
    fn asinh(a: Self) -> Self;
    fn acosh(a: Self) -> Self;
    fn atanh(a: Self) -> Self;
    fn trunc(a: Self) -> Self;
    fn rint(a: Self) -> Self;
    fn is_inf(a: Self) -> bool;
    fn signbit(a: Self) -> bool;
    fn atan2(a: Self, b: Self) -> Self;
    fn hypot(a: Self, b: Self) -> Self;
    fn copysign(a: Self, b: Self) -> Self;
    fn logaddexp(a: Self, b: Self) -> Self;
    fn sin(xs: &[Self], out: &mut [Self]);
    fn cos(xs: &[Self], out: &mut [Self]);
    fn sincos(xs: &[Self], sin: &mut [Self], cos: &mut [Self]);
    fn exp(xs: &[Self], out: &mut [Self]);
}

/// An f64 result in the element type: the transcendental functions of f32 run in
/// f64 and round once (within 1 ulp, where some of libm's or std's f32 versions
/// are 2 ulp off, and as `vecmath` does for sin/cos/exp).
trait Narrow {
    fn narrow(x: f64) -> Self;
}
impl Narrow for f64 {
    #[inline(always)]
    fn narrow(x: f64) -> f64 {
        x
    }
}
impl Narrow for f32 {
    #[allow(clippy::cast_possible_truncation)]
    #[inline(always)]
    fn narrow(x: f64) -> f32 {
        x as f32
    }
}
#[inline(always)]
fn narrow<T: Narrow>(x: f64) -> T {
    T::narrow(x)
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
            // NumPy's npy_floor_divide: the quotient of `a - fmod(a, b)`, moved
            // down where fmod has the other sign than `b`, then rounded to the
            // nearest integer (the division is exact up to one rounding); a zero
            // quotient keeps the sign of `a / b`; `b == 0` gives `a / b`.
            #[inline(always)]
            fn floor_div(a: Self, b: Self) -> Self {
                if b == 0.0 {
                    return a / b;
                }
                let m = a % b;
                let mut div = (a - m) / b;
                if m != 0.0 && ((b < 0.0) != (m < 0.0)) {
                    div -= 1.0;
                }
                if div == 0.0 {
                    return (0.0 as $t).copysign(a / b);
                }
                let f = div.floor();
                if div - f > 0.5 {
                    f + 1.0
                } else {
                    f
                }
            }
            // NumPy's `sign`: the comparisons put NaN through, and -0.0 == 0 gives +0.0.
            #[inline(always)]
            fn sign(a: Self) -> Self {
                if a > 0.0 {
                    1.0
                } else if a < 0.0 {
                    -1.0
                } else if a == 0.0 {
                    0.0
                } else {
                    a
                }
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
            #[inline(always)]
            fn log2(a: Self) -> Self {
                narrow(f64::from(a).log2())
            }
            #[inline(always)]
            fn log1p(a: Self) -> Self {
                narrow(f64::from(a).ln_1p())
            }
            #[inline(always)]
            fn expm1(a: Self) -> Self {
                narrow(f64::from(a).exp_m1())
            }
            #[inline(always)]
            fn exp2(a: Self) -> Self {
                narrow(f64::from(a).exp2())
            }
            #[inline(always)]
            fn cbrt(a: Self) -> Self {
                narrow(f64::from(a).cbrt())
            }
            #[inline(always)]
            fn sinh(a: Self) -> Self {
                narrow(f64::from(a).sinh())
            }
            #[inline(always)]
            fn cosh(a: Self) -> Self {
                narrow(f64::from(a).cosh())
            }
            #[inline(always)]
            fn asin(a: Self) -> Self {
                narrow(f64::from(a).asin())
            }
            #[inline(always)]
            fn acos(a: Self) -> Self {
                narrow(f64::from(a).acos())
            }
            #[inline(always)]
            fn atan(a: Self) -> Self {
                narrow(f64::from(a).atan())
            }
            #[inline(always)]
            fn asinh(a: Self) -> Self {
                narrow(f64::from(a).asinh())
            }
            #[inline(always)]
            fn acosh(a: Self) -> Self {
                narrow(f64::from(a).acosh())
            }
            #[inline(always)]
            fn atanh(a: Self) -> Self {
                narrow(f64::from(a).atanh())
            }
            #[inline(always)]
            fn trunc(a: Self) -> Self {
                a.trunc()
            }
            #[inline(always)]
            fn rint(a: Self) -> Self {
                a.round_ties_even()
            }
            #[inline(always)]
            fn is_inf(a: Self) -> bool {
                a.is_infinite()
            }
            #[inline(always)]
            fn signbit(a: Self) -> bool {
                a.is_sign_negative()
            }
            #[inline(always)]
            fn atan2(a: Self, b: Self) -> Self {
                narrow(f64::from(a).atan2(f64::from(b)))
            }
            #[inline(always)]
            fn hypot(a: Self, b: Self) -> Self {
                narrow(f64::from(a).hypot(f64::from(b)))
            }
            #[inline(always)]
            fn copysign(a: Self, b: Self) -> Self {
                a.copysign(b)
            }
            // NumPy's npy_logaddexp (equal operands, also two equal infinities
            // whose difference would be NaN, give x + ln 2; otherwise the larger
            // plus log1p(exp(-|difference|)); a NaN difference is returned), in
            // f64: the f32 formula loses up to 4 ulp to cancellation.
            #[inline(always)]
            fn logaddexp(a: Self, b: Self) -> Self {
                let (a, b) = (f64::from(a), f64::from(b));
                if a == b {
                    return narrow(a + std::f64::consts::LN_2);
                }
                let d = a - b;
                narrow(if d > 0.0 {
                    a + (-d).exp().ln_1p()
                } else if d <= 0.0 {
                    b + d.exp().ln_1p()
                } else {
                    d
                })
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
