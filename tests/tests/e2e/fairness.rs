//! Issue 26: one tenant cannot starve the others. A workspace whose slow
//! upstream holds its in-flight bound is refused `throttled` (`limit:
//! in_flight`) before `kms:Decrypt` while another workspace goes on; the
//! slot comes back after the call and after an upstream error. A revoked
//! workspace costs one `AssumeRole` per negative-cache TTL, and a restore
//! is seen within the TTL.

use std::time::Duration;

use keybroker_tests::lambda_env::{LambdaEnv, RunOptions, Upstream};
use keybroker_tests::{setup, Customer};
use serde_json::{json, Value};

use crate::inject::{bearer, bound_secret, bound_secret_in, error_type, inject_event};

/// In-flight slots live in epoch-aligned buckets of
/// [`broker_core::limits::scale::IN_FLIGHT_BUCKET_SECONDS`]: start a test's
/// run early in one, so that a bucket boundary (which starts a fresh
/// count) cannot fall inside it. Waits at most `need`; asserts nothing.
async fn early_in_bucket(need: Duration) {
    let len = broker_core::limits::scale::IN_FLIGHT_BUCKET_SECONDS * 1000;
    let into = broker_core::limits::now_ms() % len;
    if len - into < need.as_millis() as u64 {
        tokio::time::sleep(Duration::from_millis(len - into + 20)).await;
    }
}

fn last_audit(lambda: &LambdaEnv, ws: &str) -> Value {
    lambda
        .audit_records()
        .into_iter()
        .rev()
        .find(|a| a["workspace"] == ws)
        .expect("a record of the workspace")
}

#[tokio::test]
async fn a_saturated_workspace_is_refused_in_flight_while_another_goes_on() {
    let env = setup().await;
    let opts = RunOptions {
        instances: 4,
        env: vec![("KEYBROKER_IN_FLIGHT_LIMIT".into(), "2".into())],
        ..RunOptions::default()
    };
    let lambda = std::sync::Arc::new(LambdaEnv::start_with(&env, &opts).await);
    let up = Upstream::start().await;
    let (busy, _) = bound_secret(&lambda, &up, bearer()).await;
    let (calm, _) = bound_secret(&lambda, &up, bearer()).await;
    // Slots live in 30 s buckets: keep the run inside one.
    early_in_bucket(Duration::from_secs(12)).await;

    // Two injections against the 5 s upstream hold the busy workspace's bound.
    let slow = inject_event(&busy, &format!("{}/slow", up.base()));
    let held: Vec<_> = (0..2)
        .map(|_| {
            let (lambda, slow) = (lambda.clone(), slow.clone());
            tokio::spawn(async move { lambda.invoke("inject", &slow).await })
        })
        .collect();
    // Wait until both reached the upstream (their slots are taken).
    for _ in 0..100 {
        if up.records().iter().filter(|r| r.uri == "/slow").count() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(up.records().len(), 2);

    let fast = |ws: &str| inject_event(ws, &format!("{}/data", up.base()));
    let r = lambda.invoke("inject", &fast(&busy)).await;
    assert_eq!(error_type(&r), "throttled", "{r}");
    assert_eq!(r["error"]["retry_after_ms"], 1000, "{r}");
    assert!(
        r["error"]["message"]
            .as_str()
            .unwrap()
            .contains("in_flight"),
        "{r}"
    );
    let a = last_audit(&lambda, &busy);
    assert_eq!(a["limit"], "in_flight", "{a}");
    assert_eq!(a["aws_calls"]["kms"], 0, "refused before Decrypt: {a}");
    assert_eq!(
        a["aws_calls"]["dynamodb"], 2,
        "the read and the refused count: {a}"
    );
    assert_eq!(up.records().len(), 2, "the refused request sent nothing");

    // The other tenant is not affected.
    let r = lambda.invoke("inject", &fast(&calm)).await;
    assert_eq!(r["ok"], true, "{r}");
    assert_eq!(
        last_audit(&lambda, &calm)["aws_calls"],
        json!({ "dynamodb": 5, "kms": 1, "sts": 0 }),
        "read, count + slot, breaker read, slot release; one Decrypt"
    );

    for h in held {
        let r = h.await.unwrap();
        assert_eq!(r["ok"], true, "{r}");
    }
    // Both slots came back after their calls: the bound admits two again.
    for _ in 0..2 {
        let r = lambda.invoke("inject", &fast(&busy)).await;
        assert_eq!(r["ok"], true, "{r}");
    }
    let lambda = std::sync::Arc::try_unwrap(lambda).ok().expect("one owner");
    lambda.stop().await;
}

#[tokio::test]
async fn a_slot_comes_back_after_an_upstream_error() {
    let env = setup().await;
    let opts = RunOptions {
        env: vec![("KEYBROKER_IN_FLIGHT_LIMIT".into(), "1".into())],
        ..RunOptions::default()
    };
    let lambda = LambdaEnv::start_with(&env, &opts).await;
    let up = Upstream::start().await;
    let (ws, _) = bound_secret(&lambda, &up, bearer()).await;
    early_in_bucket(Duration::from_secs(10)).await;
    // The 5 s upstream against a 300 ms timeout fails after Decrypt: with
    // a bound of one, every next request is admitted only if the slot
    // came back.
    let mut failing = inject_event(&ws, &format!("{}/slow", up.base()));
    failing["request"]["timeout_ms"] = json!(300);
    for i in 0..3 {
        let r = lambda.invoke("inject", &failing).await;
        assert_ne!(r["ok"], true, "request {i}: {r}");
        assert_ne!(error_type(&r), "throttled", "request {i}: {r}");
        assert_eq!(
            last_audit(&lambda, &ws)["aws_calls"]["kms"],
            1,
            "request {i}"
        );
    }
    let r = lambda
        .invoke("inject", &inject_event(&ws, &format!("{}/data", up.base())))
        .await;
    assert_eq!(r["ok"], true, "{r}");
    assert_eq!(up.records().len(), 4);
    lambda.stop().await;
}

#[tokio::test]
async fn a_revoked_workspace_costs_one_assume_role_per_ttl_and_a_restore_is_seen_within_it() {
    let env = setup().await;
    let lambda = LambdaEnv::start(&env).await;
    let up = Upstream::start().await;
    let ws = crate::ws();
    let ext = env.broker.prepare_byok(&ws).await.unwrap().external_id;
    let customer = Customer::create(&ws, &ext).await;
    env.broker
        .enable_byok(&ws, &customer.role_arn, &customer.key_arn, None)
        .await
        .unwrap();
    bound_secret_in(&lambda, &up, bearer(), ws.to_string()).await;
    // The customer revokes the trust before inject ever assumed the role.
    customer
        .set_trust_external_id(Some("not-the-workspace"))
        .await;

    let event = inject_event(ws.as_str(), &format!("{}/data", up.base()));
    let started = std::time::Instant::now();
    let mut assumed = 0;
    for i in 0..6 {
        let r = lambda.invoke("inject", &event).await;
        assert_eq!(error_type(&r), "revoked", "attempt {i}: {r}");
        let a = last_audit(&lambda, ws.as_str());
        assert_eq!(a["aws_calls"]["kms"], 0, "{a}");
        assumed += a["aws_calls"]["sts"].as_u64().unwrap();
    }
    let spent = started.elapsed();
    // One AssumeRole per started TTL of the run (the first attempt's, and
    // one more only if the run outlasted 5 s on a slow machine).
    let ttls = 1 + spent.as_millis() / broker_core::DENIED_TTL.as_millis();
    assert!(
        assumed >= 1 && u128::from(assumed) <= ttls,
        "{assumed} AssumeRole in {spent:?}"
    );
    assert!(up.records().is_empty());

    // Restored: admitted again once the cached refusal expired (TTL + margin).
    customer.set_trust_external_id(Some(&ext)).await;
    let mut ok_after = None;
    for attempt in 0..20 {
        let r = lambda.invoke("inject", &event).await;
        if r["ok"] == true {
            ok_after = Some(attempt);
            break;
        }
        assert_eq!(error_type(&r), "revoked", "{r}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(
        ok_after.is_some(),
        "not restored within 10 s (TTL 5 s + margin)"
    );
    lambda.stop().await;
}
