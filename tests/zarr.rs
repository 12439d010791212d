//! Zarr end to end through the public API: round trips (v2, v3, sharded, every
//! codec), culling (a slice reads only the chunks it overlaps), safe writes
//! (nothing at the path unless complete), bad stores, and interop with
//! zarr-python both ways (installed into target/pyenv by scripts/python-env.sh).

mod common;
#[path = "common/servers.rs"]
mod servers;

use darray::exec::Executor;
use darray::{Compression, DArray, Error, LocalExecutor, WriteOptions, ZarrFormat};
use ndarray::{s, ArrayD, Dimension, IxDyn};
use servers::py;
use std::path::{Path, PathBuf};
use std::process::Command;

fn ramp(shape: &[usize]) -> ArrayD<f64> {
    ArrayD::from_shape_fn(IxDyn(shape), |i| {
        i.as_array_view()
            .iter()
            .fold(0.0, |acc, &k| acc * 100.0 + k as f64)
            * 0.5
            - 7.0
    })
}

#[test]
fn round_trips_every_format_and_codec() {
    let dir = tempfile::tempdir().unwrap();
    let a = ramp(&[37, 23]);
    let x = DArray::from_ndarray(&a, vec![vec![10, 10, 10, 7], vec![5, 18]]).unwrap();
    let codecs = [
        Compression::None,
        Compression::Zstd { level: 1 },
        Compression::Gzip { level: 5 },
        Compression::Blosc {
            cname: "lz4".into(),
            clevel: 5,
            shuffle: true,
        },
    ];
    for (i, (format, codec)) in [ZarrFormat::V2, ZarrFormat::V3]
        .into_iter()
        .flat_map(|f| codecs.iter().cloned().map(move |c| (f, c)))
        .enumerate()
    {
        let path = dir.path().join(format!("a{i}.zarr"));
        let opts = WriteOptions {
            zarr_format: format,
            compression: codec,
            ..WriteOptions::default()
        };
        x.to_zarr(&path, &opts).unwrap();
        let y = DArray::<f64>::from_zarr(&path).unwrap();
        // The irregular grid was rechunked to a regular one (first size per axis).
        assert_eq!(y.chunks(), &vec![vec![10, 10, 10, 7], vec![5, 5, 5, 5, 3]]);
        assert_eq!(y.compute().unwrap(), a);
    }
    // Sharded v3: each task writes one whole shard.
    let path = dir.path().join("sharded.zarr");
    let opts = WriteOptions {
        inner_chunk_shape: Some(vec![5, 4]),
        chunk_shape: Some(vec![10, 8]),
        ..WriteOptions::default()
    };
    x.to_zarr(&path, &opts).unwrap();
    assert_eq!(
        DArray::<f64>::from_zarr(&path).unwrap().compute().unwrap(),
        a
    );
}

#[test]
fn slices_read_only_overlapping_chunks() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.zarr");
    let a = ramp(&[100, 60]);
    DArray::from_ndarray(&a, [10, 20])
        .unwrap()
        .to_zarr(&path, &WriteOptions::default())
        .unwrap();
    let x = DArray::<f64>::from_zarr(&path).unwrap();
    let exec = LocalExecutor::with_threads(2).unwrap();
    let got = x
        .slice(s![0..10, ..])
        .unwrap()
        .sum()
        .unwrap()
        .compute_with(&exec)
        .unwrap();
    assert_eq!(exec.last_stats().chunks_read, 3);
    assert!((got.sum() - a.slice(s![0..10, ..]).sum()).abs() < 1e-9);
    let _ = x
        .slice(s![15..35;5, 50])
        .unwrap()
        .compute_with(&exec)
        .unwrap();
    // Rows 15, 20, 25, 30 lie in 3 block-rows; column 50 in one block-column.
    assert_eq!(exec.last_stats().chunks_read, 3);
    let _ = x.sum().unwrap().compute_with(&exec).unwrap();
    assert_eq!(exec.last_stats().chunks_read, 30);
    assert_eq!(exec.last_stats().bytes_read, 100 * 60 * 8);
}

#[test]
fn failed_writes_leave_nothing_and_existing_stores_are_kept() {
    fn fail(_: &[&darray::Chunk]) -> Result<darray::Chunk, String> {
        Err("injected failure".into())
    }
    darray::register_kernel_raw("zarr-test-fail", fail).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.zarr");
    let x = DArray::<f64>::ones(&[20], [5]).unwrap();
    let bad = x.map_blocks::<f64>("zarr-test-fail").unwrap();
    assert!(bad.to_zarr(&path, &WriteOptions::default()).is_err());
    assert!(!path.exists());
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "staging left behind"
    );
    x.to_zarr(&path, &WriteOptions::default()).unwrap();
    // Without overwrite: refused, old data intact.
    assert!((&x * 2.0).to_zarr(&path, &WriteOptions::default()).is_err());
    assert_eq!(
        DArray::<f64>::from_zarr(&path)
            .unwrap()
            .sum()
            .unwrap()
            .compute_scalar()
            .unwrap(),
        20.0
    );
    (&x * 2.0)
        .to_zarr(
            &path,
            &WriteOptions {
                overwrite: true,
                ..WriteOptions::default()
            },
        )
        .unwrap();
    assert_eq!(
        DArray::<f64>::from_zarr(&path)
            .unwrap()
            .sum()
            .unwrap()
            .compute_scalar()
            .unwrap(),
        40.0
    );
}

/// Set in a child process of [`killed_writers_staging_is_removed_by_the_next_write`]:
/// the destination that child writes to, forever.
const KILLED_WRITER_ENV: &str = "DARRAY_TEST_KILLED_WRITER_DEST";

/// The hidden staging directories beside `dest`.
fn stagings(dest: &Path) -> Vec<PathBuf> {
    let prefix = format!(
        ".{}.darray-staging-",
        dest.file_name().unwrap().to_str().unwrap()
    );
    let mut v: Vec<PathBuf> = std::fs::read_dir(dest.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with(&prefix)
        })
        .collect();
    v.sort();
    v
}

#[test]
fn killed_writers_staging_is_removed_by_the_next_write() {
    if let Some(dest) = std::env::var_os(KILLED_WRITER_ENV) {
        // The child: a write whose one task never finishes, killed by the parent.
        darray::register_kernel::<f64, f64>("zarr-test-hang", |_| {
            std::thread::sleep(std::time::Duration::from_secs(600));
            unreachable!("the parent kills this process first")
        })
        .unwrap();
        let x = DArray::<f64>::ones(&[8], [8]).unwrap();
        let _ = x
            .map_blocks::<f64>("zarr-test-hang")
            .unwrap()
            .to_zarr(PathBuf::from(dest), &WriteOptions::default());
        unreachable!("the write hangs until the parent kills it");
    }
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("out.zarr");
    // A live writer's staging (this process's) must survive every cleaning.
    let live = darray::store::create_staging(
        &dest,
        &[8],
        &[8],
        darray::DType::F64,
        &WriteOptions::default(),
    )
    .unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "killed_writers_staging_is_removed_by_the_next_write",
            "--test-threads=1",
            "--nocapture",
        ])
        .env(KILLED_WRITER_ENV, &dest)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    let dead = loop {
        if let Some(p) = stagings(&dest).into_iter().find(|p| p != &live) {
            break p;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the child never staged"
        );
        assert!(child.try_wait().unwrap().is_none(), "the child exited");
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    child.kill().unwrap(); // SIGKILL: no destructor or abort path runs.
    child.wait().unwrap();
    assert!(
        dead.join("zarr.json").is_file(),
        "the killed writer's staging"
    );

    // Elsewhere in a tree: a copy of the dead writer's directory for another
    // destination, one inside an array (not searched), and the live one.
    let tree = dir.path().join("tree");
    let suffix = dead.file_name().unwrap().to_str().unwrap()[".out.zarr".len()..].to_string();
    let nested = tree.join("group/sub").join(format!(".other.zarr{suffix}"));
    let in_array = tree.join("arr.zarr").join(format!(".a{suffix}"));
    std::fs::create_dir_all(&nested).unwrap();
    std::fs::create_dir_all(&in_array).unwrap();
    std::fs::write(tree.join("arr.zarr/.zarray"), "{}").unwrap();
    let live_in_tree = tree.join(live.file_name().unwrap());
    std::fs::create_dir_all(&live_in_tree).unwrap();

    // The next write to the destination removes the dead writer's staging only.
    let x = DArray::<f64>::ones(&[8], [4]).unwrap();
    x.to_zarr(&dest, &WriteOptions::default()).unwrap();
    assert_eq!(stagings(&dest), vec![live.clone()]);
    assert_eq!(
        DArray::<f64>::from_zarr(&dest)
            .unwrap()
            .sum()
            .unwrap()
            .compute_scalar()
            .unwrap(),
        8.0
    );

    let removed = darray::store::clean_staging(dir.path()).unwrap();
    assert_eq!(removed, vec![nested.clone()]);
    assert!(!nested.exists() && in_array.exists() && live_in_tree.exists() && live.exists());
    darray::store::abort_staging(&live);
}

#[test]
fn bad_stores_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    assert!(matches!(
        DArray::<f64>::from_zarr(dir.path().join("missing.zarr")),
        Err(Error::Store(_))
    ));
    let path = dir.path().join("i.zarr");
    DArray::<i32>::ones(&[10, 10], [5, 5])
        .unwrap()
        .to_zarr(&path, &WriteOptions::default())
        .unwrap();
    match DArray::<f64>::from_zarr(&path) {
        Err(Error::Store(e)) => assert!(e.to_string().contains("int32"), "{e}"),
        Err(Error::DTypeMismatch { found, .. }) => assert_eq!(found, darray::DType::I32),
        other => panic!("expected a dtype error, got {other:?}"),
    }
    // Corrupt one chunk: the error names the task and the store.
    let chunk = std::fs::read_dir(path.join("c").join("1"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    std::fs::write(&chunk, b"not zstd at all").unwrap();
    let x = DArray::<i32>::from_zarr(&path).unwrap();
    let err = x.sum().unwrap().compute().unwrap_err();
    match &err {
        Error::Task { key, .. } => assert!(key.starts_with("i.zarr"), "{key}"),
        other => panic!("{other:?}"),
    }
    // The other chunks still read.
    assert_eq!(
        x.slice(s![0..5, ..])
            .unwrap()
            .sum()
            .unwrap()
            .compute_scalar()
            .unwrap(),
        50
    );
    let exec = LocalExecutor::with_threads(1).unwrap();
    assert!(exec.execute(&x.graph().unwrap()).is_err());
}

#[test]
fn reads_what_zarr_python_writes() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    py(&format!(
        r#"
import numpy as np, zarr
from zarr.codecs import BloscCodec, ZstdCodec, GzipCodec
def ramp(shape, dtype):
    a = np.zeros(shape)
    for idx in np.ndindex(*shape):
        v = 0.0
        for k in idx: v = v * 100.0 + k
        a[idx] = v * 0.5 - 7.0
    return a.astype(dtype)
a = ramp((37, 23), 'float64')
zarr.create_array('{d}/v3.zarr', data=a, chunks=(10, 7), compressors=ZstdCodec(level=3))
zarr.create_array('{d}/v3s.zarr', data=a, chunks=(5, 7), shards=(10, 14))
zarr.create_array('{d}/v3g.zarr', data=a, chunks=(16, 16), compressors=GzipCodec())
zarr.create_array('{d}/v3n.zarr', data=a, chunks=(37, 23), compressors=None)
zarr.create_array('{d}/v2.zarr', data=a, chunks=(8, 8), zarr_format=2)
zarr.create_array('{d}/i16.zarr', data=ramp((3, 4, 5), 'int16'), chunks=(2, 3, 4), compressors=BloscCodec(cname='lz4'))
z = zarr.create_array('{d}/fill.zarr', shape=(10,), chunks=(3,), dtype='float32', fill_value=2.5)
z[0:3] = np.arange(3)
"#
    ));
    let a = ramp(&[37, 23]);
    for name in ["v3", "v3s", "v3g", "v3n", "v2"] {
        let x = DArray::<f64>::from_zarr(dir.path().join(format!("{name}.zarr"))).unwrap();
        assert_eq!(x.compute().unwrap(), a, "{name}");
    }
    let i = DArray::<i16>::from_zarr(dir.path().join("i16.zarr")).unwrap();
    assert_eq!(i.chunks()[0], vec![2, 1]);
    assert_eq!(i.compute().unwrap(), ramp(&[3, 4, 5]).mapv(|v| v as i16));
    let f = DArray::<f32>::from_zarr(dir.path().join("fill.zarr"))
        .unwrap()
        .compute()
        .unwrap();
    assert_eq!(
        f.iter().copied().collect::<Vec<_>>(),
        vec![0.0, 1.0, 2.0, 2.5, 2.5, 2.5, 2.5, 2.5, 2.5, 2.5]
    );
}

#[test]
fn zarr_python_reads_what_darray_writes() {
    let dir = tempfile::tempdir().unwrap();
    let x = DArray::<f64>::random_normal(3, &[50, 30], 0.0, 1.0, [16, 7]).unwrap();
    let want = x.compute().unwrap();
    let u = DArray::<u8>::arange(0.0, 200.0, 1.0, [64]).unwrap();
    let cases = [
        ("v3.zarr", WriteOptions::default()),
        (
            "v2.zarr",
            WriteOptions {
                zarr_format: ZarrFormat::V2,
                ..WriteOptions::default()
            },
        ),
        (
            "sh.zarr",
            WriteOptions {
                inner_chunk_shape: Some(vec![8, 7]),
                ..WriteOptions::default()
            },
        ),
    ];
    for (name, opts) in &cases {
        x.to_zarr(dir.path().join(name), opts).unwrap();
        let out = py(&format!(
            "import zarr\na = zarr.open_array('{}', mode='r')[...]\nprint(a.shape, a.dtype)\nprint(' '.join(repr(float(v)) for v in a.ravel()))",
            dir.path().join(name).display()
        ));
        let mut lines = out.lines();
        assert_eq!(lines.next().unwrap(), "(50, 30) float64", "{name}");
        let got: Vec<f64> = lines
            .next()
            .unwrap()
            .split(' ')
            .map(|v| v.parse().unwrap())
            .collect();
        assert_eq!(got, want.iter().copied().collect::<Vec<_>>(), "{name}");
    }
    u.to_zarr(dir.path().join("u8.zarr"), &WriteOptions::default())
        .unwrap();
    let out = py(&format!(
        "import zarr\na = zarr.open_array('{}', mode='r')[...]\nprint(a.dtype, int(a.sum()), a.shape)",
        dir.path().join("u8.zarr").display()
    ));
    assert_eq!(
        out.trim(),
        format!("uint8 {} (200,)", (0..200u32).sum::<u32>())
    );
}

/// float16 both ways: what zarr-python writes as `float16` (v2 and v3) darray
/// reads as the exact f32 values; what darray writes with `float16` zarr-python
/// reads as `float16`, each value NumPy's `astype(float16)` of the f32 data
/// (ties to even, overflow to inf, subnormals).
#[test]
fn float16_both_ways_with_zarr_python() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    // Values with ties, subnormals, overflow, signed zeros and NaN.
    let vals = "[0.0, -0.0, 1.0, 1.0009765625, 1.00048828125, 65504.0, 70000.0, -1e9, 6e-8, 3e-5, 0.1, -2.5, float('nan'), 1234.5678]";
    py(&format!(
        "import zarr, numpy as np
a = np.array({vals} * 3, dtype=np.float32).reshape(6, 7).astype(np.float16)
zarr.create_array('{d}/v3.zarr', data=a, chunks=(4, 3))
zarr.create_array('{d}/v2.zarr', data=a, chunks=(5, 5), zarr_format=2)
np.save('{d}/a.npy', a.astype(np.float32))
np.save('{d}/src.npy', np.array({vals} * 3, dtype=np.float32).reshape(6, 7))"
    ));
    let want: Vec<u32> = py(&format!(
        "import numpy as np\nprint(' '.join(str(v) for v in np.load('{d}/a.npy').view(np.uint32).ravel()))"
    ))
    .split_whitespace()
    .map(|v| v.parse().unwrap())
    .collect();
    for name in ["v3.zarr", "v2.zarr"] {
        let x = DArray::<f32>::from_zarr(dir.path().join(name)).unwrap();
        assert_eq!(x.shape(), &[6, 7]);
        let got: Vec<u32> = x.compute().unwrap().iter().map(|v| v.to_bits()).collect();
        assert_eq!(got, want, "{name}");
        // Any slice reads through the same conversion.
        let part = x.slice(s![1..5, 2..6]).unwrap().compute().unwrap();
        assert_eq!(part[[0, 0]].to_bits(), want[7 + 2], "{name}");
    }
    assert!(DArray::<f64>::from_zarr(dir.path().join("v3.zarr")).is_err());

    // darray writes float16 from f32 data, in both formats and sharded.
    let src: Vec<f32> = py(&format!(
        "import numpy as np\nprint(' '.join(str(v) for v in np.load('{d}/src.npy').view(np.uint32).ravel()))"
    ))
    .split_whitespace()
    .map(|v| f32::from_bits(v.parse().unwrap()))
    .collect();
    let x = DArray::from_ndarray(
        &ArrayD::from_shape_vec(IxDyn(&[6, 7]), src).unwrap(),
        [4, 3],
    )
    .unwrap();
    let formats = [
        ("w3.zarr", ZarrFormat::V3, None),
        ("w2.zarr", ZarrFormat::V2, None),
        ("ws.zarr", ZarrFormat::V3, Some(vec![2, 3])),
    ];
    for (name, zarr_format, inner) in formats {
        let opts = WriteOptions {
            zarr_format,
            float16: true,
            inner_chunk_shape: inner,
            ..WriteOptions::default()
        };
        x.to_zarr(dir.path().join(name), &opts).unwrap();
        let out = py(&format!(
            "import zarr, numpy as np
z = zarr.open_array('{d}/{name}', mode='r')
a = z[...]
want = np.load('{d}/src.npy').astype(np.float16)
print(a.dtype, np.array_equal(a.view(np.uint16), want.view(np.uint16)))"
        ));
        assert_eq!(out.trim(), "float16 True", "{name}");
        // And darray reads its own float16 back as the rounded values.
        let back = DArray::<f32>::from_zarr(dir.path().join(name))
            .unwrap()
            .compute()
            .unwrap();
        let got: Vec<u32> = back.iter().map(|v| v.to_bits()).collect();
        assert_eq!(got, want, "{name} read back");
    }
    // Part of chunks rewritten (read_modify_write, the region cutting chunks
    // and shards): the region's values rounded to f16, the rest of each chunk
    // kept, the same as zarr-python reads it.
    let patch = ArrayD::from_shape_fn(IxDyn(&[3, 4]), |i| {
        0.1f32 + (i[0] * 4 + i[1]) as f32 / 3.0 - 2.0
    });
    let y = DArray::from_ndarray(&patch, [2, 3]).unwrap();
    let rmw = darray::RegionOptions {
        read_modify_write: true,
    };
    for name in ["w3.zarr", "w2.zarr", "ws.zarr"] {
        let p = dir.path().join(name);
        let mut want = DArray::<f32>::from_zarr(&p).unwrap().compute().unwrap();
        y.to_zarr_region(&p, &[1..4, 2..6], &rmw).unwrap();
        want.slice_mut(s![1..4, 2..6])
            .assign(&patch.mapv(|v| half::f16::from_f32(v).to_f32()));
        let got = DArray::<f32>::from_zarr(&p).unwrap().compute().unwrap();
        let bits = |a: &ArrayD<f32>| a.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&got), bits(&want), "{name}: read-modify-write");
        let np = py(&format!(
            "import zarr, numpy as np
a = zarr.open_array('{d}/{name}', mode='r')[...]
print(a.dtype, ' '.join(str(v) for v in a.astype(np.float32).view(np.uint32).ravel()))"
        ));
        let mut words = np.split_whitespace();
        assert_eq!(words.next(), Some("float16"), "{name}");
        let py_bits: Vec<u32> = words.map(|w| w.parse().unwrap()).collect();
        assert_eq!(py_bits, bits(&want), "{name}: zarr-python");
    }
    // float16 storage is for f32 arrays: refused before anything is written.
    let opts = WriteOptions {
        float16: true,
        ..WriteOptions::default()
    };
    let err = DArray::<f64>::ones(&[3], [2])
        .unwrap()
        .to_zarr(dir.path().join("f64.zarr"), &opts)
        .unwrap_err();
    assert!(err.to_string().contains("float16"), "{err}");
    assert!(!dir.path().join("f64.zarr").exists());
}
