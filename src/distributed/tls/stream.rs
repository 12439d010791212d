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

/// Bytes a TLS listener reads from a peer before it has authenticated (the
/// TLS handshake and darray's HMAC handshake together): plenty for a
/// ClientHello and a client certificate chain of a few certificates, and a
/// bound on what rustls buffers for a stranger (it would otherwise join
/// handshake messages of up to 64 KiB).
pub const TLS_PREAUTH_BYTES: usize = 16 << 10;

/// An authenticated connection as the scheduler, workers and clients use it: plain
/// TCP, or TLS 1.3 over TCP.
#[derive(Debug)]
pub enum Stream {
    /// Plain TCP.
    Plain(TcpStream),
    /// TLS, this side having connected.
    Client(Box<client::TlsStream<TcpStream>>),
    /// TLS, this side having accepted (reads capped until authenticated).
    Server(Box<server::TlsStream<CappedTcp>>),
}

/// A TCP stream that reads at most a budget of bytes until the budget is lifted:
/// what a TLS listener's rustls reads from a peer that has not authenticated.
/// Past the budget, reads fail with [`io::ErrorKind::InvalidData`].
#[derive(Debug)]
pub struct CappedTcp {
    tcp: TcpStream,
    /// Bytes still allowed; `None` once lifted.
    left: Option<usize>,
}

impl CappedTcp {
    /// `tcp`, allowed to read `budget` bytes.
    #[must_use]
    pub fn new(tcp: TcpStream, budget: usize) -> Self {
        CappedTcp {
            tcp,
            left: Some(budget),
        }
    }

    /// Removes the budget (the peer has authenticated).
    pub fn lift(&mut self) {
        self.left = None;
    }
}

impl AsyncRead for CappedTcp {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let Some(left) = this.left else {
            return Pin::new(&mut this.tcp).poll_read(cx, buf);
        };
        if left == 0 {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "the peer sent more than the {TLS_PREAUTH_BYTES} bytes allowed before authentication"
                ),
            )));
        }
        // Through a small buffer, only during the handshakes.
        let mut tmp = [0u8; 1024];
        let want = left.min(tmp.len()).min(buf.remaining());
        let mut rb = ReadBuf::new(&mut tmp[..want]);
        match Pin::new(&mut this.tcp).poll_read(cx, &mut rb) {
            Poll::Ready(Ok(())) => {
                let n = rb.filled().len();
                buf.put_slice(rb.filled());
                this.left = Some(left - n);
                Poll::Ready(Ok(()))
            }
            other => other,
        }
    }
}

impl AsyncWrite for CappedTcp {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().tcp).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().tcp).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.tcp.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().tcp).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().tcp).poll_shutdown(cx)
    }
}

impl Stream {
    fn tcp(&self) -> &TcpStream {
        match self {
            Stream::Plain(s) => s,
            Stream::Client(s) => s.get_ref().0,
            Stream::Server(s) => &s.get_ref().0.tcp,
        }
    }

    /// Lifts the read budget of an accepted TLS connection ([`TLS_PREAUTH_BYTES`]):
    /// called once the peer has authenticated.
    pub(crate) fn authenticated(&mut self) {
        if let Stream::Server(s) = self {
            s.get_mut().0.lift();
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
        .accept(CappedTcp::new(tcp, TLS_PREAUTH_BYTES))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::distributed::tls::ClusterCa;
    use std::time::Duration;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// TLS handshake records of 4 KiB up to `total` bytes, starting a ClientHello that
    /// announces the largest handshake message rustls accepts (64 KiB), so
    /// rustls keeps buffering fragments until the whole message is there.
    fn records(total: usize) -> Vec<u8> {
        let mut out = Vec::new();
        let mut first = true;
        while out.len() < total {
            let len = 4_096usize;
            out.extend_from_slice(&[0x16, 0x03, 0x01]);
            out.extend_from_slice(&u16::try_from(len).unwrap().to_be_bytes());
            let mut body = vec![0x41u8; len];
            if first {
                body[..4].copy_from_slice(&[0x01, 0x00, 0xff, 0xff]);
                first = false;
            }
            out.extend_from_slice(&body);
        }
        out
    }

    async fn accept_from(bytes: Vec<u8>, budget_ok: bool) -> String {
        let dir = tempfile::tempdir().unwrap();
        let ca = ClusterCa::generate().unwrap();
        let tls = TlsConfig::from_files(&ca.issue_local(dir.path(), "s").unwrap()).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let client = tokio::spawn(async move {
            let mut c = TcpStream::connect(addr).await.unwrap();
            let _ = c.write_all(&bytes).await;
            // Hold the connection open (reading) until the server gives up.
            let mut sink = [0u8; 256];
            while matches!(c.read(&mut sink).await, Ok(n) if n > 0) {}
        });
        let (tcp, _) = listener.accept().await.unwrap();
        let res = tokio::time::timeout(Duration::from_secs(20), accept(tcp, &tls)).await;
        client.abort();
        match res {
            Ok(Err(e)) => e.to_string(),
            Ok(Ok(_)) => panic!("a junk handshake was accepted"),
            Err(_) => {
                assert!(budget_ok, "accept waited for more than the budget allows");
                "still waiting".into()
            }
        }
    }

    /// A stranger streaming handshake fragments is cut off once it has sent
    /// [`TLS_PREAUTH_BYTES`], although rustls would take 64 KiB for the message.
    #[tokio::test]
    async fn a_tls_listener_reads_at_most_the_preauth_budget() {
        let over = accept_from(records(TLS_PREAUTH_BYTES + 20_000), false).await;
        assert!(over.contains("allowed before authentication"), "{over}");
        // Under the budget, the same fragments are still a handshake in progress.
        let under = tokio::time::timeout(
            Duration::from_secs(1),
            accept_from(records(TLS_PREAUTH_BYTES / 2), true),
        )
        .await;
        assert!(
            under.is_err(),
            "under the budget the handshake still waits: {under:?}"
        );
    }
}
