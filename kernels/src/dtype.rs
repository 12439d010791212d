//! Element types: the closed set of dtypes a chunk can hold, and the [`Element`]
//! trait that ties each Rust type to its [`DType`] and its [`Chunk`] variant.

use crate::chunk::Chunk;
use ndarray::{ArrayD, ArrayViewD};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The element type of an array, as NumPy names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum DType {
    /// `bool`
    Bool,
    /// `i8`
    I8,
    /// `i16`
    I16,
    /// `i32`
    I32,
    /// `i64`
    I64,
    /// `u8`
    U8,
    /// `u16`
    U16,
    /// `u32`
    U32,
    /// `u64`
    U64,
    /// `f32`
    F32,
    /// `f64`
    F64,
}

impl DType {
    /// Every dtype, in declaration order.
    pub const ALL: [DType; 11] = [
        DType::Bool,
        DType::I8,
        DType::I16,
        DType::I32,
        DType::I64,
        DType::U8,
        DType::U16,
        DType::U32,
        DType::U64,
        DType::F32,
        DType::F64,
    ];

    /// Bytes per element.
    #[must_use]
    pub fn size(self) -> usize {
        match self {
            DType::Bool | DType::I8 | DType::U8 => 1,
            DType::I16 | DType::U16 => 2,
            DType::I32 | DType::U32 | DType::F32 => 4,
            DType::I64 | DType::U64 | DType::F64 => 8,
        }
    }

    /// NumPy's name for the dtype (`"float64"`, `"int32"`, `"bool"`).
    #[must_use]
    pub fn numpy_name(self) -> &'static str {
        match self {
            DType::Bool => "bool",
            DType::I8 => "int8",
            DType::I16 => "int16",
            DType::I32 => "int32",
            DType::I64 => "int64",
            DType::U8 => "uint8",
            DType::U16 => "uint16",
            DType::U32 => "uint32",
            DType::U64 => "uint64",
            DType::F32 => "float32",
            DType::F64 => "float64",
        }
    }

    /// True for `f32` and `f64`.
    #[must_use]
    pub fn is_float(self) -> bool {
        matches!(self, DType::F32 | DType::F64)
    }

    /// True for the signed and unsigned integer types.
    #[must_use]
    pub fn is_int(self) -> bool {
        !self.is_float() && self != DType::Bool
    }

    /// True for the signed integer types.
    #[must_use]
    pub fn is_signed_int(self) -> bool {
        matches!(self, DType::I8 | DType::I16 | DType::I32 | DType::I64)
    }

    /// The dtype NumPy gives a sum or product of this dtype: `i64` for signed
    /// integers and bool, `u64` for unsigned integers, the same float type for floats.
    #[must_use]
    pub fn sum_dtype(self) -> DType {
        match self {
            DType::Bool | DType::I8 | DType::I16 | DType::I32 | DType::I64 => DType::I64,
            DType::U8 | DType::U16 | DType::U32 | DType::U64 => DType::U64,
            DType::F32 => DType::F32,
            DType::F64 => DType::F64,
        }
    }

    /// The dtype of a mean, variance or standard deviation: `f32` for `f32`, else `f64`.
    #[must_use]
    pub fn float_dtype(self) -> DType {
        if self == DType::F32 {
            DType::F32
        } else {
            DType::F64
        }
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.numpy_name())
    }
}

mod sealed {
    pub trait Sealed {}
}

/// A Rust type that can be an array element. Implemented for `bool`, `i8`..`i64`,
/// `u8`..`u64`, `f32` and `f64`; sealed, since every kernel matches on [`DType`].
pub trait Element:
    Copy
    + Send
    + Sync
    + Default
    + PartialOrd
    + fmt::Debug
    + 'static
    + Serialize
    + for<'de> Deserialize<'de>
    + sealed::Sealed
{
    /// The dtype tag of this type.
    const DTYPE: DType;
    /// The type of a sum or product of this type (see [`DType::sum_dtype`]).
    type Sum: Element;
    /// The type of a mean, variance or standard deviation (see [`DType::float_dtype`]).
    type Float: Element + num_traits::Float;
    /// Wraps an owned array into a type-erased chunk.
    fn into_chunk(a: ArrayD<Self>) -> Chunk;
    /// The array inside `c`, if `c` holds this type.
    fn from_chunk(c: Chunk) -> Option<ArrayD<Self>>;
    /// A view of the array inside `c`, if `c` holds this type.
    fn view_chunk(c: &Chunk) -> Option<ArrayViewD<'_, Self>>;
    /// Lossy conversion to `f64` (`true` is 1).
    fn to_f64(self) -> f64;
    /// Conversion from `f64` as Rust's `as` does it (saturating for integers, `!= 0` for bool).
    fn from_f64(v: f64) -> Self;
}

macro_rules! impl_element {
    ($t:ty, $variant:ident, $sum:ty, $float:ty) => {
        impl sealed::Sealed for $t {}
        impl Element for $t {
            const DTYPE: DType = DType::$variant;
            type Sum = $sum;
            type Float = $float;
            fn into_chunk(a: ArrayD<Self>) -> Chunk {
                Chunk::$variant(a)
            }
            fn from_chunk(c: Chunk) -> Option<ArrayD<Self>> {
                match c {
                    Chunk::$variant(a) => Some(a),
                    _ => None,
                }
            }
            fn view_chunk(c: &Chunk) -> Option<ArrayViewD<'_, Self>> {
                match c {
                    Chunk::$variant(a) => Some(a.view()),
                    _ => None,
                }
            }
            #[allow(clippy::cast_precision_loss, clippy::cast_lossless)]
            fn to_f64(self) -> f64 {
                self as f64
            }
            #[allow(
                clippy::cast_possible_truncation,
                clippy::cast_sign_loss,
                clippy::cast_lossless
            )]
            fn from_f64(v: f64) -> Self {
                v as $t
            }
        }
    };
}

impl_element!(i8, I8, i64, f64);
impl_element!(i16, I16, i64, f64);
impl_element!(i32, I32, i64, f64);
impl_element!(i64, I64, i64, f64);
impl_element!(u8, U8, u64, f64);
impl_element!(u16, U16, u64, f64);
impl_element!(u32, U32, u64, f64);
impl_element!(u64, U64, u64, f64);
impl_element!(f32, F32, f32, f32);
impl_element!(f64, F64, f64, f64);

impl sealed::Sealed for bool {}
impl Element for bool {
    const DTYPE: DType = DType::Bool;
    type Sum = i64;
    type Float = f64;
    fn into_chunk(a: ArrayD<Self>) -> Chunk {
        Chunk::Bool(a)
    }
    fn from_chunk(c: Chunk) -> Option<ArrayD<Self>> {
        match c {
            Chunk::Bool(a) => Some(a),
            _ => None,
        }
    }
    fn view_chunk(c: &Chunk) -> Option<ArrayViewD<'_, Self>> {
        match c {
            Chunk::Bool(a) => Some(a.view()),
            _ => None,
        }
    }
    fn to_f64(self) -> f64 {
        f64::from(u8::from(self))
    }
    fn from_f64(v: f64) -> Self {
        v != 0.0
    }
}

/// Runs `$body` with `$T` bound to the Rust type of `$dtype`.
///
/// ```
/// use darray_kernels::{dispatch_dtype, DType, Element};
/// let size = dispatch_dtype!(DType::I16, T => std::mem::size_of::<T>());
/// assert_eq!(size, 2);
/// ```
#[macro_export]
macro_rules! dispatch_dtype {
    ($dtype:expr, $T:ident => $body:expr) => {
        match $dtype {
            $crate::DType::Bool => {
                type $T = bool;
                $body
            }
            $crate::DType::I8 => {
                type $T = i8;
                $body
            }
            $crate::DType::I16 => {
                type $T = i16;
                $body
            }
            $crate::DType::I32 => {
                type $T = i32;
                $body
            }
            $crate::DType::I64 => {
                type $T = i64;
                $body
            }
            $crate::DType::U8 => {
                type $T = u8;
                $body
            }
            $crate::DType::U16 => {
                type $T = u16;
                $body
            }
            $crate::DType::U32 => {
                type $T = u32;
                $body
            }
            $crate::DType::U64 => {
                type $T = u64;
                $body
            }
            $crate::DType::F32 => {
                type $T = f32;
                $body
            }
            $crate::DType::F64 => {
                type $T = f64;
                $body
            }
        }
    };
}

/// The numeric element types (every [`Element`] but `bool`): those with
/// arithmetic.
pub trait Numeric: Element {}
impl Numeric for i8 {}
impl Numeric for i16 {}
impl Numeric for i32 {}
impl Numeric for i64 {}
impl Numeric for u8 {}
impl Numeric for u16 {}
impl Numeric for u32 {}
impl Numeric for u64 {}
impl Numeric for f32 {}
impl Numeric for f64 {}
