//! Secrets remember what sealed them (issue 15, item 1): after
//! `enable_byok` with a new role and key, secrets sealed through the old
//! role still read and rotate through it, and the customer revoking the
//! old role still revokes them until they are rewrapped. On the code
//! before this change, every read below of an old secret failed `revoked`
//! (it assumed the workspace's new role, which the old key does not grant).

use broker_core::{KeyMode, RevokedReason, SecretStatus};
use keybroker_tests::{
    assert_revoked, plant_secret_item, secret_item, setup, BrokerAccess, Customer,
};

use crate::{canary, name, ws};

#[tokio::test]
async fn switching_role_and_key_strands_nothing_and_old_revocations_still_bite() {
    let env = setup().await;
    let ws = ws();
    let a = env.onboard_customer(&ws).await;
    let (read_text, read_value) = canary();
    let (rot_text, rot_value) = canary();
    for (n, v) in [("old-read", &read_value), ("old-rotated", &rot_value)] {
        let m = env.broker.put_secret(&ws, &name(n), v).await.unwrap();
        assert_eq!(
            m.role_arn.as_ref().map(|r| r.as_str()),
            Some(a.role_arn.as_str())
        );
    }

    // The customer moves the workspace to a new role and key (another
    // account, as a re-onboarding would).
    let ext = env.broker.prepare_byok(&ws).await.unwrap().external_id;
    let b = Customer::create(&ws, &ext).await;
    env.broker
        .enable_byok(&ws, &b.role_arn, &b.key_arn, None)
        .await
        .unwrap();

    // Old secrets read through the role they were sealed through.
    let got = env
        .broker
        .read_plaintext(&ws, &name("old-read"))
        .await
        .unwrap();
    assert_eq!(got.value.expose(), read_text.as_bytes());
    assert_eq!(got.metadata.key_arn.as_str(), a.key_arn);
    // Rotation without a value opens the old one (role A) and moves it to B.
    let rotated = env
        .broker
        .rotate_secret(&ws, &name("old-rotated"), None, None)
        .await
        .unwrap();
    assert_eq!(rotated.key_arn.as_str(), b.key_arn);
    assert_eq!(
        rotated.role_arn.as_ref().map(|r| r.as_str()),
        Some(b.role_arn.as_str())
    );
    let (_, new_value) = canary();
    env.broker
        .put_secret(&ws, &name("new"), &new_value)
        .await
        .unwrap();

    // Warm reads alternating between the two roles: one DynamoDB and one
    // KMS call each, no AssumeRole (one cached session per role).
    env.broker
        .read_plaintext(&ws, &name("old-read"))
        .await
        .unwrap();
    env.broker.read_plaintext(&ws, &name("new")).await.unwrap();
    let before = env.broker.aws_calls();
    for n in ["old-read", "new", "old-read", "new"] {
        env.broker.read_plaintext(&ws, &name(n)).await.unwrap();
    }
    let calls = env.broker.aws_calls() - before;
    assert_eq!(
        (calls.dynamodb, calls.kms, calls.sts),
        (4, 4, 0),
        "{calls:?}"
    );

    // Customer A revokes: what is still sealed through A is revoked, what
    // moved to B is not.
    a.set_broker_access(BrokerAccess::Revoked).await;
    assert_revoked(
        env.broker.read_plaintext(&ws, &name("old-read")).await,
        RevokedReason::KeyAccessDenied,
    );
    let got = env
        .broker
        .read_plaintext(&ws, &name("old-rotated"))
        .await
        .unwrap();
    assert_eq!(got.value.expose(), rot_text.as_bytes());
    env.broker.read_plaintext(&ws, &name("new")).await.unwrap();
    let list = env.broker.list_secrets(&ws).await.unwrap();
    let old = list.iter().find(|m| m.name.as_str() == "old-read").unwrap();
    assert!(
        matches!(old.status, SecretStatus::Revoked { .. }),
        "{old:?}"
    );
    assert_eq!(
        old.role_arn.as_ref().map(|r| r.as_str()),
        Some(a.role_arn.as_str())
    );
}

/// Stored data rule: an item written before roles were recorded (no
/// `role_arn`) reads through the workspace's current link, as it always did.
#[tokio::test]
async fn items_without_a_recorded_role_read_through_the_current_link() {
    let env = setup().await;
    let ws = ws();
    env.onboard_customer(&ws).await;
    let (text, value) = canary();
    env.broker
        .put_secret(&ws, &name("legacy"), &value)
        .await
        .unwrap();
    let mut item = secret_item(&env, &ws, &name("legacy")).await;
    assert!(item.remove("role_arn").is_some());
    plant_secret_item(&env, item, &ws, &name("legacy")).await;
    let got = env
        .broker
        .read_plaintext(&ws, &name("legacy"))
        .await
        .unwrap();
    assert_eq!(got.value.expose(), text.as_bytes());
    assert_eq!(got.metadata.role_arn, None);
    assert_eq!(got.metadata.key_mode, KeyMode::Byok);
}

/// The attack: a table writer records another role on one secret, a role
/// they control that trusts the broker with this workspace's external id
/// (external ids are not secret). The read assumes it, but the key the
/// blob names still answers to its own key policy only: revoked, no value.
#[tokio::test]
async fn a_recorded_role_planted_by_a_table_writer_gains_nothing() {
    let env = setup().await;
    let ws = ws();
    env.onboard_customer(&ws).await;
    let (_, value) = canary();
    env.broker
        .put_secret(&ws, &name("s"), &value)
        .await
        .unwrap();
    let ext = env.broker.prepare_byok(&ws).await.unwrap().external_id;
    let attacker = Customer::create(&ws, &ext).await;
    let mut item = secret_item(&env, &ws, &name("s")).await;
    item.insert(
        "role_arn".into(),
        aws_sdk_dynamodb::types::AttributeValue::S(attacker.role_arn.clone()),
    );
    plant_secret_item(&env, item, &ws, &name("s")).await;
    assert_revoked(
        env.broker.read_plaintext(&ws, &name("s")).await,
        RevokedReason::KeyAccessDenied,
    );
}
