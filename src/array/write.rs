//! Writing into existing Zarr stores: a region of an array (dask's `region=`),
//! appending along an axis, several arrays into one new group in one computation,
//! and the attributes and dimension names of stored arrays.
//!
//! Safety rests on one rule, as for `to_zarr`: each stored chunk is written by
//! exactly one task of a graph, and each chunk file is replaced atomically (see
//! `store/region.rs`), so no two tasks race on a chunk and a reader never sees a
//! torn one.

use super::compute::store_grid;
use super::DArray;
use crate::error::{Error, Result};
use crate::exec::{default_executor, Executor};
use crate::expr::node::Expr;
use crate::expr::select::rechunk_expr;
use crate::ops::write::{lower_writes, region_grid, Target, WriteJob};
use crate::store::{self, WriteOptions, ZarrAttributes};
use darray_kernels::Element;
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

/// Options of [`DArray::to_zarr_region`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RegionOptions {
    /// Accept a region that covers some stored chunks only in part (one not aligned
    /// to the store's chunk grid): those chunks are read, overlaid and written back,
    /// each by the one task that owns it. Off by default, as in dask, because two
    /// *separate* writes whose regions share such a chunk would race on it; only
    /// turn it on when no other writer touches those chunks at the same time.
    pub read_modify_write: bool,
}

impl<T: Element> DArray<T> {
    /// Writes this array into `region` (a range per axis) of the existing Zarr array
    /// at `path`, as dask's `to_zarr(..., region=)`: only the chunks the region
    /// touches are written, in parallel, each by one task.
    ///
    /// The region must lie inside the stored array and have this array's shape,
    /// and the stored dtype must be `T`. It must be aligned to the store's chunk
    /// (or shard) grid — each end a multiple of the chunk size, or the array's end —
    /// unless `opts.read_modify_write` is set; then chunks covered in part are read,
    /// overlaid and written back. Every check runs before anything is written.
    ///
    /// Separate computations (or processes) may write disjoint aligned regions at
    /// the same time. Every chunk file is replaced atomically; a failing write leaves
    /// each chunk old or new, and the chunks already written stay written (as in
    /// dask: there is no rollback of a region).
    ///
    /// ```
    /// use darray::{DArray, RegionOptions, WriteOptions};
    /// let dir = tempfile::tempdir().unwrap();
    /// let path = dir.path().join("x.zarr");
    /// DArray::<f64>::zeros(&[8, 6], [4, 3]).unwrap().to_zarr(&path, &WriteOptions::default()).unwrap();
    /// let ones = DArray::<f64>::ones(&[4, 6], [4, 6]).unwrap();
    /// ones.to_zarr_region(&path, &[4..8, 0..6], &RegionOptions::default()).unwrap();
    /// let back = DArray::<f64>::from_zarr(&path).unwrap().compute().unwrap();
    /// assert_eq!(back.sum(), 24.0);
    /// ```
    ///
    /// # Errors
    /// Errors opening the store; [`Error::DTypeMismatch`] for another stored dtype;
    /// [`Error::InvalidArgument`] for a region of another number of axes or another
    /// shape than this array; [`Error::RegionOutside`] for a region not inside the
    /// stored array; [`Error::RegionMisaligned`] for a misaligned region without the
    /// opt-in; a failing task.
    pub fn to_zarr_region(
        &self,
        path: impl AsRef<Path>,
        region: &[Range<u64>],
        opts: &RegionOptions,
    ) -> Result<()> {
        self.to_zarr_region_with(path, region, opts, default_executor())
    }

    /// [`DArray::to_zarr_region`] on `exec`.
    ///
    /// # Errors
    /// As [`DArray::to_zarr_region`].
    pub fn to_zarr_region_with(
        &self,
        path: impl AsRef<Path>,
        region: &[Range<u64>],
        opts: &RegionOptions,
        exec: &dyn Executor,
    ) -> Result<()> {
        let path = path.as_ref();
        let info = self.stored_info(path)?;
        let name = || self.expr.name.clone();
        let shown = || path.display().to_string();
        if region.len() != info.shape.len() {
            return Err(Error::InvalidArgument {
                array: name(),
                reason: format!(
                    "region {region:?} has {} axes, Zarr array `{}` has {}",
                    region.len(),
                    shown(),
                    info.shape.len()
                ),
            });
        }
        if region
            .iter()
            .zip(&info.shape)
            .any(|(r, &s)| r.start > r.end || r.end > s)
        {
            return Err(Error::RegionOutside {
                array: name(),
                path: shown(),
                region: region.to_vec(),
                shape: info.shape.clone(),
            });
        }
        let lens: Vec<u64> = region.iter().map(|r| r.end - r.start).collect();
        if lens.len() != self.ndim() || lens.iter().zip(self.shape()).any(|(&l, &n)| l != n as u64)
        {
            return Err(Error::InvalidArgument {
                array: name(),
                reason: format!(
                    "region {region:?} of Zarr array `{}` has shape {lens:?}, the array {:?}",
                    shown(),
                    self.shape()
                ),
            });
        }
        let misaligned = region
            .iter()
            .zip(&info.chunk_shape)
            .zip(&info.shape)
            .position(|((r, &c), &s)| {
                r.start != r.end && (r.start % c != 0 || (r.end % c != 0 && r.end != s))
            });
        if let (Some(axis), false) = (misaligned, opts.read_modify_write) {
            return Err(Error::RegionMisaligned {
                array: name(),
                path: shown(),
                axis,
                region: region.to_vec(),
                chunk_shape: info.chunk_shape.clone(),
            });
        }
        let start: Vec<u64> = region.iter().map(|r| r.start).collect();
        if !store::is_url(&path.to_string_lossy()) {
            // Best effort: a dead writer's leftovers must not fail this write.
            let _ = store::clean_chunk_temps(path);
        }
        self.write_into(path, &start, &info.chunk_shape, info.shape.clone(), exec)?;
        if !store::is_url(&path.to_string_lossy()) {
            store::sync_chunks(path)?;
        }
        Ok(())
    }

    /// Appends this array to the existing Zarr array at `path` along `axis`, as
    /// xarray's `to_zarr(append_dim=)`: the new chunks are written first (the
    /// stored array's last chunk, if partial, is read, completed and rewritten by
    /// one task), then the metadata's shape is updated, so a crash mid-write
    /// leaves the old array readable as it was.
    ///
    /// Two appends to one array must not run at the same time. Local stores only
    /// for now.
    ///
    /// ```
    /// use darray::{DArray, WriteOptions};
    /// let dir = tempfile::tempdir().unwrap();
    /// let path = dir.path().join("x.zarr");
    /// DArray::<i32>::zeros(&[5, 2], [2, 2]).unwrap().to_zarr(&path, &WriteOptions::default()).unwrap();
    /// DArray::<i32>::ones(&[3, 2], [3, 2]).unwrap().append_to_zarr(&path, 0).unwrap();
    /// let back = DArray::<i32>::from_zarr(&path).unwrap();
    /// assert_eq!(back.shape(), &[8, 2]);
    /// assert_eq!(back.compute().unwrap().sum(), 6);
    /// ```
    ///
    /// # Errors
    /// Errors opening the store; [`Error::DTypeMismatch`] for another stored dtype;
    /// [`Error::AxisOutOfRange`]; [`Error::InvalidArgument`] if the other axes'
    /// lengths differ from the stored array's; an object-store URL
    /// ([`StoreError::UnsupportedWrite`](crate::store::StoreError::UnsupportedWrite));
    /// a failing task (the stored metadata is then unchanged).
    pub fn append_to_zarr(&self, path: impl AsRef<Path>, axis: usize) -> Result<()> {
        self.append_to_zarr_with(path, axis, default_executor())
    }

    /// [`DArray::append_to_zarr`] on `exec`.
    ///
    /// # Errors
    /// As [`DArray::append_to_zarr`].
    pub fn append_to_zarr_with(
        &self,
        path: impl AsRef<Path>,
        axis: usize,
        exec: &dyn Executor,
    ) -> Result<()> {
        let path = path.as_ref();
        if store::is_url(&path.to_string_lossy()) {
            return Err(store::StoreError::UnsupportedWrite {
                path: path.to_path_buf(),
                reason: "appending to an array in an object store is not supported yet".to_string(),
            }
            .into());
        }
        let info = self.stored_info(path)?;
        if axis >= self.ndim() {
            return Err(Error::AxisOutOfRange {
                array: self.expr.name.clone(),
                axis: isize::try_from(axis).unwrap_or(isize::MAX),
                ndim: self.ndim(),
            });
        }
        let others_match = info.shape.len() == self.ndim()
            && (0..self.ndim()).all(|a| a == axis || info.shape[a] == self.shape()[a] as u64);
        if !others_match {
            return Err(Error::InvalidArgument {
                array: self.expr.name.clone(),
                reason: format!(
                    "cannot append shape {:?} along axis {axis} to Zarr array `{}` of shape {:?}: \
                     the other axes must match",
                    self.shape(),
                    path.display(),
                    info.shape
                ),
            });
        }
        let n = self.shape()[axis] as u64;
        if n == 0 {
            return Ok(());
        }
        let mut new_shape = info.shape.clone();
        new_shape[axis] += n;
        let mut start = vec![0; self.ndim()];
        start[axis] = info.shape[axis];
        // Best effort, as for a region write.
        let _ = store::clean_chunk_temps(path);
        self.write_into(path, &start, &info.chunk_shape, new_shape.clone(), exec)?;
        Ok(store::resize(path, &new_shape)?)
    }

    /// The user attributes of the Zarr array this array was opened from
    /// ([`DArray::from_zarr`]; `.zattrs` for v2, `attributes` for v3), read afresh
    /// from the store; without xarray's `_ARRAY_DIMENSIONS` (see
    /// [`DArray::dimension_names`]). An array not read straight from a store
    /// (computed, sliced, ...) has none: an empty map.
    ///
    /// ```
    /// use darray::{DArray, WriteOptions};
    /// let dir = tempfile::tempdir().unwrap();
    /// let path = dir.path().join("t.zarr");
    /// let mut opts = WriteOptions::default();
    /// opts.attributes.insert("units".into(), "K".into());
    /// opts.dimension_names = Some(vec!["time".into()]);
    /// DArray::<f32>::ones(&[3], [3]).unwrap().to_zarr(&path, &opts).unwrap();
    /// let t = DArray::<f32>::from_zarr(&path).unwrap();
    /// assert_eq!(t.attributes().unwrap()["units"], "K");
    /// assert_eq!(t.dimension_names().unwrap(), Some(vec![Some("time".to_string())]));
    /// ```
    ///
    /// # Errors
    /// Errors reading the store's metadata.
    pub fn attributes(&self) -> Result<serde_json::Map<String, serde_json::Value>> {
        Ok(self.zarr_attributes()?.attributes)
    }

    /// The dimension names of the Zarr array this array was opened from (v3
    /// `dimension_names`, or v2's `_ARRAY_DIMENSIONS` attribute as xarray writes
    /// it); `None` if it has none or the array was not read straight from a store.
    ///
    /// # Errors
    /// Errors reading the store's metadata.
    pub fn dimension_names(&self) -> Result<Option<Vec<Option<String>>>> {
        Ok(self.zarr_attributes()?.dimension_names)
    }

    /// Opens member `member` (a path inside the group, like `"group/temp"`) of the
    /// Zarr group at `path`; the same as [`DArray::from_zarr`] of
    /// `path/member`, which works too. For a URL, the member's metadata comes
    /// from the group's consolidated metadata when it has them (one request, here
    /// and on each worker; see [`store::consolidate_metadata`]).
    ///
    /// # Errors
    /// As [`DArray::from_zarr`]; [`Error::InvalidArgument`] for a member path that
    /// is empty, absolute or climbs out of the group (`..`).
    pub fn from_zarr_member(path: impl AsRef<Path>, member: &str) -> Result<Self> {
        let path = path.as_ref();
        let climbs = member.split('/').any(|part| part == ".." || part == ".");
        if member.trim_matches('/').is_empty() || member.starts_with('/') || climbs {
            return Err(Error::InvalidArgument {
                array: path.display().to_string(),
                reason: format!("group member path `{member}` must be relative, inside the group"),
            });
        }
        let text = path.to_string_lossy();
        if store::is_url(&text) {
            // Through the group's consolidated metadata if it has them: one request.
            return Self::from_zarr(store::consolidated_member_url(&text, member));
        }
        Self::from_zarr(path.join(member))
    }

    fn zarr_attributes(&self) -> Result<ZarrAttributes> {
        match &self.expr.kind {
            crate::expr::node::ExprKind::Zarr { path } => Ok(store::attributes(path)?),
            _ => Ok(ZarrAttributes::default()),
        }
    }

    /// The stored array at `path`, checked to hold `T`.
    fn stored_info(&self, path: &Path) -> Result<store::ZarrArrayInfo> {
        let info = store::open_info(path)?;
        if info.dtype != T::DTYPE {
            return Err(Error::DTypeMismatch {
                array: self.expr.name.clone(),
                expected: info.dtype,
                found: T::DTYPE,
            });
        }
        Ok(info)
    }

    /// Writes this array at `start` of the array at `path` (stored in chunks of
    /// `chunk_shape`), taken to have `shape`.
    fn write_into(
        &self,
        path: &Path,
        start: &[u64],
        chunk_shape: &[u64],
        shape: Vec<u64>,
        exec: &dyn Executor,
    ) -> Result<()> {
        if self.shape().contains(&0) {
            return Ok(());
        }
        let grid = region_grid(start, self.shape(), chunk_shape);
        let arr = rechunk_expr(&self.expr, grid.clone());
        let graph = lower_writes(
            &[WriteJob {
                arr: &arr,
                grid: &grid,
                target: Target::Region {
                    path: path.display().to_string(),
                    start: start.to_vec(),
                    chunk_shape: chunk_shape.to_vec(),
                    shape,
                },
            }],
            exec.memory_budget(),
        )?;
        exec.execute(&graph)?;
        Ok(())
    }
}

/// An array to write as a member of a Zarr group with [`to_zarr_group`]: a
/// [`DArray`] (written with the group's options), or a [`DArray`] with options of
/// its own ([`DArray::zarr_member`]).
///
/// The method is the crate's plumbing.
pub trait ZarrMember {
    #[doc(hidden)]
    fn member_plan(&self) -> MemberPlan;
}

/// What [`to_zarr_group`] needs of a member (plumbing of [`ZarrMember`]).
#[doc(hidden)]
pub struct MemberPlan {
    expr: Arc<Expr>,
    opts: Option<WriteOptions>,
}

impl<T: Element> ZarrMember for DArray<T> {
    fn member_plan(&self) -> MemberPlan {
        MemberPlan {
            expr: self.expr.clone(),
            opts: None,
        }
    }
}

/// A [`DArray`] with the options it is written with as a group member (see
/// [`DArray::zarr_member`]).
#[derive(Clone, Debug)]
pub struct Member<'a, T: Element> {
    array: &'a DArray<T>,
    opts: WriteOptions,
}

impl<T: Element> ZarrMember for Member<'_, T> {
    fn member_plan(&self) -> MemberPlan {
        MemberPlan {
            expr: self.array.expr.clone(),
            opts: Some(self.opts.clone()),
        }
    }
}

impl<T: Element> DArray<T> {
    /// This array as a member of a group written by [`to_zarr_group`], with its own
    /// chunk shape, compression, attributes and dimension names (the group's Zarr
    /// format and `overwrite` apply whatever `opts` say).
    pub fn zarr_member(&self, opts: &WriteOptions) -> Member<'_, T> {
        Member {
            array: self,
            opts: opts.clone(),
        }
    }
}

/// Writes several arrays as members of a new Zarr group at `path`, in one
/// computation: one graph, so what they share (a store read, a common
/// sub-expression) is computed once. The group appears at `path` only once every
/// member is written, as for [`DArray::to_zarr`] (local stores only for now).
///
/// `opts` gives the group's Zarr format, `overwrite`, and the group's own
/// attributes; members written as plain arrays take its compression and their own
/// chunks, members given through [`DArray::zarr_member`] their own options
/// (attributes, dimension names, chunks).
///
/// ```
/// use darray::{DArray, WriteOptions};
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("weather.zarr");
/// let temp = DArray::<f64>::random_uniform(1, &[4, 3], 250.0, 300.0, [2, 3]).unwrap();
/// let wind = temp.sub(250.0).unwrap();
/// let mut kelvin = WriteOptions::default();
/// kelvin.attributes.insert("units".into(), "K".into());
/// kelvin.dimension_names = Some(vec!["time".into(), "x".into()]);
/// darray::to_zarr_group(&path, &[("temp", &temp.zarr_member(&kelvin)), ("wind", &wind)],
///     &WriteOptions::default()).unwrap();
/// let t = DArray::<f64>::from_zarr_member(&path, "temp").unwrap();
/// assert_eq!(t.attributes().unwrap()["units"], "K");
/// ```
///
/// # Errors
/// [`StoreError::Exists`](crate::store::StoreError::Exists) for an existing
/// `path` without `opts.overwrite`; `InvalidOptions` for a bad member name, a name
/// given twice or invalid options; an object-store URL
/// ([`StoreError::UnsupportedWrite`](crate::store::StoreError::UnsupportedWrite));
/// a failing task (nothing is then left at `path`).
pub fn to_zarr_group(
    path: impl AsRef<Path>,
    members: &[(&str, &dyn ZarrMember)],
    opts: &WriteOptions,
) -> Result<()> {
    to_zarr_group_with(path, members, opts, default_executor())
}

/// [`to_zarr_group`] on `exec`.
///
/// # Errors
/// As [`to_zarr_group`].
pub fn to_zarr_group_with(
    path: impl AsRef<Path>,
    members: &[(&str, &dyn ZarrMember)],
    opts: &WriteOptions,
    exec: &dyn Executor,
) -> Result<()> {
    let path = path.as_ref();
    let staging =
        store::create_group_staging(path, opts.zarr_format, &opts.attributes, opts.overwrite)?;
    let run = || -> Result<()> {
        let mut planned = Vec::with_capacity(members.len());
        for (name, member) in members {
            let plan = member.member_plan();
            let mut member_opts = plan.opts.unwrap_or_else(|| WriteOptions {
                attributes: serde_json::Map::new(),
                dimension_names: None,
                chunk_shape: None,
                ..opts.clone()
            });
            member_opts.zarr_format = opts.zarr_format;
            member_opts.overwrite = false;
            let grid = store_grid(&plan.expr, &member_opts)?;
            let arr = rechunk_expr(&plan.expr, grid.clone());
            let write_grid: Vec<u64> = grid.iter().map(|g| g[0].max(1) as u64).collect();
            let shape: Vec<u64> = plan.expr.shape.iter().map(|&s| s as u64).collect();
            let dir = store::create_member(
                &staging,
                name,
                &shape,
                &write_grid,
                plan.expr.dtype,
                &member_opts,
            )?;
            planned.push((arr, grid, dir));
        }
        let jobs: Vec<WriteJob<'_>> = planned
            .iter()
            .map(|(arr, grid, dir)| WriteJob {
                arr,
                grid,
                target: Target::Whole {
                    path: dir.display().to_string(),
                },
            })
            .collect();
        let graph = lower_writes(&jobs, exec.memory_budget())?;
        exec.execute(&graph)?;
        if opts.consolidated {
            store::consolidate_metadata(&staging)?;
        }
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
