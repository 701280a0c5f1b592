//! The plaintext credential type. It is the only type in the workspace that
//! holds a credential in clear, and it is built so that holding one is safe
//! by default: the bytes are zeroized when it drops, `Debug` prints a fixed
//! redaction, and it implements neither `Display`, `Clone` nor `Serialize`,
//! so it cannot reach a log line, an error or a response by accident.

use std::fmt;

use secrecy::{ExposeSecret, SecretSlice};

use crate::error::{BrokerError, Result};

/// Largest secret the broker stores. Credentials are small; the cap keeps a
/// DynamoDB item well under its 400 KB limit and bounds memory per call.
pub const MAX_SECRET_LEN: usize = 64 * 1024;

/// A credential in clear, wiped from memory on drop.
pub struct SecretValue(SecretSlice<u8>);

impl SecretValue {
    /// Take ownership of `bytes` (no copy is left behind). Rejects empty and
    /// oversized values; the error never contains the value.
    pub fn new(bytes: Vec<u8>) -> Result<Self> {
        if bytes.is_empty() || bytes.len() > MAX_SECRET_LEN {
            let len = bytes.len();
            // Wipe before returning: the caller gave up ownership.
            drop(SecretSlice::from(bytes));
            return Err(BrokerError::invalid(
                "secret value",
                format!("must be 1..={MAX_SECRET_LEN} bytes, got {len}"),
            ));
        }
        Ok(Self(SecretSlice::from(bytes)))
    }

    /// Convenience for text credentials (API keys, tokens).
    pub fn from_string(s: String) -> Result<Self> {
        Self::new(s.into_bytes())
    }

    /// The bytes in clear. Named so every use is easy to audit with grep.
    pub fn expose(&self) -> &[u8] {
        self.0.expose_secret()
    }

    /// Length in bytes (not secret: it is visible in the ciphertext anyway).
    pub fn len(&self) -> usize {
        self.expose().len()
    }

    /// Always false for a constructed value; present for clippy's sake.
    pub fn is_empty(&self) -> bool {
        self.expose().is_empty()
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretValue(** redacted **)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted() {
        let s = SecretValue::from_string("sk-CANARY-123".into()).unwrap();
        assert_eq!(format!("{s:?}"), "SecretValue(** redacted **)");
        assert_eq!(
            format!("{:#?}", Some(&s)),
            "Some(\n    SecretValue(** redacted **),\n)"
        );
        assert_eq!(s.expose(), b"sk-CANARY-123");
    }

    #[test]
    fn bounds_are_enforced_without_echoing() {
        let e = SecretValue::new(Vec::new()).unwrap_err();
        assert_eq!(e.kind(), "invalid_input");
        let big = vec![b'Z'; MAX_SECRET_LEN + 1];
        let e = SecretValue::new(big).unwrap_err();
        assert!(!e.to_string().contains("ZZZ"));
        assert!(SecretValue::new(vec![1; MAX_SECRET_LEN]).is_ok());
    }
}
