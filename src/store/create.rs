//! Creating arrays atomically: [`create_staging`] writes the metadata of a new array
//! into a hidden staging directory next to its destination, the caller writes every
//! chunk there, and [`commit_staging`] renames it into place (or [`abort_staging`]
//! removes it). A failed write never leaves a half-written array at the destination.

use super::fs::{sync_dir, sync_tree};
use super::remote::{self, Location};
use super::remote_commit;
use super::staging::{clean_beside, unique_suffix, OLD_MARK, STAGING_MARK};
use super::StoreError;
use darray_kernels::DType;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use zarrs::array::{Array, ArrayMetadata, ArrayMetadataV2, ArrayMetadataV3};

/// The Zarr format version of a new array.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum ZarrFormat {
    /// Zarr v2 (`.zarray`, `.`-separated chunk keys, a single `compressor`).
    V2,
    /// Zarr v3 (`zarr.json`, `c/`-prefixed chunk keys); allows sharding.
    #[default]
    V3,
}

/// The compressor of a new array's chunks (of the inner chunks, when sharded).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Compression {
    /// Uncompressed little-endian bytes.
    None,
    /// Zstandard at `level` (-131072..=22; 1 is fast, 3 is zstd's default).
    Zstd {
        /// Compression level.
        level: i32,
    },
    /// Gzip at `level` (0..=9).
    Gzip {
        /// Compression level.
        level: u32,
    },
    /// Blosc with compressor `cname` (`"blosclz"`, `"lz4"`, `"lz4hc"`, `"zlib"`,
    /// `"zstd"`) at `clevel` (0..=9), with byte shuffling if `shuffle`.
    Blosc {
        /// Blosc's internal compressor.
        cname: String,
        /// Compression level.
        clevel: u8,
        /// Byte-shuffle elements before compressing (helps numeric data).
        shuffle: bool,
    },
}

/// How to write a new array.
///
/// Terms: the *write grid* is the unit one task writes, passed to [`create_staging`]
/// and used with [`StoreCache::write_chunk`](super::StoreCache::write_chunk). Without
/// sharding it is the chunk shape. With `inner_chunk_shape: Some(inner)` the array is a
/// sharded v3 array: each write-grid cell is one *shard*, stored as one file made of
/// chunks of shape `inner` (which must divide the shard shape), so no two tasks ever
/// write the same file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WriteOptions {
    /// Zarr v2 or v3.
    pub zarr_format: ZarrFormat,
    /// Compression of each chunk (each inner chunk, when sharded).
    pub compression: Compression,
    /// The write grid the caller wants (chunk shape, or shard shape when sharded);
    /// `None` for the caller's default (e.g. the array's own chunks). Not read by
    /// [`create_staging`], which takes the grid as an argument.
    pub chunk_shape: Option<Vec<u64>>,
    /// v3 only: `Some(inner)` makes the array sharded, with write-grid cells as shards
    /// and `inner` as the chunk shape inside each shard.
    pub inner_chunk_shape: Option<Vec<u64>>,
    /// Replace an existing array at the destination (only a Zarr array or group, or an
    /// empty directory, is ever replaced).
    pub overwrite: bool,
    /// User attributes (units, long names, ...): v3 `attributes` in `zarr.json`, v2
    /// `.zattrs`. Read them back with [`attributes`](super::attributes).
    #[serde(default)]
    pub attributes: serde_json::Map<String, Value>,
    /// One name per axis, as xarray expects: v3 `dimension_names`, v2 the
    /// `_ARRAY_DIMENSIONS` attribute (xarray's convention for Zarr v2).
    #[serde(default)]
    pub dimension_names: Option<Vec<String>>,
    /// Store a float32 array as `float16` (zarr-python's `"<f2"` / `"float16"`),
    /// each value rounded to the nearest f16 (ties to even, as `NumPy`'s
    /// `astype`); values beyond ±65504 become ±inf. Only for `F32` arrays.
    pub float16: bool,
    /// Groups only ([`to_zarr_group`](crate::to_zarr_group)): write the group's
    /// consolidated metadata (v3 `consolidated_metadata` in `zarr.json`, v2
    /// `.zmetadata`, as zarr-python's `zarr.consolidate_metadata`), so that a
    /// reader opens any member with one request (see
    /// [`consolidate_metadata`](super::consolidate_metadata)).
    #[serde(default)]
    pub consolidated: bool,
}

impl Default for WriteOptions {
    /// Zarr v3, zstd level 1, no sharding, no overwrite.
    fn default() -> Self {
        Self {
            zarr_format: ZarrFormat::V3,
            compression: Compression::Zstd { level: 1 },
            chunk_shape: None,
            inner_chunk_shape: None,
            overwrite: false,
            attributes: serde_json::Map::new(),
            dimension_names: None,
            float16: false,
            consolidated: false,
        }
    }
}

/// Creates the metadata of a new array of `shape` and `dtype` in a fresh staging
/// directory next to `path` (`.{name}.darray-staging-{pid}-{start}-{nanos}-{n}-{host}`
/// in `path`'s parent, which is created if missing) and returns the staging directory.
///
/// Staging directories of earlier writes to `path` whose writer process is gone
/// (killed before its commit) are removed first; a live writer's are kept (see
/// [`clean_staging`](super::clean_staging)).
///
/// `write_grid` is the chunk shape, or the shard shape when `opts.inner_chunk_shape` is
/// set. Write every chunk into the staging path with
/// [`StoreCache::write_chunk`](super::StoreCache::write_chunk), then call
/// [`commit_staging`] (or [`abort_staging`] on failure). The fill value is 0 (`false`).
///
/// # Errors
/// [`StoreError::Exists`] if `path` exists and `opts.overwrite` is false, or it is not
/// a Zarr array, group or empty directory (checked before any work);
/// [`StoreError::InvalidOptions`] for inconsistent shapes or invalid compression
/// settings; [`StoreError::Io`] if the directories cannot be created.
pub fn create_staging(
    path: &Path,
    shape: &[u64],
    write_grid: &[u64],
    dtype: DType,
    opts: &WriteOptions,
) -> Result<PathBuf, StoreError> {
    let invalid = |reason: String| StoreError::InvalidOptions {
        path: path.to_path_buf(),
        reason,
    };
    check_layout(shape, write_grid, opts).map_err(invalid)?;
    if opts.float16 && dtype != DType::F32 {
        return Err(invalid(format!(
            "float16 storage is for float32 arrays, this one is {dtype}"
        )));
    }
    let metadata = metadata_json(shape, write_grid, dtype, opts);
    let local = match remote::locate(path)? {
        Location::Remote(r) => {
            if opts.zarr_format == ZarrFormat::V2 && !v2_attributes(opts).is_empty() {
                return Err(invalid(
                    "attributes of a Zarr v2 array in an object store are not supported yet \
                     (write Zarr v3)"
                        .to_string(),
                ));
            }
            check_metadata(&metadata).map_err(invalid)?;
            return remote_commit::create(path, &r, &metadata, opts.overwrite);
        }
        Location::Local(local) => local,
    };
    let path = local.as_path();
    check_destination(path, opts.overwrite)?;
    let (parent, name) = split_path(path)?;
    std::fs::create_dir_all(&parent).map_err(|source| StoreError::Io {
        path: parent.clone(),
        op: "create directory",
        source,
    })?;
    // Writers killed before their commit left their staging directories here;
    // this write is the first to see them.
    clean_beside(&parent, &name);
    let staging = parent.join(format!(".{name}{STAGING_MARK}{}", unique_suffix()));
    std::fs::create_dir(&staging).map_err(|source| StoreError::Io {
        path: staging.clone(),
        op: "create directory",
        source,
    })?;
    if let Err(reason) = store_metadata(&staging, &metadata, &v2_attributes(opts)) {
        abort_staging(&staging);
        return Err(invalid(reason));
    }
    Ok(staging)
}

/// Makes the finished staging directory durable and moves it to `path`.
///
/// Chunk writes do not sync (see [`StoreCache::write_chunk`](super::StoreCache::write_chunk)):
/// this syncs every file and directory of the staging tree once, before the rename, so
/// the array is complete on disk before it becomes visible at `path`, then syncs the
/// parent directory so the rename itself is durable.
///
/// An existing array at `path` is replaced only if `overwrite`: it is first renamed
/// aside, the staging directory renamed into place, and the old array then removed, so
/// `path` is always either the old or the new array.
///
/// # Errors
/// [`StoreError::NotFound`] if `staging` does not exist; [`StoreError::Exists`] if
/// `path` exists and `overwrite` is false, or it is not a Zarr array, group or empty
/// directory; [`StoreError::Io`] if a sync fails before the rename (nothing is moved),
/// if a rename fails (the old array is then restored), or if syncing the parent
/// directory after the rename fails (the new array is then in place, but its rename
/// may not survive a crash).
pub fn commit_staging(staging: &Path, path: &Path, overwrite: bool) -> Result<(), StoreError> {
    super::cache::forget_handed_off(path);
    let local = match remote::locate(path)? {
        Location::Remote(r) => return remote_commit::commit(staging, path, &r, overwrite),
        Location::Local(local) => local,
    };
    let path = local.as_path();
    if !staging.is_dir() {
        return Err(StoreError::NotFound {
            path: staging.to_path_buf(),
        });
    }
    let sync_error = |(path, source)| StoreError::Io {
        path,
        op: "sync",
        source,
    };
    sync_tree(staging).map_err(sync_error)?;
    let rename = |from: &Path, to: &Path| {
        std::fs::rename(from, to).map_err(|source| StoreError::Io {
            path: from.to_path_buf(),
            op: "rename",
            source,
        })
    };
    let (parent, name) = split_path(path)?;
    if !check_destination(path, overwrite)? {
        rename(staging, path)?;
        return sync_dir(&parent).map_err(sync_error);
    }
    let old = parent.join(format!(".{name}{OLD_MARK}{}", unique_suffix()));
    rename(path, &old)?;
    if let Err(e) = rename(staging, path) {
        // Best effort: put the old array back so a failed commit changes nothing.
        let _ = std::fs::rename(&old, path);
        return Err(e);
    }
    // The commit has happened; a leftover hidden `.darray-old-` directory is harmless.
    let _ = std::fs::remove_dir_all(&old);
    sync_dir(&parent).map_err(sync_error)
}

/// Removes a staging directory made by [`create_staging`] and everything in it.
/// Errors are ignored (this runs on failure paths). As a guard against misuse, a path
/// whose name lacks the staging marker is left alone.
pub fn abort_staging(staging: &Path) {
    if remote::is_remote(staging) {
        remote_commit::abort(staging);
        return;
    }
    let is_staging = staging
        .file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with('.') && n.contains(STAGING_MARK));
    if is_staging {
        let _ = std::fs::remove_dir_all(staging);
    }
}

/// `path`'s parent directory (`.` for a bare name) and file name.
fn split_path(path: &Path) -> Result<(PathBuf, String), StoreError> {
    let name =
        path.file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| StoreError::InvalidOptions {
                path: path.to_path_buf(),
                reason: "the path must end in a UTF-8 directory name".to_string(),
            })?;
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    Ok((parent, name.to_string()))
}

/// Checks that `path` may be written: `Ok(false)` if it does not exist, `Ok(true)` if
/// it exists and may be replaced. Only a Zarr array or group, or an empty directory,
/// is ever replaced, so a mistyped path cannot delete unrelated data.
pub(super) fn check_destination(path: &Path, overwrite: bool) -> Result<bool, StoreError> {
    let exists = |reason: &str| StoreError::Exists {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    };
    let meta = match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(source) => {
            return Err(StoreError::Io {
                path: path.to_path_buf(),
                op: "stat",
                source,
            })
        }
        Ok(m) => m,
    };
    if !overwrite {
        return Err(exists("it already exists (set overwrite to replace it)"));
    }
    if !meta.is_dir() {
        return Err(exists(
            "it exists and is not a directory; refusing to replace it",
        ));
    }
    let is_zarr = [".zarray", ".zgroup", "zarr.json"]
        .iter()
        .any(|f| path.join(f).is_file());
    let is_empty = std::fs::read_dir(path).is_ok_and(|mut d| d.next().is_none());
    if is_zarr || is_empty {
        Ok(true)
    } else {
        Err(exists(
            "it exists and is neither a Zarr array or group nor empty; refusing to replace it",
        ))
    }
}

pub(super) fn check_layout(shape: &[u64], grid: &[u64], opts: &WriteOptions) -> Result<(), String> {
    if grid.len() != shape.len() {
        return Err(format!(
            "write grid {grid:?} has {} axes, shape {shape:?} has {}",
            grid.len(),
            shape.len()
        ));
    }
    if grid.contains(&0) {
        return Err(format!("write grid {grid:?} has a zero-length axis"));
    }
    if let Some(names) = &opts.dimension_names {
        if names.len() != shape.len() {
            return Err(format!(
                "{} dimension names {names:?} for {} axes",
                names.len(),
                shape.len()
            ));
        }
    }
    if let Some(inner) = &opts.inner_chunk_shape {
        if opts.zarr_format == ZarrFormat::V2 {
            return Err("sharding (inner_chunk_shape) needs Zarr v3".to_string());
        }
        let divides =
            inner.len() == grid.len() && inner.iter().zip(grid).all(|(&i, &g)| i > 0 && g % i == 0);
        if !divides {
            return Err(format!(
                "inner chunk shape {inner:?} must have one positive entry per axis, \
                 each dividing the shard shape {grid:?}"
            ));
        }
    }
    match &opts.compression {
        Compression::Zstd { level } if !(-131_072..=22).contains(level) => {
            return Err(format!("zstd level {level} is outside -131072..=22"));
        }
        Compression::Gzip { level } if *level > 9 => {
            return Err(format!("gzip level {level} is outside 0..=9"));
        }
        Compression::Blosc { cname, clevel, .. } => {
            if !BLOSC_CNAMES.contains(&cname.as_str()) {
                return Err(format!(
                    "blosc cname `{cname}` is not one of {BLOSC_CNAMES:?}"
                ));
            }
            if *clevel > 9 {
                return Err(format!("blosc clevel {clevel} is outside 0..=9"));
            }
        }
        Compression::None | Compression::Zstd { .. } | Compression::Gzip { .. } => {}
    }
    Ok(())
}

const BLOSC_CNAMES: [&str; 5] = ["blosclz", "lz4", "lz4hc", "zlib", "zstd"];

fn fill_value(dtype: DType) -> Value {
    if dtype == DType::Bool {
        json!(false)
    } else if dtype.is_float() {
        json!(0.0)
    } else {
        json!(0)
    }
}

/// The array's metadata document, as zarr-python would write it.
pub(super) fn metadata_json(
    shape: &[u64],
    grid: &[u64],
    dtype: DType,
    opts: &WriteOptions,
) -> Value {
    match opts.zarr_format {
        ZarrFormat::V2 => {
            let compressor = match &opts.compression {
                Compression::None => Value::Null,
                Compression::Zstd { level } => json!({"id": "zstd", "level": level}),
                Compression::Gzip { level } => json!({"id": "gzip", "level": level}),
                Compression::Blosc {
                    cname,
                    clevel,
                    shuffle,
                } => json!({
                    "id": "blosc", "cname": cname, "clevel": clevel,
                    "shuffle": u8::from(*shuffle), "blocksize": 0
                }),
            };
            json!({
                "zarr_format": 2, "shape": shape, "chunks": grid,
                "dtype": if opts.float16 { "<f2" } else { v2_dtype(dtype) },
                "compressor": compressor, "fill_value": fill_value(dtype), "order": "C",
                "filters": null, "dimension_separator": "."
            })
        }
        ZarrFormat::V3 => {
            let size = if opts.float16 { 2 } else { dtype.size() };
            let mut codecs = vec![if size == 1 {
                json!({"name": "bytes"})
            } else {
                json!({"name": "bytes", "configuration": {"endian": "little"}})
            }];
            match &opts.compression {
                Compression::None => {}
                Compression::Zstd { level } => codecs.push(
                    json!({"name": "zstd", "configuration": {"level": level, "checksum": false}}),
                ),
                Compression::Gzip { level } => {
                    codecs.push(json!({"name": "gzip", "configuration": {"level": level}}));
                }
                Compression::Blosc {
                    cname,
                    clevel,
                    shuffle,
                } => codecs.push(json!({
                    "name": "blosc", "configuration": {
                        "cname": cname, "clevel": clevel,
                        "shuffle": if *shuffle { "shuffle" } else { "noshuffle" },
                        "typesize": size, "blocksize": 0
                    }
                })),
            }
            if let Some(inner) = &opts.inner_chunk_shape {
                codecs = vec![json!({"name": "sharding_indexed", "configuration": {
                    "chunk_shape": inner,
                    "codecs": codecs,
                    "index_codecs": [
                        {"name": "bytes", "configuration": {"endian": "little"}},
                        {"name": "crc32c"}
                    ],
                    "index_location": "end"
                }})];
            }
            let mut doc = json!({
                "zarr_format": 3, "node_type": "array", "shape": shape,
                "data_type": if opts.float16 { "float16" } else { dtype.numpy_name() },
                "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": grid}},
                "chunk_key_encoding": {"name": "default", "configuration": {"separator": "/"}},
                "fill_value": fill_value(dtype), "codecs": codecs,
                "attributes": opts.attributes
            });
            if let Some(names) = &opts.dimension_names {
                doc["dimension_names"] = json!(names);
            }
            doc
        }
    }
}

fn v2_dtype(dtype: DType) -> &'static str {
    match dtype {
        DType::Bool => "|b1",
        DType::I8 => "|i1",
        DType::I16 => "<i2",
        DType::I32 => "<i4",
        DType::I64 => "<i8",
        DType::U8 => "|u1",
        DType::U16 => "<u2",
        DType::U32 => "<u4",
        DType::U64 => "<u8",
        DType::F32 => "<f4",
        DType::F64 => "<f8",
    }
}

/// Checks `metadata` with zarrs (parsing it and building its codec chain checks
/// shapes, data type, fill value and codec settings), then writes it as is. zarrs'
/// own serialisation is not used: it abbreviates configuration-less codecs to a bare
/// string and adds `node_type` to `.zarray`, both of which zarr-python rejects.
///
/// `v2_attributes` (ignored for v3, whose attributes are in `metadata`) go to
/// `.zattrs` when not empty.
pub(super) fn store_metadata(
    staging: &Path,
    metadata: &Value,
    v2_attributes: &serde_json::Map<String, Value>,
) -> Result<(), String> {
    check_metadata(metadata)?;
    let v2 = metadata["zarr_format"] == 2;
    let file = staging.join(if v2 { ".zarray" } else { "zarr.json" });
    let text = serde_json::to_vec_pretty(metadata).map_err(|e| e.to_string())?;
    std::fs::write(&file, text).map_err(|e| format!("writing {}: {e}", file.display()))?;
    if v2 && !v2_attributes.is_empty() {
        let file = staging.join(".zattrs");
        let text = serde_json::to_vec_pretty(v2_attributes).map_err(|e| e.to_string())?;
        std::fs::write(&file, text).map_err(|e| format!("writing {}: {e}", file.display()))?;
    }
    Ok(())
}

/// The `.zattrs` document of a v2 array written with `opts`: its attributes, and
/// its dimension names as xarray's `_ARRAY_DIMENSIONS`.
pub(super) fn v2_attributes(opts: &WriteOptions) -> serde_json::Map<String, Value> {
    let mut attrs = opts.attributes.clone();
    if let Some(names) = &opts.dimension_names {
        attrs.insert("_ARRAY_DIMENSIONS".to_string(), json!(names));
    }
    attrs
}

/// Checks `metadata` with zarrs (see [`store_metadata`]), in memory.
fn check_metadata(metadata: &Value) -> Result<(), String> {
    let v2 = metadata["zarr_format"] == 2;
    let parsed = if v2 {
        ArrayMetadata::V2(
            serde_json::from_value::<ArrayMetadataV2>(metadata.clone())
                .map_err(|e| e.to_string())?,
        )
    } else {
        ArrayMetadata::V3(
            serde_json::from_value::<ArrayMetadataV3>(metadata.clone())
                .map_err(|e| e.to_string())?,
        )
    };
    let store = zarrs::storage::store::MemoryStore::new();
    Array::new_with_metadata(Arc::new(store), "/", parsed).map_err(|e| e.to_string())?;
    Ok(())
}
