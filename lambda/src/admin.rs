//! The `admin` handler: everything that changes what is stored. A separate
//! function from `inject`, so a deployment can let agent runtimes invoke
//! `inject` only and keep these operations for the platform's control plane.

use broker_core::{Binding, Broker, BrokerError, SecretName, SecretValue, WorkspaceId};
use serde::Deserialize;
use serde_json::{json, Value};

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
}

impl std::fmt::Debug for AdminRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print a value: name the operation only.
        let op = match self {
            Self::PrepareByok { .. } => "prepare_byok",
            Self::EnableByok { .. } => "enable_byok",
            Self::VerifyByok { .. } => "verify_byok",
            Self::DisableByok { .. } => "disable_byok",
            Self::PutSecret { .. } => "put_secret",
            Self::RotateSecret { .. } => "rotate_secret",
            Self::DeleteSecret { .. } => "delete_secret",
            Self::ListSecrets { .. } => "list_secrets",
            Self::SetPolicy { .. } => "set_policy",
        };
        write!(f, "AdminRequest({op})")
    }
}

/// Handle one admin invocation: `{"ok": true, "result": ...}` or
/// `{"ok": false, "error": {"type", "message"}}`.
pub async fn handle(broker: &Broker, event: &str) -> Value {
    let result = match serde_json::from_str::<AdminRequest>(event) {
        Ok(req) => run(broker, req).await,
        Err(e) => Err(BrokerError::InvalidInput {
            field: "event",
            reason: format!("malformed admin event: {e}"),
        }),
    };
    match result {
        Ok(v) => json!({ "ok": true, "result": v }),
        Err(e) => json!({ "ok": false, "error": { "type": e.kind(), "message": e.to_string() } }),
    }
}

fn to_json<T: serde::Serialize>(v: T) -> Result<Value, BrokerError> {
    serde_json::to_value(v).map_err(|_| BrokerError::Storage {
        detail: "result could not be serialized".into(),
    })
}

async fn run(broker: &Broker, req: AdminRequest) -> Result<Value, BrokerError> {
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
            to_json(
                broker
                    .put_bound_secret(&ws(&workspace)?, &name(&secret)?, &value, &binding)
                    .await?,
            )
        }
        AdminRequest::RotateSecret {
            workspace,
            secret,
            value,
            expected_version,
        } => {
            let value = value.map(SecretValue::from_string).transpose()?;
            to_json(
                broker
                    .rotate_secret(
                        &ws(&workspace)?,
                        &name(&secret)?,
                        value.as_ref(),
                        expected_version,
                    )
                    .await?,
            )
        }
        AdminRequest::DeleteSecret { workspace, secret } => {
            broker
                .delete_secret(&ws(&workspace)?, &name(&secret)?)
                .await?;
            Ok(json!({ "deleted": secret }))
        }
        AdminRequest::ListSecrets { workspace } => {
            to_json(broker.list_secrets(&ws(&workspace)?).await?)
        }
        AdminRequest::SetPolicy { workspace, policy } => {
            broker.set_policy(&ws(&workspace)?, &policy).await?;
            Ok(json!({ "policy_set": workspace }))
        }
    }
}
