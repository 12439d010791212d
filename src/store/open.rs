//! Opening an array: [`open_info`] and the checks that turn zarrs metadata into a
//! [`ZarrArrayInfo`] darray can plan with.

use super::direct::{direct_codec, DirectCodec};
use super::fs::FsStore;
use super::remote::{self, Location, Remote};
use super::StoreError;
use darray_kernels::DType;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use zarrs::array::data_type as dt;
use zarrs::array::{Array, ArrayCreateError, ArrayMetadata, ArrayShardedExt, DataType};
use zarrs::filesystem::FilesystemStore;
use zarrs::storage::{ReadableWritableListableStorageTraits, StoreKey};

/// What darray needs to know of a stored array.
///
/// `chunk_shape` is the read grid: reading one of its cells (clipped to the array) is
/// one efficient read of one stored object. For an unsharded array it is the chunk
/// shape; for a sharded v3 array it is the *shard* shape (the array's chunk grid in
/// zarrs terms), and `inner_chunk_shape` holds the shape of the chunks inside a shard.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ZarrArrayInfo {
    /// The array's directory, or its URL (see [`StoreOptions`](super::StoreOptions)).
    pub path: PathBuf,
    /// Array shape.
    pub shape: Vec<u64>,
    /// The regular chunk grid's cell shape: chunk shape, or shard shape if sharded.
    pub chunk_shape: Vec<u64>,
    /// Element type.
    pub dtype: DType,
    /// 2 or 3.
    pub zarr_format: u8,
    /// For a sharded v3 array, the shape of the inner chunks of each shard; `None` if
    /// the array is not sharded.
    pub inner_chunk_shape: Option<Vec<u64>>,
    /// The array stores `float16` (zarr-python's `"<f2"` / `"float16"`): darray
    /// reads and writes it as [`DType::F32`] (`dtype`), converting each chunk
    /// (f32 to f16 rounds to nearest even, as `NumPy`'s `astype`).
    #[serde(default)]
    pub stored_f16: bool,
}

impl ZarrArrayInfo {
    /// Number of grid cells along each axis (`ceil(shape / chunk_shape)`).
    #[must_use]
    pub fn grid_shape(&self) -> Vec<u64> {
        self.shape
            .iter()
            .zip(&self.chunk_shape)
            .map(|(&s, &c)| s.div_ceil(c))
            .collect()
    }
}

/// An opened array and its checked description.
pub(super) struct OpenArray {
    pub(super) array: Array<dyn ReadableWritableListableStorageTraits>,
    pub(super) info: ZarrArrayInfo,
    /// The filesystem store of a local array (the one `array` uses), for `direct.rs`.
    pub(super) fs: Option<Arc<FsStore>>,
    /// Set when whole chunks of a local array can be decoded without zarrs (see
    /// `direct.rs`).
    pub(super) direct: Option<DirectCodec>,
    /// The array is being written anew at an object-store location (opened from
    /// its staging key, see `remote_commit.rs`): the chunk objects at its keys are
    /// not its own yet (perhaps a replaced array's, in another codec), so an edge
    /// chunk is padded with the fill value and written whole, never merged with
    /// what is stored.
    pub(super) fresh: bool,
}

/// Opens the array at `path` (a directory holding `zarr.json` for v3 or `.zarray` for
/// v2, or the URL of one in an object store or on an HTTP server) and reads its
/// metadata.
///
/// For a sharded v3 array, [`ZarrArrayInfo::chunk_shape`] is the shard shape and
/// [`ZarrArrayInfo::inner_chunk_shape`] the shape of the chunks inside shards.
///
/// # Errors
/// [`StoreError::NotFound`] if nothing is at `path`; [`StoreError::NotAnArray`] for a
/// file, a plain directory or a group; [`StoreError::Metadata`] for invalid or
/// unsupported metadata; [`StoreError::UnsupportedDType`] for a data type outside
/// [`DType`] (complex, strings, ...; `float16` is read as `F32`); [`StoreError::UnsupportedChunkGrid`]
/// for a non-regular chunk grid; for a URL, [`StoreError::UnsupportedUrl`],
/// [`StoreError::Remote`] if no client can be made, [`StoreError::Storage`] naming
/// the URL for a refused request (credentials, permissions).
pub fn open_info(path: &Path) -> Result<ZarrArrayInfo, StoreError> {
    open_array(path).map(|a| a.info)
}

/// [`open_info`] for a graph about to be built on the array: the opened
/// array is also handed to the executions in this process that read
/// `info.path`, which then need no metadata request of their own (one GET in
/// all on an object store, not one more per computation). They read with the
/// metadata the graph was planned with: an array rewritten by another process
/// in between is read as planned (plan it again to see the new metadata).
/// Writes by this process to the path drop the hand-off.
///
/// # Errors
/// As [`open_info`].
pub fn plan_info(path: &Path) -> Result<ZarrArrayInfo, StoreError> {
    let a = Arc::new(open_array(path)?);
    let info = a.info.clone();
    super::cache::hand_off(a);
    Ok(info)
}

pub(super) fn open_array(path: &Path) -> Result<OpenArray, StoreError> {
    match remote::locate(path)? {
        Location::Local(local) if local == path => open_local(path),
        Location::Local(local) => {
            let mut a = open_local(&local)?;
            a.info.path = path.to_path_buf();
            Ok(a)
        }
        Location::Remote(r) => open_remote(path, &r),
    }
}

fn open_local(path: &Path) -> Result<OpenArray, StoreError> {
    let not_an_array = |reason: &str| StoreError::NotAnArray {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    };
    match std::fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(StoreError::NotFound {
                path: path.to_path_buf(),
            })
        }
        Err(source) => {
            return Err(StoreError::Io {
                path: path.to_path_buf(),
                op: "stat",
                source,
            })
        }
        Ok(m) if !m.is_dir() => return Err(not_an_array("it is a file, not a directory")),
        Ok(_) => {}
    }
    if path.join(".zgroup").is_file() || is_v3_group(&path.join("zarr.json")) {
        return Err(not_an_array("it is a Zarr group"));
    }
    let store = FilesystemStore::new(path).map_err(|e| StoreError::Metadata {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    let fs = Arc::new(FsStore::new(store));
    let storage: Arc<dyn ReadableWritableListableStorageTraits> = fs.clone();
    let array = Array::open(storage, "/").map_err(|e| match e {
        ArrayCreateError::MissingMetadata => {
            not_an_array("it holds neither zarr.json (v3) nor .zarray (v2)")
        }
        ArrayCreateError::DataTypeCreateError(e) => StoreError::UnsupportedDType {
            path: path.to_path_buf(),
            found: e.to_string(),
        },
        other => StoreError::Metadata {
            path: path.to_path_buf(),
            reason: other.to_string(),
        },
    })?;
    let info = describe(path, &array)?;
    // Bool and float16 chunks are converted on the way, not decoded in place.
    let direct = direct_codec(&array, info.dtype == DType::Bool || info.stored_f16);
    Ok(OpenArray {
        array,
        info,
        fs: Some(fs),
        direct,
        fresh: false,
    })
}

/// Opens an array in an object store. A staging location (see `remote_commit.rs`)
/// opens the metadata staged there over the chunks of its destination.
fn open_remote(path: &Path, r: &Remote) -> Result<OpenArray, StoreError> {
    let storage_error = |source| StoreError::Storage {
        path: path.to_path_buf(),
        source,
    };
    let create_error = |e: ArrayCreateError| match e {
        ArrayCreateError::MissingMetadata => StoreError::NotFound {
            path: path.to_path_buf(),
        },
        ArrayCreateError::StorageError(source) => storage_error(source),
        ArrayCreateError::DataTypeCreateError(e) => StoreError::UnsupportedDType {
            path: path.to_path_buf(),
            found: e.to_string(),
        },
        other => StoreError::Metadata {
            path: path.to_path_buf(),
            reason: other.to_string(),
        },
    };
    let mut fresh = false;
    let array = if let Some(member) = &r.consolidated {
        let plain = Remote {
            consolidated: None,
            ..r.clone()
        };
        let Some(metadata) = super::consolidated::member_metadata(path, r, member)? else {
            // Not consolidated there: an ordinary open, whose location (the one
            // `ZarrArrayInfo::path` reports) no longer asks for the group's document.
            let plain_path = PathBuf::from(remote::location_string(&plain));
            return open_remote(&plain_path, &plain);
        };
        let storage = remote::dyn_storage(&plain)?;
        Array::new_with_metadata(storage, "/", metadata).map_err(create_error)?
    } else if let Some((destination, staged)) = super::remote_commit::staged_metadata(r)? {
        let storage = remote::dyn_storage(&destination)?;
        fresh = true;
        Array::new_with_metadata(storage, "/", staged).map_err(create_error)?
    } else {
        let storage = remote::dyn_storage(r)?;
        match Array::open(storage.clone(), "/") {
            Ok(a) => a,
            Err(e) => {
                let get = |key: &str| {
                    StoreKey::new(key)
                        .ok()
                        .and_then(|k| storage.get(&k).ok().flatten())
                };
                let v3_group = get("zarr.json")
                    .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
                    .is_some_and(|v| v.get("node_type").and_then(|t| t.as_str()) == Some("group"));
                if v3_group || get(".zgroup").is_some() {
                    return Err(StoreError::NotAnArray {
                        path: path.to_path_buf(),
                        reason: "it is a Zarr group".to_string(),
                    });
                }
                return Err(create_error(e));
            }
        }
    };
    let info = describe(path, &array)?;
    Ok(OpenArray {
        array,
        info,
        fs: None,
        direct: None,
        fresh,
    })
}

/// True if `zarr_json` is a v3 group document (cheap peek, errors mean "no").
fn is_v3_group(zarr_json: &Path) -> bool {
    std::fs::read(zarr_json)
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .is_some_and(|v| v.get("node_type").and_then(|t| t.as_str()) == Some("group"))
}

fn describe<S: ?Sized>(path: &Path, array: &Array<S>) -> Result<ZarrArrayInfo, StoreError> {
    let stored_f16 = array.data_type().is::<dt::Float16DataType>();
    let dtype = if stored_f16 {
        Some(DType::F32)
    } else {
        dtype_of(array.data_type())
    }
    .ok_or_else(|| StoreError::UnsupportedDType {
        path: path.to_path_buf(),
        found: array.data_type().to_string(),
    })?;
    let (zarr_format, chunk_shape) = match array.metadata() {
        ArrayMetadata::V2(m) => (2, m.chunks.iter().map(|c| c.get()).collect()),
        ArrayMetadata::V3(m) => {
            let name = m.chunk_grid.name();
            let shape = (name == "regular")
                .then(|| m.chunk_grid.configuration())
                .flatten()
                .and_then(|c| c.get("chunk_shape"))
                .and_then(|v| serde_json::from_value::<Vec<u64>>(v.clone()).ok())
                .ok_or_else(|| StoreError::UnsupportedChunkGrid {
                    path: path.to_path_buf(),
                    found: m.chunk_grid.to_string(),
                })?;
            (3, shape)
        }
    };
    let inner_chunk_shape = array
        .subchunk_shape()
        .map(|s| s.iter().map(|c| c.get()).collect());
    Ok(ZarrArrayInfo {
        path: path.to_path_buf(),
        shape: array.shape().to_vec(),
        chunk_shape,
        dtype,
        zarr_format,
        inner_chunk_shape,
        stored_f16,
    })
}

/// The darray dtype of a zarrs data type, if there is one. Endianness is a codec
/// property in zarrs, so `>f8` and `<f8` both map to `F64`.
pub(super) fn dtype_of(d: &DataType) -> Option<DType> {
    Some(if d.is::<dt::BoolDataType>() {
        DType::Bool
    } else if d.is::<dt::Int8DataType>() {
        DType::I8
    } else if d.is::<dt::Int16DataType>() {
        DType::I16
    } else if d.is::<dt::Int32DataType>() {
        DType::I32
    } else if d.is::<dt::Int64DataType>() {
        DType::I64
    } else if d.is::<dt::UInt8DataType>() {
        DType::U8
    } else if d.is::<dt::UInt16DataType>() {
        DType::U16
    } else if d.is::<dt::UInt32DataType>() {
        DType::U32
    } else if d.is::<dt::UInt64DataType>() {
        DType::U64
    } else if d.is::<dt::Float32DataType>() {
        DType::F32
    } else if d.is::<dt::Float64DataType>() {
        DType::F64
    } else {
        return None;
    })
}
