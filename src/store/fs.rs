//! [`FsStore`]: zarrs' filesystem store with chunk writes that do not `fsync`, and the
//! one-time sync that makes a finished staging directory durable ([`sync_tree`]).
//!
//! `zarrs_filesystem`'s `set` calls `File::sync_all` after every chunk, which made a
//! 1 GiB copy spend 3.1 s waiting on the disk, one chunk at a time. darray writes
//! new arrays only into staging directories (see `create.rs`): nothing reads them
//! until [`commit_staging`](super::commit_staging) renames them into place, so
//! durability is needed once, at that commit, not per chunk. The commit syncs every
//! file and directory of the staging tree before the rename, then the parent
//! directory after it.

use std::io::Write;
use std::path::Path;
use zarrs::filesystem::FilesystemStore;
use zarrs::storage::byte_range::ByteRangeIterator;
use zarrs::storage::{
    Bytes, ListableStorageTraits, MaybeBytesIterator, OffsetBytesIterator, ReadableStorageTraits,
    StorageError, StoreKey, StoreKeys, StoreKeysPrefixes, StorePrefix, WritableStorageTraits,
};

/// A [`FilesystemStore`] whose whole-value writes (`set`, what a chunk or shard write
/// is) skip the per-write `fsync`. Reads, erases, listing and partial writes go to the
/// inner store unchanged.
///
/// A value written here is durable only after [`sync_tree`] (which
/// [`commit_staging`](super::commit_staging) runs) or another sync of its file.
/// Concurrent writes of one key are not ordered (the inner store's per-key lock is not
/// taken): darray never has two tasks write the same chunk or shard.
#[derive(Debug)]
pub(super) struct FsStore {
    inner: FilesystemStore,
}

impl FsStore {
    pub(super) fn new(inner: FilesystemStore) -> Self {
        Self { inner }
    }

    /// The file that holds `key`.
    pub(super) fn key_to_fspath(&self, key: &StoreKey) -> std::path::PathBuf {
        self.inner.key_to_fspath(key)
    }

    /// Writes `value` as the whole value of `key`, atomically: into a temporary
    /// file unique to this write, then renamed over the key's file. No `fsync`
    /// (see [`sync_tree`]).
    pub(super) fn set_bytes(&self, key: &StoreKey, value: &[u8]) -> std::io::Result<()> {
        let path = self.inner.key_to_fspath(key);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        // Write under a name unique to this write, then rename over the key: a task
        // killed mid-write leaves at most a stale temporary file (removed by
        // `sync_tree` at commit), never a torn chunk, and never blocks a retry.
        let tmp = temp_name(&path);
        let written = std::fs::File::create(&tmp)
            .and_then(|mut file| {
                file.write_all(value)?;
                start_writeback(&file);
                Ok(())
            })
            .and_then(|()| std::fs::rename(&tmp, &path));
        if let Err(e) = written {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
        Ok(())
    }
}

impl ReadableStorageTraits for FsStore {
    fn get_partial_many<'a>(
        &'a self,
        key: &StoreKey,
        byte_ranges: ByteRangeIterator<'a>,
    ) -> Result<MaybeBytesIterator<'a>, StorageError> {
        self.inner.get_partial_many(key, byte_ranges)
    }

    fn size_key(&self, key: &StoreKey) -> Result<Option<u64>, StorageError> {
        self.inner.size_key(key)
    }

    fn supports_get_partial(&self) -> bool {
        self.inner.supports_get_partial()
    }
}

impl WritableStorageTraits for FsStore {
    fn set(&self, key: &StoreKey, value: Bytes) -> Result<(), StorageError> {
        Ok(self.set_bytes(key, &value)?)
    }

    fn set_partial_many(
        &self,
        key: &StoreKey,
        offset_values: OffsetBytesIterator,
    ) -> Result<(), StorageError> {
        self.inner.set_partial_many(key, offset_values)
    }

    fn erase(&self, key: &StoreKey) -> Result<(), StorageError> {
        self.inner.erase(key)
    }

    fn erase_prefix(&self, prefix: &StorePrefix) -> Result<(), StorageError> {
        self.inner.erase_prefix(prefix)
    }

    fn supports_set_partial(&self) -> bool {
        self.inner.supports_set_partial()
    }
}

impl ListableStorageTraits for FsStore {
    fn list(&self) -> Result<StoreKeys, StorageError> {
        self.inner.list()
    }

    fn list_prefix(&self, prefix: &StorePrefix) -> Result<StoreKeys, StorageError> {
        self.inner.list_prefix(prefix)
    }

    fn list_dir(&self, prefix: &StorePrefix) -> Result<StoreKeysPrefixes, StorageError> {
        self.inner.list_dir(prefix)
    }

    fn size_prefix(&self, prefix: &StorePrefix) -> Result<u64, StorageError> {
        self.inner.size_prefix(prefix)
    }
}

/// Starts writing `file`'s dirty pages to disk without waiting for it (Linux's
/// `sync_file_range` with `SYNC_FILE_RANGE_WRITE`), so that the one `fsync` of the
/// commit finds the data mostly on disk already instead of flushing the whole
/// array at the end. Only a hint: errors are ignored (the commit's sync reports
/// them), and elsewhere it does nothing.
fn start_writeback(file: &std::fs::File) {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        // SAFETY: a valid open descriptor; offset 0 with length 0 means the whole
        // file; the call only schedules writeback and touches no memory of ours.
        unsafe {
            libc::sync_file_range(file.as_raw_fd(), 0, 0, libc::SYNC_FILE_RANGE_WRITE);
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = file;
}

/// Marks the temporary file of a chunk write in progress (see [`FsStore::set`]).
pub(super) const TMP_MARK: &str = ".darray-tmp-";

/// `path` with a suffix unique to this write that names this process (as a
/// staging directory's, see `staging.rs`): `{file}.darray-tmp-{suffix}`, so that
/// [`clean_chunk_temps`](super::clean_chunk_temps) can tell a dead writer's file.
fn temp_name(path: &Path) -> std::path::PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!("{TMP_MARK}{}", super::staging::unique_suffix()));
    path.with_file_name(name)
}

/// Syncs every file and directory under `dir` (and `dir` itself) to disk, so that a
/// rename of `dir` afterwards publishes complete, durable contents. Directories are
/// synced after their entries, so each directory's entry list is durable too.
/// Temporary files of chunk writes that never finished (their task was killed) are
/// removed instead.
///
/// # Errors
/// The first I/O error, with the path it happened on.
pub(super) fn sync_tree(dir: &Path) -> Result<(), (std::path::PathBuf, std::io::Error)> {
    for entry in std::fs::read_dir(dir).map_err(|e| (dir.to_path_buf(), e))? {
        let entry = entry.map_err(|e| (dir.to_path_buf(), e))?;
        let path = entry.path();
        let kind = entry.file_type().map_err(|e| (path.clone(), e))?;
        if kind.is_dir() {
            sync_tree(&path)?;
        } else if kind.is_file() && entry.file_name().to_string_lossy().contains(TMP_MARK) {
            std::fs::remove_file(&path).map_err(|e| (path.clone(), e))?;
        } else if kind.is_file() {
            std::fs::File::open(&path)
                .and_then(|f| f.sync_all())
                .map_err(|e| (path.clone(), e))?;
        }
    }
    sync_dir(dir)
}

/// `fsync` of a directory, which makes its entries (created, renamed) durable. Unix
/// only: elsewhere a directory cannot be opened as a file, and renames are not made
/// durable this way.
pub(super) fn sync_dir(dir: &Path) -> Result<(), (std::path::PathBuf, std::io::Error)> {
    if cfg!(unix) {
        std::fs::File::open(dir)
            .and_then(|f| f.sync_all())
            .map_err(|e| (dir.to_path_buf(), e))?;
    }
    Ok(())
}
