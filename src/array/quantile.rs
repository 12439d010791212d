//! Exact order statistics: `quantile`, `percentile`, `median` and their
//! NaN-skipping variants (NumPy's), over all axes or along one axis of any
//! chunking (lowering in `crate::ops::quantile`; the selection kernels in
//! `darray_kernels::quantile`).

use super::{normalize_axis, DArray};
use crate::error::{Error, Result};
use crate::expr::node::recomputed;
use crate::ops::quantile::{axis_quantile, radix_counts, radix_finish, radix_refine};
use darray_kernels::quantile::{radix_passes, QuantileSpec};
use darray_kernels::{Element, Numeric};

pub use darray_kernels::quantile::QuantileMethod;

/// The quantiles asked for: one (the result has no axis for it), or several
/// (the result has a leading axis of one entry per quantile, as NumPy's).
#[derive(Clone, Debug, PartialEq)]
pub enum Quantiles {
    /// One quantile.
    One(f64),
    /// Several quantiles, in the order of the result's leading axis.
    Many(Vec<f64>),
}

impl From<f64> for Quantiles {
    fn from(q: f64) -> Self {
        Quantiles::One(q)
    }
}

impl From<Vec<f64>> for Quantiles {
    fn from(q: Vec<f64>) -> Self {
        Quantiles::Many(q)
    }
}

impl From<&[f64]> for Quantiles {
    fn from(q: &[f64]) -> Self {
        Quantiles::Many(q.to_vec())
    }
}

impl<const N: usize> From<[f64; N]> for Quantiles {
    fn from(q: [f64; N]) -> Self {
        Quantiles::Many(q.to_vec())
    }
}

impl<const N: usize> From<&[f64; N]> for Quantiles {
    fn from(q: &[f64; N]) -> Self {
        Quantiles::Many(q.to_vec())
    }
}

impl<T: Numeric> DArray<T> {
    /// The quantiles `q` (each in `[0, 1]`) of the elements, over all axes
    /// (`axis: None`) or along one axis (NumPy's `quantile(a, q, axis,
    /// method=...)`). Exact: the result is what sorting the whole lane (or
    /// array) would give, on any chunking, executor and thread count.
    ///
    /// - The result is in `T::Float` (`f64` for integers, as NumPy; `f32`
    ///   for `f32`, interpolating in `f32`). Its shape is the other axes
    ///   (nothing, over all axes), after a leading axis of one entry per `q`
    ///   when `q` is a list ([`Quantiles::Many`]).
    /// - Values are ordered as `total_cmp` orders them, so `-0.0` counts as
    ///   below `0.0`. A lane (or array) holding NaN gives NaN (use
    ///   [`DArray::nanquantile`] to skip them); an empty lane gives NaN
    ///   (NumPy warns or raises there).
    /// - At an exact index (weight 0), the result is the element itself, so
    ///   an infinite neighbour does not make it NaN.
    ///
    /// Along an axis, the axis does not need to be one block: each output
    /// block's lanes are assembled whole, in bands of at most a quarter of the
    /// executor's memory budget and about two input blocks or 64 MiB (cut out
    /// of the input blocks first when a block's lanes make a larger band),
    /// then each lane is selected in a scratch copy (`select_nth_unstable`).
    /// Over all axes, nothing is gathered: a radix selection reads the array
    /// once per pass (6 passes for 64-bit dtypes, 3 for 32-bit, 2 for 16-bit,
    /// 1 for 8-bit), counting key digits per block (tree-summed in block
    /// order) to narrow each needed rank to its exact value; all passes are
    /// one graph, run at compute. Blocks that are cheap to recompute (reads,
    /// creation, elementwise, slicing) are recomputed per pass rather than
    /// held; others (in-memory arrays, reductions, user kernels) are held.
    ///
    /// ```
    /// use darray::{DArray, QuantileMethod};
    /// let x = DArray::<f64>::from_ndarray(&ndarray::array![[1.0, 4.0], [3.0, 2.0]], [1, 1]).unwrap();
    /// let q = x.quantile(0.5, None, QuantileMethod::Linear).unwrap();
    /// assert_eq!(q.compute_scalar().unwrap(), 2.5);
    /// let q = x.quantile([0.0, 1.0], Some(0), QuantileMethod::Linear).unwrap();
    /// assert_eq!(q.compute().unwrap(), ndarray::array![[1.0, 2.0], [3.0, 4.0]].into_dyn());
    /// ```
    ///
    /// # Errors
    /// Before anything runs: a `q` that is NaN or outside `[0, 1]`, an empty
    /// list of `q`, an axis out of range. When the graph is built for an
    /// executor: [`Error::LaneTooLarge`] if one lane along `axis` cannot be
    /// selected within its memory budget.
    pub fn quantile(
        &self,
        q: impl Into<Quantiles>,
        axis: Option<isize>,
        method: QuantileMethod,
    ) -> Result<DArray<T::Float>> {
        self.quantiles("quantile", q.into(), 1.0, axis, method, false)
    }

    /// [`DArray::quantile`] skipping NaN (NumPy's `nanquantile`): a lane of
    /// only NaN, or empty, gives NaN (NumPy warns there).
    ///
    /// ```
    /// use darray::{DArray, QuantileMethod};
    /// let x = DArray::<f64>::from_ndarray(&ndarray::array![1.0, f64::NAN, 3.0], [2]).unwrap();
    /// let q = x.nanquantile(0.5, None, QuantileMethod::Linear).unwrap();
    /// assert_eq!(q.compute_scalar().unwrap(), 2.0);
    /// ```
    ///
    /// # Errors
    /// As [`DArray::quantile`].
    pub fn nanquantile(
        &self,
        q: impl Into<Quantiles>,
        axis: Option<isize>,
        method: QuantileMethod,
    ) -> Result<DArray<T::Float>> {
        self.quantiles("nanquantile", q.into(), 1.0, axis, method, true)
    }

    /// [`DArray::quantile`] with `q` in percent (`[0, 100]`; NumPy's
    /// `percentile`, which divides by 100 as done here).
    ///
    /// ```
    /// use darray::{DArray, QuantileMethod};
    /// let x = DArray::<i32>::arange(0.0, 11.0, 1.0, [4]).unwrap();
    /// let p = x.percentile(90.0, None, QuantileMethod::Linear).unwrap();
    /// assert_eq!(p.compute_scalar().unwrap(), 9.0);
    /// ```
    ///
    /// # Errors
    /// As [`DArray::quantile`], with `q` outside `[0, 100]`.
    pub fn percentile(
        &self,
        q: impl Into<Quantiles>,
        axis: Option<isize>,
        method: QuantileMethod,
    ) -> Result<DArray<T::Float>> {
        self.quantiles("percentile", q.into(), 100.0, axis, method, false)
    }

    /// [`DArray::percentile`] skipping NaN (NumPy's `nanpercentile`).
    ///
    /// # Errors
    /// As [`DArray::percentile`].
    pub fn nanpercentile(
        &self,
        q: impl Into<Quantiles>,
        axis: Option<isize>,
        method: QuantileMethod,
    ) -> Result<DArray<T::Float>> {
        self.quantiles("nanpercentile", q.into(), 100.0, axis, method, true)
    }

    /// The median over all axes or along one axis (NumPy's `median`: the
    /// linear quantile at 1/2); exact on any chunking, unlike dask's, which
    /// needs the axis in one block.
    ///
    /// ```
    /// use darray::DArray;
    /// let x = DArray::<f64>::from_ndarray(&ndarray::array![5.0, 1.0, 4.0, 2.0], [3]).unwrap();
    /// assert_eq!(x.median(None).unwrap().compute_scalar().unwrap(), 3.0);
    /// ```
    ///
    /// # Errors
    /// As [`DArray::quantile`].
    pub fn median(&self, axis: Option<isize>) -> Result<DArray<T::Float>> {
        self.quantiles(
            "median",
            Quantiles::One(0.5),
            1.0,
            axis,
            QuantileMethod::Linear,
            false,
        )
    }

    /// [`DArray::median`] skipping NaN (NumPy's `nanmedian`).
    ///
    /// # Errors
    /// As [`DArray::quantile`].
    pub fn nanmedian(&self, axis: Option<isize>) -> Result<DArray<T::Float>> {
        self.quantiles(
            "nanmedian",
            Quantiles::One(0.5),
            1.0,
            axis,
            QuantileMethod::Linear,
            true,
        )
    }

    fn quantiles(
        &self,
        what: &str,
        q: Quantiles,
        scale: f64,
        axis: Option<isize>,
        method: QuantileMethod,
        skip_nan: bool,
    ) -> Result<DArray<T::Float>> {
        let (qs, q_axis) = match q {
            Quantiles::One(q) => (vec![q], false),
            Quantiles::Many(v) => (v, true),
        };
        let bad = |reason: String| Error::InvalidArgument {
            array: self.expr.name.clone(),
            reason,
        };
        if qs.is_empty() {
            return Err(bad(format!("{what}: no quantiles asked for")));
        }
        if let Some((i, q)) = qs
            .iter()
            .enumerate()
            .find(|(_, q)| !(0.0..=scale).contains(*q))
        {
            return Err(bad(format!(
                "{what}: q = {q} (position {i}) is not in [0, {scale}]"
            )));
        }
        let spec = QuantileSpec {
            q: qs.iter().map(|&q| q / scale).collect(),
            method,
            skip_nan,
            q_axis,
        };
        let name = format!("{what}-{}", self.expr.name);
        let out = <T::Float as Element>::DTYPE;
        if let Some(axis) = axis {
            let ax = normalize_axis(&self.expr.name, axis, self.ndim())?;
            return Ok(DArray::wrap(axis_quantile(&self.expr, ax, spec, out, name)));
        }
        let mut state = None;
        for pass in 0..radix_passes(T::DTYPE) {
            // Each pass reads the array again rather than holding it.
            let input = if pass == 0 {
                self.expr.clone()
            } else {
                recomputed(&self.expr).unwrap_or_else(|| self.expr.clone())
            };
            let counts = radix_counts(&input, state.clone(), pass, spec.q.len());
            let summed = DArray::<i64>::wrap(counts).sum_axis(0)?;
            state = Some(radix_refine(&summed.expr, state, pass, T::DTYPE, &spec));
        }
        let state = state.expect("every dtype has at least one pass");
        Ok(DArray::wrap(radix_finish(
            &state,
            T::DTYPE,
            out,
            &spec,
            name,
        )))
    }
}
