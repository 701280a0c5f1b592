//! Writes: storing a new secret and rotating one, each sealed under the
//! workspace's current key mode.

use super::{not_found_secret, Broker};
use crate::assume_role::SessionPurpose;
use crate::binding::Binding;
use crate::error::{BrokerError, Result};
use crate::model::{now, SecretMetadata, SecretStatus};
use crate::names::{SecretName, WorkspaceId};
use crate::sealing;
use crate::secret::SecretValue;
use crate::store::SecretRecord;

impl Broker {
    /// Store a new secret under the workspace's current key mode, with no
    /// binding (it can be read by the library but never injected).
    /// `Conflict` if the name is taken (rotate it instead).
    pub async fn put_secret(
        &self,
        ws: &WorkspaceId,
        name: &SecretName,
        value: &SecretValue,
    ) -> Result<SecretMetadata> {
        self.put(ws, name, value, None).await
    }

    /// Store a new secret that may be injected only as `binding` says.
    pub async fn put_bound_secret(
        &self,
        ws: &WorkspaceId,
        name: &SecretName,
        value: &SecretValue,
        binding: &Binding,
    ) -> Result<SecretMetadata> {
        binding.validate()?;
        if binding.oauth2.is_some() {
            // An oauth2 secret seals its refresh material, nothing else.
            crate::oauth2::Material::from_value(value)?;
            let meta = self.put(ws, name, value, Some(binding)).await?;
            // A fresh state: nothing cached by an earlier secret of this
            // name can be taken for this one's.
            self.store
                .put_oauth2_state(ws, name, &crate::store::oauth2::OAuth2State::default())
                .await?;
            return Ok(meta);
        }
        self.put(ws, name, value, Some(binding)).await
    }

    async fn put(
        &self,
        ws: &WorkspaceId,
        name: &SecretName,
        value: &SecretValue,
        binding: Option<&Binding>,
    ) -> Result<SecretMetadata> {
        let settings = self.store.get_workspace(ws).await?;
        let key = self.write_key(ws, settings.as_ref()).await?;
        let blob =
            sealing::seal(&key.kms, &key.key_arn, key.mode, ws, name, value, binding).await?;
        let t = now();
        let meta = SecretMetadata {
            workspace: ws.clone(),
            name: name.clone(),
            version: 1,
            key_mode: key.mode,
            key_arn: key.key_arn,
            role_arn: key.role,
            created_at: t,
            updated_at: t,
            status: SecretStatus::Active,
            binding: binding.cloned(),
        };
        let rec = SecretRecord { meta, blob };
        self.store.write_secret(&rec, None).await?;
        tracing::info!(workspace = %ws, secret = %name, key_mode = rec.meta.key_mode.as_str(), "secret stored");
        Ok(rec.meta)
    }

    /// Re-encrypt a secret under the workspace's *current* key mode, with a
    /// new value or (if `None`) its current one, always in the current blob
    /// format (this is the operation that rewrites version 1 blobs). With
    /// `expected_version`, the rotation only applies on top of that version;
    /// in any case a rotation racing another one fails with `Conflict`
    /// instead of losing either.
    ///
    /// The stored binding is carried forward, so the current version is
    /// opened first even when a new value is given: that authenticates the
    /// binding (version 2) before it is sealed again, so a binding changed by
    /// a table write is refused (`Tampered`) instead of being laundered into
    /// a fresh blob. A version 1 blob's binding cannot be authenticated and is
    /// carried forward as stored. There is no operation that changes a
    /// binding: delete the secret and put it again.
    pub async fn rotate_secret(
        &self,
        ws: &WorkspaceId,
        name: &SecretName,
        new_value: Option<&SecretValue>,
        expected_version: Option<u64>,
    ) -> Result<SecretMetadata> {
        let read = self.store.get_secret_and_workspace(ws, name).await?;
        let (rec, settings) = (read.secret, read.workspace);
        let rec = rec.ok_or_else(|| not_found_secret(name))?;
        if let Some(v) = expected_version.filter(|v| *v != rec.meta.version) {
            return Err(BrokerError::Conflict {
                what: "secret",
                name: name.to_string(),
                detail: format!("expected version {v}, found {}", rec.meta.version),
            });
        }
        let current = self
            .open(ws, name, &rec, settings.as_ref(), SessionPurpose::Admin)
            .await?;
        if let (Some(v), Some(b)) = (new_value, rec.meta.binding.as_ref()) {
            if b.oauth2.is_some() {
                // An oauth2 secret seals its refresh material, nothing else.
                crate::oauth2::Material::from_value(v)?;
            }
        }
        let value = new_value.unwrap_or(&current);
        let key = self.write_key(ws, settings.as_ref()).await?;
        let new = self.reseal(&rec, &key, value).await?;
        drop(current);
        tracing::info!(workspace = %ws, secret = %name, version = new.version, key_mode = new.key_mode.as_str(), "secret rotated");
        Ok(new)
    }

    /// Seal `value` as the next version of `rec` under `key`, carrying its
    /// binding forward, and write it only on top of `rec`'s version (a
    /// concurrent writer makes this a `Conflict`, never a lost update).
    /// Shared by rotation and `rewrap`; the caller opened `rec` (which
    /// authenticated its binding) to get `value`.
    pub(super) async fn reseal(
        &self,
        rec: &SecretRecord,
        key: &super::byok::WriteKey,
        value: &SecretValue,
    ) -> Result<SecretMetadata> {
        let (ws, name) = (&rec.meta.workspace, &rec.meta.name);
        let binding = rec.meta.binding.as_ref();
        let blob =
            sealing::seal(&key.kms, &key.key_arn, key.mode, ws, name, value, binding).await?;
        let meta = SecretMetadata {
            version: rec.meta.version + 1,
            key_mode: key.mode,
            key_arn: key.key_arn.clone(),
            role_arn: key.role.clone(),
            updated_at: now(),
            status: SecretStatus::Active,
            ..rec.meta.clone()
        };
        let new = SecretRecord { meta, blob };
        self.store
            .write_secret(&new, Some(rec.meta.version))
            .await?;
        Ok(new.meta)
    }
}
