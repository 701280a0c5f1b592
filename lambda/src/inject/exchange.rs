//! The one upstream exchange of an injection, between `kms:Decrypt` and
//! the breaker's decision: the request scan (a hit is a `probe` and nothing
//! is sent, [`crate::inject::probe`]), the request as the HTTP client's types, the
//! send, and the response's checks and shape ([`crate::inject::response`]). It
//! owns the plaintext and drops it before returning.

use std::time::{Duration, SystemTime};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use broker_core::{ApprovedRequest, Broker, Probation, ProbeKind, SecretValue};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

use crate::edge::upstream::{self, Limits, SendError};
use crate::inject::audit::AuditRecord;
use crate::inject::probe;
use crate::inject::refusal::{broker_refusal, refuse, upstream_budget, Refusal};
use crate::inject::response;
use keybroker_contract::{ErrorType, InjectReply, Withheld};

/// Headers dropped from upstream responses: framing belongs to the
/// upstream hop ([`broker_core::binding::FRAMING_HEADERS`] plus hop state).
/// Agent request headers are vetted by `broker_core::access::headers`.
const RESPONSE_DROPPED_EXTRA: [&str; 3] = ["trailer", "proxy-authorization", "keep-alive"];

/// Whether `lower` (a lowercase response header name) is dropped.
pub(crate) fn is_forbidden_header(lower: &str) -> bool {
    broker_core::binding::FRAMING_HEADERS.contains(&lower)
        || RESPONSE_DROPPED_EXTRA.contains(&lower)
}

/// One exchange's context: the function's HTTP client and limits, and what
/// of the agent's event it needs beyond the approved request.
pub(crate) struct Exchange<'a> {
    /// The function's HTTP client (no redirects, the refusing resolver).
    pub http: &'a reqwest::Client,
    /// The function's upstream limits.
    pub limits: &'a Limits,
    /// Lambda request id (the agent's answer carries it).
    pub request_id: &'a str,
    /// What of the event the scan and the send need.
    pub agent: AgentRequest<'a>,
    /// The invocation deadline, if any.
    pub deadline: Option<SystemTime>,
    /// The broker and the secret's breaker, for the decision points.
    pub breaker: (&'a Broker, &'a Probation),
}

impl Exchange<'_> {
    /// The exchange and its answer, decided against the breaker
    /// ([`crate::inject::probe`], "The decision points"): once right after the
    /// request scan (a probe is counted; a clean request confirms the
    /// breaker before anything is sent) and once after the response scan.
    pub async fn run(
        &self,
        approved: ApprovedRequest,
        secret: SecretValue,
        body: Vec<u8>,
        audit: &mut AuditRecord,
    ) -> Result<InjectReply, Refusal> {
        let (planned, found) = self.plan(approved, secret, body, audit).await;
        audit.probe = found;
        // A refusal before anything was sent (a probe, or the breaker
        // tripped at the first decision point) is already decided.
        if planned.as_ref().is_err_and(|r| r.decided) {
            return planned;
        }
        let (broker, probation) = self.breaker;
        match probe::decide(broker, probation, found).await {
            Ok(count) => {
                audit.probes = count;
                planned
            }
            Err(e) => Err(Refusal {
                // The upstream may have acted on the request already.
                sent: planned.as_ref().map_or_else(|r| r.sent, |_| true),
                ..broker_refusal(e)
            }),
        }
    }

    /// Scan what the agent supplied, decide it, then (if clean) send, shape
    /// and scan the answer. Returns the answer planned for the agent and
    /// the probe event the response scan found, for the second decision
    /// point. The plaintext is dropped here, before the decision.
    async fn plan(
        &self,
        approved: ApprovedRequest,
        secret: SecretValue,
        body: Vec<u8>,
        audit: &mut AuditRecord,
    ) -> (Result<InjectReply, Refusal>, Option<ProbeKind>) {
        let (agent, request_id, deadline) = (&self.agent, self.request_id, self.deadline);
        let binding = approved.binding().clone();
        let needles = probe::needles(&binding.inject, &secret);
        let in_request = probe::scan_request(
            &needles,
            &probe::AgentMaterial {
                url: agent.raw_url,
                sent_url: approved.url().as_str(),
                headers: agent.headers,
                body: &body,
            },
        );
        // The first decision point, hit or miss alike, before anything is
        // sent: after the breaker trips, a probe and a clean request are
        // refused at the same moment, so not even the timing differs.
        let (broker, probation) = self.breaker;
        let found = (in_request > 0).then_some(ProbeKind::Request);
        let decided = match probe::decide(broker, probation, found).await {
            Ok(count) if found.is_some() => {
                audit.probes = count;
                Err(refuse(ErrorType::Probe, probe::PROBE_MESSAGE))
            }
            Ok(_) => Ok(()),
            Err(e) => Err(broker_refusal(e)),
        };
        if let Err(mut r) = decided {
            drop(secret);
            r.decided = true;
            return (Err(r), found);
        }
        let timeout = match upstream_budget(deadline) {
            Ok(left) => agent
                .timeout_ms
                .map(Duration::from_millis)
                .unwrap_or(self.limits.max_timeout)
                .min(self.limits.max_timeout)
                .min(left),
            Err(r) => return (Err(r), None),
        };
        let outgoing = match outgoing(approved, body, timeout) {
            Ok(o) => o,
            Err(r) => return (Err(r), None),
        };
        // A hard cap around the whole exchange (connect, headers, body),
        // whatever the HTTP client's own timers do.
        let result = tokio::time::timeout(
            timeout,
            upstream::send(self.http, self.limits, outgoing, &binding.inject, &secret),
        )
        .await
        .unwrap_or(Err(SendError::TimedOut));
        drop(secret);
        let answer = match result {
            Ok(a) => a,
            Err(SendError::Blocked(b)) => {
                return (Err(refuse(ErrorType::Denied, b.to_string())), None)
            }
            Err(other) => {
                let mut r = refuse(ErrorType::UpstreamError, other.to_string());
                r.sent = true;
                return (Err(r), None);
            }
        };
        audit.upstream_status = Some(answer.status);
        if let Err(why) = response::check_framing(&answer) {
            let mut r = refuse(ErrorType::UpstreamError, why.to_string());
            r.sent = true;
            return (Err(r), None);
        }
        let shaped = response::shape(answer, &needles, binding.on_echo, is_forbidden_header);
        audit.scrubbed = shaped.found;
        audit.echo = shaped.echo;
        let found = shaped.echo.map(|_| ProbeKind::Echo);
        let Some((headers, body)) = shaped.content else {
            return (
                Ok(InjectReply {
                    status: Some(shaped.status),
                    withheld: Some(Withheld::EchoWithheld),
                    ..InjectReply::ok(request_id)
                }),
                found,
            );
        };
        let (body, body_base64) = match String::from_utf8(body) {
            Ok(text) => (Some(text), None),
            Err(e) => (None, Some(STANDARD.encode(e.as_bytes()))),
        };
        (
            Ok(InjectReply {
                status: Some(shaped.status),
                headers: Some(headers),
                body,
                body_base64,
                ..InjectReply::ok(request_id)
            }),
            found,
        )
    }
}

/// What of the agent's event the exchange needs beyond the approved request.
pub(crate) struct AgentRequest<'a> {
    /// The URL as the event gave it.
    pub raw_url: &'a str,
    /// The agent's headers as the event gave them.
    pub headers: &'a [(&'a str, &'a str)],
    /// The agent's timeout, if any.
    pub timeout_ms: Option<u64>,
}

/// The approved request as the HTTP client's types: exactly what the check
/// approved, nothing from the event but the body and the timeout.
pub(crate) fn outgoing(
    approved: ApprovedRequest,
    body: Vec<u8>,
    timeout: Duration,
) -> Result<upstream::Outgoing, Refusal> {
    // The check only approves names and values these accept; an error here
    // is a bug, refused rather than sent differently.
    let unsendable = || refuse(ErrorType::InvalidRequest, "header cannot be sent");
    let method = reqwest::Method::from_bytes(approved.method().as_bytes())
        .map_err(|_| refuse(ErrorType::InvalidRequest, "invalid method"))?;
    let mut headers = HeaderMap::new();
    for (k, v) in approved.headers() {
        headers.insert(
            HeaderName::from_bytes(k.as_bytes()).map_err(|_| unsendable())?,
            HeaderValue::from_str(v).map_err(|_| unsendable())?,
        );
    }
    Ok(upstream::Outgoing {
        method,
        url: approved.url().clone(),
        headers,
        body,
        timeout,
    })
}
