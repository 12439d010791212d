//! TLS on darray's connections: a TLS `LocalCluster` against the local executor bit
//! for bit, refusals (another CA, TLS on one side only, unusable files), and a
//! relay that terminates TLS on both sides, refused because the handshake is bound
//! to the TLS session.

use darray::distributed::auth::{connect_with, serve_with, Secret};
use darray::distributed::tls::{ClusterCa, TlsConfig, TlsFiles};
use darray::distributed::wire::{read_frame, write_frame, FrameKind, Limits, WireError};
use darray::distributed::{Client, LocalCluster};
use darray::{DArray, Executor, LocalExecutor};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};

fn builder(n: usize) -> darray::distributed::LocalClusterBuilder {
    // Workers: this test binary, taken over by darray's process constructor.
    LocalCluster::builder(n)
}

fn cluster_secret(c: &LocalCluster) -> Secret {
    Secret::from_file(c.secret_file()).unwrap()
}

fn limits() -> Limits {
    Limits {
        handshake_timeout: Duration::from_secs(20),
        ..Limits::default()
    }
}

/// A fresh CA and one leaf from it in `dir`, loaded.
fn issue(dir: &Path, name: &str) -> (ClusterCa, TlsConfig) {
    let ca = ClusterCa::generate().unwrap();
    let files = ca.issue_local(dir, name).unwrap();
    let config = TlsConfig::from_files(&files).unwrap();
    (ca, config)
}

fn err_text<T: std::fmt::Debug>(r: darray::Result<T>) -> String {
    r.expect_err("expected an error").to_string()
}

#[test]
fn tls_cluster_matches_local_bitwise() {
    let c = builder(2).tls(true).build().expect("TLS cluster starts");
    let files = c.tls_config().expect("TLS on").files().clone();
    #[cfg(unix)]
    for f in [&files.cert, &files.key, &files.ca] {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(f).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", f.display());
    }
    let client = c.client().unwrap();
    assert_eq!(client.info().unwrap().0, 2);
    let x = DArray::<f64>::random_normal(7, &[120, 90], 0.0, 1.0, [30, 30]).unwrap();
    let y = (x.sin() * 3.0 + &x).unwrap();
    let local = LocalExecutor::with_threads(2).unwrap();
    // Reductions merge partials across both workers, so chunks also travel
    // between workers over their TLS peer ports.
    for e in [
        y.sum_axis(0).unwrap(),
        y.mean_axis(1).unwrap(),
        y.std(1.0).unwrap(),
        y,
    ] {
        let want = e.compute_with(&local).unwrap();
        let got = e.compute_with(&client).unwrap();
        assert_eq!(got.shape(), want.shape());
        let same = got
            .iter()
            .zip(want.iter())
            .all(|(a, b)| a.to_bits() == b.to_bits());
        assert!(same, "TLS cluster differs from local");
    }
    assert!(client.last_stats().tasks > 0);
}

#[test]
fn plaintext_client_is_told_the_scheduler_requires_tls() {
    let c = builder(0).tls(true).build().unwrap();
    let e = err_text(Client::connect_with(
        c.scheduler_addr(),
        &cluster_secret(&c),
        limits(),
    ));
    assert!(e.contains("requires TLS"), "{e}");
    // The scheduler is still up for a TLS client.
    c.client().unwrap().info().unwrap();
}

#[test]
fn tls_client_is_told_the_scheduler_is_plaintext() {
    let c = builder(0).build().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (_, tls) = issue(dir.path(), "client");
    let e = err_text(Client::connect_with_tls(
        c.scheduler_addr(),
        &cluster_secret(&c),
        Some(&tls),
        limits(),
    ));
    assert!(e.contains("answered in plaintext"), "{e}");
    c.client().unwrap().info().unwrap();
}

#[test]
fn another_ca_is_refused_both_ways() {
    let c = builder(0).tls(true).build().unwrap();
    let secret = cluster_secret(&c);
    let cluster_files = c.tls_config().unwrap().files().clone();
    let dir = tempfile::tempdir().unwrap();
    let (_, stranger) = issue(dir.path(), "stranger");

    // The client trusts another CA: it refuses the scheduler's certificate.
    let e = err_text(Client::connect_with_tls(
        c.scheduler_addr(),
        &secret,
        Some(&stranger),
        limits(),
    ));
    assert!(e.contains("certificate"), "{e}");

    // The client trusts the cluster CA but presents a certificate from another:
    // the scheduler refuses it.
    let mixed = TlsConfig::from_files(&TlsFiles {
        ca: cluster_files.ca.clone(),
        ..stranger.files().clone()
    })
    .unwrap();
    assert!(Client::connect_with_tls(c.scheduler_addr(), &secret, Some(&mixed), limits()).is_err());

    // The cluster's own certificate still gets in.
    let own = c.tls_config().unwrap().clone();
    Client::connect_with_tls(c.scheduler_addr(), &secret, Some(&own), limits())
        .unwrap()
        .info()
        .unwrap();
}

#[test]
fn unusable_files_are_named_in_the_error() {
    let dir = tempfile::tempdir().unwrap();
    let (_, good) = issue(dir.path(), "node");
    let good = good.files().clone();

    let missing = TlsFiles {
        cert: dir.path().join("nope.pem"),
        ..good.clone()
    };
    let e = TlsConfig::from_files(&missing).unwrap_err().to_string();
    assert!(e.contains("nope.pem"), "{e}");

    let junk = dir.path().join("junk.pem");
    std::fs::write(&junk, "not a certificate\n").unwrap();
    for files in [
        TlsFiles {
            ca: junk.clone(),
            ..good.clone()
        },
        TlsFiles {
            key: junk.clone(),
            ..good.clone()
        },
    ] {
        let e = TlsConfig::from_files(&files).unwrap_err().to_string();
        assert!(e.contains("junk.pem"), "{e}");
    }

    // A key that is not the certificate's (from another CA, in its own directory
    // since each CA writes its ca.pem).
    let other_dir = tempfile::tempdir().unwrap();
    let (_, other) = issue(other_dir.path(), "other");
    let e = TlsConfig::from_files(&TlsFiles {
        key: other.files().key.clone(),
        ..good.clone()
    });
    assert!(e.is_err(), "a certificate with another's key was accepted");

    assert!(TlsConfig::from_files(&good)
        .unwrap()
        .with_server_name("not a name!")
        .is_err());
}

#[test]
fn cli_refuses_partial_or_missing_tls_files() {
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("secret");
    Secret::generate().write_file(&secret).unwrap();
    let secret = secret.to_str().unwrap();
    let e = err_text(darray::distributed::run_from_args([
        "darray",
        "worker",
        "--scheduler",
        "127.0.0.1:9",
        "--secret-file",
        secret,
        "--tls-cert",
        "/x.pem",
    ]));
    assert!(e.contains("--tls-key") && e.contains("--tls-ca"), "{e}");
    let missing = dir.path().join("missing-cert.pem");
    let e = err_text(darray::distributed::run_from_args([
        "darray",
        "worker",
        "--scheduler",
        "127.0.0.1:9",
        "--secret-file",
        secret,
        "--tls-cert",
        missing.to_str().unwrap(),
        "--tls-key",
        "/k.pem",
        "--tls-ca",
        "/ca.pem",
    ]));
    assert!(e.contains("missing-cert.pem"), "{e}");
}

/// The only test that sets `DARRAY_TLS_*` and `DARRAY_SECRET_FILE`; the rest of
/// this file passes TLS explicitly, and `LocalCluster` strips these variables
/// from its workers.
#[test]
fn client_connect_takes_tls_from_the_environment() {
    let c = builder(0).tls(true).build().unwrap();
    let files = c.tls_config().unwrap().files().clone();
    std::env::set_var("DARRAY_SECRET_FILE", c.secret_file());
    std::env::set_var("DARRAY_TLS_CA", &files.ca);
    let e = err_text(Client::connect(c.scheduler_addr()));
    assert!(e.contains("DARRAY_TLS_CERT"), "{e}");
    std::env::set_var("DARRAY_TLS_CERT", &files.cert);
    std::env::set_var("DARRAY_TLS_KEY", &files.key);
    let r = Client::connect(c.scheduler_addr()).and_then(|client| client.info());
    for v in [
        "DARRAY_TLS_CA",
        "DARRAY_TLS_CERT",
        "DARRAY_TLS_KEY",
        "DARRAY_SECRET_FILE",
    ] {
        std::env::remove_var(v);
    }
    assert_eq!(r.unwrap().0, 0);
}

/// An echo server behind `serve_with`, TLS as given.
async fn echo_server(secret: Arc<Secret>, tls: Option<Arc<TlsConfig>>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let limits = limits();
    tokio::spawn(serve_with(
        listener,
        secret,
        tls,
        limits.clone(),
        move |mut stream, _peer, admission| {
            let limits = limits.clone();
            async move {
                while let Ok(f) = read_frame(&mut stream, &limits, true).await {
                    if write_frame(&mut stream, f.kind, &f.payload).await.is_err() {
                        break;
                    }
                }
                drop(admission);
            }
        },
    ));
    addr
}

/// A relay that forwards TCP bytes unchanged (the TLS session stays end to end).
async fn tcp_relay(to: SocketAddr) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut outbound = TcpStream::connect(to).await.unwrap();
                let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
            });
        }
    });
    addr
}

/// A man in the middle holding a certificate from the cluster CA: it terminates the
/// client's TLS with its own certificate, opens its own TLS session to the server
/// (presenting the same certificate as client), and relays the decrypted bytes.
/// Sends `true` on `sessions` once both TLS sessions are up.
async fn tls_terminating_relay(
    to: SocketAddr,
    files: TlsFiles,
    sessions: tokio::sync::mpsc::UnboundedSender<bool>,
) -> SocketAddr {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&files.cert)
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let key = PrivateKeyDer::from_pem_file(&files.key).unwrap();
    let mut roots = rustls::RootCertStore::empty();
    for ca in CertificateDer::pem_file_iter(&files.ca).unwrap() {
        roots.add(ca.unwrap()).unwrap();
    }
    let roots = Arc::new(roots);
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        roots.clone(),
        provider.clone(),
    )
    .build()
    .unwrap();
    let server = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain.clone(), key.clone_key())
        .unwrap();
    let client = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server));
    let connector = tokio_rustls::TlsConnector::from(Arc::new(client));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((inbound, _)) = listener.accept().await {
            let (acceptor, connector, sessions) =
                (acceptor.clone(), connector.clone(), sessions.clone());
            tokio::spawn(async move {
                let Ok(mut inbound) = acceptor.accept(inbound).await else {
                    let _ = sessions.send(false);
                    return;
                };
                let name = ServerName::IpAddress(to.ip().into());
                let tcp = TcpStream::connect(to).await.unwrap();
                let Ok(mut outbound) = connector.connect(name, tcp).await else {
                    let _ = sessions.send(false);
                    return;
                };
                let _ = sessions.send(true);
                let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
            });
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_terminating_tls_cannot_pass_the_handshake() {
    let dir = tempfile::tempdir().unwrap();
    let ca = ClusterCa::generate().unwrap();
    let server_tls = TlsConfig::from_files(&ca.issue_local(dir.path(), "server").unwrap()).unwrap();
    let client_tls = TlsConfig::from_files(&ca.issue_local(dir.path(), "client").unwrap()).unwrap();
    let relay_files = ca.issue_local(dir.path(), "relay").unwrap();
    let secret = Arc::new(Secret::generate());
    let limits = limits();
    let server = echo_server(secret.clone(), Some(Arc::new(server_tls))).await;

    // Directly, and through a relay that leaves TLS end to end: authenticated,
    // and frames go through.
    for addr in [server, tcp_relay(server).await] {
        let mut s = connect_with(addr, &secret, Some(&client_tls), &limits)
            .await
            .expect("an honest TLS connection authenticates");
        assert!(s.is_tls());
        write_frame(&mut s, FrameKind::Control, b"ping")
            .await
            .unwrap();
        assert_eq!(
            read_frame(&mut s, &limits, true).await.unwrap().payload,
            b"ping"
        );
    }

    // Through the man in the middle: both TLS sessions are valid (every certificate
    // is from the cluster CA, and the relay knows no secret but passes the bytes of
    // both sides who do), yet the exporter values of the two sessions differ, so
    // the acceptor's proof does not verify on the initiator's side.
    let (tx, mut sessions) = tokio::sync::mpsc::unbounded_channel();
    let mitm = tls_terminating_relay(server, relay_files, tx).await;
    let e = connect_with(mitm, &secret, Some(&client_tls), &limits)
        .await
        .expect_err("a relayed handshake authenticated");
    assert!(
        matches!(&e, WireError::Auth(m) if m.contains("proof does not match")),
        "{e}"
    );
    assert_eq!(
        sessions.recv().await,
        Some(true),
        "the relay did not get both TLS sessions up, so the test proves nothing"
    );
}
