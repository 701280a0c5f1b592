//! [`AdminError`]: the one error of the admin function's handlers, mapped to
//! the edge's vocabulary in one place.

use broker_core::BrokerError;
use keybroker_contract::ErrorType;

/// Why an admin call failed: the library refused, the event was not an
/// admin request, or this function failed after the library answered.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// The library's error, mapped like inject's ([`crate::edge::error::type_of`]).
    #[error(transparent)]
    Broker(#[from] BrokerError),
    /// The event is not valid JSON or not a known operation with its
    /// fields. serde's message names the field; the caller sent the event,
    /// so echoing it back to them leaks nothing new (it is never audited).
    #[error("invalid event: malformed admin event: {0}")]
    Malformed(#[source] serde_json::Error),
    /// The operation ran, but its result could not be turned into JSON:
    /// a bug here, not a storage failure. A write may have happened.
    #[error("the operation ran but its result could not be serialised; re-read (list_secrets) before retrying")]
    Unserialisable,
}

impl AdminError {
    /// The edge's error type for this failure.
    pub fn kind(&self) -> ErrorType {
        match self {
            Self::Broker(e) => crate::edge::error::type_of(e),
            Self::Malformed(_) => ErrorType::InvalidRequest,
            Self::Unserialisable => ErrorType::Internal,
        }
    }
}
