//! The typed kernels of every instruction, over one tile. An operand is either a
//! slice of the tile's length or a splat (one value for the whole tile); each
//! combination gets its own plain loop over slices, which LLVM vectorizes. When
//! every operand is a splat the result is a splat too: one element is computed.

// The per-element closures and ops must inline into the slice loops to vectorize.
#![allow(clippy::inline_always)]

use super::arith::{Arith, FloatArith, IntBits};
use super::lane::{Kind, Lane};
use crate::elementwise::program::{
    ArithBinary, ArithUnary, Bits, Classify, CmpOp, Extremum, FloatBinary, FloatUnary, Logic,
};

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

/// Applies a whole-slice kernel (`vecmath::sin_f64` and friends) to an operand.
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

/// `Neg`, `Abs` and `Sign`.
pub(crate) fn unary_arith<T: Arith>(
    op: ArithUnary,
    a: Operand<'_, T>,
    out: &mut [T],
) -> Kind<'static> {
    match op {
        ArithUnary::Abs => map1(a, out, T::abs),
        ArithUnary::Neg => map1(a, out, T::neg),
        ArithUnary::Sign => map1(a, out, T::sign),
    }
}

/// The float-only unary operations.
pub(crate) fn unary_float<T: FloatArith>(
    op: FloatUnary,
    a: Operand<'_, T>,
    out: &mut [T],
) -> Kind<'static> {
    match op {
        FloatUnary::Sin => map_slice(a, out, T::sin),
        FloatUnary::Cos => map_slice(a, out, T::cos),
        FloatUnary::Exp => map_slice(a, out, T::exp),
        FloatUnary::Powi(n) => match a {
            Operand::Slice(a) => {
                powi(a, n, &mut out[..a.len()]);
                Kind::Full
            }
            Operand::Splat(x) => {
                powi(&[x], n, &mut out[..1]);
                Kind::Splat
            }
        },
        FloatUnary::Sqrt => map1(a, out, T::sqrt),
        FloatUnary::Ln => map1(a, out, T::ln),
        FloatUnary::Log10 => map1(a, out, T::log10),
        FloatUnary::Tan => map1(a, out, T::tan),
        FloatUnary::Tanh => map1(a, out, T::tanh),
        FloatUnary::Floor => map1(a, out, T::floor),
        FloatUnary::Ceil => map1(a, out, T::ceil),
        FloatUnary::Round => map1(a, out, T::round),
        FloatUnary::Log2 => map1(a, out, T::log2),
        FloatUnary::Log1p => map1(a, out, T::log1p),
        FloatUnary::Expm1 => map1(a, out, T::expm1),
        FloatUnary::Exp2 => map1(a, out, T::exp2),
        FloatUnary::Cbrt => map1(a, out, T::cbrt),
        FloatUnary::Sinh => map1(a, out, T::sinh),
        FloatUnary::Cosh => map1(a, out, T::cosh),
        FloatUnary::Asin => map1(a, out, T::asin),
        FloatUnary::Acos => map1(a, out, T::acos),
        FloatUnary::Atan => map1(a, out, T::atan),
        FloatUnary::Asinh => map1(a, out, T::asinh),
        FloatUnary::Acosh => map1(a, out, T::acosh),
        FloatUnary::Atanh => map1(a, out, T::atanh),
        FloatUnary::Trunc => map1(a, out, T::trunc),
        FloatUnary::Rint => map1(a, out, T::rint),
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

/// `Add`, `Sub`, `Mul`, `Div`, `Rem` and `FloorDivide`.
pub(crate) fn binary_arith<T: Arith>(
    op: ArithBinary,
    a: Operand<'_, T>,
    b: Operand<'_, T>,
    out: &mut [T],
) -> Kind<'static> {
    match op {
        ArithBinary::Add => map2(a, b, out, T::add),
        ArithBinary::Sub => map2(a, b, out, T::sub),
        ArithBinary::Mul => map2(a, b, out, T::mul),
        ArithBinary::Div => map2(a, b, out, T::div),
        ArithBinary::Rem => map2(a, b, out, T::rem),
        ArithBinary::FloorDiv => map2(a, b, out, T::floor_div),
    }
}

/// `Minimum`, `Maximum`, `Fmin` and `Fmax`, defined for every dtype.
pub(crate) fn binary_any<T: Lane>(
    op: Extremum,
    a: Operand<'_, T>,
    b: Operand<'_, T>,
    out: &mut [T],
) -> Kind<'static> {
    match op {
        Extremum::Minimum => map2(a, b, out, T::np_minimum),
        Extremum::Maximum => map2(a, b, out, T::np_maximum),
        Extremum::Fmin => map2(a, b, out, T::np_fmin),
        Extremum::Fmax => map2(a, b, out, T::np_fmax),
    }
}

/// `Not`.
pub(crate) fn not(a: Operand<'_, bool>, out: &mut [bool]) -> Kind<'static> {
    map1(a, out, |x| !x)
}

/// `And` and `Or` (bitwise on bools, which vectorizes where `&&` would not).
pub(crate) fn binary_bool(
    op: Logic,
    a: Operand<'_, bool>,
    b: Operand<'_, bool>,
    out: &mut [bool],
) -> Kind<'static> {
    match op {
        Logic::And => map2(a, b, out, |x, y| x & y),
        Logic::Or => map2(a, b, out, |x, y| x | y),
    }
}

/// `Pow` and the other two-operand float functions.
pub(crate) fn binary_float<T: FloatArith>(
    op: FloatBinary,
    a: Operand<'_, T>,
    b: Operand<'_, T>,
    out: &mut [T],
) -> Kind<'static> {
    match op {
        FloatBinary::Pow => map2(a, b, out, T::powf),
        FloatBinary::Atan2 => map2(a, b, out, T::atan2),
        FloatBinary::Hypot => map2(a, b, out, T::hypot),
        FloatBinary::Copysign => map2(a, b, out, T::copysign),
        FloatBinary::Logaddexp => map2(a, b, out, T::logaddexp),
    }
}

/// `BitNot` of an integer.
pub(crate) fn bit_not<T: IntBits>(a: Operand<'_, T>, out: &mut [T]) -> Kind<'static> {
    map1(a, out, T::not)
}

/// The bit operations of two integers.
pub(crate) fn binary_bits<T: IntBits>(
    op: Bits,
    a: Operand<'_, T>,
    b: Operand<'_, T>,
    out: &mut [T],
) -> Kind<'static> {
    match op {
        Bits::And => map2(a, b, out, T::and),
        Bits::Or => map2(a, b, out, T::or),
        Bits::Xor => map2(a, b, out, T::xor),
        Bits::Shl => map2(a, b, out, T::shl),
        Bits::Shr => map2(a, b, out, T::shr),
    }
}

/// `IsNan`, `IsFinite`, `IsInf` and `Signbit` of a float operand.
pub(crate) fn classify<T: FloatArith>(
    op: Classify,
    a: Operand<'_, T>,
    out: &mut [bool],
) -> Kind<'static> {
    match op {
        Classify::IsNan => map1(a, out, T::is_nan),
        Classify::IsFinite => map1(a, out, T::is_finite),
        Classify::IsInf => map1(a, out, T::is_inf),
        Classify::Signbit => map1(a, out, T::signbit),
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

#[cfg(test)]
#[allow(clippy::float_cmp)] // exact results are the point
mod tests {
    use super::*;

    /// The bit-loop `powi` must give exactly what `powi` gives, element by element.
    #[test]
    fn powi_matches_std_exactly() {
        let xs: Vec<f64> = (0..200)
            .map(|i| f64::from(i) * 0.173 - 17.0)
            .chain([0.0, -0.0, 1e-300, 1e300, f64::NAN, f64::INFINITY])
            .collect();
        let mut out = vec![0.0; xs.len()];
        for n in [
            0,
            1,
            2,
            3,
            4,
            5,
            7,
            8,
            13,
            31,
            64,
            1000,
            -1,
            -2,
            -3,
            -7,
            -64,
            i32::MAX,
            i32::MIN,
        ] {
            powi(&xs, n, &mut out);
            for (&x, &y) in xs.iter().zip(&out) {
                let want = x.powi(n);
                assert!(
                    y.to_bits() == want.to_bits() || (y.is_nan() && want.is_nan()),
                    "{x}^{n}: {y} vs {want}"
                );
            }
        }
        let xs: Vec<f32> = (0..100)
            .map(|i| f32::from(u8::try_from(i).unwrap()) * 0.31 - 15.0)
            .collect();
        let mut out = vec![0.0; xs.len()];
        for n in [2, 3, -2, 9] {
            powi(&xs, n, &mut out);
            assert!(xs
                .iter()
                .zip(&out)
                .all(|(&x, &y)| y.to_bits() == x.powi(n).to_bits()));
        }
    }

    #[test]
    fn splat_operands_give_splat_results() {
        let mut out = [0.0; 4];
        assert_eq!(
            map2(Operand::Splat(2.0), Operand::Splat(3.0), &mut out, f64::mul),
            Kind::Splat
        );
        assert_eq!(out[0], 6.0);
        assert_eq!(
            map2(
                Operand::Slice(&[1.0, 2.0, 3.0, 4.0]),
                Operand::Splat(3.0),
                &mut out,
                f64::sub
            ),
            Kind::Full
        );
        assert_eq!(out, [-2.0, -1.0, 0.0, 1.0]);
        assert_eq!(
            map2(
                Operand::Splat(3.0),
                Operand::Slice(&[1.0, 2.0, 3.0, 4.0]),
                &mut out,
                f64::sub
            ),
            Kind::Full
        );
        assert_eq!(out, [2.0, 1.0, 0.0, -1.0]);
        assert_eq!(
            unary_float(FloatUnary::Sin, Operand::Splat(0.5), &mut out),
            Kind::Splat
        );
        assert_eq!(out[0], 0.5f64.sin());
    }

    #[test]
    fn select_every_operand_combination() {
        let c = [true, false, true];
        let (a, b) = ([1, 2, 3], [7, 8, 9]);
        let mut out = [0; 3];
        select(
            Operand::Slice(&c),
            Operand::Slice(&a),
            Operand::Slice(&b),
            &mut out,
        );
        assert_eq!(out, [1, 8, 3]);
        select(
            Operand::Slice(&c),
            Operand::Slice(&a),
            Operand::Splat(0),
            &mut out,
        );
        assert_eq!(out, [1, 0, 3]);
        select(
            Operand::Slice(&c),
            Operand::Splat(5),
            Operand::Slice(&b),
            &mut out,
        );
        assert_eq!(out, [5, 8, 5]);
        select(
            Operand::Slice(&c),
            Operand::Splat(5),
            Operand::Splat(6),
            &mut out,
        );
        assert_eq!(out, [5, 6, 5]);
        assert_eq!(
            select(
                Operand::Splat(false),
                Operand::Slice(&a),
                Operand::Slice(&b),
                &mut out
            ),
            Kind::Full
        );
        assert_eq!(out, b);
        assert_eq!(
            select(
                Operand::Splat(true),
                Operand::Splat(4),
                Operand::Slice(&b),
                &mut out
            ),
            Kind::Splat
        );
        assert_eq!(out[0], 4);
    }

    #[test]
    fn clip_keeps_nan_and_orders_bounds_like_numpy() {
        let mut out = [0.0; 4];
        clip(
            Operand::Slice(&[f64::NAN, -5.0, 0.5, 5.0]),
            0.0,
            1.0,
            &mut out,
        );
        assert!(out[0].is_nan());
        assert_eq!(out[1..], [0.0, 0.5, 1.0]);
        // lo > hi: NumPy's minimum(maximum(x, lo), hi) gives hi.
        let mut out = [0i32; 2];
        clip(Operand::Slice(&[-9, 9]), 3, 1, &mut out);
        assert_eq!(out, [1, 1]);
    }
}
