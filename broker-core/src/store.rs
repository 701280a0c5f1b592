//! DynamoDB persistence: one table, one partition per workspace.
//!
//! ```text
//! pk = "ws#<workspace>"   sk = "workspace"       BYOK settings, external id
//! pk = "ws#<workspace>"   sk = "secret#<name>"   blob + metadata of one secret
//! ```
//!
//! Every write is conditional: creating requires the item to be absent,
//! rotating requires the version the writer read (optimistic concurrency, so
//! two racing rotations produce one winner and one [`BrokerError::Conflict`],
//! never a lost update). The read path fetches the secret and its workspace
//! in one strongly consistent `BatchGetItem`, so a warm injection costs one
//! DynamoDB call. `list` projects the blob away: metadata never carries
//! ciphertext it does not need.

use std::collections::HashMap;

use aws_sdk_dynamodb::primitives::Blob as DdbBlob;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType, KeysAndAttributes,
    ScalarAttributeType,
};

use crate::aws_error::{classify, error_code, Service};
use crate::binding::Binding;
use crate::error::{BrokerError, Result, RevokedReason};
use crate::model::{now, KeyMode, SecretMetadata, SecretStatus, WorkspaceSettings};
use crate::names::{SecretName, WorkspaceId};

type Item = HashMap<String, AttributeValue>;

const WORKSPACE_SK: &str = "workspace";
const SECRET_SK_PREFIX: &str = "secret#";
/// Attributes `list` reads: all but the blob.
const METADATA_PROJECTION: &str =
    "workspace, #n, version, key_mode, key_arn, created_at, updated_at, #s, status_reason, status_since, binding";

/// A secret's stored form: metadata plus the encrypted blob.
#[derive(Debug, Clone)]
pub(crate) struct SecretRecord {
    pub meta: SecretMetadata,
    pub blob: Vec<u8>,
}

/// Typed access to the broker's table.
#[derive(Debug, Clone)]
pub(crate) struct Store {
    ddb: aws_sdk_dynamodb::Client,
    table: String,
}

fn pk(ws: &WorkspaceId) -> AttributeValue {
    AttributeValue::S(format!("ws#{ws}"))
}

fn secret_sk(name: &SecretName) -> AttributeValue {
    AttributeValue::S(format!("{SECRET_SK_PREFIX}{name}"))
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: u64) -> AttributeValue {
    AttributeValue::N(v.to_string())
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
        let out = self
            .ddb
            .get_item()
            .table_name(&self.table)
            .key("pk", pk(ws))
            .key("sk", s(WORKSPACE_SK))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| ddb_err(&e))?;
        out.item.as_ref().map(parse_workspace).transpose()
    }

    /// Create the workspace record; `Conflict` if it exists.
    pub(crate) async fn create_workspace(&self, w: &WorkspaceSettings) -> Result<()> {
        let ws = WorkspaceId::new(w.workspace.clone())?;
        self.ddb
            .put_item()
            .table_name(&self.table)
            .item("pk", pk(&ws))
            .item("sk", s(WORKSPACE_SK))
            .item("workspace", s(&w.workspace))
            .item("external_id", s(&w.external_id))
            .item("byok_enabled", AttributeValue::Bool(w.byok_enabled))
            .item("updated_at", n(w.updated_at))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await
            .map_err(|e| {
                write_err(&e, || BrokerError::Conflict {
                    what: "workspace",
                    name: w.workspace.clone(),
                    detail: "already exists".into(),
                })
            })?;
        Ok(())
    }

    /// Store BYOK settings on an existing workspace, keeping its external id.
    pub(crate) async fn set_byok(&self, w: &WorkspaceSettings) -> Result<()> {
        let ws = WorkspaceId::new(w.workspace.clone())?;
        let opt = |v: &Option<String>| v.clone().map(s).unwrap_or(AttributeValue::Null(true));
        self.ddb
            .update_item()
            .table_name(&self.table)
            .key("pk", pk(&ws))
            .key("sk", s(WORKSPACE_SK))
            .update_expression(
                "SET byok_enabled = :e, role_arn = :r, key_arn = :k, #region = :g, updated_at = :u",
            )
            .condition_expression("attribute_exists(pk) AND external_id = :x")
            .expression_attribute_names("#region", "region")
            .expression_attribute_values(":e", AttributeValue::Bool(w.byok_enabled))
            .expression_attribute_values(":r", opt(&w.role_arn))
            .expression_attribute_values(":k", opt(&w.key_arn))
            .expression_attribute_values(":g", opt(&w.region))
            .expression_attribute_values(":u", n(w.updated_at))
            .expression_attribute_values(":x", s(&w.external_id))
            .send()
            .await
            .map_err(|e| {
                write_err(&e, || BrokerError::Conflict {
                    what: "workspace",
                    name: w.workspace.clone(),
                    detail: "changed concurrently (external id differs or record gone)".into(),
                })
            })?;
        Ok(())
    }

    /// The secret and its workspace settings in one consistent round trip.
    pub(crate) async fn get_secret_and_workspace(
        &self,
        ws: &WorkspaceId,
        name: &SecretName,
    ) -> Result<(Option<SecretRecord>, Option<WorkspaceSettings>)> {
        let key =
            |sk: AttributeValue| HashMap::from([("pk".to_owned(), pk(ws)), ("sk".to_owned(), sk)]);
        let mut request = KeysAndAttributes::builder()
            .keys(key(secret_sk(name)))
            .keys(key(s(WORKSPACE_SK)))
            .consistent_read(true)
            .build()
            .map_err(|_| BrokerError::Storage {
                detail: "could not build BatchGetItem".into(),
            })?;
        let (mut secret, mut workspace) = (None, None);
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
                        workspace = Some(parse_workspace(&item)?)
                    }
                    _ => secret = Some(parse_secret(&item)?),
                }
            }
            match out.unprocessed_keys.and_then(|mut u| u.remove(&self.table)) {
                Some(rest) if !rest.keys.is_empty() => request = rest,
                _ => return Ok((secret, workspace)),
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
        let m = &rec.meta;
        let ws = WorkspaceId::new(m.workspace.clone())?;
        let name = SecretName::new(m.name.clone())?;
        let mut req = self
            .ddb
            .put_item()
            .table_name(&self.table)
            .item("pk", pk(&ws))
            .item("sk", secret_sk(&name))
            .item("workspace", s(&m.workspace))
            .item("name", s(&m.name))
            .item("version", n(m.version))
            .item("key_mode", s(m.key_mode.as_str()))
            .item("key_arn", s(&m.key_arn))
            .item("blob", AttributeValue::B(DdbBlob::new(rec.blob.clone())))
            .item("created_at", n(m.created_at))
            .item("updated_at", n(m.updated_at))
            .item("status", s("active"));
        if let Some(b) = &m.binding {
            let json = serde_json::to_string(b).map_err(|_| malformed("binding"))?;
            req = req.item("binding", s(json));
        }
        req = match expected_version {
            None => req.condition_expression("attribute_not_exists(pk)"),
            Some(v) => req
                .condition_expression("version = :v")
                .expression_attribute_values(":v", n(v)),
        };
        req.send().await.map_err(|e| {
            write_err(&e, || BrokerError::Conflict {
                what: "secret",
                name: m.name.clone(),
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
        let ws = WorkspaceId::new(meta.workspace.clone())?;
        let name = SecretName::new(meta.name.clone())?;
        let req = self
            .ddb
            .update_item()
            .table_name(&self.table)
            .key("pk", pk(&ws))
            .key("sk", secret_sk(&name))
            .condition_expression("version = :v")
            .expression_attribute_names("#s", "status")
            .expression_attribute_values(":v", n(meta.version));
        let req = match status {
            SecretStatus::Active => req
                .update_expression("SET #s = :s REMOVE status_reason, status_since")
                .expression_attribute_values(":s", s("active")),
            SecretStatus::Revoked { reason, since } => req
                .update_expression("SET #s = :s, status_reason = :r, status_since = :t")
                .expression_attribute_values(":s", s("revoked"))
                .expression_attribute_values(":r", s(reason.as_str()))
                .expression_attribute_values(":t", n(since)),
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
        let key = HashMap::from([
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
            .key("pk", pk(ws))
            .key("sk", s(WORKSPACE_SK))
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
                .ddb
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
                .expression_attribute_values(":pk", pk(ws))
                .expression_attribute_values(":prefix", s(SECRET_SK_PREFIX))
                .projection_expression(METADATA_PROJECTION)
                .expression_attribute_names("#n", "name")
                .expression_attribute_names("#s", "status")
                .consistent_read(true)
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
            .key("pk", pk(ws))
            .key("sk", secret_sk(name))
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

fn malformed(what: &str) -> BrokerError {
    BrokerError::Storage {
        detail: format!("stored record is malformed: {what}"),
    }
}

fn get_s<'a>(item: &'a Item, k: &'static str) -> Result<&'a str> {
    match item.get(k) {
        Some(AttributeValue::S(v)) => Ok(v),
        _ => Err(malformed(k)),
    }
}

fn get_n(item: &Item, k: &'static str) -> Result<u64> {
    match item.get(k) {
        Some(AttributeValue::N(v)) => v.parse().map_err(|_| malformed(k)),
        _ => Err(malformed(k)),
    }
}

/// Every attribute a workspace item may hold. An item with any other is
/// refused: settings this build does not understand are not guessed at.
/// (A new attribute must be added here by the change that writes it.)
const WORKSPACE_ATTRIBUTES: [&str; 10] = [
    "pk",
    "sk",
    "workspace",
    "external_id",
    "byok_enabled",
    "role_arn",
    "key_arn",
    "region",
    "updated_at",
    "policy",
];

/// An optional string attribute: absent or `NULL` is `None`, a string is
/// `Some`, any other type is malformed (never silently `None`).
fn get_opt_s_strict(item: &Item, k: &'static str) -> Result<Option<String>> {
    match item.get(k) {
        None | Some(AttributeValue::Null(true)) => Ok(None),
        Some(AttributeValue::S(v)) => Ok(Some(v.clone())),
        Some(_) => Err(malformed(k)),
    }
}

/// Parse a workspace item, failing closed. A missing, mistyped or unknown
/// attribute is a `Storage` error, never a default: in particular a
/// malformed `byok_enabled` must not read as "BYOK off", which would move
/// new secrets to the platform key, out of the customer's reach. BYOK on
/// requires a parseable role ARN, key ARN and region.
fn parse_workspace(item: &Item) -> Result<WorkspaceSettings> {
    if let Some(k) = item
        .keys()
        .find(|k| !WORKSPACE_ATTRIBUTES.contains(&k.as_str()))
    {
        return Err(BrokerError::Storage {
            detail: format!("stored record is malformed: unknown workspace attribute {k:?}"),
        });
    }
    let byok_enabled = match item.get("byok_enabled") {
        Some(AttributeValue::Bool(b)) => *b,
        _ => return Err(malformed("byok_enabled")),
    };
    let settings = WorkspaceSettings {
        workspace: get_s(item, "workspace")?.to_owned(),
        external_id: get_s(item, "external_id")?.to_owned(),
        byok_enabled,
        role_arn: get_opt_s_strict(item, "role_arn")?,
        key_arn: get_opt_s_strict(item, "key_arn")?,
        region: get_opt_s_strict(item, "region")?,
        updated_at: get_n(item, "updated_at")?,
        policy: get_opt_s_strict(item, "policy")?,
    };
    if settings.byok_enabled {
        let role = settings
            .role_arn
            .as_deref()
            .ok_or_else(|| malformed("role_arn"))?;
        crate::arn::RoleArn::parse(role).map_err(|_| malformed("role_arn"))?;
        let key = settings
            .key_arn
            .as_deref()
            .ok_or_else(|| malformed("key_arn"))?;
        crate::arn::KeyArn::parse(key).map_err(|_| malformed("key_arn"))?;
        let region = settings
            .region
            .as_deref()
            .ok_or_else(|| malformed("region"))?;
        crate::arn::check_region(region).map_err(|_| malformed("region"))?;
    }
    Ok(settings)
}

fn parse_metadata(item: &Item) -> Result<SecretMetadata> {
    let status = match get_s(item, "status")? {
        "active" => SecretStatus::Active,
        "revoked" => SecretStatus::Revoked {
            reason: RevokedReason::parse(get_s(item, "status_reason")?)
                .ok_or_else(|| malformed("status_reason"))?,
            since: get_n(item, "status_since")?,
        },
        _ => return Err(malformed("status")),
    };
    Ok(SecretMetadata {
        workspace: get_s(item, "workspace")?.to_owned(),
        name: get_s(item, "name")?.to_owned(),
        version: get_n(item, "version")?,
        key_mode: KeyMode::parse(get_s(item, "key_mode")?).ok_or_else(|| malformed("key_mode"))?,
        key_arn: get_s(item, "key_arn")?.to_owned(),
        created_at: get_n(item, "created_at")?,
        updated_at: get_n(item, "updated_at")?,
        status,
        binding: get_opt_s_strict(item, "binding")?
            .map(|j| serde_json::from_str(&j))
            .transpose()
            .map_err(|_| malformed("binding"))?,
    })
}

fn parse_secret(item: &Item) -> Result<SecretRecord> {
    let blob = match item.get("blob") {
        Some(AttributeValue::B(b)) => b.as_ref().to_vec(),
        _ => return Err(malformed("blob")),
    };
    Ok(SecretRecord {
        meta: parse_metadata(item)?,
        blob,
    })
}

/// Fresh metadata for a first write.
pub(crate) fn new_metadata(
    ws: &WorkspaceId,
    name: &SecretName,
    key_mode: KeyMode,
    key_arn: &str,
    binding: Option<Binding>,
) -> SecretMetadata {
    let t = now();
    SecretMetadata {
        workspace: ws.to_string(),
        name: name.to_string(),
        version: 1,
        key_mode,
        key_arn: key_arn.to_owned(),
        created_at: t,
        updated_at: t,
        status: SecretStatus::Active,
        binding,
    }
}
