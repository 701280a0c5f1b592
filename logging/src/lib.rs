//! # keybroker-logging
//!
//! The one log set-up of the binaries that hold credentials or see them
//! pass: the two Lambda functions and the MCP server. Each used to write its
//! own, with different ceilings; now both follow one rule.
//!
//! The rule: logs are JSON on stderr (stdout carries audit records in the
//! functions and the stdio transport in the MCP server), the level comes
//! from `RUST_LOG` (default `info`), and a fixed **ceiling** is ANDed on
//! top, so `RUST_LOG` can only lower verbosity, never raise it past the
//! ceiling. The binary's own targets may log at `debug` (they never log
//! values); every other target (the Lambda runtime, the AWS SDK, hyper,
//! rustls, reqwest, rmcp) is capped at `info`, because their `debug` and
//! `trace` output holds whole messages: `lambda_runtime` logs the raw
//! invocation event at `trace` (an admin `put_secret` event holds the
//! secret value), SDK and hyper `trace` can log request and response bodies
//! (a KMS `Decrypt` response holds the plaintext data key), and rmcp's
//! `debug` holds tool results.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

/// A level cap, as [`ceiling`] returns it.
pub use tracing_subscriber::filter::LevelFilter;

/// The most verbose level `target` may ever log at, whatever `RUST_LOG`
/// says: `debug` for a target in `own` or below one (`own::…`), `info`
/// for everything else. A prefix alone is not enough (`broker_core_evil`
/// is not `broker_core`).
pub fn ceiling(own: &[&str], target: &str) -> LevelFilter {
    let is_own = own.iter().any(|t| {
        target == *t
            || target
                .strip_prefix(t)
                .is_some_and(|rest| rest.starts_with("::"))
    });
    if is_own {
        LevelFilter::DEBUG
    } else {
        LevelFilter::INFO
    }
}

/// Install the global subscriber: JSON to stderr, `RUST_LOG` (default
/// `info`) under [`ceiling`] for these `own` targets.
pub fn init(own: &'static [&'static str]) {
    use tracing_subscriber::filter::{filter_fn, FilterExt};
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::Layer;
    let from_env = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let cap = filter_fn(move |meta| *meta.level() <= ceiling(own, meta.target()));
    let layer = tracing_subscriber::fmt::layer()
        .json()
        .with_writer(std::io::stderr)
        .with_current_span(false)
        .with_filter(from_env.and(cap));
    tracing_subscriber::registry().with(layer).init();
}

#[cfg(test)]
mod tests {
    use super::{ceiling, LevelFilter};

    const OWN: &[&str] = &["broker_core", "keybroker_lambda", "inject"];

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
            "rmcp::service",
            "broker_core_evil",
            "injector",
        ] {
            assert_eq!(ceiling(OWN, t), LevelFilter::INFO, "{t}");
        }
    }

    #[test]
    fn own_targets_and_their_modules_may_debug() {
        for t in [
            "broker_core",
            "broker_core::broker",
            "keybroker_lambda::inject",
            "inject",
        ] {
            assert_eq!(ceiling(OWN, t), LevelFilter::DEBUG, "{t}");
        }
    }
}
