//! The agent-facing catalog: which secrets of a workspace an agent could
//! use (`inject`'s `list_secrets`). Two things make it more than a list:
//!
//! * it answers only with secrets the workspace's Cedar policy could let
//!   this agent use ([`crate::access::visible`]): an agent does not learn
//!   the hosts and injection points of credentials its policy denies;
//! * it counts against the **injection limits**, on the same workspace and
//!   agent counters as injections ([`Broker::admit`]): a looping agent
//!   cannot turn full-workspace queries into free DynamoDB load, and a
//!   workspace at its limit refuses listing as it refuses injecting.
//!
//! No KMS call: metadata only, as before.

use super::Broker;
use crate::access::visible::CatalogFilter;
use crate::error::{BrokerError, Result};
use crate::model::{now, SecretMetadata};
use crate::names::WorkspaceId;

/// What the catalog answers for one agent.
#[derive(Debug)]
pub struct Catalog {
    /// Metadata of the secrets the agent could use, in name order.
    pub secrets: Vec<SecretMetadata>,
    /// How many the policy hid (for the audit line; never their names).
    pub hidden: usize,
}

impl Broker {
    /// The secrets `agent` could use in `ws`, counted as one use of the
    /// injection limits. Over a limit: `LimitExceeded` with the window's
    /// wait, and nothing listed. Reads the workspace's settings and limits
    /// (two `GetItem`s, concurrently), counts (one `UpdateItem` per limit
    /// that applies), then lists (one `Query` per page).
    pub async fn list_usable_secrets(&self, ws: &WorkspaceId, agent: &str) -> Result<Catalog> {
        crate::access::check_agent(agent).map_err(|why| BrokerError::invalid("agent", why))?;
        let (settings, limits) =
            tokio::join!(self.store.get_workspace(ws), self.store.get_limits(ws));
        let (settings, limits) = (settings?, limits?);
        self.count_use(ws, agent, limits, false).await?;
        let all = self.store.list_secrets(ws).await?;
        let policy = settings.as_ref().and_then(|s| s.policy.as_deref());
        let filter = CatalogFilter::new(
            self.gate.policies(),
            policy,
            agent,
            i64::try_from(now()).unwrap_or(i64::MAX),
        );
        let total = all.len();
        let secrets: Vec<SecretMetadata> = all
            .into_iter()
            .filter(|m| {
                let hosts = m.binding.as_ref().map_or(&[][..], |b| b.hosts.as_slice());
                filter.could_use(m.name.as_str(), hosts)
            })
            .collect();
        Ok(Catalog {
            hidden: total - secrets.len(),
            secrets,
        })
    }
}
