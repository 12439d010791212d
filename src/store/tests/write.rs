//! darray writes (staging, chunks, commit), zarr-python and darray read back.

use super::*;
use rayon::prelude::*;
use std::fmt::Write as _;

struct WCase {
    name: &'static str,
    fmt: ZarrFormat,
    compression: Compression,
    dtype: DType,
    shape: Vec<u64>,
    grid: Vec<u64>,
    inner: Option<Vec<u64>>,
}

fn blosc(cname: &str, shuffle: bool) -> Compression {
    Compression::Blosc {
        cname: cname.into(),
        clevel: 5,
        shuffle,
    }
}

#[allow(clippy::too_many_lines)]
fn write_cases() -> Vec<WCase> {
    use Compression::{Gzip, Zstd};
    use ZarrFormat::{V2, V3};
    let c =
        |name, fmt, compression, dtype, shape: &[u64], grid: &[u64], inner: Option<&[u64]>| WCase {
            name,
            fmt,
            compression,
            dtype,
            shape: shape.to_vec(),
            grid: grid.to_vec(),
            inner: inner.map(<[u64]>::to_vec),
        };
    vec![
        c(
            "v2_none_i8",
            V2,
            Compression::None,
            DType::I8,
            &[13, 7],
            &[4, 3],
            None,
        ),
        c(
            "v2_zstd_f64",
            V2,
            Zstd { level: 1 },
            DType::F64,
            &[13, 7],
            &[4, 3],
            None,
        ),
        c(
            "v2_gzip_u16",
            V2,
            Gzip { level: 5 },
            DType::U16,
            &[10],
            &[3],
            None,
        ),
        c(
            "v2_blosc_i64",
            V2,
            blosc("lz4", true),
            DType::I64,
            &[4, 5, 6],
            &[3, 2, 4],
            None,
        ),
        c(
            "v2_blosc_bool",
            V2,
            blosc("zstd", false),
            DType::Bool,
            &[3, 4, 2, 5],
            &[2, 3, 2, 2],
            None,
        ),
        c(
            "v3_none_u32",
            V3,
            Compression::None,
            DType::U32,
            &[13, 7],
            &[4, 3],
            None,
        ),
        c(
            "v3_zstd_f32",
            V3,
            Zstd { level: 3 },
            DType::F32,
            &[13, 7],
            &[4, 3],
            None,
        ),
        c(
            "v3_gzip_i32",
            V3,
            Gzip { level: 1 },
            DType::I32,
            &[4, 5, 6],
            &[3, 2, 4],
            None,
        ),
        c(
            "v3_blosc_u64",
            V3,
            blosc("lz4", true),
            DType::U64,
            &[3, 4, 2, 5],
            &[2, 3, 2, 2],
            None,
        ),
        c(
            "v3_blosc_u8",
            V3,
            blosc("blosclz", false),
            DType::U8,
            &[10],
            &[3],
            None,
        ),
        c(
            "v3_zstd_empty",
            V3,
            Zstd { level: 1 },
            DType::F64,
            &[0, 5],
            &[2, 2],
            None,
        ),
        c(
            "sh_zstd_i16",
            V3,
            Zstd { level: 1 },
            DType::I16,
            &[13, 7],
            &[8, 6],
            Some(&[4, 3]),
        ),
        c(
            "sh_blosc_f64",
            V3,
            blosc("zstd", true),
            DType::F64,
            &[9, 10, 5],
            &[4, 4, 5],
            Some(&[2, 2, 5]),
        ),
        c(
            "sh_none_bool",
            V3,
            Compression::None,
            DType::Bool,
            &[13, 7],
            &[8, 6],
            Some(&[4, 3]),
        ),
        c(
            "sh_gzip_u64",
            V3,
            Gzip { level: 6 },
            DType::U64,
            &[10],
            &[6],
            Some(&[3]),
        ),
    ]
}

fn shape_usize(s: &[u64]) -> Vec<usize> {
    s.iter().map(|&x| usize::try_from(x).unwrap()).collect()
}

/// Creates, fills (chunks in parallel through one cache) and commits `c` under `root`;
/// returns the data written.
fn write_case(root: &Path, c: &WCase, cache: &StoreCache) -> Chunk {
    let path = root.join(c.name);
    let opts = WriteOptions {
        zarr_format: c.fmt,
        compression: c.compression.clone(),
        chunk_shape: Some(c.grid.clone()),
        inner_chunk_shape: c.inner.clone(),
        overwrite: false,
        ..WriteOptions::default()
    };
    let staging = create_staging(&path, &c.shape, &c.grid, c.dtype, &opts).unwrap();
    assert!(
        !path.exists(),
        "{}: nothing at the destination before commit",
        c.name
    );
    let data = sample(c.dtype, &shape_usize(&c.shape));
    grid_regions(&c.shape, &c.grid)
        .par_iter()
        .for_each(|(idx, region)| {
            cache
                .write_chunk(&staging, idx, &slice(&data, region))
                .unwrap();
        });
    commit_staging(&staging, &path, false).unwrap();
    assert!(!staging.exists(), "{}: staging renamed away", c.name);
    write_expected(&path, &data);
    data
}

#[test]
fn zarr_python_reads_what_darray_writes() {
    let dir = tmp();
    let cases = write_cases();
    let all: std::collections::HashSet<DType> = cases.iter().map(|c| c.dtype).collect();
    assert_eq!(all.len(), DType::ALL.len(), "every dtype is written");
    let cache = StoreCache::new();
    let mut written = 0;
    for c in &cases {
        let data = write_case(dir.path(), c, &cache);
        written += grid_regions(&c.shape, &c.grid).len() as u64;
        // darray reads its own output back, through a fresh cache.
        assert_reads_match(&StoreCache::new(), &dir.path().join(c.name), &data);
    }
    assert_eq!(cache.chunks_written(), written);
    let mut code = String::new();
    for c in &cases {
        let (chunks, shards) = match &c.inner {
            Some(inner) => (inner, format!("{:?}", c.grid)),
            None => (&c.grid, "None".to_string()),
        };
        let fmt = if c.fmt == ZarrFormat::V2 { 2 } else { 3 };
        writeln!(
            code,
            "check(ROOT, {:?}, {:?}, {:?}, {:?}, shards={shards}, fmt={fmt})",
            c.name,
            c.dtype.numpy_name(),
            c.shape,
            chunks
        )
        .unwrap();
    }
    run_py(dir.path(), &code);
    // Edge chunks are stored at full size: chunk (3, 2) of a 13x7 u32 array with 4x3
    // chunks holds 4*3*4 bytes although only 1x1 of it is inside the array.
    let edge = dir.path().join("v3_none_u32/c/3/2");
    assert_eq!(std::fs::metadata(edge).unwrap().len(), 48);
}

#[test]
fn fill_value_chunks_are_not_stored() {
    let dir = tmp();
    let path = dir.path().join("z");
    let staging = create_staging(
        &path,
        &[8, 4],
        &[4, 4],
        DType::I32,
        &WriteOptions::default(),
    )
    .unwrap();
    let cache = StoreCache::new();
    let ones = Chunk::I32(ArrayD::from_elem(IxDyn(&[4, 4]), 1));
    cache
        .write_chunk(&staging, &[0, 0], &Chunk::zeros(DType::I32, &[4, 4]))
        .unwrap();
    cache.write_chunk(&staging, &[1, 0], &ones).unwrap();
    commit_staging(&staging, &path, false).unwrap();
    assert!(
        !path.join("c/0/0").exists(),
        "an all-fill chunk is not stored"
    );
    assert!(path.join("c/1/0").exists());
    let got = StoreCache::new()
        .read_region(&path, &[0..8, 0..4], DType::I32)
        .unwrap();
    let mut want = ArrayD::<i32>::zeros(IxDyn(&[8, 4]));
    want.slice_each_axis_mut(|ax| Slice::from(if ax.axis.index() == 0 { 4..8 } else { 0..4 }))
        .fill(1);
    assert_eq!(got, Chunk::I32(want));
}

#[test]
fn writes_non_contiguous_data() {
    let dir = tmp();
    let path = dir.path().join("f");
    let opts = WriteOptions {
        zarr_format: ZarrFormat::V2,
        ..WriteOptions::default()
    };
    let staging = create_staging(&path, &[3, 5], &[3, 5], DType::F64, &opts).unwrap();
    // Fortran-order data: the logical (3, 5) array is the transpose of a C (5, 3) array.
    let f = ArrayD::from_shape_vec(IxDyn(&[5, 3]), (0..15).map(f64::from).collect())
        .unwrap()
        .reversed_axes();
    assert!(!f.is_standard_layout());
    let cache = StoreCache::new();
    cache
        .write_chunk(&staging, &[0, 0], &Chunk::F64(f.clone()))
        .unwrap();
    commit_staging(&staging, &path, false).unwrap();
    let got = cache.read_region(&path, &[0..3, 0..5], DType::F64).unwrap();
    assert_eq!(got, Chunk::F64(f.as_standard_layout().into_owned()));
    assert_eq!((cache.chunks_written(), cache.bytes_written()), (1, 120));
}

#[test]
fn commit_with_overwrite_replaces_an_array_atomically() {
    let dir = tmp();
    let path = dir.path().join("a.zarr");
    let cache = StoreCache::new();
    let make = |value: i64, overwrite: bool| {
        let opts = WriteOptions {
            overwrite,
            ..WriteOptions::default()
        };
        let staging = create_staging(&path, &[4], &[4], DType::I64, &opts)?;
        let c = Chunk::I64(ArrayD::from_elem(IxDyn(&[4]), value));
        cache.write_chunk(&staging, &[0], &c)?;
        commit_staging(&staging, &path, overwrite)
    };
    make(1, false).unwrap();
    let err = make(2, false).unwrap_err();
    assert!(matches!(err, StoreError::Exists { .. }), "{err}");
    make(3, true).unwrap();
    let got = StoreCache::new()
        .read_region(&path, &[0..4], DType::I64)
        .unwrap();
    assert_eq!(got, Chunk::I64(ArrayD::from_elem(IxDyn(&[4]), 3)));
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["a.zarr"], "no staging or old copies left behind");
}

/// Every file under `dir`, relative, sorted.
fn files_under(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.strip_prefix(dir).unwrap().to_string_lossy().into_owned());
            }
        }
    }
    out.sort();
    out
}

#[test]
fn chunk_writes_replace_files_atomically_and_commit_drops_stale_temporaries() {
    let dir = tmp();
    let path = dir.path().join("a.zarr");
    let cache = StoreCache::new();
    let staging = create_staging(&path, &[4], &[4], DType::I64, &WriteOptions::default()).unwrap();
    let c = |v: i64| Chunk::I64(ArrayD::from_elem(IxDyn(&[4]), v));
    cache.write_chunk(&staging, &[0], &c(1)).unwrap();
    let chunk_file = files_under(&staging)
        .into_iter()
        .find(|f| f != "zarr.json")
        .expect("a chunk file");
    let chunk_path = staging.join(&chunk_file);
    let first = std::fs::read(&chunk_path).unwrap();

    // A killed attempt left a torn temporary next to the chunk: it must not block
    // the retry, and must not survive the commit.
    let stale = format!("{}.darray-tmp-4294967295-7", chunk_path.display());
    std::fs::write(&stale, &first[..first.len() / 2]).unwrap();

    // A reader holding the old file keeps seeing all of it: the rewrite replaced the
    // file (rename), it did not truncate and rewrite it in place.
    let mut held = std::fs::File::open(&chunk_path).unwrap();
    cache.write_chunk(&staging, &[0], &c(2)).unwrap();
    let mut old = Vec::new();
    std::io::Read::read_to_end(&mut held, &mut old).unwrap();
    assert_eq!(old, first, "the old chunk file was modified in place");

    commit_staging(&staging, &path, false).unwrap();
    let left = files_under(&path);
    assert!(
        left.iter().all(|f| !f.contains(".darray-tmp-")),
        "temporaries left after commit: {left:?}"
    );
    let got = StoreCache::new()
        .read_region(&path, &[0..4], DType::I64)
        .unwrap();
    assert_eq!(got, c(2));
}
