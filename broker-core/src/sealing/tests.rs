//! The checks `open` runs before any KMS call, on blobs sealed locally with
//! a fixed data key (no stack): each altered record is refused as
//! `Tampered` with the text naming the check.

use super::*;
use crate::blob::{VERSION, VERSION_1};
use crate::envelope::{DataKey, BINDING_MISMATCH};
use crate::model::SecretStatus;

const KEY: &str = "arn:aws:kms:us-east-1:111111111111:key/00000000-0000-4000-8000-000000000000";

fn ids() -> (WorkspaceId, SecretName) {
    (
        WorkspaceId::new("acme").unwrap(),
        SecretName::new("openai").unwrap(),
    )
}

fn binding(host: &str) -> Binding {
    serde_json::from_str(&format!(
        r#"{{"hosts":["{host}"],"inject":{{"type":"header","name":"x-key","template":"{{secret}}"}}}}"#
    ))
    .unwrap()
}

/// A blob sealed for `acme/openai` with `binding` (version 2, or version 1
/// when `legacy`), and its metadata.
fn sealed_as(binding: Option<Binding>, legacy: bool) -> (SecretMetadata, Vec<u8>) {
    let (ws, name) = ids();
    let key = DataKey::from_kms_plaintext(vec![7; 32]).unwrap();
    let wrapped = WrappedKey {
        key_mode: KeyMode::Platform,
        key_arn: KEY,
        encrypted_data_key: b"edk",
    };
    let value = SecretValue::new(b"sk-canary".to_vec()).unwrap();
    let digest = BindingDigest::of(binding.as_ref());
    let ctx = context(&ws, &name);
    let bytes = if legacy {
        envelope::seal_legacy_v1(&value, &key, &wrapped, &ctx)
    } else {
        envelope::seal(&value, &key, &wrapped, &ctx, &digest)
    }
    .unwrap();
    let meta = SecretMetadata {
        workspace: ws,
        name,
        version: 1,
        key_mode: KeyMode::Platform,
        key_arn: KeyArn::parse(KEY).unwrap(),
        role_arn: None,
        created_at: 0,
        updated_at: 0,
        status: SecretStatus::Active,
        binding,
    };
    (meta, bytes)
}

fn sealed(binding: Option<Binding>) -> (SecretMetadata, Vec<u8>) {
    sealed_as(binding, false)
}

fn tampered_detail(r: Result<Checked>) -> &'static str {
    match r {
        Err(BrokerError::Tampered { secret, detail }) => {
            assert_eq!(secret, "openai");
            detail
        }
        other => panic!("expected Tampered, got {other:?}"),
    }
}

#[test]
fn an_untouched_record_passes_every_keyless_check() {
    let (meta, bytes) = sealed(Some(binding("api.example.com")));
    let checked = check(&meta.name, &meta, &bytes, VERSION).unwrap();
    assert_eq!(checked.key_mode(), KeyMode::Platform);
    let (_, name) = ids();
    assert!(decode(&name, &bytes, meta.binding.as_ref()).is_ok());
}

#[test]
fn altered_records_are_refused_before_any_key_is_used() {
    let (meta, bytes) = sealed(Some(binding("api.example.com")));
    let name = meta.name.clone();

    let mut other_key = meta.clone();
    other_key.key_arn = KeyArn::parse(
        "arn:aws:kms:us-east-1:222222222222:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    )
    .unwrap();
    let mut other_mode = meta.clone();
    other_mode.key_mode = KeyMode::Byok;
    let mut rebound = meta.clone();
    rebound.binding = Some(binding("evil.example.com"));
    let mut unbound = meta.clone();
    unbound.binding = None;

    let disagree = "record metadata and blob header disagree on the key";
    assert_eq!(
        tampered_detail(check(&name, &other_key, &bytes, VERSION_1)),
        disagree
    );
    assert_eq!(
        tampered_detail(check(&name, &other_mode, &bytes, VERSION_1)),
        disagree
    );
    assert_eq!(
        tampered_detail(check(&name, &rebound, &bytes, VERSION_1)),
        BINDING_MISMATCH
    );
    assert_eq!(
        tampered_detail(check(&name, &unbound, &bytes, VERSION_1)),
        BINDING_MISMATCH
    );
    assert_eq!(
        tampered_detail(check(&name, &meta, &bytes[..10], VERSION_1)),
        "truncated blob"
    );
    assert_eq!(
        tampered_detail(decode(&name, &bytes, None)),
        BINDING_MISMATCH,
        "decode checks the binding too"
    );
}

#[test]
fn a_blob_below_the_deployment_minimum_is_refused() {
    let (meta, v1) = sealed_as(Some(binding("api.example.com")), true);
    assert_eq!(v1[4], VERSION_1);
    assert!(
        check(&meta.name, &meta, &v1, VERSION_1).is_ok(),
        "v1 carries no digest"
    );
    assert_eq!(
        tampered_detail(check(&meta.name, &meta, &v1, VERSION)),
        "blob format version is below this deployment's minimum (KEYBROKER_MIN_BLOB_VERSION)"
    );
}
