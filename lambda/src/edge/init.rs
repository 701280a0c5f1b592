//! What both functions do once per sandbox, before the first event: the
//! log set-up, the broker built from the environment, and the deployment's
//! list of served workspaces. A bad setting fails init, never an event.

use crate::edge::{record, token_client};

/// Targets allowed to log at `debug`: the broker's own code, which never
/// logs values (keybroker-logging caps everything else at `info`).
pub const OWN_TARGETS: &[&str] = &["broker_core", "keybroker_lambda", "inject", "admin"];

/// The one log set-up (keybroker-logging): JSON to stderr, since stdout
/// carries the audit records, `RUST_LOG` under a ceiling it cannot raise.
pub fn logging() {
    keybroker_logging::init(OWN_TARGETS);
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
            if let Err(e) = record::write_line(&u.to_line()) {
                tracing::error!(error = %e, "could not write the KMS use record");
            }
        }))
        .with_oauth2_settings(token_client::settings_from_env()?);
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
    use keybroker_logging::{ceiling, LevelFilter};

    #[test]
    fn the_functions_and_the_library_may_debug_and_nothing_else() {
        for t in [
            "broker_core::broker",
            "keybroker_lambda::inject",
            "inject",
            "admin",
        ] {
            assert_eq!(ceiling(super::OWN_TARGETS, t), LevelFilter::DEBUG, "{t}");
        }
        for t in [
            "lambda_runtime",
            "aws_sdk_kms",
            "hyper",
            "reqwest",
            "administrator",
        ] {
            assert_eq!(ceiling(super::OWN_TARGETS, t), LevelFilter::INFO, "{t}");
        }
    }
}
