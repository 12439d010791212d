//! Worker memory end to end: a computation four times the cluster's memory
//! completes by spilling, with the local executor's bits, spilled bytes
//! reported through `Client::cluster_info`, and each worker's peak resident memory
//! within its limit plus a stated margin.

use darray::distributed::worker::memory::status_bytes;
use darray::distributed::LocalCluster;
use darray::{DArray, LocalExecutor};
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

const MIB: u64 = 1 << 20;
/// Each worker's memory limit.
const LIMIT: u64 = 256 * MIB;
/// 262,144 x 1,024 f64 = 2 GiB, in 256 chunks of 1,024 x 1,024 (8 MiB).
const SHAPE: [usize; 2] = [262_144, 1024];
const CHUNK: [usize; 2] = [1024, 1024];
const CHUNK_BYTES: u64 = 8 * MIB;
/// What a worker may use beyond its limit. A worker keeps its held chunks
/// at the target (0.6 of the limit, 154 MiB) and pauses at 0.8 (205 MiB);
/// beyond the chunks it manages, its process holds its code and runtime (an
/// idle worker is about 10 MiB resident) and the chunks in flight: a task's
/// inputs and output, a Zarr read's buffer, a spill file's encoding, a chunk
/// read back and its file bytes, a chunk being sent to a peer. Four chunks
/// (32 MiB) over the limit covers those with room to spare; the worker stays
/// under the limit itself in practice (the test prints the numbers).
const MARGIN: u64 = 4 * CHUNK_BYTES;

/// A uniform value in [-1, 1) (splitmix64 of `i`).
fn uniform(i: u64) -> f64 {
    let mut z = i.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 52) as f64 - 1.0
}

/// Elements per chunk.
const BLOCK: usize = CHUNK[0] * CHUNK[1];

/// One chunk's worth of uniform values; chunk `b` holds them rotated by
/// `b * 7919` places, so chunks differ and writing them costs a copy each.
fn base() -> Vec<f64> {
    (0..BLOCK as u64).map(uniform).collect()
}

/// Element `i` (row-major) of the stored array.
fn element(base: &[f64], i: usize) -> f64 {
    let (b, k) = (i / BLOCK, i % BLOCK);
    base[(k + b * 7919) % BLOCK]
}

/// Writes the 2 GiB array as an uncompressed Zarr v2 store, chunk files
/// written plainly (`to_zarr` would sync 2 GiB to disk, which on a busy
/// machine takes longer than the computation).
fn write_store(path: &Path, base: &[f64]) -> std::io::Result<()> {
    std::fs::create_dir_all(path)?;
    let meta = format!(
        r#"{{"zarr_format": 2, "shape": [{}, {}], "chunks": [{}, {}], "dtype": "<f8",
            "compressor": null, "fill_value": 0.0, "order": "C", "filters": null,
            "dimension_separator": "."}}"#,
        SHAPE[0], SHAPE[1], CHUNK[0], CHUNK[1]
    );
    std::fs::write(path.join(".zarray"), meta)?;
    let bytes: Vec<u8> = base.iter().flat_map(|v| v.to_le_bytes()).collect();
    for b in 0..SHAPE[0] / CHUNK[0] {
        let shift = 8 * ((b * 7919) % BLOCK);
        let mut f = std::fs::File::create(path.join(format!("{b}.0")))?;
        f.write_all(&bytes[shift..])?;
        f.write_all(&bytes[..shift])?;
    }
    Ok(())
}

fn proc_status(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_else(|e| panic!("/proc/{pid}/status: {e}"));
    status_bytes(&status, field).unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
}

#[test]
#[cfg_attr(
    not(target_os = "linux"),
    ignore = "reads worker memory from /proc, which only Linux has"
)]
fn a_2_gib_reduction_on_two_256_mib_workers_completes_by_spilling() {
    let t0 = Instant::now();
    let base = base();
    // In memory (tmpfs) where there is room, sparing the disk 2 GiB; the
    // workers still spill to disk, under the cluster's temporary directory.
    let stored = ["/dev/shm"]
        .iter()
        .filter(|d| Path::new(d).is_dir())
        .filter_map(|d| tempfile::tempdir_in(d).ok())
        .chain(std::iter::once_with(|| tempfile::tempdir().unwrap()))
        .find_map(|dir| {
            let path = dir.path().join("x.zarr");
            match write_store(&path, &base) {
                Ok(()) => Some((dir, path)),
                Err(e) => {
                    eprintln!(
                        "cannot write the store in {:?} ({e}); trying elsewhere",
                        dir.path()
                    );
                    None
                }
            }
        });
    let (_dir, path) = stored.expect("room for a 2 GiB store");
    eprintln!("wrote 2 GiB in {:?}", t0.elapsed());

    let x = DArray::<f64>::from_zarr(&path).unwrap();
    // The store reads back as written (first and last elements).
    let corners = x
        .slice(ndarray::s![0..SHAPE[0];SHAPE[0] - 1, 0..SHAPE[1];SHAPE[1] - 1])
        .unwrap()
        .compute()
        .unwrap();
    let last = SHAPE[0] * SHAPE[1];
    let want: Vec<f64> = [0, SHAPE[1] - 1, last - SHAPE[1], last - 1]
        .map(|i| element(&base, i))
        .to_vec();
    assert_eq!(corners.iter().copied().collect::<Vec<_>>(), want);
    // Every chunk of x feeds both the column means (one block: the chunks span
    // all columns) and the subtraction, so all 2 GiB are needed until the
    // mean is known: four times the two workers' limits together.
    let m = x.mean_axis(0).unwrap();
    let y = (&x - &m).unwrap().sum().unwrap();

    let cluster = LocalCluster::builder(2)
        .nthreads(1)
        .memory_limit(LIMIT)
        .worker_command(env!("CARGO_BIN_EXE_darray"), ["worker"])
        .build()
        .unwrap();
    let client = cluster.client().unwrap();
    let pids = cluster.worker_pids();
    let idle: Vec<u64> = pids.iter().map(|&p| proc_status(p, "VmRSS")).collect();

    let t1 = Instant::now();
    let got = y.compute_with(&client).unwrap();
    eprintln!("cluster: {:?}", t1.elapsed());

    // Peaks before anything else runs on the workers.
    let peaks: Vec<u64> = pids.iter().map(|&p| proc_status(p, "VmHWM")).collect();

    // Heartbeats (every 0.5 s, and after each spill pass) carry the counts.
    let deadline = Instant::now() + Duration::from_secs(30);
    let info = loop {
        let info = client.cluster_info().unwrap();
        if info.workers.iter().all(|w| w.memory.spilled_total > 0) || Instant::now() > deadline {
            break info;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    for w in &info.workers {
        eprintln!(
            "{}: spilled {} MiB in total, {} MiB on disk now, {} MiB held in memory, paused {}",
            w.name,
            w.memory.spilled_total / MIB,
            w.memory.spilled / MIB,
            w.memory.memory / MIB,
            w.memory.paused
        );
    }
    // Between them the workers held 2 GiB against 512 MiB of limits, so at
    // least the difference went to disk.
    let spilled: u64 = info.spilled_total();
    assert!(spilled >= 2048 * MIB - 2 * LIMIT, "spilled {spilled} bytes");
    assert!(
        info.workers.iter().all(|w| w.memory.spilled_total > 0),
        "{info:?}"
    );

    // The job over, its results are released: nothing stays in memory or on disk.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let info = client.cluster_info().unwrap();
        if info
            .workers
            .iter()
            .all(|w| w.memory.memory == 0 && w.memory.spilled == 0)
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "still held after the job: {info:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    for ((pid, idle), peak) in pids.iter().zip(&idle).zip(&peaks) {
        eprintln!(
            "worker {pid}: idle {} MiB, peak {} MiB (limit {} MiB + margin {} MiB)",
            idle / MIB,
            peak / MIB,
            LIMIT / MIB,
            MARGIN / MIB
        );
        assert!(
            *peak <= LIMIT + MARGIN,
            "worker {pid} peaked at {peak} bytes"
        );
    }

    let t2 = Instant::now();
    let want = y
        .compute_with(&LocalExecutor::with_threads(2).unwrap())
        .unwrap();
    eprintln!("local: {:?}", t2.elapsed());
    let bits = |a: &ndarray::ArrayD<f64>| a.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&got), bits(&want));
    eprintln!("total: {:?}", t0.elapsed());
}

#[test]
fn memory_fractions_out_of_order_are_refused_with_a_clear_error() {
    for (target, pause) in [("0.9", "0.8"), ("0", "0.8"), ("0.6", "1.5"), ("NaN", "0.8")] {
        let err = darray::distributed::run_from_args([
            "darray",
            "worker",
            "--scheduler",
            "127.0.0.1:1",
            "--memory-target-fraction",
            target,
            "--memory-pause-fraction",
            pause,
        ])
        .unwrap_err();
        assert!(
            matches!(&err, darray::Error::InvalidArgument { reason, .. }
                if reason.contains("0 < target <= pause <= 1")),
            "{target} {pause}: {err}"
        );
    }
    let err = LocalCluster::builder(1)
        .memory_target_fraction(0.7)
        .memory_pause_fraction(0.5)
        .worker_command(env!("CARGO_BIN_EXE_darray"), ["worker"])
        .build()
        .unwrap_err();
    assert!(
        err.to_string().contains("got target 0.7, pause 0.5"),
        "{err}"
    );
}
