//! Sorting along an axis: `sort` and `argsort` (the axis in one block), and
//! `topk` / `argtopk` (dask's: the `k` largest, or `-k` smallest, along an axis
//! of any chunking).

use super::{normalize_axis, DArray};
use crate::error::{Error, Result};
use crate::expr::node::{Expr, ExprKind};
use crate::expr::select::rechunk_expr;
use darray_kernels::sort::SortKind;
use darray_kernels::Element;
use std::sync::Arc;

impl<T: Element> DArray<T> {
    fn sort_node<U: Element>(
        &self,
        what: &str,
        axis: usize,
        kind: SortKind,
        grid_axis: Vec<usize>,
        input: Arc<Expr>,
    ) -> DArray<U> {
        let mut grid = input.grid.clone();
        grid[axis] = grid_axis;
        let mut shape = input.shape.clone();
        shape[axis] = grid[axis].iter().sum();
        DArray::wrap(Expr::new(
            format!("{what}-{}", self.expr.name),
            shape,
            grid,
            U::DTYPE,
            ExprKind::Sort { input, axis, kind },
        ))
    }

    fn one_block(&self, what: &str, axis: usize) -> Result<()> {
        let n = self.expr.grid[axis].len();
        if n == 1 {
            return Ok(());
        }
        Err(Error::InvalidArgument {
            array: self.expr.name.clone(),
            reason: format!(
                "{what} along axis {axis} needs that axis in one block, it has {n}: \
                 rechunk it first (e.g. rechunk with the axis's full length)"
            ),
        })
    }

    /// The array sorted along `axis` (NumPy's `sort`; stable, NaN last). The
    /// axis must be one block (dask has no sort; its `topk` is below).
    ///
    /// ```
    /// use darray::DArray;
    /// let x = DArray::<f64>::from_ndarray(&ndarray::array![[3.0, 1.0, 2.0], [0.0, -1.0, 5.0]], [1, 3]).unwrap();
    /// let s = x.sort(1).unwrap().compute().unwrap();
    /// assert_eq!(s, ndarray::array![[1.0, 2.0, 3.0], [-1.0, 0.0, 5.0]].into_dyn());
    /// ```
    ///
    /// # Errors
    /// An axis out of range, or an axis of several blocks (the message says
    /// how to rechunk).
    pub fn sort(&self, axis: isize) -> Result<DArray<T>> {
        let ax = normalize_axis(&self.expr.name, axis, self.ndim())?;
        self.one_block("sort", ax)?;
        Ok(self.sort_node(
            "sort",
            ax,
            SortKind::Sort,
            self.expr.grid[ax].clone(),
            self.expr.clone(),
        ))
    }

    /// The positions (i64) that sort each lane along `axis` (NumPy's `argsort`
    /// with `kind="stable"`; NaN last).
    ///
    /// # Errors
    /// As [`DArray::sort`].
    pub fn argsort(&self, axis: isize) -> Result<DArray<i64>> {
        let ax = normalize_axis(&self.expr.name, axis, self.ndim())?;
        self.one_block("argsort", ax)?;
        Ok(self.sort_node(
            "argsort",
            ax,
            SortKind::ArgSort,
            self.expr.grid[ax].clone(),
            self.expr.clone(),
        ))
    }

    fn check_k(&self, what: &str, k: i64, ax: usize) -> Result<usize> {
        let n = self.expr.shape[ax];
        let m = usize::try_from(k.unsigned_abs()).unwrap_or(usize::MAX);
        if m == 0 || m > n {
            return Err(Error::InvalidArgument {
                array: self.expr.name.clone(),
                reason: format!(
                    "{what}: k = {k} along axis {ax} of length {n} (need 1 <= |k| <= {n})"
                ),
            });
        }
        Ok(m)
    }

    /// The `k` largest elements along `axis`, largest first (`k > 0`), or the
    /// `-k` smallest, smallest first (`k < 0`): dask's `topk`. Any chunking:
    /// each block keeps its own top `|k|`, then those are merged in one block.
    /// NaN counts as the largest (NumPy's sort order).
    ///
    /// ```
    /// use darray::DArray;
    /// let x = DArray::<f64>::from_ndarray(&ndarray::array![5.0, 1.0, 9.0, 3.0, 7.0], [2]).unwrap();
    /// assert_eq!(x.topk(2, 0).unwrap().compute().unwrap().into_raw_vec_and_offset().0, vec![9.0, 7.0]);
    /// assert_eq!(x.topk(-2, 0).unwrap().compute().unwrap().into_raw_vec_and_offset().0, vec![1.0, 3.0]);
    /// ```
    ///
    /// # Errors
    /// An axis out of range, or `k` of 0 or longer than the axis.
    pub fn topk(&self, k: i64, axis: isize) -> Result<DArray<T>> {
        let ax = normalize_axis(&self.expr.name, axis, self.ndim())?;
        let m = self.check_k("topk", k, ax)?;
        let sizes: Vec<usize> = self.expr.grid[ax].iter().map(|&n| n.min(m)).collect();
        let first: DArray<T> = self.sort_node(
            "topk-block",
            ax,
            SortKind::TopK(k),
            sizes.clone(),
            self.expr.clone(),
        );
        let mut one = first.expr.grid.clone();
        one[ax] = vec![sizes.iter().sum()];
        let merged = rechunk_expr(&first.expr, one);
        Ok(self.sort_node("topk", ax, SortKind::TopK(k), vec![m], merged))
    }

    /// The positions (i64) of [`DArray::topk`]'s elements along `axis`. The
    /// axis is rechunked into one block first (its lanes are held whole).
    ///
    /// # Errors
    /// As [`DArray::topk`].
    pub fn argtopk(&self, k: i64, axis: isize) -> Result<DArray<i64>> {
        let ax = normalize_axis(&self.expr.name, axis, self.ndim())?;
        let m = self.check_k("argtopk", k, ax)?;
        let mut one = self.expr.grid.clone();
        one[ax] = vec![self.expr.shape[ax]];
        let whole = rechunk_expr(&self.expr, one);
        Ok(self.sort_node("argtopk", ax, SortKind::ArgTopK(k, 0), vec![m], whole))
    }
}
