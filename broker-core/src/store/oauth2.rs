//! The `oauth2` kind's state in the table ([`crate::oauth2`] has the why):
//! one item per secret, beside it in the workspace's partition.
//!
//! ```text
//! pk = "ws#<workspace>"   sk = "oauth2#<name>"        oauth_secret_version, oauth_access (B),
//!                                                     oauth_issued_at, oauth_expires_at (ms),
//!                                                     oauth_lease_until (ms), oauth_lease_owner,
//!                                                     oauth_reauth_since (s)
//! ```
//!
//! Item version v1 (the only one; test vector `codec/fixtures/oauth2_item_v1.json`).
//! Every attribute name starts with `oauth_`, so the inject role's
//! `UpdateItem` (limited by `dynamodb:Attributes`) can write this state and
//! no attribute of a secret item other than the three of a write-back
//! (`blob`, `version`, `updated_at`). The state item is read in the same
//! `BatchGetItem` as the secret, so a fresh cached token costs no call.
//! `oauth_secret_version` is the version of the secret the cached access
//! token was obtained with: a rotation or rewrap makes it stale (refreshed
//! from the new version), never used. Parsing fails closed.

use aws_sdk_dynamodb::primitives::Blob as DdbBlob;
use aws_sdk_dynamodb::types::AttributeValue;

use super::codec::{get_opt_n, malformed, n, only_attributes, pk, s, Item};
use super::{ddb_err, is_condition_failure, write_err, Store};
use crate::error::{BrokerError, Result};
use crate::names::{SecretName, WorkspaceId};

/// Sort key prefix of oauth2 state items.
pub(crate) const OAUTH2_SK_PREFIX: &str = "oauth2#";

const STATE_ATTRIBUTES: [&str; 9] = [
    "pk",
    "sk",
    "oauth_secret_version",
    "oauth_access",
    "oauth_issued_at",
    "oauth_expires_at",
    "oauth_lease_until",
    "oauth_lease_owner",
    "oauth_reauth_since",
];

/// A secret's oauth2 state as read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct OAuth2State {
    /// Version of the secret the cached token came from (0: none).
    pub secret_version: u64,
    /// The cached access token's blob (derived name `<name>#access`).
    pub access: Option<Vec<u8>>,
    pub issued_at_ms: u64,
    pub expires_at_ms: u64,
    pub lease_until_ms: Option<u64>,
    pub lease_owner: Option<String>,
    /// Set once the provider refused the refresh token.
    pub reauth_since: Option<u64>,
}

pub(crate) fn state_key(ws: &WorkspaceId, name: &SecretName) -> Item {
    Item::from([
        ("pk".to_owned(), pk(ws)),
        ("sk".to_owned(), s(format!("{OAUTH2_SK_PREFIX}{name}"))),
    ])
}

fn opt_b(item: &Item, k: &'static str) -> Result<Option<Vec<u8>>> {
    match item.get(k) {
        None => Ok(None),
        Some(AttributeValue::B(b)) => Ok(Some(b.as_ref().to_vec())),
        Some(_) => Err(malformed(k)),
    }
}

fn opt_s(item: &Item, k: &'static str) -> Result<Option<String>> {
    match item.get(k) {
        None => Ok(None),
        Some(AttributeValue::S(v)) => Ok(Some(v.clone())),
        Some(_) => Err(malformed(k)),
    }
}

/// Parse a state item, failing closed.
pub(crate) fn parse_state(item: &Item) -> Result<OAuth2State> {
    only_attributes(item, &STATE_ATTRIBUTES, "oauth2 state")?;
    let st = OAuth2State {
        secret_version: get_opt_n(item, "oauth_secret_version")?.unwrap_or(0),
        access: opt_b(item, "oauth_access")?,
        issued_at_ms: get_opt_n(item, "oauth_issued_at")?.unwrap_or(0),
        expires_at_ms: get_opt_n(item, "oauth_expires_at")?.unwrap_or(0),
        lease_until_ms: get_opt_n(item, "oauth_lease_until")?,
        lease_owner: opt_s(item, "oauth_lease_owner")?,
        reauth_since: get_opt_n(item, "oauth_reauth_since")?,
    };
    if st.access.is_some() && (st.secret_version == 0 || st.expires_at_ms < st.issued_at_ms) {
        return Err(malformed(
            "oauth2 state: cached token without its version or times",
        ));
    }
    Ok(st)
}

/// A state item with a fresh cached token and no lease (what
/// `complete_oauth2` writes).
pub(crate) fn state_item(ws: &WorkspaceId, name: &SecretName, st: &OAuth2State) -> Item {
    let mut item = state_key(ws, name);
    item.insert("oauth_secret_version".into(), n(st.secret_version));
    if let Some(a) = &st.access {
        item.insert(
            "oauth_access".into(),
            AttributeValue::B(DdbBlob::new(a.clone())),
        );
    }
    item.insert("oauth_issued_at".into(), n(st.issued_at_ms));
    item.insert("oauth_expires_at".into(), n(st.expires_at_ms));
    item
}

/// A fresh token to write under the lease.
pub(crate) struct Refreshed<'a> {
    pub secret_version: u64,
    pub access: &'a [u8],
    pub issued_at_ms: u64,
    pub expires_at_ms: u64,
}

impl Store {
    /// Take `name`'s refresh lease until `until_ms` if it is free or
    /// expired at `now_ms` and the secret is not `reauth_required`. `false`:
    /// someone else holds it (or reauth is required: the caller re-reads).
    pub(crate) async fn acquire_oauth2_lease(
        &self,
        ws: &WorkspaceId,
        name: &SecretName,
        owner: &str,
        now_ms: u64,
        until_ms: u64,
    ) -> Result<bool> {
        let r = self
            .ddb
            .update_item()
            .table_name(&self.table)
            .set_key(Some(state_key(ws, name)))
            .update_expression("SET oauth_lease_until = :u, oauth_lease_owner = :o")
            .condition_expression(
                "(attribute_not_exists(oauth_lease_until) OR oauth_lease_until < :now) AND attribute_not_exists(oauth_reauth_since)",
            )
            .expression_attribute_values(":u", n(until_ms))
            .expression_attribute_values(":o", s(owner))
            .expression_attribute_values(":now", n(now_ms))
            .send()
            .await;
        match r {
            Ok(_) => Ok(true),
            Err(e) if is_condition_failure(&e) => Ok(false),
            Err(e) => Err(ddb_err(&e)),
        }
    }

    /// Store a refreshed token and release the lease, only while `owner`
    /// still holds it (`Conflict` otherwise: the lease expired and another
    /// invocation took it).
    pub(crate) async fn finish_oauth2_refresh(
        &self,
        ws: &WorkspaceId,
        name: &SecretName,
        owner: &str,
        r: &Refreshed<'_>,
    ) -> Result<()> {
        self.ddb
            .update_item()
            .table_name(&self.table)
            .set_key(Some(state_key(ws, name)))
            .update_expression(
                "SET oauth_secret_version = :v, oauth_access = :a, oauth_issued_at = :i, oauth_expires_at = :x REMOVE oauth_lease_until, oauth_lease_owner",
            )
            .condition_expression("oauth_lease_owner = :o")
            .expression_attribute_values(":v", n(r.secret_version))
            .expression_attribute_values(":a", AttributeValue::B(DdbBlob::new(r.access.to_vec())))
            .expression_attribute_values(":i", n(r.issued_at_ms))
            .expression_attribute_values(":x", n(r.expires_at_ms))
            .expression_attribute_values(":o", s(owner))
            .send()
            .await
            .map_err(|e| write_err(&e, || lease_lost(name)))?;
        Ok(())
    }

    /// Mark the secret `reauth_required` (the provider refused its refresh
    /// token), drop the cached token and release the lease.
    pub(crate) async fn mark_oauth2_reauth(
        &self,
        ws: &WorkspaceId,
        name: &SecretName,
        owner: &str,
        at: u64,
    ) -> Result<()> {
        self.ddb
            .update_item()
            .table_name(&self.table)
            .set_key(Some(state_key(ws, name)))
            .update_expression(
                "SET oauth_reauth_since = :t REMOVE oauth_access, oauth_lease_until, oauth_lease_owner",
            )
            .condition_expression("oauth_lease_owner = :o")
            .expression_attribute_values(":t", n(at))
            .expression_attribute_values(":o", s(owner))
            .send()
            .await
            .map_err(|e| write_err(&e, || lease_lost(name)))?;
        Ok(())
    }

    /// Release the lease after a failed refresh (best effort: it expires
    /// anyway).
    pub(crate) async fn release_oauth2_lease(
        &self,
        ws: &WorkspaceId,
        name: &SecretName,
        owner: &str,
    ) {
        let r = self
            .ddb
            .update_item()
            .table_name(&self.table)
            .set_key(Some(state_key(ws, name)))
            .update_expression("REMOVE oauth_lease_until, oauth_lease_owner")
            .condition_expression("oauth_lease_owner = :o")
            .expression_attribute_values(":o", s(owner))
            .send()
            .await;
        if let Err(e) = r {
            if !is_condition_failure(&e) {
                tracing::warn!(workspace = %ws, secret = %name, error = %ddb_err(&e), "could not release the oauth2 refresh lease; it expires on its own");
            }
        }
    }

    /// Write back a rotated refresh token: the secret's new blob as the
    /// next version, only on top of `expected_version` (`Conflict`
    /// otherwise). An `UpdateItem` of `blob`, `version` and `updated_at`
    /// only, so the inject role needs no `PutItem`.
    pub(crate) async fn write_back_secret_blob(
        &self,
        ws: &WorkspaceId,
        name: &SecretName,
        blob: Vec<u8>,
        expected_version: u64,
        at: u64,
    ) -> Result<()> {
        self.ddb
            .update_item()
            .table_name(&self.table)
            .set_key(Some(super::codec::secret_key(ws, name)))
            .update_expression("SET #b = :b, version = :nv, updated_at = :t")
            .condition_expression("version = :v")
            .expression_attribute_names("#b", "blob")
            .expression_attribute_values(":b", AttributeValue::B(DdbBlob::new(blob)))
            .expression_attribute_values(":nv", n(expected_version + 1))
            .expression_attribute_values(":v", n(expected_version))
            .expression_attribute_values(":t", n(at))
            .send()
            .await
            .map_err(|e| {
                write_err(&e, || BrokerError::Conflict {
                    what: "secret",
                    name: name.to_string(),
                    detail: format!("expected version {expected_version} when writing back the rotated refresh token"),
                })
            })?;
        Ok(())
    }

    /// Replace the state item (a new connection: `complete_oauth2`).
    pub(crate) async fn put_oauth2_state(
        &self,
        ws: &WorkspaceId,
        name: &SecretName,
        st: &OAuth2State,
    ) -> Result<()> {
        self.ddb
            .put_item()
            .table_name(&self.table)
            .set_item(Some(state_item(ws, name, st)))
            .send()
            .await
            .map_err(|e| ddb_err(&e))?;
        Ok(())
    }

    /// Every oauth2 state item of `ws`, by secret name (what `list_secrets`
    /// shows of each oauth2 secret).
    pub(crate) async fn oauth2_states(
        &self,
        ws: &WorkspaceId,
    ) -> Result<std::collections::BTreeMap<String, OAuth2State>> {
        let mut out = std::collections::BTreeMap::new();
        let mut start: Option<Item> = None;
        loop {
            let page = self
                .prefix_query(ws, OAUTH2_SK_PREFIX)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| ddb_err(&e))?;
            for item in page.items() {
                let name = match item.get("sk") {
                    Some(AttributeValue::S(sk)) => sk.strip_prefix(OAUTH2_SK_PREFIX),
                    _ => None,
                }
                .ok_or_else(|| malformed("sk"))?;
                out.insert(name.to_owned(), parse_state(item)?);
            }
            match page.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => return Ok(out),
            }
        }
    }

    /// Delete the state item (with the secret).
    pub(crate) async fn delete_oauth2(&self, ws: &WorkspaceId, name: &SecretName) -> Result<()> {
        self.ddb
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(state_key(ws, name)))
            .send()
            .await
            .map_err(|e| ddb_err(&e))?;
        Ok(())
    }
}

fn lease_lost(name: &SecretName) -> BrokerError {
    BrokerError::Conflict {
        what: "oauth2 refresh lease",
        name: name.to_string(),
        detail: "the lease expired and another invocation took it".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture() -> Item {
        let text = include_str!("codec/fixtures/oauth2_item_v1.json");
        super::super::codec::tests::from_dynamodb_json(text)
    }

    #[test]
    fn v1_state_item_test_vector_parses() {
        let st = parse_state(&fixture()).unwrap();
        assert_eq!(st.secret_version, 3);
        assert_eq!(st.access.as_deref(), Some(&b"blob"[..]));
        assert_eq!(
            (st.issued_at_ms, st.expires_at_ms),
            (1_700_000_000_000, 1_700_003_600_000)
        );
        assert_eq!(st.lease_until_ms, Some(1_700_000_015_000));
        assert_eq!(st.lease_owner.as_deref(), Some("0123abcd"));
        assert_eq!(st.reauth_since, None);
    }

    #[test]
    fn state_items_fail_closed() {
        let mut item = fixture();
        item.insert("oauth_extra".into(), s("x"));
        assert!(parse_state(&item).is_err());
        let mut item = fixture();
        item.insert("oauth_expires_at".into(), s("soon"));
        assert!(parse_state(&item).is_err());
        let mut item = fixture();
        item.remove("oauth_secret_version");
        assert!(
            parse_state(&item).is_err(),
            "a cached token must name its version"
        );
        // A lease alone (first refresh, no token yet) is a valid state.
        let mut item = state_key(
            &WorkspaceId::new("ws1").unwrap(),
            &SecretName::new("gh").unwrap(),
        );
        item.insert("oauth_lease_until".into(), n(5));
        item.insert("oauth_lease_owner".into(), s("o"));
        assert_eq!(parse_state(&item).unwrap().lease_until_ms, Some(5));
    }

    #[test]
    fn written_state_reads_back() {
        let (ws, name) = (
            WorkspaceId::new("ws1").unwrap(),
            SecretName::new("gh").unwrap(),
        );
        let st = OAuth2State {
            secret_version: 2,
            access: Some(b"a".to_vec()),
            issued_at_ms: 1,
            expires_at_ms: 2,
            ..OAuth2State::default()
        };
        assert_eq!(parse_state(&state_item(&ws, &name, &st)).unwrap(), st);
    }
}
