//! The agent-facing catalog (`list_secrets` on `inject`) as a side door
//! (issue 22): it answers only with secrets the agent's Cedar policy could
//! let it use, and each listing counts against the injection limits on the
//! injections' own counters, refused `throttled` with the window's wait.

use keybroker_tests::lambda_env::{LambdaEnv, Upstream};
use keybroker_tests::{assert_no_canary, setup, Env};
use serde_json::{json, Value};

use crate::inject::error_type;

/// `agent-a` may use `github` (GET only) and `maps`; `agent-b` only `maps`;
/// nobody `stripe` (an unconditional forbid), `expired` (a grant in the
/// past) or `unbound` (no binding: it cannot be sent anywhere).
const POLICY: &str = r#"
    permit(principal == Agent::"agent-a", action, resource == Secret::"github")
    when { context.method == "GET" };
    permit(principal, action, resource == Secret::"maps");
    permit(principal, action, resource == Secret::"stripe");
    forbid(principal, action, resource == Secret::"stripe");
    permit(principal, action, resource == Secret::"expired") when { context.now < 1000 };
    permit(principal, action, resource == Secret::"unbound");
"#;

async fn workspace(env: &Env, lambda: &LambdaEnv, up: &Upstream) -> (String, Vec<String>) {
    let ws = crate::ws().to_string();
    let mut canaries = Vec::new();
    for name in ["github", "maps", "stripe", "expired"] {
        let canary = format!("sk-cat-{}", keybroker_tests::unique("CANARY"));
        lambda
            .admin(json!({ "op": "put_secret", "workspace": ws, "secret": name, "value": canary,
                "binding": { "hosts": [up.addr.to_string()], "inject":
                    { "type": "header", "name": "Authorization", "template": "Bearer {secret}" } } }))
            .await;
        canaries.push(canary);
    }
    // `admin` requires a binding; a secret stored by the library may lack one.
    let (text, value) = crate::canary();
    let wsid = broker_core::WorkspaceId::new(ws.as_str()).unwrap();
    env.broker
        .put_secret(&wsid, &crate::name("unbound"), &value)
        .await
        .unwrap();
    canaries.push(text);
    lambda
        .admin(json!({ "op": "set_policy", "workspace": ws, "policy": POLICY }))
        .await;
    (ws, canaries)
}

fn list(ws: &str, agent: &str) -> Value {
    json!({ "op": "list_secrets", "workspace": ws, "agent": agent })
}

fn names(r: &Value) -> Vec<String> {
    r["secrets"]
        .as_array()
        .unwrap_or_else(|| panic!("a list: {r}"))
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_owned())
        .collect()
}

/// The catalog audit lines printed so far.
fn catalog_audit(lambda: &LambdaEnv) -> Vec<Value> {
    lambda
        .output()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["schema"] == keybroker_lambda::inject::catalog::SCHEMA)
        .collect()
}

#[tokio::test]
async fn list_secrets_hides_what_the_policy_denies_this_agent() {
    let env = setup().await;
    let lambda = LambdaEnv::start(&env).await;
    let up = Upstream::start().await;
    let (ws, canaries) = workspace(&env, &lambda, &up).await;

    let r = lambda.invoke("inject", &list(&ws, "agent-a")).await;
    assert_eq!(r["ok"], true, "{r}");
    assert_eq!(names(&r), ["github", "maps"], "{r}");
    let r = lambda.invoke("inject", &list(&ws, "agent-b")).await;
    assert_eq!(names(&r), ["maps"], "{r}");
    let text = r.to_string();
    for hidden in ["github", "stripe", "expired", "unbound"] {
        assert!(!text.contains(hidden), "{hidden} leaked: {r}");
    }
    // No policy at all: deny by default, nothing to list.
    lambda
        .admin(json!({ "op": "set_policy", "workspace": ws, "policy": "" }))
        .await;
    let r = lambda.invoke("inject", &list(&ws, "agent-a")).await;
    assert_eq!(names(&r), Vec::<String>::new(), "{r}");
    let audit = catalog_audit(&lambda);
    assert_eq!(audit[0]["count"], 2, "{audit:?}");
    assert_eq!(audit[0]["hidden"], 3, "{audit:?}");
    assert_eq!(audit[1]["count"], 1, "{audit:?}");
    assert_eq!(audit[1]["hidden"], 4, "{audit:?}");
    for c in &canaries {
        assert_no_canary("function output", &lambda.output(), c);
    }
    lambda.stop().await;
}

#[tokio::test]
async fn list_secrets_counts_against_the_injection_limits_and_is_throttled_past_them() {
    let env = setup().await;
    let lambda = LambdaEnv::start(&env).await;
    let up = Upstream::start().await;
    let (ws, _) = workspace(&env, &lambda, &up).await;
    lambda
        .admin(json!({ "op": "set_limits", "workspace": ws,
                       "limits": { "window_seconds": 3600, "workspace": 100, "agent": 3 } }))
        .await;

    for i in 0..2 {
        let r = lambda.invoke("inject", &list(&ws, "agent-a")).await;
        assert_eq!(r["ok"], true, "listing {i}: {r}");
    }
    // The injection shares the agent's counter: the third use.
    let inject = json!({ "workspace": ws, "secret": "github", "agent": "agent-a",
                         "request": { "method": "GET", "url": format!("{}/x", up.base()) } });
    let r = lambda.invoke("inject", &inject).await;
    assert_eq!(r["ok"], true, "{r}");
    // The fourth, a listing, is over the agent's limit.
    let r = lambda.invoke("inject", &list(&ws, "agent-a")).await;
    assert_eq!(error_type(&r), "throttled", "{r}");
    let wait = r["error"]["retry_after_ms"]
        .as_u64()
        .expect("retry_after_ms");
    assert!((1..=3_600_000).contains(&wait), "{r}");
    assert!(r.get("secrets").is_none(), "{r}");
    let last = catalog_audit(&lambda).pop().unwrap();
    assert_eq!(last["outcome"], "throttled", "{last}");
    assert_eq!(last["limit"], "agent", "{last}");
    // And so is an injection: listing used the same counter.
    let r = lambda.invoke("inject", &inject).await;
    assert_eq!(error_type(&r), "throttled", "{r}");
    assert_eq!(
        lambda.audit_records().last().unwrap()["aws_calls"]["kms"],
        0
    );
    // Another agent still lists (its own counter; the workspace's has room).
    let r = lambda.invoke("inject", &list(&ws, "agent-b")).await;
    assert_eq!(r["ok"], true, "{r}");
    // A malformed agent name is refused before anything is counted.
    let r = lambda.invoke("inject", &list(&ws, "agent a")).await;
    assert_eq!(error_type(&r), "invalid_request", "{r}");
    assert_eq!(
        up.records().len(),
        1,
        "only the admitted injection was sent"
    );
    lambda.stop().await;
}
