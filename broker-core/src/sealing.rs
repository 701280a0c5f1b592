//! Sealing and opening a secret: the envelope decisions in one place.
//!
//! Sealing asks KMS for a data key under the chosen key, bound to the one
//! encryption context of the secret ([`EncryptionContext`], built only by
//! [`context`] here), and seals locally ([`crate::envelope`]). Opening runs
//! every check that needs no key first ([`check`]: the blob parses, its
//! header names the key and mode the record names, its format is not below
//! the deployment's minimum, a version 2 blob carries the stored binding's
//! digest), so a record altered in the table is refused as `Tampered`
//! without touching the customer's key; only then [`Checked::open`] calls
//! `kms:Decrypt` and authenticates everything with AES-GCM.
//!
//! Which KMS client to use (platform or assumed customer role) is the
//! caller's decision (`broker::byok`); this module never chooses a key.

use crate::arn::KeyArn;
use crate::binding::Binding;
use crate::blob::Blob;
use crate::context::{BindingDigest, EncryptionContext};
use crate::envelope::{self, WrappedKey};
use crate::error::{BrokerError, Result};
use crate::keyring;
use crate::model::{KeyMode, SecretMetadata};
use crate::names::{SecretName, WorkspaceId};
use crate::secret::SecretValue;

/// The encryption context of `name` in `ws`: the only place one is built,
/// so sealing and opening cannot disagree on it.
fn context<'a>(ws: &'a WorkspaceId, name: &'a SecretName) -> EncryptionContext<'a> {
    EncryptionContext {
        workspace: ws,
        secret: name,
    }
}

/// Envelope-encrypt `value` under `key` through `kms` (a client that can use
/// it), authenticating `binding` with the ciphertext. Returns the blob bytes.
pub(crate) async fn seal(
    kms: &aws_sdk_kms::Client,
    key: &KeyArn,
    mode: KeyMode,
    ws: &WorkspaceId,
    name: &SecretName,
    value: &SecretValue,
    binding: Option<&Binding>,
) -> Result<Vec<u8>> {
    let ctx = context(ws, name);
    let dk = keyring::generate(kms, key.as_str(), &ctx).await?;
    let wrapped = WrappedKey {
        key_mode: mode,
        key_arn: key.as_str(),
        encrypted_data_key: &dk.encrypted,
    };
    envelope::seal(
        value,
        &dk.plaintext,
        &wrapped,
        &ctx,
        &BindingDigest::of(binding),
    )
}

/// The one mapping of a blob that does not parse to `Tampered`.
fn parse(name: &SecretName, bytes: &[u8]) -> Result<Blob> {
    Blob::decode(bytes).map_err(|e| BrokerError::tampered(name, e.detail()))
}

/// A blob that passed every check that needs no key, ready to open.
#[derive(Debug)]
pub(crate) struct Checked {
    blob: Blob,
    binding: BindingDigest,
}

/// Parse `bytes` as the blob of `name`, to be opened with `binding`: a blob
/// that does not parse, or a version 2 blob sealed with another binding, is
/// `Tampered` naming what is wrong.
pub(crate) fn decode(
    name: &SecretName,
    bytes: &[u8],
    binding: Option<&Binding>,
) -> Result<Checked> {
    bound(name, parse(name, bytes)?, binding)
}

/// The blob must carry `binding` (version 2). This comparison names the
/// failure early; the AEAD check in [`Checked::open`] is the one that
/// counts (a rewritten header digest fails the tag).
fn bound(name: &SecretName, blob: Blob, binding: Option<&Binding>) -> Result<Checked> {
    let binding = BindingDigest::of(binding);
    envelope::check_binding(&blob, &binding).map_err(|d| BrokerError::tampered(name, d))?;
    Ok(Checked { blob, binding })
}

/// Every check of a stored record that needs no key, in order: the blob
/// parses, its header agrees with the record's metadata on the key, its format is at
/// least `min_blob_version`, and it carries the record's binding.
pub(crate) fn check(
    name: &SecretName,
    meta: &SecretMetadata,
    bytes: &[u8],
    min_blob_version: u8,
) -> Result<Checked> {
    let tampered = |detail| BrokerError::tampered(name, detail);
    let blob = parse(name, bytes)?;
    if blob.key_mode != meta.key_mode || meta.key_arn != blob.key_arn {
        return Err(tampered(
            "record metadata and blob header disagree on the key",
        ));
    }
    if blob.version() < min_blob_version {
        return Err(tampered(
            "blob format version is below this deployment's minimum (KEYBROKER_MIN_BLOB_VERSION)",
        ));
    }
    bound(name, blob, meta.binding.as_ref())
}

impl Checked {
    /// Whose key the blob names.
    pub(crate) fn key_mode(&self) -> KeyMode {
        self.blob.key_mode
    }

    /// Unwrap the data key through `kms` (pinned to the key the blob names)
    /// and open the blob as `name` in `ws`.
    pub(crate) async fn open(
        &self,
        kms: &aws_sdk_kms::Client,
        ws: &WorkspaceId,
        name: &SecretName,
    ) -> Result<SecretValue> {
        let ctx = context(ws, name);
        let data_key = keyring::unwrap(kms, &self.blob, &ctx).await?;
        envelope::open(&self.blob, &data_key, &ctx, &self.binding)
    }
}

#[cfg(test)]
mod tests;
