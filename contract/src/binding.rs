//! The wire shapes of what an admin request carries: a secret's
//! [`Binding`] and a workspace's [`Limits`]. Field for field what
//! broker-core stores and checks (its `Binding`, `OAuth2Binding`, `Limits`,
//! which add the validation); lambda converts between the two with
//! exhaustive struct literals, so a field added to either side does not
//! compile until the other has it, and a test parses the same JSON both ways.

use serde::{Deserialize, Serialize};

/// Where a secret may be sent and how it is injected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Binding {
    /// Exact hosts, lowercase, optionally with `:port`.
    pub hosts: Vec<String>,
    /// Where the secret goes in the request.
    pub inject: Injection,
    /// Legacy, grants nothing (plain http is a deployment setting); still
    /// accepted because stored bindings outlive code.
    #[serde(default)]
    pub allow_insecure_http: bool,
    /// If set, the only headers an agent may send with this secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_headers: Option<Vec<String>>,
    /// What happens to a response that echoes the credential.
    #[serde(default, skip_serializing_if = "OnEcho::is_default")]
    pub on_echo: OnEcho,
    /// The `oauth2` kind's token endpoint and client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oauth2: Option<OAuth2Binding>,
}

impl Binding {
    /// A binding of `hosts` injected at `inject`, every option at its default.
    pub fn new(hosts: Vec<String>, inject: Injection) -> Self {
        Self {
            hosts,
            inject,
            allow_insecure_http: false,
            agent_headers: None,
            on_echo: OnEcho::Withhold,
            oauth2: None,
        }
    }
}

/// What happens to a response that echoes the credential.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnEcho {
    /// Status and an `echo_withheld` marker only (the default).
    #[default]
    Withhold,
    /// The response with each recognised occurrence replaced.
    Redact,
}

impl OnEcho {
    /// Whether this is the default ([`OnEcho::Withhold`]).
    pub fn is_default(&self) -> bool {
        *self == Self::Withhold
    }
}

/// The one place a secret is put into a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Injection {
    /// A header whose value is `template` with `{secret}` replaced.
    Header {
        /// Header name.
        name: String,
        /// Value template containing `{secret}` exactly once.
        template: String,
    },
    /// `Authorization: Basic base64(username:secret)`.
    BasicAuth {
        /// The user name sent with the secret as password.
        username: String,
    },
    /// A query parameter set to the secret.
    Query {
        /// Parameter name.
        param: String,
    },
}

/// The token endpoint and client of an `oauth2` secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OAuth2Binding {
    /// The token endpoint.
    pub token_endpoint: String,
    /// The OAuth client id (not secret).
    pub client_id: String,
    /// Scope to ask for on refresh; `None`: the grant's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

/// A workspace's injection limits (docs/INVOCATION.md, "set_limits").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Window length in seconds.
    pub window_seconds: u32,
    /// Injections per window for the workspace; `None`: no workspace cap.
    #[serde(default)]
    pub workspace: Option<u64>,
    /// Injections per window for each agent; `None`: no agent cap.
    #[serde(default)]
    pub agent: Option<u64>,
}
