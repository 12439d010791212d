//! TEMPORARY stub of the wire layer (replaced by branch `wire`).
#![allow(missing_docs)]
use serde::{de::DeserializeOwned, Serialize};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

pub const PROTOCOL_VERSION: u32 = 1;
#[derive(Clone, Debug)]
pub struct Limits {
    pub pre_auth_frame: usize,
    pub control_frame: usize,
    pub chunk_frame: usize,
    pub handshake_timeout: std::time::Duration,
    pub max_pending_handshakes: usize,
    pub max_connections: usize,
}
impl Default for Limits {
    fn default() -> Self {
        Limits {
            pre_auth_frame: 4096,
            control_frame: 1 << 20,
            chunk_frame: 2 << 30,
            handshake_timeout: std::time::Duration::from_secs(5),
            max_pending_handshakes: 32,
            max_connections: 1024,
        }
    }
}
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameKind {
    Control,
    Chunk,
}
#[derive(Debug)]
pub struct Frame {
    pub kind: FrameKind,
    pub payload: Vec<u8>,
}
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    #[error("frame too large: {len} > {limit}")]
    TooLarge {
        kind: FrameKind,
        len: u64,
        limit: usize,
    },
    #[error("bad frame kind {0}")]
    BadKind(u8),
    #[error("chunk before auth")]
    ChunkBeforeAuth,
    #[error("decode: {0}")]
    Decode(String),
    #[error("trailing {0}")]
    TrailingBytes(usize),
    #[error("auth: {0}")]
    Auth(String),
    #[error("timeout")]
    Timeout,
    #[error("closed")]
    Closed,
    #[error("refused: {0}")]
    Refused(String),
}
pub async fn read_frame<R: AsyncRead + Unpin>(
    r: &mut R,
    limits: &Limits,
    authenticated: bool,
) -> Result<Frame, WireError> {
    let mut h = [0u8; 9];
    match r.read_exact(&mut h).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Err(WireError::Closed),
        Err(e) => return Err(e.into()),
    }
    let kind = match h[0] {
        0 => FrameKind::Control,
        1 => FrameKind::Chunk,
        k => return Err(WireError::BadKind(k)),
    };
    let len = u64::from_le_bytes(h[1..9].try_into().unwrap());
    let limit = if !authenticated {
        limits.pre_auth_frame
    } else if kind == FrameKind::Chunk {
        limits.chunk_frame
    } else {
        limits.control_frame
    };
    if len > limit as u64 {
        return Err(WireError::TooLarge { kind, len, limit });
    }
    let mut payload = vec![0u8; len as usize];
    r.read_exact(&mut payload).await?;
    Ok(Frame { kind, payload })
}
pub async fn write_frame<W: AsyncWrite + Unpin>(
    w: &mut W,
    kind: FrameKind,
    payload: &[u8],
) -> Result<(), WireError> {
    let mut h = [0u8; 9];
    h[0] = match kind {
        FrameKind::Control => 0,
        FrameKind::Chunk => 1,
    };
    h[1..9].copy_from_slice(&(payload.len() as u64).to_le_bytes());
    w.write_all(&h).await?;
    w.write_all(payload).await?;
    Ok(())
}
pub fn encode<T: Serialize>(msg: &T) -> Result<Vec<u8>, WireError> {
    postcard::to_stdvec(msg).map_err(|e| WireError::Decode(e.to_string()))
}
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, WireError> {
    let (v, rest) =
        postcard::take_from_bytes(bytes).map_err(|e| WireError::Decode(e.to_string()))?;
    if !rest.is_empty() {
        return Err(WireError::TrailingBytes(rest.len()));
    }
    Ok(v)
}
pub fn encode_chunk(c: &darray_kernels::Chunk) -> Result<Vec<u8>, WireError> {
    encode(c)
}
pub fn decode_chunk(bytes: &[u8]) -> Result<darray_kernels::Chunk, WireError> {
    decode(bytes)
}
