//! Attributes of stored arrays ([`attributes`]) and new Zarr groups holding several
//! arrays, created atomically like a single array ([`create_group_staging`],
//! [`create_member`], then [`commit_staging`](super::commit_staging) of the group).

use super::create::{
    check_destination, check_layout, metadata_json, store_metadata, v2_attributes, WriteOptions,
    ZarrFormat,
};
use super::open::open_array;
use super::remote::{self, Location};
use super::staging::{clean_beside, unique_suffix, STAGING_MARK};
use super::StoreError;
use darray_kernels::DType;
use serde_json::{json, Map, Value};
use std::path::{Path, PathBuf};

/// The user attributes and dimension names of a stored array.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ZarrAttributes {
    /// User attributes (v3 `attributes`, v2 `.zattrs`), without the
    /// `_ARRAY_DIMENSIONS` entry of v2 arrays (see `dimension_names`).
    pub attributes: Map<String, Value>,
    /// One name (or `None`) per axis: v3 `dimension_names`, or v2's
    /// `_ARRAY_DIMENSIONS` attribute (xarray's convention); `None` if the array has
    /// neither.
    pub dimension_names: Option<Vec<Option<String>>>,
}

/// Reads the attributes and dimension names of the array at `path` (a directory or
/// URL, as for [`open_info`](super::open_info)).
///
/// # Errors
/// As [`open_info`](super::open_info).
pub fn attributes(path: &Path) -> Result<ZarrAttributes, StoreError> {
    let a = open_array(path)?;
    let mut attributes = a.array.attributes().clone();
    if a.info.zarr_format == 2 && attributes.is_empty() {
        // Whether zarrs loaded `.zattrs` with the `.zarray` depends on how it was
        // opened; the file itself is the reference.
        if let Ok(Location::Local(local)) = remote::locate(path) {
            if let Ok(text) = std::fs::read(local.join(".zattrs")) {
                attributes = serde_json::from_slice(&text).map_err(|e| StoreError::Metadata {
                    path: path.to_path_buf(),
                    reason: format!(".zattrs: {e}"),
                })?;
            }
        }
    }
    let from_attrs = attributes
        .remove("_ARRAY_DIMENSIONS")
        .and_then(|v| serde_json::from_value::<Vec<Option<String>>>(v).ok());
    let dimension_names = a.array.dimension_names().clone().or(from_attrs);
    Ok(ZarrAttributes {
        attributes,
        dimension_names,
    })
}

/// Creates a staging directory for a new Zarr group at `path` (in `path`'s parent,
/// as [`create_staging`](super::create_staging) does for an array) holding the group
/// document of `format` with `attributes`, and returns it. Add members with
/// [`create_member`], write their chunks, then
/// [`commit_staging`](super::commit_staging) the group (or
/// [`abort_staging`](super::abort_staging) it).
///
/// # Errors
/// [`StoreError::UnsupportedWrite`] for an object-store URL (not supported yet);
/// [`StoreError::Exists`] as for [`create_staging`](super::create_staging);
/// [`StoreError::Io`] if the directory or document cannot be written.
pub fn create_group_staging(
    path: &Path,
    format: ZarrFormat,
    attributes: &Map<String, Value>,
    overwrite: bool,
) -> Result<PathBuf, StoreError> {
    let local = match remote::locate(path)? {
        Location::Local(local) => local,
        Location::Remote(_) => {
            return Err(StoreError::UnsupportedWrite {
                path: path.to_path_buf(),
                reason: "writing a group to an object store is not supported yet".to_string(),
            })
        }
    };
    check_destination(&local, overwrite)?;
    let name = local
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| StoreError::InvalidOptions {
            path: path.to_path_buf(),
            reason: "the path must end in a UTF-8 directory name".to_string(),
        })?
        .to_string();
    let parent = match local.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let io = |path: &Path, op: &'static str| {
        let path = path.to_path_buf();
        move |source| StoreError::Io { path, op, source }
    };
    std::fs::create_dir_all(&parent).map_err(io(&parent, "create directory"))?;
    clean_beside(&parent, &name);
    let staging = parent.join(format!(".{name}{STAGING_MARK}{}", unique_suffix()));
    std::fs::create_dir(&staging).map_err(io(&staging, "create directory"))?;
    let written = match format {
        ZarrFormat::V2 => {
            let zgroup = staging.join(".zgroup");
            std::fs::write(&zgroup, b"{\n  \"zarr_format\": 2\n}")
                .map_err(io(&zgroup, "write"))
                .and_then(|()| {
                    if attributes.is_empty() {
                        return Ok(());
                    }
                    let zattrs = staging.join(".zattrs");
                    serde_json::to_vec_pretty(attributes)
                        .map_err(std::io::Error::other)
                        .and_then(|text| std::fs::write(&zattrs, text))
                        .map_err(io(&zattrs, "write"))
                })
        }
        ZarrFormat::V3 => {
            let doc = json!({"zarr_format": 3, "node_type": "group", "attributes": attributes});
            let file = staging.join("zarr.json");
            serde_json::to_vec_pretty(&doc)
                .map_err(std::io::Error::other)
                .and_then(|text| std::fs::write(&file, text))
                .map_err(io(&file, "write"))
        }
    };
    if let Err(e) = written {
        super::abort_staging(&staging);
        return Err(e);
    }
    Ok(staging)
}

/// Creates the metadata of member array `name` of shape `shape` and `dtype` inside
/// the group staging directory `group` (made by [`create_group_staging`]) and
/// returns the member's directory, to write chunks into as for
/// [`create_staging`](super::create_staging).
///
/// # Errors
/// [`StoreError::InvalidOptions`] for a name that is not one plain path segment
/// (empty, `/`, a leading `.`), or invalid options; [`StoreError::Exists`] for a name given twice;
/// [`StoreError::Io`] if the directory cannot be created.
pub fn create_member(
    group: &Path,
    name: &str,
    shape: &[u64],
    write_grid: &[u64],
    dtype: DType,
    opts: &WriteOptions,
) -> Result<PathBuf, StoreError> {
    let dir = group.join(name);
    let invalid = |reason: String| StoreError::InvalidOptions {
        path: dir.clone(),
        reason,
    };
    if name.is_empty() || name.starts_with('.') || name.contains(['/', '\\']) {
        return Err(invalid(format!(
            "group member name `{name}` must be one path segment not starting with `.`"
        )));
    }
    check_layout(shape, write_grid, opts).map_err(invalid)?;
    match std::fs::create_dir(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(StoreError::Exists {
                path: dir.clone(),
                reason: format!("member `{name}` is given twice"),
            })
        }
        Err(source) => {
            return Err(StoreError::Io {
                path: dir.clone(),
                op: "create directory",
                source,
            })
        }
    }
    let metadata = metadata_json(shape, write_grid, dtype, opts);
    store_metadata(&dir, &metadata, &v2_attributes(opts)).map_err(invalid)?;
    Ok(dir)
}
