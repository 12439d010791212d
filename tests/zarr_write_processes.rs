//! Writes into one Zarr array from separate *processes*: disjoint region writes
//! running at the same time, and a region writer killed with SIGKILL mid-write.
//! Each child is this test binary run again on its ignored `child_writer` test,
//! with the job in environment variables (the parent waits for it or kills it).
//!
//! What must hold: disjoint regions all land (no chunk lost or overwritten by a
//! neighbour); after a kill every chunk is whole, old or new (never torn,
//! always decodable); the killed writer's temporary files are removed by the
//! next write to the array (`store::clean_chunk_temps`).

mod common;

use darray::{DArray, RegionOptions, WriteOptions};
use ndarray::{ArrayD, IxDyn};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const JOB: &str = "DARRAY_TEST_CHILD_WRITER";

/// `value + flat index / 1e6` over `shape`, so a misplaced element shows.
fn pattern(shape: &[usize], value: f64) -> ArrayD<f64> {
    let mut k = 0.0;
    ArrayD::from_shape_simple_fn(IxDyn(shape), || {
        k += 1.0;
        value + k / 1e6
    })
}

fn create(path: &Path, shape: &[usize], chunk: &[u64], value: f64) {
    let opts = WriteOptions {
        chunk_shape: Some(chunk.to_vec()),
        ..WriteOptions::default()
    };
    DArray::from_ndarray(&pattern(shape, value), shape.to_vec())
        .unwrap()
        .to_zarr(path, &opts)
        .unwrap();
}

/// Runs this binary's `child_writer` with `job`: `path;r0;r1;cols;value;chunk`
/// writes rows `r0..r1` (all `cols` columns) of `pattern(.., value)`.
fn spawn(job: &str) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child_writer", "--ignored", "--nocapture"])
        .args(["--test-threads", "1"])
        .env(JOB, job)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap()
}

/// Not a test of its own: the body of a child process (does nothing without the
/// job variable).
#[test]
#[ignore = "run by the other tests of this file as a child process"]
fn child_writer() {
    let Ok(job) = std::env::var(JOB) else {
        return;
    };
    let f: Vec<&str> = job.split(';').collect();
    let (path, r0, r1, cols, value, chunk): (PathBuf, usize, usize, usize, f64, usize) = (
        f[0].into(),
        f[1].parse().unwrap(),
        f[2].parse().unwrap(),
        f[3].parse().unwrap(),
        f[4].parse().unwrap(),
        f[5].parse().unwrap(),
    );
    let a = pattern(&[r1 - r0, cols], value);
    let x = DArray::from_ndarray(&a, [chunk, chunk]).unwrap();
    println!("writing");
    x.to_zarr_region(
        &path,
        &[r0 as u64..r1 as u64, 0..cols as u64],
        &RegionOptions::default(),
    )
    .unwrap();
    println!("done");
}

fn read(path: &Path) -> ArrayD<f64> {
    DArray::<f64>::from_zarr(path).unwrap().compute().unwrap()
}

fn temp_files(dir: &Path) -> Vec<PathBuf> {
    common::files_under(dir)
        .into_iter()
        .filter(|p| p.to_string_lossy().contains(".darray-tmp-"))
        .collect()
}

#[test]
fn disjoint_regions_from_concurrent_processes_all_land() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shared.zarr");
    let (rows, cols, chunk) = (96, 40, 8);
    create(&path, &[rows, cols], &[chunk as u64, chunk as u64], 0.0);
    // Three writers of 32 rows each (aligned to the 8-row chunks), started
    // together, each with its own value.
    let children: Vec<Child> = (0..3)
        .map(|k| {
            spawn(&format!(
                "{};{};{};{cols};{};{chunk}",
                path.display(),
                32 * k,
                32 * (k + 1),
                f64::from(k + 1) * 100.0
            ))
        })
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    let got = read(&path);
    for k in 0..3 {
        let want = pattern(&[32, cols], f64::from(k as u32 + 1) * 100.0);
        let part = got.slice(ndarray::s![32 * k..32 * (k + 1), ..]);
        assert_eq!(
            part,
            want.view().into_dimensionality().unwrap(),
            "rows of writer {k}"
        );
    }
    assert!(temp_files(&path).is_empty());
}

#[test]
fn sigkill_mid_write_leaves_every_chunk_whole_and_the_next_write_cleans_up() {
    let dir = tempfile::tempdir().unwrap();
    let (rows, cols, chunk) = (512, 256, 16);
    let mut saw_partial = false;
    // The kill must land while chunks are being written: wait for the child's
    // "writing" line, then kill after a delay that shrinks if the write had
    // already finished.
    for (attempt, delay_ms) in [60u64, 20, 5, 0].into_iter().enumerate() {
        let path = dir.path().join(format!("killed-{attempt}.zarr"));
        create(&path, &[rows, cols], &[chunk as u64, chunk as u64], 1.0);
        let mut child = spawn(&format!("{};0;{rows};{cols};2;{chunk}", path.display()));
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let started = Instant::now();
        loop {
            let line = lines.next().expect("child output").unwrap();
            if line.contains("writing") {
                break;
            }
            assert!(started.elapsed() < Duration::from_secs(60));
        }
        std::thread::sleep(Duration::from_millis(delay_ms));
        child.kill().unwrap(); // SIGKILL on Unix
        let status = child.wait().unwrap();
        // Every chunk decodes, and is wholly the old or wholly the new values.
        let got = read(&path);
        let (old, new) = (pattern(&[rows, cols], 1.0), pattern(&[rows, cols], 2.0));
        let (mut n_old, mut n_new) = (0, 0);
        for bi in 0..rows / chunk {
            for bj in 0..cols / chunk {
                let s = ndarray::s![bi * chunk..(bi + 1) * chunk, bj * chunk..(bj + 1) * chunk];
                let g = got.slice(s);
                if g == old.slice(s) {
                    n_old += 1;
                } else if g == new.slice(s) {
                    n_new += 1;
                } else {
                    panic!("chunk ({bi}, {bj}) is neither old nor new: torn");
                }
            }
        }
        if status.success() {
            assert_eq!(n_old, 0, "a finished write left old chunks");
            continue;
        }
        saw_partial |= n_old > 0 && n_new > 0;
        // The next write to the array removes the dead writer's temporary
        // files (there may be none if the kill fell between two chunks).
        let leftovers = temp_files(&path);
        eprintln!(
            "attempt {attempt}: {n_old} old, {n_new} new chunks, {} temporary files",
            leftovers.len()
        );
        DArray::from_ndarray(&pattern(&[chunk, cols], 3.0), [chunk, chunk])
            .unwrap()
            .to_zarr_region(
                &path,
                &[0..chunk as u64, 0..cols as u64],
                &RegionOptions::default(),
            )
            .unwrap();
        assert!(
            temp_files(&path).is_empty(),
            "left after the next write: {:?} (before: {leftovers:?})",
            temp_files(&path)
        );
        if saw_partial {
            break;
        }
    }
    assert!(
        saw_partial,
        "no attempt killed the writer with some chunks written and some not"
    );
}
