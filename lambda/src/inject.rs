//! The `inject` handler: check, decrypt, send, scrub, audit, forget.
//!
//! Order matters. Everything that can refuse a request (event shape, names,
//! binding, agent headers, policy) runs after one DynamoDB read and *before*
//! `kms:Decrypt`, so a denied request never touches the customer's key and
//! never shows up as key usage in their CloudTrail. The plaintext lives only
//! between decrypt and send, inside this function, and is wiped on drop.

use std::str::FromStr;
use std::time::{Duration, SystemTime};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use broker_core::{Broker, SecretName, WorkspaceId};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

use crate::audit::{AuditRecord, Decision};
use crate::contract::{ErrorType, InjectEvent, InjectResponse, UpstreamRequest};
use crate::policy;
use crate::scrub;
use crate::upstream::{self, Limits};

/// Headers an agent may never set besides the framing ones
/// ([`broker_core::binding::FRAMING_HEADERS`]): they carry hop or proxy
/// state the broker does not vouch for.
const AGENT_FORBIDDEN_EXTRA: [&str; 3] = ["trailer", "proxy-authorization", "keep-alive"];

/// Whether `lower` (a lowercase header name) is closed to agents, and
/// dropped from upstream responses.
fn is_forbidden_header(lower: &str) -> bool {
    broker_core::binding::FRAMING_HEADERS.contains(&lower) || AGENT_FORBIDDEN_EXTRA.contains(&lower)
}
const MAX_HEADERS: usize = 64;
/// Time kept back from the invocation deadline for what follows the
/// upstream call: scrubbing, the outcome audit record and the response.
/// The upstream timeout is capped so that it always fits.
pub const DEADLINE_MARGIN: Duration = Duration::from_millis(1000);
/// Below this much upstream time left, the request is refused before
/// `kms:Decrypt` rather than started without a chance to finish.
const MIN_UPSTREAM_TIME: Duration = Duration::from_millis(100);
const METHODS: [&str; 7] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

/// Shared state of the `inject` function, built once per sandbox.
pub struct Injector {
    broker: Broker,
    http: reqwest::Client,
    limits: Limits,
    policies: policy::PolicyCache,
    workspaces: Option<Vec<String>>,
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
            workspaces: None,
        })
    }

    /// Serve only these workspaces (`KEYBROKER_ALLOWED_WORKSPACES`). The
    /// event names its workspace, so without this any principal that may
    /// invoke the function may name any workspace; with it, the function's
    /// invoke permission becomes the tenant boundary (one function per
    /// tenant trust domain; docs/OPERATIONS.md, "Tenants").
    pub fn serve_only(mut self, workspaces: Vec<String>) -> Self {
        self.workspaces = Some(workspaces);
        self
    }

    /// The broker (for call counts in tests and benchmarks).
    pub fn broker(&self) -> &Broker {
        &self.broker
    }

    /// Handle one invocation, given the event as raw JSON text. Always
    /// answers with an [`InjectResponse`] and always prints one audit record.
    pub async fn handle(&self, event: &str, request_id: &str) -> InjectResponse {
        self.handle_until(event, request_id, None).await
    }

    /// [`Injector::handle`] within an invocation deadline (Lambda's
    /// `context.deadline`): the upstream call is cut short so that the
    /// outcome record is written before the runtime would kill the function.
    pub async fn handle_until(
        &self,
        event: &str,
        request_id: &str,
        deadline: Option<SystemTime>,
    ) -> InjectResponse {
        let (mut audit, started) = AuditRecord::start(request_id);
        let calls_before = self.broker.aws_calls();
        let response = match self.run(event, request_id, &mut audit, deadline).await {
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
        if let Err(e) = crate::audit::write_line(&audit.to_line()) {
            // Too late to refuse: the attempt record (if any) stands.
            tracing::error!(request_id, error = %e, "could not write the audit record");
        }
        response
    }

    async fn run(
        &self,
        event: &str,
        request_id: &str,
        audit: &mut AuditRecord,
        deadline: Option<SystemTime>,
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
        if let Some(served) = &self.workspaces {
            if !served.iter().any(|w| w == ws.as_str()) {
                return Err(refuse(
                    ErrorType::Denied,
                    format!("workspace {ws} is not served by this function"),
                ));
            }
        }
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

        upstream_budget(deadline)?;
        record_attempt(audit)?;
        let secret = self
            .broker
            .decrypt(loaded)
            .await
            .map_err(broker_refusal)?
            .value;
        let timeout = req
            .timeout_ms
            .map(Duration::from_millis)
            .unwrap_or(self.limits.max_timeout)
            .min(self.limits.max_timeout)
            .min(upstream_budget(deadline)?);
        let outgoing = upstream::Outgoing {
            method,
            url: target.url,
            headers,
            body,
            timeout,
        };
        // A hard cap around the whole exchange (connect, headers, body),
        // whatever the HTTP client's own timers do.
        let result = tokio::time::timeout(
            timeout,
            upstream::send(&self.http, &self.limits, outgoing, &binding.inject, &secret),
        )
        .await
        .unwrap_or_else(|_| Err("upstream timed out".to_owned()));
        let needles = scrub::needles(
            secret.expose(),
            &[&upstream::injected_value(&binding.inject, &secret)],
        );
        drop(secret);
        let answer = result.map_err(|why| refuse(ErrorType::UpstreamError, why))?;
        audit.upstream_status = Some(answer.status);

        let mut headers = std::collections::BTreeMap::new();
        for (k, mut v) in answer.headers {
            // Framing belongs to the upstream hop, and scrubbing changes lengths.
            if is_forbidden_header(&k) {
                continue;
            }
            audit.scrubbed += scrub::scrub(&mut v, &needles);
            headers.insert(k, String::from_utf8_lossy(&v).into_owned());
        }
        let mut body = answer.body;
        audit.scrubbed += scrub::scrub(&mut body, &needles);
        let (body, body_base64) = match String::from_utf8(body) {
            Ok(text) => (Some(text), None),
            Err(e) => (None, Some(STANDARD.encode(e.as_bytes()))),
        };
        Ok(InjectResponse {
            request_id: request_id.to_owned(),
            ok: true,
            status: Some(answer.status),
            headers: Some(headers),
            body,
            body_base64,
            error: None,
        })
    }
}

/// Write the attempt record before `kms:Decrypt`; if it cannot be written,
/// refuse: a credential is never used without a record.
fn record_attempt(audit: &AuditRecord) -> Result<(), Refusal> {
    crate::audit::write_line(&audit.attempt_line()).map_err(|e| {
        tracing::error!(request_id = %audit.request_id, error = %e, "could not write the audit attempt record; refusing before decrypt");
        refuse(
            ErrorType::Unavailable,
            "the audit log cannot be written: refusing to use the credential without a record",
        )
    })
}

/// Upstream time left before the invocation deadline, less
/// [`DEADLINE_MARGIN`]; refuses when too little is left. `None`: no
/// deadline (library use), only the limits apply.
fn upstream_budget(deadline: Option<SystemTime>) -> Result<Duration, Refusal> {
    let Some(deadline) = deadline else {
        return Ok(Duration::MAX);
    };
    let left = deadline
        .duration_since(SystemTime::now())
        .unwrap_or(Duration::ZERO)
        .saturating_sub(DEADLINE_MARGIN);
    if left < MIN_UPSTREAM_TIME {
        return Err(refuse(
            ErrorType::UpstreamError,
            "too little time is left before the function's deadline to call the upstream",
        ));
    }
    Ok(left)
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
