//! A program of a user's own crate, outside this workspace, that depends on
//! darray and starts `LocalCluster::new(2)`: it gets a working cluster with no
//! extra step (no `darray` binary built or found), its workers being the
//! program itself; and one that runs `main` in its workers without
//! `serve_if_worker()` gets a clear error at once instead of a chain of
//! processes. The crate is written to a temporary directory and built with
//! cargo, offline, into this test's own target directory (the dependencies
//! compiled already are reused, at this workspace's versions and profile).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const MAIN: &str = r#"
use darray::distributed::LocalCluster;
use darray::DArray;

fn main() {
    if std::env::args().nth(1).as_deref() == Some("forgot-serve") {
        // Workers run main (serve_in_main) but main never calls serve_if_worker.
        match LocalCluster::builder(1).serve_in_main(true).build() {
            Ok(_) => println!("built"),
            Err(e) => println!("error: {e}"),
        }
        return;
    }
    let cluster = LocalCluster::new(2).expect("a local cluster");
    let client = cluster.client().expect("a client");
    println!("workers = {:?}", client.info().expect("info"));
    let x = DArray::<f64>::arange(0.0, 1e6, 1.0, [100_000]).expect("arange");
    let sum = x.sum().expect("sum").compute_with(&client).expect("computed on the cluster");
    println!("sum = {}", sum.iter().next().expect("a scalar"));
    for pid in cluster.worker_pids() {
        let exe = std::fs::read_link(format!("/proc/{pid}/exe")).expect("worker exe");
        println!("worker exe = {}", exe.display());
    }
}
"#;

/// The target directory this test binary was built in (`TARGET/debug/deps/`).
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.ancestors()
        .nth(3)
        .expect("TARGET/debug/deps/EXE")
        .to_path_buf()
}

/// Runs `cmd` to its end, killing it after `limit`.
fn run(mut cmd: Command, limit: Duration) -> Output {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    let (mut out, mut err) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    let err_reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = err.read_to_end(&mut v);
        v
    });
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out.read_to_end(&mut v);
        let _ = tx.send(v);
    });
    let start = Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{cmd:?} still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    Output {
        status,
        stdout: rx.recv().unwrap_or_default(),
        stderr: err_reader.join().unwrap(),
    }
}

fn write_crate(dir: &Path) {
    let darray = env!("CARGO_MANIFEST_DIR");
    // This workspace's profile, so that the dependencies it compiled are reused
    // (darray and its kernels are workspace members there: opt-level 1).
    let manifest = format!(
        r#"[package]
name = "darray-user-check"
version = "0.0.0"
edition = "2021"
publish = false

[dependencies]
darray = {{ path = {darray:?} }}

[profile.dev]
opt-level = 1

[profile.dev.package."*"]
opt-level = 2

[profile.dev.package.darray]
opt-level = 1

[profile.dev.package.darray-kernels]
opt-level = 1

[workspace]
"#
    );
    std::fs::write(dir.join("Cargo.toml"), manifest).unwrap();
    // The workspace's versions: offline, and the compiled crates match.
    std::fs::copy(Path::new(darray).join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();
    std::fs::create_dir(dir.join("src")).unwrap();
    std::fs::write(dir.join("src/main.rs"), MAIN).unwrap();
}

#[test]
fn a_users_program_gets_a_local_cluster_with_no_extra_step() {
    let dir = tempfile::tempdir().unwrap();
    write_crate(dir.path());
    let target = target_dir();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut build = Command::new(cargo);
    // The variables cargo sets for this test (CARGO_PKG_*, CARGO_MANIFEST_DIR,
    // ...) are not the user's: left in, build scripts that track them rebuild
    // their crates (ring, then everything TLS) instead of reusing them.
    for (k, _) in std::env::vars_os() {
        let k = k.to_string_lossy().into_owned();
        if k.starts_with("CARGO_") && k != "CARGO_HOME" || k == "OUT_DIR" {
            build.env_remove(k);
        }
    }
    build
        .args(["build", "--offline", "--manifest-path"])
        .arg(dir.path().join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", &target)
        .current_dir(dir.path());
    let t = Instant::now();
    let built = run(build, Duration::from_secs(1200));
    assert!(
        built.status.success(),
        "cargo build of the user's crate failed:\n{}",
        String::from_utf8_lossy(&built.stderr)
    );
    eprintln!("built the user's crate in {:?}", t.elapsed());
    let program = target.join("debug").join("darray-user-check");

    let mut cmd = Command::new(&program);
    cmd.env_remove(darray::distributed::WORKER_ENV)
        .env_remove("DARRAY_WORKER_BIN")
        .stdin(Stdio::null());
    let t = Instant::now();
    let ran = run(cmd, Duration::from_secs(300));
    let said = String::from_utf8_lossy(&ran.stdout);
    let why = format!("{said}\n{}", String::from_utf8_lossy(&ran.stderr));
    assert!(ran.status.success(), "the program failed: {why}");
    eprintln!("ran in {:?}:\n{said}", t.elapsed());
    assert!(said.contains("workers = (2, 2)"), "{why}");
    // 0 + 1 + ... + 999,999, exact in f64.
    assert!(said.contains("sum = 499999500000\n"), "{why}");
    // The workers are the program itself, not a `darray` binary.
    let program = program.canonicalize().unwrap();
    let exes: Vec<&str> = said
        .lines()
        .filter_map(|l| l.strip_prefix("worker exe = "))
        .collect();
    assert_eq!(exes.len(), 2, "{why}");
    for e in exes {
        assert_eq!(Path::new(e), program, "{why}");
    }

    // A worker that runs main but does not serve: an error, promptly.
    let mut cmd = Command::new(&program);
    cmd.arg("forgot-serve")
        .env_remove(darray::distributed::WORKER_ENV)
        .stdin(Stdio::null());
    let t = Instant::now();
    let ran = run(cmd, Duration::from_secs(60));
    let took = t.elapsed();
    let said = String::from_utf8_lossy(&ran.stdout);
    let why = format!("{said}\n{}", String::from_utf8_lossy(&ran.stderr));
    assert!(ran.status.success(), "{why}");
    assert!(said.starts_with("error: "), "{why}");
    assert!(said.contains("worker program"), "{why}");
    assert!(said.contains("exited before joining"), "{why}");
    assert!(said.contains("serve_if_worker()"), "{why}");
    // Well within the 120 s join timeout: the exit is noticed, not waited out.
    assert!(took < Duration::from_secs(30), "took {took:?}: {why}");
    // The worker's own message says why it stopped.
    let err = String::from_utf8_lossy(&ran.stderr);
    assert!(err.contains("must not start a cluster itself"), "{why}");
}
