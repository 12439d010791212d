//! Climate statistics on a synthetic daily (time, lat, lon) temperature store,
//! the xarray/dask notebook workflow in darray:
//!
//! - a day-of-year climatology (one grouped mean, map-reduce or blockwise as
//!   the chunks allow) and the anomalies against it;
//! - the per-cell 90th percentile over time (exact, with the time axis in many
//!   chunks: no rechunk to one chunk as dask's percentile needs);
//! - a running sum of the anomalies along time (a scan);
//! - the area-weighted (cos latitude) global mean of every day;
//! - a histogram of all values.
//!
//! `OPENBLAS_NUM_THREADS=1 cargo run --release --example climate_stats [years]`
//!
//! The store (default 10 years of 365 days on a 90 x 180 grid, 473 MiB of
//! float64, chunks of one year x 45 x 90) is written under target/ once. Every
//! statistic is checked against a direct computation on a few cells.

use darray::{Bins, DArray, QuantileMethod, ReduceOpts, WriteOptions};
use std::path::Path;
use std::time::Instant;

const DAYS: usize = 365;
const LAT: usize = 90;
const LON: usize = 180;

fn main() -> anyhow::Result<()> {
    let years: usize = std::env::args().nth(1).map_or(Ok(10), |s| s.parse())?;
    let time = years * DAYS;
    let path = Path::new("target/climate_stats").join(format!("t2m-{years}y.zarr"));
    if !path.exists() {
        let t = Instant::now();
        std::fs::create_dir_all(path.parent().expect("a parent"))?;
        // 15 °C, a seasonal cycle of ±10 °C, 4 °C of weather noise.
        let day = DArray::<f64>::arange(0.0, time as f64, 1.0, [DAYS])?.reshape(&[-1, 1, 1])?;
        let season = day
            .mul(2.0 * std::f64::consts::PI / DAYS as f64)?
            .sin()
            .mul(10.0)?;
        let noise = DArray::<f64>::random_normal(11, &[time, LAT, LON], 15.0, 4.0, [DAYS, 45, 90])?;
        let t2m = noise.add(&season)?.rechunk([DAYS, 45, 90])?;
        t2m.to_zarr(&path, &WriteOptions::default())?;
        println!(
            "wrote {} ({} MiB) in {:.2?}",
            path.display(),
            t2m.nbytes() >> 20,
            t.elapsed()
        );
    }
    let t2m = DArray::<f64>::from_zarr(&path)?;
    println!("t2m: shape {:?}, chunks {:?}", t2m.shape(), t2m.numblocks());
    let sample = t2m.slice(ndarray::s![.., 7..9, 100..101])?.compute()?;

    // Day-of-year climatology: one label per time step.
    let t = Instant::now();
    let doy: Vec<i64> = (0..time).map(|i| (i % DAYS) as i64).collect();
    let by_day = t2m.groupby(&doy, 0)?;
    let clim = by_day.mean()?.persist()?;
    println!(
        "climatology {:?} ({:?} strategy) in {:.2?}",
        clim.shape(),
        by_day.chosen_strategy()?,
        t.elapsed()
    );
    let clim_mem = clim.slice(ndarray::s![.., 7..9, 100..101])?.compute()?;
    for d in [0, 90, 364] {
        let want = (0..years)
            .map(|y| sample[[y * DAYS + d, 0, 0]])
            .sum::<f64>()
            / years as f64;
        let got = clim_mem[[d, 0, 0]];
        anyhow::ensure!(
            (got - want).abs() < 1e-9,
            "climatology day {d}: {got} vs {want}"
        );
    }

    // Anomalies: each day minus its day of year's climatology (clim taken
    // along time by the labels, a gather of blocks, not a loop of slices).
    let anomalies = t2m.sub(&clim.take(&doy, 0)?)?;

    // Per-cell 90th percentile over time, exact.
    let t = Instant::now();
    let p90 = t2m
        .percentile(90.0, Some(0), QuantileMethod::Linear)?
        .compute()?;
    println!("p90 {:?} in {:.2?}", p90.shape(), t.elapsed());
    let mut lane: Vec<f64> = sample.slice(ndarray::s![.., 0, 0]).to_vec();
    lane.sort_by(f64::total_cmp);
    let pos = 0.9 * (time - 1) as f64;
    let (lo, frac) = (pos.floor() as usize, pos - pos.floor());
    let want = lane[lo] + frac * (lane[(lo + 1).min(time - 1)] - lane[lo]);
    anyhow::ensure!(
        (p90[[7, 100]] - want).abs() < 1e-9,
        "p90: {} vs {want}",
        p90[[7, 100]]
    );

    // Running sum of the anomalies along time; its last step is their total.
    let t = Instant::now();
    let running = anomalies.cumsum(0)?;
    let last = running
        .slice(ndarray::s![time - 1..time, .., ..])?
        .compute()?;
    let total = anomalies.sum_axis(0)?.compute()?;
    let worst = last
        .iter()
        .zip(total.iter())
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    println!(
        "running sum of anomalies: max |last - total| = {worst:.2e} in {:.2?}",
        t.elapsed()
    );
    anyhow::ensure!(worst < 1e-6, "running sum drifted: {worst}");

    // Area-weighted global mean of every day: weights cos(latitude), (lat, 1).
    let t = Instant::now();
    let lat = DArray::<f64>::linspace(-89.0, 89.0, LAT, true, [LAT])?;
    let w = lat.deg2rad().cos().reshape(&[-1, 1])?;
    let global = t2m.average(&w, &ReduceOpts::axes([1, 2]))?.compute()?;
    let mean_global = global.iter().sum::<f64>() / time as f64;
    println!(
        "area-weighted global mean: {} days, mean {mean_global:.3} °C in {:.2?}",
        global.len(),
        t.elapsed()
    );
    anyhow::ensure!(
        (mean_global - 15.0).abs() < 0.1,
        "global mean {mean_global}"
    );

    // Histogram of every value, 100 bins over the data's range.
    let t = Instant::now();
    let (lo, hi) = (t2m.min()?.compute_scalar()?, t2m.max()?.compute_scalar()?);
    let (counts, edges) = t2m.histogram(&Bins::Count {
        count: 100,
        range: (lo, hi),
    })?;
    let counts = counts.compute()?;
    let n: i64 = counts.iter().sum();
    let mode = counts
        .iter()
        .enumerate()
        .max_by_key(|(_, c)| **c)
        .map_or(0, |(i, _)| i);
    println!(
        "histogram: {n} values in 100 bins over [{lo:.1}, {hi:.1}], mode [{:.1}, {:.1}) in {:.2?}",
        edges[mode],
        edges[mode + 1],
        t.elapsed()
    );
    anyhow::ensure!(n as usize == t2m.len(), "histogram counted {n} values");
    Ok(())
}
