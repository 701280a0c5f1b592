//! The `admin` handler: everything that changes what is stored. A separate
//! function from `inject`, so a deployment can let agent runtimes invoke
//! `inject` only and keep these operations for the platform's control plane.

use broker_core::{
    Binding, Broker, BrokerError, Limits, RewrapRequest, SecretName, SecretValue, WorkspaceId,
};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::admin_audit::{sha256_hex, AdminRecord, Caller, Changes};
use crate::admin_sweep;
use crate::edge_error::{ErrorBody, ErrorType};

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
}

/// Every operation name, as the `op` field spells it.
pub const OPERATIONS: [&str; 13] = [
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
        }
    }

    /// The workspace named by the event (none for the all-workspaces check).
    fn workspace(&self) -> Option<&str> {
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
            | Self::SetLimits { workspace, .. } => workspace,
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

/// Why an admin call failed: the library refused, the event was not an
/// admin request, or this function failed after the library answered.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// The library's error, mapped like inject's ([`ErrorType::of`]).
    #[error(transparent)]
    Broker(#[from] BrokerError),
    /// The event is not valid JSON or not a known operation with its
    /// fields. serde's message names the field; the caller sent the event,
    /// so echoing it back to them leaks nothing new (it is never audited).
    #[error("invalid event: malformed admin event: {0}")]
    Malformed(#[source] serde_json::Error),
    /// The operation ran, but its result could not be turned into JSON:
    /// a bug here, not a storage failure. A write may have happened.
    #[error("the operation ran but its result could not be serialised; re-read (list_secrets) before retrying")]
    Unserialisable,
}

impl AdminError {
    /// The edge's error type for this failure.
    pub fn kind(&self) -> ErrorType {
        match self {
            Self::Broker(e) => ErrorType::of(e),
            Self::Malformed(_) => ErrorType::InvalidRequest,
            Self::Unserialisable => ErrorType::Internal,
        }
    }
}

/// Handle one admin invocation: `{"ok": true, "result": ...}` or
/// `{"ok": false, "error": {"type", "message", "retry", ...}}` (the same
/// error body as inject's), and write one audit record
/// ([`crate::admin_audit`]) whatever the outcome.
pub async fn handle(broker: &Broker, event: &str, request_id: &str, caller: Caller) -> Value {
    let mut audit = AdminRecord::start(request_id, caller);
    let result = match serde_json::from_str::<AdminRequest>(event) {
        Ok(req) => {
            describe(&req, &mut audit);
            run(broker, req, &mut audit.changes).await
        }
        Err(e) => {
            describe_malformed(event, &mut audit);
            Err(AdminError::Malformed(e))
        }
    };
    audit.finish(result.as_ref().err().map(AdminError::kind));
    if let Err(e) = crate::audit::write_line(&audit.to_line()) {
        tracing::error!(request_id, error = %e, "could not write the admin audit record");
    }
    match result {
        Ok(v) => json!({ "ok": true, "result": v }),
        Err(e) => json!({ "ok": false, "error": ErrorBody::new(e.kind(), e.to_string()) }),
    }
}

/// Fill the record from the request: names only when they are valid ids
/// (an invalid one is what was refused, and could be anything), and what
/// the call asks to change, never a value or a policy's text.
fn describe(req: &AdminRequest, audit: &mut AdminRecord) {
    audit.operation = Some(req.operation());
    audit.workspace = req.workspace().and_then(valid_workspace);
    let secret = |s: &str| SecretName::new(s).ok().map(|n| n.to_string());
    let changes = &mut audit.changes;
    audit.target = match req {
        AdminRequest::PrepareByok { .. }
        | AdminRequest::VerifyByok { .. }
        | AdminRequest::DisableByok { .. } => Some("byok".to_owned()),
        AdminRequest::EnableByok {
            role_arn,
            key_arn,
            region,
            ..
        } => {
            changes.role_arn = Some(role_arn.clone());
            changes.byok_key_arn = Some(key_arn.clone());
            changes.region = region.clone();
            Some("byok".to_owned())
        }
        AdminRequest::PutSecret {
            secret: name,
            binding,
            ..
        } => {
            let json = serde_json::to_value(binding).unwrap_or_default();
            changes.binding_hosts = json["hosts"].as_array().map(|hosts| {
                hosts
                    .iter()
                    .filter_map(|h| h.as_str().map(str::to_owned))
                    .collect()
            });
            changes.binding_sha256 = serde_json::to_vec(binding).ok().map(|b| sha256_hex(&b));
            secret(name)
        }
        AdminRequest::RotateSecret {
            secret: name,
            value,
            ..
        } => {
            changes.value_replaced = Some(value.is_some());
            secret(name)
        }
        AdminRequest::DeleteSecret { secret: name, .. } => secret(name),
        AdminRequest::ListSecrets { .. } => None,
        AdminRequest::SetPolicy { policy, .. } => {
            changes.policy_sha256 = Some(sha256_hex(policy.as_bytes()));
            changes.policy_bytes = Some(policy.len());
            Some("policy".to_owned())
        }
        AdminRequest::Rewrap {
            allow_leaving_customer_key,
            ..
        } => {
            // Asked for, recorded even when the call is refused.
            changes.allow_leaving_customer_key = Some(*allow_leaving_customer_key);
            Some("secrets".to_owned())
        }
        AdminRequest::CheckWorkspace { .. } => Some("statuses".to_owned()),
        AdminRequest::CheckAllWorkspaces { .. } => Some("workspaces".to_owned()),
        AdminRequest::SetLimits { limits, .. } => {
            changes.limits_to = Some(limits_json(*limits));
            Some("limits".to_owned())
        }
    };
}

/// A malformed event still says what it tried, where that is safe to
/// record: a known operation name and a valid workspace id.
fn describe_malformed(event: &str, audit: &mut AdminRecord) {
    let Ok(v) = serde_json::from_str::<Value>(event) else {
        return;
    };
    audit.operation = v["op"]
        .as_str()
        .and_then(|op| OPERATIONS.iter().find(|known| **known == op).copied());
    audit.workspace = v["workspace"].as_str().and_then(valid_workspace);
}

fn valid_workspace(ws: &str) -> Option<String> {
    WorkspaceId::new(ws).ok().map(|w| w.to_string())
}

fn to_json<T: serde::Serialize>(v: T) -> Result<Value, AdminError> {
    serde_json::to_value(v).map_err(|_| AdminError::Unserialisable)
}

/// What a stored secret's metadata (as returned) says changed.
fn record_secret(changes: &mut Changes, meta: &Value, rotated: bool) {
    let to = meta["version"].as_u64();
    changes.version_to = to;
    if rotated {
        // A rotation writes exactly the next version (conditional write).
        changes.version_from = to.and_then(|v| v.checked_sub(1));
    }
    changes.key_arn = meta["key_arn"].as_str().map(str::to_owned);
}

/// Limits as the audit record shows them; `null`: none of its own.
fn limits_json(l: Option<Limits>) -> Value {
    serde_json::to_value(l).unwrap_or_default()
}

async fn run(
    broker: &Broker,
    req: AdminRequest,
    changes: &mut Changes,
) -> Result<Value, AdminError> {
    let ws = |s: &str| WorkspaceId::new(s);
    let name = |s: &str| SecretName::new(s);
    match req {
        AdminRequest::PrepareByok { workspace } => {
            to_json(broker.prepare_byok(&ws(&workspace)?).await?)
        }
        AdminRequest::EnableByok {
            workspace,
            role_arn,
            key_arn,
            region,
        } => to_json(
            broker
                .enable_byok(&ws(&workspace)?, &role_arn, &key_arn, region.as_deref())
                .await?,
        ),
        AdminRequest::VerifyByok { workspace } => {
            to_json(broker.verify_byok(&ws(&workspace)?).await?)
        }
        AdminRequest::DisableByok { workspace } => {
            to_json(broker.disable_byok(&ws(&workspace)?).await?)
        }
        AdminRequest::PutSecret {
            workspace,
            secret,
            value,
            binding,
        } => {
            let value = SecretValue::from_string(value)?;
            let meta = to_json(
                broker
                    .put_bound_secret(&ws(&workspace)?, &name(&secret)?, &value, &binding)
                    .await?,
            )?;
            record_secret(changes, &meta, false);
            Ok(meta)
        }
        AdminRequest::RotateSecret {
            workspace,
            secret,
            value,
            expected_version,
        } => {
            let value = value.map(SecretValue::from_string).transpose()?;
            let meta = to_json(
                broker
                    .rotate_secret(
                        &ws(&workspace)?,
                        &name(&secret)?,
                        value.as_ref(),
                        expected_version,
                    )
                    .await?,
            )?;
            record_secret(changes, &meta, true);
            Ok(meta)
        }
        AdminRequest::DeleteSecret { workspace, secret } => {
            broker
                .delete_secret(&ws(&workspace)?, &name(&secret)?)
                .await?;
            changes.deleted = Some(true);
            Ok(json!({ "deleted": secret }))
        }
        AdminRequest::ListSecrets { workspace } => {
            to_json(broker.list_secrets(&ws(&workspace)?).await?)
        }
        AdminRequest::SetPolicy { workspace, policy } => {
            broker.set_policy(&ws(&workspace)?, &policy).await?;
            Ok(json!({ "policy_set": workspace }))
        }
        AdminRequest::Rewrap {
            workspace,
            after,
            limit,
            allow_leaving_customer_key,
        } => {
            let ws = ws(&workspace)?;
            let req = RewrapRequest {
                after: after.as_deref().map(name).transpose()?,
                limit,
                allow_leaving_customer_key,
            };
            let page = broker.rewrap(&ws, &req).await?;
            Ok(admin_sweep::rewrap_result(
                &ws,
                &page,
                allow_leaving_customer_key,
                changes,
            ))
        }
        AdminRequest::CheckWorkspace { workspace } => {
            let report = broker.check_workspace(&ws(&workspace)?).await?;
            Ok(admin_sweep::check_result(&report, changes))
        }
        AdminRequest::CheckAllWorkspaces {
            after,
            limit,
            scheduled,
        } => {
            let after = after.as_deref().map(ws).transpose()?;
            let page = broker
                .check_workspaces(after.as_ref(), limit, scheduled)
                .await?;
            Ok(admin_sweep::check_page_result(&page, changes))
        }
        AdminRequest::SetLimits {
            workspace,
            limits,
            clear,
        } => {
            if limits.is_some() == clear {
                return Err(BrokerError::InvalidInput {
                    field: "limits",
                    reason: "give exactly one of limits and clear: true".into(),
                }
                .into());
            }
            let change = broker.set_limits(&ws(&workspace)?, limits).await?;
            changes.limits_from = Some(limits_json(change.previous));
            changes.limits_to = Some(limits_json(change.current));
            to_json(change)
        }
    }
}
