//! The bad-input catalog: every malformed, oversized, tricky or hostile input
//! we could think of, each asserting the *exact* typed error (the
//! `BrokerError` variant and field for the library, the `error.type` of the
//! inject response for the Lambda path) and that nothing changed: the
//! secret list and workspace settings are the same, the upstream received
//! nothing, and no KMS call was made where the refusal comes before
//! decryption.
//!
//! One module per surface:
//! - [`library`]: names, values, bindings, BYOK ARNs and missing things,
//!   refused by `broker_core` itself;
//! - [`blobs`]: stored blobs garbled, altered or moved between workspaces;
//! - [`inject`]: the agent-facing function: hostile events, URLs, headers,
//!   hostile bytes, and one scan of every output channel for the canary;
//! - [`admin`]: the control-plane function's refusals.
//!
//! This file holds what they share: the case counter, the "nothing changed"
//! snapshot and the staged Lambda pair.

use broker_core::WorkspaceId;
use keybroker_tests::lambda_env::{LambdaEnv, Upstream};
use keybroker_tests::{assert_error_response, assert_no_canary, error_type, setup, Env};
use serde_json::{json, Value};

use crate::ws;

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

mod admin;
mod blobs;
mod inject;
mod library;

/// What must not change when an input is refused.
#[derive(Debug, PartialEq)]
struct State {
    secrets: String,
    settings: String,
    /// The secrets' probe breakers (a refusal never counts or clears one).
    breakers: String,
}

async fn state(env: &Env, ws: &WorkspaceId) -> State {
    let secrets = env.broker.list_secrets(ws).await.unwrap();
    let settings = env.broker.workspace(ws).await.unwrap();
    State {
        secrets: serde_json::to_string(&secrets).unwrap(),
        settings: serde_json::to_string(&settings).unwrap(),
        breakers: serde_json::to_string(&env.broker.breakers(ws).await.unwrap()).unwrap(),
    }
}

// --- the Lambda path ---------------------------------------------------------------

const AGENT: &str = "agent-7";

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

/// Invoke `function` with each `(label, event, error type)` case: each must
/// be refused with exactly that `error.type`, and the answer (the whole
/// response) must not hold the stage's canary. Returns how many ran.
async fn assert_refusals(s: &Stage, function: &str, cases: &[(&str, Value, &str)]) -> usize {
    for (label, ev, want) in cases {
        let r = s.lambda.invoke(function, ev).await;
        assert_error_response(&format!("{function} {label}: {ev}"), &r, want, &s.canary);
    }
    cases.len()
}

/// The canary scan itself: a test of the harness the whole catalog relies on.
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
