//! Injection limits through the deployed functions: a looping agent is
//! refused `throttled` with the window's wait before `kms:Decrypt`, its
//! siblings go on until the workspace cap, windows reset, the operator sets
//! and clears limits through `admin` (audited old → new), and what a table
//! writer can and cannot do to the counters and the limits item.

use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use broker_core::WorkspaceId;
use keybroker_tests::lambda_env::{LambdaEnv, RunOptions, Upstream};
use keybroker_tests::{assert_no_canary, delete_raw_item, put_raw_item, raw_sort_keys, setup, Env};
use serde_json::{json, Value};

use crate::edge_errors::admin_records;
use crate::inject::{bearer, bound_secret, error_type};

/// Every agent may inject (the limits, not the policy, are under test).
const PERMIT_ANY_AGENT: &str = r#"permit(principal, action == Action::"inject", resource);"#;

async fn workspace(lambda: &LambdaEnv, up: &Upstream) -> (String, String) {
    let (ws, canary) = bound_secret(lambda, up, bearer()).await;
    lambda
        .admin(json!({ "op": "set_policy", "workspace": ws, "policy": PERMIT_ANY_AGENT }))
        .await;
    (ws, canary)
}

fn event(ws: &str, agent: &str, up: &Upstream) -> Value {
    json!({ "workspace": ws, "secret": "api", "agent": agent,
            "request": { "method": "GET", "url": format!("{}/data", up.base()) } })
}

async fn set_limits(lambda: &LambdaEnv, ws: &str, limits: Value) -> Value {
    lambda
        .admin(json!({ "op": "set_limits", "workspace": ws, "limits": limits }))
        .await
}

/// The deployment default's windows are aligned to the epoch (there is no
/// item to anchor them): start a run of requests counted against it early
/// in a window, so that a boundary cannot fall in the middle of it (this
/// waits, at most `need`; it asserts nothing about time). Limits set with
/// `set_limits` need no such wait: their windows start when they are set.
async fn early_in_default_window(seconds: u64, need: Duration) {
    let len = seconds * 1000;
    let into = broker_core::limits::now_ms() % len;
    if len - into < need.as_millis() as u64 {
        tokio::time::sleep(Duration::from_millis(len - into + 20)).await;
    }
}

/// The last inject outcome record.
fn last_audit(lambda: &LambdaEnv) -> Value {
    lambda.audit_records().last().cloned().expect("a record")
}

/// A refusal by a keybroker limit: `throttled`, the window's wait, nothing
/// decrypted, the audit record and metrics telling it from AWS throttling.
fn assert_limited(r: &Value, audit: &Value, scope: &str, window_ms: u64) {
    assert_eq!(error_type(r), "throttled", "{r}");
    let e = &r["error"];
    assert_eq!(e["retry"], "backoff", "{r}");
    let wait = e["retry_after_ms"].as_u64().expect("retry_after_ms");
    assert!((1..=window_ms).contains(&wait), "{r}");
    assert!(e["message"].as_str().unwrap().contains(scope), "{r}");
    assert_eq!(audit["limit"], scope, "{audit}");
    assert_eq!(audit["decision"], "deny", "{audit}");
    assert_eq!(
        audit["aws_calls"]["kms"], 0,
        "refused before Decrypt: {audit}"
    );
    assert_eq!(audit["Outcome"], "throttled", "{audit}");
    assert_eq!(audit["RateLimited"], 1, "{audit}");
    assert_eq!(audit["Errors"], 0, "{audit}");
}

#[tokio::test]
async fn a_looping_agent_is_refused_before_kms_and_its_siblings_go_on_until_the_workspace_cap() {
    let env = setup().await;
    let lambda = LambdaEnv::start(&env).await;
    let up = Upstream::start().await;
    let (ws, canary) = workspace(&lambda, &up).await;
    set_limits(
        &lambda,
        &ws,
        json!({ "window_seconds": 3600, "workspace": 5, "agent": 3 }),
    )
    .await;

    let mut replies = Vec::new();
    for i in 0..3 {
        let r = lambda.invoke("inject", &event(&ws, "looper", &up)).await;
        assert_eq!(r["ok"], true, "request {i}: {r}");
        // Admitted: one read, the agent's and the workspace's counter (with
        // the in-flight slot), one Decrypt, the probe breaker read after
        // each clean scan, and the slot's release.
        assert_eq!(
            last_audit(&lambda)["aws_calls"],
            json!({ "dynamodb": 6, "kms": 1, "sts": 0 })
        );
        replies.push(r);
    }
    for _ in 0..4 {
        let r = lambda.invoke("inject", &event(&ws, "looper", &up)).await;
        let a = last_audit(&lambda);
        assert_limited(&r, &a, "agent", 3_600_000);
        // The read and the agent's counter; the workspace count is untouched.
        assert_eq!(a["aws_calls"]["dynamodb"], 2, "{a}");
        replies.push(r);
    }
    assert_eq!(up.records().len(), 3, "refused requests sent nothing");

    // The looper's refusals did not use up the workspace: a sibling gets
    // the remaining two, then the workspace cap refuses everyone.
    for _ in 0..2 {
        let r = lambda.invoke("inject", &event(&ws, "sibling", &up)).await;
        assert_eq!(r["ok"], true, "{r}");
    }
    for agent in ["sibling", "newcomer"] {
        let r = lambda.invoke("inject", &event(&ws, agent, &up)).await;
        assert_limited(&r, &last_audit(&lambda), "workspace", 3_600_000);
        replies.push(r);
    }
    assert_eq!(up.records().len(), 5);

    // Another workspace is not affected.
    let (other, _) = workspace(&lambda, &up).await;
    let r = lambda.invoke("inject", &event(&other, "looper", &up)).await;
    assert_eq!(r["ok"], true, "{r}");

    for r in &replies {
        assert_no_canary("inject reply", &r.to_string(), &canary);
    }
    assert_no_canary("function output", &lambda.output(), &canary);
    lambda.stop().await;
}

#[tokio::test]
async fn the_window_resets_after_the_advised_wait() {
    let env = setup().await;
    let lambda = LambdaEnv::start(&env).await;
    let up = Upstream::start().await;
    let (ws, _) = workspace(&lambda, &up).await;
    let before_set = std::time::Instant::now();
    set_limits(&lambda, &ws, json!({ "window_seconds": 4, "agent": 1 })).await;

    let r = lambda.invoke("inject", &event(&ws, "a", &up)).await;
    assert_eq!(r["ok"], true, "{r}");
    // Only the agent limit is set: its counter, and the in-flight slot on
    // the workspace counter taken and released (and the breaker read after
    // each scan).
    assert_eq!(last_audit(&lambda)["aws_calls"]["dynamodb"], 6);
    let r = lambda.invoke("inject", &event(&ws, "a", &up)).await;
    assert_limited(&r, &last_audit(&lambda), "agent", 4000);

    let wait = r["error"]["retry_after_ms"].as_u64().unwrap();
    // The window started when the limits were stored (their anchor), not
    // at an epoch boundary: what is left of it is at least the window less
    // the time since just before set_limits.
    let since_set = before_set.elapsed().as_millis() as u64;
    assert!(
        wait + since_set >= 4000,
        "the window starts at set_limits: {wait} ms left {since_set} ms after it"
    );
    tokio::time::sleep(Duration::from_millis(wait + 50)).await;
    let r = lambda.invoke("inject", &event(&ws, "a", &up)).await;
    assert_eq!(r["ok"], true, "a new window after the advised wait: {r}");
    assert_eq!(up.records().len(), 2);
    lambda.stop().await;
}

#[tokio::test]
async fn operators_set_and_clear_limits_through_admin_and_each_change_is_audited() {
    let env = setup().await;
    let lambda = LambdaEnv::start(&env).await;
    let up = Upstream::start().await;
    let (ws, _) = workspace(&lambda, &up).await;
    let first = json!({ "window_seconds": 60, "workspace": 100, "agent": 10 });
    let second = json!({ "window_seconds": 600, "workspace": 0, "agent": null });

    let r = set_limits(&lambda, &ws, first.clone()).await;
    assert_eq!(r["previous"], Value::Null, "{r}");
    assert_eq!(r["current"], first, "{r}");
    assert_eq!(r["effective"], first, "{r}");
    let r = set_limits(&lambda, &ws, second.clone()).await;
    assert_eq!(r["previous"], first, "{r}");

    // workspace: 0 is an emergency stop: refused with no counter and no Decrypt.
    let r = lambda.invoke("inject", &event(&ws, "a", &up)).await;
    let a = last_audit(&lambda);
    assert_limited(&r, &a, "workspace", 600_000);
    assert_eq!(a["aws_calls"]["dynamodb"], 1, "{a}");

    let r = lambda
        .admin(json!({ "op": "set_limits", "workspace": ws, "clear": true }))
        .await;
    assert_eq!(r["previous"], second, "{r}");
    assert_eq!(r["current"], Value::Null, "{r}");
    // The deployment's built-in default applies again.
    assert_eq!(
        r["effective"],
        json!({ "window_seconds": 60, "workspace": 6000, "agent": null })
    );
    let r = lambda.invoke("inject", &event(&ws, "a", &up)).await;
    assert_eq!(r["ok"], true, "{r}");
    assert_eq!(
        last_audit(&lambda)["aws_calls"],
        json!({ "dynamodb": 5, "kms": 1, "sts": 0 }),
        "the default: one read, the workspace counter with the in-flight slot, one Decrypt, the breaker read after each scan, the slot's release"
    );

    // Refused requests change nothing.
    for bad in [
        json!({ "op": "set_limits", "workspace": ws }),
        json!({ "op": "set_limits", "workspace": ws, "clear": true, "limits": first }),
        json!({ "op": "set_limits", "workspace": ws,
                "limits": { "window_seconds": 0, "workspace": 1 } }),
        json!({ "op": "set_limits", "workspace": ws,
                "limits": { "window_seconds": 3601, "workspace": 1 } }),
        json!({ "op": "set_limits", "workspace": ws,
                "limits": { "window_seconds": 60, "workspace": 100_000_001u64 } }),
        json!({ "op": "set_limits", "workspace": ws,
                "limits": { "window_seconds": 60, "tenant": 1 } }),
        // No count: it would mean "no limit", which is not a workspace setting.
        json!({ "op": "set_limits", "workspace": ws,
                "limits": { "window_seconds": 60, "workspace": null } }),
    ] {
        let r = lambda.invoke("admin", &bad).await;
        assert_eq!(error_type(&r), "invalid_request", "{bad}: {r}");
    }

    let records: Vec<Value> = admin_records(&lambda)
        .into_iter()
        .filter(|r| r["operation"] == "set_limits")
        .collect();
    assert_eq!(records.len(), 3 + 7, "{records:?}");
    let changes: Vec<(Value, Value)> = records[..3]
        .iter()
        .map(|r| {
            assert_eq!(r["target"], "limits");
            assert_eq!(r["outcome"], "ok");
            (
                r["changes"]["limits_from"].clone(),
                r["changes"]["limits_to"].clone(),
            )
        })
        .collect();
    assert_eq!(
        changes,
        [
            (Value::Null, first.clone()),
            (first, second.clone()),
            (second, Value::Null)
        ]
    );
    assert!(records[3..]
        .iter()
        .all(|r| r["outcome"] == "invalid_request"));
    lambda.stop().await;
}

/// A deployment whose default is two injections per half hour per workspace.
async fn with_default(env: &Env) -> LambdaEnv {
    let opts = RunOptions {
        env: vec![(
            broker_core::BrokerConfig::DEFAULT_LIMITS_VAR.to_owned(),
            "window=1800,workspace=2".to_owned(),
        )],
        ..RunOptions::default()
    };
    LambdaEnv::start_with(env, &opts).await
}

#[tokio::test]
async fn a_table_writer_can_reset_a_count_but_not_lift_the_default_or_smuggle_in_no_limit() {
    let env = setup().await;
    let lambda = with_default(&env).await;
    let up = Upstream::start().await;
    let (ws, canary) = workspace(&lambda, &up).await;
    let wsid = WorkspaceId::new(ws.as_str()).unwrap();
    set_limits(
        &lambda,
        &ws,
        json!({ "window_seconds": 3600, "workspace": 100, "agent": 1 }),
    )
    .await;
    // Attacks 2 and 3 count against the default (no item): epoch-aligned.
    early_in_default_window(1800, Duration::from_secs(30)).await;

    let ok = |r: &Value| assert_eq!(r["ok"], true, "{r}");
    ok(&lambda.invoke("inject", &event(&ws, "a", &up)).await);
    let r = lambda.invoke("inject", &event(&ws, "a", &up)).await;
    assert_limited(&r, &last_audit(&lambda), "agent", 3_600_000);

    // Attack 1: delete the agent's counter. The count starts over: one more
    // window's worth gets through. Limits protect the customer from a
    // looping agent, not from someone who can write the broker's table
    // (docs/THREAT_MODEL.md).
    let counters = raw_sort_keys(&env, &wsid, "rate#").await;
    let agent_counter = counters
        .iter()
        .find(|sk| sk.ends_with("#agent#a"))
        .expect("the agent's counter");
    delete_raw_item(&env, &wsid, agent_counter).await;
    ok(&lambda.invoke("inject", &event(&ws, "a", &up)).await);
    let r = lambda.invoke("inject", &event(&ws, "a", &up)).await;
    assert_limited(&r, &last_audit(&lambda), "agent", 3_600_000);

    // Attack 2: delete the limits item. The deployment default applies
    // (two per half hour), not "no limit".
    delete_raw_item(&env, &wsid, "limits").await;
    ok(&lambda.invoke("inject", &event(&ws, "a", &up)).await);
    ok(&lambda.invoke("inject", &event(&ws, "b", &up)).await);
    let r = lambda.invoke("inject", &event(&ws, "c", &up)).await;
    assert_limited(&r, &last_audit(&lambda), "workspace", 1_800_000);

    // Attack 3: a limits item no operator could have set (no count at all,
    // a count as text, an unknown attribute, a window out of range) applies
    // the deployment default, whose count is used up: refused before
    // Decrypt, never read as "no limit", and logged without its values.
    let key = |extra: &[(&str, AttributeValue)]| {
        let mut item = keybroker_tests::Item::from([
            ("pk".to_owned(), AttributeValue::S(format!("ws#{ws}"))),
            ("sk".to_owned(), AttributeValue::S("limits".into())),
        ]);
        item.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), v.clone())));
        item
    };
    let n = |v: &str| AttributeValue::N(v.to_owned());
    for bad in [
        key(&[("window_seconds", n("60"))]),
        key(&[
            ("window_seconds", n("60")),
            ("workspace_limit", AttributeValue::S("lots".into())),
        ]),
        key(&[
            ("window_seconds", n("60")),
            ("unlimited", AttributeValue::Bool(true)),
        ]),
        key(&[("window_seconds", n("0")), ("workspace_limit", n("5"))]),
        key(&[("workspace_limit", n("5"))]),
    ] {
        put_raw_item(&env, bad.clone()).await;
        let r = lambda.invoke("inject", &event(&ws, "d", &up)).await;
        assert_limited(&r, &last_audit(&lambda), "workspace", 1_800_000);
    }
    let fallbacks = lambda
        .output()
        .matches("limits item does not parse; the deployment default applies")
        .count();
    assert!(fallbacks >= 5, "each fallback is logged");
    assert_eq!(
        up.records().len(),
        4,
        "only the admitted requests were sent"
    );
    assert_no_canary("function output", &lambda.output(), &canary);
    lambda.stop().await;
}

#[tokio::test]
async fn under_limits_off_a_planted_item_still_counts_against_the_built_in_default() {
    let env = setup().await;
    let opts = RunOptions {
        env: vec![(
            broker_core::BrokerConfig::DEFAULT_LIMITS_VAR.to_owned(),
            "off".to_owned(),
        )],
        ..RunOptions::default()
    };
    let lambda = LambdaEnv::start_with(&env, &opts).await;
    let up = Upstream::start().await;
    let (ws, _) = workspace(&lambda, &up).await;
    let ok = |r: &Value| assert_eq!(r["ok"], true, "{r}");
    ok(&lambda.invoke("inject", &event(&ws, "a", &up)).await);
    assert_eq!(
        last_audit(&lambda)["aws_calls"]["dynamodb"],
        5,
        "off: no rate counter, but the in-flight slot taken and released (the read, and the breaker read after each scan)"
    );
    // A limits item with no counts: once "no limit", now the built-in
    // default, so the injection is counted (one more DynamoDB call).
    put_raw_item(
        &env,
        keybroker_tests::Item::from([
            ("pk".to_owned(), AttributeValue::S(format!("ws#{ws}"))),
            ("sk".to_owned(), AttributeValue::S("limits".into())),
            ("window_seconds".to_owned(), AttributeValue::N("60".into())),
        ]),
    )
    .await;
    ok(&lambda.invoke("inject", &event(&ws, "a", &up)).await);
    assert_eq!(last_audit(&lambda)["aws_calls"]["dynamodb"], 5);
    let counters = raw_sort_keys(&env, &WorkspaceId::new(ws.as_str()).unwrap(), "rate#").await;
    assert_eq!(counters.len(), 1, "{counters:?}");
    assert!(counters[0].starts_with("rate#60#"), "{counters:?}");
    lambda.stop().await;
}
