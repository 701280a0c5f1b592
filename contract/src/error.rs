//! The one error vocabulary of both functions (docs/INVOCATION.md,
//! "Errors"): a stable `type` a caller branches on, the retry advice that
//! goes with it, and the body every `ok: false` reply carries. Which
//! broker-core error becomes which type is the edge's decision
//! (lambda's `edge::error`); what each type means to a caller is here.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Error categories. Stable snake_case strings: never rename one, agents
/// and the CLI branch on them.
///
/// `Other` is a type this build does not know (a newer deployment's): kept
/// with its name so it can be shown and logged, advised as `never` (the
/// caller cannot know that retrying helps), never produced by the functions.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
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
    /// A type this build does not know, with its wire name.
    Other(String),
}

/// What a caller should do about an error. Advice for the *same* request:
/// whether sending it again, unchanged, can succeed.
///
/// Advice this build does not know reads as [`Retry::Never`]'s sibling
/// [`Retry::Unknown`]: treat it as `never` until the client is upgraded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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
    /// Advice from a newer deployment (only ever read, never written).
    #[serde(other, skip_serializing)]
    Unknown,
}

/// Lower bound on the first wait after `throttled`: the SDK has already
/// retried with backoff for about a second, so retrying sooner only adds to
/// the load that caused it.
pub const THROTTLED_RETRY_AFTER_MS: u64 = 1000;

impl ErrorType {
    /// The retry advice for this type (exhaustive: a new type must say).
    pub fn retry(&self) -> Retry {
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
            | Self::Internal
            | Self::Other(_) => Retry::Never,
        }
    }

    /// Minimum wait before a retry, where the type implies one.
    pub fn retry_after_ms(&self) -> Option<u64> {
        (*self == Self::Throttled).then_some(THROTTLED_RETRY_AFTER_MS)
    }

    /// Whether the caller's request was refused (it asked for something it
    /// may not have, or that does not exist) rather than the broker, AWS or
    /// the upstream failing. inject's audit `decision` is `deny` for these.
    /// A probe and a quarantine are refusals too: the agent asked for
    /// something it may not have (they have their own metrics).
    pub fn is_refusal(&self) -> bool {
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
    pub fn is_error(&self) -> bool {
        !self.is_refusal() && *self != Self::Revoked
    }

    /// The stable string (what `type` holds in a response).
    pub fn as_str(&self) -> &str {
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
            Self::Other(name) => name,
        }
    }

    /// The type named `name`: a known one, else [`ErrorType::Other`].
    pub fn from_name(name: &str) -> Self {
        Self::ALL
            .into_iter()
            .find(|t| t.as_str() == name)
            .unwrap_or_else(|| Self::Other(name.to_owned()))
    }

    /// Every known type, for tests and docs checks.
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

impl std::fmt::Display for ErrorType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ErrorType {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ErrorType {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = std::borrow::Cow::<'de, str>::deserialize(d)?;
        Ok(Self::from_name(&name))
    }
}

/// A typed error as both functions answer it. `message` never contains a
/// secret (broker-core's errors carry names and codes only).
///
/// Read leniently: a reply without `retry` (an older deployment) reads as
/// the type's own advice would not be known, so it defaults to `never`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// Category.
    #[serde(rename = "type")]
    pub kind: ErrorType,
    /// What went wrong and, where possible, what to do.
    #[serde(default)]
    pub message: String,
    /// Whether and how to retry (from `kind`).
    #[serde(default = "unknown_retry")]
    pub retry: Retry,
    /// Minimum wait before retrying, when `kind` implies one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_ms: Option<u64>,
}

fn unknown_retry() -> Retry {
    Retry::Unknown
}

impl ErrorBody {
    /// An error of `kind`, with that kind's advice.
    pub fn new(kind: ErrorType, message: impl Into<String>) -> Self {
        Self {
            retry: kind.retry(),
            retry_after_ms: kind.retry_after_ms(),
            kind,
            message: message.into(),
        }
    }
}

impl std::fmt::Display for ErrorBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.kind, self.message)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_types_round_trip_and_unknown_ones_are_kept() {
        for t in ErrorType::ALL {
            let v = serde_json::to_value(&t).unwrap();
            assert_eq!(v, t.as_str());
            assert_eq!(serde_json::from_value::<ErrorType>(v).unwrap(), t);
        }
        let newer: ErrorBody = serde_json::from_str(
            r#"{"type": "budget_exhausted", "message": "m", "retry": "after_midnight", "extra": 1}"#,
        )
        .unwrap();
        assert_eq!(newer.kind, ErrorType::Other("budget_exhausted".into()));
        assert_eq!(newer.retry, Retry::Unknown);
        assert_eq!(newer.kind.retry(), Retry::Never);
        assert_eq!(newer.to_string(), "budget_exhausted: m");
    }

    #[test]
    fn the_wire_form_is_the_stable_name_and_advice() {
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
