//! zarr-python writes, darray reads.

use super::*;
use rayon::prelude::*;

/// One array for Python to write.
struct Case {
    name: String,
    fmt: u8,
    dtype: DType,
    shape: Vec<u64>,
    chunks: Vec<u64>,
    codec: &'static str,
    shards: Option<Vec<u64>>,
}

fn tuple(v: &[u64]) -> String {
    let items: Vec<String> = v.iter().map(|x| format!("{x},")).collect();
    format!("({})", items.join(" "))
}

impl Case {
    fn py(&self) -> String {
        let shards = self.shards.as_deref().map_or("None".to_string(), tuple);
        format!(
            "write(ROOT, {:?}, {}, {:?}, {}, {}, {:?}, shards={shards})\n",
            self.name,
            self.fmt,
            self.dtype.numpy_name(),
            tuple(&self.shape),
            tuple(&self.chunks),
            self.codec
        )
    }
}

const CODECS: [&str; 4] = ["none", "zstd", "gzip", "blosc"];

/// Writes `cases` with zarr-python, then checks metadata and every read.
fn write_and_check(cases: &[Case]) {
    let dir = tmp();
    let code: String = cases.iter().map(Case::py).collect();
    run_py(dir.path(), &code);
    let cache = StoreCache::new();
    for c in cases {
        let path = dir.path().join(&c.name);
        let info = open_info(&path).unwrap();
        assert_eq!(info.dtype, c.dtype, "{}", c.name);
        assert_eq!(info.shape, c.shape, "{}", c.name);
        assert_eq!(info.zarr_format, c.fmt, "{}", c.name);
        // The read grid is the shard shape for sharded arrays.
        assert_eq!(
            info.chunk_shape,
            *c.shards.as_ref().unwrap_or(&c.chunks),
            "{}",
            c.name
        );
        let inner = c.shards.as_ref().map(|_| c.chunks.clone());
        assert_eq!(info.inner_chunk_shape, inner, "{}", c.name);
        assert_reads_match(&cache, &path, &expected(&path, c.dtype, &c.shape));
    }
}

/// Every dtype once with a rotating codec, and every codec on f64.
fn dtype_and_codec_cases(fmt: u8) -> Vec<Case> {
    let mut cases: Vec<Case> = DType::ALL
        .iter()
        .enumerate()
        .map(|(k, &dtype)| (dtype, CODECS[k % 4]))
        .chain(CODECS.iter().map(|&codec| (DType::F64, codec)))
        .map(|(dtype, codec)| Case {
            name: format!("v{fmt}_{dtype}_{codec}"),
            fmt,
            dtype,
            shape: vec![13, 7],
            chunks: vec![4, 3],
            codec,
            shards: None,
        })
        .collect();
    let mut seen = std::collections::HashSet::new();
    cases.retain(|c| seen.insert(c.name.clone()));
    cases
}

#[test]
fn reads_v3_all_dtypes_and_codecs() {
    write_and_check(&dtype_and_codec_cases(3));
}

#[test]
fn reads_v2_all_dtypes_and_codecs() {
    write_and_check(&dtype_and_codec_cases(2));
}

#[test]
fn reads_sharded_v3() {
    let cases: Vec<Case> = [DType::I32, DType::F64, DType::Bool, DType::U64]
        .iter()
        .zip(CODECS.iter().rev())
        .map(|(&dtype, &codec)| Case {
            name: format!("sharded_{dtype}_{codec}"),
            fmt: 3,
            dtype,
            shape: vec![13, 7],
            chunks: vec![4, 3],
            codec,
            shards: Some(vec![8, 6]),
        })
        .chain(std::iter::once(Case {
            name: "sharded_3d".into(),
            fmt: 3,
            dtype: DType::F32,
            shape: vec![9, 10, 5],
            chunks: vec![2, 2, 5],
            codec: "zstd",
            shards: Some(vec![4, 4, 5]),
        }))
        .collect();
    write_and_check(&cases);
}

#[test]
fn reads_0d_to_4d_and_empty() {
    let layouts: [(&[u64], &[u64]); 6] = [
        (&[10], &[3]),
        (&[1], &[1]),
        (&[4, 5, 6], &[3, 2, 4]),
        (&[3, 4, 2, 5], &[2, 3, 2, 2]),
        (&[0, 5], &[2, 2]),
        (&[], &[]),
    ];
    let cases: Vec<Case> = [2u8, 3]
        .iter()
        .flat_map(|&fmt| {
            layouts
                .iter()
                .enumerate()
                .map(move |(k, (shape, chunks))| Case {
                    name: format!("v{fmt}_{}d_{k}", shape.len()),
                    fmt,
                    dtype: [
                        DType::I16,
                        DType::U8,
                        DType::F64,
                        DType::I64,
                        DType::F32,
                        DType::U32,
                    ][k],
                    shape: shape.to_vec(),
                    chunks: chunks.to_vec(),
                    codec: CODECS[k % 4],
                    shards: None,
                })
        })
        .collect();
    write_and_check(&cases);
}

#[test]
fn missing_chunks_read_as_fill_value() {
    let dir = tmp();
    run_py(
        dir.path(),
        r"
for fmt in (2, 3):
    for dtype, fill in (('float64', 42.5), ('int32', -7), ('bool', True)):
        name = f'v{fmt}_{dtype}'
        z = write(ROOT, name, fmt, dtype, (13, 7), (4, 3), 'zstd', fill=fill,
                  region=(slice(0, 4), slice(3, 6)))
        files = [f for _, _, fs in os.walk(os.path.join(ROOT, name)) for f in fs]
        chunks = [f for f in files if not f.startswith('.') and f != 'zarr.json']
        assert len(chunks) == 1, (name, files)  # only the one chunk written
",
    );
    let cache = StoreCache::new();
    for fmt in [2, 3] {
        for (dtype, fill) in [
            (
                DType::F64,
                Chunk::F64(ArrayD::from_elem(IxDyn(&[4, 3]), 42.5)),
            ),
            (
                DType::I32,
                Chunk::I32(ArrayD::from_elem(IxDyn(&[4, 3]), -7)),
            ),
            (
                DType::Bool,
                Chunk::Bool(ArrayD::from_elem(IxDyn(&[4, 3]), true)),
            ),
        ] {
            let path = dir.path().join(format!("v{fmt}_{dtype}"));
            let want = expected(&path, dtype, &[13, 7]);
            assert_reads_match(&cache, &path, &want);
            // Chunk (2, 0) was never written: it reads as the fill value.
            assert_eq!(
                cache.read_region(&path, &[8..12, 0..3], dtype).unwrap(),
                fill
            );
            // Chunk (0, 1) was written: it does not.
            assert_ne!(
                cache.read_region(&path, &[0..4, 3..6], dtype).unwrap(),
                fill
            );
        }
    }
}

#[test]
fn reads_v2_big_endian_and_fortran_order() {
    let dir = tmp();
    run_py(
        dir.path(),
        r"
for dt in ('>f8', '>i4', '>u2'):
    write(ROOT, 'be' + dt[1:], 2, dt, (13, 7), (4, 3), 'zstd')
z = zarr.create_array(store=os.path.join(ROOT, 'fortran'), shape=(13, 7), chunks=(4, 3),
                      dtype='int16', zarr_format=2, order='F')
z[...] = values('int16', (13, 7))
assert json.load(open(os.path.join(ROOT, 'fortran', '.zarray')))['order'] == 'F'
dump(z, os.path.join(ROOT, 'fortran'))
",
    );
    let cache = StoreCache::new();
    for (name, dtype) in [
        ("bef8", DType::F64),
        ("bei4", DType::I32),
        ("beu2", DType::U16),
        ("fortran", DType::I16),
    ] {
        let path = dir.path().join(name);
        assert_eq!(open_info(&path).unwrap().dtype, dtype);
        assert_reads_match(&cache, &path, &expected(&path, dtype, &[13, 7]));
    }
}

#[test]
fn counters_count_grid_cells_and_decoded_bytes() {
    let dir = tmp();
    run_py(
        dir.path(),
        "write(ROOT, 'a', 3, 'float64', (13, 7), (4, 3), 'zstd')",
    );
    let path = dir.path().join("a");
    let cache = StoreCache::new();
    cache.read_region(&path, &[0..4, 0..3], DType::F64).unwrap();
    assert_eq!(
        (
            cache.regions_read(),
            cache.chunks_read(),
            cache.bytes_read()
        ),
        (1, 1, 96)
    );
    cache
        .read_region(&path, &[12..13, 6..7], DType::F64)
        .unwrap(); // edge chunk (3, 2)
    assert_eq!(
        (
            cache.regions_read(),
            cache.chunks_read(),
            cache.bytes_read()
        ),
        (2, 2, 104)
    );
    cache.read_region(&path, &[2..9, 1..5], DType::F64).unwrap(); // 3 x 2 chunks
    assert_eq!(
        (
            cache.regions_read(),
            cache.chunks_read(),
            cache.bytes_read()
        ),
        (3, 8, 328)
    );
    assert!(cache.read_region(&path, &[0..4, 0..3], DType::F32).is_err());
    assert_eq!(cache.regions_read(), 3, "failed reads are not counted");
    assert_eq!((cache.chunks_written(), cache.bytes_written()), (0, 0));
}

#[test]
fn parallel_reads_share_one_cache() {
    let dir = tmp();
    run_py(
        dir.path(),
        "write(ROOT, 's', 3, 'int64', (64, 48), (4, 4), 'blosc', shards=(16, 16))",
    );
    let path = dir.path().join("s");
    let want = expected(&path, DType::I64, &[64, 48]);
    let cache = StoreCache::new();
    let regions = grid_regions(&[64, 48], &[8, 12]); // not aligned with shards
    regions.par_iter().for_each(|(idx, region)| {
        let got = cache.read_region(&path, region, DType::I64).unwrap();
        assert_eq!(got, slice(&want, region), "region {idx:?}");
    });
    assert_eq!(cache.regions_read(), regions.len() as u64);
}
