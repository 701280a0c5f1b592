//! The result of the read path's one DynamoDB read, handed from the broker
//! to the access check and back. Its own module so that neither `broker`
//! nor `access` has to import the other's internals (the check reads it;
//! only the broker decrypts it).

use crate::model::{SecretMetadata, WorkspaceSettings};
use crate::names::{SecretName, WorkspaceId};
use crate::store::SecretRecord;

/// A secret's record and its workspace's settings, loaded but not
/// decrypted: what binding and policy checks look at.
#[derive(Debug)]
pub struct LoadedSecret {
    pub(crate) ws: WorkspaceId,
    pub(crate) name: SecretName,
    pub(crate) rec: SecretRecord,
    pub(crate) settings: Option<WorkspaceSettings>,
    /// The workspace's limits item (`set_limits`) as read in the same call
    /// (`store::counters`): none, readable, or unreadable.
    pub(crate) limits: crate::limits::StoredLimits,
    /// The secret's probe breaker (`store::breaker`), read in the same
    /// call; the default when it has none.
    pub(crate) breaker: crate::breaker::BreakerState,
    /// The `oauth2` kind's state item (cached access token, lease), read
    /// in the same call.
    pub(crate) oauth2: Option<crate::store::oauth2::OAuth2State>,
}

impl LoadedSecret {
    /// The stored metadata, including the binding.
    pub fn metadata(&self) -> &SecretMetadata {
        &self.rec.meta
    }

    /// The secret's probe breaker as loaded.
    pub fn breaker(&self) -> &crate::breaker::BreakerState {
        &self.breaker
    }

    /// Whether the workspace's limits item was unreadable, so the
    /// deployment default applied in its place (for audit records).
    pub fn limits_unreadable(&self) -> bool {
        self.limits == crate::limits::StoredLimits::Unreadable
    }

    /// The workspace's policy text, if any.
    pub fn policy(&self) -> Option<&str> {
        self.settings.as_ref().and_then(|s| s.policy.as_deref())
    }
}
