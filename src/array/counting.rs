//! Counting (NumPy's `histogram2d`, `histogramdd`, `bincount`, `digitize`):
//! per-block partial counts merged by the tree reduction in block order, or
//! blockwise maps (lowering in `crate::ops::counting`).

use super::{Bins, DArray};
use crate::error::{Error, Result};
use crate::expr::grid::{block_indices, refine};
use crate::expr::node::Expr;
use crate::expr::select::rechunk_expr;
use crate::ops::counting::{blockwise, per_block_rows};
use darray_kernels::count::{bins_increasing, CountOp};
use darray_kernels::{DType, Element};
use ndarray::{ArrayD, IxDyn};
use std::sync::Arc;

/// `exprs` (of one shape, checked) on the common refinement of their grids,
/// so the same block of each holds the same elements.
fn aligned(exprs: &[&Arc<Expr>]) -> Vec<Arc<Expr>> {
    let mut grid = exprs[0].grid.clone();
    for e in &exprs[1..] {
        grid = grid
            .iter()
            .zip(&e.grid)
            .map(|(a, b)| refine(a, b))
            .collect();
    }
    exprs
        .iter()
        .map(|e| rechunk_expr(e, grid.clone()))
        .collect()
}

fn same_shape(first: &Expr, other: &Expr) -> Result<()> {
    if first.shape == other.shape {
        Ok(())
    } else {
        Err(Error::Broadcast {
            left: first.shape.clone(),
            right: other.shape.clone(),
        })
    }
}

/// The n-d histogram of the points whose coordinates are the elements of
/// `sample[0]`, `sample[1]`, ... (arrays of one shape; NumPy's
/// `histogramdd(np.stack([x, y, ...], -1))`), over `bins[d]` along
/// dimension `d`: counts as `f64` (as NumPy), one axis per dimension, and the
/// edges. Bins are half-open except the last of each dimension, which
/// includes its right edge; points with NaN or outside the edges in any
/// dimension are not counted.
///
/// Arrays with different chunkings are aligned by rechunking all of them to
/// the common refinement of their grids (no data moves between tasks beyond
/// that split). Each block of points gives a partial histogram; partials are
/// summed in block order by the tree reduction, so results do not depend on
/// the executor.
///
/// ```
/// use darray::{histogramdd, Bins, DArray};
/// let x = DArray::<f64>::arange(0.0, 4.0, 1.0, [3]).unwrap();
/// let y = DArray::<f64>::arange(0.0, 4.0, 1.0, [2]).unwrap();
/// let bins = [Bins::Edges(vec![0.0, 2.0, 3.0]), Bins::Count { count: 1, range: (0.0, 3.0) }];
/// let (h, edges) = histogramdd(&[&x, &y], &bins).unwrap();
/// assert_eq!(edges[1], vec![0.0, 3.0]);
/// assert_eq!(h.compute().unwrap(), ndarray::array![[2.0], [2.0]].into_dyn());
/// ```
///
/// # Errors
/// No arrays, other than one `Bins` per array, bad bins (see
/// [`Bins::edges`]), or arrays of different shapes ([`Error::Broadcast`]);
/// all before anything runs.
pub fn histogramdd<T: Element>(
    sample: &[&DArray<T>],
    bins: &[Bins],
) -> Result<(DArray<f64>, Vec<Vec<f64>>)> {
    histogramdd_with(sample, bins, None, false)
}

/// [`histogramdd`] with optional `weights` (an array of the sample's shape:
/// each point counts its weight) and `density` (counts divided by their
/// total and the cell volumes, so the histogram integrates to 1; an empty
/// histogram gives NaN, as NumPy).
///
/// # Errors
/// As [`histogramdd`]; weights of another shape.
pub fn histogramdd_with<T: Element>(
    sample: &[&DArray<T>],
    bins: &[Bins],
    weights: Option<&DArray<f64>>,
    density: bool,
) -> Result<(DArray<f64>, Vec<Vec<f64>>)> {
    let Some(first) = sample.first() else {
        return Err(Error::InvalidArgument {
            array: "histogramdd".into(),
            reason: "histogramdd needs at least one array of coordinates".into(),
        });
    };
    let name = &first.expr.name;
    if bins.len() != sample.len() {
        return Err(Error::InvalidArgument {
            array: name.clone(),
            reason: format!(
                "histogramdd: {} bin specs for {} arrays of coordinates",
                bins.len(),
                sample.len()
            ),
        });
    }
    let edges: Vec<Vec<f64>> = sample
        .iter()
        .zip(bins)
        .map(|(x, b)| b.edges(&x.expr.name))
        .collect::<Result<_>>()?;
    let mut exprs: Vec<&Arc<Expr>> = sample.iter().map(|x| &x.expr).collect();
    if let Some(w) = weights {
        exprs.push(&w.expr);
    }
    for e in &exprs[1..] {
        same_shape(&first.expr, e)?;
    }
    let inputs = aligned(&exprs);
    let shape: Vec<usize> = edges.iter().map(|e| e.len() - 1).collect();
    let cells: usize = shape.iter().product();
    let weighted = weights.is_some();
    let (dtype, what) = if weighted {
        (DType::F64, "weighted-histogramdd")
    } else {
        (DType::I64, "histogramdd")
    };
    let parts = per_block_rows(
        inputs,
        CountOp::HistogramDd {
            edges: edges.clone(),
            weighted,
        },
        cells,
        dtype,
        format!("{name}-{what}"),
    );
    let flat = if weighted {
        DArray::<f64>::wrap(parts).sum_axis(0)?
    } else {
        DArray::<i64>::wrap(parts).sum_axis(0)?.cast::<f64>()
    };
    let dims: Vec<isize> = shape.iter().map(|&n| n as isize).collect();
    let hist = flat.reshape(&dims)?;
    if !density {
        return Ok((hist, edges));
    }
    // Cell volumes: the outer product of the bin widths.
    let volumes = ArrayD::from_shape_fn(IxDyn(&shape), |ix| {
        (0..shape.len())
            .map(|d| edges[d][ix[d] + 1] - edges[d][ix[d]])
            .product::<f64>()
    });
    let volumes = DArray::from_ndarray(&volumes, shape.clone())?;
    let total = hist.sum()?;
    let density = hist.div(&volumes.mul(&total)?)?;
    Ok((density, edges))
}

/// The 2-d histogram of the points `(x[i], y[i])` over `bins` (one per
/// axis; NumPy's `histogram2d`): [`histogramdd`] of two arrays.
///
/// ```
/// use darray::{histogram2d, Bins, DArray};
/// let x = DArray::<f64>::from_ndarray(&ndarray::array![0.1, 0.9, 0.9], [2]).unwrap();
/// let y = DArray::<f64>::from_ndarray(&ndarray::array![0.1, 0.1, 0.8], [1]).unwrap();
/// let b = Bins::Count { count: 2, range: (0.0, 1.0) };
/// let (h, _) = histogram2d(&x, &y, &[b.clone(), b]).unwrap();
/// assert_eq!(h.compute().unwrap(), ndarray::array![[1.0, 0.0], [1.0, 1.0]].into_dyn());
/// ```
///
/// # Errors
/// As [`histogramdd`].
pub fn histogram2d<T: Element>(
    x: &DArray<T>,
    y: &DArray<T>,
    bins: &[Bins; 2],
) -> Result<(DArray<f64>, Vec<Vec<f64>>)> {
    histogramdd(&[x, y], bins)
}

/// [`histogram2d`] with weights and density, as [`histogramdd_with`].
///
/// # Errors
/// As [`histogramdd_with`].
pub fn histogram2d_with<T: Element>(
    x: &DArray<T>,
    y: &DArray<T>,
    bins: &[Bins; 2],
    weights: Option<&DArray<f64>>,
    density: bool,
) -> Result<(DArray<f64>, Vec<Vec<f64>>)> {
    histogramdd_with(&[x, y], bins, weights, density)
}

impl<T: Element> DArray<T> {
    /// The length of `bincount`'s result: one more than the largest value,
    /// at least `minlength`, found by computing each block's range now (a
    /// pass over the data when the array is built, as [`DArray::mask`]'s
    /// counting pass).
    fn bincount_length(&self, minlength: usize) -> Result<usize> {
        let name = &self.expr.name;
        if !(T::DTYPE.is_int() || T::DTYPE == DType::Bool) {
            return Err(Error::InvalidArgument {
                array: name.clone(),
                reason: format!("bincount needs integer values, not {}", T::DTYPE),
            });
        }
        let ranges = per_block_rows(
            vec![self.expr.clone()],
            CountOp::Range,
            2,
            DType::I64,
            format!("{name}-range"),
        );
        let ranges = DArray::<i64>::wrap(ranges).compute()?;
        let blocks = block_indices(&self.expr.grid);
        let mut max: Option<i64> = None;
        for (b, r) in ranges.outer_iter().enumerate() {
            let (lo, hi) = (r[0], r[1]);
            if lo > hi {
                continue; // an empty block
            }
            if lo < 0 {
                return Err(Error::InvalidArgument {
                    array: name.clone(),
                    reason: format!(
                        "bincount: block {:?} holds the negative value {lo} (values must be non-negative)",
                        blocks[b]
                    ),
                });
            }
            max = Some(max.map_or(hi, |m| m.max(hi)));
        }
        let from_max = max.map_or(Ok(0), |m| {
            usize::try_from(m)
                .ok()
                .and_then(|m| m.checked_add(1))
                .ok_or_else(|| Error::InvalidArgument {
                    array: name.clone(),
                    reason: format!("bincount: the largest value {m} is too large"),
                })
        })?;
        Ok(from_max.max(minlength))
    }

    /// The `[blocks, length]` per-block counts, or `None` when `length` is 0.
    fn bincount_rows(
        &self,
        weights: Option<&DArray<f64>>,
        minlength: usize,
    ) -> Result<Option<Arc<Expr>>> {
        let length = self.bincount_length(minlength)?;
        let name = &self.expr.name;
        if length == 0 {
            return Ok(None);
        }
        let mut exprs = vec![&self.expr];
        if let Some(w) = weights {
            same_shape(&self.expr, &w.expr)?;
            exprs.push(&w.expr);
        }
        let parts = per_block_rows(
            aligned(&exprs),
            CountOp::Bincount {
                length,
                weighted: weights.is_some(),
            },
            length,
            if weights.is_some() {
                DType::F64
            } else {
                DType::I64
            },
            format!("{name}-bincount"),
        );
        Ok(Some(parts))
    }

    /// How often each of `0, 1, ..., n - 1` occurs among the elements (NumPy's
    /// `bincount`), where `n` is one more than the largest value but at least
    /// `minlength`. Unlike NumPy, any shape is accepted (all elements are
    /// counted).
    ///
    /// The length of the result depends on the data: it is found when this is
    /// called, by computing every block's minimum and maximum (one pass over
    /// the data, on the default executor); the counts themselves are lazy
    /// (per-block counts summed by the tree reduction in block order).
    ///
    /// ```
    /// use darray::DArray;
    /// let x = DArray::<i32>::from_ndarray(&ndarray::array![0, 1, 1, 3, 1], [2]).unwrap();
    /// let c = x.bincount(2).unwrap().compute().unwrap();
    /// assert_eq!(c.into_raw_vec_and_offset().0, vec![1, 3, 0, 1]);
    /// ```
    ///
    /// # Errors
    /// A non-integer array, or a negative value ([`Error::InvalidArgument`]
    /// naming the array and the block holding it); a failing range pass.
    pub fn bincount(&self, minlength: usize) -> Result<DArray<i64>> {
        match self.bincount_rows(None, minlength)? {
            Some(parts) => DArray::<i64>::wrap(parts).sum_axis(0),
            None => DArray::zeros(&[0], [1]),
        }
    }

    /// [`DArray::bincount`] where each element counts its weight (an array of
    /// this array's shape; NumPy's `bincount(x, weights)`), as `f64` sums.
    /// Different chunkings are aligned by rechunking both to their common
    /// refinement.
    ///
    /// # Errors
    /// As [`DArray::bincount`]; weights of another shape.
    pub fn bincount_weighted(
        &self,
        weights: &DArray<f64>,
        minlength: usize,
    ) -> Result<DArray<f64>> {
        match self.bincount_rows(Some(weights), minlength)? {
            Some(parts) => DArray::<f64>::wrap(parts).sum_axis(0),
            None => DArray::zeros(&[0], [1]),
        }
    }

    /// The index of the bin of each element (NumPy's `digitize`), blockwise:
    /// with increasing `bins`, `i` such that `bins[i-1] <= x < bins[i]`
    /// (with `right`, `bins[i-1] < x <= bins[i]`), so values below every bin
    /// give 0 and above give `bins.len()`; decreasing bins mirror this. NaN
    /// sorts above every bin, as NumPy's. Values are compared as `f64`.
    ///
    /// ```
    /// use darray::DArray;
    /// let x = DArray::<f64>::from_ndarray(&ndarray::array![0.2, 6.4, 3.0, 1.6], [3]).unwrap();
    /// let i = x.digitize(&[0.0, 1.0, 2.5, 4.0, 10.0], false).unwrap();
    /// assert_eq!(i.compute().unwrap().into_raw_vec_and_offset().0, vec![1, 4, 3, 2]);
    /// ```
    ///
    /// # Errors
    /// Bins that are neither non-decreasing nor non-increasing, or hold NaN
    /// ([`Error::InvalidArgument`]), before anything runs.
    pub fn digitize(&self, bins: &[f64], right: bool) -> Result<DArray<i64>> {
        bins_increasing(bins).map_err(|reason| Error::InvalidArgument {
            array: self.expr.name.clone(),
            reason,
        })?;
        Ok(DArray::wrap(blockwise(
            &self.expr,
            CountOp::Digitize {
                bins: bins.to_vec(),
                right,
            },
            DType::I64,
            format!("digitize-{}", self.expr.name),
        )))
    }
}
