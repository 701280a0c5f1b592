//! The admin operations (docs/INVOCATION.md): one request struct per `"op"`,
//! each with its reply type ([`AdminOp::Reply`]), and [`AdminRequest`], the
//! enum the `admin` function parses. All of it comes from the one list in
//! [`admin_ops!`]: adding an operation is one line there, its request
//! struct, its reply type, and one handler in lambda's `admin` module
//! (which `with_admin_ops!` makes the compiler ask for).
//! Parsed strictly: unknown fields are refused.

use serde::{Deserialize, Deserializer, Serialize};

use crate::binding::{Binding, Limits};
use crate::reply;

/// An admin operation's request: its wire name and what it answers.
pub trait AdminOp: Serialize {
    /// The `op` field.
    const OP: &'static str;
    /// The `result` of an `ok: true` reply.
    type Reply: serde::de::DeserializeOwned;
    /// The workspace it names (none for the all-workspaces check).
    fn workspace(&self) -> Option<&str>;
}

/// A credential on its way in: a `String` wiped when dropped (without a
/// dependency: overwritten through safe code, then kept observable), and
/// never printed.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SecretText(String);

impl SecretText {
    /// Take `value` (allocate it at its exact size to leave no copies).
    pub fn new(value: String) -> Self {
        Self(value)
    }

    /// The text.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The `String` itself, for a receiver that wipes it (broker-core's
    /// `SecretValue`).
    pub fn into_inner(mut self) -> String {
        std::mem::take(&mut self.0)
    }
}

impl Drop for SecretText {
    fn drop(&mut self) {
        let mut bytes = std::mem::take(&mut self.0).into_bytes();
        bytes.fill(0);
        std::hint::black_box(&bytes);
    }
}

impl std::fmt::Debug for SecretText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretText(** redacted **)")
    }
}

/// The one list of admin operations: wire name, request struct, reply.
macro_rules! admin_ops {
    ($d:tt $( $name:literal => $Variant:ident -> $Reply:ty, )*) => {
        /// Calls `callback! { Variant ... }` with every operation's variant,
        /// so a consumer can write one exhaustive dispatch without a list
        /// of its own (lambda's admin handler does): an operation added
        /// here without its handler there does not compile.
        #[macro_export]
        macro_rules! with_admin_ops {
            ($d callback:ident) => { $d callback! { $($Variant)* } };
        }

        /// One admin operation (`"op"` selects it).
        #[derive(Clone, Serialize, Deserialize)]
        #[serde(tag = "op", deny_unknown_fields)]
        pub enum AdminRequest {
            $(
                #[doc = concat!("`", $name, "`")]
                #[serde(rename = $name)]
                $Variant($Variant),
            )*
        }

        /// Every operation name, as the `op` field spells it.
        pub const OPERATIONS: &[&str] = &[$($name),*];

        impl AdminRequest {
            /// The operation's name (one of [`OPERATIONS`]).
            pub fn operation(&self) -> &'static str {
                match self { $(Self::$Variant(_) => $name,)* }
            }

            /// The workspace the request names.
            pub fn workspace(&self) -> Option<&str> {
                match self { $(Self::$Variant(r) => r.workspace(),)* }
            }
        }

        $(
            impl AdminOp for $Variant {
                const OP: &'static str = $name;
                type Reply = $Reply;
                fn workspace(&self) -> Option<&str> {
                    workspace_of!(self, $Variant)
                }
            }

            impl From<$Variant> for AdminRequest {
                fn from(r: $Variant) -> Self {
                    Self::$Variant(r)
                }
            }
        )*
    };
}

/// Every request names its workspace but the all-workspaces check.
macro_rules! workspace_of {
    ($self:ident, CheckAllWorkspaces) => {
        None
    };
    ($self:ident, $other:ident) => {
        Some(&$self.workspace)
    };
}

admin_ops! { $
    "prepare_byok" => PrepareByok -> reply::WorkspaceSettings,
    "enable_byok" => EnableByok -> reply::WorkspaceSettings,
    "verify_byok" => VerifyByok -> reply::VerifyReport,
    "disable_byok" => DisableByok -> reply::WorkspaceSettings,
    "put_secret" => PutSecret -> reply::SecretMetadata,
    "rotate_secret" => RotateSecret -> reply::SecretMetadata,
    "delete_secret" => DeleteSecret -> reply::Deleted,
    "list_secrets" => ListSecrets -> Vec<reply::ListedSecret>,
    "set_policy" => SetPolicy -> reply::PolicySet,
    "rewrap" => Rewrap -> reply::RewrapPage,
    "check_workspace" => CheckWorkspace -> reply::CheckReport,
    "check_all_workspaces" => CheckAllWorkspaces -> reply::CheckPage,
    "set_limits" => SetLimits -> reply::LimitsChange,
    "clear_breaker" => ClearBreaker -> reply::BreakerCleared,
    "set_probe_budget" => SetProbeBudget -> reply::BudgetChange,
    "start_oauth2" => StartOauth2 -> reply::OAuth2Started,
    "complete_oauth2" => CompleteOauth2 -> reply::SecretMetadata,
}

impl std::fmt::Debug for AdminRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print a value: name the operation only.
        write!(f, "AdminRequest({})", self.operation())
    }
}

/// Create the workspace (if new) and return its external id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrepareByok {
    /// Workspace.
    pub workspace: String,
}

/// Verify and store the customer's role and key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnableByok {
    /// Workspace.
    pub workspace: String,
    /// Customer role ARN.
    pub role_arn: String,
    /// Customer key ARN.
    pub key_arn: String,
    /// Region (defaults to the key's).
    #[serde(default)]
    pub region: Option<String>,
}

/// Canary round trip naming the broken link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifyByok {
    /// Workspace.
    pub workspace: String,
}

/// New secrets go back to the platform key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DisableByok {
    /// Workspace.
    pub workspace: String,
}

/// Store a new secret with its binding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PutSecret {
    /// Workspace.
    pub workspace: String,
    /// Secret name.
    pub secret: String,
    /// The credential.
    pub value: SecretText,
    /// Where it may be sent.
    pub binding: Binding,
}

/// Re-encrypt under the current mode, optionally with a new value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RotateSecret {
    /// Workspace.
    pub workspace: String,
    /// Secret name.
    pub secret: String,
    /// New value, or keep the current one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<SecretText>,
    /// Only rotate if the stored version is this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_version: Option<u64>,
}

/// Delete a secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeleteSecret {
    /// Workspace.
    pub workspace: String,
    /// Secret name.
    pub secret: String,
}

/// Metadata of every secret (never values), with each one's breaker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListSecrets {
    /// Workspace.
    pub workspace: String,
}

/// Replace the workspace's Cedar policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetPolicy {
    /// Workspace.
    pub workspace: String,
    /// Cedar policy text.
    pub policy: String,
}

/// Move one page of the workspace's secrets to its current key; resume
/// with the reply's `next` as `after`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rewrap {
    /// Workspace.
    pub workspace: String,
    /// Resume after this secret (the previous page's `next`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
    /// Secrets per page (default 25, at most 200).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// Allow moving secrets from the customer's key to the platform key.
    #[serde(default, skip_serializing_if = "is_false")]
    pub allow_leaving_customer_key: bool,
}

/// Probe each distinct key and role of a workspace once and update every
/// secret's status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckWorkspace {
    /// Workspace.
    pub workspace: String,
}

/// `check_workspace` over a page of every workspace; with `scheduled`, from
/// where the last scheduled page stopped (the EventBridge rule's event).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckAllWorkspaces {
    /// Resume after this workspace (ignored when `scheduled`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
    /// Workspaces per page (default 25, at most 200).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// Keep the cursor in the table, wrapping at the end.
    #[serde(default, skip_serializing_if = "is_false")]
    pub scheduled: bool,
}

/// Set the workspace's injection limits, or clear them: exactly one of
/// `limits` and `clear: true`, so a forgotten field never clears.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetLimits {
    /// Workspace.
    pub workspace: String,
    /// The limits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<Limits>,
    /// Remove the workspace's own limits.
    #[serde(default, skip_serializing_if = "is_false")]
    pub clear: bool,
}

/// Reset a secret's probe breaker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClearBreaker {
    /// Workspace.
    pub workspace: String,
    /// Secret name.
    pub secret: String,
}

/// Set a secret's own probe budget (1 to 1000), or `null` for the
/// deployment's. `budget` must be present, so a forgotten field never
/// resets a budget.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetProbeBudget {
    /// Workspace.
    pub workspace: String,
    /// Secret name.
    pub secret: String,
    /// `Some(None)`: `null` was given; `None`: the field is missing.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub budget: Option<Option<u32>>,
}

/// Start an authorization-code flow for an `oauth2` secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StartOauth2 {
    /// Workspace.
    pub workspace: String,
    /// Secret name.
    pub secret: String,
    /// The binding the secret will get (`oauth2` member required).
    pub binding: Binding,
    /// The provider's authorization endpoint.
    pub authorization_endpoint: String,
    /// The redirect URI registered with the provider.
    pub redirect_uri: String,
    /// Scope to ask for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// Client secret, where the OAuth client is per customer (sealed,
    /// never returned).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<SecretText>,
}

/// Complete it: the broker exchanges `code` and seals the tokens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompleteOauth2 {
    /// Workspace.
    pub workspace: String,
    /// Secret name.
    pub secret: String,
    /// The code the provider sent to the redirect URI.
    pub code: SecretText,
    /// The `state` it sent with it.
    pub state: String,
}

/// A field that must be present but may be `null`.
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<u32>>, D::Error> {
    Option::<u32>::deserialize(d).map(Some)
}

fn is_false(b: &bool) -> bool {
    !*b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_parse_strictly_and_write_their_op() {
        let r: AdminRequest =
            serde_json::from_str(r#"{"op": "clear_breaker", "workspace": "w", "secret": "s"}"#)
                .unwrap();
        assert_eq!(r.operation(), "clear_breaker");
        assert_eq!(r.workspace(), Some("w"));
        assert!(serde_json::from_str::<AdminRequest>(
            r#"{"op": "clear_breaker", "workspace": "w", "secret": "s", "x": 1}"#
        )
        .is_err());
        assert!(serde_json::from_str::<AdminRequest>(r#"{"op": "nope"}"#).is_err());
        let all: AdminRequest = serde_json::from_str(r#"{"op": "check_all_workspaces"}"#).unwrap();
        assert_eq!(all.workspace(), None);
        let back = serde_json::to_value(AdminRequest::from(SetProbeBudget {
            workspace: "w".into(),
            secret: "s".into(),
            budget: Some(None),
        }))
        .unwrap();
        assert_eq!(
            back,
            serde_json::json!({"op": "set_probe_budget", "workspace": "w", "secret": "s", "budget": null})
        );
        let missing: AdminRequest =
            serde_json::from_str(r#"{"op": "set_probe_budget", "workspace": "w", "secret": "s"}"#)
                .unwrap();
        let AdminRequest::SetProbeBudget(m) = missing else {
            panic!("parsed as another op")
        };
        assert_eq!(m.budget, None);
    }

    #[test]
    fn every_op_is_listed_once() {
        let mut ops = OPERATIONS.to_vec();
        ops.sort_unstable();
        ops.dedup();
        assert_eq!(ops.len(), OPERATIONS.len());
        assert_eq!(<PutSecret as AdminOp>::OP, "put_secret");
    }

    #[test]
    fn values_are_never_printed() {
        let v = SecretText::new("sk-live".into());
        assert_eq!(format!("{v:?}"), "SecretText(** redacted **)");
    }
}
