//! The customer locks the broker out with key state; the very next read
//! fails with a typed revocation, the record survives and `list` marks it,
//! and access comes back when the customer restores the key.

use broker_core::{Broker, BrokerError, RevokedReason, SecretStatus, VerifyStep, WorkspaceId};
use keybroker_tests::{assert_revoked, setup, Customer};

use crate::{canary, name, ws};

async fn status(broker: &Broker, ws: &WorkspaceId) -> SecretStatus {
    let list = broker.list_secrets(ws).await.unwrap();
    assert_eq!(list.len(), 1, "the record must survive revocation");
    list[0].status
}

#[tokio::test]
async fn disabled_key_revokes_on_the_next_read_and_recovers() {
    let env = setup().await;
    let (ws, customer, text) = crate::byok_secret(&env).await;
    assert!(env.broker.read_plaintext(&ws, &name("api")).await.is_ok());

    customer.disable_key().await;
    let e = assert_revoked(
        env.broker.read_plaintext(&ws, &name("api")).await,
        RevokedReason::KeyDisabled,
    );
    assert!(e.to_string().contains("enable it"), "{e}");
    assert!(matches!(
        status(&env.broker, &ws).await,
        SecretStatus::Revoked { reason: RevokedReason::KeyDisabled, since } if since > 0
    ));
    // Rotation cannot bypass it either.
    assert_revoked(
        env.broker
            .rotate_secret(&ws, &name("api"), None, None)
            .await,
        RevokedReason::KeyDisabled,
    );
    // Verify names the link.
    let report = env.broker.verify_byok(&ws).await.unwrap();
    assert_eq!(report.failed_step, Some(VerifyStep::GenerateDataKey));
    assert_eq!(report.error_kind, Some("revoked"));

    customer.enable_key().await;
    let got = env.broker.read_plaintext(&ws, &name("api")).await.unwrap();
    assert_eq!(got.value.expose(), text.as_bytes());
    assert_eq!(status(&env.broker, &ws).await, SecretStatus::Active);
}

#[tokio::test]
async fn key_pending_deletion_revokes() {
    let env = setup().await;
    let (ws, customer, text) = crate::byok_secret(&env).await;
    customer.schedule_deletion().await;
    assert_revoked(
        env.broker.read_plaintext(&ws, &name("api")).await,
        RevokedReason::KeyPendingDeletion,
    );
    assert!(matches!(
        status(&env.broker, &ws).await,
        SecretStatus::Revoked {
            reason: RevokedReason::KeyPendingDeletion,
            ..
        }
    ));

    customer.cancel_deletion().await;
    let got = env.broker.read_plaintext(&ws, &name("api")).await.unwrap();
    assert_eq!(got.value.expose(), text.as_bytes());
}

#[tokio::test]
async fn enable_byok_refuses_a_broken_link_and_stores_nothing() {
    let env = setup().await;
    let ws = ws();
    let ext = env.broker.prepare_byok(&ws).await.unwrap().external_id;
    let customer = Customer::create(&ws, &ext).await;

    // A key that does not exist in the customer's account.
    let missing = format!(
        "arn:aws:kms:us-east-1:{}:key/00000000-0000-4000-8000-000000000000",
        customer.account
    );
    assert_revoked(
        env.broker
            .enable_byok(&ws, &customer.role_arn, &missing, None)
            .await,
        RevokedReason::KeyNotFound,
    );

    // A disabled key.
    customer.disable_key().await;
    assert_revoked(
        env.broker
            .enable_byok(&ws, &customer.role_arn, &customer.key_arn, None)
            .await,
        RevokedReason::KeyDisabled,
    );

    // A region that is not the key's.
    customer.enable_key().await;
    let e = env
        .broker
        .enable_byok(
            &ws,
            &customer.role_arn,
            &customer.key_arn,
            Some("eu-west-1"),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            BrokerError::InvalidInput {
                field: "region",
                ..
            }
        ),
        "{e:?}"
    );

    // None of it was stored: the workspace is still in platform mode.
    let w = env.broker.workspace(&ws).await.unwrap();
    assert!(!w.byok_enabled());
    assert_eq!(w.role_arn(), None);
    let (_, v) = canary();
    let m = env.broker.put_secret(&ws, &name("x"), &v).await.unwrap();
    assert_eq!(m.key_mode, broker_core::KeyMode::Platform);
}

#[tokio::test]
async fn platform_key_disable_revokes_platform_secrets() {
    let env = setup().await;
    let ws = ws();
    let (_, value) = canary();
    env.broker
        .put_secret(&ws, &name("p"), &value)
        .await
        .unwrap();
    env.kms
        .disable_key()
        .key_id(&env.platform_key_arn)
        .send()
        .await
        .unwrap();
    assert_revoked(
        env.broker.read_plaintext(&ws, &name("p")).await,
        RevokedReason::KeyDisabled,
    );
    env.kms
        .enable_key()
        .key_id(&env.platform_key_arn)
        .send()
        .await
        .unwrap();
    assert!(env.broker.read_plaintext(&ws, &name("p")).await.is_ok());
}
