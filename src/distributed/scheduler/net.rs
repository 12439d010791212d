//! Sockets: the listener and one task per connection, which reads frames and
//! forwards them to the scheduler's actor as [`Event`]s. Nothing here looks
//! inside a message beyond what framing needs (whether a chunk follows).

use super::{Event, Link, Scheduler};
use crate::distributed::auth::{self, Secret};
use crate::distributed::proto::{
    read_chunk, read_msg, writer, FromClient, FromWorker, Hello, READ_BUFFER,
};
use crate::distributed::tls::{Stream, TlsConfig};
use crate::distributed::wire::{Limits, WireError};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// Runs a scheduler on `listener` until the process ends (plain TCP; see
/// [`serve_with`] for TLS).
pub async fn serve(listener: TcpListener, secret: Arc<Secret>, limits: Limits) {
    serve_with(listener, secret, None, limits).await;
}

/// Runs a scheduler on `listener` until the process ends, over TLS when `tls` is
/// given (every client and worker must then use TLS with the same cluster CA).
pub async fn serve_with(
    listener: TcpListener,
    secret: Arc<Secret>,
    tls: Option<Arc<TlsConfig>>,
    limits: Limits,
) {
    let (tx, rx) = mpsc::unbounded_channel();
    let lim = limits.clone();
    tokio::spawn(auth::serve_with(
        listener,
        secret,
        tls,
        limits.clone(),
        move |stream, peer, admission| {
            let tx = tx.clone();
            let lim = lim.clone();
            async move {
                let _admission = admission;
                if let Err(e) = connection(stream, peer, tx, lim).await {
                    tracing::info!(%peer, "connection closed: {e}");
                }
            }
        },
    ));
    Scheduler::new(limits).run(rx).await;
}

static NEXT_CONN: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// Reads one authenticated connection and forwards what arrives as events.
async fn connection(
    stream: Stream,
    peer: SocketAddr,
    events: mpsc::UnboundedSender<Event>,
    limits: Limits,
) -> Result<(), WireError> {
    stream.set_nodelay(true)?;
    let (r, w) = stream.into_split();
    let mut r = tokio::io::BufReader::with_capacity(READ_BUFFER, r);
    let hello: Hello = read_msg(&mut r, &limits).await?;
    let id = NEXT_CONN.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let (otx, orx) = mpsc::unbounded_channel();
    tokio::spawn(writer(w, orx));
    match hello {
        Hello::Worker {
            nthreads,
            memory_limit,
            data_addr,
            name,
        } => {
            tracing::info!(%peer, name, nthreads, memory_limit, %data_addr, "worker joined");
            let _ = events.send(Event::WorkerJoined {
                id,
                nthreads: nthreads.max(1),
                memory_limit,
                data_addr,
                name,
                link: Link::Net(otx),
            });
            let res = async {
                loop {
                    let msg: FromWorker = read_msg(&mut r, &limits).await?;
                    let chunk = match &msg {
                        FromWorker::Data { present: true, .. } => {
                            Some(Box::new(read_chunk(&mut r, &limits).await?))
                        }
                        _ => None,
                    };
                    if events.send(Event::FromWorker(id, msg, chunk)).is_err() {
                        return Ok::<(), WireError>(());
                    }
                }
            }
            .await;
            let _ = events.send(Event::WorkerLeft(id));
            res
        }
        Hello::Client => {
            let _ = events.send(Event::ClientJoined(id, Link::Net(otx)));
            let res = async {
                loop {
                    let msg: FromClient = read_msg(&mut r, &limits).await?;
                    let mut chunks = Vec::new();
                    if let FromClient::Tasks { tasks, .. } = &msg {
                        for _ in tasks.iter().filter(|t| t.op.is_none()) {
                            chunks.push(read_chunk(&mut r, &limits).await?);
                        }
                    }
                    if events.send(Event::FromClient(id, msg, chunks)).is_err() {
                        return Ok::<(), WireError>(());
                    }
                }
            }
            .await;
            let _ = events.send(Event::ClientLeft(id));
            res
        }
    }
}
