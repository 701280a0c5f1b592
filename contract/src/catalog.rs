//! inject's read-only catalog (`{"op": "list_secrets"}`, lambda's
//! `inject::catalog`): what an agent may know about the secrets its policy
//! could let it use. Never a value, a key ARN or a header template.

use serde::{Deserialize, Serialize};

/// A catalog request (an inject event with an `op` member).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum CatalogRequest {
    /// Metadata of every secret in `workspace` this agent could use.
    ListSecrets {
        /// Workspace, asserted by the agent runtime.
        workspace: String,
        /// The agent asking.
        agent: String,
    },
}

/// A successful catalog reply (failures are an inject error reply).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogReply {
    /// Correlates with the catalog audit line.
    #[serde(default)]
    pub request_id: String,
    /// Always true here.
    pub ok: bool,
    /// The secrets.
    #[serde(default)]
    pub secrets: Vec<CatalogEntry>,
}

/// What an agent may know about one secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogEntry {
    /// Secret name, as `inject` takes it.
    pub name: String,
    /// Hosts the secret may be sent to.
    #[serde(default)]
    pub hosts: Vec<String>,
    /// Where the broker puts it in the request.
    #[serde(default)]
    pub injection: Option<InjectionKind>,
    /// `active`, or `revoked` as last seen by the broker.
    #[serde(default)]
    pub status: String,
}

/// An injection point without its template or user name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum InjectionKind {
    /// A header of this name.
    Header {
        /// Header name.
        name: String,
    },
    /// `Authorization: Basic ...`.
    BasicAuth,
    /// A query parameter of this name.
    Query {
        /// Parameter name.
        param: String,
    },
    /// A kind from a newer deployment.
    #[serde(other)]
    Other,
}
