//! Creating arrays: from Zarr, from ndarray, filled, ranges, identity, random.

use super::DArray;
use crate::error::{Error, Result};
use crate::expr::grid::{self as chunks, ChunkSpec};
use crate::expr::node::{Expr, ExprKind};
use crate::store;
use darray_kernels::{Distribution, Element, Scalar};
use ndarray::{ArrayBase, Data, Dimension, Slice};
use std::path::Path;
use std::sync::Arc;

impl<T: Element> DArray<T> {
    /// Opens the Zarr array (v2 or v3) at `path`, chunked like the store (its
    /// chunk grid, or shard grid for sharded arrays). Reads only metadata.
    ///
    /// `path` may be a URL: `s3://bucket/key`, `gs://`, `az://`/`abfs://`,
    /// `http(s)://` (read-only) or `file://`; see [`DArray::from_zarr_with`] for
    /// options and credentials. A chunk object that is missing reads as the fill
    /// value, as on disk.
    ///
    /// The grid is limited to [`MAX_AXIS_BLOCKS`](chunks::MAX_AXIS_BLOCKS) (2^24)
    /// blocks along one axis and [`MAX_GRID_BLOCKS`](chunks::MAX_GRID_BLOCKS) (2^32)
    /// in all: darray lists every block's size per axis, also for a regular grid, so a
    /// store whose metadata declares more (say a shape of 10^15 x 10^6 in chunks of
    /// 64 x 50) is refused before that list is made. Open such a store with larger
    /// blocks through [`DArray::from_zarr_with_chunks`].
    ///
    /// # Errors
    /// A missing store, unreadable metadata, an unsupported dtype, or a stored
    /// dtype other than `T`; [`Error::TooManyBlocks`] (naming the path, shape,
    /// chunk shape and limit) for a grid over the limits above.
    pub fn from_zarr(path: impl AsRef<Path>) -> Result<Self> {
        let info = store::plan_info(path.as_ref())?;
        // The location the store opened, which may differ from the one given (a
        // group member whose group has no consolidated metadata, see `store`).
        let path = info.path.as_path();
        let grid = chunks::regular_grid(
            &path.display().to_string(),
            &info.shape,
            &info.chunk_shape,
            info.dtype.size(),
        )?;
        let shape = to_usize(path, &info.shape)?;
        Self::zarr_expr(path, &info, shape, grid)
    }

    /// Opens the Zarr array at `url` in an object store or on an HTTP server, reached
    /// with `opts` (endpoint, region, anonymous access, ...), chunked like the
    /// store. [`DArray::from_zarr`] takes URLs too (`s3://bucket/a.zarr`, `gs://`,
    /// `az://`, `abfs://`, `http(s)://`, `file://`), with default options.
    ///
    /// Credentials are not options: each process that reads (this one, each
    /// distributed worker) takes its own from its environment, as the cloud's own
    /// tools do (`AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`, web identity and
    /// instance metadata for S3; `GOOGLE_APPLICATION_CREDENTIALS` for GCS;
    /// `AZURE_STORAGE_ACCOUNT_NAME`/`AZURE_STORAGE_ACCOUNT_KEY` for Azure). The task
    /// graph carries the URL and `opts` only. Unlike fsspec, `~/.aws` profile files
    /// are not read.
    ///
    /// ```no_run
    /// use darray::{DArray, StoreOptions};
    /// let opts = StoreOptions {
    ///     endpoint: Some("http://127.0.0.1:9000".into()),
    ///     allow_http: true,
    ///     path_style: true,
    ///     ..StoreOptions::default()
    /// };
    /// let x = DArray::<f32>::from_zarr_with("s3://bucket/x.zarr", &opts).unwrap();
    /// ```
    ///
    /// # Errors
    /// As [`DArray::from_zarr`]; an unsupported scheme or an unparsable URL names the
    /// URL; a refused request (credentials, permissions, a missing bucket) is an error
    /// naming the URL, never read as fill values.
    pub fn from_zarr_with(url: &str, opts: &store::StoreOptions) -> Result<Self> {
        Self::from_zarr(opts.locate(url)?)
    }

    /// Opens the Zarr array at `path` with a chunking of your choice (blocks then
    /// read the regions they cover, whatever the store's grid).
    ///
    /// # Errors
    /// As [`DArray::from_zarr`], and an invalid chunk spec (or one over the grid
    /// limits of [`DArray::from_zarr`]).
    pub fn from_zarr_with_chunks(
        path: impl AsRef<Path>,
        chunks: impl Into<ChunkSpec>,
    ) -> Result<Self> {
        let path = path.as_ref();
        let info = store::plan_info(path)?;
        let shape = to_usize(path, &info.shape)?;
        let grid = resolve(
            &path.display().to_string(),
            &chunks.into(),
            &shape,
            T::DTYPE.size(),
        )?;
        Self::zarr_expr(path, &info, shape, grid)
    }

    fn zarr_expr(
        path: &Path,
        info: &store::ZarrArrayInfo,
        shape: Vec<usize>,
        grid: chunks::Grid,
    ) -> Result<Self> {
        if info.dtype != T::DTYPE {
            return Err(Error::DTypeMismatch {
                array: path.display().to_string(),
                expected: T::DTYPE,
                found: info.dtype,
            });
        }
        let text = path.to_string_lossy();
        let name = if text.contains("://") {
            // A URL's last path segment, without the options fragment.
            let base = text.split('#').next().unwrap_or("").trim_end_matches('/');
            base.rsplit('/')
                .next()
                .filter(|n| !n.is_empty() && !n.contains(':'))
                .unwrap_or("zarr")
                .to_string()
        } else {
            path.file_name()
                .map_or_else(|| "zarr".to_string(), |n| n.to_string_lossy().into_owned())
        };
        Ok(DArray::wrap(Expr::new(
            name,
            shape,
            grid,
            T::DTYPE,
            ExprKind::Zarr {
                path: path.to_path_buf(),
            },
        )))
    }

    /// A chunked copy of an in-memory array.
    ///
    /// ```
    /// use darray::DArray;
    /// let a = ndarray::Array2::<f64>::ones((5, 4));
    /// let x = DArray::from_ndarray(&a, [2, 4]).unwrap();
    /// assert_eq!(x.chunks(), &vec![vec![2, 2, 1], vec![4]]);
    /// ```
    ///
    /// # Errors
    /// An invalid chunk spec, or one over the grid limits (see [`DArray::from_zarr`]).
    pub fn from_ndarray<S, D>(a: &ArrayBase<S, D>, chunks: impl Into<ChunkSpec>) -> Result<Self>
    where
        S: Data<Elem = T>,
        D: Dimension,
    {
        let a = a.view().into_dyn();
        let shape = a.shape().to_vec();
        let grid = resolve("from_ndarray", &chunks.into(), &shape, T::DTYPE.size())?;
        let offs = chunks::GridOffsets::new(&grid);
        let blocks: Vec<_> = chunks::block_indices(&grid)
            .into_iter()
            .map(|idx| {
                let off = offs.block(&idx);
                let bs = chunks::block_shape(&grid, &idx);
                let mut v = a.view();
                for ax in 0..shape.len() {
                    v.slice_axis_inplace(ndarray::Axis(ax), Slice::from(off[ax]..off[ax] + bs[ax]));
                }
                Arc::new(T::into_chunk(v.as_standard_layout().into_owned()))
            })
            .collect();
        Ok(DArray::wrap(Expr::new(
            "array",
            shape,
            grid,
            T::DTYPE,
            ExprKind::Literal {
                blocks: Arc::new(blocks),
            },
        )))
    }

    /// An array of `shape` filled with `value`.
    ///
    /// # Errors
    /// An invalid chunk spec, or one over the grid limits (see [`DArray::from_zarr`]).
    pub fn full(shape: &[usize], value: T, chunks: impl Into<ChunkSpec>) -> Result<Self> {
        let grid = resolve("full", &chunks.into(), shape, T::DTYPE.size())?;
        Ok(DArray::wrap(Expr::new(
            "full",
            shape.to_vec(),
            grid,
            T::DTYPE,
            ExprKind::Full {
                value: Scalar::of(value),
            },
        )))
    }

    /// An array of zeros (`false` for bool).
    ///
    /// # Errors
    /// An invalid chunk spec, or one over the grid limits (see [`DArray::from_zarr`]).
    pub fn zeros(shape: &[usize], chunks: impl Into<ChunkSpec>) -> Result<Self> {
        Self::full(shape, T::from_f64(0.0), chunks)
    }

    /// An array of ones (`true` for bool).
    ///
    /// # Errors
    /// An invalid chunk spec, or one over the grid limits (see [`DArray::from_zarr`]).
    pub fn ones(shape: &[usize], chunks: impl Into<ChunkSpec>) -> Result<Self> {
        Self::full(shape, T::from_f64(1.0), chunks)
    }

    /// Values `start, start + step, ...` below `stop` (above, for a negative
    /// step), computed as `start + i * step` in `f64` and converted to `T`.
    ///
    /// # Errors
    /// A zero or non-finite step, or an invalid chunk spec (see [`DArray::from_zarr`] for the grid limits).
    pub fn arange(start: f64, stop: f64, step: f64, chunks: impl Into<ChunkSpec>) -> Result<Self> {
        if step == 0.0 || !step.is_finite() || !start.is_finite() || !stop.is_finite() {
            return Err(Error::InvalidArgument {
                array: "arange".into(),
                reason: format!("arange({start}, {stop}, {step}): step must be finite and non-zero, bounds finite"),
            });
        }
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let n = ((stop - start) / step).ceil().max(0.0) as usize;
        Self::range_expr("arange", n, start, step, chunks.into())
    }

    /// `num` evenly spaced values from `start` to `stop` (included if `endpoint`).
    ///
    /// # Errors
    /// An invalid chunk spec, or one over the grid limits (see [`DArray::from_zarr`]).
    pub fn linspace(
        start: f64,
        stop: f64,
        num: usize,
        endpoint: bool,
        chunks: impl Into<ChunkSpec>,
    ) -> Result<Self> {
        let div = if endpoint { num.saturating_sub(1) } else { num };
        #[allow(clippy::cast_precision_loss)]
        let step = if div == 0 {
            0.0
        } else {
            (stop - start) / div as f64
        };
        Self::range_expr("linspace", num, start, step, chunks.into())
    }

    fn range_expr(name: &str, n: usize, start: f64, step: f64, spec: ChunkSpec) -> Result<Self> {
        let grid = resolve(name, &spec, &[n], T::DTYPE.size())?;
        Ok(DArray::wrap(Expr::new(
            name,
            vec![n],
            grid,
            T::DTYPE,
            ExprKind::Arange { start, step },
        )))
    }

    /// An `n x m` array with ones on the `k`-th diagonal (NumPy's `eye`).
    ///
    /// # Errors
    /// An invalid chunk spec, or one over the grid limits (see [`DArray::from_zarr`]).
    pub fn eye(n: usize, m: usize, k: i64, chunks: impl Into<ChunkSpec>) -> Result<Self> {
        let grid = resolve("eye", &chunks.into(), &[n, m], T::DTYPE.size())?;
        Ok(DArray::wrap(Expr::new(
            "eye",
            vec![n, m],
            grid,
            T::DTYPE,
            ExprKind::Eye { k },
        )))
    }
}

impl<T: Element + num_traits::Float> DArray<T> {
    /// Uniform random values on `[low, high)`. The value at each position depends
    /// only on `seed` and the position, never on the chunking.
    ///
    /// ```
    /// use darray::DArray;
    /// let a = DArray::<f64>::random_uniform(7, &[100], 0.0, 1.0, [7]).unwrap().compute().unwrap();
    /// let b = DArray::<f64>::random_uniform(7, &[100], 0.0, 1.0, [50]).unwrap().compute().unwrap();
    /// assert_eq!(a, b);
    /// ```
    ///
    /// # Errors
    /// `low >= high` or non-finite bounds, or an invalid chunk spec (see [`DArray::from_zarr`] for the grid limits).
    pub fn random_uniform(
        seed: u64,
        shape: &[usize],
        low: f64,
        high: f64,
        chunks: impl Into<ChunkSpec>,
    ) -> Result<Self> {
        if !low.is_finite() || !high.is_finite() || low >= high {
            return Err(Error::InvalidArgument {
                array: "random_uniform".into(),
                reason: format!("need finite low < high, got [{low}, {high})"),
            });
        }
        Self::random_expr(
            "uniform",
            seed,
            shape,
            Distribution::Uniform { low, high },
            chunks.into(),
        )
    }

    /// Normal random values. Chunking-independent, like [`DArray::random_uniform`].
    ///
    /// # Errors
    /// A negative or non-finite `std`, or an invalid chunk spec (see [`DArray::from_zarr`] for the grid limits).
    pub fn random_normal(
        seed: u64,
        shape: &[usize],
        mean: f64,
        std: f64,
        chunks: impl Into<ChunkSpec>,
    ) -> Result<Self> {
        if !std.is_finite() || !mean.is_finite() || std < 0.0 {
            return Err(Error::InvalidArgument {
                array: "random_normal".into(),
                reason: format!("need finite mean and std >= 0, got mean {mean}, std {std}"),
            });
        }
        Self::random_expr(
            "normal",
            seed,
            shape,
            Distribution::Normal { mean, std },
            chunks.into(),
        )
    }

    fn random_expr(
        name: &str,
        seed: u64,
        shape: &[usize],
        dist: Distribution,
        spec: ChunkSpec,
    ) -> Result<Self> {
        let grid = resolve(name, &spec, shape, T::DTYPE.size())?;
        Ok(DArray::wrap(Expr::new(
            name,
            shape.to_vec(),
            grid,
            T::DTYPE,
            ExprKind::Random { dist, seed },
        )))
    }
}

/// Resolves a chunk spec, naming the array in the error.
pub(crate) fn resolve(
    name: &str,
    spec: &ChunkSpec,
    shape: &[usize],
    itemsize: usize,
) -> Result<chunks::Grid> {
    spec.resolve(shape, itemsize).map_err(|e| match e {
        Error::InvalidChunks { shape, reason, .. } => Error::InvalidChunks {
            array: name.to_string(),
            shape,
            reason,
        },
        Error::TooManyBlocks {
            shape,
            chunk_shape,
            blocks,
            reason,
            ..
        } => Error::TooManyBlocks {
            array: name.to_string(),
            shape,
            chunk_shape,
            blocks,
            reason,
        },
        other => other,
    })
}

/// A stored shape as `usize` (only a 32-bit target can fail this).
fn to_usize(path: &Path, v: &[u64]) -> Result<Vec<usize>> {
    v.iter()
        .map(|&x| {
            usize::try_from(x).map_err(|_| Error::InvalidArgument {
                array: path.display().to_string(),
                reason: format!("dimension {x} of shape {v:?} does not fit in usize"),
            })
        })
        .collect()
}
