//! TEMPORARY stub; replaced by the store branch.
#![allow(missing_docs, unreachable_pub, dead_code, clippy::all)]
use darray_kernels::{Chunk, DType};
use std::ops::Range;
use std::path::{Path, PathBuf};
#[derive(Debug, thiserror::Error)]
pub enum StoreError { #[error("stub {0}")] Stub(String) }
pub struct ZarrArrayInfo { pub path: PathBuf, pub shape: Vec<u64>, pub chunk_shape: Vec<u64>, pub dtype: DType, pub zarr_format: u8, pub shard_shape: Option<Vec<u64>> }
pub fn open_info(path: &Path) -> Result<ZarrArrayInfo, StoreError> { Err(StoreError::Stub(path.display().to_string())) }
pub struct StoreCache;
impl StoreCache {
    pub fn new() -> Self { StoreCache }
    pub fn read_region(&self, _p: &Path, _r: &[Range<u64>], _d: DType) -> Result<Chunk, StoreError> { Err(StoreError::Stub("read".into())) }
    pub fn write_chunk(&self, _p: &Path, _c: &[u64], _d: &Chunk) -> Result<(), StoreError> { Err(StoreError::Stub("write".into())) }
    pub fn chunks_read(&self) -> u64 { 0 } pub fn bytes_read(&self) -> u64 { 0 } pub fn chunks_written(&self) -> u64 { 0 } pub fn bytes_written(&self) -> u64 { 0 }
}
#[derive(Clone, Debug)] pub enum ZarrFormat { V2, V3 }
#[derive(Clone, Debug)] pub enum Compression { None, Zstd { level: i32 } }
#[derive(Clone, Debug)] pub struct WriteOptions { pub zarr_format: ZarrFormat, pub compression: Compression, pub chunk_shape: Option<Vec<u64>>, pub shard_shape: Option<Vec<u64>>, pub overwrite: bool }
impl Default for WriteOptions { fn default() -> Self { WriteOptions { zarr_format: ZarrFormat::V3, compression: Compression::Zstd { level: 1 }, chunk_shape: None, shard_shape: None, overwrite: false } } }
pub fn create_staging(_p: &Path, _s: &[u64], _g: &[u64], _d: DType, _o: &WriteOptions) -> Result<PathBuf, StoreError> { Err(StoreError::Stub("create".into())) }
pub fn commit_staging(_s: &Path, _p: &Path, _o: bool) -> Result<(), StoreError> { Ok(()) }
pub fn abort_staging(_s: &Path) {}
