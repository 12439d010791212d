//! Optional TLS for every connection darray makes: the scheduler port, the worker
//! peer port, clients and peer fetches.
//!
//! - [`TlsConfig`]: one process's certificate, key and cluster CA (PEM files), turned
//!   into rustls server and client configs: TLS 1.3 only, the `ring` provider, and
//!   mutual TLS (every peer presents a certificate signed by the cluster CA; the
//!   server's must also name the address dialled, or [`TlsConfig::with_server_name`]).
//! - [`Stream`]: a TCP connection, plain or TLS, as the rest of the distributed
//!   code sees it; split into [`ReadHalf`] and [`WriteHalf`] for a reader task and
//!   a writer task.
//! - [`ClusterCa`]: a CA and leaf certificates generated with `rcgen`, as
//!   `LocalCluster::builder(n).tls(true)` uses.
//!
//! The HMAC handshake ([`super::auth`]) still runs on top of TLS, and over TLS it is
//! bound to the session by rustls' keying-material exporter. Who may connect stays
//! the secret's business; TLS adds secrecy and integrity after the handshake.

mod config;
mod generate;
mod stream;

pub use config::{TlsConfig, TlsFiles};
pub use generate::ClusterCa;
pub use stream::{CappedTcp, ReadHalf, Stream, WriteHalf, TLS_PREAUTH_BYTES};

pub(crate) use stream::{accept, connect, TLS_HANDSHAKE_RECORD};
