//! The broker: the one type callers hold, its AWS clients, and the
//! operations that need no key (policy, list, delete). The keyed operations
//! live beside it by concern: [`byok`] (workspace settings and which KMS
//! client a secret needs), [`write`](mod@write) (put and rotate), [`read`] (load,
//! access check, decrypt, status recording) and [`verify`] (the BYOK
//! canary round trip, which knows nothing of `Broker`).

pub(crate) mod admit;
pub(crate) mod breaker;
pub(crate) mod byok;
pub(crate) mod catalog;
pub(crate) mod check;
pub(crate) mod oauth2;
pub(crate) mod oauth2_connect;
pub(crate) mod read;
pub(crate) mod rewrap;
pub(crate) mod verify;
pub(crate) mod write;

use std::sync::Arc;

use aws_config::SdkConfig;

use crate::access::Gate;
use crate::arn::KeyArn;
use crate::assume_role::RoleSessions;
use crate::call_count::{AwsCalls, CallCounts, CountCalls, Counter};
use crate::deployment::BrokerConfig;
use crate::error::{BrokerError, Result};
use crate::model::SecretMetadata;
use crate::names::{SecretName, WorkspaceId};
use crate::store::Store;

/// The broker: AWS clients built once, shared by all calls.
///
/// Cheap to share behind an `Arc`; every method takes `&self`.
pub struct Broker {
    store: Store,
    platform_kms: aws_sdk_kms::Client,
    platform_key: KeyArn,
    sessions: RoleSessions,
    calls: Arc<CallCounts>,
    gate: Gate,
    min_blob_version: u8,
    default_limits: Option<crate::limits::Limits>,
    probe_budget: u32,
    in_flight_limit: Option<u32>,
    counter_shards: crate::limits::scale::CounterShards,
    oauth2: crate::oauth2::OAuth2Settings,
}

impl std::fmt::Debug for Broker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Broker")
            .field("platform_key", &self.platform_key.as_str())
            .finish_non_exhaustive()
    }
}

impl Broker {
    /// Build the clients from a loaded AWS config (endpoint overrides such as
    /// `AWS_ENDPOINT_URL` carry over, which is how tests reach the local stack).
    pub fn new(sdk: &SdkConfig, config: BrokerConfig) -> Result<Self> {
        let platform_key = KeyArn::parse(&config.platform_key_arn)?;
        let calls = Arc::new(CallCounts::default());
        let counter = |c| CountCalls::new(calls.clone(), c);
        let kms_base = aws_sdk_kms::config::Builder::from(sdk)
            .interceptor(counter(Counter::Kms))
            .timeout_config(aws_timeouts(config.aws_timeouts))
            .build();
        let sts = aws_sdk_sts::Client::from_conf(
            aws_sdk_sts::config::Builder::from(sdk)
                .interceptor(counter(Counter::Sts))
                .timeout_config(aws_timeouts(config.aws_timeouts))
                .build(),
        );
        let ddb = aws_sdk_dynamodb::Client::from_conf(
            aws_sdk_dynamodb::config::Builder::from(sdk)
                .interceptor(counter(Counter::DynamoDb))
                .timeout_config(aws_timeouts(config.aws_timeouts))
                .build(),
        );
        Ok(Self {
            store: Store::new(ddb, config.table),
            platform_kms: aws_sdk_kms::Client::from_conf(kms_base.clone()),
            platform_key,
            sessions: RoleSessions::new(sts, kms_base),
            calls,
            gate: Gate::new(config.access),
            min_blob_version: config.min_blob_version,
            default_limits: config.default_limits,
            probe_budget: crate::breaker::validate_budget(
                config.probe_budget,
                BrokerConfig::PROBE_BUDGET_VAR,
            )?,
            in_flight_limit: config.in_flight_limit,
            counter_shards: config.counter_shards,
            oauth2: crate::oauth2::OAuth2Settings::default(),
        })
    }

    /// Open the connections the first request needs (DynamoDB, KMS) now:
    /// on Lambda, a cold sandbox otherwise spends most of its first request
    /// in TLS handshakes. Call it during init; failures are logged and
    /// otherwise ignored (the request path reports real errors).
    pub async fn warm_up(&self) {
        let (ddb, kms) = tokio::join!(
            self.store.warm_up(),
            self.platform_kms
                .describe_key()
                .key_id(self.platform_key.as_str())
                .send()
        );
        if let Err(e) = ddb {
            tracing::debug!(error = %e, "DynamoDB warm-up failed");
        }
        if let Err(e) = kms {
            let e = crate::aws_error::classify(crate::aws_error::Service::Kms, None, &e);
            tracing::debug!(error = %e, "KMS warm-up failed");
        }
    }

    /// Hand every KMS call made with a customer's role (and its KMS request
    /// id) to `sink` ([`crate::kms_use`]): the broker's side of what the
    /// customer's CloudTrail shows. Set it before the first BYOK call;
    /// sessions assumed earlier are not recorded.
    #[must_use]
    pub fn with_kms_use_sink(mut self, sink: crate::kms_use::KmsUseSink) -> Self {
        self.sessions.set_sink(sink);
        self
    }

    /// Refresh timing of `oauth2` secrets (lease, wait, margin): a
    /// deployment setting the functions read from `KEYBROKER_OAUTH2_*`.
    #[must_use]
    pub fn with_oauth2_settings(mut self, settings: crate::oauth2::OAuth2Settings) -> Self {
        self.oauth2 = settings;
        self
    }

    /// AWS calls made so far by this broker's clients.
    pub fn aws_calls(&self) -> AwsCalls {
        self.calls.snapshot()
    }

    /// Replace the workspace's access policy (Cedar text). Refused with
    /// `InvalidInput` unless it parses and validates against the shipped
    /// schema (`access::policy::SCHEMA`): the library refuses what the check
    /// could not use. Creates the workspace if needed.
    pub async fn set_policy(&self, ws: &WorkspaceId, policy: &str) -> Result<()> {
        crate::access::policy::parse(policy).map_err(|why| BrokerError::invalid("policy", why))?;
        self.prepare_byok(ws).await?;
        self.store.set_policy(ws, policy).await
    }

    /// Metadata of every secret in the workspace, blobs excluded.
    pub async fn list_secrets(&self, ws: &WorkspaceId) -> Result<Vec<SecretMetadata>> {
        self.store.list_secrets(ws).await
    }

    /// Delete a secret; `NotFound` if absent. Its probe breaker goes with
    /// it (after the secret, so a quarantined secret is never usable in
    /// between); if that second delete fails, the orphaned breaker would
    /// quarantine a new secret of the same name, the safe direction, and is
    /// logged.
    pub async fn delete_secret(&self, ws: &WorkspaceId, name: &SecretName) -> Result<()> {
        self.store.delete_secret(ws, name).await?;
        tracing::info!(workspace = %ws, secret = %name, "secret deleted");
        if let Err(e) = self.store.delete_oauth2(ws, name).await {
            tracing::warn!(workspace = %ws, secret = %name, error = %e, "could not delete the secret's oauth2 state; a new secret of the same name ignores it (older version)");
        }
        if let Err(e) = self.store.delete_breaker(ws, name).await {
            tracing::warn!(workspace = %ws, secret = %name, error = %e, "could not delete the secret's probe breaker; clear_breaker clears it");
        }
        Ok(())
    }
}

/// Bounds on every AWS call ([`crate::deployment::AwsTimeouts`]): connect
/// within 2 s (or the attempt's bound, if shorter), each attempt and the
/// whole operation as the deployment says.
fn aws_timeouts(t: crate::deployment::AwsTimeouts) -> aws_smithy_types::timeout::TimeoutConfig {
    aws_smithy_types::timeout::TimeoutConfig::builder()
        .connect_timeout(t.attempt.min(std::time::Duration::from_secs(2)))
        .operation_attempt_timeout(t.attempt)
        .operation_timeout(t.operation)
        .build()
}

fn not_found_secret(name: &SecretName) -> BrokerError {
    BrokerError::NotFound {
        what: "secret",
        name: name.to_string(),
    }
}

#[cfg(test)]
mod tests;
