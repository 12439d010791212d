//! [`Scalar`]: a constant in an elementwise program or a fill value.

use crate::dtype::{DType, Element};
use serde::{Deserialize, Serialize};

/// A constant value. Every dtype's values fit exactly in one of the variants.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum Scalar {
    /// A bool.
    Bool(bool),
    /// A signed integer (`i8`..`i64`).
    Int(i64),
    /// An unsigned integer (`u8`..`u64`).
    UInt(u64),
    /// A float (`f32` values are exact in `f64`).
    Float(f64),
}

impl Scalar {
    /// The scalar holding `v`.
    #[must_use]
    pub fn of<T: Element>(v: T) -> Scalar {
        let any: &dyn std::any::Any = &v;
        if let Some(b) = any.downcast_ref::<bool>() {
            Scalar::Bool(*b)
        } else if T::DTYPE.is_float() {
            Scalar::Float(v.to_f64())
        } else if T::DTYPE.is_signed_int() {
            // to_f64 would lose bits of large i64: go through the concrete types.
            Scalar::Int(any.downcast_ref::<i64>().copied().unwrap_or_else(|| {
                // i8..i32 are exact in f64.
                #[allow(clippy::cast_possible_truncation)]
                let x = v.to_f64() as i64;
                x
            }))
        } else {
            Scalar::UInt(any.downcast_ref::<u64>().copied().unwrap_or_else(|| {
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                let x = v.to_f64() as u64;
                x
            }))
        }
    }

    /// The value converted to `T` as Rust's `as` would.
    #[must_use]
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    pub fn to<T: Element>(self) -> T {
        let any: &dyn std::any::Any;
        let (i, u);
        match (self, T::DTYPE) {
            (Scalar::Int(v), DType::I64) => {
                i = v;
                any = &i;
            }
            (Scalar::UInt(v), DType::U64) => {
                u = v;
                any = &u;
            }
            (Scalar::Int(v), DType::U64) => {
                u = v as u64;
                any = &u;
            }
            (Scalar::UInt(v), DType::I64) => {
                i = v as i64;
                any = &i;
            }
            (s, _) => return T::from_f64(s.to_f64()),
        }
        *any.downcast_ref::<T>()
            .expect("dtype tag matches the Rust type")
    }

    /// The value as `f64` (`true` is 1).
    #[must_use]
    #[allow(clippy::cast_precision_loss)]
    pub fn to_f64(self) -> f64 {
        match self {
            Scalar::Bool(b) => f64::from(u8::from(b)),
            Scalar::Int(v) => v as f64,
            Scalar::UInt(v) => v as f64,
            Scalar::Float(v) => v,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_extreme_integers() {
        assert_eq!(Scalar::of(i64::MIN).to::<i64>(), i64::MIN);
        assert_eq!(Scalar::of(u64::MAX).to::<u64>(), u64::MAX);
        assert_eq!(Scalar::of(-3i8).to::<i8>(), -3);
        assert_eq!(Scalar::of(2.5f32).to::<f32>(), 2.5);
        assert!(Scalar::of(true).to::<bool>());
        assert_eq!(Scalar::of(7u16).to::<f64>(), 7.0);
    }
}
