//! Third stage: a merged partial to the reduction's result.

use super::moments::variance;
use super::{check_axes, check_ddof, describe, result_dtype};
use crate::chunk::{Chunk, Partial};
use crate::dtype::{DType, Element};
use crate::error::{KernelError, Result};
use crate::reduce::kind::ReduceKind;
use ndarray::{ArrayD, Axis, Zip};

/// Turns a (merged) partial into the result, dropping the reduced `axes` unless
/// `keepdims`.
///
/// The result dtype is `result_dtype(kind, input)`, except that `SumCount` and
/// `Moments` partials do not record whether the input was `f32`: for the means,
/// variances and deviations this returns `f64`. Use [`finalize_for`] where the input
/// dtype is known. Empty reductions give: sum 0, prod 1, any false, all true, count
/// 0, mean/var NaN, min/max the identity documented on [`partial()`](super::partial()).
///
/// # Errors
/// If `part` is not the partial `kind` produces, `axes` are invalid or not of length
/// 1 in `part`, a ddof is not finite, or an `ArgMin`/`ArgMax` covered no element
/// (as NumPy raises for the arg of an empty sequence).
pub fn finalize(kind: ReduceKind, part: &Chunk, axes: &[usize], keepdims: bool) -> Result<Chunk> {
    let float = match part {
        Chunk::Partial(Partial::SumCount { .. } | Partial::Moments { .. }) => DType::F64,
        _ => part.dtype().unwrap_or(DType::F64),
    };
    finalize_impl(kind, part, axes, keepdims, float)
}

/// [`finalize`] for a reduction of an input of dtype `input`: the result has dtype
/// exactly `result_dtype(kind, input)` (so the mean of `f32` data is `f32`).
///
/// # Errors
/// As [`finalize`], and if `part` does not hold the partial dtype that `input`
/// implies (e.g. a `u64` sum partial for an `i32` input).
pub fn finalize_for(
    kind: ReduceKind,
    part: &Chunk,
    axes: &[usize],
    keepdims: bool,
    input: DType,
) -> Result<Chunk> {
    let want = result_dtype(kind, input)?;
    // The dtype the partial holds for this input, where the partial records it.
    let expected_part = match kind {
        ReduceKind::ArgMin | ReduceKind::ArgMax => match part {
            Chunk::Partial(Partial::Arg { value, .. }) => value.dtype(),
            _ => None,
        },
        ReduceKind::Mean
        | ReduceKind::NanMean
        | ReduceKind::Var { .. }
        | ReduceKind::Std { .. }
        | ReduceKind::NanVar { .. }
        | ReduceKind::NanStd { .. } => None,
        ReduceKind::Sum
        | ReduceKind::Prod
        | ReduceKind::NanSum
        | ReduceKind::Min
        | ReduceKind::Max
        | ReduceKind::NanMin
        | ReduceKind::NanMax
        | ReduceKind::Any
        | ReduceKind::All
        | ReduceKind::CountNonzero => Some(want),
    };
    let got = match part {
        Chunk::Partial(Partial::Arg { .. }) => Some(input),
        _ => part.dtype(),
    };
    if expected_part.is_some() && expected_part != got {
        return Err(KernelError::DType {
            expected: format!("a {kind:?} partial of {input}"),
            got: describe(part),
        });
    }
    finalize_impl(kind, part, axes, keepdims, want)
}

/// `float` is the dtype for mean/var results (`f32` or `f64`).
fn finalize_impl(
    kind: ReduceKind,
    part: &Chunk,
    axes: &[usize],
    keepdims: bool,
    float: DType,
) -> Result<Chunk> {
    let shape = part.shape();
    check_axes(axes, shape.len())?;
    if axes.iter().any(|&a| shape[a] != 1) {
        let expected = shape
            .iter()
            .enumerate()
            .map(|(d, &n)| if axes.contains(&d) { 1 } else { n })
            .collect();
        return Err(KernelError::Shape {
            expected,
            got: shape.to_vec(),
        });
    }
    let result = match kind {
        ReduceKind::Sum | ReduceKind::NanSum | ReduceKind::Prod => match part.dtype() {
            Some(DType::I64 | DType::U64 | DType::F32 | DType::F64) => part.clone(),
            _ => return Err(wrong(kind, part)),
        },
        ReduceKind::Min | ReduceKind::Max | ReduceKind::NanMin | ReduceKind::NanMax => {
            if part.dtype().is_none() {
                return Err(wrong(kind, part));
            }
            part.clone()
        }
        ReduceKind::Any | ReduceKind::All => match part {
            Chunk::Bool(_) => part.clone(),
            _ => return Err(wrong(kind, part)),
        },
        ReduceKind::CountNonzero => match part {
            Chunk::I64(_) => part.clone(),
            _ => return Err(wrong(kind, part)),
        },
        ReduceKind::Mean | ReduceKind::NanMean => {
            let Chunk::Partial(Partial::SumCount { sum, count }) = part else {
                return Err(wrong(kind, part));
            };
            same_shape(sum, count)?;
            to_float(Zip::from(sum).and(count).map_collect(|&s, &n| s / n), float)
        }
        ReduceKind::Var { ddof }
        | ReduceKind::NanVar { ddof }
        | ReduceKind::Std { ddof }
        | ReduceKind::NanStd { ddof } => {
            let Chunk::Partial(Partial::Moments { count, mean, m2 }) = part else {
                return Err(wrong(kind, part));
            };
            check_ddof(ddof)?;
            same_shape(count, m2)?;
            same_shape(count, mean)?;
            let sqrt = kind.is_deviation();
            let var = Zip::from(count).and(m2).map_collect(|&n, &q| {
                let v = variance(n, q, ddof);
                if sqrt {
                    v.sqrt()
                } else {
                    v
                }
            });
            to_float(var, float)
        }
        ReduceKind::ArgMin | ReduceKind::ArgMax => {
            let Chunk::Partial(Partial::Arg { value, index }) = part else {
                return Err(wrong(kind, part));
            };
            if value.shape() != index.shape() {
                return Err(KernelError::Shape {
                    expected: index.shape().to_vec(),
                    got: value.shape().to_vec(),
                });
            }
            if index.iter().any(|&i| i < 0) {
                return Err(KernelError::Other(format!(
                    "{kind:?} of an empty sequence: the reduced axes have no elements"
                )));
            }
            Chunk::I64(index.clone())
        }
    };
    if keepdims {
        Ok(result)
    } else {
        Ok(crate::map_chunk!(result, a => drop_axes(a, axes), _ => Chunk::Unit))
    }
}

fn wrong(kind: ReduceKind, part: &Chunk) -> KernelError {
    KernelError::DType {
        expected: format!("the partial of {kind:?}"),
        got: describe(part),
    }
}

fn same_shape(a: &ArrayD<f64>, b: &ArrayD<f64>) -> Result<()> {
    if a.shape() == b.shape() {
        Ok(())
    } else {
        Err(KernelError::Shape {
            expected: a.shape().to_vec(),
            got: b.shape().to_vec(),
        })
    }
}

#[allow(clippy::cast_possible_truncation)] // f32 results are rounded from f64 on purpose.
fn to_float(a: ArrayD<f64>, float: DType) -> Chunk {
    if float == DType::F32 {
        Chunk::F32(a.mapv(|v| v as f32))
    } else {
        Chunk::F64(a)
    }
}

/// Removes the (validated, length-1) `axes`.
fn drop_axes<T: Element>(mut a: ArrayD<T>, axes: &[usize]) -> Chunk {
    // Highest first, so the remaining axis numbers stay valid.
    for &ax in axes.iter().rev() {
        a = a.index_axis_move(Axis(ax), 0);
    }
    T::into_chunk(a)
}
