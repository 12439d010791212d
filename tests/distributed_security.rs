//! A cluster's ports under attack, over real sockets: wrong secrets and
//! versions, replayed and reflected handshakes, garbage, truncations and
//! oversized frames at the scheduler's and a worker's port; a thousand silent
//! connections; where a `LocalCluster` listens; and a scheduler and workers on
//! separate hosts (Linux network namespaces).

#[path = "common/cluster.rs"]
mod cluster;
mod common;

use cluster::*;
use common::assert_bits_eq;
use darray::distributed::auth::{self, Secret};
use darray::distributed::proto::{
    read_msg, write_msg, FromClient, Hello, PeerReply, PeerRequest, ToClient,
};
use darray::distributed::wire::{Limits, PROTOCOL_VERSION};
use darray::distributed::{Client, LocalCluster};
use darray::{linalg, DArray, LocalExecutor};
use serde::{Deserialize, Serialize};
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn local() -> LocalExecutor {
    LocalExecutor::with_threads(2).unwrap()
}

fn darray_cluster(n: usize) -> LocalCluster {
    LocalCluster::builder(n)
        .worker_command(env!("CARGO_BIN_EXE_darray"), ["worker"])
        .build()
        .expect("cluster starts")
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

// ---- The handshake's messages, spelled out as an attacker would ----

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
enum Port {
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
fn attack(port: Port, addr: SocketAddr, secret: &Secret) -> usize {
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

/// The scheduler's and a worker's ports refuse every attack, promptly; the
/// worker's memory stays where it was, both processes stay up, and the
/// scheduler still has the same workers and computes the same bits.
#[test]
fn handshake_attacks_are_refused_at_scheduler_and_worker_ports() {
    let c = darray_cluster(2);
    let secret = Secret::from_file(c.secret_file()).unwrap();
    let client = c.client().unwrap();
    let before = client.info().unwrap();
    let pids = worker_pids(&c);
    assert_eq!(pids.len(), 2, "worker processes {pids:?}");
    let peer = worker_peer_addr(pids[0]);
    let sched: SocketAddr = c.scheduler_addr().parse().unwrap();
    let x = DArray::<f64>::random_normal(3, &[300, 200], 0.0, 1.0, [50, 40]).unwrap();
    let m = linalg::matmul(&x.t(), &x).unwrap().sum_axis(0).unwrap();
    let want = m.compute_with(&local()).unwrap();
    assert_bits_eq(&want, &m.compute_with(&client).unwrap());
    let rss0 = rss_kib(pids[0]);

    let t = Instant::now();
    let n = attack(Port::Scheduler, sched, &secret) + attack(Port::Worker, peer, &secret);
    let rss1 = rss_kib(pids[0]);
    eprintln!(
        "{n} hostile connections in {:?}; worker VmRSS {rss0} KiB before, {rss1} KiB after",
        t.elapsed()
    );
    assert!(pids.iter().all(|&p| alive(p)), "a worker died");
    assert!(
        rss1 <= rss0 + 16 * 1024,
        "worker memory grew from {rss0} KiB to {rss1} KiB"
    );
    assert_eq!(client.info().unwrap(), before);
    assert_bits_eq(&want, &m.compute_with(&client).unwrap());
}

/// `(soft, hard)` limits on open files of this process.
fn nofile() -> (u64, u64) {
    let s = std::fs::read_to_string("/proc/self/limits").unwrap();
    let l = s.lines().find(|l| l.starts_with("Max open files")).unwrap();
    let f: Vec<&str> = l.split_whitespace().collect();
    let p = |v: &str| v.parse().unwrap_or(u64::MAX);
    (p(f[3]), p(f[4]))
}

/// A thousand connections that never say a word hold the scheduler's handshake
/// slots; a worker started behind them still registers within the handshake
/// deadline plus a second.
#[test]
fn thousand_silent_connections_do_not_keep_a_worker_out() {
    const SILENT: usize = 1000;
    // This process holds both ends of each (the scheduler runs in it): about
    // 2 x 1000 descriptors at worst, plus the rest of the test binary.
    let need = 2 * SILENT as u64 + 512;
    if nofile().0 < need {
        let _ = Command::new("prlimit")
            .arg(format!("--pid={}", std::process::id()))
            .arg(format!("--nofile={need}:{}", nofile().1.max(need)))
            .status();
    }
    let (soft, _) = nofile();
    if soft < need {
        eprintln!("SKIPPED thousand_silent_connections_do_not_keep_a_worker_out: open-file limit {soft} < {need} and cannot be raised");
        return;
    }
    let mut c = LocalCluster::builder(0)
        .worker_command(env!("CARGO_BIN_EXE_darray"), ["worker"])
        .build()
        .unwrap();
    let client = c.client().unwrap();
    let addr: SocketAddr = c.scheduler_addr().parse().unwrap();
    let silent: Vec<TcpStream> = (0..SILENT)
        .map(|_| TcpStream::connect(addr).unwrap())
        .collect();
    let t = Instant::now();
    c.add_worker().unwrap();
    let deadline = Limits::default().handshake_timeout + Duration::from_secs(1);
    client.wait_for_workers(1, deadline).unwrap();
    let took = t.elapsed();
    eprintln!(
        "{SILENT} silent connections; the worker registered after {took:?} (limit {deadline:?})"
    );
    assert!(took <= deadline);
    let x = DArray::<f64>::random_uniform(4, &[100, 100], 0.0, 1.0, [25, 25]).unwrap();
    let s = x.sum().unwrap();
    assert_bits_eq(
        &s.compute_with(&local()).unwrap(),
        &s.compute_with(&client).unwrap(),
    );
    drop(silent);
}

/// Every listening socket of a `LocalCluster`'s processes (the scheduler, in
/// this process, and the workers) is on loopback.
#[test]
fn local_cluster_listens_on_loopback_only() {
    let c = darray_cluster(2);
    let sched: SocketAddr = c.scheduler_addr().parse().unwrap();
    let workers = worker_pids(&c);
    assert_eq!(workers.len(), 2, "worker processes {workers:?}");
    let mine = listening(std::process::id());
    assert!(
        mine.contains(&sched),
        "scheduler {sched} not among {mine:?}"
    );
    let mut all = mine;
    for &w in &workers {
        let l = listening(w);
        assert!(!l.is_empty(), "worker {w} listens nowhere");
        all.extend(l);
    }
    for a in &all {
        assert!(
            a.ip().to_canonical().is_loopback(),
            "{a} is not loopback (all: {all:?})"
        );
    }
    eprintln!("listening sockets: {all:?}");
}

// ---- Separate hosts: network namespaces ----

/// The graph the multi-host test computes (also in the client process).
fn netns_graph() -> DArray<f64> {
    let x = DArray::<f64>::random_normal(31, &[400, 300], 0.0, 1.0, [100, 100]).unwrap();
    let y = (x.sin() + 1.0).std_axis(1, 0.0).unwrap();
    let p = linalg::matmul(&x.t(), &x).unwrap().sum_axis(1).unwrap();
    DArray::concatenate(&[&y, &p], 0).unwrap()
}

/// Not a test of its own: the client of the multi-host test, run inside a
/// network namespace (`-- netns-client ADDR OUT`); in an ordinary run it
/// returns at once.
#[test]
fn netns_client_process() {
    let args: Vec<String> = std::env::args().collect();
    let Some(sep) = args.iter().position(|a| a == "--") else {
        return;
    };
    let [tag, addr, out] = &args[sep + 1..] else {
        return;
    };
    if tag != "netns-client" {
        return;
    }
    let client = Client::connect(addr).expect("client connects");
    client
        .wait_for_workers(2, Duration::from_secs(60))
        .expect("two workers");
    let got = netns_graph().compute_with(&client).expect("computes");
    let bytes: Vec<u8> = got.iter().flat_map(|v| v.to_le_bytes()).collect();
    std::fs::write(out, bytes).unwrap();
    println!("netns client: {:?} from {addr}", client.info().unwrap());
}

/// Namespaces, links and processes of the multi-host test; removed on drop,
/// whatever happened.
struct Hosts {
    tag: String,
    names: Vec<String>,
    children: Vec<Child>,
    /// Each child's stderr lines, as they come.
    logs: Vec<Arc<Mutex<Vec<String>>>>,
}

impl Hosts {
    fn ns(&self, h: &str) -> String {
        format!("{}{h}", self.tag)
    }

    fn spawn(&mut self, host: &str, cmd: &[&str], env: &[(&str, &Path)]) -> usize {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.ns(host)])
            .args(cmd)
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .env_remove("DARRAY_SECRET")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            c.env(k, v);
        }
        let mut child = c.spawn().expect("ip netns exec");
        let err = child.stderr.take().expect("piped stderr");
        let log = Arc::new(Mutex::new(Vec::new()));
        let l2 = log.clone();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for l in std::io::BufReader::new(err).lines().map_while(Result::ok) {
                l2.lock().unwrap().push(l);
            }
        });
        self.children.push(child);
        self.logs.push(log);
        self.children.len() - 1
    }

    /// Waits for a line containing `needle` in child `i`'s stderr.
    fn wait_line(&self, i: usize, needle: &str, timeout: Duration) -> Result<(), String> {
        let end = Instant::now() + timeout;
        while Instant::now() < end {
            if self.logs[i]
                .lock()
                .unwrap()
                .iter()
                .any(|l| l.contains(needle))
            {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Err(format!("no {needle:?} within {timeout:?}\n{}", self.dump()))
    }

    /// Every child's stderr so far, for a failure message.
    fn dump(&self) -> String {
        self.logs
            .iter()
            .enumerate()
            .map(|(i, l)| format!("--- process {i}:\n{}", l.lock().unwrap().join("\n")))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl Drop for Hosts {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        for n in &self.names {
            let _ = Command::new("ip").args(["netns", "del", n]).status();
        }
        for h in ["a", "b", "c"] {
            // Left in this namespace only if moving it failed.
            let _ = Command::new("ip")
                .args(["link", "del", &format!("{}v{h}", self.tag)])
                .stderr(Stdio::null())
                .status();
        }
    }
}

fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("ip {}: {e}", args.join(" ")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Host `s` (the scheduler, with a bridge), hosts `a` and `b` (workers) and
/// `c` (the client), each in its own namespace, linked to `s`'s bridge by a
/// veth pair, on 192.0.2.0/24 (TEST-NET-1, never routed; nothing leaves the
/// namespaces).
fn make_hosts() -> Result<Hosts, String> {
    let tag = format!("dt{}", std::process::id());
    let mut h = Hosts {
        tag: tag.clone(),
        names: Vec::new(),
        children: Vec::new(),
        logs: Vec::new(),
    };
    for x in ["s", "a", "b", "c"] {
        let n = h.ns(x);
        ip(&["netns", "add", &n])?;
        h.names.push(n);
    }
    let s = h.ns("s");
    ip(&["-n", &s, "link", "set", "lo", "up"])?;
    ip(&["-n", &s, "link", "add", "br0", "type", "bridge"])?;
    ip(&["-n", &s, "addr", "add", "192.0.2.1/24", "dev", "br0"])?;
    ip(&["-n", &s, "link", "set", "br0", "up"])?;
    for (i, x) in ["a", "b", "c"].into_iter().enumerate() {
        let (v, p, ns) = (format!("{tag}v{x}"), format!("{tag}p{x}"), h.ns(x));
        ip(&["link", "add", &v, "type", "veth", "peer", "name", &p])?;
        ip(&["link", "set", &v, "netns", &ns])?;
        ip(&["link", "set", &p, "netns", &s])?;
        ip(&["-n", &s, "link", "set", &p, "master", "br0"])?;
        ip(&["-n", &s, "link", "set", &p, "up"])?;
        ip(&[
            "-n",
            &ns,
            "addr",
            "add",
            &format!("192.0.2.{}/24", i + 2),
            "dev",
            &v,
        ])?;
        ip(&["-n", &ns, "link", "set", &v, "up"])?;
        ip(&["-n", &ns, "link", "set", "lo", "up"])?;
    }
    Ok(h)
}

/// A scheduler and two workers on three hosts (network namespaces joined by
/// a bridge), sharing the secret file; a client on a fourth computes a graph
/// with worker-to-worker transfers and gets the local executor's bits.
/// Where namespaces cannot be made (no CAP_SYS_ADMIN, no `ip`), says so on
/// stderr and returns.
#[test]
fn scheduler_and_workers_on_separate_hosts() {
    let mut hosts = match make_hosts() {
        Ok(h) => h,
        Err(e) => {
            eprintln!("SKIPPED scheduler_and_workers_on_separate_hosts: cannot make network namespaces here: {e}");
            return;
        }
    };
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("secret");
    Secret::generate().write_file(&secret).unwrap();
    let out: PathBuf = dir.path().join("result");
    let bin = env!("CARGO_BIN_EXE_darray");
    let sched = "192.0.2.1:8786";
    let s = hosts.spawn(
        "s",
        &[
            bin,
            "scheduler",
            "--listen",
            sched,
            "--secret-file",
            secret.to_str().unwrap(),
        ],
        &[],
    );
    hosts
        .wait_line(s, "scheduler listening", Duration::from_secs(30))
        .unwrap();
    for w in ["a", "b"] {
        let i = hosts.spawn(
            w,
            &[
                bin,
                "worker",
                "--scheduler",
                sched,
                "--nthreads",
                "1",
                "--name",
                w,
            ],
            &[("DARRAY_SECRET_FILE", &secret)],
        );
        hosts
            .wait_line(i, "worker registered", Duration::from_secs(30))
            .unwrap();
    }
    let exe = std::env::current_exe().unwrap();
    let cl = hosts.spawn(
        "c",
        &[
            exe.to_str().unwrap(),
            "--exact",
            "netns_client_process",
            "--nocapture",
            "--test-threads=1",
            "--",
            "netns-client",
            sched,
            out.to_str().unwrap(),
        ],
        &[("DARRAY_SECRET_FILE", &secret)],
    );
    let start = Instant::now();
    let status = loop {
        if let Some(st) = hosts.children[cl].try_wait().unwrap() {
            break st;
        }
        assert!(
            start.elapsed() < Duration::from_secs(180),
            "client did not finish"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut said = String::new();
    let _ = hosts.children[cl]
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut said);
    assert!(status.success(), "client failed: {said}\n{}", hosts.dump());
    assert!(said.contains("netns client: (2, 2)"), "{said}");
    let bytes = std::fs::read(&out).unwrap();
    let got: Vec<f64> = bytes
        .chunks_exact(8)
        .map(|b| f64::from_le_bytes(b.try_into().unwrap()))
        .collect();
    let want = netns_graph().compute_with(&local()).unwrap();
    let got = ndarray::ArrayD::from_shape_vec(want.shape(), got).unwrap();
    assert_bits_eq(&want, &got);
    eprintln!(
        "multi-host: {} values over 3 namespaces in {:?}",
        want.len(),
        start.elapsed()
    );
}
