//! Stencils over a large image-like Zarr array: a Gaussian blur and a
//! Laplacian, each written back to Zarr, with peak memory bounded by the
//! blocks in flight and their halos (never the image).
//!
//! `OPENBLAS_NUM_THREADS=1 cargo run --release --example stencil_zarr [side]`
//!
//! The image is `side x side` float32 (default 23170, 2 GiB) in 2048 x 2048
//! chunks: smooth structure plus noise, written under target/ once. The blur
//! (sigma 2, a radius-8 kernel, reflecting edges as scipy's default) and the
//! Laplacian read each block with halos from its neighbours; both results are
//! checked against a direct computation on a window cut from the image.

use darray::{Boundary, DArray, WriteOptions};
use ndarray::{s, Array2};
use std::path::Path;
use std::time::Instant;

fn main() -> anyhow::Result<()> {
    let side: usize = std::env::args().nth(1).map_or(Ok(23_170), |s| s.parse())?;
    anyhow::ensure!(side >= 64, "side {side}: at least 64");
    let dir = Path::new("target/stencil_zarr");
    let path = dir.join(format!("image-{side}.zarr"));
    if !path.exists() {
        let t = Instant::now();
        std::fs::create_dir_all(dir)?;
        let chunk = [2048, 2048];
        let row = DArray::<f32>::linspace(0.0, 40.0, side, false, [2048])?.reshape(&[-1, 1])?;
        let col = DArray::<f32>::linspace(0.0, 25.0, side, false, [2048])?.reshape(&[1, -1])?;
        let waves = row.sin().mul(col.cos())?;
        let noise = DArray::<f32>::random_normal(3, &[side, side], 0.0, 0.1, chunk)?;
        let image = waves.add(&noise)?.rechunk(chunk)?;
        image.to_zarr(&path, &WriteOptions::default())?;
        println!(
            "wrote {} ({} MiB) in {:.2?}",
            path.display(),
            image.nbytes() >> 20,
            t.elapsed()
        );
    }
    let image = DArray::<f32>::from_zarr(&path)?;
    println!(
        "image: shape {:?}, {:?} chunks",
        image.shape(),
        image.numblocks()
    );

    let t = Instant::now();
    let blurred = image.gaussian_filter(2.0, Boundary::Reflect)?;
    let blur_path = dir.join("blurred.zarr");
    blurred.to_zarr(
        &blur_path,
        &WriteOptions {
            overwrite: true,
            ..WriteOptions::default()
        },
    )?;
    println!(
        "gaussian_filter(sigma 2) -> {}: {:.2?}",
        blur_path.display(),
        t.elapsed()
    );

    let t = Instant::now();
    let lap = image.laplace(Boundary::Reflect)?;
    let lap_path = dir.join("laplace.zarr");
    lap.to_zarr(
        &lap_path,
        &WriteOptions {
            overwrite: true,
            ..WriteOptions::default()
        },
    )?;
    println!("laplace -> {}: {:.2?}", lap_path.display(), t.elapsed());

    // Check both on a window straddling four chunks, from a direct stencil
    // on the window plus its halo (radius 8 covers both).
    let (r0, c0, n) = (side / 2 - 20, side / 2 - 20, 40);
    let r = 8;
    let halo = image
        .slice(s![r0 - r..r0 + n + r, c0 - r..c0 + n + r])?
        .compute()?
        .into_dimensionality::<ndarray::Ix2>()?;
    let got_blur = DArray::<f32>::from_zarr(&blur_path)?
        .slice(s![r0..r0 + n, c0..c0 + n])?
        .compute()?;
    let got_lap = DArray::<f32>::from_zarr(&lap_path)?
        .slice(s![r0..r0 + n, c0..c0 + n])?
        .compute()?;
    let weights: Vec<f64> = {
        let w: Vec<f64> = (-8..=8i32)
            .map(|k| (-0.5 * f64::from(k * k) / 4.0).exp())
            .collect();
        let total: f64 = w.iter().sum();
        w.iter().map(|v| v / total).collect()
    };
    let rows = Array2::from_shape_fn((n + 2 * r, n), |(i, j)| {
        (0..=2 * r)
            .map(|k| weights[k] * f64::from(halo[[i, j + k]]))
            .sum::<f64>()
    });
    let mut worst = (0.0f64, 0.0f64);
    for i in 0..n {
        for j in 0..n {
            let blur = (0..=2 * r)
                .map(|k| weights[k] * rows[[i + k, j]])
                .sum::<f64>();
            let (ci, cj) = (i + r, j + r);
            let lapv = f64::from(halo[[ci - 1, cj]])
                + f64::from(halo[[ci + 1, cj]])
                + f64::from(halo[[ci, cj - 1]])
                + f64::from(halo[[ci, cj + 1]])
                - 4.0 * f64::from(halo[[ci, cj]]);
            worst.0 = worst.0.max((f64::from(got_blur[[i, j]]) - blur).abs());
            worst.1 = worst.1.max((f64::from(got_lap[[i, j]]) - lapv).abs());
        }
    }
    println!(
        "window check: max |blur error| {:.1e}, max |laplace error| {:.1e}",
        worst.0, worst.1
    );
    anyhow::ensure!(
        worst.0 < 1e-4 && worst.1 < 1e-4,
        "stencils differ: {worst:?}"
    );
    Ok(())
}
