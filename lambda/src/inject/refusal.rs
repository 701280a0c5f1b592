//! [`Refusal`]: how any step of an injection says no (or fails) on its
//! way to the agent's answer and the audit record, and the two checks that
//! decide a refusal before `kms:Decrypt` from outside the request: the
//! library's error and the time left before the invocation deadline.

use std::time::{Duration, SystemTime};

use keybroker_contract::ErrorType;

use crate::edge::upstream::DEADLINE_MARGIN;

/// Below this much upstream time left, the request is refused before
/// `kms:Decrypt` rather than started without a chance to finish.
const MIN_UPSTREAM_TIME: Duration = Duration::from_millis(100);

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

/// A refusal of `kind` with `message` and nothing else set.
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

/// The library's error as a refusal, keeping what the answer reports
/// beside it: which limit refused and its wait, or the breaker's count.
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
        ..refuse(crate::edge::error::type_of(&e), e.to_string())
    }
}
