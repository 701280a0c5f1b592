//! The customer's policies lock the broker out, as enforced by the local
//! stack's IAM front (`localstack/iam-front/`): removing the broker statement
//! from the key policy fails the very next read, a trust policy requiring
//! another external id refuses the role, and the key policy's workspace pin
//! refuses every other workspace.

use std::time::{Duration, Instant};

use broker_core::{BrokerError, RevokedReason, SecretStatus, VerifyStep, WorkspaceId};
use keybroker_tests::{assert_revoked, revoked_reason, setup, BrokerAccess, Customer, Env};

use crate::{name, ws};

/// A BYOK workspace with one secret stored under the customer's key.
/// Assert that `ws` is still in platform mode: a refused `enable_byok`
/// stored nothing.
async fn assert_not_enabled(env: &Env, ws: &WorkspaceId) {
    let w = env.broker.workspace(ws).await.unwrap();
    assert!(!w.byok_enabled(), "{w:?}");
    assert_eq!(w.role_arn(), None);
}

#[tokio::test]
async fn revocation_switch_revokes_the_very_next_read() {
    let env = setup().await;
    let (ws, customer, text) = crate::byok_secret(&env).await;
    let got = env.broker.read_plaintext(&ws, &name("api")).await.unwrap();
    assert_eq!(got.value.expose(), text.as_bytes());
    drop(got);

    customer.set_broker_access(BrokerAccess::Revoked).await;
    // PutKeyPolicy has returned: count reads until the first refusal.
    let revoked_at = Instant::now();
    let mut reads = 0u32;
    let e = loop {
        reads += 1;
        match env.broker.read_plaintext(&ws, &name("api")).await {
            Ok(_) if revoked_at.elapsed() < Duration::from_secs(10) => continue,
            Ok(_) => panic!("still readable {reads} reads and 10 s after PutKeyPolicy"),
            Err(e) => break e,
        }
    };
    let latency = revoked_at.elapsed();
    println!(
        "key-policy revocation: first refused read {:.3} s after PutKeyPolicy returned, \
         on read #{reads} ({e})",
        latency.as_secs_f64()
    );
    assert_eq!(reads, 1, "the very next read must be refused");
    assert_eq!(revoked_reason(&e), RevokedReason::KeyAccessDenied, "{e:?}");
    assert_eq!(e.kind(), "revoked");
    assert!(e.to_string().contains("broker_access = \"enabled\""), "{e}");

    // The record survives and `list` says why it cannot be read.
    let list = env.broker.list_secrets(&ws).await.unwrap();
    assert_eq!(list.len(), 1, "the record must survive revocation");
    assert!(
        matches!(
            list[0].status,
            SecretStatus::Revoked { reason: RevokedReason::KeyAccessDenied, since } if since > 0
        ),
        "{:?}",
        list[0].status
    );
    // Writes and verification are refused at GenerateDataKey.
    assert_revoked(
        env.broker
            .rotate_secret(&ws, &name("api"), None, None)
            .await,
        RevokedReason::KeyAccessDenied,
    );
    let report = env.broker.verify_byok(&ws).await.unwrap();
    assert_eq!(report.failed_step, Some(VerifyStep::GenerateDataKey));
    assert_eq!(report.error_kind, Some("revoked"));
    assert!(report.hint.contains("key policy"), "{}", report.hint);

    // Putting the statement back restores access, without re-provisioning.
    customer.set_broker_access(BrokerAccess::Enabled).await;
    let got = env.broker.read_plaintext(&ws, &name("api")).await.unwrap();
    assert_eq!(got.value.expose(), text.as_bytes());
    assert_eq!(
        env.broker.list_secrets(&ws).await.unwrap()[0].status,
        SecretStatus::Active
    );
}

#[tokio::test]
async fn trust_policy_requiring_another_external_id_refuses_enable() {
    let env = setup().await;
    let ws = ws();
    let ext = env.broker.prepare_byok(&ws).await.unwrap().external_id;
    let other = format!("{ext}-other");
    let customer = Customer::create_with_trust(&ws, Some(&other)).await;
    assert_revoked(
        env.broker
            .enable_byok(&ws, &customer.role_arn, &customer.key_arn, None)
            .await,
        RevokedReason::RoleAssumptionDenied,
    );
    assert_not_enabled(&env, &ws).await;
}

#[tokio::test]
async fn trust_policy_changed_after_enable_fails_verify_at_assume_role() {
    let env = setup().await;
    let (ws, customer, _) = crate::byok_secret(&env).await;
    let ext = env.broker.workspace(&ws).await.unwrap().external_id;

    customer
        .set_trust_external_id(Some("kb-some-other-external-id-000000000000"))
        .await;
    let report = env.broker.verify_byok(&ws).await.unwrap();
    assert_eq!(
        report.failed_step,
        Some(VerifyStep::AssumeRole),
        "{report:?}"
    );
    assert_eq!(report.error_kind, Some("revoked"));
    assert_eq!(
        report.error.as_ref().and_then(BrokerError::revoked_reason),
        Some(RevokedReason::RoleAssumptionDenied)
    );
    assert!(report.hint.contains(&ext), "{}", report.hint);
    assert_eq!(report.external_id, ext);

    // A broker without a cached session (a fresh Lambda sandbox) cannot read.
    let cold = setup().await;
    assert_revoked(
        cold.broker.read_plaintext(&ws, &name("api")).await,
        RevokedReason::RoleAssumptionDenied,
    );

    // Restoring the trust policy restores access.
    customer.set_trust_external_id(Some(&ext)).await;
    assert!(env.broker.verify_byok(&ws).await.unwrap().is_ok());
    let cold = setup().await;
    assert!(cold.broker.read_plaintext(&ws, &name("api")).await.is_ok());
}

#[tokio::test]
async fn key_pinned_to_another_workspace_is_refused() {
    let env = setup().await;
    let ws = ws();
    let ext = env.broker.prepare_byok(&ws).await.unwrap().external_id;
    let other = WorkspaceId::new(keybroker_tests::unique("other")).unwrap();
    let customer = Customer::create_pinned_to(&ext, &other).await;
    assert_revoked(
        env.broker
            .enable_byok(&ws, &customer.role_arn, &customer.key_arn, None)
            .await,
        RevokedReason::KeyAccessDenied,
    );
    assert_not_enabled(&env, &ws).await;
}

#[tokio::test]
async fn role_that_does_not_exist_is_refused() {
    let env = setup().await;
    let ws = ws();
    let ext = env.broker.prepare_byok(&ws).await.unwrap().external_id;
    let customer = Customer::create(&ws, &ext).await;
    let missing = format!("arn:aws:iam::{}:role/keybroker/Missing", customer.account);
    assert_revoked(
        env.broker
            .enable_byok(&ws, &missing, &customer.key_arn, None)
            .await,
        RevokedReason::RoleAssumptionDenied,
    );
    assert_not_enabled(&env, &ws).await;
}

#[tokio::test]
async fn broker_account_cannot_use_the_customer_key_without_the_role() {
    let env = setup().await;
    let (ws, customer, _) = crate::byok_secret(&env).await;
    // The broker's own credentials, with the right encryption context: the
    // key policy grants the customer's role, not the broker account.
    let e = env
        .kms
        .generate_data_key()
        .key_id(&customer.key_arn)
        .key_spec(aws_sdk_kms::types::DataKeySpec::Aes256)
        .encryption_context("workspace", ws.as_str())
        .encryption_context("secret", "api")
        .send()
        .await
        .unwrap_err();
    let code = aws_sdk_kms::error::ProvideErrorMetadata::code(&e);
    assert_eq!(code, Some("AccessDeniedException"), "{e:?}");
}
