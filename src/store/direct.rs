//! Decoding one whole stored chunk straight into the result's buffer, and encoding one
//! from the array's buffer, for the layouts darray writes by default: an unsharded
//! chunk of little-endian elements, stored raw or as zstd frames (v2 or v3).
//!
//! Why not zarrs: its `retrieve_chunk` reads the file into a fresh buffer, zstd
//! decompresses into a second fresh buffer, and `Vec<T>` output copies that into a
//! third. Its `*_into` variants save none of this for a compressed chunk (the codec
//! chain still decompresses into a temporary, then copies into the view). For a
//! 32 MiB chunk those are three fresh allocations, each served by `mmap` and paid
//! for in page faults, and one extra copy. Here the file is read into a per-thread
//! buffer that is reused across chunks, and zstd decompresses straight into the
//! output. Everything else (sharding, other codecs, big-endian or transposed data,
//! edge chunks, missing chunks) goes through zarrs, which stays the reference: the
//! store tests read every layout both ways against zarr-python.

use super::fs::FsStore;
use super::open::OpenArray;
use super::StoreError;
use std::cell::RefCell;
use std::io::Read;
use zarrs::array::codec::api::CodecMetadataOptions;
use zarrs::array::codec::{BytesCodec, ZstdCodec};
use zarrs::array::Array;
use zarrs::plugin::ZarrVersion;

/// How a stored chunk's file maps to its elements when darray decodes it itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum DirectCodec {
    /// The file is the chunk's elements, little-endian, in C order.
    Raw,
    /// The file is zstd frames of the chunk's elements, little-endian, in C order,
    /// written at `level`, with a content checksum if `checksum`.
    Zstd {
        /// The compression level of the array's zstd codec.
        level: i32,
        /// Whether written frames carry a content checksum.
        checksum: bool,
    },
}

/// The direct codec of `array`, if its chunks can be decoded without zarrs: no
/// storage transformers, no array-to-array codec (transpose, ...), the `bytes` codec
/// in little-endian order on a little-endian target, then nothing or one `zstd`.
/// `bool` arrays are left to zarrs, which checks every byte is 0 or 1.
pub(super) fn direct_codec<S: ?Sized>(array: &Array<S>, converted: bool) -> Option<DirectCodec> {
    if converted || cfg!(target_endian = "big") {
        return None;
    }
    if !array.storage_transformers().create_metadatas().is_empty() {
        return None;
    }
    let codecs = array.codecs();
    if !codecs.array_to_array_codecs().is_empty() {
        return None;
    }
    let bytes = codecs.array_to_bytes_codec();
    bytes.as_any().downcast_ref::<BytesCodec>()?;
    let config = bytes.configuration(ZarrVersion::V3, &CodecMetadataOptions::default());
    let endian = config.as_ref().and_then(|c| c.get("endian"));
    if !matches!(endian.and_then(|e| e.as_str()), None | Some("little")) {
        return None;
    }
    match codecs.bytes_to_bytes_codecs() {
        [] => Some(DirectCodec::Raw),
        [only] if only.as_any().downcast_ref::<ZstdCodec>().is_some() => {
            let config = only.configuration(ZarrVersion::V3, &CodecMetadataOptions::default())?;
            let level = i32::try_from(config.get("level")?.as_i64()?).ok()?;
            let checksum =
                config.get("checksum").and_then(serde_json::Value::as_bool) == Some(true);
            Some(DirectCodec::Zstd { level, checksum })
        }
        _ => None,
    }
}

thread_local! {
    /// The encoded bytes of the last chunk this thread read. It keeps the capacity of
    /// the largest encoded chunk read on this thread (reused, so no fresh pages per
    /// chunk); it is freed when the thread ends (executor pools end with the executor).
    static ENCODED: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Decodes the stored chunk at `indices` of `a` into `out` (the chunk's elements as
/// bytes, exactly the chunk's size). Returns `Ok(false)`, with `out` untouched, if the
/// chunk is not stored (the caller reads it as the fill value).
///
/// # Errors
/// [`StoreError::Io`] if the file cannot be read; [`StoreError::Chunk`] if it does not
/// decode to exactly `out.len()` bytes.
pub(super) fn read_chunk(
    a: &OpenArray,
    store: &FsStore,
    codec: DirectCodec,
    indices: &[u64],
    out: &mut [u8],
) -> Result<bool, StoreError> {
    let file_path = store.key_to_fspath(&a.array.chunk_key(indices));
    let io = |op: &'static str| {
        let file_path = file_path.clone();
        move |source| StoreError::Io {
            path: file_path,
            op,
            source,
        }
    };
    let mut file = match std::fs::File::open(&file_path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(io("open")(e)),
    };
    let bad = |reason: String| StoreError::Chunk {
        path: a.info.path.clone(),
        chunk: indices.to_vec(),
        reason,
    };
    match codec {
        DirectCodec::Raw => {
            let len = file.metadata().map_err(io("stat"))?.len();
            if len != out.len() as u64 {
                return Err(bad(format!(
                    "the stored chunk has {len} bytes, expected {}",
                    out.len()
                )));
            }
            file.read_exact(out).map_err(io("read"))?;
        }
        DirectCodec::Zstd { .. } => ENCODED.with_borrow_mut(|encoded| {
            encoded.clear();
            file.read_to_end(encoded).map_err(io("read"))?;
            decompress(encoded, out).map_err(bad)
        })?,
    }
    Ok(true)
}

/// Decompresses the zstd frames `encoded` into `out`, which they must fill exactly.
fn decompress(encoded: &[u8], out: &mut [u8]) -> Result<(), String> {
    match zstd::bulk::decompress_to_buffer(encoded, out) {
        Ok(n) if n == out.len() => Ok(()),
        Ok(n) => Err(format!(
            "zstd decompressed to {n} bytes, expected {}",
            out.len()
        )),
        Err(e) => Err(format!("zstd: {e}")),
    }
}

/// Element types whose buffer may be filled with raw little-endian bytes.
pub(super) trait RawElement: Sized {
    /// `values` as bytes, or `None` for a type with invalid bit patterns (`bool`).
    fn bytes_mut(values: &mut [Self]) -> Option<&mut [u8]>;
    /// `values` as bytes, or `None` for `bool` (left to zarrs).
    fn bytes(values: &[Self]) -> Option<&[u8]>;
}

macro_rules! raw_element {
    ($($t:ty),*) => {$(
        impl RawElement for $t {
            fn bytes_mut(values: &mut [Self]) -> Option<&mut [u8]> {
                Some(bytemuck::cast_slice_mut(values))
            }
            fn bytes(values: &[Self]) -> Option<&[u8]> {
                Some(bytemuck::cast_slice(values))
            }
        }
    )*};
}
raw_element!(i8, i16, i32, i64, u8, u16, u32, u64, f32, f64);

impl RawElement for bool {
    fn bytes_mut(_: &mut [Self]) -> Option<&mut [u8]> {
        None
    }
    fn bytes(_: &[Self]) -> Option<&[u8]> {
        None
    }
}

/// A zstd compressor and the level it was made for.
type LevelCompressor = (i32, zstd::bulk::Compressor<'static>);

thread_local! {
    /// The compressed bytes of the last chunk this thread wrote, and its compressor
    /// with the level it was made for: both reused, as `ENCODED` is for reads.
    static COMPRESSED: RefCell<(Vec<u8>, Option<LevelCompressor>)> =
        const { RefCell::new((Vec::new(), None)) };
}

/// Encodes one whole chunk (`bytes`: its elements, little-endian, C order) the way
/// `codec` stores it and writes it under the chunk's key, as zarrs' `store_chunk`
/// would: a chunk that is entirely the fill value is erased instead of written.
/// The compressed frames carry their content size, as zarrs' do not need but
/// zarr-python's readers accept either way.
///
/// # Errors
/// [`StoreError::Chunk`] if compression fails; [`StoreError::Io`] if the file cannot
/// be written or a stale one erased.
pub(super) fn write_chunk(
    a: &OpenArray,
    store: &FsStore,
    codec: DirectCodec,
    indices: &[u64],
    bytes: &[u8],
) -> Result<(), StoreError> {
    let key = a.array.chunk_key(indices);
    let file_path = store.key_to_fspath(&key);
    let io = |op: &'static str| {
        let file_path = file_path.clone();
        move |source| StoreError::Io {
            path: file_path,
            op,
            source,
        }
    };
    let fill = a.array.fill_value().as_ne_bytes();
    if !fill.is_empty() && bytes.chunks_exact(fill.len()).all(|e| e == fill) {
        return match std::fs::remove_file(&file_path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io("erase")(e)),
            _ => Ok(()),
        };
    }
    match codec {
        DirectCodec::Raw => store.set_bytes(&key, bytes).map_err(io("write")),
        DirectCodec::Zstd { level, checksum } => COMPRESSED.with_borrow_mut(|(out, cached)| {
            let bad = |e: std::io::Error| StoreError::Chunk {
                path: a.info.path.clone(),
                chunk: indices.to_vec(),
                reason: format!("zstd: {e}"),
            };
            if cached.as_ref().map(|(l, _)| *l) != Some(level) {
                *cached = Some((level, zstd::bulk::Compressor::new(level).map_err(bad)?));
            }
            let (_, compressor) = cached.as_mut().expect("set above");
            compressor.include_checksum(checksum).map_err(bad)?;
            out.clear();
            out.reserve(zstd::zstd_safe::compress_bound(bytes.len()));
            compressor.compress_to_buffer(bytes, out).map_err(bad)?;
            store.set_bytes(&key, out).map_err(io("write"))
        }),
    }
}
