//! Casts between any two dtypes with Rust's `as` semantics, extended to bool:
//! to bool is `!= 0` (so NaN is true and -0.0 false), from bool is 0 or 1.

use super::lane::Kind;
use super::ops::{map1, Operand};

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

/// `Cast`: every element converted with [`CastFrom`].
pub(crate) fn cast<S: Copy, D: CastFrom<S>>(a: Operand<'_, S>, out: &mut [D]) -> Kind<'static> {
    map1(a, out, D::cast_from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn casts_follow_as_and_bool_rules() {
        assert_eq!(i32::cast_from(f64::NAN), 0);
        assert_eq!(u8::cast_from(-3.7f64), 0);
        assert_eq!(u8::cast_from(300.0f32), 255);
        assert_eq!(i8::cast_from(-2.9f64), -2);
        assert_eq!(i8::cast_from(200u8), -56);
        assert_eq!(u16::cast_from(-1i64), u16::MAX);
        assert_eq!(
            f32::cast_from(u64::MAX).to_bits(),
            (u64::MAX as f32).to_bits()
        );
        assert!(bool::cast_from(f64::NAN));
        assert!(!bool::cast_from(-0.0f32));
        assert!(bool::cast_from(256u16));
        assert!(!bool::cast_from(0i64));
        assert_eq!(f64::cast_from(true).to_bits(), 1.0f64.to_bits());
        assert_eq!(i8::cast_from(true), 1);
        assert!(bool::cast_from(true));
        let mut out = [0u8; 3];
        assert_eq!(
            cast(Operand::Slice(&[true, false, true]), &mut out),
            Kind::Full
        );
        assert_eq!(out, [1, 0, 1]);
    }
}
