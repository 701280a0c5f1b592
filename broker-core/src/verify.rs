//! BYOK verification: a canary round trip that names the broken link.
//!
//! It runs the production path with a reserved secret name: assume the role
//! afresh (bypassing the session cache, so the trust policy is tested as it
//! is now), `GenerateDataKey`, seal a canary, `Decrypt` pinned to the key,
//! open it. Whatever fails first is reported with what to fix, including the
//! external id the trust policy must require.

use serde::Serialize;

use crate::arn::KeyArn;
use crate::assume_role::RoleTarget;
use crate::blob::Blob;
use crate::broker::{open_with, seal_with, Broker};
use crate::context::BindingDigest;
use crate::error::{BrokerError, RevokedReason};
use crate::model::{KeyMode, WorkspaceSettings};
use crate::names::{SecretName, WorkspaceId};
use crate::secret::SecretValue;

/// The links of the BYOK chain, in the order they are checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum VerifyStep {
    /// The key ARN's region matches the workspace's region.
    Region,
    /// `sts:AssumeRole` with the workspace's external id.
    AssumeRole,
    /// `kms:GenerateDataKey` with the workspace's encryption context.
    GenerateDataKey,
    /// `kms:Decrypt` of that data key, and opening the canary.
    Decrypt,
}

/// Outcome of a verification.
#[derive(Debug, Clone, Serialize)]
pub struct VerifyReport {
    /// Workspace checked.
    pub workspace: String,
    /// Role assumed.
    pub role_arn: String,
    /// Key used.
    pub key_arn: String,
    /// External id the role's trust policy must require.
    pub external_id: String,
    /// First link that failed; `None` when all passed.
    pub failed_step: Option<VerifyStep>,
    /// The error at that link.
    #[serde(skip)]
    pub error: Option<BrokerError>,
    /// Stable kind of that error (`revoked`, `throttled`, ...).
    pub error_kind: Option<&'static str>,
    /// What to do, in a sentence.
    pub hint: String,
}

impl VerifyReport {
    /// Whether every link passed.
    pub fn is_ok(&self) -> bool {
        self.failed_step.is_none()
    }
}

pub(crate) async fn run(
    broker: &Broker,
    ws: &WorkspaceId,
    settings: &WorkspaceSettings,
) -> VerifyReport {
    let role_arn = settings.role_arn.clone().unwrap_or_default();
    let key_arn = settings.key_arn.clone().unwrap_or_default();
    let mut report = VerifyReport {
        workspace: ws.to_string(),
        role_arn: role_arn.clone(),
        key_arn: key_arn.clone(),
        external_id: settings.external_id.clone(),
        failed_step: None,
        error: None,
        error_kind: None,
        hint: String::new(),
    };
    match check(broker, ws, settings, &role_arn, &key_arn).await {
        Ok(()) => {
            report.hint = format!(
                "BYOK verified: assumed {role_arn} with the workspace external id, generated and decrypted a data key under {key_arn}"
            );
        }
        Err((step, e)) => {
            report.hint = hint(step, &e, &report);
            report.failed_step = Some(step);
            report.error_kind = Some(e.kind());
            report.error = Some(e);
        }
    }
    report
}

async fn check(
    broker: &Broker,
    ws: &WorkspaceId,
    settings: &WorkspaceSettings,
    role_arn: &str,
    key_arn: &str,
) -> Result<(), (VerifyStep, BrokerError)> {
    let key = KeyArn::parse(key_arn).map_err(|e| (VerifyStep::Region, e))?;
    let region = settings.region.as_deref().unwrap_or(key.region());
    if region != key.region() {
        return Err((
            VerifyStep::Region,
            BrokerError::invalid(
                "region",
                format!(
                    "the key is in {} but the workspace region is {region}",
                    key.region()
                ),
            ),
        ));
    }
    let target = RoleTarget {
        role_arn,
        external_id: &settings.external_id,
        region,
    };
    let kms = broker
        .fresh_customer_kms(ws, &target)
        .await
        .map_err(|e| (VerifyStep::AssumeRole, e))?;
    let name = SecretName::verify_canary();
    let canary = SecretValue::new(b"keybroker-verify-canary".to_vec())
        .map_err(|e| (VerifyStep::GenerateDataKey, e))?;
    let unbound = BindingDigest::of(None);
    let sealed = seal_with(&kms, key_arn, KeyMode::Byok, ws, &name, &canary, &unbound)
        .await
        .map_err(|e| (VerifyStep::GenerateDataKey, e))?;
    let blob = Blob::decode(&sealed).map_err(|e| {
        let e = BrokerError::Tampered {
            secret: name.to_string(),
            detail: e.detail(),
        };
        (VerifyStep::Decrypt, e)
    })?;
    let opened = open_with(&kms, &blob, ws, &name, &unbound)
        .await
        .map_err(|e| (VerifyStep::Decrypt, e))?;
    if opened.expose() != canary.expose() {
        return Err((
            VerifyStep::Decrypt,
            BrokerError::Tampered {
                secret: name.to_string(),
                detail: "canary round trip returned different bytes",
            },
        ));
    }
    Ok(())
}

fn hint(step: VerifyStep, e: &BrokerError, r: &VerifyReport) -> String {
    let ws = &r.workspace;
    match (step, e.revoked_reason()) {
        (VerifyStep::AssumeRole, Some(RevokedReason::RoleAssumptionDenied)) => format!(
            "sts:AssumeRole on {} was denied: check that the role exists, that its trust policy allows the broker principal, and that it requires sts:ExternalId = \"{}\" (this workspace's external id)",
            r.role_arn, r.external_id
        ),
        (VerifyStep::GenerateDataKey | VerifyStep::Decrypt, Some(RevokedReason::KeyAccessDenied)) => {
            let action = if step == VerifyStep::Decrypt { "kms:Decrypt" } else { "kms:GenerateDataKey" };
            format!(
                "the key policy of {} does not allow {} {action} with encryption context workspace = \"{ws}\" and keys {{workspace, secret}}, or an explicit Deny overrides it: apply the customer module (terraform/) with broker_access = \"enabled\"",
                r.key_arn, r.role_arn
            )
        }
        (_, Some(reason)) => format!("{}: {}", r.key_arn, reason.remedy()),
        _ => format!("{step:?} failed: {e}"),
    }
}
