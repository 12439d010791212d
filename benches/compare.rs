//! darray's side of `benches/compare/` (driven by `benches/compare/compare.py`).
//!
//! ```text
//! compare create <store>            write the float64 16384 x 8192 store (2048 x 2048
//!                                   chunks, zstd level 1) if it is not there yet
//! compare create_tall <store>       write the float64 4,000,000 x 32 store (250,000-row
//!                                   chunks, zstd level 1) if it is not there yet
//! compare <workload> <store> [out]  run one workload once, print one JSON line
//! ```
//!
//! Workloads: `mean` (mean of sin^2 + cos^2), `sum0` (sum over axis 0), `std1`
//! (std over axis 1), `copy` (`to_zarr` into `out`, same chunks and codec),
//! `tiny` (`ones(100_000, chunks=1).sum()`, no store needed), `rechunk` (2048 x
//! 2048 chunks to 16384 x 256 by the default bounded rechunk, then `to_zarr` into
//! `out` as `copy`), and the floors, which
//! use no darray code at all: `floor` (read every chunk file and zstd-decompress it
//! into a reused per-thread buffer, on a rayon pool of all cores), `floor_sincos`
//! (the floor plus sum of sin^2 + cos^2 over every decoded value, std's libm
//! `sin_cos` per element) and `floor_copy` (the floor plus zstd level 1
//! re-compression into a reused buffer and writing each chunk file under `out`).
//!
//! Linear-algebra workloads (on the 4,000,000 x 32 store unless said): `tsqr`
//! (Q and R of `linalg::tsqr`, default method; Q is never held whole: each block
//! of Q is reduced to its column sums of `|Q|` as soon as it is made, and R's row
//! sums of `|R|` come from the same graph), `tsqr_auto` and `tsqr_cholqr2` (the
//! same with `QrMethod::Auto`, `QrMethod::CholeskyQr2`), `tsqr_lowmem` (the same with `TsqrLeaves::Recompute`: the
//! Q pass reads every block again instead of holding its factorization), `svd`
//! (S only), `svd_u` (U reduced like Q, and S), `svd_u_lowmem`, `ata`
//! (`A.T @ A`), `svdc` (on the 16384 x 8192 store: `svd_compressed` with k = 10,
//! 2 power iterations, oversampling 10, seed 42; U and Vt reduced like Q, and S).
//! Dense workloads, on the 4000 x 4000 store (500 x 500 chunks; `create_square`
//! writes it): `chol` (`cholesky` of `A + Aᵀ + 4000 I`; sum of `|L|`), `solve`
//! (`solve(A, A 1)`; sum of the solution, 4000 up to rounding), `inv` (sum of
//! `|A⁻¹|`) and `qr2d` (`qr` of the matrix chunked along both axes: the tiled
//! QR; Q and R reduced as for `tsqr`).
//! Their `check` is the sum of those sums (sign-independent, so comparable with
//! dask and numpy). Their floors: `floor_gram` (the floor plus each decoded chunk's
//! `AᵢᵀAᵢ` by BLAS `dgemm`, summed per thread) and `floor_svdc` (the floor,
//! keeping every decoded chunk in memory, then six passes over them, as many as
//! randomized SVD with 2 power iterations makes over `A`, each one BLAS product
//! of every 2048 x 2048 chunk with a 2048 x 20 block).
//!
//! Data-movement workloads (on the 16384 x 8192 store; each ends in a sum, its
//! `check`): `take` (`x.take(&idx, 1)` with the 2,000 unsorted, repeated column
//! indices of [`take_indices`]), `mask` (`x.mask(&x.greater(0.5))`, a 1-d array
//! of values), `reshape` (to 8 x 2048 x 8192, a split of axis 0 that keeps every
//! block whole, then the sum over axis 0), `shift2` (`x[1.., ..] + x[..-1, ..]`)
//! and `slices5` (the 5-point Laplacian written with five shifted slices, as
//! `laplace5` in benches/stencil.rs; sum of `|.|`). `compare <workload> <store>
//! --tasks` prints the number of tasks of such a workload's graph instead of
//! running it.
//!
//! The JSON line has `seconds` (wall time of the workload, opening the store
//! included, process start-up excluded), a `check` value to compare with dask, and
//! `vmhwm_kib`, this process's own peak resident set (see `fn vmhwm_kib`).
//! Under `cargo bench` / `cargo test --benches` (no workload given) it does nothing.

use anyhow::{bail, Context, Result};
use darray::linalg::{self, QrMethod, QrOptions, Real, TsqrLeaves};
use darray::{Compression, DArray, WriteOptions};
use ndarray::s;
use rayon::prelude::*;
use std::cell::RefCell;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Instant;

const SHAPE: [usize; 2] = [16384, 8192];
const CHUNKS: [usize; 2] = [2048, 2048];
const TINY: usize = 100_000;
const TALL_SHAPE: [usize; 2] = [4_000_000, 32];
const TALL_CHUNKS: [usize; 2] = [250_000, 32];
const SQUARE_SHAPE: [usize; 2] = [4000, 4000];
const SQUARE_CHUNKS: [usize; 2] = [500, 500];
/// Columns of the randomized SVD's sketch: k = 10 plus oversampling 10.
const SKETCH: usize = 20;
/// Passes over `A` of randomized SVD with 2 power iterations: `A Ω`, then
/// `Aᵀ Q` and `A Z` twice, then `Qᵀ A`.
const SVDC_PASSES: usize = 6;

fn main() -> Result<()> {
    let tasks_only = std::env::args().any(|a| a == "--tasks");
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let Some(workload) = args.first() else {
        eprintln!("usage: compare <workload> <store> [out]   (see benches/compare/run.sh)");
        return Ok(());
    };
    let store = args.get(1).map(PathBuf::from);
    let store_arg = || store.clone().context("this workload needs a store path");
    let out = args.get(2).map(PathBuf::from);
    let out_arg = || -> Result<PathBuf> {
        Ok(out.clone().unwrap_or_else(|| {
            let s = store.clone().unwrap_or_default();
            s.with_extension("copy-darray.zarr")
        }))
    };
    let zstd1 = WriteOptions {
        compression: Compression::Zstd { level: 1 },
        overwrite: true,
        ..WriteOptions::default()
    };

    if tasks_only {
        let x = DArray::<f64>::from_zarr(store_arg()?)?;
        let tasks = movement(workload, &x)?.num_tasks()?;
        println!("{{\"tool\":\"darray\",\"workload\":\"{workload}\",\"tasks\":{tasks}}}");
        return Ok(());
    }

    let t = Instant::now();
    let check: f64 = match workload.as_str() {
        "create" | "create_tall" | "create_square" => {
            let (seed, shape, chunks) = match workload.as_str() {
                "create" => (42, SHAPE, CHUNKS),
                "create_tall" => (7, TALL_SHAPE, TALL_CHUNKS),
                _ => (5, SQUARE_SHAPE, SQUARE_CHUNKS),
            };
            let path = store_arg()?;
            if path.join("zarr.json").exists() {
                println!(
                    "{{\"tool\":\"darray\",\"workload\":\"{workload}\",\"created\":false,\"vmhwm_kib\":{}}}",
                    vmhwm_kib()
                );
                return Ok(());
            }
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            let x = DArray::<f64>::random_normal(seed, &shape, 0.0, 1.0, chunks)?;
            x.to_zarr(&path, &zstd1)?;
            0.0
        }
        "tsqr" | "tsqr_auto" | "tsqr_cholqr2" | "tsqr_lowmem" => {
            let a = DArray::<f64>::from_zarr(store_arg()?)?;
            let method = match workload.as_str() {
                "tsqr_auto" => QrMethod::Auto,
                "tsqr_cholqr2" => QrMethod::CholeskyQr2,
                _ => QrMethod::default(),
            };
            let opts = QrOptions::default().method(method).leaves(leaves(workload));
            let (q, r) = linalg::tsqr_with(&a, opts)?;
            sums(&[&q.abs().sum_axis(0)?, &r.abs().sum_axis(1)?])?
        }
        "svd" => {
            let a = DArray::<f64>::from_zarr(store_arg()?)?;
            let (_, s, _) = linalg::svd(&a)?;
            s.compute()?.sum()
        }
        "svd_u" | "svd_u_lowmem" => {
            let a = DArray::<f64>::from_zarr(store_arg()?)?;
            let (u, s, _) = linalg::svd_with(&a, leaves(workload))?;
            sums(&[&u.abs().sum_axis(0)?, &s])?
        }
        "ata" => {
            let a = DArray::<f64>::from_zarr(store_arg()?)?;
            linalg::matmul(&a.t(), &a)?.compute()?.sum()
        }
        "chol" => {
            let a = DArray::<f64>::from_zarr(store_arg()?)?;
            let l = linalg::cholesky(&spd(&a)?)?;
            l.abs().sum()?.compute_scalar()?
        }
        "solve" => {
            let a = DArray::<f64>::from_zarr(store_arg()?)?;
            // b = A 1, so the solution is a vector of ones.
            let x = linalg::solve(&a, &a.sum_axis(1)?)?;
            x.sum()?.compute_scalar()?
        }
        "inv" => {
            let a = DArray::<f64>::from_zarr(store_arg()?)?;
            linalg::inv(&a)?.abs().sum()?.compute_scalar()?
        }
        "qr2d" => {
            let a = DArray::<f64>::from_zarr(store_arg()?)?;
            let (q, r) = linalg::qr(&a)?;
            sums(&[&q.abs().sum_axis(0)?, &r.abs().sum_axis(1)?])?
        }
        "svdc" => {
            let a = DArray::<f64>::from_zarr(store_arg()?)?;
            let (u, s, vt) = linalg::svd_compressed(&a, 10, 2, 10, 42)?;
            sums(&[&u.abs().sum_axis(0)?, &s, &vt.abs().sum_axis(1)?])?
        }
        "mean" => {
            let x = DArray::<f64>::from_zarr(store_arg()?)?;
            (x.sin().powi(2) + &x.cos().powi(2))?
                .mean()?
                .compute_scalar()?
        }
        "filter3" => {
            let x = DArray::<f64>::from_zarr(store_arg()?)?;
            x.uniform_filter(3, darray::Boundary::Reflect)?
                .sum()?
                .compute_scalar()?
        }
        "laplace" => {
            let x = DArray::<f64>::from_zarr(store_arg()?)?;
            x.laplace(darray::Boundary::Reflect)?
                .abs()
                .sum()?
                .compute_scalar()?
        }
        "cumsum0" => {
            // The whole running sum is made; its last row is summed (a full
            // pass that cannot skip the scan of any block).
            let x = DArray::<f64>::from_zarr(store_arg()?)?;
            x.cumsum(0)?.abs().sum()?.compute_scalar()?
        }
        "nanpct90" => {
            let x = DArray::<f64>::from_zarr(store_arg()?)?;
            x.nanpercentile(90.0, Some(0), darray::QuantileMethod::Linear)?
                .sum()?
                .compute_scalar()?
        }
        "hist100" => {
            let x = DArray::<f64>::from_zarr(store_arg()?)?;
            let (counts, _) = x.histogram(&darray::Bins::Count {
                count: 100,
                range: (-5.0, 5.0),
            })?;
            let c = counts.compute()?;
            c.iter()
                .enumerate()
                .map(|(i, &n)| (i as f64) * n as f64)
                .sum()
        }
        "groupmean" => {
            // 365 groups along axis 0 (a day-of-year label per row).
            let x = DArray::<f64>::from_zarr(store_arg()?)?;
            let labels: Vec<i64> = (0..x.shape()[0] as i64).map(|i| i % 365).collect();
            x.groupby(&labels, 0)?.mean()?.sum()?.compute_scalar()?
        }
        "take" | "mask" | "reshape" | "shift2" | "slices5" => {
            let x = DArray::<f64>::from_zarr(store_arg()?)?;
            movement(workload, &x)?.compute_scalar()?
        }
        "sum0" => {
            let x = DArray::<f64>::from_zarr(store_arg()?)?;
            x.sum_axis(0)?.compute()?.sum()
        }
        "std1" => {
            let x = DArray::<f64>::from_zarr(store_arg()?)?;
            x.std_axis(1, 0.0)?.compute()?.mean().unwrap_or(f64::NAN)
        }
        "copy" => {
            let x = DArray::<f64>::from_zarr(store_arg()?)?;
            x.to_zarr(out_arg()?, &zstd1)?;
            0.0
        }
        "rechunk" => {
            // 2048 x 2048 chunks to whole-height 256-column chunks, written with
            // zstd level 1: the default rechunk plans split-and-merge stages
            // (each task at most 4 x a 32 MiB block).
            let x = DArray::<f64>::from_zarr(store_arg()?)?;
            x.rechunk([SHAPE[0], 256])?.to_zarr(out_arg()?, &zstd1)?;
            0.0
        }
        "tiny" => {
            let s = DArray::<f64>::ones(&[TINY], [1])?.sum()?;
            let tb = Instant::now();
            let tasks = s.graph()?.len();
            let build = tb.elapsed().as_secs_f64();
            // compute_scalar builds the graph again: `seconds` includes one build.
            let tc = Instant::now();
            let v = s.compute_scalar()?;
            let total = tc.elapsed().as_secs_f64();
            #[allow(clippy::cast_precision_loss)]
            let per_task_us = total * 1e6 / tasks as f64;
            println!(
                "{{\"tool\":\"darray\",\"workload\":\"tiny\",\"seconds\":{total},\"check\":{v},\"tasks\":{tasks},\"graph_build_seconds\":{build},\"per_task_us\":{per_task_us},\"vmhwm_kib\":{}}}",
                vmhwm_kib()
            );
            return Ok(());
        }
        "floor" => floor(&store_arg()?, Mode::Decode)?,
        "floor_sincos" => floor(&store_arg()?, Mode::SinCos)?,
        "floor_copy" => floor(&store_arg()?, Mode::Copy(out_arg()?))?,
        "floor_gram" => floor(&store_arg()?, Mode::Gram)?,
        "floor_svdc" => floor_svdc(&store_arg()?)?,
        other => bail!("unknown workload {other:?}"),
    };
    let secs = t.elapsed().as_secs_f64();
    println!(
        "{{\"tool\":\"darray\",\"workload\":\"{workload}\",\"seconds\":{secs},\"check\":{},\"vmhwm_kib\":{}}}",
        json_f64(check),
        vmhwm_kib()
    );
    Ok(())
}

/// The 2,000 column indices of `take`: unsorted, spread over every column
/// chunk, the first 500 of them repeated (the same list as
/// dask_workloads.py's).
fn take_indices() -> Vec<i64> {
    (0..2000).map(|i| (i % 1500) * 7919 % 8192).collect()
}

/// A data-movement workload on `x` as a 0-d array, its `check` (the sum
/// also of the dask side in dask_workloads.py).
// ndarray's s![1..-1] counts -1 from the end; clippy reads it as an empty range.
#[allow(clippy::reversed_empty_ranges)]
fn movement(workload: &str, x: &DArray<f64>) -> Result<DArray<f64>> {
    Ok(match workload {
        "take" => x.take(&take_indices(), 1)?.sum()?,
        "mask" => x.mask(&x.greater(0.5)?)?.sum()?,
        // 16384 = 8 x 2048: axis 0 split at its chunk boundaries (dask
        // refuses 8192 x 16384, which needs an exchange).
        "reshape" => x.reshape(&[8, 2048, 8192])?.sum_axis(0)?.sum()?,
        "shift2" => (&x.slice(s![1.., ..])? + &x.slice(s![..-1, ..])?)?.sum()?,
        "slices5" => {
            let n = x.slice(s![..-2, 1..-1])?;
            let so = x.slice(s![2.., 1..-1])?;
            let w = x.slice(s![1..-1, ..-2])?;
            let e = x.slice(s![1..-1, 2..])?;
            let c = x.slice(s![1..-1, 1..-1])?;
            let sum = (((&n + &so)? + &w)? + &e)?;
            (sum - c * 4.0)?.abs().sum()?
        }
        other => bail!("{other:?} is not a data-movement workload"),
    })
}

/// The symmetric positive definite matrix of the `chol` workload: `A + Aᵀ + n I`
/// (the eigenvalues of `A + Aᵀ` for this random `A` lie within about
/// `±2√(2n)`, far inside `n`).
fn spd(a: &DArray<f64>) -> Result<DArray<f64>> {
    let n = a.shape()[0];
    let eye = DArray::<f64>::eye(n, n, 0, SQUARE_CHUNKS)?;
    #[allow(clippy::cast_precision_loss)]
    let shift = n as f64;
    Ok((a.add(a.t())? + &(eye * shift))?)
}

/// The TSQR leaf policy of a workload: `Recompute` for the `_lowmem` ones,
/// else `Hold`, as the automatic choice makes for these 1 GiB arrays on this
/// 24 GiB machine (named, so the rows do not change with the machine).
fn leaves(workload: &str) -> TsqrLeaves {
    if workload.ends_with("_lowmem") {
        TsqrLeaves::Recompute
    } else {
        TsqrLeaves::Hold
    }
}

/// The sum of every value of the 1-D arrays `parts`, computed in one graph (so
/// factors shared by the parts are computed once).
fn sums(parts: &[&DArray<f64>]) -> Result<f64> {
    Ok(DArray::concatenate(parts, 0)?.compute()?.sum())
}

/// Little-endian float64 bytes as `f64`s: borrowed when aligned, else copied.
fn as_f64(bytes: &[u8]) -> std::borrow::Cow<'_, [f64]> {
    bytemuck::try_cast_slice(bytes).map_or_else(
        |_| std::borrow::Cow::Owned(bytemuck::pod_collect_to_vec(bytes)),
        std::borrow::Cow::Borrowed,
    )
}

/// This process's peak resident set in KiB (`VmHWM` of /proc/self/status), as
/// JSON: `null` where the kernel does not report it. compare.py reports this, not
/// `wait4`'s `ru_maxrss`: Linux carries the forking driver's peak into the child's
/// `ru_maxrss` across `exec`, so every peak below the Python driver's own was
/// hidden (every workload of the array group, the floor included, reported 238 MiB
/// in the 2026-12-03 run). Read at the end: the peak never goes down.
fn vmhwm_kib() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status.lines().find_map(|line| {
                line.strip_prefix("VmHWM:")?
                    .trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse::<u64>()
                    .ok()
            })
        })
        .map_or_else(|| "null".into(), |kib| kib.to_string())
}

fn json_f64(v: f64) -> String {
    if v.is_finite() {
        format!("{v}")
    } else {
        "null".into()
    }
}

enum Mode {
    Decode,
    SinCos,
    Copy(PathBuf),
    /// `AᵢᵀAᵢ` of every decoded chunk (C-order `m x n`), by BLAS.
    Gram,
}

thread_local! {
    /// Per-thread buffers reused across chunks: file bytes, decoded bytes, encoded bytes.
    static BUFS: RefCell<(Vec<u8>, Vec<u8>, Vec<u8>)> = const { RefCell::new((Vec::new(), Vec::new(), Vec::new())) };
}

/// Every file under `dir` except metadata, relative to `dir`.
fn chunk_files(dir: &Path, rel: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    for e in std::fs::read_dir(dir.join(rel))? {
        let e = e?;
        let r = rel.join(e.file_name());
        if e.file_type()?.is_dir() {
            chunk_files(dir, &r, out)?;
        } else if !matches!(
            e.file_name().to_str(),
            Some("zarr.json" | ".zarray" | ".zattrs" | ".zgroup")
        ) {
            out.push(r);
        }
    }
    Ok(())
}

/// `floor_svdc`: decode every chunk into memory (all cores), then
/// [`SVDC_PASSES`] passes of one BLAS product per chunk with a `side x SKETCH`
/// block. Returns the sum of the products.
fn floor_svdc(store: &Path) -> Result<f64> {
    let info = darray::store::open_info(store)?;
    let side = usize::try_from(info.chunk_shape[1])?;
    let chunk_bytes =
        usize::try_from(info.chunk_shape.iter().product::<u64>())? * info.dtype.size();
    let mut files = Vec::new();
    chunk_files(store, Path::new(""), &mut files)?;
    files.sort();
    let chunks: Vec<Vec<f64>> = files
        .par_iter()
        .map(|rel| -> Result<Vec<f64>> {
            let raw = std::fs::read(store.join(rel))?;
            let mut dec = vec![0.0f64; chunk_bytes / 8];
            let n = zstd::bulk::decompress_to_buffer(&raw, bytemuck::cast_slice_mut(&mut dec))?;
            if n != chunk_bytes {
                bail!(
                    "{}: decoded {n} bytes, expected {chunk_bytes}",
                    rel.display()
                );
            }
            Ok(dec)
        })
        .collect::<Result<_>>()?;
    #[allow(clippy::cast_precision_loss)]
    let x = vec![1.0 / side as f64; side * SKETCH];
    let mut total = 0.0;
    for _ in 0..SVDC_PASSES {
        let pass: Result<f64> = chunks
            .par_iter()
            .map(|a| -> Result<f64> {
                let rows = a.len() / side;
                let mut y = vec![0.0; rows * SKETCH];
                // Column-major `Aᵀ` (side x rows) transposed, times X (side x SKETCH).
                f64::gemm(
                    b'T', b'N', rows, SKETCH, side, 1.0, a, side, &x, side, 0.0, &mut y, rows,
                )?;
                Ok(y.iter().sum())
            })
            .try_reduce(|| 0.0, |a, b| Ok(a + b));
        total += pass?;
    }
    Ok(total)
}

/// The floor: read + zstd-decompress every chunk into reused buffers on all cores,
/// plus the per-mode extra work. Returns the workload's check value.
fn floor(store: &Path, mode: Mode) -> Result<f64> {
    let info = darray::store::open_info(store)?;
    let chunk_bytes =
        usize::try_from(info.chunk_shape.iter().product::<u64>())? * info.dtype.size();
    let mut files = Vec::new();
    chunk_files(store, Path::new(""), &mut files)?;
    files.sort();
    if let Mode::Copy(out) = &mode {
        let _ = std::fs::remove_dir_all(out);
        std::fs::create_dir_all(out)?;
        std::fs::copy(store.join("zarr.json"), out.join("zarr.json"))?;
    }
    let total: Result<(f64, u64)> = files
        .par_iter()
        .map(|rel| -> Result<(f64, u64)> {
            BUFS.with_borrow_mut(|(raw, dec, enc)| {
                raw.clear();
                std::fs::File::open(store.join(rel))?.read_to_end(raw)?;
                if dec.len() != chunk_bytes {
                    dec.resize(chunk_bytes, 0);
                }
                let n = zstd::bulk::decompress_to_buffer(raw, &mut dec[..])?;
                if n != chunk_bytes {
                    bail!(
                        "{}: decoded {n} bytes, expected {chunk_bytes}",
                        rel.display()
                    );
                }
                Ok(match &mode {
                    Mode::Decode => (f64::from(dec[n / 2]), 0),
                    Mode::SinCos => {
                        let s: f64 = dec
                            .chunks_exact(8)
                            .map(|b| {
                                let (s, c) =
                                    f64::from_le_bytes(b.try_into().expect("8 bytes")).sin_cos();
                                s * s + c * c
                            })
                            .sum();
                        (s, (n / 8) as u64)
                    }
                    Mode::Gram => {
                        let a = as_f64(&dec[..n]);
                        let cols = info.chunk_shape[1] as usize;
                        let rows = a.len() / cols;
                        let mut g = vec![0.0; cols * cols];
                        // C-order `A` is column-major `Aᵀ` (cols x rows): G = Aᵀ (Aᵀ)ᵀ.
                        f64::gemm(
                            b'N', b'T', cols, cols, rows, 1.0, &a, cols, &a, cols, 0.0, &mut g,
                            cols,
                        )?;
                        (g.iter().sum(), 0)
                    }
                    Mode::Copy(out) => {
                        let bound = zstd::zstd_safe::compress_bound(n);
                        if enc.len() < bound {
                            enc.resize(bound, 0);
                        }
                        let m = zstd::bulk::compress_to_buffer(&dec[..], &mut enc[..], 1)?;
                        let dst = out.join(rel);
                        if let Some(parent) = dst.parent() {
                            std::fs::create_dir_all(parent)?;
                        }
                        std::fs::write(dst, &enc[..m])?;
                        (0.0, 0)
                    }
                })
            })
        })
        .try_reduce(|| (0.0, 0), |a, b| Ok((a.0 + b.0, a.1 + b.1)));
    let (sum, count) = total?;
    #[allow(clippy::cast_precision_loss)]
    Ok(if count > 0 { sum / count as f64 } else { sum })
}
