//! [`Chunk`]: one block of data of any dtype, or a partial reduction result.
//! Tasks pass chunks to each other; kernels match on the variant.

use crate::dtype::{DType, Element};
use ndarray::{ArrayD, IxDyn};
use serde::{Deserialize, Serialize};

/// One block of an array, type-erased, or the partial state of a reduction.
// Chunks live behind `Arc` in the executor and are moved a handful of times per
// task, so the size of the `Partial` variant costs nothing worth a `Box`.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Chunk {
    /// `bool` data.
    Bool(ArrayD<bool>),
    /// `i8` data.
    I8(ArrayD<i8>),
    /// `i16` data.
    I16(ArrayD<i16>),
    /// `i32` data.
    I32(ArrayD<i32>),
    /// `i64` data.
    I64(ArrayD<i64>),
    /// `u8` data.
    U8(ArrayD<u8>),
    /// `u16` data.
    U16(ArrayD<u16>),
    /// `u32` data.
    U32(ArrayD<u32>),
    /// `u64` data.
    U64(ArrayD<u64>),
    /// `f32` data.
    F32(ArrayD<f32>),
    /// `f64` data.
    F64(ArrayD<f64>),
    /// The state of a reduction between its partial and final stages.
    Partial(Partial),
    /// The result of a task that produces no data (a chunk write).
    Unit,
}

/// Intermediate state of a reduction. Every array in it has the shape of the
/// reduced block with the reduced axes kept at length 1.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Partial {
    /// Sum and count of the (non-NaN) elements, for `mean` and `nanmean`.
    SumCount {
        /// Sum of the values, in `f64`.
        sum: ArrayD<f64>,
        /// Number of values summed.
        count: ArrayD<f64>,
    },
    /// Count, mean and sum of squared deviations (Chan et al.), for `var`/`std`.
    Moments {
        /// Number of values.
        count: ArrayD<f64>,
        /// Their mean.
        mean: ArrayD<f64>,
        /// Sum of squared deviations from the mean.
        m2: ArrayD<f64>,
    },
    /// Best value so far and its global index, for `argmin`/`argmax`.
    Arg {
        /// The best value, in the input dtype.
        value: Box<Chunk>,
        /// Its index: flat in the whole array, or along the reduced axis.
        index: ArrayD<i64>,
    },
}

impl Chunk {
    /// The dtype of a data chunk; `None` for a partial or unit chunk.
    #[must_use]
    pub fn dtype(&self) -> Option<DType> {
        Some(match self {
            Chunk::Bool(_) => DType::Bool,
            Chunk::I8(_) => DType::I8,
            Chunk::I16(_) => DType::I16,
            Chunk::I32(_) => DType::I32,
            Chunk::I64(_) => DType::I64,
            Chunk::U8(_) => DType::U8,
            Chunk::U16(_) => DType::U16,
            Chunk::U32(_) => DType::U32,
            Chunk::U64(_) => DType::U64,
            Chunk::F32(_) => DType::F32,
            Chunk::F64(_) => DType::F64,
            Chunk::Partial(_) | Chunk::Unit => return None,
        })
    }

    /// The shape of the data (of the first array, for a partial; empty for unit).
    #[must_use]
    pub fn shape(&self) -> &[usize] {
        match self {
            Chunk::Bool(a) => a.shape(),
            Chunk::I8(a) => a.shape(),
            Chunk::I16(a) => a.shape(),
            Chunk::I32(a) => a.shape(),
            Chunk::I64(a) => a.shape(),
            Chunk::U8(a) => a.shape(),
            Chunk::U16(a) => a.shape(),
            Chunk::U32(a) => a.shape(),
            Chunk::U64(a) => a.shape(),
            Chunk::F32(a) => a.shape(),
            Chunk::F64(a) => a.shape(),
            Chunk::Partial(Partial::SumCount { sum, .. }) => sum.shape(),
            Chunk::Partial(Partial::Moments { count, .. }) => count.shape(),
            Chunk::Partial(Partial::Arg { index, .. }) => index.shape(),
            Chunk::Unit => &[],
        }
    }

    /// Bytes held by the chunk's arrays.
    #[must_use]
    pub fn nbytes(&self) -> usize {
        let n: usize = self.shape().iter().product();
        match self {
            Chunk::Partial(Partial::SumCount { .. }) => 16 * n,
            Chunk::Partial(Partial::Moments { .. }) => 24 * n,
            Chunk::Partial(Partial::Arg { value, .. }) => value.nbytes() + 8 * n,
            Chunk::Unit => 0,
            other => n * other.dtype().map_or(0, DType::size),
        }
    }

    /// A chunk of `shape` filled with `T::default()` (zero, false).
    #[must_use]
    pub fn zeros(dtype: DType, shape: &[usize]) -> Chunk {
        crate::dispatch_dtype!(dtype, T => T::into_chunk(ArrayD::<T>::default(IxDyn(shape))))
    }
}

/// Applies `$body` to the array inside a data chunk, binding it as `$a`; evaluates
/// `$other` for partial and unit chunks.
///
/// ```
/// use darray_kernels::{map_chunk, Chunk};
/// let c = Chunk::F64(ndarray::ArrayD::zeros(ndarray::IxDyn(&[2, 3])));
/// let n = map_chunk!(&c, a => a.len(), _ => 0);
/// assert_eq!(n, 6);
/// ```
#[macro_export]
macro_rules! map_chunk {
    ($chunk:expr, $a:ident => $body:expr, _ => $other:expr) => {
        match $chunk {
            $crate::Chunk::Bool($a) => $body,
            $crate::Chunk::I8($a) => $body,
            $crate::Chunk::I16($a) => $body,
            $crate::Chunk::I32($a) => $body,
            $crate::Chunk::I64($a) => $body,
            $crate::Chunk::U8($a) => $body,
            $crate::Chunk::U16($a) => $body,
            $crate::Chunk::U32($a) => $body,
            $crate::Chunk::U64($a) => $body,
            $crate::Chunk::F32($a) => $body,
            $crate::Chunk::F64($a) => $body,
            _ => $other,
        }
    };
}
