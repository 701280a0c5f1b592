//! A started authorization-code flow of the `oauth2` kind
//! (`Broker::start_oauth2`), until `complete_oauth2` takes it:
//!
//! ```text
//! pk = "ws#<workspace>"   sk = "oauth2start#<name>"   oauth_state, oauth_verifier (B),
//!     oauth_redirect_uri, oauth_binding (JSON), oauth_started_at (s),
//!     oauth_key_mode, oauth_key_arn, oauth_role_arn (the key the verifier is sealed under)
//! ```
//!
//! Item version v1 (test vector `codec/fixtures/oauth2start_item_v1.json`).
//! The verifier (and the client secret, if any) is sealed under the derived
//! name `<name>#pkce` with the binding the secret will get, so the binding
//! stored here is authenticated when the verifier is opened. Written and
//! read by admin only. Parsing fails closed.

use aws_sdk_dynamodb::primitives::Blob as DdbBlob;
use aws_sdk_dynamodb::types::AttributeValue;

use super::codec::{get_opt_n, malformed, n, only_attributes, pk, s, Item};
use super::{ddb_err, write_err, Store};
use crate::arn::{KeyArn, RoleArn};
use crate::error::{BrokerError, Result};
use crate::model::KeyMode;
use crate::names::{SecretName, WorkspaceId};

/// Sort key prefix of started flows.
pub(crate) const OAUTH2_START_SK_PREFIX: &str = "oauth2start#";

const ATTRIBUTES: [&str; 10] = [
    "pk",
    "sk",
    "oauth_state",
    "oauth_verifier",
    "oauth_redirect_uri",
    "oauth_binding",
    "oauth_started_at",
    "oauth_key_mode",
    "oauth_key_arn",
    "oauth_role_arn",
];

/// A started flow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OAuth2Start {
    pub state: String,
    /// Sealed pending material (derived name `<name>#pkce`).
    pub verifier: Vec<u8>,
    pub redirect_uri: String,
    /// The binding the secret will get (JSON).
    pub binding: String,
    pub started_at: u64,
    pub key_mode: KeyMode,
    pub key_arn: KeyArn,
    pub role_arn: Option<RoleArn>,
}

pub(crate) fn start_key(ws: &WorkspaceId, name: &SecretName) -> Item {
    Item::from([
        ("pk".to_owned(), pk(ws)),
        (
            "sk".to_owned(),
            s(format!("{OAUTH2_START_SK_PREFIX}{name}")),
        ),
    ])
}

fn req_s(item: &Item, k: &'static str) -> Result<String> {
    match item.get(k) {
        Some(AttributeValue::S(v)) => Ok(v.clone()),
        _ => Err(malformed(k)),
    }
}

/// Parse a started flow, failing closed.
pub(crate) fn parse_start(item: &Item) -> Result<OAuth2Start> {
    only_attributes(item, &ATTRIBUTES, "oauth2 flow")?;
    let verifier = match item.get("oauth_verifier") {
        Some(AttributeValue::B(b)) => b.as_ref().to_vec(),
        _ => return Err(malformed("oauth_verifier")),
    };
    let key_mode = KeyMode::parse(&req_s(item, "oauth_key_mode")?)
        .ok_or_else(|| malformed("oauth_key_mode"))?;
    let role_arn = match item.get("oauth_role_arn") {
        None => None,
        Some(AttributeValue::S(r)) => {
            Some(RoleArn::parse(r).map_err(|_| malformed("oauth_role_arn"))?)
        }
        Some(_) => return Err(malformed("oauth_role_arn")),
    };
    if (key_mode == KeyMode::Byok) != role_arn.is_some() {
        return Err(malformed("oauth_role_arn"));
    }
    Ok(OAuth2Start {
        state: req_s(item, "oauth_state")?,
        verifier,
        redirect_uri: req_s(item, "oauth_redirect_uri")?,
        binding: req_s(item, "oauth_binding")?,
        started_at: get_opt_n(item, "oauth_started_at")?
            .ok_or_else(|| malformed("oauth_started_at"))?,
        key_mode,
        key_arn: KeyArn::parse(&req_s(item, "oauth_key_arn")?)
            .map_err(|_| malformed("oauth_key_arn"))?,
        role_arn,
    })
}

pub(crate) fn start_item(ws: &WorkspaceId, name: &SecretName, st: &OAuth2Start) -> Item {
    let mut item = start_key(ws, name);
    item.insert("oauth_state".into(), s(&st.state));
    item.insert(
        "oauth_verifier".into(),
        AttributeValue::B(DdbBlob::new(st.verifier.clone())),
    );
    item.insert("oauth_redirect_uri".into(), s(&st.redirect_uri));
    item.insert("oauth_binding".into(), s(&st.binding));
    item.insert("oauth_started_at".into(), n(st.started_at));
    item.insert("oauth_key_mode".into(), s(st.key_mode.as_str()));
    item.insert("oauth_key_arn".into(), s(st.key_arn.as_str()));
    if let Some(r) = &st.role_arn {
        item.insert("oauth_role_arn".into(), s(r.as_str()));
    }
    item
}

impl Store {
    /// Record a started flow (replacing an earlier one of the same name).
    pub(crate) async fn put_oauth2_start(
        &self,
        ws: &WorkspaceId,
        name: &SecretName,
        st: &OAuth2Start,
    ) -> Result<()> {
        self.ddb
            .put_item()
            .table_name(&self.table)
            .set_item(Some(start_item(ws, name, st)))
            .send()
            .await
            .map_err(|e| ddb_err(&e))?;
        Ok(())
    }

    /// The started flow of `name`, if any (consistent read).
    pub(crate) async fn get_oauth2_start(
        &self,
        ws: &WorkspaceId,
        name: &SecretName,
    ) -> Result<Option<OAuth2Start>> {
        self.get_consistent(start_key(ws, name))
            .await?
            .as_ref()
            .map(parse_start)
            .transpose()
    }

    /// Consume the flow whose `state` was checked: a conditional delete,
    /// so one `state` completes at most once.
    pub(crate) async fn consume_oauth2_start(
        &self,
        ws: &WorkspaceId,
        name: &SecretName,
        state: &str,
    ) -> Result<()> {
        self.ddb
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(start_key(ws, name)))
            .condition_expression("oauth_state = :s")
            .expression_attribute_values(":s", s(state))
            .send()
            .await
            .map_err(|e| {
                write_err(&e, || BrokerError::Conflict {
                    what: "oauth2 flow",
                    name: name.to_string(),
                    detail: "completed or restarted concurrently".into(),
                })
            })?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture() -> Item {
        super::super::codec::tests::from_dynamodb_json(include_str!(
            "codec/fixtures/oauth2start_item_v1.json"
        ))
    }

    #[test]
    fn v1_flow_item_test_vector_parses_and_round_trips() {
        let st = parse_start(&fixture()).unwrap();
        assert_eq!(st.state, "c3RhdGU");
        assert_eq!(st.key_mode, KeyMode::Platform);
        assert_eq!(st.role_arn, None);
        let (ws, name) = (
            WorkspaceId::new("acme").unwrap(),
            SecretName::new("github").unwrap(),
        );
        assert_eq!(parse_start(&start_item(&ws, &name, &st)).unwrap(), st);
    }

    #[test]
    fn flow_items_fail_closed() {
        let mut item = fixture();
        item.insert("oauth_extra".into(), s("x"));
        assert!(parse_start(&item).is_err());
        let mut item = fixture();
        item.insert("oauth_key_mode".into(), s("byok"));
        assert!(parse_start(&item).is_err(), "a BYOK flow names its role");
        let mut item = fixture();
        item.remove("oauth_verifier");
        assert!(parse_start(&item).is_err());
    }
}
