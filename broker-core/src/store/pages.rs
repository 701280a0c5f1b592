//! Bounded pages over the table for the workspace-wide operations
//! (`rewrap`, `check_workspace`): each call reads at most one page, so an
//! operation over thousands of secrets or workspaces fits a Lambda
//! invocation and resumes from a cursor.
//!
//! Cursors are names, not DynamoDB keys: a secret page resumes after a
//! secret name, a workspace page after a workspace id. The broker builds the
//! start key from them, so a caller cannot aim a read at another partition.

use aws_sdk_dynamodb::types::AttributeValue;

use super::codec::{
    parse_secret, s, secret_key, workspace_key, Item, SECRET_SK_PREFIX, WORKSPACE_SK,
};
use super::{ddb_err, SecretRecord, Store};
use crate::error::{BrokerError, Result};
use crate::names::{SecretName, WorkspaceId};

/// One page of a workspace's secrets.
#[derive(Debug)]
pub(crate) struct SecretPage {
    /// Every item of the page in name order: the record, or why it could
    /// not be parsed (named by its sort key, the only trustworthy part).
    pub items: Vec<(String, Result<SecretRecord>)>,
    /// Where the next page starts; `None` after the last.
    pub next: Option<SecretName>,
}

/// Partition key of the items that store where a scheduled job stopped.
const SCHEDULE_PK: &str = "keybroker#schedule";

impl Store {
    /// Up to `limit` whole secret items (blobs included) of `ws`, after
    /// `after` in name order. Strongly consistent.
    pub(crate) async fn secrets_page(
        &self,
        ws: &WorkspaceId,
        after: Option<&SecretName>,
        limit: u32,
    ) -> Result<SecretPage> {
        let out = self
            .secrets_query(ws)
            .limit(i32::try_from(limit).unwrap_or(i32::MAX))
            .set_exclusive_start_key(after.map(|n| secret_key(ws, n)))
            .send()
            .await
            .map_err(|e| ddb_err(&e))?;
        let items: Vec<(String, Result<SecretRecord>)> = out
            .items()
            .iter()
            .map(|item| (sort_key_name(item), parse_secret(item)))
            .collect();
        let more = out.last_evaluated_key.is_some_and(|k| !k.is_empty());
        let next = match items.last() {
            Some((name, _)) if more => {
                Some(
                    SecretName::new(name.clone()).map_err(|_| BrokerError::Storage {
                        detail: "stored record is malformed: sk".into(),
                    })?,
                )
            }
            _ => None,
        };
        Ok(SecretPage { items, next })
    }

    /// Up to `limit` workspace ids of the whole table, after `after`, in
    /// the table's scan order. Reads keys only. A workspace item is the last
    /// item of its partition (`secret#…` sorts before `workspace`), so
    /// resuming after it resumes after the whole partition.
    pub(crate) async fn workspaces_page(
        &self,
        after: Option<&WorkspaceId>,
        limit: u32,
    ) -> Result<(Vec<WorkspaceId>, Option<WorkspaceId>)> {
        let mut found = Vec::new();
        let mut start: Option<Item> = after.map(workspace_key);
        loop {
            let out = self
                .ddb
                .scan()
                .table_name(&self.table)
                .projection_expression("pk, sk, workspace")
                .consistent_read(true)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| ddb_err(&e))?;
            for item in out.items() {
                if !matches!(item.get("sk"), Some(AttributeValue::S(sk)) if sk == WORKSPACE_SK) {
                    continue;
                }
                let ws = match item.get("workspace") {
                    Some(AttributeValue::S(w)) => WorkspaceId::new(w.clone()).ok(),
                    _ => None,
                };
                // A workspace item whose id does not parse is skipped here;
                // checking it would fail the same way every time.
                if let Some(ws) = ws {
                    found.push(ws);
                }
                if found.len() as u32 >= limit {
                    let next = found.last().cloned();
                    return Ok((found, next));
                }
            }
            match out.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => return Ok((found, None)),
            }
        }
    }

    /// Where the scheduled `check_workspace` run stopped last time.
    pub(crate) async fn schedule_cursor(&self, job: &str) -> Result<Option<WorkspaceId>> {
        Ok(self
            .get_consistent(schedule_key(job))
            .await?
            .and_then(|i| match i.get("after") {
                Some(AttributeValue::S(w)) => Some(w.clone()),
                _ => None,
            })
            .and_then(|w| WorkspaceId::new(w).ok()))
    }

    /// Store where the scheduled run stopped (`None`: it reached the end,
    /// the next run starts over).
    pub(crate) async fn set_schedule_cursor(
        &self,
        job: &str,
        after: Option<&WorkspaceId>,
    ) -> Result<()> {
        let mut item = schedule_key(job);
        if let Some(ws) = after {
            item.insert("after".into(), s(ws.as_str()));
        }
        self.ddb
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| ddb_err(&e))?;
        Ok(())
    }
}

fn schedule_key(job: &str) -> Item {
    Item::from([("pk".to_owned(), s(SCHEDULE_PK)), ("sk".to_owned(), s(job))])
}

/// The secret name in an item's sort key (`secret#<name>`), as stored.
fn sort_key_name(item: &Item) -> String {
    match item.get("sk") {
        Some(AttributeValue::S(sk)) => sk.strip_prefix(SECRET_SK_PREFIX).unwrap_or(sk).to_owned(),
        _ => String::new(),
    }
}
