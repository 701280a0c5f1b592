//! `keybroker-mcp`'s streamable HTTP transport at its door: the bearer
//! token is always required (401 without it or with a wrong one), a token
//! is generated into a 0600 file when none is configured (its path, never
//! the token, on stderr), a token file others may read stops the server
//! from starting, and a browser `Origin` is refused.

use std::os::unix::fs::PermissionsExt;
use std::process::Stdio;
use std::sync::{Arc, Mutex};

use keybroker_tests::lambda_env::workspace_bin;
use keybroker_tests::unique;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::inject::start;
use crate::mcp::{runtime_env, server_args, start_http_server, STEP_LIMIT};

/// `keybroker-mcp --transport http` on a free loopback port with `token`
/// (none: it generates one) and `extra` arguments; returns once it logs
/// its address: the process, its `/mcp` URL and its stderr.
pub(crate) async fn spawn(
    ws: &str,
    env: &[(String, String)],
    token: Option<&str>,
    extra: &[String],
) -> (Child, String, Arc<Mutex<String>>) {
    let mut command = Command::new(workspace_bin("keybroker-mcp", "debug"));
    command
        .args(server_args(ws))
        .args(["--transport", "http", "--bind", "127.0.0.1:0"])
        .args(extra)
        .envs(env.iter().cloned());
    if let Some(t) = token {
        command.env("KEYBROKER_MCP_HTTP_TOKEN", t);
    }
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let stderr = Arc::new(Mutex::new(String::new()));
    let (addr_tx, addr_rx) = tokio::sync::oneshot::channel();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let collected = stderr.clone();
    tokio::spawn(async move {
        let mut addr_tx = Some(addr_tx);
        while let Ok(Some(line)) = lines.next_line().await {
            let v = serde_json::from_str::<Value>(&line).unwrap_or_default();
            if let Some(a) = v["fields"]["address"].as_str() {
                if let Some(tx) = addr_tx.take() {
                    let _ = tx.send(a.to_owned());
                }
            }
            let mut all = collected.lock().unwrap();
            all.push_str(&line);
            all.push('\n');
        }
    });
    let addr = tokio::time::timeout(STEP_LIMIT, addr_rx)
        .await
        .expect("the server logs its address")
        .unwrap_or_else(|_| panic!("server exited: {}", stderr.lock().unwrap()));
    (child, format!("http://{addr}/mcp"), stderr)
}

/// The HTTP transport refuses callers without the bearer token and
/// requests from a browser page (an `Origin`), before any MCP handling.
#[tokio::test]
async fn streamable_http_refuses_missing_tokens_and_browser_origins() {
    let (_env, lambda, _up) = start().await;
    let (_child, url, token, _stderr) = start_http_server("ws-unused", &runtime_env(&lambda)).await;
    let init = json!({ "jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": { "name": "probe", "version": "0" } } });
    let http = reqwest::Client::new();
    let post = |auth: Option<String>, origin: Option<&'static str>| {
        let mut req = http
            .post(&url)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .body(init.to_string());
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        if let Some(o) = origin {
            req = req.header("origin", o);
        }
        req.send()
    };
    let status = |r: reqwest::Response| r.status().as_u16();
    assert_eq!(status(post(None, None).await.unwrap()), 401);
    assert_eq!(
        status(post(Some("Bearer wrong".into()), None).await.unwrap()),
        401
    );
    let browser = post(
        Some(format!("Bearer {token}")),
        Some("https://evil.example"),
    )
    .await
    .unwrap();
    assert_eq!(status(browser), 403);
    let ok = post(Some(format!("Bearer {token}")), None).await.unwrap();
    assert_eq!(status(ok), 200);
    lambda.stop().await;
}

/// A fresh private directory for a token file.
fn scratch() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(unique("kb-mcp-token"));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The status of an MCP `initialize` POST to `url` with `auth`.
async fn initialize(url: &str, auth: Option<String>) -> u16 {
    let init = json!({ "jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": { "name": "probe", "version": "0" } } });
    let mut req = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(init.to_string());
    if let Some(a) = auth {
        req = req.header("authorization", a);
    }
    req.send().await.unwrap().status().as_u16()
}

#[tokio::test]
async fn without_a_configured_token_one_is_generated_into_a_0600_file() {
    let (_env, lambda, _up) = start().await;
    let dir = scratch();
    let path = dir.join("http.token");
    let args = vec!["--token-file".to_owned(), path.display().to_string()];
    let (_child, url, stderr) = spawn("ws-unused", &runtime_env(&lambda), None, &args).await;
    let meta = std::fs::metadata(&path).expect("the token file");
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    let token = std::fs::read_to_string(&path).unwrap();
    assert_eq!(token.len(), 64, "32 random bytes as hex");
    assert!(token.bytes().all(|b| b.is_ascii_hexdigit()));

    assert_eq!(initialize(&url, None).await, 401);
    assert_eq!(initialize(&url, Some("Bearer wrong".into())).await, 401);
    let wrong_same_length = format!("Bearer {}", "0".repeat(64));
    assert_eq!(initialize(&url, Some(wrong_same_length)).await, 401);
    assert_eq!(
        initialize(&url, Some(token.clone())).await,
        401,
        "no scheme"
    );
    assert_eq!(initialize(&url, Some(format!("Bearer {token}"))).await, 200);

    let log = stderr.lock().unwrap().clone();
    assert!(
        log.contains(&path.display().to_string()),
        "the path is logged: {log}"
    );
    assert!(!log.contains(&token), "the token never is");
    drop(_child);
    // The next start writes a new token: the old one stops working.
    let (_child, url, _) = spawn("ws-unused", &runtime_env(&lambda), None, &args).await;
    let fresh = std::fs::read_to_string(&path).unwrap();
    assert_ne!(fresh, token);
    assert_eq!(initialize(&url, Some(format!("Bearer {token}"))).await, 401);
    assert_eq!(initialize(&url, Some(format!("Bearer {fresh}"))).await, 200);
    std::fs::remove_dir_all(dir).unwrap();
    lambda.stop().await;
}

#[tokio::test]
async fn a_token_file_other_users_may_read_stops_the_server() {
    let (_env, lambda, _up) = start().await;
    let dir = scratch();
    let path = dir.join("http.token");
    std::fs::write(&path, "stale").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let run = Command::new(workspace_bin("keybroker-mcp", "debug"))
        .args(server_args("ws-unused"))
        .args(["--transport", "http", "--bind", "127.0.0.1:0"])
        .args(["--token-file", &path.display().to_string()])
        .envs(runtime_env(&lambda))
        .stdin(Stdio::null())
        .output();
    let out = tokio::time::timeout(STEP_LIMIT, run)
        .await
        .expect("the server stops")
        .unwrap();
    assert!(!out.status.success(), "it must not start");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("chmod 600"), "{err}");
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "stale",
        "untouched"
    );
    std::fs::remove_dir_all(dir).unwrap();
    lambda.stop().await;
}
