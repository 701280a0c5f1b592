//! [`SessionPurpose`]: why the broker assumes a customer's role. Its own
//! module, below both `assume_role` (which names sessions by it) and
//! `kms_use` (whose record carries it), so neither imports the other.

use serde::Serialize;

/// Why the broker assumes a customer's role: named in the session's
/// `RoleSessionName`, so the customer's CloudTrail tells an agent's
/// injection from a health check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionPurpose {
    /// The `inject` function decrypting a secret for an agent's request.
    Inject,
    /// Operator work in the `admin` function: put, rotate, rewrap, reads
    /// for operators.
    Admin,
    /// `check_workspace` / the scheduled `check_all_workspaces` probe.
    Check,
    /// The BYOK canary round trip (`enable_byok`, `verify_byok`).
    Verify,
}

impl SessionPurpose {
    /// The purpose as it appears in session names.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Inject => "inject",
            Self::Admin => "admin",
            Self::Check => "check",
            Self::Verify => "verify",
        }
    }

    /// The session's `SourceIdentity`: the function that makes calls for
    /// this purpose (`inject` decrypts for agents; everything else runs in
    /// `admin`). The customer's trust policy requires `keybroker-*`.
    pub fn source_identity(self) -> &'static str {
        match self {
            Self::Inject => "keybroker-inject",
            Self::Admin | Self::Check | Self::Verify => "keybroker-admin",
        }
    }
}
