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
mod tests;
