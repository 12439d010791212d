//! [`StoreError`]: everything that can go wrong opening, reading or writing a Zarr
//! array, with the path (and chunk or region) a user needs to find the problem.

use darray_kernels::DType;
use std::ops::Range;
use std::path::PathBuf;

/// An error from the store module. Every variant names the array's path.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// Nothing exists at the path.
    #[error("no Zarr array at `{path}`: the path does not exist")]
    NotFound {
        /// The path that was opened.
        path: PathBuf,
    },
    /// The path exists but is not a Zarr array (a plain directory, a file, a group).
    #[error("`{path}` is not a Zarr array: {reason}")]
    NotAnArray {
        /// The path that was opened.
        path: PathBuf,
        /// What was found instead.
        reason: String,
    },
    /// The array metadata is unreadable, invalid, or uses a feature darray does not
    /// support (a codec zarrs lacks, v2 filters it cannot decode, ...).
    #[error("invalid or unsupported Zarr metadata at `{path}`: {reason}")]
    Metadata {
        /// The array's path.
        path: PathBuf,
        /// zarrs' description of the problem.
        reason: String,
    },
    /// The array's data type has no darray [`DType`] (complex, strings, ...).
    #[error(
        "Zarr array `{path}` has data type `{found}`, which darray does not support \
         (supported: bool, int8..int64, uint8..uint64, float32, float64)"
    )]
    UnsupportedDType {
        /// The array's path.
        path: PathBuf,
        /// The Zarr name of the data type found.
        found: String,
    },
    /// The array's chunk grid is not the regular grid.
    #[error("Zarr array `{path}` has chunk grid `{found}`; darray supports only `regular`")]
    UnsupportedChunkGrid {
        /// The array's path.
        path: PathBuf,
        /// The name of the chunk grid found.
        found: String,
    },
    /// The caller's dtype differs from the array's.
    #[error("Zarr array `{path}` stores {stored}, but the caller uses {requested}")]
    DTypeMismatch {
        /// The array's path.
        path: PathBuf,
        /// The dtype in the array's metadata.
        stored: DType,
        /// The dtype asked for (read) or given (write).
        requested: DType,
    },
    /// A region to read is not inside the array, or has the wrong number of axes.
    #[error("region {region:?} is not inside Zarr array `{path}` of shape {shape:?}")]
    InvalidRegion {
        /// The array's path.
        path: PathBuf,
        /// The region asked for.
        region: Vec<Range<u64>>,
        /// The array's shape.
        shape: Vec<u64>,
    },
    /// Chunk indices outside the array's chunk grid, or with the wrong number of axes.
    #[error("chunk {chunk:?} is not in the chunk grid {grid:?} of Zarr array `{path}`")]
    InvalidChunkIndices {
        /// The array's path.
        path: PathBuf,
        /// The chunk indices given.
        chunk: Vec<u64>,
        /// The number of chunks along each axis.
        grid: Vec<u64>,
    },
    /// Data to write has a shape other than the chunk's (the part inside the array).
    #[error(
        "chunk {chunk:?} of Zarr array `{path}` has shape {expected:?} inside the array, \
         but the data to write has shape {found:?}"
    )]
    ShapeMismatch {
        /// The array's path.
        path: PathBuf,
        /// The chunk indices.
        chunk: Vec<u64>,
        /// The chunk's shape, clipped to the array bounds.
        expected: Vec<u64>,
        /// The data's shape.
        found: Vec<usize>,
    },
    /// The chunk to write holds no array data (a reduction partial or a unit result).
    #[error("chunk {chunk:?} to write to Zarr array `{path}` holds no array data")]
    NotData {
        /// The array's path.
        path: PathBuf,
        /// The chunk indices.
        chunk: Vec<u64>,
    },
    /// A stored chunk could not be decoded (corrupt, truncated, invalid values) or a
    /// chunk could not be encoded.
    #[error("chunk {chunk:?} of Zarr array `{path}`: {reason}")]
    Chunk {
        /// The array's path.
        path: PathBuf,
        /// The chunk (or shard) indices in the array's chunk grid.
        chunk: Vec<u64>,
        /// What went wrong, from zarrs.
        reason: String,
    },
    /// Reading a region spanning several chunks failed and no single chunk could be
    /// blamed (the failure did not reproduce chunk by chunk).
    #[error("reading region {region:?} of Zarr array `{path}`: {reason}")]
    Region {
        /// The array's path.
        path: PathBuf,
        /// The region being read.
        region: Vec<Range<u64>>,
        /// What went wrong, from zarrs.
        reason: String,
    },
    /// The storage layer failed (I/O error, invalid key, ...).
    #[error("store `{path}`: {source}")]
    Storage {
        /// The array's path.
        path: PathBuf,
        /// zarrs' storage error.
        #[source]
        source: zarrs::storage::StorageError,
    },
    /// A filesystem operation of this module (create, rename, remove) failed.
    #[error("{op} `{path}`: {source}")]
    Io {
        /// The path operated on.
        path: PathBuf,
        /// The operation (`"create directory"`, `"rename"`, ...).
        op: &'static str,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The destination exists and overwriting was not asked for, or the destination is
    /// not something darray may replace.
    #[error("cannot write Zarr array to `{path}`: {reason}")]
    Exists {
        /// The destination path.
        path: PathBuf,
        /// Why it cannot be written.
        reason: String,
    },
    /// Invalid [`WriteOptions`](super::WriteOptions) or array layout for a new array.
    #[error("cannot create Zarr array at `{path}`: {reason}")]
    InvalidOptions {
        /// The destination path.
        path: PathBuf,
        /// What is wrong with the options.
        reason: String,
    },
    /// A location written as a URL that darray cannot reach: an unknown scheme, a
    /// URL that does not parse, or invalid options in its fragment.
    #[error("unsupported store URL `{url}`: {reason}")]
    UnsupportedUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The object store at the URL could not be reached or configured (no client
    /// could be built, the I/O runtime could not start, a request was refused).
    #[error("object store `{url}`: {reason}")]
    Remote {
        /// The array's URL.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// The location holds no Zarr group (nothing, or an array).
    #[error("`{path}` is not a Zarr group: {reason}")]
    NotAGroup {
        /// The location.
        path: PathBuf,
        /// What is there instead.
        reason: String,
    },
    /// A write to a location that cannot be written (`http://`, `https://`).
    #[error("cannot write Zarr array to `{url}`: {reason}")]
    ReadOnly {
        /// The destination URL.
        url: String,
        /// Why it is read-only.
        reason: String,
    },
    /// A write into an existing array (a region, an append, a group) that darray does
    /// not support at this location.
    #[error("cannot write into Zarr array `{path}`: {reason}")]
    UnsupportedWrite {
        /// The array's path or URL.
        path: PathBuf,
        /// What is not supported.
        reason: String,
    },
}
