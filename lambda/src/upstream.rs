//! The one upstream request: built with the credential in its bound place,
//! sent without following redirects, bounded in time and response size.

use std::collections::BTreeMap;
use std::time::Duration;

use base64::Engine;
use broker_core::{Injection, SecretValue};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

/// Limits applied to every upstream call.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Longest an upstream call may take (an event may ask for less).
    pub max_timeout: Duration,
    /// Largest response body returned to the agent.
    pub max_response_bytes: usize,
    /// Largest request body accepted from the agent.
    pub max_request_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_timeout: Duration::from_secs(10),
            max_response_bytes: 1024 * 1024,
            max_request_bytes: 1024 * 1024,
        }
    }
}

/// The shared HTTP client: TLS via rustls/aws-lc-rs, no redirects (a 3xx is
/// returned to the agent, never followed with the credential), no proxy
/// from the environment.
pub fn client(limits: &Limits) -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(5))
        .timeout(limits.max_timeout)
        .no_proxy()
        .build()
        .map_err(|_| "HTTP client could not be built".to_owned())
}

/// The injected form of the secret, for scrubbing (header value or query).
pub fn injected_value(inject: &Injection, secret: &SecretValue) -> Vec<u8> {
    let s = secret.expose();
    match inject {
        Injection::Header { template, .. } => {
            let (pre, post) = template
                .split_once(broker_core::binding::SECRET_PLACEHOLDER)
                .unwrap_or((template.as_str(), ""));
            [pre.as_bytes(), s, post.as_bytes()].concat()
        }
        Injection::BasicAuth { username } => {
            let pair = [username.as_bytes(), b":", s].concat();
            let mut v = b"Basic ".to_vec();
            v.extend_from_slice(
                base64::engine::general_purpose::STANDARD
                    .encode(pair)
                    .as_bytes(),
            );
            v
        }
        Injection::Query { .. } => s.to_vec(),
    }
}

/// What came back.
pub struct Answer {
    /// Status code.
    pub status: u16,
    /// Headers, lowercase names, repeated values joined with ", ".
    pub headers: BTreeMap<String, Vec<u8>>,
    /// Body, at most `max_response_bytes`.
    pub body: Vec<u8>,
}

/// Why the upstream call failed. Never carries the URL (it may hold an
/// injected query credential) or reqwest's own message.
pub fn describe(e: &reqwest::Error) -> &'static str {
    if e.is_timeout() {
        "upstream timed out"
    } else if e.is_connect() {
        "could not connect to upstream"
    } else if e.is_body() || e.is_decode() {
        "upstream response could not be read"
    } else {
        "upstream request failed"
    }
}

/// The request as the agent asked for it, already checked, without the
/// credential.
pub struct Outgoing {
    /// Method.
    pub method: reqwest::Method,
    /// The bound URL (the query credential, if any, is added by [`send`]).
    pub url: url::Url,
    /// Vetted agent headers.
    pub headers: HeaderMap,
    /// Body.
    pub body: Vec<u8>,
    /// Requested timeout (capped by [`Limits::max_timeout`]).
    pub timeout: Duration,
}

/// Send `out` with the credential injected at `inject`.
pub async fn send(
    client: &reqwest::Client,
    limits: &Limits,
    out: Outgoing,
    inject: &Injection,
    secret: &SecretValue,
) -> Result<Answer, String> {
    let Outgoing {
        method,
        mut url,
        mut headers,
        body,
        timeout,
    } = out;
    match inject {
        Injection::Query { param } => {
            let value = std::str::from_utf8(secret.expose())
                .map_err(|_| "secret is not UTF-8 and cannot go in a query parameter".to_owned())?;
            url.query_pairs_mut().append_pair(param, value);
        }
        Injection::Header { .. } | Injection::BasicAuth { .. } => {
            let name = inject
                .header_name()
                .and_then(|n| HeaderName::from_bytes(n.as_bytes()).ok())
                .ok_or_else(|| "bound header name is invalid".to_owned())?;
            let mut value =
                HeaderValue::from_bytes(&injected_value(inject, secret)).map_err(|_| {
                    "secret cannot be placed in a header (control characters)".to_owned()
                })?;
            // Keeps the value out of hyper's and reqwest's Debug output.
            value.set_sensitive(true);
            headers.insert(name, value);
        }
    }
    let response = client
        .request(method, url)
        .headers(headers)
        .body(body)
        .timeout(timeout.min(limits.max_timeout))
        .send()
        .await
        .map_err(|e| describe(&e).to_owned())?;
    let status = response.status().as_u16();
    let mut out_headers: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    for (k, v) in response.headers() {
        let entry = out_headers.entry(k.as_str().to_owned()).or_default();
        if !entry.is_empty() {
            entry.extend_from_slice(b", ");
        }
        entry.extend_from_slice(v.as_bytes());
    }
    if response
        .content_length()
        .is_some_and(|n| n > limits.max_response_bytes as u64)
    {
        return Err(format!(
            "upstream response exceeds {} bytes",
            limits.max_response_bytes
        ));
    }
    let mut response = response;
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| describe(&e).to_owned())?
    {
        if body.len() + chunk.len() > limits.max_response_bytes {
            return Err(format!(
                "upstream response exceeds {} bytes",
                limits.max_response_bytes
            ));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Answer {
        status,
        headers: out_headers,
        body,
    })
}
