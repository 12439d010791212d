//! Histograms (NumPy's `histogram`): per-block partial histograms merged by a
//! tree reduction in block order (lowering in `crate::ops::histogram`).

use super::DArray;
use crate::error::{Error, Result};
use crate::expr::grid::refine;
use crate::expr::select::rechunk_expr;
use crate::ops::histogram::partial_histograms;
use darray_kernels::histogram::edges_problem;
use darray_kernels::Element;

/// The bins of a histogram.
#[derive(Clone, Debug, PartialEq)]
pub enum Bins {
    /// Explicit edges: at least two, finite, non-decreasing.
    Edges(Vec<f64>),
    /// `count` equal bins over `range` (NumPy's `bins=n, range=(lo, hi)`).
    /// NumPy's default range (the data's min and max) needs a pass over the
    /// data first: compute `min`/`max` and pass them here.
    Count {
        /// Number of bins (at least 1).
        count: usize,
        /// Lowest and highest edge; `lo == hi` widens to `lo - 0.5..hi + 0.5`,
        /// as NumPy.
        range: (f64, f64),
    },
}

impl Bins {
    /// The bin edges, checked.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for zero bins, a range with min > max or not
    /// finite, or edges that are fewer than two, not finite or decreasing.
    pub fn edges(&self, array: &str) -> Result<Vec<f64>> {
        let bad = |reason: String| Error::InvalidArgument {
            array: array.to_string(),
            reason,
        };
        let edges = match *self {
            Bins::Edges(ref e) => e.clone(),
            Bins::Count {
                count,
                range: (lo, hi),
            } => {
                if count == 0 {
                    return Err(bad("histogram needs at least one bin, got 0".into()));
                }
                if !(lo.is_finite() && hi.is_finite()) || lo > hi {
                    return Err(bad(format!(
                        "histogram range ({lo}, {hi}) must be finite with min <= max"
                    )));
                }
                let (lo, hi) = if lo == hi {
                    (lo - 0.5, hi + 0.5)
                } else {
                    (lo, hi)
                };
                // As numpy.linspace: i * step + lo, the last edge exactly hi.
                #[allow(clippy::cast_precision_loss)]
                let step = (hi - lo) / count as f64;
                #[allow(clippy::cast_precision_loss)]
                let mut e: Vec<f64> = (0..=count).map(|i| i as f64 * step + lo).collect();
                e[count] = hi;
                e
            }
        };
        if let Some(p) = edges_problem(&edges) {
            return Err(bad(p));
        }
        Ok(edges)
    }
}

impl<T: Element> DArray<T> {
    /// The histogram of all elements over `bins` (NumPy's `histogram`): the
    /// counts (`i64`, one per bin) and the edges. Bins are half-open except
    /// the last, which includes its right edge; NaN and values outside the
    /// edges are not counted (NumPy raises for NaN only when it computes the
    /// range itself, which darray never does).
    ///
    /// ```
    /// use darray::{Bins, DArray};
    /// let x = DArray::<f64>::arange(0.0, 10.0, 1.0, [3]).unwrap();
    /// let (h, edges) = x.histogram(&Bins::Count { count: 2, range: (0.0, 9.0) }).unwrap();
    /// assert_eq!(edges, vec![0.0, 4.5, 9.0]);
    /// assert_eq!(h.compute().unwrap().as_slice().unwrap(), &[5, 5]);
    /// ```
    ///
    /// # Errors
    /// Bad bins (see [`Bins::edges`]), before anything runs.
    pub fn histogram(&self, bins: &Bins) -> Result<(DArray<i64>, Vec<f64>)> {
        let edges = bins.edges(&self.expr.name)?;
        let parts = partial_histograms(&self.expr, None, edges.clone());
        Ok((DArray::<i64>::wrap(parts).sum_axis(0)?, edges))
    }

    /// The histogram with optional `weights` (an array of the same shape: each
    /// element counts its weight) and `density` (counts divided by their total
    /// and the bin widths, so the histogram integrates to 1; an empty
    /// histogram gives NaN, as NumPy). Results are `f64`.
    ///
    /// # Errors
    /// Bad bins (see [`Bins::edges`]); weights of another shape.
    pub fn histogram_with(
        &self,
        bins: &Bins,
        weights: Option<&DArray<f64>>,
        density: bool,
    ) -> Result<(DArray<f64>, Vec<f64>)> {
        let edges = bins.edges(&self.expr.name)?;
        let (input, weights) = match weights {
            None => (self.expr.clone(), None),
            Some(w) => {
                if w.shape() != self.shape() {
                    return Err(Error::Broadcast {
                        left: self.shape().to_vec(),
                        right: w.shape().to_vec(),
                    });
                }
                let grid: Vec<Vec<usize>> = self
                    .expr
                    .grid
                    .iter()
                    .zip(&w.expr.grid)
                    .map(|(a, b)| refine(a, b))
                    .collect();
                (
                    rechunk_expr(&self.expr, grid.clone()),
                    Some(rechunk_expr(&w.expr, grid)),
                )
            }
        };
        let weighted = weights.is_some();
        let parts = partial_histograms(&input, weights, edges.clone());
        let hist = if weighted {
            DArray::<f64>::wrap(parts).sum_axis(0)?
        } else {
            DArray::<i64>::wrap(parts).sum_axis(0)?.cast::<f64>()
        };
        if !density {
            return Ok((hist, edges));
        }
        let widths: Vec<f64> = edges.windows(2).map(|w| w[1] - w[0]).collect();
        let n = widths.len();
        let widths = DArray::from_ndarray(&ndarray::Array1::from(widths).into_dyn(), [n])?;
        let total = hist.sum()?;
        let density = hist.div(&widths.mul(&total)?)?;
        Ok((density, edges))
    }
}
