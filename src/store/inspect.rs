//! [`inspect`]: what `darray info` prints about a stored array, local or remote.

use super::open::open_array;
use super::{StoreError, ZarrArrayInfo};
use serde_json::Value;
use std::fmt;
use std::path::Path;
use zarrs::array::ArrayMetadata;
use zarrs::storage::StorePrefix;

/// A stored array's description: its [`ZarrArrayInfo`], codecs, attributes and the
/// bytes its objects take in the store.
#[derive(Clone, Debug, PartialEq)]
pub struct ArrayReport {
    /// Shape, chunks, dtype, format.
    pub info: ZarrArrayInfo,
    /// The codec pipeline as stored: v3 `codecs`, or v2 `{"filters", "compressor"}`.
    pub codecs: Value,
    /// The array's user attributes.
    pub attributes: serde_json::Map<String, Value>,
    /// The total size of the array's stored objects (metadata and chunks); `None`
    /// where the store cannot list (HTTP).
    pub stored_bytes: Option<u64>,
}

/// Describes the array at `path` (a directory or a URL, see
/// [`open_info`](super::open_info)): one metadata read, plus a listing for the
/// stored size.
///
/// # Errors
/// As [`open_info`](super::open_info).
pub fn inspect(path: &Path) -> Result<ArrayReport, StoreError> {
    let a = open_array(path)?;
    let codecs = match a.array.metadata() {
        ArrayMetadata::V3(m) => serde_json::to_value(&m.codecs).unwrap_or(Value::Null),
        ArrayMetadata::V2(m) => serde_json::json!({
            "filters": serde_json::to_value(&m.filters).unwrap_or(Value::Null),
            "compressor": serde_json::to_value(&m.compressor).unwrap_or(Value::Null),
        }),
    };
    let stored_bytes = a.array.storage().size_prefix(&StorePrefix::root()).ok();
    Ok(ArrayReport {
        codecs,
        attributes: a.array.attributes().clone(),
        stored_bytes,
        info: a.info,
    })
}

impl fmt::Display for ArrayReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let i = &self.info;
        writeln!(f, "location:    {}", i.path.display())?;
        writeln!(f, "zarr_format: {}", i.zarr_format)?;
        writeln!(f, "shape:       {:?}", i.shape)?;
        writeln!(f, "dtype:       {}", i.dtype.numpy_name())?;
        match &i.inner_chunk_shape {
            Some(inner) => {
                writeln!(f, "shards:      {:?}", i.chunk_shape)?;
                writeln!(f, "chunks:      {inner:?}")?;
            }
            None => writeln!(f, "chunks:      {:?}", i.chunk_shape)?,
        }
        writeln!(f, "grid:        {:?}", i.grid_shape())?;
        writeln!(f, "codecs:      {}", self.codecs)?;
        writeln!(f, "attributes:  {}", Value::Object(self.attributes.clone()))?;
        let n: u64 = i.shape.iter().product::<u64>() * i.dtype.size() as u64;
        match self.stored_bytes {
            Some(b) => writeln!(f, "stored:      {b} bytes ({n} bytes uncompressed)"),
            None => writeln!(
                f,
                "stored:      unknown (the store cannot list) ({n} bytes uncompressed)"
            ),
        }
    }
}
