//! The admin replies: the `result` of each operation's `ok: true` answer
//! ([`crate::AdminOp::Reply`] says which). Read leniently: unknown fields
//! are ignored and fields added after the first release default, so an
//! older client reads a newer deployment. Key modes, statuses and probe
//! outcomes are strings here: they are shown, not branched on, and a newer
//! deployment may add one.

use serde::{Deserialize, Serialize};

use crate::binding::{Binding, Limits};
use crate::error::{ErrorBody, ErrorType};

/// A workspace's settings (`prepare_byok`, `enable_byok`, `disable_byok`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkspaceSettings {
    /// Workspace.
    pub workspace: String,
    /// The external id the customer's trust policy must require.
    pub external_id: String,
    /// Whether new secrets are sealed under the customer's key.
    pub byok_enabled: bool,
    /// The customer's role, once configured.
    #[serde(default)]
    pub role_arn: Option<String>,
    /// The customer's key, once configured.
    #[serde(default)]
    pub key_arn: Option<String>,
    /// The key's region.
    #[serde(default)]
    pub region: Option<String>,
    /// Last change (Unix seconds).
    #[serde(default)]
    pub updated_at: u64,
    /// The workspace's Cedar policy, when one is set.
    #[serde(default)]
    pub policy: Option<String>,
}

/// `verify_byok`: the BYOK chain link by link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifyReport {
    /// Workspace checked.
    pub workspace: String,
    /// Role assumed.
    pub role_arn: String,
    /// Key used.
    pub key_arn: String,
    /// External id the role's trust policy must require.
    pub external_id: String,
    /// First link that failed (`region`, `assume_role`,
    /// `generate_data_key`, `decrypt`); `None` when all passed.
    #[serde(default)]
    pub failed_step: Option<String>,
    /// The error type at that link.
    #[serde(default)]
    pub error_kind: Option<ErrorType>,
    /// What to do, in a sentence.
    #[serde(default)]
    pub hint: String,
}

/// A secret's last known usability.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretStatus {
    /// `active` or `revoked`.
    pub state: String,
    /// Which link broke (`revoked`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Since when (Unix seconds, `revoked`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<u64>,
}

/// One secret's metadata (never its value): `put_secret`, `rotate_secret`,
/// `complete_oauth2`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretMetadata {
    /// Owning workspace.
    pub workspace: String,
    /// Secret name.
    pub name: String,
    /// Incremented by every rotation.
    pub version: u64,
    /// `platform` or `byok`.
    pub key_mode: String,
    /// The key the current version is sealed under.
    pub key_arn: String,
    /// The customer role it is read through (BYOK).
    #[serde(default)]
    pub role_arn: Option<String>,
    /// First write (Unix seconds).
    #[serde(default)]
    pub created_at: u64,
    /// Last write (Unix seconds).
    #[serde(default)]
    pub updated_at: u64,
    /// Last known usability.
    pub status: SecretStatus,
    /// Where it may be sent; `None`: it cannot be injected.
    #[serde(default)]
    pub binding: Option<Binding>,
}

/// An `oauth2` secret's token state in `list_secrets` (never a token).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OAuth2Status {
    /// `fresh`, `expiring`, `refreshing` or `reauth_required`.
    pub state: String,
    /// When the cached access token expires (Unix ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_expires_at_ms: Option<u64>,
    /// Since when the provider refuses the refresh token (Unix s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reauth_since: Option<u64>,
}

/// One entry of admin's `list_secrets`: the metadata and the breaker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListedSecret {
    /// The metadata.
    #[serde(flatten)]
    pub meta: SecretMetadata,
    /// Probe events since the last clear.
    #[serde(default)]
    pub probes: u64,
    /// The budget in force.
    #[serde(default)]
    pub probe_budget: u32,
    /// Whether the breaker tripped.
    #[serde(default)]
    pub quarantined: bool,
    /// The token state of an `oauth2` secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oauth2: Option<OAuth2Status>,
}

/// `delete_secret`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deleted {
    /// The secret deleted.
    pub deleted: String,
}

/// `set_policy`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicySet {
    /// The workspace whose policy was replaced.
    pub policy_set: String,
}

/// A key secrets are moved to or probed at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyTarget {
    /// `platform` or `byok`.
    pub key_mode: String,
    /// The key.
    pub key_arn: String,
    /// The customer role (BYOK).
    #[serde(default)]
    pub role_arn: Option<String>,
}

/// A secret an operation could not handle, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretFailure {
    /// The secret.
    pub secret: String,
    /// The error body (`conflict`: a rotation won the race; rerun).
    pub error: ErrorBody,
}

/// One `rewrap` page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RewrapPage {
    /// Workspace.
    pub workspace: String,
    /// Where the secrets now are.
    pub target: KeyTarget,
    /// Secrets moved.
    pub moved: u64,
    /// Secrets already at the target.
    #[serde(default)]
    pub skipped: u64,
    /// Secrets that failed.
    #[serde(default)]
    pub failed: u64,
    /// Secrets moved out of the customer's key.
    #[serde(default)]
    pub left_customer_key: u64,
    /// Their names.
    #[serde(default)]
    pub moved_secrets: Vec<String>,
    /// Names of those that left the customer's key.
    #[serde(default)]
    pub left_customer_key_secrets: Vec<String>,
    /// Why each failure failed.
    #[serde(default)]
    pub failures: Vec<SecretFailure>,
    /// Resume after this secret; `None`: done.
    #[serde(default)]
    pub next: Option<String>,
}

/// One distinct (key, role) of a workspace and what probing it found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Probe {
    /// The key and role.
    #[serde(flatten)]
    pub target: KeyTarget,
    /// Secrets under it.
    pub secrets: u64,
    /// `active`, `revoked` or `unknown`.
    pub outcome: String,
    /// Which link broke (`revoked`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The last attempt's error kind (`unknown`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// `check_workspace`: one workspace's statuses refreshed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckReport {
    /// Workspace.
    pub workspace: String,
    /// One probe per distinct (key, role).
    #[serde(default)]
    pub probes: Vec<Probe>,
    /// Secrets looked at.
    #[serde(default)]
    pub secrets: u64,
    /// Of those, active.
    #[serde(default)]
    pub active: u64,
    /// Revoked.
    #[serde(default)]
    pub revoked: u64,
    /// Not decided (no probe answered).
    #[serde(default)]
    pub unknown: u64,
    /// Statuses written.
    #[serde(default)]
    pub changed: u64,
    /// Secrets whose status could not be written.
    #[serde(default)]
    pub failed: u64,
    /// Why.
    #[serde(default)]
    pub failures: Vec<SecretFailure>,
}

/// A workspace the all-workspaces check could not check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkspaceFailure {
    /// The workspace.
    pub workspace: String,
    /// Why.
    pub error: ErrorBody,
}

/// `check_all_workspaces`: one page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckPage {
    /// Workspaces checked.
    pub checked: u64,
    /// Their reports.
    #[serde(default)]
    pub workspaces: Vec<CheckReport>,
    /// Workspaces that failed.
    #[serde(default)]
    pub failed_workspaces: Vec<WorkspaceFailure>,
    /// Resume after this workspace; `None`: done.
    #[serde(default)]
    pub next: Option<String>,
}

/// `set_limits`: before, after, and what applies now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LimitsChange {
    /// The workspace's own limits before.
    #[serde(default)]
    pub previous: Option<Limits>,
    /// After.
    #[serde(default)]
    pub current: Option<Limits>,
    /// What injections count against now; `None`: unlimited.
    #[serde(default)]
    pub effective: Option<Limits>,
}

/// `clear_breaker`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BreakerCleared {
    /// Probe events removed.
    pub cleared: u64,
    /// Whether the secret was quarantined before.
    pub was_quarantined: bool,
}

/// `set_probe_budget`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BudgetChange {
    /// The secret's own budget before (`None`: the deployment's).
    #[serde(default)]
    pub previous: Option<u32>,
    /// After.
    #[serde(default)]
    pub current: Option<u32>,
    /// The budget in force now.
    pub effective: u32,
    /// Probe events so far.
    #[serde(default)]
    pub probes: u64,
    /// Whether the secret is quarantined under the new budget.
    #[serde(default)]
    pub quarantined: bool,
}

/// `start_oauth2`: where to send the user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OAuth2Started {
    /// The provider's authorization URL with PKCE and `state`.
    pub authorization_url: String,
    /// The `state` the redirect must carry back.
    pub state: String,
    /// When the started flow expires (Unix seconds).
    #[serde(default)]
    pub expires_at: u64,
}
