//! The customer's revocation readiness check
//! (`terraform/readiness/check_revocation.py`), run as a subprocess against
//! the stack: it passes the module as shipped, and fails, naming the path,
//! for each thing that could defeat revocation.

use aws_sdk_kms::types::GrantOperation;
use keybroker_tests::{readiness_check, readiness_codes, setup, BrokerAccess};

#[tokio::test]
async fn the_module_as_shipped_passes() {
    let env = setup().await;
    let (_, customer, _) = crate::byok_secret(&env).await;
    let (code, report) = customer.readiness_check();
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["guaranteed"], true);
    assert_eq!(report["switch"], "enabled");
    assert!(readiness_codes(&report, "FAIL").is_empty(), "{report:#}");
    let mut ok = readiness_codes(&report, "OK");
    ok.sort();
    assert_eq!(
        ok,
        [
            "standing-deny:extra-context-keys",
            "standing-deny:missing-secret",
            "standing-deny:other-actions",
            "standing-deny:other-workspaces",
            "standing-deny:platform-account",
        ]
    );
}

#[tokio::test]
async fn a_grant_to_the_role_fails_the_check() {
    let env = setup().await;
    let (_, customer, _) = crate::byok_secret(&env).await;
    let grant = customer.grant_role(&[GrantOperation::Decrypt]).await;
    let (code, report) = customer.readiness_check();
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(report["guaranteed"], false);
    assert_eq!(readiness_codes(&report, "FAIL"), ["grant-to-role"]);
    assert!(report.to_string().contains(&grant), "{report:#}");
}

#[tokio::test]
async fn an_identity_policy_fails_the_check_until_the_switch_is_revoked() {
    let env = setup().await;
    let (_, customer, _) = crate::byok_secret(&env).await;
    customer
        .put_role_policy("AllowDecrypt", &["kms:Decrypt"])
        .await;
    let (code, report) = customer.readiness_check();
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(
        readiness_codes(&report, "FAIL"),
        ["identity-policy-allows-kms"]
    );

    // The explicit Deny beats it: revocation is guaranteed, the policy is
    // still reported.
    customer.set_broker_access(BrokerAccess::Revoked).await;
    let (code, report) = customer.readiness_check();
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["switch"], "revoked");
    assert!(readiness_codes(&report, "FAIL").is_empty());
    assert!(readiness_codes(&report, "WARN").contains(&"identity-policy-allows-kms".to_owned()));
}

#[tokio::test]
async fn a_key_policy_without_the_standing_denies_fails_the_check() {
    let env = setup().await;
    let (_, customer, _) = crate::byok_secret(&env).await;
    // The module's policy with its standing Denies stripped (what a
    // hand-written key policy from before issue 13 looks like).
    customer
        .set_edited_key_policy(BrokerAccess::Enabled, |st| {
            st.retain(|s| s["Effect"] == "Allow")
        })
        .await;
    let (code, report) = customer.readiness_check();
    assert_eq!(code, 1, "{report:#}");
    let mut fails = readiness_codes(&report, "FAIL");
    fails.sort();
    assert_eq!(
        fails,
        [
            "missing-standing-deny:extra-context-keys",
            "missing-standing-deny:missing-secret",
            "missing-standing-deny:other-actions",
            "missing-standing-deny:other-workspaces",
            "missing-standing-deny:platform-account",
        ]
    );
}

#[tokio::test]
async fn a_check_that_cannot_run_exits_2() {
    let env = setup().await;
    let (_, customer, _) = crate::byok_secret(&env).await;
    let (code, _) = readiness_check(&customer.account, "not-an-arn", &customer.role_arn);
    assert_eq!(code, 2);
    // A key that does not exist: the AWS call fails, not guaranteed.
    let missing = format!(
        "arn:aws:kms:us-east-1:{}:key/00000000-0000-4000-8000-000000000000",
        customer.account
    );
    let (code, _) = readiness_check(&customer.account, &missing, &customer.role_arn);
    assert_eq!(code, 2);
}

#[tokio::test]
async fn an_attached_managed_policy_fails_the_check() {
    let env = setup().await;
    let (_, customer, _) = crate::byok_secret(&env).await;
    let doc = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "kms:*", "Resource": "*"}]
    });
    let arn = customer
        .iam
        .create_policy()
        .policy_name("KmsEverywhere")
        .policy_document(doc.to_string())
        .send()
        .await
        .unwrap()
        .policy
        .and_then(|p| p.arn)
        .expect("policy ARN");
    customer
        .iam
        .attach_role_policy()
        .role_name(keybroker_tests::CUSTOMER_ROLE_NAME)
        .policy_arn(&arn)
        .send()
        .await
        .unwrap();
    let (code, report) = customer.readiness_check();
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(
        readiness_codes(&report, "FAIL"),
        ["identity-policy-allows-kms"]
    );
    assert!(report.to_string().contains(&arn), "{report:#}");
}

#[tokio::test]
async fn a_key_policy_allow_for_everyone_fails_the_check() {
    let env = setup().await;
    let (_, customer, _) = crate::byok_secret(&env).await;
    let extra = customer.account_wide_decrypt_statement();
    customer
        .set_edited_key_policy(BrokerAccess::Enabled, |st| st.push(extra))
        .await;
    let (code, report) = customer.readiness_check();
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(
        readiness_codes(&report, "FAIL"),
        ["key-policy-reaches-role"]
    );
    assert!(
        report.to_string().contains("AccountWideDecrypt"),
        "{report:#}"
    );
}
