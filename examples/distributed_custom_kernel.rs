//! A user kernel on a cluster. This program is both the client and its own
//! workers: `LocalCluster` starts it again as each worker, which runs `main`
//! up to `serve_if_worker()` and serves there, knowing the kernel registered
//! before it. Client and workers share one build, hence one kernel registry,
//! and the wire carries only the kernel's name. (Without kernels of its own, a
//! program needs neither call: `LocalCluster::new(n)` is enough.)
//!
//! `cargo run --example distributed_custom_kernel`

use darray::distributed::{serve_if_worker, LocalCluster};
use darray::DArray;
use ndarray::{ArrayD, ArrayViewD};
use std::time::Instant;

/// `tanh(2x)`, blockwise.
fn scaled_tanh(inputs: &[ArrayViewD<'_, f64>]) -> ArrayD<f64> {
    inputs[0].mapv(|v| (2.0 * v).tanh())
}

fn main() -> anyhow::Result<()> {
    darray::register_kernel::<f64, f64>("scaled_tanh", scaled_tanh)?;
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

    let t = Instant::now();
    let on_cluster = (total.compute_with(&client)?, cols.compute_with(&client)?);
    let cluster_time = t.elapsed();
    let t = Instant::now();
    let local = (total.compute()?, cols.compute()?);
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
            .all(|(a, b)| a.to_bits() == b.to_bits());
    println!(
        "sum(tanh(2x) * x) = {:.6} on the cluster ({cluster_time:.2?}), {:.6} locally ({local_time:.2?})",
        on_cluster.0.sum(),
        local.0.sum()
    );
    println!("column means agree bit for bit: {same}");
    anyhow::ensure!(same, "cluster and local results differ");
    Ok(())
}
