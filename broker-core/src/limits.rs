//! Injection rate limits: what they are and their arithmetic, no I/O.
//!
//! Why they exist: every injection is one `kms:Decrypt` on the key that
//! protects the secret, in the customer's account for BYOK. KMS request
//! quotas are per account and region and shared with the customer's own
//! workloads (10,000 symmetric requests/s by default), and each request is
//! billed. A looping agent must hit a keybroker limit first.
//!
//! The limits are **fixed windows**: at most `workspace` injections per
//! window for the whole workspace, and at most `agent` per window for each
//! agent name. A window is `window_seconds` long and starts at a fixed
//! **anchor**: the time `set_limits` stored the workspace's limits (the
//! limits item's `window_anchor_ms`), or the Unix epoch for the deployment
//! default and for items stored before anchors were. Every sandbox computes
//! the same window from its clock and the item it read, without talking to
//! the others, and an operator who has just set limits is at the start of a
//! full window (so are the tests: none waits for a wall-clock boundary).
//! Each window has its own counter items in the table
//! (`store::counters`), keyed by the window's index: a new window starts
//! at zero with no reset step, and an increment is one conditional `ADD`.
//! A token bucket would need the refill `(now - last) * rate`, which a
//! DynamoDB update expression cannot compute (it has `+` and `-` only), so
//! it would cost a read before the write, or optimistic retries under load.
//! The price of fixed windows: up to twice the limit can pass around a
//! window boundary (the end of one window, then the start of the next).
//!
//! The per-workspace limit is the real cap. The agent name is asserted by
//! the agent runtime that invokes `inject`, not proven, so a caller that
//! loops can also pick a new name per request; per-agent limits keep one
//! well-behaved runtime's runaway agent from starving its siblings, a
//! fairness tool, not a security boundary.

use serde::{Deserialize, Serialize};

use crate::error::{BrokerError, Result};

pub mod scale;
pub(crate) mod scope;

pub use scope::LimitScope;

/// Longest window: one hour. Longer windows make a limit's retry advice
/// useless to an agent ("come back tomorrow") and keep counters longer.
pub const MAX_WINDOW_SECONDS: u32 = 3600;

/// Largest settable count per window. One counter item takes every counted
/// injection of its window, and DynamoDB serves about 1,000 write units per
/// second per partition; far beyond that, DynamoDB throttles first (which
/// also refuses before `kms:Decrypt`). The cap only keeps the arithmetic
/// away from overflow and typos (an extra zero) from meaning "unlimited".
pub const MAX_PER_WINDOW: u64 = 100_000_000;

/// A workspace's injection limits, set by the operator (`set_limits`) or
/// the deployment's default ([`crate::BrokerConfig::default_limits`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Window length in seconds, 1 to [`MAX_WINDOW_SECONDS`].
    pub window_seconds: u32,
    /// Injections per window for the workspace; `None`: no workspace cap.
    /// 0 refuses every injection (an emergency stop).
    #[serde(default)]
    pub workspace: Option<u64>,
    /// Injections per window for each agent name; `None`: no agent cap.
    #[serde(default)]
    pub agent: Option<u64>,
}

impl Limits {
    /// The limits a deployment applies when `KEYBROKER_DEFAULT_LIMITS` is
    /// unset: 6,000 injections a minute per workspace (100/s, 1% of KMS's
    /// smallest regional default quota of 10,000/s; about $26 a day of KMS
    /// requests if the workspace's agents loop flat out all day). No
    /// per-agent limit by default: the workspace limit is the cap that
    /// protects the customer, and each limit costs one DynamoDB update per
    /// injection (`store::counters`), so the fairness tool is opt-in.
    pub const BUILT_IN_DEFAULT: Self = Self {
        window_seconds: 60,
        workspace: Some(6_000),
        agent: None,
    };

    /// Refuse what cannot be enforced: a window outside 1..=3600 s, a count
    /// above [`MAX_PER_WINDOW`], and limits with no count at all. "No
    /// limit" is not a workspace setting: a stored item that said so would
    /// be indistinguishable from one planted to lift the deployment default
    /// (docs/THREAT_MODEL.md). A workspace that needs more sets
    /// [`MAX_PER_WINDOW`]; `off` is the deployment's choice alone.
    pub fn validate(self) -> Result<Self> {
        if self.workspace.is_none() && self.agent.is_none() {
            return Err(BrokerError::invalid(
                "limits",
                format!(
                    "set a workspace or an agent count (at most {MAX_PER_WINDOW} per window); \
                     clearing the limits returns to the deployment default"
                ),
            ));
        }
        if !(1..=MAX_WINDOW_SECONDS).contains(&self.window_seconds) {
            return Err(BrokerError::invalid(
                "limits",
                format!("window_seconds must be 1 to {MAX_WINDOW_SECONDS}"),
            ));
        }
        for (what, n) in [("workspace", self.workspace), ("agent", self.agent)] {
            if n.is_some_and(|n| n > MAX_PER_WINDOW) {
                return Err(BrokerError::invalid(
                    "limits",
                    format!("{what} must be at most {MAX_PER_WINDOW} per window"),
                ));
            }
        }
        Ok(self)
    }

    /// Parse a deployment setting: `off`, or comma-separated
    /// `window=SECONDS`, `workspace=N|none`, `agent=N|none` (each at most
    /// once; `window` required), e.g. `window=60,workspace=6000,agent=1200`.
    /// Both counts `none` is `off`, as it always meant.
    pub fn parse_setting(text: &str) -> Result<Option<Self>> {
        let bad = |why: &str| BrokerError::invalid("limits", why.to_owned());
        if text.trim() == "off" {
            return Ok(None);
        }
        let (mut window, mut workspace, mut agent) = (None, None, None);
        for part in text.split(',') {
            let (k, v) = part
                .trim()
                .split_once('=')
                .ok_or_else(|| bad("expected key=value pairs or off"))?;
            let count = |v: &str| match v {
                "none" => Ok(None),
                n => n
                    .parse::<u64>()
                    .map(Some)
                    .map_err(|_| bad("a count must be a whole number or none")),
            };
            let slot_filled = match k {
                "window" => window
                    .replace(
                        v.parse::<u32>()
                            .map_err(|_| bad("window must be a whole number of seconds"))?,
                    )
                    .is_some(),
                "workspace" => workspace.replace(count(v)?).is_some(),
                "agent" => agent.replace(count(v)?).is_some(),
                _ => return Err(bad("unknown key (expected window, workspace, agent)")),
            };
            if slot_filled {
                return Err(bad("a key is given twice"));
            }
        }
        let limits = Self {
            window_seconds: window.ok_or_else(|| bad("window is required"))?,
            workspace: workspace.flatten(),
            agent: agent.flatten(),
        };
        if limits.workspace.is_none() && limits.agent.is_none() {
            return Ok(None);
        }
        limits.validate().map(Some)
    }

    /// The window `now_ms` falls in, windows starting at `anchor_ms` (0:
    /// the epoch).
    pub fn window_at(self, anchor_ms: u64, now_ms: u64) -> Window {
        Window::anchored(now_ms, self.window_seconds, anchor_ms)
    }
}

/// What a workspace's limits item says, as read with the secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StoredLimits {
    /// No item: the deployment default applies.
    #[default]
    Unset,
    /// The operator's limits (`set_limits`), and the anchor their windows
    /// start from (Unix ms; 0, the epoch, for an item stored before
    /// anchors were).
    Set(Limits, u64),
    /// An item that does not parse to anything `set_limits` could have
    /// stored (no count, a count as text, a zero window, an unknown
    /// attribute): planted or corrupted. The deployment default applies,
    /// never "no limit", and the read is logged.
    Unreadable,
}

impl StoredLimits {
    /// The limits injections count against, given the deployment's
    /// `default` (`None`: `off`). An unreadable item gets the default, or
    /// [`Limits::BUILT_IN_DEFAULT`] under `off`: whatever a planted item
    /// says, it never means unlimited.
    pub fn effective(self, default: Option<Limits>) -> Option<Limits> {
        match self {
            Self::Set(l, _) => Some(l),
            Self::Unset => default,
            Self::Unreadable => Some(default.unwrap_or(Limits::BUILT_IN_DEFAULT)),
        }
    }

    /// The operator's own limits, if the item holds readable ones.
    pub fn own(self) -> Option<Limits> {
        match self {
            Self::Set(l, _) => Some(l),
            Self::Unset | Self::Unreadable => None,
        }
    }

    /// Where the effective limits' windows start (Unix ms): the item's
    /// anchor for the operator's own limits, the epoch for the deployment
    /// default (no item, or an unreadable one).
    pub fn anchor_ms(self) -> u64 {
        match self {
            Self::Set(_, anchor) => anchor,
            Self::Unset | Self::Unreadable => 0,
        }
    }
}

/// One fixed window: its index, its length and where windows of this
/// length start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// `(now - offset) / length`: the same number in every sandbox whose
    /// clock agrees to within the window.
    pub index: u64,
    /// Length in seconds.
    pub seconds: u32,
    /// Where windows start, in ms past each epoch-aligned boundary: the
    /// anchor modulo the length (0 for epoch-aligned windows). Windows with
    /// the same length and offset are the same spans of time, whatever
    /// anchor they came from.
    pub offset_ms: u64,
}

impl Window {
    /// The epoch-aligned window containing `now_ms` (Unix milliseconds). A
    /// zero length is treated as one second (validated limits never have it).
    pub fn at(now_ms: u64, seconds: u32) -> Self {
        Self::anchored(now_ms, seconds, 0)
    }

    /// The window containing `now_ms` when windows start at `anchor_ms`
    /// (and every length after it; before it too, so a clock behind the
    /// anchor still lands in a window of its own).
    pub fn anchored(now_ms: u64, seconds: u32, anchor_ms: u64) -> Self {
        let seconds = seconds.max(1);
        let length_ms = u64::from(seconds) * 1000;
        let offset_ms = anchor_ms % length_ms;
        Self {
            index: now_ms.saturating_sub(offset_ms) / length_ms,
            seconds,
            offset_ms,
        }
    }

    fn length_ms(self) -> u64 {
        u64::from(self.seconds) * 1000
    }

    /// Unix milliseconds at which the next window starts (saturating).
    pub fn end_ms(self) -> u64 {
        self.index
            .saturating_add(1)
            .saturating_mul(self.length_ms())
            .saturating_add(self.offset_ms)
    }

    /// How long a refused caller should wait: until the next window, at
    /// least 1 ms and at most one window. A clock behind this window's
    /// start (another sandbox's clock, or ours stepped back) still gets at
    /// most one window, never a wait longer than the limit implies.
    pub fn retry_after_ms(self, now_ms: u64) -> u64 {
        self.end_ms()
            .saturating_sub(now_ms)
            .clamp(1, self.length_ms())
    }

    /// When DynamoDB may delete the window's counters (TTL, Unix seconds):
    /// one window after it ends, so a sandbox whose clock runs a little
    /// behind still finds the count, and a minute more for TTL granularity.
    pub fn expires_at(self) -> u64 {
        (self.end_ms() / 1000)
            .saturating_add(u64::from(self.seconds))
            .saturating_add(60)
    }
}

/// What the arithmetic decided before any AWS call, for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precheck {
    /// No limit applies: no counter, no AWS call.
    Unlimited,
    /// A limit of 0 applies: refuse without counting.
    Refuse(LimitScope),
    /// Count against these limits in this window.
    Count {
        /// The window.
        window: Window,
        /// Workspace limit, if any.
        workspace: Option<u64>,
        /// Agent limit, if any.
        agent: Option<u64>,
    },
}

/// Decide what a request under `limits` (windows from `anchor_ms`) needs
/// at `now_ms`.
pub fn precheck(limits: Option<Limits>, anchor_ms: u64, now_ms: u64) -> Precheck {
    let Some(l) = limits else {
        return Precheck::Unlimited;
    };
    match (l.workspace, l.agent) {
        (None, None) => Precheck::Unlimited,
        (Some(0), _) => Precheck::Refuse(LimitScope::Workspace),
        (_, Some(0)) => Precheck::Refuse(LimitScope::Agent),
        (workspace, agent) => Precheck::Count {
            window: l.window_at(anchor_ms, now_ms),
            workspace,
            agent,
        },
    }
}

/// The refusal of a request over a limit (windows from `anchor_ms`), as
/// the library reports it.
pub fn exceeded(scope: LimitScope, limits: Limits, anchor_ms: u64, now_ms: u64) -> BrokerError {
    let limit = match scope {
        LimitScope::Workspace => limits.workspace,
        LimitScope::Agent => limits.agent,
        LimitScope::InFlight => None,
    }
    .unwrap_or(0);
    BrokerError::LimitExceeded {
        scope,
        limit,
        window_seconds: limits.window_seconds,
        retry_after_ms: limits.window_at(anchor_ms, now_ms).retry_after_ms(now_ms),
    }
}

/// Unix time in milliseconds; 0 before the epoch (a broken clock then
/// lands in window 0, whose counters are long gone: it counts afresh,
/// never panics).
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests;
