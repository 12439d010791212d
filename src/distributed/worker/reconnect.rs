//! The worker's life: serve peers, run slots and the memory monitor, and keep
//! a scheduler connection, reconnecting with backoff after a loss (or before
//! the scheduler is up) until `reconnect_for` passes without one.

use super::peer::serve_peer;
use super::session::session;
use super::shared::{monitor, Shared};
use super::slots::slot;
use super::WorkerConfig;
use crate::distributed::auth::{self, Secret};
use crate::distributed::wire::WireError;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpListener;

/// Serves peers, runs task slots and the memory monitor, and keeps a
/// scheduler connection (reconnecting after a loss) until that fails.
pub(super) async fn serve(
    config: &WorkerConfig,
    secret: &Arc<Secret>,
    shared: &Arc<Shared>,
    listener: TcpListener,
    listen_addr: SocketAddr,
) -> Result<(), WireError> {
    let peer_shared = shared.clone();
    tokio::spawn(auth::serve_with(
        listener,
        secret.clone(),
        shared.tls.clone(),
        config.limits.clone(),
        move |stream, peer, admission| {
            let shared = peer_shared.clone();
            async move {
                let _admission = admission;
                if let Err(e) = serve_peer(stream, &shared).await {
                    if !matches!(e, WireError::Closed) {
                        tracing::info!(%peer, "peer connection closed: {e}");
                    }
                }
            }
        },
    ));
    for _ in 0..config.nthreads.max(1) {
        tokio::spawn(slot(shared.clone()));
    }
    tokio::spawn(monitor(shared.clone()));
    let mut first = true;
    // Backoff between attempts; it grows while sessions keep failing at once
    // (a scheduler that drops us during the handshake, at its connection
    // cap), and starts over after a session that lasted.
    let mut wait = RECONNECT_FIRST;
    // When the last lasting session ended: past `reconnect_for` without one,
    // the worker gives up.
    let mut lost_since: Option<Instant> = None;
    loop {
        let began = Instant::now();
        let res = session(config, secret, shared, listen_addr).await;
        shared.reset();
        match res {
            // A scheduler at its handshake cap (silent or slow connections
            // holding the slots) drops us at once: try again, as after a loss.
            Err(e) if first && dropped_in_handshake(&e) => {
                tracing::warn!(
                    "scheduler dropped the connection during the handshake: {e}; retrying"
                );
            }
            // Started before its scheduler (as dask workers may be): keep
            // trying for `reconnect_for`, as after a loss.
            Err(e) if first && not_up_yet(&e) => {
                tracing::warn!(
                    "no scheduler at {} yet: {e}; retrying for {:?}",
                    config.scheduler,
                    config.reconnect_for
                );
            }
            Err(e) if first => return Err(e),
            Err(e) => tracing::warn!("scheduler connection lost: {e}"),
            Ok(()) => tracing::warn!("scheduler closed the connection"),
        }
        first = false;
        if began.elapsed() >= RECONNECT_LASTING {
            wait = RECONNECT_FIRST;
            lost_since = None;
        }
        let start = *lost_since.get_or_insert_with(Instant::now);
        // Reconnect with backoff.
        loop {
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(RECONNECT_MAX);
            let up = matches!(
                tokio::time::timeout(
                    config.limits.handshake_timeout,
                    tokio::net::TcpStream::connect(config.scheduler),
                )
                .await,
                Ok(Ok(_))
            );
            if start.elapsed() > config.reconnect_for {
                return Err(WireError::Refused(format!(
                    "no scheduler at {} for {:?}",
                    config.scheduler, config.reconnect_for
                )));
            }
            if up {
                break;
            }
        }
    }
}

/// First wait before reconnecting to the scheduler.
pub(super) const RECONNECT_FIRST: Duration = Duration::from_millis(50);
/// Longest wait between reconnection attempts.
pub(super) const RECONNECT_MAX: Duration = Duration::from_secs(2);
/// A session at least this long resets the backoff.
pub(super) const RECONNECT_LASTING: Duration = Duration::from_secs(5);

/// Whether `e` says nothing listens at the scheduler's address (yet), or the
/// network does not reach it: worth retrying, unlike a wrong secret or version.
pub(super) fn not_up_yet(e: &WireError) -> bool {
    use std::io::ErrorKind::{ConnectionRefused, HostUnreachable, NetworkUnreachable, TimedOut};
    matches!(e, WireError::Io(io) if matches!(
        io.kind(),
        ConnectionRefused | HostUnreachable | NetworkUnreachable | TimedOut
    ))
}

/// Whether `e` is a connection the scheduler accepted and then closed before
/// the handshake finished (not a refused connection, a wrong secret or version).
pub(super) fn dropped_in_handshake(e: &WireError) -> bool {
    use std::io::ErrorKind::{BrokenPipe, ConnectionAborted, ConnectionReset, UnexpectedEof};
    match e {
        WireError::Closed | WireError::Timeout => true,
        WireError::Io(io) => matches!(
            io.kind(),
            UnexpectedEof | ConnectionReset | ConnectionAborted | BrokenPipe
        ),
        _ => false,
    }
}
