//! Scans along one axis (`cumsum`, `cumprod`, their NaN-skipping variants,
//! `cummax`/`cummin`, `ffill`/`bfill`, user operators) and `diff`. The
//! lowering (dask's `cumreduction`: block scans plus a carry of block totals
//! combined in block order) lives in `crate::ops::scan`.

use super::{normalize_axis, DArray};
use crate::error::{Error, Result};
use crate::exec::scan_ops;
use crate::ops::scan::{diff_expr, scan_expr, ScanOp};
use darray_kernels::scan::{FnScan, ScanKind};
use darray_kernels::Element;
use std::sync::Arc;

/// Registers an associative operator `op(T, T) -> T` under `name`, for
/// [`DArray::scan`]. Register every operator once at start-up, in every
/// process that runs tasks (as [`register_kernel`](crate::register_kernel)).
/// `op` must be associative: the scan applies it within blocks and then to the
/// carried totals of earlier blocks, `op(carry, x)`, carry first; it need not
/// be commutative and needs no identity.
///
/// ```
/// use darray::{register_scan, DArray};
/// fn larger(a: f64, b: f64) -> f64 { a.max(b) }
/// register_scan::<f64>("doc-running-max", larger).unwrap();
/// assert!(register_scan::<f64>("doc-running-max", larger).is_err());
/// let x = DArray::from_ndarray(&ndarray::arr1(&[1.0, 3.0, 2.0]).into_dyn(), [2]).unwrap();
/// let y = x.scan("doc-running-max", 0).unwrap().compute().unwrap();
/// assert_eq!(y.as_slice().unwrap(), &[1.0, 3.0, 3.0]);
/// ```
///
/// # Errors
/// [`Error::ScanOperatorExists`] if the name is taken.
pub fn register_scan<T: Element>(name: &str, op: fn(T, T) -> T) -> Result<()> {
    scan_ops::insert(name, Arc::new(FnScan(op)))
}

impl<T: Element> DArray<T> {
    fn builtin_scan<U: Element>(&self, kind: ScanKind, axis: isize) -> Result<DArray<U>> {
        let ax = normalize_axis(&self.expr.name, axis, self.ndim())?;
        debug_assert_eq!(kind.result_dtype(T::DTYPE), U::DTYPE);
        Ok(DArray::wrap(scan_expr(
            kind.name(),
            ScanOp::Builtin(kind),
            &self.expr,
            ax,
            U::DTYPE,
        )))
    }

    /// Running sum along `axis` (NumPy's `cumsum`; negative axes count from the
    /// end). Integers and bool sum in `i64` (`u64` for unsigned), wrapping on
    /// overflow, as NumPy on 64-bit platforms; floats keep their dtype. NumPy's
    /// `axis=None` (flatten first) is not offered: reshape first.
    ///
    /// Blocks are summed separately and the sums of earlier blocks added after,
    /// so float results may differ from a sequential sum in the last bits (as
    /// dask's); they are the same on every executor and thread count.
    ///
    /// ```
    /// use darray::DArray;
    /// let x = DArray::<f64>::arange(1.0, 6.0, 1.0, [2]).unwrap();
    /// let y = x.cumsum(0).unwrap().compute().unwrap();
    /// assert_eq!(y.as_slice().unwrap(), &[1.0, 3.0, 6.0, 10.0, 15.0]);
    /// ```
    ///
    /// # Errors
    /// [`Error::AxisOutOfRange`].
    pub fn cumsum(&self, axis: isize) -> Result<DArray<T::Sum>> {
        self.builtin_scan(ScanKind::CumSum, axis)
    }

    /// Running product along `axis` (NumPy's `cumprod`); dtypes as
    /// [`cumsum`](Self::cumsum).
    ///
    /// # Errors
    /// [`Error::AxisOutOfRange`].
    pub fn cumprod(&self, axis: isize) -> Result<DArray<T::Sum>> {
        self.builtin_scan(ScanKind::CumProd, axis)
    }

    /// Running sum along `axis` with NaN counted as zero (NumPy's `nancumsum`);
    /// dtypes as [`cumsum`](Self::cumsum).
    ///
    /// # Errors
    /// [`Error::AxisOutOfRange`].
    pub fn nancumsum(&self, axis: isize) -> Result<DArray<T::Sum>> {
        self.builtin_scan(ScanKind::NanCumSum, axis)
    }

    /// Running product along `axis` with NaN counted as one (NumPy's
    /// `nancumprod`); dtypes as [`cumsum`](Self::cumsum).
    ///
    /// # Errors
    /// [`Error::AxisOutOfRange`].
    pub fn nancumprod(&self, axis: isize) -> Result<DArray<T::Sum>> {
        self.builtin_scan(ScanKind::NanCumProd, axis)
    }

    /// Running maximum along `axis` (NumPy's `maximum.accumulate`, pandas'
    /// `cummax`): NaN propagates; the dtype is kept.
    ///
    /// # Errors
    /// [`Error::AxisOutOfRange`].
    pub fn cummax(&self, axis: isize) -> Result<DArray<T>> {
        self.builtin_scan(ScanKind::CumMax, axis)
    }

    /// Running minimum along `axis` (NumPy's `minimum.accumulate`, pandas'
    /// `cummin`): NaN propagates; the dtype is kept.
    ///
    /// # Errors
    /// [`Error::AxisOutOfRange`].
    pub fn cummin(&self, axis: isize) -> Result<DArray<T>> {
        self.builtin_scan(ScanKind::CumMin, axis)
    }

    fn fill(&self, axis: isize, limit: Option<usize>, backward: bool) -> Result<DArray<T>> {
        let ax = normalize_axis(&self.expr.name, axis, self.ndim())?;
        if !T::DTYPE.is_float() {
            // Nothing to fill: only floats hold NaN.
            return Ok(self.clone());
        }
        let kind = ScanKind::Fill { limit, backward };
        Ok(DArray::wrap(scan_expr(
            kind.name(),
            ScanOp::Builtin(kind),
            &self.expr,
            ax,
            T::DTYPE,
        )))
    }

    /// Forward fill along `axis` (xarray's `ffill`, bottleneck's `push`): each
    /// NaN takes the last non-NaN value before it, when that value is at most
    /// `limit` positions away (`None`: any distance). Leading NaNs stay.
    /// Arrays of other dtypes than floats are returned as they are.
    ///
    /// ```
    /// use darray::DArray;
    /// let n = f64::NAN;
    /// let a = ndarray::arr1(&[1.0, n, n, n, 5.0]).into_dyn();
    /// let y = DArray::from_ndarray(&a, [2]).unwrap().ffill(0, Some(2)).unwrap();
    /// let y = y.compute().unwrap();
    /// assert_eq!(&y.as_slice().unwrap()[..3], &[1.0, 1.0, 1.0]);
    /// assert!(y[3].is_nan());
    /// ```
    ///
    /// # Errors
    /// [`Error::AxisOutOfRange`].
    pub fn ffill(&self, axis: isize, limit: Option<usize>) -> Result<DArray<T>> {
        self.fill(axis, limit, false)
    }

    /// Backward fill along `axis` (xarray's `bfill`): each NaN takes the next
    /// non-NaN value after it, within `limit` positions. See
    /// [`ffill`](Self::ffill).
    ///
    /// # Errors
    /// [`Error::AxisOutOfRange`].
    pub fn bfill(&self, axis: isize, limit: Option<usize>) -> Result<DArray<T>> {
        self.fill(axis, limit, true)
    }

    /// Inclusive scan along `axis` with the operator registered as `name` by
    /// [`register_scan`]: `y[0] = x[0]`, `y[i] = op(y[i-1], x[i])`.
    ///
    /// # Errors
    /// [`Error::UnknownScanOperator`]; [`Error::DTypeMismatch`] when the
    /// operator was registered for another dtype; [`Error::AxisOutOfRange`].
    pub fn scan(&self, name: &str, axis: isize) -> Result<DArray<T>> {
        let op = scan_ops::lookup(name)?;
        if op.dtype() != T::DTYPE {
            return Err(Error::DTypeMismatch {
                array: self.expr.name.clone(),
                expected: op.dtype(),
                found: T::DTYPE,
            });
        }
        let ax = normalize_axis(&self.expr.name, axis, self.ndim())?;
        Ok(DArray::wrap(scan_expr(
            name,
            ScanOp::User(name.to_string()),
            &self.expr,
            ax,
            T::DTYPE,
        )))
    }

    /// The `n`-th discrete difference along `axis` (NumPy's `diff`): the axis
    /// shrinks by `n` (to 0 when `n` is at least its length). Integers wrap
    /// on overflow and bool differences are `!=`, as NumPy. `n == 0` returns
    /// the array. Output blocks are the input's, shortened at the end.
    ///
    /// ```
    /// use darray::DArray;
    /// let x = DArray::<f64>::arange(0.0, 5.0, 1.0, [2]).unwrap();
    /// let sq = (&x * &x).unwrap().diff(1, 0).unwrap().compute().unwrap();
    /// assert_eq!(sq.as_slice().unwrap(), &[1.0, 3.0, 5.0, 7.0]);
    /// ```
    ///
    /// # Errors
    /// [`Error::AxisOutOfRange`].
    pub fn diff(&self, n: usize, axis: isize) -> Result<DArray<T>> {
        let ax = normalize_axis(&self.expr.name, axis, self.ndim())?;
        if n == 0 {
            return Ok(self.clone());
        }
        Ok(DArray::wrap(diff_expr(&self.expr, n, ax)))
    }
}
