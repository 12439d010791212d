//! Unit tests for the handshake: honest peers, wrong secrets and versions, replay,
//! reflection, silence and garbage.

use super::*;
use proptest::prelude::*;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{duplex, AsyncWriteExt, DuplexStream, ReadBuf};

fn secret(b: u8) -> Secret {
    Secret::from_bytes(&[b; 32]).unwrap()
}

fn quick() -> Limits {
    Limits {
        handshake_timeout: Duration::from_millis(200),
        ..Limits::default()
    }
}

/// A stream that records every byte written to it.
struct Tap {
    inner: DuplexStream,
    written: Arc<Mutex<Vec<u8>>>,
}

impl AsyncRead for Tap {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for Tap {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = r {
            self.written.lock().unwrap().extend_from_slice(&buf[..n]);
        }
        r
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

async fn pair(
    si: &Secret,
    sa: &Secret,
    limits: &Limits,
) -> (Result<(), WireError>, Result<(), WireError>) {
    let (mut a, mut b) = duplex(8192);
    let (ri, ra) = tokio::join!(
        async {
            let r = handshake_initiator(&mut a, si, limits).await;
            drop(a);
            r
        },
        async {
            let r = handshake_acceptor(&mut b, sa, limits).await;
            drop(b);
            r
        },
    );
    (ri, ra)
}

#[tokio::test]
async fn same_secret_authenticates_both_sides() {
    let s = secret(1);
    let (ri, ra) = pair(&s, &s, &Limits::default()).await;
    ri.unwrap();
    ra.unwrap();
}

#[tokio::test]
async fn different_secrets_fail_on_both_sides() {
    let (ri, ra) = pair(&secret(1), &secret(2), &quick()).await;
    assert!(matches!(ri, Err(WireError::Auth(_))), "{ri:?}");
    assert!(matches!(ra, Err(WireError::Auth(_))), "{ra:?}");
}

#[tokio::test]
async fn wrong_version_is_refused() {
    let s = secret(1);
    let limits = quick();
    let (mut a, mut b) = duplex(8192);
    let peer = async {
        let hello = Hs::Hello {
            magic: MAGIC,
            version: PROTOCOL_VERSION + 1,
            nonce: [9; 32],
        };
        send(&mut a, &hello).await.unwrap();
        recv(&mut a, &limits).await
    };
    let (got, ra) = tokio::join!(peer, handshake_acceptor(&mut b, &s, &limits));
    assert!(matches!(ra, Err(WireError::Refused(_))), "{ra:?}");
    assert!(matches!(
        got,
        Ok(Hs::Reject(Reject::Version {
            supported: PROTOCOL_VERSION
        }))
    ));

    // And an initiator told of another version says so.
    let (mut a, mut b) = duplex(8192);
    let acceptor = async {
        recv(&mut b, &limits).await.unwrap();
        send(&mut b, &Hs::Reject(Reject::Version { supported: 7 }))
            .await
            .unwrap();
    };
    let (ri, ()) = tokio::join!(handshake_initiator(&mut a, &s, &limits), acceptor);
    assert!(
        matches!(&ri, Err(WireError::Refused(m)) if m.contains('7')),
        "{ri:?}"
    );

    // And a hello without the magic is refused too.
    let (mut a, mut b) = duplex(8192);
    let peer = async {
        let hello = Hs::Hello {
            magic: *b"notdarra",
            version: PROTOCOL_VERSION,
            nonce: [9; 32],
        };
        send(&mut a, &hello).await.unwrap();
    };
    let ((), ra) = tokio::join!(peer, handshake_acceptor(&mut b, &s, &limits));
    assert!(matches!(ra, Err(WireError::Auth(_))), "{ra:?}");
}

#[tokio::test]
async fn replayed_transcript_is_refused() {
    let s = secret(3);
    let limits = quick();
    // Record what an honest initiator sends in one session.
    let (a, mut b) = duplex(8192);
    let written = Arc::new(Mutex::new(Vec::new()));
    let mut tap = Tap {
        inner: a,
        written: Arc::clone(&written),
    };
    let (ri, ra) = tokio::join!(
        handshake_initiator(&mut tap, &s, &limits),
        handshake_acceptor(&mut b, &s, &limits)
    );
    ri.unwrap();
    ra.unwrap();
    let transcript = written.lock().unwrap().clone();

    // Play it to a fresh acceptor: its new nonce makes the old response wrong.
    let (mut a, mut b) = duplex(8192);
    let replay = async {
        a.write_all(&transcript).await.unwrap();
        // Keep the stream open until the acceptor has decided.
        let mut sink = Vec::new();
        let _ = tokio::io::AsyncReadExt::read_to_end(&mut a, &mut sink).await;
    };
    let (ra, ()) = tokio::join!(
        async {
            let r = handshake_acceptor(&mut b, &s, &limits).await;
            drop(b);
            r
        },
        replay
    );
    assert!(matches!(ra, Err(WireError::Auth(_))), "{ra:?}");
}

#[tokio::test]
async fn reflected_challenge_is_refused() {
    let s = secret(4);
    let limits = quick();
    // An attacker without the secret sends the acceptor's own tag back.
    let (mut a, mut b) = duplex(8192);
    let attacker = async {
        let hello = Hs::Hello {
            magic: MAGIC,
            version: PROTOCOL_VERSION,
            nonce: [5; 32],
        };
        send(&mut a, &hello).await.unwrap();
        let Hs::Challenge { tag, .. } = recv(&mut a, &limits).await.unwrap() else {
            panic!("expected a challenge");
        };
        send(&mut a, &Hs::Response { tag }).await.unwrap();
        recv(&mut a, &limits).await
    };
    let (got, ra) = tokio::join!(attacker, handshake_acceptor(&mut b, &s, &limits));
    assert!(matches!(ra, Err(WireError::Auth(_))), "{ra:?}");
    assert!(matches!(got, Ok(Hs::Reject(Reject::Auth))), "{got:?}");

    // A mirror answering the initiator with its own nonce is refused even with a
    // tag that verifies.
    let (mut a, mut b) = duplex(8192);
    let mirror = async {
        let Hs::Hello { nonce, .. } = recv(&mut b, &limits).await.unwrap() else {
            panic!("expected a hello");
        };
        let tag = mac(&s, ACCEPTOR_LABEL, None, &nonce, &nonce);
        send(&mut b, &Hs::Challenge { nonce, tag }).await.unwrap();
    };
    let (ri, ()) = tokio::join!(handshake_initiator(&mut a, &s, &limits), mirror);
    assert!(matches!(ri, Err(WireError::Auth(_))), "{ri:?}");
}

#[tokio::test]
async fn initiator_refuses_an_acceptor_that_cannot_prove_the_secret() {
    let s = secret(6);
    let limits = quick();
    let (mut a, mut b) = duplex(8192);
    let fake = async {
        recv(&mut b, &limits).await.unwrap();
        let challenge = Hs::Challenge {
            nonce: [1; 32],
            tag: [2; 32],
        };
        send(&mut b, &challenge).await.unwrap();
        recv(&mut b, &limits).await
    };
    let (ri, got) = tokio::join!(handshake_initiator(&mut a, &s, &limits), fake);
    assert!(matches!(ri, Err(WireError::Auth(_))), "{ri:?}");
    assert!(matches!(got, Ok(Hs::Reject(Reject::Auth))), "{got:?}");
}

#[tokio::test]
async fn silence_times_out() {
    let s = secret(7);
    let limits = quick();
    let (_a, mut b) = duplex(8192);
    let start = std::time::Instant::now();
    let ra = handshake_acceptor(&mut b, &s, &limits).await;
    assert!(matches!(ra, Err(WireError::Timeout)), "{ra:?}");
    assert!(start.elapsed() < Duration::from_secs(2));
    let (mut a, _b) = duplex(8192);
    let ri = handshake_initiator(&mut a, &s, &limits).await;
    assert!(matches!(ri, Err(WireError::Timeout)), "{ri:?}");
    // A peer that sends half a frame and stalls times out too.
    let (mut a, mut b) = duplex(8192);
    a.write_all(&[0, 100, 0, 0, 0, 0, 0, 0, 0, 1, 2])
        .await
        .unwrap();
    let ra = handshake_acceptor(&mut b, &s, &limits).await;
    assert!(matches!(ra, Err(WireError::Timeout)), "{ra:?}");
}

/// Runs the acceptor on `bytes` followed by end of stream.
async fn acceptor_on(bytes: &[u8]) -> Result<(), WireError> {
    let s = secret(8);
    let (mut a, mut b) = duplex(1 << 16);
    a.write_all(bytes).await.unwrap();
    a.shutdown().await.unwrap();
    let r = handshake_acceptor(&mut b, &s, &quick()).await;
    drop(a);
    r
}

#[tokio::test]
async fn garbage_oversized_and_truncated_hellos_fail() {
    let e = acceptor_on(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert!(matches!(e, Err(WireError::BadKind(b'G'))), "{e:?}");
    let mut big = vec![0u8];
    big.extend_from_slice(&4097u64.to_le_bytes());
    let e = acceptor_on(&big).await;
    assert!(matches!(e, Err(WireError::TooLarge { .. })), "{e:?}");
    let mut chunk = vec![1u8];
    chunk.extend_from_slice(&4u64.to_le_bytes());
    let e = acceptor_on(&chunk).await;
    assert!(matches!(e, Err(WireError::ChunkBeforeAuth)), "{e:?}");
    let mut truncated = vec![0u8];
    truncated.extend_from_slice(&50u64.to_le_bytes());
    truncated.extend_from_slice(&[0; 10]);
    let e = acceptor_on(&truncated).await;
    assert!(matches!(e, Err(WireError::Io(_))), "{e:?}");
    let mut junk = vec![0u8];
    junk.extend_from_slice(&5u64.to_le_bytes());
    junk.extend_from_slice(&[200; 5]);
    let e = acceptor_on(&junk).await;
    assert!(matches!(e, Err(WireError::Decode(_))), "{e:?}");
    assert!(matches!(acceptor_on(b"").await, Err(WireError::Closed)));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn acceptor_never_accepts_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
        prop_assert!(rt.block_on(acceptor_on(&bytes)).is_err());
    }

    #[test]
    fn acceptor_never_accepts_a_well_formed_hello_then_junk(nonce: [u8; 32], tag: [u8; 32]) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
        let mut bytes = Vec::new();
        let hello = encode(&Hs::Hello { magic: MAGIC, version: PROTOCOL_VERSION, nonce }).unwrap();
        let response = encode(&Hs::Response { tag }).unwrap();
        for m in [hello, response] {
            bytes.push(0);
            bytes.extend_from_slice(&(m.len() as u64).to_le_bytes());
            bytes.extend_from_slice(&m);
        }
        prop_assert!(matches!(rt.block_on(acceptor_on(&bytes)), Err(WireError::Auth(_))));
    }
}

/// The handshake over a pipe with a channel-binding value on each side.
async fn bound_pair(
    s: &Secret,
    bi: Option<&Binding>,
    ba: Option<&Binding>,
) -> (Result<(), WireError>, Result<(), WireError>) {
    let limits = quick();
    let (mut a, mut b) = duplex(8192);
    tokio::join!(
        async {
            let r = initiator(&mut a, s, bi, &limits).await;
            drop(a);
            r
        },
        async {
            let r = acceptor(&mut b, s, ba, &limits).await;
            drop(b);
            r
        },
    )
}

#[tokio::test]
async fn equal_bindings_authenticate_and_different_ones_do_not() {
    let s = secret(8);
    let (x, y) = ([1u8; 32], [2u8; 32]);
    let (ri, ra) = bound_pair(&s, Some(&x), Some(&x)).await;
    ri.unwrap();
    ra.unwrap();
    // Two TLS sessions (a relay in the middle): the acceptor's proof fails at the
    // initiator, which rejects, so neither side authenticates.
    let (ri, ra) = bound_pair(&s, Some(&x), Some(&y)).await;
    assert!(
        matches!(&ri, Err(WireError::Auth(m)) if m.contains("proof does not match")),
        "{ri:?}"
    );
    assert!(ra.is_err(), "{ra:?}");
    // TLS on one side only is no match either.
    for (bi, ba) in [(Some(&x), None), (None, Some(&x))] {
        let (ri, ra) = bound_pair(&s, bi, ba).await;
        assert!(ri.is_err() && ra.is_err(), "{ri:?} {ra:?}");
    }
}

#[tokio::test]
async fn a_binding_changes_both_tags() {
    let s = secret(9);
    let (ni, na) = ([3u8; 32], [4u8; 32]);
    for label in [ACCEPTOR_LABEL, INITIATOR_LABEL] {
        let plain = mac(&s, label, None, &ni, &na);
        let bound = mac(&s, label, Some(&[0u8; 32]), &ni, &na);
        assert_ne!(plain, bound);
        assert!(verify(&s, label, Some(&[0u8; 32]), &ni, &na, &bound));
        assert!(!verify(&s, label, Some(&[1u8; 32]), &ni, &na, &bound));
    }
}

/// Generated secrets read back whole from their files: 2000 of them, where
/// raw random bytes ended in a newline (which `from_file` drops) once in 256,
/// so that a cluster's workers, reading the file, failed the handshake with a
/// scheduler holding the secret in memory. A secret ending in a newline is
/// refused at writing, not truncated at reading.
#[test]
fn generated_secrets_read_back_from_their_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("secret");
    for _ in 0..2000 {
        let s = Secret::generate();
        assert_eq!(s.bytes().len(), 64);
        s.write_file(&path).unwrap();
        assert_eq!(Secret::from_file(&path).unwrap().bytes(), s.bytes());
    }
    let nl = Secret::from_bytes(b"0123456789abcdef\n").unwrap();
    assert!(matches!(nl.write_file(&path), Err(WireError::Refused(_))));
}
