//! Listening and connecting: the listen-address policy, the per-listener caps, the
//! accept loop that admits only authenticated streams, and the authenticated connect.

use super::{handshake_acceptor, handshake_initiator, Secret};
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
/// [`handshake_acceptor`] under [`Limits::handshake_timeout`], and only authenticated
/// streams are passed to `on_conn`, together with their [`Admission`] (drop it when
/// the connection ends). Failures are logged with `tracing` (peer address and reason,
/// never the secret) and the stream dropped. Never panics or returns because of a
/// peer; accept errors are logged and retried.
pub async fn serve<F, Fut>(listener: TcpListener, secret: Arc<Secret>, limits: Limits, on_conn: F)
where
    F: Fn(TcpStream, SocketAddr, Admission) -> Fut + Send + Sync + 'static,
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
        let (secret, limits, on_conn) = (
            Arc::clone(&secret),
            Arc::clone(&limits),
            Arc::clone(&on_conn),
        );
        tokio::spawn(async move {
            let mut stream = stream;
            if let Err(e) = stream.set_nodelay(true) {
                tracing::debug!(%peer, error = %e, "set_nodelay failed");
            }
            match handshake_acceptor(&mut stream, &secret, &limits).await {
                Ok(()) => {
                    admission.handshake_done();
                    tracing::debug!(%peer, "peer authenticated");
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

/// Connects to `addr` and authenticates as initiator, all within
/// [`Limits::handshake_timeout`]. The stream has `TCP_NODELAY` set.
///
/// # Errors
/// [`WireError::Timeout`] past the deadline, [`WireError::Io`] if the connection
/// fails, and the errors of [`handshake_initiator`].
pub async fn connect(
    addr: SocketAddr,
    secret: &Secret,
    limits: &Limits,
) -> Result<TcpStream, WireError> {
    let attempt = async {
        let mut stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        handshake_initiator(&mut stream, secret, limits).await?;
        Ok(stream)
    };
    tokio::time::timeout(limits.handshake_timeout, attempt)
        .await
        .map_err(|_| WireError::Timeout)?
}
