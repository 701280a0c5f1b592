//! `check_workspace` (issue 15, item 3): after a revocation, `list_secrets`
//! says `active` for every secret nobody has read since; one check probes
//! each distinct (key, role) once through `kms:Decrypt` and makes every
//! status true, and a second check after access is restored brings them
//! back. The all-workspaces mode pages over a table of its own here (the
//! shared table's other workspaces belong to tests running concurrently).

use broker_core::{Broker, BrokerConfig, WorkspaceId};
use keybroker_tests::lambda_env::LambdaEnv;
use keybroker_tests::{broker_sdk_config, setup, unique, BrokerAccess};
use serde_json::{json, Value};

use crate::{canary, name, ws};

/// `(name, state, reason)` of every secret `list_secrets` returns, sorted.
async fn statuses(lambda: &LambdaEnv, ws: &WorkspaceId) -> Vec<(String, String, String)> {
    let list = lambda
        .admin(json!({ "op": "list_secrets", "workspace": ws }))
        .await;
    let mut out: Vec<(String, String, String)> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let s = |v: &Value| v.as_str().unwrap_or_default().to_owned();
            (
                s(&m["name"]),
                s(&m["status"]["state"]),
                s(&m["status"]["reason"]),
            )
        })
        .collect();
    out.sort();
    out
}

fn row(n: &str, state: &str, reason: &str) -> (String, String, String) {
    (n.to_owned(), state.to_owned(), reason.to_owned())
}

#[tokio::test]
async fn a_check_marks_every_affected_secret_and_only_those() {
    let env = setup().await;
    let lambda = LambdaEnv::start(&env).await;
    let ws = ws();
    let (_, p) = canary();
    env.broker
        .put_secret(&ws, &name("platform"), &p)
        .await
        .unwrap();
    let customer = env.onboard_customer(&ws).await;
    for n in ["byok-1", "byok-2", "byok-3"] {
        let (_, v) = canary();
        env.broker.put_secret(&ws, &name(n), &v).await.unwrap();
    }
    customer.set_broker_access(BrokerAccess::Revoked).await;
    // Nobody read them: the stored statuses are stale.
    let all_active = vec![
        row("byok-1", "active", ""),
        row("byok-2", "active", ""),
        row("byok-3", "active", ""),
        row("platform", "active", ""),
    ];
    assert_eq!(statuses(&lambda, &ws).await, all_active);

    let r = lambda
        .admin(json!({ "op": "check_workspace", "workspace": ws }))
        .await;
    assert_eq!(
        (
            r["secrets"].as_u64(),
            r["revoked"].as_u64(),
            r["active"].as_u64(),
            r["changed"].as_u64()
        ),
        (Some(4), Some(3), Some(1), Some(3)),
        "{r}"
    );
    // One probe per distinct (key, role).
    let probes = r["probes"].as_array().unwrap();
    assert_eq!(probes.len(), 2, "{r}");
    let byok = probes.iter().find(|p| p["key_mode"] == "byok").unwrap();
    assert_eq!(byok["key_arn"], customer.key_arn.as_str());
    assert_eq!(byok["role_arn"], customer.role_arn.as_str());
    assert_eq!(
        (byok["secrets"].as_u64(), &byok["outcome"]),
        (Some(3), &json!("revoked"))
    );
    assert_eq!(byok["reason"], "key_access_denied");
    assert_eq!(
        statuses(&lambda, &ws).await,
        vec![
            row("byok-1", "revoked", "key_access_denied"),
            row("byok-2", "revoked", "key_access_denied"),
            row("byok-3", "revoked", "key_access_denied"),
            row("platform", "active", ""),
        ]
    );

    // Nothing changes on a second check; restoring access and checking
    // again brings every secret back.
    let r = lambda
        .admin(json!({ "op": "check_workspace", "workspace": ws }))
        .await;
    assert_eq!(r["changed"], 0, "{r}");
    customer.set_broker_access(BrokerAccess::Enabled).await;
    let r = lambda
        .admin(json!({ "op": "check_workspace", "workspace": ws }))
        .await;
    assert_eq!(
        (r["active"].as_u64(), r["changed"].as_u64()),
        (Some(4), Some(3)),
        "{r}"
    );
    assert_eq!(statuses(&lambda, &ws).await, all_active);
    lambda.stop().await;
}

#[tokio::test]
async fn all_workspaces_in_pages_and_the_scheduled_cursor_wraps() {
    let env = setup().await;
    // A table of its own, with three workspaces.
    let table = unique("keybroker-check");
    broker_core::create_table(&env.ddb, &table).await.unwrap();
    let broker = Broker::new(
        &broker_sdk_config().await,
        BrokerConfig::new(table, env.platform_key_arn.clone()),
    )
    .unwrap();
    let all: Vec<WorkspaceId> = (0..3).map(|_| ws()).collect();
    for w in &all {
        let (_, v) = canary();
        broker.put_secret(w, &name("s"), &v).await.unwrap();
        broker.prepare_byok(w).await.unwrap();
    }
    let mut all: Vec<String> = all.iter().map(|w| w.to_string()).collect();
    all.sort();

    // Explicit cursor: two pages of two and one.
    let p1 = broker.check_workspaces(None, Some(2), false).await.unwrap();
    assert_eq!(p1.reports.len(), 2);
    let next = p1.next.clone().expect("more to come");
    let p2 = broker
        .check_workspaces(Some(&next), Some(2), false)
        .await
        .unwrap();
    assert_eq!((p2.reports.len(), p2.next.clone()), (1, None));
    let mut seen: Vec<String> = p1
        .reports
        .iter()
        .chain(&p2.reports)
        .map(|r| r.workspace.to_string())
        .collect();
    seen.sort();
    assert_eq!(seen, all);
    assert!(p1.reports.iter().chain(&p2.reports).all(|r| r.active == 1));

    // Scheduled: the same input each run; the stored cursor walks on and
    // wraps after the last workspace.
    let runs: Vec<usize> = {
        let mut v = Vec::new();
        for _ in 0..3 {
            v.push(
                broker
                    .check_workspaces(None, Some(2), true)
                    .await
                    .unwrap()
                    .reports
                    .len(),
            );
        }
        v
    };
    assert_eq!(runs, [2, 1, 2]);
}
