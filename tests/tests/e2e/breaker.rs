//! The probe breaker beyond the sequential oracle (`oracle.rs`): a burst of
//! concurrent probes decided after their scans, the operator's controls
//! (`clear_breaker`, `set_probe_budget`, `list_secrets`) through `admin`,
//! state that outlives the sandboxes, and an honest agent that is never
//! counted. Every test scans what the agent got, the audit records and the
//! function logs for the canary.

use keybroker_tests::error_type;
use keybroker_tests::lambda_env::{LambdaEnv, RunOptions};
use serde_json::{json, Value};

use crate::edge_errors::admin_records;
use crate::oracle::{token, verdict, Lab, Verdict, BUDGET, PREFIX};

/// Sandboxes for the burst: more than the budget, so that hits beyond it
/// are in flight, decrypted and scanned, when the breaker trips.
const SANDBOXES: usize = 8;

#[tokio::test]
async fn a_burst_of_concurrent_probes_gets_at_most_the_budget_answered() {
    let lab = Lab::start(&RunOptions {
        instances: SANDBOXES,
        ..RunOptions::default()
    })
    .await;
    let canary = token();
    lab.put("burst", &canary).await;
    // Half the probes carry the credential in the request (refused before
    // sending), half ask an echo that holds its answer back, so that a
    // whole wave of sandboxes has decrypted and sent before any echo is
    // counted; a few honest requests ride along.
    let b64 = crate::oracle::b64_param(&canary);
    let mut calls = Vec::new();
    for i in 0..50 {
        let (path, body) = match i % 2 {
            0 => ("/items".to_owned(), Some(format!("token={canary}"))),
            _ => (format!("/decode?b64={b64}&delay_ms=400"), None),
        };
        calls.push((format!("burst-{i}"), path, body));
    }
    for i in 0..10 {
        calls.push((format!("honest-{i}"), "/?delay_ms=400".to_owned(), None));
    }
    let replies: Vec<Value> = futures::future::join_all(
        calls
            .iter()
            .map(|(agent, path, body)| lab.inject("burst", agent, path, body.as_deref())),
    )
    .await;
    let (mut hits, mut quarantined, mut decided_late) = (0, 0, 0);
    for (r, (agent, _, _)) in replies.iter().zip(&calls) {
        let audit = lab.audit_of(r);
        match verdict(r) {
            Verdict::Hit => {
                assert!(agent.starts_with("burst"), "{r}");
                hits += 1;
            }
            Verdict::Quarantined => {
                quarantined += 1;
                // Refused after kms:Decrypt: decided at the decision
                // point, not by the check before it.
                if audit["aws_calls"]["kms"] == 1 {
                    decided_late += 1;
                }
            }
            Verdict::Miss => {
                assert!(agent.starts_with("honest"), "a probe got through: {r}");
                assert_eq!(r["status"], 200, "{r}");
            }
        }
    }
    eprintln!(
        "burst: {hits} probes answered, {quarantined} quarantined ({decided_late} of them \
         after kms:Decrypt, at the decision point), {} honest answered",
        replies.len() - hits - quarantined
    );
    assert!(hits <= BUDGET as usize, "{hits} hits answered: the bound");
    assert_eq!(hits, BUDGET as usize, "the first wave is counted");
    assert!(quarantined >= 50 - BUDGET as usize);
    assert!(
        decided_late > 0,
        "a wave of {SANDBOXES} sandboxes had probes in flight when the breaker tripped"
    );
    assert_eq!(lab.breaker("burst").await, (BUDGET, true), "never over");
    lab.assert_clean(&replies, &canary);
    lab.lambda.stop().await;
}

/// A request carrying the whole credential (an agent that holds it).
async fn probe(lab: &Lab, canary: &str, agent: &str) -> Value {
    lab.inject("ops", agent, "/items", Some(canary)).await
}

#[tokio::test]
async fn an_operator_clears_and_budgets_a_breaker_that_outlives_its_sandboxes() {
    let lab = Lab::start(&RunOptions::default()).await;
    let canary = token();
    lab.put("ops", &canary).await;
    lab.put("other", &token()).await;
    let mut replies = Vec::new();
    for _ in 0..BUDGET {
        let r = probe(&lab, &canary, "a").await;
        assert_eq!(error_type(&r), "probe", "{r}");
        assert_eq!(r["error"]["retry"], "never", "{r}");
        replies.push(r);
    }
    let r = probe(&lab, &canary, "b").await;
    assert_eq!(error_type(&r), "quarantined", "{r}");
    replies.push(r);
    // Another secret of the workspace is not affected.
    let r = lab.inject("other", "a", "/", None).await;
    assert_eq!(r["ok"], true, "{r}");

    // New sandboxes (a cold start everywhere) read the same state.
    let Lab {
        env,
        lambda,
        echo,
        ws,
    } = lab;
    lambda.stop().await;
    let lab = Lab {
        lambda: LambdaEnv::start(&env).await,
        env,
        echo,
        ws,
    };
    let r = lab.inject("ops", "c", "/", None).await;
    assert_eq!(error_type(&r), "quarantined", "survives the sandbox: {r}");
    assert_eq!(lab.audit_of(&r)["aws_calls"]["kms"], 0);
    replies.push(r);
    assert_eq!(lab.breaker("ops").await, (BUDGET, true));
    assert_eq!(lab.breaker("other").await, (0, false));

    // clear_breaker: audited with what it cleared; injection works again.
    let cleared = lab
        .lambda
        .admin(json!({ "op": "clear_breaker", "workspace": lab.ws, "secret": "ops" }))
        .await;
    assert_eq!(
        cleared,
        json!({ "cleared": BUDGET, "was_quarantined": true })
    );
    let rec = admin_records(&lab.lambda).last().cloned().unwrap();
    assert_eq!(rec["operation"], "clear_breaker", "{rec}");
    assert_eq!(rec["target"], "ops", "{rec}");
    assert_eq!(
        rec["changes"],
        json!({ "probes_cleared": BUDGET, "was_quarantined": true })
    );
    let r = lab.inject("ops", "c", "/", None).await;
    assert_eq!(r["ok"], true, "cleared: {r}");
    replies.push(r);
    assert_eq!(lab.breaker("ops").await, (0, false));

    // set_probe_budget: a budget of 1 trips on the first probe ...
    let set = |budget: Value| {
        lab.lambda
            .admin(json!({ "op": "set_probe_budget", "workspace": lab.ws,
                                 "secret": "ops", "budget": budget }))
    };
    let change = set(json!(1)).await;
    assert_eq!(change["previous"], Value::Null, "{change}");
    assert_eq!(
        (change["current"].clone(), change["effective"].clone()),
        (json!(1), json!(1))
    );
    let rec = admin_records(&lab.lambda).last().cloned().unwrap();
    assert_eq!(
        rec["changes"],
        json!({ "probe_budget_from": null, "probe_budget_to": 1 })
    );
    replies.push(probe(&lab, &canary, "d").await);
    assert_eq!(error_type(replies.last().unwrap()), "probe");
    let r = lab.inject("ops", "d", "/", None).await;
    assert_eq!(error_type(&r), "quarantined", "budget 1: {r}");
    replies.push(r);
    // ... raising it lifts the quarantine without a clear, and `null`
    // returns to the deployment's budget (3, one probe counted).
    let change = set(json!(5)).await;
    assert_eq!(change["quarantined"], false, "{change}");
    assert_eq!(lab.breaker("ops").await, (1, false));
    let change = set(Value::Null).await;
    assert_eq!(
        (change["previous"].clone(), change["effective"].clone()),
        (json!(5), json!(BUDGET))
    );
    let r = lab.inject("ops", "e", "/", None).await;
    assert_eq!(r["ok"], true, "{r}");
    replies.push(r);

    // Deleting the secret takes its breaker with it.
    let ws = broker_core::WorkspaceId::new(lab.ws.clone()).unwrap();
    let keys = || keybroker_tests::raw_sort_keys(&lab.env, &ws, "breaker#");
    assert_eq!(
        keys().await,
        ["breaker#ops"],
        "only a probed secret has one"
    );
    lab.lambda
        .admin(json!({ "op": "delete_secret", "workspace": lab.ws, "secret": "ops" }))
        .await;
    assert_eq!(keys().await, Vec::<String>::new());
    lab.assert_clean(&replies, &canary);
    lab.lambda.stop().await;
}

/// Documentation an honest agent may well post: the token format's public
/// prefix, a masked key, but no piece of the credential.
const DOCS: &str = "Anthropic keys look like sk-ant-api03-... (the sk-ant-api03 prefix is public).";

#[tokio::test]
async fn an_honest_agent_quoting_the_public_prefix_is_never_counted() {
    let lab = Lab::start(&RunOptions::default()).await;
    let canary = token();
    lab.put("docs", &canary).await;
    let mut replies = Vec::new();
    for i in 0..(2 * BUDGET + 2) {
        let (path, body) = match i % 3 {
            0 => ("/items".to_owned(), Some(DOCS.to_owned())),
            1 => ("/search?q=sk-ant-api03".to_owned(), None),
            _ => (
                format!("/decode?b64={}", crate::oracle::b64_param(DOCS)),
                None,
            ),
        };
        let r = lab.inject("docs", "honest", &path, body.as_deref()).await;
        assert_eq!(r["ok"], true, "{path}: {r}");
        assert!(r.get("withheld").is_none(), "{path}: {r}");
        assert!(lab.audit_of(&r).get("probe").is_none());
        replies.push(r);
    }
    assert_eq!(lab.breaker("docs").await, (0, false));
    assert!(replies[0]["body"].as_str().unwrap().contains(PREFIX));
    lab.assert_clean(&replies, &canary);
    lab.lambda.stop().await;
}
