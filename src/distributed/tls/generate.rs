//! A certificate authority generated for one cluster, and leaf certificates from it.

use super::TlsFiles;
use crate::distributed::wire::WireError;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use std::fmt;
use std::io::Write;
use std::path::Path;

/// A CA made for one cluster (an ECDSA P-256 key, valid from the start of last
/// year to the start of the year after next), which issues the leaf certificates
/// its processes present. Its `Debug` shows no key.
pub struct ClusterCa {
    cert_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl fmt::Debug for ClusterCa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClusterCa(<key redacted>)")
    }
}

fn rcgen_err(what: &str) -> impl Fn(rcgen::Error) -> WireError + '_ {
    move |e| WireError::Tls(format!("generating {what}: {e}"))
}

/// Validity from January 1 of last year to January 1 of the year after next, so
/// clock skew between hosts does not matter and a leaked key does not last.
fn validity(params: &mut CertificateParams) {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    // Mean Gregorian year; off by at most a day, which the margins absorb.
    let year = 1970 + i32::try_from(secs / 31_556_952).unwrap_or(0);
    params.not_before = rcgen::date_time_ymd(year - 1, 1, 1);
    params.not_after = rcgen::date_time_ymd(year + 2, 1, 1);
}

impl ClusterCa {
    /// A new CA with a fresh key.
    ///
    /// # Errors
    /// [`WireError::Tls`] if key generation or signing fails.
    pub fn generate() -> Result<ClusterCa, WireError> {
        let mut params = CertificateParams::new(Vec::<String>::new()).map_err(rcgen_err("CA"))?;
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params
            .distinguished_name
            .push(DnType::CommonName, "darray cluster CA");
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        validity(&mut params);
        let key = KeyPair::generate().map_err(rcgen_err("CA key"))?;
        let cert = params.self_signed(&key).map_err(rcgen_err("CA"))?;
        Ok(ClusterCa {
            cert_pem: cert.pem(),
            issuer: Issuer::new(params, key),
        })
    }

    /// Issues a certificate for `hosts` (IP addresses or DNS names), good for
    /// both server and client authentication, and writes `ca.pem`, `<name>.pem`
    /// and `<name>.key` into `dir`, each readable by the owner only (mode 0600).
    ///
    /// # Errors
    /// [`WireError::Tls`] for a host that is neither an IP address nor a DNS name,
    /// or a file that cannot be written (naming it).
    pub fn issue(&self, dir: &Path, name: &str, hosts: &[&str]) -> Result<TlsFiles, WireError> {
        let names: Vec<String> = hosts.iter().map(|h| (*h).to_owned()).collect();
        let mut params = CertificateParams::new(names).map_err(rcgen_err("leaf certificate"))?;
        params
            .distinguished_name
            .push(DnType::CommonName, format!("darray {name}"));
        params.use_authority_key_identifier_extension = true;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        validity(&mut params);
        let key = KeyPair::generate().map_err(rcgen_err("leaf key"))?;
        let cert = params
            .signed_by(&key, &self.issuer)
            .map_err(rcgen_err("leaf certificate"))?;
        let files = TlsFiles {
            cert: dir.join(format!("{name}.pem")),
            key: dir.join(format!("{name}.key")),
            ca: dir.join("ca.pem"),
        };
        write_private(&files.ca, self.cert_pem.as_bytes())?;
        write_private(&files.cert, cert.pem().as_bytes())?;
        let key_pem = zeroize::Zeroizing::new(key.serialize_pem());
        write_private(&files.key, key_pem.as_bytes())?;
        Ok(files)
    }

    /// [`ClusterCa::issue`] for this machine: `127.0.0.1`, `::1` and `localhost`.
    ///
    /// # Errors
    /// As [`ClusterCa::issue`].
    pub fn issue_local(&self, dir: &Path, name: &str) -> Result<TlsFiles, WireError> {
        self.issue(dir, name, &["127.0.0.1", "::1", "localhost"])
    }
}

/// Writes `bytes` to `path` through a new mode-0600 file renamed into place, so no
/// reader sees it with wider permissions or half written.
fn write_private(path: &Path, bytes: &[u8]) -> Result<(), WireError> {
    let err = |e: std::io::Error| WireError::Tls(format!("cannot write {}: {e}", path.display()));
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".tmp-{}", std::process::id()));
    let tmp = std::path::PathBuf::from(tmp);
    let mut opts = std::fs::OpenOptions::new();
    // A stale temporary file from a crashed run may have other permissions.
    let _ = std::fs::remove_file(&tmp);
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let result = (|| {
        let mut f = opts.open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(err)
}
