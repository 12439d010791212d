//! The direct whole-chunk decode (`direct.rs`), the buffer pool, unsynced chunk writes
//! and the durable commit.

use super::*;
use crate::store::direct::DirectCodec;
use crate::store::fs::sync_tree;
use crate::store::open::open_array;

/// Writes `data` as a new array at `root/name` (through staging and commit).
fn write_array(root: &Path, name: &str, data: &Chunk, grid: &[u64], opts: &WriteOptions) {
    let path = root.join(name);
    let shape: Vec<u64> = data.shape().iter().map(|&s| s as u64).collect();
    let dtype = data.dtype().unwrap();
    let staging = create_staging(&path, &shape, grid, dtype, opts).unwrap();
    let cache = StoreCache::new();
    for (idx, region) in grid_regions(&shape, grid) {
        cache
            .write_chunk(&staging, &idx, &slice(data, &region))
            .unwrap();
    }
    commit_staging(&staging, &path, false).unwrap();
}

fn opts(fmt: ZarrFormat, compression: Compression) -> WriteOptions {
    WriteOptions {
        zarr_format: fmt,
        compression,
        ..WriteOptions::default()
    }
}

#[test]
fn direct_decode_only_for_plain_little_endian_layouts() {
    let dir = tmp();
    let zstd = Compression::Zstd { level: 1 };
    let gzip = Compression::Gzip { level: 1 };
    let cases: [(&str, DType, WriteOptions, Option<DirectCodec>); 6] = [
        (
            "v3z",
            DType::F64,
            opts(ZarrFormat::V3, zstd.clone()),
            Some(DirectCodec::Zstd {
                level: 1,
                checksum: false,
            }),
        ),
        (
            "v2z",
            DType::I16,
            opts(ZarrFormat::V2, zstd.clone()),
            Some(DirectCodec::Zstd {
                level: 1,
                checksum: false,
            }),
        ),
        (
            "v3r",
            DType::U8,
            opts(ZarrFormat::V3, Compression::None),
            Some(DirectCodec::Raw),
        ),
        ("v2g", DType::F32, opts(ZarrFormat::V2, gzip), None),
        (
            "bool",
            DType::Bool,
            opts(ZarrFormat::V3, zstd.clone()),
            None,
        ),
        (
            "shard",
            DType::F64,
            WriteOptions {
                inner_chunk_shape: Some(vec![2, 3]),
                ..opts(ZarrFormat::V3, zstd)
            },
            None,
        ),
    ];
    for (name, dtype, o, want) in cases {
        write_array(dir.path(), name, &sample(dtype, &[8, 6]), &[4, 6], &o);
        let a = open_array(&dir.path().join(name)).unwrap();
        assert_eq!(a.direct, want, "{name}");
    }
    // zarr-python's big-endian v2 and Fortran-order arrays go through zarrs.
    run_py(
        dir.path(),
        "z = zarr.create_array(store=os.path.join(ROOT, 'be'), shape=(4,), chunks=(2,), \
         dtype='>i4', zarr_format=2, compressors=None)\n\
         z[...] = np.arange(4)\n\
         z = zarr.create_array(store=os.path.join(ROOT, 'f'), shape=(4, 2), chunks=(2, 2), \
         dtype='<i4', zarr_format=2, compressors=None, order='F')\n\
         z[...] = np.arange(8).reshape(4, 2)",
    );
    for name in ["be", "f"] {
        assert_eq!(
            open_array(&dir.path().join(name)).unwrap().direct,
            None,
            "{name}"
        );
    }
}

#[test]
fn whole_chunk_reads_match_and_reuse_pooled_buffers() {
    let dir = tmp();
    for (name, compression) in [
        ("z", Compression::Zstd { level: 3 }),
        ("r", Compression::None),
    ] {
        // 9 x 7 in 4 x 3 chunks: interior chunks take the direct path, edges zarrs.
        let data = sample(DType::I64, &[9, 7]);
        write_array(
            dir.path(),
            name,
            &data,
            &[4, 3],
            &opts(ZarrFormat::V3, compression),
        );
        let path = dir.path().join(name);
        let cache = StoreCache::with_buffer_pool(1);
        for (idx, region) in grid_regions(&[9, 7], &[4, 3]) {
            let got = cache.read_region(&path, &region, DType::I64).unwrap();
            assert_eq!(got, slice(&data, &region), "{name} chunk {idx:?}");
            // The next read of a same-sized chunk decodes over this one's values.
            cache.recycle(got);
        }
        assert_eq!(cache.regions_read(), 9);
    }
}

#[test]
fn recycled_buffers_are_only_reused_for_their_exact_size_and_dtype() {
    let dir = tmp();
    // 512 x 512 f64 = 2 MiB chunks, above the pool's lower limit.
    let data = sample(DType::F64, &[1024, 512]);
    write_array(
        dir.path(),
        "a",
        &data,
        &[512, 512],
        &opts(ZarrFormat::V3, Compression::Zstd { level: 1 }),
    );
    let path = dir.path().join("a");
    let cache = StoreCache::with_buffer_pool(2);
    let first = cache
        .read_region(&path, &[0..512, 0..512], DType::F64)
        .unwrap();
    cache.recycle(first);
    cache.recycle(sample(DType::F32, &[512, 1024])); // same bytes, other dtype
    cache.recycle(sample(DType::F64, &[8, 8])); // too small: dropped
    assert_eq!(cache.pool.lock().len(), 2);
    let second = cache
        .read_region(&path, &[512..1024, 0..512], DType::F64)
        .unwrap();
    assert_eq!(second, slice(&data, &[512..1024, 0..512]));
    {
        let pool = cache.pool.lock();
        assert_eq!(pool.len(), 1, "the f64 buffer was taken");
        assert_eq!(pool[0].dtype(), Some(DType::F32));
    }
    // A full pool lets its oldest buffer go, so a buffer of a size no one asks
    // for does not keep out the ones freed after it.
    cache.recycle(sample(DType::I64, &[512, 1024]));
    cache.recycle(second);
    let pool = cache.pool.lock();
    assert_eq!(pool.len(), 2);
    assert_eq!(pool[0].dtype(), Some(DType::I64));
    assert_eq!(pool[1].dtype(), Some(DType::F64));
}

#[test]
fn bad_whole_chunks_are_chunk_errors() {
    let dir = tmp();
    let data = sample(DType::I32, &[8, 6]);
    write_array(
        dir.path(),
        "z",
        &data,
        &[4, 3],
        &opts(ZarrFormat::V3, Compression::Zstd { level: 1 }),
    );
    write_array(
        dir.path(),
        "r",
        &data,
        &[4, 3],
        &opts(ZarrFormat::V2, Compression::None),
    );
    let cut = |file: PathBuf| {
        let bytes = std::fs::read(&file).unwrap();
        std::fs::write(&file, &bytes[..bytes.len() / 2]).unwrap();
    };
    cut(dir.path().join("z/c/1/1"));
    cut(dir.path().join("r/1.1"));
    std::fs::write(dir.path().join("z/c/0/1"), b"not zstd").unwrap();
    let mut longer = std::fs::read(dir.path().join("r/0.1")).unwrap();
    longer.push(0);
    std::fs::write(dir.path().join("r/0.1"), longer).unwrap();
    let cache = StoreCache::with_buffer_pool(2);
    for name in ["z", "r"] {
        let path = dir.path().join(name);
        for (chunk, region) in [([1, 1], [4..8, 3..6]), ([0, 1], [0..4, 3..6])] {
            let err = cache.read_region(&path, &region, DType::I32).unwrap_err();
            assert!(
                matches!(&err, StoreError::Chunk { chunk: c, path: p, .. } if *c == chunk && *p == path),
                "{name} {chunk:?}: {err}"
            );
        }
        let ok = cache.read_region(&path, &[0..4, 0..3], DType::I32).unwrap();
        assert_eq!(ok, slice(&data, &[0..4, 0..3]), "{name}");
    }
}

#[test]
fn missing_whole_chunks_read_as_fill_value() {
    let dir = tmp();
    let path = dir.path().join("a");
    let o = opts(ZarrFormat::V3, Compression::Zstd { level: 1 });
    let staging = create_staging(&path, &[8, 6], &[4, 3], DType::U16, &o).unwrap();
    commit_staging(&staging, &path, false).unwrap();
    let got = StoreCache::with_buffer_pool(1)
        .read_region(&path, &[4..8, 0..3], DType::U16)
        .unwrap();
    assert_eq!(got, Chunk::zeros(DType::U16, &[4, 3]));
}

#[test]
fn commit_syncs_the_staging_tree_and_a_failed_write_leaves_nothing() {
    let dir = tmp();
    let path = dir.path().join("out/a.zarr");
    let o = opts(ZarrFormat::V3, Compression::Zstd { level: 1 });
    let staging = create_staging(&path, &[8, 6], &[4, 3], DType::F64, &o).unwrap();
    let cache = StoreCache::new();
    let data = sample(DType::F64, &[8, 6]);
    cache
        .write_chunk(&staging, &[1, 1], &slice(&data, &[4..8, 3..6]))
        .unwrap();
    // Nested chunk directories and files all sync.
    sync_tree(&staging).unwrap();
    // A write that fails midway (a chunk of the wrong shape) is aborted: nothing stays.
    assert!(cache
        .write_chunk(&staging, &[0, 0], &sample(DType::F64, &[3, 3]))
        .is_err());
    abort_staging(&staging);
    assert_eq!(
        std::fs::read_dir(dir.path().join("out")).unwrap().count(),
        0
    );
    assert!(!path.exists());
    // A missing tree is an error naming it.
    let (p, _) = sync_tree(&staging).unwrap_err();
    assert_eq!(p, staging);
    // The durable commit path, end to end.
    write_array(&dir.path().join("out"), "a.zarr", &data, &[4, 3], &o);
    let got = StoreCache::new()
        .read_region(&path, &[0..8, 0..6], DType::F64)
        .unwrap();
    assert_eq!(got, data);
}

#[test]
fn direct_chunk_writes_decode_through_zarrs_and_fill_chunks_are_erased() {
    let dir = tmp();
    for (name, fmt, compression) in [
        ("v3z", ZarrFormat::V3, Compression::Zstd { level: 3 }),
        ("v2z", ZarrFormat::V2, Compression::Zstd { level: -2 }),
        ("v3r", ZarrFormat::V3, Compression::None),
    ] {
        let path = dir.path().join(name);
        let o = opts(fmt, compression);
        let staging = create_staging(&path, &[8, 6], &[4, 6], DType::F64, &o).unwrap();
        let data = sample(DType::F64, &[4, 6]);
        let cache = StoreCache::new();
        cache.write_chunk(&staging, &[0, 0], &data).unwrap();
        assert!(open_array(&staging).unwrap().direct.is_some(), "{name}");
        // Chunk [1, 0]: first real data, then all fill value (0): the file goes.
        cache.write_chunk(&staging, &[1, 0], &data).unwrap();
        let zeros = Chunk::F64(ArrayD::zeros(IxDyn(&[4, 6])));
        cache.write_chunk(&staging, &[1, 0], &zeros).unwrap();
        commit_staging(&staging, &path, false).unwrap();
        // zarrs, the reference decoder, reads what the direct encoder wrote.
        let a = open_array(&path).unwrap();
        let got: ArrayD<f64> = a.array.retrieve_chunk(&[0, 0]).unwrap();
        assert_eq!(Chunk::F64(got), data, "{name}");
        let key = a.array.chunk_key(&[1, 0]);
        assert!(
            !a.fs
                .as_ref()
                .expect("a local array")
                .key_to_fspath(&key)
                .exists(),
            "{name}: a fill-value chunk was stored"
        );
        let got: ArrayD<f64> = a.array.retrieve_chunk(&[1, 0]).unwrap();
        assert_eq!(Chunk::F64(got), zeros, "{name}");
    }
}
