//! Writing a new array to an object store, where there is no rename: the chunks go
//! straight to their final keys and the array's metadata object is written last.
//!
//! What an object store promises: a single object's put is atomic (a reader sees the
//! old or the new object, never part of one), and S3, GCS and Azure are
//! read-after-write consistent. What it cannot: a commit of many objects at once.
//! So a write is ordered instead:
//!
//! 1. [`create`] writes the new metadata under a staging key inside the
//!    destination, `{url}/.darray-staging-{suffix}/zarr.json` (or `.zarray`), which
//!    no Zarr reader looks at; the write tasks open the array from there (see
//!    `open.rs`) and put every chunk object at its final key, each chunk by the one
//!    task that owns it (an edge chunk padded with the fill value and put whole,
//!    never merged with an object already at its key, a replaced array's).
//! 2. [`commit`] runs after every chunk task has finished: it copies the staged
//!    metadata to the array's own key (the commit point: one atomic put), removes the
//!    metadata of another Zarr format and `.zattrs` left by a replaced array, every
//!    chunk object of a replaced array that is not one of the new array's (outside
//!    the new grid, or under another key encoding), and the staging key.
//! 3. [`abort`] (a failed computation) removes the staging key and, if no array was
//!    there before, the chunk objects written; a replaced array keeps its metadata.
//!
//! Hence a reader never sees metadata promising chunks not yet written. A new array
//! appears whole or not at all. Replacing an array is weaker than on disk: while the
//! write runs, and after it fails, the old metadata describes chunk objects some of
//! which are already the new ones (zarr-python's `mode="w"` instead deletes the old
//! array first). Once committed, the location holds exactly the new array's
//! objects, as a replaced directory does on disk: no old chunk can show through
//! later (when the array is grown, say).

use super::remote::{self, Remote, Service};
use super::staging::{unique_suffix, STAGING_MARK};
use super::StoreError;
use serde_json::Value;
use std::path::{Path, PathBuf};
use zarrs::array::{Array, ArrayMetadata, ArrayMetadataV2, ArrayMetadataV3};
use zarrs::storage::{
    Bytes, ListableStorageTraits, ReadableStorageTraits, StoreKey, StorePrefix,
    WritableStorageTraits,
};

/// The metadata keys of a Zarr node, v3 first.
const METADATA_KEYS: [&str; 4] = ["zarr.json", ".zarray", ".zattrs", ".zgroup"];

fn key(name: &str) -> StoreKey {
    StoreKey::new(name).expect("the metadata key names are valid store keys")
}

/// Creates the staging location of a new array at `r` holding `metadata` (already
/// checked by zarrs) and returns it.
///
/// # Errors
/// [`StoreError::ReadOnly`] for HTTP; [`StoreError::Exists`] if an array is there and
/// `overwrite` is false, or something that is not a Zarr array is there;
/// [`StoreError::Storage`] if the store refuses a request.
pub(super) fn create(
    path: &Path,
    r: &Remote,
    metadata: &Value,
    overwrite: bool,
) -> Result<PathBuf, StoreError> {
    if r.service == Service::Http {
        return Err(StoreError::ReadOnly {
            url: path.display().to_string(),
            reason: "HTTP(S) locations are read-only; write to s3://, gs:// or az://".to_string(),
        });
    }
    let storage_error = |source| StoreError::Storage {
        path: path.to_path_buf(),
        source,
    };
    let exists = |reason: &str| StoreError::Exists {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    };
    let dest = remote::storage(r)?;
    let has_array = has_metadata(&*dest).map_err(storage_error)?;
    if has_array && !overwrite {
        return Err(exists("an array is there (set overwrite to replace it)"));
    }
    if !has_array {
        let listing = dest.list_dir(&StorePrefix::root()).map_err(storage_error)?;
        let foreign = !listing.keys().is_empty()
            || listing
                .prefixes()
                .iter()
                .any(|p| !p.as_str().starts_with(STAGING_MARK));
        if foreign {
            return Err(exists(
                "objects are there but no Zarr metadata; refusing to write into them",
            ));
        }
    }
    let staging = Remote {
        url: join(r, &format!("{STAGING_MARK}{}", unique_suffix())),
        ..r.clone()
    };
    let name = if metadata["zarr_format"] == 2 {
        ".zarray"
    } else {
        "zarr.json"
    };
    let text = serde_json::to_vec_pretty(metadata).map_err(|e| StoreError::InvalidOptions {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    remote::storage(&staging)?
        .set(&key(name), Bytes::from(text))
        .map_err(storage_error)?;
    Ok(PathBuf::from(remote::location_string(&staging)))
}

/// For a staging location, its destination and the metadata staged there; `None`
/// for any other location.
///
/// # Errors
/// [`StoreError::NotFound`] if the staging location holds no metadata;
/// [`StoreError::Metadata`] if it does not parse; [`StoreError::Storage`].
pub(super) fn staged_metadata(r: &Remote) -> Result<Option<(Remote, ArrayMetadata)>, StoreError> {
    let Some(destination) = destination_of(r) else {
        return Ok(None);
    };
    let path = PathBuf::from(remote::location_string(r));
    let storage = remote::storage(r)?;
    let storage_error = |source| StoreError::Storage {
        path: path.clone(),
        source,
    };
    let bad = |e: serde_json::Error| StoreError::Metadata {
        path: path.clone(),
        reason: e.to_string(),
    };
    if let Some(b) = storage.get(&key("zarr.json")).map_err(storage_error)? {
        let m = serde_json::from_slice::<ArrayMetadataV3>(&b).map_err(bad)?;
        return Ok(Some((destination, ArrayMetadata::V3(m))));
    }
    if let Some(b) = storage.get(&key(".zarray")).map_err(storage_error)? {
        let m = serde_json::from_slice::<ArrayMetadataV2>(&b).map_err(bad)?;
        return Ok(Some((destination, ArrayMetadata::V2(m))));
    }
    Err(StoreError::NotFound { path })
}

/// Publishes the array staged at `staging` at `r` by writing its metadata object
/// (see the module docs).
///
/// # Errors
/// [`StoreError::NotFound`] if `staging` holds no metadata; [`StoreError::Exists`] if
/// an array appeared at `r` meanwhile and `overwrite` is false;
/// [`StoreError::Storage`] if the store refuses a request (before the metadata put,
/// the destination is unchanged).
pub(super) fn commit(
    staging: &Path,
    path: &Path,
    r: &Remote,
    overwrite: bool,
) -> Result<(), StoreError> {
    let staged = match remote::locate(staging)? {
        remote::Location::Remote(s) if destination_of(&s).is_some() => s,
        _ => {
            return Err(StoreError::NotFound {
                path: staging.to_path_buf(),
            })
        }
    };
    let storage_error = |source| StoreError::Storage {
        path: path.to_path_buf(),
        source,
    };
    let from = remote::storage(&staged)?;
    let dest = remote::storage(r)?;
    let (name, bytes) = ["zarr.json", ".zarray"]
        .iter()
        .find_map(|n| from.get(&key(n)).transpose().map(|b| (*n, b)))
        .ok_or_else(|| StoreError::NotFound {
            path: staging.to_path_buf(),
        })?;
    let bytes = bytes.map_err(storage_error)?;
    let replacing = has_metadata(&*dest).map_err(storage_error)?;
    if !overwrite && replacing {
        return Err(StoreError::Exists {
            path: path.to_path_buf(),
            reason: "an array appeared there during the write".to_string(),
        });
    }
    dest.set(&key(name), bytes.clone()).map_err(storage_error)?;
    for other in METADATA_KEYS.iter().filter(|&&k| k != name) {
        dest.erase(&key(other)).map_err(storage_error)?;
    }
    if replacing {
        erase_stale(path, r, name, &bytes)?;
    }
    // The commit has happened; a leftover staging key is harmless (nothing reads it).
    let _ = from.erase(&key(name));
    Ok(())
}

/// Undoes a failed write to a staging location made by [`create`]: removes the
/// staged metadata and, if no array is at the destination, the chunk objects the
/// write put there. Errors are ignored (this runs on failure paths).
pub(super) fn abort(staging: &Path) {
    let Ok(remote::Location::Remote(staged)) = remote::locate(staging) else {
        return;
    };
    let Some(destination) = destination_of(&staged) else {
        return;
    };
    if let Ok(from) = remote::storage(&staged) {
        for name in ["zarr.json", ".zarray"] {
            let _ = from.erase(&key(name));
        }
    }
    let Ok(dest) = remote::storage(&destination) else {
        return;
    };
    if matches!(has_metadata(&*dest), Ok(false)) {
        // `create` refused a destination holding anything but staging keys, so
        // every other object here is a chunk this write (or a concurrent writer of
        // a new array at the same place, which fails the same way) put.
        if let Ok(keys) = dest.list() {
            for k in keys
                .iter()
                .filter(|k| !k.as_str().starts_with(STAGING_MARK))
            {
                let _ = dest.erase(k);
            }
        }
    }
}

/// After replacing an array at `r` by the one whose metadata `bytes` (object
/// `name`) was just committed, erases every object under `r` that is not the new
/// array's: the old array's chunks outside the new grid or under another key
/// encoding. (Chunks inside the new grid were each written, or erased when all
/// fill, by the write.) Staging keys of other writers are left alone.
///
/// # Errors
/// [`StoreError::Metadata`] if the committed metadata does not open;
/// [`StoreError::Storage`] if listing or erasing fails (the new array is then
/// committed, and a stale object may remain).
fn erase_stale(path: &Path, r: &Remote, name: &str, bytes: &[u8]) -> Result<(), StoreError> {
    let bad = |reason: String| StoreError::Metadata {
        path: path.to_path_buf(),
        reason,
    };
    let metadata = if name == "zarr.json" {
        serde_json::from_slice::<ArrayMetadataV3>(bytes).map(ArrayMetadata::V3)
    } else {
        serde_json::from_slice::<ArrayMetadataV2>(bytes).map(ArrayMetadata::V2)
    }
    .map_err(|e| bad(e.to_string()))?;
    let dest = remote::dyn_storage(r)?;
    let array =
        Array::new_with_metadata(dest.clone(), "/", metadata).map_err(|e| bad(e.to_string()))?;
    let storage_error = |source| StoreError::Storage {
        path: path.to_path_buf(),
        source,
    };
    let stale: Vec<StoreKey> = dest
        .list()
        .map_err(storage_error)?
        .into_iter()
        .filter(|k| {
            let k = k.as_str();
            k != name && !k.starts_with(STAGING_MARK) && !in_grid(&array, k)
        })
        .collect();
    dest.erase_many(&stale).map_err(storage_error)
}

/// True if `key` is the key of a chunk inside `array`'s grid: parsed as chunk
/// indices (v3 `c/1/2` or `c.1.2`, v2 `1.2` or `1/2`) and encoded back to itself.
fn in_grid<S: ?Sized>(array: &Array<S>, key: &str) -> bool {
    let grid = array.chunk_grid_shape();
    let body = key
        .strip_prefix("c/")
        .or_else(|| key.strip_prefix("c."))
        .unwrap_or(key);
    let candidates: Vec<Vec<u64>> = if grid.is_empty() {
        vec![Vec::new()]
    } else {
        ['/', '.']
            .iter()
            .filter_map(|sep| body.split(*sep).map(|p| p.parse().ok()).collect())
            .collect()
    };
    candidates.iter().any(|ix| {
        ix.len() == grid.len()
            && ix.iter().zip(grid).all(|(i, g)| i < g)
            && array.chunk_key(ix).as_str() == key
    })
}

/// True if a Zarr array or group's metadata is at the root of `storage`.
fn has_metadata<S: ReadableStorageTraits + ?Sized>(
    storage: &S,
) -> Result<bool, zarrs::storage::StorageError> {
    for name in ["zarr.json", ".zarray", ".zgroup"] {
        if storage.size_key(&key(name))?.is_some() {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The destination of a staging location (its parent), `None` for any other.
fn destination_of(r: &Remote) -> Option<Remote> {
    let (parent, last) = r.url.path().rsplit_once('/')?;
    if !last.starts_with(STAGING_MARK) {
        return None;
    }
    let mut url = r.url.clone();
    url.set_path(parent);
    Some(Remote { url, ..r.clone() })
}

/// `r`'s URL with `segment` appended to its path.
fn join(r: &Remote, segment: &str) -> url::Url {
    let mut url = r.url.clone();
    let path = format!("{}/{segment}", url.path().trim_end_matches('/'));
    url.set_path(&path);
    url
}
