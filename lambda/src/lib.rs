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
//! * `admin` (control plane only): prepare/enable/verify/disable BYOK,
//!   put/rotate/delete/list secrets, set the workspace policy.
//!
//! The binaries in `src/bin/` are thin: they build the AWS clients and the
//! HTTP client once per sandbox and hand each event to [`Injector::handle`]
//! or [`admin::handle`]. The contract is in docs/INVOCATION.md.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod admin;
pub mod audit;
pub mod contract;
pub mod destination;
mod inject;
pub mod policy;
pub mod response;
pub mod scrub;
pub mod upstream;

pub use inject::Injector;

/// Structured JSON logs to stderr (stdout carries audit records), level from
/// `RUST_LOG` (default `info`).
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_current_span(false)
        .init();
}

/// Load AWS config and the broker settings from the environment, build the
/// broker and open its AWS connections: the shared init of both functions.
pub async fn broker_from_env() -> Result<broker_core::Broker, lambda_runtime::Error> {
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let config = broker_core::BrokerConfig::from_env()?;
    let broker = broker_core::Broker::new(&sdk, config)?;
    // `KEYBROKER_WARM_UP=off` skips it (benchmarks measure both ways).
    if std::env::var("KEYBROKER_WARM_UP").as_deref() != Ok("off") {
        broker.warm_up().await;
    }
    Ok(broker)
}
