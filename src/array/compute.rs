//! Running arrays: `compute`, `to_zarr`, `persist`, and looking at the graph.

use super::DArray;
use crate::error::{Error, Result};
use crate::exec::{default_executor, Executor};
use crate::expr::grid::{self as chunks, block_indices, block_shape, GridOffsets};
use crate::expr::node::Expr;
use crate::graph::Graph;
use crate::ops;
use crate::store::{self, WriteOptions};
use darray_kernels::{Chunk, Element};
use ndarray::{ArrayD, Axis, IxDyn, Slice};
use std::path::Path;
use std::sync::Arc;

impl<T: Element> DArray<T> {
    /// The task graph computing every block of this array, as the default
    /// executor would run it (choices made against a memory budget use
    /// [`default_executor`]'s).
    ///
    /// One graph holds at most 2^22 (4,194,304) tasks: an array whose computation
    /// needs more (a reduction over 10^8 blocks, say) is refused while its graph is
    /// built, before memory is spent on its tasks. Use larger chunks, or compute a
    /// slice of it.
    ///
    /// # Errors
    /// [`Error::TooManyTasks`] for a graph over that limit.
    pub fn graph(&self) -> Result<Graph> {
        ops::lower(&[&self.expr], default_executor().memory_budget())
    }

    /// Number of tasks in [`DArray::graph`].
    ///
    /// # Errors
    /// As [`DArray::graph`].
    pub fn num_tasks(&self) -> Result<usize> {
        Ok(self.graph()?.len())
    }

    /// The task graph in Graphviz DOT.
    ///
    /// # Errors
    /// As [`DArray::graph`].
    pub fn to_dot(&self) -> Result<String> {
        Ok(self.graph()?.to_dot())
    }

    /// Computes the array on the default executor (all cores).
    ///
    /// ```
    /// use darray::DArray;
    /// let x = DArray::<i64>::arange(0.0, 5.0, 1.0, [2]).unwrap();
    /// assert_eq!(x.compute().unwrap().into_iter().collect::<Vec<_>>(), vec![0, 1, 2, 3, 4]);
    /// ```
    ///
    /// # Errors
    /// A result or a task over the memory budget (before anything runs; see
    /// [`DArray::compute_with`]), a graph over the task limit (see
    /// [`DArray::graph`]), or a failing task.
    pub fn compute(&self) -> Result<ArrayD<T>> {
        self.compute_with(default_executor())
    }

    /// Computes the array on `exec`.
    ///
    /// The result must fit in `exec`'s [`memory_budget`](Executor::memory_budget)
    /// while it is assembled: its blocks and the assembled array are held at once,
    /// so an array of more than one block needs twice its size. A larger result is
    /// refused before anything runs; write it with [`DArray::to_zarr`] instead.
    ///
    /// # Errors
    /// As [`DArray::compute`]; [`Error::ResultTooLarge`] for a result over the budget.
    pub fn compute_with(&self, exec: &dyn Executor) -> Result<ArrayD<T>> {
        super::many::compute_with(self, exec)
    }

    /// Computes a 0-d (or one-element) array and returns its value.
    ///
    /// # Errors
    /// As [`DArray::compute`], or an array with other than one element.
    pub fn compute_scalar(&self) -> Result<T> {
        let a = self.compute()?;
        if a.len() != 1 {
            return Err(Error::InvalidArgument {
                array: self.expr.name.clone(),
                reason: format!("compute_scalar on an array of shape {:?}", a.shape()),
            });
        }
        Ok(a.into_iter().next().expect("one element"))
    }

    /// Computes every block and keeps them in memory: the returned array reuses
    /// them instead of recomputing.
    ///
    /// # Errors
    /// As [`DArray::compute`].
    pub fn persist(&self) -> Result<DArray<T>> {
        self.persist_with(default_executor())
    }

    /// [`DArray::persist`] on `exec`. The blocks must fit in `exec`'s memory
    /// budget together.
    ///
    /// # Errors
    /// As [`DArray::compute`]; [`Error::ResultTooLarge`] if the blocks are over the
    /// budget.
    pub fn persist_with(&self, exec: &dyn Executor) -> Result<DArray<T>> {
        super::many::persist_with(self, exec)
    }

    /// Writes the array to a new Zarr store at `path`, one task per stored chunk
    /// (or shard), in parallel, never assembling the array. The store's grid is
    /// `opts.chunk_shape` if given, else this array's chunks (their first size per
    /// axis where the grid is irregular); the array is rechunked to it, so no two
    /// tasks write the same chunk or shard. The array appears at `path` only once
    /// every chunk is written: a failure leaves nothing there. `path` may be an
    /// object-store URL (see [`DArray::to_zarr_with_options`] for what is promised
    /// there).
    ///
    /// ```
    /// use darray::{DArray, WriteOptions};
    /// let dir = tempfile::tempdir().unwrap();
    /// let path = dir.path().join("x.zarr");
    /// let x = DArray::<f32>::ones(&[10, 10], [4, 5]).unwrap();
    /// x.to_zarr(&path, &WriteOptions::default()).unwrap();
    /// let y = DArray::<f32>::from_zarr(&path).unwrap();
    /// assert_eq!(y.chunks(), x.chunks());
    /// assert_eq!(y.sum().unwrap().compute_scalar().unwrap(), 100.0);
    /// ```
    ///
    /// # Errors
    /// An existing `path` without `opts.overwrite`, invalid options, or a failing task.
    pub fn to_zarr(&self, path: impl AsRef<Path>, opts: &WriteOptions) -> Result<()> {
        self.to_zarr_with(path, opts, default_executor())
    }

    /// [`DArray::to_zarr`] to the object store at `url` (`s3://`, `gs://`, `az://`),
    /// reached with `store` (see [`DArray::from_zarr_with`]); `to_zarr` itself takes
    /// such URLs with default options.
    ///
    /// An object store has no rename, so the write is ordered instead of staged:
    /// every chunk object is put at its final key by the one task that owns it, and
    /// the array's metadata object is put last, after all chunk tasks succeeded. A
    /// reader never sees metadata promising chunks not yet written, and a failed
    /// write leaves no new array (its chunk objects are removed) and an existing
    /// array's metadata untouched. No store offers an atomic multi-object commit:
    /// while an existing array is being replaced (and after such a write failed),
    /// readers of the old metadata may see some new chunks.
    ///
    /// # Errors
    /// As [`DArray::to_zarr`]; an `http(s)://` URL is read-only
    /// ([`StoreError::ReadOnly`](crate::store::StoreError::ReadOnly)).
    pub fn to_zarr_with_options(
        &self,
        url: &str,
        store: &crate::StoreOptions,
        opts: &WriteOptions,
    ) -> Result<()> {
        self.to_zarr(store.locate(url)?, opts)
    }

    /// [`DArray::to_zarr`] on `exec`.
    ///
    /// # Errors
    /// As [`DArray::to_zarr`].
    pub fn to_zarr_with(
        &self,
        path: impl AsRef<Path>,
        opts: &WriteOptions,
        exec: &dyn Executor,
    ) -> Result<()> {
        let path = path.as_ref();
        let grid = store_grid(&self.expr, opts)?;
        let arr = crate::expr::select::rechunk_expr(&self.expr, grid.clone());
        let write_grid: Vec<u64> = grid.iter().map(|g| g[0].max(1) as u64).collect();
        let shape: Vec<u64> = self.expr.shape.iter().map(|&s| s as u64).collect();
        let staging = store::create_staging(path, &shape, &write_grid, T::DTYPE, opts)?;
        let run = || -> Result<()> {
            let graph = ops::write::lower_write(
                &arr,
                &grid,
                &staging.display().to_string(),
                exec.memory_budget(),
            )?;
            exec.execute(&graph)?;
            Ok(())
        };
        match run() {
            Ok(()) => Ok(store::commit_staging(&staging, path, opts.overwrite)?),
            Err(e) => {
                store::abort_staging(&staging);
                Err(e)
            }
        }
    }
}

/// The store's grid for writing `e` with `opts`: `opts.chunk_shape` if given, else
/// `e`'s chunks (their first size per axis where the grid is irregular).
pub(super) fn store_grid(e: &Expr, opts: &WriteOptions) -> Result<chunks::Grid> {
    Ok(match &opts.chunk_shape {
        Some(cs) => {
            if cs.len() != e.shape.len() || cs.contains(&0) {
                return Err(Error::InvalidChunks {
                    array: e.name.clone(),
                    shape: e.shape.clone(),
                    reason: format!("Zarr chunk shape {cs:?}"),
                });
            }
            let shape: Vec<u64> = e.shape.iter().map(|&n| n as u64).collect();
            chunks::regular_grid(&e.name, &shape, cs, e.dtype.size())?
        }
        None if chunks::is_regular(&e.grid) => e.grid.clone(),
        None => e
            .shape
            .iter()
            .zip(&e.grid)
            .map(|(&n, g)| chunks::regular(n, g[0]))
            .collect(),
    })
}

/// The bytes of `e`'s result, and the bytes held while it is assembled: its
/// blocks and the whole array at once (a single block is moved, not copied).
pub(super) fn result_bytes(e: &Expr, item: usize) -> (u64, u64) {
    let bytes = e
        .shape
        .iter()
        .try_fold(item as u64, |acc, &n| acc.checked_mul(n as u64))
        .unwrap_or(u64::MAX);
    let single = chunks::numblocks(&e.grid).iter().all(|&n| n <= 1);
    let assembled = if single {
        bytes
    } else {
        bytes.saturating_mul(2)
    };
    (bytes, assembled)
}

/// Places computed blocks (C order of the grid) into one array.
pub(super) fn assemble<T: Element>(e: &Expr, blocks: Vec<Arc<Chunk>>) -> Result<ArrayD<T>> {
    let take = |idx: &[u32], c: Arc<Chunk>| -> Result<ArrayD<T>> {
        let c = Arc::try_unwrap(c).unwrap_or_else(|shared| (*shared).clone());
        let found = c.dtype();
        let a = T::from_chunk(c).ok_or_else(|| Error::BlockDType {
            array: e.name.clone(),
            block: idx.to_vec(),
            expected: T::DTYPE,
            found,
        })?;
        let bs = block_shape(&e.grid, idx);
        if a.shape() != bs.as_slice() {
            return Err(Error::BlockShape {
                array: e.name.clone(),
                block: idx.to_vec(),
                expected: bs,
                found: a.shape().to_vec(),
            });
        }
        Ok(a)
    };
    let indices = block_indices(&e.grid);
    if blocks.len() != indices.len() {
        return Err(Error::BlockCount {
            array: e.name.clone(),
            expected: indices.len(),
            found: blocks.len(),
        });
    }
    if blocks.len() == 1 {
        return take(&indices[0], blocks.into_iter().next().expect("one block"));
    }
    let mut out = ArrayD::<T>::default(IxDyn(&e.shape));
    let offs = GridOffsets::new(&e.grid);
    for (idx, c) in indices.into_iter().zip(blocks) {
        let a = take(&idx, c)?;
        let off = offs.block(&idx);
        let mut v = out.view_mut();
        for (ax, &n) in a.shape().iter().enumerate() {
            v.slice_axis_inplace(Axis(ax), Slice::from(off[ax]..off[ax] + n));
        }
        v.assign(&a);
    }
    Ok(out)
}
