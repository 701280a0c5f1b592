//! The probe breaker in the table ([`crate::breaker`] has the why): one
//! item per secret, beside it in the workspace's partition.
//!
//! ```text
//! pk = "ws#<workspace>"   sk = "breaker#<name>"   probes, probe_budget,
//!                                                  last_probe_at, last_probe_kind, updated_at
//! ```
//!
//! A separate item rather than attributes of the secret item, so that
//! put, rotate and rewrap (which write whole secret items) can never reset
//! a count, and the inject role's `UpdateItem` touches only breaker
//! attributes. It is read in the same `BatchGetItem` as the secret, so the
//! check before `kms:Decrypt` costs no call; the decision after the scan is
//! one conditional `UpdateItem` (a hit) or one consistent `GetItem` (a miss).
//! `breaker#…` sorts before `limits`, `rate#…`, `secret#…` and `workspace`,
//! so it is never read as any of those, and a workspace item stays the last
//! of its partition (`pages::workspaces_page` relies on that).
//!
//! Parsing fails closed like every stored record: an unknown attribute or a
//! mistyped count is a `Storage` error, refused before `kms:Decrypt`, so a
//! table writer cannot turn a typo into "never quarantined". (Deleting the
//! item does clear the breaker: see docs/THREAT_MODEL.md, table writers.)

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};

use super::codec::{get_opt_n, malformed, n, only_attributes, pk, s, Item};
use super::{ddb_err, is_condition_failure, write_err, Store};
use crate::breaker::{BreakerState, ProbeKind};
use crate::error::{BrokerError, Result};
use crate::model::now;
use crate::names::{SecretName, WorkspaceId};

/// Sort key prefix of breaker items.
pub(crate) const BREAKER_SK_PREFIX: &str = "breaker#";

/// Every attribute a breaker item may hold.
const BREAKER_ATTRIBUTES: [&str; 7] = [
    "pk",
    "sk",
    "probes",
    "probe_budget",
    "last_probe_at",
    "last_probe_kind",
    "updated_at",
];

/// A hit: one more probe event, if the count is still under the budget.
const COUNT_EXPRESSION: &str = "SET last_probe_at = :t, last_probe_kind = :k ADD probes :one";
const COUNT_CONDITION: &str = "attribute_not_exists(probes) OR probes < :budget";

/// The item key of `name`'s breaker.
pub(crate) fn breaker_key(ws: &WorkspaceId, name: &SecretName) -> Item {
    Item::from([
        ("pk".to_owned(), pk(ws)),
        ("sk".to_owned(), s(format!("{BREAKER_SK_PREFIX}{name}"))),
    ])
}

/// Parse a breaker item, failing closed (module docs).
pub(crate) fn parse_breaker(item: &Item) -> Result<BreakerState> {
    only_attributes(item, &BREAKER_ATTRIBUTES, "breaker")?;
    let num = |k: &'static str| get_opt_n(item, k);
    let probe_budget = num("probe_budget")?
        .map(|b| {
            u32::try_from(b)
                .ok()
                .and_then(|b| crate::breaker::validate_budget(b, "probe_budget").ok())
                .ok_or_else(|| malformed("probe_budget"))
        })
        .transpose()?;
    let last_probe_kind = match item.get("last_probe_kind") {
        None => None,
        Some(AttributeValue::S(k)) => {
            Some(ProbeKind::parse(k).ok_or_else(|| malformed("last_probe_kind"))?)
        }
        Some(_) => return Err(malformed("last_probe_kind")),
    };
    Ok(BreakerState {
        probes: num("probes")?.unwrap_or(0),
        probe_budget,
        last_probe_at_ms: num("last_probe_at")?,
        last_probe_kind,
    })
}

/// The breaker an update replaced (`ALL_OLD`): none is the default.
fn state_before(old: Option<Item>) -> Result<BreakerState> {
    old.filter(|a| !a.is_empty())
        .as_ref()
        .map(parse_breaker)
        .transpose()
        .map(Option::unwrap_or_default)
}

/// The secret name of a breaker item's sort key.
fn breaker_name(item: &Item) -> Option<String> {
    match item.get("sk") {
        Some(AttributeValue::S(sk)) => sk.strip_prefix(BREAKER_SK_PREFIX).map(str::to_owned),
        _ => None,
    }
}

impl Store {
    /// Count one probe event of `kind` if the count is under `budget`:
    /// `Ok(Some(count))` after counting, `Ok(None)` if the condition failed
    /// (the breaker had already tripped: answer `quarantined`).
    pub(crate) async fn count_probe(
        &self,
        ws: &WorkspaceId,
        name: &SecretName,
        kind: ProbeKind,
        budget: u32,
    ) -> Result<Option<u64>> {
        let sent = self
            .ddb
            .update_item()
            .table_name(&self.table)
            .set_key(Some(breaker_key(ws, name)))
            .update_expression(COUNT_EXPRESSION)
            .condition_expression(COUNT_CONDITION)
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":budget", n(u64::from(budget)))
            .expression_attribute_values(":t", n(crate::limits::now_ms()))
            .expression_attribute_values(":k", s(kind.as_str()))
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await;
        match sent {
            Ok(out) => Ok(Some(
                out.attributes
                    .as_ref()
                    .and_then(|a| match a.get("probes") {
                        Some(AttributeValue::N(v)) => v.parse().ok(),
                        _ => None,
                    })
                    .ok_or_else(|| malformed("probes"))?,
            )),
            Err(e) if is_condition_failure(&e) => Ok(None),
            Err(e) => Err(ddb_err(&e)),
        }
    }

    /// The breaker of `name` now (strongly consistent): what a miss is
    /// decided against.
    pub(crate) async fn breaker(
        &self,
        ws: &WorkspaceId,
        name: &SecretName,
    ) -> Result<BreakerState> {
        Ok(self
            .get_consistent(breaker_key(ws, name))
            .await?
            .as_ref()
            .map(parse_breaker)
            .transpose()?
            .unwrap_or_default())
    }

    /// Every breaker item of `ws`, by secret name (for `list_secrets`).
    pub(crate) async fn breakers(
        &self,
        ws: &WorkspaceId,
    ) -> Result<std::collections::BTreeMap<String, BreakerState>> {
        let mut out = std::collections::BTreeMap::new();
        let mut start: Option<Item> = None;
        loop {
            let page = self
                .prefix_query(ws, BREAKER_SK_PREFIX)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| ddb_err(&e))?;
            for item in page.items() {
                let name = breaker_name(item).ok_or_else(|| malformed("sk"))?;
                out.insert(name, parse_breaker(item)?);
            }
            match page.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => return Ok(out),
            }
        }
    }

    /// Remove the count (keeping a budget of the secret's own); returns
    /// what was there before. One call (`UPDATED_OLD`).
    pub(crate) async fn clear_breaker(
        &self,
        ws: &WorkspaceId,
        name: &SecretName,
    ) -> Result<BreakerState> {
        let sent = self
            .ddb
            .update_item()
            .table_name(&self.table)
            .set_key(Some(breaker_key(ws, name)))
            .update_expression("SET updated_at = :u REMOVE probes, last_probe_at, last_probe_kind")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":u", n(now()))
            .return_values(ReturnValue::AllOld)
            .send()
            .await;
        match sent {
            Ok(out) => state_before(out.attributes),
            // No item: nothing was ever counted.
            Err(e) if is_condition_failure(&e) => Ok(BreakerState::default()),
            Err(e) => Err(ddb_err(&e)),
        }
    }

    /// Set (`Some`) or remove (`None`: the deployment's applies) the
    /// secret's own budget; returns the state before. One call.
    pub(crate) async fn set_probe_budget(
        &self,
        ws: &WorkspaceId,
        name: &SecretName,
        budget: Option<u32>,
    ) -> Result<BreakerState> {
        let req = self
            .ddb
            .update_item()
            .table_name(&self.table)
            .set_key(Some(breaker_key(ws, name)))
            .expression_attribute_values(":u", n(now()))
            .return_values(ReturnValue::AllOld);
        let req = match budget {
            Some(b) => req
                .update_expression("SET probe_budget = :b, updated_at = :u")
                .expression_attribute_values(":b", n(u64::from(b))),
            None => req.update_expression("SET updated_at = :u REMOVE probe_budget"),
        };
        let out = req.send().await.map_err(|e| {
            write_err(&e, || BrokerError::Storage {
                detail: "probe budget update refused".into(),
            })
        })?;
        state_before(out.attributes)
    }

    /// Whether the secret exists (the admin ops refuse a typo'd name rather
    /// than create a breaker for nothing). Reads the key only.
    pub(crate) async fn secret_exists(&self, ws: &WorkspaceId, name: &SecretName) -> Result<bool> {
        let out = self
            .ddb
            .get_item()
            .table_name(&self.table)
            .set_key(Some(super::codec::secret_key(ws, name)))
            .projection_expression("pk")
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| ddb_err(&e))?;
        Ok(out.item.is_some_and(|i| !i.is_empty()))
    }

    /// Delete `name`'s breaker (with the secret).
    pub(crate) async fn delete_breaker(&self, ws: &WorkspaceId, name: &SecretName) -> Result<()> {
        self.ddb
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(breaker_key(ws, name)))
            .send()
            .await
            .map_err(|e| ddb_err(&e))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests;
