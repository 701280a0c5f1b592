//! The one error type of the crate, named for what the caller does next.
//!
//! Every variant carries only names, ARNs, AWS error codes and fixed text:
//! never plaintext, never ciphertext, never an SDK error value (whose raw
//! response could carry bytes we did not vet). That is what lets the Lambda
//! edge return `Display` of an error to an agent without a leak review.

use std::fmt;

/// Why the broker can no longer reach a secret's key: the customer (or the
/// platform operator) has locked it out. Revocation is an expected state, not
/// a fault, so it gets its own reasons instead of a generic "access denied".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RevokedReason {
    /// KMS refused the call: the key policy no longer grants the broker's
    /// role (or the encryption context no longer matches its conditions).
    KeyAccessDenied,
    /// The key exists but is disabled (`DisableKey`).
    KeyDisabled,
    /// The key is scheduled for deletion (`ScheduleKeyDeletion`).
    KeyPendingDeletion,
    /// The key is in another unusable state (pending import, unavailable
    /// custom key store, ...).
    KeyInvalidState,
    /// KMS does not know the key: deleted, wrong ARN, or wrong region.
    KeyNotFound,
    /// STS refused `AssumeRole`: the role is gone, its trust policy no longer
    /// allows the broker, or the external id in it differs.
    RoleAssumptionDenied,
}

impl RevokedReason {
    /// Stable snake_case identifier, used in DynamoDB status attributes, audit
    /// records and API responses. Never change an existing value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::KeyAccessDenied => "key_access_denied",
            Self::KeyDisabled => "key_disabled",
            Self::KeyPendingDeletion => "key_pending_deletion",
            Self::KeyInvalidState => "key_invalid_state",
            Self::KeyNotFound => "key_not_found",
            Self::RoleAssumptionDenied => "role_assumption_denied",
        }
    }

    /// Inverse of [`RevokedReason::as_str`], for records read back from storage.
    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::KeyAccessDenied,
            Self::KeyDisabled,
            Self::KeyPendingDeletion,
            Self::KeyInvalidState,
            Self::KeyNotFound,
            Self::RoleAssumptionDenied,
        ]
        .into_iter()
        .find(|r| r.as_str() == s)
    }

    /// What the key owner can do about it; shown to operators and customers.
    pub fn remedy(self) -> &'static str {
        match self {
            Self::KeyAccessDenied => {
                "the key policy does not let the broker role use the key for this workspace (an explicit Deny, such as the customer module's broker_access = \"revoked\", or no broker statement); set broker_access = \"enabled\" in the customer module to re-enable access"
            }
            Self::KeyDisabled => "the KMS key is disabled; enable it to re-enable access",
            Self::KeyPendingDeletion => {
                "the KMS key is scheduled for deletion; cancel the deletion and enable the key to re-enable access"
            }
            Self::KeyInvalidState => "the KMS key is not in a usable state",
            Self::KeyNotFound => {
                "the KMS key does not exist in the configured region; check the key ARN and region"
            }
            Self::RoleAssumptionDenied => {
                "the role is missing, its trust policy does not allow the broker principal, or its sts:ExternalId differs from the workspace's external id"
            }
        }
    }
}

impl fmt::Display for RevokedReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Everything that can go wrong in the broker, grouped by what to do next.
///
/// Deliberately not `#[non_exhaustive]`: the Lambda edge maps every variant
/// to an error type and retry advice with an exhaustive `match`, so adding a
/// variant fails to compile there until someone decides what agents are told.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BrokerError {
    /// The key owner has locked the broker out. Fail closed; do not retry
    /// until the customer restores access. The stored record is kept.
    #[error("revoked ({reason}): {}", reason.remedy())]
    Revoked {
        /// Which link of the chain broke.
        reason: RevokedReason,
        /// The AWS error code behind it, for operators.
        code: String,
    },

    /// The stored blob failed local integrity checks: bad magic, truncated,
    /// an authentication tag that does not verify, or a KMS answer naming a
    /// different key than the blob records. Never retried.
    #[error("stored blob for secret {secret:?} failed integrity checks: {detail}")]
    Tampered {
        /// Secret whose blob is bad.
        secret: String,
        /// Which check failed (fixed text, no data).
        detail: &'static str,
    },

    /// KMS rejected the encrypted data key for this context
    /// (`InvalidCiphertextException` / `IncorrectKeyException`): the blob was
    /// moved to another workspace or secret name, or altered. Never retried.
    #[error("KMS rejected the data key of secret {secret:?} for its workspace/secret encryption context ({code})")]
    ContextMismatch {
        /// Secret whose blob was rejected.
        secret: String,
        /// The AWS error code.
        code: String,
    },

    /// AWS kept throttling after the SDK's retries with backoff. Retry later.
    #[error("{service} throttled the request after retries ({code}); retry later")]
    Throttled {
        /// `kms`, `sts` or `dynamodb`.
        service: &'static str,
        /// The AWS error code.
        code: String,
    },

    /// A keybroker injection limit (per workspace or per agent, set by the
    /// operator or the deployment's default) refused the request before
    /// `kms:Decrypt`: nothing was decrypted or sent. Distinct from
    /// [`BrokerError::Throttled`] (AWS throttling) so operators can tell the
    /// two apart; agents see both as `throttled`, with this one's wait.
    #[error("{} injection limit reached ({limit} {}); retry after {retry_after_ms} ms", scope.as_str(), scope.per(*window_seconds))]
    LimitExceeded {
        /// Which limit.
        scope: crate::limits::scope::LimitScope,
        /// Its count per window.
        limit: u64,
        /// Its window length.
        window_seconds: u32,
        /// Until the next window starts.
        retry_after_ms: u64,
    },

    /// The secret's probe breaker tripped ([`crate::breaker`]): requests or
    /// responses carrying material derived from the credential reached its
    /// probe budget. Refused before `kms:Decrypt` until an operator clears
    /// it. The message is the same for every refused request of the secret
    /// (the count is for the audit record, not the text), so the answer
    /// carries nothing about what was found.
    #[error("secret {secret:?} is quarantined: requests or responses carrying material derived from the credential reached its probe budget; nothing was sent. An operator must review the audit records, then clear it with the admin op clear_breaker (keybroker clear-breaker)")]
    Quarantined {
        /// The secret.
        secret: String,
        /// Probe events counted when the request was refused (audit only).
        probes: u64,
    },

    /// An AWS service could not be reached or failed internally (timeouts,
    /// connection errors, 5xx after retries). Retry later.
    #[error("{service} is unavailable: {detail}")]
    Unavailable {
        /// `kms`, `sts` or `dynamodb`.
        service: &'static str,
        /// Error code or transport failure kind.
        detail: String,
    },

    /// The identity provider refused the `oauth2` secret's refresh token
    /// (`invalid_grant`: revoked, expired, or its grant was revoked). The
    /// secret is marked `reauth_required` and no refresh is tried again
    /// until it is connected again (`start_oauth2` / `complete_oauth2`).
    #[error("secret {secret:?} needs to be connected again: the identity provider refused its refresh token (invalid_grant); run the authorization-code flow again (admin start_oauth2 / complete_oauth2)")]
    ReauthRequired {
        /// The secret.
        secret: String,
    },

    /// Another invocation holds the `oauth2` secret's refresh lease and did
    /// not finish within the wait. Nothing was sent; retry shortly.
    #[error("secret {secret:?}: another invocation is refreshing its access token; retry shortly")]
    RefreshPending {
        /// The secret.
        secret: String,
    },

    /// The token endpoint refused a request for a reason other than
    /// `invalid_grant` (e.g. `invalid_client`): the OAuth client's
    /// configuration must change. Only the sanitised error code is kept.
    #[error("the token endpoint of secret {secret:?} refused the request ({code})")]
    OAuth2Refused {
        /// The secret.
        secret: String,
        /// The OAuth error code, sanitised.
        code: String,
    },

    /// The named workspace or secret does not exist.
    #[error("{what} not found: {name:?}")]
    NotFound {
        /// `workspace`, `secret` or `BYOK settings`.
        what: &'static str,
        /// The name that was looked up.
        name: String,
    },

    /// Someone else changed the record first (optimistic concurrency), or it
    /// already exists. Re-read and retry if still wanted.
    #[error("conflict on {what} {name:?}: {detail}")]
    Conflict {
        /// `secret` or `workspace`.
        what: &'static str,
        /// The record's name.
        name: String,
        /// What the write expected.
        detail: String,
    },

    /// The caller passed something the broker will not accept. Fix the input.
    #[error("invalid {field}: {reason}")]
    InvalidInput {
        /// Which input.
        field: &'static str,
        /// What is wrong with it (never echoes a secret value).
        reason: String,
    },

    /// DynamoDB failed in a way that is neither a conflict nor throttling, or
    /// a stored record is malformed.
    #[error("storage error: {detail}")]
    Storage {
        /// Error code or description of the malformed record.
        detail: String,
    },
}

impl BrokerError {
    pub(crate) fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        Self::InvalidInput {
            field,
            reason: reason.into(),
        }
    }

    /// The one constructor of `Tampered`: `detail` is fixed text naming the
    /// check that failed, never data from the record.
    pub(crate) fn tampered(secret: impl fmt::Display, detail: &'static str) -> Self {
        Self::Tampered {
            secret: secret.to_string(),
            detail,
        }
    }

    /// Stable machine-readable kind for APIs and audit records.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Revoked { .. } => "revoked",
            Self::Tampered { .. } => "tampered",
            Self::ContextMismatch { .. } => "context_mismatch",
            Self::Throttled { .. } => "throttled",
            Self::LimitExceeded { .. } => "limit_exceeded",
            Self::Quarantined { .. } => "quarantined",
            Self::Unavailable { .. } => "unavailable",
            Self::ReauthRequired { .. } => "reauth_required",
            Self::RefreshPending { .. } => "refresh_pending",
            Self::OAuth2Refused { .. } => "oauth2_refused",
            Self::NotFound { .. } => "not_found",
            Self::Conflict { .. } => "conflict",
            Self::InvalidInput { .. } => "invalid_input",
            Self::Storage { .. } => "storage",
        }
    }

    /// The revocation reason, if this error is a revocation.
    pub fn revoked_reason(&self) -> Option<RevokedReason> {
        match self {
            Self::Revoked { reason, .. } => Some(*reason),
            _ => None,
        }
    }
}

/// Result alias used across the crate.
pub type Result<T, E = BrokerError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_round_trip_through_their_stable_names() {
        for r in [
            RevokedReason::KeyAccessDenied,
            RevokedReason::KeyDisabled,
            RevokedReason::KeyPendingDeletion,
            RevokedReason::KeyInvalidState,
            RevokedReason::KeyNotFound,
            RevokedReason::RoleAssumptionDenied,
        ] {
            assert_eq!(RevokedReason::parse(r.as_str()), Some(r));
        }
        assert_eq!(RevokedReason::parse("nope"), None);
    }

    #[test]
    fn revoked_message_says_what_to_do() {
        let e = BrokerError::Revoked {
            reason: RevokedReason::KeyDisabled,
            code: "DisabledException".into(),
        };
        assert_eq!(
            e.to_string(),
            "revoked (key_disabled): the KMS key is disabled; enable it to re-enable access"
        );
        assert_eq!(e.kind(), "revoked");
    }
}
