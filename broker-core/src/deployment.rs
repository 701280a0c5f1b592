//! Deployment settings: what the operator decides when deploying the broker,
//! read once from the environment at start and never from the table.
//!
//! Everything that widens what the broker may do (plain http, old blob
//! formats, private destinations in the Lambda crate) lives here rather than
//! in a stored item, so that someone who can write the DynamoDB table cannot
//! turn it on. A value that does not parse is an error at start (the function
//! fails to initialise), never a silent default in either direction.

use crate::access::AccessSettings;
use crate::error::{BrokerError, Result};

/// Deployment settings of the broker itself.
#[derive(Debug, Clone)]
pub struct BrokerConfig {
    /// DynamoDB table holding workspaces and secrets.
    pub table: String,
    /// The platform's KMS key, for workspaces without BYOK.
    pub platform_key_arn: String,
    /// Settings of the access check (plain http for local stacks).
    pub access: AccessSettings,
    /// The oldest stored blob format version that opens. Set it to 2 once
    /// every secret was rotated: then a table writer can no longer put back
    /// an old version 1 blob, whose binding is not authenticated, to send
    /// the credential elsewhere (docs/BLOB_FORMAT.md, "Rollback").
    pub min_blob_version: u8,
    /// Injection limits of a workspace whose operator set none
    /// (`set_limits`); `None`: such workspaces are unlimited. A deployment
    /// setting, not a stored item, so that a workspace nobody thought about
    /// is still capped (a looping agent must not find the customer's KMS
    /// quota first), and so that deleting a workspace's limits item from the
    /// table falls back to this cap, not to none (docs/OPERATIONS.md,
    /// "Injection limits").
    pub default_limits: Option<crate::limits::Limits>,
    /// Probe events a secret may see before its breaker quarantines it,
    /// unless the secret has its own budget (`set_probe_budget`;
    /// [`crate::breaker`]). A deployment setting so that a table writer
    /// cannot raise it for every secret at once.
    pub probe_budget: u32,
    /// Injections a workspace may have in flight at once
    /// ([`crate::limits::scale`]); `None`: no bound. A deployment setting:
    /// it protects the other tenants, so no tenant's item may lift it.
    pub in_flight_limit: Option<u32>,
    /// Workspace counter items per window ([`crate::limits::scale`],
    /// "Shards"); 1 is the unsharded format.
    pub counter_shards: crate::limits::scale::CounterShards,
    /// Bounds on every AWS call the broker makes ([`AwsTimeouts`]).
    pub aws_timeouts: AwsTimeouts,
}

/// How long one attempt of an AWS call, and the whole call with the SDK's
/// retries, may take. The SDK sets neither by default, so an endpoint that
/// accepts a connection and never answers would hold a request until the
/// Lambda itself times out; a timeout surfaces as `Unavailable`. The
/// defaults (3 s / 8 s: KMS, STS and DynamoDB answer in milliseconds) fit
/// inside the inject function's 15 s budget; a deployment with another
/// function timeout sets its own (`KEYBROKER_AWS_TIMEOUTS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AwsTimeouts {
    /// One attempt (connect included).
    pub attempt: std::time::Duration,
    /// The whole operation, retries included; at least one attempt.
    pub operation: std::time::Duration,
}

impl Default for AwsTimeouts {
    fn default() -> Self {
        Self {
            attempt: std::time::Duration::from_secs(3),
            operation: std::time::Duration::from_secs(8),
        }
    }
}

impl AwsTimeouts {
    /// Parse `attempt_ms=N,operation_ms=N` (both required, 1 to 60,000,
    /// the attempt at most the operation).
    pub fn parse_setting(text: &str) -> Result<Self> {
        let bad = |why: &str| BrokerError::invalid(BrokerConfig::AWS_TIMEOUTS_VAR, why.to_owned());
        let (mut attempt, mut operation) = (None, None);
        for part in text.split(',') {
            let (k, v) = part
                .trim()
                .split_once('=')
                .ok_or_else(|| bad("expected attempt_ms=N,operation_ms=N"))?;
            let ms = v
                .parse::<u64>()
                .ok()
                .filter(|n| (1..=60_000).contains(n))
                .ok_or_else(|| bad("a timeout must be 1 to 60000 ms"))?;
            let slot = match k {
                "attempt_ms" => &mut attempt,
                "operation_ms" => &mut operation,
                _ => return Err(bad("unknown key (expected attempt_ms, operation_ms)")),
            };
            if slot.replace(std::time::Duration::from_millis(ms)).is_some() {
                return Err(bad("a key is given twice"));
            }
        }
        let (Some(attempt), Some(operation)) = (attempt, operation) else {
            return Err(bad("both attempt_ms and operation_ms are required"));
        };
        if attempt > operation {
            return Err(bad("attempt_ms must be at most operation_ms"));
        }
        Ok(Self { attempt, operation })
    }
}

impl BrokerConfig {
    /// The `KEYBROKER_MIN_BLOB_VERSION` variable ([`BrokerConfig::min_blob_version`]).
    pub const MIN_BLOB_VERSION_VAR: &'static str = "KEYBROKER_MIN_BLOB_VERSION";
    /// The `KEYBROKER_DEFAULT_LIMITS` variable ([`BrokerConfig::default_limits`]):
    /// `off`, or e.g. `window=60,workspace=6000,agent=1200`
    /// ([`crate::limits::Limits::parse_setting`]); unset means
    /// [`crate::limits::Limits::BUILT_IN_DEFAULT`].
    pub const DEFAULT_LIMITS_VAR: &'static str = "KEYBROKER_DEFAULT_LIMITS";
    /// The `KEYBROKER_PROBE_BUDGET` variable ([`BrokerConfig::probe_budget`]):
    /// 1 to 1000; unset means [`crate::breaker::DEFAULT_PROBE_BUDGET`].
    pub const PROBE_BUDGET_VAR: &'static str = "KEYBROKER_PROBE_BUDGET";
    /// The `KEYBROKER_IN_FLIGHT_LIMIT` variable ([`BrokerConfig::in_flight_limit`]):
    /// `off` or 1 to 100,000; unset means
    /// [`crate::limits::scale::DEFAULT_IN_FLIGHT_LIMIT`].
    pub const IN_FLIGHT_LIMIT_VAR: &'static str = "KEYBROKER_IN_FLIGHT_LIMIT";
    /// The `KEYBROKER_COUNTER_SHARDS` variable ([`BrokerConfig::counter_shards`]):
    /// 1 to 64; unset means 1.
    pub const COUNTER_SHARDS_VAR: &'static str = "KEYBROKER_COUNTER_SHARDS";
    /// The `KEYBROKER_AWS_TIMEOUTS` variable ([`BrokerConfig::aws_timeouts`]):
    /// `attempt_ms=N,operation_ms=N`; unset means [`AwsTimeouts::default`].
    pub const AWS_TIMEOUTS_VAR: &'static str = "KEYBROKER_AWS_TIMEOUTS";

    /// A configuration with the defaults: https only, every blob version
    /// opens, the built-in injection limits.
    pub fn new(table: impl Into<String>, platform_key_arn: impl Into<String>) -> Self {
        Self {
            table: table.into(),
            platform_key_arn: platform_key_arn.into(),
            access: AccessSettings::default(),
            min_blob_version: crate::blob::VERSION_1,
            default_limits: Some(crate::limits::Limits::BUILT_IN_DEFAULT),
            probe_budget: crate::breaker::DEFAULT_PROBE_BUDGET,
            in_flight_limit: Some(crate::limits::scale::DEFAULT_IN_FLIGHT_LIMIT),
            counter_shards: crate::limits::scale::CounterShards::ONE,
            aws_timeouts: AwsTimeouts::default(),
        }
    }

    /// Read `KEYBROKER_TABLE` and `KEYBROKER_PLATFORM_KEY_ARN` (required;
    /// `infra/` passes them to the Lambda functions), the access settings
    /// ([`AccessSettings::ALLOW_INSECURE_HTTP_VAR`]), `KEYBROKER_MIN_BLOB_VERSION`
    /// (default 1), `KEYBROKER_DEFAULT_LIMITS` ([`Self::DEFAULT_LIMITS_VAR`]),
    /// `KEYBROKER_PROBE_BUDGET` ([`Self::PROBE_BUDGET_VAR`]),
    /// `KEYBROKER_IN_FLIGHT_LIMIT`, `KEYBROKER_COUNTER_SHARDS` and
    /// `KEYBROKER_AWS_TIMEOUTS` ([`Self::AWS_TIMEOUTS_VAR`]).
    pub fn from_env() -> Result<Self> {
        let var = |name: &'static str| {
            std::env::var(name)
                .map_err(|_| BrokerError::invalid(name, "environment variable is not set"))
        };
        let min_blob_version = match std::env::var(Self::MIN_BLOB_VERSION_VAR) {
            Err(_) => crate::blob::VERSION_1,
            Ok(v) => v
                .parse::<u8>()
                .ok()
                .filter(|n| (crate::blob::VERSION_1..=crate::blob::VERSION).contains(n))
                .ok_or_else(|| {
                    BrokerError::invalid(Self::MIN_BLOB_VERSION_VAR, "must be 1 or 2")
                })?,
        };
        let default_limits = match std::env::var(Self::DEFAULT_LIMITS_VAR) {
            Err(_) => Some(crate::limits::Limits::BUILT_IN_DEFAULT),
            Ok(v) => crate::limits::Limits::parse_setting(&v)
                .map_err(|e| BrokerError::invalid(Self::DEFAULT_LIMITS_VAR, e.to_string()))?,
        };
        let probe_budget = match std::env::var(Self::PROBE_BUDGET_VAR) {
            Err(_) => crate::breaker::DEFAULT_PROBE_BUDGET,
            Ok(v) => crate::breaker::parse_setting(&v)?,
        };
        let in_flight_limit = match std::env::var(Self::IN_FLIGHT_LIMIT_VAR) {
            Err(_) => Some(crate::limits::scale::DEFAULT_IN_FLIGHT_LIMIT),
            Ok(v) => crate::limits::scale::parse_in_flight(&v)?,
        };
        let counter_shards = match std::env::var(Self::COUNTER_SHARDS_VAR) {
            Err(_) => crate::limits::scale::CounterShards::ONE,
            Ok(v) => crate::limits::scale::CounterShards::parse_setting(&v)?,
        };
        let aws_timeouts = match std::env::var(Self::AWS_TIMEOUTS_VAR) {
            Err(_) => AwsTimeouts::default(),
            Ok(v) => AwsTimeouts::parse_setting(&v)?,
        };
        Ok(Self {
            default_limits,
            probe_budget,
            in_flight_limit,
            counter_shards,
            aws_timeouts,
            access: AccessSettings {
                allow_insecure_http: env_flag(AccessSettings::ALLOW_INSECURE_HTTP_VAR)?,
            },
            min_blob_version,
            ..Self::new(var("KEYBROKER_TABLE")?, var("KEYBROKER_PLATFORM_KEY_ARN")?)
        })
    }
}

/// A yes/no deployment setting: `1` or `true` is on; unset, empty, `0` or
/// `false` is off; anything else is an error naming the variable.
pub fn env_flag(name: &'static str) -> Result<bool> {
    match std::env::var(name).as_deref() {
        Err(std::env::VarError::NotPresent) | Ok("") | Ok("0") | Ok("false") => Ok(false),
        Ok("1") | Ok("true") => Ok(true),
        _ => Err(BrokerError::invalid(
            name,
            "must be 1, true, 0, false or unset",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn aws_timeouts_parse_strictly() {
        assert_eq!(
            AwsTimeouts::parse_setting("attempt_ms=300,operation_ms=1000"),
            Ok(AwsTimeouts {
                attempt: Duration::from_millis(300),
                operation: Duration::from_secs(1),
            })
        );
        for bad in [
            "",
            "attempt_ms=300",
            "attempt_ms=300,operation_ms=1000,attempt_ms=1",
            "attempt_ms=0,operation_ms=1000",
            "attempt_ms=300,operation_ms=60001",
            "attempt_ms=2000,operation_ms=1000",
            "attempt_ms=x,operation_ms=1000",
            "retries=3,operation_ms=1000",
        ] {
            assert!(AwsTimeouts::parse_setting(bad).is_err(), "{bad}");
        }
    }
}
