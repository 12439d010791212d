//! `map_blocks`: user kernels over the blocks of one or several arrays (the
//! registry itself lives in `crate::exec::kernels`, where kernels run). A kernel
//! is registered once by name (a function pointer plus its name); the graph refers
//! to it by name, so it stays plain data and any process with the same
//! registrations can run it.

use super::DArray;
use crate::error::{Error, Result};
pub use crate::exec::kernels::KernelFn;
use crate::exec::kernels::{insert, insert_full, insert_local, takes_params};
use crate::expr::grid::{self as chunks, ChunkSpec};
use crate::expr::node::{Expr, ExprKind};
pub use crate::graph::BlockInfo;
use darray_kernels::{Chunk, Element};
use ndarray::{Array1, ArrayD, ArrayView1, ArrayViewD, Axis};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::sync::Arc;

/// Registers a kernel over type-erased chunks.
///
/// # Errors
/// [`Error::KernelExists`] if the name is taken.
pub fn register_kernel_raw(
    name: &str,
    f: fn(&[&Chunk]) -> std::result::Result<Chunk, String>,
) -> Result<()> {
    insert(name, Arc::new(f))
}

/// Registers a kernel from blocks of `T` to a block of `U`, by name. Register
/// every kernel once at start-up, in every process that runs tasks.
///
/// ```
/// use darray::{register_kernel, DArray};
/// use ndarray::{Array1, ArrayD, ArrayView1, ArrayViewD, Axis};
/// fn double(x: &[ArrayViewD<f64>]) -> ArrayD<f64> { &x[0] * 2.0 }
/// register_kernel::<f64, f64>("doc-double", double).unwrap();
/// assert!(register_kernel::<f64, f64>("doc-double", double).is_err());
/// let x = DArray::<f64>::ones(&[5], [2]).unwrap();
/// let y = x.map_blocks::<f64>("doc-double").unwrap().compute().unwrap();
/// assert_eq!(y.sum(), 10.0);
/// ```
///
/// # Errors
/// [`Error::KernelExists`] if the name is taken.
pub fn register_kernel<T: Element, U: Element>(
    name: &str,
    f: fn(&[ArrayViewD<'_, T>]) -> ArrayD<U>,
) -> Result<()> {
    let wrapped = move |inputs: &[&Chunk]| -> std::result::Result<Chunk, String> {
        Ok(U::into_chunk(f(&views::<T>(inputs)?)))
    };
    insert(name, Arc::new(wrapped))
}

/// The input blocks as views of `T`, or which one is not.
fn views<'a, T: Element>(
    inputs: &'a [&Chunk],
) -> std::result::Result<Vec<ArrayViewD<'a, T>>, String> {
    inputs
        .iter()
        .enumerate()
        .map(|(i, c)| {
            T::view_chunk(c).ok_or_else(|| {
                format!("input {i}: expected {} data, got {:?}", T::DTYPE, c.dtype())
            })
        })
        .collect()
}

/// An array of any element type, as an input of [`map_blocks`].
#[derive(Clone, Debug)]
pub struct AnyArray(pub(crate) Arc<Expr>);

/// Any `DArray`, as an input of [`map_blocks`].
pub trait ArrayArg {
    /// The array with its element type erased.
    fn as_any(&self) -> AnyArray;
}

impl<T: Element> ArrayArg for DArray<T> {
    fn as_any(&self) -> AnyArray {
        AnyArray(self.expr.clone())
    }
}

/// Applies the kernel `name` to every block: block `i` of the output is the
/// kernel applied to block `i` of each input. Inputs must have the same shape
/// (their grids are unified). The output has the inputs' grid unless `chunks`
/// states another one with the same number of blocks per axis. See
/// [`map_blocks_with`] for parameters, dropped and new axes.
///
/// # Errors
/// An unregistered kernel, inputs of different shapes, or output chunks with a
/// different number of blocks.
pub fn map_blocks<U: Element>(
    name: &str,
    inputs: &[&dyn ArrayArg],
    chunks: Option<ChunkSpec>,
) -> Result<DArray<U>> {
    let opts = MapBlocksOptions {
        chunks,
        ..MapBlocksOptions::default()
    };
    map_blocks_with(name, inputs, &opts)
}

/// Options of [`map_blocks_with`]: dask's `map_blocks(..., chunks=,
/// drop_axis=, new_axis=)` and keyword arguments as one serializable value.
#[derive(Clone, Debug, Default)]
pub struct MapBlocksOptions {
    /// Output chunk sizes per axis (explicit sizes, or one size per axis),
    /// with as many blocks per axis as the inputs have (a new axis: one).
    pub chunks: Option<ChunkSpec>,
    /// Input axes the kernel removes (each is first rechunked to one block,
    /// so the kernel sees whole lanes along it: dask concatenates them).
    pub drop_axis: Vec<usize>,
    /// Positions in the output of axes the kernel adds (one block each, of
    /// size 1 unless `chunks` says otherwise).
    pub new_axis: Vec<usize>,
    /// Parameters, serialized (see [`MapBlocksOptions::params`]).
    pub params: Option<Arc<Vec<u8>>>,
}

impl MapBlocksOptions {
    /// Sets the output chunks.
    #[must_use]
    pub fn chunks(mut self, chunks: impl Into<ChunkSpec>) -> Self {
        self.chunks = Some(chunks.into());
        self
    }

    /// Sets the input axes the kernel drops.
    #[must_use]
    pub fn drop_axis(mut self, axes: impl IntoIterator<Item = usize>) -> Self {
        self.drop_axis = axes.into_iter().collect();
        self
    }

    /// Sets the output positions of the axes the kernel adds.
    #[must_use]
    pub fn new_axis(mut self, axes: impl IntoIterator<Item = usize>) -> Self {
        self.new_axis = axes.into_iter().collect();
        self
    }

    /// Sets the parameters given to a kernel registered with
    /// [`register_kernel_with`]: any serde value, serialized with postcard and
    /// sent with each task (so remote workers of the same binary get it).
    ///
    /// # Errors
    /// A value that does not serialize.
    pub fn params<P: Serialize>(mut self, params: &P) -> Result<Self> {
        let bytes = postcard::to_stdvec(params).map_err(|e| Error::InvalidArgument {
            array: "map_blocks".into(),
            reason: format!("parameters do not serialize: {e}"),
        })?;
        self.params = Some(Arc::new(bytes));
        Ok(self)
    }
}

/// Registers a kernel that takes parameters of type `P` and the location of
/// its output block ([`BlockInfo`], dask's `block_info`): called with the
/// input blocks, the parameters given to [`map_blocks_with`] through
/// [`MapBlocksOptions::params`] and the block's location. Register it once at
/// start-up in every process that runs tasks.
///
/// ```
/// use darray::{register_kernel_with, BlockInfo, DArray, MapBlocksOptions};
/// use ndarray::{Array1, ArrayD, ArrayView1, ArrayViewD, Axis};
/// // Scales a block and adds the block's first global row index.
/// fn scale(x: &[ArrayViewD<f64>], k: &f64, info: &BlockInfo) -> ArrayD<f64> {
///     x[0].mapv(|v| v * k + info.array_location[0].start as f64)
/// }
/// register_kernel_with::<f64, f64, f64>("doc-scale", scale).unwrap();
/// let x = DArray::<f64>::ones(&[4], [2]).unwrap();
/// let opts = MapBlocksOptions::default().params(&10.0).unwrap();
/// let y = x.map_blocks_with::<f64>("doc-scale", &opts).unwrap().compute().unwrap();
/// assert_eq!(y.into_raw_vec_and_offset().0, vec![10.0, 10.0, 12.0, 12.0]);
/// ```
///
/// # Errors
/// [`Error::KernelExists`] if the name is taken.
pub fn register_kernel_with<T: Element, U: Element, P: DeserializeOwned + 'static>(
    name: &str,
    f: fn(&[ArrayViewD<'_, T>], &P, &BlockInfo) -> ArrayD<U>,
) -> Result<()> {
    let wrapped = move |inputs: &[&Chunk],
                        params: &[u8],
                        info: &BlockInfo|
          -> std::result::Result<Chunk, String> {
        let views = views::<T>(inputs)?;
        let p: P = postcard::from_bytes(params).map_err(|e| {
            format!(
                "parameters do not deserialize as {}: {e}",
                std::any::type_name::<P>()
            )
        })?;
        Ok(U::into_chunk(f(&views, &p, info)))
    };
    insert_full(name, Arc::new(wrapped))
}

/// [`map_blocks`] with options: parameters for a kernel registered with
/// [`register_kernel_with`], axes the kernel drops (`drop_axis`, each first
/// rechunked to one block) or adds (`new_axis`), and output chunks.
///
/// ```
/// use darray::{register_kernel_with, BlockInfo, DArray, MapBlocksOptions};
/// use ndarray::{ArrayD, ArrayViewD, Axis};
/// // Sums each row of a block to a column of `pow`-th powers: drops axis 1.
/// fn row_powers(x: &[ArrayViewD<f64>], pow: &i32, _: &BlockInfo) -> ArrayD<f64> {
///     x[0].mapv(|v| v.powi(*pow)).sum_axis(Axis(1))
/// }
/// register_kernel_with::<f64, f64, i32>("doc-row-powers", row_powers).unwrap();
/// let x = DArray::<f64>::full(&[6, 4], 2.0, [4, 3]).unwrap();
/// let opts = MapBlocksOptions::default().drop_axis([1]).params(&3).unwrap();
/// let y = x.map_blocks_with::<f64>("doc-row-powers", &opts).unwrap();
/// assert_eq!(y.shape(), &[6]);
/// assert!(y.compute().unwrap().iter().all(|&v| v == 32.0));
/// ```
///
/// # Errors
/// An unregistered kernel; parameters for a kernel that takes none, or none
/// for one that does; inputs of different shapes; a dropped axis out of range
/// or repeated; new axes out of range or repeated; output chunks with another
/// number of axes or blocks per axis.
pub fn map_blocks_with<U: Element>(
    name: &str,
    inputs: &[&dyn ArrayArg],
    opts: &MapBlocksOptions,
) -> Result<DArray<U>> {
    let bad = |reason: String| Error::InvalidArgument {
        array: name.to_string(),
        reason,
    };
    let full = takes_params(name)?;
    match (full, opts.params.is_some()) {
        (true, false) => {
            return Err(bad(
                "the kernel takes parameters (register_kernel_with): set MapBlocksOptions::params"
                    .into(),
            ))
        }
        (false, true) => {
            return Err(bad(
                "parameters given for a kernel registered without them (use register_kernel_with)"
                    .into(),
            ))
        }
        _ => {}
    }
    if inputs.is_empty() {
        return Err(bad("map_blocks needs at least one input".into()));
    }
    let exprs: Vec<Arc<Expr>> = inputs.iter().map(|a| a.as_any().0).collect();
    let shape = exprs[0].shape.clone();
    let mut grid = exprs[0].grid.clone();
    for e in &exprs[1..] {
        if e.shape != shape {
            return Err(Error::Broadcast {
                left: shape.clone(),
                right: e.shape.clone(),
            });
        }
        for (g, other) in grid.iter_mut().zip(&e.grid) {
            *g = chunks::refine(g, other);
        }
    }
    let nd = shape.len();
    let mut dropped = vec![false; nd];
    for &a in &opts.drop_axis {
        if a >= nd || dropped[a] {
            return Err(bad(format!(
                "drop_axis {:?}: each axis once, below {nd}",
                opts.drop_axis
            )));
        }
        dropped[a] = true;
        // The kernel sees whole lanes along a dropped axis.
        grid[a] = if shape[a] == 0 {
            vec![0]
        } else {
            vec![shape[a]]
        };
    }
    let args: Vec<Arc<Expr>> = exprs
        .iter()
        .map(|e| crate::expr::select::rechunk_expr(e, grid.clone()))
        .collect();
    // The output axes: kept input axes in order, new axes at their positions.
    let out_nd = nd - opts.drop_axis.len() + opts.new_axis.len();
    let mut is_new = vec![false; out_nd];
    for &a in &opts.new_axis {
        if a >= out_nd || is_new[a] {
            return Err(bad(format!(
                "new_axis {:?}: each position once, below {out_nd}",
                opts.new_axis
            )));
        }
        is_new[a] = true;
    }
    let kept: Vec<usize> = (0..nd).filter(|&a| !dropped[a]).collect();
    let mut axis_map = vec![None; nd];
    let mut derived: chunks::Grid = Vec::with_capacity(out_nd);
    let mut next = kept.iter();
    for (o, &new) in is_new.iter().enumerate() {
        if new {
            derived.push(vec![1]);
        } else {
            let a = *next.next().expect("as many kept axes as old positions");
            axis_map[a] = Some(o);
            derived.push(grid[a].clone());
        }
    }
    let out_grid = match &opts.chunks {
        None => derived,
        Some(spec) => {
            let ChunkSpec::PerAxis(axes, _) = spec else {
                return Err(bad(
                    "map_blocks output chunks must be explicit sizes per axis".into(),
                ));
            };
            let g: chunks::Grid = axes
                .iter()
                .zip(&derived)
                .map(|(a, ing)| match a {
                    chunks::AxisChunks::Explicit(v) => v.clone(),
                    chunks::AxisChunks::Size(s) => vec![*s; ing.len()],
                    _ => ing.clone(),
                })
                .collect();
            if g.len() != derived.len() || g.iter().zip(&derived).any(|(a, b)| a.len() != b.len()) {
                return Err(Error::InvalidChunks {
                    array: name.to_string(),
                    shape,
                    reason: format!(
                        "output chunks {g:?} must have as many axes and blocks per axis as {derived:?}"
                    ),
                });
            }
            g
        }
    };
    let identity = opts.drop_axis.is_empty() && opts.new_axis.is_empty();
    Ok(DArray::wrap(Expr::new(
        name,
        out_grid.iter().map(|v| v.iter().sum()).collect(),
        out_grid,
        U::DTYPE,
        ExprKind::MapBlocks {
            kernel: name.to_string(),
            inputs: args,
            params: opts.params.clone(),
            axis_map: (!identity).then(|| Arc::new(axis_map)),
        },
    )))
}

impl<T: Element> DArray<T> {
    /// Applies the registered kernel `name` to every block of this array, keeping
    /// the grid. See [`map_blocks`] for several inputs or other output chunks.
    ///
    /// # Errors
    /// An unregistered kernel.
    pub fn map_blocks<U: Element>(&self, name: &str) -> Result<DArray<U>> {
        map_blocks::<U>(name, &[self], None)
    }

    /// [`map_blocks_local`] on this array alone, keeping the grid: the closure
    /// gets each block (and its location) and returns the output block. Local
    /// executors only.
    ///
    /// ```
    /// use darray::DArray;
    /// let scale = 3.0;
    /// let x = DArray::<f64>::ones(&[5], [2]).unwrap();
    /// let y = x.map_blocks_local::<f64>(move |b, _| b.mapv(|v| v * scale)).unwrap();
    /// assert_eq!(y.compute().unwrap().sum(), 15.0);
    /// ```
    ///
    /// # Errors
    /// As [`map_blocks_local`].
    pub fn map_blocks_local<U: Element>(
        &self,
        f: impl Fn(ArrayViewD<'_, T>, &BlockInfo) -> ArrayD<U> + Send + Sync + 'static,
    ) -> Result<DArray<U>> {
        map_blocks_local::<T, U>(&[self], &MapBlocksOptions::default(), move |b, info| {
            f(b[0].view(), info)
        })
    }

    /// [`map_blocks_with`] on this array alone.
    ///
    /// # Errors
    /// As [`map_blocks_with`].
    pub fn map_blocks_with<U: Element>(
        &self,
        name: &str,
        opts: &MapBlocksOptions,
    ) -> Result<DArray<U>> {
        map_blocks_with::<U>(name, &[self], opts)
    }
}

/// [`map_blocks_with`] of a closure instead of a registered kernel, for the
/// local executor: the closure may capture anything (parameters, a model, a
/// lookup table) and gets the input blocks and its output block's location.
/// It is registered in this process under a generated name, which the graph
/// carries (tasks stay data). A cluster's workers are other processes and do
/// not have it: computing the result on a [`Client`](crate::distributed::Client)
/// is [`Error::LocalOnlyKernel`] before anything is sent. Use
/// [`register_kernel_with`] for graphs that run on a cluster. Each call
/// registers one closure for the life of the process.
///
/// `opts` takes chunks, dropped and new axes as for [`map_blocks_with`];
/// parameters are refused (capture them instead).
///
/// ```
/// use darray::{map_blocks_local, DArray, MapBlocksOptions};
/// let offset = 0.5; // captured
/// let x = DArray::<f64>::ones(&[4, 2], [2, 2]).unwrap();
/// let y = map_blocks_local::<f64, f64>(&[&x], &MapBlocksOptions::default(), move |b, info| {
///     b[0].mapv(|v| v + offset + info.array_location[0].start as f64)
/// })
/// .unwrap();
/// let y = y.compute().unwrap();
/// assert_eq!([y[[0, 0]], y[[1, 0]], y[[2, 0]], y[[3, 1]]], [1.5, 1.5, 3.5, 3.5]);
/// ```
///
/// # Errors
/// Parameters in `opts`; otherwise as [`map_blocks_with`].
pub fn map_blocks_local<T: Element, U: Element>(
    inputs: &[&DArray<T>],
    opts: &MapBlocksOptions,
    f: impl Fn(&[ArrayViewD<'_, T>], &BlockInfo) -> ArrayD<U> + Send + Sync + 'static,
) -> Result<DArray<U>> {
    if opts.params.is_some() {
        return Err(Error::InvalidArgument {
            array: "map_blocks_local".into(),
            reason: "a closure takes no parameters: capture them in the closure".into(),
        });
    }
    let wrapped = move |inputs: &[&Chunk],
                        _: &[u8],
                        info: &BlockInfo|
          -> std::result::Result<Chunk, String> {
        Ok(U::into_chunk(f(&views::<T>(inputs)?, info)))
    };
    let name = insert_local(Arc::new(wrapped));
    let opts = MapBlocksOptions {
        params: Some(Arc::new(Vec::new())),
        ..opts.clone()
    };
    let inputs: Vec<&dyn ArrayArg> = inputs.iter().map(|&a| a as &dyn ArrayArg).collect();
    map_blocks_with(&name, &inputs, &opts)
}

/// Registers a function over 1-D lanes for [`DArray::apply_along_axis`]
/// (NumPy's `apply_along_axis` of a function returning a 1-D array): it is
/// called once per lane with the lane's elements (always contiguous) and must
/// return the same number of elements for every lane. Register it once at start-up in every
/// process that runs tasks.
///
/// ```
/// use darray::{register_lane_function, DArray};
/// use ndarray::{Array1, ArrayView1};
/// // Cumulative maximum of a lane.
/// fn running_max(x: ArrayView1<f64>) -> Array1<f64> {
///     let mut m = f64::NEG_INFINITY;
///     x.mapv(|v| { m = m.max(v); m })
/// }
/// register_lane_function::<f64, f64>("doc-running-max", running_max).unwrap();
/// let x = DArray::<f64>::from_ndarray(&ndarray::array![[1.0, 3.0, 2.0], [0.0, -1.0, 5.0]], [1, 2]).unwrap();
/// let y = x.apply_along_axis::<f64>("doc-running-max", 1, 3).unwrap().compute().unwrap();
/// assert_eq!(y, ndarray::array![[1.0, 3.0, 3.0], [0.0, 0.0, 5.0]].into_dyn());
/// ```
///
/// # Errors
/// [`Error::KernelExists`] if the name is taken.
pub fn register_lane_function<T: Element, U: Element>(
    name: &str,
    f: fn(ArrayView1<'_, T>) -> Array1<U>,
) -> Result<()> {
    let wrapped = move |inputs: &[&Chunk],
                        params: &[u8],
                        _: &BlockInfo|
          -> std::result::Result<Chunk, String> {
        let [x] = inputs else {
            return Err(format!("one input block expected, got {}", inputs.len()));
        };
        let x = T::view_chunk(x)
            .ok_or_else(|| format!("expected {} data, got {:?}", T::DTYPE, x.dtype()))?;
        let (axis, out_len): (usize, usize) = postcard::from_bytes(params)
            .map_err(|e| format!("lane parameters (axis, length) expected: {e}"))?;
        if axis >= x.ndim() {
            return Err(format!("axis {axis} of a {}-d block", x.ndim()));
        }
        let mut shape = x.shape().to_vec();
        shape[axis] = out_len;
        let mut out = ArrayD::from_elem(shape, U::from_f64(0.0));
        for (lane, mut dst) in x
            .lanes(Axis(axis))
            .into_iter()
            .zip(out.lanes_mut(Axis(axis)))
        {
            // Always a contiguous lane, so a function's result (a pairwise sum,
            // say) does not depend on the block's memory layout.
            let r = f(lane.as_standard_layout().view());
            if r.len() != out_len {
                return Err(format!(
                    "a lane gave {} elements, {out_len} expected",
                    r.len()
                ));
            }
            dst.assign(&r);
        }
        Ok(U::into_chunk(out))
    };
    insert_full(name, Arc::new(wrapped))
}

impl<T: Element> DArray<T> {
    /// Applies the lane function `name` (registered with
    /// [`register_lane_function`]) to every 1-D lane along `axis`; each lane
    /// becomes `out_len` elements (NumPy's `apply_along_axis` for functions
    /// returning 1-D arrays; a scalar function is `out_len = 1`, then
    /// `squeeze_axes`). The axis is first rechunked to one block (dask's
    /// `apply_along_axis` does the same), so one lane band must fit the
    /// memory budget; the other axes keep their chunks.
    ///
    /// # Errors
    /// An unregistered function or one registered otherwise, an axis out of
    /// range. A lane returning another length fails the computation, naming
    /// the function.
    pub fn apply_along_axis<U: Element>(
        &self,
        name: &str,
        axis: isize,
        out_len: usize,
    ) -> Result<DArray<U>> {
        let ax = super::normalize_axis(&self.expr.name, axis, self.ndim())?;
        let mut grid = self.expr.grid.clone();
        grid[ax] = vec![self.expr.shape[ax]];
        let whole = self.rechunk(ChunkSpec::from(grid.clone()))?;
        let mut out = grid;
        out[ax] = vec![out_len];
        let opts = MapBlocksOptions::default()
            .params(&(ax, out_len))?
            .chunks(ChunkSpec::from(out));
        whole.map_blocks_with::<U>(name, &opts)
    }
}
