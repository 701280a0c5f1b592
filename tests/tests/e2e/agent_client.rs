//! The agent-client examples (examples/agent-client/: `invoke.py` with
//! boto3, and the Rust `agent-client`) run for real against the `inject`
//! binary under lambda-runner: the credential reaches the upstream, never
//! the example's output, and each typed error becomes its documented exit
//! status.

use std::process::Output;

use keybroker_tests::lambda_env::{workspace_bin, LambdaEnv, Upstream};
use keybroker_tests::{assert_no_canary, repo_root};
use serde_json::Value;
use tokio::process::Command;

use crate::inject::{bearer, bound_secret, start, AGENT};
use crate::mcp::{clients_python, runtime_env};

/// Both examples' command lines for one request, with the same flags.
/// Run with tokio's process API: the runner serves from this test's
/// runtime, so a blocking wait would stall it.
fn examples(lambda: &LambdaEnv, args: &[&str]) -> Vec<(&'static str, Command)> {
    let mut py = Command::new(clients_python());
    py.arg(repo_root().join("examples/agent-client/invoke.py"))
        .args([
            "--endpoint-url",
            lambda.runner().endpoint(),
            "--region",
            "us-east-1",
        ]);
    let rust = Command::new(workspace_bin("agent-client", "debug"));
    let mut out = vec![("invoke.py", py), ("agent-client (Rust)", rust)];
    for (_, cmd) in &mut out {
        cmd.args(args)
            .envs(runtime_env(lambda))
            .env_remove("AWS_PROFILE");
    }
    out
}

async fn run(name: &str, mut cmd: Command) -> Output {
    let out = cmd
        .output()
        .await
        .unwrap_or_else(|e| panic!("{name} does not start: {e}"));
    eprintln!(
        "{name}: exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn request_args<'a>(ws: &'a str, secret: &'a str, method: &'a str, url: &'a str) -> Vec<&'a str> {
    vec![
        "--function",
        "inject",
        "--workspace",
        ws,
        "--secret",
        secret,
        "--agent",
        AGENT,
        "--header",
        "accept:application/json",
        method,
        url,
    ]
}

#[tokio::test]
async fn the_agent_client_examples_inject_and_map_errors_to_exit_codes() {
    let (_env, lambda, up): (_, LambdaEnv, Upstream) = start().await;
    let (ws, canary) = bound_secret(&lambda, &up, bearer()).await;
    let ok_url = format!("{}/data", up.base());

    for (name, cmd) in examples(&lambda, &request_args(&ws, "api", "GET", &ok_url)) {
        let before = up.records().len();
        let out = run(name, cmd).await;
        assert_eq!(out.status.code(), Some(0), "{name}");
        let answer: Value = serde_json::from_slice(&out.stdout).expect("prints the answer as JSON");
        assert_eq!(answer["ok"], true, "{name}: {answer}");
        assert_eq!(answer["status"], 200, "{name}: {answer}");
        assert_eq!(answer["body"], r#"{"ok":true}"#, "{name}: {answer}");
        let seen = up.records();
        assert_eq!(seen.len(), before + 1, "{name}");
        assert_eq!(
            seen[before].header("authorization"),
            Some(format!("Bearer {canary}").as_str()),
            "{name}"
        );
        assert_eq!(
            seen[before].header("accept"),
            Some("application/json"),
            "{name}"
        );
        assert_no_canary(name, &String::from_utf8_lossy(&out.stdout), &canary);
        assert_no_canary(name, &String::from_utf8_lossy(&out.stderr), &canary);
    }

    // denied (3): a host the secret is not bound to; not_found (5): no
    // such secret. Nothing reaches the upstream.
    let before = up.records().len();
    for (secret, url, code) in [
        ("api", "http://127.0.0.1:9/steal", 3),
        ("missing", ok_url.as_str(), 5),
    ] {
        for (name, cmd) in examples(&lambda, &request_args(&ws, secret, "GET", url)) {
            let out = run(name, cmd).await;
            assert_eq!(out.status.code(), Some(code), "{name}: {secret} {url}");
            assert_no_canary(name, &String::from_utf8_lossy(&out.stderr), &canary);
        }
    }
    assert_eq!(up.records().len(), before);
    lambda.stop().await;
}
