//! Listening and connecting: the listen-address policy, the per-listener caps, the
//! accept loop that admits only authenticated streams, and the authenticated connect,
//! each over plain TCP or TLS.

use super::{acceptor, initiator, reject, Reject, Secret};
use crate::distributed::tls::{self, Stream, TlsConfig, TLS_HANDSHAKE_RECORD};
use crate::distributed::wire::{Limits, WireError};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Pause after an accept error that is not about one connection (out of file
/// descriptors, say), so the loop does not spin while the condition lasts.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Refuses (with [`WireError::Refused`]) to listen on an address other hosts can
/// reach when there is no secret; loopback addresses are allowed without one.
///
/// # Errors
/// [`WireError::Refused`] for a non-loopback address (`0.0.0.0`, `::`, a LAN
/// address) with `secret == None`.
pub fn check_listen(addr: &SocketAddr, secret: Option<&Secret>) -> Result<(), WireError> {
    // to_canonical: ::ffff:127.0.0.1 is loopback too.
    if secret.is_some() || addr.ip().to_canonical().is_loopback() {
        Ok(())
    } else {
        Err(WireError::Refused(format!(
            "refusing to listen on {addr} without a secret: anyone who can reach it could \
             run tasks; set DARRAY_SECRET_FILE (or DARRAY_SECRET), or listen on 127.0.0.1"
        )))
    }
}

/// Caps on connections and pending handshakes for a listener.
#[derive(Debug)]
pub struct Gate {
    connections: Arc<Semaphore>,
    pending: Arc<Semaphore>,
    max_connections: usize,
    max_pending: usize,
}

impl Gate {
    /// A gate admitting at most [`Limits::max_connections`] connections, of which at
    /// most [`Limits::max_pending_handshakes`] are still in the handshake.
    #[must_use]
    pub fn new(limits: &Limits) -> Arc<Gate> {
        let max_connections = limits.max_connections.min(Semaphore::MAX_PERMITS);
        let max_pending = limits.max_pending_handshakes.min(Semaphore::MAX_PERMITS);
        Arc::new(Gate {
            connections: Arc::new(Semaphore::new(max_connections)),
            pending: Arc::new(Semaphore::new(max_pending)),
            max_connections,
            max_pending,
        })
    }

    /// A permit for a new connection, or `None` if at the connection cap or the
    /// pending-handshake cap (the caller drops the stream at once).
    #[must_use]
    pub fn try_admit(self: &Arc<Self>) -> Option<Admission> {
        let pending = Arc::clone(&self.pending).try_acquire_owned().ok()?;
        let connection = Arc::clone(&self.connections).try_acquire_owned().ok()?;
        Some(Admission {
            _connection: connection,
            pending: Some(pending),
        })
    }

    /// Connections admitted and not yet dropped.
    #[must_use]
    pub fn connections(&self) -> usize {
        self.max_connections - self.connections.available_permits()
    }

    /// Admitted connections still in the handshake.
    #[must_use]
    pub fn pending_handshakes(&self) -> usize {
        self.max_pending - self.pending.available_permits()
    }
}

/// One admitted connection's place under a [`Gate`]: holds the connection slot until
/// dropped, and the pending-handshake slot until [`Admission::handshake_done`] or drop.
#[derive(Debug)]
pub struct Admission {
    _connection: OwnedSemaphorePermit,
    pending: Option<OwnedSemaphorePermit>,
}

impl Admission {
    /// Releases the pending-handshake slot; the connection slot stays held.
    pub fn handshake_done(&mut self) {
        self.pending = None;
    }
}

/// Accepts on `listener` forever: each admitted connection runs
/// [`handshake_acceptor`](super::handshake_acceptor) under
/// [`Limits::handshake_timeout`], and only authenticated streams are passed to
/// `on_conn`, together with their [`Admission`] (drop it when the connection ends).
/// Failures are logged with `tracing` (peer address and reason, never the secret)
/// and the stream dropped. Never panics or returns because of a peer; accept errors
/// are logged and retried. Plain TCP only: [`serve_with`] adds TLS.
pub async fn serve<F, Fut>(listener: TcpListener, secret: Arc<Secret>, limits: Limits, on_conn: F)
where
    F: Fn(TcpStream, SocketAddr, Admission) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    serve_with(
        listener,
        secret,
        None,
        limits,
        move |stream, peer, admission| {
            let plain = stream
                .into_plain()
                .expect("a listener without TLS config admits only plain streams");
            on_conn(plain, peer, admission)
        },
    )
    .await;
}

/// As [`serve`], over TLS when `tls` is given: the TLS handshake (a client
/// certificate signed by the cluster CA required) and the HMAC handshake, bound to
/// the TLS session, both within [`Limits::handshake_timeout`]. A peer that speaks
/// plaintext to a TLS listener, or TLS to a plaintext one, is told so (a `Reject`
/// frame it can read, or for a TLS client a record its TLS library refuses as not
/// TLS) and dropped, with a log line saying which.
pub async fn serve_with<F, Fut>(
    listener: TcpListener,
    secret: Arc<Secret>,
    tls: Option<Arc<TlsConfig>>,
    limits: Limits,
    on_conn: F,
) where
    F: Fn(Stream, SocketAddr, Admission) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let gate = Gate::new(&limits);
    let limits = Arc::new(limits);
    let on_conn = Arc::new(on_conn);
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                use std::io::ErrorKind::{ConnectionAborted, ConnectionReset};
                tracing::warn!(error = %e, "accept failed");
                if !matches!(e.kind(), ConnectionAborted | ConnectionReset) {
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                }
                continue;
            }
        };
        let Some(mut admission) = gate.try_admit() else {
            tracing::warn!(
                %peer,
                connections = gate.connections(),
                pending_handshakes = gate.pending_handshakes(),
                "connection dropped: listener at its connection or handshake cap"
            );
            continue;
        };
        let (secret, tls, limits, on_conn) = (
            Arc::clone(&secret),
            tls.clone(),
            Arc::clone(&limits),
            Arc::clone(&on_conn),
        );
        tokio::spawn(async move {
            if let Err(e) = stream.set_nodelay(true) {
                tracing::debug!(%peer, error = %e, "set_nodelay failed");
            }
            let accepted = tokio::time::timeout(
                limits.handshake_timeout,
                accept(stream, &secret, tls.as_deref(), &limits),
            )
            .await
            .unwrap_or(Err(WireError::Timeout));
            match accepted {
                Ok(stream) => {
                    admission.handshake_done();
                    tracing::debug!(%peer, tls = stream.is_tls(), "peer authenticated");
                    on_conn(stream, peer, admission).await;
                }
                // A port scan or health check: connect, then close.
                Err(WireError::Closed) => {
                    tracing::debug!(%peer, "peer closed before the handshake");
                }
                Err(e) => tracing::warn!(%peer, error = %e, "handshake failed"),
            }
        });
    }
}

/// One accepted connection up to authentication: TLS if configured, then the HMAC
/// handshake. Tells TLS from darray by the first byte, so a peer with TLS on one
/// side only learns why it is refused.
async fn accept(
    stream: TcpStream,
    secret: &Secret,
    tls: Option<&TlsConfig>,
    limits: &Limits,
) -> Result<Stream, WireError> {
    let mut first = [0u8; 1];
    if stream.peek(&mut first).await? == 0 {
        return Err(WireError::Closed);
    }
    let speaks_tls = first[0] == TLS_HANDSHAKE_RECORD;
    let mut stream = match (tls, speaks_tls) {
        (Some(tls), true) => tls::accept(stream, tls).await?,
        (None, false) => Stream::Plain(stream),
        (Some(_), false) => {
            refuse(stream, Reject::TlsRequired).await;
            return Err(WireError::Tls(
                "a plaintext peer on this TLS listener: TLS is configured on this side only".into(),
            ));
        }
        (None, true) => {
            refuse(stream, Reject::TlsUnexpected).await;
            return Err(WireError::Tls(
                "a TLS peer on this plaintext listener: TLS is configured on its side only".into(),
            ));
        }
    };
    let binding = stream.binding()?;
    acceptor(&mut stream, secret, binding.as_ref(), limits).await?;
    stream.authenticated();
    Ok(stream)
}

/// Sends `why` and closes our direction, then discards what the peer sent until it
/// closes (or the caller's deadline passes): closing a socket with unread input
/// resets the connection, and a reset can destroy the reply before the peer reads
/// it. Reads into a fixed buffer, so nothing grows with the peer's bytes.
async fn refuse(mut stream: TcpStream, why: Reject) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    reject(&mut stream, why).await;
    let _ = stream.shutdown().await;
    let mut sink = [0u8; 512];
    while matches!(stream.read(&mut sink).await, Ok(n) if n > 0) {}
}

/// Connects to `addr` and authenticates as initiator, all within
/// [`Limits::handshake_timeout`]. The stream has `TCP_NODELAY` set. Plain TCP only:
/// [`connect_with`] adds TLS.
///
/// # Errors
/// [`WireError::Timeout`] past the deadline, [`WireError::Io`] if the connection
/// fails, and the errors of [`handshake_initiator`](super::handshake_initiator).
pub async fn connect(
    addr: SocketAddr,
    secret: &Secret,
    limits: &Limits,
) -> Result<TcpStream, WireError> {
    let stream = connect_with(addr, secret, None, limits).await?;
    Ok(stream
        .into_plain()
        .expect("a connection without TLS config is plain"))
}

/// As [`connect`], over TLS when `tls` is given: the TLS handshake (the server's
/// certificate checked against the cluster CA and the address dialled, ours
/// presented), then the HMAC handshake bound to the TLS session, all within
/// [`Limits::handshake_timeout`].
///
/// # Errors
/// As [`connect`], and [`WireError::Tls`] if the TLS handshake fails or TLS is
/// configured on one side only (the message says which).
pub async fn connect_with(
    addr: SocketAddr,
    secret: &Secret,
    tls: Option<&TlsConfig>,
    limits: &Limits,
) -> Result<Stream, WireError> {
    let attempt = async {
        let tcp = TcpStream::connect(addr).await?;
        tcp.set_nodelay(true)?;
        let mut stream = match tls {
            Some(tls) => tls::connect(tcp, addr, tls).await?,
            None => Stream::Plain(tcp),
        };
        let binding = stream.binding()?;
        initiator(&mut stream, secret, binding.as_ref(), limits).await?;
        Ok(stream)
    };
    tokio::time::timeout(limits.handshake_timeout, attempt)
        .await
        .map_err(|_| WireError::Timeout)?
}
