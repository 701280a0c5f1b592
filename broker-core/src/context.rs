//! The KMS encryption context every data key is bound to.
//!
//! Exactly two pairs, `workspace` and `secret`: the keys a customer's key
//! policy pins with `kms:EncryptionContext:workspace` and
//! `kms:EncryptionContextKeys`. KMS binds the context to the encrypted data
//! key (so a blob copied to another workspace or name fails `Decrypt`), and
//! the envelope also feeds its canonical bytes to AES-GCM as associated data
//! (so the local ciphertext is bound the same way). CloudTrail logs the
//! context in clear: it holds names only, never secret material.

use std::collections::HashMap;

use crate::names::{SecretName, WorkspaceId};

/// The context of one secret.
#[derive(Debug, Clone, Copy)]
pub struct EncryptionContext<'a> {
    /// Tenant the secret belongs to.
    pub workspace: &'a WorkspaceId,
    /// Name of the secret within the workspace.
    pub secret: &'a SecretName,
}

impl EncryptionContext<'_> {
    /// Sorted pairs; the one ordering both representations derive from.
    fn pairs(&self) -> [(&'static str, &str); 2] {
        [
            ("secret", self.secret.as_str()),
            ("workspace", self.workspace.as_str()),
        ]
    }

    /// The map KMS takes.
    pub fn to_kms(&self) -> HashMap<String, String> {
        self.pairs()
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    /// Canonical bytes for the AEAD: `u16` pair count, then for each pair in
    /// key order `u16` key length, key, `u16` value length, value (all big
    /// endian), as in the AWS Encryption SDK's serialized context.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        let pairs = self.pairs();
        let mut out = Vec::with_capacity(64);
        out.extend_from_slice(&(pairs.len() as u16).to_be_bytes());
        for (k, v) in pairs {
            for part in [k, v] {
                // Both are validated names of at most 128 bytes.
                out.extend_from_slice(&(part.len() as u16).to_be_bytes());
                out.extend_from_slice(part.as_bytes());
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_bytes_are_sorted_and_length_prefixed() {
        let ws = WorkspaceId::new("acme").unwrap();
        let s = SecretName::new("gh").unwrap();
        let ctx = EncryptionContext {
            workspace: &ws,
            secret: &s,
        };
        let mut want = vec![0, 2, 0, 6];
        want.extend_from_slice(b"secret");
        want.extend_from_slice(&[0, 2]);
        want.extend_from_slice(b"gh");
        want.extend_from_slice(&[0, 9]);
        want.extend_from_slice(b"workspace");
        want.extend_from_slice(&[0, 4]);
        want.extend_from_slice(b"acme");
        assert_eq!(ctx.canonical_bytes(), want);
        let kms = ctx.to_kms();
        assert_eq!(kms.len(), 2);
        assert_eq!(kms["workspace"], "acme");
        assert_eq!(kms["secret"], "gh");
    }
}
