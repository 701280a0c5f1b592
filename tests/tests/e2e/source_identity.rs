//! Issue 23, item 2: every AssumeRole carries a SourceIdentity naming the
//! function (`keybroker-inject`, `keybroker-admin`) and a session name naming
//! the purpose and workspace (`keybroker-<inject|admin|check|verify>.<ws>`),
//! so the customer's CloudTrail (here: the front's trail) tells an agent's
//! injection from an operator's read, a health check and the BYOK canary.
//! The shipped trust policy requires it; one without `sts:SetSourceIdentity`
//! refuses the broker.

use std::collections::BTreeSet;

use keybroker_tests::lambda_env::{LambdaEnv, Upstream};
use keybroker_tests::{
    broker_sdk_config, front_denials, setup, trail_events, trust_policy_without_source_identity,
    ADMIN_ROLE_ARN, CUSTOMER_ROLE_NAME, INJECT_ROLE_ARN,
};
use serde_json::Value;

use crate::inject::{bearer, bound_secret_in, inject_event};
use crate::{name, ws};

fn session_of(e: &Value) -> String {
    e["userIdentity"]["arn"]
        .as_str()
        .and_then(|a| a.rsplit('/').next())
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn every_session_names_its_purpose_and_function_in_the_customers_trail() {
    let env = setup().await;
    let lambda = LambdaEnv::start(&env).await;
    let up = Upstream::start().await;
    let ws = ws();
    let customer = env.onboard_customer(&ws).await; // verify (library, admin role)
    bound_secret_in(&lambda, &up, bearer(), ws.to_string()).await; // put (admin function)
    env.broker.read_plaintext(&ws, &name("api")).await.unwrap(); // operator read
    env.broker.check_workspace(&ws).await.unwrap(); // status check
    let r = lambda
        .invoke(
            "inject",
            &inject_event(ws.as_str(), &format!("{}/x", up.base())),
        )
        .await;
    assert_eq!(r["ok"], true, "{r}");

    let mine: Vec<Value> = trail_events()
        .into_iter()
        .filter(|e| e["recipientAccountId"] == customer.account.as_str())
        .collect();
    // AssumeRole: who asked (the function's execution role), the session
    // name and SourceIdentity it set.
    let assumed: BTreeSet<(String, String, String)> = mine
        .iter()
        .filter(|e| e["eventName"] == "AssumeRole" && e.get("errorCode").is_none())
        .map(|e| {
            let p = &e["requestParameters"];
            (
                e["userIdentity"]["sessionContext"]["sessionIssuer"]["arn"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
                p["roleSessionName"].as_str().unwrap().to_owned(),
                p["sourceIdentity"].as_str().unwrap_or("-").to_owned(),
            )
        })
        .collect();
    let s = |p: &str| format!("keybroker-{p}.{ws}");
    let want: BTreeSet<(String, String, String)> = [
        (ADMIN_ROLE_ARN, s("verify"), "keybroker-admin"),
        (ADMIN_ROLE_ARN, s("admin"), "keybroker-admin"),
        (ADMIN_ROLE_ARN, s("check"), "keybroker-admin"),
        (INJECT_ROLE_ARN, s("inject"), "keybroker-inject"),
    ]
    .into_iter()
    .map(|(a, b, c)| (a.to_owned(), b, c.to_owned()))
    .collect();
    assert_eq!(assumed, want);

    // KMS: each call by the role names its session and SourceIdentity.
    let mut kms: BTreeSet<(String, String, String, String)> = BTreeSet::new();
    let by_role = |e: &&Value| {
        e["eventSource"] == "kms.amazonaws.com"
            && e["userIdentity"]["sessionContext"]["sessionIssuer"]["arn"]
                == customer.role_arn.as_str()
    };
    for e in mine.iter().filter(by_role) {
        let ui = &e["userIdentity"];
        assert_eq!(ui["type"], "AssumedRole", "{e}");
        assert!(e.get("errorCode").is_none(), "{e}");
        kms.insert((
            session_of(e),
            ui["sessionContext"]["sourceIdentity"]
                .as_str()
                .unwrap()
                .to_owned(),
            e["eventName"].as_str().unwrap().to_owned(),
            e["requestParameters"]["encryptionContext"]["secret"]
                .as_str()
                .unwrap()
                .to_owned(),
        ));
    }
    let k = |p: &str, si: &str, op: &str, secret: &str| {
        (
            s(p),
            format!("keybroker-{si}"),
            op.to_owned(),
            secret.to_owned(),
        )
    };
    let want: BTreeSet<_> = [
        k("verify", "admin", "GenerateDataKey", "__keybroker_verify__"),
        k("verify", "admin", "Decrypt", "__keybroker_verify__"),
        k("admin", "admin", "GenerateDataKey", "api"),
        k("admin", "admin", "Decrypt", "api"),
        k("check", "admin", "Decrypt", "api"),
        k("inject", "inject", "Decrypt", "api"),
    ]
    .into_iter()
    .collect();
    assert_eq!(kms, want);
    lambda.stop().await;
}

#[tokio::test]
async fn the_role_is_refused_without_a_source_identity_or_without_set_source_identity() {
    let env = setup().await;
    let (ws, customer, _) = crate::byok_secret(&env).await;
    let ext = env.broker.workspace(&ws).await.unwrap().external_id;
    let sts = aws_sdk_sts::Client::new(&broker_sdk_config().await);
    let assume = |source: Option<&'static str>| {
        let req = sts
            .assume_role()
            .role_arn(&customer.role_arn)
            .role_session_name("keybroker-admin.probe")
            .external_id(&ext)
            .set_source_identity(source.map(str::to_owned));
        async move { req.send().await.map(|_| ()).map_err(|e| format!("{e:?}")) }
    };
    // The shipped trust policy: only with a keybroker-* SourceIdentity.
    assume(Some("keybroker-admin")).await.unwrap();
    for refused in [None, Some("someone-else")] {
        let e = assume(refused).await.unwrap_err();
        assert!(e.contains("AccessDenied"), "{refused:?}: {e}");
    }

    // A trust policy from before issue 23 (no sts:SetSourceIdentity): STS
    // refuses the broker, which always sets one, and verify says why.
    customer
        .iam
        .update_assume_role_policy()
        .role_name(CUSTOMER_ROLE_NAME)
        .policy_document(trust_policy_without_source_identity(&ext))
        .send()
        .await
        .unwrap();
    let report = env.broker.verify_byok(&ws).await.unwrap();
    assert_eq!(
        report.failed_step,
        Some(broker_core::VerifyStep::AssumeRole),
        "{report:?}"
    );
    assert!(
        report.hint.contains("sts:SetSourceIdentity"),
        "{}",
        report.hint
    );
    let denied = front_denials().await;
    assert!(
        denied.iter().any(|d| d["action"] == "sts:AssumeRole"
            && d["resource"] == customer.role_arn.as_str()
            && d["reason"]
                .as_str()
                .unwrap_or("")
                .contains("sts:SetSourceIdentity")),
        "{denied:#?}"
    );
    assert_eq!(
        assume(None).await,
        Ok(()),
        "that policy takes a session without one"
    );

    // The shipped trust policy back: the broker is let in again.
    customer.set_trust_external_id(Some(&ext)).await;
    assert!(env.broker.verify_byok(&ws).await.unwrap().is_ok());
}
