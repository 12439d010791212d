//! Reductions over all axes or a set of axes, as memory-bounded tree reductions:
//! a partial per input block (with any elementwise chain before it fused in),
//! merges of at most `split_every` partials in block order, and a final stage.

use super::{normalize_axis, DArray};
use crate::error::{Error, Result};
use crate::expr::node::{Expr, ExprKind};
use darray_kernels::{Element, ReduceKind};

/// Default fan-in of a tree reduction's merges (dask's default `split_every`).
pub const DEFAULT_SPLIT_EVERY: usize = 16;

/// Options of a reduction: which axes, whether to keep them as length 1, and the
/// merge fan-in.
///
/// ```
/// use darray::{DArray, ReduceOpts};
/// let x = DArray::<f64>::ones(&[4, 6], [2, 3]).unwrap();
/// let s = x.sum_with(&ReduceOpts::axes([1]).keepdims(true)).unwrap();
/// assert_eq!(s.shape(), &[4, 1]);
/// assert_eq!(s.compute().unwrap()[[0, 0]], 6.0);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReduceOpts {
    /// Axes to reduce (negative counts from the end); `None`: all.
    pub axes: Option<Vec<isize>>,
    /// Keep reduced axes with length 1.
    pub keepdims: bool,
    /// Largest number of partials one merge task combines (at least 2).
    pub split_every: Option<usize>,
}

impl ReduceOpts {
    /// Reduce over all axes.
    #[must_use]
    pub fn all() -> Self {
        ReduceOpts::default()
    }

    /// Reduce over these axes.
    #[must_use]
    pub fn axes(axes: impl IntoIterator<Item = isize>) -> Self {
        ReduceOpts {
            axes: Some(axes.into_iter().collect()),
            ..ReduceOpts::default()
        }
    }

    /// Keep the reduced axes as length 1.
    #[must_use]
    pub fn keepdims(mut self, keep: bool) -> Self {
        self.keepdims = keep;
        self
    }

    /// Merge fan-in.
    #[must_use]
    pub fn split_every(mut self, n: usize) -> Self {
        self.split_every = Some(n);
        self
    }
}

impl<T: Element> DArray<T> {
    /// Builds the reduction node, checking axes and the result dtype.
    pub(crate) fn reduce<U: Element>(
        &self,
        kind: ReduceKind,
        opts: &ReduceOpts,
    ) -> Result<DArray<U>> {
        let name = &self.expr.name;
        let ndim = self.ndim();
        let mut axes: Vec<usize> = match &opts.axes {
            None => (0..ndim).collect(),
            Some(list) => list
                .iter()
                .map(|&a| normalize_axis(name, a, ndim))
                .collect::<Result<_>>()?,
        };
        axes.sort_unstable();
        if let Some(w) = axes.windows(2).find(|w| w[0] == w[1]) {
            return Err(Error::DuplicateAxis {
                array: name.clone(),
                axis: w[0],
            });
        }
        if kind.is_arg() && axes.len() != 1 && axes.len() != ndim {
            return Err(Error::InvalidArgument {
                array: name.clone(),
                reason: format!("{kind:?} takes one axis or all axes, got {axes:?}"),
            });
        }
        if !kind.has_identity() && axes.iter().any(|&a| self.expr.shape[a] == 0) {
            return Err(Error::EmptyReduction {
                array: name.clone(),
                op: format!("{kind:?}").to_lowercase(),
            });
        }
        let out = darray_kernels::reduce::result_dtype(kind, T::DTYPE)?;
        if out != U::DTYPE {
            return Err(Error::DTypeMismatch {
                array: name.clone(),
                expected: U::DTYPE,
                found: out,
            });
        }
        let split_every = opts.split_every.unwrap_or(DEFAULT_SPLIT_EVERY).max(2);
        let mut shape = Vec::new();
        let mut grid = Vec::new();
        for ax in 0..ndim {
            if axes.contains(&ax) {
                if opts.keepdims {
                    shape.push(1);
                    grid.push(vec![1]);
                }
            } else {
                shape.push(self.expr.shape[ax]);
                grid.push(self.expr.grid[ax].clone());
            }
        }
        let label = format!("{kind:?}").to_lowercase();
        let label = label.split(' ').next().unwrap_or("reduce").to_string();
        Ok(DArray::wrap(Expr::new(
            label,
            shape,
            grid,
            U::DTYPE,
            ExprKind::Reduce {
                kind,
                axes,
                keepdims: opts.keepdims,
                split_every,
                input: self.expr.clone(),
            },
        )))
    }
}

macro_rules! reductions {
    ($($name:ident, $axis:ident, $with:ident => $kind:expr, $out:ty, $doc:literal;)*) => {
        impl<T: Element> DArray<T> {
            $(
                #[doc = concat!($doc, " over all axes (a 0-d array).")]
                ///
                /// # Errors
                /// A reduction without identity over an empty axis.
                pub fn $name(&self) -> Result<DArray<$out>> {
                    self.reduce($kind, &ReduceOpts::all())
                }
                #[doc = concat!($doc, " along one axis (negative counts from the end).")]
                ///
                /// # Errors
                /// An axis out of range, or a reduction without identity over an empty axis.
                pub fn $axis(&self, axis: isize) -> Result<DArray<$out>> {
                    self.reduce($kind, &ReduceOpts::axes([axis]))
                }
                #[doc = concat!($doc, " with explicit options.")]
                ///
                /// # Errors
                /// Axes out of range or repeated, or a reduction without identity over an empty axis.
                pub fn $with(&self, opts: &ReduceOpts) -> Result<DArray<$out>> {
                    self.reduce($kind, opts)
                }
            )*
        }
    };
}

reductions! {
    sum, sum_axis, sum_with => ReduceKind::Sum, T::Sum, "Sum";
    prod, prod_axis, prod_with => ReduceKind::Prod, T::Sum, "Product";
    min, min_axis, min_with => ReduceKind::Min, T, "Minimum (NaN if any NaN)";
    max, max_axis, max_with => ReduceKind::Max, T, "Maximum (NaN if any NaN)";
    argmin, argmin_axis, argmin_with => ReduceKind::ArgMin, i64, "Index of the first minimum (flat C-order index over all axes)";
    argmax, argmax_axis, argmax_with => ReduceKind::ArgMax, i64, "Index of the first maximum (flat C-order index over all axes)";
    any, any_axis, any_with => ReduceKind::Any, bool, "Whether any element is non-zero";
    all, all_axis, all_with => ReduceKind::All, bool, "Whether every element is non-zero";
    count_nonzero, count_nonzero_axis, count_nonzero_with => ReduceKind::CountNonzero, i64, "Number of non-zero elements";
    mean, mean_axis, mean_with => ReduceKind::Mean, T::Float, "Arithmetic mean";
    nansum, nansum_axis, nansum_with => ReduceKind::NanSum, T::Sum, "Sum ignoring NaN";
    nanmean, nanmean_axis, nanmean_with => ReduceKind::NanMean, T::Float, "Mean ignoring NaN";
    nanmin, nanmin_axis, nanmin_with => ReduceKind::NanMin, T, "Minimum ignoring NaN";
    nanmax, nanmax_axis, nanmax_with => ReduceKind::NanMax, T, "Maximum ignoring NaN";
}

macro_rules! moment_reductions {
    ($($name:ident, $axis:ident, $with:ident => $kind:ident, $doc:literal;)*) => {
        impl<T: Element> DArray<T> {
            $(
                #[doc = concat!($doc, " over all axes, with `ddof` delta degrees of freedom.")]
                ///
                /// # Errors
                /// Never for valid input; kept fallible like the other reductions.
                pub fn $name(&self, ddof: f64) -> Result<DArray<T::Float>> {
                    self.reduce(ReduceKind::$kind { ddof }, &ReduceOpts::all())
                }
                #[doc = concat!($doc, " along one axis, with `ddof` delta degrees of freedom.")]
                ///
                /// # Errors
                /// An axis out of range.
                pub fn $axis(&self, axis: isize, ddof: f64) -> Result<DArray<T::Float>> {
                    self.reduce(ReduceKind::$kind { ddof }, &ReduceOpts::axes([axis]))
                }
                #[doc = concat!($doc, " with explicit options.")]
                ///
                /// # Errors
                /// Axes out of range or repeated.
                pub fn $with(&self, opts: &ReduceOpts, ddof: f64) -> Result<DArray<T::Float>> {
                    self.reduce(ReduceKind::$kind { ddof }, opts)
                }
            )*
        }
    };
}

moment_reductions! {
    var, var_axis, var_with => Var, "Variance";
    std, std_axis, std_with => Std, "Standard deviation";
    nanvar, nanvar_axis, nanvar_with => NanVar, "Variance ignoring NaN";
    nanstd, nanstd_axis, nanstd_with => NanStd, "Standard deviation ignoring NaN";
}
