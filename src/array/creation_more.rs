//! More creation functions: `*_like`, `empty`, diagonals, triangles, grids of
//! coordinates and arrays made block by block by a registered kernel. The
//! lowering of the new nodes is `crate::ops::create_more`.

use super::creation::resolve;
use super::DArray;
use crate::error::{Error, Result};
use crate::exec::kernels::{insert, lookup};
use crate::expr::grid::{self as chunks, ChunkSpec};
use crate::expr::node::{Expr, ExprKind};
use crate::ops::create_more::{DiagonalNode, FromDiagNode, FromFunctionNode, TriNode};
use darray_kernels::{Chunk, Element};
use ndarray::ArrayD;
use std::ops::Range;
use std::sync::Arc;

/// How [`DArray::meshgrid`] orders its output axes (NumPy's `indexing=`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Indexing {
    /// Cartesian (NumPy's default `"xy"`): the first two axes swapped, so for
    /// inputs of lengths `(m, n)` the outputs have shape `(n, m)`.
    Xy,
    /// Matrix (`"ij"`): output axis `i` runs along input `i`.
    Ij,
}

/// Registers `f` as a creation kernel for [`DArray::from_function`]: called
/// with each block's index ranges (one per axis, in global coordinates), it
/// returns the block (of exactly those lengths). Like [`crate::register_kernel`],
/// register it once at start-up in every process that runs tasks (a remote
/// worker of the same binary runs it by name). The name shares the namespace
/// of `map_blocks` kernels.
///
/// ```
/// use darray::{register_block_function, DArray};
/// use ndarray::{ArrayD, IxDyn};
/// use std::ops::Range;
/// fn product(r: &[Range<usize>]) -> ArrayD<i64> {
///     let shape: Vec<usize> = r.iter().map(|r| r.len()).collect();
///     ArrayD::from_shape_fn(IxDyn(&shape), |i| ((r[0].start + i[0]) * (r[1].start + i[1])) as i64)
/// }
/// register_block_function::<i64>("doc-product", product).unwrap();
/// let x = DArray::<i64>::from_function("doc-product", &[3, 4], [2, 3]).unwrap();
/// assert_eq!(x.compute().unwrap()[[2, 3]], 6);
/// ```
///
/// # Errors
/// [`Error::KernelExists`] if the name is taken.
pub fn register_block_function<T: Element>(
    name: &str,
    f: fn(&[Range<usize>]) -> ArrayD<T>,
) -> Result<()> {
    let wrapped = move |inputs: &[&Chunk]| -> std::result::Result<Chunk, String> {
        let bounds = match inputs {
            [Chunk::U64(b)] if b.ndim() == 2 && b.shape()[1] == 2 => b,
            _ => {
                return Err(
                    "a block function takes its block's index ranges (made by from_function), \
                     not array blocks"
                        .into(),
                )
            }
        };
        let ranges: Vec<Range<usize>> = bounds
            .outer_iter()
            .map(|r| {
                let lo = usize::try_from(r[0]).map_err(|e| e.to_string())?;
                let hi = usize::try_from(r[1]).map_err(|e| e.to_string())?;
                Ok(lo..hi)
            })
            .collect::<std::result::Result<_, String>>()?;
        Ok(T::into_chunk(f(&ranges)))
    };
    insert(name, Arc::new(wrapped))
}

impl<T: Element> DArray<T> {
    /// An array of `value` with this array's shape and chunks (NumPy's
    /// `full_like`; cast with `astype` for another dtype).
    pub fn full_like(&self, value: T) -> DArray<T> {
        DArray::full(&self.expr.shape, value, self.expr.grid.clone())
            .expect("the model's grid is valid for its shape")
    }

    /// Zeros (`false`) with this array's shape and chunks (NumPy's `zeros_like`).
    pub fn zeros_like(&self) -> DArray<T> {
        self.full_like(T::from_f64(0.0))
    }

    /// Ones (`true`) with this array's shape and chunks (NumPy's `ones_like`).
    pub fn ones_like(&self) -> DArray<T> {
        self.full_like(T::from_f64(1.0))
    }

    /// NumPy's `empty_like`. darray has no uninitialised memory to offer
    /// safely, so this is [`DArray::zeros_like`]; like a constant fill it costs
    /// nothing until used, and fuses into its consumers.
    pub fn empty_like(&self) -> DArray<T> {
        self.zeros_like()
    }

    /// NumPy's `empty`: zeros, as [`DArray::empty_like`] explains.
    ///
    /// # Errors
    /// An invalid chunk spec, or one over the grid limits (see [`DArray::from_zarr`]).
    pub fn empty(shape: &[usize], chunks: impl Into<ChunkSpec>) -> Result<Self> {
        Self::zeros(shape, chunks)
    }

    /// NumPy's `diag`: of a 1-d array of length `n`, the `(n + |k|)`-square
    /// matrix with it on diagonal `k` (above the main diagonal for `k > 0`);
    /// of a 2-d array, its diagonal `k` (see [`DArray::diagonal`]). For the
    /// matrix, both axes are cut like the input, with one extra block of `|k|`
    /// (the rows below or columns before the diagonal), so each block reads at
    /// most one run of the input; blocks off the diagonal read nothing.
    ///
    /// ```
    /// use darray::DArray;
    /// let v = DArray::<i32>::arange(1.0, 4.0, 1.0, [2]).unwrap();
    /// let m = v.diag(1).unwrap().compute().unwrap();
    /// assert_eq!(m.shape(), &[4, 4]);
    /// assert_eq!((m[[0, 1]], m[[2, 3]], m[[1, 1]]), (1, 3, 0));
    /// assert_eq!(v.diag(1).unwrap().diag(1).unwrap().compute().unwrap().len(), 3);
    /// ```
    ///
    /// # Errors
    /// An array that is not 1-d or 2-d, or a size that overflows.
    pub fn diag(&self, k: i64) -> Result<DArray<T>> {
        match self.ndim() {
            1 => {
                let n = self.expr.shape[0];
                let pad = usize::try_from(k.unsigned_abs()).ok();
                let size =
                    pad.and_then(|p| n.checked_add(p))
                        .ok_or_else(|| Error::InvalidArgument {
                            array: self.expr.name.clone(),
                            reason: format!("diag offset {k} is too large"),
                        })?;
                let pad = size - n;
                let mut rows = self.expr.grid[0].clone();
                if n == 0 {
                    rows.clear();
                }
                let mut cols = rows.clone();
                if pad > 0 {
                    // The diagonal runs from (0, k) for k > 0: columns start
                    // with the pad, rows end with it (and the reverse for k < 0).
                    if k > 0 {
                        rows.push(pad);
                        cols.insert(0, pad);
                    } else {
                        rows.insert(0, pad);
                        cols.push(pad);
                    }
                }
                if rows.is_empty() {
                    rows.push(0);
                    cols.push(0);
                }
                Ok(DArray::wrap(Expr::new(
                    "diag",
                    vec![size, size],
                    vec![rows, cols],
                    T::DTYPE,
                    ExprKind::Custom(Arc::new(FromDiagNode {
                        v: self.expr.clone(),
                        k,
                    })),
                )))
            }
            2 => self.diagonal(k, 0, 1),
            nd => Err(Error::InvalidArgument {
                array: self.expr.name.clone(),
                reason: format!("diag needs a 1-d or 2-d array, got {nd}-d"),
            }),
        }
    }

    /// NumPy's `diagonal(offset, axis1, axis2)`: the elements at
    /// `(i, i + offset)` of axes `axis1` and `axis2`; the result has the other
    /// axes in order (with their chunks) and the diagonal last. The diagonal
    /// is cut wherever either axis has a block boundary, so each output block
    /// is a copy out of one input block. Unlike NumPy, the result is a copy
    /// (darray has no views).
    ///
    /// ```
    /// use darray::DArray;
    /// let m = DArray::<i64>::from_ndarray(&ndarray::Array2::from_shape_fn((3, 4), |(i, j)| (10 * i + j) as i64), [2, 3]).unwrap();
    /// assert_eq!(m.diagonal(1, 0, 1).unwrap().compute().unwrap().into_raw_vec_and_offset().0, vec![1, 12, 23]);
    /// assert_eq!(m.diagonal(-1, 0, 1).unwrap().compute().unwrap().into_raw_vec_and_offset().0, vec![10, 21]);
    /// ```
    ///
    /// # Errors
    /// Fewer than 2 axes, an axis out of range, or `axis1 == axis2`.
    pub fn diagonal(&self, offset: i64, axis1: isize, axis2: isize) -> Result<DArray<T>> {
        let name = &self.expr.name;
        let nd = self.ndim();
        let a1 = super::normalize_axis(name, axis1, nd)?;
        let a2 = super::normalize_axis(name, axis2, nd)?;
        if a1 == a2 {
            return Err(Error::DuplicateAxis {
                array: name.clone(),
                axis: a1,
            });
        }
        let (n1, n2) = (self.expr.shape[a1], self.expr.shape[a2]);
        let skip = |k: i64| usize::try_from(k.unsigned_abs()).unwrap_or(usize::MAX);
        let first = if offset >= 0 {
            [0, skip(offset)]
        } else {
            [skip(offset), 0]
        };
        let len = n1.saturating_sub(first[0]).min(n2.saturating_sub(first[1]));
        // Boundaries of either axis, in diagonal coordinates, inside 0..len.
        let mut cuts = vec![0, len];
        for (axis, shift) in [(a1, first[0]), (a2, first[1])] {
            cuts.extend(
                chunks::offsets(&self.expr.grid[axis])
                    .into_iter()
                    .filter_map(|o| o.checked_sub(shift))
                    .filter(|&o| o < len),
            );
        }
        cuts.sort_unstable();
        cuts.dedup();
        let mut diag: Vec<usize> = cuts.windows(2).map(|w| w[1] - w[0]).collect();
        if diag.is_empty() {
            diag.push(0);
        }
        let mut shape = Vec::with_capacity(nd - 1);
        let mut grid = Vec::with_capacity(nd - 1);
        for d in (0..nd).filter(|&d| d != a1 && d != a2) {
            shape.push(self.expr.shape[d]);
            grid.push(self.expr.grid[d].clone());
        }
        shape.push(len);
        grid.push(diag);
        Ok(DArray::wrap(Expr::new(
            "diagonal",
            shape,
            grid,
            T::DTYPE,
            ExprKind::Custom(Arc::new(DiagonalNode {
                input: self.expr.clone(),
                axis1: a1,
                axis2: a2,
                first,
            })),
        )))
    }

    /// NumPy's `tril(k)`: zeros above diagonal `k` of the last two axes.
    /// Blocks wholly on or below the diagonal are the input's blocks as they
    /// are; blocks wholly above it are zeros made without reading the input.
    ///
    /// ```
    /// use darray::DArray;
    /// let x = DArray::<f64>::ones(&[3, 3], [2, 2]).unwrap();
    /// assert_eq!(x.tril(0).unwrap().compute().unwrap().sum(), 6.0);
    /// ```
    ///
    /// # Errors
    /// Fewer than 2 axes (NumPy broadcasts a 1-d input to a matrix; darray
    /// asks for the matrix).
    pub fn tril(&self, k: i64) -> Result<DArray<T>> {
        self.tri("tril", true, k)
    }

    /// NumPy's `triu(k)`: zeros below diagonal `k` of the last two axes; see
    /// [`DArray::tril`].
    ///
    /// # Errors
    /// Fewer than 2 axes.
    pub fn triu(&self, k: i64) -> Result<DArray<T>> {
        self.tri("triu", false, k)
    }

    fn tri(&self, name: &str, lower: bool, k: i64) -> Result<DArray<T>> {
        if self.ndim() < 2 {
            return Err(Error::InvalidArgument {
                array: self.expr.name.clone(),
                reason: format!("{name} needs at least 2 axes, got shape {:?}", self.shape()),
            });
        }
        Ok(DArray::wrap(Expr::new(
            name,
            self.expr.shape.clone(),
            self.expr.grid.clone(),
            T::DTYPE,
            ExprKind::Custom(Arc::new(TriNode {
                input: self.expr.clone(),
                lower,
                k,
            })),
        )))
    }

    /// NumPy's `meshgrid(*xs, indexing=...)` (with `sparse=False`): for 1-d
    /// inputs of lengths `n_0, .., n_{m-1}`, `m` arrays of shape `(n_0, ..)`
    /// (the first two swapped for [`Indexing::Xy`]), the `i`-th repeating
    /// input `i` along its axis. Each output axis is chunked like its input;
    /// nothing is copied until a block is computed.
    ///
    /// ```
    /// use darray::{DArray, Indexing};
    /// let x = DArray::<i32>::arange(0.0, 3.0, 1.0, [2]).unwrap();
    /// let y = DArray::<i32>::arange(10.0, 12.0, 1.0, [1]).unwrap();
    /// let g = DArray::meshgrid(&[&x, &y], Indexing::Xy).unwrap();
    /// let (gx, gy) = (g[0].compute().unwrap(), g[1].compute().unwrap());
    /// assert_eq!(gx.shape(), &[2, 3]);
    /// assert_eq!((gx[[1, 2]], gy[[1, 2]]), (2, 11));
    /// ```
    ///
    /// # Errors
    /// An input that is not 1-d (NumPy flattens it; reshape first).
    pub fn meshgrid(arrays: &[&DArray<T>], indexing: Indexing) -> Result<Vec<DArray<T>>> {
        let m = arrays.len();
        if let Some(a) = arrays.iter().find(|a| a.ndim() != 1) {
            return Err(Error::InvalidArgument {
                array: a.expr.name.clone(),
                reason: format!("meshgrid needs 1-d inputs, got shape {:?}", a.shape()),
            });
        }
        // Output axis of input i.
        let axis_of = |i: usize| match (indexing, i) {
            (Indexing::Xy, 0) if m > 1 => 1,
            (Indexing::Xy, 1) => 0,
            _ => i,
        };
        let mut shape = vec![0; m];
        let mut grid = vec![Vec::new(); m];
        for (i, a) in arrays.iter().enumerate() {
            shape[axis_of(i)] = a.expr.shape[0];
            grid[axis_of(i)] = a.expr.grid[0].clone();
        }
        arrays
            .iter()
            .enumerate()
            .map(|(i, a)| {
                let others: Vec<isize> = (0..m)
                    .filter(|&d| d != axis_of(i))
                    .map(|d| isize::try_from(d).expect("axis count fits isize"))
                    .collect();
                a.expand_dims(&others)?
                    .broadcast_to_grid(&shape, grid.clone())
            })
            .collect()
    }

    /// NumPy's `indices(shape)`: an array of shape `(ndim, *shape)` whose
    /// `[d, ...]` is the index along axis `d`. The leading axis is cut in
    /// blocks of one (as dask's); the others by `chunks`.
    ///
    /// ```
    /// use darray::DArray;
    /// let g = DArray::<i64>::indices(&[2, 3], [1, 2]).unwrap().compute().unwrap();
    /// assert_eq!(g.shape(), &[2, 2, 3]);
    /// assert_eq!((g[[0, 1, 2]], g[[1, 1, 2]]), (1, 2));
    /// ```
    ///
    /// # Errors
    /// An invalid chunk spec, or one over the grid limits (see [`DArray::from_zarr`]).
    pub fn indices(shape: &[usize], chunks: impl Into<ChunkSpec>) -> Result<DArray<T>> {
        let grid = resolve("indices", &chunks.into(), shape, T::DTYPE.size())?;
        if shape.is_empty() {
            return DArray::from_ndarray(&ArrayD::<T>::default(ndarray::IxDyn(&[0])), [1]);
        }
        #[allow(clippy::cast_precision_loss)]
        let ranges = shape
            .iter()
            .zip(&grid)
            .map(|(&n, g)| DArray::<T>::arange(0.0, n as f64, 1.0, vec![g.clone()]))
            .collect::<Result<Vec<_>>>()?;
        let refs: Vec<&DArray<T>> = ranges.iter().collect();
        let mesh = DArray::meshgrid(&refs, Indexing::Ij)?;
        DArray::stack(&mesh.iter().collect::<Vec<_>>(), 0)
    }

    /// NumPy's `fromfunction`, block by block: each block is the kernel
    /// registered as `kernel` with [`register_block_function`] called with
    /// that block's global index ranges. The graph names the kernel, so a
    /// cluster's workers (of the same binary, with the same registrations)
    /// run it too. Unlike NumPy, the function gets ranges, not coordinate
    /// arrays, and returns the whole block.
    ///
    /// # Errors
    /// An unregistered kernel, or an invalid chunk spec. A kernel returning a
    /// block of another shape fails when that block is computed.
    pub fn from_function(
        kernel: &str,
        shape: &[usize],
        chunks: impl Into<ChunkSpec>,
    ) -> Result<DArray<T>> {
        lookup(kernel)?;
        let grid = resolve(kernel, &chunks.into(), shape, T::DTYPE.size())?;
        Ok(DArray::wrap(Expr::new(
            kernel,
            shape.to_vec(),
            grid,
            T::DTYPE,
            ExprKind::Custom(Arc::new(FromFunctionNode {
                kernel: kernel.to_string(),
            })),
        )))
    }
}
