//! First stage: one input block to its partial.

use super::elem::{Acc, Elem};
use super::extreme::{ArgExtreme, ArgIndex, Extreme};
use super::layout::{Layout, Reducer};
use super::moments::{moments, sum_count, to_array};
use super::sum::{Logical, ProdOf, SumOf};
use super::{check_axes, describe, is_arg};
use crate::chunk::{Chunk, Partial};
use crate::dtype::Element;
use crate::error::{KernelError, Result};
use crate::reduce::kind::{ArgContext, ReduceKind};
use ndarray::ArrayViewD;
use std::borrow::Cow;

/// Partial result of `kind` over `axes` of one input block.
///
/// `axes` must be sorted, distinct and `< ndim` (an empty list reduces nothing; all
/// axes is allowed). The partial keeps the reduced axes at length 1. Its
/// representation, per kind:
/// - `Sum`, `Prod`, `NanSum`: data of [`crate::DType::sum_dtype`] (integers wrap);
/// - `Min`, `Max`, `NanMin`, `NanMax`: data of the input dtype; an empty block holds
///   the identity (`+inf`/`-inf`, the integer bounds, `true`/`false`; NaN for float
///   `NanMin`/`NanMax`);
/// - `Any`, `All`: bool; `CountNonzero`: `i64`;
/// - `Mean`, `NanMean`: [`Partial::SumCount`]; the variances and deviations:
///   [`Partial::Moments`];
/// - `ArgMin`, `ArgMax`: [`Partial::Arg`]; `index` is along the single reduced axis
///   (`arg.offset[axis]` + local index) or, when every axis is reduced, the flat
///   C-order index in `arg.global_shape`; an empty block has index -1.
///
/// Any memory layout is accepted; a block not in C order is copied into C order first.
///
/// # Errors
/// If `input` is not a data chunk, `axes` are invalid, or, for `ArgMin`/`ArgMax`,
/// `arg` is missing, does not fit the block, or `axes` is neither one axis nor all.
pub fn partial(
    kind: ReduceKind,
    input: &Chunk,
    axes: &[usize],
    arg: Option<&ArgContext>,
) -> Result<Chunk> {
    let dtype = input.dtype().ok_or_else(|| KernelError::DType {
        expected: "a data chunk".into(),
        got: describe(input),
    })?;
    let shape = input.shape();
    check_axes(axes, shape.len())?;
    let index = if is_arg(kind) {
        let ctx = arg.ok_or_else(|| {
            KernelError::Other(format!(
                "{kind:?} needs an ArgContext for the block's position"
            ))
        })?;
        Some(ArgIndex::new(shape, axes, ctx)?)
    } else {
        None
    };
    let layout = Layout::new(shape, axes);
    crate::dispatch_dtype!(dtype, T => {
        let view = T::view_chunk(input).ok_or_else(|| KernelError::DType {
            expected: dtype.numpy_name().into(),
            got: describe(input),
        })?;
        typed::<T>(kind, &layout, &contiguous(&view), index.as_ref())
    })
}

/// The block's elements in C order, borrowed when it already is.
fn contiguous<'a, T: Copy>(view: &'a ArrayViewD<'_, T>) -> Cow<'a, [T]> {
    match view.as_slice() {
        Some(s) => Cow::Borrowed(s),
        None => Cow::Owned(view.iter().copied().collect()),
    }
}

/// Runs `r` and wraps its accumulators as a data chunk.
fn data<T: Copy, A: Element, R: Reducer<T, Acc = A>>(
    layout: &Layout,
    xs: &[T],
    r: &R,
) -> Result<Chunk> {
    Ok(A::into_chunk(to_array(
        layout.out_shape(),
        layout.run(xs, r),
    )?))
}

fn typed<T: Elem>(
    kind: ReduceKind,
    layout: &Layout,
    xs: &[T],
    index: Option<&ArgIndex>,
) -> Result<Chunk> {
    let no_nan = |x: T| {
        if x.is_nan() {
            T::SumAcc::ZERO
        } else {
            x.widen()
        }
    };
    let nonzero = |x: T| x.is_nonzero();
    let p = match kind {
        ReduceKind::Sum => return data(layout, xs, &SumOf(T::widen)),
        ReduceKind::NanSum => return data(layout, xs, &SumOf(no_nan)),
        ReduceKind::Prod => return data(layout, xs, &ProdOf(T::widen)),
        ReduceKind::Min => return data(layout, xs, &Extreme::<false, false>),
        ReduceKind::Max => return data(layout, xs, &Extreme::<true, false>),
        ReduceKind::NanMin => return data(layout, xs, &Extreme::<false, true>),
        ReduceKind::NanMax => return data(layout, xs, &Extreme::<true, true>),
        ReduceKind::Any => return data(layout, xs, &Logical::<_, false>(nonzero)),
        ReduceKind::All => return data(layout, xs, &Logical::<_, true>(nonzero)),
        ReduceKind::CountNonzero => {
            return data(layout, xs, &SumOf(|x: T| i64::from(x.is_nonzero())))
        }
        ReduceKind::Mean => sum_count::<T, false>(layout, xs)?,
        ReduceKind::NanMean => sum_count::<T, true>(layout, xs)?,
        ReduceKind::Var { .. } | ReduceKind::Std { .. } => moments::<T, false>(layout, xs)?,
        ReduceKind::NanVar { .. } | ReduceKind::NanStd { .. } => moments::<T, true>(layout, xs)?,
        ReduceKind::ArgMin => arg::<T, false>(layout, xs, index)?,
        ReduceKind::ArgMax => arg::<T, true>(layout, xs, index)?,
    };
    Ok(Chunk::Partial(p))
}

fn arg<T: Elem, const MAX: bool>(
    layout: &Layout,
    xs: &[T],
    index: Option<&ArgIndex>,
) -> Result<Partial> {
    let index = index.ok_or_else(|| KernelError::Other("arg reduction without context".into()))?;
    let best = layout.run(xs, &ArgExtreme::<MAX>);
    let (values, indices): (Vec<T>, Vec<i64>) = best
        .into_iter()
        .map(|(v, pos)| (v, pos.map_or(-1, |p| index.index(p))))
        .unzip();
    Ok(Partial::Arg {
        value: Box::new(T::into_chunk(to_array(layout.out_shape(), values)?)),
        index: to_array(layout.out_shape(), indices)?,
    })
}
