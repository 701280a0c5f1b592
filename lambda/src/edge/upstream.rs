//! The one upstream request: built with the credential in its bound place,
//! sent without following redirects, bounded in time and response size, to
//! an address the deployment allows ([`crate::edge::destination`]), asking for the
//! response unencoded (`Accept-Encoding: identity`: the broker owns content
//! negotiation, so what it scans is what the agent gets).

use std::collections::BTreeMap;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use broker_core::{Injection, SecretValue};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, ACCEPT_ENCODING};
use zeroize::Zeroizing;

use crate::edge::destination::{self, Blocked, Destinations, GuardedResolver};

/// Time kept back from the invocation deadline for what follows the
/// upstream call: scrubbing, the outcome audit record and the response.
/// The upstream timeout is capped so that it always fits.
pub const DEADLINE_MARGIN: Duration = Duration::from_millis(1000);

/// Limits applied to every upstream call.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Longest an upstream call may take (an event may ask for less).
    pub max_timeout: Duration,
    /// Largest response body returned to the agent.
    pub max_response_bytes: usize,
    /// Largest request body accepted from the agent.
    pub max_request_bytes: usize,
    /// Which addresses credentials may be sent to (a deployment setting).
    pub destinations: Destinations,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_timeout: Duration::from_secs(10),
            max_response_bytes: 1024 * 1024,
            max_request_bytes: 1024 * 1024,
            destinations: Destinations::PublicOnly,
        }
    }
}

/// The shared HTTP client: TLS via rustls/aws-lc-rs, no redirects (a 3xx is
/// returned to the agent, never followed with the credential), no proxy
/// from the environment, every DNS answer checked against
/// [`Limits::destinations`]. reqwest is built without its `gzip`, `brotli`,
/// `deflate` and `zstd` features, so it never decodes a body behind our back:
/// an encoded response arrives with its `Content-Encoding` and is refused.
pub fn client(limits: &Limits) -> Result<reqwest::Client, ClientBuildError> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .dns_resolver(GuardedResolver::new(limits.destinations))
        .connect_timeout(Duration::from_secs(5))
        .timeout(limits.max_timeout)
        .no_proxy()
        .build()
        .map_err(|_| ClientBuildError)
}

/// The HTTP client could not be built (TLS or resolver setup failed): the
/// function cannot start. reqwest's message is not kept.
#[derive(Debug, thiserror::Error)]
#[error("HTTP client could not be built")]
pub struct ClientBuildError;

/// The Basic-auth pair `username:secret`, in a wiped buffer.
pub fn basic_pair(username: &str, secret: &SecretValue) -> Zeroizing<Vec<u8>> {
    let s = secret.expose();
    let mut pair = Zeroizing::new(Vec::with_capacity(username.len() + 1 + s.len()));
    pair.extend_from_slice(username.as_bytes());
    pair.push(b':');
    pair.extend_from_slice(s);
    pair
}

/// The value injected at `inject` (header value or query value), in a
/// wiped buffer sized before it is written (no stale copy from growth).
pub fn injected_value(inject: &Injection, secret: &SecretValue) -> Zeroizing<Vec<u8>> {
    let s = secret.expose();
    let concat = |parts: &[&[u8]]| {
        let mut v = Zeroizing::new(Vec::with_capacity(parts.iter().map(|p| p.len()).sum()));
        parts.iter().for_each(|p| v.extend_from_slice(p));
        v
    };
    match inject {
        Injection::Header { template, .. } => {
            let (pre, post) = template
                .split_once(broker_core::binding::SECRET_PLACEHOLDER)
                .unwrap_or((template.as_str(), ""));
            concat(&[pre.as_bytes(), s, post.as_bytes()])
        }
        Injection::BasicAuth { username } => {
            let pair = basic_pair(username, secret);
            let prefix = b"Basic ";
            let mut v = Zeroizing::new(vec![0u8; prefix.len() + pair.len().div_ceil(3) * 4]);
            v[..prefix.len()].copy_from_slice(prefix);
            let n = STANDARD
                .encode_slice(pair.as_slice(), &mut v[prefix.len()..])
                .unwrap_or(0);
            v.truncate(prefix.len() + n);
            v
        }
        Injection::Query { .. } => concat(&[s]),
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

/// Why [`send`] did not return an answer. Never carries the URL (it may
/// hold an injected query credential), the secret or reqwest's own message.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The destination address is refused by the deployment: nothing was
    /// sent (the connection was never opened).
    #[error(transparent)]
    Blocked(Blocked),
    /// The exchange took longer than its timeout.
    #[error("upstream timed out")]
    TimedOut,
    /// No connection could be made.
    #[error("could not connect to upstream")]
    Connect,
    /// The response body could not be read.
    #[error("upstream response could not be read")]
    Read,
    /// Any other transport failure.
    #[error("upstream request failed")]
    Failed,
    /// The response is larger than the function returns.
    #[error("upstream response exceeds {limit} bytes")]
    TooLarge {
        /// [`Limits::max_response_bytes`].
        limit: usize,
    },
    /// The binding injects into a query, and the secret is not UTF-8.
    #[error("secret is not UTF-8 and cannot go in a query parameter")]
    QueryNotUtf8,
    /// The binding's header name is not a valid HTTP header name.
    #[error("bound header name is invalid")]
    BadHeaderName,
    /// The injected value holds bytes a header may not carry.
    #[error("secret cannot be placed in a header (control characters)")]
    BadHeaderValue,
}

impl SendError {
    /// Classify a reqwest failure: the deployment's destination rule if it
    /// was the cause, otherwise what kind of transport failure it was.
    fn of(e: &reqwest::Error) -> Self {
        if let Some(b) = destination::blocked_cause(e) {
            Self::Blocked(b)
        } else if e.is_timeout() {
            Self::TimedOut
        } else if e.is_connect() {
            Self::Connect
        } else if e.is_body() || e.is_decode() {
            Self::Read
        } else {
            Self::Failed
        }
    }
}

/// Send `out` with the credential injected at `inject`, with
/// `Accept-Encoding: identity` (whatever the agent's headers said).
pub async fn send(
    client: &reqwest::Client,
    limits: &Limits,
    out: Outgoing,
    inject: &Injection,
    secret: &SecretValue,
) -> Result<Answer, SendError> {
    let Outgoing {
        method,
        mut url,
        mut headers,
        body,
        timeout,
    } = out;
    // IP literals never reach the resolver: check them here too (the
    // handler already did, before decrypting).
    destination::check_literal(limits.destinations, url.host()).map_err(SendError::Blocked)?;
    headers.insert(ACCEPT_ENCODING, HeaderValue::from_static("identity"));
    match inject {
        Injection::Query { param } => {
            let value =
                std::str::from_utf8(secret.expose()).map_err(|_| SendError::QueryNotUtf8)?;
            url.query_pairs_mut().append_pair(param, value);
        }
        Injection::Header { .. } | Injection::BasicAuth { .. } => {
            let name = inject
                .header_name()
                .and_then(|n| HeaderName::from_bytes(n.as_bytes()).ok())
                .ok_or(SendError::BadHeaderName)?;
            let mut value = HeaderValue::from_bytes(injected_value(inject, secret).as_slice())
                .map_err(|_| SendError::BadHeaderValue)?;
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
        .map_err(|e| SendError::of(&e))?;
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
        return Err(SendError::TooLarge {
            limit: limits.max_response_bytes,
        });
    }
    let mut response = response;
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| SendError::of(&e))? {
        if body.len() + chunk.len() > limits.max_response_bytes {
            return Err(SendError::TooLarge {
                limit: limits.max_response_bytes,
            });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Answer {
        status,
        headers: out_headers,
        body,
    })
}
