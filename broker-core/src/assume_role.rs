//! Cross-account sessions: one cached `AssumeRole` per workspace.
//!
//! The broker reaches a customer's key only through the customer's role, with
//! the external id the broker generated for that workspace. Sessions are
//! requested for the shortest duration STS allows (15 minutes) and reused
//! until two minutes before they expire, never longer than 55 minutes (role
//! chaining from a Lambda execution role caps sessions at one hour). A
//! per-workspace async mutex makes concurrent requests for a cold workspace
//! wait for one `AssumeRole` instead of stampeding STS.
//!
//! Only the *credentials* are cached, never a decrypted key or secret: every
//! read still calls `kms:Decrypt`, so a key-policy revocation is seen on the
//! very next read. A trust-policy revocation is seen when the session is next
//! renewed (at most [`MAX_REUSE`]); any revoked answer evicts the session.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sdk_kms::config::Region;

use crate::aws_error::{classify, Service};
use crate::error::{BrokerError, Result};
use crate::names::WorkspaceId;

/// Session length requested from STS: its minimum, the least exposure.
pub const SESSION_DURATION: Duration = Duration::from_secs(900);
/// Renew this long before STS says the session expires (clock skew, slow calls).
pub const REFRESH_MARGIN: Duration = Duration::from_secs(120);
/// Upper bound on reusing one session, whatever STS grants.
pub const MAX_REUSE: Duration = Duration::from_secs(55 * 60);

/// The customer side of one workspace's BYOK link.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RoleTarget<'a> {
    pub role_arn: &'a str,
    pub external_id: &'a str,
    pub region: &'a str,
}

struct Session {
    role_arn: String,
    external_id: String,
    region: String,
    kms: aws_sdk_kms::Client,
    refresh_at: SystemTime,
}

impl Session {
    fn serves(&self, t: &RoleTarget<'_>, now: SystemTime) -> bool {
        self.role_arn == t.role_arn
            && self.external_id == t.external_id
            && self.region == t.region
            && now < self.refresh_at
    }
}

type Slot = Arc<tokio::sync::Mutex<Option<Session>>>;

/// Cache of assumed-role KMS clients, keyed by workspace.
pub(crate) struct RoleSessions {
    sts: aws_sdk_sts::Client,
    kms_base: aws_sdk_kms::Config,
    slots: Mutex<HashMap<WorkspaceId, Slot>>,
}

impl RoleSessions {
    pub(crate) fn new(sts: aws_sdk_sts::Client, kms_base: aws_sdk_kms::Config) -> Self {
        Self {
            sts,
            kms_base,
            slots: Mutex::new(HashMap::new()),
        }
    }

    fn slot(&self, ws: &WorkspaceId) -> Slot {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        slots.entry(ws.clone()).or_default().clone()
    }

    /// A KMS client acting as the customer's role, from cache when valid.
    pub(crate) async fn kms_client(
        &self,
        ws: &WorkspaceId,
        target: &RoleTarget<'_>,
    ) -> Result<aws_sdk_kms::Client> {
        let slot = self.slot(ws);
        let mut cached = slot.lock().await;
        if let Some(s) = cached
            .as_ref()
            .filter(|s| s.serves(target, SystemTime::now()))
        {
            return Ok(s.kms.clone());
        }
        *cached = None;
        let session = self.assume(ws, target).await?;
        let kms = session.kms.clone();
        *cached = Some(session);
        Ok(kms)
    }

    /// A fresh session that bypasses and does not touch the cache (verify
    /// must test the trust policy as it is now, not as it was).
    pub(crate) async fn fresh_kms_client(
        &self,
        ws: &WorkspaceId,
        target: &RoleTarget<'_>,
    ) -> Result<aws_sdk_kms::Client> {
        Ok(self.assume(ws, target).await?.kms)
    }

    /// Drop a workspace's session, so the next use assumes the role again.
    pub(crate) fn evict(&self, ws: &WorkspaceId) {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        slots.remove(ws);
    }

    async fn assume(&self, ws: &WorkspaceId, t: &RoleTarget<'_>) -> Result<Session> {
        let out = self
            .sts
            .assume_role()
            .role_arn(t.role_arn)
            .external_id(t.external_id)
            // Shows up in the customer's CloudTrail as the session name.
            .role_session_name(format!("keybroker-{ws}"))
            .duration_seconds(SESSION_DURATION.as_secs() as i32)
            .send()
            .await
            .map_err(|e| classify(Service::Sts, None, &e))?;
        let c = out.credentials().ok_or_else(|| BrokerError::Unavailable {
            service: "sts",
            detail: "AssumeRole answered without credentials".into(),
        })?;
        let now = SystemTime::now();
        let expires = SystemTime::try_from(*c.expiration()).unwrap_or(now + SESSION_DURATION);
        let creds = Credentials::new(
            c.access_key_id(),
            c.secret_access_key(),
            Some(c.session_token().to_owned()),
            Some(expires),
            "keybroker-assume-role",
        );
        let kms = aws_sdk_kms::Client::from_conf(
            self.kms_base
                .to_builder()
                .region(Region::new(t.region.to_owned()))
                .credentials_provider(creds)
                .build(),
        );
        Ok(Session {
            role_arn: t.role_arn.to_owned(),
            external_id: t.external_id.to_owned(),
            region: t.region.to_owned(),
            kms,
            refresh_at: refresh_at(now, expires),
        })
    }
}

/// When to stop reusing a session issued at `now` that expires at `expires`.
fn refresh_at(now: SystemTime, expires: SystemTime) -> SystemTime {
    let by_expiry = expires.checked_sub(REFRESH_MARGIN).unwrap_or(now);
    by_expiry.min(now + MAX_REUSE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_are_renewed_before_expiry_and_within_55_minutes() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        assert_eq!(
            refresh_at(now, now + SESSION_DURATION),
            now + SESSION_DURATION - REFRESH_MARGIN
        );
        // STS granting a long session does not stretch reuse past 55 minutes.
        assert_eq!(
            refresh_at(now, now + Duration::from_secs(12 * 3600)),
            now + MAX_REUSE
        );
        // An already-expired session is never served.
        assert!(refresh_at(now, now) <= now);
    }
}
