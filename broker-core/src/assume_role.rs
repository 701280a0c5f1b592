//! Cross-account sessions: one cached `AssumeRole` per workspace, role and
//! purpose.
//!
//! The broker reaches a customer's key only through the customer's role, with
//! the external id the broker generated for that workspace. Every session
//! says who asks and why, in the customer's CloudTrail: its
//! `RoleSessionName` is `keybroker-<purpose>.<workspace>` ([`session_name`];
//! purposes: [`SessionPurpose`]) and its `SourceIdentity` names the function
//! (`keybroker-inject` or `keybroker-admin`), which the customer's trust
//! policy requires and allows (`sts:SetSourceIdentity`). Each session's KMS
//! client records every call it makes ([`crate::kms_use`]). Sessions are
//! requested for the shortest duration STS allows (15 minutes) and reused
//! until two minutes before they expire, never longer than 55 minutes (role
//! chaining from a Lambda execution role caps sessions at one hour). A
//! per-workspace async mutex makes concurrent requests for a cold workspace
//! wait for one `AssumeRole` instead of stampeding STS.
//!
//! Only the *credentials* are cached, never a decrypted key or secret: every
//! read still calls `kms:Decrypt`, so a key-policy revocation is seen on the
//! first read after KMS applies it (KMS is eventually consistent: usually
//! seconds, sometimes minutes). A trust-policy revocation is seen when the
//! session is next renewed (at most [`MAX_REUSE`]); any revoked answer evicts
//! the workspace's sessions. A revoked `AssumeRole` answer is then served
//! from a 5 s negative cache on the inject path ([`denied`]), so a revoked
//! workspace's looping agent costs one `AssumeRole` per 5 s per sandbox.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sdk_kms::config::Region;

use crate::aws_error::{classify, Service};
use crate::error::{BrokerError, Result};
use crate::kms_use::{KmsUseSink, RecordKmsUse, SessionLabel};
use crate::names::WorkspaceId;
pub use crate::session_purpose::SessionPurpose;

mod denied;
pub use denied::DENIED_TTL;

/// Session length requested from STS: its minimum, the least exposure.
pub const SESSION_DURATION: Duration = Duration::from_secs(900);
/// Renew this long before STS says the session expires (clock skew, slow calls).
pub const REFRESH_MARGIN: Duration = Duration::from_secs(120);
/// Upper bound on reusing one session, whatever STS grants.
pub const MAX_REUSE: Duration = Duration::from_secs(55 * 60);

/// The customer side of one workspace's BYOK link, and why it is used.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RoleTarget<'a> {
    pub role_arn: &'a str,
    pub external_id: &'a str,
    pub region: &'a str,
    pub purpose: SessionPurpose,
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

/// Cache of assumed-role KMS clients, keyed by workspace, role and
/// purpose: a workspace whose secrets were sealed through two roles (before
/// and after an `enable_byok` with a new role) keeps a warm session for
/// each, instead of one evicting the other on every alternate read; and the
/// admin function's check sessions stay apart from its operator sessions,
/// so each call is named for what it is.
pub(crate) struct RoleSessions {
    sts: aws_sdk_sts::Client,
    kms_base: aws_sdk_kms::Config,
    slots: Mutex<HashMap<(WorkspaceId, String, SessionPurpose), Slot>>,
    sink: Option<KmsUseSink>,
    /// Revoked answers for the inject path ([`denied`]).
    denied: denied::DeniedRoles,
}

impl RoleSessions {
    pub(crate) fn new(sts: aws_sdk_sts::Client, kms_base: aws_sdk_kms::Config) -> Self {
        Self {
            sts,
            kms_base,
            slots: Mutex::new(HashMap::new()),
            sink: None,
            denied: denied::DeniedRoles::default(),
        }
    }

    /// Record every KMS call of the sessions assumed from now on.
    pub(crate) fn set_sink(&mut self, sink: KmsUseSink) {
        self.sink = Some(sink);
    }

    fn slot(&self, ws: &WorkspaceId, target: &RoleTarget<'_>) -> Slot {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        slots
            .entry((ws.clone(), target.role_arn.to_owned(), target.purpose))
            .or_default()
            .clone()
    }

    /// A KMS client acting as the customer's role, from cache when valid.
    pub(crate) async fn kms_client(
        &self,
        ws: &WorkspaceId,
        target: &RoleTarget<'_>,
    ) -> Result<aws_sdk_kms::Client> {
        let slot = self.slot(ws, target);
        let mut cached = slot.lock().await;
        if let Some(s) = cached
            .as_ref()
            .filter(|s| s.serves(target, SystemTime::now()))
        {
            return Ok(s.kms.clone());
        }
        *cached = None;
        // Only injections are answered from the negative cache; every
        // other purpose asks STS (module `denied`).
        let negative = target.purpose == SessionPurpose::Inject;
        if negative {
            if let Some(e) = self
                .denied
                .get(ws, target.role_arn, std::time::Instant::now())
            {
                return Err(e);
            }
        }
        let session = match self.assume(ws, target).await {
            Ok(s) => s,
            Err(e) => {
                if negative {
                    self.denied
                        .record(ws, target.role_arn, &e, std::time::Instant::now());
                }
                return Err(e);
            }
        };
        if negative {
            self.denied.clear(ws, target.role_arn);
        }
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

    /// Drop a workspace's sessions (every role and purpose), so the next
    /// use assumes the role again.
    pub(crate) fn evict(&self, ws: &WorkspaceId) {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        slots.retain(|(w, _, _), _| w != ws);
    }

    async fn assume(&self, ws: &WorkspaceId, t: &RoleTarget<'_>) -> Result<Session> {
        let name = session_name(ws, t.purpose);
        let out = self
            .sts
            .assume_role()
            .role_arn(t.role_arn)
            .external_id(t.external_id)
            // Both show up on every CloudTrail event of the session.
            .role_session_name(&name)
            .source_identity(t.purpose.source_identity())
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
        let mut conf = self
            .kms_base
            .to_builder()
            .region(Region::new(t.region.to_owned()))
            .credentials_provider(creds);
        if let Some(sink) = &self.sink {
            conf = conf.interceptor(RecordKmsUse::new(
                sink.clone(),
                SessionLabel {
                    role_arn: t.role_arn.to_owned(),
                    session_name: name,
                    purpose: t.purpose,
                },
            ));
        }
        let kms = aws_sdk_kms::Client::from_conf(conf.build());
        Ok(Session {
            role_arn: t.role_arn.to_owned(),
            external_id: t.external_id.to_owned(),
            region: t.region.to_owned(),
            kms,
            refresh_at: refresh_at(now, expires),
        })
    }
}

/// What every session name starts with, so customers can pick the broker's
/// sessions out of CloudTrail (or match them in `sts:RoleSessionName`).
const SESSION_PREFIX: &str = "keybroker-";
/// STS's limit on `RoleSessionName`: 2 to 64 characters of `[\w+=,.@-]`.
pub const MAX_SESSION_NAME: usize = 64;
/// Hex digits of the workspace-id hash that ends a shortened session name.
const SESSION_HASH_HEX: usize = 8;

/// The STS session name for a workspace and purpose, valid for every valid
/// workspace id: `keybroker-<purpose>.<ws>` whenever it fits in STS's 64
/// characters (workspace ids of up to 47 characters for `inject`, 48 for
/// `admin` and `check`, 46 for `verify`).
///
/// A longer id (up to 63) would make STS refuse `AssumeRole` with a
/// ValidationError, so BYOK would never work for it: its name keeps as
/// many leading characters of the id as fit, then `.` and the first 8 hex
/// digits of SHA-256 of the whole id, so two long ids that share a prefix
/// still get distinct names in the customer's CloudTrail. Workspace ids are
/// `[a-z0-9-]` (a subset of what STS accepts) and never contain `.`, so the
/// first `.` always ends the purpose, and a shortened name (two dots) never
/// equals a full one (one dot).
pub fn session_name(ws: &WorkspaceId, purpose: SessionPurpose) -> String {
    let head = format!("{SESSION_PREFIX}{}.", purpose.as_str());
    let full = format!("{head}{ws}");
    if full.len() <= MAX_SESSION_NAME {
        return full;
    }
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, ws.as_str().as_bytes());
    let mut hash = String::with_capacity(SESSION_HASH_HEX);
    for b in &digest.as_ref()[..SESSION_HASH_HEX / 2] {
        use std::fmt::Write as _;
        let _ = write!(hash, "{b:02x}");
    }
    let keep = MAX_SESSION_NAME - head.len() - 1 - SESSION_HASH_HEX;
    // Workspace ids are ASCII: byte and character offsets agree.
    format!("{head}{}.{hash}", &ws.as_str()[..keep])
}

/// When to stop reusing a session issued at `now` that expires at `expires`.
fn refresh_at(now: SystemTime, expires: SystemTime) -> SystemTime {
    let by_expiry = expires.checked_sub(REFRESH_MARGIN).unwrap_or(now);
    by_expiry.min(now + MAX_REUSE)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sts_accepts(name: &str) -> bool {
        (2..=MAX_SESSION_NAME).contains(&name.chars().count())
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c))
    }

    const PURPOSES: [SessionPurpose; 4] = [
        SessionPurpose::Inject,
        SessionPurpose::Admin,
        SessionPurpose::Check,
        SessionPurpose::Verify,
    ];

    #[test]
    fn session_names_are_valid_for_every_workspace_id_length_charset_and_purpose() {
        let alphabet = "abcdefghijklmnopqrstuvwxyz0123456789-";
        for purpose in PURPOSES {
            let head = format!("keybroker-{}.", purpose.as_str());
            for len in 3..=63 {
                for shift in 0..alphabet.len() {
                    // Cycle through the whole charset, starting with a letter or digit.
                    let id: String = "a"
                        .chars()
                        .chain(alphabet.chars().cycle().skip(shift).take(len - 1))
                        .collect();
                    let ws = WorkspaceId::new(id.clone()).unwrap_or_else(|e| panic!("{id}: {e}"));
                    let name = session_name(&ws, purpose);
                    assert!(sts_accepts(&name), "{id} -> {name}");
                    assert!(name.starts_with(&head), "{name}");
                    if len <= MAX_SESSION_NAME - head.len() {
                        assert_eq!(name, format!("{head}{id}"), "short ids keep their name");
                    } else {
                        assert_eq!(name.len(), MAX_SESSION_NAME, "{name}");
                        let keep = MAX_SESSION_NAME - head.len() - 1 - SESSION_HASH_HEX;
                        assert!(
                            name.starts_with(&format!("{head}{}.", &id[..keep])),
                            "{name}"
                        );
                    }
                    assert_eq!(session_name(&ws, purpose), name, "deterministic");
                }
            }
        }
    }

    #[test]
    fn each_purpose_has_its_own_session_name_and_the_function_as_source_identity() {
        let ws = WorkspaceId::new("acme-prod").unwrap();
        let names: std::collections::BTreeSet<String> =
            PURPOSES.iter().map(|p| session_name(&ws, *p)).collect();
        assert_eq!(
            names.into_iter().collect::<Vec<_>>(),
            [
                "keybroker-admin.acme-prod",
                "keybroker-check.acme-prod",
                "keybroker-inject.acme-prod",
                "keybroker-verify.acme-prod",
            ]
        );
        for p in PURPOSES {
            // SourceIdentity has RoleSessionName's syntax and the trust
            // policy's keybroker-* pattern.
            assert!(sts_accepts(p.source_identity()), "{p:?}");
            assert!(p.source_identity().starts_with("keybroker-"));
        }
        assert_eq!(SessionPurpose::Inject.source_identity(), "keybroker-inject");
        assert_eq!(SessionPurpose::Check.source_identity(), "keybroker-admin");
    }

    #[test]
    fn long_workspace_ids_sharing_a_prefix_get_distinct_session_names() {
        let base = "w".repeat(60);
        for purpose in PURPOSES {
            let names: std::collections::BTreeSet<String> = (0..200)
                .map(|i| session_name(&WorkspaceId::new(format!("{base}{i:03}")).unwrap(), purpose))
                .collect();
            assert_eq!(names.len(), 200);
        }
        // The longest inject name that stays unchanged, and the first one shortened.
        let at_limit = WorkspaceId::new("x".repeat(47)).unwrap();
        let name = session_name(&at_limit, SessionPurpose::Inject);
        assert_eq!(name, format!("keybroker-inject.{}", "x".repeat(47)));
        assert_eq!(name.len(), 64);
        let over = WorkspaceId::new("x".repeat(48)).unwrap();
        let name = session_name(&over, SessionPurpose::Inject);
        assert_eq!(name.len(), 64);
        assert_eq!(name.matches('.').count(), 2, "{name}");
    }

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
