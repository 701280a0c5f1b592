//! The `inject` handler: check, decrypt, send, scrub, audit, forget.
//!
//! Order matters. Everything that can refuse a request (event shape, names,
//! then broker-core's one access check: agent, method, URL, headers,
//! policy) runs after one DynamoDB read and *before* `kms:Decrypt`, so a
//! denied request never touches the customer's key and never shows up as
//! key usage in their CloudTrail. The injection limits come next
//! (`Broker::admit`: a request over a limit is `throttled` with the
//! window's wait, and decrypts nothing). Only the check's `Authorized`
//! value, admitted by the limits, can be decrypted for injection, and what
//! is sent is the request it approved (normalised URL, method, vetted
//! headers), not the event's text. The
//! plaintext lives only between decrypt and send, inside this function, and
//! is wiped on drop.
//! A quarantined secret is refused in `admit`, before `kms:Decrypt`. After
//! it, what the agent supplied is scanned for the credential before
//! anything is sent (a hit is a `probe`: not sent), and what comes back is
//! checked and shaped by [`crate::response`]: encoded or partial answers
//! are refused, and an echoed credential withholds (or, if the binding opts
//! in, redacts) the response. Every answer after the request scan is then
//! decided against the secret's probe breaker ([`crate::probe`]).

use std::time::{Duration, SystemTime};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use broker_core::{AccessError, AccessRequest, Broker, SecretName, WorkspaceId};

use crate::audit::{AuditRecord, Decision};
use crate::contract::{ErrorType, InjectEvent, InjectReply, UpstreamRequest};
use crate::destination;
use crate::exchange::{AgentRequest, Exchange};
use crate::upstream::{self, Limits};

/// Time kept back from the invocation deadline for what follows the
/// upstream call: scrubbing, the outcome audit record and the response.
/// The upstream timeout is capped so that it always fits.
pub const DEADLINE_MARGIN: Duration = Duration::from_millis(1000);
/// Below this much upstream time left, the request is refused before
/// `kms:Decrypt` rather than started without a chance to finish.
const MIN_UPSTREAM_TIME: Duration = Duration::from_millis(100);

/// Shared state of the `inject` function, built once per sandbox.
pub struct Injector {
    broker: Broker,
    http: reqwest::Client,
    limits: Limits,
    workspaces: Option<Vec<String>>,
}

/// A refusal or failure on its way to the agent.
pub(crate) struct Refusal {
    pub(crate) kind: ErrorType,
    pub(crate) message: String,
    /// Set when a keybroker injection limit refused: which one, and the
    /// wait until its window ends.
    pub(crate) limit: Option<(broker_core::LimitScope, u64)>,
    /// Set when the probe breaker refused: the count it refused at.
    pub(crate) probes: Option<u64>,
    /// Whether the upstream was called before this refusal, so may have
    /// acted on the request: retry only if it is idempotent.
    pub(crate) sent: bool,
    /// Whether this refusal was already decided against the probe breaker
    /// (at the first decision point), so the second must not run.
    pub(crate) decided: bool,
}

pub(crate) fn refuse(kind: ErrorType, message: impl Into<String>) -> Refusal {
    Refusal {
        kind,
        message: message.into(),
        limit: None,
        probes: None,
        sent: false,
        decided: false,
    }
}

impl Injector {
    /// Wire the broker and an HTTP client with `limits`.
    pub fn new(broker: Broker, limits: Limits) -> Result<Self, upstream::ClientBuildError> {
        Ok(Self {
            http: upstream::client(&limits)?,
            broker,
            limits,
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
    /// answers with an [`InjectReply`] and always prints one audit record.
    pub async fn handle(&self, event: &str, request_id: &str) -> InjectReply {
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
    ) -> InjectReply {
        let (mut audit, started) = AuditRecord::start(request_id);
        let calls_before = self.broker.aws_calls();
        let response = match self.run(event, request_id, &mut audit, deadline).await {
            Ok(r) => {
                audit.decision = Decision::Allow;
                audit.reason = "ok".into();
                r
            }
            Err(r) => {
                audit.reason = r.kind.as_str().to_owned();
                audit.outcome = Some(r.kind.clone());
                audit.limit = r.limit.map(|(scope, _)| scope);
                audit.probes = r.probes.or(audit.probes);
                if !r.kind.is_refusal() && r.limit.is_none() {
                    audit.decision = Decision::Error;
                }
                audit.detail = Some(r.message.clone());
                let mut response = InjectReply::error(request_id, r.kind, r.message);
                response.error = response.error.map(|mut e| {
                    if r.sent && e.retry != crate::edge_error::Retry::Never {
                        // The upstream was called: repeating it is only
                        // safe if the request is idempotent.
                        e.retry = crate::edge_error::Retry::IfIdempotent;
                    }
                    e.retry_after(r.limit.map(|(_, ms)| ms))
                });
                response
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
    ) -> Result<InjectReply, Refusal> {
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
        let req = &event.request;
        let body = request_body(req, &self.limits)?;

        let loaded = self.broker.load(&ws, &name).await.map_err(broker_refusal)?;
        audit.key_arn = Some(loaded.metadata().key_arn.to_string());
        let agent_headers = agent_headers(req);
        let authorized = self
            .broker
            .authorize(
                loaded,
                &AccessRequest {
                    agent: &event.agent,
                    method: &req.method,
                    url: &req.url,
                    headers: &agent_headers,
                    body: &body,
                },
            )
            .map_err(access_refusal)?;
        audit.host = Some(authorized.request().host().to_owned());
        audit.path = Some(authorized.request().url().path().to_owned());
        destination::check_literal(self.limits.destinations, authorized.request().url().host())
            .map_err(|b| refuse(ErrorType::Denied, b.to_string()))?;

        upstream_budget(deadline)?;
        // The injection limits, last before the attempt record and
        // `kms:Decrypt`: a refused request decrypts and sends nothing.
        let mut admitted = self
            .broker
            .admit(authorized)
            .await
            .map_err(broker_refusal)?;
        // The workspace's in-flight slot goes back however this ends.
        let slot = admitted.take_slot();
        let answer = self
            .send_admitted(admitted, request_id, req, body, deadline, audit)
            .await;
        self.broker.release(slot).await;
        answer
    }

    /// From the attempt record to the upstream's checked answer.
    async fn send_admitted(
        &self,
        admitted: broker_core::Admitted,
        request_id: &str,
        req: &UpstreamRequest,
        body: Vec<u8>,
        deadline: Option<SystemTime>,
        audit: &mut AuditRecord,
    ) -> Result<InjectReply, Refusal> {
        record_attempt(audit)?;
        let agent_headers = agent_headers(req);
        let probation = admitted.probation().clone();
        // Static secrets decrypt; `oauth2` secrets yield their current
        // access token (crate::oauth2): either way `decrypted.value` is what
        // is sent, so the scanner's needles are built from it.
        let tokens = crate::oauth2::TokenClient::new(
            &self.http,
            &self.limits,
            deadline,
            self.broker.access_settings().allow_insecure_http,
        );
        let (approved, decrypted) = self
            .broker
            .credential_for_injection(admitted, &tokens)
            .await
            .map_err(broker_refusal)?;
        let exchange = Exchange {
            http: &self.http,
            limits: &self.limits,
            request_id,
            agent: AgentRequest {
                raw_url: &req.url,
                headers: &agent_headers,
                timeout_ms: req.timeout_ms,
            },
            deadline,
            breaker: (&self.broker, &probation),
        };
        exchange.run(approved, decrypted.value, body, audit).await
    }
}

/// The agent's headers as the access check and the exchange read them.
fn agent_headers(req: &UpstreamRequest) -> Vec<(&str, &str)> {
    req.headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
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
pub(crate) fn upstream_budget(deadline: Option<SystemTime>) -> Result<Duration, Refusal> {
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

pub(crate) fn broker_refusal(e: broker_core::BrokerError) -> Refusal {
    let limit = match &e {
        broker_core::BrokerError::LimitExceeded {
            scope,
            retry_after_ms,
            ..
        } => Some((*scope, *retry_after_ms)),
        _ => None,
    };
    let probes = match &e {
        broker_core::BrokerError::Quarantined { probes, .. } => Some(*probes),
        _ => None,
    };
    Refusal {
        limit,
        probes,
        ..refuse(crate::edge_error::type_of(&e), e.to_string())
    }
}

fn access_refusal(e: AccessError) -> Refusal {
    match e {
        AccessError::Invalid(why) => refuse(ErrorType::InvalidRequest, why),
        AccessError::Denied(why) => refuse(ErrorType::Denied, why),
    }
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
