//! Sorted distinct values (NumPy's `unique`, `union1d`): per-block sorted
//! unique values with counts, merged in a fixed tree order (lowering in
//! `crate::ops::counting`). The result's length is only known once the data
//! is seen, so these run that reduction when called and return an array built
//! from its result (dask instead returns an array of unknown, NaN, chunk
//! sizes, which most later operations refuse).

use super::DArray;
use crate::error::{Error, Result};
use crate::exec::{default_executor, Executor};
use crate::expr::grid::Grid;
use crate::expr::node::Expr;
use crate::ops::counting::unique_tree;
use darray_kernels::unique::unpack;
use darray_kernels::Element;
use ndarray::ArrayD;
use std::sync::Arc;

/// The flat C-order index of every element of an array of `shape` cut by
/// `grid`, as a lazy array on that grid (a sum of broadcast ranges).
fn flat_index(shape: &[usize], grid: &Grid) -> Result<DArray<i64>> {
    let ndim = shape.len();
    let mut acc: Option<DArray<i64>> = None;
    let mut stride = 1i64;
    for d in (0..ndim).rev() {
        #[allow(clippy::cast_precision_loss)]
        let r = DArray::<i64>::arange(0.0, shape[d] as f64, 1.0, vec![grid[d].clone()])?;
        let r = if stride == 1 { r } else { r.mul(stride)? };
        let others: Vec<isize> = (0..ndim)
            .filter(|&k| k != d)
            .map(|k| isize::try_from(k).expect("axis count fits isize"))
            .collect();
        let r = r
            .expand_dims(&others)?
            .broadcast_to_grid(shape, grid.clone())?;
        acc = Some(match acc {
            None => r,
            Some(a) => a.add(&r)?,
        });
        stride = stride.saturating_mul(i64::try_from(shape[d]).unwrap_or(i64::MAX));
    }
    match acc {
        Some(a) => Ok(a),
        None => DArray::zeros(&[], Vec::<usize>::new()),
    }
}

/// The sorted distinct values of `inputs` with their counts (or, with
/// `first`, each value's first flat index; one input only), computed on
/// `exec`, and the block length for arrays made of them.
fn distinct_raw<T: Element>(
    inputs: &[&Arc<Expr>],
    first: bool,
    exec: &dyn Executor,
) -> Result<(ArrayD<T>, ArrayD<i64>, usize)> {
    let name = inputs
        .iter()
        .map(|e| e.name.as_str())
        .collect::<Vec<_>>()
        .join("-");
    let flat = if first {
        Some(
            inputs
                .iter()
                .map(|e| Ok(flat_index(&e.shape, &e.grid)?.expr))
                .collect::<Result<Vec<_>>>()?,
        )
    } else {
        None
    };
    let tree = unique_tree(
        inputs.iter().map(|&e| e.clone()).collect(),
        flat,
        format!("unique-{name}"),
    );
    let graph = crate::ops::lower(&[&tree], exec.memory_budget())?;
    let out = exec.execute(&graph)?;
    let bad = |what: &str| Error::InvalidArgument {
        array: name.clone(),
        reason: format!("unique: {what}"),
    };
    let root = out.first().ok_or_else(|| bad("no result block"))?;
    let (values, counts) = unpack(root)?;
    let values: ArrayD<T> =
        T::from_chunk(values.clone()).ok_or_else(|| bad("values of another dtype"))?;
    // Blocks as large as the inputs' largest, so the result's tasks stay
    // close to theirs in size.
    let block = inputs
        .iter()
        .map(|e| {
            e.grid
                .iter()
                .map(|g| g.iter().copied().max().unwrap_or(0).max(1))
                .product::<usize>()
        })
        .max()
        .unwrap_or(1);
    Ok((values, counts.clone(), block))
}

/// [`distinct_raw`] as arrays.
fn distinct<T: Element>(
    inputs: &[&Arc<Expr>],
    exec: &dyn Executor,
) -> Result<(DArray<T>, DArray<i64>)> {
    let (values, counts, block) = distinct_raw::<T>(inputs, false, exec)?;
    Ok((
        DArray::from_ndarray(&values, [block])?,
        DArray::from_ndarray(&counts, [block])?,
    ))
}

impl<T: Element> DArray<T> {
    /// The sorted distinct values of all elements, as a 1-d array (NumPy's
    /// `unique`). NaN values collapse into one, last (NumPy >= 1.21's
    /// `equal_nan=True`); `-0.0` and `0.0` are one value, reported as `0.0`.
    ///
    /// Unlike the other operations this one runs when called, on the default
    /// executor: each block's sorted distinct values are merged in a fixed
    /// tree order, and the result's length is only known after that (see
    /// [`DArray::unique_counts_with`]). The returned array holds the result.
    ///
    /// ```
    /// use darray::DArray;
    /// let x = DArray::<f64>::from_ndarray(&ndarray::array![3.0, f64::NAN, 1.0, 3.0, f64::NAN], [2]).unwrap();
    /// let u = x.unique().unwrap().compute().unwrap();
    /// assert_eq!(u.len(), 3);
    /// assert_eq!((u[0], u[1]), (1.0, 3.0));
    /// assert!(u[2].is_nan());
    /// ```
    ///
    /// # Errors
    /// A failing computation, or a result over the executor's memory budget.
    pub fn unique(&self) -> Result<DArray<T>> {
        Ok(self.unique_counts()?.0)
    }

    /// The sorted distinct values and how often each occurs (NumPy's
    /// `unique(x, return_counts=True)`); as [`DArray::unique`], computed now.
    ///
    /// ```
    /// use darray::DArray;
    /// let x = DArray::<i32>::from_ndarray(&ndarray::array![[2, 7], [2, 2]], [1, 2]).unwrap();
    /// let (v, c) = x.unique_counts().unwrap();
    /// assert_eq!(v.compute().unwrap().into_raw_vec_and_offset().0, vec![2, 7]);
    /// assert_eq!(c.compute().unwrap().into_raw_vec_and_offset().0, vec![3, 1]);
    /// ```
    ///
    /// # Errors
    /// As [`DArray::unique`].
    pub fn unique_counts(&self) -> Result<(DArray<T>, DArray<i64>)> {
        self.unique_counts_with(default_executor())
    }

    /// [`DArray::unique_counts`] computed on `exec`. The merge tree holds at
    /// most every element once (all distinct), so its memory is bounded by
    /// about 1 + 8 / itemsize times the array's size and checked before it
    /// runs.
    ///
    /// # Errors
    /// As [`DArray::unique`].
    pub fn unique_counts_with(&self, exec: &dyn Executor) -> Result<(DArray<T>, DArray<i64>)> {
        distinct(&[&self.expr], exec)
    }

    /// The sorted distinct values and, for each element, the position of its
    /// value among them (NumPy's `unique_inverse`; the positions have this
    /// array's shape and chunks, as NumPy >= 2). The values are computed now
    /// (as [`DArray::unique`]); the positions are lazy, a binary search per
    /// element, block by block (each task carries the values).
    ///
    /// ```
    /// use darray::DArray;
    /// let x = DArray::<i64>::from_ndarray(&ndarray::array![7, 3, 7, 5], [3]).unwrap();
    /// let (v, inv) = x.unique_inverse().unwrap();
    /// assert_eq!(v.compute().unwrap().into_raw_vec_and_offset().0, vec![3, 5, 7]);
    /// assert_eq!(inv.compute().unwrap().into_raw_vec_and_offset().0, vec![2, 0, 2, 1]);
    /// ```
    ///
    /// # Errors
    /// As [`DArray::unique`].
    pub fn unique_inverse(&self) -> Result<(DArray<T>, DArray<i64>)> {
        self.unique_inverse_with(default_executor())
    }

    /// [`DArray::unique_inverse`] with the values computed on `exec`.
    ///
    /// # Errors
    /// As [`DArray::unique`].
    pub fn unique_inverse_with(&self, exec: &dyn Executor) -> Result<(DArray<T>, DArray<i64>)> {
        let (values, _, block) = distinct_raw::<T>(&[&self.expr], false, exec)?;
        Ok((
            DArray::from_ndarray(&values, [block])?,
            self.positions_among(&values),
        ))
    }

    /// Each element's position among `values` (sorted distinct values of
    /// this array), lazily: a binary search per element, block by block.
    fn positions_among(&self, values: &ArrayD<T>) -> DArray<i64> {
        DArray::wrap(crate::ops::counting::blockwise(
            &self.expr,
            darray_kernels::count::CountOp::UniqueInverse {
                values: Box::new(T::into_chunk(values.clone())),
            },
            darray_kernels::DType::I64,
            format!("unique_inverse-{}", self.expr.name),
        ))
    }
}

impl<T: Element> DArray<T> {
    /// The sorted distinct values and the flat (C-order) index of each one's
    /// first occurrence (NumPy's `unique(x, return_index=True)`); as
    /// [`DArray::unique`], computed now. Each block's values are paired with
    /// their flat indices, and the merge tree keeps the smaller index, so the
    /// memory bound is that of [`DArray::unique_counts_with`].
    ///
    /// ```
    /// use darray::DArray;
    /// let x = DArray::<i64>::from_ndarray(&ndarray::array![[7, 3], [7, 5], [3, 9]], [2, 1]).unwrap();
    /// let (v, first) = x.unique_index().unwrap();
    /// assert_eq!(v.compute().unwrap().into_raw_vec_and_offset().0, vec![3, 5, 7, 9]);
    /// assert_eq!(first.compute().unwrap().into_raw_vec_and_offset().0, vec![1, 3, 0, 5]);
    /// ```
    ///
    /// # Errors
    /// As [`DArray::unique`].
    pub fn unique_index(&self) -> Result<(DArray<T>, DArray<i64>)> {
        self.unique_index_with(default_executor())
    }

    /// [`DArray::unique_index`] computed on `exec`.
    ///
    /// # Errors
    /// As [`DArray::unique`].
    pub fn unique_index_with(&self, exec: &dyn Executor) -> Result<(DArray<T>, DArray<i64>)> {
        let (values, first, block) = distinct_raw::<T>(&[&self.expr], true, exec)?;
        Ok((
            DArray::from_ndarray(&values, [block])?,
            DArray::from_ndarray(&first, [block])?,
        ))
    }

    /// NumPy's `unique_all`: the sorted distinct values, the flat index of
    /// each one's first occurrence, each element's position among the values
    /// (lazy, this array's shape and chunks) and the counts. Two passes over
    /// the data run now (values with counts, then first indices).
    ///
    /// ```
    /// use darray::{exec::default_executor, DArray};
    /// let x = DArray::<f64>::from_ndarray(&ndarray::array![2.0, 1.0, 2.0], [2]).unwrap();
    /// let u = x.unique_all_with(default_executor()).unwrap();
    /// assert_eq!(u.values.compute().unwrap().into_raw_vec_and_offset().0, vec![1.0, 2.0]);
    /// assert_eq!(u.indices.compute().unwrap().into_raw_vec_and_offset().0, vec![1, 0]);
    /// assert_eq!(u.inverse.compute().unwrap().into_raw_vec_and_offset().0, vec![1, 0, 1]);
    /// assert_eq!(u.counts.compute().unwrap().into_raw_vec_and_offset().0, vec![1, 2]);
    /// ```
    ///
    /// # Errors
    /// As [`DArray::unique`].
    pub fn unique_all_with(&self, exec: &dyn Executor) -> Result<UniqueAll<T>> {
        let (values, counts, block) = distinct_raw::<T>(&[&self.expr], false, exec)?;
        let (_, first, _) = distinct_raw::<T>(&[&self.expr], true, exec)?;
        Ok(UniqueAll {
            inverse: self.positions_among(&values),
            values: DArray::from_ndarray(&values, [block])?,
            indices: DArray::from_ndarray(&first, [block])?,
            counts: DArray::from_ndarray(&counts, [block])?,
        })
    }
}

/// The four results of [`DArray::unique_all_with`] (NumPy's `unique_all`).
#[derive(Clone, Debug)]
pub struct UniqueAll<T: Element> {
    /// The sorted distinct values.
    pub values: DArray<T>,
    /// The flat index of each value's first occurrence.
    pub indices: DArray<i64>,
    /// Each element's position among `values` (the input's shape).
    pub inverse: DArray<i64>,
    /// How often each value occurs.
    pub counts: DArray<i64>,
}

/// The sorted distinct values found in either array (NumPy's `union1d`; both
/// arrays are flattened), with [`DArray::unique`]'s rules for NaN and zeros,
/// computed when called.
///
/// ```
/// use darray::{union1d, DArray};
/// let a = DArray::<i64>::from_ndarray(&ndarray::array![5, 1, 1], [2]).unwrap();
/// let b = DArray::<i64>::from_ndarray(&ndarray::array![[3, 5]], [1, 1]).unwrap();
/// let u = union1d(&a, &b).unwrap().compute().unwrap();
/// assert_eq!(u.into_raw_vec_and_offset().0, vec![1, 3, 5]);
/// ```
///
/// # Errors
/// As [`DArray::unique`].
pub fn union1d<T: Element>(a: &DArray<T>, b: &DArray<T>) -> Result<DArray<T>> {
    union1d_with(a, b, default_executor())
}

/// [`union1d`] computed on `exec`.
///
/// # Errors
/// As [`DArray::unique`].
pub fn union1d_with<T: Element>(
    a: &DArray<T>,
    b: &DArray<T>,
    exec: &dyn Executor,
) -> Result<DArray<T>> {
    Ok(distinct::<T>(&[&a.expr, &b.expr], exec)?.0)
}
