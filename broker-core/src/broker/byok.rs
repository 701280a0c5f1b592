//! Workspace settings and the BYOK session: which KMS client a secret's key
//! needs. The only place that decides between the platform key and the
//! customer's, and the only caller of the assumed-role session cache.

use super::verify::{self, VerifyReport};
use super::Broker;
use crate::arn::{KeyArn, Region, RoleArn};
use crate::assume_role::{RoleTarget, SessionPurpose};
use crate::error::{BrokerError, Result};
use crate::model::{now, Byok, ByokLink, KeyMode, SecretMetadata, WorkspaceSettings};
use crate::names::WorkspaceId;

/// Where a write's data key comes from.
pub(super) struct WriteKey {
    pub kms: aws_sdk_kms::Client,
    pub key_arn: KeyArn,
    pub mode: KeyMode,
    /// The customer role (BYOK), recorded with every secret sealed here.
    pub role: Option<RoleArn>,
}

impl Broker {
    /// Get a workspace's settings, creating the workspace (BYOK off, fresh
    /// external id) on first call. The external id is what the customer puts
    /// in their role's trust policy; it never changes afterwards.
    pub async fn prepare_byok(&self, ws: &WorkspaceId) -> Result<WorkspaceSettings> {
        if let Some(w) = self.store.get_workspace(ws).await? {
            return Ok(w);
        }
        let fresh = WorkspaceSettings {
            workspace: ws.clone(),
            external_id: crate::external_id::generate()?,
            byok: Byok::Off,
            updated_at: now(),
            policy: None,
        };
        match self.store.create_workspace(&fresh).await {
            Ok(()) => Ok(fresh),
            // Someone created it between our read and write: theirs stands.
            Err(BrokerError::Conflict { .. }) => self.workspace(ws).await,
            Err(e) => Err(e),
        }
    }

    /// A workspace's settings; `NotFound` if it was never prepared.
    pub async fn workspace(&self, ws: &WorkspaceId) -> Result<WorkspaceSettings> {
        self.store
            .get_workspace(ws)
            .await?
            .ok_or_else(|| BrokerError::NotFound {
                what: "workspace",
                name: ws.to_string(),
            })
    }

    /// Turn BYOK on with the customer's role and key. The link is verified
    /// first (a canary round trip) and nothing is stored if any step fails:
    /// the error names the broken link. `region` defaults to the key's.
    pub async fn enable_byok(
        &self,
        ws: &WorkspaceId,
        role_arn: &str,
        key_arn: &str,
        region: Option<&str>,
    ) -> Result<WorkspaceSettings> {
        let role = RoleArn::parse(role_arn)?;
        let key = KeyArn::parse(key_arn)?;
        let region = Region::parse(region.unwrap_or(key.region()))?;
        let mut settings = self.workspace(ws).await?;
        let link = ByokLink { role, key, region };
        let report = verify::run(&self.sessions, ws, &settings.external_id, &link).await;
        if let Some(e) = report.error {
            return Err(e);
        }
        settings.byok = Byok::Configured {
            link,
            enabled: true,
        };
        settings.updated_at = now();
        self.store.set_byok(&settings).await?;
        self.sessions.evict(ws);
        Ok(settings)
    }

    /// Check a workspace's stored BYOK link end to end without changing it.
    pub async fn verify_byok(&self, ws: &WorkspaceId) -> Result<VerifyReport> {
        let settings = self.workspace(ws).await?;
        let link = settings.byok.link().ok_or_else(|| BrokerError::NotFound {
            what: "BYOK settings",
            name: ws.to_string(),
        })?;
        Ok(verify::run(&self.sessions, ws, &settings.external_id, link).await)
    }

    /// New and rotated secrets go back to the platform key. Secrets already
    /// under the customer's key stay there (the role stays configured) until
    /// rotated.
    pub async fn disable_byok(&self, ws: &WorkspaceId) -> Result<WorkspaceSettings> {
        let mut settings = self.workspace(ws).await?;
        if let Byok::Configured { enabled, .. } = &mut settings.byok {
            *enabled = false;
        }
        settings.updated_at = now();
        self.store.set_byok(&settings).await?;
        Ok(settings)
    }

    /// The key new versions are written under: the customer's if BYOK is on.
    pub(super) async fn write_key(
        &self,
        ws: &WorkspaceId,
        settings: Option<&WorkspaceSettings>,
    ) -> Result<WriteKey> {
        let enabled = settings.and_then(|s| Some((s, s.byok.enabled_link()?)));
        match enabled {
            None => Ok(WriteKey {
                kms: self.platform_kms.clone(),
                key_arn: self.platform_key.clone(),
                mode: KeyMode::Platform,
                role: None,
            }),
            Some((s, link)) => Ok(WriteKey {
                kms: self
                    .customer_kms(ws, s, &link.role, &link.key, SessionPurpose::Admin)
                    .await?,
                key_arn: link.key.clone(),
                mode: KeyMode::Byok,
                role: Some(link.role.clone()),
            }),
        }
    }

    /// The KMS client that can read a secret of `ws` sealed as `meta`
    /// says: the platform's, or (BYOK) one acting as the role the secret
    /// records (the workspace's current role for an item from before roles
    /// were recorded), always with the workspace's external id, in a
    /// session named for `purpose`.
    pub(super) async fn kms_for(
        &self,
        ws: &WorkspaceId,
        meta: &SecretMetadata,
        settings: Option<&WorkspaceSettings>,
        purpose: SessionPurpose,
    ) -> Result<aws_sdk_kms::Client> {
        match meta.key_mode {
            KeyMode::Platform => Ok(self.platform_kms.clone()),
            KeyMode::Byok => {
                // A BYOK secret in a workspace with no settings or no role
                // to read it with: the table was changed under us (the
                // broker never writes this).
                let settings = settings.ok_or_else(|| no_link(ws))?;
                let role = meta.read_role(Some(settings)).ok_or_else(|| no_link(ws))?;
                self.customer_kms(ws, settings, role, &meta.key_arn, purpose)
                    .await
            }
        }
    }

    /// A KMS client acting as `role` with the workspace's external id
    /// (cached session per workspace, role and purpose), in the region of
    /// `key`.
    async fn customer_kms(
        &self,
        ws: &WorkspaceId,
        settings: &WorkspaceSettings,
        role: &RoleArn,
        key: &KeyArn,
        purpose: SessionPurpose,
    ) -> Result<aws_sdk_kms::Client> {
        let target = RoleTarget {
            role_arn: role.as_str(),
            external_id: &settings.external_id,
            region: key.region(),
            purpose,
        };
        self.sessions.kms_client(ws, &target).await
    }
}

fn no_link(ws: &WorkspaceId) -> BrokerError {
    BrokerError::Storage {
        detail: format!("workspace {ws} has BYOK secrets but no complete BYOK settings"),
    }
}
