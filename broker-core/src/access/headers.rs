//! Which request headers an agent may set.
//!
//! The model: a fixed deny-list that no binding can lift, plus an optional
//! per-binding allow-list ([`crate::Binding::agent_headers`]). The deny-list
//! holds every header that changes *which* request the upstream acts on
//! (method override, URL rewrite), *who* it thinks is asking (forwarding,
//! client IP), how the hop is framed (hop-by-hop, lengths, proxy), or what
//! shape the response takes in ways the scrubber cannot see through
//! (`Range`, `If-Range`, `Accept-Encoding`: the broker owns content
//! negotiation). A deny-list alone is open to headers nobody has listed
//! yet; owners who know their API's headers close that with the allow-list.
//! It is optional because a closed default would break every agent that
//! sends an ordinary `Accept` or `Content-Type` today.

/// Exact header names (lowercase) an agent may never set.
pub const DENIED_HEADERS: [&str; 24] = [
    // Method override and URL rewrite: the server acts on these, the
    // policy judged the method and URL.
    "x-http-method",
    "x-http-method-override",
    "x-method-override",
    "x-original-url",
    "x-rewrite-url",
    "x-original-method",
    // Forwarding and client identity.
    "forwarded",
    "x-real-ip",
    "x-client-ip",
    "true-client-ip",
    "via",
    // Framing and hop-by-hop.
    "host",
    "connection",
    "keep-alive",
    "te",
    "trailer",
    "upgrade",
    "transfer-encoding",
    "content-length",
    "expect",
    // The response channel: partial content and encodings the scrubber
    // would have to see through.
    "range",
    "if-range",
    "accept-encoding",
    // The bare form of the `X-Forwarded-*` family.
    "x-forwarded",
];

/// Header name prefixes (lowercase) an agent may never use.
pub const DENIED_PREFIXES: [&str; 2] = ["x-forwarded-", "proxy-"];

/// Most headers an agent may send.
pub const MAX_HEADERS: usize = 64;

/// Whether `lower` (a lowercase name) is closed to agents whatever the
/// binding says.
pub fn is_denied(lower: &str) -> bool {
    DENIED_HEADERS.contains(&lower) || DENIED_PREFIXES.iter().any(|p| lower.starts_with(p))
}

/// RFC 9110 token characters (header names).
pub fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// A header value the HTTP client sends byte for byte: visible ASCII,
/// spaces and tabs, no CR/LF or other controls.
pub fn is_clean_value(v: &str) -> bool {
    v.bytes().all(|b| b == b'\t' || (0x20..0x7f).contains(&b))
}

/// Vet the agent's headers: names are tokens given once (case-insensitive),
/// none denied, none the injection header, all allowed by `allow` if set,
/// values clean. Returns lowercase names with their values, sorted.
pub fn vet<'a>(
    given: impl IntoIterator<Item = (&'a str, &'a str)>,
    injected: Option<&str>,
    allow: Option<&[String]>,
) -> Result<Vec<(String, String)>, String> {
    let mut out: Vec<(String, String)> = Vec::new();
    for (k, v) in given {
        if out.len() == MAX_HEADERS {
            return Err(format!("at most {MAX_HEADERS} headers"));
        }
        if !is_token(k) {
            return Err(format!("header name {k:?} is invalid"));
        }
        let lower = k.to_ascii_lowercase();
        if Some(lower.as_str()) == injected {
            return Err(format!(
                "header {k:?} is where the broker injects the secret; the agent may not set it"
            ));
        }
        if is_denied(&lower) {
            return Err(format!("header {k:?} may not be set by the agent"));
        }
        if let Some(allow) = allow {
            if !allow.iter().any(|a| a.eq_ignore_ascii_case(&lower)) {
                return Err(format!(
                    "header {k:?} is not in this secret's list of agent headers"
                ));
            }
        }
        if !is_clean_value(v) {
            return Err(format!(
                "header {k:?} has an invalid value (control characters or non-ASCII)"
            ));
        }
        if out.iter().any(|(seen, _)| *seen == lower) {
            return Err(format!("header {k:?} is given more than once"));
        }
        out.push((lower, v.to_owned()));
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(k: &str, v: &str) -> Result<Vec<(String, String)>, String> {
        vet([(k, v)], Some("authorization"), None)
    }

    #[test]
    fn override_rewrite_forwarding_hop_and_response_shaping_headers_are_refused() {
        for k in [
            "X-HTTP-Method",
            "X-HTTP-Method-Override",
            "x-method-override",
            "X-Original-URL",
            "X-Rewrite-URL",
            "X-Original-Method",
            "Forwarded",
            "X-Forwarded-For",
            "X-Forwarded-Host",
            "x-forwarded-proto",
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
            "Authorization",
        ] {
            assert!(one(k, "x").is_err(), "{k} must be refused");
        }
    }

    #[test]
    fn ordinary_headers_pass_lowercased_and_bad_ones_do_not() {
        assert_eq!(
            one("Accept", "application/json").unwrap(),
            [("accept".to_owned(), "application/json".to_owned())]
        );
        assert!(one("x-ok", "a\r\nInjected: 1").is_err());
        assert!(one("x-ok", "caf\u{e9}").is_err());
        assert!(one("bad name", "v").is_err());
        assert!(one("", "v").is_err());
        assert!(vet([("Accept", "a"), ("accept", "b")], None, None).is_err());
        let many: Vec<(String, String)> = (0..=MAX_HEADERS)
            .map(|i| (format!("x-{i}"), "v".to_owned()))
            .collect();
        assert!(vet(
            many.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            None,
            None
        )
        .is_err());
    }

    #[test]
    fn allow_list_closes_unlisted_headers_but_never_opens_denied_ones() {
        let allow = vec!["accept".to_owned(), "x-forwarded-for".to_owned()];
        assert!(vet([("Accept", "a")], None, Some(&allow)).is_ok());
        assert!(vet([("X-Custom", "a")], None, Some(&allow)).is_err());
        assert!(vet([("X-Forwarded-For", "1.2.3.4")], None, Some(&allow)).is_err());
    }
}
