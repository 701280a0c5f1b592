//! `rewrap`: move every secret of a workspace to the workspace's current
//! key (platform ↔ BYOK, customer key A → key B, an older platform key
//! generation → the configured one), one bounded page per call.
//!
//! - **Resumable and idempotent.** A page ends with the name to resume
//!   after; a secret already on the current key (and, BYOK, recorded with
//!   the current role) is skipped, so a rerun from the start only finishes
//!   what is left.
//! - **Never loses a rotation.** Each move is a new version written on
//!   condition of the version read ([`Broker::reseal`], shared with
//!   rotation); a concurrent writer makes it a `Conflict`, reported per
//!   secret, and a rerun moves the rotated version.
//! - **One plaintext at a time.** Secrets are opened, resealed and dropped
//!   (zeroized) one after the other.
//! - **Leaving the customer's key is explicit.** Moving a BYOK secret to the
//!   platform key takes it out of the customer's revocation reach, so a page
//!   that would do so is refused unless the request allows it.

use serde::Serialize;

use super::byok::WriteKey;
use super::Broker;
use crate::arn::{KeyArn, RoleArn};
use crate::assume_role::SessionPurpose;
use crate::error::{BrokerError, Result};
use crate::model::{KeyMode, SecretMetadata};
use crate::names::{SecretName, WorkspaceId};

/// Secrets per page unless the request says otherwise.
pub const DEFAULT_PAGE_LIMIT: u32 = 25;
/// Largest page a request may ask for: a page must fit one Lambda
/// invocation (each move is about four AWS calls).
pub const MAX_PAGE_LIMIT: u32 = 200;

/// One `rewrap` call.
#[derive(Debug, Clone, Default)]
pub struct RewrapRequest {
    /// Resume after this secret (the previous page's `next`).
    pub after: Option<SecretName>,
    /// Secrets to look at in this page (default [`DEFAULT_PAGE_LIMIT`]).
    pub limit: Option<u32>,
    /// Allow moving secrets from the customer's key to the platform key.
    pub allow_leaving_customer_key: bool,
}

/// The key a workspace's secrets are moved to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyTarget {
    /// Platform or the customer's key.
    pub key_mode: KeyMode,
    /// The key.
    pub key_arn: KeyArn,
    /// The customer role (BYOK).
    pub role_arn: Option<RoleArn>,
}

/// A secret an operation could not handle, and why (names and typed
/// errors only, never a value).
#[derive(Debug, Clone)]
pub struct SecretFailure {
    /// The secret, as its item's sort key names it.
    pub secret: String,
    /// What went wrong; `Conflict` means a concurrent write won (rerun).
    pub error: BrokerError,
}

/// What one `rewrap` page did.
#[derive(Debug, Clone)]
pub struct RewrapPage {
    /// Where the secrets now are.
    pub target: KeyTarget,
    /// Secrets moved to the target (a new version each).
    pub moved: Vec<SecretName>,
    /// Of those, the ones moved out of the customer's key to the platform's.
    pub left_customer_key: Vec<SecretName>,
    /// Secrets already on the target.
    pub skipped: u64,
    /// Secrets not moved, with the reason.
    pub failed: Vec<SecretFailure>,
    /// Resume after this secret; `None` when this was the last page.
    pub next: Option<SecretName>,
}

impl KeyTarget {
    fn of(key: &WriteKey) -> Self {
        Self {
            key_mode: key.mode,
            key_arn: key.key_arn.clone(),
            role_arn: key.role.clone(),
        }
    }

    /// Whether `meta` is sealed exactly as a move would seal it. A BYOK
    /// item from before roles were recorded is not: moving records its role.
    fn holds(&self, meta: &SecretMetadata) -> bool {
        meta.key_mode == self.key_mode
            && meta.key_arn == self.key_arn
            && meta.role_arn == self.role_arn
    }
}

impl Broker {
    /// Move one page of `ws`'s secrets to its current key (see the module
    /// docs). `InvalidInput` (nothing written in the page) if the page
    /// would move a BYOK secret to the platform key without
    /// `allow_leaving_customer_key`.
    pub async fn rewrap(&self, ws: &WorkspaceId, req: &RewrapRequest) -> Result<RewrapPage> {
        let limit = req.limit.unwrap_or(DEFAULT_PAGE_LIMIT);
        if !(1..=MAX_PAGE_LIMIT).contains(&limit) {
            return Err(BrokerError::invalid(
                "limit",
                format!("must be 1 to {MAX_PAGE_LIMIT}"),
            ));
        }
        // A workspace that never had settings is all platform secrets.
        let settings = self.store.get_workspace(ws).await?;
        let key = self.write_key(ws, settings.as_ref()).await?;
        let target = KeyTarget::of(&key);
        let page = self
            .store
            .secrets_page(ws, req.after.as_ref(), limit)
            .await?;
        let to_platform = target.key_mode == KeyMode::Platform;
        let leaving = |m: &SecretMetadata| m.key_mode == KeyMode::Byok && to_platform;
        if !req.allow_leaving_customer_key {
            if let Some(m) = page
                .items
                .iter()
                .filter_map(|(_, r)| r.as_ref().ok())
                .map(|r| &r.meta)
                .find(|m| leaving(m))
            {
                return Err(BrokerError::invalid(
                    "allow_leaving_customer_key",
                    format!(
                        "secret {:?} is under the customer's key and the workspace's current key is the platform's: moving it takes it out of the customer's revocation reach; set allow_leaving_customer_key to do so",
                        m.name.as_str()
                    ),
                ));
            }
        }
        let mut out = RewrapPage {
            target,
            moved: Vec::new(),
            left_customer_key: Vec::new(),
            skipped: 0,
            failed: Vec::new(),
            next: page.next,
        };
        for (secret, rec) in page.items {
            let rec = match rec {
                Ok(rec) => rec,
                Err(error) => {
                    out.failed.push(SecretFailure { secret, error });
                    continue;
                }
            };
            if out.target.holds(&rec.meta) {
                out.skipped += 1;
                continue;
            }
            // One plaintext at a time: opened, resealed, dropped (zeroized)
            // before the next secret is opened.
            let opened = self
                .open(
                    ws,
                    &rec.meta.name,
                    &rec,
                    settings.as_ref(),
                    SessionPurpose::Admin,
                )
                .await;
            let moved = match opened {
                Ok(current) => self.reseal(&rec, &key, &current).await,
                Err(e) => Err(e),
            };
            match moved {
                Ok(meta) => {
                    if leaving(&rec.meta) {
                        out.left_customer_key.push(meta.name.clone());
                    }
                    tracing::info!(workspace = %ws, secret = %meta.name, version = meta.version, key_mode = meta.key_mode.as_str(), "secret rewrapped");
                    out.moved.push(meta.name);
                }
                Err(error) => out.failed.push(SecretFailure { secret, error }),
            }
        }
        Ok(out)
    }
}
