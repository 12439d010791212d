//! The shared secret: where it comes from (random, a file, the environment) and how
//! it is kept (never printed, zeroed when dropped).

use crate::distributed::wire::WireError;
use std::fmt;
use std::io::{Read, Write};
use std::path::Path;
use zeroize::{Zeroize, Zeroizing};

/// Fewest bytes a secret may have.
const MIN_LEN: usize = 16;
/// Random bytes in a generated secret (written as twice as many hex digits).
const GENERATED_LEN: usize = 32;
/// Largest secret file read; a bigger one is almost certainly the wrong path.
const MAX_FILE_LEN: u64 = 64 * 1024;

/// The secret a scheduler and its workers share. Its `Debug` shows
/// `Secret(<redacted>)`; it has no `Display`; its bytes are zeroed on drop.
pub struct Secret(Box<[u8]>);

impl Secret {
    /// 32 bytes from the operating system's random source, as 64 lowercase hex
    /// digits: printable, so the secret reads back from its file (whose one
    /// trailing newline [`Secret::from_file`] drops: raw bytes ending in `\n`, one
    /// generated secret in 256, did not) and fits in `DARRAY_SECRET`.
    ///
    /// # Panics
    /// If the OS random source fails, which on supported platforms it does not once
    /// the system has booted.
    #[must_use]
    pub fn generate() -> Secret {
        let mut b = Zeroizing::new([0u8; GENERATED_LEN]);
        getrandom::fill(&mut *b).expect("the OS random source is available");
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let hex: Vec<u8> = b
            .iter()
            .flat_map(|&x| [HEX[usize::from(x >> 4)], HEX[usize::from(x & 15)]])
            .collect();
        Secret(hex.into_boxed_slice())
    }

    /// A secret from raw bytes.
    ///
    /// # Errors
    /// [`WireError::Refused`] if `b` has fewer than 16 bytes.
    pub fn from_bytes(b: &[u8]) -> Result<Secret, WireError> {
        if b.len() < MIN_LEN {
            return Err(WireError::Refused(format!(
                "secret of {} bytes; at least {MIN_LEN} needed",
                b.len()
            )));
        }
        Ok(Secret(b.into()))
    }

    /// The raw contents of a file, less one trailing newline (`\n` or `\r\n`).
    ///
    /// On Unix the file must be a regular file that neither group nor others may
    /// access (mode 0600 or 0400), as ssh insists for private keys.
    ///
    /// # Errors
    /// [`WireError::Refused`] for a file others may access (naming the path and the
    /// mode), a file that is not regular, or too short or over 64 KiB;
    /// [`WireError::Io`], naming the path, if it cannot be read.
    pub fn from_file(path: &Path) -> Result<Secret, WireError> {
        let io_err = |e: std::io::Error| {
            WireError::Io(std::io::Error::new(
                e.kind(),
                format!("secret file {}: {e}", path.display()),
            ))
        };
        let file = std::fs::File::open(path).map_err(io_err)?;
        // Checked on the open file, not the path, so the file read is the file checked.
        let meta = file.metadata().map_err(io_err)?;
        if !meta.is_file() {
            return Err(WireError::Refused(format!(
                "secret file {} is not a regular file",
                path.display()
            )));
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = meta.permissions().mode() & 0o7777;
            if mode & 0o077 != 0 {
                return Err(WireError::Refused(format!(
                    "secret file {} has mode {mode:04o}; group and others must have no \
                     access (chmod 600 {})",
                    path.display(),
                    path.display()
                )));
            }
        }
        if meta.len() > MAX_FILE_LEN {
            return Err(WireError::Refused(format!(
                "secret file {} has {} bytes; at most {MAX_FILE_LEN} allowed",
                path.display(),
                meta.len()
            )));
        }
        let mut buf = Zeroizing::new(Vec::new());
        file.take(MAX_FILE_LEN)
            .read_to_end(&mut buf)
            .map_err(io_err)?;
        let mut body: &[u8] = &buf;
        if let Some(rest) = body.strip_suffix(b"\n") {
            body = rest.strip_suffix(b"\r").unwrap_or(rest);
        }
        Secret::from_bytes(body).map_err(|e| match e {
            WireError::Refused(why) => {
                WireError::Refused(format!("secret file {}: {why}", path.display()))
            }
            other => other,
        })
    }

    /// Writes the secret's bytes to `path` (replacing any file there), readable and
    /// writable by the owner only.
    ///
    /// The bytes go to a new file in the same directory, created with mode 0600 and
    /// renamed over `path`, so no reader ever sees the file with wider permissions or
    /// half written.
    ///
    /// # Errors
    /// [`WireError::Io`], naming the path, if the file cannot be created, written or
    /// renamed; [`WireError::Refused`] for a secret ending in a newline, which
    /// [`Secret::from_file`] would not read back whole.
    pub fn write_file(&self, path: &Path) -> Result<(), WireError> {
        let io_err = |e: std::io::Error| {
            WireError::Io(std::io::Error::new(
                e.kind(),
                format!("secret file {}: {e}", path.display()),
            ))
        };
        if self.0.ends_with(b"\n") {
            return Err(WireError::Refused(format!(
                "secret file {}: a secret ending in a newline would not read back whole",
                path.display()
            )));
        }
        let name = path.file_name().ok_or_else(|| {
            io_err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "path has no file name",
            ))
        })?;
        let mut suffix = [0u8; 8];
        getrandom::fill(&mut suffix).map_err(|e| io_err(std::io::Error::other(e.to_string())))?;
        let mut tmp_name = std::ffi::OsString::from(".");
        tmp_name.push(name);
        tmp_name.push(format!(".tmp-{:016x}", u64::from_le_bytes(suffix)));
        let tmp = path.with_file_name(tmp_name);

        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        let result = (|| {
            let mut f = opts.open(&tmp)?;
            f.write_all(&self.0)?;
            f.sync_all()?;
            std::fs::rename(&tmp, path)
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result.map_err(io_err)
    }

    /// The secret named by the environment: the file at `DARRAY_SECRET_FILE` (checked
    /// as [`Secret::from_file`]) if set, else the bytes of `DARRAY_SECRET` if set.
    ///
    /// # Errors
    /// As [`Secret::from_file`] and [`Secret::from_bytes`]: a variable that is set
    /// but unusable (an empty one included) is an error, never silently "no secret".
    pub fn from_env() -> Result<Option<Secret>, WireError> {
        if let Some(path) = std::env::var_os("DARRAY_SECRET_FILE") {
            return Secret::from_file(Path::new(&path)).map(Some);
        }
        match std::env::var_os("DARRAY_SECRET") {
            Some(value) => {
                let value = Zeroizing::new(value.into_encoded_bytes());
                Secret::from_bytes(&value).map(Some).map_err(|e| match e {
                    WireError::Refused(why) => WireError::Refused(format!("DARRAY_SECRET: {why}")),
                    other => other,
                })
            }
            None => Ok(None),
        }
    }

    /// The raw bytes, for the handshake's HMAC.
    pub(super) fn bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}
