//! The rest of NumPy's ufuncs: inverse and hyperbolic functions, logarithms and
//! exponentials near zero, rounding, sign handling, NaN-ignoring extremes, floor
//! division, bit operations, and the ones composed from others (`isclose`,
//! `nan_to_num`, `deg2rad`, ...). Each is an elementwise node, so it fuses with
//! its neighbours into one tile-by-tile program (see `crate::ops::elementwise`).
//! The float functions are Rust's `std` (the platform libm) in the element's own
//! precision, as NumPy calls the C library's `f`/plain variants.

use super::elementwise::{where_, Operand};
use super::DArray;
use crate::error::{Error, Result};
use darray_kernels::{BinaryOp, Element, Numeric, UnaryOp};

macro_rules! float_unary {
    ($($name:ident => $op:ident, $doc:literal;)*) => {
        impl<T: Numeric + num_traits::Float> DArray<T> {
            $(
                #[doc = $doc]
                pub fn $name(&self) -> DArray<T> {
                    self.unary(stringify!($name), UnaryOp::$op)
                }
            )*
        }
    };
}

float_unary! {
    log2 => Log2, "Base-2 logarithm (NumPy's `log2`).";
    log1p => Log1p, "`ln(1 + x)`, accurate for `x` near 0 (NumPy's `log1p`).";
    expm1 => Expm1, "`e^x - 1`, accurate for `x` near 0 (NumPy's `expm1`).";
    exp2 => Exp2, "`2^x` (NumPy's `exp2`).";
    cbrt => Cbrt, "Cube root, negative for negative `x` (NumPy's `cbrt`).";
    sinh => Sinh, "Hyperbolic sine (NumPy's `sinh`).";
    cosh => Cosh, "Hyperbolic cosine (NumPy's `cosh`).";
    arcsin => Arcsin, "Inverse sine, NaN outside `[-1, 1]` (NumPy's `arcsin`).";
    arccos => Arccos, "Inverse cosine, NaN outside `[-1, 1]` (NumPy's `arccos`).";
    arctan => Arctan, "Inverse tangent (NumPy's `arctan`).";
    arcsinh => Arcsinh, "Inverse hyperbolic sine (NumPy's `arcsinh`).";
    arccosh => Arccosh, "Inverse hyperbolic cosine, NaN below 1 (NumPy's `arccosh`).";
    arctanh => Arctanh, "Inverse hyperbolic tangent, ±inf at ±1 and NaN beyond (NumPy's `arctanh`).";
    trunc => Trunc, "Round towards zero (NumPy's `trunc`).";
    rint => Rint, "Round half to even, as NumPy's `rint` and `around`; [`DArray::round`] rounds half away from zero.";
}

impl<T: Numeric + num_traits::Float> DArray<T> {
    /// True where the sign bit is set: negative numbers, `-0.0`, `-inf` and
    /// NaNs with the sign bit (NumPy's `signbit`; floats only here, where NumPy
    /// also takes integers by casting them to float first).
    pub fn signbit(&self) -> DArray<bool> {
        self.unary_to("signbit", UnaryOp::Signbit)
    }

    /// Degrees to radians: `x * (π / 180)` with the constant rounded to `T`
    /// (NumPy's `deg2rad`/`radians`).
    pub fn deg2rad(&self) -> DArray<T> {
        let k = T::from_f64(std::f64::consts::PI / 180.0);
        self.binary("deg2rad", BinaryOp::Mul, &Operand::Scalar(k))
            .expect("a scalar always broadcasts")
    }

    /// Radians to degrees: `x * (180 / π)` with the constant rounded to `T`
    /// (NumPy's `rad2deg`/`degrees`).
    pub fn rad2deg(&self) -> DArray<T> {
        let k = T::from_f64(180.0 / std::f64::consts::PI);
        self.binary("rad2deg", BinaryOp::Mul, &Operand::Scalar(k))
            .expect("a scalar always broadcasts")
    }

    /// `atan(self / other)` in the quadrant of the point `(other, self)`, in
    /// `[-π, π]` (NumPy's `arctan2(self, other)`; wind direction from `u`, `v`).
    ///
    /// ```
    /// use darray::DArray;
    /// let y = DArray::<f64>::full(&[2], 1.0, [2]).unwrap();
    /// let a = y.arctan2(-1.0).unwrap().compute().unwrap();
    /// assert!((a[[0]] - 3.0 * std::f64::consts::FRAC_PI_4).abs() < 1e-15);
    /// ```
    ///
    /// # Errors
    /// Shapes that do not broadcast.
    pub fn arctan2(&self, other: impl Into<Operand<T>>) -> Result<DArray<T>> {
        self.binary("arctan2", BinaryOp::Arctan2, &other.into())
    }

    /// `sqrt(self² + other²)` without overflow or underflow in the squares; inf
    /// if either is infinite, even if the other is NaN (NumPy's `hypot`).
    ///
    /// # Errors
    /// Shapes that do not broadcast.
    pub fn hypot(&self, other: impl Into<Operand<T>>) -> Result<DArray<T>> {
        self.binary("hypot", BinaryOp::Hypot, &other.into())
    }

    /// `|self|` with the sign bit of `other` (NumPy's `copysign`).
    ///
    /// # Errors
    /// Shapes that do not broadcast.
    pub fn copysign(&self, other: impl Into<Operand<T>>) -> Result<DArray<T>> {
        self.binary("copysign", BinaryOp::Copysign, &other.into())
    }

    /// `ln(e^self + e^other)` without overflowing the exponentials (NumPy's
    /// `logaddexp`, with its formula: `max + log1p(exp(-|self - other|))`).
    ///
    /// # Errors
    /// Shapes that do not broadcast.
    pub fn logaddexp(&self, other: impl Into<Operand<T>>) -> Result<DArray<T>> {
        self.binary("logaddexp", BinaryOp::Logaddexp, &other.into())
    }

    /// NaN replaced by 0, +inf by the largest finite `T` and -inf by the most
    /// negative finite `T` (NumPy's `nan_to_num` with its defaults).
    pub fn nan_to_num(&self) -> DArray<T> {
        self.nan_to_num_with(T::zero(), T::max_value(), T::min_value())
    }

    /// NaN replaced by `nan`, +inf by `posinf` and -inf by `neginf` (NumPy's
    /// `nan_to_num(x, nan=, posinf=, neginf=)`).
    ///
    /// ```
    /// use darray::DArray;
    /// let a = ndarray::arr1(&[f64::NAN, f64::INFINITY, -f64::INFINITY, 2.0]);
    /// let x = DArray::from_ndarray(&a, [3]).unwrap();
    /// let y = x.nan_to_num_with(-1.0, 9.0, -9.0).compute().unwrap();
    /// assert_eq!(y.into_iter().collect::<Vec<_>>(), vec![-1.0, 9.0, -9.0, 2.0]);
    /// ```
    pub fn nan_to_num_with(&self, nan: T, posinf: T, neginf: T) -> DArray<T> {
        let build = || -> Result<DArray<T>> {
            let inner = where_(&self.equal(T::neg_infinity())?, neginf, self)?;
            let inner = where_(&self.equal(T::infinity())?, posinf, inner)?;
            where_(&self.isnan(), nan, inner)
        };
        build().expect("an array broadcasts with itself and with scalars")
    }

    /// True where `self` and `other` are equal within `atol + rtol * |other|`
    /// (NumPy's `isclose`, with its formula, so not symmetric in the operands:
    /// `|self - other| <= atol + rtol * |other|` for finite `other`, or
    /// `self == other` (equal infinities); NaNs are close to each other only if
    /// `equal_nan`). NumPy's defaults are `rtol = 1e-5`, `atol = 1e-8`.
    ///
    /// # Errors
    /// Shapes that do not broadcast.
    pub fn isclose(
        &self,
        other: impl Into<Operand<T>>,
        rtol: T,
        atol: T,
        equal_nan: bool,
    ) -> Result<DArray<bool>> {
        let other = DArray::<T>::wrap(other.into().expr());
        let diff = self.sub(&other)?.abs();
        let tol = other.abs().mul(rtol)?.add(atol)?;
        let within = &diff.less_equal(&tol)? & &other.isfinite();
        let close = (within? | self.equal(&other)?)?;
        if equal_nan {
            let both_nan = (self.isnan() & other.isnan())?;
            close | both_nan
        } else {
            Ok(close)
        }
    }

    /// Whether every element pair is [`isclose`](DArray::isclose), as a 0-d
    /// array (NumPy's `allclose`; call `compute_scalar`).
    ///
    /// ```
    /// use darray::DArray;
    /// let x = DArray::<f64>::full(&[5], 1.0, [2]).unwrap();
    /// let ok = x.allclose(1.0 + 1e-9, 1e-5, 1e-8, false).unwrap();
    /// assert!(ok.compute_scalar().unwrap());
    /// ```
    ///
    /// # Errors
    /// Shapes that do not broadcast.
    pub fn allclose(
        &self,
        other: impl Into<Operand<T>>,
        rtol: T,
        atol: T,
        equal_nan: bool,
    ) -> Result<DArray<bool>> {
        self.isclose(other, rtol, atol, equal_nan)?.all()
    }
}

impl<T: Element> DArray<T> {
    /// True where the value is +inf or -inf (NumPy's `isinf`; always false for
    /// integers and bools).
    pub fn isinf(&self) -> DArray<bool> {
        self.unary_to("isinf", UnaryOp::IsInf)
    }
}

impl<T: Numeric> DArray<T> {
    /// -1, 0 or 1 by the sign (NumPy's `sign`): NaN stays NaN, `-0.0` gives
    /// `0.0`, and unsigned integers give 0 or 1.
    pub fn sign(&self) -> DArray<T> {
        self.unary("sign", UnaryOp::Sign)
    }

    /// `x * x` (NumPy's `square`; wrapping for integers).
    pub fn square(&self) -> DArray<T> {
        self.binary("square", BinaryOp::Mul, &Operand::Array(self.clone()))
            .expect("an array broadcasts with itself")
    }

    /// `1 / x` (NumPy's `reciprocal`). Integer division truncates, so this is
    /// 0 for integers other than ±1, and `1 / 0` gives 0 as [`DArray::div`]
    /// does (NumPy warns and gives an unspecified value).
    pub fn reciprocal(&self) -> DArray<T> {
        self.binary_rev("reciprocal", BinaryOp::Div, T::from_f64(1.0))
    }

    /// The smaller of the two, ignoring a NaN: NaN only where both are (NumPy's
    /// `fmin`; [`DArray::minimum`] propagates NaN instead).
    ///
    /// # Errors
    /// Shapes that do not broadcast.
    pub fn fmin(&self, other: impl Into<Operand<T>>) -> Result<DArray<T>> {
        self.binary("fmin", BinaryOp::Fmin, &other.into())
    }

    /// The larger of the two, ignoring a NaN: NaN only where both are (NumPy's
    /// `fmax`; [`DArray::maximum`] propagates NaN instead).
    ///
    /// # Errors
    /// Shapes that do not broadcast.
    pub fn fmax(&self, other: impl Into<Operand<T>>) -> Result<DArray<T>> {
        self.binary("fmax", BinaryOp::Fmax, &other.into())
    }

    /// `floor(self / other)` (NumPy's `floor_divide`, Python's `//`): integers
    /// round towards minus infinity (`-7 // 2 == -4`), unlike [`DArray::div`];
    /// an integer divisor of 0 gives 0, as `div` does (NumPy also gives 0, with a
    /// warning), and `MIN // -1` wraps to `MIN`. Floats follow NumPy's
    /// `divmod`-based quotient; a float divisor of 0 gives `self / 0` (±inf or NaN).
    ///
    /// ```
    /// use darray::DArray;
    /// let a = ndarray::arr1(&[-7i32, 7, -7, 5]);
    /// let x = DArray::from_ndarray(&a, [2]).unwrap();
    /// let b = DArray::from_ndarray(&ndarray::arr1(&[2i32, -2, -2, 0]), [2]).unwrap();
    /// let q = x.floor_divide(&b).unwrap().compute().unwrap();
    /// assert_eq!(q.into_iter().collect::<Vec<_>>(), vec![-4, -4, 3, 0]);
    /// ```
    ///
    /// # Errors
    /// Shapes that do not broadcast.
    pub fn floor_divide(&self, other: impl Into<Operand<T>>) -> Result<DArray<T>> {
        self.binary("floor_divide", BinaryOp::FloorDivide, &other.into())
    }

    /// `Err` unless `T` is an integer type: the bit operations have no float
    /// meaning, and NumPy refuses them on floats too.
    fn integer_only(&self, op: &str) -> Result<()> {
        if T::DTYPE.is_int() {
            Ok(())
        } else {
            Err(Error::InvalidArgument {
                array: self.name().to_string(),
                reason: format!("{op} needs an integer dtype, got {}", T::DTYPE),
            })
        }
    }

    fn bits(&self, name: &str, op: BinaryOp, other: impl Into<Operand<T>>) -> Result<DArray<T>> {
        self.integer_only(name)?;
        self.binary(name, op, &other.into())
    }

    /// Bitwise not (NumPy's `invert`/`bitwise_not`; use `!` for bool arrays).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] naming the array if `T` is a float type.
    pub fn bitwise_not(&self) -> Result<DArray<T>> {
        self.integer_only("bitwise_not")?;
        Ok(self.unary("bitwise_not", UnaryOp::BitNot))
    }

    /// Bitwise and (NumPy's `bitwise_and`; use `&` for bool arrays).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] naming the array if `T` is a float type; shapes
    /// that do not broadcast.
    pub fn bitwise_and(&self, other: impl Into<Operand<T>>) -> Result<DArray<T>> {
        self.bits("bitwise_and", BinaryOp::BitAnd, other)
    }

    /// Bitwise or (NumPy's `bitwise_or`; use `|` for bool arrays).
    ///
    /// # Errors
    /// As [`DArray::bitwise_and`].
    pub fn bitwise_or(&self, other: impl Into<Operand<T>>) -> Result<DArray<T>> {
        self.bits("bitwise_or", BinaryOp::BitOr, other)
    }

    /// Bitwise exclusive or (NumPy's `bitwise_xor`).
    ///
    /// # Errors
    /// As [`DArray::bitwise_and`].
    pub fn bitwise_xor(&self, other: impl Into<Operand<T>>) -> Result<DArray<T>> {
        self.bits("bitwise_xor", BinaryOp::BitXor, other)
    }

    /// `self << other` (NumPy's `left_shift`): a shift by the bit width or more,
    /// or by a negative amount, gives 0; bits shifted out are lost.
    ///
    /// ```
    /// use darray::DArray;
    /// let x = DArray::<u8>::full(&[3], 3, [2]).unwrap();
    /// let y = x.left_shift(7).unwrap().compute().unwrap();
    /// assert_eq!(y[[0]], 128);
    /// ```
    ///
    /// # Errors
    /// As [`DArray::bitwise_and`].
    pub fn left_shift(&self, other: impl Into<Operand<T>>) -> Result<DArray<T>> {
        self.bits("left_shift", BinaryOp::LeftShift, other)
    }

    /// `self >> other` (NumPy's `right_shift`), arithmetic for signed integers:
    /// a shift by the bit width or more, or by a negative amount, gives 0, or
    /// -1 for negative `self`.
    ///
    /// # Errors
    /// As [`DArray::bitwise_and`].
    pub fn right_shift(&self, other: impl Into<Operand<T>>) -> Result<DArray<T>> {
        self.bits("right_shift", BinaryOp::RightShift, other)
    }
}

impl DArray<bool> {
    /// True where exactly one is true (NumPy's `logical_xor`).
    ///
    /// # Errors
    /// Shapes that do not broadcast.
    pub fn logical_xor(&self, other: impl Into<Operand<bool>>) -> Result<DArray<bool>> {
        self.not_equal(other)
    }
}
