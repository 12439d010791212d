//! Zarr arrays on the local filesystem, in object stores (S3, GCS, Azure) and on HTTP
//! servers (read-only), through zarrs (see `remote.rs` for URLs and
//! [`StoreOptions`], `remote_commit.rs` for how object-store writes are ordered): open an array and describe it
//! ([`open_info`]), read regions and write chunks from executor threads
//! ([`StoreCache`]), and create new arrays atomically ([`create_staging`],
//! [`commit_staging`], [`abort_staging`]), and remove what killed writers left
//! ([`clean_staging`]); write into existing arrays (`region.rs`: regions, appends
//! and [`resize`]) and create groups of arrays (`group.rs`); read groups and their
//! consolidated metadata ([`open_group`], [`consolidate_metadata`], `consolidated.rs`).
//!
//! This module owns everything that touches Zarr bytes and metadata. It knows nothing
//! of task graphs: the executor decides which regions to read and which chunks to
//! write, and adds the task's chunk key to errors; this module adds the path.
//!
//! Conventions:
//! - Zarr v2 and v3 are read; arrays are written as v2 or v3, optionally sharded (v3).
//! - The *grid* of an array ([`ZarrArrayInfo::chunk_shape`]) is the unit of one
//!   efficient read or write: the chunk shape, or the shard shape for sharded arrays.
//! - Edge chunks are given and returned clipped to the array; on disk they are full
//!   size, padded with the fill value, as the Zarr specification requires.
//! - Decoding and encoding run on the calling thread only (see `cache.rs`): the
//!   executor parallelises across chunks.

#![warn(missing_docs, unreachable_pub, clippy::pedantic)]

mod cache;
mod consolidated;
mod create;
mod direct;
mod error;
mod fs;
mod group;
mod inspect;
mod open;
mod region;
mod remote;
mod remote_commit;
mod staging;

pub use cache::StoreCache;
pub use consolidated::{
    consolidate_metadata, consolidated_member_url, open_group, NodeKind, ZarrGroup,
};
pub use create::{
    abort_staging, commit_staging, create_staging, Compression, WriteOptions, ZarrFormat,
};
pub use error::StoreError;
pub use group::{attributes, create_group_staging, create_member, ZarrAttributes};
pub use inspect::{inspect, ArrayReport};
pub use open::{open_info, plan_info, ZarrArrayInfo};
pub use region::{resize, sync_chunks};
pub use remote::{is_url, StoreOptions};
pub use staging::{clean_chunk_temps, clean_staging};

#[cfg(test)]
mod tests;
