//! The one error vocabulary of the Lambda edge, shared by `inject` and
//! `admin`: a stable `type` an agent runtime or control plane can branch on,
//! and the retry advice that goes with it (docs/INVOCATION.md, "Errors").
//!
//! Why one place: the two functions used to answer the same library error
//! with different names (`invalid_request` here, `invalid_input` there), and
//! a catch-all arm told agents to retry a permanent storage failure. The
//! mapping from [`BrokerError`] lives only in [`ErrorType::of`], and the
//! advice only in [`ErrorType::retry`], so both functions always agree.

use broker_core::BrokerError;
use serde::Serialize;

/// Error categories. Stable snake_case strings: never rename one, agents
/// and the CLI branch on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorType {
    /// The event is malformed or asks for something never allowed.
    InvalidRequest,
    /// Binding, policy or the deployment's destination rules forbid this
    /// request. Nothing was sent; nothing was decrypted, except when the
    /// bound host's DNS answer was refused at connect time.
    Denied,
    /// The key owner revoked the broker's access to the secret's key.
    Revoked,
    /// No such secret, workspace or BYOK settings.
    NotFound,
    /// Someone changed the record first, or it already exists (admin).
    Conflict,
    /// The upstream failed, timed out or answered too much (inject).
    UpstreamError,
    /// AWS throttled the broker after the SDK's own retries.
    Throttled,
    /// An AWS dependency is unavailable (timeout, connection, 5xx), or the
    /// audit log cannot be written.
    Unavailable,
    /// The stored secret failed integrity checks; an operator must look.
    Integrity,
    /// DynamoDB refused in a way that is not transient (access denied,
    /// missing table, validation), or a stored record is malformed.
    Storage,
    /// The request carried material derived from the credential (in the
    /// URL, a header or the body): it was not sent. An honest agent never
    /// holds a piece of the credential, so this is counted against the
    /// secret's probe budget (docs/INVOCATION.md, "Probes and the breaker").
    Probe,
    /// The secret's probe breaker tripped: no injection until an operator
    /// clears it (admin op `clear_breaker`). Nothing was sent.
    Quarantined,
    /// An `oauth2` secret's identity provider refused its refresh token
    /// (`invalid_grant`) or its client: it must be connected again
    /// (admin `start_oauth2` / `complete_oauth2`). Nothing was sent.
    ReauthRequired,
    /// The function itself failed after the library answered (for example
    /// admin could not serialise a result), or the library reported an error
    /// this edge does not know. A bug: an operator must look.
    Internal,
}

/// What a caller should do about an error. Advice for the *same* request:
/// whether sending it again, unchanged, can succeed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Retry {
    /// Transient: retry the same request after `retry_after_ms` (when
    /// given), with exponential backoff and jitter.
    Backoff,
    /// The record changed first: re-read, then retry if still wanted.
    Reread,
    /// The upstream failed, maybe after acting on the request: retry only
    /// if the request is idempotent.
    IfIdempotent,
    /// The same request cannot succeed: someone (the caller, the operator
    /// or the key owner) must change something first.
    Never,
}

/// Lower bound on the first wait after `throttled`: the SDK has already
/// retried with backoff for about a second, so retrying sooner only adds to
/// the load that caused it.
pub const THROTTLED_RETRY_AFTER_MS: u64 = 1000;

impl ErrorType {
    /// The one mapping from a library error to the edge's type. Exhaustive,
    /// with no wildcard arm: a new `BrokerError` variant does not compile
    /// until it is given a type (and so its retry advice) here.
    pub fn of(e: &BrokerError) -> Self {
        match e {
            BrokerError::Revoked { .. } => Self::Revoked,
            BrokerError::Tampered { .. } | BrokerError::ContextMismatch { .. } => Self::Integrity,
            // A keybroker limit keeps the wire type agents already handle;
            // its wait comes from the window ([`limit_retry_after_ms`]).
            BrokerError::Throttled { .. } | BrokerError::LimitExceeded { .. } => Self::Throttled,
            BrokerError::Quarantined { .. } => Self::Quarantined,
            BrokerError::Unavailable { .. } => Self::Unavailable,
            // Another sandbox is refreshing the token: transient.
            BrokerError::RefreshPending { .. } => Self::Unavailable,
            BrokerError::ReauthRequired { .. } | BrokerError::OAuth2Refused { .. } => {
                Self::ReauthRequired
            }
            BrokerError::NotFound { .. } => Self::NotFound,
            BrokerError::Conflict { .. } => Self::Conflict,
            BrokerError::InvalidInput { .. } => Self::InvalidRequest,
            // broker-core already maps DynamoDB's transient failures to
            // `Throttled`/`Unavailable`; what is left is permanent.
            BrokerError::Storage { .. } => Self::Storage,
        }
    }

    /// The retry advice for this type (exhaustive: a new type must say).
    pub fn retry(self) -> Retry {
        match self {
            Self::Throttled | Self::Unavailable => Retry::Backoff,
            Self::Conflict => Retry::Reread,
            Self::UpstreamError => Retry::IfIdempotent,
            Self::InvalidRequest
            | Self::Denied
            | Self::Revoked
            | Self::NotFound
            | Self::Integrity
            | Self::Storage
            | Self::Probe
            | Self::Quarantined
            | Self::ReauthRequired
            | Self::Internal => Retry::Never,
        }
    }

    /// Minimum wait before a retry, where the type implies one.
    pub fn retry_after_ms(self) -> Option<u64> {
        (self == Self::Throttled).then_some(THROTTLED_RETRY_AFTER_MS)
    }

    /// Whether the caller's request was refused (it asked for something it
    /// may not have, or that does not exist) rather than the broker, AWS or
    /// the upstream failing. inject's audit `decision` is `deny` for these.
    /// A probe and a quarantine are refusals too: the agent asked for
    /// something it may not have (they have their own metrics).
    pub fn is_refusal(self) -> bool {
        matches!(
            self,
            Self::InvalidRequest
                | Self::Denied
                | Self::NotFound
                | Self::Conflict
                | Self::Probe
                | Self::Quarantined
        )
    }

    /// Whether this counts as an error for the `Errors` metric: a failure
    /// of the broker, AWS, the stored data or the upstream. Refusals and
    /// revocations (an expected customer action, with its own metric) do
    /// not.
    pub fn is_error(self) -> bool {
        !self.is_refusal() && self != Self::Revoked
    }

    /// The stable string (what `type` holds in a response).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::Denied => "denied",
            Self::Revoked => "revoked",
            Self::NotFound => "not_found",
            Self::Conflict => "conflict",
            Self::UpstreamError => "upstream_error",
            Self::Throttled => "throttled",
            Self::Unavailable => "unavailable",
            Self::Integrity => "integrity",
            Self::Storage => "storage",
            Self::Probe => "probe",
            Self::Quarantined => "quarantined",
            Self::ReauthRequired => "reauth_required",
            Self::Internal => "internal",
        }
    }

    /// Every type, for tests and docs checks.
    pub const ALL: [Self; 14] = [
        Self::InvalidRequest,
        Self::Denied,
        Self::Revoked,
        Self::NotFound,
        Self::Conflict,
        Self::UpstreamError,
        Self::Throttled,
        Self::Unavailable,
        Self::Integrity,
        Self::Storage,
        Self::Probe,
        Self::Quarantined,
        Self::ReauthRequired,
        Self::Internal,
    ];
}

/// The wait a keybroker injection limit implies (until its window ends),
/// in place of [`THROTTLED_RETRY_AFTER_MS`]; `None` for every other error.
pub fn limit_retry_after_ms(e: &BrokerError) -> Option<u64> {
    match e {
        BrokerError::LimitExceeded { retry_after_ms, .. } => Some(*retry_after_ms),
        _ => None,
    }
}

/// A typed error as both functions answer it. `message` never contains a
/// secret (broker-core's errors carry names and codes only).
#[derive(Debug, Clone, Serialize)]
pub struct ErrorBody {
    /// Category.
    #[serde(rename = "type")]
    pub kind: ErrorType,
    /// What went wrong and, where possible, what to do.
    pub message: String,
    /// Whether and how to retry (from `kind`).
    pub retry: Retry,
    /// Minimum wait before retrying, when `kind` implies one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after_ms: Option<u64>,
}

impl ErrorBody {
    /// An error of `kind`, with that kind's advice.
    pub fn new(kind: ErrorType, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            retry: kind.retry(),
            retry_after_ms: kind.retry_after_ms(),
        }
    }
}

impl ErrorBody {
    /// Replace the type's default wait (a keybroker limit's window).
    pub fn retry_after(mut self, ms: Option<u64>) -> Self {
        if ms.is_some() {
            self.retry_after_ms = ms;
        }
        self
    }
}

impl From<&BrokerError> for ErrorBody {
    fn from(e: &BrokerError) -> Self {
        Self::new(ErrorType::of(e), e.to_string()).retry_after(limit_retry_after_ms(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use broker_core::RevokedReason;

    /// One of each `BrokerError` variant, with the type and advice each
    /// must get. Adding a variant to broker-core without adding it here
    /// leaves it at `internal`, which the last assertion catches for any
    /// variant listed.
    fn every_variant() -> Vec<(BrokerError, ErrorType, Retry)> {
        let s = || "x".to_owned();
        vec![
            (
                BrokerError::Revoked {
                    reason: RevokedReason::KeyDisabled,
                    code: s(),
                },
                ErrorType::Revoked,
                Retry::Never,
            ),
            (
                BrokerError::Tampered {
                    secret: s(),
                    detail: "tag",
                },
                ErrorType::Integrity,
                Retry::Never,
            ),
            (
                BrokerError::ContextMismatch {
                    secret: s(),
                    code: s(),
                },
                ErrorType::Integrity,
                Retry::Never,
            ),
            (
                BrokerError::Throttled {
                    service: "kms",
                    code: s(),
                },
                ErrorType::Throttled,
                Retry::Backoff,
            ),
            (
                BrokerError::LimitExceeded {
                    scope: broker_core::LimitScope::Agent,
                    limit: 3,
                    window_seconds: 60,
                    retry_after_ms: 1234,
                },
                ErrorType::Throttled,
                Retry::Backoff,
            ),
            (
                BrokerError::Unavailable {
                    service: "kms",
                    detail: s(),
                },
                ErrorType::Unavailable,
                Retry::Backoff,
            ),
            (
                BrokerError::NotFound {
                    what: "secret",
                    name: s(),
                },
                ErrorType::NotFound,
                Retry::Never,
            ),
            (
                BrokerError::Conflict {
                    what: "secret",
                    name: s(),
                    detail: s(),
                },
                ErrorType::Conflict,
                Retry::Reread,
            ),
            (
                BrokerError::InvalidInput {
                    field: "secret",
                    reason: s(),
                },
                ErrorType::InvalidRequest,
                Retry::Never,
            ),
            (
                BrokerError::Storage { detail: s() },
                ErrorType::Storage,
                Retry::Never,
            ),
            (
                BrokerError::Quarantined {
                    secret: s(),
                    probes: 3,
                },
                ErrorType::Quarantined,
                Retry::Never,
            ),
        ]
    }

    #[test]
    fn every_library_error_maps_with_the_right_advice() {
        let cases = every_variant();
        // One case per library kind: the list above covers the enum.
        let mut kinds: Vec<&str> = cases.iter().map(|(e, _, _)| e.kind()).collect();
        kinds.sort_unstable();
        kinds.dedup();
        assert_eq!(kinds.len(), cases.len());
        for (e, want, advice) in cases {
            let body = ErrorBody::from(&e);
            assert_eq!(body.kind, want, "{e:?}");
            assert_eq!(body.retry, advice, "{e:?}");
            assert_ne!(body.kind, ErrorType::Internal, "{e:?} is unmapped");
            assert_eq!(
                body.retry_after_ms.is_some(),
                want == ErrorType::Throttled,
                "{e:?}"
            );
        }
    }

    #[test]
    fn a_limit_refusal_is_throttled_with_the_windows_wait() {
        let e = BrokerError::LimitExceeded {
            scope: broker_core::LimitScope::Workspace,
            limit: 10,
            window_seconds: 60,
            retry_after_ms: 42_000,
        };
        let v = serde_json::to_value(ErrorBody::from(&e)).unwrap();
        assert_eq!(v["type"], "throttled");
        assert_eq!(v["retry"], "backoff");
        assert_eq!(v["retry_after_ms"], 42_000);
        let aws = BrokerError::Throttled {
            service: "kms",
            code: "ThrottlingException".into(),
        };
        assert_eq!(
            ErrorBody::from(&aws).retry_after_ms,
            Some(THROTTLED_RETRY_AFTER_MS)
        );
    }

    #[test]
    fn permanent_failures_are_never_retried() {
        for t in [
            ErrorType::Revoked,
            ErrorType::Denied,
            ErrorType::Integrity,
            ErrorType::InvalidRequest,
            ErrorType::Storage,
            ErrorType::Probe,
            ErrorType::Quarantined,
            ErrorType::Internal,
        ] {
            assert_eq!(t.retry(), Retry::Never, "{t:?}");
        }
    }

    #[test]
    fn the_wire_form_is_the_stable_name_and_advice() {
        for t in ErrorType::ALL {
            assert_eq!(serde_json::to_value(t).unwrap(), t.as_str());
        }
        let v = serde_json::to_value(ErrorBody::new(ErrorType::Throttled, "m")).unwrap();
        assert_eq!(
            v,
            serde_json::json!({ "type": "throttled", "message": "m", "retry": "backoff",
                                "retry_after_ms": THROTTLED_RETRY_AFTER_MS })
        );
        let v = serde_json::to_value(ErrorBody::new(ErrorType::Storage, "m")).unwrap();
        assert_eq!(v["retry"], "never");
        assert!(v.get("retry_after_ms").is_none());
    }
}
