//! Process lifecycles: a restarted scheduler gets its workers back, workers go
//! with their parent, a scheduler started by hand on port 0 says which
//! port it bound, and the `darray` command line's help, version and usage
//! errors. In a binary of its own: the restart frees the scheduler's
//! port for a moment, and a cluster started by a test running alongside could
//! be handed that port and meet the other cluster's workers (which then fail
//! its secret).

mod common;

use common::*;
use darray::{DArray, Error, LocalExecutor};
use std::time::{Duration, Instant};

fn local() -> LocalExecutor {
    LocalExecutor::with_threads(2).unwrap()
}

#[test]
fn restarted_scheduler_gets_its_workers_back() {
    let mut c = darray_cluster(2, 1);
    let old = c.client().unwrap();
    let x = DArray::<f64>::random_uniform(9, &[200, 300], -1.0, 1.0, [50, 70]).unwrap();
    let m = x.cos().mean_axis(1).unwrap();
    let want = m.compute_with(&local()).unwrap();
    assert_bits_eq(&want, &m.compute_with(&old).unwrap());
    c.restart_scheduler().unwrap();
    // The old connection fails at once with a clear error, not a hang.
    let t = std::time::Instant::now();
    match m.compute_with(&old) {
        Err(e @ Error::Connection { .. }) => assert!(e.to_string().contains("scheduler"), "{e}"),
        other => panic!("expected a connection error, got {other:?}"),
    }
    assert!(t.elapsed() < std::time::Duration::from_secs(5));
    let client = c.client().unwrap();
    client
        .wait_for_workers(2, std::time::Duration::from_secs(120))
        .unwrap();
    assert_bits_eq(&want, &m.compute_with(&client).unwrap());
}

/// A worker started with `--exit-with-stdin` (as `LocalCluster` starts them)
/// exits once its standard input closes, so workers never outlive a parent
/// that died without dropping its cluster; one without the flag keeps trying.
#[test]
fn workers_exit_when_their_parent_goes() {
    use std::process::{Command, Stdio};
    let c = darray_cluster(1, 1);
    let secret = c.secret_file().to_path_buf();
    let start = |watch: bool| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_darray"));
        cmd.args([
            "worker",
            "--scheduler",
            c.scheduler_addr(),
            "--listen",
            "127.0.0.1:0",
        ])
        .env("DARRAY_SECRET_FILE", &secret)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
        if watch {
            cmd.arg("--exit-with-stdin");
        }
        cmd.spawn().unwrap()
    };
    let mut watching = start(true);
    let mut plain = start(false);
    let client = c.client().unwrap();
    client
        .wait_for_workers(3, Duration::from_secs(120))
        .unwrap();
    drop(watching.stdin.take());
    drop(plain.stdin.take());
    let t = Instant::now();
    let status = loop {
        if let Some(s) = watching.try_wait().unwrap() {
            break Some(s);
        }
        if t.elapsed() > Duration::from_secs(10) {
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let plain_alive = plain.try_wait().unwrap().is_none();
    let _ = plain.kill();
    let _ = plain.wait();
    let _ = watching.kill();
    let status = status.expect("the watching worker exits within 10 s of its stdin closing");
    assert!(status.success(), "clean exit, got {status:?}");
    assert!(plain_alive, "a worker without the flag ignores its stdin");
}

/// `darray scheduler --listen 127.0.0.1:0` without a secret: it logs the port
/// the system chose (not 0), writes the generated secret to a 0600 file named
/// after that port, and a worker given that file registers.
#[test]
fn scheduler_on_port_zero_names_the_port_it_bound() {
    use std::io::BufRead;
    use std::os::unix::fs::PermissionsExt;
    use std::process::{Command, Stdio};
    let tmp = std::env::temp_dir().join(format!("darray-port0-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let mut sched = Command::new(env!("CARGO_BIN_EXE_darray"))
        .args(["scheduler", "--listen", "127.0.0.1:0"])
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .env("TMPDIR", &tmp)
        .env_remove("DARRAY_SECRET")
        .env_remove("DARRAY_SECRET_FILE")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let stderr = sched.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            let _ = tx.send(line);
        }
    });
    let mut addr = None;
    let deadline = Instant::now() + Duration::from_secs(30);
    while addr.is_none() && Instant::now() < deadline {
        let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) else {
            continue;
        };
        let plain: String = line
            .split('\u{1b}')
            .map(|p| p.split_once('m').map_or(p, |x| x.1))
            .collect();
        if plain.contains("scheduler listening") {
            let a = plain
                .split("addr=")
                .nth(1)
                .unwrap()
                .split_whitespace()
                .next()
                .unwrap();
            addr = Some(a.parse::<std::net::SocketAddr>().unwrap());
        }
    }
    let addr = addr.expect("the scheduler logs where it listens");
    assert_ne!(addr.port(), 0, "the bound port, not the one asked for");
    let secret = tmp.join(format!("darray-{}.secret", addr.port()));
    let mode = std::fs::metadata(&secret).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "{secret:?}");
    let mut worker = Command::new(env!("CARGO_BIN_EXE_darray"))
        .args([
            "worker",
            "--scheduler",
            &addr.to_string(),
            "--listen",
            "127.0.0.1:0",
        ])
        .arg("--exit-with-stdin")
        .env("DARRAY_SECRET_FILE", &secret)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let s = darray::distributed::auth::Secret::from_file(&secret).unwrap();
    let client = darray::distributed::Client::connect_with(
        &addr.to_string(),
        &s,
        darray::distributed::wire::Limits::default(),
    )
    .unwrap();
    let joined = client.wait_for_workers(1, Duration::from_secs(120));
    let _ = worker.kill();
    let _ = sched.kill();
    let _ = worker.wait();
    let _ = sched.wait();
    let _ = std::fs::remove_dir_all(&tmp);
    joined.unwrap();
}

/// Runs the `darray` binary with `args`, to its end.
fn darray_cli(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_darray"))
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("darray runs")
}

/// `--help` and `--version` are what was asked for: clap's text on standard
/// output, status 0, nothing on standard error (they went through the error
/// path, status 2 and "darray: array `darray`:", before).
#[test]
fn cli_help_and_version_print_to_stdout_and_succeed() {
    for (args, want) in [
        (&["--help"][..], "Usage: darray"),
        (&["worker", "--help"][..], "Usage: darray worker"),
        (&["scheduler", "-h"][..], "Usage: darray scheduler"),
        (
            &["--version"][..],
            concat!("darray ", env!("CARGO_PKG_VERSION")),
        ),
    ] {
        let out = darray_cli(args);
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {stdout}{stderr}");
        assert!(stdout.contains(want), "{args:?}: {stdout}");
        assert!(stderr.is_empty(), "{args:?}: {stderr}");
        assert!(!stdout.contains("array `darray`"), "{args:?}: {stdout}");
    }
    let help = String::from_utf8_lossy(&darray_cli(&["worker", "--help"]).stdout).into_owned();
    assert!(help.contains("--memory-limit"), "{help}");
}

/// A bad flag: clap's own message on standard error, status 2, not wrapped
/// as an array's error.
#[test]
fn cli_bad_flag_exits_2_with_clap_message() {
    let out = darray_cli(&["worker", "--no-such-flag"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.starts_with("error: unexpected argument '--no-such-flag' found"),
        "{stderr}"
    );
    assert!(stderr.contains("Usage: darray worker"), "{stderr}");
    assert!(!stderr.contains("array `darray`"), "{stderr}");
    assert!(out.stdout.is_empty());
}

/// `run_from_args`, as a user's program calls it: help is success, a bad flag
/// an error.
#[test]
fn run_from_args_treats_help_as_success() {
    assert!(darray::distributed::run_from_args(["darray", "--version"]).is_ok());
    assert!(darray::distributed::run_from_args(["darray", "worker", "--help"]).is_ok());
    let err = darray::distributed::run_from_args(["darray", "--bogus"]).unwrap_err();
    assert!(
        err.to_string().contains("unexpected argument '--bogus'"),
        "{err}"
    );
}
