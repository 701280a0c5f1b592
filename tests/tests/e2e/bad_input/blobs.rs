//! Stored blobs that are not what the broker wrote: truncated, garbled,
//! altered inside what AES-GCM authenticates, or another workspace's genuine
//! blob. Each read is the exact typed error; a blob that does not parse
//! never reaches KMS, and nothing is rewritten.

use aws_sdk_dynamodb::types::AttributeValue;
use broker_core::{BrokerError, SecretValue, WorkspaceId};
use keybroker_tests::{blob_of, plant_secret_item, secret_item, setup, Env, Item};

use super::done;
use crate::{canary, name, ws};

/// A workspace with one platform-key secret `src`, and its stored item.
async fn stored_secret() -> (Env, WorkspaceId, SecretValue, Item) {
    let env = setup().await;
    let ws = ws();
    let (_, value) = canary();
    env.broker
        .put_secret(&ws, &name("src"), &value)
        .await
        .unwrap();
    let item = secret_item(&env, &ws, &name("src")).await;
    (env, ws, value, item)
}

/// `item` with its blob replaced by `blob`.
fn with_blob(mut item: Item, blob: Vec<u8>) -> Item {
    item.insert(
        "blob".into(),
        AttributeValue::B(aws_sdk_dynamodb::primitives::Blob::new(blob)),
    );
    item
}

#[tokio::test]
async fn unparseable_blobs_are_tampered_and_never_reach_kms() {
    let (env, ws, _, item) = stored_secret().await;
    let good = blob_of(&item);
    let with = |f: &dyn Fn(&mut Vec<u8>)| {
        let mut b = good.clone();
        f(&mut b);
        b
    };
    let arn_len = usize::from(u16::from_be_bytes([good[8], good[9]]));
    let edk_len = usize::from(u16::from_be_bytes([good[10 + arn_len], good[11 + arn_len]]));
    let header_len = 24 + arn_len + edk_len;
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("empty", Vec::new(), "truncated blob"),
        ("magic only", good[..4].to_vec(), "truncated blob"),
        ("header cut", good[..20].to_vec(), "truncated blob"),
        (
            "tag cut",
            good[..header_len + 15].to_vec(),
            "truncated blob",
        ),
        ("bad magic", with(&|b| b[0] = b'X'), "bad magic"),
        (
            "unknown version 3",
            with(&|b| b[4] = 3),
            "unsupported blob version",
        ),
        (
            "unknown version 0",
            with(&|b| b[4] = 0),
            "unsupported blob version",
        ),
        (
            "unknown algorithm",
            with(&|b| b[6] = 9),
            "unknown algorithm id",
        ),
        ("unknown key mode", with(&|b| b[7] = 7), "unknown key mode"),
        (
            "ARN length 0",
            with(&|b| b[8..10].fill(0)),
            "length field out of range",
        ),
        (
            "ARN length huge",
            with(&|b| b[8..10].fill(0xff)),
            "length field out of range",
        ),
        (
            "ARN not UTF-8",
            with(&|b| b[10] = 0xff),
            "key ARN is not UTF-8",
        ),
        (
            "data key length 0",
            with(&|b| b[10 + arn_len..12 + arn_len].fill(0)),
            "length field out of range",
        ),
        (
            "key mode flipped (platform -> byok)",
            with(&|b| b[7] = 2),
            "record metadata and blob header disagree on the key",
        ),
        (
            "random bytes",
            (0..200u8).map(|i| i.wrapping_mul(37)).collect(),
            "bad magic",
        ),
    ];
    let mut n = 0;
    for (i, (label, blob, detail)) in cases.into_iter().enumerate() {
        let target = name(&format!("garbled-{i}"));
        plant_secret_item(&env, with_blob(item.clone(), blob.clone()), &ws, &target).await;
        let calls = env.broker.aws_calls();
        let e = env.broker.read_plaintext(&ws, &target).await.unwrap_err();
        assert!(
            matches!(&e, BrokerError::Tampered { secret, detail: d } if secret == target.as_str() && *d == detail),
            "{label}: {e:?}"
        );
        assert_eq!(
            (env.broker.aws_calls() - calls).kms,
            0,
            "{label}: KMS was called for a blob that does not parse"
        );
        // Nothing rewritten: the record keeps its planted blob and status.
        let after = secret_item(&env, &ws, &target).await;
        assert_eq!(blob_of(&after), blob, "{label}");
        assert_eq!(after.get("status"), item.get("status"), "{label}");
        n += 1;
    }
    done("blobs", n);
    assert!(n >= 15, "{n}");
}

#[tokio::test]
async fn blob_altered_inside_the_aead_is_tampered() {
    let (env, ws, value, _) = stored_secret().await;
    // Well-formed, but altered inside what AES-GCM authenticates: KMS is
    // asked (the data key is intact), the local open refuses.
    let target = name("tag-flipped");
    env.broker.put_secret(&ws, &target, &value).await.unwrap();
    let own = secret_item(&env, &ws, &target).await;
    let mut flipped = blob_of(&own);
    let last = flipped.len() - 1;
    flipped[last] ^= 1;
    plant_secret_item(&env, with_blob(own, flipped), &ws, &target).await;
    let e = env.broker.read_plaintext(&ws, &target).await.unwrap_err();
    assert!(matches!(&e, BrokerError::Tampered { .. }), "{e:?}");
}

#[tokio::test]
async fn another_workspaces_blob_is_a_context_mismatch() {
    let (env, ws, _, item) = stored_secret().await;
    // The genuine blob of another workspace, planted under the same name.
    let other = crate::ws();
    plant_secret_item(&env, item.clone(), &other, &name("src")).await;
    let e = env
        .broker
        .read_plaintext(&other, &name("src"))
        .await
        .unwrap_err();
    assert!(
        matches!(&e, BrokerError::ContextMismatch { secret, .. } if secret == "src"),
        "{e:?}"
    );

    // The original still reads.
    env.broker.read_plaintext(&ws, &name("src")).await.unwrap();
}
