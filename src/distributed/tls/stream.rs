//! A connection that is plain TCP or TLS over TCP, and its two halves.

use super::TlsConfig;
use crate::distributed::auth::{Binding, EXPORTER_LABEL};
use crate::distributed::wire::WireError;
use std::io::{self, IoSlice};
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{tcp, TcpStream};
use tokio_rustls::{client, server, TlsAcceptor, TlsConnector};

/// The first byte of every TLS connection: a handshake record (RFC 8446 section 5.1).
/// darray's frames start with kind byte 0 or 1, so one byte tells them apart.
pub(crate) const TLS_HANDSHAKE_RECORD: u8 = 0x16;

/// An authenticated connection as the scheduler, workers and clients use it: plain
/// TCP, or TLS 1.3 over TCP.
#[derive(Debug)]
pub enum Stream {
    /// Plain TCP.
    Plain(TcpStream),
    /// TLS, this side having connected.
    Client(Box<client::TlsStream<TcpStream>>),
    /// TLS, this side having accepted.
    Server(Box<server::TlsStream<TcpStream>>),
}

impl Stream {
    fn tcp(&self) -> &TcpStream {
        match self {
            Stream::Plain(s) => s,
            Stream::Client(s) => s.get_ref().0,
            Stream::Server(s) => s.get_ref().0,
        }
    }

    /// Whether the connection runs over TLS.
    #[must_use]
    pub fn is_tls(&self) -> bool {
        !matches!(self, Stream::Plain(_))
    }

    /// Sets `TCP_NODELAY` on the socket.
    ///
    /// # Errors
    /// As [`TcpStream::set_nodelay`].
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.tcp().set_nodelay(nodelay)
    }

    /// This end's socket address.
    ///
    /// # Errors
    /// As [`TcpStream::local_addr`].
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.tcp().local_addr()
    }

    /// The peer's socket address.
    ///
    /// # Errors
    /// As [`TcpStream::peer_addr`].
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.tcp().peer_addr()
    }

    /// The plain TCP stream, or `None` for a TLS connection.
    #[must_use]
    pub fn into_plain(self) -> Option<TcpStream> {
        match self {
            Stream::Plain(s) => Some(s),
            Stream::Client(_) | Stream::Server(_) => None,
        }
    }

    /// Splits into halves a reader task and a writer task can own. Plain TCP splits
    /// without a lock; TLS, whose state both directions share, through
    /// [`tokio::io::split`].
    #[must_use]
    pub fn into_split(self) -> (ReadHalf, WriteHalf) {
        match self {
            Stream::Plain(s) => {
                let (r, w) = s.into_split();
                (ReadHalf::Plain(r), WriteHalf::Plain(w))
            }
            tls => {
                let (r, w) = tokio::io::split(tls);
                (ReadHalf::Tls(r), WriteHalf::Tls(w))
            }
        }
    }

    /// For TLS, the 32 bytes both ends export from the session under
    /// [`EXPORTER_LABEL`], which the handshake's MACs cover; `None` for plain TCP.
    pub(crate) fn binding(&self) -> Result<Option<Binding>, WireError> {
        let out = [0u8; 32];
        let exported = match self {
            Stream::Plain(_) => return Ok(None),
            Stream::Client(s) => s
                .get_ref()
                .1
                .export_keying_material(out, EXPORTER_LABEL, None),
            Stream::Server(s) => s
                .get_ref()
                .1
                .export_keying_material(out, EXPORTER_LABEL, None),
        };
        exported
            .map(Some)
            .map_err(|e| WireError::Tls(format!("keying-material exporter: {e}")))
    }
}

/// Connects TLS over `tcp` to the server at `addr`.
///
/// # Errors
/// [`WireError::Tls`]: the server's certificate not signed by our CA or not valid
/// for `addr`, our certificate refused, or a plaintext listener on the other end
/// (said so).
pub(crate) async fn connect(
    tcp: TcpStream,
    addr: SocketAddr,
    tls: &TlsConfig,
) -> Result<Stream, WireError> {
    TlsConnector::from(tls.client_config())
        .connect(tls.server_name(addr), tcp)
        .await
        .map(|s| Stream::Client(Box::new(s)))
        .map_err(|e| {
            if is_plaintext_answer(&e) {
                WireError::Tls(format!(
                    "{addr} answered in plaintext: it is not a TLS listener, and TLS is \
                     configured on this side only; give both sides the same \
                     --tls-cert/--tls-key/--tls-ca, or neither"
                ))
            } else {
                WireError::Tls(format!("handshake with {addr}: {e}"))
            }
        })
}

/// Accepts TLS over `tcp`, requiring a client certificate signed by our CA.
///
/// # Errors
/// [`WireError::Tls`] if the TLS handshake fails (the client's certificate refused
/// among the reasons).
pub(crate) async fn accept(tcp: TcpStream, tls: &TlsConfig) -> Result<Stream, WireError> {
    TlsAcceptor::from(tls.server_config())
        .accept(tcp)
        .await
        .map(|s| Stream::Server(Box::new(s)))
        .map_err(|e| WireError::Tls(format!("handshake: {e}")))
}

/// A record whose content type is no TLS type: what a plaintext darray listener's
/// reply (kind byte 0) looks like to a TLS client.
fn is_plaintext_answer(e: &io::Error) -> bool {
    let inner = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>());
    matches!(
        inner,
        Some(rustls::Error::InvalidMessage(
            rustls::InvalidMessage::InvalidContentType
        ))
    )
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let r = match self.get_mut() {
            Stream::Plain(s) => return Pin::new(s).poll_read(cx, buf),
            Stream::Client(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Server(s) => Pin::new(s).poll_read(cx, buf),
        };
        // A peer that closes TCP without TLS close_notify (a dropped or killed
        // process) reads as end of stream, as on plain TCP. Truncation is still
        // caught: frames are length-prefixed, so an end inside a frame is an error.
        match r {
            Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::UnexpectedEof => Poll::Ready(Ok(())),
            other => other,
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Client(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Server(s) => Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Stream::Client(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Stream::Server(s) => Pin::new(s).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Stream::Plain(s) => s.is_write_vectored(),
            Stream::Client(s) => s.is_write_vectored(),
            Stream::Server(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Client(s) => Pin::new(s).poll_flush(cx),
            Stream::Server(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Client(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Server(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}

/// The reading half of a [`Stream`].
#[derive(Debug)]
pub enum ReadHalf {
    /// Plain TCP.
    Plain(tcp::OwnedReadHalf),
    /// TLS.
    Tls(tokio::io::ReadHalf<Stream>),
}

/// The writing half of a [`Stream`].
#[derive(Debug)]
pub enum WriteHalf {
    /// Plain TCP.
    Plain(tcp::OwnedWriteHalf),
    /// TLS.
    Tls(tokio::io::WriteHalf<Stream>),
}

impl AsyncRead for ReadHalf {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            ReadHalf::Plain(s) => Pin::new(s).poll_read(cx, buf),
            ReadHalf::Tls(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for WriteHalf {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            WriteHalf::Plain(s) => Pin::new(s).poll_write(cx, buf),
            WriteHalf::Tls(s) => Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            WriteHalf::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            WriteHalf::Tls(s) => Pin::new(s).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            WriteHalf::Plain(s) => s.is_write_vectored(),
            WriteHalf::Tls(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            WriteHalf::Plain(s) => Pin::new(s).poll_flush(cx),
            WriteHalf::Tls(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            WriteHalf::Plain(s) => Pin::new(s).poll_shutdown(cx),
            WriteHalf::Tls(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}
