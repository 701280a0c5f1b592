//! Item encoding: the DynamoDB item format of the two record kinds, both
//! ways, with no I/O.
//!
//! ```text
//! pk = "ws#<workspace>"   sk = "workspace"       BYOK settings, external id, policy
//! pk = "ws#<workspace>"   sk = "secret#<name>"   blob + metadata of one secret
//! ```
//!
//! Parsing fails closed: a missing, mistyped or (on workspace items)
//! unknown attribute is a `Storage` error naming it ("stored record is
//! malformed: …"), never a default. In particular a malformed
//! `byok_enabled` must not read as "BYOK off", which would move new secrets
//! to the platform key, out of the customer's reach. The format is frozen
//! (no migration): a change here must keep reading every stored item.
//!
//! Secret item versions (a committed test vector of each is in
//! `codec/fixtures/`, asserted by the tests beside this file):
//! - **v1** (before roles were recorded): no `role_arn`. A BYOK v1 item is
//!   read through the workspace's *current* link's role, as it always was;
//!   `rewrap` rewrites it as v2.
//! - **v2**: a BYOK item also records `role_arn`, the role it was sealed
//!   through, which its reads assume. A platform item never has one (one
//!   that does is malformed).

use std::collections::HashMap;

use aws_sdk_dynamodb::primitives::Blob as DdbBlob;
use aws_sdk_dynamodb::types::AttributeValue;

use crate::arn::{KeyArn, RoleArn};
use crate::error::{BrokerError, Result, RevokedReason};
use crate::model::{Byok, KeyMode, SecretMetadata, SecretStatus, WorkspaceSettings};
use crate::names::{SecretName, WorkspaceId};

/// One DynamoDB item.
pub(crate) type Item = HashMap<String, AttributeValue>;

/// Sort key of a workspace's settings item.
pub(crate) const WORKSPACE_SK: &str = "workspace";
/// Sort key prefix of secret items.
pub(crate) const SECRET_SK_PREFIX: &str = "secret#";
/// Attributes `list` reads: all but the blob.
pub(crate) const METADATA_PROJECTION: &str =
    "workspace, #n, version, key_mode, key_arn, role_arn, created_at, updated_at, #s, status_reason, status_since, binding";

/// A secret's stored form: metadata plus the encrypted blob.
#[derive(Debug, Clone)]
pub(crate) struct SecretRecord {
    pub meta: SecretMetadata,
    pub blob: Vec<u8>,
}

pub(crate) fn pk(ws: &WorkspaceId) -> AttributeValue {
    AttributeValue::S(format!("ws#{ws}"))
}

pub(crate) fn secret_sk(name: &SecretName) -> AttributeValue {
    AttributeValue::S(format!("{SECRET_SK_PREFIX}{name}"))
}

pub(crate) fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

pub(crate) fn n(v: u64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

/// The item key of a workspace's settings.
pub(crate) fn workspace_key(ws: &WorkspaceId) -> Item {
    HashMap::from([
        ("pk".to_owned(), pk(ws)),
        ("sk".to_owned(), s(WORKSPACE_SK)),
    ])
}

/// The item key of a secret.
pub(crate) fn secret_key(ws: &WorkspaceId, name: &SecretName) -> Item {
    HashMap::from([
        ("pk".to_owned(), pk(ws)),
        ("sk".to_owned(), secret_sk(name)),
    ])
}

/// The stored words of a [`SecretStatus`]'s state.
pub(crate) const ACTIVE: &str = "active";
const REVOKED: &str = "revoked";

/// The BYOK attributes as `set_byok` writes them: `byok_enabled` always,
/// the link's three parts as strings, or `NULL` when there is no link.
pub(crate) fn byok_attributes(byok: &Byok) -> [(&'static str, AttributeValue); 4] {
    let opt = |v: Option<&str>| v.map(s).unwrap_or(AttributeValue::Null(true));
    let link = byok.link();
    [
        (
            "byok_enabled",
            AttributeValue::Bool(byok.enabled_link().is_some()),
        ),
        ("role_arn", opt(link.map(|l| l.role.as_str()))),
        ("key_arn", opt(link.map(|l| l.key.as_str()))),
        ("region", opt(link.map(|l| l.region.as_str()))),
    ]
}

/// A workspace's full item. A workspace with no link stores no link
/// attributes at all (as `create_workspace` always has).
pub(crate) fn workspace_item(w: &WorkspaceSettings) -> Item {
    let mut item = workspace_key(&w.workspace);
    item.insert("workspace".into(), s(w.workspace.as_str()));
    item.insert("external_id".into(), s(&w.external_id));
    for (k, v) in byok_attributes(&w.byok) {
        if k == "byok_enabled" || w.byok.link().is_some() {
            item.insert(k.into(), v);
        }
    }
    item.insert("updated_at".into(), n(w.updated_at));
    if let Some(p) = &w.policy {
        item.insert("policy".into(), s(p));
    }
    item
}

/// A secret's full item, as a create or rotation writes it (status active).
pub(crate) fn secret_item(rec: &SecretRecord) -> Result<Item> {
    let m = &rec.meta;
    let mut item = secret_key(&m.workspace, &m.name);
    item.extend([
        ("workspace".into(), s(m.workspace.as_str())),
        ("name".into(), s(m.name.as_str())),
        ("version".into(), n(m.version)),
        ("key_mode".into(), s(m.key_mode.as_str())),
        ("key_arn".into(), s(m.key_arn.as_str())),
        (
            "blob".into(),
            AttributeValue::B(DdbBlob::new(rec.blob.clone())),
        ),
        ("created_at".into(), n(m.created_at)),
        ("updated_at".into(), n(m.updated_at)),
        ("status".into(), s(ACTIVE)),
    ]);
    if let Some(role) = &m.role_arn {
        item.insert("role_arn".into(), s(role.as_str()));
    }
    if let Some(b) = &m.binding {
        let json = serde_json::to_string(b).map_err(|_| malformed("binding"))?;
        item.insert("binding".into(), s(json));
    }
    Ok(item)
}

/// The `status` attribute values of a status change: the state word, and
/// for a revocation its reason and time.
pub(crate) fn status_attributes(
    status: SecretStatus,
) -> (&'static str, Option<(AttributeValue, AttributeValue)>) {
    match status {
        SecretStatus::Active => (ACTIVE, None),
        SecretStatus::Revoked { reason, since } => (REVOKED, Some((s(reason.as_str()), n(since)))),
    }
}

pub(crate) fn malformed(what: &str) -> BrokerError {
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

/// An optional number attribute: absent is `None`; any other type, or a
/// number that is not a `u64`, is malformed.
pub(crate) fn get_opt_n(item: &Item, k: &'static str) -> Result<Option<u64>> {
    match item.get(k) {
        None => Ok(None),
        Some(AttributeValue::N(v)) => v.parse().map(Some).map_err(|_| malformed(k)),
        Some(_) => Err(malformed(k)),
    }
}

/// Refuse an item holding an attribute not in `allowed` (`what` names the
/// item kind in the error): what this build does not understand is not
/// guessed at.
pub(crate) fn only_attributes(item: &Item, allowed: &[&str], what: &str) -> Result<()> {
    match item.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(malformed(&format!("unknown {what} attribute {k:?}"))),
        None => Ok(()),
    }
}

/// An optional string attribute: absent or `NULL` is `None`, a string is
/// `Some`, any other type is malformed (never silently `None`).
fn get_opt_s<'a>(item: &'a Item, k: &'static str) -> Result<Option<&'a str>> {
    match item.get(k) {
        None | Some(AttributeValue::Null(true)) => Ok(None),
        Some(AttributeValue::S(v)) => Ok(Some(v)),
        Some(_) => Err(malformed(k)),
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

/// Parse a workspace item, failing closed (see the module docs). The BYOK
/// attributes must form one of the states of [`Byok`].
pub(crate) fn parse_workspace(item: &Item) -> Result<WorkspaceSettings> {
    if let Some(k) = item
        .keys()
        .find(|k| !WORKSPACE_ATTRIBUTES.contains(&k.as_str()))
    {
        return Err(malformed(&format!("unknown workspace attribute {k:?}")));
    }
    let enabled = match item.get("byok_enabled") {
        Some(AttributeValue::Bool(b)) => *b,
        _ => return Err(malformed("byok_enabled")),
    };
    let byok = Byok::from_stored(
        enabled,
        get_opt_s(item, "role_arn")?,
        get_opt_s(item, "key_arn")?,
        get_opt_s(item, "region")?,
    )
    .map_err(|e| malformed(e.attribute()))?;
    Ok(WorkspaceSettings {
        workspace: WorkspaceId::new(get_s(item, "workspace")?)
            .map_err(|_| malformed("workspace"))?,
        external_id: get_s(item, "external_id")?.to_owned(),
        byok,
        updated_at: get_n(item, "updated_at")?,
        policy: get_opt_s(item, "policy")?.map(str::to_owned),
    })
}

/// Parse a secret item's metadata (all but the blob: what `list` projects).
pub(crate) fn parse_metadata(item: &Item) -> Result<SecretMetadata> {
    let status = match get_s(item, "status")? {
        ACTIVE => SecretStatus::Active,
        REVOKED => SecretStatus::Revoked {
            reason: RevokedReason::parse(get_s(item, "status_reason")?)
                .ok_or_else(|| malformed("status_reason"))?,
            since: get_n(item, "status_since")?,
        },
        _ => return Err(malformed("status")),
    };
    let key_mode = KeyMode::parse(get_s(item, "key_mode")?).ok_or_else(|| malformed("key_mode"))?;
    let role_arn = get_opt_s(item, "role_arn")?
        .map(RoleArn::parse)
        .transpose()
        .map_err(|_| malformed("role_arn"))?;
    // The broker records a role only with the customer's key: a platform
    // secret naming one was written by someone else, and is not guessed at.
    if key_mode == KeyMode::Platform && role_arn.is_some() {
        return Err(malformed("role_arn"));
    }
    Ok(SecretMetadata {
        workspace: WorkspaceId::new(get_s(item, "workspace")?)
            .map_err(|_| malformed("workspace"))?,
        name: SecretName::new(get_s(item, "name")?).map_err(|_| malformed("name"))?,
        version: get_n(item, "version")?,
        key_mode,
        key_arn: KeyArn::parse(get_s(item, "key_arn")?).map_err(|_| malformed("key_arn"))?,
        role_arn,
        created_at: get_n(item, "created_at")?,
        updated_at: get_n(item, "updated_at")?,
        status,
        binding: get_opt_s(item, "binding")?
            .map(serde_json::from_str)
            .transpose()
            .map_err(|_| malformed("binding"))?,
    })
}

/// Parse a full secret item.
pub(crate) fn parse_secret(item: &Item) -> Result<SecretRecord> {
    let blob = match item.get("blob") {
        Some(AttributeValue::B(b)) => b.as_ref().to_vec(),
        _ => return Err(malformed("blob")),
    };
    Ok(SecretRecord {
        meta: parse_metadata(item)?,
        blob,
    })
}

#[cfg(test)]
pub(crate) mod tests;
