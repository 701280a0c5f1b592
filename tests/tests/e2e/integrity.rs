//! Blobs that were altered or moved never decrypt: KMS rejects the data key
//! out of its context, the local AEAD rejects any altered byte, and a record
//! whose metadata disagrees with its blob is refused.

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use broker_core::BrokerError;
use keybroker_tests::{blob_of, plant_secret_item, secret_item, setup, Item};

use crate::{canary, name, ws};

fn with_blob(mut item: Item, blob: Vec<u8>) -> Item {
    item.insert("blob".into(), AttributeValue::B(Blob::new(blob)));
    item
}

#[tokio::test]
async fn blob_copied_to_another_name_or_workspace_is_rejected() {
    let env = setup().await;
    let ws1 = ws();
    let (_, value) = canary();
    env.broker
        .put_secret(&ws1, &name("src"), &value)
        .await
        .unwrap();
    let stolen = secret_item(&env, &ws1, &name("src")).await;

    plant_secret_item(&env, stolen.clone(), &ws1, &name("copy")).await;
    let e = env
        .broker
        .read_plaintext(&ws1, &name("copy"))
        .await
        .unwrap_err();
    assert!(
        matches!(&e, BrokerError::ContextMismatch { secret, .. } if secret == "copy"),
        "{e:?}"
    );

    let ws2 = ws();
    plant_secret_item(&env, stolen, &ws2, &name("src")).await;
    let e = env
        .broker
        .read_plaintext(&ws2, &name("src"))
        .await
        .unwrap_err();
    assert!(matches!(e, BrokerError::ContextMismatch { .. }), "{e:?}");
}

#[tokio::test]
async fn tampered_blobs_are_rejected_with_the_failing_check() {
    let env = setup().await;
    let ws = ws();
    let (_, value) = canary();
    env.broker
        .put_secret(&ws, &name("t"), &value)
        .await
        .unwrap();
    let original = secret_item(&env, &ws, &name("t")).await;
    let blob = blob_of(&original);

    let last = blob.len() - 1;
    let mut flipped_tag = blob.clone();
    flipped_tag[last] ^= 1;
    let mut bad_version = blob.clone();
    bad_version[4] = 9;
    let truncated = blob[..blob.len() - 20].to_vec();
    // Byte 10 starts the key ARN: point it at another key.
    let arn_len = usize::from(u16::from_be_bytes([blob[8], blob[9]]));
    let edk_at = 12 + arn_len;
    let mut flipped_edk = blob.clone();
    flipped_edk[edk_at + 5] ^= 1;

    let cases: [(&str, Vec<u8>, &str); 4] = [
        ("tag", flipped_tag, "tampered"),
        ("version", bad_version, "tampered"),
        ("truncated", truncated, "tampered"),
        // KMS refuses the altered data key (InvalidCiphertext) for this context.
        ("edk", flipped_edk, "context_mismatch"),
    ];
    for (what, bytes, kind) in cases {
        plant_secret_item(&env, with_blob(original.clone(), bytes), &ws, &name("t")).await;
        let e = env
            .broker
            .read_plaintext(&ws, &name("t"))
            .await
            .unwrap_err();
        assert_eq!(e.kind(), kind, "{what}: {e:?}");
    }

    // Metadata claiming another key than the blob header records.
    let mut lying = original.clone();
    lying.insert("key_mode".into(), AttributeValue::S("byok".into()));
    plant_secret_item(&env, lying, &ws, &name("t")).await;
    let e = env
        .broker
        .read_plaintext(&ws, &name("t"))
        .await
        .unwrap_err();
    assert!(matches!(e, BrokerError::Tampered { .. }), "{e:?}");

    // Restoring the original item restores access: nothing was lost.
    plant_secret_item(&env, original, &ws, &name("t")).await;
    assert!(env.broker.read_plaintext(&ws, &name("t")).await.is_ok());
}
