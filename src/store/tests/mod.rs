//! Store tests against zarr-python: Python writes arrays that darray reads, darray
//! writes arrays that Python reads, and both sides compare exact values through raw
//! little-endian dumps of the whole array (`<name>.expected`).
//!
//! The Python environment (numpy, zarr 3) is made once per test binary by
//! `scripts/python-env.sh` in `target/pyenv`.

// 1-d regions are one-element arrays of ranges, and reversed ranges are deliberate
// bad input.
#![allow(clippy::single_range_in_vec_init, clippy::reversed_empty_ranges)]

mod direct;
mod errors;
mod read;
mod write;

use super::*;
use darray_kernels::{map_chunk, Chunk, DType, Element};
use ndarray::{ArrayD, IxDyn, Slice};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The venv's python, made on first use (once per test binary).
fn python() -> &'static Path {
    static PY: OnceLock<PathBuf> = OnceLock::new();
    PY.get_or_init(|| {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/python-env.sh");
        let out = Command::new("bash")
            .arg(&script)
            .output()
            .expect("run python-env.sh");
        assert!(
            out.status.success(),
            "python-env.sh failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        let py = PathBuf::from(
            stdout
                .lines()
                .last()
                .expect("python-env.sh prints a path")
                .trim(),
        );
        assert!(
            py.exists(),
            "python-env.sh printed {py:?}, which does not exist"
        );
        py
    })
}

/// Helpers every Python snippet starts with.
const PY_PRELUDE: &str = r"
import os, sys, json
import numpy as np
import zarr, numcodecs
from zarr.codecs import BloscCodec, GzipCodec, ZstdCodec

def values(dtype, shape):
    # Hash-like values over each integer type's full range (sign and high bits).
    n = int(np.prod(shape, dtype=np.int64))
    i = np.arange(n, dtype=np.uint64)
    dt = np.dtype(dtype)
    if dt == np.bool_:
        v = (i % 3 == 0)
    elif dt.kind == 'f':
        v = (i.astype(np.float64) * 0.37 - 11.0).astype(dt)
    elif dt.kind == 'c':
        v = (i + 1j * i).astype(dt)
    else:
        v = (i * np.uint64(0x9E3779B97F4A7C15)).astype(dt)
    return v.reshape(shape)

def compressors(fmt, codec):
    if codec == 'none':
        return None
    if fmt == 2:
        return {'zstd': numcodecs.Zstd(level=3), 'gzip': numcodecs.GZip(level=5),
                'blosc': numcodecs.Blosc(cname='lz4', clevel=5, shuffle=numcodecs.Blosc.SHUFFLE)}[codec]
    return [{'zstd': ZstdCodec(level=3), 'gzip': GzipCodec(level=5),
             'blosc': BloscCodec(cname='lz4', clevel=5, shuffle='shuffle')}[codec]]

def dump(z, path):
    # The whole array as zarr-python reads it (fill value where chunks are missing).
    a = np.asarray(z[...])
    a.astype(a.dtype.newbyteorder('<')).tofile(path + '.expected')

def write(root, name, fmt, dtype, shape, chunks, codec, shards=None, fill=0, region=None):
    path = os.path.join(root, name)
    z = zarr.create_array(store=path, shape=shape, chunks=chunks, shards=shards, dtype=dtype,
                          zarr_format=fmt, compressors=compressors(fmt, codec), fill_value=fill)
    data = values(dtype, shape)
    if region is None:
        z[...] = data
    else:
        z[region] = data[region]
    dump(z, path)
    return z

def check(root, name, dtype, shape, chunks, shards=None, fmt=None):
    # Compares an array darray wrote with the dump darray wrote next to it.
    path = os.path.join(root, name)
    z = zarr.open_array(path, mode='r')
    assert z.dtype == np.dtype(dtype), (name, z.dtype, dtype)
    assert z.shape == tuple(shape), (name, z.shape, shape)
    assert z.chunks == tuple(chunks), (name, z.chunks, chunks)
    assert z.shards == (tuple(shards) if shards else None), (name, z.shards, shards)
    if fmt is not None:
        assert z.metadata.zarr_format == fmt, (name, z.metadata.zarr_format, fmt)
    want = np.fromfile(path + '.expected', dtype=np.dtype(dtype).newbyteorder('<')).reshape(shape)
    got = np.asarray(z[...])
    assert np.array_equal(got, want), (name, got, want)
";

/// Runs `code` after [`PY_PRELUDE`] with `ROOT` set to `root`; panics with Python's
/// stderr if it fails.
fn run_py(root: &Path, code: &str) {
    let program = format!(
        "{PY_PRELUDE}\nROOT = {:?}\n{code}",
        root.to_str().expect("utf-8 tmp path")
    );
    let out = Command::new(python())
        .arg("-c")
        .arg(&program)
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "python failed:\n{}\n--- program ---\n{code}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().expect("create temp dir")
}

/// Little-endian encoding of element types, for `.expected` dumps.
trait Le: Element {
    const SIZE: usize;
    fn put(self, out: &mut Vec<u8>);
    fn get(b: &[u8]) -> Self;
}

macro_rules! impl_le {
    ($($t:ty),*) => {$(
        impl Le for $t {
            const SIZE: usize = std::mem::size_of::<$t>();
            fn put(self, out: &mut Vec<u8>) { out.extend_from_slice(&self.to_le_bytes()); }
            fn get(b: &[u8]) -> Self { <$t>::from_le_bytes(b.try_into().expect("element size")) }
        }
    )*};
}
impl_le!(i8, i16, i32, i64, u8, u16, u32, u64, f32, f64);

impl Le for bool {
    const SIZE: usize = 1;
    fn put(self, out: &mut Vec<u8>) {
        out.push(u8::from(self));
    }
    fn get(b: &[u8]) -> Self {
        assert!(b[0] <= 1, "bool byte {}", b[0]);
        b[0] == 1
    }
}

fn parse_le<T: Le>(bytes: &[u8], shape: &[usize]) -> Chunk {
    assert_eq!(
        bytes.len(),
        shape.iter().product::<usize>() * T::SIZE,
        "dump size"
    );
    let v: Vec<T> = bytes.chunks_exact(T::SIZE).map(T::get).collect();
    T::into_chunk(ArrayD::from_shape_vec(IxDyn(shape), v).expect("dump shape"))
}

fn dump_le<T: Le>(a: &ArrayD<T>) -> Vec<u8> {
    let mut out = Vec::with_capacity(a.len() * T::SIZE);
    for &x in a {
        x.put(&mut out);
    }
    out
}

/// The `.expected` dump next to the array at `path`.
fn expected(path: &Path, dtype: DType, shape: &[u64]) -> Chunk {
    let bytes = std::fs::read(format!("{}.expected", path.display())).expect("read dump");
    let shape: Vec<usize> = shape.iter().map(|&s| usize::try_from(s).unwrap()).collect();
    darray_kernels::dispatch_dtype!(dtype, T => parse_le::<T>(&bytes, &shape))
}

/// Writes the `.expected` dump of `c` next to `path`.
fn write_expected(path: &Path, c: &Chunk) {
    let bytes = map_chunk!(c, a => dump_le(a), _ => panic!("not data"));
    std::fs::write(format!("{}.expected", path.display()), bytes).expect("write dump");
}

/// Deterministic sample data (Rust twin of the Python `values`, not necessarily equal).
#[allow(
    clippy::cast_possible_truncation,
    clippy::cast_possible_wrap,
    clippy::cast_precision_loss
)]
fn sample(dtype: DType, shape: &[usize]) -> Chunk {
    fn build<T: Element>(shape: &[usize], n: usize, f: impl Fn(usize) -> T) -> Chunk {
        T::into_chunk(ArrayD::from_shape_vec(IxDyn(shape), (0..n).map(f).collect()).unwrap())
    }
    let n: usize = shape.iter().product();
    let h = |i: usize| (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    match dtype {
        DType::Bool => build(shape, n, |i| i % 3 == 0),
        DType::I8 => build(shape, n, |i| h(i) as i8),
        DType::I16 => build(shape, n, |i| h(i) as i16),
        DType::I32 => build(shape, n, |i| h(i) as i32),
        DType::I64 => build(shape, n, |i| h(i) as i64),
        DType::U8 => build(shape, n, |i| h(i) as u8),
        DType::U16 => build(shape, n, |i| h(i) as u16),
        DType::U32 => build(shape, n, |i| h(i) as u32),
        DType::U64 => build(shape, n, h),
        DType::F32 => build(shape, n, |i| i as f32 * 0.37 - 11.0),
        DType::F64 => build(shape, n, |i| i as f64 * 0.37 - 11.0),
    }
}

/// `c[region]` as an owned C-contiguous chunk.
fn slice(c: &Chunk, region: &[Range<u64>]) -> Chunk {
    fn go<T: Element>(a: &ArrayD<T>, region: &[Range<u64>]) -> Chunk {
        let v = a.slice_each_axis(|ax| {
            let r = &region[ax.axis.index()];
            Slice::from(usize::try_from(r.start).unwrap()..usize::try_from(r.end).unwrap())
        });
        T::into_chunk(v.to_owned())
    }
    map_chunk!(c, a => go(a, region), _ => panic!("not data"))
}

/// All chunk regions of the regular grid `chunks` over `shape`, clipped to the array.
fn grid_regions(shape: &[u64], chunks: &[u64]) -> Vec<(Vec<u64>, Vec<Range<u64>>)> {
    let grid: Vec<u64> = shape
        .iter()
        .zip(chunks)
        .map(|(s, c)| s.div_ceil(*c))
        .collect();
    let mut out = Vec::new();
    let total: u64 = grid.iter().product();
    for flat in 0..total {
        let mut rem = flat;
        let mut idx = vec![0; grid.len()];
        for ax in (0..grid.len()).rev() {
            idx[ax] = rem % grid[ax];
            rem /= grid[ax];
        }
        let region = idx
            .iter()
            .zip(chunks)
            .zip(shape)
            .map(|((&i, &c), &s)| i * c..((i + 1) * c).min(s))
            .collect();
        out.push((idx, region));
    }
    out
}

/// Reads `path` chunk by chunk, whole, and in an unaligned region crossing chunk
/// boundaries, and compares each with `want`.
fn assert_reads_match(cache: &StoreCache, path: &Path, want: &Chunk) {
    let info = cache.info(path).unwrap();
    let dtype = info.dtype;
    for (idx, region) in grid_regions(&info.shape, &info.chunk_shape) {
        let got = cache.read_region(path, &region, dtype).unwrap();
        assert_eq!(
            got,
            slice(want, &region),
            "{} chunk {idx:?}",
            path.display()
        );
    }
    let all: Vec<Range<u64>> = info.shape.iter().map(|&s| 0..s).collect();
    assert_eq!(
        cache.read_region(path, &all, dtype).unwrap(),
        *want,
        "{} whole",
        path.display()
    );
    let odd: Vec<Range<u64>> = info
        .shape
        .iter()
        .map(|&s| (s / 3)..(s - s / 4).max(s / 3))
        .collect();
    assert_eq!(
        cache.read_region(path, &odd, dtype).unwrap(),
        slice(want, &odd),
        "{} region {odd:?}",
        path.display()
    );
}

#[test]
fn store_cache_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<StoreCache>();
    check::<StoreError>();
}
