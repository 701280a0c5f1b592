//! The probe breaker: a per-secret count of the answers that showed an
//! agent holding (or an upstream reflecting) material derived from the
//! credential, and the quarantine it trips.
//!
//! ## Why it exists
//!
//! The response scan's verdict is visible to the agent (`echo_withheld`),
//! and the request scan's too (`probe`). With a token's public prefix known
//! (`sk-ant-api03-`, `github_pat_`, …) an agent that can make a bound
//! upstream echo its input extends a guess one character at a time: each
//! answer is one bit. An honest agent never holds a piece of the credential
//! and an honest upstream rarely reflects it, so these answers (*probe
//! events*) are counted per secret, and past a small budget the secret is
//! **quarantined**: every injection is refused before `kms:Decrypt` until an
//! operator looks and clears it (`clear_breaker`).
//!
//! ## Why per secret, not per agent
//!
//! The leak bound must hold per credential however many agent ids a
//! workspace has: agent ids are asserted by the runtime, and a compromised
//! runtime has as many as it likes. Tripping needs credential-derived
//! material in a request or a host that reflects the credential, both of
//! which an operator should look at, so quarantining the whole secret costs
//! honest agents nothing they should not already stop for.
//!
//! ## The decision points (why every answer reads the breaker after its scan)
//!
//! A check that runs only before `kms:Decrypt` breaks under a concurrent
//! burst: a thousand probes admitted before the first hit is counted would
//! each learn their bit. So every answer that depends on a scan outcome is
//! decided against the breaker's state *after* the scan, at one of two
//! points: right after the request scan (before anything is sent), and
//! after the response scan.
//!
//! * a hit (request probe or response echo) is one conditional `UpdateItem`
//!   (`ADD probes :one` if `probes < budget`): success answers `probe` /
//!   `echo_withheld`; a failed condition answers `quarantined`, exactly
//!   what every later request gets;
//! * a miss is one strongly consistent read of the count at the same
//!   point: at or over the budget, the answer is `quarantined` (nothing is
//!   sent, or whatever the upstream said is dropped); otherwise go on.
//!
//! If misses were decided earlier (at load, or while the upstream call ran),
//! a hit over the budget (answered `quarantined`) would be distinguishable
//! from a concurrent miss (answered normally): one bit per request in
//! flight. If a clean request were only decided after the upstream call,
//! a request-scan hit over the budget would be answered `quarantined` at
//! once and a clean one a round trip later: the same bit, in the timing.
//! With hits and misses decided at the same point, every answer after the
//! trip is `quarantined`, at the same moment of the request, whatever the
//! scan found, so an attacker learns from at most `budget` hits, plus the
//! misses decided before the trip. The price is two strongly consistent
//! reads per clean injection (docs/BENCHMARKS.md).
//!
//! A miss's answer must be decided later than any hit it races: DynamoDB's
//! conditional update and strongly consistent read are linearizable per
//! item, so a miss that reads after the budget-th hit was written sees it.
//! What stays observable is documented in docs/THREAT_MODEL.md ("The probe
//! breaker"): misses themselves (each rules out candidates), and the small
//! difference between an `UpdateItem` and a `GetItem`.

use crate::error::{BrokerError, Result};
use crate::names::{SecretName, WorkspaceId};

/// The deployment's budget when `KEYBROKER_PROBE_BUDGET` is unset: three
/// probe events per secret, then quarantine.
pub const DEFAULT_PROBE_BUDGET: u32 = 3;
/// The largest budget a deployment or a secret may have. A budget is what
/// an attacker may learn from; a reflecting upstream that needs more should
/// not be bound to the secret.
pub const MAX_PROBE_BUDGET: u32 = 1000;

/// What a probe event was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProbeKind {
    /// The agent's request (URL, a header, the body) contained a form of
    /// the credential: it was not sent.
    Request,
    /// The upstream's answer contained a form of the credential: withheld
    /// (or redacted, for a binding that opted in).
    Echo,
}

impl ProbeKind {
    /// The stored word (`last_probe_kind`) and audit value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Request => "request",
            Self::Echo => "echo",
        }
    }

    /// Inverse of [`ProbeKind::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Request, Self::Echo]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

/// A secret's breaker as stored (`store::breaker`); absent item: all
/// defaults (no probes, the deployment's budget).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct BreakerState {
    /// Probe events since the breaker was last cleared.
    pub probes: u64,
    /// The secret's own budget (`set_probe_budget`); `None`: the deployment's.
    pub probe_budget: Option<u32>,
    /// When the last probe event was counted (Unix milliseconds).
    pub last_probe_at_ms: Option<u64>,
    /// What the last probe event was.
    pub last_probe_kind: Option<ProbeKind>,
}

impl BreakerState {
    /// The budget in force: the secret's own, else `default`.
    pub fn budget(&self, default: u32) -> u32 {
        self.probe_budget.unwrap_or(default)
    }

    /// Whether the secret is quarantined under `default`.
    pub fn tripped(&self, default: u32) -> bool {
        self.probes >= u64::from(self.budget(default))
    }
}

/// Validate a budget (deployment setting or `set_probe_budget`).
pub fn validate_budget(budget: u32, field: &'static str) -> Result<u32> {
    if (1..=MAX_PROBE_BUDGET).contains(&budget) {
        Ok(budget)
    } else {
        Err(BrokerError::invalid(
            field,
            format!("must be between 1 and {MAX_PROBE_BUDGET}"),
        ))
    }
}

/// Parse the `KEYBROKER_PROBE_BUDGET` deployment setting.
pub fn parse_setting(v: &str) -> Result<u32> {
    let field = crate::BrokerConfig::PROBE_BUDGET_VAR;
    let n = v.trim().parse::<u32>().map_err(|_| {
        BrokerError::invalid(
            field,
            format!("must be a whole number between 1 and {MAX_PROBE_BUDGET}"),
        )
    })?;
    validate_budget(n, field)
}

/// The breaker of one admitted injection: which secret its probe events are
/// counted against, and the budget they are counted against. Only
/// [`crate::Broker::admit`] builds one, after checking the secret is not
/// quarantined; the inject function decides each answer with it
/// ([`crate::Broker::count_probe`], [`crate::Broker::confirm_not_quarantined`]).
#[derive(Debug, Clone)]
pub struct Probation {
    pub(crate) ws: WorkspaceId,
    pub(crate) name: SecretName,
    pub(crate) budget: u32,
}

impl Probation {
    /// The budget this injection is decided against.
    pub fn budget(&self) -> u32 {
        self.budget
    }
}

/// The one constructor of the `quarantined` error (its message is the same
/// for every refused request of the secret, whatever led to it, so that the
/// answer itself carries nothing).
pub(crate) fn quarantined(name: &SecretName, probes: u64) -> BrokerError {
    BrokerError::Quarantined {
        secret: name.to_string(),
        probes,
    }
}

/// What `clear_breaker` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct BreakerCleared {
    /// The probe events the clear removed (0: there were none).
    pub cleared: u64,
    /// Whether the secret was quarantined before the clear.
    pub was_quarantined: bool,
}

/// What `set_probe_budget` changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct BudgetChange {
    /// The secret's own budget before (`None`: the deployment's applied).
    pub previous: Option<u32>,
    /// The secret's own budget after.
    pub current: Option<u32>,
    /// The budget in force now.
    pub effective: u32,
    /// Probe events counted so far (a budget at or under it quarantines).
    pub probes: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budgets_are_one_to_a_thousand() {
        for ok in ["1", "3", " 1000 "] {
            assert!(parse_setting(ok).is_ok(), "{ok}");
        }
        for bad in ["0", "1001", "-1", "", "three", "off", "3.0"] {
            assert!(
                matches!(parse_setting(bad), Err(BrokerError::InvalidInput { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn the_breaker_trips_at_its_budget() {
        let mut s = BreakerState::default();
        assert!(!s.tripped(3));
        s.probes = 2;
        assert!(!s.tripped(3));
        s.probes = 3;
        assert!(s.tripped(3));
        s.probe_budget = Some(10);
        assert!(!s.tripped(3), "the secret's own budget wins");
        assert_eq!(s.budget(3), 10);
    }

    #[test]
    fn kinds_round_trip() {
        for k in [ProbeKind::Request, ProbeKind::Echo] {
            assert_eq!(ProbeKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(ProbeKind::parse("x"), None);
    }
}
