//! Shape functions: `reshape` (dask's chunk rules, see `crate::ops::reshape`),
//! `ravel`, `squeeze`, `expand_dims`, `broadcast_to`, `broadcast_arrays`,
//! `moveaxis`, `swapaxes`, `atleast_*d` (`block`, `tile`, `repeat` and
//! `coarsen` are in `blocks.rs`). All but `reshape` are built from the existing
//! nodes (slices, transposition, broadcasting elementwise copies).

use super::elementwise::broadcast_shapes;
use super::{normalize_axis, DArray};
use crate::error::{Error, Result};
use crate::expr::grid::{numblocks, Grid};
use crate::expr::node::{AxisSel, EwOp, Expr, ExprKind};
use crate::expr::select::{rechunk_expr, runs};
use crate::ops::reshape::plan;
use darray_kernels::{Element, Scalar};

/// Options of [`DArray::reshape_with`].
///
/// ```
/// use darray::{DArray, ReshapeOpts};
/// let x = DArray::<f64>::arange(0.0, 30.0, 1.0, [10]).unwrap().reshape(&[6, 5]).unwrap();
/// // (6, 5) -> (5, 6) is neither a merge nor a split of axes: refused by default.
/// assert!(x.rechunk([3, 5]).unwrap().reshape(&[5, 6]).is_err());
/// let y = x.reshape_with(&[5, 6], &ReshapeOpts::default().allow_exchange(true)).unwrap();
/// assert_eq!(y.compute().unwrap()[[4, 5]], 29.0);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReshapeOpts {
    /// Allow a reshape that needs an all-to-all exchange between the blocks of
    /// some axes (dask refuses these): those axes are rechunked first.
    pub allow_exchange: bool,
}

impl ReshapeOpts {
    /// Sets [`ReshapeOpts::allow_exchange`].
    #[must_use]
    pub fn allow_exchange(mut self, allow: bool) -> Self {
        self.allow_exchange = allow;
        self
    }
}

impl<T: Element> DArray<T> {
    /// A selection node (basic slicing) from per-axis selections.
    pub(crate) fn select(&self, name: &str, sel: Vec<AxisSel>) -> DArray<T> {
        let mut shape = Vec::new();
        let mut grid = Vec::new();
        let mut ax = 0;
        for s in &sel {
            match *s {
                AxisSel::NewAxis => {
                    shape.push(1);
                    grid.push(vec![1]);
                }
                AxisSel::Index(_) => ax += 1,
                AxisSel::Range { start, step, len } => {
                    shape.push(len);
                    grid.push(
                        runs(&self.expr.grid[ax], start, step, len)
                            .iter()
                            .map(|r| r.len)
                            .collect(),
                    );
                    ax += 1;
                }
            }
        }
        DArray::wrap(Expr::new(
            name,
            shape,
            grid,
            T::DTYPE,
            ExprKind::Slice {
                input: self.expr.clone(),
                sel,
            },
        ))
    }

    /// Every element of axis `ax` but elements `start, start+step, ...` (`len`).
    pub(crate) fn axis_range(&self, ax: usize, start: usize, step: isize, len: usize) -> Self {
        let sel = (0..self.ndim())
            .map(|a| {
                if a == ax {
                    AxisSel::Range { start, step, len }
                } else {
                    full_range(self.expr.shape[a])
                }
            })
            .collect();
        self.select("slice", sel)
    }

    /// The same elements in C order with another shape (NumPy's `reshape`, order
    /// C; one axis may be `-1`, inferred). Output chunks follow dask's rules:
    /// axes that stay keep their chunks, merged axes take the outer axis's
    /// chunks times the inner size, split axes merge chunks to multiples of the
    /// inner output axes; the input is rechunked first where those rules ask
    /// (see [`ReshapeOpts`] for the reshapes that are neither). An array of one
    /// block or no elements gets one block per axis.
    ///
    /// ```
    /// use darray::DArray;
    /// let x = DArray::<f64>::arange(0.0, 24.0, 1.0, [8]).unwrap();
    /// let y = x.reshape(&[2, -1, 4]).unwrap();
    /// assert_eq!(y.shape(), &[2, 3, 4]);
    /// assert_eq!(y.compute().unwrap()[[1, 2, 3]], 23.0);
    /// ```
    ///
    /// # Errors
    /// A shape with another number of elements, more than one `-1` or another
    /// negative length ([`Error::InvalidArgument`]); a reshape needing an
    /// all-to-all exchange ([`Error::ReshapeExchange`], see
    /// [`DArray::reshape_with`]).
    pub fn reshape(&self, shape: &[isize]) -> Result<DArray<T>> {
        self.reshape_with(shape, &ReshapeOpts::default())
    }

    /// [`DArray::reshape`] with options: with
    /// [`ReshapeOpts::allow_exchange`], a reshape that is neither a merge nor a
    /// split of whole axes (dask raises `NotImplementedError`) rechunks the
    /// axes involved so that blocks cut their flattened elements into runs both
    /// shapes can cut, about as large as the input's largest block, and then
    /// reshapes block by block.
    ///
    /// # Errors
    /// As [`DArray::reshape`].
    pub fn reshape_with(&self, shape: &[isize], opts: &ReshapeOpts) -> Result<DArray<T>> {
        let name = &self.expr.name;
        let out = resolve_shape(name, &self.expr.shape, shape)?;
        if out == self.expr.shape {
            return Ok(self.clone());
        }
        let whole: Grid = out.iter().map(|&d| vec![d]).collect();
        if self.is_empty() {
            return Ok(DArray::wrap(Expr::new(
                "reshape",
                out,
                whole,
                T::DTYPE,
                ExprKind::Full {
                    value: Scalar::of(T::default()),
                },
            )));
        }
        let (gi, go) = if numblocks(&self.expr.grid).iter().all(|&n| n == 1) {
            (self.expr.grid.clone(), whole)
        } else {
            plan(
                &self.expr.shape,
                &out,
                &self.expr.grid,
                T::DTYPE.size(),
                opts.allow_exchange,
            )
            .map_err(|x| Error::ReshapeExchange {
                array: name.clone(),
                from: self.expr.shape.clone(),
                to: out.clone(),
                in_axes: *x.in_axes.start()..*x.in_axes.end() + 1,
                out_axes: *x.out_axes.start()..*x.out_axes.end() + 1,
            })?
        };
        debug_assert_eq!(
            numblocks(&gi).iter().product::<usize>(),
            numblocks(&go).iter().product::<usize>(),
            "a reshape plan pairs blocks one to one"
        );
        let input = rechunk_expr(&self.expr, gi);
        Ok(DArray::wrap(Expr::new(
            "reshape",
            out,
            go,
            T::DTYPE,
            ExprKind::Reshape { input },
        )))
    }

    /// The elements in C order as a 1-d array (NumPy's `ravel`; a lazy array
    /// either way, so the same as [`DArray::flatten`]).
    ///
    /// # Errors
    /// As [`DArray::reshape`] (never for valid arrays: merging all axes is always
    /// a merge).
    pub fn ravel(&self) -> Result<DArray<T>> {
        self.reshape(&[-1])
    }

    /// Same as [`DArray::ravel`] (NumPy's `flatten`).
    ///
    /// # Errors
    /// As [`DArray::ravel`].
    pub fn flatten(&self) -> Result<DArray<T>> {
        self.ravel()
    }

    /// Every axis of length 1 removed (NumPy's `squeeze()`).
    pub fn squeeze(&self) -> DArray<T> {
        let axes: Vec<isize> = (0..self.ndim())
            .filter(|&a| self.expr.shape[a] == 1)
            .map(|a| isize::try_from(a).expect("axis fits isize"))
            .collect();
        self.squeeze_axes(&axes)
            .expect("axes of length 1 can be squeezed")
    }

    /// The given axes, each of length 1, removed (NumPy's `squeeze(axis=...)`).
    ///
    /// # Errors
    /// An axis out of range or repeated, or of a length other than 1.
    pub fn squeeze_axes(&self, axes: &[isize]) -> Result<DArray<T>> {
        let axes = self.axis_set(axes, self.ndim())?;
        let mut sel = Vec::with_capacity(self.ndim());
        for (a, &n) in self.expr.shape.iter().enumerate() {
            if axes[a] {
                if n != 1 {
                    return Err(Error::InvalidArgument {
                        array: self.expr.name.clone(),
                        reason: format!("cannot squeeze axis {a} of length {n}"),
                    });
                }
                sel.push(AxisSel::Index(0));
            } else {
                sel.push(full_range(n));
            }
        }
        Ok(self.select("squeeze", sel))
    }

    /// New axes of length 1 at the given positions of the result (NumPy's
    /// `expand_dims`; negative positions count from the result's end).
    ///
    /// # Errors
    /// A position out of range for the result or repeated.
    pub fn expand_dims(&self, axes: &[isize]) -> Result<DArray<T>> {
        let nd = self.ndim() + axes.len();
        let new = self.axis_set(axes, nd)?;
        let mut ax = 0;
        let sel = new
            .iter()
            .map(|&is_new| {
                if is_new {
                    AxisSel::NewAxis
                } else {
                    ax += 1;
                    full_range(self.expr.shape[ax - 1])
                }
            })
            .collect();
        Ok(self.select("expand_dims", sel))
    }

    /// Per axis of an `nd`-d array, whether it is among `axes`.
    fn axis_set(&self, axes: &[isize], nd: usize) -> Result<Vec<bool>> {
        let mut set = vec![false; nd];
        for &a in axes {
            let a = normalize_axis(&self.expr.name, a, nd)?;
            if std::mem::replace(&mut set[a], true) {
                return Err(Error::DuplicateAxis {
                    array: self.expr.name.clone(),
                    axis: a,
                });
            }
        }
        Ok(set)
    }

    /// The array broadcast to `shape` (NumPy's `broadcast_to`): axes are
    /// aligned on the right; an axis of length 1 (or a new leading axis) is
    /// repeated. Broadcast axes are one block each, as in dask; the data is not
    /// copied until a block is computed.
    ///
    /// ```
    /// use darray::DArray;
    /// let x = DArray::<i32>::arange(0.0, 3.0, 1.0, [2]).unwrap();
    /// let y = x.broadcast_to(&[2, 3]).unwrap();
    /// assert_eq!(y.compute().unwrap()[[1, 2]], 2);
    /// ```
    ///
    /// # Errors
    /// A shape the array does not broadcast to.
    pub fn broadcast_to(&self, shape: &[usize]) -> Result<DArray<T>> {
        let grid = (0..shape.len()).map(|ax| vec![shape[ax]]).collect::<Grid>();
        self.broadcast_to_grid(shape, grid)
    }

    /// [`DArray::broadcast_to`] with `grid` for the broadcast axes (the others
    /// keep the input's chunks).
    pub(crate) fn broadcast_to_grid(&self, shape: &[usize], mut grid: Grid) -> Result<DArray<T>> {
        let nd = self.ndim();
        let fits = shape.len() >= nd
            && (0..nd).all(|a| {
                let n = self.expr.shape[a];
                n == 1 || n == shape[shape.len() - nd + a]
            });
        if !fits {
            return Err(Error::InvalidArgument {
                array: self.expr.name.clone(),
                reason: format!(
                    "shape {:?} does not broadcast to {shape:?}",
                    self.expr.shape
                ),
            });
        }
        if shape == self.expr.shape.as_slice() {
            return Ok(self.clone());
        }
        for a in 0..nd {
            let ax = shape.len() - nd + a;
            if self.expr.shape[a] == shape[ax] {
                grid[ax] = self.expr.grid[a].clone();
            }
        }
        // A same-dtype cast copies each element exactly: the fused kernel
        // broadcasts its operand to the block's shape.
        Ok(DArray::wrap(Expr::new(
            "broadcast_to",
            shape.to_vec(),
            grid,
            T::DTYPE,
            ExprKind::Elementwise {
                op: EwOp::Cast,
                args: vec![self.expr.clone()],
            },
        )))
    }

    /// The arrays broadcast to their common shape (NumPy's `broadcast_arrays`;
    /// each keeps its own chunks where it is not broadcast).
    ///
    /// # Errors
    /// Shapes that do not broadcast together.
    pub fn broadcast_arrays(arrays: &[&DArray<T>]) -> Result<Vec<DArray<T>>> {
        let mut shape = Vec::new();
        for a in arrays {
            shape = broadcast_shapes(&shape, a.shape())?;
        }
        arrays.iter().map(|a| a.broadcast_to(&shape)).collect()
    }

    /// Axes `source` moved to positions `destination`, the others kept in order
    /// (NumPy's `moveaxis`).
    ///
    /// # Errors
    /// Lists of different lengths, axes out of range or repeated.
    pub fn moveaxis(&self, source: &[isize], destination: &[isize]) -> Result<DArray<T>> {
        if source.len() != destination.len() {
            return Err(Error::InvalidArgument {
                array: self.expr.name.clone(),
                reason: format!(
                    "moveaxis: {} source axes but {} destinations",
                    source.len(),
                    destination.len()
                ),
            });
        }
        let nd = self.ndim();
        let src = self.axis_set(source, nd)?;
        self.axis_set(destination, nd)?;
        let norm = |a: isize| normalize_axis(&self.expr.name, a, nd);
        let mut order: Vec<usize> = (0..nd).filter(|&a| !src[a]).collect();
        let mut pairs = source
            .iter()
            .zip(destination)
            .map(|(&s, &d)| Ok((norm(d)?, norm(s)?)))
            .collect::<Result<Vec<_>>>()?;
        pairs.sort_unstable();
        for (d, s) in pairs {
            order.insert(d, s);
        }
        self.permute_axes(&order)
    }

    /// Axes `a` and `b` exchanged (NumPy's `swapaxes`).
    ///
    /// # Errors
    /// An axis out of range.
    pub fn swapaxes(&self, a: isize, b: isize) -> Result<DArray<T>> {
        let nd = self.ndim();
        let (a, b) = (
            normalize_axis(&self.expr.name, a, nd)?,
            normalize_axis(&self.expr.name, b, nd)?,
        );
        let mut perm: Vec<usize> = (0..nd).collect();
        perm.swap(a, b);
        self.permute_axes(&perm)
    }

    /// At least 1-d: a 0-d array becomes shape `(1,)` (NumPy's `atleast_1d`).
    pub fn atleast_1d(&self) -> DArray<T> {
        match self.ndim() {
            0 => self.with_new_axes(&[0]),
            _ => self.clone(),
        }
    }

    /// At least 2-d: `()` becomes `(1, 1)`, `(n,)` becomes `(1, n)` (NumPy's
    /// `atleast_2d`).
    pub fn atleast_2d(&self) -> DArray<T> {
        match self.ndim() {
            0 => self.with_new_axes(&[0, 1]),
            1 => self.with_new_axes(&[0]),
            _ => self.clone(),
        }
    }

    /// At least 3-d: `()` becomes `(1, 1, 1)`, `(n,)` becomes `(1, n, 1)`,
    /// `(m, n)` becomes `(m, n, 1)` (NumPy's `atleast_3d`).
    pub fn atleast_3d(&self) -> DArray<T> {
        match self.ndim() {
            0 => self.with_new_axes(&[0, 1, 2]),
            1 => self.with_new_axes(&[0, 2]),
            2 => self.with_new_axes(&[2]),
            _ => self.clone(),
        }
    }

    fn with_new_axes(&self, axes: &[isize]) -> DArray<T> {
        self.expand_dims(axes)
            .expect("positions within the result's axes")
    }

    /// `self` with `k` leading axes of length 1.
    pub(crate) fn with_leading(&self, k: usize) -> DArray<T> {
        let axes: Vec<isize> = (0..k)
            .map(|a| isize::try_from(a).expect("axis fits isize"))
            .collect();
        self.with_new_axes(&axes)
    }
}

/// The whole of an axis of length `n`.
pub(crate) fn full_range(n: usize) -> AxisSel {
    AxisSel::Range {
        start: 0,
        step: 1,
        len: n,
    }
}

/// `shape` with a `-1` inferred, checked against `from`'s number of elements.
fn resolve_shape(name: &str, from: &[usize], shape: &[isize]) -> Result<Vec<usize>> {
    let total: usize = from.iter().product();
    let bad = |reason: String| Error::InvalidArgument {
        array: name.to_string(),
        reason,
    };
    let mut infer = None;
    let mut known = 1usize;
    let mut out = Vec::with_capacity(shape.len());
    for (ax, &d) in shape.iter().enumerate() {
        match usize::try_from(d) {
            Ok(d) => {
                known = known
                    .checked_mul(d)
                    .ok_or_else(|| bad(format!("reshape to {shape:?}: too many elements")))?;
                out.push(d);
            }
            Err(_) if d == -1 && infer.is_none() => {
                infer = Some(ax);
                out.push(0);
            }
            Err(_) => {
                return Err(bad(format!(
                    "reshape to {shape:?}: only one length may be -1 and none other negative"
                )))
            }
        }
    }
    if let Some(ax) = infer {
        if known == 0 || !total.is_multiple_of(known) {
            return Err(bad(format!(
                "cannot reshape shape {from:?} ({total} elements) to {shape:?}"
            )));
        }
        out[ax] = total / known;
    } else if known != total {
        return Err(bad(format!(
            "cannot reshape shape {from:?} ({total} elements) to {shape:?} ({known} elements)"
        )));
    }
    Ok(out)
}
