//! Client-side wire batching: a graph cut into [`FromClient::Tasks`]
//! messages below the control-frame limit, each with the literal chunks that
//! follow it. The scheduler takes tasks in exactly this order (ids counting up
//! from 0, inputs only earlier tasks).
//!
//! [`FromClient::Tasks`]: super::proto::FromClient::Tasks

use super::proto::WireTask;
use super::wire::{self, FrameKind, Limits, WireError};
use crate::graph::{Graph, Op, Task};
use darray_kernels::Chunk;
use std::sync::Arc;

/// Graph task `i` as it travels to the scheduler, and its literal chunk (sent
/// apart, after the batch) if it is client data.
pub(crate) fn wire_task(i: usize, t: &Task) -> (WireTask, Option<&Arc<Chunk>>) {
    let (op, lit) = match &t.op {
        Op::Literal { data } => (None, Some(data)),
        op => (Some(op.clone()), None),
    };
    let wt = WireTask {
        id: u32::try_from(i).unwrap_or(u32::MAX),
        key: t.key.clone(),
        op,
        inputs: t.inputs.iter().map(|x| x.0).collect(),
        mem_bytes: t.mem_bytes,
        out_bytes: t.out_bytes,
    };
    (wt, lit)
}

/// Tasks for one message and the literal chunks that follow it.
pub(crate) type Batch = (Vec<WireTask>, Vec<Arc<Chunk>>);

/// Splits a graph into [`WireTask`] batches under the control-frame limit; the
/// literal chunks to send after each batch, in order.
///
/// # Errors
/// One task alone over half the control-frame limit.
pub(crate) fn batches(graph: &Graph, limits: &Limits) -> Result<Vec<Batch>, WireError> {
    let budget = limits.control_frame / 2;
    let mut out = Vec::new();
    let mut cur: Vec<WireTask> = Vec::new();
    let mut lits = Vec::new();
    let mut size = 0usize;
    for (i, t) in graph.tasks.iter().enumerate() {
        let (wt, lit) = wire_task(i, t);
        let lit = lit.cloned();
        let n = wire::encode(&wt)?.len();
        if n > budget {
            return Err(WireError::TooLarge {
                kind: FrameKind::Control,
                len: n as u64,
                limit: budget,
            });
        }
        if size + n > budget && !cur.is_empty() {
            out.push((std::mem::take(&mut cur), std::mem::take(&mut lits)));
            size = 0;
        }
        size += n;
        cur.push(wt);
        if let Some(l) = lit {
            lits.push(l);
        }
    }
    if !cur.is_empty() {
        out.push((cur, lits));
    }
    Ok(out)
}
