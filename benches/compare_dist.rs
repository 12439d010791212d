//! darray's side of the distributed comparison (driven by
//! `benches/compare/compare_distributed.py`, through `benches/compare/run_distributed.sh`).
//!
//! ```text
//! compare_dist create <store>                       write the 1 GiB store of benches/compare if missing
//! compare_dist <workload> <executor> [store] [n]    run one workload once, print one JSON line
//! ```
//!
//! Executors: `local` (the local executor, 2 threads) and `cluster` (a
//! `LocalCluster` of 2 `darray worker` processes x 1 thread, started before the
//! clock starts; its start-up time is reported apart).
//!
//! Workloads: `tiny` (`ones(n, chunks=1).sum()`, n = 100,000 by default: the
//! per-task overhead), `mean` (mean of sin^2 + cos^2), `sum0`, `std1` (over the
//! store), and `transfer`: `(x[:K*c] + x[K*c:]).sum()` over `x = zeros` of 2K
//! chunks of 32 MiB (K = 16, or n), after a warm-up graph `x.sum()`. Each partial
//! sum needs chunk i and chunk K+i; where those were made on different workers one
//! is fetched worker-to-worker (darray gives no placement control, so how many move
//! is up to the scheduler; it counts them). The JSON line has `seconds` (the
//! workload's wall time, graph build included, process and cluster start-up
//! excluded; for `transfer` the pair graph's), a `check` value, and for `transfer`
//! the bytes the scheduler saw move between workers (`bytes_transferred`) and that
//! over the wall time (`gib_per_s`: a lower bound on the transfer rate, as the time
//! includes making and summing the chunks; the same graph on the local executor is
//! the reference for that work), `fetch_seconds` (the time the workers spent
//! fetching those bytes, summed over fetches as they timed them) and
//! `fetch_gib_per_s` (the transfer rate itself), and `loopback_gib_per_s`: the
//! same number of chunks copied over a plain loopback TCP connection, the floor.
//! Under `cargo bench` / `cargo test --benches` (no workload given) it does nothing.

use anyhow::{bail, Context, Result};
use darray::distributed::LocalCluster;
use darray::{Compression, DArray, Executor, LocalExecutor, WriteOptions};
use std::path::PathBuf;
use std::time::Instant;

const SHAPE: [usize; 2] = [16384, 8192];
const CHUNKS: [usize; 2] = [2048, 2048];
const TINY: usize = 100_000;
/// Elements of one transfer chunk: 32 MiB of f64, as a chunk of the store.
const TRANSFER_CHUNK: usize = 4 << 20;
const TRANSFER_PAIRS: usize = 16;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let Some(workload) = args.first() else {
        eprintln!("usage: compare_dist <workload> <local|cluster> [store] [n]   (see benches/compare/run_distributed.sh)");
        return Ok(());
    };
    if workload == "create" {
        let path = PathBuf::from(args.get(1).context("create needs a store path")?);
        if !path.join("zarr.json").exists() {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            let x = DArray::<f64>::random_normal(42, &SHAPE, 0.0, 1.0, CHUNKS)?;
            let opts = WriteOptions {
                compression: Compression::Zstd { level: 1 },
                overwrite: true,
                ..WriteOptions::default()
            };
            x.to_zarr(&path, &opts)?;
        }
        println!("{{\"tool\":\"darray\",\"workload\":\"create\"}}");
        return Ok(());
    }
    let mode = args
        .get(1)
        .context("which executor: local or cluster")?
        .clone();
    let store = args.get(2).filter(|s| !s.is_empty()).map(PathBuf::from);
    let n: Option<usize> = args.get(3).map(|s| s.parse()).transpose()?;

    let t_start = Instant::now();
    let (exec, _cluster): (Box<dyn Executor>, Option<LocalCluster>) = match mode.as_str() {
        "local" => (Box::new(LocalExecutor::with_threads(2)?), None),
        "cluster" => {
            let cluster = LocalCluster::builder(2)
                .nthreads(1)
                .worker_command(env!("CARGO_BIN_EXE_darray"), ["worker"])
                .build()?;
            (Box::new(cluster.client()?), Some(cluster))
        }
        other => bail!("unknown executor {other:?} (local or cluster)"),
    };
    let startup = t_start.elapsed().as_secs_f64();
    let exec = exec.as_ref();
    let store_arg = || store.clone().context("this workload needs a store path");

    let mut t = Instant::now();
    let mut extra = String::new();
    let check: f64 = match workload.as_str() {
        "tiny" => {
            let n = n.unwrap_or(TINY);
            let s = DArray::<f64>::ones(&[n], [1])?.sum()?;
            let tasks = s.graph()?.len();
            let t = Instant::now();
            let v = s.compute_with(exec)?.sum();
            #[allow(clippy::cast_precision_loss)]
            let per_task_us = t.elapsed().as_secs_f64() * 1e6 / tasks as f64;
            extra = format!(",\"tasks\":{tasks},\"chunks\":{n},\"per_task_us\":{per_task_us}");
            v
        }
        "mean" => {
            let x = DArray::<f64>::from_zarr(store_arg()?)?;
            (x.sin().powi(2) + &x.cos().powi(2))?
                .mean()?
                .compute_with(exec)?
                .sum()
        }
        "sum0" => {
            let x = DArray::<f64>::from_zarr(store_arg()?)?;
            x.sum_axis(0)?.compute_with(exec)?.sum()
        }
        "std1" => {
            let x = DArray::<f64>::from_zarr(store_arg()?)?;
            x.std_axis(1, 0.0)?
                .compute_with(exec)?
                .mean()
                .unwrap_or(f64::NAN)
        }
        "transfer" => {
            let k = n.unwrap_or(TRANSFER_PAIRS);
            let c = TRANSFER_CHUNK;
            let x = DArray::<f64>::zeros(&[2 * k * c], [c])?;
            // Warm-up: the same chunks summed where they were made (darray fuses
            // `zeros` into the sum, so this is far less work, and moves nothing).
            let t0 = Instant::now();
            let v0 = x.sum()?.compute_with(exec)?.sum();
            let warmup = t0.elapsed().as_secs_f64();
            // Each pair summed in one task: one of the two chunks may have to move.
            let t1 = Instant::now();
            let a = x.slice(ndarray::s![..k * c])?;
            let b = x.slice(ndarray::s![k * c..])?;
            let v = (a + &b)?.sum()?.compute_with(exec)?.sum();
            let secs1 = t1.elapsed().as_secs_f64();
            let stats = exec.last_stats();
            let moved = stats.bytes_transferred;
            #[allow(clippy::cast_precision_loss)]
            let gib = moved as f64 / f64::from(1u32 << 30);
            let gib_per_s = gib / secs1;
            // The transfers alone, as the workers timed their fetches.
            #[allow(clippy::cast_precision_loss)]
            let fetch_seconds = stats.transfer_nanos as f64 * 1e-9;
            let fetch_gib_per_s = if fetch_seconds > 0.0 {
                gib / fetch_seconds
            } else {
                0.0
            };
            let floor = loopback_gib_per_s(k, c * 8)?;
            extra = format!(
                ",\"pairs\":{k},\"chunk_bytes\":{},\"bytes_transferred\":{moved},\"warmup_seconds\":{warmup},\"gib_per_s\":{gib_per_s},\"fetch_seconds\":{fetch_seconds},\"fetch_gib_per_s\":{fetch_gib_per_s},\"loopback_gib_per_s\":{floor}",
                c * 8
            );
            t = t1;
            v + v0
        }
        other => bail!("unknown workload {other:?}"),
    };
    let secs = t.elapsed().as_secs_f64();
    let check = if check.is_finite() {
        format!("{check}")
    } else {
        "null".into()
    };
    println!(
        "{{\"tool\":\"darray-{mode}\",\"workload\":\"{workload}\",\"seconds\":{secs},\"check\":{check},\"startup_seconds\":{startup}{extra}}}"
    );
    Ok(())
}

/// The floor for worker-to-worker transfers: `n` buffers of `bytes` copied over
/// a plain loopback TCP connection (one thread writing, this one reading into a
/// reused buffer), in GiB/s.
fn loopback_gib_per_s(n: usize, bytes: usize) -> Result<f64> {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let sender = std::thread::spawn(move || -> std::io::Result<()> {
        let data = vec![1u8; bytes];
        let mut s = std::net::TcpStream::connect(addr)?;
        for _ in 0..n {
            s.write_all(&data)?;
        }
        Ok(())
    });
    let (mut s, _) = listener.accept()?;
    let mut buf = vec![0u8; bytes];
    let t = Instant::now();
    for _ in 0..n {
        s.read_exact(&mut buf)?;
    }
    let secs = t.elapsed().as_secs_f64();
    sender
        .join()
        .map_err(|_| anyhow::anyhow!("loopback sender panicked"))??;
    #[allow(clippy::cast_precision_loss)]
    Ok((n * bytes) as f64 / f64::from(1u32 << 30) / secs)
}
