//! [`LimitScope`]: which limit refused a request. Its own module, below
//! both `limits` (which decides) and `error` (whose `LimitExceeded` names
//! it), so neither imports the other.

use serde::Serialize;

/// Which limit refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LimitScope {
    /// The whole workspace's count for the window.
    Workspace,
    /// This agent name's count for the window.
    Agent,
    /// The workspace's injections in flight ([`super::scale`], "In flight").
    InFlight,
}

impl LimitScope {
    /// Stable name (error messages, audit records).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Workspace => "workspace",
            Self::Agent => "agent",
            Self::InFlight => "in_flight",
        }
    }

    /// What the limit counts, for the refusal's message.
    pub fn per(self, window_seconds: u32) -> String {
        match self {
            Self::Workspace | Self::Agent => format!("per {window_seconds} s"),
            Self::InFlight => "in flight at once".to_owned(),
        }
    }
}
