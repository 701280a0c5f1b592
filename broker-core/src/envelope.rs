//! Local half of envelope encryption: AES-256-GCM under a one-time data key.
//!
//! KMS only ever sees the 32-byte data key; the credential itself is sealed
//! here, so secrets up to [`crate::MAX_SECRET_LEN`] cost one KMS call however
//! large they are, and the KMS request never carries the credential. Sealing
//! works in place inside the output buffer (capacity reserved up front, so no
//! reallocation leaves a plaintext copy behind); opening works in a zeroizing
//! buffer that becomes the returned [`SecretValue`].
//!
//! Public for benchmarks and fuzzing only: callers store and read secrets
//! through [`crate::Broker`], which gets data keys from KMS.

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM};
use zeroize::{Zeroize, Zeroizing};

use crate::blob::{Blob, NONCE_LEN, TAG_LEN};
use crate::context::EncryptionContext;
use crate::error::{BrokerError, Result};
use crate::model::KeyMode;
use crate::secret::SecretValue;

/// A plaintext AES-256 data key, wiped on drop.
pub struct DataKey(Zeroizing<[u8; 32]>);

impl DataKey {
    /// Take a key KMS returned (32 bytes), wiping the source buffer.
    pub fn from_kms_plaintext(mut bytes: Vec<u8>) -> Option<Self> {
        let key = <[u8; 32]>::try_from(bytes.as_slice())
            .ok()
            .map(|k| Self(Zeroizing::new(k)));
        bytes.zeroize();
        key
    }

    fn aead(&self) -> LessSafeKey {
        // Cannot fail: the length is fixed at 32 by the type.
        let unbound = UnboundKey::new(&AES_256_GCM, self.0.as_ref())
            .unwrap_or_else(|_| unreachable!("AES-256 key is 32 bytes"));
        LessSafeKey::new(unbound)
    }
}

/// What the header records about the data key.
pub struct WrappedKey<'a> {
    /// Whose key wrapped the data key.
    pub key_mode: KeyMode,
    /// The wrapping key.
    pub key_arn: &'a str,
    /// The data key as KMS encrypted it.
    pub encrypted_data_key: &'a [u8],
}

/// Seal `value` into a complete blob with a fresh random nonce.
pub fn seal(
    value: &SecretValue,
    key: &DataKey,
    wrapped: &WrappedKey<'_>,
    ctx: &EncryptionContext<'_>,
) -> Result<Vec<u8>> {
    let mut nonce = [0u8; NONCE_LEN];
    aws_lc_rs::rand::fill(&mut nonce).map_err(|_| BrokerError::Unavailable {
        service: "rng",
        detail: "system random generator failed".into(),
    })?;
    seal_with_nonce(value, key, wrapped, ctx, nonce)
}

/// Deterministic core of [`seal`]; the nonce is a parameter only so the
/// documented test vector can be reproduced.
fn seal_with_nonce(
    value: &SecretValue,
    key: &DataKey,
    wrapped: &WrappedKey<'_>,
    ctx: &EncryptionContext<'_>,
    nonce: [u8; NONCE_LEN],
) -> Result<Vec<u8>> {
    let header = Blob {
        key_mode: wrapped.key_mode,
        key_arn: wrapped.key_arn.to_owned(),
        encrypted_data_key: wrapped.encrypted_data_key.to_vec(),
        nonce,
        ciphertext: Vec::new(),
    }
    .header()
    .map_err(|e| BrokerError::invalid("key", e.detail()))?;

    let mut aad = header.clone();
    aad.extend_from_slice(&ctx.canonical_bytes());

    let start = header.len();
    let mut out = Vec::with_capacity(start + value.len() + TAG_LEN);
    out.extend_from_slice(&header);
    out.extend_from_slice(value.expose());
    let tag = key
        .aead()
        .seal_in_place_separate_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(&aad),
            &mut out[start..],
        )
        .map_err(|_| BrokerError::invalid("secret value", "could not be sealed"))?;
    out.extend_from_slice(tag.as_ref());
    Ok(out)
}

/// Open a parsed blob with its data key under the context it claims.
pub fn open(blob: &Blob, key: &DataKey, ctx: &EncryptionContext<'_>) -> Result<SecretValue> {
    let tampered = |detail| BrokerError::Tampered {
        secret: ctx.secret.as_str().to_owned(),
        detail,
    };
    let mut aad = blob.header().map_err(|e| tampered(e.detail()))?;
    aad.extend_from_slice(&ctx.canonical_bytes());

    let mut buf = Zeroizing::new(blob.ciphertext.clone());
    let plain_len = key
        .aead()
        .open_in_place(
            Nonce::assume_unique_for_key(blob.nonce),
            Aad::from(&aad),
            buf.as_mut_slice(),
        )
        .map_err(|_| tampered("authentication tag does not verify"))?
        .len();
    buf.truncate(plain_len);
    SecretValue::new(std::mem::take(&mut *buf))
        .map_err(|_| tampered("decrypted value is out of bounds"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::names::{SecretName, WorkspaceId};

    const VECTOR_ARN: &str =
        "arn:aws:kms:us-east-1:111111111111:key/00000000-0000-4000-8000-000000000000";
    const VECTOR_EDK: &[u8] = b"example-encrypted-data-key";
    const VECTOR_PLAINTEXT: &[u8] = b"ghp_example0123456789";

    fn vector_key() -> DataKey {
        DataKey::from_kms_plaintext((0u8..32).collect()).unwrap()
    }

    fn vector_nonce() -> [u8; NONCE_LEN] {
        core::array::from_fn(|i| 0xa0 + i as u8)
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    fn vector_blob(ws: &WorkspaceId, name: &SecretName) -> Vec<u8> {
        let value = SecretValue::new(VECTOR_PLAINTEXT.to_vec()).unwrap();
        let wrapped = WrappedKey {
            key_mode: KeyMode::Platform,
            key_arn: VECTOR_ARN,
            encrypted_data_key: VECTOR_EDK,
        };
        let ctx = EncryptionContext {
            workspace: ws,
            secret: name,
        };
        seal_with_nonce(&value, &vector_key(), &wrapped, &ctx, vector_nonce()).unwrap()
    }

    /// The hex block between the `test-vector` fences of docs/BLOB_FORMAT.md,
    /// so the documented vector is the tested one.
    fn documented_vector() -> String {
        let doc = include_str!("../../docs/BLOB_FORMAT.md");
        let fence = "```test-vector\n";
        let start = doc.find(fence).expect("doc has a test-vector block") + fence.len();
        let end = start + doc[start..].find("```").expect("block is closed");
        doc[start..end].split_whitespace().collect()
    }

    #[test]
    fn documented_test_vector_matches() {
        let ws = WorkspaceId::new("acme").unwrap();
        let name = SecretName::new("github-token").unwrap();
        let blob = vector_blob(&ws, &name);
        assert_eq!(
            hex(&blob),
            documented_vector(),
            "update docs/BLOB_FORMAT.md"
        );

        let parsed = Blob::decode(&blob).unwrap();
        let ctx = EncryptionContext {
            workspace: &ws,
            secret: &name,
        };
        let opened = open(&parsed, &vector_key(), &ctx).unwrap();
        assert_eq!(opened.expose(), VECTOR_PLAINTEXT);
    }

    #[test]
    fn plaintext_does_not_appear_in_blob() {
        let ws = WorkspaceId::new("acme").unwrap();
        let name = SecretName::new("github-token").unwrap();
        let blob = vector_blob(&ws, &name);
        assert!(!blob
            .windows(VECTOR_PLAINTEXT.len())
            .any(|w| w == VECTOR_PLAINTEXT));
    }

    #[test]
    fn any_bit_flip_or_context_change_fails() {
        let ws = WorkspaceId::new("acme").unwrap();
        let name = SecretName::new("github-token").unwrap();
        let blob = vector_blob(&ws, &name);
        let ctx = EncryptionContext {
            workspace: &ws,
            secret: &name,
        };
        for i in 0..blob.len() {
            let mut b = blob.clone();
            b[i] ^= 0x01;
            let result = Blob::decode(&b).map(|p| open(&p, &vector_key(), &ctx));
            assert!(
                !matches!(result, Ok(Ok(_))),
                "flip at byte {i} still opened"
            );
        }
        let other_ws = WorkspaceId::new("evil").unwrap();
        let other_name = SecretName::new("other").unwrap();
        let parsed = Blob::decode(&blob).unwrap();
        for ctx in [
            EncryptionContext {
                workspace: &other_ws,
                secret: &name,
            },
            EncryptionContext {
                workspace: &ws,
                secret: &other_name,
            },
        ] {
            let e = open(&parsed, &vector_key(), &ctx).unwrap_err();
            assert_eq!(e.kind(), "tampered");
        }
    }

    #[test]
    fn fresh_nonce_per_seal() {
        let ws = WorkspaceId::new("acme").unwrap();
        let name = SecretName::new("n").unwrap();
        let value = SecretValue::new(b"x".to_vec()).unwrap();
        let wrapped = WrappedKey {
            key_mode: KeyMode::Byok,
            key_arn: VECTOR_ARN,
            encrypted_data_key: VECTOR_EDK,
        };
        let ctx = EncryptionContext {
            workspace: &ws,
            secret: &name,
        };
        let a = seal(&value, &vector_key(), &wrapped, &ctx).unwrap();
        let b = seal(&value, &vector_key(), &wrapped, &ctx).unwrap();
        assert_ne!(
            Blob::decode(&a).unwrap().nonce,
            Blob::decode(&b).unwrap().nonce
        );
    }

    #[test]
    fn print_vector_for_docs() {
        // `cargo test -p broker-core print_vector -- --nocapture` regenerates it.
        let ws = WorkspaceId::new("acme").unwrap();
        let name = SecretName::new("github-token").unwrap();
        let h = hex(&vector_blob(&ws, &name));
        assert!(h.starts_with("4b42524b01000101"));
        println!("{h}");
    }
}
