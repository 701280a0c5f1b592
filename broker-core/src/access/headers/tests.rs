//! The header rules as tables: every denied name in its `-` and `_`
//! spellings and in mixed case, the default allow-list, the binding's list.

use super::*;

fn one(k: &str, v: &str) -> Result<Vec<(String, String)>, String> {
    vet([(k, v)], Some("authorization"), None)
}

fn listed(k: &str, allow: &[&str]) -> Result<Vec<(String, String)>, String> {
    let allow: Vec<String> = allow.iter().map(|s| (*s).to_owned()).collect();
    vet([(k, "v")], Some("authorization"), Some(&allow))
}

/// Every spelling a server may fold into the same header: as written,
/// lowercase, uppercase, `_` for `-`, and mixed case with `_`.
fn spellings(name: &str) -> Vec<String> {
    let under = name.replace('-', "_");
    let mixed: String = under
        .chars()
        .enumerate()
        .map(|(i, c)| {
            if i % 2 == 0 {
                c.to_ascii_uppercase()
            } else {
                c.to_ascii_lowercase()
            }
        })
        .collect();
    vec![
        name.to_owned(),
        name.to_ascii_lowercase(),
        name.to_ascii_uppercase(),
        under,
        mixed,
    ]
}

/// The headers issue 22 names, issue 12's, and the family members beside
/// them: each must be refused in every spelling, by default and even when
/// a binding lists it.
const MUST_REFUSE: &[&str] = &[
    // Issue 22.
    "X-Original-URI",
    "X-Original-Host",
    "X-Host",
    "X-HTTP-Host-Override",
    "X-Override-URL",
    "X-Envoy-Original-Path",
    "X-Envoy-Internal",
    "CF-Connecting-IP",
    "Fastly-Client-IP",
    "X-Cluster-Client-IP",
    "X-Originating-IP",
    "X-Remote-Addr",
    "X-Remote-User",
    "Client-IP",
    "Accept-Charset",
    // Issue 12.
    "X-HTTP-Method",
    "X-HTTP-Method-Override",
    "X-Method-Override",
    "X-Original-URL",
    "X-Rewrite-URL",
    "X-Original-Method",
    "Forwarded",
    "X-Forwarded",
    "X-Forwarded-For",
    "X-Forwarded-Host",
    "X-Forwarded-Proto",
    "X-Forwarded-Prefix",
    "X-Real-IP",
    "X-Client-IP",
    "True-Client-IP",
    "Via",
    "Host",
    "Proxy-Authorization",
    "Proxy-Connection",
    "Connection",
    "Keep-Alive",
    "TE",
    "Trailer",
    "Upgrade",
    "Transfer-Encoding",
    "Content-Length",
    "Expect",
    "Range",
    "If-Range",
    "Accept-Encoding",
    // Identity asserted by gateways and auth proxies.
    "X-Amzn-Oidc-Identity",
    "X-MS-Client-Principal-Name",
    "X-Goog-Authenticated-User-Email",
    "X-Auth-Request-Email",
    "X-Consumer-Username",
    "CF-Visitor",
    "X-Url-Scheme",
];

#[test]
fn every_denied_header_is_refused_in_every_spelling_even_when_listed() {
    let mut n = 0;
    for name in MUST_REFUSE {
        for k in spellings(name) {
            assert!(is_denied(&k), "{k} must be on the deny-list");
            assert!(one(&k, "x").is_err(), "{k} must be refused by default");
            let lower = k.to_ascii_lowercase();
            assert!(
                listed(&k, &[lower.as_str()]).is_err(),
                "{k} must be refused even when a binding lists it"
            );
            n += 1;
        }
    }
    assert_eq!(n, MUST_REFUSE.len() * 5);
}

#[test]
fn the_injected_header_is_refused_in_every_spelling() {
    for injected in ["authorization", "x-api-key", "X_Api_Key"] {
        for k in spellings(injected) {
            let err = vet([(k.as_str(), "v")], Some(injected), None).unwrap_err();
            assert!(err.contains("injects the secret"), "{k}: {err}");
            let allow = vec![k.to_ascii_lowercase()];
            let err = vet([(k.as_str(), "v")], Some(injected), Some(&allow)).unwrap_err();
            assert!(err.contains("injects the secret"), "{k}: {err}");
        }
    }
}

#[test]
fn the_default_allows_only_its_list_and_lowercases() {
    for k in DEFAULT_AGENT_HEADERS {
        assert!(!is_denied(k), "{k} is on both lists");
        let upper = k.to_ascii_uppercase();
        assert_eq!(one(&upper, "v").unwrap(), [(k.to_owned(), "v".to_owned())]);
    }
    for k in [
        "X-Custom",
        "Cookie",
        "Prefer",
        "X-Api-Version",
        "Stripe-Account",
        "content_type",
        "Authorization-",
    ] {
        let err = one(k, "v").unwrap_err();
        assert!(err.contains("by default"), "{k}: {err}");
    }
}

#[test]
fn a_binding_list_replaces_the_default_but_never_lifts_the_floor() {
    assert!(listed("Accept", &["accept"]).is_ok());
    assert!(listed("X-Custom", &["x-custom"]).is_ok());
    // The list replaces the default: content-type is not in this one.
    assert!(listed("Content-Type", &["accept"]).is_err());
    // Listed names match exactly (case-insensitive), without folding:
    // `x_custom` is another header to the broker's HTTP client.
    assert!(listed("X_Custom", &["x-custom"]).is_err());
    assert!(listed("X-Forwarded-For", &["x-forwarded-for"]).is_err());
    assert!(listed("x_forwarded_for", &["x_forwarded_for"]).is_err());
}

#[test]
fn accept_may_not_name_a_charset() {
    for v in [
        "application/json; charset=utf-16",
        "text/plain;CHARSET=utf-32, */*",
        "*/*, application/json ; Charset = UTF-8",
    ] {
        let err = one("Accept", v).unwrap_err();
        assert!(err.contains("charset"), "{v}: {err}");
    }
    assert!(one("Accept", "application/vnd.github+json, */*;q=0.1").is_ok());
}

#[test]
fn one_header_under_two_spellings_is_refused() {
    for (a, b) in [
        ("Accept", "accept"),
        ("If-Match", "if_match"),
        ("user-agent", "USER_AGENT"),
    ] {
        let allow = vec![a.to_ascii_lowercase(), b.to_ascii_lowercase()];
        let err = vet([(a, "1"), (b, "2")], None, Some(&allow)).unwrap_err();
        assert!(err.contains("more than once"), "{a}/{b}: {err}");
    }
}

#[test]
fn bad_names_values_and_counts_are_refused() {
    assert!(one("accept", "a\r\nInjected: 1").is_err());
    assert!(one("accept", "caf\u{e9}").is_err());
    assert!(one("bad name", "v").is_err());
    assert!(one("", "v").is_err());
    let many: Vec<String> = (0..=MAX_HEADERS).map(|i| format!("x-{i}")).collect();
    let allow = many.clone();
    assert!(vet(many.iter().map(|k| (k.as_str(), "v")), None, Some(&allow)).is_err());
}
