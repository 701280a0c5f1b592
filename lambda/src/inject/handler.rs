//! [`Injector`]: one invocation from the event's text to the agent's
//! answer and its audit record, in the order [`crate::inject`] explains.

use std::time::SystemTime;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use broker_core::{AccessError, AccessRequest, Broker, SecretName, WorkspaceId};

use crate::edge::destination;
use crate::edge::upstream::{self, Limits};
use crate::inject::audit::{AuditRecord, Decision};
use crate::inject::exchange::{AgentRequest, Exchange};
use crate::inject::refusal::{broker_refusal, refuse, upstream_budget, Refusal};
use keybroker_contract::{ErrorType, InjectEvent, InjectReply, UpstreamRequest};

/// Shared state of the `inject` function, built once per sandbox.
pub struct Injector {
    broker: Broker,
    http: reqwest::Client,
    limits: Limits,
    workspaces: Option<Vec<String>>,
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
                    if r.sent && e.retry != crate::edge::error::Retry::Never {
                        // The upstream was called: repeating it is only
                        // safe if the request is idempotent.
                        e.retry = crate::edge::error::Retry::IfIdempotent;
                    }
                    e.retry_after(r.limit.map(|(_, ms)| ms))
                });
                response
            }
        };
        audit.aws_calls = self.broker.aws_calls() - calls_before;
        audit.latency_ms = started.elapsed().as_secs_f64() * 1000.0;
        if let Err(e) = crate::edge::record::write_line(&audit.to_line()) {
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
        // access token (crate::edge::token_client): either way `decrypted.value` is what
        // is sent, so the scanner's needles are built from it.
        let tokens = crate::edge::token_client::TokenClient::new(
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
    crate::edge::record::write_line(&audit.attempt_line()).map_err(|e| {
        tracing::error!(request_id = %audit.request_id, error = %e, "could not write the audit attempt record; refusing before decrypt");
        refuse(
            ErrorType::Unavailable,
            "the audit log cannot be written: refusing to use the credential without a record",
        )
    })
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
