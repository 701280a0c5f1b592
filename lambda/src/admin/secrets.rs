//! The stored secret and its workspace's settings: `put_secret`,
//! `rotate_secret`, `delete_secret`, `set_policy` and `set_limits`. The
//! audit record gets the versions written, the key used, the binding's
//! sealed digest, the policy's hash and size, and the limits before and
//! after; never a value or a policy's text.

use broker_core::{Broker, BrokerError, Limits, SecretValue};
use keybroker_contract::{admin as wire, reply};
use serde_json::Value;

use crate::admin::audit::{binding_digest_hex, sha256_hex, Changes};
use crate::admin::error::AdminError;
use crate::admin::op::{as_reply, name, secret_target, ws, Handler};
use crate::admin::request;

impl Handler for wire::PutSecret {
    fn describe(&self, changes: &mut Changes) -> Option<String> {
        changes.binding_hosts = Some(self.binding.hosts.clone());
        secret_target(&self.secret)
    }

    async fn run(self, broker: &Broker, changes: &mut Changes) -> Result<Self::Reply, AdminError> {
        let (ws, name) = (ws(&self.workspace)?, name(&self.secret)?);
        let binding = request::binding(self.binding);
        let value = SecretValue::from_string(self.value.into_inner())?;
        let meta = broker
            .put_bound_secret(&ws, &name, &value, &binding)
            .await?;
        // The digest sealed in the blob's header, so the audit record and
        // the stored secret can be matched.
        changes.binding_sha256 = Some(binding_digest_hex(&binding));
        changes.secret_written(&meta, false);
        as_reply(meta)
    }
}

impl Handler for wire::RotateSecret {
    fn describe(&self, changes: &mut Changes) -> Option<String> {
        changes.value_replaced = Some(self.value.is_some());
        secret_target(&self.secret)
    }

    async fn run(self, broker: &Broker, changes: &mut Changes) -> Result<Self::Reply, AdminError> {
        let (ws, name) = (ws(&self.workspace)?, name(&self.secret)?);
        let value = self
            .value
            .map(|v| SecretValue::from_string(v.into_inner()))
            .transpose()?;
        let meta = broker
            .rotate_secret(&ws, &name, value.as_ref(), self.expected_version)
            .await?;
        changes.secret_written(&meta, true);
        as_reply(meta)
    }
}

impl Handler for wire::DeleteSecret {
    fn describe(&self, _: &mut Changes) -> Option<String> {
        secret_target(&self.secret)
    }

    async fn run(self, broker: &Broker, changes: &mut Changes) -> Result<Self::Reply, AdminError> {
        broker
            .delete_secret(&ws(&self.workspace)?, &name(&self.secret)?)
            .await?;
        changes.deleted = Some(true);
        Ok(reply::Deleted {
            deleted: self.secret,
        })
    }
}

impl Handler for wire::SetPolicy {
    fn describe(&self, changes: &mut Changes) -> Option<String> {
        changes.policy_sha256 = Some(sha256_hex(self.policy.as_bytes()));
        changes.policy_bytes = Some(self.policy.len());
        Some("policy".to_owned())
    }

    async fn run(self, broker: &Broker, _: &mut Changes) -> Result<Self::Reply, AdminError> {
        broker
            .set_policy(&ws(&self.workspace)?, &self.policy)
            .await?;
        Ok(reply::PolicySet {
            policy_set: self.workspace,
        })
    }
}

impl Handler for wire::SetLimits {
    fn describe(&self, changes: &mut Changes) -> Option<String> {
        changes.limits_to = Some(limits_json(self.limits.map(request::limits)));
        Some("limits".to_owned())
    }

    async fn run(self, broker: &Broker, changes: &mut Changes) -> Result<Self::Reply, AdminError> {
        if self.limits.is_some() == self.clear {
            return Err(BrokerError::InvalidInput {
                field: "limits",
                reason: "give exactly one of limits and clear: true".into(),
            }
            .into());
        }
        let change = broker
            .set_limits(&ws(&self.workspace)?, self.limits.map(request::limits))
            .await?;
        changes.limits_from = Some(limits_json(change.previous));
        changes.limits_to = Some(limits_json(change.current));
        as_reply(change)
    }
}

/// Limits as the audit record shows them; `null`: none of its own.
fn limits_json(l: Option<Limits>) -> Value {
    serde_json::to_value(l).unwrap_or_default()
}
