//! One audit record per `admin` call (`keybroker.audit.admin.v1`), as a
//! single JSON line on stdout with its CloudWatch metrics embedded
//! ([`crate::edge::metrics`]). The control plane changes what agents may do with
//! a credential (a policy, a binding, the key that protects it): an
//! enterprise review asks who changed what, when. The record answers with
//! names, ARNs, versions and hashes, never a value and never a policy's
//! text (a SHA-256 of it matches the text kept in source control).

use serde::Serialize;

use crate::edge::error::ErrorType;
use crate::edge::metrics::{Function, Metrics};

/// Schema identifier; bump on incompatible change.
pub const SCHEMA: &str = "keybroker.audit.admin.v1";

/// Who invoked, as far as Lambda tells the function. For a direct `Invoke`
/// Lambda passes no IAM principal to the function: the caller's identity
/// is in CloudTrail (Lambda `Invoke` data events, correlated by
/// `request_id`). What the runtime does pass is recorded here.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Caller {
    /// The ARN the caller invoked: shows the qualifier (alias or version)
    /// it used, so calls through a restricted alias are told apart.
    pub invoked_function_arn: String,
    /// Cognito identity id, set only when the caller used credentials from
    /// a Cognito identity pool.
    pub cognito_identity_id: Option<String>,
    /// Cognito identity pool of that identity.
    pub cognito_identity_pool_id: Option<String>,
}

impl Caller {
    /// What `lambda_runtime` exposes about the caller. The mobile SDK's
    /// `client_context` is deliberately left out: the caller writes it
    /// freely (unauthenticated, and it could carry anything, a value too).
    pub fn from_context(ctx: &lambda_runtime::Context) -> Self {
        Self {
            invoked_function_arn: ctx.invoked_function_arn.clone(),
            cognito_identity_id: ctx.identity.as_ref().map(|i| i.identity_id.clone()),
            cognito_identity_pool_id: ctx.identity.as_ref().map(|i| i.identity_pool_id.clone()),
        }
    }
}

/// What an operation changed. Only the members that apply are written.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Changes {
    /// Secret version before (rotation) ...
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version_from: Option<u64>,
    /// ... and after (put, rotation).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version_to: Option<u64>,
    /// Whether a rotation replaced the value (or only re-encrypted it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_replaced: Option<bool>,
    /// The KMS key the secret is now sealed under.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_arn: Option<String>,
    /// Hosts of the binding set with the secret.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub binding_hosts: Option<Vec<String>>,
    /// SHA-256 (hex) of the binding as JSON: a changed binding (delete,
    /// then put) shows as a changed hash.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub binding_sha256: Option<String>,
    /// BYOK role asked for (`enable_byok`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
    /// BYOK key asked for (`enable_byok`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub byok_key_arn: Option<String>,
    /// BYOK region asked for, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// SHA-256 (hex) of the policy text (`set_policy`), never the text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy_sha256: Option<String>,
    /// Length of the policy text in bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy_bytes: Option<usize>,
    /// The workspace's own injection limits before `set_limits` (`null`:
    /// none, the deployment default applied) ...
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limits_from: Option<serde_json::Value>,
    /// ... and after (on failure: what the call asked for).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limits_to: Option<serde_json::Value>,
    /// `clear_breaker`: the probe events the clear removed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub probes_cleared: Option<u64>,
    /// `clear_breaker`: whether the secret was quarantined before.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub was_quarantined: Option<bool>,
    /// `set_probe_budget`: the secret's own budget before (`null`: the
    /// deployment's applied) ...
    #[serde(skip_serializing_if = "Option::is_none")]
    pub probe_budget_from: Option<serde_json::Value>,
    /// ... and after (on failure: what the call asked for).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub probe_budget_to: Option<serde_json::Value>,
    /// Whether the secret was deleted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deleted: Option<bool>,
    /// `rewrap`: secrets moved to the workspace's current key (this page).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub moved: Option<u64>,
    /// `rewrap`: of those, secrets moved out of the customer's key to the
    /// platform's, out of the customer's revocation reach.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub left_customer_key: Option<u64>,
    /// `rewrap`: whether the request allowed leaving the customer's key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_leaving_customer_key: Option<bool>,
    /// `check_workspace`: secret statuses the check changed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub statuses_changed: Option<u64>,
}

impl Changes {
    /// What a stored secret's metadata says changed: the version written
    /// (and, for a rotation, the one it replaced) and the key it was
    /// sealed under.
    pub fn secret_written(&mut self, meta: &broker_core::SecretMetadata, rotated: bool) {
        self.version_to = Some(meta.version);
        if rotated {
            // A rotation writes exactly the next version (conditional write).
            self.version_from = meta.version.checked_sub(1);
        }
        self.key_arn = Some(meta.key_arn.as_str().to_owned());
    }
}

/// The record.
#[derive(Debug, Serialize)]
pub struct AdminRecord {
    /// [`SCHEMA`].
    pub schema: &'static str,
    /// Unix time in milliseconds at the start of the call.
    pub time_ms: u64,
    /// Lambda request id (the key into CloudTrail's `Invoke` event).
    pub request_id: String,
    /// The operation (`put_secret`, …); `null` if the event named none this
    /// function knows.
    pub operation: Option<&'static str>,
    /// Workspace, when the event named a valid one.
    pub workspace: Option<String>,
    /// Secret name, `policy`, or `byok`: what the operation acts on.
    pub target: Option<String>,
    /// `ok` or the error type (docs/INVOCATION.md, "Errors").
    pub outcome: String,
    /// The caller, as Lambda sees it.
    pub caller: Caller,
    /// What changed; on failure, what the call asked to change (the role,
    /// key and policy hash come from the request, versions only from a
    /// successful result). Empty for reads.
    pub changes: Changes,
    /// The error type, for the metrics.
    #[serde(skip)]
    pub error: Option<ErrorType>,
}

impl AdminRecord {
    /// A record for a call starting now.
    pub fn start(request_id: &str, caller: Caller) -> Self {
        Self {
            schema: SCHEMA,
            time_ms: crate::edge::record::now_ms(),
            request_id: request_id.to_owned(),
            operation: None,
            workspace: None,
            target: None,
            outcome: "ok".to_owned(),
            caller,
            changes: Changes::default(),
            error: None,
        }
    }

    /// Record how the call ended.
    pub fn finish(&mut self, error: Option<ErrorType>) {
        self.outcome = error.as_ref().map_or("ok", ErrorType::as_str).to_owned();
        self.error = error;
    }

    /// Serialize as one line, with its CloudWatch metrics (EMF).
    pub fn to_line(&self) -> String {
        crate::edge::metrics::line(
            self,
            Metrics::of(Function::Admin, self.time_ms, self.error.as_ref()),
        )
        .unwrap_or_else(|_| format!("{{\"schema\":\"{SCHEMA}\",\"error\":\"unserializable\"}}"))
    }
}

/// SHA-256 of `bytes` as lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes);
    digest
        .as_ref()
        .iter()
        .fold(String::with_capacity(64), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// The binding's [`broker_core::context::BindingDigest`] in hex: the very
/// digest the blob's v2 header seals, so an audit record matches a secret.
pub fn binding_digest_hex(binding: &broker_core::Binding) -> String {
    broker_core::context::BindingDigest::of(Some(binding))
        .0
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_is_the_standard_digest() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn a_failed_call_records_its_type_and_what_it_asked_for() {
        let mut r = AdminRecord::start("r-1", Caller::default());
        r.operation = Some("set_policy");
        r.changes.policy_sha256 = Some(sha256_hex(b"permit(principal, action, resource);"));
        r.finish(Some(ErrorType::InvalidRequest));
        let v: serde_json::Value = serde_json::from_str(&r.to_line()).unwrap();
        assert_eq!(v["schema"], SCHEMA);
        assert_eq!(v["outcome"], "invalid_request");
        assert_eq!(v["Outcome"], "invalid_request");
        assert_eq!(
            v["changes"],
            serde_json::json!({ "policy_sha256": sha256_hex(b"permit(principal, action, resource);") })
        );
        assert_eq!(v["AdminOperations"], 1);
        assert_eq!(v["Errors"], 0);
        assert_eq!(v["caller"]["invoked_function_arn"], "");
    }
}
