//! Attacks on a cluster's ports over real sockets: the handshake's messages
//! spelled out as an attacker would, a recording relay for replays, and the
//! list of attacks one port must refuse.
#![allow(dead_code)]

use darray::distributed::auth::{self, Secret};
use darray::distributed::proto::{
    read_msg, write_msg, FromClient, Hello, PeerReply, PeerRequest, ToClient,
};
use darray::distributed::wire::{Limits, PROTOCOL_VERSION};
use serde::{Deserialize, Serialize};
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A runtime for the async parts (the `Client` has its own).
pub fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// The handshake messages (`darray::distributed::auth`), field for field, so
/// that postcard encodes them as the real ones.
#[derive(Debug, Serialize, Deserialize)]
enum Hs {
    Hello {
        magic: [u8; 8],
        version: u32,
        nonce: [u8; 32],
    },
    Challenge {
        nonce: [u8; 32],
        tag: [u8; 32],
    },
    Response {
        tag: [u8; 32],
    },
    Ok,
    Reject(Reject),
}

#[derive(Debug, Serialize, Deserialize)]
enum Reject {
    Version { supported: u32 },
    Auth,
    Protocol,
}

const MAGIC: [u8; 8] = *b"darray\0\x01";

/// A control frame: kind 0, little-endian `u64` length, payload.
fn frame(payload: &[u8]) -> Vec<u8> {
    let mut f = vec![0u8];
    f.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    f.extend_from_slice(payload);
    f
}

fn hs_frame(m: &Hs) -> Vec<u8> {
    frame(&postcard::to_stdvec(m).unwrap())
}

/// How long a refusal may take: well under the 5 s handshake deadline, so a
/// close here is a refusal, not a timeout.
const PROMPT: Duration = Duration::from_secs(3);

/// Reads the server's frames until it closes the connection (end of stream or
/// reset); panics if it is still open after `within`. Returns the handshake
/// messages that came and whether anything else (not a handshake message)
/// came.
fn until_closed(s: &mut TcpStream, within: Duration) -> (Vec<Hs>, bool) {
    s.set_read_timeout(Some(within)).unwrap();
    let start = Instant::now();
    let mut buf = Vec::new();
    let mut tmp = [0u8; 4096];
    loop {
        match s.read(&mut tmp) {
            Ok(0) => break,
            Ok(n) => buf.extend_from_slice(&tmp[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                panic!("connection still open after {:?}", start.elapsed())
            }
            Err(_) => break, // reset
        }
        assert!(start.elapsed() < within, "connection still open");
    }
    let (mut msgs, mut other) = (Vec::new(), false);
    let mut rest = &buf[..];
    while rest.len() >= 9 {
        let len = u64::from_le_bytes(rest[1..9].try_into().unwrap()) as usize;
        if rest[0] != 0 || rest.len() < 9 + len {
            other = true;
            break;
        }
        match postcard::from_bytes::<Hs>(&rest[9..9 + len]) {
            Ok(m) => msgs.push(m),
            Err(_) => other = true,
        }
        rest = &rest[9 + len..];
    }
    (msgs, other || !rest.is_empty())
}

fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_nodelay(true).unwrap();
    s
}

/// Reads one handshake frame from the server.
fn read_hs(s: &mut TcpStream) -> Hs {
    s.set_read_timeout(Some(PROMPT)).unwrap();
    let mut hdr = [0u8; 9];
    s.read_exact(&mut hdr).unwrap();
    assert_eq!(hdr[0], 0, "a control frame");
    let len = u64::from_le_bytes(hdr[1..].try_into().unwrap()) as usize;
    assert!(len <= 4096);
    let mut p = vec![0u8; len];
    s.read_exact(&mut p).unwrap();
    postcard::from_bytes(&p).unwrap()
}

/// A TCP relay from a local port to `upstream` that records what the
/// connecting side sends (one connection).
fn recording_proxy(upstream: SocketAddr) -> (SocketAddr, Arc<Mutex<Vec<u8>>>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let rec = Arc::new(Mutex::new(Vec::new()));
    let r2 = rec.clone();
    std::thread::spawn(move || {
        let (mut down, _) = l.accept().unwrap();
        let mut up = TcpStream::connect(upstream).unwrap();
        let (mut down2, mut up2) = (down.try_clone().unwrap(), up.try_clone().unwrap());
        let back = std::thread::spawn(move || {
            let _ = std::io::copy(&mut up2, &mut down2);
            let _ = down2.shutdown(Shutdown::Write);
        });
        let mut buf = [0u8; 4096];
        loop {
            match down.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    r2.lock().unwrap().extend_from_slice(&buf[..n]);
                    if up.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            }
        }
        let _ = up.shutdown(Shutdown::Write);
        let _ = back.join();
    });
    (addr, rec)
}

/// Which port is attacked, and what an honest peer says after the handshake.
#[derive(Clone, Copy, PartialEq)]
pub enum Port {
    Scheduler,
    Worker,
}

/// An honest session through a recording proxy: the handshake with the right
/// secret, then one request answered (`Info` at the scheduler, a `Fetch` at a
/// worker). Returns every byte the honest side sent.
fn record_honest_session(port: Port, addr: SocketAddr, secret: &Secret) -> Vec<u8> {
    let (proxy, rec) = recording_proxy(addr);
    let limits = Limits::default();
    rt().block_on(async {
        let mut s = auth::connect(proxy, secret, &limits).await.unwrap();
        match port {
            Port::Scheduler => {
                write_msg(&mut s, &Hello::Client, None, &limits)
                    .await
                    .unwrap();
                write_msg(&mut s, &FromClient::Info, None, &limits)
                    .await
                    .unwrap();
                let reply: ToClient = read_msg(&mut s, &limits).await.unwrap();
                assert!(matches!(reply, ToClient::Info { .. }));
            }
            Port::Worker => {
                let req = PeerRequest::Fetch { job: 0, task: 0 };
                write_msg(&mut s, &req, None, &limits).await.unwrap();
                let reply: PeerReply = read_msg(&mut s, &limits).await.unwrap();
                assert!(!reply.present);
            }
        }
    });
    // The proxy has relayed everything once the reply came back.
    let bytes = rec.lock().unwrap().clone();
    bytes
}

/// Length of the first `n` frames of `bytes`.
fn frames_len(bytes: &[u8], n: usize) -> usize {
    let mut at = 0;
    for _ in 0..n {
        let len = u64::from_le_bytes(bytes[at + 1..at + 9].try_into().unwrap()) as usize;
        at += 9 + len;
    }
    at
}

/// Splitmix64: reproducible garbage.
fn garbage(seed: u64, n: usize) -> Vec<u8> {
    let mut s = seed;
    (0..n)
        .map(|_| {
            s = s.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = s;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            (z ^ (z >> 31)) as u8
        })
        .collect()
}

/// Every attack on one port; each must end in a prompt close without the
/// attacker getting past the handshake. Returns the number of connections.
pub fn attack(port: Port, addr: SocketAddr, secret: &Secret) -> usize {
    let mut n = 0;
    let limits = Limits::default();
    let what = match port {
        Port::Scheduler => "scheduler",
        Port::Worker => "worker",
    };

    // A wrong secret is refused, both ways round.
    let wrong = Secret::generate();
    let e = rt()
        .block_on(auth::connect(addr, &wrong, &limits))
        .unwrap_err();
    assert!(e.to_string().contains("authentication"), "{what}: {e}");
    n += 1;

    // A wrong protocol version, and a foreign magic.
    for (magic, version, want) in [
        (MAGIC, PROTOCOL_VERSION + 1, "version"),
        (*b"GET / HT", PROTOCOL_VERSION, "protocol"),
    ] {
        let mut s = connect(addr);
        let hello = Hs::Hello {
            magic,
            version,
            nonce: [7; 32],
        };
        s.write_all(&hs_frame(&hello)).unwrap();
        let (msgs, other) = until_closed(&mut s, PROMPT);
        assert!(
            !other,
            "{what}: {want}: a reply that is not a handshake message"
        );
        let ok = match (&msgs[..], want) {
            ([Hs::Reject(Reject::Version { supported })], "version") => {
                *supported == PROTOCOL_VERSION
            }
            ([Hs::Reject(Reject::Protocol)], "protocol") => true,
            _ => false,
        };
        assert!(ok, "{what}: {want}: got {msgs:?}");
        n += 1;
    }

    // A replayed session: the recorded bytes of an honest peer (handshake and
    // request) on a new connection. The fresh nonce makes the old proof wrong.
    let session = record_honest_session(port, addr, secret);
    let handshake = frames_len(&session, 2);
    let mut s = connect(addr);
    s.write_all(&session).unwrap();
    let (msgs, other) = until_closed(&mut s, PROMPT);
    assert!(!other, "{what}: replay got past the handshake");
    assert!(
        matches!(
            &msgs[..],
            [Hs::Challenge { .. }] | [Hs::Challenge { .. }, Hs::Reject(Reject::Auth)]
        ),
        "{what}: replay: {msgs:?}"
    );
    n += 1;

    // A reflected challenge: the acceptor's own proof sent back as ours, and
    // its nonce offered back as our hello's.
    let mut s = connect(addr);
    s.write_all(&hs_frame(&Hs::Hello {
        magic: MAGIC,
        version: PROTOCOL_VERSION,
        nonce: [1; 32],
    }))
    .unwrap();
    let Hs::Challenge { nonce, tag } = read_hs(&mut s) else {
        panic!("{what}: no challenge")
    };
    s.write_all(&hs_frame(&Hs::Response { tag })).unwrap();
    let (msgs, other) = until_closed(&mut s, PROMPT);
    assert!(
        !other && matches!(&msgs[..], [Hs::Reject(Reject::Auth)]),
        "{what}: reflected tag: {msgs:?}"
    );
    let mut s = connect(addr);
    s.write_all(&hs_frame(&Hs::Hello {
        magic: MAGIC,
        version: PROTOCOL_VERSION,
        nonce,
    }))
    .unwrap();
    let Hs::Challenge { tag: tag2, .. } = read_hs(&mut s) else {
        panic!("{what}: no challenge")
    };
    for t in [tag, tag2] {
        s.write_all(&hs_frame(&Hs::Response { tag: t })).unwrap();
    }
    let (msgs, other) = until_closed(&mut s, PROMPT);
    assert!(
        !other && matches!(&msgs[..], [Hs::Reject(Reject::Auth)]),
        "{what}: reflected nonce: {msgs:?}"
    );
    n += 2;

    // The honest handshake cut at every byte offset, then the sender's half closed.
    for cut in 0..handshake {
        let mut s = connect(addr);
        s.write_all(&session[..cut]).unwrap();
        s.shutdown(Shutdown::Write).unwrap();
        let (msgs, other) = until_closed(&mut s, PROMPT);
        assert!(!other, "{what}: cut at {cut}: past the handshake");
        assert!(
            msgs.iter().all(|m| matches!(m, Hs::Challenge { .. })),
            "{what}: cut at {cut}: {msgs:?}"
        );
        n += 1;
    }

    // Random bytes, of random lengths.
    for seed in 0..64u64 {
        let len = 1 + (garbage(seed ^ 0xabc, 2)[0] as usize) * 8;
        let mut s = connect(addr);
        let _ = s.write_all(&garbage(seed, len));
        let _ = s.shutdown(Shutdown::Write);
        let (_, other) = until_closed(&mut s, PROMPT);
        assert!(!other, "{what}: garbage {seed}: past the handshake");
        n += 1;
    }

    // Headers announcing more than a handshake frame may hold, a chunk frame
    // before authentication, an unknown kind: refused at the header, with the
    // connection left open by the attacker (no end of stream to help).
    for hdr in [
        [&[0u8][..], &4097u64.to_le_bytes()].concat(),
        [&[0u8][..], &u64::MAX.to_le_bytes()].concat(),
        [&[1u8][..], &16u64.to_le_bytes()].concat(),
        [&[9u8][..], &16u64.to_le_bytes()].concat(),
    ] {
        let mut s = connect(addr);
        s.write_all(&hdr).unwrap();
        let (msgs, other) = until_closed(&mut s, PROMPT);
        assert!(
            !other && msgs.is_empty(),
            "{what}: header {hdr:?}: {msgs:?}"
        );
        n += 1;
    }

    // After authentication: a control frame announced past the 1 MiB limit
    // closes the connection without allocating it.
    rt().block_on(async {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut s = auth::connect(addr, secret, &limits).await.unwrap();
        if port == Port::Scheduler {
            write_msg(&mut s, &Hello::Client, None, &limits)
                .await
                .unwrap();
        }
        let mut hdr = vec![0u8];
        hdr.extend_from_slice(&(1u64 << 40).to_le_bytes());
        s.write_all(&hdr).await.unwrap();
        let mut b = [0u8; 64];
        let got = tokio::time::timeout(PROMPT, s.read(&mut b)).await;
        assert!(
            matches!(got, Ok(Ok(0) | Err(_))),
            "{what}: oversized frame after auth: {got:?}"
        );
    });
    n += 1;
    n
}
