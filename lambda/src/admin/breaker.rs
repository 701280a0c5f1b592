//! The admin side of the probe breaker (broker-core's `breaker` module):
//! `clear_breaker`, `set_probe_budget`, and each secret's breaker in
//! `list_secrets`. What changed goes into the admin audit record (counts
//! and budgets, never anything else).

use broker_core::{Broker, BrokerError};
use keybroker_contract::{admin as wire, reply};
use serde_json::json;

use crate::admin::audit::Changes;
use crate::admin::error::AdminError;
use crate::admin::op::{as_reply, name, secret_target, ws, Handler};

/// `list_secrets`: each secret's metadata, plus its breaker: `probes`
/// (since the last clear), `probe_budget` (in force) and `quarantined`.
/// One more Query than the metadata alone (the workspace's breaker items),
/// and one for the `oauth2` secrets' token states (`oauth2`: `state`
/// fresh | expiring | refreshing | reauth_required) when there are any.
impl Handler for wire::ListSecrets {
    fn describe(&self, _: &mut Changes) -> Option<String> {
        None
    }

    async fn run(self, broker: &Broker, _: &mut Changes) -> Result<Self::Reply, AdminError> {
        let ws = &ws(&self.workspace)?;
        let secrets = broker.list_secrets(ws).await?;
        let breakers = broker.breakers(ws).await?;
        let any_oauth2 = secrets
            .iter()
            .any(|m| m.binding.as_ref().is_some_and(|b| b.oauth2.is_some()));
        let oauth2 = if any_oauth2 {
            broker.oauth2_statuses(ws, &secrets).await?
        } else {
            Default::default()
        };
        let default = broker.probe_budget();
        secrets
            .iter()
            .map(|meta| {
                let breaker = breakers
                    .get(meta.name.as_str())
                    .copied()
                    .unwrap_or_default();
                Ok(reply::ListedSecret {
                    meta: as_reply(meta)?,
                    probes: breaker.probes,
                    probe_budget: breaker.budget(default),
                    quarantined: breaker.tripped(default),
                    oauth2: oauth2.get(meta.name.as_str()).map(as_reply).transpose()?,
                })
            })
            .collect()
    }
}

/// `clear_breaker`: audited with the count it cleared.
impl Handler for wire::ClearBreaker {
    fn describe(&self, _: &mut Changes) -> Option<String> {
        secret_target(&self.secret)
    }

    async fn run(self, broker: &Broker, changes: &mut Changes) -> Result<Self::Reply, AdminError> {
        let (ws, name) = (ws(&self.workspace)?, name(&self.secret)?);
        let cleared = broker.clear_breaker(&ws, &name).await?;
        changes.probes_cleared = Some(cleared.cleared);
        changes.was_quarantined = Some(cleared.was_quarantined);
        as_reply(cleared)
    }
}

/// `set_probe_budget`: audited old → new (`null`: the deployment's).
impl Handler for wire::SetProbeBudget {
    fn describe(&self, changes: &mut Changes) -> Option<String> {
        changes.probe_budget_to = self.budget.map(|b| json!(b));
        secret_target(&self.secret)
    }

    async fn run(self, broker: &Broker, changes: &mut Changes) -> Result<Self::Reply, AdminError> {
        let budget = self.budget.ok_or_else(|| BrokerError::InvalidInput {
            field: "budget",
            reason: "give a budget from 1 to 1000, or null for the deployment's".into(),
        })?;
        let (ws, name) = (ws(&self.workspace)?, name(&self.secret)?);
        let change = broker.set_probe_budget(&ws, &name, budget).await?;
        changes.probe_budget_from = Some(json!(change.previous));
        changes.probe_budget_to = Some(json!(change.current));
        Ok(reply::BudgetChange {
            previous: change.previous,
            current: change.current,
            effective: change.effective,
            probes: change.probes,
            quarantined: change.probes >= u64::from(change.effective),
        })
    }
}
