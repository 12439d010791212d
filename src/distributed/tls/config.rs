//! Loading a process's TLS material from PEM files into rustls configs.

use crate::distributed::wire::WireError;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use std::fmt;
use std::io::Read;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Largest PEM file read; a bigger one is almost certainly the wrong path.
const MAX_PEM_LEN: u64 = 1 << 20;

/// Where one process's TLS material lives: PEM files.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsFiles {
    /// This process's certificate chain (leaf first). It serves as both server and
    /// client certificate, so it must allow both uses (or name no extended key use).
    pub cert: PathBuf,
    /// The private key of `cert` (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
    /// The cluster CA: peers' certificates must chain to one of these.
    pub ca: PathBuf,
}

impl TlsFiles {
    /// The files named by `DARRAY_TLS_CERT`, `DARRAY_TLS_KEY` and `DARRAY_TLS_CA`, or
    /// `None` if none is set.
    ///
    /// # Errors
    /// [`WireError::Tls`] if some but not all three are set.
    pub fn from_env() -> Result<Option<TlsFiles>, WireError> {
        let vars = ["DARRAY_TLS_CERT", "DARRAY_TLS_KEY", "DARRAY_TLS_CA"];
        let [cert, key, ca] = vars.map(std::env::var_os);
        match (cert, key, ca) {
            (None, None, None) => Ok(None),
            (Some(cert), Some(key), Some(ca)) => Ok(Some(TlsFiles {
                cert: cert.into(),
                key: key.into(),
                ca: ca.into(),
            })),
            _ => Err(WireError::Tls(format!(
                "set all of {} or none",
                vars.join(", ")
            ))),
        }
    }
}

/// TLS settings for every connection of one process: TLS 1.3 only, mutual (each side
/// presents a certificate signed by the cluster CA), `ring` as the crypto provider.
///
/// The certificate a server presents must be valid for the IP address the client
/// dialled (an IP subject alternative name), unless
/// [`TlsConfig::with_server_name`] names one DNS name every cluster certificate
/// carries. Cheap to clone.
#[derive(Clone)]
pub struct TlsConfig {
    server: Arc<ServerConfig>,
    client: Arc<ClientConfig>,
    server_name: Option<ServerName<'static>>,
    files: TlsFiles,
}

impl fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsConfig")
            .field("files", &self.files)
            .field("server_name", &self.server_name)
            .finish_non_exhaustive()
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

impl TlsConfig {
    /// Reads the certificate chain, key and CA from `files` and builds the configs.
    ///
    /// # Errors
    /// [`WireError::Tls`] naming the file: missing or unreadable, over 1 MiB, without
    /// a PEM certificate (or key), or a key that does not match the certificate.
    pub fn from_files(files: &TlsFiles) -> Result<TlsConfig, WireError> {
        let chain = read_certs(&files.cert, "certificate")?;
        let key = read_key(&files.key)?;
        let mut roots = RootCertStore::empty();
        for ca in read_certs(&files.ca, "CA")? {
            roots
                .add(ca)
                .map_err(|e| WireError::Tls(format!("CA file {}: {e}", files.ca.display())))?;
        }
        let roots = Arc::new(roots);
        let tls = |what: &str, e: rustls::Error| {
            WireError::Tls(format!(
                "{what} ({}, {}): {e}",
                files.cert.display(),
                files.key.display()
            ))
        };
        let verifier = WebPkiClientVerifier::builder_with_provider(roots.clone(), provider())
            .build()
            .map_err(|e| WireError::Tls(format!("CA file {}: {e}", files.ca.display())))?;
        let server = ServerConfig::builder_with_provider(provider())
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(|e| tls("server config", e))?
            .with_client_cert_verifier(verifier)
            .with_single_cert(chain.clone(), key.clone_key())
            .map_err(|e| tls("server certificate", e))?;
        let client = ClientConfig::builder_with_provider(provider())
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(|e| tls("client config", e))?
            .with_root_certificates(roots)
            .with_client_auth_cert(chain, key)
            .map_err(|e| tls("client certificate", e))?;
        Ok(TlsConfig {
            server: Arc::new(server),
            client: Arc::new(client),
            server_name: None,
            files: files.clone(),
        })
    }

    /// The config from the files named by `DARRAY_TLS_CERT`, `DARRAY_TLS_KEY` and
    /// `DARRAY_TLS_CA` (all three, or none for `Ok(None)`); with
    /// `DARRAY_TLS_SERVER_NAME` set, as [`TlsConfig::with_server_name`].
    ///
    /// # Errors
    /// As [`TlsFiles::from_env`] and [`TlsConfig::from_files`].
    pub fn from_env() -> Result<Option<TlsConfig>, WireError> {
        let Some(files) = TlsFiles::from_env()? else {
            return Ok(None);
        };
        let config = TlsConfig::from_files(&files)?;
        match std::env::var("DARRAY_TLS_SERVER_NAME") {
            Ok(name) => config.with_server_name(&name).map(Some),
            Err(std::env::VarError::NotPresent) => Ok(Some(config)),
            Err(e) => Err(WireError::Tls(format!("DARRAY_TLS_SERVER_NAME: {e}"))),
        }
    }

    /// Checks servers' certificates against the DNS name `name` instead of the IP
    /// address dialled: one name all of the cluster's certificates carry, for
    /// clusters whose addresses are not known when the certificates are made.
    ///
    /// # Errors
    /// [`WireError::Tls`] if `name` is not a valid DNS name or IP address.
    pub fn with_server_name(mut self, name: &str) -> Result<TlsConfig, WireError> {
        let name = ServerName::try_from(name.to_owned())
            .map_err(|e| WireError::Tls(format!("server name {name:?}: {e}")))?;
        self.server_name = Some(name);
        Ok(self)
    }

    /// The files this config was read from.
    #[must_use]
    pub fn files(&self) -> &TlsFiles {
        &self.files
    }

    pub(super) fn server_config(&self) -> Arc<ServerConfig> {
        Arc::clone(&self.server)
    }

    pub(super) fn client_config(&self) -> Arc<ClientConfig> {
        Arc::clone(&self.client)
    }

    /// The name a server at `addr` must prove.
    pub(super) fn server_name(&self, addr: SocketAddr) -> ServerName<'static> {
        self.server_name
            .clone()
            .unwrap_or_else(|| ServerName::IpAddress(addr.ip().to_canonical().into()))
    }
}

/// The bytes of a PEM file, refused past [`MAX_PEM_LEN`]; errors name the file.
fn read_pem(path: &Path, what: &str) -> Result<Vec<u8>, WireError> {
    let err = |e: std::io::Error| WireError::Tls(format!("{what} file {}: {e}", path.display()));
    let file = std::fs::File::open(path).map_err(err)?;
    let meta = file.metadata().map_err(err)?;
    if !meta.is_file() || meta.len() > MAX_PEM_LEN {
        return Err(WireError::Tls(format!(
            "{what} file {}: not a regular file of at most {MAX_PEM_LEN} bytes",
            path.display()
        )));
    }
    let mut buf = Vec::new();
    file.take(MAX_PEM_LEN).read_to_end(&mut buf).map_err(err)?;
    Ok(buf)
}

fn read_certs(path: &Path, what: &str) -> Result<Vec<CertificateDer<'static>>, WireError> {
    let pem = read_pem(path, what)?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| WireError::Tls(format!("{what} file {}: {e}", path.display())))?;
    if certs.is_empty() {
        return Err(WireError::Tls(format!(
            "{what} file {}: no PEM certificate in it",
            path.display()
        )));
    }
    Ok(certs)
}

/// Reads the private key. A key that group or others can read is accepted
/// (Kubernetes mounts secrets 0644 unless told otherwise) with a warning; the
/// cluster secret, which alone admits a peer, is refused in that case.
fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, WireError> {
    #[cfg(unix)]
    if let Ok(meta) = std::fs::metadata(path) {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o7777;
        if mode & 0o077 != 0 {
            tracing::warn!(
                "TLS key file {} has mode {mode:04o}: others on this host can read it; \
                 chmod 600 it (in Kubernetes, defaultMode: 0400 on the secret volume)",
                path.display()
            );
        }
    }
    let pem = zeroize::Zeroizing::new(read_pem(path, "key")?);
    PrivateKeyDer::from_pem_slice(&pem).map_err(|e| {
        WireError::Tls(format!(
            "key file {}: no usable PEM private key ({e})",
            path.display()
        ))
    })
}
