//! Injection limits in the table: a workspace's limits item, and the
//! per-window counter items the read path increments before `kms:Decrypt`
//! (the arithmetic is [`crate::limits`]').
//!
//! ```text
//! pk = "ws#<workspace>"   sk = "limits"                                   set_limits
//! pk = "ws#<workspace>"   sk = "rate#<seconds>[+<offset>]#<index>#workspace"       n, slots_<bucket>…, expires_at
//! pk = "ws#<workspace>"   sk = "rate#<seconds>[+<offset>]#<index>#workspace#<k>"   shard k > 0, same
//! pk = "ws#<workspace>"   sk = "rate#<seconds>[+<offset>]#<index>#agent#<agent>"   n, expires_at
//! ```
//!
//! The limits item has two versions, both read (test vectors
//! `codec/fixtures/limits_item_v1.json` and `limits_item_v2.json`): v1
//! (`window_seconds`, the counts, `updated_at`) has epoch-aligned windows;
//! v2, what `set_limits` stores now, adds `window_anchor_ms`, the Unix ms
//! its windows start from (`crate::limits`). A counter's key carries the
//! anchor's offset into the epoch-aligned window (`+<offset>`, ms; absent
//! when 0, so v1 counters keep their keys), so windows of different anchors
//! never share a count.
//!
//! The limits item is read in the same `BatchGetItem` as the secret and
//! its workspace, so knowing the limits costs no call. Counting costs one
//! `UpdateItem` per limit that applies (`ADD n :one` if `n < limit`): the
//! workspace limit alone (the default) is one more call per injection; an
//! agent limit as well is a second, made first, so that an agent refused
//! by its own limit never uses up the workspace's count. No DynamoDB call
//! reads two items *and* writes one, so one extra call is the floor for a
//! counter all sandboxes share. A `TransactWriteItems` of both updates
//! would be one call, but it costs twice the write units, and concurrent
//! transactions on the same hot counter item cancel each other
//! (`TransactionConflict`) instead of queueing as plain updates do
//! (docs/BENCHMARKS.md, "Injection limits").
//!
//! Counters are keyed by window, so a new window starts from nothing with
//! no reset write, and TTL (`expires_at`) deletes old windows. Their
//! partition is the workspace's: one counter item takes every counted
//! injection of its window, about 1,000 write units a second at most
//! (DynamoDB's per-partition limit; each update of a small item is one
//! unit), which bounds a workspace limit's useful range, not its safety:
//! past it DynamoDB throttles, which also refuses before `kms:Decrypt`.
//!
//! The in-flight slots of `crate::limits::scale` are attributes
//! `slots_<bucket>` of the workspace counter, taken in the same update as the
//! count (so the bound costs no call to take, one to release), and with
//! `KEYBROKER_COUNTER_SHARDS` > 1 the workspace counter is spread over
//! `…#workspace` (shard 0, the unsharded key) and `…#workspace#<k>`. Test
//! vectors of both: `codec/fixtures/counter_item_v1.json` and
//! `counter_shard_item_v1.json`.
//!
//! The limits item parses strictly ([`parse_limits`]): an unknown
//! attribute, a count of the wrong type or out of range, a window outside
//! 1..=3600 s, or no count at all is not something `set_limits` could have
//! stored. Such an item reads as [`StoredLimits::Unreadable`], which
//! applies the deployment default (never "no limit") and is logged with the
//! workspace and the attribute at fault, never its value. Why not refuse
//! every injection instead, as other malformed records do: a limits item is
//! a brake, not a credential; the default is the brake the deployment
//! chose for a workspace without one, and refusing would let a single
//! planted item stop a workspace (which `workspace: 0` can do anyway, but
//! only through `set_limits`, audited).

use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure};
use aws_smithy_runtime_api::client::result::SdkError;

use super::codec::{malformed, n, pk, s, Item};
use super::{ddb_err, is_condition_failure, Store};
use crate::error::Result;
use crate::limits::scale::in_flight_attribute;
use crate::limits::{LimitScope, Limits, StoredLimits, Window};
use crate::model::now;
use crate::names::WorkspaceId;

/// Sort key of a workspace's limits item.
pub(crate) const LIMITS_SK: &str = "limits";

/// Every attribute a limits item may hold.
const LIMITS_ATTRIBUTES: [&str; 7] = [
    "pk",
    "sk",
    "window_seconds",
    "workspace_limit",
    "agent_limit",
    "window_anchor_ms",
    "updated_at",
];

/// The increment (`SET expires_at = :exp ADD n :one`): `n` goes up by one
/// if it is still under the limit (or absent: the window's first
/// request), and the item expires a window after its window.
const COUNT_CONDITION: &str = "(attribute_not_exists(n) OR n < :lim)";
/// An in-flight slot: this bucket's slots under the bound.
const SLOT_CONDITION: &str = "(attribute_not_exists(#f) OR #f < :fl)";

/// The item key of a workspace's limits.
pub(crate) fn limits_key(ws: &WorkspaceId) -> Item {
    Item::from([("pk".to_owned(), pk(ws)), ("sk".to_owned(), s(LIMITS_SK))])
}

/// The sort key of a counter of `window` for the workspace (`agent:
/// None`) or one agent. The window length is part of it, so changing the
/// length never continues another length's count. Agent names are checked
/// by the access check (no `#`), so keys cannot collide.
pub(crate) fn counter_sk(window: Window, agent: Option<&str>) -> String {
    let base = match window.offset_ms {
        0 => format!("rate#{}#{}", window.seconds, window.index),
        o => format!("rate#{}+{o}#{}", window.seconds, window.index),
    };
    match agent {
        None => format!("{base}#workspace"),
        Some(a) => format!("{base}#agent#{a}"),
    }
}

/// A limits item (`set_limits`, v2), its windows anchored at `anchor_ms`.
pub(crate) fn limits_item(ws: &WorkspaceId, l: Limits, anchor_ms: u64) -> Item {
    let mut item = limits_key(ws);
    item.insert("window_seconds".into(), n(u64::from(l.window_seconds)));
    item.insert("window_anchor_ms".into(), n(anchor_ms));
    if let Some(w) = l.workspace {
        item.insert("workspace_limit".into(), n(w));
    }
    if let Some(a) = l.agent {
        item.insert("agent_limit".into(), n(a));
    }
    item.insert("updated_at".into(), n(now()));
    item
}

/// Parse a limits item of either version, failing closed (module docs):
/// the limits and their anchor (0 for v1, which has none).
pub(crate) fn parse_limits(item: &Item) -> Result<(Limits, u64)> {
    if let Some(k) = item
        .keys()
        .find(|k| !LIMITS_ATTRIBUTES.contains(&k.as_str()))
    {
        return Err(malformed(&format!("unknown limits attribute {k:?}")));
    }
    let num = |k: &'static str| -> Result<Option<u64>> {
        match item.get(k) {
            None => Ok(None),
            Some(AttributeValue::N(v)) => v.parse().map(Some).map_err(|_| malformed(k)),
            Some(_) => Err(malformed(k)),
        }
    };
    let window = num("window_seconds")?
        .and_then(|w| u32::try_from(w).ok())
        .ok_or_else(|| malformed("window_seconds"))?;
    let anchor = num("window_anchor_ms")?.unwrap_or(0);
    let limits = Limits {
        window_seconds: window,
        workspace: num("workspace_limit")?,
        agent: num("agent_limit")?,
    }
    .validate()
    .map_err(|_| malformed("limits out of range"))?;
    Ok((limits, anchor))
}

/// What a read limits item means (module docs), logging an unreadable one.
pub(crate) fn stored(ws: &WorkspaceId, item: &Item) -> StoredLimits {
    match parse_limits(item) {
        Ok((l, anchor)) => StoredLimits::Set(l, anchor),
        Err(e) => {
            tracing::warn!(
                workspace = %ws,
                reason = %e,
                "the workspace's limits item does not parse; the deployment default applies"
            );
            StoredLimits::Unreadable
        }
    }
}

/// One counter increment: its key, the conditional `ADD` and what a
/// failed condition means.
struct Increment {
    scope: LimitScope,
    key: Item,
    /// `(limit, per-shard in-flight bound)` checked by the condition.
    limit: Option<u64>,
    in_flight: Option<(u64, String)>,
}

impl Increment {
    /// `SET expires_at ADD n :one [, #f :one]` if `n` (and the bucket's
    /// slots `#f`) are under their limits.
    fn expressions(&self) -> (String, String) {
        let mut update = "SET expires_at = :exp ADD n :one".to_owned();
        let mut conditions = Vec::new();
        if self.limit.is_some() {
            conditions.push(COUNT_CONDITION);
        }
        if self.in_flight.is_some() {
            update.push_str(", #f :one");
            conditions.push(SLOT_CONDITION);
        }
        (update, conditions.join(" AND "))
    }

    fn values(&self, window: Window) -> std::collections::HashMap<String, AttributeValue> {
        let mut v = std::collections::HashMap::from([
            (":one".to_owned(), n(1)),
            (":exp".to_owned(), n(window.expires_at())),
        ]);
        if let Some(l) = self.limit {
            v.insert(":lim".to_owned(), n(l));
        }
        if let Some((fl, _)) = &self.in_flight {
            v.insert(":fl".to_owned(), n(*fl));
        }
        v
    }

    /// Which limit a failed condition hit, from the item as it was (the
    /// count at its limit means the count; otherwise the slots).
    fn refused_by(&self, old: Option<&Item>) -> Option<LimitScope> {
        let num = |k: &str| -> Option<u64> {
            match old?.get(k)? {
                AttributeValue::N(v) => v.parse().ok(),
                _ => None,
            }
        };
        match (self.limit, &self.in_flight) {
            (_, None) => Some(self.scope),
            (None, Some(_)) => Some(LimitScope::InFlight),
            (Some(lim), Some(_)) => {
                old?;
                Some(if num("n").is_some_and(|c| c >= lim) {
                    self.scope
                } else {
                    LimitScope::InFlight
                })
            }
        }
    }
}

/// A workspace's slot in flight, to release after the upstream call: the
/// counter item it was taken on and its bucket's attribute.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SlotKey {
    key: Item,
    attribute: String,
}

/// What counting decided.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Counted {
    /// Counted; with the slot taken, if an in-flight bound applies.
    Admitted(Option<SlotKey>),
    /// A limit refused it; nothing counted.
    Refused(LimitScope),
}

/// One request's count ([`Store::count_injection`]): the limits, already
/// split per shard, and the shard drawn.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CountPlan {
    pub window: Window,
    pub workspace: Option<u64>,
    pub agent: Option<u64>,
    pub in_flight: Option<u64>,
    pub shard: u8,
    pub now_ms: u64,
}

/// Sort key of shard `shard` of a workspace counter: shard 0 is the
/// unsharded key, so a deployment with one shard writes what it always did.
pub(crate) fn shard_sk(window: Window, shard: u8) -> String {
    match shard {
        0 => counter_sk(window, None),
        k => format!("{}#{k}", counter_sk(window, None)),
    }
}

impl Store {
    /// A workspace's limits item alone (the catalog's read; injections
    /// read it with the secret). One strongly consistent `GetItem`.
    pub(crate) async fn get_limits(&self, ws: &WorkspaceId) -> Result<StoredLimits> {
        Ok(self
            .get_consistent(limits_key(ws))
            .await?
            .map_or(StoredLimits::Unset, |item| stored(ws, &item)))
    }

    /// Store (`Some`, windows from `now_ms`) or remove (`None`: the
    /// deployment default applies again) a workspace's limits; returns what
    /// was stored before, for the admin audit record. One call either way
    /// (`ALL_OLD`).
    pub(crate) async fn set_limits(
        &self,
        ws: &WorkspaceId,
        limits: Option<Limits>,
        now_ms: u64,
    ) -> Result<Option<Limits>> {
        let old = match limits {
            Some(l) => {
                self.ddb
                    .put_item()
                    .table_name(&self.table)
                    .set_item(Some(limits_item(ws, l, now_ms)))
                    .return_values(ReturnValue::AllOld)
                    .send()
                    .await
                    .map_err(|e| ddb_err(&e))?
                    .attributes
            }
            None => {
                self.ddb
                    .delete_item()
                    .table_name(&self.table)
                    .set_key(Some(limits_key(ws)))
                    .return_values(ReturnValue::AllOld)
                    .send()
                    .await
                    .map_err(|e| ddb_err(&e))?
                    .attributes
            }
        };
        // An unreadable old item is reported as none: the write is done,
        // and the audit record must not fail on what it replaced.
        Ok(old
            .filter(|i| !i.is_empty())
            .and_then(|i| parse_limits(&i).ok())
            .map(|(l, _)| l))
    }

    /// Count one request: the agent's counter first (an agent refused by
    /// its own limit never uses up the workspace's count), then the
    /// workspace's shard, taking the in-flight slot in the same update. One
    /// `UpdateItem` per item; none if nothing applies.
    pub(crate) async fn count_injection(
        &self,
        ws: &WorkspaceId,
        agent: &str,
        plan: CountPlan,
    ) -> Result<Counted> {
        let key = |sk: String| Item::from([("pk".to_owned(), pk(ws)), ("sk".to_owned(), s(sk))]);
        let slot = plan
            .in_flight
            .map(|fl| (fl, in_flight_attribute(plan.now_ms)));
        let increments = [
            plan.agent.map(|limit| Increment {
                scope: LimitScope::Agent,
                key: key(counter_sk(plan.window, Some(agent))),
                limit: Some(limit),
                in_flight: None,
            }),
            (plan.workspace.is_some() || slot.is_some()).then(|| Increment {
                scope: LimitScope::Workspace,
                key: key(shard_sk(plan.window, plan.shard)),
                limit: plan.workspace,
                in_flight: slot.clone(),
            }),
        ];
        for i in increments.iter().flatten() {
            let (update, condition) = i.expressions();
            let mut req = self
                .ddb
                .update_item()
                .table_name(&self.table)
                .set_key(Some(i.key.clone()))
                .update_expression(update)
                .condition_expression(condition)
                .set_expression_attribute_values(Some(i.values(plan.window)))
                .return_values_on_condition_check_failure(
                    ReturnValuesOnConditionCheckFailure::AllOld,
                );
            if let Some((_, attr)) = &i.in_flight {
                req = req.expression_attribute_names("#f", attr);
            }
            match req.send().await {
                Ok(_) => {}
                Err(e) if is_condition_failure(&e) => {
                    let old = match &e {
                        SdkError::ServiceError(se) => match se.err() {
                            UpdateItemError::ConditionalCheckFailedException(c) => c.item.clone(),
                            _ => None,
                        },
                        _ => None,
                    };
                    let scope = match i.refused_by(old.as_ref()) {
                        Some(scope) => scope,
                        // An endpoint that does not return the old item:
                        // read it to tell the count from the slots.
                        None => i
                            .refused_by(self.get_consistent(i.key.clone()).await?.as_ref())
                            .unwrap_or(LimitScope::InFlight),
                    };
                    return Ok(Counted::Refused(scope));
                }
                Err(e) => return Err(ddb_err(&e)),
            }
        }
        Ok(Counted::Admitted(slot.map(|(_, attribute)| SlotKey {
            key: key(shard_sk(plan.window, plan.shard)),
            attribute,
        })))
    }

    /// Give back an in-flight slot: one `UpdateItem` (`ADD #f -1` while it
    /// is above zero, so a late release after the item expired never
    /// recreates it). Failures are logged, never the injection's answer:
    /// an unreleased slot stops counting when its bucket ends.
    pub(crate) async fn release_slot(&self, slot: &SlotKey) {
        let sent = self
            .ddb
            .update_item()
            .table_name(&self.table)
            .set_key(Some(slot.key.clone()))
            .update_expression("ADD #f :minus")
            .condition_expression("#f > :zero")
            .expression_attribute_names("#f", &slot.attribute)
            .expression_attribute_values(":minus", n_signed(-1))
            .expression_attribute_values(":zero", n(0))
            .send()
            .await;
        match sent {
            Ok(_) => {}
            Err(e) if is_condition_failure(&e) => {
                tracing::debug!("in-flight slot already gone (its item expired)");
            }
            Err(e) => {
                tracing::warn!(error = %ddb_err(&e), "could not release an in-flight slot; it expires with its bucket");
            }
        }
    }
}

fn n_signed(v: i64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

#[cfg(test)]
mod tests;
