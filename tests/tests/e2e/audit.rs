//! A credential is never used without a record: the deployed `inject`
//! writes an attempt record before `kms:Decrypt` and the outcome after,
//! refuses when the attempt cannot be written, and cuts a slow upstream
//! short so the outcome is written before the function's deadline.

use std::time::Duration;

use keybroker_lambda::inject::audit::{ATTEMPT_SCHEMA, SCHEMA};
use keybroker_tests::lambda_env::{LambdaEnv, RunOptions, Upstream};
use keybroker_tests::setup;
use serde_json::Value;

use crate::inject::{bearer, bound_secret, bound_secret_in, error_type, inject_event, start};
use crate::ws;

/// Every audit line (attempt or outcome) the functions printed, in order.
fn audit_lines(lambda: &LambdaEnv) -> Vec<Value> {
    lambda
        .output()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["schema"] == ATTEMPT_SCHEMA || v["schema"] == SCHEMA)
        .collect()
}

/// The attempt of `request_id` comes strictly before its outcome, names
/// what is about to be decrypted, and holds no value.
fn assert_attempt_then_outcome(lambda: &LambdaEnv, request_id: &str, reason: &str) {
    let lines = audit_lines(lambda);
    let pos = |schema: &str| {
        lines
            .iter()
            .position(|v| v["schema"] == schema && v["request_id"] == request_id)
    };
    let attempt = pos(ATTEMPT_SCHEMA).unwrap_or_else(|| panic!("no attempt record: {lines:?}"));
    let outcome = pos(SCHEMA).unwrap_or_else(|| panic!("no outcome record: {lines:?}"));
    assert!(attempt < outcome, "attempt after outcome: {lines:?}");
    let a = &lines[attempt];
    for field in [
        "workspace",
        "agent",
        "secret",
        "host",
        "method",
        "path",
        "key_arn",
    ] {
        assert!(a[field].is_string(), "attempt lacks {field}: {a}");
    }
    assert_eq!(lines[outcome]["reason"], reason, "{:?}", lines[outcome]);
}

#[tokio::test]
async fn attempt_is_recorded_before_decrypt_for_allowed_revoked_and_upstream_errors() {
    let (env, lambda, up) = start().await;

    // Allowed.
    let (ws_ok, _) = bound_secret(&lambda, &up, bearer()).await;
    let r = lambda
        .invoke(
            "inject",
            &inject_event(&ws_ok, &format!("{}/data", up.base())),
        )
        .await;
    assert_eq!(r["ok"], true, "{r}");
    assert_attempt_then_outcome(&lambda, r["request_id"].as_str().unwrap(), "ok");

    // Upstream error: the credential was decrypted and sent nowhere useful.
    let (ws_up, _) = bound_secret(&lambda, &up, bearer()).await;
    let r = lambda
        .invoke(
            "inject",
            &inject_event(&ws_up, &format!("{}/big", up.base())),
        )
        .await;
    assert_eq!(error_type(&r), "upstream_error", "{r}");
    assert_attempt_then_outcome(&lambda, r["request_id"].as_str().unwrap(), "upstream_error");

    // Revoked: the customer disabled their key; the attempt is on record.
    let ws_byok = ws();
    let customer = env.onboard_customer(&ws_byok).await;
    let (ws_rev, _) = bound_secret_in(&lambda, &up, bearer(), ws_byok.to_string()).await;
    customer.disable_key().await;
    let r = lambda
        .invoke(
            "inject",
            &inject_event(&ws_rev, &format!("{}/data", up.base())),
        )
        .await;
    assert_eq!(error_type(&r), "revoked", "{r}");
    assert_attempt_then_outcome(&lambda, r["request_id"].as_str().unwrap(), "revoked");

    // A denied request never reaches decrypt: no attempt record.
    let r = lambda
        .invoke("inject", &inject_event(&ws_ok, "http://127.0.0.2:1/"))
        .await;
    assert_eq!(error_type(&r), "denied", "{r}");
    let id = r["request_id"].as_str().unwrap();
    assert!(
        !audit_lines(&lambda)
            .iter()
            .any(|v| v["schema"] == ATTEMPT_SCHEMA && v["request_id"] == id),
        "attempt recorded for a denied request"
    );
    lambda.stop().await;
}

#[tokio::test]
async fn no_audit_log_means_no_decrypt_and_no_request() {
    let env = setup().await;
    // The function's stdout (its audit channel) fails every write.
    let opts = RunOptions {
        inject_wrapper: vec!["sh".into(), "-c".into(), "exec \"$0\" >/dev/full".into()],
        ..RunOptions::default()
    };
    let lambda = LambdaEnv::start_with(&env, &opts).await;
    let up = Upstream::start().await;
    let (ws, _) = bound_secret(&lambda, &up, bearer()).await;
    let r = lambda
        .invoke("inject", &inject_event(&ws, &format!("{}/data", up.base())))
        .await;
    assert_eq!(error_type(&r), "unavailable", "{r}");
    assert!(
        r["error"]["message"].as_str().unwrap().contains("audit"),
        "{r}"
    );
    assert!(
        up.records().is_empty(),
        "the credential was used without a record"
    );
    // The refusal is logged on stderr by the check that runs before decrypt.
    assert!(
        lambda.output().contains("refusing before decrypt"),
        "{}",
        lambda.output()
    );
    lambda.stop().await;
}

#[tokio::test]
async fn a_slow_upstream_is_cut_short_before_the_function_deadline() {
    let env = setup().await;
    // /slow answers after 5 s; the function may run 3 s.
    let opts = RunOptions {
        timeout: Duration::from_secs(3),
        ..RunOptions::default()
    };
    let lambda = LambdaEnv::start_with(&env, &opts).await;
    let up = Upstream::start().await;
    let (ws, _) = bound_secret(&lambda, &up, bearer()).await;
    // `invoke` panics on a function error, so a `Sandbox.Timedout` fails here.
    let r = lambda
        .invoke("inject", &inject_event(&ws, &format!("{}/slow", up.base())))
        .await;
    assert_eq!(error_type(&r), "upstream_error", "{r}");
    assert_attempt_then_outcome(&lambda, r["request_id"].as_str().unwrap(), "upstream_error");
    lambda.stop().await;
}
