//! Halos and stencils: `overlap` grows every block by elements of its
//! neighbours (and beyond the array's ends by a [`Boundary`] condition),
//! `map_overlap` runs a kernel over the grown blocks and trims the result, and
//! the built-in filters (`correlate1d`, `convolve1d`, `uniform_filter`,
//! `gaussian_filter`, `laplace`, `gradient`) do the same with kernels of their
//! own. A grown block is gathered from the input blocks its range touches, so
//! depths larger than a block reach across several blocks; the output keeps the
//! input's chunks.

use super::DArray;
use crate::error::{Error, Result};
use crate::expr::grid::Grid;
use crate::expr::node::{Expr, ExprKind};
pub use crate::expr::overlap::Boundary;
use crate::expr::overlap::{grown_grid, plan, AxisHalo};
use darray_kernels::stencil::StencilOp;
use darray_kernels::Element;
use std::sync::Arc;

/// An array whose blocks are grown by halos ([`DArray::overlap`]): map a
/// kernel over the grown blocks with [`Overlapped::map_blocks`], look at them
/// with [`Overlapped::array`], and drop the halos with [`Overlapped::trim`]
/// (dask's `trim_internal`).
#[derive(Clone, Debug)]
pub struct Overlapped<T: Element> {
    grown: DArray<T>,
    core_shape: Vec<usize>,
    core_grid: Grid,
    halos: Arc<Vec<AxisHalo>>,
}

impl<T: Element> Overlapped<T> {
    /// The grown blocks as an array: its shape is the sum of the grown
    /// blocks' sizes, so its elements past the first block repeat their
    /// neighbours' (as dask's `overlap` result).
    pub fn array(&self) -> &DArray<T> {
        &self.grown
    }

    /// The grown blocks' halo `(before, after)` on `axis`, one per block.
    ///
    /// # Errors
    /// An axis out of range.
    pub fn halos(&self, axis: usize) -> Result<Vec<(usize, usize)>> {
        self.halos
            .get(axis)
            .map(|h| h.halo.clone())
            .ok_or_else(|| Error::AxisOutOfRange {
                array: self.grown.expr.name.clone(),
                axis: isize::try_from(axis).unwrap_or(isize::MAX),
                ndim: self.halos.len(),
            })
    }

    /// The registered kernel `kernel` (see [`crate::register_kernel`]) over each
    /// grown block; it must return a block of the grown block's shape (checked
    /// when it runs). The halos stay: [`Overlapped::trim`] drops them.
    ///
    /// # Errors
    /// An unknown kernel.
    pub fn map_blocks<U: Element>(&self, kernel: &str) -> Result<Overlapped<U>> {
        Ok(Overlapped {
            grown: self.grown.map_blocks::<U>(kernel)?,
            core_shape: self.core_shape.clone(),
            core_grid: self.core_grid.clone(),
            halos: self.halos.clone(),
        })
    }

    /// Every block without its halos: the array of the input's shape and
    /// chunks (dask's `trim_internal`).
    pub fn trim(&self) -> DArray<T> {
        DArray::wrap(Expr::new(
            format!("trim-{}", self.grown.expr.name),
            self.core_shape.clone(),
            self.core_grid.clone(),
            T::DTYPE,
            ExprKind::Trim {
                input: self.grown.expr.clone(),
                halos: self.halos.clone(),
            },
        ))
    }
}

impl<T: Element> DArray<T> {
    /// Checks `depth` against the array and builds the grown node.
    fn grow(
        &self,
        what: &str,
        depth: &[(usize, usize)],
        boundary: Boundary,
    ) -> Result<(Arc<Expr>, Arc<Vec<AxisHalo>>)> {
        let name = &self.expr.name;
        if depth.len() != self.ndim() {
            return Err(Error::InvalidArgument {
                array: name.clone(),
                reason: format!(
                    "{what}: {} depths for a {}-d array",
                    depth.len(),
                    self.ndim()
                ),
            });
        }
        if let Boundary::Constant(v) = boundary {
            if !v.is_finite() && !T::DTYPE.is_float() {
                return Err(Error::InvalidArgument {
                    array: name.clone(),
                    reason: format!("{what}: constant boundary {v} for a {} array", T::DTYPE),
                });
            }
        }
        for (ax, (&(lo, hi), &n)) in depth.iter().zip(&self.expr.shape).enumerate() {
            let d = lo.max(hi);
            let max = boundary.max_depth(n).min(n);
            if d > max {
                return Err(Error::InvalidArgument {
                    array: name.clone(),
                    reason: format!(
                        "{what}: axis {ax}: depth {d} is larger than the array ({n} elements{})",
                        if matches!(boundary, Boundary::Mirror) {
                            "; a mirror boundary reaches n - 1"
                        } else {
                            ""
                        }
                    ),
                });
            }
        }
        let halos = Arc::new(plan(&self.expr.grid, depth, boundary));
        let grid = grown_grid(&self.expr.grid, &halos);
        let shape = grid.iter().map(|g| g.iter().sum()).collect();
        let node = Expr::new(
            format!("overlap-{name}"),
            shape,
            grid,
            T::DTYPE,
            ExprKind::Overlap {
                input: self.expr.clone(),
                boundary,
                halos: halos.clone(),
            },
        );
        Ok((node, halos))
    }

    /// Grows every block by `depth[axis]` elements on both sides along each
    /// axis, taken from its neighbours (across several blocks where a block is
    /// thinner than the depth) and, beyond the array's ends, made by
    /// `boundary` (dask's `overlap`). With [`Boundary::None`] the blocks at the
    /// ends get no halo beyond them.
    ///
    /// ```
    /// use darray::{Boundary, DArray};
    /// let x = DArray::<f64>::arange(0.0, 6.0, 1.0, [3]).unwrap();
    /// let o = x.overlap(&[1], Boundary::Periodic).unwrap();
    /// let grown = o.array().compute().unwrap();
    /// assert_eq!(grown.into_raw_vec_and_offset().0, vec![5.0, 0.0, 1.0, 2.0, 3.0, 2.0, 3.0, 4.0, 5.0, 0.0]);
    /// assert_eq!(o.trim().compute().unwrap().len(), 6);
    /// ```
    ///
    /// # Errors
    /// A depth per axis missing, a depth larger than the axis (for a
    /// [`Boundary::Mirror`], larger than the axis minus one), or a non-finite
    /// constant for an integer array.
    pub fn overlap(&self, depth: &[usize], boundary: Boundary) -> Result<Overlapped<T>> {
        let sym: Vec<(usize, usize)> = depth.iter().map(|&d| (d, d)).collect();
        let (node, halos) = self.grow("overlap", &sym, boundary)?;
        Ok(Overlapped {
            grown: DArray::wrap(node),
            core_shape: self.expr.shape.clone(),
            core_grid: self.expr.grid.clone(),
            halos,
        })
    }

    /// The registered kernel `kernel` over every block grown by `depth` with
    /// `boundary`, then trimmed back to the block (dask's `map_overlap` with
    /// `trim=True`): the kernel sees each block with its neighbours' halos and
    /// returns a block of that grown shape; the result has this array's shape
    /// and chunks.
    ///
    /// ```
    /// use darray::{register_kernel, Boundary, DArray};
    /// use ndarray::{ArrayD, ArrayViewD, Axis, Slice};
    /// // A 3-point mean along axis 0, on the grown block (halo rows stay zero).
    /// fn mean3(x: &[ArrayViewD<f64>]) -> ArrayD<f64> {
    ///     let x = &x[0];
    ///     let n = x.len_of(Axis(0));
    ///     let mut out = ArrayD::zeros(x.raw_dim());
    ///     for i in 1..n - 1 {
    ///         let s = (&x.index_axis(Axis(0), i - 1) + &x.index_axis(Axis(0), i)
    ///             + &x.index_axis(Axis(0), i + 1)) / 3.0;
    ///         out.index_axis_mut(Axis(0), i).assign(&s);
    ///     }
    ///     out
    /// }
    /// register_kernel::<f64, f64>("doc-mean3", mean3).unwrap();
    /// let x = DArray::<f64>::arange(0.0, 10.0, 1.0, [4]).unwrap();
    /// let y = x.map_overlap::<f64>("doc-mean3", &[1], Boundary::Nearest).unwrap();
    /// let y = y.compute().unwrap();
    /// assert_eq!(y[[0]], 1.0 / 3.0);
    /// assert_eq!(y[[5]], 5.0);
    /// ```
    ///
    /// # Errors
    /// As [`DArray::overlap`], and an unknown kernel.
    pub fn map_overlap<U: Element>(
        &self,
        kernel: &str,
        depth: &[usize],
        boundary: Boundary,
    ) -> Result<DArray<U>> {
        Ok(self
            .overlap(depth, boundary)?
            .map_blocks::<U>(kernel)?
            .trim())
    }

    fn float_only(&self, what: &str) -> Result<()> {
        if T::DTYPE.is_float() {
            Ok(())
        } else {
            Err(Error::InvalidArgument {
                array: self.expr.name.clone(),
                reason: format!("{what} needs a float array, not {}", T::DTYPE),
            })
        }
    }

    fn axis_arg(&self, what: &str, axis: usize) -> Result<()> {
        if axis < self.ndim() {
            Ok(())
        } else {
            Err(Error::AxisOutOfRange {
                array: format!("{} ({what})", self.expr.name),
                axis: isize::try_from(axis).unwrap_or(isize::MAX),
                ndim: self.ndim(),
            })
        }
    }

    /// A built-in stencil node over this array grown for `op`.
    fn stencil(&self, what: &str, op: StencilOp, boundary: Boundary) -> Result<DArray<T>> {
        self.float_only(what)?;
        // An empty array filters to itself (nothing to compute, no halo to make).
        if self.expr.shape.contains(&0) {
            return Ok(self.clone());
        }
        let (grown, halos) = self.grow(what, &op.halo(self.ndim()), boundary)?;
        let cval = match boundary {
            Boundary::Constant(v) => Some(v),
            Boundary::None
            | Boundary::Reflect
            | Boundary::Mirror
            | Boundary::Nearest
            | Boundary::Periodic => None,
        };
        Ok(DArray::wrap(Expr::new(
            format!("{what}-{}", self.expr.name),
            self.expr.shape.clone(),
            self.expr.grid.clone(),
            T::DTYPE,
            ExprKind::Stencil {
                input: grown,
                op,
                halos,
                cval,
            },
        )))
    }

    fn correlate_axes(
        &self,
        what: &str,
        weights: Vec<f64>,
        center: usize,
        axes: Vec<usize>,
        boundary: Boundary,
    ) -> Result<DArray<T>> {
        if weights.is_empty() || weights.iter().any(|w| !w.is_finite()) {
            return Err(Error::InvalidArgument {
                array: self.expr.name.clone(),
                reason: format!("{what}: weights must be finite and not empty, got {weights:?}"),
            });
        }
        if matches!(boundary, Boundary::None) {
            return Err(Error::InvalidArgument {
                array: self.expr.name.clone(),
                reason: format!(
                    "{what}: a filter needs values beyond the ends: use a boundary other than None"
                ),
            });
        }
        if axes.is_empty() {
            return Ok(self.clone());
        }
        self.stencil(
            what,
            StencilOp::Correlate {
                weights,
                center,
                axes,
            },
            boundary,
        )
    }

    /// Correlation with `weights` along `axis` (`scipy.ndimage.correlate1d`
    /// with `origin=0`): `y[i] = sum_j weights[j] * x[i + j - weights.len() / 2]`,
    /// values beyond the ends made by `boundary` (SciPy's default mode is
    /// [`Boundary::Reflect`]). Float arrays; the sum runs in the array's dtype.
    ///
    /// ```
    /// use darray::{Boundary, DArray};
    /// let x = DArray::<f64>::arange(0.0, 5.0, 1.0, [2]).unwrap();
    /// let y = x.correlate1d(&[1.0, 0.0, -1.0], 0, Boundary::Nearest).unwrap();
    /// assert_eq!(y.compute().unwrap().into_raw_vec_and_offset().0, vec![-1.0, -2.0, -2.0, -2.0, -1.0]);
    /// ```
    ///
    /// # Errors
    /// A non-float array, an axis out of range, empty or non-finite weights,
    /// [`Boundary::None`], or weights longer than the axis.
    pub fn correlate1d(
        &self,
        weights: &[f64],
        axis: usize,
        boundary: Boundary,
    ) -> Result<DArray<T>> {
        self.axis_arg("correlate1d", axis)?;
        self.correlate_axes(
            "correlate1d",
            weights.to_vec(),
            weights.len() / 2,
            vec![axis],
            boundary,
        )
    }

    /// Convolution with `weights` along `axis` (`scipy.ndimage.convolve1d`):
    /// the correlation with the reversed weights, centred as SciPy centres it
    /// (for an even length, one element earlier).
    ///
    /// # Errors
    /// As [`DArray::correlate1d`].
    pub fn convolve1d(
        &self,
        weights: &[f64],
        axis: usize,
        boundary: Boundary,
    ) -> Result<DArray<T>> {
        self.axis_arg("convolve1d", axis)?;
        let m = weights.len();
        let rev: Vec<f64> = weights.iter().rev().copied().collect();
        let center = if m.is_multiple_of(2) {
            (m / 2).saturating_sub(1)
        } else {
            m / 2
        };
        self.correlate_axes("convolve1d", rev, center, vec![axis], boundary)
    }

    /// The mean over a window of `size` elements along every axis
    /// (`scipy.ndimage.uniform_filter`; an even window reaches one element
    /// further back than forward, as SciPy's). SciPy sums with running
    /// totals; darray sums each window, so the last bits may differ.
    ///
    /// # Errors
    /// A non-float array, `size` 0, [`Boundary::None`], or a window wider
    /// than an axis.
    pub fn uniform_filter(&self, size: usize, boundary: Boundary) -> Result<DArray<T>> {
        if size == 0 {
            return Err(Error::InvalidArgument {
                array: self.expr.name.clone(),
                reason: "uniform_filter: size 0".into(),
            });
        }
        let w = vec![1.0 / size as f64; size];
        self.correlate_axes(
            "uniform_filter",
            w,
            size / 2,
            (0..self.ndim()).collect(),
            boundary,
        )
    }

    /// A Gaussian blur of standard deviation `sigma` (in elements) along every
    /// axis (`scipy.ndimage.gaussian_filter` with `truncate=4.0`: a kernel of
    /// radius `round(4 sigma)`, normalised to sum 1).
    ///
    /// # Errors
    /// A non-float array, `sigma` not positive and finite, [`Boundary::None`],
    /// or a kernel radius larger than an axis.
    pub fn gaussian_filter(&self, sigma: f64, boundary: Boundary) -> Result<DArray<T>> {
        if !(sigma.is_finite() && sigma > 0.0) {
            return Err(Error::InvalidArgument {
                array: self.expr.name.clone(),
                reason: format!("gaussian_filter: sigma {sigma} must be positive and finite"),
            });
        }
        let w = gaussian_weights(sigma);
        let c = w.len() / 2;
        self.correlate_axes(
            "gaussian_filter",
            w,
            c,
            (0..self.ndim()).collect(),
            boundary,
        )
    }

    /// The sum over every axis of second differences `x[i-1] - 2 x[i] + x[i+1]`
    /// (`scipy.ndimage.laplace`; SciPy's default mode is [`Boundary::Reflect`]).
    ///
    /// ```
    /// use darray::{Boundary, DArray};
    /// let x = DArray::<f64>::arange(0.0, 6.0, 1.0, [4]).unwrap();
    /// let sq = (&x * &x).unwrap();
    /// let lap = sq.laplace(Boundary::Nearest).unwrap().compute().unwrap();
    /// assert_eq!(lap[[3]], 2.0);
    /// ```
    ///
    /// # Errors
    /// A non-float array, [`Boundary::None`], or an axis of one element with
    /// [`Boundary::Mirror`].
    pub fn laplace(&self, boundary: Boundary) -> Result<DArray<T>> {
        if matches!(boundary, Boundary::None) {
            return Err(Error::InvalidArgument {
                array: self.expr.name.clone(),
                reason: "laplace needs values beyond the ends: use a boundary other than None"
                    .into(),
            });
        }
        if self.ndim() == 0 {
            return Ok(self.clone());
        }
        self.stencil("laplace", StencilOp::Laplace, boundary)
    }

    /// NumPy's `gradient` along `axis` with sample distance `spacing`: central
    /// differences `(x[i+1] - x[i-1]) / (2 spacing)` inside, one-sided
    /// differences at the two ends (`edge_order=1`). NumPy returns one array
    /// per axis; call this once per axis.
    ///
    /// ```
    /// use darray::DArray;
    /// let x = DArray::<f64>::arange(0.0, 5.0, 1.0, [2]).unwrap();
    /// let sq = (&x * &x).unwrap();
    /// let g = sq.gradient(0, 1.0).unwrap().compute().unwrap();
    /// assert_eq!(g.into_raw_vec_and_offset().0, vec![1.0, 2.0, 4.0, 6.0, 7.0]);
    /// ```
    ///
    /// # Errors
    /// A non-float array, an axis out of range or of fewer than two elements
    /// (as NumPy), or a spacing that is zero or not finite.
    pub fn gradient(&self, axis: usize, spacing: f64) -> Result<DArray<T>> {
        self.float_only("gradient")?;
        self.axis_arg("gradient", axis)?;
        if self.expr.shape[axis] < 2 {
            return Err(Error::InvalidArgument {
                array: self.expr.name.clone(),
                reason: format!(
                    "gradient: axis {axis} has {} element(s), at least 2 are needed",
                    self.expr.shape[axis]
                ),
            });
        }
        if !(spacing.is_finite() && spacing != 0.0) {
            return Err(Error::InvalidArgument {
                array: self.expr.name.clone(),
                reason: format!("gradient: spacing {spacing} must be finite and non-zero"),
            });
        }
        self.stencil(
            "gradient",
            StencilOp::Gradient { axis, spacing },
            Boundary::None,
        )
    }
}

/// SciPy's Gaussian kernel: radius `round(4 sigma)`, normalised to sum 1.
fn gaussian_weights(sigma: f64) -> Vec<f64> {
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let radius = (4.0 * sigma + 0.5) as usize;
    let r = radius as f64;
    let w: Vec<f64> = (0..=2 * radius)
        .map(|i| (-0.5 * ((i as f64 - r) / sigma).powi(2)).exp())
        .collect();
    let total: f64 = w.iter().sum();
    w.into_iter().map(|v| v / total).collect()
}
