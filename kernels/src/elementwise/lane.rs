//! Typed tile storage: [`TileSlice`] (a borrowed tile, public), [`Reg`] (an owned
//! tile register) and the [`Lane`] trait that moves between them and the Rust
//! element types. Every dtype-erased value of the evaluator lives in one of these.

use crate::dtype::{DType, Element};
use crate::error::{KernelError, Result};
use crate::Chunk;
use ndarray::{ArrayD, IxDyn};

/// A borrowed tile of results, one variant per dtype.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum TileSlice<'a> {
    /// `bool` values.
    Bool(&'a [bool]),
    /// `i8` values.
    I8(&'a [i8]),
    /// `i16` values.
    I16(&'a [i16]),
    /// `i32` values.
    I32(&'a [i32]),
    /// `i64` values.
    I64(&'a [i64]),
    /// `u8` values.
    U8(&'a [u8]),
    /// `u16` values.
    U16(&'a [u16]),
    /// `u32` values.
    U32(&'a [u32]),
    /// `u64` values.
    U64(&'a [u64]),
    /// `f32` values.
    F32(&'a [f32]),
    /// `f64` values.
    F64(&'a [f64]),
}

/// Where an instruction's value for the current tile is.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Kind<'c> {
    /// In the first `len` elements of its register.
    Full,
    /// In element 0 of its register, standing for every element of the tile.
    Splat,
    /// In an input chunk's memory, read in place.
    Borrowed(TileSlice<'c>),
}

/// An owned, growable tile of one dtype: an instruction's register, or a whole output.
#[derive(Debug)]
pub(crate) enum Reg {
    Bool(Vec<bool>),
    I8(Vec<i8>),
    I16(Vec<i16>),
    I32(Vec<i32>),
    I64(Vec<i64>),
    U8(Vec<u8>),
    U16(Vec<u16>),
    U32(Vec<u32>),
    U64(Vec<u64>),
    F32(Vec<f32>),
    F64(Vec<f64>),
}

/// Runs `$body` with `$v` bound to the vector/slice inside any variant of `$e`,
/// an expression of type `$ty` (`TileSlice` or `Reg`).
macro_rules! each_variant {
    ($ty:ident, $e:expr, $v:ident => $body:expr) => {
        match $e {
            $ty::Bool($v) => $body,
            $ty::I8($v) => $body,
            $ty::I16($v) => $body,
            $ty::I32($v) => $body,
            $ty::I64($v) => $body,
            $ty::U8($v) => $body,
            $ty::U16($v) => $body,
            $ty::U32($v) => $body,
            $ty::U64($v) => $body,
            $ty::F32($v) => $body,
            $ty::F64($v) => $body,
        }
    };
}

impl TileSlice<'_> {
    /// Number of elements in the tile.
    #[must_use]
    pub fn len(&self) -> usize {
        each_variant!(TileSlice, self, s => s.len())
    }

    /// True if the tile holds no elements.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The dtype of the tile's elements.
    #[must_use]
    pub fn dtype(&self) -> DType {
        each_variant!(TileSlice, self, s => dtype_of_slice(s))
    }

    /// The elements in `range`, as a tile.
    pub(crate) fn slice(&self, range: std::ops::Range<usize>) -> TileSlice<'_> {
        each_variant!(TileSlice, self, s => Lane::tile(&s[range]))
    }
}

fn dtype_of_slice<T: Element>(_: &[T]) -> DType {
    T::DTYPE
}

impl Reg {
    /// An empty register of `dtype`; it grows on first use.
    pub(crate) fn new(dtype: DType) -> Reg {
        crate::dispatch_dtype!(dtype, T => T::reg(Vec::new()))
    }

    /// A register of `n` zeros (from `alloc_zeroed`, so no pass over the memory).
    pub(crate) fn zeros(dtype: DType, n: usize) -> Reg {
        crate::dispatch_dtype!(dtype, T => T::reg(vec![T::default(); n]))
    }

    /// Grows the register to at least `n` elements. Every tile asks for the same
    /// capacity, so only the first allocates.
    pub(crate) fn ensure_len(&mut self, n: usize) {
        each_variant!(Reg, self, v => if v.len() < n {
            v.resize(n, Default::default());
        });
    }

    /// Sets `range` to its first element (expands a splat result in place).
    pub(crate) fn splat_fill(&mut self, range: std::ops::Range<usize>) {
        each_variant!(Reg, self, v => {
            let s = &mut v[range];
            let first = s[0];
            s[1..].fill(first);
        });
    }

    /// Copies `tile` into `range`.
    pub(crate) fn copy_tile(&mut self, range: std::ops::Range<usize>, tile: TileSlice<'_>) {
        each_variant!(Reg, self, v => {
            let s = &mut v[range];
            s.copy_from_slice(Lane::from_tile(tile));
        });
    }

    /// The first `len` elements as a tile.
    pub(crate) fn tile(&self, len: usize) -> TileSlice<'_> {
        each_variant!(Reg, self, v => Lane::tile(&v[..len]))
    }

    /// The register's elements as a C-order chunk of `shape`.
    pub(crate) fn into_chunk(self, shape: &[usize]) -> Result<Chunk> {
        each_variant!(Reg, self, v => {
            let a = ArrayD::from_shape_vec(IxDyn(shape), v)
                .map_err(|e| KernelError::Other(format!("output of shape {shape:?}: {e}")))?;
            Ok(Element::into_chunk(a))
        })
    }
}

/// An element type the evaluator computes with: the bridge between the typed
/// kernels and the dtype-erased [`Reg`] and [`TileSlice`].
pub(crate) trait Lane: Element {
    /// Wraps a vector into a register.
    fn reg(v: Vec<Self>) -> Reg;
    /// The register's elements. Panics on a dtype mismatch, which the program's
    /// validation rules out.
    fn of_reg(r: &Reg) -> &[Self];
    /// The register's elements, mutably (same invariant as [`Lane::of_reg`]).
    fn of_reg_mut(r: &mut Reg) -> &mut [Self];
    /// A slice as a tile.
    fn tile(s: &[Self]) -> TileSlice<'_>;
    /// The tile's elements (same invariant as [`Lane::of_reg`]).
    fn from_tile(t: TileSlice<'_>) -> &[Self];
    /// The memory of a chunk's array in memory order, with the offset of its
    /// logical first element; `None` if the array is not contiguous in memory.
    fn memory(c: &Chunk) -> Option<(&[Self], usize)>;
    /// A standard-layout copy of the chunk's array.
    fn standard_copy(c: &Chunk) -> Chunk;
    /// NumPy's `minimum`: NaN if either operand is NaN.
    fn np_minimum(a: Self, b: Self) -> Self;
    /// NumPy's `maximum`: NaN if either operand is NaN.
    fn np_maximum(a: Self, b: Self) -> Self;
    /// NumPy's `fmin`: as `np_minimum`, but a NaN loses to a number.
    fn np_fmin(a: Self, b: Self) -> Self;
    /// NumPy's `fmax`: as `np_maximum`, but a NaN loses to a number.
    fn np_fmax(a: Self, b: Self) -> Self;
}

const DTYPE_INVARIANT: &str = "validate() checked every operand's dtype";

macro_rules! impl_lane {
    ($t:ty, $variant:ident, $min:expr, $max:expr, $fmin:expr, $fmax:expr) => {
        impl Lane for $t {
            fn reg(v: Vec<Self>) -> Reg {
                Reg::$variant(v)
            }
            fn of_reg(r: &Reg) -> &[Self] {
                match r {
                    Reg::$variant(v) => v,
                    _ => unreachable!("{DTYPE_INVARIANT}"),
                }
            }
            fn of_reg_mut(r: &mut Reg) -> &mut [Self] {
                match r {
                    Reg::$variant(v) => v,
                    _ => unreachable!("{DTYPE_INVARIANT}"),
                }
            }
            fn tile(s: &[Self]) -> TileSlice<'_> {
                TileSlice::$variant(s)
            }
            fn from_tile(t: TileSlice<'_>) -> &[Self] {
                match t {
                    TileSlice::$variant(s) => s,
                    _ => unreachable!("{DTYPE_INVARIANT}"),
                }
            }
            fn memory(c: &Chunk) -> Option<(&[Self], usize)> {
                let Chunk::$variant(a) = c else { return None };
                let mem = a.as_slice_memory_order()?;
                // With negative strides the logical first element is not the lowest
                // address; the address difference locates it without unsafe.
                let first = (a.as_ptr().addr() - mem.as_ptr().addr()) / size_of::<Self>();
                Some((mem, first))
            }
            fn standard_copy(c: &Chunk) -> Chunk {
                match c {
                    Chunk::$variant(a) => Chunk::$variant(a.as_standard_layout().into_owned()),
                    _ => unreachable!("the caller checked the chunk's dtype"),
                }
            }
            #[inline(always)] // inside the vectorized loops
            #[allow(clippy::inline_always)]
            fn np_minimum(a: Self, b: Self) -> Self {
                $min(a, b)
            }
            #[inline(always)]
            #[allow(clippy::inline_always)]
            fn np_maximum(a: Self, b: Self) -> Self {
                $max(a, b)
            }
            #[inline(always)]
            #[allow(clippy::inline_always)]
            fn np_fmin(a: Self, b: Self) -> Self {
                $fmin(a, b)
            }
            #[inline(always)]
            #[allow(clippy::inline_always)]
            fn np_fmax(a: Self, b: Self) -> Self {
                $fmax(a, b)
            }
        }
    };
}

// NumPy's rule, written as selects so loops over it vectorize: the first operand
// if it is NaN or already the answer, else the second (which is then NaN or the answer).
macro_rules! float_lane {
    ($t:ty, $variant:ident) => {
        impl_lane!(
            $t,
            $variant,
            |a: $t, b: $t| if a <= b || a.is_nan() { a } else { b },
            |a: $t, b: $t| if a >= b || a.is_nan() { a } else { b },
            // fmin/fmax: the first operand if it is the answer or the second is NaN
            // (then the first is the answer, or NaN when both are).
            |a: $t, b: $t| if a <= b || b.is_nan() { a } else { b },
            |a: $t, b: $t| if a >= b || b.is_nan() { a } else { b }
        );
    };
}

macro_rules! ord_lane {
    ($t:ty, $variant:ident) => {
        impl_lane!($t, $variant, Ord::min, Ord::max, Ord::min, Ord::max);
    };
}

ord_lane!(bool, Bool);
ord_lane!(i8, I8);
ord_lane!(i16, I16);
ord_lane!(i32, I32);
ord_lane!(i64, I64);
ord_lane!(u8, U8);
ord_lane!(u16, U16);
ord_lane!(u32, U32);
ord_lane!(u64, U64);
float_lane!(f32, F32);
float_lane!(f64, F64);

/// Runs `$body` with `$T` bound to the Rust type of an integer or float `$dtype`;
/// evaluates `$other` for bool.
macro_rules! dispatch_arith {
    ($dtype:expr, $T:ident => $body:expr, bool => $other:expr) => {
        match $dtype {
            DType::Bool => $other,
            DType::I8 => {
                type $T = i8;
                $body
            }
            DType::I16 => {
                type $T = i16;
                $body
            }
            DType::I32 => {
                type $T = i32;
                $body
            }
            DType::I64 => {
                type $T = i64;
                $body
            }
            DType::U8 => {
                type $T = u8;
                $body
            }
            DType::U16 => {
                type $T = u16;
                $body
            }
            DType::U32 => {
                type $T = u32;
                $body
            }
            DType::U64 => {
                type $T = u64;
                $body
            }
            DType::F32 => {
                type $T = f32;
                $body
            }
            DType::F64 => {
                type $T = f64;
                $body
            }
        }
    };
}

/// Runs `$body` with `$T` bound to `f32` or `f64`; evaluates `$other` otherwise.
macro_rules! dispatch_float {
    ($dtype:expr, $T:ident => $body:expr, _ => $other:expr) => {
        match $dtype {
            DType::F32 => {
                type $T = f32;
                $body
            }
            DType::F64 => {
                type $T = f64;
                $body
            }
            _ => $other,
        }
    };
}

/// Runs `$body` with `$T` bound to the Rust type of an integer `$dtype`;
/// evaluates `$other` for bool and floats.
macro_rules! dispatch_int {
    ($dtype:expr, $T:ident => $body:expr, _ => $other:expr) => {
        match $dtype {
            DType::I8 => {
                type $T = i8;
                $body
            }
            DType::I16 => {
                type $T = i16;
                $body
            }
            DType::I32 => {
                type $T = i32;
                $body
            }
            DType::I64 => {
                type $T = i64;
                $body
            }
            DType::U8 => {
                type $T = u8;
                $body
            }
            DType::U16 => {
                type $T = u16;
                $body
            }
            DType::U32 => {
                type $T = u32;
                $body
            }
            DType::U64 => {
                type $T = u64;
                $body
            }
            DType::Bool | DType::F32 | DType::F64 => $other,
        }
    };
}

pub(crate) use {dispatch_arith, dispatch_float, dispatch_int};

#[cfg(test)]
#[allow(clippy::float_cmp)] // exact results are the point
mod tests {
    use super::*;
    use ndarray::{s, Array2};

    #[test]
    fn float_minimum_maximum_propagate_nan() {
        let nan = f64::NAN;
        assert!(f64::np_minimum(nan, 1.0).is_nan());
        assert!(f64::np_minimum(1.0, nan).is_nan());
        assert!(f64::np_maximum(nan, 1.0).is_nan());
        assert!(f64::np_maximum(1.0, nan).is_nan());
        assert_eq!(f64::np_minimum(1.0, 2.0), 1.0);
        assert_eq!(f64::np_maximum(1.0, 2.0), 2.0);
        assert!(f32::np_minimum(f32::NAN, 0.0).is_nan());
        assert_eq!(i32::np_minimum(-3, 2), -3);
        assert!(!bool::np_minimum(true, false));
        assert!(bool::np_maximum(true, false));
    }

    #[test]
    fn memory_finds_first_element_of_reversed_arrays() {
        let mut a =
            Array2::from_shape_fn((2, 3), |(i, j)| i32::try_from(i * 3 + j).unwrap()).into_dyn();
        a.invert_axis(ndarray::Axis(1));
        let c = Chunk::I32(a);
        let (mem, first) = i32::memory(&c).unwrap();
        assert_eq!(mem.len(), 6);
        assert_eq!(mem[first], 2);
        // A stepped slice is not contiguous in memory.
        let b = Array2::<i32>::zeros((4, 4))
            .slice_move(s![.., ..;2])
            .into_dyn();
        assert!(i32::memory(&Chunk::I32(b)).is_none());
    }

    #[test]
    fn reg_helpers() {
        let mut r = Reg::new(DType::U16);
        r.ensure_len(5);
        u16::of_reg_mut(&mut r)[1] = 7;
        r.splat_fill(1..4);
        assert_eq!(u16::of_reg(&r), &[0, 7, 7, 7, 0]);
        r.copy_tile(3..5, TileSlice::U16(&[1, 2]));
        assert_eq!(r.tile(5), TileSlice::U16(&[0, 7, 7, 1, 2]));
        assert_eq!(r.tile(5).len(), 5);
        assert_eq!(r.tile(0).dtype(), DType::U16);
        assert!(r.tile(0).is_empty());
        let c = r.into_chunk(&[5]).unwrap();
        assert_eq!(c.shape(), &[5]);
        assert!(Reg::new(DType::F32).into_chunk(&[2]).is_err());
    }
}
