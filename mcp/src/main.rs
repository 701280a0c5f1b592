//! # keybroker-mcp
//!
//! An MCP server that runs next to an agent, with the agent runtime's AWS
//! credentials, and turns tool calls into invocations of keybroker's
//! `inject` function: the model names a secret and a request, the broker
//! injects the credential and makes the request, and the model gets the
//! upstream's answer, never the credential.
//!
//! * Tools: `http_request` and `list_secrets` ([`tools`]).
//! * Identity: workspace and agent come from the configuration
//!   ([`config`]), never from tool arguments.
//! * Transports: stdio, and streamable HTTP on loopback by default, always
//!   behind a bearer token ([`http`], [`token_file`]).
//!
//! docs/INVOCATION.md, "MCP server", has the configuration snippets.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod broker;
mod config;
mod http;
mod server;
mod token_file;
mod tools;

use std::process::ExitCode;

use config::{Config, Transport};
use rmcp::ServiceExt;

/// The targets that may log at `debug` (keybroker-logging): this crate's.
const OWN_TARGETS: &[&str] = &["keybroker_mcp"];

#[tokio::main]
async fn main() -> ExitCode {
    let config = match Config::parse(std::env::args().skip(1), |k| std::env::var(k).ok()) {
        Ok(Some(c)) => c,
        Ok(None) => {
            print!("{}", config::USAGE);
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("keybroker-mcp: {e}");
            return ExitCode::from(2);
        }
    };
    // The one log set-up (keybroker-logging): only this crate may debug.
    keybroker_logging::init(OWN_TARGETS);
    match run(config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "stopped");
            ExitCode::FAILURE
        }
    }
}

async fn run(config: Config) -> Result<(), Box<dyn std::error::Error>> {
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let unusable = broker::unusable(&sdk).await;
    if let Some(fix) = &unusable {
        // One line naming the fix; the tools answer `misconfigured` with it.
        tracing::error!("{fix}");
    }
    let transport = broker::LambdaTransport::new(
        aws_sdk_lambda::Client::new(&sdk),
        config.function.clone(),
        unusable,
    );
    let broker = broker::Broker::new(transport, config.workspace.clone(), config.agent.clone());
    let state = server::State::new(broker);
    // The tool descriptions list the secrets; without the list they point
    // the model at list_secrets instead. A broker that is down now may be
    // up at the first call, so this is not fatal.
    if let Err(e) = state.refresh().await {
        tracing::warn!(error = %e, "could not list the workspace's secrets at start");
    }
    tracing::info!(workspace = %config.workspace, agent = %config.agent, function = %config.function, "keybroker-mcp ready");
    match config.transport {
        Transport::Stdio => {
            let running = server::KeybrokerMcp::new(state)
                .serve(rmcp::transport::stdio())
                .await?;
            running.waiting().await?;
        }
        Transport::Http {
            bind,
            allowed_hosts,
        } => {
            http::serve(
                state,
                bind,
                allowed_hosts,
                config.http_token,
                config.token_file,
            )
            .await?
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use keybroker_logging::{ceiling, LevelFilter};

    #[test]
    fn only_this_crate_may_log_below_info() {
        assert_eq!(
            ceiling(super::OWN_TARGETS, "keybroker_mcp::server"),
            LevelFilter::DEBUG
        );
        for t in [
            "rmcp::service",
            "aws_smithy_runtime",
            "hyper",
            "keybroker_mcpx",
        ] {
            assert_eq!(ceiling(super::OWN_TARGETS, t), LevelFilter::INFO, "{t}");
        }
    }
}
