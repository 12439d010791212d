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

    /// The value converted to `T` as Rust's `as` would (wrapping between
    /// integer types, saturating from floats; to bool: `!= 0`).
    #[must_use]
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss,
        clippy::cast_possible_wrap,
        clippy::cast_lossless
    )]
    pub fn to<T: Element>(self) -> T {
        macro_rules! convert {
            ($v:expr) => {
                match T::DTYPE {
                    DType::Bool => same::<T, bool>(!is_zero($v)),
                    DType::I8 => same::<T, i8>($v as i8),
                    DType::I16 => same::<T, i16>($v as i16),
                    DType::I32 => same::<T, i32>($v as i32),
                    DType::I64 => same::<T, i64>($v as i64),
                    DType::U8 => same::<T, u8>($v as u8),
                    DType::U16 => same::<T, u16>($v as u16),
                    DType::U32 => same::<T, u32>($v as u32),
                    DType::U64 => same::<T, u64>($v as u64),
                    DType::F32 => same::<T, f32>($v as f32),
                    DType::F64 => same::<T, f64>($v as f64),
                }
            };
        }
        match self {
            Scalar::Bool(b) => convert!(u8::from(b)),
            Scalar::Int(v) => convert!(v),
            Scalar::UInt(v) => convert!(v),
            Scalar::Float(v) => convert!(v),
        }
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

/// Tests a value of any numeric primitive for zero.
fn is_zero<V: Copy + PartialEq + Default>(v: V) -> bool {
    v == V::default()
}

/// `v` as `T`, where the dtype tag says `T` and `V` are the same type.
fn same<T: 'static + Copy, V: 'static + Copy>(v: V) -> T {
    *(&v as &dyn std::any::Any)
        .downcast_ref::<T>()
        .expect("dtype tag matches the Rust type")
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
        // Wrapping between integers, saturating from floats, as `as`.
        assert_eq!(Scalar::Int(-1).to::<u8>(), 255);
        assert_eq!(Scalar::Int(300).to::<u8>(), 44);
        assert_eq!(Scalar::Float(300.7).to::<u8>(), 255);
        assert_eq!(Scalar::Float(-2.5).to::<i8>(), -2);
        assert_eq!(Scalar::UInt(u64::MAX).to::<i64>(), -1);
        assert!(!Scalar::Float(0.0).to::<bool>());
        assert!(Scalar::Int(-3).to::<bool>());
        assert_eq!(Scalar::Bool(true).to::<f32>(), 1.0);
    }
}
