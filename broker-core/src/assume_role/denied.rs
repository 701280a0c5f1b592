//! The inject path's negative cache of revoked `AssumeRole` answers.
//!
//! A revoked workspace (the customer removed the trust, or the role) used
//! to cost one `AssumeRole` on every injection attempt, against the broker
//! account's STS rate, which AWS does not raise: a looping agent of a
//! revoked workspace could spend the rate every other tenant renews its
//! sessions with. After STS refuses a role as revoked
//! ([`crate::RevokedReason::RoleAssumptionDenied`]), the refusal is kept
//! for [`DENIED_TTL`] per (workspace, role), in this sandbox only, and
//! served without a call.
//!
//! Why this does not delay a restore by more than the TTL: the cache
//! holds only the refusal, for 5 s from the answer it copies; the first
//! attempt after that asks STS again. A customer who restores the trust
//! policy sees injections succeed at most [`DENIED_TTL`] after IAM applies
//! the change (IAM itself is eventually consistent, usually seconds). Only
//! `inject` uses it: `admin`, `check_workspace` and `verify_byok` ask STS
//! fresh every time, so an operator checking a restore is never answered
//! from cache. Errors that are not a revocation (throttling, timeouts) are
//! never cached: they are the customer's or the network's passing state.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::error::BrokerError;
use crate::names::WorkspaceId;

/// How long a revoked answer stands in for STS.
pub const DENIED_TTL: Duration = Duration::from_secs(5);

/// Entries kept before the expired ones are swept (a bound on memory, not
/// on correctness: a full sweep keeps only live refusals).
const SWEEP_AT: usize = 1024;

/// Recent revoked answers per (workspace, role).
#[derive(Default)]
pub(crate) struct DeniedRoles {
    entries: Mutex<HashMap<(WorkspaceId, String), (Instant, BrokerError)>>,
}

impl DeniedRoles {
    /// The cached refusal, if STS refused this role less than
    /// [`DENIED_TTL`] before `now`.
    pub(crate) fn get(&self, ws: &WorkspaceId, role: &str, now: Instant) -> Option<BrokerError> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries
            .get(&(ws.clone(), role.to_owned()))
            .filter(|(at, _)| now.saturating_duration_since(*at) < DENIED_TTL)
            .map(|(_, e)| e.clone())
    }

    /// Remember `error` if it is a revoked answer from STS.
    pub(crate) fn record(&self, ws: &WorkspaceId, role: &str, error: &BrokerError, now: Instant) {
        if !is_role_revoked(error) {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= SWEEP_AT {
            entries.retain(|_, (at, _)| now.saturating_duration_since(*at) < DENIED_TTL);
        }
        entries.insert((ws.clone(), role.to_owned()), (now, error.clone()));
    }

    /// Forget a role's refusal (a session was assumed after all).
    pub(crate) fn clear(&self, ws: &WorkspaceId, role: &str) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries.remove(&(ws.clone(), role.to_owned()));
    }
}

fn is_role_revoked(e: &BrokerError) -> bool {
    matches!(
        e,
        BrokerError::Revoked {
            reason: crate::RevokedReason::RoleAssumptionDenied,
            ..
        }
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RevokedReason;

    fn revoked() -> BrokerError {
        BrokerError::Revoked {
            reason: RevokedReason::RoleAssumptionDenied,
            code: "AccessDenied".into(),
        }
    }

    #[test]
    fn a_revoked_answer_is_served_for_the_ttl_then_sts_is_asked_again() {
        let d = DeniedRoles::default();
        let ws = WorkspaceId::new("acme").unwrap();
        let t0 = Instant::now();
        d.record(&ws, "arn:r", &revoked(), t0);
        assert_eq!(
            d.get(&ws, "arn:r", t0 + Duration::from_millis(4999)),
            Some(revoked())
        );
        assert_eq!(
            d.get(&ws, "arn:r", t0 + DENIED_TTL),
            None,
            "expired at the TTL"
        );
        assert_eq!(d.get(&ws, "arn:other", t0), None, "per role");
        let other = WorkspaceId::new("globex").unwrap();
        assert_eq!(d.get(&other, "arn:r", t0), None, "per workspace");
        d.clear(&ws, "arn:r");
        assert_eq!(d.get(&ws, "arn:r", t0), None);
    }

    #[test]
    fn passing_errors_are_never_cached() {
        let d = DeniedRoles::default();
        let ws = WorkspaceId::new("acme").unwrap();
        let now = Instant::now();
        for e in [
            BrokerError::Throttled {
                service: "sts",
                code: "Throttling".into(),
            },
            BrokerError::Unavailable {
                service: "sts",
                detail: "timed out".into(),
            },
            BrokerError::Revoked {
                reason: RevokedReason::KeyAccessDenied,
                code: "AccessDeniedException".into(),
            },
        ] {
            d.record(&ws, "arn:r", &e, now);
            assert_eq!(d.get(&ws, "arn:r", now), None, "{e:?}");
        }
    }

    #[test]
    fn the_map_stays_bounded_by_live_refusals() {
        let d = DeniedRoles::default();
        let t0 = Instant::now();
        for i in 0..SWEEP_AT {
            d.record(
                &WorkspaceId::new(format!("ws-{i}")).unwrap(),
                "r",
                &revoked(),
                t0,
            );
        }
        let later = t0 + DENIED_TTL;
        d.record(&WorkspaceId::new("fresh").unwrap(), "r", &revoked(), later);
        assert_eq!(d.entries.lock().unwrap().len(), 1);
    }
}
