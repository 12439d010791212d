//! Rechunk a Zarr array from row chunks to column chunks within a memory budget
//! and write it to a new store.
//!
//! `cargo run --example rechunk_zarr [rows] [cols] [budget MiB]`
//!
//! Defaults: 4096 x 1024 float64 (32 MiB) in 256-row chunks to 64-column chunks,
//! under a 16 MiB executor budget, each task bounded by a quarter of it. The
//! direct rechunk would hold a whole column of row chunks per task (the array);
//! the plan splits row chunks into pieces and merges them into columns. The
//! budget bounds what running tasks project; the results held at once are
//! printed too: from whole rows to whole columns every column needs every row
//! chunk, so they reach about the array's size. Stores go under
//! target/rechunk_zarr.

use darray::{DArray, Executor, LocalExecutor, RechunkOptions, WriteOptions};
use ndarray::s;
use std::path::Path;
use std::time::Instant;

fn main() -> anyhow::Result<()> {
    let arg = |i: usize, default: usize| -> anyhow::Result<usize> {
        Ok(std::env::args().nth(i).map_or(Ok(default), |s| s.parse())?)
    };
    let (rows, cols, budget_mib) = (arg(1, 4096)?, arg(2, 1024)?, arg(3, 16)?);
    anyhow::ensure!(rows >= 16 && cols >= 16, "at least 16 x 16");
    let (row_chunk, col_chunk) = (rows / 16, cols / 16);
    let dir = Path::new("target/rechunk_zarr");
    std::fs::create_dir_all(dir)?;
    let (src, dst) = (dir.join("rows.zarr"), dir.join("columns.zarr"));
    let overwrite = WriteOptions {
        overwrite: true,
        ..WriteOptions::default()
    };
    DArray::<f64>::random_normal(7, &[rows, cols], 0.0, 1.0, [row_chunk, cols])?
        .to_zarr(&src, &overwrite)?;

    let x = DArray::<f64>::from_zarr(&src)?;
    let budget = (budget_mib as u64) << 20;
    let opts = RechunkOptions::new().max_task_bytes(budget / 4);
    let target = [rows, col_chunk];
    let direct = x.rechunk_plan(target, &RechunkOptions::new().max_task_bytes(u64::MAX))?;
    let plan = x.rechunk_plan(target, &opts)?;
    println!(
        "{rows} x {cols} f64 ({} MiB), chunks {:?} -> {target:?}, budget {budget_mib} MiB",
        x.nbytes() >> 20,
        [row_chunk, cols]
    );
    println!(
        "direct rechunk: {} MiB per task; plan: {} steps, <= {} MiB per task (bound {} MiB), <= {} tasks",
        direct.task_bytes >> 20,
        plan.stages.len(),
        plan.task_bytes >> 20,
        plan.max_task_bytes >> 20,
        plan.tasks
    );
    for (g, b) in plan.stages.iter().zip(&plan.stage_task_bytes) {
        let first: Vec<usize> = g.iter().map(|a| a[0]).collect();
        let counts: Vec<usize> = g.iter().map(Vec::len).collect();
        println!(
            "  -> chunks {first:?} ({counts:?} blocks), {} KiB per task",
            b >> 10
        );
    }

    let exec = LocalExecutor::new()?.memory_budget(budget);
    let t = Instant::now();
    x.rechunk_with(target, &opts)?
        .to_zarr_with(&dst, &overwrite, &exec)?;
    let stats = exec.last_stats();
    println!(
        "rechunk + to_zarr: {:.2?}, {} tasks, results held at peak {} MiB, {} MiB read, {} MiB written",
        t.elapsed(),
        stats.tasks,
        stats.peak_bytes >> 20,
        stats.bytes_read >> 20,
        stats.bytes_written >> 20
    );

    let y = DArray::<f64>::from_zarr(&dst)?;
    anyhow::ensure!(y.chunks()[1].iter().all(|&c| c <= col_chunk) && y.chunks()[0].len() == 1);
    // A few values and one whole column block, read from both stores.
    for (i, j) in [
        (0, 0),
        (rows - 1, cols - 1),
        (rows / 3, cols / 2),
        (17, cols - 5),
    ] {
        let a = x.slice(s![i..=i, j..=j])?.compute()?;
        let b = y.slice(s![i..=i, j..=j])?.compute()?;
        anyhow::ensure!(a == b, "value at ({i}, {j}) differs");
    }
    let band = s![.., col_chunk..2 * col_chunk];
    anyhow::ensure!(x.slice(band)?.compute()? == y.slice(band)?.compute()?);
    println!(
        "{} checked: values equal to {}",
        dst.display(),
        src.display()
    );
    Ok(())
}
