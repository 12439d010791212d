//! Reductions in three stages: [`partial()`] (per input block), [`merge()`] (of
//! partials, in block order), [`finalize()`] (partial to result). The graph owns the
//! tree of merges and the block offsets; this module owns the arithmetic and the
//! partial representations (documented on [`partial()`]).
//!
//! Every kind accepts every dtype, as in NumPy: bool counts as 0/1, the `nan*`
//! kinds equal the plain ones for integers and bool, and means and variances of
//! integers are computed in `f64`.

pub mod kind;

mod elem;
mod extreme;
mod finalize;
mod layout;
mod merge;
mod moments;
mod partial;
mod sum;
#[cfg(test)]
mod tests;

pub use finalize::{finalize, finalize_for};
pub use kind::{ArgContext, ReduceKind};
pub use merge::merge;
pub use partial::partial;

use crate::chunk::{Chunk, Partial};
use crate::dtype::{DType, Element};
use crate::error::{KernelError, Result};
use ndarray::ArrayViewD;

/// The dtype of the finalized result for an input dtype: [`DType::sum_dtype`] for
/// `Sum`/`Prod`/`NanSum`; the input dtype for `Min`/`Max`/`NanMin`/`NanMax`; `i64`
/// for `ArgMin`/`ArgMax`/`CountNonzero`; bool for `Any`/`All`; and
/// [`DType::float_dtype`] (`f32` for `f32`, else `f64`) for the means, variances and
/// deviations.
///
/// # Errors
/// Only for a variance or deviation whose `ddof` is not finite; every kind applies
/// to every dtype.
pub fn result_dtype(kind: ReduceKind, input: DType) -> Result<DType> {
    Ok(match kind {
        ReduceKind::Sum | ReduceKind::Prod | ReduceKind::NanSum => input.sum_dtype(),
        ReduceKind::Min | ReduceKind::Max | ReduceKind::NanMin | ReduceKind::NanMax => input,
        ReduceKind::ArgMin | ReduceKind::ArgMax | ReduceKind::CountNonzero => DType::I64,
        ReduceKind::Any | ReduceKind::All => DType::Bool,
        ReduceKind::Mean | ReduceKind::NanMean => input.float_dtype(),
        ReduceKind::Var { ddof }
        | ReduceKind::Std { ddof }
        | ReduceKind::NanVar { ddof }
        | ReduceKind::NanStd { ddof } => {
            check_ddof(ddof)?;
            input.float_dtype()
        }
    })
}

/// Bytes of a partial holding `n` output elements for an input of `dtype`, for
/// memory projections; equal to [`Chunk::nbytes`] of the partial [`partial()`] returns
/// (saturating instead of overflowing).
#[must_use]
pub fn partial_nbytes(kind: ReduceKind, input: DType, n: usize) -> usize {
    let per_element = match kind {
        ReduceKind::Sum | ReduceKind::Prod | ReduceKind::NanSum => input.sum_dtype().size(),
        ReduceKind::Min | ReduceKind::Max | ReduceKind::NanMin | ReduceKind::NanMax => input.size(),
        ReduceKind::Any | ReduceKind::All => DType::Bool.size(),
        ReduceKind::CountNonzero => DType::I64.size(),
        ReduceKind::Mean | ReduceKind::NanMean => 16,
        ReduceKind::Var { .. }
        | ReduceKind::Std { .. }
        | ReduceKind::NanVar { .. }
        | ReduceKind::NanStd { .. } => 24,
        ReduceKind::ArgMin | ReduceKind::ArgMax => input.size() + 8,
    };
    n.saturating_mul(per_element)
}

/// Axes must be sorted, distinct and in range.
fn check_axes(axes: &[usize], ndim: usize) -> Result<()> {
    let sorted = axes.windows(2).all(|w| w[0] < w[1]);
    if sorted && axes.iter().all(|&a| a < ndim) {
        Ok(())
    } else {
        Err(KernelError::Other(format!(
            "reduction axes {axes:?} must be sorted, distinct and less than ndim {ndim}"
        )))
    }
}

fn check_ddof(ddof: f64) -> Result<()> {
    if ddof.is_finite() {
        Ok(())
    } else {
        Err(KernelError::Other(format!(
            "ddof must be finite, got {ddof}"
        )))
    }
}

/// What a chunk holds, for error messages.
fn describe(c: &Chunk) -> String {
    match c {
        Chunk::Partial(Partial::SumCount { .. }) => "a SumCount partial".into(),
        Chunk::Partial(Partial::Moments { .. }) => "a Moments partial".into(),
        Chunk::Partial(Partial::Arg { .. }) => "an Arg partial".into(),
        Chunk::Unit => "a unit chunk".into(),
        data => data
            .dtype()
            .map_or_else(String::new, |d| d.numpy_name().to_string()),
    }
}

/// The array in `c` if it holds `T`.
fn view<T: Element>(c: &Chunk) -> Result<ArrayViewD<'_, T>> {
    T::view_chunk(c).ok_or_else(|| KernelError::DType {
        expected: T::DTYPE.numpy_name().into(),
        got: describe(c),
    })
}
