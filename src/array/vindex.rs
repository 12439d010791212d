//! Point-wise ("vectorised") integer indexing: NumPy's `x[i, j]` with paired
//! integer arrays, dask's and zarr's `vindex`.

use super::DArray;
use crate::error::{Error, Result};
use darray_kernels::Element;
use ndarray::{ArrayViewD, IxDyn};

impl<T: Element> DArray<T> {
    /// Point-wise indexing: one entry per axis, `Some(coordinates)` on the
    /// indexed axes, `None` for an axis kept whole. The coordinate arrays
    /// are broadcast together (NumPy's rules) to a shape `B`; element `b` of
    /// the result along `B` is the input at the coordinates at `b`, with the
    /// kept axes following, in order: the output shape is `B` then the kept
    /// axes. Negative coordinates count from the end; any order and repeats
    /// are allowed.
    ///
    /// This is dask's `x.vindex[...]`: the point axes always come first.
    /// NumPy's `x[i, :, j]` agrees; its `x[:, i, j]` (adjacent index arrays
    /// after a slice) keeps them in place instead, which
    /// [`DArray::moveaxis`] gives. Unlike dask, any number of indexed axes,
    /// n-d coordinate arrays and points spread over many blocks are
    /// accepted: each output block reads only the (at most 8) input blocks
    /// holding its points.
    ///
    /// ```
    /// use darray::DArray;
    /// use ndarray::{array, Array2};
    /// let m = DArray::<i64>::from_ndarray(&Array2::from_shape_fn((4, 5), |(i, j)| (10 * i + j) as i64), [3, 2]).unwrap();
    /// let (i, j) = (array![3, 0, -1].into_dyn(), array![4, 1, 0].into_dyn());
    /// let y = m.vindex(&[Some(i.view()), Some(j.view())]).unwrap();
    /// assert_eq!(y.compute().unwrap().into_raw_vec_and_offset().0, vec![34, 1, 30]);
    /// ```
    ///
    /// # Errors
    /// Other than one entry per axis, no `Some` entry, coordinate arrays that
    /// do not broadcast together or broadcast to a 0-d shape (index with
    /// slices for that), or a coordinate out of bounds (named with its axis
    /// and position).
    pub fn vindex(&self, index: &[Option<ArrayViewD<'_, i64>>]) -> Result<DArray<T>> {
        let name = &self.expr.name;
        let bad = |reason: String| Error::InvalidArgument {
            array: name.clone(),
            reason,
        };
        if index.len() != self.ndim() {
            return Err(bad(format!(
                "vindex: {} index entries for a {}-d array",
                index.len(),
                self.ndim()
            )));
        }
        let given: Vec<(usize, &ArrayViewD<'_, i64>)> = index
            .iter()
            .enumerate()
            .filter_map(|(ax, c)| c.as_ref().map(|c| (ax, c)))
            .collect();
        if given.is_empty() {
            return Err(bad("vindex: no axis has coordinates".into()));
        }
        // NumPy's broadcasting: trailing axes aligned, 1 stretches.
        let bnd = given.iter().map(|(_, c)| c.ndim()).max().unwrap_or(0);
        let mut bshape = vec![1usize; bnd];
        for (ax, c) in &given {
            for (d, &n) in c.shape().iter().rev().enumerate() {
                let slot = &mut bshape[bnd - 1 - d];
                if *slot == 1 {
                    *slot = n;
                } else if n != 1 && n != *slot {
                    return Err(bad(format!(
                        "vindex: the coordinates of axis {ax} (shape {:?}) do not broadcast with the others (shape so far {bshape:?})",
                        c.shape()
                    )));
                }
            }
        }
        if bnd == 0 {
            return Err(bad(
                "vindex: every coordinate array is 0-d; use slice for single elements".into(),
            ));
        }
        let npoints: usize = bshape.iter().product();
        let k = given.len();
        let mut points = vec![0usize; npoints * k];
        for (j, (ax, c)) in given.iter().enumerate() {
            let n = self.expr.shape[*ax];
            let b = c.broadcast(IxDyn(&bshape)).expect("checked to broadcast");
            for (p, &i) in b.iter().enumerate() {
                let r = if i < 0 { i + n as i64 } else { i };
                if r < 0 || r >= n as i64 {
                    return Err(bad(format!(
                        "vindex: axis {ax}: coordinate {i} (point {p}) is out of bounds for length {n}"
                    )));
                }
                points[p * k + j] = r as usize;
            }
        }
        let axes = given.iter().map(|(ax, _)| *ax).collect();
        let e =
            crate::ops::vindex::vindex(&self.expr, axes, bshape, &points, format!("vindex-{name}"));
        let counts: Vec<u64> = e.grid.iter().map(|g| g.len() as u64).collect();
        let chunk: Vec<u64> = e
            .grid
            .iter()
            .map(|g| g.iter().copied().max().unwrap_or(0) as u64)
            .collect();
        let shape64: Vec<u64> = e.shape.iter().map(|&n| n as u64).collect();
        crate::expr::grid::check_grid(name, &shape64, &chunk, &counts, T::DTYPE.size())?;
        Ok(DArray::wrap(e))
    }

    /// [`DArray::vindex`] of 1-d coordinate lists of one length on the first
    /// `coords.len()` axes: the points `(coords[0][p], coords[1][p], ...)`.
    ///
    /// ```
    /// use darray::DArray;
    /// use ndarray::Array2;
    /// let m = DArray::<i64>::from_ndarray(&Array2::from_shape_fn((4, 5), |(i, j)| (10 * i + j) as i64), [3, 2]).unwrap();
    /// let y = m.vindex_points(&[&[3, 0], &[4, 1]]).unwrap();
    /// assert_eq!(y.compute().unwrap().into_raw_vec_and_offset().0, vec![34, 1]);
    /// ```
    ///
    /// # Errors
    /// As [`DArray::vindex`]; more lists than axes.
    pub fn vindex_points(&self, coords: &[&[i64]]) -> Result<DArray<T>> {
        if coords.len() > self.ndim() {
            return Err(Error::InvalidArgument {
                array: self.expr.name.clone(),
                reason: format!(
                    "vindex_points: {} coordinate lists for a {}-d array",
                    coords.len(),
                    self.ndim()
                ),
            });
        }
        let views: Vec<ArrayViewD<'_, i64>> = coords
            .iter()
            .map(|c| ArrayViewD::from_shape(IxDyn(&[c.len()]), c).expect("1-d view"))
            .collect();
        let mut index: Vec<Option<ArrayViewD<'_, i64>>> = views.into_iter().map(Some).collect();
        index.resize(self.ndim(), None);
        self.vindex(&index)
    }
}
