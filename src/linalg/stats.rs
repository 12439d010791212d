//! Paired and higher-order statistics composed from the built-in reductions,
//! elementwise ops and block products: central moments ([`DArray::moment`]),
//! covariance and correlation ([`cov`], [`cov2`], [`corrcoef`]), the trace
//! ([`DArray::trace`], through [`DArray::diagonal`]) and [`outer`]. Nothing
//! here adds a task kind: every piece lowers through the reductions' trees and the block products, so results are
//! bit-identical on any executor.

use super::{matmul, Real};
use crate::array::{DArray, ReduceOpts};
use crate::error::{Error, Result};
use darray_kernels::{Element, Numeric};
use ndarray::{s, SliceInfoElem};

impl<T: Real> DArray<T> {
    /// The `order`-th moment over the axes of `opts` (scipy.stats' `moment`,
    /// dask's `moment`): about the mean (central) when `center` is `None`, else
    /// about `center`. Order 0 gives 1, and the central order 1 gives exactly 0
    /// (NaN where the data holds NaN), as SciPy. Cast integers to a float
    /// type first.
    ///
    /// # Method and precision
    /// One pass, from power sums merged by the reductions' fixed trees: with a
    /// shift `c` (the first element of each reduced lane, which is within the
    /// data's range), the sums `S_j = Σ (x - c)^j`, `j = 1..=order`, are taken
    /// together and combined as `μ_k = Σ_j C(k, j) (S_j / n) (-d)^(k - j)`,
    /// `d = S_1 / n`. A common offset (temperatures in kelvin) cancels exactly
    /// in `x - c`; what remains is a relative error of about
    /// `2^k · n_eff · ε · max|x - c|^k / |μ_k|`, `n_eff` the depth of the
    /// summation tree (so a few ulps for data whose spread is its scale, and
    /// larger for high orders of heavy-tailed data, where a two-pass
    /// computation is better: `(x - mean).powi(k).mean()`). dask sums the same
    /// way but about each block's mean.
    ///
    /// ```
    /// use darray::{DArray, ReduceOpts};
    /// let x = DArray::<f64>::from_ndarray(&ndarray::arr1(&[1.0, 2.0, 3.0, 4.0]), [3]).unwrap();
    /// let m2 = x.moment_with(2, &ReduceOpts::all(), None).unwrap().compute_scalar().unwrap();
    /// assert!((m2 - 1.25).abs() < 1e-15);
    /// ```
    ///
    /// # Errors
    /// Axes out of range or repeated.
    pub fn moment_with(&self, order: u32, opts: &ReduceOpts, center: Option<T>) -> Result<Self> {
        let k = i32::try_from(order).map_err(|_| Error::InvalidArgument {
            array: self.name().to_string(),
            reason: format!("moment of order {order}: at most {}", i32::MAX),
        })?;
        if let Some(c) = center {
            return self.sub(c)?.powi(k).mean_with(opts);
        }
        let axes = self.reduced_axes(opts)?;
        let n: usize = axes.iter().map(|&a| self.shape()[a]).product();
        if order == 0 || n == 0 {
            return self.powi(0).mean_with(opts);
        }
        let shift = self.first_of_lanes(&axes)?;
        let d = self.sub(&shift)?;
        // Means of (x - c)^j as sums divided by n (exact where the sum is).
        #[allow(clippy::cast_precision_loss)] // a count of elements; exact below 2^53
        let nn = <T as Element>::from_f64(n as f64);
        let mut means: Vec<DArray<T>> = Vec::with_capacity(order as usize);
        for j in 1..=k {
            means.push(d.powi(j).sum_with(opts)?.div(nn)?);
        }
        let m1 = means[0].clone();
        if order == 1 {
            return m1.mul(<T as Element>::from_f64(0.0));
        }
        // μ_k = Σ_{j=0..k} C(k,j) m_j (-m1)^(k-j), m_0 = 1; the j = k - 1 and
        // j = k terms first would cancel, so sum from the highest power down,
        // in one fixed order.
        let neg = m1.mul(<T as Element>::from_f64(-1.0))?;
        let mut acc = means[order as usize - 1].clone();
        let mut binom = 1.0f64;
        for j in (0..k).rev() {
            // C(k, j) from C(k, j + 1).
            binom = binom * f64::from(j + 1) / f64::from(k - j);
            let p = neg.powi(k - j);
            let term = if j == 0 {
                p
            } else {
                means[usize::try_from(j - 1).expect("j >= 1")].mul(&p)?
            };
            acc = acc.add(&term.mul(<T as Element>::from_f64(binom.round()))?)?;
        }
        Ok(acc)
    }

    /// [`DArray::moment_with`] (central) over all axes (a 0-d array).
    ///
    /// # Errors
    /// As [`DArray::moment_with`].
    pub fn moment(&self, order: u32) -> Result<Self> {
        self.moment_with(order, &ReduceOpts::all(), None)
    }

    /// [`DArray::moment_with`] (central) along one axis.
    ///
    /// # Errors
    /// As [`DArray::moment_with`].
    pub fn moment_axis(&self, order: u32, axis: isize) -> Result<Self> {
        self.moment_with(order, &ReduceOpts::axes([axis]), None)
    }

    /// The reduced axes of `opts`, normalized (checked again by the reduction).
    fn reduced_axes(&self, opts: &ReduceOpts) -> Result<Vec<usize>> {
        match &opts.axes {
            None => Ok((0..self.ndim()).collect()),
            Some(list) => list
                .iter()
                .map(|&a| crate::array::normalize_axis(self.name(), a, self.ndim()))
                .collect(),
        }
    }

    /// Element 0 of every reduced axis, kept as length 1 so it broadcasts over
    /// the lanes it starts (reads only the first block along those axes).
    fn first_of_lanes(&self, axes: &[usize]) -> Result<Self> {
        let sel: Vec<SliceInfoElem> = (0..self.ndim())
            .map(|ax| SliceInfoElem::Slice {
                start: 0,
                end: axes.contains(&ax).then_some(1),
                step: 1,
            })
            .collect();
        self.slice(sel)
    }
}

impl<T: Real> DArray<T> {
    /// Sum of the `offset`-th diagonal of a 2-D array (NumPy's `trace`, which
    /// for n-d arrays sums over the first two axes; darray takes matrices).
    ///
    /// ```
    /// use darray::DArray;
    /// let x = DArray::<f64>::eye(4, 4, 0, [3, 3]).unwrap();
    /// assert_eq!(x.trace(0).unwrap().compute_scalar().unwrap(), 4.0);
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if the array is not 2-D.
    pub fn trace(&self, offset: i64) -> Result<Self> {
        if self.ndim() != 2 {
            return Err(Error::InvalidArgument {
                array: self.name().to_string(),
                reason: format!(
                    "trace of an array of shape {:?}: needs a 2-D array",
                    self.shape()
                ),
            });
        }
        self.diagonal(offset, 0, 1)?.sum()
    }
}

/// The variables of `x` as rows: a 1-D `x` is one variable, a 2-D `x` is
/// transposed unless `rowvar`.
fn as_rows<T: Real>(x: &DArray<T>, rowvar: bool, what: &str) -> Result<DArray<T>> {
    match x.ndim() {
        1 => x.slice(s![ndarray::NewAxis, ..]),
        2 if rowvar => Ok(x.clone()),
        2 => Ok(x.t()),
        _ => Err(Error::InvalidArgument {
            array: x.name().to_string(),
            reason: format!(
                "{what} of an array of shape {:?}: takes 1-D or 2-D arrays",
                x.shape()
            ),
        }),
    }
}

/// `X - mean(X, axis=1)` and the Gram matrix `(X - m)(X - m)ᵀ` of the row
/// variables `x`.
fn centred_gram<T: Real>(x: &DArray<T>) -> Result<(DArray<T>, DArray<T>)> {
    let mean = x.mean_with(&ReduceOpts::axes([1]).keepdims(true))?;
    let xc = x.sub(&mean)?;
    let gram = matmul(&xc, &xc.t())?;
    Ok((xc, gram))
}

/// Covariance matrix of the variables of `x` (NumPy's `cov(x, rowvar=rowvar,
/// ddof=ddof)`; NumPy's default is `rowvar = true`, `ddof = 1`): rows are
/// variables and columns observations, or the other way round if `!rowvar`.
/// A 1-D `x` is one variable and gives a 0-d variance, as NumPy.
///
/// Computed from the centred array, `(X - m)(X - m)ᵀ / (n - ddof)` with `m`
/// the row means, through [`matmul`]'s block products: more accurate than the
/// one-pass `(X Xᵀ - n m mᵀ)`, which cancels when the means are large against
/// the spread, at the cost of a second pass over `x` after the means. `n -
/// ddof <= 0` divides by it (NumPy warns and does the same).
///
/// ```
/// use darray::DArray;
/// let x = DArray::from_ndarray(&ndarray::arr2(&[[0.0, 1.0, 2.0], [2.0, 1.0, 0.0]]), [1, 2]).unwrap();
/// let c = darray::cov(&x, true, 1.0).unwrap().compute().unwrap();
/// assert_eq!(c, ndarray::arr2(&[[1.0, -1.0], [-1.0, 1.0]]).into_dyn());
/// ```
///
/// # Errors
/// [`Error::InvalidArgument`] if `x` is not 1-D or 2-D.
pub fn cov<T: Real>(x: &DArray<T>, rowvar: bool, ddof: f64) -> Result<DArray<T>> {
    let rows = as_rows(x, rowvar, "cov")?;
    #[allow(clippy::cast_precision_loss)] // an observation count
    // NumPy's rule: a non-positive count divides by zero.
    let denom = (rows.shape()[1] as f64 - ddof).max(0.0);
    let (_, gram) = centred_gram(&rows)?;
    let c = gram.div(<T as Element>::from_f64(denom))?;
    if x.ndim() == 1 {
        c.reshape(&[])
    } else {
        Ok(c)
    }
}

/// Covariance matrix of the variables of `x` and `y` together (NumPy's
/// `cov(x, y, rowvar, ddof)`): `y`'s variables follow `x`'s.
///
/// # Errors
/// As [`cov`] for either array, or observation counts that differ.
pub fn cov2<T: Real>(x: &DArray<T>, y: &DArray<T>, rowvar: bool, ddof: f64) -> Result<DArray<T>> {
    let (rx, ry) = (as_rows(x, rowvar, "cov")?, as_rows(y, rowvar, "cov")?);
    if rx.shape()[1] != ry.shape()[1] {
        return Err(Error::InvalidArgument {
            array: format!("cov({}, {})", x.name(), y.name()),
            reason: format!(
                "{} observations in `{}` but {} in `{}`",
                rx.shape()[1],
                x.name(),
                ry.shape()[1],
                y.name()
            ),
        });
    }
    cov(&DArray::concatenate(&[&rx, &ry], 0)?, true, ddof)
}

/// Pearson correlation coefficients of the variables of `x` (NumPy's
/// `corrcoef(x, rowvar)`): the centred Gram matrix (as [`cov`]) divided by
/// `sqrt(v_i v_j)`, `v` the sums of squares of the centred rows, and clipped
/// to `[-1, 1]` as NumPy. A variable with zero variance gives NaN in its row
/// and column (NumPy warns). A 1-D `x` gives a 0-d 1.0 (NaN if constant).
///
/// # Errors
/// As [`cov`].
pub fn corrcoef<T: Real>(x: &DArray<T>, rowvar: bool) -> Result<DArray<T>> {
    let rows = as_rows(x, rowvar, "corrcoef")?;
    let (xc, gram) = centred_gram(&rows)?;
    let v = xc.powi(2).sum_axis(1)?.sqrt();
    let r = gram.div(&outer(&v, &v)?)?;
    let r = r.clip(
        <T as Element>::from_f64(-1.0),
        <T as Element>::from_f64(1.0),
    );
    if x.ndim() == 1 {
        r.reshape(&[])
    } else {
        Ok(r)
    }
}

/// Outer product `a[i] * b[j]` (NumPy's `outer`; arrays of more than one axis
/// are flattened first, as NumPy): blockwise, the output chunked by `a`'s
/// chunks along rows and `b`'s along columns.
///
/// ```
/// use darray::DArray;
/// let a = DArray::<i32>::arange(1.0, 3.0, 1.0, [1]).unwrap();
/// let b = DArray::<i32>::arange(1.0, 4.0, 1.0, [2]).unwrap();
/// let o = darray::outer(&a, &b).unwrap().compute().unwrap();
/// assert_eq!(o, ndarray::arr2(&[[1, 2, 3], [2, 4, 6]]).into_dyn());
/// ```
///
/// # Errors
/// As [`DArray::ravel`] for inputs of more than one axis.
pub fn outer<T: Numeric>(a: &DArray<T>, b: &DArray<T>) -> Result<DArray<T>> {
    let flat = |x: &DArray<T>| {
        if x.ndim() == 1 {
            Ok(x.clone())
        } else {
            x.ravel()
        }
    };
    let (a, b) = (flat(a)?, flat(b)?);
    a.slice(s![.., ndarray::NewAxis])?
        .mul(&b.slice(s![ndarray::NewAxis, ..])?)
}
