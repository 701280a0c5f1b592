//! The `inject` handler: check, decrypt, send, scrub, audit, forget.
//!
//! Order matters. Everything that can refuse a request (event shape, names,
//! binding, agent headers, policy) runs after one DynamoDB read and *before*
//! `kms:Decrypt`, so a denied request never touches the customer's key and
//! never shows up as key usage in their CloudTrail. The plaintext lives only
//! between decrypt and send, inside this function, and is wiped on drop.
//! What comes back is checked and shaped by [`crate::response`]: encoded or
//! partial answers are refused, and an echoed credential withholds (or, if
//! the binding opts in, redacts) the response.

use std::str::FromStr;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use broker_core::{Broker, SecretName, WorkspaceId};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

use crate::audit::{AuditRecord, Decision};
use crate::contract::{ErrorType, InjectEvent, InjectResponse, UpstreamRequest, Withheld};
use crate::destination;
use crate::policy;
use crate::response;
use crate::scrub::Needles;
use crate::upstream::{self, Limits, SendError};

/// Headers an agent may never set besides the framing ones
/// ([`broker_core::binding::FRAMING_HEADERS`], which include `te`): they
/// carry hop or proxy state the broker does not vouch for, or negotiate the
/// response's shape, which the broker owns (`accept-encoding`: a compressed
/// echo would pass the scan; `range`/`if-range`: slices of an echo would).
const AGENT_FORBIDDEN_EXTRA: [&str; 6] = [
    "trailer",
    "proxy-authorization",
    "keep-alive",
    "accept-encoding",
    "range",
    "if-range",
];

/// Whether `lower` (a lowercase header name) is closed to agents, and
/// dropped from upstream responses.
fn is_forbidden_header(lower: &str) -> bool {
    broker_core::binding::FRAMING_HEADERS.contains(&lower) || AGENT_FORBIDDEN_EXTRA.contains(&lower)
}
const MAX_HEADERS: usize = 64;
const METHODS: [&str; 7] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

/// Shared state of the `inject` function, built once per sandbox.
pub struct Injector {
    broker: Broker,
    http: reqwest::Client,
    limits: Limits,
    policies: policy::PolicyCache,
}

/// A refusal or failure on its way to the agent.
struct Refusal {
    kind: ErrorType,
    message: String,
}

fn refuse(kind: ErrorType, message: impl Into<String>) -> Refusal {
    Refusal {
        kind,
        message: message.into(),
    }
}

impl Injector {
    /// Wire the broker and an HTTP client with `limits`.
    pub fn new(broker: Broker, limits: Limits) -> Result<Self, String> {
        Ok(Self {
            http: upstream::client(&limits)?,
            broker,
            limits,
            policies: policy::PolicyCache::default(),
        })
    }

    /// The broker (for call counts in tests and benchmarks).
    pub fn broker(&self) -> &Broker {
        &self.broker
    }

    /// Handle one invocation, given the event as raw JSON text. Always
    /// answers with an [`InjectResponse`] and always prints one audit record.
    pub async fn handle(&self, event: &str, request_id: &str) -> InjectResponse {
        let (mut audit, started) = AuditRecord::start(request_id);
        let calls_before = self.broker.aws_calls();
        let response = match self.run(event, request_id, &mut audit).await {
            Ok(r) => {
                audit.decision = Decision::Allow;
                audit.reason = "ok".into();
                r
            }
            Err(r) => {
                audit.reason = serde_json::to_value(r.kind)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default();
                if !matches!(
                    r.kind,
                    ErrorType::Denied | ErrorType::InvalidRequest | ErrorType::NotFound
                ) {
                    audit.decision = Decision::Error;
                }
                audit.detail = Some(r.message.clone());
                InjectResponse::error(request_id, r.kind, r.message)
            }
        };
        audit.aws_calls = self.broker.aws_calls() - calls_before;
        audit.latency_ms = started.elapsed().as_secs_f64() * 1000.0;
        println!("{}", audit.to_line());
        response
    }

    async fn run(
        &self,
        event: &str,
        request_id: &str,
        audit: &mut AuditRecord,
    ) -> Result<InjectResponse, Refusal> {
        let event: InjectEvent = serde_json::from_str(event).map_err(|e| {
            refuse(
                ErrorType::InvalidRequest,
                format!("malformed inject event: {e}"),
            )
        })?;
        audit.workspace = Some(event.workspace.clone());
        audit.agent = Some(event.agent.clone());
        audit.secret = Some(event.secret.clone());
        audit.method = Some(event.request.method.clone());

        let ws = WorkspaceId::new(event.workspace.as_str())
            .map_err(|e| refuse(ErrorType::InvalidRequest, e.to_string()))?;
        let name = SecretName::new(event.secret.as_str())
            .map_err(|e| refuse(ErrorType::InvalidRequest, e.to_string()))?;
        check_agent(&event.agent)?;
        let req = &event.request;
        let method = check_method(&req.method)?;
        let body = request_body(req, &self.limits)?;

        let loaded = self.broker.load(&ws, &name).await.map_err(broker_refusal)?;
        let meta = loaded.metadata();
        audit.key_arn = Some(meta.key_arn.clone());
        let binding = meta.binding.clone().ok_or_else(|| {
            refuse(
                ErrorType::Denied,
                format!("secret {name:?} has no binding: it may not be sent anywhere"),
            )
        })?;
        let target = binding
            .check_url(&req.url)
            .map_err(|why| refuse(ErrorType::Denied, why))?;
        audit.host = Some(target.host.clone());
        audit.path = Some(target.url.path().to_owned());
        destination::check_literal(self.limits.destinations, target.url.host())
            .map_err(|b| refuse(ErrorType::Denied, b.to_string()))?;
        let headers = agent_headers(&req.headers, binding.inject.header_name().as_deref())?;
        if let broker_core::Injection::Query { param } = &binding.inject {
            if target.url.query_pairs().any(|(k, _)| k == param.as_str()) {
                return Err(refuse(
                    ErrorType::InvalidRequest,
                    format!(
                        "the URL already sets query parameter {param:?}, where the secret goes"
                    ),
                ));
            }
        }
        policy::authorize(
            &self.policies,
            loaded.policy(),
            &policy::Query {
                agent: &event.agent,
                secret: name.as_str(),
                host: &target.host,
                method: method.as_str(),
                path: target.url.path(),
            },
        )
        .map_err(|why| refuse(ErrorType::Denied, why))?;

        let secret = self
            .broker
            .decrypt(loaded)
            .await
            .map_err(broker_refusal)?
            .value;
        let timeout = req
            .timeout_ms
            .map(Duration::from_millis)
            .unwrap_or(self.limits.max_timeout);
        let outgoing = upstream::Outgoing {
            method,
            url: target.url,
            headers,
            body,
            timeout,
        };
        let result =
            upstream::send(&self.http, &self.limits, outgoing, &binding.inject, &secret).await;
        let injected = upstream::injected_value(&binding.inject, &secret);
        let pair = match &binding.inject {
            broker_core::Injection::BasicAuth { username } => {
                Some(upstream::basic_pair(username, &secret))
            }
            _ => None,
        };
        let mut extra: Vec<&[u8]> = vec![injected.as_slice()];
        extra.extend(pair.as_ref().map(|p| p.as_slice()));
        let needles = Needles::new(secret.expose(), &extra);
        drop(secret);
        let answer = result.map_err(|e| match e {
            SendError::Blocked(b) => refuse(ErrorType::Denied, b.to_string()),
            SendError::Failed(why) => refuse(ErrorType::UpstreamError, why),
        })?;
        audit.upstream_status = Some(answer.status);
        response::check_framing(&answer).map_err(|why| refuse(ErrorType::UpstreamError, why))?;
        let shaped = response::shape(answer, &needles, binding.on_echo, is_forbidden_header);
        audit.scrubbed = shaped.found;
        audit.echo = shaped.echo;
        let Some((headers, body)) = shaped.content else {
            return Ok(InjectResponse {
                status: Some(shaped.status),
                withheld: Some(Withheld::EchoWithheld),
                ..InjectResponse::ok(request_id)
            });
        };
        let (body, body_base64) = match String::from_utf8(body) {
            Ok(text) => (Some(text), None),
            Err(e) => (None, Some(STANDARD.encode(e.as_bytes()))),
        };
        Ok(InjectResponse {
            status: Some(shaped.status),
            headers: Some(headers),
            body,
            body_base64,
            ..InjectResponse::ok(request_id)
        })
    }
}

fn broker_refusal(e: broker_core::BrokerError) -> Refusal {
    refuse(ErrorType::from(&e), e.to_string())
}

fn check_agent(agent: &str) -> Result<(), Refusal> {
    let ok = (1..=128).contains(&agent.len())
        && agent
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._:@-".contains(&b));
    ok.then_some(()).ok_or_else(|| {
        refuse(
            ErrorType::InvalidRequest,
            "agent must be 1-128 characters of A-Z a-z 0-9 . _ : @ -",
        )
    })
}

fn check_method(m: &str) -> Result<reqwest::Method, Refusal> {
    if !METHODS.contains(&m) {
        return Err(refuse(
            ErrorType::InvalidRequest,
            format!("method must be one of {}", METHODS.join(", ")),
        ));
    }
    reqwest::Method::from_str(m).map_err(|_| refuse(ErrorType::InvalidRequest, "invalid method"))
}

fn request_body(req: &UpstreamRequest, limits: &Limits) -> Result<Vec<u8>, Refusal> {
    let body = match (&req.body, &req.body_base64) {
        (Some(_), Some(_)) => {
            return Err(refuse(
                ErrorType::InvalidRequest,
                "set at most one of body and body_base64",
            ))
        }
        (Some(t), None) => t.as_bytes().to_vec(),
        (None, Some(b)) => STANDARD
            .decode(b)
            .map_err(|_| refuse(ErrorType::InvalidRequest, "body_base64 is not valid base64"))?,
        (None, None) => Vec::new(),
    };
    if body.len() > limits.max_request_bytes {
        return Err(refuse(
            ErrorType::InvalidRequest,
            format!("request body exceeds {} bytes", limits.max_request_bytes),
        ));
    }
    Ok(body)
}

fn agent_headers(
    given: &std::collections::BTreeMap<String, String>,
    injected: Option<&str>,
) -> Result<HeaderMap, Refusal> {
    if given.len() > MAX_HEADERS {
        return Err(refuse(
            ErrorType::InvalidRequest,
            format!("at most {MAX_HEADERS} headers"),
        ));
    }
    let mut out = HeaderMap::new();
    for (k, v) in given {
        let lower = k.to_ascii_lowercase();
        if Some(lower.as_str()) == injected {
            return Err(refuse(
                ErrorType::InvalidRequest,
                format!(
                    "header {k:?} is where the broker injects the secret; the agent may not set it"
                ),
            ));
        }
        if is_forbidden_header(&lower) {
            return Err(refuse(
                ErrorType::InvalidRequest,
                format!("header {k:?} may not be set by the agent"),
            ));
        }
        let name = HeaderName::from_bytes(k.as_bytes()).map_err(|_| {
            refuse(
                ErrorType::InvalidRequest,
                format!("header name {k:?} is invalid"),
            )
        })?;
        let value = HeaderValue::from_str(v).map_err(|_| {
            refuse(
                ErrorType::InvalidRequest,
                format!("header {k:?} has an invalid value (control characters)"),
            )
        })?;
        out.insert(name, value);
    }
    Ok(out)
}
