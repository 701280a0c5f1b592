//! Reading secret values and policy texts from a file or stdin, never argv
//! (argv lands in shell history and `ps`). Values are held in zeroizing
//! buffers from the first byte read: the buffer grows by copying into a new
//! zeroizing buffer and wiping the old one, never by `Vec`'s own reallocation
//! (which would leave unwiped copies on the heap).

use std::io::Read;
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use crate::error::CliError;

/// Largest secret the broker accepts (broker-core `MAX_SECRET_LEN`).
pub const MAX_VALUE_BYTES: usize = 64 * 1024;
/// Largest policy the broker accepts (broker-core `MAX_POLICY_BYTES`).
pub const MAX_POLICY_BYTES: usize = 64 * 1024;

/// Where a value or policy comes from.
#[derive(Debug, Clone)]
pub enum Source {
    /// Standard input, read to its end.
    Stdin,
    /// A file.
    File(PathBuf),
}

impl Source {
    /// From the pair of mutually exclusive flags (`--x-file`, `--x-stdin`);
    /// `None` when neither was given.
    pub fn from_flags(file: Option<PathBuf>, stdin: bool) -> Option<Self> {
        match (file, stdin) {
            (Some(p), _) => Some(Self::File(p)),
            (None, true) => Some(Self::Stdin),
            (None, false) => None,
        }
    }

    fn describe(&self) -> String {
        match self {
            Self::Stdin => "stdin".to_owned(),
            Self::File(p) => p.display().to_string(),
        }
    }
}

/// A secret value: UTF-8 (the wire is JSON), wiped on drop, never printed.
pub struct SecretText(Zeroizing<String>);

impl SecretText {
    /// The text, to serialize into the request.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for SecretText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretText(<redacted>)")
    }
}

/// Read a secret value from `source`. One trailing `\n` or `\r\n` is removed
/// (what `echo` and editors add); it must then be 1..=[`MAX_VALUE_BYTES`]
/// bytes of UTF-8. Errors never quote the content.
pub fn read_value(source: &Source) -> Result<SecretText, CliError> {
    read_text(source, MAX_VALUE_BYTES, "value").map(SecretText)
}

/// Read a Cedar policy text from `source` (not secret; same limits, checks
/// and newline handling as a value).
pub fn read_policy(source: &Source) -> Result<String, CliError> {
    read_text(source, MAX_POLICY_BYTES, "policy").map(|t| t.as_str().to_owned())
}

fn read_text(
    source: &Source,
    limit: usize,
    what: &'static str,
) -> Result<Zeroizing<String>, CliError> {
    let err = |reason: String| CliError::Input {
        what,
        origin: source.describe(),
        reason,
    };
    let bytes = match source {
        Source::Stdin => read_bounded(std::io::stdin().lock(), limit),
        Source::File(p) => open(p).and_then(|f| read_bounded(f, limit)),
    }
    .map_err(|e| err(e.to_string()))?;
    let mut bytes = bytes.ok_or_else(|| err(format!("more than {limit} bytes")))?;
    strip_one_newline(&mut bytes);
    if bytes.is_empty() {
        return Err(err("empty".to_owned()));
    }
    // Validate in place, then move the buffer into a String without a copy.
    if std::str::from_utf8(&bytes).is_err() {
        return Err(err("not UTF-8".to_owned()));
    }
    let vec = std::mem::take(&mut *bytes);
    match String::from_utf8(vec) {
        Ok(s) => Ok(Zeroizing::new(s)),
        // Unreachable after the check above; wipe and report all the same.
        Err(e) => {
            drop(Zeroizing::new(e.into_bytes()));
            Err(err("not UTF-8".to_owned()))
        }
    }
}

fn open(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::File::open(path)
}

fn strip_one_newline(bytes: &mut Zeroizing<Vec<u8>>) {
    if bytes.last() == Some(&b'\n') {
        bytes.pop();
        if bytes.last() == Some(&b'\r') {
            bytes.pop();
        }
    }
}

/// Read all of `r` into a zeroizing buffer; `Ok(None)` if it holds more than
/// `limit` bytes. Growth copies into a fresh zeroizing buffer, so no
/// unwiped reallocation is ever left behind.
pub fn read_bounded(mut r: impl Read, limit: usize) -> std::io::Result<Option<Zeroizing<Vec<u8>>>> {
    let mut buf = Zeroizing::new(Vec::with_capacity(256));
    let mut chunk = Zeroizing::new([0u8; 4096]);
    loop {
        let n = match r.read(&mut chunk[..]) {
            Ok(0) => return Ok(Some(buf)),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        // Allow one byte past the limit for the newline that is stripped.
        if buf.len() + n > limit + 2 {
            return Ok(None);
        }
        if buf.len() + n > buf.capacity() {
            let mut bigger = Zeroizing::new(Vec::with_capacity((buf.len() + n) * 2));
            bigger.extend_from_slice(&buf);
            buf = bigger; // the old buffer is wiped as it drops
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file_with(bytes: &[u8]) -> (PathBuf, Source) {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("keybroker-cli-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(n.to_string());
        std::fs::write(&path, bytes).unwrap();
        (path.clone(), Source::File(path))
    }

    #[test]
    fn one_trailing_newline_is_stripped_and_nothing_else() {
        for (raw, want) in [
            (&b"tok\n"[..], "tok"),
            (b"tok\r\n", "tok"),
            (b"tok\n\n", "tok\n"),
            (b" tok ", " tok "),
        ] {
            let (path, src) = file_with(raw);
            assert_eq!(read_value(&src).unwrap().expose(), want, "{raw:?}");
            std::fs::remove_file(path).unwrap();
        }
    }

    #[test]
    fn empty_oversized_and_non_utf8_values_are_refused_without_quoting_them() {
        let canary = "sk-live-NEVER-QUOTED";
        let mut not_utf8 = canary.as_bytes().to_vec();
        not_utf8.push(0xff);
        let mut big = canary.as_bytes().to_vec();
        big.resize(MAX_VALUE_BYTES + 3, b'x');
        for (raw, reason) in [
            (&b"\n"[..], "empty"),
            (&not_utf8, "not UTF-8"),
            (&big, "more than"),
        ] {
            let (path, src) = file_with(raw);
            let e = read_value(&src).unwrap_err().to_string();
            assert!(e.contains(reason), "{e}");
            assert!(!e.contains(canary), "{e}");
            std::fs::remove_file(path).unwrap();
        }
        let e = read_value(&Source::File("/nonexistent/keybroker".into())).unwrap_err();
        assert!(e.to_string().contains("/nonexistent/keybroker"), "{e}");
    }

    #[test]
    fn values_up_to_the_limit_are_read_whole_across_growth() {
        let big: Vec<u8> = (0..MAX_VALUE_BYTES)
            .map(|i| b'a' + (i % 26) as u8)
            .collect();
        let got = read_bounded(&big[..], MAX_VALUE_BYTES).unwrap().unwrap();
        assert_eq!(&got[..], &big[..]);
        assert!(
            read_bounded(&vec![b'a'; MAX_VALUE_BYTES + 3][..], MAX_VALUE_BYTES)
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn debug_never_prints_the_value() {
        let (path, src) = file_with(b"sk-live-DEBUG-CANARY");
        let v = read_value(&src).unwrap();
        assert!(!format!("{v:?}").contains("DEBUG-CANARY"));
        std::fs::remove_file(path).unwrap();
    }
}
