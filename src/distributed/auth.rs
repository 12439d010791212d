//! Who may talk to a scheduler or worker: a shared [`Secret`], a mutual
//! challenge-response handshake run before any other frame, and per-listener caps
//! on connections ([`Gate`], [`serve`], [`connect`]).
//!
//! The handshake, all in control frames of at most [`Limits::pre_auth_frame`] bytes
//! and under [`Limits::handshake_timeout`]:
//!
//! ```text
//! initiator                                   acceptor
//!   Hello { magic, version, nonce_i }    ->
//!                                        <-   Challenge { nonce_a, tag_a }
//!   Response { tag_i }                   ->
//!                                        <-   Ok
//! tag_a = HMAC-SHA256(secret, "darray-acceptor"  || version || nonce_i || nonce_a)
//! tag_i = HMAC-SHA256(secret, "darray-initiator" || version || nonce_i || nonce_a)
//! ```
//!
//! Both sides prove the secret over both fresh nonces, so a recorded session does not
//! replay; the role labels differ, so one side's tag is never the other's. A side that
//! rejects the peer says why in a `Reject` (version or authentication, nothing else)
//! before closing.
//!
//! Over TLS ([`TlsConfig`](super::tls::TlsConfig)) both tags also cover a value both
//! ends export from their TLS session (`export_keying_material`, label
//! [`EXPORTER_LABEL`]), so the proof is bound to that one session: a man in the
//! middle who terminates TLS to each side separately holds two sessions with two
//! different values, and relaying the handshake between them fails.
//!
//! What the plaintext path does not give: secrecy or integrity after the handshake.
//! Frames are plain TCP, so someone on the path can read them and, in principle,
//! splice into an authenticated connection. Use TLS, a trusted network or a tunnel.

mod listen;
mod secret;

pub use listen::{check_listen, connect, connect_with, serve, serve_with, Admission, Gate};
pub use secret::Secret;

use super::wire::PROTOCOL_VERSION;
use super::wire::{decode, encode, read_frame, write_frame, FrameKind, Limits, WireError};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use tokio::io::{AsyncRead, AsyncWrite};

/// First bytes of every `Hello`, so a stray client of another protocol fails fast.
const MAGIC: [u8; 8] = *b"darray\0\x01";
const ACCEPTOR_LABEL: &[u8] = b"darray-acceptor";
const INITIATOR_LABEL: &[u8] = b"darray-initiator";
/// The TLS keying-material exporter label whose 32-byte output both tags cover when
/// the connection runs over TLS (RFC 8446 section 7.5; no context).
pub const EXPORTER_LABEL: &[u8] = b"EXPORTER-darray-hmac";
/// Separates the exporter value from the nonces in the MAC input.
const BINDING_LABEL: &[u8] = b"tls-exporter";

/// A value both ends derive from their TLS session, so equal only on the two ends of
/// one session.
pub(crate) type Binding = [u8; 32];

type Nonce = [u8; 32];
type Tag = [u8; 32];

#[derive(Debug, Serialize, Deserialize)]
enum Hs {
    Hello {
        magic: [u8; 8],
        version: u32,
        nonce: Nonce,
    },
    Challenge {
        nonce: Nonce,
        tag: Tag,
    },
    Response {
        tag: Tag,
    },
    Ok,
    Reject(Reject),
}

/// Why a side gave up, told to the peer; fixed codes, so nothing the peer sends
/// ends up in our logs as free text.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum Reject {
    Version {
        supported: u32,
    },
    Auth,
    Protocol,
    /// A plaintext hello reached a listener that requires TLS.
    TlsRequired,
    /// A TLS client hello reached a plaintext listener.
    TlsUnexpected,
}

/// Authenticates the connecting side of `s`: sends the hello, checks the acceptor's
/// proof of the secret, proves it in turn and waits for the acceptor's `Ok`.
///
/// # Errors
/// [`WireError::Auth`] if the acceptor does not know the secret or rejects ours,
/// [`WireError::Refused`] on a protocol version mismatch, [`WireError::Timeout`]
/// after [`Limits::handshake_timeout`], and frame or decode errors on garbage.
pub async fn handshake_initiator<S: AsyncRead + AsyncWrite + Unpin>(
    s: &mut S,
    secret: &Secret,
    limits: &Limits,
) -> Result<(), WireError> {
    tokio::time::timeout(limits.handshake_timeout, initiator(s, secret, None, limits))
        .await
        .map_err(|_| WireError::Timeout)?
}

/// Authenticates the accepting side of `s`: checks the hello's version, proves the
/// secret, checks the initiator's proof and sends `Ok`.
///
/// # Errors
/// [`WireError::Auth`] if the initiator's proof does not match the secret or it
/// rejects ours, [`WireError::Refused`] on a protocol version mismatch,
/// [`WireError::Timeout`] after [`Limits::handshake_timeout`], and frame or decode
/// errors on garbage.
pub async fn handshake_acceptor<S: AsyncRead + AsyncWrite + Unpin>(
    s: &mut S,
    secret: &Secret,
    limits: &Limits,
) -> Result<(), WireError> {
    tokio::time::timeout(limits.handshake_timeout, acceptor(s, secret, None, limits))
        .await
        .map_err(|_| WireError::Timeout)?
}

/// The initiator's side; with `binding`, both tags also cover the TLS exporter value.
pub(crate) async fn initiator<S: AsyncRead + AsyncWrite + Unpin>(
    s: &mut S,
    secret: &Secret,
    binding: Option<&Binding>,
    limits: &Limits,
) -> Result<(), WireError> {
    let nonce_i = nonce()?;
    send(
        s,
        &Hs::Hello {
            magic: MAGIC,
            version: PROTOCOL_VERSION,
            nonce: nonce_i,
        },
    )
    .await?;
    let (nonce_a, tag_a) = match recv(s, limits).await? {
        Hs::Challenge { nonce, tag } => (nonce, tag),
        other => return Err(unexpected("challenge", &other)),
    };
    // A peer echoing our own nonce is a mirror, not an acceptor.
    if nonce_a == nonce_i || !verify(secret, ACCEPTOR_LABEL, binding, &nonce_i, &nonce_a, &tag_a) {
        reject(s, Reject::Auth).await;
        return Err(WireError::Auth(
            "the acceptor's proof does not match our secret".into(),
        ));
    }
    let tag_i = mac(secret, INITIATOR_LABEL, binding, &nonce_i, &nonce_a);
    send(s, &Hs::Response { tag: tag_i }).await?;
    match recv(s, limits).await? {
        Hs::Ok => Ok(()),
        other => Err(unexpected("ok", &other)),
    }
}

/// The acceptor's side; with `binding`, both tags also cover the TLS exporter value.
pub(crate) async fn acceptor<S: AsyncRead + AsyncWrite + Unpin>(
    s: &mut S,
    secret: &Secret,
    binding: Option<&Binding>,
    limits: &Limits,
) -> Result<(), WireError> {
    let nonce_i = match recv(s, limits).await? {
        Hs::Hello {
            magic,
            version,
            nonce,
        } => {
            if magic != MAGIC {
                reject(s, Reject::Protocol).await;
                return Err(WireError::Auth("hello without the darray magic".into()));
            }
            if version != PROTOCOL_VERSION {
                reject(
                    s,
                    Reject::Version {
                        supported: PROTOCOL_VERSION,
                    },
                )
                .await;
                return Err(WireError::Refused(format!(
                    "peer speaks protocol version {version}, this side {PROTOCOL_VERSION}"
                )));
            }
            nonce
        }
        other => return Err(unexpected("hello", &other)),
    };
    let nonce_a = nonce()?;
    let tag_a = mac(secret, ACCEPTOR_LABEL, binding, &nonce_i, &nonce_a);
    send(
        s,
        &Hs::Challenge {
            nonce: nonce_a,
            tag: tag_a,
        },
    )
    .await?;
    let tag_i = match recv(s, limits).await? {
        Hs::Response { tag } => tag,
        other => return Err(unexpected("response", &other)),
    };
    if !verify(secret, INITIATOR_LABEL, binding, &nonce_i, &nonce_a, &tag_i) {
        reject(s, Reject::Auth).await;
        return Err(WireError::Auth(
            "the initiator's proof does not match our secret".into(),
        ));
    }
    send(s, &Hs::Ok).await
}

async fn send<S: AsyncWrite + Unpin>(s: &mut S, msg: &Hs) -> Result<(), WireError> {
    write_frame(s, FrameKind::Control, &encode(msg)?).await
}

async fn recv<S: AsyncRead + Unpin>(s: &mut S, limits: &Limits) -> Result<Hs, WireError> {
    let frame = read_frame(s, limits, false).await?;
    debug_assert_eq!(frame.kind, FrameKind::Control, "read_frame refuses chunks");
    decode(&frame.payload)
}

/// Tells the peer why we give up; best effort, since we close either way.
pub(crate) async fn reject<S: AsyncWrite + Unpin>(s: &mut S, why: Reject) {
    let _ = send(s, &Hs::Reject(why)).await;
}

/// The error for a message other than the one the state machine waits for; a
/// `Reject` from the peer says why it gave up.
fn unexpected(wanted: &str, got: &Hs) -> WireError {
    match got {
        Hs::Reject(Reject::Version { supported }) => WireError::Refused(format!(
            "peer speaks protocol version {supported}, this side {PROTOCOL_VERSION}"
        )),
        Hs::Reject(Reject::Auth) => {
            WireError::Auth("the peer rejected our proof: the secrets differ".into())
        }
        Hs::Reject(Reject::Protocol) => WireError::Auth("the peer rejected our hello".into()),
        Hs::Reject(Reject::TlsRequired) => WireError::Tls(
            "the peer requires TLS and this side has none configured: give both sides the \
             same --tls-cert/--tls-key/--tls-ca (or DARRAY_TLS_CERT/KEY/CA), or neither"
                .into(),
        ),
        Hs::Reject(Reject::TlsUnexpected) => WireError::Tls(
            "the peer took our hello for TLS: a plaintext listener with TLS on this side only"
                .into(),
        ),
        other => WireError::Auth(format!(
            "expected {wanted}, got {}",
            match other {
                Hs::Hello { .. } => "hello",
                Hs::Challenge { .. } => "challenge",
                Hs::Response { .. } => "response",
                Hs::Ok => "ok",
                Hs::Reject(_) => "reject",
            }
        )),
    }
}

fn nonce() -> Result<Nonce, WireError> {
    let mut n = [0u8; 32];
    getrandom::fill(&mut n).map_err(|e| std::io::Error::other(format!("getrandom: {e}")))?;
    Ok(n)
}

fn hmac_over(
    secret: &Secret,
    label: &[u8],
    binding: Option<&Binding>,
    nonce_i: &Nonce,
    nonce_a: &Nonce,
) -> Hmac<Sha256> {
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(secret.bytes())
        .expect("HMAC accepts keys of any length");
    // Fields are fixed-length except the label, and the two labels are distinct and
    // neither is a prefix of the other, so the concatenation is unambiguous.
    m.update(label);
    m.update(&PROTOCOL_VERSION.to_le_bytes());
    m.update(nonce_i);
    m.update(nonce_a);
    // Without TLS the input is exactly as before; with it, the fixed-length exporter
    // value follows its own label, still unambiguous.
    if let Some(b) = binding {
        m.update(BINDING_LABEL);
        m.update(b);
    }
    m
}

fn mac(
    secret: &Secret,
    label: &[u8],
    binding: Option<&Binding>,
    nonce_i: &Nonce,
    nonce_a: &Nonce,
) -> Tag {
    hmac_over(secret, label, binding, nonce_i, nonce_a)
        .finalize()
        .into_bytes()
        .into()
}

fn verify(
    secret: &Secret,
    label: &[u8],
    binding: Option<&Binding>,
    nonce_i: &Nonce,
    nonce_a: &Nonce,
    tag: &Tag,
) -> bool {
    hmac_over(secret, label, binding, nonce_i, nonce_a)
        .verify_slice(tag)
        .is_ok()
}

#[cfg(test)]
mod tests;
