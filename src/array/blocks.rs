//! Building arrays from copies and windows of others: `block` (nested
//! concatenation), `tile`, `repeat` and `coarsen`, on top of concatenation,
//! broadcasting, reshape and reductions.

use super::reduction::ReduceOpts;
use super::{normalize_axis, DArray};
use crate::error::{Error, Result};
use darray_kernels::{Element, ReduceKind};

/// A nested list of arrays for [`DArray::block_nested`] (NumPy's `np.block`).
#[derive(Debug)]
pub enum Nested<'a, T: Element> {
    /// One array.
    Array(&'a DArray<T>),
    /// A list, concatenated along the axis its depth gives.
    List(Vec<Nested<'a, T>>),
}

impl<T: Element> DArray<T> {
    /// A 2-d block matrix: rows concatenated along axis -2, each row's arrays
    /// along axis -1 (NumPy's `np.block([[a, b], [c, d]])`; arrays of fewer
    /// than 2 dims get leading axes of length 1).
    ///
    /// ```
    /// use darray::DArray;
    /// let a = DArray::<i32>::zeros(&[2, 2], [2, 2]).unwrap();
    /// let b = DArray::<i32>::ones(&[2, 1], [1, 1]).unwrap();
    /// let m = DArray::block(&[vec![&a, &b], vec![&b.t(), &DArray::ones(&[1, 1], [1, 1]).unwrap()]]);
    /// assert_eq!(m.unwrap().shape(), &[3, 3]);
    /// ```
    ///
    /// # Errors
    /// An empty list, or lengths that do not line up.
    pub fn block(rows: &[Vec<&DArray<T>>]) -> Result<DArray<T>> {
        let nested = Nested::List(
            rows.iter()
                .map(|r| Nested::List(r.iter().map(|a| Nested::Array(a)).collect()))
                .collect(),
        );
        Self::block_nested(&nested)
    }

    /// NumPy's `np.block` for any depth: the innermost lists are concatenated
    /// along the last axis, the lists of those along the one before, and so on.
    /// The result has `max(depth, largest ndim)` axes; arrays with fewer get
    /// leading axes of length 1.
    ///
    /// # Errors
    /// An empty list, arrays at different depths, or lengths that do not line
    /// up.
    pub fn block_nested(nested: &Nested<'_, T>) -> Result<DArray<T>> {
        fn depth<T: Element>(n: &Nested<'_, T>) -> Result<(usize, usize)> {
            match n {
                Nested::Array(a) => Ok((0, a.ndim())),
                Nested::List(items) => {
                    let mut d = None;
                    let mut nd = 0;
                    for it in items {
                        let (di, ndi) = depth(it)?;
                        if d.is_some_and(|d| d != di) {
                            return Err(Error::InvalidArgument {
                                array: "block".into(),
                                reason: "lists nested to different depths".into(),
                            });
                        }
                        d = Some(di);
                        nd = nd.max(ndi);
                    }
                    let d = d.ok_or_else(|| Error::InvalidArgument {
                        array: "block".into(),
                        reason: "an empty list".into(),
                    })?;
                    Ok((d + 1, nd))
                }
            }
        }
        fn build<T: Element>(n: &Nested<'_, T>, level: usize, nd: usize) -> Result<DArray<T>> {
            match n {
                Nested::Array(a) => Ok(a.with_leading(nd - a.ndim())),
                Nested::List(items) => {
                    let parts = items
                        .iter()
                        .map(|it| build(it, level + 1, nd))
                        .collect::<Result<Vec<_>>>()?;
                    let refs: Vec<&DArray<T>> = parts.iter().collect();
                    DArray::concatenate(&refs, isize::try_from(level).expect("axis fits isize"))
                }
            }
        }
        let (d, nd) = depth(nested)?;
        let nd = nd.max(d);
        build(nested, nd - d, nd)
    }

    /// The array repeated `reps[i]` times along axis `i` (NumPy's `tile`: a
    /// shorter `reps` is padded with leading 1s, a longer one gives the array
    /// leading axes of length 1). Each copy keeps the input's chunks.
    ///
    /// # Errors
    /// Never for valid arrays (kept fallible like the concatenation it uses).
    pub fn tile(&self, reps: &[usize]) -> Result<DArray<T>> {
        let nd = self.ndim().max(reps.len());
        let mut cur = self.with_leading(nd - self.ndim());
        let reps: Vec<usize> = std::iter::repeat_n(1, nd - reps.len())
            .chain(reps.iter().copied())
            .collect();
        for (ax, &r) in reps.iter().enumerate() {
            cur = match r {
                1 => cur,
                0 => cur.axis_range(ax, 0, 1, 0),
                _ => {
                    let copies: Vec<&DArray<T>> = std::iter::repeat_n(&cur, r).collect();
                    DArray::concatenate(&copies, isize::try_from(ax).expect("axis fits isize"))?
                }
            };
        }
        Ok(cur)
    }

    /// Each element repeated `repeats` times along `axis` (NumPy's `repeat` with
    /// a scalar count; `None`: of the flattened array). Chunks along the axis
    /// are the input's times `repeats`.
    ///
    /// ```
    /// use darray::DArray;
    /// let x = DArray::<i32>::arange(0.0, 3.0, 1.0, [2]).unwrap();
    /// let y = x.repeat(2, Some(0)).unwrap().compute().unwrap();
    /// assert_eq!(y.into_iter().collect::<Vec<_>>(), vec![0, 0, 1, 1, 2, 2]);
    /// ```
    ///
    /// # Errors
    /// A negative `repeats` or an axis out of range.
    pub fn repeat(&self, repeats: isize, axis: Option<isize>) -> Result<DArray<T>> {
        let r = usize::try_from(repeats).map_err(|_| Error::InvalidArgument {
            array: self.expr.name.clone(),
            reason: format!("repeat: negative count {repeats}"),
        })?;
        let (x, ax) = match axis {
            None => (self.ravel()?, 0),
            Some(a) => (
                self.clone(),
                normalize_axis(&self.expr.name, a, self.ndim())?,
            ),
        };
        match r {
            0 => return Ok(x.axis_range(ax, 0, 1, 0)),
            1 => return Ok(x),
            _ => {}
        }
        let ax_i = isize::try_from(ax).expect("axis fits isize");
        let e = x.expand_dims(&[ax_i + 1])?;
        let mut shape = e.shape().to_vec();
        shape[ax + 1] = r;
        let b = e.broadcast_to(&shape)?;
        let mut out: Vec<isize> = x
            .shape()
            .iter()
            .map(|&n| isize::try_from(n).expect("length fits isize"))
            .collect();
        out[ax] *= repeats;
        b.reshape(&out)
    }

    /// Block reduction by integer factors (dask's `coarsen(reduction, x, axes)`,
    /// xarray's `coarsen(...).reduce`): each output element is `kind` over a
    /// `factors[0] x factors[1] x ...` window (a factor of 1 leaves an axis).
    /// The result type `U` is the reduction's (as [`DArray::sum`],
    /// [`DArray::mean`], ...). Chunks are merged to multiples of the factors
    /// first (as dask does), then each block is reduced on its own.
    ///
    /// ```
    /// use darray::DArray;
    /// use darray_kernels::ReduceKind;
    /// let x = DArray::<f64>::arange(0.0, 8.0, 1.0, [3]).unwrap();
    /// let m = x.coarsen::<f64>(ReduceKind::Mean, &[2], false).unwrap();
    /// assert_eq!(m.compute().unwrap().into_iter().collect::<Vec<_>>(), vec![0.5, 2.5, 4.5, 6.5]);
    /// ```
    ///
    /// # Errors
    /// `factors` not one per axis, a factor of 0, a factor that does not divide
    /// its axis unless `trim_excess` (then the excess at the end is dropped, as
    /// dask's `trim_excess`), or a result type that is not the reduction's.
    pub fn coarsen<U: Element>(
        &self,
        kind: ReduceKind,
        factors: &[usize],
        trim_excess: bool,
    ) -> Result<DArray<U>> {
        let name = &self.expr.name;
        if factors.len() != self.ndim() {
            return Err(Error::InvalidArgument {
                array: name.clone(),
                reason: format!(
                    "coarsen: {} factors for a {}-d array",
                    factors.len(),
                    self.ndim()
                ),
            });
        }
        let mut x = self.clone();
        for (ax, (&f, &n)) in factors.iter().zip(&self.expr.shape).enumerate() {
            if f == 0 {
                return Err(Error::InvalidArgument {
                    array: name.clone(),
                    reason: format!("coarsen: factor 0 on axis {ax}"),
                });
            }
            if !n.is_multiple_of(f) {
                if !trim_excess {
                    return Err(Error::InvalidArgument {
                        array: name.clone(),
                        reason: format!(
                            "coarsen: factor {f} does not divide axis {ax} of length {n} \
                             (pass trim_excess to drop the last {} elements)",
                            n % f
                        ),
                    });
                }
                x = x.axis_range(ax, 0, 1, n - n % f);
            }
        }
        let mut split = Vec::with_capacity(2 * factors.len());
        for (&f, &n) in factors.iter().zip(x.shape()) {
            split.push(isize::try_from(n / f).expect("length fits isize"));
            split.push(isize::try_from(f).expect("factor fits isize"));
        }
        let windows = x.reshape(&split)?;
        let axes = (0..factors.len()).map(|a| isize::try_from(2 * a + 1).expect("axis fits isize"));
        windows.reduce(kind, &ReduceOpts::axes(axes))
    }
}
