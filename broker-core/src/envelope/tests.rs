use super::*;
use crate::binding::Binding;
use crate::blob::{VERSION, VERSION_1};
use crate::names::{SecretName, WorkspaceId};

const VECTOR_ARN: &str =
    "arn:aws:kms:us-east-1:111111111111:key/00000000-0000-4000-8000-000000000000";
const VECTOR_EDK: &[u8] = b"example-encrypted-data-key";
const VECTOR_PLAINTEXT: &[u8] = b"ghp_example0123456789";
const DOC: &str = include_str!("../../../docs/BLOB_FORMAT.md");

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
