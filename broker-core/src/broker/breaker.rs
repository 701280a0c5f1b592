//! The probe breaker on the read path and its operator controls
//! ([`crate::breaker`] has the design and the argument for its decision
//! point; storage is `store::breaker`).

use std::collections::BTreeMap;

use super::{not_found_secret, Broker};
use crate::breaker::{
    quarantined, validate_budget, BreakerCleared, BreakerState, BudgetChange, Probation, ProbeKind,
};
use crate::error::Result;
use crate::names::{SecretName, WorkspaceId};

impl Broker {
    /// The deployment's probe budget (`KEYBROKER_PROBE_BUDGET`).
    pub fn probe_budget(&self) -> u32 {
        self.probe_budget
    }

    /// Decide an answer whose scan found a form of the credential: count
    /// the probe event, one conditional `UpdateItem`. `Ok(count)` (the
    /// count after it) if it was under the budget: answer `probe` or the
    /// echo. `Quarantined` if the breaker had already tripped: answer that,
    /// exactly as every later request is answered.
    pub async fn count_probe(&self, p: &Probation, kind: ProbeKind) -> Result<u64> {
        match self
            .store
            .count_probe(&p.ws, &p.name, kind, p.budget)
            .await?
        {
            Some(count) => {
                tracing::warn!(workspace = %p.ws, secret = %p.name, kind = kind.as_str(), probes = count, budget = p.budget, "probe event counted");
                Ok(count)
            }
            None => Err(quarantined(&p.name, u64::from(p.budget))),
        }
    }

    /// Decide an answer whose scans found nothing: one strongly consistent
    /// read of the breaker *after* the scan. `Quarantined` if a concurrent
    /// request tripped it meanwhile (drop whatever the upstream said).
    pub async fn confirm_not_quarantined(&self, p: &Probation) -> Result<()> {
        let now = self.store.breaker(&p.ws, &p.name).await?;
        if now.probes >= u64::from(p.budget) {
            return Err(quarantined(&p.name, now.probes));
        }
        Ok(())
    }

    /// Every breaker of `ws` that has an item, by secret name (what
    /// `list_secrets` shows beside each secret).
    pub async fn breakers(&self, ws: &WorkspaceId) -> Result<BTreeMap<String, BreakerState>> {
        self.store.breakers(ws).await
    }

    /// Reset a secret's probe count: it can be injected again. For an
    /// operator who has looked at the probe events (audit records with
    /// reason `probe`, or an echo): clearing does not change what was
    /// learned, rotating the credential does. `NotFound` for no such secret.
    pub async fn clear_breaker(
        &self,
        ws: &WorkspaceId,
        name: &SecretName,
    ) -> Result<BreakerCleared> {
        if !self.store.secret_exists(ws, name).await? {
            return Err(not_found_secret(name));
        }
        let before = self.store.clear_breaker(ws, name).await?;
        tracing::info!(workspace = %ws, secret = %name, cleared = before.probes, "probe breaker cleared");
        Ok(BreakerCleared {
            cleared: before.probes,
            was_quarantined: before.tripped(self.probe_budget),
        })
    }

    /// Set a secret's own probe budget (1 to
    /// [`crate::breaker::MAX_PROBE_BUDGET`]), or remove it (`None`: the
    /// deployment's applies). A budget at or under the current count
    /// quarantines the secret at once. `NotFound` for no such secret.
    pub async fn set_probe_budget(
        &self,
        ws: &WorkspaceId,
        name: &SecretName,
        budget: Option<u32>,
    ) -> Result<BudgetChange> {
        let budget = budget.map(|b| validate_budget(b, "budget")).transpose()?;
        if !self.store.secret_exists(ws, name).await? {
            return Err(not_found_secret(name));
        }
        let before = self.store.set_probe_budget(ws, name, budget).await?;
        tracing::info!(workspace = %ws, secret = %name, previous = ?before.probe_budget, current = ?budget, "probe budget set");
        Ok(BudgetChange {
            previous: before.probe_budget,
            current: budget,
            effective: budget.unwrap_or(self.probe_budget),
            probes: before.probes,
        })
    }
}
