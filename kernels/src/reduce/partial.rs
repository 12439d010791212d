//! First stage: one input block to its partial.

use super::elem::{Acc, Elem};
use super::extreme::{ArgExtreme, ArgIndex, Extreme};
use super::layout::{Layout, Reducer};
use super::moments::{moments, sum_count, to_array};
use super::sum::{Logical, ProdOf, SumOf};
use super::{check_axes, describe};
use crate::chunk::{Chunk, Partial};
use crate::dtype::Element;
use crate::error::{KernelError, Result};
use crate::reduce::kind::{ArgContext, ReduceKind};
use ndarray::{ArrayD, ArrayViewD, IxDyn};
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
/// Any memory layout is accepted. A block that is contiguous in some axis order (C,
/// Fortran, transposed) is read in memory order without a copy; others are copied
/// into C order first.
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
    let index = if kind.is_arg() {
        let ctx = arg.ok_or_else(|| {
            KernelError::Other(format!(
                "{kind:?} needs an ArgContext for the block's position"
            ))
        })?;
        Some(ArgIndex::new(shape, axes, ctx)?)
    } else {
        None
    };
    crate::dispatch_dtype!(dtype, T => {
        let view = T::view_chunk(input).ok_or_else(|| KernelError::DType {
            expected: dtype.numpy_name().into(),
            got: describe(input),
        })?;
        // Arg kinds break ties by C-order position, so they always read in C order.
        let block = Ordered::new(&view, !kind.is_arg());
        let Some(perm) = block.perm else {
            return typed::<T>(kind, &Layout::new(shape, axes), &block.data, index.as_ref());
        };
        let permuted_shape: Vec<usize> = perm.iter().map(|&d| shape[d]).collect();
        let permuted_axes: Vec<usize> = (0..perm.len()).filter(|&i| axes.contains(&perm[i])).collect();
        let layout = Layout::new(&permuted_shape, &permuted_axes);
        let mut inverse = vec![0; perm.len()];
        for (i, &d) in perm.iter().enumerate() {
            inverse[d] = i;
        }
        unpermute(typed::<T>(kind, &layout, &block.data, None)?, &inverse)
    })
}

/// A block's elements in memory order, and the axis order (`perm[i]` is the block
/// axis that is i-th in memory) when that is not C order.
struct Ordered<'a, T: Clone> {
    data: Cow<'a, [T]>,
    perm: Option<Vec<usize>>,
}

impl<'a, T: Copy> Ordered<'a, T> {
    /// Borrows C-contiguous blocks and, when `permute`, blocks that are contiguous in
    /// another axis order (a transposed or Fortran-order block), which are then
    /// reduced in memory order rather than gathered through strides; copies the rest.
    fn new(view: &ArrayViewD<'a, T>, permute: bool) -> Self {
        if let Some(s) = view.to_slice() {
            return Ordered {
                data: Cow::Borrowed(s),
                perm: None,
            };
        }
        if permute {
            let mut perm: Vec<usize> = (0..view.ndim()).collect();
            perm.sort_by_key(|&d| std::cmp::Reverse(view.strides()[d].unsigned_abs()));
            if let Some(s) = view.clone().permuted_axes(IxDyn(&perm)).to_slice() {
                return Ordered {
                    data: Cow::Borrowed(s),
                    perm: Some(perm),
                };
            }
        }
        Ordered {
            data: Cow::Owned(view.as_standard_layout().iter().copied().collect()),
            perm: None,
        }
    }
}

/// Puts the axes of a partial computed in memory order back in block order.
fn unpermute(c: Chunk, inverse: &[usize]) -> Result<Chunk> {
    fn back<T: Clone>(a: ArrayD<T>, inverse: &[usize]) -> ArrayD<T> {
        a.permuted_axes(IxDyn(inverse))
            .as_standard_layout()
            .into_owned()
    }
    fn data<T: Element>(a: ArrayD<T>, inverse: &[usize]) -> Chunk {
        T::into_chunk(back(a, inverse))
    }
    Ok(match c {
        Chunk::Partial(Partial::SumCount { sum, count }) => Chunk::Partial(Partial::SumCount {
            sum: back(sum, inverse),
            count: back(count, inverse),
        }),
        Chunk::Partial(Partial::Moments { count, mean, m2 }) => Chunk::Partial(Partial::Moments {
            count: back(count, inverse),
            mean: back(mean, inverse),
            m2: back(m2, inverse),
        }),
        other => crate::map_chunk!(other, a => data(a, inverse), _ => {
            return Err(KernelError::Other("internal: permuted arg partial".into()))
        }),
    })
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
