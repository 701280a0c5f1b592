//! The HTTP transport's generated bearer token, in a file only its owner
//! can read.
//!
//! Why always a token: a loopback port is reachable by every local process
//! of every user (and by a browser page, which the `Origin` check stops),
//! and whoever reaches the server spends the workspace's credentials. So
//! when no token is configured, the server makes one at start: 32 random
//! bytes from the OS (`/dev/urandom`), as 64 hex digits, written to a file
//! created with mode 0600, whose path (never the token) is logged on
//! stderr. The client of the same user reads it from there.
//!
//! How the file is written: a new file is created next to it
//! (`create_new`, mode 0600, so it is ours and private from its first
//! byte), filled, synced, and renamed over the path; a symlink at the path
//! is replaced, never followed. The server refuses to start if the path
//! already holds something that is not a regular file, a file other users
//! may read or write (mode & 0o077), or a file of another user: someone may
//! have been reading tokens from it, or means to. A fresh token is written
//! at every start; a stale one in the file stops working.

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use crate::config::HttpToken;

/// Random bytes in a generated token.
pub const TOKEN_BYTES: usize = 32;

/// Why no token file could be written; the server does not start.
#[derive(Debug, thiserror::Error)]
pub enum TokenFileError {
    /// Reading randomness or writing the file failed.
    #[error("token file {path}: {source}")]
    Io {
        /// The path concerned.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The path exists with permissions wider than 0600.
    #[error("token file {path} exists with mode {mode:o}, readable or writable by other users: remove it or chmod 600 it")]
    TooOpen {
        /// The path.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The path is a symlink, a directory or another non-file.
    #[error("token file {0} exists and is not a regular file")]
    NotAFile(PathBuf),
    /// The path is another user's file.
    #[error("token file {0} belongs to another user")]
    NotOwned(PathBuf),
    /// Neither a path nor a place for the default one.
    #[error("no token file: set --token-file (or KEYBROKER_MCP_HTTP_TOKEN_FILE), XDG_RUNTIME_DIR or HOME")]
    NoPath,
    /// This platform has no Unix permissions to protect the file with.
    #[cfg(not(unix))]
    #[error("token files need a Unix platform: set KEYBROKER_MCP_HTTP_TOKEN")]
    Unsupported,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> TokenFileError + '_ {
    move |source| TokenFileError::Io {
        path: path.to_owned(),
        source,
    }
}

/// The default token file for a server on `port`:
/// `$XDG_RUNTIME_DIR/keybroker-mcp/http-PORT.token` (a per-user 0700
/// directory on systemd hosts), else `$HOME/.keybroker-mcp/http-PORT.token`.
/// The port keeps two servers of one user from overwriting each other's.
pub fn default_path(env: impl Fn(&str) -> Option<String>, port: u16) -> Option<PathBuf> {
    let dir = env("XDG_RUNTIME_DIR")
        .filter(|d| !d.is_empty())
        .map(|d| PathBuf::from(d).join("keybroker-mcp"))
        .or_else(|| {
            env("HOME")
                .filter(|d| !d.is_empty())
                .map(|d| PathBuf::from(d).join(".keybroker-mcp"))
        })?;
    Some(dir.join(format!("http-{port}.token")))
}

/// 32 random bytes as 64 lowercase hex digits.
fn random_hex() -> std::io::Result<String> {
    let mut bytes = [0u8; TOKEN_BYTES];
    fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Generate a token and write it to `path` (module docs); `make_dir`:
/// create the parent directory, mode 0700, if missing (the default path).
#[cfg(unix)]
pub fn generate(path: &Path, make_dir: bool) -> Result<HttpToken, TokenFileError> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
    let dir = path.parent().ok_or(TokenFileError::NoPath)?;
    if make_dir && !dir.exists() {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(io(dir))?;
    }
    let existing = match fs::symlink_metadata(path) {
        Ok(m) => Some(m),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(io(path)(e)),
    };
    if let Some(m) = &existing {
        if !m.file_type().is_file() {
            return Err(TokenFileError::NotAFile(path.to_owned()));
        }
        let mode = m.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(TokenFileError::TooOpen {
                path: path.to_owned(),
                mode,
            });
        }
    }
    let token = random_hex().map_err(io(path))?;
    let name = path
        .file_name()
        .ok_or(TokenFileError::NoPath)?
        .to_string_lossy();
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let written = (|| {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(token.as_bytes())?;
        f.sync_all()?;
        f.metadata()
    })();
    let cleanup = |e: TokenFileError| {
        let _ = fs::remove_file(&tmp);
        e
    };
    let ours = written.map_err(io(&tmp)).map_err(cleanup)?;
    if existing.is_some_and(|m| m.uid() != ours.uid()) {
        return Err(cleanup(TokenFileError::NotOwned(path.to_owned())));
    }
    fs::rename(&tmp, path).map_err(io(path)).map_err(cleanup)?;
    Ok(HttpToken::new(token))
}

/// Token files need Unix permissions.
#[cfg(not(unix))]
pub fn generate(_path: &Path, _make_dir: bool) -> Result<HttpToken, TokenFileError> {
    Err(TokenFileError::Unsupported)
}

#[cfg(test)]
mod tests;
