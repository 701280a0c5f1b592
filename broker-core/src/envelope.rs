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
use crate::context::{BindingDigest, EncryptionContext};
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

/// Seal `value` into a complete version 2 blob with a fresh random nonce,
/// bound to the secret's binding through `binding` (in the header, hence in
/// the associated data).
pub fn seal(
    value: &SecretValue,
    key: &DataKey,
    wrapped: &WrappedKey<'_>,
    ctx: &EncryptionContext<'_>,
    binding: &BindingDigest,
) -> Result<Vec<u8>> {
    seal_with_nonce(value, key, wrapped, ctx, Some(*binding), fresh_nonce()?)
}

/// Seal in the old version 1 format (no binding digest). The broker never
/// calls it; it exists so compatibility tests can produce the stored blobs
/// of earlier builds with real KMS data keys.
#[doc(hidden)]
pub fn seal_legacy_v1(
    value: &SecretValue,
    key: &DataKey,
    wrapped: &WrappedKey<'_>,
    ctx: &EncryptionContext<'_>,
) -> Result<Vec<u8>> {
    seal_with_nonce(value, key, wrapped, ctx, None, fresh_nonce()?)
}

fn fresh_nonce() -> Result<[u8; NONCE_LEN]> {
    let mut nonce = [0u8; NONCE_LEN];
    aws_lc_rs::rand::fill(&mut nonce).map_err(|_| BrokerError::Unavailable {
        service: "rng",
        detail: "system random generator failed".into(),
    })?;
    Ok(nonce)
}

/// Deterministic core of [`seal`]; the nonce is a parameter only so the
/// documented test vectors can be reproduced. `binding: None` writes v1.
fn seal_with_nonce(
    value: &SecretValue,
    key: &DataKey,
    wrapped: &WrappedKey<'_>,
    ctx: &EncryptionContext<'_>,
    binding: Option<BindingDigest>,
    nonce: [u8; NONCE_LEN],
) -> Result<Vec<u8>> {
    let header = Blob {
        key_mode: wrapped.key_mode,
        key_arn: wrapped.key_arn.to_owned(),
        encrypted_data_key: wrapped.encrypted_data_key.to_vec(),
        nonce,
        binding_digest: binding,
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

/// Open a parsed blob with its data key under the context it claims and
/// the binding its record carries. A version 2 blob sealed with another
/// binding fails (the digest is part of the associated data; comparing it
/// first only names the failure). A version 1 blob has no digest: its
/// binding is not authenticated, and `binding` is not checked.
pub fn open(
    blob: &Blob,
    key: &DataKey,
    ctx: &EncryptionContext<'_>,
    binding: &BindingDigest,
) -> Result<SecretValue> {
    let tampered = |detail| BrokerError::tampered(ctx.secret, detail);
    check_binding(blob, binding).map_err(tampered)?;
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

/// Fixed text of the failure when a v2 blob's binding digest is not the
/// digest of the binding stored beside it.
pub const BINDING_MISMATCH: &str =
    "the stored binding is not the binding the secret was sealed with";

/// A version 2 blob must carry exactly `binding`; version 1 carries none.
pub fn check_binding(
    blob: &Blob,
    binding: &BindingDigest,
) -> std::result::Result<(), &'static str> {
    match &blob.binding_digest {
        Some(d) if d != binding => Err(BINDING_MISMATCH),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::binding::Binding;
    use crate::blob::{VERSION, VERSION_1};
    use crate::names::{SecretName, WorkspaceId};

    const VECTOR_ARN: &str =
        "arn:aws:kms:us-east-1:111111111111:key/00000000-0000-4000-8000-000000000000";
    const VECTOR_EDK: &[u8] = b"example-encrypted-data-key";
    const VECTOR_PLAINTEXT: &[u8] = b"ghp_example0123456789";
    const DOC: &str = include_str!("../../docs/BLOB_FORMAT.md");

    fn vector_key() -> DataKey {
        DataKey::from_kms_plaintext((0u8..32).collect()).unwrap()
    }

    fn vector_nonce() -> [u8; NONCE_LEN] {
        core::array::from_fn(|i| 0xa0 + i as u8)
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The text between the fences `` ```<tag> `` and `` ``` `` of
    /// docs/BLOB_FORMAT.md, so the documented vectors are the tested ones.
    fn doc_block(tag: &str) -> &'static str {
        let fence = format!("```{tag}\n");
        let start = DOC.find(&fence).expect("doc has the block") + fence.len();
        let end = start + DOC[start..].find("```").expect("block is closed");
        &DOC[start..end]
    }

    fn documented_hex(tag: &str) -> String {
        doc_block(tag).split_whitespace().collect()
    }

    /// The binding of the v2 vector, as documented (its JSON input block).
    fn vector_binding() -> Binding {
        serde_json::from_str(doc_block("binding-input")).unwrap()
    }

    fn ids() -> (WorkspaceId, SecretName) {
        (
            WorkspaceId::new("acme").unwrap(),
            SecretName::new("github-token").unwrap(),
        )
    }

    fn vector_blob(ws: &WorkspaceId, name: &SecretName, binding: Option<BindingDigest>) -> Vec<u8> {
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
        seal_with_nonce(
            &value,
            &vector_key(),
            &wrapped,
            &ctx,
            binding,
            vector_nonce(),
        )
        .unwrap()
    }

    fn v2_digest() -> BindingDigest {
        BindingDigest::of(Some(&vector_binding()))
    }

    fn try_open(
        bytes: &[u8],
        ws: &WorkspaceId,
        name: &SecretName,
        d: &BindingDigest,
    ) -> Result<SecretValue> {
        let parsed = Blob::decode(bytes).map_err(|e| BrokerError::Tampered {
            secret: name.to_string(),
            detail: e.detail(),
        })?;
        let ctx = EncryptionContext {
            workspace: ws,
            secret: name,
        };
        open(&parsed, &vector_key(), &ctx, d)
    }

    #[test]
    fn documented_v1_vector_still_opens() {
        let (ws, name) = ids();
        let blob = vector_blob(&ws, &name, None);
        assert_eq!(
            hex(&blob),
            documented_hex("test-vector-v1"),
            "update docs/BLOB_FORMAT.md"
        );
        assert_eq!(blob[4], VERSION_1);
        // A v1 blob has no digest: any binding beside it is accepted.
        for d in [v2_digest(), BindingDigest::of(None)] {
            let opened = try_open(&blob, &ws, &name, &d).unwrap();
            assert_eq!(opened.expose(), VECTOR_PLAINTEXT);
        }
    }

    #[test]
    fn documented_v2_vector_matches_and_binds_the_binding() {
        let (ws, name) = ids();
        let canonical = serde_json::to_string(&Some(&vector_binding())).unwrap();
        assert_eq!(
            canonical,
            doc_block("binding-canonical").trim_end(),
            "update docs/BLOB_FORMAT.md"
        );
        assert_eq!(hex(&v2_digest().0), documented_hex("binding-digest"));
        let blob = vector_blob(&ws, &name, Some(v2_digest()));
        assert_eq!(
            hex(&blob),
            documented_hex("test-vector-v2"),
            "update docs/BLOB_FORMAT.md"
        );
        assert_eq!(blob[4], VERSION);
        let opened = try_open(&blob, &ws, &name, &v2_digest()).unwrap();
        assert_eq!(opened.expose(), VECTOR_PLAINTEXT);

        // Any other binding, or none, is refused with the named check.
        let mut other = vector_binding();
        other.hosts = vec!["evil.example.com".into()];
        for d in [BindingDigest::of(Some(&other)), BindingDigest::of(None)] {
            let e = try_open(&blob, &ws, &name, &d).unwrap_err();
            assert!(
                matches!(e, BrokerError::Tampered { detail, .. } if detail == BINDING_MISMATCH),
                "{e:?}"
            );
        }
    }

    #[test]
    fn v2_rewritten_as_v1_does_not_open() {
        let (ws, name) = ids();
        let blob = vector_blob(&ws, &name, Some(v2_digest()));
        let v1_header_len = 24 + VECTOR_ARN.len() + VECTOR_EDK.len();
        // Version byte only (the digest then reads as ciphertext), and
        // version byte with the digest stripped: both fail the tag.
        let mut relabelled = blob.clone();
        relabelled[4] = VERSION_1;
        let mut stripped = relabelled.clone();
        stripped.drain(v1_header_len..v1_header_len + crate::blob::DIGEST_LEN);
        for bytes in [relabelled, stripped] {
            let e = try_open(&bytes, &ws, &name, &v2_digest()).unwrap_err();
            assert_eq!(e.kind(), "tampered", "{e:?}");
        }
        // And a v1 blob relabelled v2 with a digest added fails too.
        let v1 = vector_blob(&ws, &name, None);
        let mut upgraded = v1.clone();
        upgraded[4] = VERSION;
        let tail = upgraded.split_off(v1_header_len);
        upgraded.extend_from_slice(&v2_digest().0);
        upgraded.extend_from_slice(&tail);
        assert!(try_open(&upgraded, &ws, &name, &v2_digest()).is_err());
    }

    #[test]
    fn plaintext_does_not_appear_in_blob() {
        let (ws, name) = ids();
        for d in [None, Some(v2_digest())] {
            let blob = vector_blob(&ws, &name, d);
            assert!(!blob
                .windows(VECTOR_PLAINTEXT.len())
                .any(|w| w == VECTOR_PLAINTEXT));
        }
    }

    #[test]
    fn any_bit_flip_or_context_change_fails() {
        let (ws, name) = ids();
        for d in [None, Some(v2_digest())] {
            let blob = vector_blob(&ws, &name, d);
            let expect = d.unwrap_or(BindingDigest::of(None));
            for i in 0..blob.len() {
                let mut b = blob.clone();
                b[i] ^= 0x01;
                assert!(
                    try_open(&b, &ws, &name, &expect).is_err(),
                    "flip at byte {i} still opened"
                );
            }
            let other_ws = WorkspaceId::new("evil").unwrap();
            let other_name = SecretName::new("other").unwrap();
            for (w, n) in [(&other_ws, &name), (&ws, &other_name)] {
                let e = try_open(&blob, w, n, &expect).unwrap_err();
                assert_eq!(e.kind(), "tampered");
            }
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
        let d = BindingDigest::of(None);
        let a = seal(&value, &vector_key(), &wrapped, &ctx, &d).unwrap();
        let b = seal(&value, &vector_key(), &wrapped, &ctx, &d).unwrap();
        assert_eq!(a[4], VERSION, "new writes are v2");
        assert_ne!(
            Blob::decode(&a).unwrap().nonce,
            Blob::decode(&b).unwrap().nonce
        );
    }

    #[test]
    fn print_vectors_for_docs() {
        // `cargo test -p broker-core print_vectors -- --nocapture` regenerates them.
        let (ws, name) = ids();
        let v1 = hex(&vector_blob(&ws, &name, None));
        assert!(v1.starts_with("4b42524b01000101"));
        println!("v1 {v1}");
        println!(
            "binding canonical {}",
            serde_json::to_string(&Some(&vector_binding())).unwrap()
        );
        println!("binding digest {}", hex(&v2_digest().0));
        let v2 = hex(&vector_blob(&ws, &name, Some(v2_digest())));
        assert!(v2.starts_with("4b42524b02000101"));
        println!("v2 {v2}");
    }
}
