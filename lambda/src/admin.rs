//! The `admin` handler: everything that changes what is stored. A separate
//! function from `inject`, so a deployment can let agent runtimes invoke
//! `inject` only and keep these operations for the platform's control plane.

use broker_core::{
    Broker, BrokerError, Limits, RewrapRequest, SecretName, SecretValue, WorkspaceId,
};
use serde_json::{json, Value};

use crate::admin_audit::{sha256_hex, AdminRecord, Caller, Changes};
use crate::admin_breaker;
pub use crate::admin_request::{AdminRequest, OPERATIONS};
use crate::admin_sweep;
use crate::edge_error::{ErrorBody, ErrorType};

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
        AdminRequest::ClearBreaker { secret: name, .. } => secret(name),
        AdminRequest::StartOauth2 { secret: name, .. }
        | AdminRequest::CompleteOauth2 { secret: name, .. } => secret(name),
        AdminRequest::SetProbeBudget {
            secret: name,
            budget,
            ..
        } => {
            changes.probe_budget_to = budget.map(|b| json!(b));
            secret(name)
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
            admin_breaker::list_secrets(broker, &ws(&workspace)?).await
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
        AdminRequest::ClearBreaker { workspace, secret } => {
            admin_breaker::clear(broker, &ws(&workspace)?, &name(&secret)?, changes).await
        }
        AdminRequest::StartOauth2 {
            workspace,
            secret,
            binding,
            authorization_endpoint,
            redirect_uri,
            scope,
            client_secret,
        } => {
            let args = crate::admin_oauth2::StartArgs {
                workspace,
                secret,
                binding,
                authorization_endpoint,
                redirect_uri,
                scope,
                client_secret,
            };
            crate::admin_oauth2::start(broker, args, changes).await
        }
        AdminRequest::CompleteOauth2 {
            workspace,
            secret,
            code,
            state,
        } => {
            crate::admin_oauth2::complete(broker, &workspace, &secret, &code, &state, changes).await
        }
        AdminRequest::SetProbeBudget {
            workspace,
            secret,
            budget,
        } => {
            let budget = budget.ok_or_else(|| BrokerError::InvalidInput {
                field: "budget",
                reason: "give a budget from 1 to 1000, or null for the deployment's".into(),
            })?;
            let (ws, name) = (ws(&workspace)?, name(&secret)?);
            admin_breaker::set_budget(broker, &ws, &name, budget, changes).await
        }
    }
}
