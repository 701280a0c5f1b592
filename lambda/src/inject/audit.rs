//! One structured audit record per `inject` call, allowed or denied, as a
//! single JSON line on stdout (CloudWatch Logs keeps it; a metric filter or
//! subscription can alert on it). The schema is stable (`schema` field) and
//! holds names, never values: no secret, no request or response body, no
//! query string (a query may carry data, or the injected credential).
//!
//! A call that gets as far as `kms:Decrypt` writes two records: the
//! *attempt* ([`ATTEMPT_SCHEMA`]) just before `Decrypt`, and the outcome
//! ([`SCHEMA`]) after. If the attempt cannot be written, the request is
//! refused and nothing is decrypted (Vault's rule: no record, no use), so a
//! credential is never used without a record, even if the function is then
//! killed before it can write the outcome.

use std::time::Instant;

use serde::Serialize;

use crate::edge::metrics::{Function, Metrics};
use crate::edge::record::now_ms;

/// Schema identifier of the outcome record; bump on incompatible change.
pub const SCHEMA: &str = "keybroker.audit.inject.v1";
/// Schema identifier of the attempt record written before `kms:Decrypt`.
pub const ATTEMPT_SCHEMA: &str = "keybroker.audit.inject.attempt.v1";

/// The attempt record: who asked to use which secret where, under which
/// key, correlated with the outcome record by `request_id`.
#[derive(Debug, Serialize)]
pub struct AttemptRecord<'a> {
    /// [`ATTEMPT_SCHEMA`].
    pub schema: &'static str,
    /// Unix time in milliseconds when the attempt was recorded.
    pub time_ms: u64,
    /// Lambda request id.
    pub request_id: &'a str,
    /// Workspace.
    pub workspace: Option<&'a str>,
    /// Agent identity, as asserted.
    pub agent: Option<&'a str>,
    /// Secret name.
    pub secret: Option<&'a str>,
    /// Upstream host\[:port\].
    pub host: Option<&'a str>,
    /// Upstream method.
    pub method: Option<&'a str>,
    /// Upstream path, no query.
    pub path: Option<&'a str>,
    /// The KMS key `Decrypt` is about to use.
    pub key_arn: Option<&'a str>,
}

/// Outcome of the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// The credential was injected and the upstream answered.
    Allow,
    /// Binding, policy or validation refused; nothing was decrypted.
    Deny,
    /// Allowed, but decryption or the upstream call failed.
    Error,
}

/// The record.
#[derive(Debug, Serialize)]
pub struct AuditRecord {
    /// [`SCHEMA`].
    pub schema: &'static str,
    /// Unix time in milliseconds at the start of the call.
    pub time_ms: u64,
    /// Lambda request id.
    pub request_id: String,
    /// Workspace, as asked (may be invalid: that is what was asked).
    pub workspace: Option<String>,
    /// Agent identity, as asserted.
    pub agent: Option<String>,
    /// Secret name.
    pub secret: Option<String>,
    /// Upstream host\[:port\].
    pub host: Option<String>,
    /// Upstream method.
    pub method: Option<String>,
    /// Upstream path, no query.
    pub path: Option<String>,
    /// Outcome.
    pub decision: Decision,
    /// Error type or `ok`.
    pub reason: String,
    /// Human detail (never secret).
    pub detail: Option<String>,
    /// KMS key that protected the secret, once known.
    pub key_arn: Option<String>,
    /// Upstream status, if it answered.
    pub upstream_status: Option<u16>,
    /// Occurrences of the credential (in any recognised form) found in the
    /// response's headers and body.
    pub scrubbed: usize,
    /// What was done about them: `withheld` (nothing but the status reached
    /// the agent) or `redacted`; `null` when there was no echo. Never the
    /// value or where it was found.
    pub echo: Option<crate::inject::response::EchoAction>,
    /// AWS calls this invocation made (one sandbox runs one invocation at a
    /// time, so the difference of the broker's counters is exact).
    pub aws_calls: broker_core::AwsCalls,
    /// Which keybroker injection limit refused the call (`workspace` or
    /// `agent`); absent otherwise. Such a call is `throttled` with the
    /// limit's wait, decision `deny`, and counts as `RateLimited`, not as
    /// an error ([`crate::edge::metrics`]): AWS throttling has no `limit`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<broker_core::LimitScope>,
    /// Where a form of the credential was found, making this call a probe
    /// event ([`broker_core::breaker`]): `request` (the agent's URL, a
    /// header or the body: nothing was sent) or `echo` (the upstream's
    /// answer); absent otherwise. Never the value or where in it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub probe: Option<broker_core::ProbeKind>,
    /// The secret's probe count after this call's event was counted, or the
    /// count that quarantined it (`reason: quarantined`); absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub probes: Option<u64>,
    /// Wall time of the whole call.
    pub latency_ms: f64,
    /// The error type, `None` on success: written as the record's EMF
    /// `Outcome` dimension and metrics ([`crate::edge::metrics`]); `reason`
    /// holds the same name.
    #[serde(skip)]
    pub outcome: Option<crate::edge::error::ErrorType>,
}

impl AuditRecord {
    /// A record for a call starting now.
    pub fn start(request_id: &str) -> (Self, Instant) {
        let time_ms = now_ms();
        let rec = Self {
            schema: SCHEMA,
            time_ms,
            request_id: request_id.to_owned(),
            workspace: None,
            agent: None,
            secret: None,
            host: None,
            method: None,
            path: None,
            decision: Decision::Deny,
            reason: String::new(),
            detail: None,
            key_arn: None,
            upstream_status: None,
            scrubbed: 0,
            echo: None,
            aws_calls: broker_core::AwsCalls::default(),
            limit: None,
            probe: None,
            probes: None,
            latency_ms: 0.0,
            outcome: None,
        };
        (rec, Instant::now())
    }

    /// The attempt record of this call, as one line.
    pub fn attempt_line(&self) -> String {
        let rec = AttemptRecord {
            schema: ATTEMPT_SCHEMA,
            time_ms: now_ms(),
            request_id: &self.request_id,
            workspace: self.workspace.as_deref(),
            agent: self.agent.as_deref(),
            secret: self.secret.as_deref(),
            host: self.host.as_deref(),
            method: self.method.as_deref(),
            path: self.path.as_deref(),
            key_arn: self.key_arn.as_deref(),
        };
        serde_json::to_string(&rec).unwrap_or_else(|_| {
            format!("{{\"schema\":\"{ATTEMPT_SCHEMA}\",\"error\":\"unserializable\"}}")
        })
    }

    /// Serialize as one line, with its CloudWatch metrics (EMF).
    pub fn to_line(&self) -> String {
        let mut metrics = Metrics::of(Function::Inject, self.time_ms, self.outcome.as_ref());
        if self.limit.is_some() {
            metrics = metrics.rate_limited();
        }
        if let Some(kind) = self.probe {
            metrics = metrics.probe(kind);
        }
        crate::edge::metrics::line(self, metrics)
            .unwrap_or_else(|_| format!("{{\"schema\":\"{SCHEMA}\",\"error\":\"unserializable\"}}"))
    }
}
