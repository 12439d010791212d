//! Order and padding: `flip`, `roll`, `rot90`, `pad`. Built from slices
//! (negative steps for reversal), concatenation, broadcasting and constant
//! arrays, so each output block reads one input block, or a few for the
//! rechunked pad regions of the periodic modes.

use super::shape::full_range;
use super::{normalize_axis, DArray};
use crate::error::{Error, Result};
use crate::expr::grid::{regular, Grid};
use crate::expr::node::{AxisSel, Expr, ExprKind};
use crate::expr::select::rechunk_expr;
use darray_kernels::{Element, Scalar};

/// How [`DArray::pad`] fills the new elements (NumPy's `mode`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum PadMode<T> {
    /// A constant value (NumPy's `constant`, `constant_values=value`).
    Constant(T),
    /// The edge element repeated (`edge`).
    Edge,
    /// Mirrored about the edge element, which is not repeated (`reflect`,
    /// `reflect_type='even'`): `[1, 2, 3]` padded by 2 is `[3, 2, 1, 2, 3, 2, 1]`.
    Reflect,
    /// Mirrored with the edge element repeated (`symmetric`): `[1, 2, 3]`
    /// padded by 2 is `[2, 1, 1, 2, 3, 3, 2]`.
    Symmetric,
    /// Wrapped around (`wrap`): `[1, 2, 3]` padded by 2 is `[2, 3, 1, 2, 3, 1, 2]`.
    Wrap,
}

impl<T: Element> DArray<T> {
    /// The order of elements reversed along `axes` (NumPy's `flip`; `None`: all
    /// axes). Blocks are the input's in reverse order.
    ///
    /// ```
    /// use darray::DArray;
    /// let x = DArray::<i32>::arange(0.0, 4.0, 1.0, [3]).unwrap();
    /// let y = x.flip(None).unwrap().compute().unwrap();
    /// assert_eq!(y.into_iter().collect::<Vec<_>>(), vec![3, 2, 1, 0]);
    /// ```
    ///
    /// # Errors
    /// An axis out of range or repeated.
    pub fn flip(&self, axes: Option<&[isize]>) -> Result<DArray<T>> {
        let nd = self.ndim();
        let mut rev = vec![axes.is_none(); nd];
        for &a in axes.unwrap_or(&[]) {
            let a = normalize_axis(&self.expr.name, a, nd)?;
            if std::mem::replace(&mut rev[a], true) {
                return Err(Error::DuplicateAxis {
                    array: self.expr.name.clone(),
                    axis: a,
                });
            }
        }
        let sel = self
            .expr
            .shape
            .iter()
            .zip(&rev)
            .map(|(&n, &r)| match (r, n) {
                (true, 1..) => AxisSel::Range {
                    start: n - 1,
                    step: -1,
                    len: n,
                },
                _ => full_range(n),
            })
            .collect();
        Ok(self.select("flip", sel))
    }

    /// Elements shifted by `shift` along `axis`, those past the end coming back
    /// at the start (NumPy's `roll`; `None`: over the flattened array, reshaped
    /// back). The result is two slices joined, so its chunks are the input's
    /// with one more cut where the slices meet.
    ///
    /// ```
    /// use darray::DArray;
    /// let x = DArray::<i32>::arange(0.0, 5.0, 1.0, [2]).unwrap();
    /// let y = x.roll(2, Some(0)).unwrap().compute().unwrap();
    /// assert_eq!(y.into_iter().collect::<Vec<_>>(), vec![3, 4, 0, 1, 2]);
    /// ```
    ///
    /// # Errors
    /// An axis out of range.
    pub fn roll(&self, shift: isize, axis: Option<isize>) -> Result<DArray<T>> {
        match axis {
            Some(a) => self.roll_axes(&[shift], &[a]),
            None => {
                let shape: Vec<isize> = self
                    .expr
                    .shape
                    .iter()
                    .map(|&n| isize::try_from(n).expect("length fits isize"))
                    .collect();
                self.ravel()?.roll_axes(&[shift], &[0])?.reshape(&shape)
            }
        }
    }

    /// [`DArray::roll`] along several axes at once; shifts of a repeated axis
    /// add up, as in NumPy. One shift applies to every axis listed.
    ///
    /// # Errors
    /// An axis out of range, or `shifts` neither of length 1 nor of `axes`'s.
    pub fn roll_axes(&self, shifts: &[isize], axes: &[isize]) -> Result<DArray<T>> {
        if shifts.len() != axes.len() && shifts.len() != 1 {
            return Err(Error::InvalidArgument {
                array: self.expr.name.clone(),
                reason: format!("roll: {} shifts for {} axes", shifts.len(), axes.len()),
            });
        }
        let nd = self.ndim();
        let mut total = vec![0isize; nd];
        for (k, &a) in axes.iter().enumerate() {
            let a = normalize_axis(&self.expr.name, a, nd)?;
            let s = shifts[if shifts.len() == 1 { 0 } else { k }];
            let n = isize::try_from(self.expr.shape[a].max(1)).expect("length fits isize");
            total[a] = (total[a] + s.rem_euclid(n)).rem_euclid(n);
        }
        let mut cur = self.clone();
        for (ax, &s) in total.iter().enumerate() {
            let n = cur.expr.shape[ax];
            let s = usize::try_from(s).expect("reduced modulo the length");
            if s == 0 {
                continue;
            }
            let tail = cur.axis_range(ax, n - s, 1, s);
            let head = cur.axis_range(ax, 0, 1, n - s);
            cur = DArray::concatenate(&[&tail, &head], isize::try_from(ax).expect("fits"))?;
        }
        Ok(cur)
    }

    /// Rotated by 90 degrees `k` times in the plane of `axes`, from the first
    /// axis towards the second (NumPy's `rot90`).
    ///
    /// ```
    /// use darray::DArray;
    /// let x = DArray::<i32>::arange(0.0, 4.0, 1.0, [2]).unwrap().reshape(&[2, 2]).unwrap();
    /// let y = x.rot90(1, [0, 1]).unwrap().compute().unwrap();
    /// assert_eq!(y.into_iter().collect::<Vec<_>>(), vec![1, 3, 0, 2]);
    /// ```
    ///
    /// # Errors
    /// Axes out of range or equal.
    pub fn rot90(&self, k: isize, axes: [isize; 2]) -> Result<DArray<T>> {
        let nd = self.ndim();
        let a0 = normalize_axis(&self.expr.name, axes[0], nd)?;
        let a1 = normalize_axis(&self.expr.name, axes[1], nd)?;
        if a0 == a1 {
            return Err(Error::InvalidArgument {
                array: self.expr.name.clone(),
                reason: format!("rot90: axes {axes:?} are the same axis"),
            });
        }
        let (i0, i1) = (
            isize::try_from(a0).expect("fits"),
            isize::try_from(a1).expect("fits"),
        );
        let mut perm: Vec<usize> = (0..nd).collect();
        perm.swap(a0, a1);
        match k.rem_euclid(4) {
            0 => Ok(self.clone()),
            2 => self.flip(Some(&[i0, i1])),
            1 => self.flip(Some(&[i1]))?.permute_axes(&perm),
            _ => self.permute_axes(&perm)?.flip(Some(&[i1])),
        }
    }

    /// Padded by `widths[axis] = (before, after)` elements per axis (one pair:
    /// the same for every axis), filled as `mode` says (NumPy's `pad`; axes
    /// are padded in order, so corners come from the axes padded before, as in
    /// NumPy). Widths larger than the axis repeat the pattern for `reflect`,
    /// `symmetric` and `wrap`, as NumPy does; `reflect` of a length-1 axis
    /// repeats it (NumPy's legacy behaviour). The pad regions are cut like the
    /// input's largest chunk along the axis.
    ///
    /// ```
    /// use darray::{DArray, PadMode};
    /// let x = DArray::<i32>::arange(1.0, 4.0, 1.0, [2]).unwrap();
    /// let y = x.pad(&[(2, 2)], PadMode::Reflect).unwrap().compute().unwrap();
    /// assert_eq!(y.into_iter().collect::<Vec<_>>(), vec![3, 2, 1, 2, 3, 2, 1]);
    /// ```
    ///
    /// # Errors
    /// `widths` neither of length 1 nor one per axis, or a non-constant mode
    /// padding an empty axis (NumPy's "can't extend empty axis").
    pub fn pad(&self, widths: &[(usize, usize)], mode: PadMode<T>) -> Result<DArray<T>> {
        let nd = self.ndim();
        if widths.len() != nd && widths.len() != 1 {
            return Err(Error::InvalidArgument {
                array: self.expr.name.clone(),
                reason: format!("pad: {} width pairs for a {nd}-d array", widths.len()),
            });
        }
        let mut cur = self.clone();
        for ax in 0..nd {
            let (before, after) = widths[if widths.len() == 1 { 0 } else { ax }];
            if before == 0 && after == 0 {
                continue;
            }
            let n = cur.expr.shape[ax];
            if n == 0 && !matches!(mode, PadMode::Constant(_)) {
                return Err(Error::InvalidArgument {
                    array: self.expr.name.clone(),
                    reason: format!(
                        "pad: cannot extend empty axis {ax} with a mode other than constant"
                    ),
                });
            }
            let left = cur.pad_region(ax, before, mode, true)?;
            let right = cur.pad_region(ax, after, mode, false)?;
            let parts: Vec<&DArray<T>> = [left.as_ref(), Some(&cur), right.as_ref()]
                .into_iter()
                .flatten()
                .collect();
            cur = DArray::concatenate(&parts, isize::try_from(ax).expect("fits"))?;
        }
        Ok(cur)
    }

    /// The `w` elements padding axis `ax` before (`left`) or after the array.
    fn pad_region(
        &self,
        ax: usize,
        w: usize,
        mode: PadMode<T>,
        left: bool,
    ) -> Result<Option<DArray<T>>> {
        if w == 0 {
            return Ok(None);
        }
        let n = self.expr.shape[ax];
        let chunk = self.expr.grid[ax].iter().copied().max().unwrap_or(1).max(1);
        let mut shape = self.expr.shape.clone();
        shape[ax] = w;
        let mut grid: Grid = self.expr.grid.clone();
        grid[ax] = regular(w, chunk);
        let period = match mode {
            PadMode::Constant(v) => {
                return Ok(Some(DArray::wrap(Expr::new(
                    "pad",
                    shape,
                    grid,
                    T::DTYPE,
                    ExprKind::Full {
                        value: Scalar::of(v),
                    },
                ))))
            }
            _ if n == 1 => None,
            PadMode::Edge => None,
            PadMode::Reflect => Some(2 * (n - 1)),
            PadMode::Symmetric => Some(2 * n),
            PadMode::Wrap => Some(n),
        };
        let Some(p) = period else {
            let edge = self.axis_range(ax, if left { 0 } else { n - 1 }, 1, 1);
            return edge.broadcast_to_grid(&shape, grid).map(Some);
        };
        // Source index of each padded position, relative to the array's start.
        let source = |i: isize| -> usize {
            let p_i = isize::try_from(p).expect("fits");
            let n_i = isize::try_from(n).expect("fits");
            let j = i.rem_euclid(p_i);
            let j = match mode {
                PadMode::Reflect if j >= n_i => p_i - j,
                PadMode::Symmetric if j >= n_i => p_i - 1 - j,
                _ => j,
            };
            usize::try_from(j).expect("reduced into the axis")
        };
        let (w_i, n_i) = (
            isize::try_from(w).expect("fits"),
            isize::try_from(n).expect("fits"),
        );
        let positions: Box<dyn Iterator<Item = isize>> = if left {
            Box::new(-w_i..0)
        } else {
            Box::new(n_i..n_i + w_i)
        };
        // Runs of consecutive source indices (step +1 or -1): each one slice.
        let mut runs: Vec<(usize, isize, usize)> = Vec::new();
        for i in positions {
            let j = source(i);
            if let Some((start, step, len)) = runs.last_mut() {
                let last =
                    start.wrapping_add_signed(*step * isize::try_from(*len - 1).expect("fits"));
                let next = |s: isize| last.checked_add_signed(s) == Some(j);
                if *len == 1 && (next(1) || next(-1)) {
                    *step = if next(1) { 1 } else { -1 };
                    *len += 1;
                    continue;
                }
                if *len > 1 && next(*step) {
                    *len += 1;
                    continue;
                }
            }
            runs.push((j, 1, 1));
        }
        let pieces: Vec<DArray<T>> = runs
            .iter()
            .map(|&(start, step, len)| self.axis_range(ax, start, step, len))
            .collect();
        let refs: Vec<&DArray<T>> = pieces.iter().collect();
        let joined = DArray::concatenate(&refs, isize::try_from(ax).expect("fits"))?;
        // Many short runs (a small axis padded widely) would leave as many
        // small blocks: cut the region like the input instead.
        if runs.len() > 2 {
            return Ok(Some(DArray::wrap(rechunk_expr(&joined.expr, grid))));
        }
        Ok(Some(joined))
    }
}
