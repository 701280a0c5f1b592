//! The `admin` handler: everything that changes what is stored. A separate
//! function from `inject`, so a deployment can let agent runtimes invoke
//! `inject` only and keep these operations for the platform's control plane.

use broker_core::{
    Broker, BrokerError, Limits, RewrapRequest, SecretName, SecretValue, WorkspaceId,
};
use keybroker_contract::admin as wire;
use keybroker_contract::reply;
use serde_json::{json, Value};

use crate::admin_audit::{sha256_hex, AdminRecord, Caller, Changes};
use crate::admin_breaker;
use crate::admin_request;
pub use crate::admin_request::{AdminRequest, OPERATIONS};
use crate::admin_sweep;
use crate::edge_error::{ErrorBody, ErrorType};

/// Why an admin call failed: the library refused, the event was not an
/// admin request, or this function failed after the library answered.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// The library's error, mapped like inject's ([`crate::edge_error::type_of`]).
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
            Self::Broker(e) => crate::edge_error::type_of(e),
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
    use AdminRequest as R;
    audit.operation = Some(req.operation());
    audit.workspace = req.workspace().and_then(valid_workspace);
    let secret = |s: &str| SecretName::new(s).ok().map(|n| n.to_string());
    let changes = &mut audit.changes;
    audit.target = match req {
        R::PrepareByok(_) | R::VerifyByok(_) | R::DisableByok(_) => Some("byok".to_owned()),
        R::EnableByok(r) => {
            changes.role_arn = Some(r.role_arn.clone());
            changes.byok_key_arn = Some(r.key_arn.clone());
            changes.region = r.region.clone();
            Some("byok".to_owned())
        }
        R::PutSecret(r) => {
            changes.binding_hosts = Some(r.binding.hosts.clone());
            secret(&r.secret)
        }
        R::RotateSecret(r) => {
            changes.value_replaced = Some(r.value.is_some());
            secret(&r.secret)
        }
        R::DeleteSecret(r) => secret(&r.secret),
        R::ListSecrets(_) => None,
        R::SetPolicy(r) => {
            changes.policy_sha256 = Some(sha256_hex(r.policy.as_bytes()));
            changes.policy_bytes = Some(r.policy.len());
            Some("policy".to_owned())
        }
        R::Rewrap(r) => {
            // Asked for, recorded even when the call is refused.
            changes.allow_leaving_customer_key = Some(r.allow_leaving_customer_key);
            Some("secrets".to_owned())
        }
        R::CheckWorkspace(_) => Some("statuses".to_owned()),
        R::CheckAllWorkspaces(_) => Some("workspaces".to_owned()),
        R::SetLimits(r) => {
            changes.limits_to = Some(limits_json(r.limits.map(admin_request::limits)));
            Some("limits".to_owned())
        }
        R::ClearBreaker(r) => secret(&r.secret),
        R::StartOauth2(r) => secret(&r.secret),
        R::CompleteOauth2(r) => secret(&r.secret),
        R::SetProbeBudget(r) => {
            changes.probe_budget_to = r.budget.map(|b| json!(b));
            secret(&r.secret)
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

/// One handler per operation: each takes its typed request.
async fn run(
    broker: &Broker,
    req: AdminRequest,
    changes: &mut Changes,
) -> Result<Value, AdminError> {
    use AdminRequest as R;
    match req {
        R::PrepareByok(r) => to_json(broker.prepare_byok(&ws(&r.workspace)?).await?),
        R::EnableByok(r) => to_json(
            broker
                .enable_byok(
                    &ws(&r.workspace)?,
                    &r.role_arn,
                    &r.key_arn,
                    r.region.as_deref(),
                )
                .await?,
        ),
        R::VerifyByok(r) => to_json(broker.verify_byok(&ws(&r.workspace)?).await?),
        R::DisableByok(r) => to_json(broker.disable_byok(&ws(&r.workspace)?).await?),
        R::PutSecret(r) => put_secret(broker, r, changes).await,
        R::RotateSecret(r) => rotate_secret(broker, r, changes).await,
        R::DeleteSecret(r) => {
            broker
                .delete_secret(&ws(&r.workspace)?, &name(&r.secret)?)
                .await?;
            changes.deleted = Some(true);
            to_json(reply::Deleted { deleted: r.secret })
        }
        R::ListSecrets(r) => admin_breaker::list_secrets(broker, &ws(&r.workspace)?).await,
        R::SetPolicy(r) => {
            broker.set_policy(&ws(&r.workspace)?, &r.policy).await?;
            to_json(reply::PolicySet {
                policy_set: r.workspace,
            })
        }
        R::Rewrap(r) => {
            let ws = ws(&r.workspace)?;
            let req = RewrapRequest {
                after: r.after.as_deref().map(name).transpose()?,
                limit: r.limit,
                allow_leaving_customer_key: r.allow_leaving_customer_key,
            };
            let page = broker.rewrap(&ws, &req).await?;
            Ok(admin_sweep::rewrap_result(
                &ws,
                &page,
                r.allow_leaving_customer_key,
                changes,
            ))
        }
        R::CheckWorkspace(r) => {
            let report = broker.check_workspace(&ws(&r.workspace)?).await?;
            Ok(admin_sweep::check_result(&report, changes))
        }
        R::CheckAllWorkspaces(r) => {
            let after = r.after.as_deref().map(ws).transpose()?;
            let page = broker
                .check_workspaces(after.as_ref(), r.limit, r.scheduled)
                .await?;
            Ok(admin_sweep::check_page_result(&page, changes))
        }
        R::SetLimits(r) => set_limits(broker, r, changes).await,
        R::ClearBreaker(r) => {
            admin_breaker::clear(broker, &ws(&r.workspace)?, &name(&r.secret)?, changes).await
        }
        R::StartOauth2(r) => crate::admin_oauth2::start(broker, r, changes).await,
        R::CompleteOauth2(r) => crate::admin_oauth2::complete(broker, r, changes).await,
        R::SetProbeBudget(r) => {
            let budget = r.budget.ok_or_else(|| BrokerError::InvalidInput {
                field: "budget",
                reason: "give a budget from 1 to 1000, or null for the deployment's".into(),
            })?;
            let (ws, name) = (ws(&r.workspace)?, name(&r.secret)?);
            admin_breaker::set_budget(broker, &ws, &name, budget, changes).await
        }
    }
}

fn ws(s: &str) -> Result<WorkspaceId, BrokerError> {
    WorkspaceId::new(s)
}

fn name(s: &str) -> Result<SecretName, BrokerError> {
    SecretName::new(s)
}

async fn put_secret(
    broker: &Broker,
    r: wire::PutSecret,
    changes: &mut Changes,
) -> Result<Value, AdminError> {
    let (ws, name) = (ws(&r.workspace)?, name(&r.secret)?);
    let binding = admin_request::binding(r.binding);
    let value = SecretValue::from_string(r.value.into_inner())?;
    let meta = broker
        .put_bound_secret(&ws, &name, &value, &binding)
        .await?;
    // The digest sealed in the blob's header, so the audit record and the
    // stored secret can be matched.
    changes.binding_sha256 = Some(binding_digest_hex(&binding));
    let meta = to_json(meta)?;
    record_secret(changes, &meta, false);
    Ok(meta)
}

async fn rotate_secret(
    broker: &Broker,
    r: wire::RotateSecret,
    changes: &mut Changes,
) -> Result<Value, AdminError> {
    let value = r
        .value
        .map(|v| SecretValue::from_string(v.into_inner()))
        .transpose()?;
    let meta = to_json(
        broker
            .rotate_secret(
                &ws(&r.workspace)?,
                &name(&r.secret)?,
                value.as_ref(),
                r.expected_version,
            )
            .await?,
    )?;
    record_secret(changes, &meta, true);
    Ok(meta)
}

async fn set_limits(
    broker: &Broker,
    r: wire::SetLimits,
    changes: &mut Changes,
) -> Result<Value, AdminError> {
    if r.limits.is_some() == r.clear {
        return Err(BrokerError::InvalidInput {
            field: "limits",
            reason: "give exactly one of limits and clear: true".into(),
        }
        .into());
    }
    let change = broker
        .set_limits(&ws(&r.workspace)?, r.limits.map(admin_request::limits))
        .await?;
    changes.limits_from = Some(limits_json(change.previous));
    changes.limits_to = Some(limits_json(change.current));
    to_json(change)
}

/// The binding's [`broker_core::context::BindingDigest`] in hex: the very
/// digest the blob's v2 header seals, so an audit record matches a secret.
pub(crate) fn binding_digest_hex(binding: &broker_core::Binding) -> String {
    broker_core::context::BindingDigest::of(Some(binding))
        .0
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
