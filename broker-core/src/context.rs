//! The KMS encryption context every data key is bound to.
//!
//! Exactly two pairs, `workspace` and `secret`: the keys a customer's key
//! policy pins with `kms:EncryptionContext:workspace` and
//! `kms:EncryptionContextKeys`. KMS binds the context to the encrypted data
//! key (so a blob copied to another workspace or name fails `Decrypt`), and
//! the envelope also feeds its canonical bytes to AES-GCM as associated data
//! (so the local ciphertext is bound the same way). CloudTrail logs the
//! context in clear: it holds names only, never secret material.
//!
//! The secret's [`Binding`] is bound to the ciphertext too, but *only* in
//! the AES-GCM associated data, through [`BindingDigest`]: never in the KMS
//! context, whose keys customer key policies pin to exactly `workspace` and
//! `secret` (docs/BLOB_FORMAT.md, "What is authenticated").

use std::collections::HashMap;

use crate::binding::Binding;
use crate::names::{SecretName, WorkspaceId};

/// Domain separation of [`BindingDigest`]: no other SHA-256 input of the
/// broker starts with these bytes.
pub const BINDING_DIGEST_DOMAIN: &[u8] = b"keybroker.binding.v1\n";

/// SHA-256 of a secret's binding in canonical form: the bytes of
/// [`BINDING_DIGEST_DOMAIN`] followed by `serde_json` of `Option<&Binding>`.
///
/// Why serde JSON: it serializes every field of [`Binding`] (and of
/// [`crate::Injection`]) in declaration order, so a field added later is
/// covered without anyone remembering to add it here, and the output for a
/// given value is deterministic. "No binding" serializes as `null`, which no
/// binding (always a JSON object) can produce, so it hashes distinctly.
/// The digest is computed from the *parsed* binding, so two stored spellings
/// of the same binding agree and any change of meaning disagrees.
///
/// A field added to `Binding` later must be
/// `#[serde(default, skip_serializing_if = "…is_default")]`, so blobs sealed
/// before it existed keep their digest while the field has its default; the
/// v2 test vector in docs/BLOB_FORMAT.md fails if a field changes the
/// canonical form of an existing binding.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct BindingDigest(pub [u8; 32]);

impl BindingDigest {
    /// The digest of `binding` (`None`: the secret may not be injected).
    pub fn of(binding: Option<&Binding>) -> Self {
        // Serializing plain strings, bools and unit-like enums cannot fail.
        let json = serde_json::to_vec(&binding).unwrap_or_default();
        let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
        ctx.update(BINDING_DIGEST_DOMAIN);
        ctx.update(&json);
        let mut out = [0u8; 32];
        out.copy_from_slice(ctx.finish().as_ref());
        Self(out)
    }
}

impl std::fmt::Debug for BindingDigest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let hex: String = self.0.iter().map(|b| format!("{b:02x}")).collect();
        write!(f, "BindingDigest({hex})")
    }
}

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

    fn header_binding(host: &str) -> Binding {
        serde_json::from_str(&format!(
            r#"{{"hosts":["{host}"],"inject":{{"type":"header","name":"x-key","template":"{{secret}}"}}}}"#
        ))
        .unwrap()
    }

    #[test]
    fn binding_digest_separates_every_change_and_none() {
        let a = header_binding("api.example.com");
        let d = BindingDigest::of(Some(&a));
        assert_eq!(d, BindingDigest::of(Some(&a.clone())));
        assert_ne!(d, BindingDigest::of(None));
        assert_ne!(
            d,
            BindingDigest::of(Some(&header_binding("evil.example.com")))
        );
        let mut query = a.clone();
        query.inject = crate::Injection::Query {
            param: "x-key".into(),
        };
        assert_ne!(d, BindingDigest::of(Some(&query)));
        // The canonical form is the JSON of every field, `null` for none.
        let mut want = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
        want.update(b"keybroker.binding.v1\nnull");
        assert_eq!(BindingDigest::of(None).0, want.finish().as_ref());
    }
}
