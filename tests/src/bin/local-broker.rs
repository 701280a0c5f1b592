//! `local-broker [--listen 127.0.0.1:9001] [--workspace acme]`: the broker
//! on the local AWS stack for operators and agent developers
//! (`scripts/local-broker.sh` starts the stack and builds first).
//!
//! It does what an operator's `terraform -chdir=infra apply` does on AWS,
//! with the suite's harness (so it is the setup the tests prove): the table,
//! a platform key whose policy names both execution roles, the two roles
//! with the shipped identity policies; then it serves the real `inject` and
//! `admin` binaries' Invoke API on a fixed loopback port until Ctrl-C or
//! SIGTERM. On stdout it prints only the environment to `eval` (the CLI's
//! and MCP server's settings) and, as `#` comments, an MCP client
//! configuration; progress goes to stderr.

// Test and demo code: a panic is how it reports failure.
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::time::Duration;

use keybroker_tests::lambda_env::{LambdaEnv, RunOptions};
use keybroker_tests::setup;
use serde_json::json;

const USAGE: &str =
    "usage: local-broker [--listen 127.0.0.1:PORT] [--workspace NAME] [--env-file PATH]";

struct Args {
    listen: SocketAddr,
    workspace: String,
    env_file: Option<std::path::PathBuf>,
}

fn args() -> Args {
    let mut out = Args {
        listen: ([127, 0, 0, 1], 9001).into(),
        workspace: "acme".to_owned(),
        env_file: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().unwrap_or_else(|| usage());
        match flag.as_str() {
            "--listen" => out.listen = value.parse().unwrap_or_else(|_| usage()),
            "--workspace" => out.workspace = value,
            "--env-file" => out.env_file = Some(value.into()),
            _ => usage(),
        }
    }
    if !out.listen.ip().is_loopback() {
        usage();
    }
    out
}

fn usage() -> ! {
    eprintln!("{USAGE}");
    std::process::exit(2)
}

/// What a shell needs to reach this broker with the CLI and the MCP server:
/// the Lambda endpoint (the runner) and the function names; region and
/// credentials as the stack's (the runner checks no signature; the stack's
/// own endpoints are not needed by either client).
fn exports(endpoint: &str) -> Vec<(&'static str, String)> {
    vec![
        (
            "AWS_REGION",
            std::env::var("AWS_REGION").unwrap_or_default(),
        ),
        (
            "AWS_ACCESS_KEY_ID",
            keybroker_tests::BROKER_ACCOUNT.to_owned(),
        ),
        ("AWS_SECRET_ACCESS_KEY", "test".to_owned()),
        ("AWS_EC2_METADATA_DISABLED", "true".to_owned()),
        ("AWS_ENDPOINT_URL_LAMBDA", endpoint.to_owned()),
        ("KEYBROKER_ENDPOINT_URL", endpoint.to_owned()),
        ("KEYBROKER_ADMIN_FUNCTION", "admin".to_owned()),
        ("KEYBROKER_INJECT_FUNCTION", "inject".to_owned()),
        ("KEYBROKER_MCP_FUNCTION", "inject".to_owned()),
    ]
}

#[tokio::main]
async fn main() {
    let args = args();
    eprintln!("[local-broker] table, platform key and execution roles on the local stack");
    let env = setup().await;
    let log_dir = keybroker_tests::repo_root().join("target/local-broker");
    let _ = std::fs::remove_dir_all(&log_dir);
    let opts = RunOptions {
        listen: args.listen,
        log_dir: Some(log_dir.clone()),
        rust_log: "info",
        timeout: Duration::from_secs(30),
        ..RunOptions::default()
    };
    let lambda = LambdaEnv::start_with(&env, &opts).await;
    let endpoint = format!("http://{}", args.listen);
    let vars = exports(&endpoint);
    let lines: String = vars
        .iter()
        .map(|(k, v)| format!("export {k}={v}\n"))
        .collect();
    print!("{lines}");
    if let Some(path) = &args.env_file {
        // Written once the functions serve: a script waiting for the file
        // can use the broker as soon as it appears.
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, &lines).expect("write the env file");
        std::fs::rename(&tmp, path).expect("rename the env file");
    }
    let mcp_env: serde_json::Map<String, serde_json::Value> = vars
        .iter()
        .filter(|(k, _)| k.starts_with("AWS_") || *k == "KEYBROKER_MCP_FUNCTION")
        .map(|(k, v)| ((*k).to_owned(), json!(v)))
        .collect();
    let mcp = json!({ "mcpServers": { "keybroker": {
        "type": "stdio",
        "command": "keybroker-mcp",
        "args": ["--workspace", args.workspace, "--agent", "local-agent"],
        "env": mcp_env,
    } } });
    println!("# MCP client configuration (e.g. .mcp.json):");
    for line in serde_json::to_string_pretty(&mcp).unwrap().lines() {
        println!("#   {line}");
    }
    println!(
        "# platform key {}; function logs in {}",
        env.platform_key_arn,
        log_dir.display()
    );
    eprintln!("[local-broker] inject and admin on {endpoint} (Ctrl-C stops)");
    wait_for_stop().await;
    eprintln!("[local-broker] stopping");
    lambda.stop().await;
}

/// Ctrl-C, or SIGTERM (what `kill` and a supervising script send).
async fn wait_for_stop() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
