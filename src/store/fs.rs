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
        let path = self.inner.key_to_fspath(key);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let mut file = std::fs::File::create(&path)?;
        file.write_all(&value)?;
        Ok(())
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

/// Syncs every file and directory under `dir` (and `dir` itself) to disk, so that a
/// rename of `dir` afterwards publishes complete, durable contents. Directories are
/// synced after their entries, so each directory's entry list is durable too.
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
