//! TEMPORARY stub of the auth layer (replaced by branch `wire`).
#![allow(missing_docs)]
use super::wire::{Limits, WireError};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::{TcpListener, TcpStream};

pub struct Secret(Vec<u8>);
impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}
impl Secret {
    pub fn generate() -> Secret {
        let mut b = vec![0u8; 32];
        getrandom::fill(&mut b).unwrap();
        Secret(b)
    }
    pub fn from_bytes(b: &[u8]) -> Result<Secret, WireError> {
        Ok(Secret(b.to_vec()))
    }
    pub fn from_file(path: &std::path::Path) -> Result<Secret, WireError> {
        Ok(Secret(std::fs::read(path)?))
    }
    pub fn write_file(&self, path: &std::path::Path) -> Result<(), WireError> {
        std::fs::write(path, &self.0)?;
        Ok(())
    }
    pub fn from_env() -> Result<Option<Secret>, WireError> {
        if let Ok(p) = std::env::var("DARRAY_SECRET_FILE") {
            return Secret::from_file(std::path::Path::new(&p)).map(Some);
        }
        Ok(std::env::var("DARRAY_SECRET")
            .ok()
            .map(|s| Secret(s.into_bytes())))
    }
}
pub async fn handshake_initiator<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(
    _s: &mut S,
    _secret: &Secret,
    _limits: &Limits,
) -> Result<(), WireError> {
    Ok(())
}
pub async fn handshake_acceptor<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(
    _s: &mut S,
    _secret: &Secret,
    _limits: &Limits,
) -> Result<(), WireError> {
    Ok(())
}
pub fn check_listen(_addr: &SocketAddr, _secret: Option<&Secret>) -> Result<(), WireError> {
    Ok(())
}
pub struct Admission;
pub async fn serve<F, Fut>(listener: TcpListener, _secret: Arc<Secret>, _limits: Limits, on_conn: F)
where
    F: Fn(TcpStream, SocketAddr, Admission) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let on_conn = Arc::new(on_conn);
    loop {
        let Ok((s, a)) = listener.accept().await else {
            continue;
        };
        let f = on_conn.clone();
        tokio::spawn(async move { f(s, a, Admission).await });
    }
}
pub async fn connect(
    addr: SocketAddr,
    _secret: &Secret,
    _limits: &Limits,
) -> Result<TcpStream, WireError> {
    Ok(TcpStream::connect(addr).await?)
}
