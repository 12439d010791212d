//! A user kernel on a cluster. This program is both the client and its own
//! workers: `LocalCluster` starts it again as each worker, which runs `main`
//! up to `serve_if_worker()` and serves there, knowing the kernel registered
//! before it. Client and workers share one build, hence one kernel registry,
//! and the wire carries only the kernel's name (and, for a kernel registered
//! with `register_kernel_with`, its serialized parameters and the block's
//! location). (Without kernels of its own, a
//! program needs neither call: `LocalCluster::new(n)` is enough.)
//!
//! `cargo run --example distributed_custom_kernel`

use darray::distributed::{serve_if_worker, LocalCluster};
use darray::{register_kernel_with, BlockInfo, DArray, MapBlocksOptions};
use ndarray::{ArrayD, ArrayViewD};
use std::time::Instant;

/// `tanh(2x)`, blockwise.
fn scaled_tanh(inputs: &[ArrayViewD<'_, f64>]) -> ArrayD<f64> {
    inputs[0].mapv(|v| (2.0 * v).tanh())
}

/// `k x` plus the block's first global row: a parameter and the block's place.
fn shifted(inputs: &[ArrayViewD<'_, f64>], k: &f64, info: &BlockInfo) -> ArrayD<f64> {
    let row0 = info.array_location[0].start as f64;
    inputs[0].mapv(|v| k * v + row0)
}

fn main() -> anyhow::Result<()> {
    darray::register_kernel::<f64, f64>("scaled_tanh", scaled_tanh)?;
    register_kernel_with::<f64, f64, f64>("shifted", shifted)?;
    // In a worker started by the cluster below: serve, knowing our kernel.
    serve_if_worker();

    let t = Instant::now();
    let cluster = LocalCluster::builder(2)
        .nthreads(1)
        .serve_in_main(true)
        .build()?;
    let client = cluster.client()?;
    println!(
        "cluster: scheduler {} and 2 workers up in {:.2?}",
        cluster.scheduler_addr(),
        t.elapsed()
    );

    let x = DArray::<f64>::random_normal(1, &[2000, 3000], 0.0, 1.0, [500, 600])?;
    let y: DArray<f64> = x.map_blocks("scaled_tanh")?;
    let total = (y.clone() * &x)?.sum()?;
    let cols = y.mean_axis(0)?;
    let opts = MapBlocksOptions::default().params(&0.5)?;
    let rows = x.map_blocks_with::<f64>("shifted", &opts)?.sum_axis(1)?;

    let t = Instant::now();
    let on_cluster = (
        total.compute_with(&client)?,
        cols.compute_with(&client)?,
        rows.compute_with(&client)?,
    );
    let cluster_time = t.elapsed();
    let t = Instant::now();
    let local = (total.compute()?, cols.compute()?, rows.compute()?);
    let local_time = t.elapsed();

    let same = on_cluster
        .0
        .iter()
        .zip(local.0.iter())
        .all(|(a, b)| a.to_bits() == b.to_bits())
        && on_cluster
            .1
            .iter()
            .zip(local.1.iter())
            .all(|(a, b)| a.to_bits() == b.to_bits())
        && on_cluster
            .2
            .iter()
            .zip(local.2.iter())
            .all(|(a, b)| a.to_bits() == b.to_bits());
    println!(
        "sum(tanh(2x) * x) = {:.6} on the cluster ({cluster_time:.2?}), {:.6} locally ({local_time:.2?})",
        on_cluster.0.sum(),
        local.0.sum()
    );
    println!("column means and parameterised row sums agree bit for bit: {same}");
    // Row r's sum is 0.5 * (sum of x's row r) + 3000 * (first row of its block).
    let xs = x.sum_axis(1)?.compute()?;
    let worst = (0..2000)
        .map(|r| (local.2[[r]] - (0.5 * xs[[r]] + 3000.0 * (r / 500 * 500) as f64)).abs())
        .fold(0.0, f64::max);
    anyhow::ensure!(worst < 1e-6, "parameterised kernel: off by {worst}");
    anyhow::ensure!(same, "cluster and local results differ");
    Ok(())
}
