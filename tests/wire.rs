//! The distributed wire layer over real TCP: serve and connect, the listener's caps,
//! secret files and the listen policy.

use darray::distributed::auth::{check_listen, connect, serve, Gate, Secret};
use darray::distributed::wire::{read_frame, write_frame, FrameKind, Limits, WireError};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};

fn secret(b: u8) -> Secret {
    Secret::from_bytes(&[b; 32]).unwrap()
}

/// Starts `serve` on an ephemeral loopback port with an echo handler: each
/// authenticated connection echoes control frames until the peer closes.
async fn echo_server(secret: Arc<Secret>, limits: Limits) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let conn_limits = limits.clone();
    tokio::spawn(serve(
        listener,
        secret,
        limits,
        move |mut stream: TcpStream, _peer, admission| {
            let limits = conn_limits.clone();
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

async fn ping(stream: &mut TcpStream, limits: &Limits) {
    write_frame(stream, FrameKind::Control, b"ping")
        .await
        .unwrap();
    let f = read_frame(stream, limits, true).await.unwrap();
    assert_eq!(f.payload, b"ping");
}

#[tokio::test]
async fn serve_admits_only_peers_with_the_secret() {
    let limits = Limits {
        handshake_timeout: Duration::from_secs(2),
        ..Limits::default()
    };
    let addr = echo_server(Arc::new(secret(1)), limits.clone()).await;
    let mut good = connect(addr, &secret(1), &limits).await.unwrap();
    ping(&mut good, &limits).await;
    let e = connect(addr, &secret(2), &limits).await.unwrap_err();
    assert!(matches!(e, WireError::Auth(_)), "{e}");
    // A raw client that skips the handshake gets nothing back.
    let mut raw = TcpStream::connect(addr).await.unwrap();
    write_frame(&mut raw, FrameKind::Control, b"ping")
        .await
        .unwrap();
    assert!(read_frame(&mut raw, &limits, false).await.is_err());
    // The server is still up for honest peers.
    let mut again = connect(addr, &secret(1), &limits).await.unwrap();
    ping(&mut again, &limits).await;
    ping(&mut good, &limits).await;
}

#[tokio::test]
async fn connect_times_out_on_a_silent_listener() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let limits = Limits {
        handshake_timeout: Duration::from_millis(200),
        ..Limits::default()
    };
    let e = connect(addr, &secret(1), &limits).await.unwrap_err();
    assert!(matches!(e, WireError::Timeout), "{e}");
    drop(listener);
}

#[test]
fn gate_caps_connections_and_pending_handshakes() {
    let gate = Gate::new(&Limits {
        max_connections: 3,
        max_pending_handshakes: 2,
        ..Limits::default()
    });
    let mut a = gate.try_admit().unwrap();
    let b = gate.try_admit().unwrap();
    assert!(gate.try_admit().is_none(), "two handshakes pending");
    a.handshake_done();
    assert_eq!((gate.connections(), gate.pending_handshakes()), (2, 1));
    let mut c = gate.try_admit().unwrap();
    c.handshake_done();
    assert!(gate.try_admit().is_none(), "three connections");
    drop(b);
    assert_eq!((gate.connections(), gate.pending_handshakes()), (2, 0));
    let d = gate.try_admit().unwrap();
    drop((a, c, d));
    assert_eq!((gate.connections(), gate.pending_handshakes()), (0, 0));
    let none = Gate::new(&Limits {
        max_connections: 0,
        ..Limits::default()
    });
    assert!(none.try_admit().is_none());
}

#[tokio::test]
async fn silent_client_holds_a_handshake_slot_only_until_the_deadline() {
    let limits = Limits {
        handshake_timeout: Duration::from_millis(300),
        max_pending_handshakes: 1,
        ..Limits::default()
    };
    let addr = echo_server(Arc::new(secret(1)), limits.clone()).await;
    let _silent = TcpStream::connect(addr).await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    // The only handshake slot is taken: dropped at once.
    assert!(connect(addr, &secret(1), &limits).await.is_err());
    // Past the silent client's deadline its slot is free again.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let mut s = connect(addr, &secret(1), &limits).await.unwrap();
    ping(&mut s, &limits).await;
}

#[tokio::test]
async fn connection_cap_holds_for_the_life_of_the_connection() {
    let limits = Limits {
        handshake_timeout: Duration::from_secs(2),
        max_connections: 1,
        ..Limits::default()
    };
    let addr = echo_server(Arc::new(secret(1)), limits.clone()).await;
    let mut first = connect(addr, &secret(1), &limits).await.unwrap();
    ping(&mut first, &limits).await;
    assert!(connect(addr, &secret(1), &limits).await.is_err());
    drop(first);
    // The handler sees the close and drops its admission.
    let mut ok = None;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        if let Ok(s) = connect(addr, &secret(1), &limits).await {
            ok = Some(s);
            break;
        }
    }
    ping(
        ok.as_mut().expect("admitted after the first closed"),
        &limits,
    )
    .await;
}

#[cfg(unix)]
#[test]
fn secret_files_must_be_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("secret");
    std::fs::write(&path, b"0123456789abcdef0123\n").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let e = Secret::from_file(&path).unwrap_err().to_string();
    assert!(
        e.contains("0644") && e.contains(&*path.to_string_lossy()),
        "{e}"
    );
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
    assert!(Secret::from_file(&path).is_err());
    for mode in [0o600, 0o400] {
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        Secret::from_file(&path).unwrap();
    }
    std::fs::write(&path, b"short\n").unwrap();
    assert!(matches!(
        Secret::from_file(&path),
        Err(WireError::Refused(_))
    ));
    let e = Secret::from_file(&dir.path().join("missing")).unwrap_err();
    assert!(e.to_string().contains("missing"), "{e}");
}

#[cfg(unix)]
#[tokio::test]
async fn secret_file_round_trip_is_0600_and_trims_the_newline() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("secret");
    // An existing world-readable file is replaced, not reused with its mode.
    std::fs::write(&path, b"old").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let s = Secret::generate();
    s.write_file(&path).unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        1,
        "no temp file left"
    );
    let back = Secret::from_file(&path).unwrap();
    let (mut a, mut b) = tokio::io::duplex(4096);
    let limits = Limits::default();
    let (ri, ra) = tokio::join!(
        darray::distributed::auth::handshake_initiator(&mut a, &s, &limits),
        darray::distributed::auth::handshake_acceptor(&mut b, &back, &limits)
    );
    ri.unwrap();
    ra.unwrap();

    // A hand-written file with a trailing newline equals the bytes without it.
    let text = dir.path().join("text");
    std::fs::write(&text, b"correct horse battery staple\r\n").unwrap();
    std::fs::set_permissions(&text, std::fs::Permissions::from_mode(0o600)).unwrap();
    let from_file = Secret::from_file(&text).unwrap();
    let from_bytes = Secret::from_bytes(b"correct horse battery staple").unwrap();
    let (mut a, mut b) = tokio::io::duplex(4096);
    let (ri, ra) = tokio::join!(
        darray::distributed::auth::handshake_initiator(&mut a, &from_file, &limits),
        darray::distributed::auth::handshake_acceptor(&mut b, &from_bytes, &limits)
    );
    ri.unwrap();
    ra.unwrap();
}

#[test]
fn secret_debug_is_redacted() {
    let s = Secret::from_bytes(b"supersecretvalue-1234").unwrap();
    let d = format!("{s:?} {:#?}", s);
    assert_eq!(format!("{s:?}"), "Secret(<redacted>)");
    assert!(!d.contains("supersecret") && !d.contains("115"), "{d}");
    assert!(Secret::from_bytes(&[0; 15]).is_err());
    assert!(Secret::from_bytes(&[0; 16]).is_ok());
}

#[cfg(unix)]
#[test]
fn secret_from_env() {
    use std::os::unix::fs::PermissionsExt;
    // The only test that touches these variables.
    std::env::remove_var("DARRAY_SECRET_FILE");
    std::env::remove_var("DARRAY_SECRET");
    assert!(Secret::from_env().unwrap().is_none());
    std::env::set_var("DARRAY_SECRET", "0123456789abcdef");
    assert!(Secret::from_env().unwrap().is_some());
    std::env::set_var("DARRAY_SECRET", "short");
    assert!(Secret::from_env().is_err());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s");
    std::fs::write(&path, b"0123456789abcdef").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    // The file wins over the value, and its mode is checked.
    std::env::set_var("DARRAY_SECRET_FILE", &path);
    assert!(Secret::from_env().is_err());
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    assert!(Secret::from_env().unwrap().is_some());
    std::env::remove_var("DARRAY_SECRET_FILE");
    std::env::remove_var("DARRAY_SECRET");
}

#[test]
fn listening_beyond_loopback_needs_a_secret() {
    let s = secret(1);
    for addr in ["0.0.0.0:8786", "[::]:8786", "192.168.1.5:8786"] {
        let addr: SocketAddr = addr.parse().unwrap();
        let e = check_listen(&addr, None).unwrap_err();
        assert!(
            matches!(&e, WireError::Refused(m) if m.contains(&addr.to_string())),
            "{e}"
        );
        check_listen(&addr, Some(&s)).unwrap();
    }
    for addr in [
        "127.0.0.1:8786",
        "127.0.0.2:0",
        "[::1]:8786",
        "[::ffff:127.0.0.1]:1",
    ] {
        check_listen(&addr.parse().unwrap(), None).unwrap();
    }
}
