//! The deployed path: an agent runtime invokes the real `inject` binary
//! (through lambda-runner and aws-sdk-lambda), which injects the credential
//! into one request to a local upstream that records what it received.

use keybroker_tests::lambda_env::{LambdaEnv, Upstream};
use keybroker_tests::{setup, Customer, Env};
use serde_json::{json, Value};

use crate::ws;

pub(crate) const AGENT: &str = "agent-7";

fn permit_all(agent: &str) -> String {
    format!(r#"permit(principal == Agent::"{agent}", action == Action::"inject", resource);"#)
}

/// A workspace with one bound secret (`api`) and a policy letting AGENT use it.
pub(crate) async fn bound_secret(
    lambda: &LambdaEnv,
    up: &Upstream,
    inject: Value,
) -> (String, String) {
    bound_secret_in(lambda, up, inject, ws().to_string()).await
}

/// [`bound_secret`] in workspace `ws` (e.g. one already onboarded to BYOK).
pub(crate) async fn bound_secret_in(
    lambda: &LambdaEnv,
    up: &Upstream,
    inject: Value,
    ws: String,
) -> (String, String) {
    let canary = format!("sk-live-{}", keybroker_tests::unique("CANARY"));
    lambda
        .admin(json!({
            "op": "put_secret", "workspace": ws, "secret": "api", "value": canary,
            "binding": { "hosts": [up.addr.to_string()], "inject": inject, "allow_insecure_http": true }
        }))
        .await;
    lambda
        .admin(json!({ "op": "set_policy", "workspace": ws, "policy": permit_all(AGENT) }))
        .await;
    (ws, canary)
}

pub(crate) fn inject_event(ws: &str, url: &str) -> Value {
    json!({ "workspace": ws, "secret": "api", "agent": AGENT,
            "request": { "method": "GET", "url": url, "headers": { "accept": "application/json" } } })
}

pub(crate) fn bearer() -> Value {
    json!({ "type": "header", "name": "Authorization", "template": "Bearer {secret}" })
}

pub(crate) use keybroker_tests::error_type;

pub(crate) async fn start() -> (Env, LambdaEnv, Upstream) {
    let env = setup().await;
    let lambda = LambdaEnv::start(&env).await;
    (env, lambda, Upstream::start().await)
}

#[tokio::test]
async fn credential_goes_exactly_where_bound_and_never_back_to_the_agent() {
    let (_env, lambda, up) = start().await;
    let (ws, canary) = bound_secret(&lambda, &up, bearer()).await;

    let r = lambda
        .invoke(
            "inject",
            &inject_event(&ws, &format!("{}/echo?q=1", up.base())),
        )
        .await;
    assert_eq!(r["ok"], true, "{r}");
    assert_eq!(r["status"], 200);
    let seen = up.records();
    assert_eq!(seen.len(), 1);
    assert_eq!(
        seen[0].header("authorization"),
        Some(format!("Bearer {canary}").as_str())
    );
    assert_eq!(seen[0].header("accept"), Some("application/json"));
    assert_eq!(seen[0].uri, "/echo?q=1");

    // The upstream echoed the credential in body and header: by default the
    // agent gets the status and the marker, no headers and no body.
    let text = r.to_string();
    assert!(
        !text.contains(&canary),
        "credential reached the agent: {text}"
    );
    assert_eq!(r["withheld"], "echo_withheld", "{r}");
    assert!(r.get("body").is_none() && r.get("headers").is_none(), "{r}");

    let audit = lambda.audit_records();
    assert_eq!(audit.len(), 1, "one audit record per call");
    let a = &audit[0];
    assert_eq!(a["decision"], "allow");
    assert_eq!(a["agent"], AGENT);
    assert_eq!(a["host"], up.addr.to_string());
    assert_eq!(a["path"], "/echo");
    assert_eq!(a["upstream_status"], 200);
    assert!(a["scrubbed"].as_u64().unwrap() >= 2, "{a}");
    assert_eq!(a["echo"], "withheld", "{a}");
    assert!(a["key_arn"].as_str().unwrap().starts_with("arn:aws:kms:"));
    // A warm-path injection: one DynamoDB read, the default workspace
    // limit's counter update, one KMS Decrypt, no STS (limits: e2e limits),
    // and the probe breaker's two decisions: the read after the clean
    // request scan, then, for the echo, the conditional count (a clean
    // answer reads the count instead: e2e limits), and the in-flight
    // slot's release after the call (taken with the counter: e2e fairness).
    assert_eq!(a["aws_calls"], json!({"kms": 1, "sts": 0, "dynamodb": 5}));
    assert_eq!(
        (a["probe"].clone(), a["probes"].clone()),
        (json!("echo"), json!(1))
    );
    assert!(
        !lambda.output().contains(&canary),
        "credential in function output"
    );
    lambda.stop().await;
}

#[tokio::test]
async fn unbound_hosts_and_url_tricks_are_denied_before_any_kms_call() {
    let (_env, lambda, up) = start().await;
    let (ws, _) = bound_secret(&lambda, &up, bearer()).await;
    let port = up.addr.port();
    let tricks = [
        format!("http://127.0.0.2:{port}/"),
        format!("http://localhost:{port}/"),
        format!("http://127.0.0.1:{}/", port + 1),
        format!("http://evil.example@127.0.0.2:{port}/"),
        format!("http://127.0.0.1:{port}@evil.example/"),
        format!("https://127.0.0.1:{port}.evil.example/"),
        format!("ftp://127.0.0.1:{port}/"),
    ];
    for url in &tricks {
        let r = lambda.invoke("inject", &inject_event(&ws, url)).await;
        assert_eq!(error_type(&r), "denied", "{url}: {r}");
    }
    assert!(up.records().is_empty(), "nothing may reach any upstream");
    for a in lambda.audit_records() {
        assert_eq!(a["decision"], "deny", "{a}");
        assert_eq!(a["aws_calls"]["kms"], 0, "denied before KMS: {a}");
    }
    lambda.stop().await;
}

#[tokio::test]
async fn policy_is_deny_by_default() {
    let (_env, lambda, up) = start().await;
    let (ws, _) = bound_secret(&lambda, &up, bearer()).await;
    let mut event = inject_event(&ws, &format!("{}/x", up.base()));
    event["agent"] = json!("agent-other");
    let r = lambda.invoke("inject", &event).await;
    assert_eq!(error_type(&r), "denied");
    assert!(
        r["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no policy permits"),
        "{r}"
    );

    // A policy limited to one path and method.
    let narrow = format!(
        r#"permit(principal == Agent::"{AGENT}", action == Action::"inject", resource == Secret::"api")
           when {{ context.method == "GET" && context.path == "/allowed" }};"#
    );
    lambda
        .admin(json!({ "op": "set_policy", "workspace": ws, "policy": narrow }))
        .await;
    let ok = lambda
        .invoke(
            "inject",
            &inject_event(&ws, &format!("{}/allowed", up.base())),
        )
        .await;
    assert_eq!(ok["ok"], true, "{ok}");
    let no = lambda
        .invoke(
            "inject",
            &inject_event(&ws, &format!("{}/other", up.base())),
        )
        .await;
    assert_eq!(error_type(&no), "denied");
    assert_eq!(up.records().len(), 1);

    // Invalid Cedar is refused at set time, and the old policy stays.
    let bad = lambda
        .invoke(
            "admin",
            &json!({ "op": "set_policy", "workspace": ws, "policy": "permit(" }),
        )
        .await;
    assert_eq!(bad["error"]["type"], "invalid_request", "{bad}");
    let still = lambda
        .invoke(
            "inject",
            &inject_event(&ws, &format!("{}/allowed", up.base())),
        )
        .await;
    assert_eq!(still["ok"], true);
    lambda.stop().await;
}

#[tokio::test]
async fn redirects_are_returned_not_followed() {
    let (_env, lambda, up) = start().await;
    let (ws, _) = bound_secret(&lambda, &up, bearer()).await;
    let r = lambda
        .invoke(
            "inject",
            &inject_event(&ws, &format!("{}/redirect", up.base())),
        )
        .await;
    assert_eq!(r["status"], 302, "{r}");
    assert!(r["headers"]["location"]
        .as_str()
        .unwrap()
        .ends_with("/stolen"));
    let seen = up.records();
    assert_eq!(seen.len(), 1, "the redirect was not followed: {seen:?}");
    lambda.stop().await;
}

#[tokio::test]
async fn agent_cannot_touch_the_injection_point_or_frame_the_request() {
    let (_env, lambda, up) = start().await;
    let (ws, _) = bound_secret(&lambda, &up, bearer()).await;
    let url = format!("{}/x", up.base());
    for headers in [
        json!({ "Authorization": "Bearer mine" }),
        json!({ "authorization": "x" }),
        json!({ "Host": "evil.example" }),
        json!({ "Content-Length": "5" }),
        json!({ "Transfer-Encoding": "chunked" }),
        json!({ "x-ok": "a\r\nInjected: 1" }),
        json!({ "bad name": "v" }),
    ] {
        let mut e = inject_event(&ws, &url);
        e["request"]["headers"] = headers.clone();
        let r = lambda.invoke("inject", &e).await;
        assert_eq!(error_type(&r), "invalid_request", "{headers}: {r}");
    }
    assert!(up.records().is_empty());
    lambda.stop().await;
}

#[tokio::test]
async fn basic_auth_and_query_injection() {
    let (_env, lambda, up) = start().await;
    let (ws, canary) = bound_secret(
        &lambda,
        &up,
        json!({ "type": "basic_auth", "username": "bot" }),
    )
    .await;
    let r = lambda
        .invoke("inject", &inject_event(&ws, &format!("{}/echo", up.base())))
        .await;
    assert_eq!(r["ok"], true, "{r}");
    let expected = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(format!("bot:{canary}"))
    };
    assert_eq!(
        up.records()[0].header("authorization"),
        Some(format!("Basic {expected}").as_str())
    );
    assert!(
        !r.to_string().contains(&expected),
        "encoded credential reached the agent"
    );

    let (ws2, canary2) =
        bound_secret(&lambda, &up, json!({ "type": "query", "param": "api_key" })).await;
    let r = lambda
        .invoke(
            "inject",
            &inject_event(&ws2, &format!("{}/echo?a=1", up.base())),
        )
        .await;
    assert_eq!(r["ok"], true, "{r}");
    assert_eq!(up.records()[1].uri, format!("/echo?a=1&api_key={canary2}"));
    assert!(!r.to_string().contains(&canary2));
    // The agent may not pre-set the parameter the secret goes into.
    let r = lambda
        .invoke(
            "inject",
            &inject_event(&ws2, &format!("{}/echo?api_key=mine", up.base())),
        )
        .await;
    assert_eq!(error_type(&r), "invalid_request");
    // The audit path never carries the query.
    for a in lambda.audit_records() {
        assert!(!a.to_string().contains(&canary2), "{a}");
    }
    lambda.stop().await;
}

#[tokio::test]
async fn bounded_responses_timeouts_and_binary_bodies() {
    let (_env, lambda, up) = start().await;
    let (ws, _) = bound_secret(&lambda, &up, bearer()).await;
    let big = lambda
        .invoke("inject", &inject_event(&ws, &format!("{}/big", up.base())))
        .await;
    assert_eq!(error_type(&big), "upstream_error");
    assert!(
        big["error"]["message"]
            .as_str()
            .unwrap()
            .contains("exceeds"),
        "{big}"
    );

    let mut slow = inject_event(&ws, &format!("{}/slow", up.base()));
    slow["request"]["timeout_ms"] = json!(300);
    let r = lambda.invoke("inject", &slow).await;
    assert_eq!(error_type(&r), "upstream_error");
    assert_eq!(r["error"]["message"], "upstream timed out");

    let bin = lambda
        .invoke(
            "inject",
            &inject_event(&ws, &format!("{}/binary", up.base())),
        )
        .await;
    assert_eq!(bin["ok"], true);
    assert!(bin.get("body").is_none());
    assert!(bin["body_base64"].as_str().unwrap().len() > 300);
    lambda.stop().await;
}

#[tokio::test]
async fn malformed_events_are_invalid_requests_not_crashes() {
    let (_env, lambda, up) = start().await;
    let (ws, _) = bound_secret(&lambda, &up, bearer()).await;
    let url = format!("{}/x", up.base());
    let mut unknown = inject_event(&ws, &url);
    unknown["request"]["follow_redirects"] = json!(true);
    let mut both_bodies = inject_event(&ws, &url);
    both_bodies["request"]["body"] = json!("a");
    both_bodies["request"]["body_base64"] = json!("YQ==");
    let mut bad_method = inject_event(&ws, &url);
    bad_method["request"]["method"] = json!("CONNECT");
    let mut bad_ws = inject_event(&ws, &url);
    bad_ws["workspace"] = json!("../etc");
    for event in [
        json!(null),
        json!([1, 2]),
        json!("inject"),
        json!({}),
        json!({ "workspace": ws }),
        unknown,
        both_bodies,
        bad_method,
        bad_ws,
    ] {
        let r = lambda.invoke("inject", &event).await;
        assert_eq!(error_type(&r), "invalid_request", "{event}: {r}");
    }
    let mut missing = inject_event(&ws, &url);
    missing["secret"] = json!("nope");
    assert_eq!(
        error_type(&lambda.invoke("inject", &missing).await),
        "not_found"
    );
    // The function is still serving.
    assert_eq!(
        lambda.invoke("inject", &inject_event(&ws, &url)).await["ok"],
        true
    );
    lambda.stop().await;
}

#[tokio::test]
async fn disabled_customer_key_makes_the_next_invocation_revoked() {
    let (env, lambda, up) = start().await;
    let ws = crate::ws();
    let ext = env.broker.prepare_byok(&ws).await.unwrap().external_id;
    let customer = Customer::create(&ws, &ext).await;
    lambda
        .admin(json!({ "op": "enable_byok", "workspace": ws.to_string(),
                       "role_arn": customer.role_arn, "key_arn": customer.key_arn }))
        .await;
    lambda
        .admin(json!({
            "op": "put_secret", "workspace": ws.to_string(), "secret": "api", "value": "byok-secret-value",
            "binding": { "hosts": [up.addr.to_string()], "inject": bearer(), "allow_insecure_http": true }
        }))
        .await;
    lambda
        .admin(
            json!({ "op": "set_policy", "workspace": ws.to_string(), "policy": permit_all(AGENT) }),
        )
        .await;
    let event = inject_event(ws.as_str(), &format!("{}/x", up.base()));
    let first = lambda.invoke("inject", &event).await;
    assert_eq!(first["ok"], true, "{first}");

    customer.disable_key().await;
    let r = lambda.invoke("inject", &event).await;
    assert_eq!(error_type(&r), "revoked");
    assert!(
        r["error"]["message"]
            .as_str()
            .unwrap()
            .contains("key_disabled"),
        "{r}"
    );
    assert_eq!(up.records().len(), 1, "nothing sent after revocation");

    let list = lambda
        .admin(json!({ "op": "list_secrets", "workspace": ws.to_string() }))
        .await;
    assert_eq!(list[0]["status"]["state"], "revoked", "{list}");
    assert_eq!(list[0]["status"]["reason"], "key_disabled");

    customer.enable_key().await;
    assert_eq!(lambda.invoke("inject", &event).await["ok"], true);
    lambda.stop().await;
}
