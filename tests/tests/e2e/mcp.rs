//! `keybroker-mcp` driven by a real MCP client: the official Python SDK
//! (`mcp` on PyPI, pinned in tests/clients/constraints.txt, installed in the
//! stack's clients venv), over stdio and over streamable HTTP, with the
//! server invoking the real `inject` binary through lambda-runner. One MCP
//! session per transport walks through: list tools, list secrets, a call
//! that reaches the upstream with the credential injected, an echo that is
//! withheld, `denied` for an unbound host, an extra `workspace` argument
//! that cannot switch workspace, an unknown tool (a protocol error, not a
//! tool error), a secret added mid-session (tools/list_changed), and
//! `revoked` after the customer disables their key. Every output (tool
//! results, notifications, server and client stderr, function logs) is
//! scanned for both workspaces' canaries.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use keybroker_tests::lambda_env::{workspace_bin, LambdaEnv};
use keybroker_tests::{assert_no_canary, repo_root, unique, Customer};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

use crate::inject::{bearer, bound_secret, bound_secret_in, start, AGENT};

/// The Python that has the MCP SDK and boto3: `KEYBROKER_CLIENTS_PYTHON`,
/// else the stack's clients venv (localstack/install.sh).
pub(crate) fn clients_python() -> PathBuf {
    if let Some(p) = std::env::var_os("KEYBROKER_CLIENTS_PYTHON") {
        return PathBuf::from(p);
    }
    let stack = std::env::var_os("KEYBROKER_STACK_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join(".stack"));
    let py = stack.join("venv-clients/bin/python");
    assert!(
        py.exists(),
        "{} is missing: run `bash localstack/install.sh`",
        py.display()
    );
    py
}

/// What an agent runtime's process has: AWS settings that reach the
/// Lambda runner (the runner does not check signatures; the inject
/// function's own role is what the stack enforces).
pub(crate) fn runtime_env(lambda: &LambdaEnv) -> Vec<(String, String)> {
    [
        ("AWS_ACCESS_KEY_ID", "agent-runtime"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ENDPOINT_URL_LAMBDA", lambda.runner().endpoint()),
        ("RUST_LOG", "debug"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect()
}

/// A hang guard, not a timing assertion: a step that never answers fails
/// the test instead of blocking the suite.
pub(crate) const STEP_LIMIT: Duration = Duration::from_secs(120);

/// The Python MCP client, one step per line (tests/clients/mcp_driver.py).
pub(crate) struct Driver {
    child: Child,
    stdin: ChildStdin,
    lines: tokio::io::Lines<BufReader<ChildStdout>>,
    /// Everything the client printed: tool results, tool lists, notifications.
    transcript: String,
    stderr: PathBuf,
}

impl Driver {
    async fn start(args: Vec<String>, env: &[(String, String)]) -> Self {
        let stderr = std::env::temp_dir()
            .join(unique("mcp-driver"))
            .with_extension("err");
        let mut child = Command::new(clients_python())
            .arg(repo_root().join("tests/clients/mcp_driver.py"))
            .args(&args)
            .envs(env.iter().cloned())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .kill_on_drop(true)
            .spawn()
            .expect("the clients venv's python runs");
        let stdin = child.stdin.take().unwrap();
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut d = Self {
            child,
            stdin,
            lines,
            transcript: String::new(),
            stderr,
        };
        let ready = d.read().await;
        assert_eq!(ready["ready"], true, "{ready}");
        assert_eq!(ready["server"]["name"], "keybroker-mcp");
        d
    }

    async fn read(&mut self) -> Value {
        let line = tokio::time::timeout(STEP_LIMIT, self.lines.next_line())
            .await
            .expect("the MCP client answers")
            .unwrap();
        let Some(line) = line else {
            panic!(
                "the MCP client exited: {}",
                std::fs::read_to_string(&self.stderr).unwrap_or_default()
            );
        };
        self.transcript.push_str(&line);
        self.transcript.push('\n');
        serde_json::from_str(&line).unwrap()
    }

    async fn step(&mut self, step: Value) -> Value {
        self.stdin
            .write_all(format!("{step}\n").as_bytes())
            .await
            .unwrap();
        self.stdin.flush().await.unwrap();
        self.read().await
    }

    pub(crate) async fn call(&mut self, name: &str, arguments: Value) -> Value {
        self.step(json!({ "op": "call", "name": name, "arguments": arguments }))
            .await
    }

    async fn tools(&mut self) -> Vec<Value> {
        let r = self.step(json!({ "op": "list_tools" })).await;
        r["tools"].as_array().unwrap().clone()
    }

    /// Quit; returns the transcript and the client's stderr.
    pub(crate) async fn finish(mut self) -> String {
        let bye = self.step(json!({ "op": "quit" })).await;
        assert_eq!(bye["bye"], true);
        let _ = tokio::time::timeout(STEP_LIMIT, self.child.wait()).await;
        let stderr = std::fs::read_to_string(&self.stderr).unwrap_or_default();
        format!("{}\n{stderr}", self.transcript)
    }
}

/// How the client reaches the server; what the server wrote to stderr.
pub(crate) enum Server {
    /// The client spawns it; its stderr goes to this file.
    Stdio(PathBuf),
    /// Spawned here; its stderr lines are collected.
    Http {
        _child: Child,
        stderr: Arc<Mutex<String>>,
    },
}

impl Server {
    fn log(&self) -> String {
        match self {
            Self::Stdio(path) => std::fs::read_to_string(path).unwrap_or_default(),
            Self::Http { stderr, .. } => stderr.lock().unwrap().clone(),
        }
    }
}

pub(crate) fn server_args(ws: &str) -> Vec<String> {
    ["--workspace", ws, "--agent", AGENT, "--function", "inject"]
        .iter()
        .map(|s| (*s).to_owned())
        .collect()
}

/// Start `keybroker-mcp` and a client connected to it over `transport`.
pub(crate) async fn connect(
    transport: &str,
    ws: &str,
    env: &[(String, String)],
) -> (Driver, Server) {
    let bin = workspace_bin("keybroker-mcp", "debug");
    if transport == "stdio" {
        let log = std::env::temp_dir()
            .join(unique("keybroker-mcp"))
            .with_extension("err");
        let mut args = vec![
            "stdio".to_owned(),
            log.display().to_string(),
            bin.display().to_string(),
        ];
        args.extend(server_args(ws));
        return (Driver::start(args, env).await, Server::Stdio(log));
    }
    let (child, url, token, stderr) = start_http_server(ws, env).await;
    let driver = Driver::start(vec!["http".to_owned(), url, token], env).await;
    (
        driver,
        Server::Http {
            _child: child,
            stderr,
        },
    )
}

/// `keybroker-mcp --transport http` on a free loopback port, with a bearer
/// token; returns the process, its `/mcp` URL, the token and its stderr.
pub(crate) async fn start_http_server(
    ws: &str,
    env: &[(String, String)],
) -> (Child, String, String, Arc<Mutex<String>>) {
    let token = unique("token");
    let (child, url, stderr) = crate::mcp_http::spawn(ws, env, Some(&token), &[]).await;
    (child, url, token, stderr)
}

fn text_of(tool: &Value) -> String {
    tool.to_string()
}

fn tool<'a>(tools: &'a [Value], name: &str) -> &'a Value {
    tools
        .iter()
        .find(|t| t["name"] == name)
        .unwrap_or_else(|| panic!("no tool {name}: {tools:?}"))
}

fn assert_tool_error(r: &Value, kind: &str, retry: &str) {
    assert_eq!(r["isError"], true, "expected a tool error: {r}");
    let e = &r["structuredContent"]["error"];
    assert_eq!(e["type"], kind, "{r}");
    assert_eq!(e["retry"], retry, "{r}");
    assert!(e["advice"].as_str().is_some_and(|a| !a.is_empty()), "{r}");
}

/// The whole session, over `transport`.
async fn session(transport: &str) {
    let (env, lambda, up) = start().await;
    // A BYOK workspace (so the customer can revoke) with secret `api` bound
    // to the upstream, and a second workspace the model must never reach.
    let ws = crate::ws();
    let ext = env.broker.prepare_byok(&ws).await.unwrap().external_id;
    let customer = Customer::create(&ws, &ext).await;
    lambda
        .admin(json!({ "op": "enable_byok", "workspace": ws.to_string(),
                       "role_arn": customer.role_arn, "key_arn": customer.key_arn }))
        .await;
    let (ws, canary) = bound_secret_in(&lambda, &up, bearer(), ws.to_string()).await;
    let (other_ws, other_canary) = bound_secret(&lambda, &up, bearer()).await;
    let host = up.addr.to_string();

    let (mut mcp, server) = connect(transport, &ws, &runtime_env(&lambda)).await;

    // Tools: no identity in any schema, and the description says where
    // each secret goes.
    let tools = mcp.tools().await;
    let mut names: Vec<&str> = tools.iter().filter_map(|t| t["name"].as_str()).collect();
    names.sort();
    assert_eq!(names, ["http_request", "list_secrets"]);
    for t in &tools {
        assert_eq!(t["inputSchema"]["additionalProperties"], false, "{t}");
        for id in ["workspace", "agent"] {
            assert!(t["inputSchema"]["properties"].get(id).is_none(), "{t}");
        }
    }
    let described = tool(&tools, "http_request")["description"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        described.contains(&format!("- api: {host} (as header Authorization)")),
        "{described}"
    );
    assert!(!described.contains(&other_ws), "{described}");

    // list_secrets: names, hosts and injection kinds, never values.
    let r = mcp.call("list_secrets", json!({})).await;
    assert_eq!(r["isError"], false, "{r}");
    assert_eq!(
        r["structuredContent"]["secrets"],
        json!([{ "name": "api", "hosts": [host], "status": "active",
                 "injection": { "type": "header", "name": "Authorization" } }]),
        "{r}"
    );

    // A request reaches the upstream with the credential injected.
    let r = mcp
        .call(
            "http_request",
            json!({ "secret": "api", "method": "GET", "url": format!("{}/data?page=2", up.base()),
                    "headers": { "accept": "application/json" } }),
        )
        .await;
    assert_eq!(r["isError"], false, "{r}");
    let answer = &r["structuredContent"];
    assert_eq!(answer["status"], 200, "{r}");
    assert_eq!(answer["body"], r#"{"ok":true}"#, "{r}");
    assert_eq!(answer["headers"]["x-upstream"], "yes", "{r}");
    let seen = up.records();
    assert_eq!(seen.len(), 1);
    assert_eq!(
        seen[0].header("authorization"),
        Some(format!("Bearer {canary}").as_str())
    );
    assert_eq!(seen[0].uri, "/data?page=2");

    // An upstream that echoes the credential: status only, withheld.
    let r = mcp
        .call(
            "http_request",
            json!({ "secret": "api", "method": "GET", "url": format!("{}/echo", up.base()) }),
        )
        .await;
    assert_eq!(r["isError"], false, "{r}");
    assert_eq!(r["structuredContent"]["withheld"], "echo_withheld", "{r}");
    assert!(r["structuredContent"].get("body").is_none(), "{r}");

    // A host the secret is not bound to: denied, nothing sent.
    let r = mcp
        .call(
            "http_request",
            json!({ "secret": "api", "method": "GET", "url": "http://127.0.0.1:9/steal" }),
        )
        .await;
    assert_tool_error(&r, "denied", "never");
    assert_eq!(up.records().len(), 2);

    // Identity is configuration: an extra `workspace` (or `agent`)
    // argument is refused, and the other workspace's secret is never sent.
    for extra in [
        json!({ "workspace": other_ws }),
        json!({ "agent": "admin" }),
        json!({ "workspace": other_ws, "agent": AGENT }),
    ] {
        let mut args =
            json!({ "secret": "api", "method": "GET", "url": format!("{}/x", up.base()) });
        for (k, v) in extra.as_object().unwrap() {
            args[k] = v.clone();
        }
        let r = mcp.call("http_request", args).await;
        assert_tool_error(&r, "invalid_request", "never");
    }
    let r = mcp
        .call("list_secrets", json!({ "workspace": other_ws }))
        .await;
    assert_tool_error(&r, "invalid_request", "never");
    assert_eq!(up.records().len(), 2, "a refused call reached the upstream");
    for rec in up.records() {
        assert_no_canary("upstream request", &format!("{rec:?}"), &other_canary);
    }

    // An unknown tool is a protocol error, not a tool result.
    let r = mcp.call("delete_secret", json!({ "secret": "api" })).await;
    assert_eq!(r["protocol_error"]["code"], -32602, "{r}");

    // A secret added mid-session: list_secrets sees it, the server says the
    // tool list changed, and the description now names its host.
    lambda
        .admin(json!({
            "op": "put_secret", "workspace": ws, "secret": "maps", "value": unique("maps-key"),
            "binding": { "hosts": ["maps.example.com"], "inject": { "type": "query", "param": "key" } }
        }))
        .await;
    let r = mcp.call("list_secrets", json!({})).await;
    assert_eq!(
        r["structuredContent"]["secrets"].as_array().unwrap().len(),
        2,
        "{r}"
    );
    let notes = mcp.step(json!({ "op": "notifications" })).await;
    assert!(
        notes["notifications"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["method"] == "notifications/tools/list_changed"),
        "{notes}"
    );
    let tools = mcp.tools().await;
    assert!(
        text_of(tool(&tools, "http_request"))
            .contains("- maps: maps.example.com (as query parameter key)"),
        "{tools:?}"
    );

    // The customer disables their key: the next call is revoked.
    customer.disable_key().await;
    let r = mcp
        .call(
            "http_request",
            json!({ "secret": "api", "method": "GET", "url": format!("{}/data", up.base()) }),
        )
        .await;
    assert_tool_error(&r, "revoked", "never");
    assert_eq!(up.records().len(), 2, "a revoked call reached the upstream");

    let notes = mcp.step(json!({ "op": "notifications" })).await;
    let client_output = mcp.finish().await;
    let server_log = server.log();
    assert!(
        server_log.contains("keybroker-mcp ready"),
        "server stderr is captured: {server_log}"
    );
    for c in [&canary, &other_canary] {
        assert_no_canary("MCP notifications", &notes.to_string(), c);
        assert_no_canary("MCP client output (tool results)", &client_output, c);
        assert_no_canary("keybroker-mcp stderr", &server_log, c);
        assert_no_canary("function output", &lambda.output(), c);
    }
    lambda.stop().await;
}

#[tokio::test]
async fn python_sdk_over_stdio_uses_secrets_without_seeing_them() {
    session("stdio").await;
}

#[tokio::test]
async fn python_sdk_over_streamable_http_uses_secrets_without_seeing_them() {
    session("http").await;
}

/// The read-only catalog op behind `list_secrets`, invoked as any runtime
/// would: metadata only (no value, template or user name), the same tenant
/// pin as injections, and a malformed catalog event is `invalid_request`.
#[tokio::test]
async fn the_catalog_op_lists_metadata_only_and_keeps_the_tenant_pin() {
    use keybroker_tests::lambda_env::{RunOptions, Upstream};
    let env = keybroker_tests::setup().await;
    let up = Upstream::start().await;
    let mine = crate::ws().to_string();
    let opts = RunOptions {
        env: vec![("KEYBROKER_ALLOWED_WORKSPACES".into(), mine.clone())],
        ..RunOptions::default()
    };
    let lambda = LambdaEnv::start_with(&env, &opts).await;
    let basic = json!({ "type": "basic_auth", "username": "svc-user-7" });
    let (mine, canary) = bound_secret_in(&lambda, &up, basic, mine).await;
    let (theirs, their_canary) = bound_secret(&lambda, &up, bearer()).await;

    let list = |ws: &str| json!({ "op": "list_secrets", "workspace": ws, "agent": AGENT });
    let r = lambda.invoke("inject", &list(&mine)).await;
    assert_eq!(r["ok"], true, "{r}");
    assert_eq!(
        r["secrets"],
        json!([{ "name": "api", "hosts": [up.addr.to_string()], "status": "active",
                 "injection": { "type": "basic_auth" } }]),
        "{r}"
    );
    let text = r.to_string();
    assert!(
        !text.contains("svc-user-7") && !text.contains("arn:"),
        "{r}"
    );
    assert_no_canary("catalog answer", &text, &canary);

    let r = lambda.invoke("inject", &list(&theirs)).await;
    assert_eq!(crate::inject::error_type(&r), "denied", "{r}");
    assert!(r.get("secrets").is_none(), "{r}");
    for bad in [
        json!({ "op": "list_secrets", "workspace": mine }),
        json!({ "op": "list_secrets", "workspace": mine, "agent": AGENT, "secret": "api" }),
        json!({ "op": "put_secret", "workspace": mine, "agent": AGENT }),
    ] {
        let r = lambda.invoke("inject", &bad).await;
        assert_eq!(
            crate::inject::error_type(&r),
            "invalid_request",
            "{bad}: {r}"
        );
    }
    let out = lambda.output();
    assert!(
        out.contains(keybroker_lambda::inject::catalog::SCHEMA),
        "catalog audit lines"
    );
    for c in [&canary, &their_canary] {
        assert_no_canary("function output", &out, c);
    }
    assert!(up.records().is_empty(), "listing sent nothing upstream");
    lambda.stop().await;
}
