//! The one error vocabulary of the Lambda edge, shared by `inject` and
//! `admin`: a stable `type` an agent runtime or control plane can branch on,
//! and the retry advice that goes with it (docs/INVOCATION.md, "Errors").
//!
//! Why one place: the two functions used to answer the same library error
//! with different names (`invalid_request` here, `invalid_input` there), and
//! a catch-all arm told agents to retry a permanent storage failure. The
//! mapping from [`BrokerError`] lives only in [`type_of`], and the
//! advice only in [`ErrorType::retry`], so both functions always agree.

use broker_core::BrokerError;
pub use keybroker_contract::{ErrorBody, ErrorType, Retry, THROTTLED_RETRY_AFTER_MS};

/// The one mapping from a library error to the edge's type. Exhaustive,
/// with no wildcard arm: a new `BrokerError` variant does not compile
/// until it is given a type (and so its retry advice) here.
pub fn type_of(e: &BrokerError) -> ErrorType {
    match e {
        BrokerError::Revoked { .. } => ErrorType::Revoked,
        BrokerError::Tampered { .. } | BrokerError::ContextMismatch { .. } => ErrorType::Integrity,
        // A keybroker limit keeps the wire type agents already handle;
        // its wait comes from the window ([`limit_retry_after_ms`]).
        BrokerError::Throttled { .. } | BrokerError::LimitExceeded { .. } => ErrorType::Throttled,
        BrokerError::Quarantined { .. } => ErrorType::Quarantined,
        BrokerError::Unavailable { .. } => ErrorType::Unavailable,
        // Another sandbox is refreshing the token: transient.
        BrokerError::RefreshPending { .. } => ErrorType::Unavailable,
        BrokerError::ReauthRequired { .. } | BrokerError::OAuth2Refused { .. } => {
            ErrorType::ReauthRequired
        }
        BrokerError::NotFound { .. } => ErrorType::NotFound,
        BrokerError::Conflict { .. } => ErrorType::Conflict,
        BrokerError::InvalidInput { .. } => ErrorType::InvalidRequest,
        // broker-core already maps DynamoDB's transient failures to
        // `Throttled`/`Unavailable`; what is left is permanent.
        BrokerError::Storage { .. } => ErrorType::Storage,
    }
}

/// The wait a keybroker injection limit implies (until its window ends),
/// in place of [`THROTTLED_RETRY_AFTER_MS`]; `None` for every other error.
pub fn limit_retry_after_ms(e: &BrokerError) -> Option<u64> {
    match e {
        BrokerError::LimitExceeded { retry_after_ms, .. } => Some(*retry_after_ms),
        _ => None,
    }
}

/// The body a library error is answered with: its type, its message (names
/// and codes only, never a secret) and a limit's own wait.
pub fn body_of(e: &BrokerError) -> ErrorBody {
    ErrorBody::new(type_of(e), e.to_string()).retry_after(limit_retry_after_ms(e))
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
            let body = body_of(&e);
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
        let v = serde_json::to_value(body_of(&e)).unwrap();
        assert_eq!(v["type"], "throttled");
        assert_eq!(v["retry"], "backoff");
        assert_eq!(v["retry_after_ms"], 42_000);
        let aws = BrokerError::Throttled {
            service: "kms",
            code: "ThrottlingException".into(),
        };
        assert_eq!(body_of(&aws).retry_after_ms, Some(THROTTLED_RETRY_AFTER_MS));
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
}
