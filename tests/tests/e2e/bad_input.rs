//! The bad-input catalog: every malformed, oversized, tricky or hostile input
//! we could think of, each asserting the *exact* typed error (the
//! `BrokerError` variant and field for the library, the `error.type` of the
//! inject response for the Lambda path) and that nothing changed: the
//! secret list and workspace settings are the same, the upstream received
//! nothing, and no KMS call was made where the refusal comes before
//! decryption.

use aws_sdk_dynamodb::types::AttributeValue;
use broker_core::{
    Binding, BrokerError, Injection, RevokedReason, SecretName, SecretValue, WorkspaceId,
    MAX_SECRET_LEN,
};
use keybroker_tests::lambda_env::{LambdaEnv, Upstream};
use keybroker_tests::{
    assert_no_canary, assert_no_canary_bytes, blob_of, plant_secret_item, secret_item, setup,
    Customer, Env, TABLE,
};
use serde_json::{json, Value};

use crate::{canary, name, ws};

/// Cases counted over the whole catalog (printed with `--nocapture`).
fn done(area: &str, n: usize) {
    eprintln!("bad_input {area}: {n} cases");
}

/// Await `$fut`, which must fail with an error matching `$pat`.
macro_rules! expect_err {
    ($count:ident, $label:expr, $fut:expr, $pat:pat) => {{
        match $fut {
            Err(e) => assert!(matches!(&e, $pat), "{}: got {e:?}", $label),
            Ok(_) => panic!("{}: unexpectedly succeeded", $label),
        }
        $count += 1;
    }};
}

/// What must not change when an input is refused.
#[derive(Debug, PartialEq)]
struct State {
    secrets: String,
    settings: String,
}

async fn state(env: &Env, ws: &WorkspaceId) -> State {
    let secrets = env.broker.list_secrets(ws).await.unwrap();
    let settings = env.broker.workspace(ws).await.unwrap();
    State {
        secrets: serde_json::to_string(&secrets).unwrap(),
        settings: serde_json::to_string(&settings).unwrap(),
    }
}

fn header_binding(host: &str, name: &str, template: &str) -> Binding {
    Binding {
        hosts: vec![host.into()],
        inject: Injection::Header {
            name: name.into(),
            template: template.into(),
        },
        allow_insecure_http: false,
        agent_headers: None,
        on_echo: Default::default(),
    }
}

fn hosts(hs: &[&str]) -> Binding {
    Binding {
        hosts: hs.iter().map(|s| s.to_string()).collect(),
        ..header_binding("x", "Authorization", "Bearer {secret}")
    }
}

#[test]
fn invalid_names_are_typed_invalid_input() {
    let mut n = 0;
    let long_ws = "a".repeat(64);
    for bad in [
        "",
        "ab",
        long_ws.as_str(),
        "../x",
        "a/b",
        "%2e%2e",
        "Acme",
        "-acme",
        "acmé",
        "acme\n",
        "acme ws",
        "ws\u{0}x",
        "ｗｓ-fullwidth",
    ] {
        expect_err!(
            n,
            format!("workspace {bad:?}"),
            WorkspaceId::new(bad),
            BrokerError::InvalidInput {
                field: "workspace",
                ..
            }
        );
    }
    let long_name = "s".repeat(129);
    for bad in [
        "",
        long_name.as_str(),
        "../x",
        "a/b",
        "%2e%2e",
        "..",
        ".hidden",
        "__keybroker_verify__",
        "__x",
        "ключ",
        "a b",
        "a\0b",
        "a\r\nb",
        "a:b",
        "a\\b",
    ] {
        expect_err!(
            n,
            format!("secret {bad:?}"),
            SecretName::new(bad),
            BrokerError::InvalidInput {
                field: "secret",
                ..
            }
        );
    }
    // The edges that must still be accepted.
    WorkspaceId::new("a".repeat(63)).unwrap();
    SecretName::new("s".repeat(128)).unwrap();
    SecretName::new("a.b_c-D").unwrap();
    expect_err!(
        n,
        "empty value",
        SecretValue::new(Vec::new()),
        BrokerError::InvalidInput {
            field: "secret value",
            ..
        }
    );
    expect_err!(
        n,
        "oversized value",
        SecretValue::new(vec![b'x'; MAX_SECRET_LEN + 1]),
        BrokerError::InvalidInput {
            field: "secret value",
            ..
        }
    );
    SecretValue::new(vec![b'x'; MAX_SECRET_LEN]).unwrap();
    done("names and values", n);
    assert!(n >= 30);
}

#[tokio::test]
async fn refused_library_calls_change_nothing_and_never_touch_kms() {
    let env = setup().await;
    let ws = ws();
    env.broker.prepare_byok(&ws).await.unwrap();
    let (_, value) = canary();
    let good = header_binding("api.example.com", "Authorization", "Bearer {secret}");
    env.broker
        .put_bound_secret(&ws, &name("good"), &value, &good)
        .await
        .unwrap();
    let before = state(&env, &ws).await;
    let calls = env.broker.aws_calls();
    let mut n = 0;

    // Invalid bindings at put_secret: refused before any AWS call.
    let basic = |u: &str| Binding {
        inject: Injection::BasicAuth { username: u.into() },
        ..good.clone()
    };
    let query = |p: &str| Binding {
        inject: Injection::Query { param: p.into() },
        ..good.clone()
    };
    let seventeen: Vec<String> = (0..17).map(|i| format!("h{i}.example.com")).collect();
    let seventeen: Vec<&str> = seventeen.iter().map(String::as_str).collect();
    let mut insecure_wild = hosts(&["*"]);
    insecure_wild.allow_insecure_http = true;
    for (label, b) in [
        ("wildcard host", hosts(&["*.example.com"])),
        ("bare wildcard", insecure_wild),
        ("no hosts", hosts(&[])),
        ("17 hosts", hosts(&seventeen)),
        ("uppercase host", hosts(&["API.example.com"])),
        ("trailing dot", hosts(&["api.example.com."])),
        ("leading dot", hosts(&[".example.com"])),
        ("empty label", hosts(&["api..example.com"])),
        ("port 0", hosts(&["api.example.com:0"])),
        ("port not a number", hosts(&["api.example.com:https"])),
        ("port out of range", hosts(&["api.example.com:65536"])),
        ("userinfo in host", hosts(&["user@api.example.com"])),
        ("path in host", hosts(&["api.example.com/x"])),
        ("scheme in host", hosts(&["https://api.example.com"])),
        ("IDN not punycode", hosts(&["bücher.example"])),
        ("IPv6 literal", hosts(&["[::1]"])),
        ("empty host", hosts(&[""])),
        (
            "no placeholder",
            header_binding("a.example", "X-Key", "static"),
        ),
        (
            "two placeholders",
            header_binding("a.example", "X-Key", "{secret}{secret}"),
        ),
        (
            "CRLF in template",
            header_binding("a.example", "X-Key", "{secret}\r\nX-Evil: 1"),
        ),
        (
            "NUL in template",
            header_binding("a.example", "X-Key", "{secret}\0"),
        ),
        (
            "framing header",
            header_binding("a.example", "Content-Length", "{secret}"),
        ),
        (
            "host header",
            header_binding("a.example", "Host", "{secret}"),
        ),
        (
            "transfer-encoding",
            header_binding("a.example", "Transfer-Encoding", "{secret}"),
        ),
        (
            "space in header name",
            header_binding("a.example", "X Key", "{secret}"),
        ),
        (
            "CRLF in header name",
            header_binding("a.example", "X-Key\r\nX-Evil", "{secret}"),
        ),
        (
            "empty header name",
            header_binding("a.example", "", "{secret}"),
        ),
        ("basic auth user with ':'", basic("a:b")),
        ("basic auth user with CRLF", basic("a\r\nb")),
        ("query param with '&'", query("a&b")),
        ("query param with '='", query("a=b")),
        ("empty query param", query("")),
    ] {
        expect_err!(
            n,
            label,
            env.broker
                .put_bound_secret(&ws, &name("new"), &value, &b)
                .await,
            BrokerError::InvalidInput {
                field: "binding",
                ..
            }
        );
    }

    // Invalid ARNs and regions at enable_byok: refused before any AWS call.
    let role = "arn:aws:iam::222222222222:role/keybroker/KeybrokerAccess";
    let key = "arn:aws:kms:us-east-1:222222222222:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    for (label, r, k, region, field) in [
        ("role: not an ARN", "not-an-arn", key, None, "role_arn"),
        ("role: empty", "", key, None, "role_arn"),
        (
            "role: a user",
            "arn:aws:iam::222222222222:user/bob",
            key,
            None,
            "role_arn",
        ),
        (
            "role: short account",
            "arn:aws:iam::2222:role/R",
            key,
            None,
            "role_arn",
        ),
        (
            "role: wrong service",
            "arn:aws:sts::222222222222:role/R",
            key,
            None,
            "role_arn",
        ),
        ("key: not an ARN", role, "1234abcd", None, "key_arn"),
        (
            "key: alias",
            role,
            "arn:aws:kms:us-east-1:222222222222:alias/mine",
            None,
            "key_arn",
        ),
        (
            "key: bad region",
            role,
            "arn:aws:kms:moon-1:222222222222:key/abc",
            None,
            "key_arn",
        ),
        (
            "key: path trick",
            role,
            "arn:aws:kms:us-east-1:222222222222:key/../abc",
            None,
            "key_arn",
        ),
        (
            "key: CRLF",
            role,
            "arn:aws:kms:us-east-1:222222222222:key/abc\r\n",
            None,
            "key_arn",
        ),
        ("region: not a region", role, key, Some("moon-1"), "region"),
        ("region: uppercase", role, key, Some("US-EAST-1"), "region"),
    ] {
        let e = env.broker.enable_byok(&ws, r, k, region).await.unwrap_err();
        assert!(
            matches!(&e, BrokerError::InvalidInput { field: f, .. } if *f == field),
            "{label}: {e:?}"
        );
        n += 1;
    }

    // Things that do not exist.
    let ghost = crate::ws();
    expect_err!(
        n,
        "read a missing secret",
        env.broker.read_plaintext(&ws, &name("ghost")).await,
        BrokerError::NotFound { what: "secret", .. }
    );
    expect_err!(
        n,
        "load a missing secret",
        env.broker.load(&ws, &name("ghost")).await,
        BrokerError::NotFound { what: "secret", .. }
    );
    expect_err!(
        n,
        "delete a missing secret",
        env.broker.delete_secret(&ws, &name("ghost")).await,
        BrokerError::NotFound { what: "secret", .. }
    );
    expect_err!(
        n,
        "rotate a missing secret",
        env.broker
            .rotate_secret(&ws, &name("ghost"), Some(&value), None)
            .await,
        BrokerError::NotFound { what: "secret", .. }
    );
    expect_err!(
        n,
        "verify BYOK that was never enabled",
        env.broker.verify_byok(&ws).await,
        BrokerError::NotFound {
            what: "BYOK settings",
            ..
        }
    );
    expect_err!(
        n,
        "settings of an unknown workspace",
        env.broker.workspace(&ghost).await,
        BrokerError::NotFound {
            what: "workspace",
            ..
        }
    );
    expect_err!(
        n,
        "enable BYOK on an unknown workspace",
        env.broker.enable_byok(&ghost, role, key, None).await,
        BrokerError::NotFound {
            what: "workspace",
            ..
        }
    );
    expect_err!(
        n,
        "disable BYOK on an unknown workspace",
        env.broker.disable_byok(&ghost).await,
        BrokerError::NotFound {
            what: "workspace",
            ..
        }
    );
    expect_err!(
        n,
        "rotate with a stale version",
        env.broker
            .rotate_secret(&ws, &name("good"), Some(&value), Some(7))
            .await,
        BrokerError::Conflict { what: "secret", .. }
    );

    let spent = env.broker.aws_calls() - calls;
    assert_eq!(spent.kms, 0, "a refused input reached KMS: {spent:?}");
    assert_eq!(spent.sts, 0, "a refused input reached STS: {spent:?}");
    assert_eq!(
        state(&env, &ws).await,
        before,
        "a refused input changed state"
    );
    assert!(env.broker.list_secrets(&ghost).await.unwrap().is_empty());
    done("library", n);
    assert!(n >= 50, "{n}");
}

#[tokio::test]
async fn external_id_mismatch_refuses_enable_and_stores_nothing() {
    let env = setup().await;
    let ws = ws();
    let ext = env.broker.prepare_byok(&ws).await.unwrap().external_id;
    let before = state(&env, &ws).await;
    for trust in [Some(format!("{ext}x")), Some(String::new()), None] {
        let customer = Customer::create_with_trust(&ws, trust.as_deref()).await;
        let r = env
            .broker
            .enable_byok(&ws, &customer.role_arn, &customer.key_arn, None)
            .await;
        if trust.is_none() {
            // A trust policy without the condition lets the broker in: the
            // external id protects the customer only if they require it.
            // The broker still verified the link before storing it.
            r.unwrap();
            continue;
        }
        let e = r.unwrap_err();
        assert!(
            matches!(
                &e,
                BrokerError::Revoked {
                    reason: RevokedReason::RoleAssumptionDenied,
                    ..
                }
            ),
            "trust {trust:?}: {e:?}"
        );
        assert_eq!(state(&env, &ws).await, before, "trust {trust:?}");
    }
}

// --- stored blobs ---------------------------------------------------------------

#[tokio::test]
async fn garbled_blobs_are_tampered_and_never_reach_kms() {
    let env = setup().await;
    let ws = ws();
    let (_, value) = canary();
    env.broker
        .put_secret(&ws, &name("src"), &value)
        .await
        .unwrap();
    let item = secret_item(&env, &ws, &name("src")).await;
    let good = blob_of(&item);
    let with = |f: &dyn Fn(&mut Vec<u8>)| {
        let mut b = good.clone();
        f(&mut b);
        b
    };
    let arn_len = usize::from(u16::from_be_bytes([good[8], good[9]]));
    let edk_len = usize::from(u16::from_be_bytes([good[10 + arn_len], good[11 + arn_len]]));
    let header_len = 24 + arn_len + edk_len;
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("empty", Vec::new(), "truncated blob"),
        ("magic only", good[..4].to_vec(), "truncated blob"),
        ("header cut", good[..20].to_vec(), "truncated blob"),
        (
            "tag cut",
            good[..header_len + 15].to_vec(),
            "truncated blob",
        ),
        ("bad magic", with(&|b| b[0] = b'X'), "bad magic"),
        (
            "unknown version 3",
            with(&|b| b[4] = 3),
            "unsupported blob version",
        ),
        (
            "unknown version 0",
            with(&|b| b[4] = 0),
            "unsupported blob version",
        ),
        (
            "unknown algorithm",
            with(&|b| b[6] = 9),
            "unknown algorithm id",
        ),
        ("unknown key mode", with(&|b| b[7] = 7), "unknown key mode"),
        (
            "ARN length 0",
            with(&|b| b[8..10].fill(0)),
            "length field out of range",
        ),
        (
            "ARN length huge",
            with(&|b| b[8..10].fill(0xff)),
            "length field out of range",
        ),
        (
            "ARN not UTF-8",
            with(&|b| b[10] = 0xff),
            "key ARN is not UTF-8",
        ),
        (
            "data key length 0",
            with(&|b| b[10 + arn_len..12 + arn_len].fill(0)),
            "length field out of range",
        ),
        (
            "key mode flipped (platform -> byok)",
            with(&|b| b[7] = 2),
            "record metadata and blob header disagree on the key",
        ),
        (
            "random bytes",
            (0..200u8).map(|i| i.wrapping_mul(37)).collect(),
            "bad magic",
        ),
    ];
    let mut n = 0;
    for (i, (label, blob, detail)) in cases.into_iter().enumerate() {
        let target = name(&format!("garbled-{i}"));
        let mut planted = item.clone();
        planted.insert(
            "blob".into(),
            AttributeValue::B(aws_sdk_dynamodb::primitives::Blob::new(blob.clone())),
        );
        plant_secret_item(&env, planted, &ws, &target).await;
        let calls = env.broker.aws_calls();
        let e = env.broker.read_plaintext(&ws, &target).await.unwrap_err();
        assert!(
            matches!(&e, BrokerError::Tampered { secret, detail: d } if secret == target.as_str() && *d == detail),
            "{label}: {e:?}"
        );
        assert_eq!(
            (env.broker.aws_calls() - calls).kms,
            0,
            "{label}: KMS was called for a blob that does not parse"
        );
        // Nothing rewritten: the record keeps its planted blob and status.
        let after = secret_item(&env, &ws, &target).await;
        assert_eq!(blob_of(&after), blob, "{label}");
        assert_eq!(after.get("status"), item.get("status"), "{label}");
        n += 1;
    }

    // Well-formed, but altered inside what AES-GCM authenticates: KMS is
    // asked (the data key is intact), the local open refuses.
    let target = name("tag-flipped");
    env.broker.put_secret(&ws, &target, &value).await.unwrap();
    let mut own = secret_item(&env, &ws, &target).await;
    let mut flipped = blob_of(&own);
    let last = flipped.len() - 1;
    flipped[last] ^= 1;
    own.insert(
        "blob".into(),
        AttributeValue::B(aws_sdk_dynamodb::primitives::Blob::new(flipped)),
    );
    plant_secret_item(&env, own, &ws, &target).await;
    let e = env.broker.read_plaintext(&ws, &target).await.unwrap_err();
    assert!(matches!(&e, BrokerError::Tampered { .. }), "{e:?}");
    n += 1;

    // The genuine blob of another workspace, planted under the same name.
    let other = crate::ws();
    plant_secret_item(&env, item.clone(), &other, &name("src")).await;
    let e = env
        .broker
        .read_plaintext(&other, &name("src"))
        .await
        .unwrap_err();
    assert!(
        matches!(&e, BrokerError::ContextMismatch { secret, .. } if secret == "src"),
        "{e:?}"
    );
    n += 1;

    // The original still reads.
    env.broker.read_plaintext(&ws, &name("src")).await.unwrap();
    done("blobs", n);
}

// --- the Lambda path ---------------------------------------------------------------

const AGENT: &str = "agent-7";

fn error_type(r: &Value) -> String {
    assert_eq!(r["ok"], false, "expected an error: {r}");
    r["error"]["type"].as_str().unwrap_or_default().to_owned()
}

/// Invoke `inject` with raw bytes (not necessarily JSON): the answer must be
/// a JSON inject response, never a function error.
async fn invoke_raw(lambda: &LambdaEnv, bytes: Vec<u8>) -> Result<Value, String> {
    let out = lambda
        .lambda
        .invoke()
        .function_name("inject")
        .payload(aws_sdk_lambda::primitives::Blob::new(bytes))
        .send()
        .await
        .map_err(|e| format!("invoke failed: {e:?}"))?;
    let body = out
        .payload()
        .map(|b| b.as_ref().to_vec())
        .unwrap_or_default();
    if let Some(fe) = out.function_error() {
        return Err(format!(
            "function error {fe}: {}",
            String::from_utf8_lossy(&body)
        ));
    }
    serde_json::from_slice(&body).map_err(|e| format!("not JSON ({e})"))
}

struct Stage {
    env: Env,
    lambda: LambdaEnv,
    up: Upstream,
    ws: String,
    canary: String,
}

async fn stage() -> Stage {
    let env = setup().await;
    let lambda = LambdaEnv::start(&env).await;
    let up = Upstream::start().await;
    let ws = ws().to_string();
    let canary = format!("sk-live-{}", keybroker_tests::unique("CANARY"));
    let bearer =
        json!({ "type": "header", "name": "Authorization", "template": "Bearer {secret}" });
    lambda
        .admin(json!({
            "op": "put_secret", "workspace": ws, "secret": "api", "value": canary,
            "binding": { "hosts": [up.addr.to_string()], "inject": bearer, "allow_insecure_http": true }
        }))
        .await;
    lambda
        .admin(json!({
            "op": "put_secret", "workspace": ws, "secret": "tls", "value": canary,
            "binding": { "hosts": ["api.example.com", "uploads.example.com:8443"], "inject": bearer }
        }))
        .await;
    let policy =
        format!(r#"permit(principal == Agent::"{AGENT}", action == Action::"inject", resource);"#);
    lambda
        .admin(json!({ "op": "set_policy", "workspace": ws, "policy": policy }))
        .await;
    Stage {
        env,
        lambda,
        up,
        ws,
        canary,
    }
}

fn event(ws: &str, secret: &str, url: &str) -> Value {
    json!({ "workspace": ws, "secret": secret, "agent": AGENT,
            "request": { "method": "GET", "url": url } })
}

#[tokio::test]
async fn inject_refusals_are_typed_and_reach_neither_kms_nor_upstream() {
    let s = stage().await;
    let ws = WorkspaceId::new(s.ws.as_str()).unwrap();
    let before = state(&s.env, &ws).await;
    let base = s.up.base();
    let port = s.up.addr.port();
    let ok = event(&s.ws, "api", &format!("{base}/x"));
    let tls = |url: &str| event(&s.ws, "tls", url);
    let api = |url: String| event(&s.ws, "api", &url);
    let with = |path: &[&str], v: Value| {
        let mut e = ok.clone();
        let mut at = &mut e;
        for p in &path[..path.len() - 1] {
            at = &mut at[*p];
        }
        at[path[path.len() - 1]] = v;
        e
    };
    let headers = |h: Value| with(&["request", "headers"], h);
    let many: serde_json::Map<String, Value> =
        (0..65).map(|i| (format!("x-h{i}"), json!("v"))).collect();
    let big_body = "x".repeat(2 * 1024 * 1024);

    let cases: Vec<(&str, Value, &str)> = vec![
        // Event shape.
        ("null event", json!(null), "invalid_request"),
        ("array event", json!([ok.clone()]), "invalid_request"),
        ("string event", json!("inject"), "invalid_request"),
        ("empty object", json!({}), "invalid_request"),
        (
            "unknown top-level field",
            with(&["debug"], json!(true)),
            "invalid_request",
        ),
        (
            "unknown request field",
            with(&["request", "follow_redirects"], json!(true)),
            "invalid_request",
        ),
        (
            "workspace not a string",
            with(&["workspace"], json!(1)),
            "invalid_request",
        ),
        (
            "headers not strings",
            headers(json!({ "x-a": 1 })),
            "invalid_request",
        ),
        (
            "timeout negative",
            with(&["request", "timeout_ms"], json!(-1)),
            "invalid_request",
        ),
        (
            "timeout not integer",
            with(&["request", "timeout_ms"], json!(1.5)),
            "invalid_request",
        ),
        (
            "10-level nested junk",
            with(&["request", "url"], json!([[[[[[[[[["x"]]]]]]]]]])),
            "invalid_request",
        ),
        // Names.
        (
            "workspace ../x",
            with(&["workspace"], json!("../x")),
            "invalid_request",
        ),
        (
            "workspace a/b",
            with(&["workspace"], json!("a/b")),
            "invalid_request",
        ),
        (
            "workspace %2e%2e",
            with(&["workspace"], json!("%2e%2e")),
            "invalid_request",
        ),
        (
            "workspace too long",
            with(&["workspace"], json!("w".repeat(64))),
            "invalid_request",
        ),
        (
            "workspace unicode",
            with(&["workspace"], json!("wörkspace")),
            "invalid_request",
        ),
        (
            "secret ../api",
            with(&["secret"], json!("../api")),
            "invalid_request",
        ),
        (
            "secret a/b",
            with(&["secret"], json!("a/b")),
            "invalid_request",
        ),
        (
            "secret %61pi",
            with(&["secret"], json!("%61pi")),
            "invalid_request",
        ),
        (
            "secret too long",
            with(&["secret"], json!("s".repeat(129))),
            "invalid_request",
        ),
        (
            "secret canary name",
            with(&["secret"], json!("__keybroker_verify__")),
            "invalid_request",
        ),
        (
            "agent empty",
            with(&["agent"], json!("")),
            "invalid_request",
        ),
        (
            "agent CRLF",
            with(&["agent"], json!("agent-7\r\nx")),
            "invalid_request",
        ),
        (
            "agent unicode",
            with(&["agent"], json!("agënt")),
            "invalid_request",
        ),
        (
            "agent quote (Cedar injection)",
            with(&["agent"], json!("a\" || true || \"")),
            "invalid_request",
        ),
        // Method and body.
        (
            "method TRACE",
            with(&["request", "method"], json!("TRACE")),
            "invalid_request",
        ),
        (
            "method lowercase",
            with(&["request", "method"], json!("get")),
            "invalid_request",
        ),
        (
            "method CONNECT",
            with(&["request", "method"], json!("CONNECT")),
            "invalid_request",
        ),
        (
            "both bodies",
            with(&["request", "body_base64"], json!("YQ==")).pipe(|mut e| {
                e["request"]["body"] = json!("a");
                e
            }),
            "invalid_request",
        ),
        (
            "body_base64 invalid",
            with(&["request", "body_base64"], json!("***")),
            "invalid_request",
        ),
        (
            "body oversized",
            with(&["request", "body"], json!(big_body)),
            "invalid_request",
        ),
        // Headers.
        (
            "CRLF in header value",
            headers(json!({ "x-a": "v\r\nX-Evil: 1" })),
            "invalid_request",
        ),
        (
            "LF in header value",
            headers(json!({ "x-a": "v\nX-Evil: 1" })),
            "invalid_request",
        ),
        (
            "NUL in header value",
            headers(json!({ "x-a": "v\u{0}" })),
            "invalid_request",
        ),
        (
            "CRLF in header name",
            headers(json!({ "x-a\r\nx-evil": "1" })),
            "invalid_request",
        ),
        (
            "colon in header name",
            headers(json!({ "x-a:": "1" })),
            "invalid_request",
        ),
        (
            "space in header name",
            headers(json!({ "x a": "1" })),
            "invalid_request",
        ),
        (
            "empty header name",
            headers(json!({ "": "1" })),
            "invalid_request",
        ),
        (
            "injected header",
            headers(json!({ "Authorization": "Bearer mine" })),
            "invalid_request",
        ),
        (
            "injected header, odd case",
            headers(json!({ "AUTHORIZATION": "x" })),
            "invalid_request",
        ),
        (
            "Host header",
            headers(json!({ "Host": "evil.com" })),
            "invalid_request",
        ),
        (
            "Content-Length",
            headers(json!({ "content-length": "0" })),
            "invalid_request",
        ),
        (
            "Transfer-Encoding",
            headers(json!({ "transfer-encoding": "chunked" })),
            "invalid_request",
        ),
        (
            "Connection",
            headers(json!({ "connection": "close" })),
            "invalid_request",
        ),
        (
            "Proxy-Authorization",
            headers(json!({ "proxy-authorization": "x" })),
            "invalid_request",
        ),
        (
            "65 headers",
            headers(Value::Object(many)),
            "invalid_request",
        ),
        // Not found and unbound.
        (
            "missing secret",
            with(&["secret"], json!("ghost")),
            "not_found",
        ),
        (
            "missing workspace",
            with(&["workspace"], json!("ghost-workspace")),
            "not_found",
        ),
        // URL tricks against an http://127.0.0.1:<port> binding.
        (
            "localhost vs 127.0.0.1",
            api(format!("http://localhost:{port}/x")),
            "denied",
        ),
        (
            "other port",
            api(format!("http://127.0.0.1:{}/x", port.wrapping_add(1))),
            "denied",
        ),
        ("default port", api("http://127.0.0.1/x".into()), "denied"),
        (
            "userinfo",
            api(format!("http://u:p@127.0.0.1:{port}/x")),
            "denied",
        ),
        (
            "userinfo @ trick",
            api(format!("http://127.0.0.1:{port}@evil.com/x")),
            "denied",
        ),
        (
            "IPv6 loopback",
            api(format!("http://[::1]:{port}/x")),
            "denied",
        ),
        (
            "IPv4-mapped IPv6",
            api(format!("http://[::ffff:127.0.0.1]:{port}/x")),
            "denied",
        ),
        ("0.0.0.0", api(format!("http://0.0.0.0:{port}/x")), "denied"),
        (
            "127.0.0.2",
            api(format!("http://127.0.0.2:{port}/x")),
            "denied",
        ),
        ("file scheme", api("file:///etc/passwd".into()), "denied"),
        ("not a URL", api("127.0.0.1/x".into()), "denied"),
        ("empty URL", api(String::new()), "denied"),
        // URL tricks against an https-only binding to named hosts.
        ("http downgrade", tls("http://api.example.com/"), "denied"),
        ("suffix", tls("https://api.example.com.evil.com/"), "denied"),
        ("trailing dot", tls("https://api.example.com./"), "denied"),
        (
            "userinfo lookalike",
            tls("https://api.example.com@evil.com/"),
            "denied",
        ),
        (
            "backslash userinfo",
            tls("https://evil.com\\@api.example.com/"),
            "denied",
        ),
        (
            "backslashes",
            tls("https:\\\\evil.com\\api.example.com"),
            "denied",
        ),
        ("IDN lookalike", tls("https://аpi.example.com/"), "denied"),
        (
            "punycode lookalike",
            tls("https://xn--pi-7ld.example.com/"),
            "denied",
        ),
        (
            "percent-encoded other host",
            tls("https://evil%2ecom/"),
            "denied",
        ),
        (
            "bound host, other port",
            tls("https://api.example.com:8443/"),
            "denied",
        ),
        (
            "port-bound host, default port",
            tls("https://uploads.example.com/"),
            "denied",
        ),
        ("IP literal", tls("https://93.184.216.34/"), "denied"),
        (
            "query names the host",
            tls("https://evil.com/?u=api.example.com"),
            "denied",
        ),
        (
            "fragment @ trick",
            tls("https://evil.com#@api.example.com"),
            "denied",
        ),
        ("scheme-relative", tls("//api.example.com/"), "denied"),
        ("ws scheme", tls("wss://api.example.com/"), "denied"),
        ("data URL", tls("data:text/plain,api.example.com"), "denied"),
    ];

    let mut n = 0;
    for (label, ev, want) in &cases {
        let r = s.lambda.invoke("inject", ev).await;
        assert_eq!(error_type(&r), *want, "{label}: {ev}: {r}");
        let msg = r["error"]["message"].as_str().unwrap_or_default();
        assert_no_canary(&format!("error message of {label}"), msg, &s.canary);
        n += 1;
    }
    assert!(s.up.records().is_empty(), "the upstream was reached");
    // Every refusal above was decided before decryption.
    let audits = s.lambda.audit_records();
    assert_eq!(audits.len(), cases.len(), "one audit record per call");
    for a in &audits {
        assert_eq!(a["aws_calls"]["kms"], 0, "{a}");
        assert_ne!(a["decision"], "allow", "{a}");
    }
    assert_eq!(state(&s.env, &ws).await, before);
    done("inject", n);
    assert!(n >= 70, "{n}");
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

#[tokio::test]
async fn refused_admin_calls_are_typed_and_change_nothing() {
    let s = stage().await;
    let ws = WorkspaceId::new(s.ws.as_str()).unwrap();
    let before = state(&s.env, &ws).await;
    let bearer =
        json!({ "type": "header", "name": "Authorization", "template": "Bearer {secret}" });
    let put = |secret: &str, value: Value, binding: Value| json!({ "op": "put_secret", "workspace": s.ws, "secret": secret, "value": value, "binding": binding });
    let good_binding = json!({ "hosts": ["api.example.com"], "inject": bearer });
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "unknown op",
            json!({ "op": "drop_table", "workspace": s.ws }),
            "invalid_request",
        ),
        ("no op", json!({ "workspace": s.ws }), "invalid_request"),
        (
            "unknown field",
            json!({ "op": "list_secrets", "workspace": s.ws, "all": true }),
            "invalid_request",
        ),
        (
            "bad workspace",
            json!({ "op": "list_secrets", "workspace": "../x" }),
            "invalid_request",
        ),
        (
            "bad secret name",
            put("a/b", json!("v"), good_binding.clone()),
            "invalid_request",
        ),
        (
            "empty value",
            put("new", json!(""), good_binding.clone()),
            "invalid_request",
        ),
        (
            "oversized value",
            put(
                "new",
                json!("v".repeat(MAX_SECRET_LEN + 1)),
                good_binding.clone(),
            ),
            "invalid_request",
        ),
        (
            "value not a string",
            put("new", json!(["v"]), good_binding.clone()),
            "invalid_request",
        ),
        (
            "no binding",
            json!({ "op": "put_secret", "workspace": s.ws, "secret": "new", "value": "v" }),
            "invalid_request",
        ),
        (
            "wildcard binding",
            put(
                "new",
                json!("v"),
                json!({ "hosts": ["*.example.com"], "inject": bearer }),
            ),
            "invalid_request",
        ),
        (
            "binding unknown field",
            put(
                "new",
                json!("v"),
                json!({ "hosts": ["a.example"], "inject": bearer, "any_host": true }),
            ),
            "invalid_request",
        ),
        (
            "binding unknown inject type",
            put(
                "new",
                json!("v"),
                json!({ "hosts": ["a.example"], "inject": { "type": "cookie", "name": "c" } }),
            ),
            "invalid_request",
        ),
        (
            "template CRLF",
            put(
                "new",
                json!("v"),
                json!({ "hosts": ["a.example"], "inject": { "type": "header", "name": "X-Key", "template": "{secret}\r\nX-Evil: 1" } }),
            ),
            "invalid_request",
        ),
        (
            "invalid Cedar",
            json!({ "op": "set_policy", "workspace": s.ws, "policy": "permit(principal, action, resource" }),
            "invalid_request",
        ),
        (
            "Cedar that is not a policy",
            json!({ "op": "set_policy", "workspace": s.ws, "policy": "{\"Version\":\"2012-10-17\"}" }),
            "invalid_request",
        ),
        (
            "Cedar unknown entity syntax",
            json!({ "op": "set_policy", "workspace": s.ws, "policy": "permit(principal == Agent::, action, resource);" }),
            "invalid_request",
        ),
        (
            "Cedar policy over 64 KiB",
            json!({ "op": "set_policy", "workspace": s.ws,
                    "policy": format!("// {}\npermit(principal, action, resource);", "x".repeat(64 * 1024)) }),
            "invalid_request",
        ),
        (
            "enable_byok bad role ARN",
            json!({ "op": "enable_byok", "workspace": s.ws, "role_arn": "x", "key_arn": "y" }),
            "invalid_request",
        ),
        (
            "enable_byok alias key",
            json!({ "op": "enable_byok", "workspace": s.ws, "role_arn": "arn:aws:iam::222222222222:role/R", "key_arn": "arn:aws:kms:us-east-1:222222222222:alias/a" }),
            "invalid_request",
        ),
        (
            "rotate negative version",
            json!({ "op": "rotate_secret", "workspace": s.ws, "secret": "api", "expected_version": -1 }),
            "invalid_request",
        ),
        (
            "rotate stale version",
            json!({ "op": "rotate_secret", "workspace": s.ws, "secret": "api", "value": "v", "expected_version": 99 }),
            "conflict",
        ),
        (
            "delete missing",
            json!({ "op": "delete_secret", "workspace": s.ws, "secret": "ghost" }),
            "not_found",
        ),
        (
            "verify without BYOK",
            json!({ "op": "verify_byok", "workspace": s.ws }),
            "not_found",
        ),
    ];
    let mut n = 0;
    for (label, ev, want) in &cases {
        let r = s.lambda.invoke("admin", ev).await;
        assert_eq!(r["ok"], false, "{label}: {r}");
        assert_eq!(r["error"]["type"], *want, "{label}: {r}");
        assert_no_canary(
            &format!("admin error of {label}"),
            &r.to_string(),
            &s.canary,
        );
        n += 1;
    }
    assert_eq!(state(&s.env, &ws).await, before);
    done("admin", n);
    assert!(n >= 20);
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

#[test]
fn canary_forms_cover_the_encodings() {
    let c = "sk-live-CANARY-0123456789ab";
    let forms = keybroker_tests::canary_forms(c);
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(format!("user:{c}"));
    let hex: String = c.bytes().map(|b| format!("{b:02X}")).collect();
    for text in [
        format!("x{c}y"),
        format!("Basic {b64}"),
        format!("h={hex}"),
        format!(
            "q={}",
            c.bytes().map(|b| format!("%{b:02x}")).collect::<String>()
        ),
    ] {
        let caught = std::panic::catch_unwind(|| assert_no_canary("t", &text, c)).is_err();
        assert!(caught, "{text} not caught by {forms:?}");
    }
    assert_no_canary("clean", "nothing to see", c);
}
