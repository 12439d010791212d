//! The messages scheduler, workers and clients exchange, and the connection
//! plumbing that carries them: each message is one control frame (postcard),
//! followed by one chunk frame when the message says it carries data.
//!
//! Wire types are flat: a graph travels as a list of tasks whose inputs are
//! indices, in batches below the control-frame limit, so no input can make a
//! decoder recurse deeply or allocate beyond the frame caps.

use super::wire::{self, FrameKind, Limits, WireError};
use crate::graph::{ChunkKey, Op};
use darray_kernels::Chunk;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

/// A computation submitted by a client, numbered by the scheduler's client connection.
pub type JobId = u64;

/// One task as it travels: the op (`None` for client data, which follows as a
/// chunk frame), input task indices, and projected memory.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct WireTask {
    /// Index in the job's task list.
    pub id: u32,
    /// Output key, for messages.
    pub key: ChunkKey,
    /// What to compute; `None` for a literal chunk sent along.
    pub op: Option<Op>,
    /// Input task indices (smaller than `id`).
    pub inputs: Vec<u32>,
    /// Projected peak bytes while running.
    pub mem_bytes: u64,
    /// Projected bytes of the output.
    pub out_bytes: u64,
}

/// The first message on a connection to the scheduler.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Hello {
    /// A worker offering `nthreads` threads and `memory_limit` bytes, serving
    /// its chunks to peers at `data_addr`.
    Worker {
        /// Task slots.
        nthreads: u32,
        /// Bytes of task memory it accepts.
        memory_limit: u64,
        /// Where peers fetch its chunks.
        data_addr: SocketAddr,
        /// A name for logs.
        name: String,
    },
    /// A client that submits graphs.
    Client,
}

/// Why a job failed.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Failure {
    /// A task failed: its key and the error message.
    Task {
        /// The failing task's key, rendered.
        key: String,
        /// The error.
        message: String,
    },
    /// A task needs more memory than any worker accepts.
    OverBudget {
        /// The task's key, rendered.
        key: String,
        /// Projected bytes.
        bytes: u64,
        /// The largest worker memory limit.
        budget: u64,
    },
    /// The graph was malformed or the scheduler could not run it.
    Invalid(String),
}

/// Client to scheduler.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum FromClient {
    /// A batch of tasks of `job`; literal tasks are each followed by a chunk frame.
    Tasks {
        /// The job.
        job: JobId,
        /// Tasks, in id order.
        tasks: Vec<WireTask>,
    },
    /// The job is complete: compute `outputs` and send them back in order.
    Submit {
        /// The job.
        job: JobId,
        /// Total number of tasks sent.
        n_tasks: u32,
        /// Output task indices.
        outputs: Vec<u32>,
        /// Array names by id, for messages.
        names: Vec<(u64, String)>,
    },
    /// The workers connected and their memory.
    Info,
}

/// Scheduler to client.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum ToClient {
    /// Output `index` of `job`; a chunk frame follows.
    Result {
        /// The job.
        job: JobId,
        /// Position in the job's outputs.
        index: u32,
    },
    /// All outputs were sent.
    Finished {
        /// The job.
        job: JobId,
        /// Tasks run (recomputations included).
        tasks_run: u64,
        /// Bytes of inputs workers fetched from each other for it.
        bytes_moved: u64,
        /// Nanoseconds workers spent fetching them, summed over fetches.
        fetch_nanos: u64,
    },
    /// The job failed; nothing more comes for it.
    Failed {
        /// The job.
        job: JobId,
        /// Why.
        failure: Failure,
    },
    /// Reply to [`FromClient::Info`].
    Info {
        /// The workers connected, as of their last heartbeats.
        workers: Vec<WorkerInfo>,
    },
}

/// A worker's memory, as its heartbeats report it (see
/// [`worker::memory`](super::worker::memory) for the thresholds).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemoryReport {
    /// Bytes of held chunks in memory (results, inputs fetched or read back).
    pub memory: u64,
    /// Bytes of held chunks spilled to disk now.
    pub spilled: u64,
    /// Bytes written to disk by spilling since the worker started (a chunk
    /// spilled twice counts twice).
    pub spilled_total: u64,
    /// The process's resident memory as the worker's probe reads it (0 if unknown).
    pub process: u64,
    /// True while the worker starts no new tasks, its process being above the
    /// pause fraction of its limit.
    pub paused: bool,
}

/// One worker, as the scheduler knows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerInfo {
    /// Its name.
    pub name: String,
    /// Where peers fetch its chunks.
    pub data_addr: SocketAddr,
    /// Task slots.
    pub nthreads: u32,
    /// Its memory limit in bytes.
    pub memory_limit: u64,
    /// Its memory at its last heartbeat (all zero before the first).
    pub memory: MemoryReport,
}

/// Where a task finds one input.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct InputLoc {
    /// The input's task index.
    pub task: u32,
    /// Workers holding it (their data addresses); empty means the receiving
    /// worker holds it itself.
    pub holders: Vec<SocketAddr>,
}

/// Scheduler to worker.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum ToWorker {
    /// Run a task.
    Run {
        /// The job.
        job: JobId,
        /// Task index.
        task: u32,
        /// Attempt number: a message about an earlier attempt is ignored.
        attempt: u32,
        /// Its projected peak bytes while running: a small task runs inline on
        /// the worker's slot rather than on its thread pool.
        mem_bytes: u64,
        /// What to compute.
        op: Box<Op>,
        /// Its inputs, in order.
        inputs: Vec<InputLoc>,
    },
    /// Hold client data as the result of a task; a chunk frame follows.
    Literal {
        /// The job.
        job: JobId,
        /// Task index.
        task: u32,
        /// Attempt number: a message about an earlier attempt is ignored.
        attempt: u32,
    },
    /// Give a queued task back if it has not started.
    Steal {
        /// The job.
        job: JobId,
        /// Task index.
        task: u32,
        /// Attempt number: a message about an earlier attempt is ignored.
        attempt: u32,
    },
    /// Send a result to the scheduler (an output for the client).
    Send {
        /// The job.
        job: JobId,
        /// Task index.
        task: u32,
    },
    /// Drop these results.
    Release {
        /// The job.
        job: JobId,
        /// Task indices.
        tasks: Vec<u32>,
    },
    /// Drop everything of a job and skip its queued tasks.
    ReleaseJob {
        /// The job.
        job: JobId,
    },
}

/// Worker to scheduler.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum FromWorker {
    /// A task finished; its result (`nbytes`) is held here, and so are the
    /// inputs it fetched from peers.
    Done {
        /// The job.
        job: JobId,
        /// Task index.
        task: u32,
        /// Attempt number: a message about an earlier attempt is ignored.
        attempt: u32,
        /// Result size.
        nbytes: u64,
        /// Inputs fetched from peers and now also held here.
        fetched: Vec<u32>,
        /// Nanoseconds spent fetching them (requests and replies, in turn).
        fetch_nanos: u64,
    },
    /// A task failed.
    Failed {
        /// The job.
        job: JobId,
        /// Task index.
        task: u32,
        /// Attempt number: a message about an earlier attempt is ignored.
        attempt: u32,
        /// The error.
        message: String,
    },
    /// Inputs could not be fetched from the holders named (gone or not holding).
    Missing {
        /// The job.
        job: JobId,
        /// Task index.
        task: u32,
        /// Attempt number: a message about an earlier attempt is ignored.
        attempt: u32,
        /// Each missing input and the holders that failed.
        inputs: Vec<(u32, Vec<SocketAddr>)>,
    },
    /// Reply to [`ToWorker::Steal`].
    StealReply {
        /// The job.
        job: JobId,
        /// Task index.
        task: u32,
        /// Attempt number: a message about an earlier attempt is ignored.
        attempt: u32,
        /// True if the task was given back (it will not run here).
        stolen: bool,
    },
    /// Still alive (sent every [`HEARTBEAT`](super::worker::HEARTBEAT), and
    /// after a spill pass), with the worker's memory.
    Heartbeat {
        /// In memory, spilled, paused.
        memory: MemoryReport,
    },
    /// Reply to [`ToWorker::Send`]: a chunk frame follows if `present`.
    Data {
        /// The job.
        job: JobId,
        /// Task index.
        task: u32,
        /// False if this worker no longer holds it.
        present: bool,
    },
}

/// Worker to worker.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum PeerRequest {
    /// Send the result of a task.
    Fetch {
        /// The job.
        job: JobId,
        /// Task index.
        task: u32,
    },
}

/// Reply to a [`PeerRequest`]: a chunk frame follows if `present`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PeerReply {
    /// False if the peer does not hold it.
    pub present: bool,
}

/// A message to write, with the chunk that follows it.
pub type Outgoing = (Vec<u8>, Option<Arc<Chunk>>);

/// Encodes a message for an [`Outgoing`] queue.
///
/// # Errors
/// A message larger than the control-frame limit.
pub fn out<T: Serialize>(
    msg: &T,
    chunk: Option<Arc<Chunk>>,
    limits: &Limits,
) -> Result<Outgoing, WireError> {
    let bytes = wire::encode(msg)?;
    if bytes.len() > limits.control_frame {
        return Err(WireError::TooLarge {
            kind: FrameKind::Control,
            len: bytes.len() as u64,
            limit: limits.control_frame,
        });
    }
    Ok((bytes, chunk))
}

/// Bytes a connection writer gathers before a system call: several small
/// messages go out in one write, flushed whenever its queue is empty.
const WRITE_BUFFER: usize = 64 * 1024;

/// Bytes a connection reader takes per system call, so the small frames a
/// peer sent together are read together.
pub const READ_BUFFER: usize = 64 * 1024;

/// Writes queued messages (and their chunks) until the queue closes or the
/// connection fails. Messages queued together go out together: frames are
/// buffered, and flushed once the queue is empty (chunks bigger than the
/// buffer go straight from their arrays to the socket).
pub async fn writer<W: AsyncWrite + Unpin>(w: W, mut rx: mpsc::UnboundedReceiver<Outgoing>) {
    let mut w = tokio::io::BufWriter::with_capacity(WRITE_BUFFER, w);
    while let Some((msg, chunk)) = rx.recv().await {
        if wire::write_frame_unflushed(&mut w, FrameKind::Control, &msg)
            .await
            .is_err()
        {
            return;
        }
        if let Some(c) = chunk {
            match wire::write_chunk_frame(&mut w, &c).await {
                Ok(()) => {}
                Err(WireError::Io(_)) => return,
                Err(e) => {
                    tracing::error!("cannot encode a chunk ({e}); closing the connection");
                    return;
                }
            }
        }
        if rx.is_empty() && w.flush().await.is_err() {
            return;
        }
    }
    let _ = w.shutdown().await;
}

/// Reads one control message of type `T` (after authentication).
///
/// # Errors
/// A closed connection, a bad or oversized frame, a chunk frame where a control
/// frame belongs, or a message that does not decode.
pub async fn read_msg<T: serde::de::DeserializeOwned, R: AsyncRead + Unpin>(
    r: &mut R,
    limits: &Limits,
) -> Result<T, WireError> {
    let f = wire::read_frame(r, limits, true).await?;
    if f.kind != FrameKind::Control {
        return Err(WireError::Decode("expected a control frame".into()));
    }
    wire::decode(&f.payload)
}

/// Reads the chunk frame that follows a message.
///
/// # Errors
/// A closed connection, a bad or oversized frame, a control frame where a chunk
/// frame belongs, or a chunk that does not decode.
pub async fn read_chunk<R: AsyncRead + Unpin>(
    r: &mut R,
    limits: &Limits,
) -> Result<Chunk, WireError> {
    read_chunk_pooled(r, limits, None).await
}

/// As [`read_chunk`], reading a plain data chunk into a buffer of `pool`'s
/// when it holds one of the chunk's size and dtype.
///
/// # Errors
/// As [`read_chunk`].
pub(crate) async fn read_chunk_pooled<R: AsyncRead + Unpin>(
    r: &mut R,
    limits: &Limits,
    pool: Option<&crate::store::StoreCache>,
) -> Result<Chunk, WireError> {
    let (kind, len) = wire::read_frame_header(r, limits, true).await?;
    if kind != FrameKind::Chunk {
        return Err(WireError::Decode("expected a chunk frame".into()));
    }
    wire::read_chunk_payload(r, len, pool).await
}

/// Writes one message and its chunk directly (for request/reply connections).
///
/// # Errors
/// The connection failing, or a message over the control-frame limit.
pub async fn write_msg<T: Serialize, W: AsyncWrite + Unpin>(
    w: &mut W,
    msg: &T,
    chunk: Option<&Chunk>,
    limits: &Limits,
) -> Result<(), WireError> {
    let (bytes, _) = out(msg, None, limits)?;
    wire::write_frame_unflushed(w, FrameKind::Control, &bytes).await?;
    if let Some(c) = chunk {
        wire::write_chunk_frame(w, c).await?;
    }
    w.flush().await?;
    Ok(())
}
