//! Injection limits on the read path: [`Broker::admit`] refuses a
//! quarantined secret ([`crate::breaker`]) and counts an authorized request
//! against its workspace's limits before `kms:Decrypt`, and
//! [`Broker::set_limits`] is the operator's control (arithmetic in
//! [`crate::limits`], storage in `store::counters`).

use super::Broker;
use crate::access::Authorized;
use crate::breaker::{quarantined, Probation};
use crate::error::Result;
use crate::limits::{self, Limits, Precheck, StoredLimits};
use crate::names::WorkspaceId;

/// Proof that an authorized request was counted within its workspace's
/// limits, for a secret that was not quarantined when it was loaded. Only
/// [`Broker::admit`] builds it, and only it can be decrypted for injection
/// ([`Broker::decrypt_for_injection`]): a request over a limit, or for a
/// quarantined secret, cannot reach the customer's key.
#[derive(Debug)]
pub struct Admitted {
    pub(super) authorized: Authorized,
    probation: Probation,
}

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
        self.count_use(&loaded.ws, authorized.agent(), loaded.limits)
            .await?;
        Ok(Admitted {
            authorized,
            probation,
        })
    }

    /// Count one use by `agent` against what `stored` and the deployment
    /// default make effective ([`StoredLimits::effective`]): an injection,
    /// or a catalog listing (`broker::catalog`), on the same counters.
    pub(super) async fn count_use(
        &self,
        ws: &WorkspaceId,
        agent: &str,
        stored: StoredLimits,
    ) -> Result<()> {
        let now_ms = limits::now_ms();
        let Some(applied) = stored.effective(self.default_limits) else {
            return Ok(());
        };
        let anchor_ms = stored.anchor_ms();
        let refused = match limits::precheck(Some(applied), anchor_ms, now_ms) {
            Precheck::Unlimited => None,
            Precheck::Refuse(scope) => Some(scope),
            Precheck::Count {
                window,
                workspace,
                agent: agent_limit,
            } => {
                self.store
                    .count_injection(ws, agent, window, workspace, agent_limit)
                    .await?
            }
        };
        match refused {
            None => Ok(()),
            Some(scope) => {
                tracing::info!(workspace = %ws, agent, scope = scope.as_str(), "injection limit reached");
                Err(limits::exceeded(scope, applied, anchor_ms, now_ms))
            }
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
