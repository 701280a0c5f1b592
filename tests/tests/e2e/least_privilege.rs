//! The broker runs as sessions of its execution roles with the identity
//! policies from `infra/policies` (never as the account root), and the
//! stack's front evaluates them with the key and trust policies. These tests
//! prove what that shows: no call the code makes is denied, and the
//! cross-account rule for `sts:AssumeRole` confines the broker to customer
//! roles under `role/keybroker/`.

use broker_core::{BrokerError, RevokedReason};
use keybroker_tests::lambda_env::{LambdaEnv, RunOptions};
use keybroker_tests::{
    account_sdk_config, front_denials, key_policy, random_account, setup, trust_policy,
    BrokerAccess,
};
use serde_json::json;

use crate::ws;

/// Denials of calls on `resource` (unique per test, e.g. its platform key).
async fn denials_on(resource: &str) -> Vec<serde_json::Value> {
    front_denials()
        .await
        .into_iter()
        .filter(|d| d["resource"] == resource)
        .collect()
}

#[tokio::test]
async fn functions_start_and_serve_without_a_single_denied_call() {
    let env = setup().await;
    // The warm-up is off by default; turned on, its init-time calls must be
    // granted too (it is a supported setting).
    let opts = RunOptions {
        env: vec![("KEYBROKER_WARM_UP".into(), "on".into())],
        ..RunOptions::default()
    };
    let lambda = LambdaEnv::start_with(&env, &opts).await;
    // One call each: both have finished init (warm-up included) once they answer.
    let ws = ws().to_string();
    lambda
        .admin(json!({ "op": "put_secret", "workspace": ws, "secret": "api", "value": "v-1",
                       "binding": { "hosts": ["api.example.com"],
                                    "inject": { "type": "header", "name": "Authorization", "template": "Bearer {secret}" } } }))
        .await;
    let r = lambda
        .invoke("inject", &json!({ "workspace": ws, "secret": "api", "agent": "a",
                                   "request": { "method": "GET", "url": "https://api.example.com/" } }))
        .await;
    // No policy is set, so inject refuses by policy, after reading the secret.
    assert_eq!(r["ok"], false, "{r}");
    let denied = denials_on(&env.platform_key_arn).await;
    assert!(
        denied.is_empty(),
        "calls on the platform key were denied (CloudTrail AccessDenied on AWS): {denied:#?}"
    );
}

#[tokio::test]
async fn the_broker_may_assume_customer_roles_under_keybroker_path_only() {
    let env = setup().await;
    let ws = ws();
    let ext = env.broker.prepare_byok(&ws).await.unwrap().external_id;
    // A customer role outside /keybroker/, with a trust policy naming the
    // broker roles and the right external id, and a key granting it.
    let account = random_account();
    let sdk = account_sdk_config(&account).await;
    let role_arn = aws_sdk_iam::Client::new(&sdk)
        .create_role()
        .role_name("KeybrokerAccess")
        .assume_role_policy_document(trust_policy(Some(&ext)))
        .send()
        .await
        .unwrap()
        .role()
        .unwrap()
        .arn()
        .to_owned();
    assert_eq!(
        role_arn,
        format!("arn:aws:iam::{account}:role/KeybrokerAccess")
    );
    let key_arn = aws_sdk_kms::Client::new(&sdk)
        .create_key()
        .policy(key_policy(&account, &role_arn, &ws, BrokerAccess::Enabled))
        .send()
        .await
        .unwrap()
        .key_metadata()
        .unwrap()
        .arn()
        .unwrap()
        .to_owned();
    // The trust policy allows, but the broker role's identity policy
    // (sts:AssumeRole on arn:aws:iam::*:role/keybroker/*) does not: the
    // cross-account rule needs both.
    let e = env
        .broker
        .enable_byok(&ws, &role_arn, &key_arn, None)
        .await
        .unwrap_err();
    assert!(matches!(e, BrokerError::Revoked { .. }), "{e:?}");
    assert_eq!(
        e.revoked_reason(),
        Some(RevokedReason::RoleAssumptionDenied),
        "{e:?}"
    );
    let denied = front_denials().await;
    assert!(
        denied.iter().any(|d| d["action"] == "sts:AssumeRole"
            && d["resource"] == role_arn.as_str()
            && d["principal"]
                .as_str()
                .unwrap_or_default()
                .contains(":assumed-role/keybroker-admin/")),
        "{denied:#?}"
    );
}
