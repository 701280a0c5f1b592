//! The response channel under attack: the real `inject` binary (through
//! lambda-runner and aws-sdk-lambda) against hostile upstreams that are
//! *bound* to the secret and try every way we know to hand the credential
//! back to the agent (keybroker_tests::hostile). The agent controls the
//! request except host and injection point, and may repeat it.
//!
//! Each attack asserts that no form of the canary (no fragment window of
//! it, nothing the broker's scan would find in it decoded) reaches the
//! agent's response, and at the end that none reached an audit record or
//! the function logs.

use keybroker_tests::hostile::{Attack, Hostile};
use keybroker_tests::lambda_env::{LambdaEnv, RunOptions, Upstream};
use keybroker_tests::reflect::punctuated_canary;
use keybroker_tests::{assert_no_canary, assert_no_fragment, error_type, setup};
use serde_json::{json, Value};

use crate::ws;

const AGENT: &str = "agent-7";

/// A canary with every character JSON, HTML and URL encoders treat
/// specially, so each encoding really transforms it.
fn special_canary() -> String {
    format!("sk/{}+\"<&>'=", keybroker_tests::unique("CANARY"))
}

/// No form of `canary`, no fragment of it long enough for the broker to
/// recognise, and nothing its scan finds decoded, in `text`.
fn assert_clean(what: &str, text: &str, canary: &str) {
    assert_no_canary(what, text, canary);
    assert_no_fragment(what, text, canary);
}

/// `put_secret` bound to `host` with `inject`, extra binding fields merged,
/// with the largest probe budget: every echo here is a probe event, and
/// each attack is to be seen on its own (the breaker itself is under test
/// in `oracle.rs` and `breaker.rs`).
async fn put(lambda: &LambdaEnv, ws: &str, name: &str, value: &str, host: &str, extra: Value) {
    let mut binding = json!({
        "hosts": [host], "allow_insecure_http": true,
        "inject": { "type": "header", "name": "Authorization", "template": "Bearer {secret}" },
    });
    for (k, v) in extra.as_object().into_iter().flatten() {
        binding[k] = v.clone();
    }
    lambda
        .admin(json!({ "op": "put_secret", "workspace": ws, "secret": name,
                       "value": value, "binding": binding }))
        .await;
    lambda
        .admin(
            json!({ "op": "set_probe_budget", "workspace": ws, "secret": name,
                       "budget": broker_core::breaker::MAX_PROBE_BUDGET }),
        )
        .await;
}

async fn permit_all(lambda: &LambdaEnv, ws: &str) {
    let policy =
        format!(r#"permit(principal == Agent::"{AGENT}", action == Action::"inject", resource);"#);
    lambda
        .admin(json!({ "op": "set_policy", "workspace": ws, "policy": policy }))
        .await;
}

fn event(ws: &str, secret: &str, url: &str, headers: Value) -> Value {
    json!({ "workspace": ws, "secret": secret, "agent": AGENT,
            "request": { "method": "GET", "url": url, "headers": headers } })
}

fn assert_withheld(attack: &str, r: &Value) {
    assert_eq!(r["ok"], true, "{attack}: {r}");
    assert_eq!(r["withheld"], "echo_withheld", "{attack}: {r}");
    assert!(
        r.get("body").is_none() && r.get("body_base64").is_none(),
        "{attack}: {r}"
    );
    assert!(r.get("headers").is_none(), "{attack}: {r}");
}

/// What the broker must do with each attack.
fn expected(attack: Attack) -> &'static str {
    match attack {
        Attack::Gzip
        | Attack::Deflate
        | Attack::Brotli
        | Attack::UnknownEncoding
        | Attack::StackedEncoding
        | Attack::TransferEncodingGzip
        | Attack::Partial
        | Attack::ContentRangeOn200
        | Attack::Utf7 => "upstream_error",
        // The echo is only in what the broker never passes on.
        Attack::Trailer | Attack::ReasonPhrase => "passed",
        _ => "withheld",
    }
}

#[tokio::test]
async fn every_hostile_reflection_is_refused_or_withheld() {
    let env = setup().await;
    let lambda = LambdaEnv::start(&env).await;
    let hostile = Hostile::start().await;
    let ws = ws().to_string();
    let canary = special_canary();
    let host = hostile.addr.to_string();
    put(&lambda, &ws, "api", &canary, &host, json!({})).await;
    put(
        &lambda,
        &ws,
        "basic",
        &canary,
        &host,
        json!({ "inject": { "type": "basic_auth", "username": "bot" } }),
    )
    .await;
    permit_all(&lambda, &ws).await;

    let mut outcomes = Vec::new();
    let mut calls = 0;
    for attack in Attack::ALL {
        let secret = match attack {
            Attack::BasicPairRaw | Attack::BasicPairBase64 => "basic",
            _ => "api",
        };
        let urls: Vec<String> = if attack == Attack::QuerySlice {
            // Slices of 16 bytes, to be reassembled by the agent.
            (0..canary.len())
                .step_by(16)
                .map(|from| format!("{}?from={from}&len=16", hostile.url(attack)))
                .collect()
        } else {
            vec![hostile.url(attack)]
        };
        for url in urls {
            let r = lambda
                .invoke("inject", &event(&ws, secret, &url, json!({})))
                .await;
            calls += 1;
            let what = format!("{attack:?} response");
            assert_clean(&what, &r.to_string(), &canary);
            if let Some(b) = r["body_base64"].as_str() {
                use base64::Engine;
                let raw = base64::engine::general_purpose::STANDARD.decode(b).unwrap();
                assert_clean(&what, &String::from_utf8_lossy(&raw), &canary);
            }
            match expected(attack) {
                "upstream_error" => {
                    assert_eq!(error_type(&r), "upstream_error", "{attack:?}: {r}");
                    let msg = r["error"]["message"].as_str().unwrap();
                    assert!(
                        ["Encoding", "partial", "charset"]
                            .iter()
                            .any(|rule| msg.contains(rule)),
                        "{attack:?}: {msg}"
                    );
                }
                "withheld" => assert_withheld(&what, &r),
                _ => {
                    assert_eq!(r["ok"], true, "{attack:?}: {r}");
                    assert!(r.get("withheld").is_none(), "{attack:?}: {r}");
                }
            }
            outcomes.push((attack, r));
        }
    }
    // Every attack reached the hostile upstream with the credential.
    assert_eq!(hostile.requests().len(), calls);
    let distinct: std::collections::BTreeSet<String> =
        outcomes.iter().map(|(a, _)| format!("{a:?}")).collect();
    assert_eq!(distinct.len(), Attack::ALL.len());
    let trailer = &outcomes
        .iter()
        .find(|(a, _)| *a == Attack::Trailer)
        .unwrap()
        .1;
    assert_eq!(trailer["body"], "{\"clean\":true}", "{trailer}");
    let reason = &outcomes
        .iter()
        .find(|(a, _)| *a == Attack::ReasonPhrase)
        .unwrap()
        .1;
    assert_eq!(reason["status"], 401, "{reason}");

    // The audit says what happened, never the value.
    let audit = lambda.audit_records();
    assert_eq!(audit.len(), calls, "one record per call");
    let withheld = audit.iter().filter(|a| a["echo"] == "withheld").count();
    let expected_withheld = outcomes
        .iter()
        .filter(|(a, _)| expected(*a) == "withheld")
        .count();
    assert_eq!(withheld, expected_withheld);
    for a in &audit {
        if a["echo"] == "withheld" {
            assert!(a["scrubbed"].as_u64().unwrap() >= 1, "{a}");
            assert_eq!(a["decision"], "allow", "{a}");
            assert_eq!(a["probe"], "echo", "each echo is a probe event: {a}");
            assert_eq!(a["EchoWithheld"], 1, "{a}");
        }
        assert_eq!(a["aws_calls"]["kms"], 1, "{a}");
    }
    assert_clean("audit records", &json!(audit).to_string(), &canary);
    assert_clean("function stdout/stderr", &lambda.output(), &canary);
    lambda.stop().await;
}

/// Ordinary servers' encoders (issue 22, items 2 and 3) against a canary
/// with punctuation every third character: a partial escaper leaves no raw
/// run as long as a fragment window and no enumerated whole-value form, so
/// only reading the answer as the agent would (escapes and charsets
/// decoded) finds the echo. With redaction chosen too: a decoded echo
/// cannot be cut out, so it is withheld.
#[tokio::test]
async fn ordinary_encoders_and_charsets_are_read_as_the_agent_would() {
    let env = setup().await;
    let lambda = LambdaEnv::start(&env).await;
    let hostile = Hostile::start().await;
    let ws = ws().to_string();
    let canary = punctuated_canary();
    let host = hostile.addr.to_string();
    put(&lambda, &ws, "api", &canary, &host, json!({})).await;
    put(
        &lambda,
        &ws,
        "redact",
        &canary,
        &host,
        json!({ "on_echo": "redact" }),
    )
    .await;
    permit_all(&lambda, &ws).await;
    let needles = keybroker_lambda::inject::scrub::Needles::new(canary.as_bytes(), &[]);
    let mut replies = Vec::new();
    for &attack in Attack::REFLECT {
        for secret in ["api", "redact"] {
            let r = lambda
                .invoke(
                    "inject",
                    &event(&ws, secret, &hostile.url(attack), json!({})),
                )
                .await;
            let what = format!("{attack:?} ({secret})");
            if attack == Attack::Utf7 {
                assert_eq!(error_type(&r), "upstream_error", "{what}: {r}");
                assert!(r.to_string().contains("charset"), "{what}: {r}");
            } else {
                assert_withheld(&what, &r);
            }
            assert_clean(&what, &r.to_string(), &canary);
            replies.push(r);
        }
    }
    // The encoders really hide the canary from every enumerated form and
    // raw window: what the hostile server sends, checked here without the
    // broker, has none of them.
    for (name, encoded) in [
        ("dotnet", keybroker_tests::reflect::dotnet_json(&canary)),
        ("go", keybroker_tests::reflect::go_html_template(&canary)),
        ("gson", keybroker_tests::reflect::gson(&canary)),
        (
            "entity",
            keybroker_tests::reflect::entity_without_semicolon(&canary),
        ),
        ("percent", keybroker_tests::reflect::double_percent(&canary)),
    ] {
        let lower = encoded.to_ascii_lowercase();
        let window = needles.fragment_len();
        assert!(
            !canary
                .as_bytes()
                .windows(window)
                .any(|w| lower.contains(&String::from_utf8_lossy(w).to_ascii_lowercase())),
            "{name}: a raw window survives, so this attack tests nothing new: {encoded}"
        );
    }
    let audit = lambda.audit_records();
    let withheld: Vec<&Value> = audit.iter().filter(|a| a["echo"] == "withheld").collect();
    assert_eq!(
        withheld.len(),
        2 * (Attack::REFLECT.len() - 1),
        "every decoded echo"
    );
    assert!(
        withheld.iter().all(|a| a["probe"] == "echo"),
        "{withheld:?}"
    );
    assert_clean("audit records", &json!(audit).to_string(), &canary);
    assert_clean("function output", &lambda.output(), &canary);
    lambda.stop().await;
}

#[tokio::test]
async fn redact_is_opt_in_and_still_leaks_nothing() {
    let env = setup().await;
    let lambda = LambdaEnv::start(&env).await;
    let hostile = Hostile::start().await;
    let ws = ws().to_string();
    let canary = special_canary();
    let host = hostile.addr.to_string();
    put(
        &lambda,
        &ws,
        "api",
        &canary,
        &host,
        json!({ "on_echo": "redact" }),
    )
    .await;
    permit_all(&lambda, &ws).await;

    for attack in [
        Attack::BodyRaw,
        Attack::Base64At1,
        Attack::HtmlNamed,
        Attack::HeaderValue,
    ] {
        let r = lambda
            .invoke(
                "inject",
                &event(&ws, "api", &hostile.url(attack), json!({})),
            )
            .await;
        assert_eq!(r["ok"], true, "{attack:?}: {r}");
        assert!(r.get("withheld").is_none(), "{attack:?}: {r}");
        assert!(r.to_string().contains("[REDACTED]"), "{attack:?}: {r}");
        assert_clean(&format!("{attack:?}"), &r.to_string(), &canary);
    }
    // Redaction changes nothing about encodings or ranges.
    let r = lambda
        .invoke(
            "inject",
            &event(&ws, "api", &hostile.url(Attack::Gzip), json!({})),
        )
        .await;
    assert_eq!(error_type(&r), "upstream_error");
    let audit = lambda.audit_records();
    assert_eq!(audit.iter().filter(|a| a["echo"] == "redacted").count(), 4);
    // A redacted echo is as much an oracle as a withheld one: counted too.
    let counted: Vec<&Value> = audit.iter().filter(|a| a["probe"] == "echo").collect();
    assert_eq!(counted.len(), 4);
    assert_eq!(counted[3]["probes"], 4, "{}", counted[3]);
    assert_clean("audit records", &json!(audit).to_string(), &canary);
    assert_clean("function output", &lambda.output(), &canary);
    lambda.stop().await;
}

#[tokio::test]
async fn the_broker_owns_content_negotiation_and_ranges() {
    let env = setup().await;
    let lambda = LambdaEnv::start(&env).await;
    let up = Upstream::start().await;
    let ws = ws().to_string();
    let canary = special_canary();
    put(
        &lambda,
        &ws,
        "api",
        &canary,
        &up.addr.to_string(),
        json!({}),
    )
    .await;
    permit_all(&lambda, &ws).await;
    let url = format!("{}/x", up.base());
    for (name, value) in [
        ("Accept-Encoding", "gzip"),
        ("accept-encoding", "identity"),
        ("Range", "bytes=0-3"),
        ("If-Range", "\"etag\""),
        ("TE", "trailers"),
    ] {
        let r = lambda
            .invoke("inject", &event(&ws, "api", &url, json!({ name: value })))
            .await;
        assert_eq!(error_type(&r), "invalid_request", "{name}: {r}");
    }
    assert!(up.records().is_empty(), "refused before anything was sent");
    for a in lambda.audit_records() {
        assert_eq!(a["aws_calls"]["kms"], 0, "refused before decrypting: {a}");
    }
    let r = lambda
        .invoke(
            "inject",
            &event(&ws, "api", &url, json!({ "accept": "text/plain" })),
        )
        .await;
    assert_eq!(r["ok"], true, "{r}");
    assert_eq!(up.records()[0].header("accept-encoding"), Some("identity"));
    lambda.stop().await;
}

#[tokio::test]
async fn private_destinations_are_refused_before_any_connection() {
    let env = setup().await;
    let opts = RunOptions {
        env: vec![(
            keybroker_lambda::edge::destination::ALLOW_PRIVATE_ENV.to_owned(),
            "0".to_owned(),
        )],
        ..RunOptions::default()
    };
    let lambda = LambdaEnv::start_with(&env, &opts).await;
    let hostile = Hostile::start().await;
    let ws = ws().to_string();
    let canary = special_canary();
    let port = hostile.addr.port();
    // An IP literal, and a name that resolves to loopback.
    put(
        &lambda,
        &ws,
        "literal",
        &canary,
        &format!("127.0.0.1:{port}"),
        json!({}),
    )
    .await;
    put(
        &lambda,
        &ws,
        "name",
        &canary,
        &format!("localhost:{port}"),
        json!({}),
    )
    .await;
    permit_all(&lambda, &ws).await;

    let path = Attack::BodyRaw.path();
    // https: plain http reaches only loopback literals even where the
    // deployment allows it, and would be refused for its scheme first. The
    // destination rule is checked before any TLS handshake.
    for (secret, url, kms) in [
        ("literal", format!("https://127.0.0.1:{port}{path}"), 0),
        ("name", format!("https://localhost:{port}{path}"), 1),
    ] {
        let r = lambda
            .invoke("inject", &event(&ws, secret, &url, json!({})))
            .await;
        assert_eq!(error_type(&r), "denied", "{url}: {r}");
        let msg = r["error"]["message"].as_str().unwrap();
        assert!(msg.contains("loopback"), "names the rule: {msg}");
        assert!(!msg.contains("127.0.0.1"), "not the address: {msg}");
        let audit = lambda.audit_records();
        let a = audit.last().unwrap();
        // The literal is refused before kms:Decrypt; the name when the
        // client resolves it, after decrypting but before connecting.
        assert_eq!(a["aws_calls"]["kms"], kms, "{a}");
        assert_eq!(a["decision"], "deny", "{a}");
    }
    assert_eq!(
        hostile.connections(),
        0,
        "the upstream never saw a connection"
    );
    assert_clean("function output", &lambda.output(), &canary);
    lambda.stop().await;
}
