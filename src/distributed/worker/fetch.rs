//! Getting a task's inputs from the peers that hold them, over one pooled,
//! authenticated connection per peer.

use super::shared::Shared;
use crate::distributed::auth;
use crate::distributed::proto::{
    read_chunk_pooled, read_msg, write_msg, InputLoc, JobId, PeerReply, PeerRequest,
};
use crate::distributed::wire::WireError;
use darray_kernels::Chunk;
use std::sync::Arc;

/// Fetches an input from one of its holders (in order), over a pooled,
/// authenticated connection per peer.
pub(super) async fn fetch(shared: &Shared, job: JobId, inp: &InputLoc) -> Option<Arc<Chunk>> {
    for &addr in &inp.holders {
        let conn = shared
            .peers
            .lock()
            .entry(addr)
            .or_insert_with(|| Arc::new(tokio::sync::Mutex::new(None)))
            .clone();
        let mut guard = conn.lock().await;
        for _attempt in 0..2 {
            if guard.is_none() {
                match auth::connect_with(
                    addr,
                    &shared.secret,
                    shared.tls.as_deref(),
                    &shared.limits,
                )
                .await
                {
                    Ok(s) => {
                        let _ = s.set_nodelay(true);
                        *guard = Some(s);
                    }
                    Err(e) => {
                        tracing::info!(%addr, "cannot reach peer: {e}");
                        break;
                    }
                }
            }
            let Some(s) = guard.as_mut() else { break };
            let res = async {
                write_msg(
                    s,
                    &PeerRequest::Fetch {
                        job,
                        task: inp.task,
                    },
                    None,
                    &shared.limits,
                )
                .await?;
                let reply: PeerReply = read_msg(s, &shared.limits).await?;
                if reply.present {
                    // Into a recycled buffer when there is one, as a store read.
                    let pool = Some(&shared.ctx.store);
                    Ok(Some(read_chunk_pooled(s, &shared.limits, pool).await?))
                } else {
                    Ok::<_, WireError>(None)
                }
            }
            .await;
            match res {
                Ok(Some(c)) => return Some(Arc::new(c)),
                Ok(None) => break,
                Err(e) => {
                    tracing::info!(%addr, "fetch failed: {e}");
                    *guard = None;
                }
            }
        }
    }
    None
}
