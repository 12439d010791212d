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

impl ReduceKind {
    /// Every kind once (the variances and deviations with one `ddof` each), so
    /// tests cover a new kind the day it exists.
    pub const ALL: &'static [ReduceKind] = &[
        ReduceKind::Sum,
        ReduceKind::Prod,
        ReduceKind::Min,
        ReduceKind::Max,
        ReduceKind::ArgMin,
        ReduceKind::ArgMax,
        ReduceKind::Any,
        ReduceKind::All,
        ReduceKind::CountNonzero,
        ReduceKind::Mean,
        ReduceKind::Var { ddof: 0.0 },
        ReduceKind::Std { ddof: 1.0 },
        ReduceKind::NanSum,
        ReduceKind::NanMean,
        ReduceKind::NanMin,
        ReduceKind::NanMax,
        ReduceKind::NanVar { ddof: 0.0 },
        ReduceKind::NanStd { ddof: 1.0 },
    ];

    /// True for `ArgMin`/`ArgMax`: the result is a position, so a partial needs
    /// its block's place in the array ([`ArgContext`]) and the reduction takes
    /// one axis or all of them.
    #[must_use]
    pub fn is_arg(self) -> bool {
        match self {
            ReduceKind::ArgMin | ReduceKind::ArgMax => true,
            ReduceKind::Sum
            | ReduceKind::Prod
            | ReduceKind::Min
            | ReduceKind::Max
            | ReduceKind::Any
            | ReduceKind::All
            | ReduceKind::CountNonzero
            | ReduceKind::Mean
            | ReduceKind::Var { .. }
            | ReduceKind::Std { .. }
            | ReduceKind::NanSum
            | ReduceKind::NanMean
            | ReduceKind::NanMin
            | ReduceKind::NanMax
            | ReduceKind::NanVar { .. }
            | ReduceKind::NanStd { .. } => false,
        }
    }

    /// True if the reduction of no elements has a value (NumPy: sum 0, prod 1,
    /// mean NaN, ...); false for the extremes and their positions, which NumPy
    /// refuses on an empty axis.
    #[must_use]
    pub fn has_identity(self) -> bool {
        match self {
            ReduceKind::Min
            | ReduceKind::Max
            | ReduceKind::NanMin
            | ReduceKind::NanMax
            | ReduceKind::ArgMin
            | ReduceKind::ArgMax => false,
            ReduceKind::Sum
            | ReduceKind::Prod
            | ReduceKind::Any
            | ReduceKind::All
            | ReduceKind::CountNonzero
            | ReduceKind::Mean
            | ReduceKind::Var { .. }
            | ReduceKind::Std { .. }
            | ReduceKind::NanSum
            | ReduceKind::NanMean
            | ReduceKind::NanVar { .. }
            | ReduceKind::NanStd { .. } => true,
        }
    }

    /// True for the `nan*` kinds, which skip NaN elements.
    #[must_use]
    pub fn skips_nan(self) -> bool {
        match self {
            ReduceKind::NanSum
            | ReduceKind::NanMean
            | ReduceKind::NanMin
            | ReduceKind::NanMax
            | ReduceKind::NanVar { .. }
            | ReduceKind::NanStd { .. } => true,
            ReduceKind::Sum
            | ReduceKind::Prod
            | ReduceKind::Min
            | ReduceKind::Max
            | ReduceKind::ArgMin
            | ReduceKind::ArgMax
            | ReduceKind::Any
            | ReduceKind::All
            | ReduceKind::CountNonzero
            | ReduceKind::Mean
            | ReduceKind::Var { .. }
            | ReduceKind::Std { .. } => false,
        }
    }

    /// The same kind with `ddof` degrees of freedom removed, for the variances
    /// and deviations; other kinds are returned unchanged.
    #[must_use]
    pub fn with_ddof(self, ddof: f64) -> ReduceKind {
        match self {
            ReduceKind::Var { .. } => ReduceKind::Var { ddof },
            ReduceKind::Std { .. } => ReduceKind::Std { ddof },
            ReduceKind::NanVar { .. } => ReduceKind::NanVar { ddof },
            ReduceKind::NanStd { .. } => ReduceKind::NanStd { ddof },
            ReduceKind::Sum
            | ReduceKind::Prod
            | ReduceKind::Min
            | ReduceKind::Max
            | ReduceKind::ArgMin
            | ReduceKind::ArgMax
            | ReduceKind::Any
            | ReduceKind::All
            | ReduceKind::CountNonzero
            | ReduceKind::Mean
            | ReduceKind::NanSum
            | ReduceKind::NanMean
            | ReduceKind::NanMin
            | ReduceKind::NanMax => self,
        }
    }

    /// True for the standard deviations, the square roots of the variances.
    #[must_use]
    pub fn is_deviation(self) -> bool {
        match self {
            ReduceKind::Std { .. } | ReduceKind::NanStd { .. } => true,
            ReduceKind::Sum
            | ReduceKind::Prod
            | ReduceKind::Min
            | ReduceKind::Max
            | ReduceKind::ArgMin
            | ReduceKind::ArgMax
            | ReduceKind::Any
            | ReduceKind::All
            | ReduceKind::CountNonzero
            | ReduceKind::Mean
            | ReduceKind::Var { .. }
            | ReduceKind::NanSum
            | ReduceKind::NanMean
            | ReduceKind::NanMin
            | ReduceKind::NanMax
            | ReduceKind::NanVar { .. } => false,
        }
    }
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

#[cfg(test)]
mod tests {
    use super::ReduceKind;

    #[test]
    fn all_lists_every_kind() {
        crate::assert_lists_every_variant!(
            ReduceKind::ALL,
            ReduceKind::Sum,
            ReduceKind::Prod,
            ReduceKind::Min,
            ReduceKind::Max,
            ReduceKind::ArgMin,
            ReduceKind::ArgMax,
            ReduceKind::Any,
            ReduceKind::All,
            ReduceKind::CountNonzero,
            ReduceKind::Mean,
            ReduceKind::Var { .. },
            ReduceKind::Std { .. },
            ReduceKind::NanSum,
            ReduceKind::NanMean,
            ReduceKind::NanMin,
            ReduceKind::NanMax,
            ReduceKind::NanVar { .. },
            ReduceKind::NanStd { .. },
        );
    }

    /// The properties agree with the kinds' names: `nan*` skips NaN, `arg*` is
    /// positional, the extremes and positions have no identity.
    #[test]
    fn properties_follow_the_names() {
        for &kind in ReduceKind::ALL {
            let name = format!("{kind:?}");
            assert_eq!(kind.skips_nan(), name.starts_with("Nan"), "{name}");
            assert_eq!(kind.is_arg(), name.starts_with("Arg"), "{name}");
            let extreme = ["Min", "Max"].iter().any(|m| name.ends_with(m));
            assert_eq!(kind.has_identity(), !extreme, "{name}");
            assert_eq!(kind.is_deviation(), name.contains("Std"), "{name}");
        }
    }
}
