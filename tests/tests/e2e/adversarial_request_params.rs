//! Issue 22, "the request the policy judges is the request that is sent,
//! again": method override by parameter (query, form, multipart, JSON,
//! encoded and folded), the header families a deny-list missed in both
//! spellings, the broker-owned response charset, and the allow-list
//! default. Every attack goes through the real `inject` binary under
//! lambda-runner and must be refused `invalid_request` with no KMS call and
//! nothing sent upstream (`Fixture::refused`); what an honest agent sends
//! still arrives, byte for byte.

use keybroker_tests::lambda_env::RunOptions;
use serde_json::{json, Value};

use crate::adversarial_request::{fixture, fixture_with, Fixture, AGENT, INVALID};

/// Every method for AGENT, so only the override rules can refuse.
fn permit_agent() -> String {
    format!(r#"permit(principal == Agent::"{AGENT}", action == Action::"inject", resource);"#)
}

impl Fixture {
    /// A POST of `body` with `content_type` (none if `None`).
    fn post(&self, target: &str, content_type: Option<&str>, body: &str) -> Value {
        let headers = match content_type {
            Some(ct) => json!({ "Content-Type": ct }),
            None => json!({}),
        };
        let mut e = self.event("POST", target, headers);
        e["request"]["body"] = json!(body);
        e
    }
}

/// Override spellings servers read as another method.
const OVERRIDES: &[&str] = &[
    "_method",
    "_METHOD",
    "%5Fmethod",
    "%5fmethod",
    ".method",
    "_method%5B%5D",
    "_HttpMethod",
    "x-http-method-override",
    "X_HTTP_METHOD_OVERRIDE",
];

#[tokio::test]
async fn method_override_parameters_are_refused_in_the_query_and_every_body() {
    let f = fixture(&permit_agent()).await;
    let mut n = 0;
    for k in OVERRIDES {
        let q = f.post(&format!("/items/1?{k}=DELETE"), None, "");
        f.refused(&format!("query {k}"), &q, INVALID).await;
        let q = f.post(&format!("/items/1?a=1&{k}=DELETE"), None, "");
        f.refused(&format!("query after a pair {k}"), &q, INVALID)
            .await;
        let form = "application/x-www-form-urlencoded";
        for body in [
            format!("{k}=DELETE"),
            format!("a=1&{k}=DELETE"),
            format!("a=1;{k}=PUT"),
        ] {
            let e = f.post("/items/1", Some(form), &body);
            f.refused(&format!("form {body}"), &e, INVALID).await;
            // Rack reads a POST body without a Content-Type as a form.
            let e = f.post("/items/1", None, &body);
            f.refused(&format!("untyped {body}"), &e, INVALID).await;
        }
        n += 5;
    }
    let multipart = "multipart/form-data; boundary=kb42";
    for name in [
        "name=\"_method\"",
        "name=_method",
        "NAME=\"_Method\"",
        "name*=UTF-8''%5Fmethod",
        "name=\"_HttpMethod\"",
    ] {
        let body = format!(
            "--kb42\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nx\r\n\
             --kb42\r\nContent-Disposition: form-data; {name}\r\n\r\nDELETE\r\n--kb42--\r\n"
        );
        let e = f.post("/items/1", Some(multipart), &body);
        f.refused(&format!("multipart {name}"), &e, INVALID).await;
        n += 1;
    }
    for (ct, body) in [
        ("application/json", r#"{"title":"x","_method":"DELETE"}"#),
        ("application/json", r#"{"\u005fmethod":"DELETE"}"#),
        ("application/vnd.api+json", r#"{"_METHOD":"PATCH"}"#),
        ("application/json", r#"{"_HttpMethod":"DELETE"}"#),
        // A server that parses every body as JSON.
        ("text/plain", r#"{"_method":"DELETE"}"#),
    ] {
        let e = f.post("/items/1", Some(ct), body);
        f.refused(&format!("json {ct} {body}"), &e, INVALID).await;
        n += 1;
    }
    assert_eq!(n, OVERRIDES.len() * 5 + 10);
    f.lambda.stop().await;
}

#[tokio::test]
async fn bodies_that_claim_a_parsed_type_but_do_not_parse_and_foreign_charsets_are_refused() {
    let f = fixture(&permit_agent()).await;
    for (ct, body) in [
        ("application/json", r#"{"_method":"DELETE""#),
        ("application/json", "{'_method':'DELETE'}"),
        ("application/x-www-form-urlencoded", "a=%zz&_method=DELETE"),
        (
            "multipart/form-data; boundary=kb42",
            "--kb42\nContent-Disposition: form-data; name=\"a\"\n\n1\n--kb42--",
        ),
        ("multipart/form-data", "x"),
        ("application/json; charset=utf-16", "{}"),
        ("application/x-www-form-urlencoded; charset=utf-7", "a=1"),
        ("text/plain; charset=ibm037", "hello"),
    ] {
        let e = f.post("/items", Some(ct), body);
        f.refused(&format!("{ct}: {body}"), &e, INVALID).await;
    }
    f.lambda.stop().await;
}

#[tokio::test]
async fn honest_bodies_and_parameters_arrive_exactly_as_sent() {
    let f = fixture(&permit_agent()).await;
    for (ct, body) in [
        (
            Some("application/json"),
            r#"{"method":"DELETE","a":{"_method":"x"}}"#,
        ),
        (
            Some("application/x-www-form-urlencoded"),
            "title=_method&q=a+b",
        ),
        (Some("text/plain"), "_method is a word here"),
        (None, "plain text"),
    ] {
        let e = f.post("/items?method=x", ct, body);
        f.sent(&format!("{ct:?}: {body}"), &e, "/items?method=x")
            .await;
        let last = f.up.records().pop().unwrap();
        assert_eq!(last.method, "POST");
        assert_eq!(last.body, body.as_bytes());
        assert_eq!(last.header("content-type"), ct);
    }
    f.lambda.stop().await;
}

/// Issue 22's header list, with family members beside them.
const HEADERS: &[(&str, &str)] = &[
    ("X-Original-URI", "/admin"),
    ("X-Original-Host", "internal.example"),
    ("X-Host", "internal.example"),
    ("X-HTTP-Host-Override", "internal.example"),
    ("X-Override-URL", "/admin"),
    ("X-Envoy-Original-Path", "/admin"),
    ("X-Envoy-Internal", "true"),
    ("CF-Connecting-IP", "127.0.0.1"),
    ("Fastly-Client-IP", "127.0.0.1"),
    ("X-Cluster-Client-IP", "127.0.0.1"),
    ("X-Originating-IP", "127.0.0.1"),
    ("X-Remote-Addr", "127.0.0.1"),
    ("X-Remote-User", "admin"),
    ("Client-IP", "127.0.0.1"),
    ("X-Amzn-Oidc-Identity", "admin"),
    ("X-Forwarded-For", "127.0.0.1"),
    ("X-HTTP-Method-Override", "DELETE"),
    ("Accept-Charset", "utf-16"),
];

#[tokio::test]
async fn every_header_of_the_families_is_refused_in_both_spellings_and_any_case() {
    let f = fixture(&permit_agent()).await;
    for (name, value) in HEADERS {
        for k in [
            name.to_string(),
            name.to_ascii_lowercase(),
            name.replace('-', "_"),
            name.replace('-', "_").to_ascii_uppercase(),
        ] {
            let e = f.event("GET", "/ok", json!({ k.clone(): value }));
            f.refused(&k, &e, INVALID).await;
        }
    }
    let e = f.event(
        "GET",
        "/ok",
        json!({ "Accept": "application/json; charset=utf-16" }),
    );
    f.refused("Accept with a charset", &e, INVALID).await;
    f.lambda.stop().await;
}

#[tokio::test]
async fn the_injected_header_is_refused_in_its_underscore_spelling_even_when_listed() {
    // CGI-style stacks read `X_Api_Key` as the `X-Api-Key` the broker sets.
    let binding = json!({
        "inject": { "type": "header", "name": "X-Api-Key", "template": "{secret}" },
        "agent_headers": ["x_api_key", "accept"],
    });
    let f = fixture_with(&RunOptions::default(), binding, &permit_agent()).await;
    for k in ["X_Api_Key", "x_api_key", "X-API-KEY", "x-api_key"] {
        let e = f.event("GET", "/ok", json!({ k: "mine" }));
        f.refused(k, &e, INVALID).await;
        let (r, _) = f.call(&e).await;
        let message = r["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains("injects the secret"), "{k}: {r}");
    }
    f.lambda.stop().await;
}

#[tokio::test]
async fn the_default_is_an_allow_list_and_a_binding_list_replaces_it() {
    let f = fixture(&permit_agent()).await;
    for (k, v) in [
        ("X-Custom", "1"),
        ("Cookie", "session=1"),
        ("Prefer", "return=representation"),
        ("Stripe-Account", "acct_1"),
        ("content_type", "application/json"),
    ] {
        let e = f.event("GET", "/ok", json!({ k: v }));
        f.refused(&format!("unlisted {k}"), &e, INVALID).await;
    }
    let honest = json!({
        "Accept": "application/vnd.github+json", "Content-Type": "application/json",
        "If-None-Match": "\"abc\"", "User-Agent": "agent/1", "Idempotency-Key": "k-1",
        "anthropic-version": "2023-06-01", "X-GitHub-Api-Version": "2022-11-28",
        "Notion-Version": "2022-06-28",
    });
    f.sent("the default set", &f.event("GET", "/ok", honest), "/ok")
        .await;
    let last = f.up.records().pop().unwrap();
    assert_eq!(last.header("anthropic-version"), Some("2023-06-01"));
    assert_eq!(last.header("if-none-match"), Some("\"abc\""));
    f.lambda.stop().await;
}
