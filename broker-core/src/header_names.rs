//! Which request headers an agent may set: the names, the lists and the
//! spelling rules. Below both the binding (which checks an owner's list
//! against them when it is stored) and the access check
//! (`access::headers::vet`, which applies them to each request), so that
//! neither imports the other.
//!
//! The model: an **allow-list by default** ([`DEFAULT_AGENT_HEADERS`]),
//! which a binding replaces with its own list
//! ([`crate::Binding::agent_headers`]), over a **fixed deny-list no binding
//! can lift** ([`DENIED_HEADERS`], [`DENIED_PREFIXES`]).
//!
//! Why an allow-list by default: the deny-list failed twice for the same
//! reason. The headers that change *which* request the upstream acts on
//! (method override, URL rewrite), *who* it thinks is asking (client IP,
//! identity asserted by a gateway), or how the hop is framed are families
//! every proxy, gateway and framework adds members to (`X-Original-URI`,
//! `X-Envoy-Original-Path`, `CF-Connecting-IP`, ...); a list of names is
//! always one name short. The default set is the headers an ordinary API
//! client needs and that select a *representation*, never a resource, an
//! identity or a route: content negotiation, conditional requests,
//! idempotency, the user agent, and a few vendor API-version headers that
//! pick a version of the contract (`anthropic-version`,
//! `x-github-api-version`, `notion-version`, ...). Anything else an API
//! needs, its owner lists in the binding.
//!
//! Why a binding's list *replaces* the default rather than adding to it: a
//! stored `agent_headers` list meant "only these" before the default
//! existed, and still does, so no stored binding's set grows, and an owner
//! can narrow below the default. To keep the default and add one header,
//! list the default's names as well (docs/INVOCATION.md has them).
//!
//! Why the deny-list stays: it is the floor under every list, so a binding
//! that lists `x-forwarded-for` (or a table write that adds it) still
//! cannot send it. It names families by prefix where they are families.
//!
//! Names are compared with `_` folded to `-`: CGI-style stacks (PHP, WSGI,
//! Rack behind many servers) turn both into the same `HTTP_X_...` variable,
//! so `X_Forwarded_For` is `X-Forwarded-For` to them, and `authorization_`
//! spellings of the injected header are the injected header. The broker
//! also owns the response's charset: `Accept-Charset` is denied and an
//! `Accept` may not name a `charset` (a UTF-16 answer hides the credential
//! from the scrubber).

/// Exact header names (lowercase, `-` spelling) an agent may never set.
pub const DENIED_HEADERS: [&str; 43] = [
    // Method override and URL rewrite: the server acts on these, the
    // policy judged the method and URL.
    "x-method-override",
    "x-rewrite-url",
    "x-override-url",
    "x-host",
    "x-http-host-override",
    // Forwarding, client address and scheme as a proxy would assert them.
    "forwarded",
    "x-forwarded",
    "x-real-ip",
    "x-client-ip",
    "true-client-ip",
    "client-ip",
    "x-cluster-client-ip",
    "x-originating-ip",
    "x-proxyuser-ip",
    "cf-connecting-ip",
    "cf-connecting-ipv6",
    "cf-ipcountry",
    "cf-visitor",
    "fastly-client-ip",
    "fastly-ssl",
    "remote-addr",
    "remote-user",
    "x-scheme",
    "x-url-scheme",
    "front-end-https",
    "x-arr-ssl",
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
    // The response channel: partial content, encodings and charsets the
    // scrubber would have to see through.
    "range",
    "if-range",
    "accept-encoding",
    "accept-charset",
    // Identity asserted by an auth proxy in front of the upstream.
    "x-webauth-user",
    "x-user-id",
    "x-authenticated-user",
];

/// Header name prefixes (lowercase, `-` spelling) an agent may never use:
/// families a proxy, gateway or framework extends.
pub const DENIED_PREFIXES: [&str; 14] = [
    // X-HTTP-Method, X-HTTP-Method-Override and any other spelling.
    "x-http-method",
    // X-Original-URL, -URI, -Host, -Method, -Forwarded-For, ...
    "x-original-",
    "x-forwarded-",
    "proxy-",
    // Envoy's own (x-envoy-original-path, x-envoy-internal, ...).
    "x-envoy-",
    // X-Remote-Addr, X-Remote-User, X-Remote-IP, ...
    "x-remote-",
    // AWS ALB and API Gateway identity (x-amzn-oidc-identity, ...).
    "x-amzn-",
    // Azure App Service authentication.
    "x-ms-client-principal",
    "x-ms-token-",
    // Google IAP.
    "x-goog-authenticated-",
    "x-goog-iap-",
    // oauth2-proxy, Kong and similar gateways.
    "x-auth-request-",
    "x-authenticated-",
    "x-consumer-",
];

/// Headers an agent may send when its secret's binding lists none
/// (lowercase). Each selects a representation or makes a request
/// conditional; none names a resource, an identity or a route.
pub const DEFAULT_AGENT_HEADERS: [&str; 16] = [
    // Content negotiation (the charset is the broker's: see `vet`).
    "accept",
    "accept-language",
    "content-type",
    "content-language",
    // Conditional requests and idempotency.
    "if-match",
    "if-none-match",
    "if-modified-since",
    "if-unmodified-since",
    "idempotency-key",
    // Who the client is, as software.
    "user-agent",
    // Vendor API-version headers: they pick a version of the contract.
    "anthropic-version",
    "anthropic-beta",
    "openai-beta",
    "x-github-api-version",
    "notion-version",
    "stripe-version",
];

/// Most headers an agent may send.
pub const MAX_HEADERS: usize = 64;

/// `name` lowercased with `_` folded to `-`: the one spelling every
/// comparison of this module uses.
pub fn fold(name: &str) -> String {
    name.bytes()
        .map(|b| match b {
            b'_' => '-',
            b => b.to_ascii_lowercase() as char,
        })
        .collect()
}

/// Whether `name` (any case, `_` or `-`) is closed to agents whatever the
/// binding says.
pub fn is_denied(name: &str) -> bool {
    let folded = fold(name);
    DENIED_HEADERS.contains(&folded.as_str())
        || DENIED_PREFIXES.iter().any(|p| folded.starts_with(p))
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
