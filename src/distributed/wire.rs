//! Frames on a byte stream, and the bytes inside them.
//!
//! A frame is one kind byte (`0` control, `1` chunk), the payload length as a
//! little-endian `u64`, then the payload. Control payloads are `postcard` messages
//! ([`encode`], [`decode`]); chunk payloads are raw little-endian array bytes behind
//! a small header ([`encode_chunk`], [`decode_chunk`]).
//!
//! Every length a peer announces is checked against [`Limits`] before anything is
//! allocated, and payload buffers grow only as bytes arrive, so a peer cannot make
//! this side hold more memory than it has actually sent. Before authentication every
//! frame is capped at [`Limits::pre_auth_frame`] and chunk frames are refused.
//!
//! This module owns the byte layout only; who may connect is [`super::auth`]'s, and
//! what the messages mean is the executor's.

mod chunk;

pub(crate) use chunk::read_chunk_payload;
pub use chunk::{decode_chunk, encode_chunk};

use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Version of the handshake and frame format, and of what the kernels' results
/// mean (4: the tiled QR's stacked records); peers with another version are
/// refused.
pub const PROTOCOL_VERSION: u32 = 4;

/// Bytes in a frame header: the kind byte and the `u64` length.
const HEADER_LEN: usize = 9;

/// Payload bytes reserved up front, and the smallest growth step. A frame longer
/// than this grows its buffer only as its bytes arrive.
const INITIAL_RESERVE: usize = 64 * 1024;

/// Payloads up to this size are copied behind their header and written in one call
/// (one segment on a `TCP_NODELAY` socket); larger ones are written in two.
const COALESCE_MAX: usize = 64 * 1024;

/// Size caps and deadlines for one connection or listener.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Largest frame accepted before authentication (handshake messages). Default 4 KiB.
    pub pre_auth_frame: usize,
    /// Largest control frame after authentication. Default 1 MiB.
    pub control_frame: usize,
    /// Largest chunk frame after authentication. Default 2 GiB; a worker sets it
    /// from its memory limit.
    pub chunk_frame: usize,
    /// Deadline for connecting plus the whole handshake. Default 5 s.
    pub handshake_timeout: Duration,
    /// Connections a listener lets sit in the handshake at once. Default 32.
    pub max_pending_handshakes: usize,
    /// Connections a listener holds at once, authenticated or not. Default 1024.
    pub max_connections: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            pre_auth_frame: 4096,
            control_frame: 1 << 20,
            chunk_frame: 2 << 30,
            handshake_timeout: Duration::from_secs(5),
            max_pending_handshakes: 32,
            max_connections: 1024,
        }
    }
}

impl Limits {
    /// The largest payload accepted for a frame of `kind`.
    #[must_use]
    pub fn frame_limit(&self, kind: FrameKind, authenticated: bool) -> usize {
        match (authenticated, kind) {
            (false, _) => self.pre_auth_frame,
            (true, FrameKind::Control) => self.control_frame,
            (true, FrameKind::Chunk) => self.chunk_frame,
        }
    }
}

/// What a frame carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameKind {
    /// A `postcard` message (kind byte 0).
    Control,
    /// A chunk payload from [`encode_chunk`] (kind byte 1).
    Chunk,
}

impl FrameKind {
    fn to_byte(self) -> u8 {
        match self {
            FrameKind::Control => 0,
            FrameKind::Chunk => 1,
        }
    }

    fn from_byte(b: u8) -> Result<FrameKind, WireError> {
        match b {
            0 => Ok(FrameKind::Control),
            1 => Ok(FrameKind::Chunk),
            other => Err(WireError::BadKind(other)),
        }
    }
}

/// One frame as read from the stream.
#[derive(Debug)]
pub struct Frame {
    /// Control or chunk.
    pub kind: FrameKind,
    /// The payload bytes, without the header.
    pub payload: Vec<u8>,
}

/// Everything that can go wrong on a connection.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WireError {
    /// The socket failed, or closed inside a frame (`UnexpectedEof`).
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    /// A frame announced more bytes than its kind allows; nothing was allocated.
    #[error("{kind:?} frame of {len} bytes exceeds the limit of {limit} bytes")]
    TooLarge {
        /// The frame's kind.
        kind: FrameKind,
        /// The announced payload length.
        len: u64,
        /// The limit in force.
        limit: usize,
    },
    /// A frame kind byte other than 0 or 1.
    #[error("unknown frame kind byte {0}")]
    BadKind(u8),
    /// A chunk frame arrived before the handshake finished.
    #[error("chunk frame before authentication")]
    ChunkBeforeAuth,
    /// A payload that is not a valid message or chunk.
    #[error("malformed payload: {0}")]
    Decode(String),
    /// A payload with bytes left over after its message.
    #[error("{0} trailing bytes after the message")]
    TrailingBytes(usize),
    /// The peer failed authentication, or refused ours.
    #[error("authentication failed: {0}")]
    Auth(String),
    /// The handshake (or connect) did not finish within the deadline.
    #[error("timed out")]
    Timeout,
    /// The peer closed the connection cleanly between frames.
    #[error("connection closed")]
    Closed,
    /// Refused by local policy: a listener without a secret, a version mismatch,
    /// a full listener.
    #[error("refused: {0}")]
    Refused(String),
    /// TLS failed or is configured on one side only: a bad or unreadable
    /// certificate file, a peer certificate not signed by the cluster CA, a plaintext
    /// peer on a TLS connection or the reverse.
    #[error("tls: {0}")]
    Tls(String),
}

/// Reads one frame.
///
/// With `authenticated == false` every frame is capped at
/// [`Limits::pre_auth_frame`] and chunk frames are refused. The announced length is
/// checked before any allocation, and the buffer grows only as bytes arrive.
///
/// Not cancel-safe: dropping the future part-way through a frame loses the bytes
/// read so far and desynchronizes the stream. Give each connection's read half its
/// own task (or keep one pinned future across `select!` iterations).
///
/// # Errors
/// [`WireError::Closed`] on a clean end of stream before a header;
/// [`WireError::Io`] (`UnexpectedEof`) on a stream that ends inside a frame;
/// [`WireError::BadKind`], [`WireError::ChunkBeforeAuth`], [`WireError::TooLarge`]
/// on a header this side will not accept.
pub async fn read_frame<R: AsyncRead + Unpin>(
    r: &mut R,
    limits: &Limits,
    authenticated: bool,
) -> Result<Frame, WireError> {
    let (kind, len) = read_frame_header(r, limits, authenticated).await?;
    let payload = read_payload(r, len).await?;
    Ok(Frame { kind, payload })
}

/// Reads and checks one frame header, as [`read_frame`] does: the frame's kind and
/// payload length (within the limit for that kind); the payload is left in `r`.
///
/// # Errors
/// As [`read_frame`].
pub(crate) async fn read_frame_header<R: AsyncRead + Unpin>(
    r: &mut R,
    limits: &Limits,
    authenticated: bool,
) -> Result<(FrameKind, usize), WireError> {
    let mut header = [0u8; HEADER_LEN];
    let mut filled = 0;
    while filled < HEADER_LEN {
        let n = r.read(&mut header[filled..]).await?;
        if n == 0 {
            return Err(if filled == 0 {
                WireError::Closed
            } else {
                std::io::Error::from(std::io::ErrorKind::UnexpectedEof).into()
            });
        }
        filled += n;
    }
    let kind = FrameKind::from_byte(header[0])?;
    if !authenticated && kind == FrameKind::Chunk {
        return Err(WireError::ChunkBeforeAuth);
    }
    let len = u64::from_le_bytes(header[1..].try_into().expect("header is 1 + 8 bytes"));
    let limit = limits.frame_limit(kind, authenticated);
    let len = match usize::try_from(len) {
        Ok(n) if n <= limit => n,
        _ => return Err(WireError::TooLarge { kind, len, limit }),
    };
    Ok((kind, len))
}

/// Reads exactly `len` bytes into a buffer whose capacity stays within
/// `max(2 * received, received + INITIAL_RESERVE)` and ends at exactly `len`.
async fn read_payload<R: AsyncRead + Unpin>(r: &mut R, len: usize) -> Result<Vec<u8>, WireError> {
    let mut buf = Vec::with_capacity(len.min(INITIAL_RESERVE));
    append_payload(r, &mut buf, len).await?;
    Ok(buf)
}

/// Appends exactly `add` bytes from `r` to `buf`, growing it as for [`read_payload`].
async fn append_payload<R: AsyncRead + Unpin>(
    r: &mut R,
    buf: &mut Vec<u8>,
    add: usize,
) -> Result<(), WireError> {
    let len = buf.len() + add;
    while buf.len() < len {
        if buf.len() == buf.capacity() {
            let step = (len - buf.len()).min(buf.len().max(INITIAL_RESERVE));
            buf.reserve_exact(step);
        }
        // Take bounds the read to this frame, so the next frame's bytes stay in `r`;
        // spare capacity bounds it to what is already allocated.
        let want = (len - buf.len()).min(buf.capacity() - buf.len());
        let n = (&mut *r).take(want as u64).read_buf(buf).await?;
        if n == 0 {
            return Err(std::io::Error::from(std::io::ErrorKind::UnexpectedEof).into());
        }
    }
    Ok(())
}

/// Writes one frame and flushes the writer. Not cancel-safe, like [`read_frame`].
///
/// # Errors
/// [`WireError::Io`] if the write fails.
pub async fn write_frame<W: AsyncWrite + Unpin>(
    w: &mut W,
    kind: FrameKind,
    payload: &[u8],
) -> Result<(), WireError> {
    write_frame_unflushed(w, kind, payload).await?;
    w.flush().await?;
    Ok(())
}

/// The header of a frame of `kind` carrying `len` payload bytes.
fn header(kind: FrameKind, len: usize) -> [u8; HEADER_LEN] {
    let mut header = [0u8; HEADER_LEN];
    header[0] = kind.to_byte();
    header[1..].copy_from_slice(&(len as u64).to_le_bytes());
    header
}

/// Writes one frame without flushing, so a buffered writer can put several
/// frames in one system call (the connection writers flush when their queue is
/// empty).
///
/// # Errors
/// [`WireError::Io`] if the write fails.
pub async fn write_frame_unflushed<W: AsyncWrite + Unpin>(
    w: &mut W,
    kind: FrameKind,
    payload: &[u8],
) -> Result<(), WireError> {
    let header = header(kind, payload.len());
    if payload.len() <= COALESCE_MAX {
        let mut buf = Vec::with_capacity(HEADER_LEN + payload.len());
        buf.extend_from_slice(&header);
        buf.extend_from_slice(payload);
        w.write_all(&buf).await?;
    } else {
        write_all_vectored(w, &mut [&header[..], payload]).await?;
    }
    Ok(())
}

/// Writes `c` as one chunk frame, without flushing. A plain data chunk goes out
/// from the array's own memory (frame and chunk headers and the element bytes in
/// vectored writes), not through an encoded copy; anything else is encoded first.
/// The bytes are exactly those of [`encode_chunk`] behind a chunk frame header.
///
/// # Errors
/// As [`encode_chunk`], and [`WireError::Io`] if the write fails.
pub async fn write_chunk_frame<W: AsyncWrite + Unpin>(
    w: &mut W,
    c: &darray_kernels::Chunk,
) -> Result<(), WireError> {
    match chunk::encode_chunk_parts(c)? {
        chunk::Parts::Borrowed { head, body } => {
            let header = header(FrameKind::Chunk, head.len() + body.len());
            write_all_vectored(w, &mut [&header[..], &head, body]).await?;
        }
        chunk::Parts::Encoded(payload) => {
            write_frame_unflushed(w, FrameKind::Chunk, &payload).await?;
        }
    }
    Ok(())
}

/// Writes every byte of `bufs`, in order, with as few (vectored) writes as the
/// writer takes.
async fn write_all_vectored<W: AsyncWrite + Unpin>(
    w: &mut W,
    bufs: &mut [&[u8]],
) -> std::io::Result<()> {
    let mut first = 0;
    while first < bufs.len() {
        if bufs[first].is_empty() {
            first += 1;
            continue;
        }
        let slices: Vec<std::io::IoSlice<'_>> = bufs[first..]
            .iter()
            .map(|b| std::io::IoSlice::new(b))
            .collect();
        let mut n = w.write_vectored(&slices).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
        while n > 0 {
            let take = n.min(bufs[first].len());
            bufs[first] = &bufs[first][take..];
            n -= take;
            if bufs[first].is_empty() {
                first += 1;
            }
        }
    }
    Ok(())
}

/// Encodes a control message with `postcard`.
///
/// # Errors
/// [`WireError::Decode`] if the value cannot be serialized (a map with non-string
/// keys is fine; a serializer error from a custom `Serialize` is not).
pub fn encode<T: serde::Serialize>(msg: &T) -> Result<Vec<u8>, WireError> {
    postcard::to_stdvec(msg).map_err(|e| WireError::Decode(format!("encode: {e}")))
}

/// Decodes a control message with `postcard`, requiring that it use every byte.
///
/// Control frames are capped at [`Limits::control_frame`], but a deeply recursive
/// message type decodes recursively: keep such types (and [`darray_kernels::Chunk`],
/// which nests through `Partial::Arg`) out of control messages and send chunks in
/// chunk frames.
///
/// # Errors
/// [`WireError::Decode`] on malformed bytes, [`WireError::TrailingBytes`] if bytes
/// are left after the message.
pub fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, WireError> {
    let (msg, rest) =
        postcard::take_from_bytes(bytes).map_err(|e| WireError::Decode(e.to_string()))?;
    if rest.is_empty() {
        Ok(msg)
    } else {
        Err(WireError::TrailingBytes(rest.len()))
    }
}

#[cfg(test)]
mod tests;
