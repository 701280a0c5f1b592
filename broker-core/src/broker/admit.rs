//! Injection limits on the read path: [`Broker::admit`] refuses a
//! quarantined secret ([`crate::breaker`]) and counts an authorized request
//! against its workspace's limits before `kms:Decrypt`, and
//! [`Broker::set_limits`] is the operator's control (arithmetic in
//! [`crate::limits`], storage in `store::counters`).

use super::Broker;
use crate::access::Authorized;
use crate::breaker::{quarantined, Probation};
use crate::error::{BrokerError, Result};
use crate::limits::{self, scale, LimitScope, Limits, Precheck, StoredLimits};
use crate::names::WorkspaceId;
use crate::store::counters::{CountPlan, Counted, SlotKey};

/// 16 random bits for the shard draw (a clock-derived fallback if the
/// system RNG fails: the draw needs spread, not secrecy).
fn random_u16() -> u16 {
    let mut b = [0u8; 2];
    match aws_lc_rs::rand::fill(&mut b) {
        Ok(()) => u16::from_le_bytes(b),
        Err(_) => (limits::now_ms() % 65_536) as u16,
    }
}

/// Proof that an authorized request was counted within its workspace's
/// limits, for a secret that was not quarantined when it was loaded. Only
/// [`Broker::admit`] builds it, and only it can be decrypted for injection
/// ([`Broker::decrypt_for_injection`]): a request over a limit, or for a
/// quarantined secret, cannot reach the customer's key.
#[derive(Debug)]
pub struct Admitted {
    pub(super) authorized: Authorized,
    probation: Probation,
    slot: Option<InFlightSlot>,
}

/// A workspace's in-flight slot ([`crate::limits::scale`]), taken by
/// [`Broker::admit`]; give it back with [`Broker::release`] once the
/// upstream call ended, however it ended. Dropped unreleased (a crashed
/// sandbox), it stops counting when its 30 s bucket ends.
#[derive(Debug)]
#[must_use = "release the slot after the upstream call (Broker::release)"]
pub struct InFlightSlot(SlotKey);

impl Admitted {
    /// The authorized request.
    pub fn authorized(&self) -> &Authorized {
        &self.authorized
    }

    /// The secret's breaker, to decide this injection's answer with after
    /// its scans ([`crate::breaker`], "The decision point").
    pub fn probation(&self) -> &Probation {
        &self.probation
    }

    /// Take the in-flight slot out, to release after the upstream call
    /// (`None`: no bound applies).
    pub fn take_slot(&mut self) -> Option<InFlightSlot> {
        self.slot.take()
    }
}

/// What `set_limits` changed: the workspace's own limits before and after
/// (`None`: none set, the deployment default applied), and what applies now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct LimitsChange {
    /// The workspace's limits before the call.
    pub previous: Option<Limits>,
    /// The workspace's limits after the call.
    pub current: Option<Limits>,
    /// What injections are counted against now (`current`, else the
    /// deployment default); `None`: unlimited.
    pub effective: Option<Limits>,
}

impl Broker {
    /// Third step of an injection, after [`Broker::authorize`]: refuse a
    /// quarantined secret (`Quarantined`, from the breaker state the load
    /// read: no call), then count the request against its workspace's
    /// limits (its own, else the deployment's
    /// [`crate::BrokerConfig::default_limits`]; the default too when the
    /// workspace's item is unreadable). One DynamoDB `UpdateItem` per limit
    /// that applies, none if none does. Over a limit: `LimitExceeded` with
    /// the wait until the next window, and nothing counted, decrypted or
    /// sent.
    pub async fn admit(&self, authorized: Authorized) -> Result<Admitted> {
        let loaded = authorized.loaded();
        if loaded.breaker.tripped(self.probe_budget) {
            tracing::info!(workspace = %loaded.ws, secret = %loaded.name, probes = loaded.breaker.probes, "secret quarantined by its probe breaker");
            return Err(quarantined(&loaded.name, loaded.breaker.probes));
        }
        let probation = Probation {
            ws: loaded.ws.clone(),
            name: loaded.name.clone(),
            budget: loaded.breaker.budget(self.probe_budget),
        };
        let slot = self
            .count_use(&loaded.ws, authorized.agent(), loaded.limits, true)
            .await?
            .map(InFlightSlot);
        Ok(Admitted {
            authorized,
            probation,
            slot,
        })
    }

    /// Give back an in-flight slot (one `UpdateItem`; a failure is logged,
    /// the slot then expires with its bucket).
    pub async fn release(&self, slot: Option<InFlightSlot>) {
        if let Some(InFlightSlot(key)) = slot {
            self.store.release_slot(&key).await;
        }
    }

    /// Count one use by `agent` against what `stored` and the deployment
    /// default make effective ([`StoredLimits::effective`]): an injection
    /// (`take_slot`: also a slot under the deployment's in-flight bound), or
    /// a catalog listing (`broker::catalog`), on the same counters. The
    /// workspace's counts are split over the deployment's counter shards.
    pub(super) async fn count_use(
        &self,
        ws: &WorkspaceId,
        agent: &str,
        stored: StoredLimits,
        take_slot: bool,
    ) -> Result<Option<SlotKey>> {
        let now_ms = limits::now_ms();
        let applied = stored.effective(self.default_limits);
        let anchor_ms = stored.anchor_ms();
        let in_flight = self.in_flight_limit.filter(|_| take_slot);
        let shards = self.counter_shards;
        let refuse = |scope| self.refusal(ws, agent, scope, applied, anchor_ms, now_ms);
        let (window, workspace, agent_limit) = match limits::precheck(applied, anchor_ms, now_ms) {
            Precheck::Refuse(scope) => return Err(refuse(scope)),
            Precheck::Unlimited if in_flight.is_none() => return Ok(None),
            // No rate limit, but a bound in flight: its slots live on the
            // workspace counter of a default-length, epoch-aligned window.
            Precheck::Unlimited => (Limits::BUILT_IN_DEFAULT.window_at(0, now_ms), None, None),
            Precheck::Count {
                window,
                workspace,
                agent,
            } => (window, workspace, agent),
        };
        let plan = CountPlan {
            window,
            workspace: workspace.map(|l| scale::per_shard(l, shards)),
            agent: agent_limit,
            in_flight: in_flight.map(|l| scale::per_shard(u64::from(l), shards)),
            shard: shards.pick(random_u16()),
            now_ms,
        };
        match self.store.count_injection(ws, agent, plan).await? {
            Counted::Admitted(slot) => Ok(slot),
            Counted::Refused(scope) => Err(refuse(scope)),
        }
    }

    fn refusal(
        &self,
        ws: &WorkspaceId,
        agent: &str,
        scope: LimitScope,
        applied: Option<Limits>,
        anchor_ms: u64,
        now_ms: u64,
    ) -> BrokerError {
        tracing::info!(workspace = %ws, agent, scope = scope.as_str(), "injection limit reached");
        match (scope, applied) {
            (LimitScope::InFlight, _) | (_, None) => BrokerError::LimitExceeded {
                scope: LimitScope::InFlight,
                limit: u64::from(self.in_flight_limit.unwrap_or(0)),
                window_seconds: 0,
                retry_after_ms: scale::IN_FLIGHT_RETRY_AFTER_MS,
            },
            (scope, Some(applied)) => limits::exceeded(scope, applied, anchor_ms, now_ms),
        }
    }

    /// Set (`Some`) or clear (`None`) a workspace's injection limits; a
    /// cleared workspace falls back to the deployment default. Takes effect
    /// from the next injection (the read path reads the limits with the
    /// secret, consistently), in a new window: the item records when it
    /// was stored, and its windows start then (`crate::limits`), so counts
    /// made under the previous setting do not carry over.
    pub async fn set_limits(
        &self,
        ws: &WorkspaceId,
        limits: Option<Limits>,
    ) -> Result<LimitsChange> {
        let limits = limits.map(Limits::validate).transpose()?;
        let previous = self.store.set_limits(ws, limits, limits::now_ms()).await?;
        tracing::info!(workspace = %ws, ?previous, current = ?limits, "injection limits set");
        Ok(LimitsChange {
            previous,
            current: limits,
            effective: limits.or(self.default_limits),
        })
    }
}
