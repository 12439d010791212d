//! Basic slicing (ranges with steps, single indices, new axes), rechunking,
//! transposition and concatenation. A slice selects only the blocks it touches.

use super::creation::resolve;
use super::{normalize_axis, DArray};
use crate::error::{Error, Result};
use crate::expr::grid::{self as chunks, ChunkSpec, Grid};
use crate::expr::node::{AxisSel, Expr, ExprKind};
use crate::expr::rechunk_plan::{RechunkOptions, RechunkPlan};
use crate::expr::select::{rechunk_expr, runs};
use darray_kernels::Element;
use ndarray::SliceInfoElem;

impl<T: Element> DArray<T> {
    /// A basic slice, in ndarray's `s![]` notation: ranges with steps (a negative
    /// step walks the range from its end, as ndarray does), single indices (the
    /// axis is removed) and `NewAxis`. Axes not named are taken whole. Only the
    /// blocks the slice touches are read.
    ///
    /// ```
    /// use darray::DArray;
    /// use ndarray::s;
    /// let x = DArray::<f64>::arange(0.0, 20.0, 1.0, [6]).unwrap();
    /// let y = x.slice(s![2..15;4]).unwrap();
    /// assert_eq!(y.compute().unwrap().into_iter().collect::<Vec<_>>(), vec![2.0, 6.0, 10.0, 14.0]);
    /// ```
    ///
    /// # Errors
    /// More indices than axes, an index or range out of bounds, a zero step.
    pub fn slice(&self, info: impl AsRef<[SliceInfoElem]>) -> Result<DArray<T>> {
        let name = &self.expr.name;
        let elems = info.as_ref();
        let consumed = elems
            .iter()
            .filter(|e| !matches!(e, SliceInfoElem::NewAxis))
            .count();
        if consumed > self.ndim() {
            return Err(Error::InvalidArgument {
                array: name.clone(),
                reason: format!("{consumed} indices for a {}-d array", self.ndim()),
            });
        }
        let mut sel = Vec::new();
        let mut ax = 0;
        let full = SliceInfoElem::Slice {
            start: 0,
            end: None,
            step: 1,
        };
        let rest = std::iter::repeat_n(&full, self.ndim() - consumed);
        for e in elems.iter().chain(rest) {
            let n = if ax < self.ndim() {
                self.expr.shape[ax]
            } else {
                0
            };
            let bad = |what: String| Error::InvalidArgument {
                array: name.clone(),
                reason: format!("axis {ax}: {what}"),
            };
            match *e {
                SliceInfoElem::NewAxis => sel.push(AxisSel::NewAxis),
                SliceInfoElem::Index(i) => {
                    let j = norm_index(i, n, true)
                        .ok_or_else(|| bad(format!("index {i} out of bounds for length {n}")))?;
                    sel.push(AxisSel::Index(j));
                    ax += 1;
                }
                SliceInfoElem::Slice { start, end, step } => {
                    if step == 0 {
                        return Err(bad("step 0".into()));
                    }
                    let s = norm_index(start, n, false).ok_or_else(|| {
                        bad(format!("start {start} out of bounds for length {n}"))
                    })?;
                    let e = match end {
                        None => n,
                        Some(e) => norm_index(e, n, false)
                            .ok_or_else(|| bad(format!("end {e} out of bounds for length {n}")))?,
                    };
                    let e = e.max(s);
                    let stride = step.unsigned_abs();
                    let len = (e - s).div_ceil(stride);
                    // ndarray walks a negative-step range from its last element.
                    let first = if step < 0 && len > 0 { e - 1 } else { s };
                    sel.push(AxisSel::Range {
                        start: first,
                        step,
                        len,
                    });
                    ax += 1;
                }
            }
        }
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
        Ok(DArray::wrap(Expr::new(
            "slice",
            shape,
            grid,
            T::DTYPE,
            ExprKind::Slice {
                input: self.expr.clone(),
                sel,
            },
        )))
    }

    /// The same array cut into a different grid, with no task projecting more
    /// than the default bound ([`RechunkPlan::default_bound`]: 4 times the
    /// largest source or target block, at least 64 MiB). Where assembling each
    /// output block straight from the input blocks it overlaps would need more
    /// (row chunks to column chunks), the rechunk runs in stages (see
    /// [`DArray::rechunk_with`]).
    ///
    /// ```
    /// use darray::DArray;
    /// let x = DArray::<f64>::arange(0.0, 12.0, 1.0, [5]).unwrap();
    /// let y = x.rechunk([4]).unwrap();
    /// assert_eq!(y.chunks(), &vec![vec![4, 4, 4]]);
    /// assert_eq!(y.compute().unwrap(), x.compute().unwrap());
    /// ```
    ///
    /// # Errors
    /// An invalid chunk spec.
    pub fn rechunk(&self, chunks: impl Into<ChunkSpec>) -> Result<DArray<T>> {
        self.rechunk_with(chunks, &RechunkOptions::default())
    }

    /// [`DArray::rechunk`] with no task projecting more than
    /// `opts`' [`max_task_bytes`](RechunkOptions::max_task_bytes) (its input
    /// blocks plus its output block, the bytes the executor checks against its
    /// budget before running). When the direct rechunk needs more, it is planned
    /// in stages ([`DArray::rechunk_plan`] shows them): split every block into
    /// pieces aligned with the next grid, then merge the pieces, through
    /// intermediate grids when that needs fewer tasks (the rechunker algorithm).
    /// Unlike dask, whose `rechunk` bounds the size of intermediate chunks but
    /// not what a task holds, the bound here is on each task's projected bytes.
    ///
    /// ```
    /// use darray::{DArray, RechunkOptions};
    /// let a = ndarray::Array2::from_shape_fn((64, 64), |(i, j)| (i * 64 + j) as f64);
    /// let x = DArray::from_ndarray(&a, [4, 64]).unwrap(); // row chunks
    /// let opts = RechunkOptions::new().max_task_bytes(8 << 10);
    /// let y = x.rechunk_with([64, 4], &opts).unwrap();
    /// assert!(x.rechunk_plan([64, 4], &opts).unwrap().stages.len() > 1);
    /// assert_eq!(y.compute().unwrap(), x.compute().unwrap());
    /// ```
    ///
    /// # Errors
    /// An invalid chunk spec, or a bound no plan fits (below
    /// [`RechunkPlan::min_task_bytes`]: the largest source block plus one item,
    /// or twice the largest target block).
    pub fn rechunk_with(
        &self,
        chunks: impl Into<ChunkSpec>,
        opts: &RechunkOptions,
    ) -> Result<DArray<T>> {
        let plan = self.rechunk_plan(chunks, opts)?;
        let mut e = self.expr.clone();
        for grid in plan.stages {
            e = rechunk_expr(&e, grid);
        }
        Ok(DArray::wrap(e))
    }

    /// The plan [`DArray::rechunk_with`] follows: its grids, the projected
    /// bytes of each step's largest task and the number of tasks. Nothing is
    /// built or run.
    ///
    /// # Errors
    /// As [`DArray::rechunk_with`].
    pub fn rechunk_plan(
        &self,
        chunks: impl Into<ChunkSpec>,
        opts: &RechunkOptions,
    ) -> Result<RechunkPlan> {
        let item = T::DTYPE.size();
        let grid = resolve(&self.expr.name, &chunks.into(), &self.expr.shape, item)?;
        let bound = opts
            .task_bytes()
            .unwrap_or_else(|| RechunkPlan::default_bound(item, &self.expr.grid, &grid));
        RechunkPlan::new(&self.expr.shape, item, &self.expr.grid, &grid, bound).map_err(|e| match e
        {
            Error::InvalidArgument { reason, .. } => Error::InvalidArgument {
                array: self.expr.name.clone(),
                reason,
            },
            other => other,
        })
    }

    /// Axes permuted: output axis `i` is input axis `perm[i]`.
    ///
    /// # Errors
    /// `perm` is not a permutation of `0..ndim`.
    pub fn permute_axes(&self, perm: &[usize]) -> Result<DArray<T>> {
        let mut seen = vec![false; self.ndim()];
        for &p in perm {
            if p >= self.ndim() || std::mem::replace(&mut seen[p], true) {
                return Err(Error::InvalidArgument {
                    array: self.expr.name.clone(),
                    reason: format!("{perm:?} is not a permutation of the {} axes", self.ndim()),
                });
            }
        }
        if perm.len() != self.ndim() {
            return Err(Error::InvalidArgument {
                array: self.expr.name.clone(),
                reason: format!("{perm:?} is not a permutation of the {} axes", self.ndim()),
            });
        }
        if perm.iter().enumerate().all(|(i, &p)| i == p) {
            return Ok(self.clone());
        }
        Ok(DArray::wrap(Expr::new(
            "transpose",
            perm.iter().map(|&p| self.expr.shape[p]).collect(),
            perm.iter().map(|&p| self.expr.grid[p].clone()).collect(),
            T::DTYPE,
            ExprKind::Transpose {
                input: self.expr.clone(),
                perm: perm.to_vec(),
            },
        )))
    }

    /// Axes reversed (`a.T`).
    pub fn t(&self) -> DArray<T> {
        let perm: Vec<usize> = (0..self.ndim()).rev().collect();
        self.permute_axes(&perm)
            .expect("a reversal is a permutation")
    }

    /// Joins arrays along an existing axis. The other axes must match in length;
    /// their grids are unified.
    ///
    /// ```
    /// use darray::DArray;
    /// let a = DArray::<i32>::zeros(&[2, 3], [1, 3]).unwrap();
    /// let b = DArray::<i32>::ones(&[1, 3], [1, 2]).unwrap();
    /// let c = DArray::concatenate(&[&a, &b], 0).unwrap();
    /// assert_eq!(c.shape(), &[3, 3]);
    /// assert_eq!(c.compute().unwrap()[[2, 1]], 1);
    /// ```
    ///
    /// # Errors
    /// No arrays, an axis out of range, or other axes of different lengths.
    pub fn concatenate(arrays: &[&DArray<T>], axis: isize) -> Result<DArray<T>> {
        let first = arrays.first().ok_or_else(|| Error::InvalidArgument {
            array: "concatenate".into(),
            reason: "no arrays to concatenate".into(),
        })?;
        let ndim = first.ndim();
        let axis = normalize_axis(&first.expr.name, axis, ndim)?;
        for a in arrays {
            let same = a.ndim() == ndim
                && (0..ndim).all(|d| d == axis || a.expr.shape[d] == first.expr.shape[d]);
            if !same {
                return Err(Error::InvalidArgument {
                    array: a.expr.name.clone(),
                    reason: format!(
                        "cannot concatenate shape {:?} with {:?} along axis {axis}",
                        a.expr.shape, first.expr.shape
                    ),
                });
            }
        }
        let mut grid: Grid = first.expr.grid.clone();
        for a in &arrays[1..] {
            for d in (0..ndim).filter(|&d| d != axis) {
                grid[d] = chunks::refine(&grid[d], &a.expr.grid[d]);
            }
        }
        let mut along = Vec::new();
        let mut inputs = Vec::new();
        for a in arrays {
            let mut g = grid.clone();
            g[axis] = a.expr.grid[axis].clone();
            if a.expr.shape[axis] > 0 {
                along.extend(a.expr.grid[axis].iter().copied());
                inputs.push(rechunk_expr(&a.expr, g));
            }
        }
        let mut shape = first.expr.shape.clone();
        shape[axis] = arrays.iter().map(|a| a.expr.shape[axis]).sum();
        if inputs.is_empty() {
            return Ok((*first).clone());
        }
        grid[axis] = along;
        Ok(DArray::wrap(Expr::new(
            "concatenate",
            shape,
            grid,
            T::DTYPE,
            ExprKind::Concatenate { inputs, axis },
        )))
    }

    /// Joins arrays of equal shape along a new axis.
    ///
    /// # Errors
    /// No arrays, different shapes, or an axis out of range.
    pub fn stack(arrays: &[&DArray<T>], axis: isize) -> Result<DArray<T>> {
        let first = arrays.first().ok_or_else(|| Error::InvalidArgument {
            array: "stack".into(),
            reason: "no arrays to stack".into(),
        })?;
        let axis = normalize_axis(&first.expr.name, axis, first.ndim() + 1)?;
        let expanded = arrays
            .iter()
            .map(|a| {
                if a.shape() != first.shape() {
                    return Err(Error::InvalidArgument {
                        array: a.expr.name.clone(),
                        reason: format!(
                            "cannot stack shape {:?} with {:?}",
                            a.shape(),
                            first.shape()
                        ),
                    });
                }
                let mut info: Vec<SliceInfoElem> = vec![
                    SliceInfoElem::Slice {
                        start: 0,
                        end: None,
                        step: 1
                    };
                    axis
                ];
                info.push(SliceInfoElem::NewAxis);
                a.slice(&info)
            })
            .collect::<Result<Vec<_>>>()?;
        let refs: Vec<&DArray<T>> = expanded.iter().collect();
        Self::concatenate(&refs, isize::try_from(axis).expect("axis fits isize"))
    }
}

/// A possibly negative index normalized into `0..n` (`0..=n` for range bounds).
fn norm_index(i: isize, n: usize, strict: bool) -> Option<usize> {
    let n_i = isize::try_from(n).ok()?;
    let j = if i < 0 { i + n_i } else { i };
    let limit = if strict { n_i - 1 } else { n_i };
    (0..=limit)
        .contains(&j)
        .then(|| usize::try_from(j).expect("checked non-negative"))
}
