//! The `oauth2` kind's injection path ([`crate::oauth2`] has the why):
//! a fresh cached access token is opened with one `kms:Decrypt` (the same
//! calls as a static secret); an expiring one is refreshed by exactly one
//! invocation holding the lease, while the others wait for its result.
//!
//! ```text
//! fresh ──(near expiry, or sealed for an older secret version)──▶ expiring
//! expiring ──lease taken (conditional UpdateItem)──▶ refreshing
//!   refreshing: re-read under the lease; kms:Decrypt the refresh token;
//!               POST the token endpoint; a rotated refresh token is sealed
//!               and written back on the version read (UpdateItem, condition
//!               version = read) BEFORE the new access token is used; the
//!               access token is sealed as <name>#access; lease released
//!   ──▶ fresh          ──invalid_grant──▶ reauth_required (until reconnected)
//! expiring, lease held by another ──poll──▶ fresh (its result) | refresh_pending
//! any state ──key revoked──▶ revoked (Decrypt refused: nothing sent, nothing sealed)
//! ```

use std::time::Instant;

use super::Broker;
use crate::access::ApprovedRequest;
use crate::assume_role::SessionPurpose;
use crate::error::{BrokerError, Result};
use crate::loaded::LoadedSecret;
use crate::model::{now, KeyMode, SecretMetadata, SecretStatus, WorkspaceSettings};
use crate::names::{SecretName, WorkspaceId};
use crate::oauth2::{
    parse_answer, Material, OAuth2Binding, TokenForm, TokenTransport, ACCESS_SUFFIX,
};
use crate::sealing;
use crate::secret::SecretValue;
use crate::store::oauth2::{OAuth2State, Refreshed};
use crate::store::SecretRecord;

use super::admit::Admitted;
use super::read::Decrypted;

/// Milliseconds since the epoch.
pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// A lease owner id: 16 random bytes, hex.
fn lease_owner() -> Result<String> {
    crate::external_id::generate().map(|mut s| {
        s.truncate(32);
        s
    })
}

impl Broker {
    /// The last step of an injection for every kind: `kms:Decrypt` of a
    /// static secret ([`Broker::decrypt_for_injection`]), or for an `oauth2`
    /// secret its current access token (cached, or refreshed through
    /// `transport`). What is returned is what is sent, so the response
    /// scanner's needles are built from the access token.
    pub async fn credential_for_injection<T: TokenTransport>(
        &self,
        admitted: Admitted,
        transport: &T,
    ) -> Result<(ApprovedRequest, Decrypted)> {
        let client = admitted
            .authorized
            .loaded()
            .rec
            .meta
            .binding
            .as_ref()
            .and_then(|b| b.oauth2.clone());
        let Some(client) = client else {
            return self.decrypt_for_injection(admitted).await;
        };
        let (request, loaded) = admitted.authorized.into_parts();
        let meta = loaded.rec.meta.clone();
        let value = self.oauth2_access(loaded, &client, transport).await?;
        Ok((
            request,
            Decrypted {
                value,
                metadata: SecretMetadata {
                    status: SecretStatus::Active,
                    ..meta
                },
            },
        ))
    }

    async fn oauth2_access<T: TokenTransport>(
        &self,
        loaded: LoadedSecret,
        client: &OAuth2Binding,
        transport: &T,
    ) -> Result<SecretValue> {
        let LoadedSecret {
            ws,
            name,
            rec,
            settings,
            oauth2,
            ..
        } = loaded;
        if let Some(v) = self
            .use_cached(&ws, &name, &rec, settings.as_ref(), oauth2.as_ref())
            .await?
        {
            return Ok(v);
        }
        self.refresh(&ws, &name, client, transport).await
    }

    /// `Ok(Some)`: the cached token is fresh and opened. `Ok(None)`: it
    /// must be refreshed. `Err(ReauthRequired)` before any KMS call.
    async fn use_cached(
        &self,
        ws: &WorkspaceId,
        name: &SecretName,
        rec: &SecretRecord,
        settings: Option<&WorkspaceSettings>,
        state: Option<&OAuth2State>,
    ) -> Result<Option<SecretValue>> {
        let Some(st) = state else { return Ok(None) };
        if st.reauth_since.is_some() {
            return Err(reauth(name));
        }
        let fresh = st.secret_version == rec.meta.version
            && now_ms() < self.oauth2.refresh_at_ms(st.issued_at_ms, st.expires_at_ms);
        let Some(blob) = st.access.as_ref().filter(|_| fresh) else {
            return Ok(None);
        };
        let access_name = name.derived(ACCESS_SUFFIX);
        let derived = SecretRecord {
            meta: rec.meta.clone(),
            blob: blob.clone(),
        };
        let result = self
            .open(ws, &access_name, &derived, settings, SessionPurpose::Inject)
            .await;
        self.record_status(&rec.meta, seen(&result)).await;
        result.map(Some)
    }

    async fn refresh<T: TokenTransport>(
        &self,
        ws: &WorkspaceId,
        name: &SecretName,
        client: &OAuth2Binding,
        transport: &T,
    ) -> Result<SecretValue> {
        let owner = lease_owner()?;
        let started = Instant::now();
        loop {
            let t = now_ms();
            let lease_ms = self.oauth2.lease.as_millis() as u64;
            if self
                .store
                .acquire_oauth2_lease(ws, name, &owner, t, t + lease_ms)
                .await?
            {
                let result = self
                    .refresh_under_lease(ws, name, client, &owner, transport)
                    .await;
                if matches!(&result, Err(e) if !matches!(e, BrokerError::ReauthRequired { .. })) {
                    self.store.release_oauth2_lease(ws, name, &owner).await;
                }
                return result;
            }
            // Another invocation holds the lease (or the secret needs
            // reauth): wait for its result.
            if started.elapsed() >= self.oauth2.wait {
                return Err(BrokerError::RefreshPending {
                    secret: name.to_string(),
                });
            }
            tokio::time::sleep(self.oauth2.poll).await;
            let read = self.store.get_secret_and_workspace(ws, name).await?;
            let rec = read.secret.ok_or_else(|| super::not_found_secret(name))?;
            if let Some(v) = self
                .use_cached(
                    ws,
                    name,
                    &rec,
                    read.workspace.as_ref(),
                    read.oauth2.as_ref(),
                )
                .await?
            {
                return Ok(v);
            }
        }
    }

    /// Under the lease: re-read (someone may have refreshed between our
    /// read and our lease), decrypt the refresh material, call the token
    /// endpoint once, write the rotated refresh token back, then seal and
    /// store the access token.
    async fn refresh_under_lease<T: TokenTransport>(
        &self,
        ws: &WorkspaceId,
        name: &SecretName,
        client: &OAuth2Binding,
        owner: &str,
        transport: &T,
    ) -> Result<SecretValue> {
        let read = self.store.get_secret_and_workspace(ws, name).await?;
        let rec = read.secret.ok_or_else(|| super::not_found_secret(name))?;
        let settings = read.workspace;
        if let Some(v) = self
            .use_cached(ws, name, &rec, settings.as_ref(), read.oauth2.as_ref())
            .await?
        {
            self.store.release_oauth2_lease(ws, name, owner).await;
            return Ok(v);
        }
        // The refresh token, under the customer's key: a revoked key stops
        // the refresh here, before the token endpoint is called.
        let opened = self
            .open(ws, name, &rec, settings.as_ref(), SessionPurpose::Inject)
            .await;
        self.record_status(&rec.meta, seen(&opened)).await;
        let material = Material::from_value(&opened?)?;
        let endpoint = client.endpoint()?;
        let body = TokenForm::Refresh {
            client,
            refresh_token: &material.refresh_token,
            client_secret: material.client_secret.as_ref(),
        }
        .encode()?;
        let issued_at_ms = now_ms();
        let answer = transport
            .post_form(&endpoint, body)
            .await
            .map_err(|detail| BrokerError::Unavailable {
                service: "oauth2 token endpoint",
                detail,
            })?;
        let tokens = match parse_answer(&answer, name.as_str()) {
            Err(BrokerError::ReauthRequired { .. }) => {
                tracing::warn!(workspace = %ws, secret = %name, "the identity provider refused the refresh token (invalid_grant): reauth_required");
                self.store
                    .mark_oauth2_reauth(ws, name, owner, now())
                    .await?;
                return Err(reauth(name));
            }
            other => other?,
        };
        drop(answer);
        let kms = self
            .kms_for(ws, &rec.meta, settings.as_ref(), SessionPurpose::Inject)
            .await?;
        let (key, mode, binding) = (
            &rec.meta.key_arn,
            rec.meta.key_mode,
            rec.meta.binding.as_ref(),
        );
        let mut version = rec.meta.version;
        if let Some(rotated) = tokens.refresh_token {
            let next = Material {
                refresh_token: rotated,
                client_secret: material.client_secret,
            };
            let blob = sealing::seal(&kms, key, mode, ws, name, &next.to_value()?, binding).await?;
            // Written back before the new access token is used: losing it
            // would strand the grant (the old one is consumed).
            self.store
                .write_back_secret_blob(ws, name, blob, version, now())
                .await?;
            version += 1;
            tracing::info!(workspace = %ws, secret = %name, version, "oauth2 refresh token rotated");
        }
        let access_name = name.derived(ACCESS_SUFFIX);
        let access = sealing::seal(
            &kms,
            key,
            mode,
            ws,
            &access_name,
            &tokens.access_token,
            binding,
        )
        .await?;
        let refreshed = Refreshed {
            secret_version: version,
            access: &access,
            issued_at_ms,
            expires_at_ms: issued_at_ms + tokens.expires_in.saturating_mul(1000),
        };
        if let Err(e) = self
            .store
            .finish_oauth2_refresh(ws, name, owner, &refreshed)
            .await
        {
            // The token is valid; only the cache write failed. The next
            // refresher re-reads the written-back version.
            tracing::warn!(workspace = %ws, secret = %name, error = %e, "could not cache the refreshed access token");
        }
        if mode == KeyMode::Byok {
            tracing::debug!(workspace = %ws, secret = %name, "oauth2 token refreshed under the customer's key");
        }
        tracing::info!(workspace = %ws, secret = %name, expires_in = tokens.expires_in, "oauth2 access token refreshed");
        Ok(tokens.access_token)
    }
}

/// What `list_secrets` shows of an `oauth2` secret: the state of its
/// access token (never a token), so an operator sees which secrets need
/// the customer to connect them again.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct OAuth2Status {
    /// `fresh`, `expiring` (refreshed on next use), `refreshing` (a lease
    /// is held) or `reauth_required`.
    pub state: &'static str,
    /// When the cached access token expires (Unix ms), if there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_expires_at_ms: Option<u64>,
    /// Since when the provider refuses the refresh token (Unix s).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reauth_since: Option<u64>,
}

impl Broker {
    /// The token state of each `oauth2` secret among `secrets` (one Query).
    pub async fn oauth2_statuses(
        &self,
        ws: &WorkspaceId,
        secrets: &[SecretMetadata],
    ) -> Result<std::collections::BTreeMap<String, OAuth2Status>> {
        let states = self.store.oauth2_states(ws).await?;
        let t = now_ms();
        Ok(secrets
            .iter()
            .filter(|m| m.binding.as_ref().is_some_and(|b| b.oauth2.is_some()))
            .map(|m| {
                let st = states.get(m.name.as_str()).cloned().unwrap_or_default();
                let fresh = st.access.is_some()
                    && st.secret_version == m.version
                    && t < self.oauth2.refresh_at_ms(st.issued_at_ms, st.expires_at_ms);
                let state = if st.reauth_since.is_some() {
                    "reauth_required"
                } else if st.lease_until_ms.is_some_and(|u| u >= t) {
                    "refreshing"
                } else if fresh {
                    "fresh"
                } else {
                    "expiring"
                };
                let status = OAuth2Status {
                    state,
                    access_expires_at_ms: st.access.as_ref().map(|_| st.expires_at_ms),
                    reauth_since: st.reauth_since,
                };
                (m.name.to_string(), status)
            })
            .collect())
    }
}

fn reauth(name: &SecretName) -> BrokerError {
    BrokerError::ReauthRequired {
        secret: name.to_string(),
    }
}

/// The status a read saw, for `record_status`.
fn seen<T>(r: &Result<T>) -> Option<SecretStatus> {
    match r {
        Ok(_) => Some(SecretStatus::Active),
        Err(BrokerError::Revoked { reason, .. }) => Some(SecretStatus::Revoked {
            reason: *reason,
            since: now(),
        }),
        Err(_) => None,
    }
}
