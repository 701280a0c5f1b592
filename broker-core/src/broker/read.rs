//! Reads: load (one DynamoDB read), the one access check, decrypt, and
//! recording what the read saw (the revocation mark `list` shows).

use super::admit::Admitted;
use super::{not_found_secret, Broker};
use crate::access::{AccessError, AccessRequest, AccessSettings, ApprovedRequest, Authorized};
use crate::assume_role::SessionPurpose;
use crate::error::{BrokerError, Result};
use crate::loaded::LoadedSecret;
use crate::model::{now, KeyMode, SecretMetadata, SecretStatus, WorkspaceSettings};
use crate::names::{SecretName, WorkspaceId};
use crate::sealing;
use crate::secret::SecretValue;
use crate::store::SecretRecord;

/// A decrypted secret with the metadata of the version it came from (the
/// key ARN and mode are what audit records need).
#[derive(Debug)]
pub struct Decrypted {
    /// The credential in clear; drop it as soon as the request is sent.
    pub value: SecretValue,
    /// Metadata of the version that was read.
    pub metadata: SecretMetadata,
}

impl Broker {
    /// Decrypt a secret for the library's own use (rotation tooling,
    /// operators, tests): one DynamoDB read and `kms:Decrypt`, no access
    /// check. **Never send the result upstream**: an injection goes through
    /// [`Broker::load`], [`Broker::authorize`] and
    /// [`Broker::decrypt_for_injection`], which is the only path the
    /// `inject` function has.
    pub async fn read_plaintext(&self, ws: &WorkspaceId, name: &SecretName) -> Result<Decrypted> {
        let loaded = self.load(ws, name).await?;
        self.decrypt(loaded, SessionPurpose::Admin).await
    }

    /// First step of an injection: one DynamoDB read fetching the secret's
    /// record, its probe breaker and its workspace's settings and policy, no
    /// KMS call.
    /// [`Broker::authorize`] checks the request on the result; only its
    /// [`Authorized`] answer can be decrypted for injection, so a denied
    /// request never reaches the customer's key.
    pub async fn load(&self, ws: &WorkspaceId, name: &SecretName) -> Result<LoadedSecret> {
        let read = self.store.get_secret_and_workspace(ws, name).await?;
        let rec = read.secret.ok_or_else(|| not_found_secret(name))?;
        Ok(LoadedSecret {
            ws: ws.clone(),
            name: name.clone(),
            rec,
            settings: read.workspace,
            limits: read.limits,
            breaker: read.breaker,
            oauth2: read.oauth2,
        })
    }

    /// Second step: the one access check of the request against the
    /// secret's binding and its workspace's policy (crate `access` module).
    /// No AWS call.
    pub fn authorize(
        &self,
        loaded: LoadedSecret,
        request: &AccessRequest<'_>,
    ) -> std::result::Result<Authorized, AccessError> {
        self.gate.check(loaded, request)
    }

    /// The deployment's access settings.
    pub fn access_settings(&self) -> AccessSettings {
        self.gate.settings()
    }

    /// Last step: `kms:Decrypt` for a request that passed
    /// [`Broker::authorize`] and then the injection limits
    /// ([`Broker::admit`]). Returns the approved request (what to send)
    /// with the credential. Nothing decrypted is cached, so revocation
    /// applies to the first read after KMS applies it.
    pub async fn decrypt_for_injection(
        &self,
        admitted: Admitted,
    ) -> Result<(ApprovedRequest, Decrypted)> {
        let (request, loaded) = admitted.authorized.into_parts();
        Ok((request, self.decrypt(loaded, SessionPurpose::Inject).await?))
    }

    /// `kms:Decrypt` and open, through a session named for `purpose`. A
    /// revoked read keeps the record and marks it in `list`.
    async fn decrypt(&self, loaded: LoadedSecret, purpose: SessionPurpose) -> Result<Decrypted> {
        let LoadedSecret {
            ws,
            name,
            rec,
            settings,
            ..
        } = loaded;
        let result = self
            .open(&ws, &name, &rec, settings.as_ref(), purpose)
            .await;
        let seen = match &result {
            Ok(_) => Some(SecretStatus::Active),
            Err(BrokerError::Revoked { reason, .. }) => Some(SecretStatus::Revoked {
                reason: *reason,
                since: now(),
            }),
            Err(_) => None,
        };
        self.record_status(&rec.meta, seen).await;
        let value = result?;
        Ok(Decrypted {
            value,
            metadata: SecretMetadata {
                status: SecretStatus::Active,
                ..rec.meta
            },
        })
    }

    /// Persist a status change only when it changes (a revoked reason first
    /// seen, or recovery), so warm reads stay at one DynamoDB call. Failing
    /// to record is logged, never allowed to mask the read's own outcome.
    pub(super) async fn record_status(&self, meta: &SecretMetadata, seen: Option<SecretStatus>) {
        let changed = seen.is_some_and(|s| super::check::status_changes(meta.status, s));
        let Some(status) = seen.filter(|_| changed) else {
            return;
        };
        if matches!(status, SecretStatus::Revoked { .. }) {
            tracing::warn!(workspace = %meta.workspace, secret = %meta.name, ?status, "secret key access revoked");
        }
        if let Err(e) = self.store.set_status(meta, status).await {
            tracing::warn!(workspace = %meta.workspace, secret = %meta.name, error = %e, "could not record secret status");
        }
    }

    /// Decrypt a stored record with the key its blob names, authenticating
    /// the record's binding (version 2 blobs). Every check that needs no key
    /// runs before `kms:Decrypt` ([`sealing::check`]): a record altered in
    /// the table is refused without touching the customer's key. A BYOK
    /// secret is read through a session named for `purpose`.
    pub(super) async fn open(
        &self,
        ws: &WorkspaceId,
        name: &SecretName,
        rec: &SecretRecord,
        settings: Option<&WorkspaceSettings>,
        purpose: SessionPurpose,
    ) -> Result<SecretValue> {
        let checked = sealing::check(name, &rec.meta, &rec.blob, self.min_blob_version)?;
        let mode = checked.key_mode();
        let kms = self.kms_for(ws, &rec.meta, settings, purpose).await?;
        let result = checked.open(&kms, ws, name).await;
        if matches!(result, Err(BrokerError::Revoked { .. })) && mode == KeyMode::Byok {
            // Re-assume next time: the customer may have fixed the link.
            self.sessions.evict(ws);
        }
        result
    }
}
