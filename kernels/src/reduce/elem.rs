//! What the reductions need to know about each element type, beyond [`Element`]:
//! exact widening into the sum accumulator, the identities of min and max, and NaN.

use crate::dtype::Element;

/// A sum/product accumulator: `i64`, `u64` (wrapping, as integer sums in NumPy) or
/// `f32`/`f64`.
pub(super) trait Acc: Element {
    /// Additive identity.
    const ZERO: Self;
    /// Multiplicative identity.
    const ONE: Self;
    /// `self + other`, wrapping for integers.
    fn add(self, other: Self) -> Self;
    /// `self * other`, wrapping for integers.
    fn mul(self, other: Self) -> Self;
}

macro_rules! impl_acc_int {
    ($t:ty) => {
        impl Acc for $t {
            const ZERO: Self = 0;
            const ONE: Self = 1;
            #[inline]
            fn add(self, other: Self) -> Self {
                self.wrapping_add(other)
            }
            #[inline]
            fn mul(self, other: Self) -> Self {
                self.wrapping_mul(other)
            }
        }
    };
}

macro_rules! impl_acc_float {
    ($t:ty) => {
        impl Acc for $t {
            const ZERO: Self = 0.0;
            const ONE: Self = 1.0;
            #[inline]
            fn add(self, other: Self) -> Self {
                self + other
            }
            #[inline]
            fn mul(self, other: Self) -> Self {
                self * other
            }
        }
    };
}

impl_acc_int!(i64);
impl_acc_int!(u64);
impl_acc_float!(f32);
impl_acc_float!(f64);

/// An input element of a reduction.
pub(super) trait Elem: Element {
    /// Accumulator of sums and products: [`Element::Sum`] with arithmetic.
    type SumAcc: Acc;
    /// Exact conversion into the accumulator (`true` is 1).
    fn widen(self) -> Self::SumAcc;
    /// Identity of `min`: `+inf`, the type's maximum, or `true`.
    const TOP: Self;
    /// Identity of `max`: `-inf`, the type's minimum, or `false`.
    const BOTTOM: Self;
    /// NaN for float types, `None` for the others (which have no NaN).
    const NAN: Option<Self>;

    /// True only for a float NaN.
    #[inline]
    #[allow(clippy::eq_op)] // x != x is the one NaN test PartialOrd offers.
    fn is_nan(self) -> bool {
        self != self
    }

    /// True for every value except zero (and `false`); NaN counts as non-zero.
    #[inline]
    fn is_nonzero(self) -> bool {
        self != Self::default()
    }
}

macro_rules! impl_elem {
    ($t:ty, $acc:ty, $top:expr, $bottom:expr, $nan:expr) => {
        impl Elem for $t {
            type SumAcc = $acc;
            #[inline]
            #[allow(clippy::cast_lossless, clippy::unnecessary_cast)]
            fn widen(self) -> $acc {
                // Lossless: signed ints widen to i64, unsigned to u64, floats stay.
                self as $acc
            }
            const TOP: Self = $top;
            const BOTTOM: Self = $bottom;
            const NAN: Option<Self> = $nan;
        }
    };
}

impl_elem!(i8, i64, i8::MAX, i8::MIN, None);
impl_elem!(i16, i64, i16::MAX, i16::MIN, None);
impl_elem!(i32, i64, i32::MAX, i32::MIN, None);
impl_elem!(i64, i64, i64::MAX, i64::MIN, None);
impl_elem!(u8, u64, u8::MAX, u8::MIN, None);
impl_elem!(u16, u64, u16::MAX, u16::MIN, None);
impl_elem!(u32, u64, u32::MAX, u32::MIN, None);
impl_elem!(u64, u64, u64::MAX, u64::MIN, None);
impl_elem!(f32, f32, f32::INFINITY, f32::NEG_INFINITY, Some(f32::NAN));
impl_elem!(f64, f64, f64::INFINITY, f64::NEG_INFINITY, Some(f64::NAN));

impl Elem for bool {
    type SumAcc = i64;
    #[inline]
    fn widen(self) -> i64 {
        i64::from(self)
    }
    const TOP: Self = true;
    const BOTTOM: Self = false;
    const NAN: Option<Self> = None;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reduce_elem_widen_is_exact_and_identities_bound_the_type() {
        assert_eq!(i64::MIN.widen(), i64::MIN);
        assert_eq!(u64::MAX.widen(), u64::MAX);
        assert_eq!((-7i8).widen(), -7i64);
        assert_eq!(true.widen(), 1);
        assert_eq!(200u8.widen(), 200u64);
        assert!(f64::NAN.is_nan() && !1.0f64.is_nan() && !5i32.is_nan());
        assert!(f32::NAN.is_nonzero() && !(-0.0f64).is_nonzero() && true.is_nonzero());
        const { assert!(<u8 as Elem>::TOP == 255 && <i16 as Elem>::BOTTOM == i16::MIN) };
        assert!(<f32 as Elem>::NAN.is_some_and(f32::is_nan) && <i8 as Elem>::NAN.is_none());
        assert_eq!(i64::MAX.add(1), i64::MIN);
        assert_eq!(u64::MAX.mul(2), u64::MAX - 1);
    }
}
