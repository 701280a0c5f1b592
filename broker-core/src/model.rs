//! The records the broker keeps, as callers see them. None of these types
//! holds secret material: they are what `list` returns and what audit and
//! admin responses may print.

use serde::Serialize;

use crate::arn::{KeyArn, Region, RoleArn};
use crate::binding::Binding;
use crate::error::RevokedReason;
use crate::names::{SecretName, WorkspaceId};

/// Whose KMS key protects a secret. Recorded per secret at write time:
/// enabling BYOK does not silently change existing secrets, rotation moves
/// them to the workspace's current mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyMode {
    /// The platform's own KMS key, in the broker's account.
    Platform,
    /// The customer's key, reached by assuming the customer's role.
    Byok,
}

impl KeyMode {
    /// Stable name, as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Platform => "platform",
            Self::Byok => "byok",
        }
    }

    /// Inverse of [`KeyMode::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "platform" => Some(Self::Platform),
            "byok" => Some(Self::Byok),
            _ => None,
        }
    }

    /// The byte the blob header records.
    pub(crate) fn to_byte(self) -> u8 {
        match self {
            Self::Platform => 1,
            Self::Byok => 2,
        }
    }

    /// Inverse of [`KeyMode::to_byte`].
    pub(crate) fn from_byte(b: u8) -> Option<Self> {
        match b {
            1 => Some(Self::Platform),
            2 => Some(Self::Byok),
            _ => None,
        }
    }
}

/// What the broker last saw when it used a secret's key. Written only when
/// it changes, so the warm read path stays one DynamoDB read; lets `list`
/// show the customer which secrets a revocation affected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum SecretStatus {
    /// Last use (or the write) succeeded.
    Active,
    /// Last use failed because the key owner locked the broker out.
    Revoked {
        /// Which link broke.
        reason: RevokedReason,
        /// When it was first seen (Unix seconds).
        since: u64,
    },
}

impl Serialize for RevokedReason {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// One secret as `list` reports it: everything except the blob.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SecretMetadata {
    /// Owning workspace.
    pub workspace: WorkspaceId,
    /// Secret name.
    pub name: SecretName,
    /// Incremented by every rotation; the optimistic-concurrency token.
    pub version: u64,
    /// Whose key protects the current version.
    pub key_mode: KeyMode,
    /// The key the current version's data key is encrypted under.
    pub key_arn: KeyArn,
    /// The customer role the current version was sealed through (BYOK),
    /// and the one its reads assume: switching the workspace's role with
    /// `enable_byok` strands nothing, and revoking this role still revokes
    /// this secret until it is rewrapped. `None` for platform secrets, and
    /// for BYOK secrets written before roles were recorded: those read
    /// through the workspace's current link (see [`SecretMetadata::read_role`]).
    pub role_arn: Option<RoleArn>,
    /// First write (Unix seconds).
    pub created_at: u64,
    /// Last write (Unix seconds).
    pub updated_at: u64,
    /// Last known usability.
    pub status: SecretStatus,
    /// Where the secret may be sent; `None` means it cannot be injected.
    pub binding: Option<Binding>,
}

impl SecretMetadata {
    /// The role a read of this BYOK secret assumes: the one recorded with
    /// it, or (an item written before roles were recorded) the workspace's
    /// current link's. `None`: no role can be found (no link either).
    pub fn read_role<'a>(&'a self, settings: Option<&'a WorkspaceSettings>) -> Option<&'a RoleArn> {
        self.role_arn
            .as_ref()
            .or_else(|| settings.and_then(WorkspaceSettings::role_arn))
    }
}

/// The customer's side of BYOK: the role the broker assumes and the key it
/// uses through that role. All three parts are validated together, so a
/// link is either complete or absent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ByokLink {
    /// Customer role the broker assumes (with the workspace's external id).
    pub role: RoleArn,
    /// Customer key new secrets are sealed under while BYOK is enabled.
    pub key: KeyArn,
    /// Region of the customer key.
    pub region: Region,
}

/// A workspace's BYOK state: the states the broker can actually be in.
/// `disable_byok` keeps the link (secrets already under the customer key
/// still need the role to be read until rotated), so "configured but
/// disabled" is a state of its own, and "enabled without a link" is not
/// representable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Byok {
    /// Never configured: every secret uses the platform key.
    Off,
    /// A link was verified and stored.
    Configured {
        /// The customer role and key.
        link: ByokLink,
        /// Whether new and rotated secrets use it (`false` after
        /// `disable_byok`: reads of BYOK secrets still use the link).
        enabled: bool,
    },
}

/// Why a stored BYOK combination is not a [`Byok`] state. The store codec
/// turns it into a `Storage` error naming the attribute: a workspace the
/// broker cannot classify is refused, never read as "BYOK off".
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ByokStateError {
    /// BYOK is enabled, or part of the link is stored, but this part is missing.
    #[error("{0} missing")]
    Missing(&'static str),
    /// This part does not parse as what it should be.
    #[error("{0} invalid")]
    Invalid(&'static str),
}

impl ByokStateError {
    /// The stored attribute at fault.
    pub fn attribute(self) -> &'static str {
        match self {
            Self::Missing(a) | Self::Invalid(a) => a,
        }
    }
}

impl Byok {
    /// Classify the stored attributes: `enabled` with no parts is [`Byok::Off`]
    /// only when `enabled` is false; with all three parts valid it is
    /// [`Byok::Configured`]; anything else (a partial link, an invalid ARN
    /// or region, enabled without a link) is an error naming the part.
    pub fn from_stored(
        enabled: bool,
        role: Option<&str>,
        key: Option<&str>,
        region: Option<&str>,
    ) -> std::result::Result<Self, ByokStateError> {
        if !enabled && role.is_none() && key.is_none() && region.is_none() {
            return Ok(Self::Off);
        }
        let role = role.ok_or(ByokStateError::Missing("role_arn"))?;
        let key = key.ok_or(ByokStateError::Missing("key_arn"))?;
        let region = region.ok_or(ByokStateError::Missing("region"))?;
        let link = ByokLink {
            role: RoleArn::parse(role).map_err(|_| ByokStateError::Invalid("role_arn"))?,
            key: KeyArn::parse(key).map_err(|_| ByokStateError::Invalid("key_arn"))?,
            region: Region::parse(region).map_err(|_| ByokStateError::Invalid("region"))?,
        };
        Ok(Self::Configured { link, enabled })
    }

    /// The link, whether or not it is enabled: what reads of BYOK secrets use.
    pub fn link(&self) -> Option<&ByokLink> {
        match self {
            Self::Off => None,
            Self::Configured { link, .. } => Some(link),
        }
    }

    /// The link only while enabled: what new and rotated secrets use.
    pub fn enabled_link(&self) -> Option<&ByokLink> {
        match self {
            Self::Configured {
                link,
                enabled: true,
            } => Some(link),
            _ => None,
        }
    }
}

/// A workspace's BYOK configuration. The external id is generated by the
/// broker (AWS's confused-deputy guidance: the vendor picks it, one per
/// customer) and is not a secret: the customer puts it in their trust policy.
///
/// Serialises flat, as admin responses always have: `workspace`,
/// `external_id`, `byok_enabled`, `role_arn`, `key_arn`, `region` (the last
/// three `null` when off), `updated_at`, `policy`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkspaceSettings {
    /// The workspace.
    pub workspace: WorkspaceId,
    /// Broker-generated `sts:ExternalId` for this workspace.
    pub external_id: String,
    /// BYOK state.
    pub byok: Byok,
    /// Last change (Unix seconds).
    pub updated_at: u64,
    /// The workspace's access policy (Cedar text, validated by
    /// `Broker::set_policy`, evaluated by the access check). `None`: no
    /// agent may use any secret.
    pub policy: Option<String>,
}

impl WorkspaceSettings {
    /// Whether new and rotated secrets use the customer's key.
    pub fn byok_enabled(&self) -> bool {
        self.byok.enabled_link().is_some()
    }

    /// Customer role (set once BYOK was enabled, kept when disabled).
    pub fn role_arn(&self) -> Option<&RoleArn> {
        self.byok.link().map(|l| &l.role)
    }

    /// Customer key (set once BYOK was enabled, kept when disabled).
    pub fn key_arn(&self) -> Option<&KeyArn> {
        self.byok.link().map(|l| &l.key)
    }

    /// Region of the customer key.
    pub fn region(&self) -> Option<&Region> {
        self.byok.link().map(|l| &l.region)
    }
}

impl Serialize for WorkspaceSettings {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Flat<'a> {
            workspace: &'a WorkspaceId,
            external_id: &'a str,
            byok_enabled: bool,
            role_arn: Option<&'a RoleArn>,
            key_arn: Option<&'a KeyArn>,
            region: Option<&'a Region>,
            updated_at: u64,
            policy: Option<&'a str>,
        }
        Flat {
            workspace: &self.workspace,
            external_id: &self.external_id,
            byok_enabled: self.byok_enabled(),
            role_arn: self.role_arn(),
            key_arn: self.key_arn(),
            region: self.region(),
            updated_at: self.updated_at,
            policy: self.policy.as_deref(),
        }
        .serialize(s)
    }
}

/// Current Unix time in seconds.
pub(crate) fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests;
