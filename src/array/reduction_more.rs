//! Reductions composed from the built-in ones and elementwise ops (so the
//! elementwise part fuses into the reductions' partial tasks): `nanprod`,
//! `nanargmin`/`nanargmax`, `ptp` and a weighted `average`.

use super::elementwise::where_;
use super::{DArray, ReduceOpts};
use crate::error::{Error, Result};
use darray_kernels::{Element, Numeric, ReduceKind};
use ndarray::SliceInfoElem;

impl<T: Element> DArray<T> {
    /// Product treating NaN as 1 (NumPy's `nanprod`), over the axes of `opts`;
    /// the result has the dtype of [`DArray::prod_with`].
    ///
    /// ```
    /// use darray::{DArray, ReduceOpts};
    /// let a = ndarray::arr1(&[2.0, f64::NAN, 3.0]);
    /// let x = DArray::from_ndarray(&a, [2]).unwrap();
    /// assert_eq!(x.nanprod_with(&ReduceOpts::all()).unwrap().compute_scalar().unwrap(), 6.0);
    /// ```
    ///
    /// # Errors
    /// Axes out of range or repeated.
    pub fn nanprod_with(&self, opts: &ReduceOpts) -> Result<DArray<T::Sum>> {
        let filled = where_(&self.isnan(), T::from_f64(1.0), self)?;
        filled.reduce(ReduceKind::Prod, opts)
    }

    /// [`DArray::nanprod_with`] over all axes (a 0-d array).
    ///
    /// # Errors
    /// As [`DArray::nanprod_with`].
    pub fn nanprod(&self) -> Result<DArray<T::Sum>> {
        self.nanprod_with(&ReduceOpts::all())
    }

    /// [`DArray::nanprod_with`] along one axis.
    ///
    /// # Errors
    /// As [`DArray::nanprod_with`].
    pub fn nanprod_axis(&self, axis: isize) -> Result<DArray<T::Sum>> {
        self.nanprod_with(&ReduceOpts::axes([axis]))
    }

    /// The position of the first minimum ignoring NaN (NumPy's `nanargmin`),
    /// along one axis or over all axes (flat C-order index). NumPy replaces NaN
    /// by +inf and raises on a slice of only NaN; darray replaces the same way
    /// but cannot raise before it runs, so such a slice gives -1.
    ///
    /// # Errors
    /// As [`DArray::argmin_with`].
    pub fn nanargmin_with(&self, opts: &ReduceOpts) -> Result<DArray<i64>> {
        self.nanarg(ReduceKind::ArgMin, f64::INFINITY, opts)
    }

    /// [`DArray::nanargmin_with`] over all axes.
    ///
    /// # Errors
    /// As [`DArray::nanargmin_with`].
    pub fn nanargmin(&self) -> Result<DArray<i64>> {
        self.nanargmin_with(&ReduceOpts::all())
    }

    /// [`DArray::nanargmin_with`] along one axis.
    ///
    /// # Errors
    /// As [`DArray::nanargmin_with`].
    pub fn nanargmin_axis(&self, axis: isize) -> Result<DArray<i64>> {
        self.nanargmin_with(&ReduceOpts::axes([axis]))
    }

    /// The position of the first maximum ignoring NaN (NumPy's `nanargmax`):
    /// NaN is replaced by -inf, and a slice of only NaN gives -1 (NumPy raises).
    ///
    /// # Errors
    /// As [`DArray::argmax_with`].
    pub fn nanargmax_with(&self, opts: &ReduceOpts) -> Result<DArray<i64>> {
        self.nanarg(ReduceKind::ArgMax, f64::NEG_INFINITY, opts)
    }

    /// [`DArray::nanargmax_with`] over all axes.
    ///
    /// # Errors
    /// As [`DArray::nanargmax_with`].
    pub fn nanargmax(&self) -> Result<DArray<i64>> {
        self.nanargmax_with(&ReduceOpts::all())
    }

    /// [`DArray::nanargmax_with`] along one axis.
    ///
    /// # Errors
    /// As [`DArray::nanargmax_with`].
    pub fn nanargmax_axis(&self, axis: isize) -> Result<DArray<i64>> {
        self.nanargmax_with(&ReduceOpts::axes([axis]))
    }

    fn nanarg(&self, kind: ReduceKind, fill: f64, opts: &ReduceOpts) -> Result<DArray<i64>> {
        if !T::DTYPE.is_float() {
            return self.reduce(kind, opts);
        }
        let nan = self.isnan();
        let idx: DArray<i64> = where_(&nan, T::from_f64(fill), self)?.reduce(kind, opts)?;
        let all_nan: DArray<bool> = nan.reduce(ReduceKind::All, opts)?;
        where_(&all_nan, -1i64, &idx)
    }
}

impl<T: Numeric> DArray<T> {
    /// Maximum minus minimum, "peak to peak" (NumPy's `ptp`; NaN if any
    /// element is NaN; wrapping for integers, as NumPy).
    ///
    /// # Errors
    /// Axes out of range or repeated, or an empty axis (no minimum).
    pub fn ptp_with(&self, opts: &ReduceOpts) -> Result<DArray<T>> {
        let max: DArray<T> = self.reduce(ReduceKind::Max, opts)?;
        let min: DArray<T> = self.reduce(ReduceKind::Min, opts)?;
        max.sub(&min)
    }

    /// [`DArray::ptp_with`] over all axes (a 0-d array).
    ///
    /// # Errors
    /// As [`DArray::ptp_with`].
    pub fn ptp(&self) -> Result<DArray<T>> {
        self.ptp_with(&ReduceOpts::all())
    }

    /// [`DArray::ptp_with`] along one axis.
    ///
    /// # Errors
    /// As [`DArray::ptp_with`].
    pub fn ptp_axis(&self, axis: isize) -> Result<DArray<T>> {
        self.ptp_with(&ReduceOpts::axes([axis]))
    }
}

impl<T: Numeric + num_traits::Float> DArray<T> {
    /// The weighted mean `sum(w * x) / sum(w)` over the axes of `opts` (NumPy's
    /// `average(x, axis, weights)`; cast integers to a float type first).
    /// `weights` either broadcasts to `self`'s shape (NumPy requires the same
    /// shape; broadcasting, say, a `(lat, 1)` area weight over `(time, lat,
    /// lon)` is an extension), or is 1-d along the one reduced axis, as in NumPy.
    ///
    /// NumPy raises `ZeroDivisionError` when the weights sum to zero; darray
    /// cannot know before it runs, so such a slice gives NaN (or ±inf), as the
    /// division does.
    ///
    /// ```
    /// use darray::{DArray, ReduceOpts};
    /// let x = DArray::from_ndarray(&ndarray::arr2(&[[1.0, 3.0], [5.0, 7.0]]), [1, 2]).unwrap();
    /// let w = DArray::from_ndarray(&ndarray::arr1(&[3.0, 1.0]), [2]).unwrap();
    /// let a = x.average(&w, &ReduceOpts::axes([1])).unwrap().compute().unwrap();
    /// assert_eq!(a.into_iter().collect::<Vec<_>>(), vec![1.5, 5.5]);
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] naming the weights if they neither broadcast to
    /// `self` nor are 1-d along the single reduced axis; axes out of range or
    /// repeated.
    pub fn average(&self, weights: &DArray<T>, opts: &ReduceOpts) -> Result<DArray<T>> {
        let w = self.weights_for(weights, opts)?;
        let ones = DArray::<T>::ones(self.shape(), self.chunks().clone())?;
        let num: DArray<T> = self.mul(&w)?.reduce(ReduceKind::Sum, opts)?;
        let den: DArray<T> = ones.mul(&w)?.reduce(ReduceKind::Sum, opts)?;
        num.div(&den)
    }

    /// `weights` shaped to broadcast to `self`: a 1-d array along the reduced
    /// axis gets new trailing axes; others must broadcast as they are.
    fn weights_for(&self, weights: &DArray<T>, opts: &ReduceOpts) -> Result<DArray<T>> {
        let one_axis = match opts.axes.as_deref() {
            Some(&[a]) => super::normalize_axis(self.name(), a, self.ndim()).ok(),
            _ => None,
        };
        // NumPy's rule first: 1-d weights of the axis's length go along it,
        // even where they would also broadcast along the last axis.
        if let Some(ax) = one_axis.filter(|&ax| weights.shape() == [self.shape()[ax]]) {
            let mut sel = vec![SliceInfoElem::Slice {
                start: 0,
                end: None,
                step: 1,
            }];
            sel.extend((ax + 1..self.ndim()).map(|_| SliceInfoElem::NewAxis));
            return weights.slice(sel);
        }
        let broadcasts = super::elementwise::broadcast_shapes(weights.shape(), self.shape())
            .is_ok_and(|s| s == self.shape());
        if broadcasts {
            Ok(weights.clone())
        } else {
            Err(Error::InvalidArgument {
                array: weights.name().to_string(),
                reason: format!(
                    "weights of shape {:?} for an average of shape {:?} over axes {:?}: \
                     they must broadcast to the array, or be 1-d along the one reduced axis",
                    weights.shape(),
                    self.shape(),
                    opts.axes
                ),
            })
        }
    }
}
