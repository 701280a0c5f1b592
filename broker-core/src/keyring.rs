//! The KMS half of envelope encryption: wrap and unwrap one data key.
//!
//! Both calls pin the key: `GenerateDataKey` names it, and `Decrypt` always
//! passes `KeyId` (so KMS refuses a data key from any other key) and we also
//! compare the key id KMS answers with against the ARN the blob records, as
//! Tink's `AwsKmsAead` does, so a substituted ciphertext can never be
//! decrypted under a key the record does not name.

use aws_sdk_kms::primitives::Blob as KmsBlob;
use aws_sdk_kms::types::DataKeySpec;

use crate::aws_error::{classify, Service};
use crate::blob::Blob;
use crate::context::EncryptionContext;
use crate::envelope::DataKey;
use crate::error::{BrokerError, Result};

/// A fresh data key: plaintext for local sealing, ciphertext for the blob.
pub(crate) struct NewDataKey {
    pub plaintext: DataKey,
    pub encrypted: Vec<u8>,
}

/// `GenerateDataKey(AES_256)` under `key_arn`, bound to `ctx`.
pub(crate) async fn generate(
    kms: &aws_sdk_kms::Client,
    key_arn: &str,
    ctx: &EncryptionContext<'_>,
) -> Result<NewDataKey> {
    let mut out = kms
        .generate_data_key()
        .key_id(key_arn)
        .key_spec(DataKeySpec::Aes256)
        .set_encryption_context(Some(ctx.to_kms()))
        .send()
        .await
        .map_err(|e| classify(Service::Kms, Some(ctx.secret.as_str()), &e))?;
    check_key_id(out.key_id(), key_arn, ctx)?;
    let malformed = || BrokerError::Unavailable {
        service: "kms",
        detail: "GenerateDataKey answered without a 32-byte data key".into(),
    };
    let plaintext = out
        .plaintext
        .take()
        .and_then(|b| DataKey::from_kms_plaintext(b.into_inner()))
        .ok_or_else(malformed)?;
    let encrypted = out
        .ciphertext_blob
        .take()
        .map(KmsBlob::into_inner)
        .filter(|c| !c.is_empty())
        .ok_or_else(malformed)?;
    Ok(NewDataKey {
        plaintext,
        encrypted,
    })
}

/// `Decrypt` the blob's data key, pinned to the blob's key ARN.
pub(crate) async fn unwrap(
    kms: &aws_sdk_kms::Client,
    blob: &Blob,
    ctx: &EncryptionContext<'_>,
) -> Result<DataKey> {
    let mut out = kms
        .decrypt()
        .key_id(&blob.key_arn)
        .ciphertext_blob(KmsBlob::new(blob.encrypted_data_key.clone()))
        .set_encryption_context(Some(ctx.to_kms()))
        .send()
        .await
        .map_err(|e| classify(Service::Kms, Some(ctx.secret.as_str()), &e))?;
    check_key_id(out.key_id(), &blob.key_arn, ctx)?;
    out.plaintext
        .take()
        .and_then(|b| DataKey::from_kms_plaintext(b.into_inner()))
        .ok_or_else(|| BrokerError::Tampered {
            secret: ctx.secret.as_str().to_owned(),
            detail: "KMS returned a data key of the wrong size",
        })
}

fn check_key_id(answered: Option<&str>, expected: &str, ctx: &EncryptionContext<'_>) -> Result<()> {
    if answered == Some(expected) {
        Ok(())
    } else {
        Err(BrokerError::Tampered {
            secret: ctx.secret.as_str().to_owned(),
            detail: "KMS answered with a different key than the blob records",
        })
    }
}
