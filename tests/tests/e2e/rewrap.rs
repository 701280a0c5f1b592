//! `rewrap` through the real `admin` function (issue 15, item 2): each
//! direction, an interruption halfway (page limit, then resume with the
//! cursor), idempotence, the explicit flag for leaving the customer's key
//! (and its audit record), and rotations racing it.

use std::time::Duration;

use broker_core::{KeyMode, RevokedReason, WorkspaceId};
use keybroker_lambda::admin::audit::SCHEMA as ADMIN_SCHEMA;
use keybroker_tests::lambda_env::LambdaEnv;
use keybroker_tests::{
    assert_no_canary, assert_revoked, error_type, plant_secret_item, secret_item, setup,
    BrokerAccess, Customer, Env,
};
use serde_json::{json, Value};

use crate::faults::Fault;
use crate::{canary, name, ws};

/// Put `names` with fresh canary values; returns (name, text) pairs.
async fn put_all(env: &Env, ws: &WorkspaceId, names: &[&str]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for n in names {
        let (text, value) = canary();
        env.broker.put_secret(ws, &name(n), &value).await.unwrap();
        out.push(((*n).to_owned(), text));
    }
    out
}

/// Every secret reads back its value and sits on `key_arn`.
async fn assert_on_key(env: &Env, ws: &WorkspaceId, secrets: &[(String, String)], key_arn: &str) {
    for (n, text) in secrets {
        let got = env.broker.read_plaintext(ws, &name(n)).await.unwrap();
        assert_eq!(got.value.expose(), text.as_bytes(), "{n}");
        assert_eq!(got.metadata.key_arn.as_str(), key_arn, "{n}");
    }
}

fn rewrap(ws: &WorkspaceId) -> Value {
    json!({ "op": "rewrap", "workspace": ws })
}

/// The admin audit records the function printed.
fn admin_records(lambda: &LambdaEnv) -> Vec<Value> {
    lambda
        .output()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["schema"] == ADMIN_SCHEMA)
        .collect()
}

#[tokio::test]
async fn platform_to_byok_in_pages_resumes_and_is_idempotent() {
    let env = setup().await;
    let lambda = LambdaEnv::start(&env).await;
    let ws = ws();
    let secrets = put_all(&env, &ws, &["a", "b", "c"]).await;
    let customer = env.onboard_customer(&ws).await;

    // Interrupted after the first page of two (as a Lambda timeout or a
    // failed invocation would leave it), then resumed with the cursor.
    let mut req = rewrap(&ws);
    req["limit"] = json!(2);
    let p1 = lambda.admin(req.clone()).await;
    assert_eq!(
        (p1["moved"].as_u64(), p1["skipped"].as_u64()),
        (Some(2), Some(0)),
        "{p1}"
    );
    assert_eq!(p1["next"], "b", "{p1}");
    assert_eq!(p1["target"]["key_arn"], customer.key_arn.as_str());
    assert_eq!(p1["target"]["role_arn"], customer.role_arn.as_str());
    req["after"] = p1["next"].clone();
    let p2 = lambda.admin(req).await;
    assert_eq!(
        (p2["moved"].as_u64(), p2["next"].clone()),
        (Some(1), Value::Null),
        "{p2}"
    );
    assert_on_key(&env, &ws, &secrets, &customer.key_arn).await;

    // A rerun from the start moves nothing.
    let again = lambda.admin(rewrap(&ws)).await;
    assert_eq!(
        (again["moved"].as_u64(), again["skipped"].as_u64()),
        (Some(0), Some(3)),
        "{again}"
    );
    for (_, text) in &secrets {
        assert_no_canary("rewrap output", &lambda.output(), text);
    }
    lambda.stop().await;
}

#[tokio::test]
async fn byok_key_a_to_key_b_and_a_legacy_item_gets_its_role_recorded() {
    let env = setup().await;
    let lambda = LambdaEnv::start(&env).await;
    let ws = ws();
    let a = env.onboard_customer(&ws).await;
    let secrets = put_all(&env, &ws, &["x", "y"]).await;
    // "y" was written before roles were recorded.
    let mut item = secret_item(&env, &ws, &name("y")).await;
    item.remove("role_arn");
    plant_secret_item(&env, item, &ws, &name("y")).await;
    // Rewrap on the same link records the role of the legacy item only.
    let r = lambda.admin(rewrap(&ws)).await;
    assert_eq!(
        (r["moved"].as_u64(), r["skipped"].as_u64()),
        (Some(1), Some(1)),
        "{r}"
    );
    assert_eq!(r["moved_secrets"], json!(["y"]));

    let ext = env.broker.prepare_byok(&ws).await.unwrap().external_id;
    let b = Customer::create(&ws, &ext).await;
    lambda
        .admin(json!({ "op": "enable_byok", "workspace": ws, "role_arn": b.role_arn, "key_arn": b.key_arn }))
        .await;
    let r = lambda.admin(rewrap(&ws)).await;
    assert_eq!(
        (r["moved"].as_u64(), r["failed"].as_u64()),
        (Some(2), Some(0)),
        "{r}"
    );
    assert_on_key(&env, &ws, &secrets, &b.key_arn).await;
    // Customer A's revocation no longer reaches them: they moved to B.
    a.set_broker_access(BrokerAccess::Revoked).await;
    assert_on_key(&env, &ws, &secrets, &b.key_arn).await;
    lambda.stop().await;
}

#[tokio::test]
async fn byok_to_platform_needs_the_flag_and_is_audited() {
    let env = setup().await;
    let lambda = LambdaEnv::start(&env).await;
    let ws = ws();
    let customer = env.onboard_customer(&ws).await;
    let secrets = put_all(&env, &ws, &["p", "q"]).await;
    lambda
        .admin(json!({ "op": "disable_byok", "workspace": ws }))
        .await;

    // Without the flag: refused, nothing moved.
    let r = lambda.invoke("admin", &rewrap(&ws)).await;
    assert_eq!(error_type(&r), "invalid_request", "{r}");
    assert!(
        r["error"]["message"]
            .as_str()
            .unwrap()
            .contains("allow_leaving_customer_key"),
        "{r}"
    );
    assert_on_key(&env, &ws, &secrets, &customer.key_arn).await;

    let mut req = rewrap(&ws);
    req["allow_leaving_customer_key"] = json!(true);
    let r = lambda.admin(req).await;
    assert_eq!(
        (r["moved"].as_u64(), r["left_customer_key"].as_u64()),
        (Some(2), Some(2)),
        "{r}"
    );
    assert_eq!(r["target"]["key_mode"], "platform");
    assert_eq!(r["target"]["role_arn"], Value::Null);
    assert_on_key(&env, &ws, &secrets, &env.platform_key_arn).await;
    for (n, _) in &secrets {
        let m = env
            .broker
            .read_plaintext(&ws, &name(n))
            .await
            .unwrap()
            .metadata;
        assert_eq!((m.key_mode, m.role_arn), (KeyMode::Platform, None));
    }
    // Out of the customer's reach now: their revocation no longer bites.
    customer.set_broker_access(BrokerAccess::Revoked).await;
    assert_on_key(&env, &ws, &secrets, &env.platform_key_arn).await;

    // Both calls are in the admin audit, the flag and the count with them.
    let ws_s = ws.to_string();
    let records: Vec<Value> = admin_records(&lambda)
        .into_iter()
        .filter(|v| v["operation"] == "rewrap" && v["workspace"] == ws_s.as_str())
        .collect();
    assert_eq!(records.len(), 2, "{records:?}");
    assert_eq!(records[0]["outcome"], "invalid_request");
    assert_eq!(records[0]["changes"]["allow_leaving_customer_key"], false);
    assert_eq!(records[1]["outcome"], "ok");
    assert_eq!(records[1]["changes"]["allow_leaving_customer_key"], true);
    assert_eq!(records[1]["changes"]["left_customer_key"], 2);
    assert_eq!(
        records[1]["changes"]["key_arn"],
        env.platform_key_arn.as_str()
    );
    for (_, text) in &secrets {
        assert_no_canary("admin output", &lambda.output(), text);
    }
    lambda.stop().await;
}

/// A rotation between two pages: the rotated value stands, and the second
/// page skips it (the rotation already sealed it under the current key).
#[tokio::test]
async fn a_rotation_between_pages_is_kept() {
    let env = setup().await;
    let lambda = LambdaEnv::start(&env).await;
    let ws = ws();
    put_all(&env, &ws, &["a", "b"]).await;
    let customer = env.onboard_customer(&ws).await;
    let mut req = rewrap(&ws);
    req["limit"] = json!(1);
    let p1 = lambda.admin(req.clone()).await;
    assert_eq!(p1["moved_secrets"], json!(["a"]), "{p1}");
    let (text, value) = canary();
    env.broker
        .rotate_secret(&ws, &name("b"), Some(&value), None)
        .await
        .unwrap();
    req["after"] = p1["next"].clone();
    let p2 = lambda.admin(req).await;
    assert_eq!(
        (p2["moved"].as_u64(), p2["skipped"].as_u64()),
        (Some(0), Some(1)),
        "{p2}"
    );
    let got = env.broker.read_plaintext(&ws, &name("b")).await.unwrap();
    assert_eq!(got.value.expose(), text.as_bytes());
    assert_eq!(got.metadata.key_arn.as_str(), customer.key_arn);
    lambda.stop().await;
}

/// A rotation landing between rewrap's read of a secret and its write: the
/// front holds rewrap's `kms:Decrypt` of the old key (one throttled attempt
/// after a delay; the SDK retries it), the test rotates the secret in that
/// window, and rewrap's conditional write must lose: reported as a
/// `conflict` for that secret, the rotation's value kept, a rerun clean.
#[tokio::test]
async fn a_rotation_racing_a_move_wins_and_the_loser_is_reported() {
    let env = setup().await;
    let lambda = LambdaEnv::start(&env).await;
    let ws = ws();
    put_all(&env, &ws, &["race"]).await;
    let customer = env.onboard_customer(&ws).await;
    // Warm the test broker's session for the new role, so its rotation in
    // the window is quick.
    let (_, warm) = canary();
    env.broker
        .put_secret(&ws, &name("warm"), &warm)
        .await
        .unwrap();
    let Some(fault) = Fault::add(json!({
        "service": "kms", "operation": "Decrypt", "resource": env.platform_key_arn,
        "error": "ThrottlingException", "status": 400, "count": 1, "delay_ms": 2500,
    }))
    .await
    else {
        return;
    };
    let pending = {
        let req = rewrap(&ws);
        let lambda = &lambda;
        async move { lambda.invoke("admin", &req).await }
    };
    let rotate = async {
        // Wait until rewrap's Decrypt is held at the front.
        while fault.counts().await.0 == 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let (text, value) = canary();
        env.broker
            .rotate_secret(&ws, &name("race"), Some(&value), None)
            .await
            .unwrap();
        text
    };
    let (r, text) = tokio::join!(pending, rotate);
    fault.remove().await;
    assert_eq!(r["ok"], true, "{r}");
    let r = &r["result"];
    assert_eq!(
        (r["moved"].as_u64(), r["failed"].as_u64()),
        (Some(0), Some(1)),
        "{r}"
    );
    assert_eq!(r["failures"][0]["secret"], "race", "{r}");
    assert_eq!(r["failures"][0]["error"]["type"], "conflict", "{r}");
    let got = env.broker.read_plaintext(&ws, &name("race")).await.unwrap();
    assert_eq!(
        got.value.expose(),
        text.as_bytes(),
        "the rotation's value stands"
    );
    assert_eq!(got.metadata.key_arn.as_str(), customer.key_arn);
    let again = lambda.admin(rewrap(&ws)).await;
    assert_eq!(
        (again["moved"].as_u64(), again["failed"].as_u64()),
        (Some(0), Some(0)),
        "{again}"
    );
    lambda.stop().await;
}

/// A secret whose key the broker can no longer use is reported per secret
/// (with its typed reason) and the rest of the page still moves.
#[tokio::test]
async fn an_unreadable_secret_is_reported_and_the_rest_move() {
    let env = setup().await;
    let lambda = LambdaEnv::start(&env).await;
    let ws = ws();
    let secrets = put_all(&env, &ws, &["platform"]).await;
    let a = env.onboard_customer(&ws).await;
    put_all(&env, &ws, &["under-a"]).await;
    let ext = env.broker.prepare_byok(&ws).await.unwrap().external_id;
    let b = Customer::create(&ws, &ext).await;
    lambda
        .admin(json!({ "op": "enable_byok", "workspace": ws, "role_arn": b.role_arn, "key_arn": b.key_arn }))
        .await;
    a.set_broker_access(BrokerAccess::Revoked).await;
    let r = lambda.admin(rewrap(&ws)).await;
    assert_eq!(
        (r["moved"].as_u64(), r["failed"].as_u64()),
        (Some(1), Some(1)),
        "{r}"
    );
    assert_eq!(r["failures"][0]["secret"], "under-a");
    assert_eq!(r["failures"][0]["error"]["type"], "revoked");
    assert_on_key(&env, &ws, &secrets, &b.key_arn).await;
    assert_revoked(
        env.broker.read_plaintext(&ws, &name("under-a")).await,
        RevokedReason::KeyAccessDenied,
    );
    lambda.stop().await;
}
