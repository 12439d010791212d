//! [`StoreCache`]: opened arrays shared by executor threads, chunk reads and writes,
//! and the counters that tests and progress reports use.

use super::direct::{self, RawElement};
use super::open::{open_array, OpenArray};
use super::{StoreError, ZarrArrayInfo};
use darray_kernels::{dispatch_dtype, map_chunk, Chunk, DType, Element};
use ndarray::{ArrayD, IxDyn};
use parking_lot::{Mutex, RwLock};
use std::collections::HashMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use zarrs::array::{ArrayError, ArraySubset, CodecOptions, ElementOwned};

/// Arrays opened by the planner ([`super::plan_info`]), for the executions
/// that read them: each reads with the metadata its graph was planned with,
/// without a request of its own. An entry is replaced by the next planning of
/// its path and dropped when this process writes there; at most
/// [`HANDED_OFF`], the oldest dropped first (then executions open the array
/// themselves, as before).
static HANDOFF: Mutex<Vec<Arc<OpenArray>>> = Mutex::new(Vec::new());

/// Most arrays kept in [`HANDOFF`].
const HANDED_OFF: usize = 64;

pub(super) fn hand_off(a: Arc<OpenArray>) {
    let mut h = HANDOFF.lock();
    h.retain(|b| b.info.path != a.info.path);
    if h.len() >= HANDED_OFF {
        h.remove(0);
    }
    h.push(a);
}

fn handed_off(path: &Path) -> Option<Arc<OpenArray>> {
    HANDOFF.lock().iter().find(|a| a.info.path == path).cloned()
}

/// Forgets the hand-offs at and under `path` (an array or a group this
/// process writes).
pub(crate) fn forget_handed_off(path: &Path) {
    HANDOFF.lock().retain(|a| !a.info.path.starts_with(path));
}

/// Codec options for every encode and decode of this module.
///
/// The executor already runs one chunk per rayon worker. zarrs' defaults would let a
/// single call fan out again (`concurrent_target` = all rayon threads: inner chunks of a
/// shard, and at least `chunk_concurrent_minimum` = 4 chunks of a multi-chunk region,
/// decoded in parallel), oversubscribing the pool and making one task's memory grow
/// with the thread count. A target and minimum of 1 make zarrs decode and encode
/// sequentially inside the calling thread (its `iter_concurrent_limit!` runs a plain
/// iterator for a limit of 1). Blosc in zarrs 0.23 is single-threaded regardless.
pub(super) fn codec_options() -> CodecOptions {
    CodecOptions::default()
        .with_concurrent_target(1)
        .with_chunk_concurrent_minimum(1)
}

/// Shared, thread-safe (`Send + Sync`) cache of opened arrays, used by executor
/// threads during one computation. It also counts chunk reads and writes.
///
/// Arrays are opened on first use and their metadata kept for the cache's lifetime:
/// make a new cache per computation, or call [`StoreCache::forget`] after an array's
/// metadata changed (e.g. after [`commit_staging`](super::commit_staging) replaced it).
#[derive(Default)]
pub struct StoreCache {
    arrays: RwLock<HashMap<PathBuf, Arc<OpenArray>>>,
    /// Arrays opened with a shape other than their stored one (see `region.rs`).
    pub(super) resized: RwLock<HashMap<Resized, Arc<OpenArray>>>,
    regions_read: AtomicU64,
    chunks_read: AtomicU64,
    bytes_read: AtomicU64,
    chunks_written: AtomicU64,
    bytes_written: AtomicU64,
    /// Chunk buffers given back by [`recycle`](Self::recycle), reused by whole-chunk
    /// reads; at most `pool_size`.
    pub(super) pool: Mutex<Vec<Chunk>>,
    pool_size: usize,
}

/// An array's path and the shape it was opened with (see `region.rs`).
pub(super) type Resized = (PathBuf, Vec<u64>);

/// Buffers smaller than this are not pooled: malloc serves them from its heap without
/// page faults anyway (glibc's default mmap threshold is 128 KiB to 32 MiB).
const POOL_MIN_BYTES: usize = 1 << 20;

impl std::fmt::Debug for StoreCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreCache")
            .field("arrays", &self.arrays.read().keys().collect::<Vec<_>>())
            .field("chunks_read", &self.chunks_read())
            .field("chunks_written", &self.chunks_written())
            .finish_non_exhaustive()
    }
}

/// A pooled chunk of exactly `n` elements of `dtype` (stale values), for a
/// kernel to write its output into instead of faulting in fresh pages.
impl darray_kernels::linalg::Buffers for StoreCache {
    fn take(&self, dtype: DType, n: usize) -> Option<Chunk> {
        let mut pool = self.pool.lock();
        pool.iter()
            .position(|c| c.dtype() == Some(dtype) && c.shape().iter().product::<usize>() == n)
            .map(|i| pool.swap_remove(i))
    }
}

impl StoreCache {
    /// An empty cache with all counters at zero, which keeps no buffers for reuse.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty cache that keeps up to `n` chunk buffers given to
    /// [`recycle`](Self::recycle) for reuse by later reads.
    ///
    /// Why: a 32 MiB chunk buffer is allocated with `mmap` and freed with `munmap`, so
    /// each fresh one costs 8192 page faults (and the kernel zeroing every page) on
    /// first use; the executor recycles each chunk when its last consumer has run, and
    /// the next read of a chunk of the same size and dtype decodes into it instead.
    /// The pooled buffers are memory the executor's budget does not count: at most
    /// `n` chunks (the executor uses one per thread).
    #[must_use]
    pub fn with_buffer_pool(n: usize) -> Self {
        Self {
            pool_size: n,
            ..Self::default()
        }
    }

    /// Gives a chunk that is no longer needed to the buffer pool (dropped if the
    /// chunk is small or not numeric). A full pool lets its oldest buffer go: a
    /// buffer of a size no one asks for (a TSQR leaf's factorization) must not
    /// keep the pool full while buffers of the sizes reads and kernels ask for
    /// are freed after it.
    pub fn recycle(&self, chunk: Chunk) {
        if self.pool_size == 0 || chunk.nbytes() < POOL_MIN_BYTES || chunk.dtype().is_none() {
            return;
        }
        let mut pool = self.pool.lock();
        if pool.len() >= self.pool_size {
            pool.remove(0);
        }
        pool.push(chunk);
    }

    /// Chunks waiting in the buffer pool.
    #[cfg(test)]
    pub(crate) fn pooled(&self) -> usize {
        self.pool.lock().len()
    }

    /// A `Vec<T>` of `n` elements for a read to overwrite: a pooled buffer of exactly
    /// `n` elements of the same dtype if there is one (stale values), else zeros. Exact,
    /// so a chunk never holds more memory than its size says.
    fn buffer<T: Element>(&self, n: usize) -> Vec<T> {
        // Zeroed with calloc: fresh pages cost nothing to zero.
        self.take_buffer(n).unwrap_or_else(|| vec![T::default(); n])
    }

    /// A pooled buffer of exactly `n` elements of `T`'s dtype (stale values, for
    /// the caller to overwrite), if the pool holds one.
    pub(crate) fn take_buffer<T: Element>(&self, n: usize) -> Option<Vec<T>> {
        darray_kernels::linalg::take_vec(self, n)
    }

    pub(super) fn open(&self, path: &Path) -> Result<Arc<OpenArray>, StoreError> {
        if let Some(a) = self.arrays.read().get(path) {
            return Ok(Arc::clone(a));
        }
        // Opened outside the lock: two threads may both open, the first insert
        // wins. The planner's open is used if it is there.
        let opened = match handed_off(path) {
            Some(a) => a,
            None => Arc::new(open_array(path)?),
        };
        Ok(Arc::clone(
            self.arrays
                .write()
                .entry(path.to_path_buf())
                .or_insert(opened),
        ))
    }

    /// The metadata of the array at `path`, opening it if needed.
    ///
    /// # Errors
    /// As [`open_info`](super::open_info).
    pub fn info(&self, path: &Path) -> Result<ZarrArrayInfo, StoreError> {
        Ok(self.open(path)?.info.clone())
    }

    /// Drops the cached array at `path` (if any), so that its metadata is read again on
    /// next use.
    pub fn forget(&self, path: &Path) {
        self.arrays.write().remove(path);
        self.resized.write().retain(|(p, _), _| p != path);
        forget_handed_off(path);
    }

    /// Reads the region `[start, end)` per axis of the array at `path` as a
    /// C-contiguous chunk of `dtype`. Chunks missing from the store read as the fill
    /// value.
    ///
    /// When the region is exactly one stored chunk (a shard, for sharded arrays) that
    /// lies wholly inside the array, that chunk is decoded straight into the result.
    /// Otherwise zarrs reads only the chunks (and, for sharded or uncompressed arrays,
    /// only the inner chunks or byte ranges) the region needs.
    ///
    /// # Errors
    /// Errors of [`open_info`](super::open_info); [`StoreError::DTypeMismatch`] if
    /// `dtype` is not the stored dtype; [`StoreError::InvalidRegion`] if the region is
    /// not inside the array; [`StoreError::Chunk`] naming the chunk that is corrupt or
    /// truncated; [`StoreError::Storage`] for I/O errors.
    pub fn read_region(
        &self,
        path: &Path,
        region: &[Range<u64>],
        dtype: DType,
    ) -> Result<Chunk, StoreError> {
        let a = self.open(path)?;
        let info = &a.info;
        if info.dtype != dtype {
            return Err(StoreError::DTypeMismatch {
                path: path.to_path_buf(),
                stored: info.dtype,
                requested: dtype,
            });
        }
        let in_bounds = region.len() == info.shape.len()
            && region
                .iter()
                .zip(&info.shape)
                .all(|(r, &s)| r.start <= r.end && r.end <= s);
        if !in_bounds {
            return Err(StoreError::InvalidRegion {
                path: path.to_path_buf(),
                region: region.to_vec(),
                shape: info.shape.clone(),
            });
        }
        let shape = region
            .iter()
            .map(|r| to_usize(r.end - r.start))
            .collect::<Option<Vec<usize>>>()
            .ok_or_else(|| StoreError::InvalidRegion {
                path: path.to_path_buf(),
                region: region.to_vec(),
                shape: info.shape.clone(),
            })?;
        if shape.contains(&0) {
            self.regions_read.fetch_add(1, Ordering::Relaxed);
            return Ok(Chunk::zeros(dtype, &shape));
        }
        let chunk = if info.stored_f16 {
            read_f16(&a, region, &shape)?
        } else {
            dispatch_dtype!(dtype, T => read_typed::<T>(self, &a, region, &shape)?)
        };
        let cells: u64 = region
            .iter()
            .zip(&info.chunk_shape)
            .map(|(r, &c)| (r.end - 1) / c - r.start / c + 1)
            .product();
        self.regions_read.fetch_add(1, Ordering::Relaxed);
        self.chunks_read.fetch_add(cells, Ordering::Relaxed);
        self.bytes_read
            .fetch_add(chunk.nbytes() as u64, Ordering::Relaxed);
        Ok(chunk)
    }

    /// Writes `data` as the stored chunk (the whole shard, for sharded arrays) at
    /// `chunk_indices` of the array at `path`.
    ///
    /// `data` must have the chunk's shape clipped to the array: `min(chunk_shape,
    /// shape - origin)` per axis, so edge chunks are given without padding; this
    /// function pads them to the full stored chunk with the fill value, as Zarr
    /// stores edge chunks at full size. A chunk equal to the fill value everywhere is
    /// not stored (its file is removed), as zarr-python does by default.
    ///
    /// Each chunk must be written by one caller at a time: writes to different chunks
    /// may run in parallel. The chunk's file is written without an `fsync`: it is
    /// durable once [`commit_staging`](super::commit_staging) has synced the staging
    /// directory it was written into.
    ///
    /// # Errors
    /// Errors of [`open_info`](super::open_info); [`StoreError::InvalidChunkIndices`];
    /// [`StoreError::NotData`] for a partial or unit chunk; [`StoreError::DTypeMismatch`];
    /// [`StoreError::ShapeMismatch`]; [`StoreError::Chunk`] if encoding fails;
    /// [`StoreError::Storage`] for I/O errors.
    pub fn write_chunk(
        &self,
        path: &Path,
        chunk_indices: &[u64],
        data: &Chunk,
    ) -> Result<(), StoreError> {
        let a = self.open(path)?;
        self.write_opened(&a, chunk_indices, data)
    }

    /// [`write_chunk`](Self::write_chunk) into the opened array `a`.
    pub(super) fn write_opened(
        &self,
        a: &OpenArray,
        chunk_indices: &[u64],
        data: &Chunk,
    ) -> Result<(), StoreError> {
        let path: &Path = &a.info.path;
        let info = &a.info;
        let bounded = chunk_bounds(info, chunk_indices)?;
        let Some(found) = data.dtype() else {
            return Err(StoreError::NotData {
                path: path.to_path_buf(),
                chunk: chunk_indices.to_vec(),
            });
        };
        if found != info.dtype {
            return Err(StoreError::DTypeMismatch {
                path: path.to_path_buf(),
                stored: info.dtype,
                requested: found,
            });
        }
        let expected: Vec<u64> = bounded.iter().map(|r| r.end - r.start).collect();
        let matches = data.shape().len() == expected.len()
            && data
                .shape()
                .iter()
                .zip(&expected)
                .all(|(&d, &e)| d as u64 == e);
        if !matches {
            return Err(StoreError::ShapeMismatch {
                path: path.to_path_buf(),
                chunk: chunk_indices.to_vec(),
                expected,
                found: data.shape().to_vec(),
            });
        }
        let full = expected == info.chunk_shape;
        match data {
            // The dtype was checked to be the stored one (F32 for float16).
            Chunk::F32(arr) if info.stored_f16 => write_f16(
                a,
                chunk_indices,
                &bounded,
                full,
                &arr.mapv(half::f16::from_f32),
            ),
            _ => map_chunk!(
                data,
                arr => write_typed(a, chunk_indices, &bounded, full, arr),
                // Not reached: data.dtype() is Some, checked above.
                _ => Err(StoreError::NotData { path: path.to_path_buf(), chunk: chunk_indices.to_vec() })
            ),
        }?;
        self.chunks_written.fetch_add(1, Ordering::Relaxed);
        self.bytes_written
            .fetch_add(data.nbytes() as u64, Ordering::Relaxed);
        Ok(())
    }

    /// Number of successful [`read_region`](Self::read_region) calls.
    #[must_use]
    pub fn regions_read(&self) -> u64 {
        self.regions_read.load(Ordering::Relaxed)
    }

    /// Number of stored chunks (shards, for sharded arrays) that successful
    /// [`read_region`](Self::read_region) calls intersected, counted once per call.
    #[must_use]
    pub fn chunks_read(&self) -> u64 {
        self.chunks_read.load(Ordering::Relaxed)
    }

    /// Decoded bytes returned by [`read_region`](Self::read_region).
    #[must_use]
    pub fn bytes_read(&self) -> u64 {
        self.bytes_read.load(Ordering::Relaxed)
    }

    /// Number of successful [`write_chunk`](Self::write_chunk) calls.
    #[must_use]
    pub fn chunks_written(&self) -> u64 {
        self.chunks_written.load(Ordering::Relaxed)
    }

    /// Decoded bytes given to successful [`write_chunk`](Self::write_chunk) calls.
    #[must_use]
    pub fn bytes_written(&self) -> u64 {
        self.bytes_written.load(Ordering::Relaxed)
    }
}

/// The element ranges of stored chunk `chunk_indices` (clipped to the array).
///
/// # Errors
/// [`StoreError::InvalidChunkIndices`] if the indices are not in the grid.
pub(super) fn chunk_bounds(
    info: &ZarrArrayInfo,
    chunk_indices: &[u64],
) -> Result<Vec<Range<u64>>, StoreError> {
    let grid = info.grid_shape();
    if chunk_indices.len() != grid.len() || chunk_indices.iter().zip(&grid).any(|(i, g)| i >= g) {
        return Err(StoreError::InvalidChunkIndices {
            path: info.path.clone(),
            chunk: chunk_indices.to_vec(),
            grid,
        });
    }
    Ok(chunk_indices
        .iter()
        .zip(&info.chunk_shape)
        .zip(&info.shape)
        .map(|((&i, &c), &s)| i * c..((i + 1) * c).min(s))
        .collect())
}

fn to_usize(n: u64) -> Option<usize> {
    usize::try_from(n).ok()
}

/// Reads `region` (in bounds, non-empty) as an `ArrayD<T>`. A whole stored chunk in a
/// layout `direct.rs` handles is decoded straight into the result's buffer; anything
/// else is decoded by zarrs into a `Vec<T>` that becomes the array's buffer.
fn read_typed<T: Element + ElementOwned + RawElement>(
    cache: &StoreCache,
    a: &OpenArray,
    region: &[Range<u64>],
    shape: &[usize],
) -> Result<Chunk, StoreError> {
    let path = &a.info.path;
    let options = codec_options();
    let chunk_shape = &a.info.chunk_shape;
    // The single chunk whose full extent is exactly `region`, if any.
    let whole_chunk: Option<Vec<u64>> = region
        .iter()
        .zip(chunk_shape)
        .map(|(r, &c)| (r.start % c == 0 && r.end - r.start == c).then_some(r.start / c))
        .collect();
    if let (Some(indices), Some(codec), Some(fs)) = (&whole_chunk, a.direct, a.fs.as_deref()) {
        let mut values = cache.buffer::<T>(shape.iter().product());
        if let Some(bytes) = T::bytes_mut(&mut values) {
            if direct::read_chunk(a, fs, codec, indices, bytes)? {
                return into_chunk(values, shape, region, path);
            }
        }
    }
    let values: Vec<T> = if let Some(indices) = whole_chunk {
        a.array
            .retrieve_chunk_opt::<Vec<T>>(&indices, &options)
            .map_err(|e| chunk_error(path, &indices, e))?
    } else {
        let subset = ArraySubset::new_with_ranges(region);
        match a
            .array
            .retrieve_array_subset_opt::<Vec<T>>(&subset, &options)
        {
            Ok(v) => v,
            Err(e) => return Err(blame_chunk(a, region, e)),
        }
    };
    into_chunk(values, shape, region, path)
}

/// Reads `region` of a `float16` array as f32 (exact: every f16 is an f32).
fn read_f16(a: &OpenArray, region: &[Range<u64>], shape: &[usize]) -> Result<Chunk, StoreError> {
    let subset = ArraySubset::new_with_ranges(region);
    let values = a
        .array
        .retrieve_array_subset_opt::<Vec<half::f16>>(&subset, &codec_options())
        .map_err(|e| blame_chunk(a, region, e))?;
    let values: Vec<f32> = values.into_iter().map(half::f16::to_f32).collect();
    into_chunk(values, shape, region, &a.info.path)
}

/// Writes one chunk of a `float16` array (already rounded to f16) through zarrs.
pub(super) fn write_f16(
    a: &OpenArray,
    indices: &[u64],
    bounded: &[Range<u64>],
    full: bool,
    data: &ArrayD<half::f16>,
) -> Result<(), StoreError> {
    let options = codec_options();
    if full {
        a.array.store_chunk_opt(indices, data, &options)
    } else if a.fresh {
        let whole = padded(data, &a.info.chunk_shape, half::f16::ZERO);
        a.array.store_chunk_opt(indices, &whole, &options)
    } else {
        a.array
            .store_array_subset_opt(&ArraySubset::new_with_ranges(bounded), data, &options)
    }
    .map_err(|e| chunk_error(&a.info.path, indices, e))
}

fn into_chunk<T: Element>(
    values: Vec<T>,
    shape: &[usize],
    region: &[Range<u64>],
    path: &Path,
) -> Result<Chunk, StoreError> {
    let len = values.len();
    ArrayD::from_shape_vec(IxDyn(shape), values)
        .map(T::into_chunk)
        .map_err(|_| StoreError::Region {
            path: path.to_path_buf(),
            region: region.to_vec(),
            reason: format!("zarrs returned {len} elements for a region of shape {shape:?}"),
        })
}

/// Turns the error of a multi-chunk read into one naming the failing chunk, found by
/// reading the region's chunks one at a time (only on this error path).
fn blame_chunk(a: &OpenArray, region: &[Range<u64>], err: ArrayError) -> StoreError {
    let path = &a.info.path;
    if let ArrayError::StorageError(source) = err {
        return StoreError::Storage {
            path: path.clone(),
            source,
        };
    }
    let ranges: Vec<Range<u64>> = region
        .iter()
        .zip(&a.info.chunk_shape)
        .map(|(r, &c)| r.start / c..(r.end - 1) / c + 1)
        .collect();
    let options = codec_options();
    for indices in ArraySubset::new_with_ranges(&ranges).indices() {
        if let Err(e) = a
            .array
            .retrieve_chunk_opt::<zarrs::array::ArrayBytes<'static>>(&indices, &options)
        {
            return chunk_error(path, &indices, e);
        }
    }
    StoreError::Region {
        path: path.clone(),
        region: region.to_vec(),
        reason: err.to_string(),
    }
}

pub(super) fn chunk_error(path: &Path, indices: &[u64], err: ArrayError) -> StoreError {
    match err {
        ArrayError::StorageError(source) => StoreError::Storage {
            path: path.to_path_buf(),
            source,
        },
        other => StoreError::Chunk {
            path: path.to_path_buf(),
            chunk: indices.to_vec(),
            reason: other.to_string(),
        },
    }
}

/// Stores `data` (the chunk clipped to the array, `bounded` in array coordinates).
/// A full chunk goes straight to the encoder (no copy if `data` is C-contiguous); an
/// edge chunk goes through zarrs' subset write, which pads it with the fill value.
/// Writes one chunk: a whole chunk in standard layout in a layout `direct.rs`
/// handles is encoded into a reused buffer and written directly; anything else
/// goes through zarrs.
pub(super) fn write_typed<T: Element + zarrs::array::Element + RawElement>(
    a: &OpenArray,
    indices: &[u64],
    bounded: &[Range<u64>],
    full: bool,
    data: &ArrayD<T>,
) -> Result<(), StoreError> {
    if let (true, Some(codec), Some(fs), Some(bytes)) = (
        full,
        a.direct,
        a.fs.as_deref(),
        data.as_slice().and_then(|s| T::bytes(s)),
    ) {
        return direct::write_chunk(a, fs, codec, indices, bytes);
    }
    let array = &a.array;
    let options = codec_options();
    if full {
        array.store_chunk_opt(indices, data, &options)
    } else if a.fresh {
        // Arrays darray creates have the fill value 0 (`false`): T's default.
        let whole = padded(data, &a.info.chunk_shape, T::default());
        array.store_chunk_opt(indices, &whole, &options)
    } else {
        array.store_array_subset_opt(&ArraySubset::new_with_ranges(bounded), data, &options)
    }
    .map_err(|e| chunk_error(&a.info.path, indices, e))
}

/// An edge chunk `data` (clipped to the array, at the chunk's origin) padded with
/// `fill` to the whole `chunk_shape`, as the Zarr specification stores it.
fn padded<T: Clone>(data: &ArrayD<T>, chunk_shape: &[u64], fill: T) -> ArrayD<T> {
    let shape: Vec<usize> = chunk_shape
        .iter()
        .map(|&c| usize::try_from(c).expect("a chunk being written fits in memory"))
        .collect();
    let mut whole = ArrayD::from_elem(IxDyn(&shape), fill);
    whole
        .slice_each_axis_mut(|ax| ndarray::Slice::from(0..data.shape()[ax.axis.index()]))
        .assign(data);
    whole
}
