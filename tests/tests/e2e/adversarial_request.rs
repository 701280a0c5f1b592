//! The agent as an adversary that controls everything in the request except
//! the host and the injection point (issue 12, "the request the policy
//! judges is the request that is sent"). Every attack goes through the real
//! `inject` binary under lambda-runner; the recording upstream shows what a
//! server actually received. Every refused attack asserts that nothing
//! reached the upstream and that its audit record shows no KMS call.

use keybroker_tests::lambda_env::{LambdaEnv, RunOptions, Upstream};
use keybroker_tests::{setup, Env};
use serde_json::{json, Value};

use crate::ws;

pub(crate) const AGENT: &str = "agent-adv";

/// Permits everything for AGENT except any path under `/admin`.
pub(crate) fn forbid_admin() -> String {
    format!(
        r#"permit(principal == Agent::"{AGENT}", action == Action::"inject", resource);
           forbid(principal, action, resource) when {{ context.path like "/admin*" }};"#
    )
}

pub(crate) struct Fixture {
    pub(crate) _env: Env,
    pub(crate) lambda: LambdaEnv,
    pub(crate) up: Upstream,
    pub(crate) ws: String,
}

pub(crate) async fn fixture_with(opts: &RunOptions, binding: Value, policy: &str) -> Fixture {
    let env = setup().await;
    let lambda = LambdaEnv::start_with(&env, opts).await;
    let up = Upstream::start().await;
    let ws = ws().to_string();
    let mut binding = binding;
    binding["hosts"] = json!([up.addr.to_string()]);
    lambda
        .admin(json!({
            "op": "put_secret", "workspace": ws, "secret": "api",
            "value": format!("sk-adv-{}", keybroker_tests::unique("CANARY")),
            "binding": binding
        }))
        .await;
    lambda
        .admin(json!({ "op": "set_policy", "workspace": ws, "policy": policy }))
        .await;
    Fixture {
        _env: env,
        lambda,
        up,
        ws,
    }
}

pub(crate) fn bearer_binding() -> Value {
    json!({ "inject": { "type": "header", "name": "Authorization", "template": "Bearer {secret}" } })
}

pub(crate) async fn fixture(policy: &str) -> Fixture {
    fixture_with(&RunOptions::default(), bearer_binding(), policy).await
}

impl Fixture {
    pub(crate) fn event(&self, method: &str, target: &str, headers: Value) -> Value {
        json!({ "workspace": self.ws, "secret": "api", "agent": AGENT,
                "request": { "method": method, "url": format!("{}{target}", self.up.base()),
                             "headers": headers } })
    }

    /// Invoke and return the response with the audit record it produced.
    pub(crate) async fn call(&self, event: &Value) -> (Value, Value) {
        let before = self.lambda.audit_records().len();
        let r = self.lambda.invoke("inject", event).await;
        let audit = self.lambda.audit_records();
        assert_eq!(audit.len(), before + 1, "one audit record per call");
        (r, audit[before].clone())
    }

    /// `event` is refused as `kind` (one of them), before any KMS call,
    /// and the upstream receives nothing.
    pub(crate) async fn refused(&self, label: &str, event: &Value, kinds: &[&str]) {
        let seen = self.up.records().len();
        let (r, audit) = self.call(event).await;
        assert_eq!(r["ok"], false, "{label}: must be refused: {r}");
        let kind = r["error"]["type"].as_str().unwrap_or_default();
        assert!(
            kinds.contains(&kind),
            "{label}: {kind} not in {kinds:?}: {r}"
        );
        assert_eq!(
            audit["aws_calls"]["kms"], 0,
            "{label}: refused before KMS: {audit}"
        );
        assert_eq!(audit["decision"], "deny", "{label}: {audit}");
        assert_eq!(
            self.up.records().len(),
            seen,
            "{label}: the upstream got a request"
        );
    }

    /// `event` is allowed and the upstream receives exactly `uri`.
    pub(crate) async fn sent(&self, label: &str, event: &Value, uri: &str) {
        let (r, audit) = self.call(event).await;
        assert_eq!(r["ok"], true, "{label}: {r}");
        assert_eq!(audit["aws_calls"]["kms"], 1, "{label}: {audit}");
        let last = self
            .up
            .records()
            .pop()
            .expect("the upstream got the request");
        assert_eq!(
            last.uri, uri,
            "{label}: the upstream must get the normalised URL"
        );
    }
}

pub(crate) const DENIED: &[&str] = &["denied"];
pub(crate) const INVALID: &[&str] = &["invalid_request"];

#[tokio::test]
async fn encoded_paths_cannot_reach_what_the_policy_forbids() {
    let f = fixture(&forbid_admin()).await;
    let get = |t: &str| f.event("GET", t, json!({}));
    // Unreserved escapes are decoded *before* the policy: judged as /admin.
    f.refused("%61dmin", &get("/%61dmin"), DENIED).await;
    f.refused("ADMIN escapes", &get("/%61%64%6D%69%6E/users"), DENIED)
        .await;
    // And what is allowed is sent in its normalised form.
    f.sent(
        "decoded unreserved",
        &get("/%61pi/%7Eme?q=%61"),
        "/api/~me?q=a",
    )
    .await;
    f.sent("kept escape uppercased", &get("/a%c3%a9"), "/a%C3%A9")
        .await;
    // Every form servers might decode differently is refused outright.
    for (label, target) in [
        ("double encoding", "/%2561dmin"),
        ("double encoded dots", "/x/%252e%252e/admin"),
        ("path parameter", "/admin;x=1"),
        ("path parameter hiding dots", "/ok;/../admin"),
        ("parameter on a segment", "/x;jsessionid=1/admin"),
        ("encoded slash", "/x%2F..%2Fadmin"),
        ("encoded slash lowercase", "/x%2fadmin"),
        ("encoded backslash", "/x%5C..%5Cadmin"),
        ("encoded backslash lowercase", "/x%5cadmin"),
        ("raw backslash", "/x\\..\\admin"),
        ("encoded dot-dot", "/x/%2e%2e/admin"),
        ("half-encoded dot-dot", "/x/.%2e/admin"),
        ("uppercase encoded dot-dot", "/x/%2E%2E/admin"),
        ("encoded dot", "/x/%2e/admin"),
        ("raw dot-dot", "/x/../admin"),
        ("raw dot", "/./admin"),
        ("encoded NUL", "/admin%00.json"),
        ("encoded CRLF", "/x%0d%0aX-Evil:%201"),
        ("encoded DEL", "/x%7f"),
        ("empty segment", "//admin"),
        ("invalid escape", "/%zzadmin"),
        ("truncated escape", "/x%4"),
        ("raw non-ASCII", "/ädmin"),
    ] {
        f.refused(label, &get(target), DENIED).await;
    }
    // A raw control character or space in the URL.
    for target in ["/x\ty", "/x y", "/admin\u{0}"] {
        f.refused("raw control", &get(target), DENIED).await;
    }
    f.lambda.stop().await;
}

#[tokio::test]
async fn override_rewrite_forwarding_and_hop_headers_are_refused() {
    let f = fixture(&forbid_admin()).await;
    for (name, value) in [
        ("X-HTTP-Method-Override", "DELETE"),
        ("X-HTTP-Method", "DELETE"),
        ("X-Method-Override", "DELETE"),
        ("X-Original-Method", "DELETE"),
        ("X-Original-URL", "/admin"),
        ("X-Rewrite-URL", "/admin"),
        ("Forwarded", "for=127.0.0.1;host=internal"),
        ("X-Forwarded-For", "127.0.0.1"),
        ("X-Forwarded-Host", "internal.example"),
        ("X-Forwarded-Prefix", "/admin"),
        ("X-Forwarded-Proto", "https"),
        ("X-Real-IP", "127.0.0.1"),
        ("X-Client-IP", "127.0.0.1"),
        ("True-Client-IP", "127.0.0.1"),
        ("Via", "1.1 internal"),
        ("Host", "internal.example"),
        ("Proxy-Authorization", "Basic eDp5"),
        ("Connection", "close, Authorization"),
        ("Keep-Alive", "timeout=5"),
        ("TE", "trailers"),
        ("Trailer", "X-Evil"),
        ("Upgrade", "h2c"),
        ("Transfer-Encoding", "chunked"),
        ("Content-Length", "0"),
        ("Expect", "100-continue"),
        ("Range", "bytes=0-3"),
        ("If-Range", "\"x\""),
        ("Accept-Encoding", "gzip"),
        ("x-http-method-override", "DELETE"),
    ] {
        let e = f.event("GET", "/ok", json!({ name: value }));
        f.refused(name, &e, INVALID).await;
    }
    // One header under two spellings: which one wins is the server's choice.
    let e = f.event("GET", "/ok", json!({ "Accept": "a", "accept": "b" }));
    f.refused("duplicate header", &e, INVALID).await;
    // Ordinary headers still pass, lowercased by HTTP/1.1 framing rules.
    let (r, _) = f
        .call(&f.event("GET", "/ok", json!({ "Accept": "application/json" })))
        .await;
    assert_eq!(r["ok"], true, "{r}");
    let last = f.up.records().pop().unwrap();
    assert_eq!(last.header("accept"), Some("application/json"));
    assert_eq!(last.method, "GET");
    f.lambda.stop().await;
}

#[tokio::test]
async fn a_binding_allow_list_closes_every_other_agent_header() {
    let mut binding = bearer_binding();
    binding["agent_headers"] = json!(["accept"]);
    let f = fixture_with(&RunOptions::default(), binding, &forbid_admin()).await;
    let e = f.event("GET", "/ok", json!({ "X-Api-Version": "internal" }));
    f.refused("unlisted header", &e, INVALID).await;
    f.sent(
        "listed header",
        &f.event("GET", "/ok", json!({ "ACCEPT": "a" })),
        "/ok",
    )
    .await;
    f.lambda.stop().await;
}

#[tokio::test]
async fn the_policy_sees_the_decoded_query_and_the_server_gets_the_same() {
    let only_open = format!(
        r#"permit(principal == Agent::"{AGENT}", action == Action::"inject", resource)
           when {{ context.path == "/issues" && context.query == [{{ key: "state", value: "open" }}] }};"#
    );
    let f = fixture(&only_open).await;
    let get = |t: &str| f.event("GET", t, json!({}));
    f.sent(
        "state=open",
        &get("/issues?state=open"),
        "/issues?state=open",
    )
    .await;
    f.sent(
        "encoded key",
        &get("/issues?st%61te=op%65n"),
        "/issues?state=open",
    )
    .await;
    f.refused("state=closed", &get("/issues?state=closed"), DENIED)
        .await;
    f.refused(
        "encoded key, other value",
        &get("/issues?st%61te=closed"),
        DENIED,
    )
    .await;
    f.refused("extra pair", &get("/issues?state=open&page=2"), DENIED)
        .await;
    for (label, target) in [
        ("duplicate key", "/issues?state=open&state=closed"),
        (
            "duplicate key, encoded",
            "/issues?state=open&st%61te=closed",
        ),
        ("plus (space or plus?)", "/issues?state=open+x"),
        ("semicolon separator", "/issues?state=open;state=closed"),
        ("second equals", "/issues?state=open=closed"),
        ("encoded control", "/issues?state=open%0d%0a"),
        ("invalid escape", "/issues?state=%zz"),
        ("not UTF-8", "/issues?state=%ff"),
        ("empty pair", "/issues?state=open&&x=1"),
    ] {
        f.refused(label, &get(target), DENIED).await;
    }
    f.lambda.stop().await;
}

#[tokio::test]
async fn a_query_injected_secret_cannot_be_preset_under_an_encoded_name() {
    let binding = json!({ "inject": { "type": "query", "param": "key" } });
    let policy = format!(r#"permit(principal == Agent::"{AGENT}", action, resource);"#);
    let f = fixture_with(&RunOptions::default(), binding, &policy).await;
    for target in ["/x?key=mine", "/x?k%65y=mine", "/x?%6B%65%79=mine"] {
        let e = f.event("GET", target, json!({}));
        f.refused(target, &e, INVALID).await;
    }
    f.lambda.stop().await;
}

#[tokio::test]
async fn grants_expire_with_the_clock_in_the_context() {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let until = |t: u64| {
        format!(
            r#"permit(principal == Agent::"{AGENT}", action, resource) when {{ context.now < {t} }};"#
        )
    };
    let f = fixture(&until(now - 60)).await;
    f.refused("expired grant", &f.event("GET", "/x", json!({})), DENIED)
        .await;
    f.lambda
        .admin(json!({ "op": "set_policy", "workspace": f.ws, "policy": until(now + 3600) }))
        .await;
    f.sent("live grant", &f.event("GET", "/x", json!({})), "/x")
        .await;
    f.lambda.stop().await;
}

#[tokio::test]
async fn an_erroring_forbid_denies_and_invalid_policies_never_apply() {
    // Validates against the schema, overflows at evaluation: Cedar would
    // skip this forbid and let the permit through.
    let erroring = format!(
        r#"permit(principal == Agent::"{AGENT}", action, resource);
           forbid(principal, action, resource) when {{ context.now + 9223372036854775807 > 0 }};"#
    );
    let f = fixture(&erroring).await;
    let e = f.event("GET", "/x", json!({}));
    f.refused("erroring forbid", &e, DENIED).await;
    let (r, _) = f.call(&e).await;
    assert!(
        r["error"]["message"].as_str().unwrap().contains("errored"),
        "{r}"
    );

    // Policies that do not validate are refused at set_policy, and the
    // stored policy stays.
    for bad in [
        "permit(",
        r#"permit(principal, action, resource) when { context.nope == "x" };"#,
        r#"permit(principal, action, resource) when { context.path == 1 };"#,
        r#"permit(principal == User::"x", action, resource);"#,
        r#"permit(principal, action, resource) when { context.query.state == "open" };"#,
    ] {
        let r = f
            .lambda
            .invoke(
                "admin",
                &json!({ "op": "set_policy", "workspace": f.ws, "policy": bad }),
            )
            .await;
        assert_eq!(r["error"]["type"], "invalid_request", "{bad}: {r}");
    }
    f.refused("old policy still applies", &e, DENIED).await;

    // A policy already in the table that does not validate (written before
    // validation existed) denies, never skips.
    let permissive_but_invalid = format!(
        r#"permit(principal == Agent::"{AGENT}", action, resource);
           forbid(principal, action, resource) when {{ context.legacy == "x" }};"#
    );
    f._env
        .ddb
        .update_item()
        .table_name(keybroker_tests::TABLE)
        .key(
            "pk",
            aws_sdk_dynamodb::types::AttributeValue::S(format!("ws#{}", f.ws)),
        )
        .key(
            "sk",
            aws_sdk_dynamodb::types::AttributeValue::S("workspace".into()),
        )
        .update_expression("SET policy = :p")
        .expression_attribute_values(
            ":p",
            aws_sdk_dynamodb::types::AttributeValue::S(permissive_but_invalid),
        )
        .send()
        .await
        .unwrap();
    f.refused("stored invalid policy", &e, DENIED).await;
    let (r, _) = f.call(&e).await;
    assert!(
        r["error"]["message"].as_str().unwrap().contains("unusable"),
        "{r}"
    );
    f.lambda.stop().await;
}

#[tokio::test]
async fn a_stored_insecure_http_flag_grants_nothing_without_the_deployment_setting() {
    let opts = RunOptions {
        env: vec![(
            broker_core::AccessSettings::ALLOW_INSECURE_HTTP_VAR.to_owned(),
            "0".to_owned(),
        )],
        ..RunOptions::default()
    };
    let mut binding = bearer_binding();
    // What a table write (or an old item) can set: it no longer counts.
    binding["allow_insecure_http"] = json!(true);
    let f = fixture_with(&opts, binding, &forbid_admin()).await;
    let mut e = f.event("GET", "/ok", json!({}));
    // Plain http to the bound host (the stack's upstreams speak TLS).
    e["request"]["url"] = json!(format!("http://{}/ok", f.up.addr));
    f.refused("http without the deployment setting", &e, DENIED)
        .await;
    f.lambda.stop().await;
}
