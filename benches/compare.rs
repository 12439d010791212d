//! darray's side of `benches/compare/` (driven by `benches/compare/compare.py`).
//!
//! ```text
//! compare create <store>            write the float64 16384 x 8192 store (2048 x 2048
//!                                   chunks, zstd level 1) if it is not there yet
//! compare <workload> <store> [out]  run one workload once, print one JSON line
//! ```
//!
//! Workloads: `mean` (mean of sin^2 + cos^2), `sum0` (sum over axis 0), `std1`
//! (std over axis 1), `copy` (`to_zarr` into `out`, same chunks and codec),
//! `tiny` (`ones(100_000, chunks=1).sum()`, no store needed), and the floors, which
//! use no darray code at all: `floor` (read every chunk file and zstd-decompress it
//! into a reused per-thread buffer, on a rayon pool of all cores), `floor_sincos`
//! (the floor plus sum of sin^2 + cos^2 over every decoded value, std's libm
//! `sin_cos` per element) and `floor_copy` (the floor plus zstd level 1
//! re-compression into a reused buffer and writing each chunk file under `out`).
//!
//! The JSON line has `seconds` (wall time of the workload, opening the store
//! included, process start-up excluded) and a `check` value to compare with dask.
//! Under `cargo bench` / `cargo test --benches` (no workload given) it does nothing.

use anyhow::{bail, Context, Result};
use darray::{Compression, DArray, WriteOptions};
use rayon::prelude::*;
use std::cell::RefCell;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Instant;

const SHAPE: [usize; 2] = [16384, 8192];
const CHUNKS: [usize; 2] = [2048, 2048];
const TINY: usize = 100_000;

fn main() -> Result<()> {
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

    let t = Instant::now();
    let check: f64 = match workload.as_str() {
        "create" => {
            let path = store_arg()?;
            if path.join("zarr.json").exists() {
                println!("{{\"tool\":\"darray\",\"workload\":\"create\",\"created\":false}}");
                return Ok(());
            }
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            let x = DArray::<f64>::random_normal(42, &SHAPE, 0.0, 1.0, CHUNKS)?;
            x.to_zarr(&path, &zstd1)?;
            0.0
        }
        "mean" => {
            let x = DArray::<f64>::from_zarr(store_arg()?)?;
            (x.sin().powi(2) + &x.cos().powi(2))?
                .mean()?
                .compute_scalar()?
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
                "{{\"tool\":\"darray\",\"workload\":\"tiny\",\"seconds\":{total},\"check\":{v},\"tasks\":{tasks},\"graph_build_seconds\":{build},\"per_task_us\":{per_task_us}}}"
            );
            return Ok(());
        }
        "floor" => floor(&store_arg()?, Mode::Decode)?,
        "floor_sincos" => floor(&store_arg()?, Mode::SinCos)?,
        "floor_copy" => floor(&store_arg()?, Mode::Copy(out_arg()?))?,
        other => bail!("unknown workload {other:?}"),
    };
    let secs = t.elapsed().as_secs_f64();
    println!(
        "{{\"tool\":\"darray\",\"workload\":\"{workload}\",\"seconds\":{secs},\"check\":{}}}",
        json_f64(check)
    );
    Ok(())
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
