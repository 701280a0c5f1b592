//! Issue 23, item 1: the broker's own account is denied the customer's key
//! (`KeybrokerDenyPlatformAccount`, keyed on `aws:PrincipalAccount`) in both
//! states of the switch, so a grant or key-policy Allow that names one of
//! its principals ("to debug") reaches nothing; the role keeps working; the
//! readiness check fails on such a grant or Allow whatever the switch says,
//! and on a multi-Region key whose replica lacks the same Denies. Each case
//! first shows the hole on the stack without the Deny, so the test can fail.

use aws_sdk_kms::error::ProvideErrorMetadata;
use aws_sdk_kms::operation::RequestId;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{DataKeySpec, GrantOperation};
use broker_core::{RevokedReason, WorkspaceId};
use keybroker_tests::broker_identity::{role_sdk_config, BrokerRole};
use keybroker_tests::{
    account_sdk_config, assert_revoked, readiness_codes, setup, trail_events_of, BrokerAccess,
    BROKER_ACCOUNT, INJECT_ROLE_ARN,
};
use serde_json::{json, Value};

use crate::{canary, name, ws};

const OPS: [GrantOperation; 2] = [GrantOperation::Decrypt, GrantOperation::GenerateDataKey];

/// `GenerateDataKey` under `key` in `ws`'s context, as `kms`'s caller: the
/// KMS request id on success, or (error code, request id) on refusal.
async fn generate(
    kms: &aws_sdk_kms::Client,
    key: &str,
    ws: &WorkspaceId,
) -> Result<String, (String, String)> {
    kms.generate_data_key()
        .key_id(key)
        .key_spec(DataKeySpec::Aes256)
        .encryption_context("workspace", ws.as_str())
        .encryption_context("secret", "api")
        .send()
        .await
        .map(|o| o.request_id().unwrap_or_default().to_owned())
        .map_err(|e| {
            (
                e.code().unwrap_or("?").to_owned(),
                e.request_id().unwrap_or_default().to_owned(),
            )
        })
}

/// The refusal is AWS's, and (cross-account) it is in the caller's trail only.
fn assert_refused_and_unseen_by_the_customer(r: Result<String, (String, String)>, who: &str) {
    let (code, request_id) = r.expect_err(who);
    assert_eq!(code, "AccessDeniedException", "{who}");
    let recipients: Vec<Value> = trail_events_of(&request_id)
        .into_iter()
        .map(|e| {
            assert_eq!(e["errorCode"], "AccessDeniedException");
            e["recipientAccountId"].clone()
        })
        .collect();
    assert_eq!(
        recipients,
        [BROKER_ACCOUNT],
        "{who}: logged for the caller only"
    );
}

fn without_platform_deny(st: &mut Vec<Value>) {
    st.retain(|s| s["Sid"] != "KeybrokerDenyPlatformAccount");
}

#[tokio::test]
async fn a_grant_to_the_inject_role_is_refused_and_fails_the_check_in_both_switch_states() {
    let env = setup().await;
    let (ws, customer, text) = crate::byok_secret(&env).await;
    let grant = customer.grant_to(INJECT_ROLE_ARN, &OPS).await;
    let inject = aws_sdk_kms::Client::new(&role_sdk_config(BrokerRole::Inject).await);

    // The hole: without the platform Deny, the grant reaches the broker's
    // inject role in its own account, no customer role needed (as on AWS).
    customer
        .set_edited_key_policy(BrokerAccess::Revoked, without_platform_deny)
        .await;
    generate(&inject, &customer.key_arn, &ws)
        .await
        .expect("a cross-account grant is usable without any IAM policy");

    for access in [BrokerAccess::Enabled, BrokerAccess::Revoked] {
        customer.set_broker_access(access).await;
        let r = generate(&inject, &customer.key_arn, &ws).await;
        assert_refused_and_unseen_by_the_customer(r, &format!("{access:?}"));
        let (code, report) = customer.readiness_check();
        assert_eq!(code, 1, "{access:?}: {report:#}");
        assert_eq!(
            readiness_codes(&report, "FAIL"),
            ["grant-to-foreign-principal"]
        );
        assert!(report.to_string().contains(&grant), "{report:#}");
    }
    // The Deny leaves the customer role alone: the broker reads as before.
    customer.set_broker_access(BrokerAccess::Enabled).await;
    let got = env.broker.read_plaintext(&ws, &name("api")).await.unwrap();
    assert_eq!(got.value.expose(), text.as_bytes());
}

#[tokio::test]
async fn a_key_policy_allow_for_the_broker_root_is_refused_and_fails_the_check() {
    let env = setup().await;
    let (ws, customer, _) = crate::byok_secret(&env).await;
    let support = json!({
        "Sid": "SupportDebug",
        "Effect": "Allow",
        "Principal": {"AWS": format!("arn:aws:iam::{BROKER_ACCOUNT}:root")},
        "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
        "Resource": "*"
    });
    let broker_root = aws_sdk_kms::Client::new(&account_sdk_config(BROKER_ACCOUNT).await);

    // The hole: an Allow for the broker account delegates to its IAM.
    let open = support.clone();
    customer
        .set_edited_key_policy(BrokerAccess::Revoked, |st| {
            without_platform_deny(st);
            st.push(open);
        })
        .await;
    generate(&broker_root, &customer.key_arn, &ws)
        .await
        .expect("the broker account reaches the key through the Allow");

    for access in [BrokerAccess::Enabled, BrokerAccess::Revoked] {
        let extra = support.clone();
        customer
            .set_edited_key_policy(access, |st| st.push(extra))
            .await;
        let r = generate(&broker_root, &customer.key_arn, &ws).await;
        assert_refused_and_unseen_by_the_customer(r, &format!("{access:?}"));
        let (code, report) = customer.readiness_check();
        assert_eq!(code, 1, "{access:?}: {report:#}");
        assert_eq!(
            readiness_codes(&report, "FAIL"),
            ["key-policy-reaches-foreign-principal"],
            "{report:#}"
        );
        assert!(report.to_string().contains("SupportDebug"), "{report:#}");
    }
    // The customer's own administrator keeps every right over the key.
    customer.set_broker_access(BrokerAccess::Enabled).await;
    let (code, report) = customer.readiness_check();
    assert_eq!(code, 0, "{report:#}");
    assert!(readiness_codes(&report, "OK").contains(&"standing-deny:platform-account".to_owned()));
}

#[tokio::test]
async fn a_replica_without_the_same_denies_fails_the_check_and_still_decrypts() {
    let env = setup().await;
    let ws = ws();
    let customer = env.onboard_multi_region_customer(&ws).await;
    let ext = env.broker.workspace(&ws).await.unwrap().external_id;
    let (_, value) = canary();
    env.broker
        .put_secret(&ws, &name("api"), &value)
        .await
        .unwrap();
    let replica = customer.replicate("us-west-2").await;
    let (code, report) = customer.readiness_check();
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["multi_region"], true);
    assert!(readiness_codes(&report, "OK").contains(&"replica-denies:us-west-2".to_owned()));

    // A data key under the primary, with what the broker holds (the role).
    let role = customer.role_kms(&ext).await;
    let dk = role
        .generate_data_key()
        .key_id(&customer.key_arn)
        .key_spec(DataKeySpec::Aes256)
        .encryption_context("workspace", ws.as_str())
        .encryption_context("secret", "api")
        .send()
        .await
        .unwrap();
    let blob = dk.ciphertext_blob().unwrap().clone();
    let decrypt = |kms: aws_sdk_kms::Client, key: String, blob: Blob| {
        let ws = ws.clone();
        async move {
            kms.decrypt()
                .key_id(key)
                .ciphertext_blob(blob)
                .encryption_context("workspace", ws.as_str())
                .encryption_context("secret", "api")
                .send()
                .await
                .map_err(|e| e.code().unwrap_or("?").to_owned())
                .map(|_| ())
        }
    };

    // Revoked on the primary only: the broker is out there, the replica
    // (its own key policy, the same key material) still serves the role.
    customer.set_broker_access(BrokerAccess::Revoked).await;
    assert_revoked(
        env.broker.read_plaintext(&ws, &name("api")).await,
        RevokedReason::KeyAccessDenied,
    );
    let west = customer.role_kms_in(&ext, "us-west-2").await;
    assert_eq!(
        decrypt(role.clone(), customer.key_arn.clone(), blob.clone()).await,
        Err("AccessDeniedException".to_owned())
    );
    decrypt(west.clone(), replica.clone(), blob.clone())
        .await
        .expect("the replica was not revoked");
    let (code, report) = customer.readiness_check();
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(
        readiness_codes(&report, "FAIL"),
        ["replica-deny-set-differs"]
    );
    assert!(report.to_string().contains(&replica), "{report:#}");

    // The same Denies on the replica: revoked everywhere, the check passes.
    customer
        .set_broker_access_on(&replica, "us-west-2", BrokerAccess::Revoked)
        .await;
    assert_eq!(
        decrypt(west, replica, blob).await,
        Err("AccessDeniedException".to_owned())
    );
    let (code, report) = customer.readiness_check();
    assert_eq!(code, 0, "{report:#}");
}
