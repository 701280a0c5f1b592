//! Refusals by the agent-facing `inject` function: malformed events and
//! names, bad methods, bodies and headers, missing secrets, and URL tricks
//! against both kinds of binding. Each is the exact `error.type`, decided
//! before decryption (no KMS call, an audit record that is not `allow`), the
//! upstream never reached and nothing changed. Then hostile bytes rather
//! than hostile JSON, an oversize upstream response, and one scan of every
//! output channel of a full flow for the canary.

use aws_sdk_dynamodb::types::AttributeValue;
use broker_core::WorkspaceId;
use keybroker_tests::{assert_no_canary, assert_no_canary_bytes, TABLE};
use serde_json::{json, Value};

use super::{assert_refusals, done, error_type, event, invoke_raw, stage, state, Stage};

/// Builds inject events from a good one (`api` at the stage's upstream):
/// `with` replaces one field, `headers` the request headers, `api` and `tls`
/// target the loopback-bound and the https-bound secret.
struct Cases<'a> {
    s: &'a Stage,
    ok: Value,
}

impl<'a> Cases<'a> {
    fn new(s: &'a Stage) -> Self {
        let ok = event(&s.ws, "api", &format!("{}/x", s.up.base()));
        Self { s, ok }
    }

    /// The good event with the field at `path` set to `v`.
    fn with(&self, path: &[&str], v: Value) -> Value {
        let mut e = self.ok.clone();
        let mut at = &mut e;
        for p in &path[..path.len() - 1] {
            at = &mut at[*p];
        }
        at[path[path.len() - 1]] = v;
        e
    }

    fn headers(&self, h: Value) -> Value {
        self.with(&["request", "headers"], h)
    }

    fn api(&self, url: String) -> Value {
        event(&self.s.ws, "api", &url)
    }

    fn tls(&self, url: &str) -> Value {
        event(&self.s.ws, "tls", url)
    }
}

/// [`assert_refusals`] on `inject`, then: the upstream was not reached, one
/// audit record per call, none `allow` and none with a KMS call (every
/// refusal was decided before decryption), and nothing changed.
async fn assert_refused_before_decryption(s: &Stage, cases: &[(&str, Value, &str)]) -> usize {
    let ws = WorkspaceId::new(s.ws.as_str()).unwrap();
    let before = state(&s.env, &ws).await;
    let n = assert_refusals(s, "inject", cases).await;
    assert!(s.up.records().is_empty(), "the upstream was reached");
    let audits = s.lambda.audit_records();
    assert_eq!(audits.len(), cases.len(), "one audit record per call");
    for a in &audits {
        assert_eq!(a["aws_calls"]["kms"], 0, "{a}");
        assert_ne!(a["decision"], "allow", "{a}");
    }
    assert_eq!(state(&s.env, &ws).await, before);
    n
}

/// The event's shape, and workspace, secret and agent names.
#[tokio::test]
async fn malformed_events_and_names_are_invalid_request() {
    let s = stage().await;
    let c = Cases::new(&s);
    let cases: Vec<(&str, Value, &str)> = vec![
        // Event shape.
        ("null event", json!(null), "invalid_request"),
        ("array event", json!([c.ok.clone()]), "invalid_request"),
        ("string event", json!("inject"), "invalid_request"),
        ("empty object", json!({}), "invalid_request"),
        (
            "unknown top-level field",
            c.with(&["debug"], json!(true)),
            "invalid_request",
        ),
        (
            "unknown request field",
            c.with(&["request", "follow_redirects"], json!(true)),
            "invalid_request",
        ),
        (
            "workspace not a string",
            c.with(&["workspace"], json!(1)),
            "invalid_request",
        ),
        (
            "headers not strings",
            c.headers(json!({ "x-a": 1 })),
            "invalid_request",
        ),
        (
            "timeout negative",
            c.with(&["request", "timeout_ms"], json!(-1)),
            "invalid_request",
        ),
        (
            "timeout not integer",
            c.with(&["request", "timeout_ms"], json!(1.5)),
            "invalid_request",
        ),
        (
            "10-level nested junk",
            c.with(&["request", "url"], json!([[[[[[[[[["x"]]]]]]]]]])),
            "invalid_request",
        ),
        // Names.
        (
            "workspace ../x",
            c.with(&["workspace"], json!("../x")),
            "invalid_request",
        ),
        (
            "workspace a/b",
            c.with(&["workspace"], json!("a/b")),
            "invalid_request",
        ),
        (
            "workspace %2e%2e",
            c.with(&["workspace"], json!("%2e%2e")),
            "invalid_request",
        ),
        (
            "workspace too long",
            c.with(&["workspace"], json!("w".repeat(64))),
            "invalid_request",
        ),
        (
            "workspace unicode",
            c.with(&["workspace"], json!("wörkspace")),
            "invalid_request",
        ),
        (
            "secret ../api",
            c.with(&["secret"], json!("../api")),
            "invalid_request",
        ),
        (
            "secret a/b",
            c.with(&["secret"], json!("a/b")),
            "invalid_request",
        ),
        (
            "secret %61pi",
            c.with(&["secret"], json!("%61pi")),
            "invalid_request",
        ),
        (
            "secret too long",
            c.with(&["secret"], json!("s".repeat(129))),
            "invalid_request",
        ),
        (
            "secret canary name",
            c.with(&["secret"], json!("__keybroker_verify__")),
            "invalid_request",
        ),
        (
            "agent empty",
            c.with(&["agent"], json!("")),
            "invalid_request",
        ),
        (
            "agent CRLF",
            c.with(&["agent"], json!("agent-7\r\nx")),
            "invalid_request",
        ),
        (
            "agent unicode",
            c.with(&["agent"], json!("agënt")),
            "invalid_request",
        ),
        (
            "agent quote (Cedar injection)",
            c.with(&["agent"], json!("a\" || true || \"")),
            "invalid_request",
        ),
    ];
    let n = assert_refused_before_decryption(&s, &cases).await;
    done("inject shape", n);
    assert!(n >= 25, "{n}");
    s.lambda.stop().await;
}

/// Methods, bodies, and headers the agent may not send (CR/LF/NUL, framing,
/// proxy, the injected header in any case, too many).
#[tokio::test]
async fn bad_methods_bodies_and_headers_are_invalid_request() {
    let s = stage().await;
    let c = Cases::new(&s);
    let many: serde_json::Map<String, Value> =
        (0..65).map(|i| (format!("x-h{i}"), json!("v"))).collect();
    let big_body = "x".repeat(2 * 1024 * 1024);
    let cases: Vec<(&str, Value, &str)> = vec![
        // Method and body.
        (
            "method TRACE",
            c.with(&["request", "method"], json!("TRACE")),
            "invalid_request",
        ),
        (
            "method lowercase",
            c.with(&["request", "method"], json!("get")),
            "invalid_request",
        ),
        (
            "method CONNECT",
            c.with(&["request", "method"], json!("CONNECT")),
            "invalid_request",
        ),
        (
            "both bodies",
            c.with(&["request", "body_base64"], json!("YQ=="))
                .pipe(|mut e| {
                    e["request"]["body"] = json!("a");
                    e
                }),
            "invalid_request",
        ),
        (
            "body_base64 invalid",
            c.with(&["request", "body_base64"], json!("***")),
            "invalid_request",
        ),
        (
            "body oversized",
            c.with(&["request", "body"], json!(big_body)),
            "invalid_request",
        ),
        // Headers.
        (
            "CRLF in header value",
            c.headers(json!({ "x-a": "v\r\nX-Evil: 1" })),
            "invalid_request",
        ),
        (
            "LF in header value",
            c.headers(json!({ "x-a": "v\nX-Evil: 1" })),
            "invalid_request",
        ),
        (
            "NUL in header value",
            c.headers(json!({ "x-a": "v\u{0}" })),
            "invalid_request",
        ),
        (
            "CRLF in header name",
            c.headers(json!({ "x-a\r\nx-evil": "1" })),
            "invalid_request",
        ),
        (
            "colon in header name",
            c.headers(json!({ "x-a:": "1" })),
            "invalid_request",
        ),
        (
            "space in header name",
            c.headers(json!({ "x a": "1" })),
            "invalid_request",
        ),
        (
            "empty header name",
            c.headers(json!({ "": "1" })),
            "invalid_request",
        ),
        (
            "injected header",
            c.headers(json!({ "Authorization": "Bearer mine" })),
            "invalid_request",
        ),
        (
            "injected header, odd case",
            c.headers(json!({ "AUTHORIZATION": "x" })),
            "invalid_request",
        ),
        (
            "Host header",
            c.headers(json!({ "Host": "evil.com" })),
            "invalid_request",
        ),
        (
            "Content-Length",
            c.headers(json!({ "content-length": "0" })),
            "invalid_request",
        ),
        (
            "Transfer-Encoding",
            c.headers(json!({ "transfer-encoding": "chunked" })),
            "invalid_request",
        ),
        (
            "Connection",
            c.headers(json!({ "connection": "close" })),
            "invalid_request",
        ),
        (
            "Proxy-Authorization",
            c.headers(json!({ "proxy-authorization": "x" })),
            "invalid_request",
        ),
        (
            "65 headers",
            c.headers(Value::Object(many)),
            "invalid_request",
        ),
    ];
    let n = assert_refused_before_decryption(&s, &cases).await;
    done("inject headers", n);
    assert!(n >= 21, "{n}");
    s.lambda.stop().await;
}

/// A secret or workspace that does not exist.
#[tokio::test]
async fn missing_secrets_and_workspaces_are_not_found() {
    let s = stage().await;
    let c = Cases::new(&s);
    let cases: Vec<(&str, Value, &str)> = vec![
        // Not found and unbound.
        (
            "missing secret",
            c.with(&["secret"], json!("ghost")),
            "not_found",
        ),
        (
            "missing workspace",
            c.with(&["workspace"], json!("ghost-workspace")),
            "not_found",
        ),
    ];
    let n = assert_refused_before_decryption(&s, &cases).await;
    done("inject missing", n);
    assert!(n >= 2, "{n}");
    s.lambda.stop().await;
}

/// URL tricks against an `http://127.0.0.1:<port>` binding.
#[tokio::test]
async fn url_tricks_against_a_loopback_binding_are_denied() {
    let s = stage().await;
    let c = Cases::new(&s);
    let port = s.up.addr.port();
    let cases: Vec<(&str, Value, &str)> = vec![
        // URL tricks against an http://127.0.0.1:<port> binding.
        (
            "localhost vs 127.0.0.1",
            c.api(format!("http://localhost:{port}/x")),
            "denied",
        ),
        (
            "other port",
            c.api(format!("http://127.0.0.1:{}/x", port.wrapping_add(1))),
            "denied",
        ),
        ("default port", c.api("http://127.0.0.1/x".into()), "denied"),
        (
            "userinfo",
            c.api(format!("http://u:p@127.0.0.1:{port}/x")),
            "denied",
        ),
        (
            "userinfo @ trick",
            c.api(format!("http://127.0.0.1:{port}@evil.com/x")),
            "denied",
        ),
        (
            "IPv6 loopback",
            c.api(format!("http://[::1]:{port}/x")),
            "denied",
        ),
        (
            "IPv4-mapped IPv6",
            c.api(format!("http://[::ffff:127.0.0.1]:{port}/x")),
            "denied",
        ),
        (
            "0.0.0.0",
            c.api(format!("http://0.0.0.0:{port}/x")),
            "denied",
        ),
        (
            "127.0.0.2",
            c.api(format!("http://127.0.0.2:{port}/x")),
            "denied",
        ),
        ("file scheme", c.api("file:///etc/passwd".into()), "denied"),
        ("not a URL", c.api("127.0.0.1/x".into()), "denied"),
        ("empty URL", c.api(String::new()), "denied"),
    ];
    let n = assert_refused_before_decryption(&s, &cases).await;
    done("inject loopback", n);
    assert!(n >= 12, "{n}");
    s.lambda.stop().await;
}

/// URL tricks against an https-only binding to named hosts.
#[tokio::test]
async fn url_tricks_against_an_https_binding_are_denied() {
    let s = stage().await;
    let c = Cases::new(&s);
    let cases: Vec<(&str, Value, &str)> = vec![
        // URL tricks against an https-only binding to named hosts.
        ("http downgrade", c.tls("http://api.example.com/"), "denied"),
        (
            "suffix",
            c.tls("https://api.example.com.evil.com/"),
            "denied",
        ),
        ("trailing dot", c.tls("https://api.example.com./"), "denied"),
        (
            "userinfo lookalike",
            c.tls("https://api.example.com@evil.com/"),
            "denied",
        ),
        (
            "backslash userinfo",
            c.tls("https://evil.com\\@api.example.com/"),
            "denied",
        ),
        (
            "backslashes",
            c.tls("https:\\\\evil.com\\api.example.com"),
            "denied",
        ),
        ("IDN lookalike", c.tls("https://аpi.example.com/"), "denied"),
        (
            "punycode lookalike",
            c.tls("https://xn--pi-7ld.example.com/"),
            "denied",
        ),
        (
            "percent-encoded other host",
            c.tls("https://evil%2ecom/"),
            "denied",
        ),
        (
            "bound host, other port",
            c.tls("https://api.example.com:8443/"),
            "denied",
        ),
        (
            "port-bound host, default port",
            c.tls("https://uploads.example.com/"),
            "denied",
        ),
        ("IP literal", c.tls("https://93.184.216.34/"), "denied"),
        (
            "query names the host",
            c.tls("https://evil.com/?u=api.example.com"),
            "denied",
        ),
        (
            "fragment @ trick",
            c.tls("https://evil.com#@api.example.com"),
            "denied",
        ),
        ("scheme-relative", c.tls("//api.example.com/"), "denied"),
        ("ws scheme", c.tls("wss://api.example.com/"), "denied"),
        (
            "data URL",
            c.tls("data:text/plain,api.example.com"),
            "denied",
        ),
    ];
    let n = assert_refused_before_decryption(&s, &cases).await;
    done("inject https", n);
    assert!(n >= 17, "{n}");
    s.lambda.stop().await;
}

fn deep(n: usize, open: &str, close: &str) -> Vec<u8> {
    format!("{}{}", open.repeat(n), close.repeat(n)).into_bytes()
}

/// Valid JSON nested past serde_json's recursion limit (128): the real Lambda
/// service delivers these to the function.
fn deep_events() -> Vec<(&'static str, Vec<u8>)> {
    let mut wrapped = br#"{"workspace":"w","secret":"s","agent":"a","request":"#.to_vec();
    wrapped.extend(deep(10_000, "[", "]"));
    wrapped.push(b'}');
    vec![
        ("10k-deep array", deep(10_000, "[", "]")),
        // `{"a":{"a":…0…}}`: the innermost key needs a value to be JSON.
        ("10k-deep object", {
            let mut v = "{\"a\":".repeat(10_000).into_bytes();
            v.push(b'0');
            v.extend("}".repeat(10_000).into_bytes());
            v
        }),
        ("10k-deep array in request", wrapped),
        ("200-deep array", deep(200, "[", "]")),
    ]
}

/// Hostile bytes rather than hostile JSON values: whatever comes in, the
/// function never crashes, never hangs, and keeps serving. (Bytes that are not
/// JSON at all never reach a real function: Lambda's Invoke API refuses them.)
#[tokio::test]
async fn hostile_event_bytes_never_crash_the_function() {
    let s = stage().await;
    let ok = serde_json::to_vec(&event(&s.ws, "api", &format!("{}/x", s.up.base()))).unwrap();
    let mut cases = deep_events();
    cases.extend([
        ("truncated JSON", ok[..ok.len() / 2].to_vec()),
        ("not JSON", b"GET / HTTP/1.1\r\n\r\n".to_vec()),
        ("invalid UTF-8", vec![b'"', 0xff, 0xfe, b'"']),
        ("lone surrogate", br#"{"workspace":"\ud800"}"#.to_vec()),
        ("huge number", b"1e99999".to_vec()),
        ("empty payload", Vec::new()),
    ]);
    let mut n = 0;
    for (label, bytes) in cases {
        match invoke_raw(&s.lambda, bytes).await {
            Ok(r) => assert_eq!(error_type(&r), "invalid_request", "{label}: {r}"),
            // lambda_runtime could not even build the handler's input: a
            // function error naming the deserializer, not a crash.
            Err(e) => assert!(e.contains("DeserializeError"), "{label}: {e}"),
        }
        n += 1;
        let r = s
            .lambda
            .invoke("inject", &serde_json::from_slice::<Value>(&ok).unwrap())
            .await;
        assert_eq!(r["ok"], true, "after {label}: {r}");
    }
    // Duplicate keys are valid JSON to serde_json (last wins), then strict.
    let dup = br#"{"workspace":"a","workspace":"b"}"#.to_vec();
    let r = invoke_raw(&s.lambda, dup).await.unwrap();
    assert_eq!(error_type(&r), "invalid_request", "{r}");
    done("hostile bytes", n + 1);
    s.lambda.stop().await;
}

/// An event nested deeper than serde's 128 levels is valid JSON that Lambda
/// delivers. Found by this test: deserialized into `serde_json::Value` by
/// `lambda_runtime`, it was a function error (`DeserializeError`, echoing
/// part of the event) with no audit record. The handlers now take raw JSON
/// and parse it themselves (`serde_json`'s raw-value capture skips nesting
/// iteratively), so it is the contract's `invalid_request`.
#[tokio::test]
async fn deep_events_are_answered_invalid_request() {
    let s = stage().await;
    let mut failures = Vec::new();
    for (label, bytes) in deep_events() {
        match invoke_raw(&s.lambda, bytes).await {
            Ok(r) if r["error"]["type"] == "invalid_request" => {}
            Ok(r) => failures.push(format!("{label}: {r}")),
            Err(e) => failures.push(format!("{label}: {}", &e[..e.len().min(120)])),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    s.lambda.stop().await;
}

#[tokio::test]
async fn oversize_upstream_response_is_upstream_error() {
    let s = stage().await;
    let r = s
        .lambda
        .invoke(
            "inject",
            &event(&s.ws, "api", &format!("{}/big", s.up.base())),
        )
        .await;
    assert_eq!(error_type(&r), "upstream_error", "{r}");
    assert_eq!(s.up.records().len(), 1, "exactly one upstream request");
    s.lambda.stop().await;
}

/// One harness over every output channel of a full inject flow: the agent's
/// responses (success and errors), admin responses, error messages, the
/// functions' stdout (audit) and stderr (logs), and every DynamoDB item
/// except the blob itself, for the canary in raw, base64, hex and
/// percent-encoded forms.
#[tokio::test]
async fn canary_leaks_through_no_output_channel() {
    let s = stage().await;
    let base = s.up.base();
    let mut seen = Vec::new();
    // Success, echo (scrubbed), binary, redirect, oversize, denied, invalid,
    // not found.
    for (secret, url) in [
        ("api", format!("{base}/x")),
        ("api", format!("{base}/echo")),
        ("api", format!("{base}/binary")),
        ("api", format!("{base}/redirect")),
        ("api", format!("{base}/big")),
        ("api", "https://evil.example/".to_owned()),
        ("ghost", format!("{base}/x")),
        ("tls", "http://api.example.com/".to_owned()),
    ] {
        let r = s.lambda.invoke("inject", &event(&s.ws, secret, &url)).await;
        seen.push((format!("inject {url}"), r.to_string()));
        if let Some(b) = r["body_base64"].as_str() {
            use base64::Engine;
            let raw = base64::engine::general_purpose::STANDARD.decode(b).unwrap();
            assert_no_canary_bytes("binary body", &raw, &s.canary);
        }
    }
    let mut with_header = event(&s.ws, "api", &format!("{base}/echo"));
    with_header["request"]["headers"] = json!({ "x-a": "v\r\n" });
    seen.push((
        "invalid inject".into(),
        s.lambda.invoke("inject", &with_header).await.to_string(),
    ));
    for admin in [
        json!({ "op": "list_secrets", "workspace": s.ws }),
        json!({ "op": "rotate_secret", "workspace": s.ws, "secret": "api" }),
        json!({ "op": "rotate_secret", "workspace": s.ws, "secret": "api", "expected_version": 1 }),
        json!({ "op": "prepare_byok", "workspace": s.ws }),
        json!({ "op": "verify_byok", "workspace": s.ws }),
        json!({ "op": "put_secret", "workspace": s.ws, "secret": "api", "value": s.canary,
                "binding": { "hosts": ["a.example"], "inject": { "type": "query", "param": "k" } } }),
        json!({ "op": "put_secret", "workspace": s.ws, "secret": "bad", "value": s.canary,
                "binding": { "hosts": ["*"], "inject": { "type": "query", "param": "k" } } }),
        json!({ "op": "list_secrets", "workspace": s.ws }),
    ] {
        let r = s.lambda.invoke("admin", &admin).await;
        seen.push((format!("admin {}", admin["op"]), r.to_string()));
    }
    assert!(
        s.up.records()
            .iter()
            .any(|r| r.header("authorization").is_some()),
        "the credential did go upstream"
    );
    for (what, text) in &seen {
        assert_no_canary(what, text, &s.canary);
    }
    let output = s.lambda.output();
    assert!(
        output.contains("keybroker.audit.inject.v1"),
        "audit captured"
    );
    assert_no_canary("function stdout/stderr", &output, &s.canary);

    let items = s
        .env
        .ddb
        .query()
        .table_name(TABLE)
        .key_condition_expression("pk = :pk")
        .expression_attribute_values(":pk", AttributeValue::S(format!("ws#{}", s.ws)))
        .send()
        .await
        .unwrap()
        .items
        .unwrap_or_default();
    assert!(items.len() >= 3, "workspace + secrets");
    for item in &items {
        for (k, v) in item {
            let what = format!("DynamoDB attribute {k}");
            match v {
                AttributeValue::B(b) if k == "blob" => {
                    // Only ciphertext: not even the raw bytes appear.
                    assert_no_canary_bytes(&what, b.as_ref(), &s.canary)
                }
                AttributeValue::B(b) => assert_no_canary_bytes(&what, b.as_ref(), &s.canary),
                other => assert_no_canary(&what, &format!("{other:?}"), &s.canary),
            }
        }
    }
    s.lambda.stop().await;
}
/// `with(..).pipe(f)`: a tiny combinator for building one-off cases.
trait Pipe: Sized {
    fn pipe<T>(self, f: impl FnOnce(Self) -> T) -> T {
        f(self)
    }
}
impl Pipe for Value {}
