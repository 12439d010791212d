//! The distributed failures are typed [`Error`] variants that keep what went
//! wrong underneath as their `source()`: one test per family.

use super::auth::Secret;
use super::wire::{Limits, WireError};
use super::worker::{self, memory::MemoryFractions, WorkerConfig};
use super::{run_from_args, Client, LocalCluster};
use crate::Error;
use std::error::Error as _;
use std::time::Duration;

/// An address on this machine where nothing listens.
fn closed_port() -> std::net::SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

/// The error's source, as the type it must be.
fn source_of<T: std::error::Error + 'static>(e: &Error) -> &T {
    e.source()
        .unwrap_or_else(|| panic!("{e}: no source"))
        .downcast_ref::<T>()
        .unwrap_or_else(|| panic!("{e}: source of another type"))
}

/// A cluster secret written to a fresh file of mode 0600.
fn secret_file(dir: &std::path::Path) -> String {
    let path = dir.join("secret");
    Secret::generate().write_file(&path).unwrap();
    path.display().to_string()
}

#[test]
fn connecting_to_a_closed_port_is_a_connect_error_with_its_io_source() {
    let addr = closed_port().to_string();
    let err = Client::connect_with(&addr, &Secret::generate(), Limits::default()).unwrap_err();
    assert!(
        matches!(&err, Error::Connect { addr: a, .. } if *a == addr),
        "{err}"
    );
    match source_of::<WireError>(&err) {
        WireError::Io(io) => assert_eq!(io.kind(), std::io::ErrorKind::ConnectionRefused),
        other => panic!("{other:?}"),
    }
    assert!(
        err.to_string()
            .contains("check that a scheduler runs there"),
        "{err}"
    );
}

#[test]
fn an_address_that_does_not_parse_is_an_address_error() {
    let err =
        Client::connect_with("no port here", &Secret::generate(), Limits::default()).unwrap_err();
    assert!(
        matches!(&err, Error::Address { addr, .. } if addr == "no port here"),
        "{err}"
    );
    let _: &std::io::Error = source_of(&err);
}

/// A scheduler that accepts the handshake and the hello, then hangs up: the
/// client's next request fails as a lost connection, naming the address.
#[test]
fn a_scheduler_that_hangs_up_is_a_connection_error() {
    let secret = std::sync::Arc::new(Secret::generate());
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let key = secret.clone();
    let fake = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            listener.set_nonblocking(true).unwrap();
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            let (mut conn, _) = listener.accept().await.unwrap();
            let limits = Limits::default();
            super::auth::handshake_acceptor(&mut conn, &key, &limits)
                .await
                .unwrap();
            let _: super::proto::Hello = super::proto::read_msg(&mut conn, &limits).await.unwrap();
        });
    });
    let client = Client::connect_with(&addr.to_string(), &secret, Limits::default()).unwrap();
    fake.join().unwrap();
    let err = client.cluster_info().unwrap_err();
    assert!(
        matches!(&err, Error::Connection { addr: a, .. } if *a == addr),
        "{err}"
    );
    let _: &WireError = source_of(&err);
}

#[test]
fn an_unreadable_secret_file_is_a_secret_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-secret").display().to_string();
    let err = run_from_args([
        "darray",
        "worker",
        "--scheduler",
        "127.0.0.1:1",
        "--secret-file",
        &missing,
    ])
    .unwrap_err();
    assert!(
        matches!(&err, Error::Secret { origin, .. } if *origin == missing),
        "{err}"
    );
    let _: &WireError = source_of(&err);
}

#[test]
fn missing_tls_files_are_a_tls_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = |name: &str| dir.path().join(name).display().to_string();
    let (cert, key, ca) = (file("cert.pem"), file("key.pem"), file("ca.pem"));
    let err = run_from_args([
        "darray",
        "scheduler",
        "--listen",
        "127.0.0.1:0",
        "--tls-cert",
        &cert,
        "--tls-key",
        &key,
        "--tls-ca",
        &ca,
    ])
    .unwrap_err();
    assert!(matches!(&err, Error::Tls { .. }), "{err}");
    let _: &WireError = source_of(&err);
}

#[test]
fn a_port_in_use_is_a_listen_error_with_its_io_source() {
    let dir = tempfile::tempdir().unwrap();
    let secret = secret_file(dir.path());
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let err = run_from_args([
        "darray",
        "scheduler",
        "--listen",
        &addr.to_string(),
        "--secret-file",
        &secret,
    ])
    .unwrap_err();
    assert!(
        matches!(&err, Error::Listen { addr: a, .. } if *a == addr),
        "{err}"
    );
    match source_of::<WireError>(&err) {
        WireError::Io(io) => assert_eq!(io.kind(), std::io::ErrorKind::AddrInUse),
        other => panic!("{other:?}"),
    }
}

/// A worker whose scheduler never comes stops with a typed error whose
/// source says why (it used to be a string).
#[test]
fn a_worker_without_a_scheduler_stops_with_a_worker_error() {
    let config = WorkerConfig {
        scheduler: closed_port(),
        nthreads: 1,
        memory_limit: 1 << 30,
        memory_fractions: MemoryFractions::default(),
        memory_probe: None,
        listen: "127.0.0.1:0".parse().unwrap(),
        local_dir: None,
        name: "no-scheduler".into(),
        limits: Limits::default(),
        reconnect_for: Duration::from_millis(200),
        peer_send_bytes_per_sec: None,
    };
    let err = worker::run_config(config, Secret::generate()).unwrap_err();
    assert!(matches!(&err, Error::Worker { .. }), "{err}");
    assert!(
        matches!(source_of::<WireError>(&err), WireError::Refused(m) if m.contains("no scheduler")),
        "{err}"
    );
}

#[test]
fn local_cluster_failures_are_cluster_errors() {
    // No worker is started, so the program is never run.
    let mut c = LocalCluster::builder(0)
        .worker_command("/nonexistent/darray", Vec::<String>::new())
        .build()
        .unwrap();
    let err = c.kill_worker(3).unwrap_err();
    assert!(
        matches!(&err, Error::Cluster { reason, .. } if reason == "no worker 3"),
        "{err}"
    );
    let err = c
        .client()
        .unwrap()
        .wait_for_workers(1, Duration::from_millis(50))
        .unwrap_err();
    assert!(matches!(&err, Error::Cluster { .. }), "{err}");
    // The process that cannot start keeps the system's error.
    let err = c.add_worker().unwrap_err();
    assert!(matches!(&err, Error::Start { .. }), "{err}");
    let _: &std::io::Error = source_of(&err);
}

/// The command line's own errors are not an array's: a bad flag is clap's
/// usage error (exit status 2); help and version are what was asked for, printed
/// by clap, and not errors at all.
#[test]
fn command_line_errors_are_clap_errors() {
    for args in [
        vec!["darray", "--help"],
        vec!["darray", "worker", "--help"],
        vec!["darray", "--version"],
    ] {
        run_from_args(args.clone()).unwrap_or_else(|e| panic!("{args:?}: {e}"));
    }
    let err = run_from_args(["darray", "worker", "--no-such-flag"]).unwrap_err();
    match &err {
        Error::Cli(e) => assert_eq!(e.exit_code(), 2, "{e}"),
        other => panic!("{other:?}"),
    }
}
