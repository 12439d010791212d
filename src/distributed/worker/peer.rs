//! The peer server: answers other workers' fetches with the chunks held here
//! (read back from disk when spilled), optionally throttled
//! ([`WorkerConfig::peer_send_bytes_per_sec`](super::WorkerConfig::peer_send_bytes_per_sec)).

use super::memory::Key;
use super::shared::Shared;
use crate::distributed::proto::{read_msg, write_msg, PeerReply, PeerRequest};
use crate::distributed::tls::Stream;
use crate::distributed::wire::{self, WireError};
use darray_kernels::Chunk;
use std::sync::Arc;
use std::time::Duration;

/// Answers fetch requests from one peer.
pub(super) async fn serve_peer(stream: Stream, shared: &Arc<Shared>) -> Result<(), WireError> {
    stream.set_nodelay(true)?;
    let (mut r, mut w) = stream.into_split();
    loop {
        let req: PeerRequest = read_msg(&mut r, &shared.limits).await?;
        match req {
            PeerRequest::Fetch { job, task } => {
                let c = shared.load((job, task)).await;
                let reply = PeerReply {
                    present: c.is_some(),
                };
                match (c.as_deref(), shared.peer_send_bytes_per_sec) {
                    (Some(c), Some(rate)) => {
                        write_msg(&mut w, &reply, None, &shared.limits).await?;
                        send_throttled(&mut w, c, rate, (job, task)).await?;
                    }
                    _ => write_msg(&mut w, &reply, c.as_deref(), &shared.limits).await?,
                }
            }
        }
    }
}

/// Writes `c` as one chunk frame in pieces, a tenth of `rate` bytes every
/// 100 ms; logs once the first piece is out, so the transfer is under way.
pub(super) async fn send_throttled<W: tokio::io::AsyncWrite + Unpin>(
    w: &mut W,
    c: &Chunk,
    rate: usize,
    (job, task): Key,
) -> Result<(), WireError> {
    use tokio::io::AsyncWriteExt;
    let mut frame = Vec::new();
    let payload = wire::encode_chunk(c)?;
    wire::write_frame(&mut frame, wire::FrameKind::Chunk, &payload).await?;
    for (i, piece) in frame.chunks((rate / 10).max(1)).enumerate() {
        if i > 0 {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        w.write_all(piece).await?;
        w.flush().await?;
        if i == 0 {
            tracing::info!(job, task, bytes = frame.len(), "peer send throttled");
        }
    }
    Ok(())
}
