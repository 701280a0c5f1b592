//! DynamoDB persistence: one table, one partition per workspace (the item
//! format itself is [`codec`]'s).
//!
//! Every write is conditional: creating requires the item to be absent,
//! rotating requires the version the writer read (optimistic concurrency, so
//! two racing rotations produce one winner and one [`BrokerError::Conflict`],
//! never a lost update). The read path fetches the secret and its workspace
//! in one strongly consistent `BatchGetItem`, so a warm injection costs one
//! DynamoDB call. `list` projects the blob away: metadata never carries
//! ciphertext it does not need.

pub(crate) mod breaker;
pub(crate) mod codec;
pub(crate) mod counters;
pub(crate) mod oauth2;
pub(crate) mod oauth2_start;
mod pages;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType, KeysAndAttributes,
    ScalarAttributeType,
};

use crate::aws_error::{classify, error_code, Service};
use crate::error::{BrokerError, Result};
use crate::model::{now, SecretMetadata, SecretStatus, WorkspaceSettings};
use crate::names::{SecretName, WorkspaceId};

pub(crate) use codec::SecretRecord;
use codec::{
    byok_attributes, n, parse_metadata, parse_secret, parse_workspace, pk, s, secret_item,
    secret_key, status_attributes, workspace_item, workspace_key, Item, METADATA_PROJECTION,
    SECRET_SK_PREFIX, WORKSPACE_SK,
};

/// What the read path's one `BatchGetItem` found.
#[derive(Debug, Default)]
pub(crate) struct ReadSet {
    pub secret: Option<SecretRecord>,
    pub workspace: Option<WorkspaceSettings>,
    pub limits: crate::limits::StoredLimits,
    /// The default when the secret has no breaker item.
    pub breaker: crate::breaker::BreakerState,
    /// The `oauth2` kind's state item, if the secret has one.
    pub oauth2: Option<oauth2::OAuth2State>,
}

/// Typed access to the broker's table.
#[derive(Debug, Clone)]
pub(crate) struct Store {
    ddb: aws_sdk_dynamodb::Client,
    table: String,
}

fn ddb_err<E: aws_smithy_types::error::metadata::ProvideErrorMetadata, R>(
    e: &aws_smithy_runtime_api::client::result::SdkError<E, R>,
) -> BrokerError {
    classify(Service::DynamoDb, None, e)
}

/// A failed conditional write: `on_condition()` if the condition failed,
/// the usual classification otherwise.
fn write_err<E: aws_smithy_types::error::metadata::ProvideErrorMetadata, R>(
    e: &aws_smithy_runtime_api::client::result::SdkError<E, R>,
    on_condition: impl FnOnce() -> BrokerError,
) -> BrokerError {
    if is_condition_failure(e) {
        on_condition()
    } else {
        ddb_err(e)
    }
}

fn is_condition_failure<E: aws_smithy_types::error::metadata::ProvideErrorMetadata, R>(
    e: &aws_smithy_runtime_api::client::result::SdkError<E, R>,
) -> bool {
    error_code(e) == Some("ConditionalCheckFailedException")
}

impl Store {
    pub(crate) fn new(ddb: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        Self {
            ddb,
            table: table.into(),
        }
    }

    pub(crate) async fn get_workspace(
        &self,
        ws: &WorkspaceId,
    ) -> Result<Option<WorkspaceSettings>> {
        self.get_consistent(workspace_key(ws))
            .await?
            .as_ref()
            .map(parse_workspace)
            .transpose()
    }

    /// One item by key, strongly consistent (what every single-item read
    /// of the control plane needs: it acts on what it read).
    async fn get_consistent(&self, key: Item) -> Result<Option<Item>> {
        let out = self
            .ddb
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| ddb_err(&e))?;
        Ok(out.item)
    }

    /// A strongly consistent Query over the secret items of `ws` (sort keys
    /// `secret#…`, so the workspace, limits, counter and breaker items of
    /// the partition are never read as secrets).
    fn secrets_query(
        &self,
        ws: &WorkspaceId,
    ) -> aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder {
        self.prefix_query(ws, SECRET_SK_PREFIX)
    }

    /// A strongly consistent Query over the items of `ws` whose sort key
    /// starts with `prefix`.
    fn prefix_query(
        &self,
        ws: &WorkspaceId,
        prefix: &str,
    ) -> aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder {
        self.ddb
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
            .expression_attribute_values(":pk", pk(ws))
            .expression_attribute_values(":prefix", s(prefix))
            .consistent_read(true)
    }

    /// Create the workspace record; `Conflict` if it exists.
    pub(crate) async fn create_workspace(&self, w: &WorkspaceSettings) -> Result<()> {
        self.ddb
            .put_item()
            .table_name(&self.table)
            .set_item(Some(workspace_item(w)))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await
            .map_err(|e| {
                write_err(&e, || BrokerError::Conflict {
                    what: "workspace",
                    name: w.workspace.to_string(),
                    detail: "already exists".into(),
                })
            })?;
        Ok(())
    }

    /// Store BYOK settings on an existing workspace, keeping its external id.
    pub(crate) async fn set_byok(&self, w: &WorkspaceSettings) -> Result<()> {
        let [e, r, k, g] = byok_attributes(&w.byok).map(|(_, v)| v);
        self.ddb
            .update_item()
            .table_name(&self.table)
            .set_key(Some(workspace_key(&w.workspace)))
            .update_expression(
                "SET byok_enabled = :e, role_arn = :r, key_arn = :k, #region = :g, updated_at = :u",
            )
            .condition_expression("attribute_exists(pk) AND external_id = :x")
            .expression_attribute_names("#region", "region")
            .expression_attribute_values(":e", e)
            .expression_attribute_values(":r", r)
            .expression_attribute_values(":k", k)
            .expression_attribute_values(":g", g)
            .expression_attribute_values(":u", n(w.updated_at))
            .expression_attribute_values(":x", s(&w.external_id))
            .send()
            .await
            .map_err(|e| {
                write_err(&e, || BrokerError::Conflict {
                    what: "workspace",
                    name: w.workspace.to_string(),
                    detail: "changed concurrently (external id differs or record gone)".into(),
                })
            })?;
        Ok(())
    }

    /// The secret, its workspace settings, the workspace's injection
    /// limits ([`counters`]) and the secret's probe breaker ([`breaker`])
    /// in one consistent round trip.
    pub(crate) async fn get_secret_and_workspace(
        &self,
        ws: &WorkspaceId,
        name: &SecretName,
    ) -> Result<ReadSet> {
        let mut request = KeysAndAttributes::builder()
            .keys(secret_key(ws, name))
            .keys(workspace_key(ws))
            .keys(counters::limits_key(ws))
            .keys(breaker::breaker_key(ws, name))
            .keys(oauth2::state_key(ws, name))
            .consistent_read(true)
            .build()
            .map_err(|_| BrokerError::Storage {
                detail: "could not build BatchGetItem".into(),
            })?;
        let mut read = ReadSet::default();
        // DynamoDB may defer keys under load; retry those a bounded number of times.
        for _ in 0..5 {
            let out = self
                .ddb
                .batch_get_item()
                .request_items(&self.table, request)
                .send()
                .await
                .map_err(|e| ddb_err(&e))?;
            for item in out
                .responses
                .into_iter()
                .flat_map(|mut r| r.remove(&self.table))
                .flatten()
            {
                match item.get("sk") {
                    Some(AttributeValue::S(sk)) if sk == WORKSPACE_SK => {
                        read.workspace = Some(parse_workspace(&item)?)
                    }
                    Some(AttributeValue::S(sk)) if sk == counters::LIMITS_SK => {
                        read.limits = counters::stored(ws, &item)
                    }
                    Some(AttributeValue::S(sk)) if sk.starts_with(breaker::BREAKER_SK_PREFIX) => {
                        read.breaker = breaker::parse_breaker(&item)?
                    }
                    Some(AttributeValue::S(sk)) if sk.starts_with(oauth2::OAUTH2_SK_PREFIX) => {
                        read.oauth2 = Some(oauth2::parse_state(&item)?)
                    }
                    _ => read.secret = Some(parse_secret(&item)?),
                }
            }
            match out.unprocessed_keys.and_then(|mut u| u.remove(&self.table)) {
                Some(rest) if !rest.keys.is_empty() => request = rest,
                _ => return Ok(read),
            }
        }
        Err(BrokerError::Throttled {
            service: "dynamodb",
            code: "UnprocessedKeys".into(),
        })
    }

    /// Write a secret. With `expected_version: None` the secret must not
    /// exist yet; with `Some(v)` the stored version must still be `v`.
    pub(crate) async fn write_secret(
        &self,
        rec: &SecretRecord,
        expected_version: Option<u64>,
    ) -> Result<()> {
        let mut req = self
            .ddb
            .put_item()
            .table_name(&self.table)
            .set_item(Some(secret_item(rec)?));
        req = match expected_version {
            None => req.condition_expression("attribute_not_exists(pk)"),
            Some(v) => req
                .condition_expression("version = :v")
                .expression_attribute_values(":v", n(v)),
        };
        req.send().await.map_err(|e| {
            write_err(&e, || BrokerError::Conflict {
                what: "secret",
                name: rec.meta.name.to_string(),
                detail: match expected_version {
                    None => "already exists; rotate it instead".into(),
                    Some(v) => format!("expected version {v}, but it was changed concurrently"),
                },
            })
        })?;
        Ok(())
    }

    /// Record what the last use of `version` saw. Skipped silently if the
    /// secret was rotated or deleted meanwhile: the newer write wins.
    pub(crate) async fn set_status(
        &self,
        meta: &SecretMetadata,
        status: SecretStatus,
    ) -> Result<()> {
        let req = self
            .ddb
            .update_item()
            .table_name(&self.table)
            .set_key(Some(secret_key(&meta.workspace, &meta.name)))
            .condition_expression("version = :v")
            .expression_attribute_names("#s", "status")
            .expression_attribute_values(":v", n(meta.version));
        let req = match status_attributes(status) {
            (state, None) => req
                .update_expression("SET #s = :s REMOVE status_reason, status_since")
                .expression_attribute_values(":s", s(state)),
            (state, Some((reason, since))) => req
                .update_expression("SET #s = :s, status_reason = :r, status_since = :t")
                .expression_attribute_values(":s", s(state))
                .expression_attribute_values(":r", reason)
                .expression_attribute_values(":t", since),
        };
        match req.send().await {
            Ok(_) => Ok(()),
            Err(e) if is_condition_failure(&e) => Ok(()),
            Err(e) => Err(ddb_err(&e)),
        }
    }

    /// A read of a key that never exists: opens the connection (TLS
    /// handshake) to DynamoDB during init instead of on the first request.
    pub(crate) async fn warm_up(&self) -> Result<()> {
        let key = Item::from([
            ("pk".to_owned(), s("keybroker#warmup")),
            ("sk".to_owned(), s("warmup")),
        ]);
        let keys = KeysAndAttributes::builder()
            .keys(key)
            .build()
            .map_err(|_| BrokerError::Storage {
                detail: "could not build BatchGetItem".into(),
            })?;
        self.ddb
            .batch_get_item()
            .request_items(&self.table, keys)
            .send()
            .await
            .map_err(|e| ddb_err(&e))?;
        Ok(())
    }

    /// Replace the workspace's access policy text.
    pub(crate) async fn set_policy(&self, ws: &WorkspaceId, policy: &str) -> Result<()> {
        self.ddb
            .update_item()
            .table_name(&self.table)
            .set_key(Some(workspace_key(ws)))
            .update_expression("SET policy = :p, updated_at = :u")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":p", s(policy))
            .expression_attribute_values(":u", n(now()))
            .send()
            .await
            .map_err(|e| {
                write_err(&e, || BrokerError::NotFound {
                    what: "workspace",
                    name: ws.to_string(),
                })
            })?;
        Ok(())
    }

    pub(crate) async fn list_secrets(&self, ws: &WorkspaceId) -> Result<Vec<SecretMetadata>> {
        let mut out = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let page = self
                .secrets_query(ws)
                .projection_expression(METADATA_PROJECTION)
                .expression_attribute_names("#n", "name")
                .expression_attribute_names("#s", "status")
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| ddb_err(&e))?;
            for item in page.items() {
                out.push(parse_metadata(item)?);
            }
            match page.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => return Ok(out),
            }
        }
    }

    /// Delete a secret; `NotFound` if there is none.
    pub(crate) async fn delete_secret(&self, ws: &WorkspaceId, name: &SecretName) -> Result<()> {
        self.ddb
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(secret_key(ws, name)))
            .condition_expression("attribute_exists(pk)")
            .send()
            .await
            .map_err(|e| {
                write_err(&e, || BrokerError::NotFound {
                    what: "secret",
                    name: name.to_string(),
                })
            })?;
        Ok(())
    }
}

/// Create the table with the key schema the broker uses. For local stacks
/// and tests; production tables come from `infra/` (same schema).
pub async fn create_table(ddb: &aws_sdk_dynamodb::Client, table: &str) -> Result<()> {
    let attr = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
    };
    let key = |name: &str, kind| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(kind)
            .build()
    };
    let build_err = |_| BrokerError::Storage {
        detail: "could not build CreateTable".into(),
    };
    ddb.create_table()
        .table_name(table)
        .attribute_definitions(attr("pk").map_err(build_err)?)
        .attribute_definitions(attr("sk").map_err(build_err)?)
        .key_schema(key("pk", KeyType::Hash).map_err(build_err)?)
        .key_schema(key("sk", KeyType::Range).map_err(build_err)?)
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .map_err(|e| ddb_err(&e))?;
    Ok(())
}
