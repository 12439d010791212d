//! A tall-skinny float64 matrix stored in Zarr (4,000,000 x 32, 250,000-row
//! chunks, zstd level 1; written under target/ once): its QR and SVD, Q written
//! to a new Zarr store, accuracy checks and timings.
//!
//! `OPENBLAS_NUM_THREADS=1 cargo run --release --example tsqr_zarr [rows] [--low-memory]`
//!
//! `--low-memory` builds the factorizations with `TsqrLeaves::Recompute`: the
//! Q pass reads and factors every row block again instead of holding its
//! factorization from the R pass, so memory stays bounded by the blocks in
//! flight (the default, `TsqrLeaves::Auto`, does so for matrices larger than an
//! eighth of the memory budget of the executor that runs them).

use darray::linalg::{self, NormOrd, TsqrLeaves};
use darray::{Compression, DArray, WriteOptions};
use std::path::Path;
use std::time::Instant;

fn main() -> anyhow::Result<()> {
    let low_memory = std::env::args().any(|a| a == "--low-memory");
    let rows: usize = std::env::args()
        .skip(1)
        .find(|a| a != "--low-memory")
        .map_or(Ok(4_000_000), |s| s.parse())?;
    let leaves = if low_memory {
        TsqrLeaves::Recompute
    } else {
        TsqrLeaves::Auto
    };
    let dir = Path::new("target/tsqr_zarr");
    let path = dir.join(format!("a-{rows}.zarr"));
    if !path.exists() {
        let t = Instant::now();
        std::fs::create_dir_all(dir)?;
        let a = DArray::<f64>::random_normal(7, &[rows, 32], 0.0, 1.0, [250_000, 32])?;
        let opts = WriteOptions {
            compression: Compression::Zstd { level: 1 },
            ..WriteOptions::default()
        };
        a.to_zarr(&path, &opts)?;
        println!(
            "wrote {} ({} MiB) in {:.2?}",
            path.display(),
            a.nbytes() >> 20,
            t.elapsed()
        );
    }
    let a = DArray::<f64>::from_zarr(&path)?;
    println!("A: shape {:?}, {} row chunks", a.shape(), a.numblocks()[0]);

    // Q and R share one plan: write Q (it runs the R tree), then R from memory-cheap recompute.
    let t = Instant::now();
    let (q, r) = linalg::tsqr_with(&a, leaves)?;
    println!("tsqr leaves: {leaves:?}");
    let q_path = dir.join("q.zarr");
    q.to_zarr(
        &q_path,
        &WriteOptions {
            overwrite: true,
            ..WriteOptions::default()
        },
    )?;
    println!(
        "tsqr: Q written to {} in {:.2?}",
        q_path.display(),
        t.elapsed()
    );
    let t = Instant::now();
    let r_mem = r.compute()?;
    println!("tsqr: R ({:?}) in {:.2?}", r_mem.shape(), t.elapsed());

    // Accuracy, computed chunk by chunk from the stored Q.
    let q = DArray::<f64>::from_zarr(&q_path)?;
    let eye = DArray::<f64>::eye(32, 32, 0, [32, 32])?;
    let orth = linalg::norm(
        &(linalg::tensordot(&q, &q, &[0], &[0])? - &eye)?,
        NormOrd::Fro,
    )?
    .compute_scalar()?;
    let rec = (linalg::matmul(&q, &DArray::from_ndarray(&r_mem, [32, 32])?)? - &a)?;
    let rel = linalg::norm(&rec, NormOrd::Fro)?.compute_scalar()?
        / linalg::norm(&a, NormOrd::Fro)?.compute_scalar()?;
    println!("‖QᵀQ - I‖_F = {orth:.2e}, ‖A - QR‖_F / ‖A‖_F = {rel:.2e}");

    let t = Instant::now();
    let (_, s, _) = linalg::svd_with(&a, leaves)?;
    let s = s.compute()?;
    println!(
        "svd: s[0] = {:.4}, s[31] = {:.4} in {:.2?}",
        s[0],
        s[31],
        t.elapsed()
    );

    let t = Instant::now();
    let g = linalg::tensordot(&a, &a, &[0], &[0])?.compute()?;
    println!(
        "A.T @ A: trace {:.6e} in {:.2?}",
        (0..32).map(|i| g[[i, i]]).sum::<f64>(),
        t.elapsed()
    );
    Ok(())
}
