//! The single place where AWS SDK errors become [`BrokerError`]s.
//!
//! Several codes a broker must act on (`AccessDeniedException`,
//! `ThrottlingException` on KMS; `AccessDenied` on STS) are not modelled
//! variants in the Rust SDK's operation errors, so matching on enum variants
//! would silently miss them. We match on the wire error code instead, which
//! covers modelled and unmodelled errors alike, and keep only the code: an
//! SDK error's message or raw response is never copied into our errors.

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use crate::error::{BrokerError, RevokedReason};

/// Which AWS service an error came from; the same code means different things
/// on different services (`AccessDenied` on STS is a trust failure, on KMS a
/// key-policy failure).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Service {
    Kms,
    Sts,
    DynamoDb,
}

impl Service {
    fn name(self) -> &'static str {
        match self {
            Self::Kms => "kms",
            Self::Sts => "sts",
            Self::DynamoDb => "dynamodb",
        }
    }
}

/// Wire error code of a service error, if the failure got that far.
pub(crate) fn error_code<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> Option<&str> {
    match err {
        SdkError::ServiceError(ctx) => ctx.err().code(),
        _ => None,
    }
}

/// Map any SDK failure of `service` to what a caller can act on. `secret`
/// names the secret involved, for errors that are about one blob.
pub(crate) fn classify<E: ProvideErrorMetadata, R>(
    service: Service,
    secret: Option<&str>,
    err: &SdkError<E, R>,
) -> BrokerError {
    match err {
        SdkError::ServiceError(ctx) => {
            let e = ctx.err();
            let code = e.code().unwrap_or("UnknownError");
            classify_code(service, secret, code, e.message().unwrap_or(""))
        }
        SdkError::TimeoutError(_) => unavailable(service, "timed out"),
        SdkError::DispatchFailure(f) if f.is_timeout() => unavailable(service, "timed out"),
        SdkError::DispatchFailure(_) => unavailable(service, "could not connect"),
        SdkError::ResponseError(_) => unavailable(service, "unreadable response"),
        SdkError::ConstructionFailure(_) => unavailable(service, "request could not be built"),
        _ => unavailable(service, "unknown SDK failure"),
    }
}

/// The code table itself, separate from the SDK types so it can be tested
/// exhaustively without building SDK errors.
pub(crate) fn classify_code(
    service: Service,
    secret: Option<&str>,
    code: &str,
    message: &str,
) -> BrokerError {
    let revoked = |reason| BrokerError::Revoked {
        reason,
        code: code.to_owned(),
    };
    let throttled = || BrokerError::Throttled {
        service: service.name(),
        code: code.to_owned(),
    };
    match (service, code) {
        (Service::Kms, "AccessDeniedException") => revoked(RevokedReason::KeyAccessDenied),
        (Service::Kms, "DisabledException") => revoked(RevokedReason::KeyDisabled),
        (Service::Kms, "KMSInvalidStateException") => {
            // The same code covers every non-usable key state; only the
            // message tells pending deletion apart (it is never copied out).
            let m = message.to_ascii_lowercase();
            if m.contains("pending deletion") || m.contains("pendingdeletion") {
                revoked(RevokedReason::KeyPendingDeletion)
            } else {
                revoked(RevokedReason::KeyInvalidState)
            }
        }
        (Service::Kms, "NotFoundException") => revoked(RevokedReason::KeyNotFound),
        (Service::Kms, "InvalidCiphertextException" | "IncorrectKeyException") => {
            BrokerError::ContextMismatch {
                secret: secret.unwrap_or_default().to_owned(),
                code: code.to_owned(),
            }
        }
        (Service::Kms, "InvalidKeyUsageException") => BrokerError::invalid(
            "key_arn",
            "the KMS key is not a symmetric ENCRYPT_DECRYPT key",
        ),
        (Service::Kms, "ThrottlingException" | "LimitExceededException") => throttled(),
        (Service::Sts, "AccessDenied" | "AccessDeniedException" | "NoSuchEntity") => {
            revoked(RevokedReason::RoleAssumptionDenied)
        }
        (Service::Sts, "RegionDisabledException") => BrokerError::invalid(
            "region",
            "STS is not activated in this region for the broker account",
        ),
        (Service::Sts, "Throttling" | "ThrottlingException") => throttled(),
        (
            Service::DynamoDb,
            "ProvisionedThroughputExceededException"
            | "ThrottlingException"
            | "RequestLimitExceeded",
        ) => throttled(),
        (Service::DynamoDb, "InternalServerError" | "ServiceUnavailable") => {
            unavailable(service, code)
        }
        (Service::DynamoDb, _) => BrokerError::Storage {
            detail: format!("DynamoDB error {code}"),
        },
        _ => unavailable(service, code),
    }
}

fn unavailable(service: Service, detail: &str) -> BrokerError {
    BrokerError::Unavailable {
        service: service.name(),
        detail: detail.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(service: Service, code: &str, msg: &str) -> Option<RevokedReason> {
        classify_code(service, Some("s"), code, msg).revoked_reason()
    }

    #[test]
    fn kms_revocation_codes_map_to_reasons() {
        use RevokedReason::*;
        assert_eq!(
            reason(Service::Kms, "AccessDeniedException", ""),
            Some(KeyAccessDenied)
        );
        assert_eq!(
            reason(Service::Kms, "DisabledException", ""),
            Some(KeyDisabled)
        );
        assert_eq!(
            reason(
                Service::Kms,
                "KMSInvalidStateException",
                "arn:... is pending deletion."
            ),
            Some(KeyPendingDeletion)
        );
        assert_eq!(
            reason(
                Service::Kms,
                "KMSInvalidStateException",
                "key is PendingImport"
            ),
            Some(KeyInvalidState)
        );
        assert_eq!(
            reason(Service::Kms, "NotFoundException", ""),
            Some(KeyNotFound)
        );
        assert_eq!(
            reason(Service::Sts, "AccessDenied", ""),
            Some(RoleAssumptionDenied)
        );
    }

    #[test]
    fn same_code_means_different_things_per_service() {
        assert_eq!(
            reason(Service::Sts, "AccessDenied", ""),
            Some(RevokedReason::RoleAssumptionDenied)
        );
        assert!(matches!(
            classify_code(Service::DynamoDb, None, "AccessDeniedException", ""),
            BrokerError::Storage { .. }
        ));
    }

    #[test]
    fn integrity_and_throttling_codes() {
        for code in ["InvalidCiphertextException", "IncorrectKeyException"] {
            assert_eq!(
                classify_code(Service::Kms, Some("api"), code, ""),
                BrokerError::ContextMismatch {
                    secret: "api".into(),
                    code: code.into()
                }
            );
        }
        for (svc, code) in [
            (Service::Kms, "ThrottlingException"),
            (Service::Sts, "Throttling"),
            (Service::DynamoDb, "ProvisionedThroughputExceededException"),
        ] {
            assert!(matches!(
                classify_code(svc, None, code, ""),
                BrokerError::Throttled { .. }
            ));
        }
    }

    #[test]
    fn messages_are_never_copied_into_errors() {
        let e = classify_code(
            Service::DynamoDb,
            None,
            "ValidationException",
            "value CANARY",
        );
        assert!(!e.to_string().contains("CANARY"));
        let e = classify_code(Service::Kms, None, "KMSInternalException", "CANARY");
        assert!(!e.to_string().contains("CANARY"));
    }
}
