//! Issue 23, item 3: the customer's reconcile
//! (`terraform/readiness/reconcile.py`) matches every use of their key by
//! the broker's role in their CloudTrail (here: the front's trail) to one
//! broker audit record (`keybroker.audit.kms.v1`, printed by the real
//! functions), by request id, workspace, secret and time. Many injections,
//! rewraps and checks leave no use unmatched; a Decrypt made with the role's
//! credentials outside the broker is reported, and nothing else is.
//!
//! `KEYBROKER_RECONCILE_INJECTIONS` sets the number of injections (default
//! 200: the run takes about a minute on 2 cores; docs/OPERATIONS.md gives
//! the 1,000-injection run).

use aws_sdk_kms::operation::RequestId;
use aws_sdk_kms::primitives::Blob;
use keybroker_tests::lambda_env::{LambdaEnv, RunOptions, Upstream};
use keybroker_tests::{blob_of, kms_use_lines, reconcile, secret_item, setup, unique, Customer};
use serde_json::{json, Value};

use crate::inject::AGENT;
use crate::{name, ws};

const SECRETS: [&str; 4] = ["s0", "s1", "s2", "s3"];
const PLATFORM_SECRETS: [&str; 3] = ["p0", "p1", "p2"];

fn injections() -> usize {
    std::env::var("KEYBROKER_RECONCILE_INJECTIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200)
}

async fn inject_many(lambda: &LambdaEnv, up: &Upstream, ws: &str, n: usize) {
    for chunk in (0..n).collect::<Vec<_>>().chunks(4) {
        let calls = chunk.iter().map(|i| {
            let event = json!({
                "workspace": ws, "secret": SECRETS[i % SECRETS.len()], "agent": AGENT,
                "request": { "method": "GET", "url": format!("{}/r/{i}", up.base()) }
            });
            async move { lambda.invoke("inject", &event).await }
        });
        for r in futures::future::join_all(calls).await {
            assert_eq!(r["ok"], true, "{r}");
        }
    }
}

fn write_export(lambda: &LambdaEnv) -> (std::path::PathBuf, Vec<Value>) {
    let lines = kms_use_lines(&lambda.output());
    let path = std::env::temp_dir().join(format!("{}.jsonl", unique("keybroker-audit-export")));
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    let records = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (path, records)
}

#[tokio::test]
async fn every_use_reconciles_and_a_use_outside_the_broker_is_the_one_reported() {
    let env = setup().await;
    let opts = RunOptions {
        instances: 2,
        rust_log: "info",
        ..RunOptions::default()
    };
    let lambda = LambdaEnv::start_with(&env, &opts).await;
    let up = Upstream::start().await;
    let ws = ws();
    let w = ws.as_str();
    let binding = json!({ "hosts": [up.addr.to_string()], "allow_insecure_http": true,
                          "inject": { "type": "header", "name": "Authorization", "template": "Bearer {secret}" } });
    let ext = lambda
        .admin(json!({"op": "prepare_byok", "workspace": w}))
        .await["external_id"]
        .as_str()
        .unwrap()
        .to_owned();
    for s in PLATFORM_SECRETS {
        lambda
            .admin(json!({"op": "put_secret", "workspace": w, "secret": s, "value": unique("v"), "binding": binding}))
            .await;
    }
    let customer = Customer::create(&ws, &ext).await;
    lambda
        .admin(json!({"op": "enable_byok", "workspace": w, "role_arn": customer.role_arn, "key_arn": customer.key_arn}))
        .await;
    for s in SECRETS {
        lambda
            .admin(json!({"op": "put_secret", "workspace": w, "secret": s, "value": unique("v"), "binding": binding}))
            .await;
    }
    let policy =
        format!(r#"permit(principal == Agent::"{AGENT}", action == Action::"inject", resource);"#);
    lambda
        .admin(json!({"op": "set_policy", "workspace": w, "policy": policy}))
        .await;

    // Platform → customer key (rewrap), injections, checks; then a second
    // key of the customer's (a new link) and everything rewrapped onto it.
    let moved = lambda.admin(json!({"op": "rewrap", "workspace": w})).await;
    assert_eq!(moved["moved"], 3, "{moved}");
    let n = injections();
    inject_many(&lambda, &up, w, n / 2).await;
    for _ in 0..3 {
        lambda
            .admin(json!({"op": "check_workspace", "workspace": w}))
            .await;
    }
    let key2 = customer.create_second_key().await;
    lambda
        .admin(json!({"op": "enable_byok", "workspace": w, "role_arn": customer.role_arn, "key_arn": key2}))
        .await;
    let moved = lambda.admin(json!({"op": "rewrap", "workspace": w})).await;
    assert_eq!(moved["moved"], 7, "{moved}");
    inject_many(&lambda, &up, w, n - n / 2).await;
    lambda
        .admin(json!({"op": "check_workspace", "workspace": w}))
        .await;

    let (export, records) = write_export(&lambda);
    let ok: Vec<&Value> = records.iter().filter(|r| r["outcome"] == "ok").collect();
    // verify ×2 (2 each), puts 4, rewrap 3 + 7×2, n injections, checks 3 + 1.
    assert_eq!(ok.len(), 4 + 4 + 3 + 14 + n + 4, "{records:#?}");
    let (code, report) = reconcile(&customer.role_arn, &export);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["uses"], ok.len(), "{report:#}");
    assert_eq!(report["matched"], ok.len());
    assert_eq!(report["unmatched"], json!([]));
    assert_eq!(report["mismatched"], json!([]));
    let purposes = report["sessions"].as_object().unwrap();
    assert_eq!(
        purposes["keybroker-inject (SourceIdentity keybroker-inject)"],
        n
    );
    assert_eq!(
        purposes["keybroker-check (SourceIdentity keybroker-admin)"],
        4
    );
    eprintln!(
        "reconciled {} uses ({n} injections): {}",
        ok.len(),
        report["sessions"]
    );

    // Planted: the role's credentials used outside the broker, once.
    let item = secret_item(&env, &ws, &name("s0")).await;
    let blob = broker_core::blob::Blob::decode(&blob_of(&item)).unwrap();
    let role = customer.role_kms(&ext).await;
    let direct = role
        .decrypt()
        .key_id(&blob.key_arn)
        .ciphertext_blob(Blob::new(blob.encrypted_data_key.clone()))
        .encryption_context("workspace", w)
        .encryption_context("secret", "s0")
        .send()
        .await
        .unwrap();
    let rid = direct.request_id().unwrap().to_owned();
    let (code, report) = reconcile(&customer.role_arn, &export);
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(
        report["matched"],
        ok.len(),
        "every broker use still matches"
    );
    let unmatched = report["unmatched"].as_array().unwrap();
    assert_eq!(unmatched.len(), 1, "{report:#}");
    assert_eq!(unmatched[0]["requestID"], rid.as_str());
    assert_eq!(unmatched[0]["eventName"], "Decrypt");
    assert_eq!(unmatched[0]["secret"], "s0");
    assert_eq!(report["mismatched"], json!([]));
    eprintln!("planted use reported: {}", unmatched[0]);

    // A record that lies about its secret is a mismatch, not a match.
    let mut forged: Vec<Value> = records.clone();
    let victim = forged
        .iter_mut()
        .find(|r| r["purpose"] == "inject" && r["outcome"] == "ok")
        .unwrap();
    victim["secret"] = json!("other");
    let lines: Vec<String> = forged.iter().map(Value::to_string).collect();
    std::fs::write(&export, lines.join("\n") + "\n").unwrap();
    let (code, report) = reconcile(&customer.role_arn, &export);
    assert_eq!(code, 1);
    assert_eq!(
        report["mismatched"].as_array().map(Vec::len),
        Some(1),
        "{report:#}"
    );
    let _ = std::fs::remove_file(&export);
    lambda.stop().await;
}
