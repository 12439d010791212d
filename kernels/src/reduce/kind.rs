//! Which reduction to compute, and where a partial's indices sit in the array.

use serde::{Deserialize, Serialize};

/// A reduction. Result dtypes: `Sum`/`Prod`/`NanSum` give [`crate::DType::sum_dtype`];
/// `Min`/`Max`/`NanMin`/`NanMax` the input dtype; `ArgMin`/`ArgMax`/`CountNonzero`
/// `i64`; `Any`/`All` bool; the means, variances and deviations
/// [`crate::DType::float_dtype`].
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum ReduceKind {
    /// Sum (NaN propagates).
    Sum,
    /// Product (NaN propagates).
    Prod,
    /// Minimum; NaN if any element is NaN (NumPy).
    Min,
    /// Maximum; NaN if any element is NaN (NumPy).
    Max,
    /// Index of the first minimum (first NaN if any, as NumPy).
    ArgMin,
    /// Index of the first maximum (first NaN if any, as NumPy).
    ArgMax,
    /// Any element non-zero.
    Any,
    /// All elements non-zero.
    All,
    /// Number of non-zero elements.
    CountNonzero,
    /// Arithmetic mean.
    Mean,
    /// Variance with `ddof` degrees of freedom removed.
    Var {
        /// Delta degrees of freedom (0 for the population variance).
        ddof: f64,
    },
    /// Standard deviation, the square root of `Var`.
    Std {
        /// Delta degrees of freedom.
        ddof: f64,
    },
    /// Sum treating NaN as zero.
    NanSum,
    /// Mean of the non-NaN elements (NaN where there are none).
    NanMean,
    /// Minimum of the non-NaN elements (NaN where there are none).
    NanMin,
    /// Maximum of the non-NaN elements (NaN where there are none).
    NanMax,
    /// Variance of the non-NaN elements.
    NanVar {
        /// Delta degrees of freedom.
        ddof: f64,
    },
    /// Standard deviation of the non-NaN elements.
    NanStd {
        /// Delta degrees of freedom.
        ddof: f64,
    },
}

/// Where the input block sits in the whole array, for `ArgMin`/`ArgMax`: with one
/// reduced axis the index is along that axis (`offset[axis]` + local index); with
/// every axis reduced it is the flat C-order index in `global_shape`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArgContext {
    /// Start of the block in each axis.
    pub offset: Vec<usize>,
    /// Shape of the whole array.
    pub global_shape: Vec<usize>,
}
