//! The README's main job: makes a 256 MiB float64 Zarr v3 store under target/
//! (once), then computes on it chunk by chunk and prints results and timings.
//!
//! `cargo run --release --example quickstart`

use darray::{Compression, DArray, WriteOptions};
use std::path::Path;
use std::time::Instant;

fn main() -> anyhow::Result<()> {
    let path = Path::new("target/quickstart/data.zarr");
    if !path.exists() {
        let t = Instant::now();
        let x = DArray::<f64>::random_normal(42, &[8192, 4096], 0.0, 1.0, [1024, 1024])?;
        let opts = WriteOptions {
            compression: Compression::Zstd { level: 1 },
            ..WriteOptions::default()
        };
        std::fs::create_dir_all("target/quickstart")?;
        x.to_zarr(path, &opts)?;
        println!(
            "wrote {} ({} MiB) in {:.2?}",
            path.display(),
            x.nbytes() >> 20,
            t.elapsed()
        );
    }

    let x = DArray::<f64>::from_zarr(path)?;
    println!(
        "x: shape {:?}, chunks {:?}, dtype {}",
        x.shape(),
        x.numblocks(),
        x.dtype()
    );

    // A fused chain ending in a reduction: one task per chunk, no temporaries.
    let t = Instant::now();
    let m = (x.sin().powi(2) + &x.cos().powi(2))?
        .mean()?
        .compute_scalar()?;
    println!("mean(sin^2 + cos^2) = {m:.15}   {:.2?}", t.elapsed());

    let t = Instant::now();
    let s = x.sum_axis(0)?.compute()?;
    println!(
        "sum(axis=0): {} values, first {:.6}   {:.2?}",
        s.len(),
        s[[0]],
        t.elapsed()
    );

    let t = Instant::now();
    let sd = x.std_axis(1, 0.0)?.compute()?;
    let mean_sd = sd.mean().unwrap_or(f64::NAN);
    println!(
        "std(axis=1): mean over rows {mean_sd:.6} (expect ~1)   {:.2?}",
        t.elapsed()
    );

    let t = Instant::now();
    let top = x.slice(ndarray::s![0..10, ..])?.max()?.compute_scalar()?;
    println!("max of the first 10 rows = {top:.6}   {:.2?}", t.elapsed());

    let t = Instant::now();
    let count = x.greater(3.0)?.count_nonzero()?.compute_scalar()?;
    println!("values above 3 sigma: {count}   {:.2?}", t.elapsed());
    Ok(())
}
