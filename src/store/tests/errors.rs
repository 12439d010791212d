//! Every error a user can provoke, with the details it must carry.

use super::*;

fn names_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn missing_path_plain_directory_file_and_group() {
    let dir = tmp();
    let missing = dir.path().join("nope");
    let err = open_info(&missing).unwrap_err();
    assert!(
        matches!(&err, StoreError::NotFound { path } if *path == missing),
        "{err}"
    );
    let err = StoreCache::new()
        .read_region(&missing, &[0..1], DType::F64)
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err}");

    let plain = dir.path().join("plain");
    std::fs::create_dir(&plain).unwrap();
    let err = open_info(&plain).unwrap_err();
    assert!(matches!(err, StoreError::NotAnArray { .. }), "{err}");
    assert!(err.to_string().contains("plain"), "{err}");

    let file = dir.path().join("file");
    std::fs::write(&file, b"x").unwrap();
    assert!(matches!(
        open_info(&file),
        Err(StoreError::NotAnArray { .. })
    ));

    run_py(dir.path(), "zarr.create_group(os.path.join(ROOT, 'g3')); zarr.create_group(os.path.join(ROOT, 'g2'), zarr_format=2)");
    for g in ["g2", "g3"] {
        let err = open_info(&dir.path().join(g)).unwrap_err();
        assert!(
            matches!(err, StoreError::NotAnArray { ref reason, .. } if reason.contains("group")),
            "{err}"
        );
    }
}

#[test]
fn invalid_metadata_is_a_metadata_error() {
    let dir = tmp();
    let a = dir.path().join("a");
    std::fs::create_dir(&a).unwrap();
    std::fs::write(a.join("zarr.json"), b"{ not json").unwrap();
    let err = open_info(&a).unwrap_err();
    assert!(matches!(err, StoreError::Metadata { .. }), "{err}");
}

#[test]
fn corrupt_chunk_names_the_chunk() {
    let dir = tmp();
    run_py(
        dir.path(),
        "write(ROOT, 'a', 3, 'float64', (13, 7), (4, 3), 'zstd')",
    );
    let path = dir.path().join("a");
    std::fs::write(
        path.join("c/1/0"),
        b"this is not zstd data at all, not even close",
    )
    .unwrap();
    let cache = StoreCache::new();
    let err = cache
        .read_region(&path, &[4..8, 0..3], DType::F64)
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::Chunk { chunk, path: p, .. } if *chunk == [1, 0] && *p == path),
        "{err}"
    );
    // A region spanning several chunks blames the corrupt one.
    let err = cache
        .read_region(&path, &[2..10, 1..5], DType::F64)
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::Chunk { chunk, .. } if *chunk == [1, 0]),
        "{err}"
    );
    // Other chunks still read.
    let want = expected(&path, DType::F64, &[13, 7]);
    let ok = cache.read_region(&path, &[0..4, 0..6], DType::F64).unwrap();
    assert_eq!(ok, slice(&want, &[0..4, 0..6]));
}

#[test]
fn truncated_chunks_are_chunk_errors() {
    let dir = tmp();
    run_py(
        dir.path(),
        "write(ROOT, 'raw', 2, 'int32', (13, 7), (4, 3), 'none')\n\
         write(ROOT, 'zs', 3, 'int32', (13, 7), (4, 3), 'zstd')\n\
         write(ROOT, 'sh', 3, 'int32', (13, 7), (4, 3), 'none', shards=(8, 6))",
    );
    let truncate = |file: PathBuf| {
        let bytes = std::fs::read(&file).unwrap();
        std::fs::write(&file, &bytes[..bytes.len() / 2]).unwrap();
    };
    truncate(dir.path().join("raw/1.2"));
    truncate(dir.path().join("zs/c/1/2"));
    truncate(dir.path().join("sh/c/0/1"));
    let cache = StoreCache::new();
    for (name, region, chunk) in [
        ("raw", [4..8, 6..7], [1, 2]),
        ("zs", [4..8, 6..7], [1, 2]),
        ("sh", [0..8, 6..7], [0, 1]),
    ] {
        let err = cache
            .read_region(&dir.path().join(name), &region, DType::I32)
            .unwrap_err();
        assert!(
            matches!(&err, StoreError::Chunk { chunk: c, .. } if *c == chunk),
            "{name}: {err}"
        );
    }
}

#[test]
fn dtype_mismatch_on_read_and_write() {
    let dir = tmp();
    run_py(
        dir.path(),
        "write(ROOT, 'a', 3, 'int32', (13, 7), (4, 3), 'zstd')",
    );
    let path = dir.path().join("a");
    let cache = StoreCache::new();
    let err = cache
        .read_region(&path, &[0..4, 0..3], DType::I64)
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::DTypeMismatch {
                stored: DType::I32,
                requested: DType::I64,
                ..
            }
        ),
        "{err}"
    );
    let err = cache
        .write_chunk(&path, &[0, 0], &Chunk::zeros(DType::F32, &[4, 3]))
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::DTypeMismatch {
                stored: DType::I32,
                requested: DType::F32,
                ..
            }
        ),
        "{err}"
    );
    assert!(
        err.to_string().contains("int32") && err.to_string().contains("float32"),
        "{err}"
    );
}

#[test]
fn unsupported_dtypes() {
    let dir = tmp();
    run_py(
        dir.path(),
        "write(ROOT, 'c', 3, 'complex128', (4,), (2,), 'zstd')\n\
         write(ROOT, 'c2', 2, 'complex128', (4,), (2,), 'zstd')\n\
         write(ROOT, 'h', 3, 'float16', (4,), (2,), 'none')",
    );
    for (name, found) in [("c", "complex128"), ("c2", "complex128")] {
        let err = open_info(&dir.path().join(name)).unwrap_err();
        assert!(
            matches!(&err, StoreError::UnsupportedDType { found: f, .. } if f.contains(found)),
            "{name}: {err}"
        );
    }
    // float16 is supported, read as f32.
    let info = open_info(&dir.path().join("h")).unwrap();
    assert_eq!(info.dtype, DType::F32);
    assert!(info.stored_f16);
}

#[test]
fn bad_regions_indices_and_shapes() {
    let dir = tmp();
    let path = dir.path().join("a");
    let staging = create_staging(
        &path,
        &[13, 7],
        &[4, 3],
        DType::U8,
        &WriteOptions::default(),
    )
    .unwrap();
    let cache = StoreCache::new();
    for region in [vec![0..4], vec![0..14, 0..3], vec![5..4, 0..3]] {
        let err = cache.read_region(&staging, &region, DType::U8).unwrap_err();
        assert!(
            matches!(err, StoreError::InvalidRegion { .. }),
            "{region:?}: {err}"
        );
    }
    for idx in [vec![4, 0], vec![0], vec![0, 0, 0]] {
        let err = cache
            .write_chunk(&staging, &idx, &Chunk::zeros(DType::U8, &[4, 3]))
            .unwrap_err();
        assert!(
            matches!(err, StoreError::InvalidChunkIndices { .. }),
            "{idx:?}: {err}"
        );
    }
    // Edge chunk (3, 2) is 1x1 inside the array: a full 4x3 block is refused.
    let err = cache
        .write_chunk(&staging, &[3, 2], &Chunk::zeros(DType::U8, &[4, 3]))
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::ShapeMismatch { expected, .. } if *expected == [1, 1]),
        "{err}"
    );
    let err = cache
        .write_chunk(&staging, &[0, 0], &Chunk::Unit)
        .unwrap_err();
    assert!(matches!(err, StoreError::NotData { .. }), "{err}");
    assert_eq!(cache.chunks_written(), 0);
    abort_staging(&staging);
}

#[test]
fn invalid_write_options() {
    let dir = tmp();
    let path = dir.path().join("a");
    let v3 = WriteOptions::default();
    let bad: Vec<(&[u64], WriteOptions)> = vec![
        (&[4], v3.clone()),
        (&[4, 0], v3.clone()),
        (
            &[4, 4],
            WriteOptions {
                zarr_format: ZarrFormat::V2,
                inner_chunk_shape: Some(vec![2, 2]),
                ..v3.clone()
            },
        ),
        (
            &[4, 4],
            WriteOptions {
                inner_chunk_shape: Some(vec![3, 2]),
                ..v3.clone()
            },
        ),
        (
            &[4, 4],
            WriteOptions {
                compression: Compression::Gzip { level: 12 },
                ..v3.clone()
            },
        ),
        (
            &[4, 4],
            WriteOptions {
                compression: Compression::Zstd { level: 99 },
                ..v3.clone()
            },
        ),
        (
            &[4, 4],
            WriteOptions {
                compression: Compression::Blosc {
                    cname: "snappy2".into(),
                    clevel: 5,
                    shuffle: true,
                },
                ..v3.clone()
            },
        ),
        (
            &[4, 4],
            WriteOptions {
                compression: Compression::Blosc {
                    cname: "lz4".into(),
                    clevel: 10,
                    shuffle: true,
                },
                ..v3.clone()
            },
        ),
    ];
    for (grid, opts) in bad {
        let err = create_staging(&path, &[8, 8], grid, DType::F64, &opts).unwrap_err();
        assert!(
            matches!(err, StoreError::InvalidOptions { .. }),
            "{grid:?} {opts:?}: {err}"
        );
    }
    assert!(
        names_in(dir.path()).is_empty(),
        "nothing created: {:?}",
        names_in(dir.path())
    );
}

#[test]
fn existing_destination_is_refused_before_any_work() {
    let dir = tmp();
    let path = dir.path().join("out");
    std::fs::create_dir(&path).unwrap();
    std::fs::write(path.join("precious.txt"), b"keep me").unwrap();
    let err = create_staging(&path, &[4], &[2], DType::I8, &WriteOptions::default()).unwrap_err();
    assert!(matches!(err, StoreError::Exists { .. }), "{err}");
    // Not a Zarr array: refused even with overwrite, so a typo cannot delete data.
    let opts = WriteOptions {
        overwrite: true,
        ..WriteOptions::default()
    };
    let err = create_staging(&path, &[4], &[2], DType::I8, &opts).unwrap_err();
    assert!(matches!(err, StoreError::Exists { .. }), "{err}");
    assert_eq!(
        names_in(dir.path()),
        ["out"],
        "no staging directory created"
    );

    // The destination appears while the staging array is being written.
    let path2 = dir.path().join("later");
    let staging = create_staging(&path2, &[4], &[2], DType::I8, &WriteOptions::default()).unwrap();
    let other = create_staging(&path2, &[4], &[4], DType::I8, &WriteOptions::default()).unwrap();
    commit_staging(&other, &path2, false).unwrap();
    let err = commit_staging(&staging, &path2, false).unwrap_err();
    assert!(matches!(err, StoreError::Exists { .. }), "{err}");
    assert!(
        staging.exists(),
        "a refused commit keeps the staging directory"
    );
    assert_eq!(
        open_info(&path2).unwrap().chunk_shape,
        [4],
        "the existing array is untouched"
    );
    commit_staging(&staging, &path2, true).unwrap();
    assert_eq!(open_info(&path2).unwrap().chunk_shape, [2]);
    assert_eq!(names_in(dir.path()), ["later", "out"]);
    assert_eq!(
        std::fs::read(path.join("precious.txt")).unwrap(),
        b"keep me"
    );
}

#[test]
fn abort_leaves_nothing_behind() {
    let dir = tmp();
    let path = dir.path().join("sub/dir/a.zarr");
    let opts = WriteOptions {
        inner_chunk_shape: Some(vec![2, 2]),
        ..WriteOptions::default()
    };
    let staging = create_staging(&path, &[8, 8], &[4, 4], DType::F32, &opts).unwrap();
    assert_eq!(staging.parent(), path.parent());
    let cache = StoreCache::new();
    cache
        .write_chunk(&staging, &[0, 1], &sample(DType::F32, &[4, 4]))
        .unwrap();
    assert!(staging.join("c/0/1").exists());
    abort_staging(&staging);
    assert!(!staging.exists());
    assert!(names_in(&dir.path().join("sub/dir")).is_empty());
    assert!(!path.exists());
    // A committed or unrelated directory is not removed by a misdirected abort.
    let other = dir.path().join("sub");
    abort_staging(&other);
    assert!(other.exists());
    let err = commit_staging(&staging, &path, false).unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err}");
}
