//! BYOK verification: a canary round trip that names the broken link.
//!
//! It runs the production path with a reserved secret name: assume the role
//! afresh (bypassing the session cache, so the trust policy is tested as it
//! is now), `GenerateDataKey`, seal a canary, `Decrypt` pinned to the key,
//! open it. Whatever fails first is reported with what to fix, including the
//! external id the trust policy must require.

use serde::Serialize;

use crate::arn::{KeyArn, RoleArn};
use crate::assume_role::{RoleSessions, RoleTarget, SessionPurpose};
use crate::error::{BrokerError, RevokedReason};
use crate::model::{ByokLink, KeyMode};
use crate::names::{SecretName, WorkspaceId};
use crate::sealing;
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
    pub workspace: WorkspaceId,
    /// Role assumed.
    pub role_arn: RoleArn,
    /// Key used.
    pub key_arn: KeyArn,
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

/// Run the canary round trip for `link` with fresh credentials (the cache
/// in `sessions` is bypassed, so the trust policy is tested as it is now).
pub(crate) async fn run(
    sessions: &RoleSessions,
    ws: &WorkspaceId,
    external_id: &str,
    link: &ByokLink,
) -> VerifyReport {
    let mut report = VerifyReport {
        workspace: ws.clone(),
        role_arn: link.role.clone(),
        key_arn: link.key.clone(),
        external_id: external_id.to_owned(),
        failed_step: None,
        error: None,
        error_kind: None,
        hint: String::new(),
    };
    match check(sessions, ws, external_id, link).await {
        Ok(()) => {
            report.hint = format!(
                "BYOK verified: assumed {} with the workspace external id, generated and decrypted a data key under {}",
                link.role, link.key
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
    sessions: &RoleSessions,
    ws: &WorkspaceId,
    external_id: &str,
    link: &ByokLink,
) -> Result<(), (VerifyStep, BrokerError)> {
    let key = &link.key;
    if link.region != key.region() {
        return Err((
            VerifyStep::Region,
            BrokerError::invalid(
                "region",
                format!(
                    "the key is in {} but the workspace region is {}",
                    key.region(),
                    link.region
                ),
            ),
        ));
    }
    let target = RoleTarget {
        role_arn: link.role.as_str(),
        external_id,
        region: link.region.as_str(),
        purpose: SessionPurpose::Verify,
    };
    let kms = sessions
        .fresh_kms_client(ws, &target)
        .await
        .map_err(|e| (VerifyStep::AssumeRole, e))?;
    let name = SecretName::verify_canary();
    let canary = SecretValue::new(b"keybroker-verify-canary".to_vec())
        .map_err(|e| (VerifyStep::GenerateDataKey, e))?;
    let sealed = sealing::seal(&kms, key, KeyMode::Byok, ws, &name, &canary, None)
        .await
        .map_err(|e| (VerifyStep::GenerateDataKey, e))?;
    let opened = async {
        sealing::decode(&name, &sealed, None)?
            .open(&kms, ws, &name)
            .await
    }
    .await
    .map_err(|e| (VerifyStep::Decrypt, e))?;
    if opened.expose() != canary.expose() {
        return Err((
            VerifyStep::Decrypt,
            BrokerError::tampered(&name, "canary round trip returned different bytes"),
        ));
    }
    Ok(())
}

fn hint(step: VerifyStep, e: &BrokerError, r: &VerifyReport) -> String {
    let ws = &r.workspace;
    match (step, e.revoked_reason()) {
        (VerifyStep::AssumeRole, Some(RevokedReason::RoleAssumptionDenied)) => format!(
            "sts:AssumeRole on {} was denied: check that the role exists, that its trust policy allows the broker principal sts:AssumeRole with sts:ExternalId = \"{}\" (this workspace's external id) and sts:SetSourceIdentity for a keybroker-* SourceIdentity (the customer module's trust policy since issue 23: re-apply terraform/)",
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
