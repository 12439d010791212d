//! Integer-array ("fancy") and boolean indexing along axes: `take`, `oindex`
//! (outer indexing, NumPy's `x[np.ix_(i, j)]`, zarr's `oindex`) and
//! `compress`. An output block is gathered in one task from the input blocks
//! holding its indices (reading only those), whatever their order or repeats;
//! along an indexed axis the output is cut into blocks of the input's first
//! block size, so blocks stay close to the input's.

use super::{normalize_axis, DArray};
use crate::error::{Error, Result};
use crate::expr::grid::Grid;
use crate::expr::node::{Expr, ExprKind};
use darray_kernels::select::Extract;
use darray_kernels::Element;
use std::sync::Arc;

impl<T: Element> DArray<T> {
    /// Checks `indices` (negative counts from the end, as NumPy) against axis
    /// `ax`, returning them as input positions.
    fn resolve_indices(&self, ax: usize, indices: &[i64]) -> Result<Vec<usize>> {
        let n = self.expr.shape[ax];
        indices
            .iter()
            .enumerate()
            .map(|(pos, &i)| {
                let j = if i < 0 { i + n as i64 } else { i };
                if j < 0 || j >= n as i64 {
                    Err(Error::InvalidArgument {
                        array: self.expr.name.clone(),
                        reason: format!(
                            "axis {ax}: index {i} (position {pos} of the index list) is out of bounds for length {n}"
                        ),
                    })
                } else {
                    Ok(j as usize)
                }
            })
            .collect()
    }

    fn oindex_resolved(&self, what: &str, index: Vec<Option<Vec<usize>>>) -> Result<DArray<T>> {
        let mut shape = Vec::with_capacity(index.len());
        let mut grid: Grid = Vec::with_capacity(index.len());
        for (ax, sel) in index.iter().enumerate() {
            match sel {
                None => {
                    shape.push(self.expr.shape[ax]);
                    grid.push(self.expr.grid[ax].clone());
                }
                Some(list) => {
                    let step = self.expr.grid[ax].first().copied().unwrap_or(1).max(1);
                    let mut sizes: Vec<usize> = list.chunks(step).map(<[usize]>::len).collect();
                    if sizes.is_empty() {
                        sizes.push(0);
                    }
                    shape.push(list.len());
                    grid.push(sizes);
                }
            }
        }
        let counts: Vec<u64> = grid.iter().map(|g| g.len() as u64).collect();
        let chunk: Vec<u64> = grid
            .iter()
            .map(|g| g.iter().copied().max().unwrap_or(0) as u64)
            .collect();
        let shape64: Vec<u64> = shape.iter().map(|&n| n as u64).collect();
        crate::expr::grid::check_grid(&self.expr.name, &shape64, &chunk, &counts, T::DTYPE.size())?;
        Ok(DArray::wrap(Expr::new(
            format!("{what}-{}", self.expr.name),
            shape,
            grid,
            T::DTYPE,
            ExprKind::OIndex {
                input: self.expr.clone(),
                index: index.into_iter().map(|s| s.map(Arc::new)).collect(),
            },
        )))
    }

    /// The elements at `indices` along `axis` (NumPy's `take`, `x[..., idx, ...]`
    /// with one integer array): any order, repeats allowed, negative indices
    /// counted from the end. Only the blocks holding the indices are read.
    ///
    /// ```
    /// use darray::DArray;
    /// let x = DArray::<f64>::arange(0.0, 10.0, 1.0, [4]).unwrap();
    /// let y = x.take(&[9, 0, -1, 4, 4], 0).unwrap();
    /// assert_eq!(y.compute().unwrap().into_raw_vec_and_offset().0, vec![9.0, 0.0, 9.0, 4.0, 4.0]);
    /// ```
    ///
    /// # Errors
    /// An axis out of range, or an index out of bounds (named with its
    /// position in the list).
    pub fn take(&self, indices: &[i64], axis: isize) -> Result<DArray<T>> {
        let ax = normalize_axis(&self.expr.name, axis, self.ndim())?;
        let list = self.resolve_indices(ax, indices)?;
        let mut index = vec![None; self.ndim()];
        index[ax] = Some(list);
        self.oindex_resolved("take", index)
    }

    /// Outer ("orthogonal") indexing: along each axis with `Some(indices)`, the
    /// listed elements; axes with `None` whole. NumPy writes this
    /// `x[np.ix_(i, j)]` (its `x[i, j]` with two arrays pairs them up
    /// pointwise instead); zarr-python calls it `oindex`.
    ///
    /// ```
    /// use darray::DArray;
    /// let m = DArray::<i64>::from_ndarray(&ndarray::Array2::from_shape_fn((3, 4), |(i, j)| (4 * i + j) as i64), [2, 2]).unwrap();
    /// let y = m.oindex(&[Some(&[2, 0][..]), Some(&[3, 3, 1][..])]).unwrap();
    /// assert_eq!(y.compute().unwrap().into_raw_vec_and_offset().0, vec![11, 11, 9, 3, 3, 1]);
    /// ```
    ///
    /// # Errors
    /// Other than one entry per axis, or an index out of bounds.
    pub fn oindex(&self, index: &[Option<&[i64]>]) -> Result<DArray<T>> {
        if index.len() != self.ndim() {
            return Err(Error::InvalidArgument {
                array: self.expr.name.clone(),
                reason: format!(
                    "oindex: {} index entries for a {}-d array",
                    index.len(),
                    self.ndim()
                ),
            });
        }
        let resolved = index
            .iter()
            .enumerate()
            .map(|(ax, sel)| sel.map(|list| self.resolve_indices(ax, list)).transpose())
            .collect::<Result<Vec<_>>>()?;
        self.oindex_resolved("oindex", resolved)
    }

    /// The elements along `axis` where `condition` is true (NumPy's
    /// `compress`; `x[..., mask, ...]` with a boolean vector). A condition
    /// shorter than the axis selects nothing beyond its end, as NumPy's. The
    /// condition is in memory, so the output's chunk sizes are known before
    /// anything runs.
    ///
    /// ```
    /// use darray::DArray;
    /// let x = DArray::<f64>::arange(0.0, 5.0, 1.0, [2]).unwrap();
    /// let y = x.compress(&[true, false, false, true], 0).unwrap();
    /// assert_eq!(y.compute().unwrap().into_raw_vec_and_offset().0, vec![0.0, 3.0]);
    /// ```
    ///
    /// # Errors
    /// An axis out of range, or a condition longer than the axis.
    pub fn compress(&self, condition: &[bool], axis: isize) -> Result<DArray<T>> {
        let ax = normalize_axis(&self.expr.name, axis, self.ndim())?;
        let n = self.expr.shape[ax];
        if condition.len() > n {
            return Err(Error::InvalidArgument {
                array: self.expr.name.clone(),
                reason: format!(
                    "compress: a condition of {} for axis {ax} of length {n}",
                    condition.len()
                ),
            });
        }
        let list: Vec<usize> = condition
            .iter()
            .enumerate()
            .filter_map(|(i, &c)| c.then_some(i))
            .collect();
        let mut index = vec![None; self.ndim()];
        index[ax] = Some(list);
        self.oindex_resolved("compress", index)
    }

    /// The elements where `m` is true, as a 1-d array in C order (NumPy's
    /// `x[m]` with a boolean array of `x`'s shape, `np.extract(m, x)`).
    ///
    /// Runs in two passes: the mask is computed once to count its true
    /// elements per band of rows (bands of whole trailing axes, about the size
    /// of this array's largest block), so the result's chunk sizes are known
    /// (dask leaves them unknown, NaN); then each band's selection is one task.
    /// The mask is computed again in the second pass, not held.
    ///
    /// ```
    /// use darray::DArray;
    /// let x = DArray::<f64>::arange(0.0, 12.0, 1.0, [5]).unwrap();
    /// let big = x.greater(7.5).unwrap();
    /// let y = x.mask(&big).unwrap();
    /// assert_eq!(y.shape(), &[4]);
    /// assert_eq!(y.compute().unwrap().into_raw_vec_and_offset().0, vec![8.0, 9.0, 10.0, 11.0]);
    /// ```
    ///
    /// # Errors
    /// A mask of another shape, or a failing counting pass.
    pub fn mask(&self, m: &DArray<bool>) -> Result<DArray<T>> {
        if m.shape() != self.shape() {
            return Err(Error::InvalidArgument {
                array: self.expr.name.clone(),
                reason: format!(
                    "mask `{}` of shape {:?} for an array of shape {:?}",
                    m.expr.name,
                    m.shape(),
                    self.shape()
                ),
            });
        }
        if self.ndim() == 0 {
            let one = [ndarray::SliceInfoElem::NewAxis];
            return self.slice(one)?.mask(&m.slice(one)?);
        }
        select::<T>(
            &m.expr,
            Some(&self.expr),
            Extract::Values,
            T::DTYPE.size(),
            &format!("mask-{}", self.expr.name),
        )
    }

    /// The coordinates of the non-zero (true) elements, one 1-d array per axis
    /// (NumPy's `nonzero`), in C order; chunk sizes known as for
    /// [`DArray::mask`].
    ///
    /// ```
    /// use darray::DArray;
    /// let x = DArray::<i32>::from_ndarray(&ndarray::array![[0, 3], [4, 0]], [1, 1]).unwrap();
    /// let nz = x.nonzero().unwrap();
    /// assert_eq!(nz[0].compute().unwrap().into_raw_vec_and_offset().0, vec![0, 1]);
    /// assert_eq!(nz[1].compute().unwrap().into_raw_vec_and_offset().0, vec![1, 0]);
    /// ```
    ///
    /// # Errors
    /// A failing counting pass; a 0-d array (as NumPy, which deprecates it).
    pub fn nonzero(&self) -> Result<Vec<DArray<i64>>> {
        let m = self.nonzero_mask("nonzero")?;
        (0..self.ndim())
            .map(|ax| {
                select::<i64>(
                    &m.expr,
                    None,
                    Extract::Coord(ax),
                    8,
                    &format!("nonzero{ax}-{}", self.expr.name),
                )
            })
            .collect()
    }

    /// The C-order positions of the non-zero (true) elements (NumPy's
    /// `flatnonzero`).
    ///
    /// # Errors
    /// As [`DArray::nonzero`].
    pub fn flatnonzero(&self) -> Result<DArray<i64>> {
        let m = self.nonzero_mask("flatnonzero")?;
        select::<i64>(
            &m.expr,
            None,
            Extract::Flat,
            8,
            &format!("flatnonzero-{}", self.expr.name),
        )
    }

    /// The coordinates of the non-zero (true) elements as a `(count, ndim)`
    /// array (NumPy's `argwhere`).
    ///
    /// # Errors
    /// As [`DArray::nonzero`].
    pub fn argwhere(&self) -> Result<DArray<i64>> {
        let cols = self.nonzero()?;
        let refs: Vec<&DArray<i64>> = cols.iter().collect();
        DArray::stack(&refs, 1)
    }

    fn nonzero_mask(&self, what: &str) -> Result<DArray<bool>> {
        if self.ndim() == 0 {
            return Err(Error::InvalidArgument {
                array: self.expr.name.clone(),
                reason: format!("{what} of a 0-d array: index a 1-d view instead"),
            });
        }
        self.not_equal(T::from_f64(0.0))
    }
}

impl<T: Element> DArray<T> {
    /// Where each of `values` would go in this sorted 1-d array to keep it
    /// sorted (NumPy's `searchsorted`): the number of elements below it, or
    /// at or below it with `right` (NumPy's `side="right"`). NaN sorts last.
    /// Each block counts for every value and the counts are summed, so any
    /// chunking works; on an unsorted array the result is still the count
    /// below each value. Values are in memory (their count sets the result's
    /// length, in one block).
    ///
    /// ```
    /// use darray::DArray;
    /// let a = DArray::<f64>::from_ndarray(&ndarray::array![1.0, 2.0, 2.0, 3.0, 5.0], [2]).unwrap();
    /// let left = a.searchsorted(&[2.0, 4.0, 0.0], false).unwrap().compute().unwrap();
    /// assert_eq!(left.into_raw_vec_and_offset().0, vec![1, 4, 0]);
    /// let right = a.searchsorted(&[2.0], true).unwrap().compute().unwrap();
    /// assert_eq!(right.into_raw_vec_and_offset().0, vec![3]);
    /// ```
    ///
    /// # Errors
    /// An array that is not 1-d.
    pub fn searchsorted(&self, values: &[T], right: bool) -> Result<DArray<i64>> {
        if self.ndim() != 1 {
            return Err(Error::InvalidArgument {
                array: self.expr.name.clone(),
                reason: format!(
                    "searchsorted needs a 1-d sorted array, not {}-d",
                    self.ndim()
                ),
            });
        }
        let set: Vec<darray_kernels::Scalar> = values
            .iter()
            .map(|&v| darray_kernels::Scalar::of(v))
            .collect();
        let parts = crate::ops::search::partial_counts(&self.expr, set, right);
        DArray::<i64>::wrap(parts).sum_axis(0)
    }

    /// Whether each element is one of `values` (NumPy's `isin`, `in1d`): a
    /// binary search of the sorted set per element, blockwise. NaN is in no
    /// set; `-0.0` and `0.0` are the same value.
    ///
    /// ```
    /// use darray::DArray;
    /// let x = DArray::<i64>::arange(0.0, 8.0, 1.0, [3]).unwrap();
    /// let m = x.isin(&[6, 1, 3]).compute().unwrap();
    /// assert_eq!(m.iter().filter(|b| **b).count(), 3);
    /// assert!(m[[6]] && !m[[7]]);
    /// ```
    pub fn isin(&self, values: &[T]) -> DArray<bool> {
        let set: Vec<darray_kernels::Scalar> = values
            .iter()
            .map(|&v| darray_kernels::Scalar::of(v))
            .collect();
        DArray::wrap(Expr::new(
            format!("isin-{}", self.expr.name),
            self.expr.shape.clone(),
            self.expr.grid.clone(),
            darray_kernels::DType::Bool,
            ExprKind::IsIn {
                input: self.expr.clone(),
                values: Arc::new(set),
            },
        ))
    }
}

/// The two passes of a boolean selection: count the mask's true elements per
/// band of rows (whole trailing axes; bands as large as the mask's largest
/// block holds in `item`-byte elements, at least one row), then one extract
/// task per band with any.
fn select<U: Element>(
    mask: &Arc<Expr>,
    values: Option<&Arc<Expr>>,
    what: Extract,
    item: usize,
    name: &str,
) -> Result<DArray<U>> {
    let shape = &mask.shape;
    let largest: usize = mask
        .grid
        .iter()
        .map(|g| g.iter().copied().max().unwrap_or(0).max(1))
        .product::<usize>()
        * item.max(1);
    let row: usize = shape[1..].iter().product::<usize>().max(1) * item.max(1);
    let rows = (largest / row).max(1);
    let mut grid: Grid = vec![crate::expr::grid::regular(shape[0], rows)];
    grid.extend(shape[1..].iter().map(|&n| vec![n]));
    let m = crate::expr::select::rechunk_expr(mask, grid.clone());
    let v = values.map(|v| crate::expr::select::rechunk_expr(v, grid.clone()));
    // Pass 1: the true elements of every band, in one graph.
    let mdarr = DArray::<bool>::wrap(m.clone());
    let mut sums = Vec::with_capacity(grid[0].len());
    let mut start = 0;
    for &len in &grid[0] {
        let band = mdarr.slice(ndarray::s![start..start + len].as_ref())?;
        sums.push(band.cast::<u64>().sum()?);
        start += len;
    }
    let counts = super::many::compute(&sums)?;
    let mut sizes = Vec::new();
    let mut bands = Vec::new();
    for (b, c) in counts.iter().enumerate() {
        let c = usize::try_from(c.sum()).expect("a count of elements fits usize");
        if c > 0 {
            sizes.push(c);
            bands.push(u32::try_from(b).expect("band index fits u32"));
        }
    }
    if sizes.is_empty() {
        sizes.push(0);
        bands.push(0);
    }
    let total = sizes.iter().sum();
    Ok(DArray::wrap(Expr::new(
        name,
        vec![total],
        vec![sizes],
        U::DTYPE,
        ExprKind::Extract {
            mask: m,
            values: v,
            what,
            bands,
        },
    )))
}
