//! The admin operations' wire form: one enum variant per `"op"`, parsed
//! strictly (unknown fields are refused), and the names the audit record
//! uses. Kept apart from the handler (`admin.rs`) so that adding an
//! operation shows as one variant here and one arm there.

use broker_core::{Binding, Limits};
use serde::{Deserialize, Deserializer};

/// One admin operation (`"op"` selects it).
#[derive(Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum AdminRequest {
    /// Create the workspace (if new) and return its external id.
    PrepareByok {
        /// Workspace.
        workspace: String,
    },
    /// Verify and store the customer's role and key.
    EnableByok {
        /// Workspace.
        workspace: String,
        /// Customer role ARN.
        role_arn: String,
        /// Customer key ARN.
        key_arn: String,
        /// Region (defaults to the key's).
        #[serde(default)]
        region: Option<String>,
    },
    /// Canary round trip naming the broken link.
    VerifyByok {
        /// Workspace.
        workspace: String,
    },
    /// New secrets go back to the platform key.
    DisableByok {
        /// Workspace.
        workspace: String,
    },
    /// Store a new secret with its binding.
    PutSecret {
        /// Workspace.
        workspace: String,
        /// Secret name.
        secret: String,
        /// The credential (moved into a zeroizing buffer at once).
        value: String,
        /// Where it may be sent.
        binding: Binding,
    },
    /// Re-encrypt under the current mode, optionally with a new value.
    RotateSecret {
        /// Workspace.
        workspace: String,
        /// Secret name.
        secret: String,
        /// New value, or keep the current one.
        #[serde(default)]
        value: Option<String>,
        /// Only rotate if the stored version is this one.
        #[serde(default)]
        expected_version: Option<u64>,
    },
    /// Delete a secret.
    DeleteSecret {
        /// Workspace.
        workspace: String,
        /// Secret name.
        secret: String,
    },
    /// Metadata of every secret (never values).
    ListSecrets {
        /// Workspace.
        workspace: String,
    },
    /// Replace the workspace's Cedar policy (`Broker::set_policy` validates
    /// it against the shipped schema first).
    SetPolicy {
        /// Workspace.
        workspace: String,
        /// Cedar policy text.
        policy: String,
    },
    /// Move one page of the workspace's secrets to its current key
    /// (`Broker::rewrap`); resume with the reply's `next` as `after`.
    Rewrap {
        /// Workspace.
        workspace: String,
        /// Resume after this secret (the previous page's `next`).
        #[serde(default)]
        after: Option<String>,
        /// Secrets per page (default 25, at most 200).
        #[serde(default)]
        limit: Option<u32>,
        /// Allow moving secrets from the customer's key to the platform key.
        #[serde(default)]
        allow_leaving_customer_key: bool,
    },
    /// Probe each distinct key and role of a workspace once and update
    /// every secret's status (`Broker::check_workspace`).
    CheckWorkspace {
        /// Workspace.
        workspace: String,
    },
    /// `check_workspace` over a page of every workspace in the table; with
    /// `scheduled`, from where the last scheduled page stopped (what the
    /// EventBridge rule in infra/schedule.tf sends).
    CheckAllWorkspaces {
        /// Resume after this workspace (ignored when `scheduled`).
        #[serde(default)]
        after: Option<String>,
        /// Workspaces per page (default 25, at most 200).
        #[serde(default)]
        limit: Option<u32>,
        /// Keep the cursor in the table, wrapping at the end.
        #[serde(default)]
        scheduled: bool,
    },
    /// Set the workspace's injection limits, or clear them (the
    /// deployment's default applies again): exactly one of `limits` and
    /// `clear: true`, so a forgotten field never clears by accident.
    SetLimits {
        /// Workspace.
        workspace: String,
        /// The limits (docs/INVOCATION.md, "set_limits").
        #[serde(default)]
        limits: Option<Limits>,
        /// Remove the workspace's own limits.
        #[serde(default)]
        clear: bool,
    },
    /// Reset a secret's probe breaker (`Broker::clear_breaker`): it can be
    /// injected again. Audited with the count it cleared.
    ClearBreaker {
        /// Workspace.
        workspace: String,
        /// Secret name.
        secret: String,
    },
    /// Set a secret's own probe budget (1 to 1000), or `null` for the
    /// deployment's (`Broker::set_probe_budget`). `budget` must be present,
    /// so a forgotten field never resets a budget by accident.
    SetProbeBudget {
        /// Workspace.
        workspace: String,
        /// Secret name.
        secret: String,
        /// `Some(None)`: `null` was given; `None`: the field is missing.
        #[serde(default, deserialize_with = "present")]
        budget: Option<Option<u32>>,
    },
    /// Start an authorization-code flow for an `oauth2` secret: returns
    /// the URL to send the user to (PKCE S256, `state`).
    StartOauth2 {
        /// Workspace.
        workspace: String,
        /// Secret name.
        secret: String,
        /// The binding the secret will get (`oauth2` member required).
        binding: Binding,
        /// The provider's authorization endpoint.
        authorization_endpoint: String,
        /// The redirect URI registered with the provider.
        redirect_uri: String,
        /// Scope to ask for.
        #[serde(default)]
        scope: Option<String>,
        /// Client secret, where the OAuth client is per customer (sealed,
        /// never returned).
        #[serde(default)]
        client_secret: Option<String>,
    },
    /// Complete it: the broker exchanges `code` and seals the tokens.
    CompleteOauth2 {
        /// Workspace.
        workspace: String,
        /// Secret name.
        secret: String,
        /// The code the provider sent to the redirect URI.
        code: String,
        /// The `state` it sent with it.
        state: String,
    },
}

/// A field that must be present but may be `null`.
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<u32>>, D::Error> {
    Option::<u32>::deserialize(d).map(Some)
}

/// Every operation name, as the `op` field spells it.
pub const OPERATIONS: [&str; 17] = [
    "prepare_byok",
    "enable_byok",
    "verify_byok",
    "disable_byok",
    "put_secret",
    "rotate_secret",
    "delete_secret",
    "list_secrets",
    "set_policy",
    "rewrap",
    "check_workspace",
    "check_all_workspaces",
    "set_limits",
    "clear_breaker",
    "set_probe_budget",
    "start_oauth2",
    "complete_oauth2",
];

impl AdminRequest {
    /// The operation's name (one of [`OPERATIONS`]).
    pub fn operation(&self) -> &'static str {
        match self {
            Self::PrepareByok { .. } => "prepare_byok",
            Self::EnableByok { .. } => "enable_byok",
            Self::VerifyByok { .. } => "verify_byok",
            Self::DisableByok { .. } => "disable_byok",
            Self::PutSecret { .. } => "put_secret",
            Self::RotateSecret { .. } => "rotate_secret",
            Self::DeleteSecret { .. } => "delete_secret",
            Self::ListSecrets { .. } => "list_secrets",
            Self::SetPolicy { .. } => "set_policy",
            Self::Rewrap { .. } => "rewrap",
            Self::CheckWorkspace { .. } => "check_workspace",
            Self::CheckAllWorkspaces { .. } => "check_all_workspaces",
            Self::SetLimits { .. } => "set_limits",
            Self::ClearBreaker { .. } => "clear_breaker",
            Self::SetProbeBudget { .. } => "set_probe_budget",
            Self::StartOauth2 { .. } => "start_oauth2",
            Self::CompleteOauth2 { .. } => "complete_oauth2",
        }
    }

    /// The workspace named by the event (none for the all-workspaces check).
    pub(crate) fn workspace(&self) -> Option<&str> {
        Some(match self {
            Self::PrepareByok { workspace }
            | Self::EnableByok { workspace, .. }
            | Self::VerifyByok { workspace }
            | Self::DisableByok { workspace }
            | Self::PutSecret { workspace, .. }
            | Self::RotateSecret { workspace, .. }
            | Self::DeleteSecret { workspace, .. }
            | Self::ListSecrets { workspace }
            | Self::SetPolicy { workspace, .. }
            | Self::Rewrap { workspace, .. }
            | Self::CheckWorkspace { workspace }
            | Self::SetLimits { workspace, .. }
            | Self::ClearBreaker { workspace, .. }
            | Self::SetProbeBudget { workspace, .. }
            | Self::StartOauth2 { workspace, .. }
            | Self::CompleteOauth2 { workspace, .. } => workspace,
            Self::CheckAllWorkspaces { .. } => return None,
        })
    }
}

impl std::fmt::Debug for AdminRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print a value: name the operation only.
        write!(f, "AdminRequest({})", self.operation())
    }
}
