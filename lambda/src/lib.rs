//! # keybroker-lambda
//!
//! The deployed broker: two Lambda functions over `broker-core`.
//!
//! * `inject` (agent-facing): given a workspace, a secret name, an agent
//!   identity and an upstream request, it makes that **one** request with the
//!   credential injected where the secret's binding says, and returns the
//!   upstream's response. The agent never sees the credential: binding and
//!   Cedar policy are checked before `kms:Decrypt`, private and metadata
//!   addresses are refused at connect time, redirects are not followed,
//!   responses are bounded, never encoded or partial, and withheld when they
//!   echo the credential, and one audit record per call goes to stdout.
//!   A request that carries credential material is not sent (`probe`), and
//!   each such request or echo counts against the secret's probe breaker,
//!   which quarantines the secret past a small budget ([`probe`]).
//! * `admin` (control plane only): the operations of
//!   [`keybroker_contract::OPERATIONS`] (BYOK set-up and checks, secrets and
//!   their OAuth 2.0 connection, policies, limits, the probe breaker,
//!   rewraps and sweeps), one typed request each ([`admin::handle`]).
//!
//! The binaries in `src/bin/` are thin: they build the AWS clients and the
//! HTTP client once per sandbox and hand each event to [`Injector::handle`]
//! or [`admin::handle`]. The contract is in docs/INVOCATION.md.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod admin;
pub mod admin_audit;
pub mod admin_breaker;
pub mod admin_oauth2;
pub mod admin_request;
pub mod admin_sweep;
pub mod audit;
pub mod catalog;
pub mod contract;
pub mod destination;
pub mod edge_error;
mod exchange;
mod inject;
pub mod metrics;
pub mod oauth2;
pub mod probe;
pub mod response;
pub mod scrub;
pub mod upstream;

pub use inject::Injector;

/// Targets allowed to log at `debug`: the broker's own code, which never
/// logs values. Everything else (the Lambda runtime, the AWS SDK, hyper,
/// rustls, reqwest) is capped at `info`.
const OWN_TARGETS: [&str; 4] = ["broker_core", "keybroker_lambda", "inject", "admin"];

/// The most verbose level `target` may ever log at, whatever `RUST_LOG`
/// says. `lambda_runtime` logs the raw invocation event at `trace` (an
/// admin `put_secret` event holds the secret value), and SDK/hyper `trace`
/// and `debug` can log request and response bodies (a KMS `Decrypt`
/// response holds the plaintext data key): no environment value may turn
/// those on.
pub fn log_ceiling(target: &str) -> tracing_subscriber::filter::LevelFilter {
    use tracing_subscriber::filter::LevelFilter;
    let own = OWN_TARGETS.iter().any(|t| {
        target == *t
            || target
                .strip_prefix(t)
                .is_some_and(|rest| rest.starts_with("::"))
    });
    if own {
        LevelFilter::DEBUG
    } else {
        LevelFilter::INFO
    }
}

/// Structured JSON logs to stderr (stdout carries audit records), level from
/// `RUST_LOG` (default `info`) under the fixed ceiling of [`log_ceiling`]:
/// the two filters are combined with AND, so `RUST_LOG` can only lower it.
pub fn init_logging() {
    use tracing_subscriber::filter::{filter_fn, FilterExt};
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::Layer;
    let from_env = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let ceiling = filter_fn(|meta| *meta.level() <= log_ceiling(meta.target()));
    let layer = tracing_subscriber::fmt::layer()
        .json()
        .with_writer(std::io::stderr)
        .with_current_span(false)
        .with_filter(from_env.and(ceiling));
    tracing_subscriber::registry().with(layer).init();
}

/// Load AWS config and the broker settings from the environment, build the
/// broker and open its AWS connections: the shared init of both functions.
pub async fn broker_from_env() -> Result<broker_core::Broker, lambda_runtime::Error> {
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let config = broker_core::BrokerConfig::from_env()?;
    // Every KMS call made with a customer's role: one audit line
    // (keybroker.audit.kms.v1, with the KMS request id) beside the others.
    let broker = broker_core::Broker::new(&sdk, config)?
        .with_kms_use_sink(std::sync::Arc::new(|u: &broker_core::KmsUse| {
            if let Err(e) = audit::write_line(&u.to_line()) {
                tracing::error!(error = %e, "could not write the KMS use record");
            }
        }))
        .with_oauth2_settings(oauth2::settings_from_env()?);
    // Off by default: measured, it makes a cold start slower (two more
    // round trips in init, the same handshakes either way), and Lambda bills
    // and powers init like the invocation (docs/BENCHMARKS.md, "The warm-up
    // decision"). `KEYBROKER_WARM_UP=on` turns it on; the bench measures both.
    if std::env::var("KEYBROKER_WARM_UP").as_deref() == Ok("on") {
        broker.warm_up().await;
    }
    Ok(broker)
}

/// `KEYBROKER_ALLOWED_WORKSPACES`: comma-separated workspace ids the inject
/// function serves; unset: all. A deployment setting (per function), so the
/// tenant boundary is who may invoke which function. An empty or invalid
/// entry fails init rather than serving everyone.
pub fn allowed_workspaces_from_env() -> Result<Option<Vec<String>>, lambda_runtime::Error> {
    let Ok(list) = std::env::var("KEYBROKER_ALLOWED_WORKSPACES") else {
        return Ok(None);
    };
    let served = list
        .split(',')
        .map(|w| broker_core::WorkspaceId::new(w.trim()).map(|w| w.to_string()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| {
            "KEYBROKER_ALLOWED_WORKSPACES must list valid workspace ids, comma-separated"
        })?;
    Ok(Some(served))
}

#[cfg(test)]
mod tests {
    use super::log_ceiling;
    use tracing_subscriber::filter::LevelFilter;

    #[test]
    fn third_party_targets_never_go_below_info() {
        for t in [
            "lambda_runtime",
            "lambda_runtime::layers::api_response",
            "lambda_runtime_api_client",
            "aws_smithy_runtime::client::http",
            "aws_sdk_kms",
            "hyper",
            "hyper_util::client",
            "h2",
            "rustls",
            "reqwest::connect",
            "broker_core_evil",
            "injector",
        ] {
            assert_eq!(log_ceiling(t), LevelFilter::INFO, "{t}");
        }
        for t in [
            "broker_core",
            "broker_core::broker",
            "keybroker_lambda::inject",
            "inject",
        ] {
            assert_eq!(log_ceiling(t), LevelFilter::DEBUG, "{t}");
        }
    }
}
