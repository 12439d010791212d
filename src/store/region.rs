//! Writing into an existing array: chunks of a region (dask's `region=`), chunks past
//! the end of an array being appended to, and the metadata update that makes an
//! append visible ([`resize`]).
//!
//! An existing array is written in place, chunk by chunk: each chunk file is replaced
//! atomically (written aside, renamed over; see `fs.rs`), so a reader, or a writer
//! killed mid-way, sees every chunk either old or new, never torn. Which chunks a
//! computation writes is the caller's business: the task graph gives each stored chunk
//! to exactly one task. A chunk only partly covered by the region is read, overlaid
//! and written back by that one task ([`StoreCache::write_chunk_in`] with an overlay).
//!
//! An append writes its chunks against the array's *new* shape before the metadata
//! says so: the array is opened here with the new shape in memory, and the chunks
//! past the old end are invisible to readers of the old metadata. [`resize`] then
//! makes them durable and puts the new metadata in place, in one atomic rename.

use super::cache::{chunk_bounds, chunk_error, codec_options, write_typed, StoreCache};
use super::direct::RawElement;
use super::fs::{sync_dir, TMP_MARK};
use super::open::{open_array, OpenArray};
use super::remote::{self, Location};
use super::StoreError;
use darray_kernels::{map_chunk, Chunk, Element};
use ndarray::{ArrayD, Axis, IxDyn, Slice};
use serde_json::Value;
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;
use zarrs::array::{ArraySubset, ElementOwned};

impl StoreCache {
    /// Writes `data` into chunk `chunk_indices` of the array at `path`, taken to have
    /// shape `shape` (its stored shape, or the larger shape an append is about to
    /// give it: see [`resize`]).
    ///
    /// With `overlay: None`, `data` is the whole chunk (clipped to `shape`), as for
    /// [`write_chunk`](Self::write_chunk). With `overlay: Some(ranges)`, `data` covers
    /// only `ranges` (relative to the chunk's origin): the chunk's current content is
    /// read (the fill value where it was never written), `data` laid over it and the
    /// whole chunk written back. The caller must make sure no one else writes that
    /// chunk meanwhile (darray's graphs give each chunk to one task).
    ///
    /// # Errors
    /// As [`write_chunk`](Self::write_chunk); [`StoreError::InvalidRegion`] if
    /// `shape` is smaller than the stored shape or has another number of axes, or an
    /// overlay is outside the chunk; [`StoreError::ShapeMismatch`] if `data` does not
    /// have the overlay's shape.
    pub fn write_chunk_in(
        &self,
        path: &Path,
        shape: &[u64],
        chunk_indices: &[u64],
        overlay: Option<&[Range<u64>]>,
        data: &Chunk,
    ) -> Result<(), StoreError> {
        let a = self.open_with_shape(path, shape)?;
        let Some(overlay) = overlay else {
            return self.write_opened(&a, chunk_indices, data);
        };
        let info = &a.info;
        let bounded = chunk_bounds(info, chunk_indices)?;
        let inside = overlay.len() == bounded.len()
            && overlay
                .iter()
                .zip(&bounded)
                .all(|(o, b)| o.start <= o.end && o.end <= b.end - b.start);
        if !inside {
            return Err(StoreError::InvalidRegion {
                path: path.to_path_buf(),
                region: overlay.to_vec(),
                shape: bounded.iter().map(|b| b.end - b.start).collect(),
            });
        }
        let expected: Vec<u64> = overlay.iter().map(|o| o.end - o.start).collect();
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
        match data.dtype() {
            Some(found) if found != info.dtype => {
                return Err(StoreError::DTypeMismatch {
                    path: path.to_path_buf(),
                    stored: info.dtype,
                    requested: found,
                })
            }
            Some(_) => {}
            None => {
                return Err(StoreError::NotData {
                    path: path.to_path_buf(),
                    chunk: chunk_indices.to_vec(),
                })
            }
        }
        // A float16 array is F32 in memory: rounded to f16 as a whole write is.
        if let (true, Chunk::F32(arr)) = (info.stored_f16, data) {
            let data = arr.mapv(half::f16::from_f32);
            let (merged, full) = overlaid(&a, chunk_indices, &bounded, overlay, &data)?;
            return super::cache::write_f16(&a, chunk_indices, &bounded, full, &merged);
        }
        map_chunk!(
            data,
            arr => overlay_typed(&a, chunk_indices, &bounded, overlay, arr),
            // Not reached: data.dtype() is Some, checked above.
            _ => Err(StoreError::NotData { path: path.to_path_buf(), chunk: chunk_indices.to_vec() })
        )
    }

    /// The array at `path` opened with `shape` in memory (the stored array itself if
    /// that is its shape).
    fn open_with_shape(&self, path: &Path, shape: &[u64]) -> Result<Arc<OpenArray>, StoreError> {
        let stored = self.open(path)?;
        if stored.info.shape == shape {
            return Ok(stored);
        }
        let grows = shape.len() == stored.info.shape.len()
            && shape.iter().zip(&stored.info.shape).all(|(n, s)| n >= s);
        if !grows {
            return Err(StoreError::InvalidRegion {
                path: path.to_path_buf(),
                region: shape.iter().map(|&n| 0..n).collect(),
                shape: stored.info.shape.clone(),
            });
        }
        let key = (path.to_path_buf(), shape.to_vec());
        if let Some(a) = self.resized.read().get(&key) {
            return Ok(Arc::clone(a));
        }
        let mut opened = open_array(path)?;
        opened
            .array
            .set_shape(shape.to_vec())
            .map_err(|e| StoreError::Metadata {
                path: path.to_path_buf(),
                reason: e.to_string(),
            })?;
        opened.info.shape = shape.to_vec();
        Ok(Arc::clone(
            self.resized
                .write()
                .entry(key)
                .or_insert_with(|| Arc::new(opened)),
        ))
    }
}

/// Reads chunk `bounded` of `a`, lays `data` over `overlay` (relative to the chunk)
/// and writes the chunk back.
fn overlay_typed<T: Element + ElementOwned + zarrs::array::Element + RawElement>(
    a: &OpenArray,
    indices: &[u64],
    bounded: &[Range<u64>],
    overlay: &[Range<u64>],
    data: &ArrayD<T>,
) -> Result<(), StoreError> {
    let (merged, full) = overlaid(a, indices, bounded, overlay, data)?;
    write_typed(a, indices, bounded, full, &merged)
}

/// The chunk's stored content (`bounded`) with `data` laid over `overlay`, and
/// whether the chunk is whole (not cut by the array's edge).
fn overlaid<T: ElementOwned + Clone>(
    a: &OpenArray,
    indices: &[u64],
    bounded: &[Range<u64>],
    overlay: &[Range<u64>],
    data: &ArrayD<T>,
) -> Result<(ArrayD<T>, bool), StoreError> {
    let path = &a.info.path;
    let shape: Vec<usize> = bounded.iter().map(|b| to_usize(b.end - b.start)).collect();
    let old = a
        .array
        .retrieve_array_subset_opt::<Vec<T>>(
            &ArraySubset::new_with_ranges(bounded),
            &codec_options(),
        )
        .map_err(|e| chunk_error(path, indices, e))?;
    let mut merged = ArrayD::from_shape_vec(IxDyn(&shape), old).map_err(|e| StoreError::Chunk {
        path: path.clone(),
        chunk: indices.to_vec(),
        reason: e.to_string(),
    })?;
    let mut view = merged.view_mut();
    for (ax, o) in overlay.iter().enumerate() {
        view.slice_axis_inplace(Axis(ax), Slice::from(to_usize(o.start)..to_usize(o.end)));
    }
    view.assign(data);
    let full = bounded
        .iter()
        .zip(&a.info.chunk_shape)
        .all(|(b, &c)| b.end - b.start == c);
    Ok((merged, full))
}

/// A chunk's extent fits in memory, so in `usize` (it was read as one buffer).
fn to_usize(n: u64) -> usize {
    usize::try_from(n).expect("a chunk extent that was read into memory fits in usize")
}

/// Gives the array at `path` the shape `shape`, after an append wrote its new chunks
/// with [`StoreCache::write_chunk_in`]: syncs the array's chunk files, then replaces
/// its metadata document (`zarr.json` or `.zarray`; every other field kept) by one
/// with the new shape, atomically (written aside, synced, renamed over). A crash
/// before the rename leaves the old array, readable as it was.
///
/// # Errors
/// [`StoreError::UnsupportedWrite`] for an object-store URL (not supported yet);
/// errors of [`open_info`](super::open_info); [`StoreError::Metadata`] for a metadata
/// document that is not a JSON object; [`StoreError::Io`] for a failed write, sync
/// or rename.
pub fn resize(path: &Path, shape: &[u64]) -> Result<(), StoreError> {
    super::cache::forget_handed_off(path);
    let local = local_path(path, "resizing")?;
    let info = open_array(&local)?.info;
    sync_chunks(&local)?;
    let file = local.join(if info.zarr_format == 2 {
        ".zarray"
    } else {
        "zarr.json"
    });
    update_json(&file, |doc| {
        doc.insert("shape".to_string(), Value::from(shape.to_vec()));
    })
}

/// Syncs the array's chunk files, so that the chunks an in-place write put there are
/// durable before (for an append) the metadata that reveals them. Temporary files of
/// other writers are left alone (unlike `sync_tree`: the array is live).
///
/// # Errors
/// [`StoreError::UnsupportedWrite`] for an object-store URL; [`StoreError::Io`] if a
/// file or directory cannot be listed or synced.
pub fn sync_chunks(path: &Path) -> Result<(), StoreError> {
    fn walk(dir: &Path) -> Result<(), (std::path::PathBuf, std::io::Error)> {
        for entry in std::fs::read_dir(dir).map_err(|e| (dir.to_path_buf(), e))? {
            let entry = entry.map_err(|e| (dir.to_path_buf(), e))?;
            let p = entry.path();
            let kind = entry.file_type().map_err(|e| (p.clone(), e))?;
            if kind.is_dir() {
                walk(&p)?;
            } else if kind.is_file() && !entry.file_name().to_string_lossy().contains(TMP_MARK) {
                std::fs::File::open(&p)
                    .and_then(|f| f.sync_all())
                    .map_err(|e| (p.clone(), e))?;
            }
        }
        sync_dir(dir)
    }
    let local = local_path(path, "syncing")?;
    walk(&local).map_err(|(path, source)| StoreError::Io {
        path,
        op: "sync",
        source,
    })
}

/// `path` on the local filesystem, or an error for an object store.
fn local_path(path: &Path, what: &str) -> Result<std::path::PathBuf, StoreError> {
    match remote::locate(path)? {
        Location::Local(local) => Ok(local),
        Location::Remote(_) => Err(StoreError::UnsupportedWrite {
            path: path.to_path_buf(),
            reason: format!("{what} an array in an object store is not supported yet"),
        }),
    }
}

/// Rewrites the JSON object in `file` with `edit`, atomically (aside, sync, rename,
/// sync of the directory).
pub(super) fn update_json(
    file: &Path,
    edit: impl FnOnce(&mut serde_json::Map<String, Value>),
) -> Result<(), StoreError> {
    let io = |op: &'static str| {
        move |source| StoreError::Io {
            path: file.to_path_buf(),
            op,
            source,
        }
    };
    let text = std::fs::read(file).map_err(io("read"))?;
    let mut doc: Value = serde_json::from_slice(&text).map_err(|e| StoreError::Metadata {
        path: file.to_path_buf(),
        reason: e.to_string(),
    })?;
    let Some(map) = doc.as_object_mut() else {
        return Err(StoreError::Metadata {
            path: file.to_path_buf(),
            reason: "the metadata document is not a JSON object".to_string(),
        });
    };
    edit(map);
    let bytes = serde_json::to_vec_pretty(&doc).map_err(|e| StoreError::Metadata {
        path: file.to_path_buf(),
        reason: e.to_string(),
    })?;
    write_atomic(file, &bytes)
}

/// Writes `bytes` to `file` through a synced temporary file renamed over it.
pub(super) fn write_atomic(file: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    use std::io::Write;
    let io = |op: &'static str| {
        move |source| StoreError::Io {
            path: file.to_path_buf(),
            op,
            source,
        }
    };
    let name = file
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    let tmp = file.with_file_name(format!(
        "{name}{TMP_MARK}{}",
        super::staging::unique_suffix()
    ));
    let written = std::fs::File::create(&tmp)
        .and_then(|mut f| {
            f.write_all(bytes)?;
            f.sync_all()
        })
        .and_then(|()| std::fs::rename(&tmp, file));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(io("write")(e));
    }
    if let Some(dir) = file.parent() {
        sync_dir(dir).map_err(|(path, source)| StoreError::Io {
            path,
            op: "sync",
            source,
        })?;
    }
    Ok(())
}
