//! The operator CLI end to end: the built `keybroker` binary, run as a
//! subprocess, drives the real `admin` and `inject` functions under
//! lambda-runner against the local stack, for a whole operator flow. Exit
//! codes are checked per error type, and everything the CLI printed is
//! scanned for the secret values it was given.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use keybroker_tests::lambda_env::{workspace_bin, LambdaEnv, Upstream};
use keybroker_tests::{assert_no_canary, setup, unique, Customer};
use serde_json::{json, Value};

use crate::inject::AGENT;
use crate::ws;

/// What one CLI run gave back.
pub(crate) struct Run {
    pub(crate) code: i32,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl Run {
    pub(crate) fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.stdout))
    }
}

/// The operator at a terminal: the `keybroker` binary pointed at the
/// runner, with everything it printed kept for the canary scan.
pub(crate) struct Operator {
    bin: PathBuf,
    endpoint: String,
    pub(crate) transcript: String,
    dir: PathBuf,
}

impl Operator {
    pub(crate) fn new(lambda: &LambdaEnv) -> Self {
        let dir = std::env::temp_dir().join(unique("keybroker-cli"));
        std::fs::create_dir_all(&dir).unwrap();
        Self {
            bin: workspace_bin("keybroker", "debug"),
            endpoint: lambda.runner().endpoint().to_owned(),
            transcript: String::new(),
            dir,
        }
    }

    /// A file in the operator's scratch directory.
    fn file(&self, name: &str, content: &str) -> String {
        let path = self.dir.join(name);
        std::fs::write(&path, content).unwrap();
        path.to_str().unwrap().to_owned()
    }

    /// Run `keybroker <args>` with `stdin`, off the runtime's thread (the
    /// runner serving the call lives on it).
    pub(crate) async fn run(&mut self, args: &[&str], stdin: Option<&str>) -> Run {
        let mut cmd = Command::new(&self.bin);
        cmd.args(["--endpoint-url", &self.endpoint])
            .args(["--admin-function", "admin", "--inject-function", "inject"])
            .args(args)
            .env_remove("KEYBROKER_WORKSPACE")
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let input = stdin.map(str::to_owned);
        let out = tokio::task::spawn_blocking(move || {
            let mut child = cmd.spawn().expect("keybroker starts");
            if let Some(input) = input {
                child
                    .stdin
                    .take()
                    .unwrap()
                    .write_all(input.as_bytes())
                    .unwrap();
            }
            child.wait_with_output().unwrap()
        })
        .await
        .unwrap();
        let run = Run {
            code: out.status.code().expect("exited, not killed"),
            stdout: String::from_utf8(out.stdout).unwrap(),
            stderr: String::from_utf8(out.stderr).unwrap(),
        };
        self.transcript.push_str(&format!(
            "$ keybroker {args:?}\n{}{}",
            run.stdout, run.stderr
        ));
        run
    }

    /// Run and require exit code `code`.
    pub(crate) async fn expect(&mut self, code: i32, args: &[&str], stdin: Option<&str>) -> Run {
        let run = self.run(args, stdin).await;
        assert_eq!(
            run.code, code,
            "keybroker {args:?}\nstdout: {}\nstderr: {}",
            run.stdout, run.stderr
        );
        run
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[tokio::test]
async fn an_operator_runs_a_byok_workspace_with_the_cli() {
    let env = setup().await;
    let lambda = LambdaEnv::start(&env).await;
    let up = Upstream::start().await;
    let mut op = Operator::new(&lambda);
    let id = ws();
    let ws = id.to_string();
    let w = ws.as_str();
    let first = format!("sk-live-{}", unique("CANARY"));
    let second = format!("sk-live-{}", unique("CANARY"));

    // Onboard: the external id goes to the customer, who applies the module.
    let prepared = op
        .expect(0, &["--json", "prepare-byok", "-w", w], None)
        .await
        .json();
    let external_id = prepared["result"]["external_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let customer = Customer::create(&id, &external_id).await;
    let enabled = op
        .expect(
            0,
            &[
                "enable-byok",
                "-w",
                w,
                "--role-arn",
                &customer.role_arn,
                "--key-arn",
                &customer.key_arn,
            ],
            None,
        )
        .await;
    assert!(
        enabled.stdout.contains("byok_enabled  true"),
        "{}",
        enabled.stdout
    );
    op.expect(0, &["verify-byok", "-w", w], None).await;

    // A value from stdin, with the newline `echo` adds: stored without it.
    let host = up.addr.to_string();
    let put = op
        .expect(
            0,
            &[
                "put-secret",
                "-w",
                w,
                "-s",
                "api",
                "--value-stdin",
                "--host",
                &host,
                "--header",
                "Authorization",
            ],
            Some(&format!("{first}\n")),
        )
        .await;
    assert!(put.stdout.contains("key_mode    byok"), "{}", put.stdout);
    // The same name again: `conflict`.
    let again = op
        .expect(
            12,
            &[
                "put-secret",
                "-w",
                w,
                "-s",
                "api",
                "--value-stdin",
                "--host",
                &host,
                "--header",
                "Authorization",
            ],
            Some(&second),
        )
        .await;
    assert!(again.stderr.contains("conflict"), "{}", again.stderr);

    // Listed as a table, and as the function's reply unchanged.
    let table = op.expect(0, &["list-secrets", "-w", w], None).await;
    let row = table
        .stdout
        .lines()
        .find(|l| l.starts_with("api "))
        .expect("a row for api");
    for cell in [
        "byok",
        "active",
        host.as_str(),
        "header",
        customer.key_arn.as_str(),
    ] {
        assert!(row.contains(cell), "{cell} missing: {}", table.stdout);
    }
    let listed = op
        .expect(0, &["--json", "list-secrets", "-w", w], None)
        .await
        .json();
    let direct = lambda
        .invoke("admin", &json!({ "op": "list_secrets", "workspace": ws }))
        .await;
    assert_eq!(listed, direct);

    // A policy from a file; then a test injection reaches the upstream with
    // exactly the value given on stdin.
    let policy = op.file(
        "policy.cedar",
        &format!(
            "permit(principal == Agent::\"{AGENT}\", action == Action::\"inject\", resource);\n"
        ),
    );
    op.expect(0, &["set-policy", "-w", w, "--policy-file", &policy], None)
        .await;
    let url = format!("{}/data", up.base());
    let inject = [
        "inject",
        "-w",
        w,
        "-s",
        "api",
        "--agent",
        AGENT,
        "--url",
        url.as_str(),
    ];
    let injected = op.expect(0, &inject, None).await;
    assert!(
        injected.stdout.starts_with("status      200\n"),
        "{}",
        injected.stdout
    );
    assert!(
        injected.stdout.contains(r#"{"ok":true}"#),
        "{}",
        injected.stdout
    );
    let bearer = |v: &str| format!("Bearer {v}");
    assert_eq!(
        up.records().last().unwrap().header("authorization"),
        Some(bearer(&first).as_str())
    );

    // Limits: one injection per hour for each agent. The next is refused
    // `throttled` (exit 15) before decrypting; clearing restores the default.
    let set = op
        .expect(
            0,
            &[
                "set-limits",
                "-w",
                w,
                "--window-seconds",
                "3600",
                "--agent-limit",
                "1",
            ],
            None,
        )
        .await;
    assert!(
        set.stdout
            .contains("current    unlimited per workspace, 1/3600s per agent\n"),
        "{}",
        set.stdout
    );
    op.expect(0, &inject, None).await;
    op.expect(15, &inject, None).await;
    op.expect(
        2,
        &["set-limits", "-w", w, "--clear", "--agent-limit", "1"],
        None,
    )
    .await;
    op.expect(0, &["set-limits", "-w", w, "--clear"], None)
        .await;
    op.expect(0, &inject, None).await;

    // Rotate from a file, guarded by the version; a stale version conflicts.
    let value_file = op.file("new-value", &second);
    op.expect(
        12,
        &[
            "rotate-secret",
            "-w",
            w,
            "-s",
            "api",
            "--value-file",
            &value_file,
            "--expected-version",
            "7",
        ],
        None,
    )
    .await;
    let rotated = op
        .expect(
            0,
            &[
                "--json",
                "rotate-secret",
                "-w",
                w,
                "-s",
                "api",
                "--value-file",
                &value_file,
                "--expected-version",
                "1",
            ],
            None,
        )
        .await
        .json();
    assert_eq!(rotated["result"]["version"], 2, "{rotated}");
    let injected = op
        .expect(
            0,
            &[
                "--json", "inject", "-w", w, "-s", "api", "--agent", AGENT, "--url", &url,
            ],
            None,
        )
        .await
        .json();
    assert_eq!(injected["status"], 200, "{injected}");
    assert_eq!(
        up.records().last().unwrap().header("authorization"),
        Some(bearer(&second).as_str())
    );

    // Exit codes per error type, each from a real reply.
    let missing = op
        .expect(11, &["rotate-secret", "-w", w, "-s", "missing"], None)
        .await;
    assert!(missing.stderr.contains("not_found"), "{}", missing.stderr);
    op.expect(
        11,
        &[
            "inject", "-w", w, "-s", "missing", "--agent", AGENT, "--url", &url,
        ],
        None,
    )
    .await;
    let forwarded = [
        "inject",
        "-w",
        w,
        "-s",
        "api",
        "--agent",
        AGENT,
        "--url",
        url.as_str(),
        "-H",
        "X-Forwarded-For: 10.0.0.1",
    ];
    let bad = op.expect(10, &forwarded, None).await;
    assert!(bad.stderr.contains("invalid_request"), "{}", bad.stderr);
    op.expect(10, &["list-secrets", "-w", "Not A Workspace!"], None)
        .await;
    op.expect(
        13,
        &[
            "inject",
            "-w",
            w,
            "-s",
            "api",
            "--agent",
            AGENT,
            "--url",
            "http://127.0.0.1:9/x",
        ],
        None,
    )
    .await;
    // --json prints the error reply unchanged and still exits by its type.
    let as_json = op
        .expect(
            11,
            &["--json", "delete-secret", "-w", w, "-s", "missing"],
            None,
        )
        .await
        .json();
    assert_eq!(as_json["error"]["type"], "not_found", "{as_json}");

    // The customer revokes: the next injection exits `revoked`, verify-byok
    // exits with its failed link's type, and the list says so.
    customer.disable_key().await;
    let revoked = op.expect(14, &inject, None).await;
    assert!(revoked.stderr.contains("revoked"), "{}", revoked.stderr);
    let verify = op.expect(14, &["verify-byok", "-w", w], None).await;
    assert!(
        verify
            .stderr
            .contains("failed at generate_data_key: revoked"),
        "{}",
        verify.stderr
    );
    let table = op.expect(0, &["list-secrets", "-w", w], None).await;
    assert!(
        table.stdout.contains("revoked (key_disabled)"),
        "{}",
        table.stdout
    );

    // Back to the platform key, then the secret goes.
    let disabled = op.expect(0, &["disable-byok", "-w", w], None).await;
    assert!(
        disabled.stdout.contains("byok_enabled  false"),
        "{}",
        disabled.stdout
    );
    op.expect(0, &["delete-secret", "-w", w, "-s", "api"], None)
        .await;
    let table = op.expect(0, &["list-secrets", "-w", w], None).await;
    assert_eq!(table.stdout, "no secrets\n");

    // Neither value ever appeared in anything the CLI or the functions printed.
    for canary in [&first, &second] {
        assert_no_canary("keybroker output", &op.transcript, canary);
        assert_no_canary("function output", &lambda.output(), canary);
    }
    lambda.stop().await;
}

/// The attack: a secret value on the command line (shell history, `ps`).
/// The CLI has no flag for it, refuses before invoking anything, and an
/// empty value file is refused before anything is sent.
#[tokio::test]
async fn values_on_the_command_line_or_empty_are_refused_before_any_call() {
    let env = setup().await;
    let lambda = LambdaEnv::start(&env).await;
    let mut op = Operator::new(&lambda);
    let ws = ws().to_string();
    let w = ws.as_str();
    let put = [
        "put-secret",
        "-w",
        w,
        "-s",
        "api",
        "--host",
        "api.example.com",
        "--header",
        "Authorization",
    ];
    let argv_value = op
        .expect(
            2,
            &[&put[..], &["--value", "sk-live-on-argv"]].concat(),
            None,
        )
        .await;
    assert!(
        argv_value.stderr.contains("--value"),
        "{}",
        argv_value.stderr
    );
    op.expect(2, &[&put[..], &["sk-live-on-argv"]].concat(), None)
        .await;
    op.expect(2, &put, None).await;
    let empty = op.file("empty", "\n");
    let refused = op
        .expect(1, &[&put[..], &["--value-file", &empty]].concat(), None)
        .await;
    assert!(refused.stderr.contains("empty"), "{}", refused.stderr);
    // Nothing reached the broker: the workspace has no secret.
    let listed = lambda
        .invoke("admin", &json!({ "op": "list_secrets", "workspace": ws }))
        .await;
    assert_eq!(listed["result"], json!([]), "{listed}");
    // A wrong function name is `invoke failed`, not a broker error.
    op.expect(
        3,
        &[
            "--admin-function",
            "no-such-function",
            "list-secrets",
            "-w",
            w,
        ],
        None,
    )
    .await;
    lambda.stop().await;
}

/// The paginated-operation driver over the real admin function, as
/// `rewrap` and `check_workspace` will use it: a source built from a request
/// and a reply reader completes, and a page the broker refuses stops the
/// run with that error's exit code and the token to resume from.
#[tokio::test]
async fn the_page_driver_runs_over_the_real_admin_function() {
    use keybroker_cli::error::CliError;
    use keybroker_cli::invoke::{Broker, Payload, Reply, Target};
    use keybroker_cli::pages::{drive, progress_bar, AdminPages, Page};

    let env = setup().await;
    let lambda = LambdaEnv::start(&env).await;
    let ws = ws().to_string();
    lambda
        .admin(
            json!({ "op": "put_secret", "workspace": ws, "secret": "api", "value": "sk-page-test",
                       "binding": { "hosts": ["api.example.com"],
                                    "inject": { "type": "query", "param": "key" } } }),
        )
        .await;
    let broker = Broker::connect(&Target {
        admin: "admin".to_owned(),
        inject: "inject".to_owned(),
        endpoint_url: Some(lambda.runner().endpoint().to_owned()),
        region: None,
        profile: None,
    })
    .await;
    let read = |r: &Reply| {
        Ok(Page {
            done: r.json["result"].as_array().map_or(0, |a| a.len() as u64),
            total: None,
            next: None,
            reply: r.json.clone(),
        })
    };
    let mut asked = Vec::new();
    let mut source = AdminPages {
        broker: &broker,
        request: |token: Option<&Value>| {
            asked.push(token.cloned());
            Payload::new(&json!({ "op": "list_secrets", "workspace": ws }))
        },
        read,
    };
    let bar = progress_bar("listing", true);
    let replies = drive(&mut source, None, &bar).await.unwrap();
    assert_eq!(replies.len(), 1);
    assert_eq!(replies[0]["result"][0]["name"], "api", "{}", replies[0]);
    assert_eq!(bar.position(), 1);
    assert_eq!(asked, [None]);

    let mut refused = AdminPages {
        broker: &broker,
        request: |_: Option<&Value>| {
            Payload::new(&json!({ "op": "list_secrets", "workspace": "Not A Workspace!" }))
        },
        read,
    };
    let err = drive(
        &mut refused,
        Some(json!({ "after": "x" })),
        &progress_bar("listing", true),
    )
    .await
    .unwrap_err();
    assert_eq!(err.exit_code(), 10, "{err}");
    let CliError::Interrupted { resume, .. } = &err else {
        panic!("{err}");
    };
    assert_eq!(resume, r#"{"after":"x"}"#);
    lambda.stop().await;
}

/// `rewrap` and `check-workspace` through the binary: pages with a limit,
/// a resume token, and the summary tables (issue 15, items 2 to 4).
#[tokio::test]
async fn an_operator_rewraps_and_checks_a_workspace_with_the_cli() {
    use keybroker_tests::BrokerAccess;

    let env = setup().await;
    let lambda = LambdaEnv::start(&env).await;
    let mut op = Operator::new(&lambda);
    let id = ws();
    let w = id.to_string();
    let mut canaries = Vec::new();
    for n in ["a", "b", "c"] {
        let (text, value) = crate::canary();
        env.broker
            .put_secret(&id, &crate::name(n), &value)
            .await
            .unwrap();
        canaries.push(text);
    }
    let customer = env.onboard_customer(&id).await;

    // Three secrets in pages of two: all moved to the customer's key.
    let run = op
        .expect(0, &["rewrap", "-w", &w, "--limit", "2"], None)
        .await;
    assert!(run.stdout.contains("moved      3"), "{}", run.stdout);
    assert!(run.stdout.contains(&customer.key_arn), "{}", run.stdout);
    // Again, as JSON: one reply per page, nothing left to move.
    let again = op
        .expect(0, &["--json", "rewrap", "-w", &w, "--limit", "2"], None)
        .await;
    let pages: Vec<Value> = again
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(pages.len(), 2, "{}", again.stdout);
    assert_eq!(pages[0]["result"]["skipped"], 2);
    assert_eq!(pages[1]["result"]["skipped"], 1);
    // Resuming after "b" looks at "c" only.
    let resumed = op
        .expect(
            0,
            &["--json", "rewrap", "-w", &w, "--resume", r#"{"after":"b"}"#],
            None,
        )
        .await
        .json();
    assert_eq!(resumed["result"]["skipped"], 1, "{resumed}");

    // The customer revokes; one check marks all three.
    customer.set_broker_access(BrokerAccess::Revoked).await;
    let check = op.expect(0, &["check-workspace", "-w", &w], None).await;
    assert!(
        check.stdout.contains(&format!("{w}  3  0  3  0  3")),
        "{}",
        check.stdout
    );
    let listed = op
        .expect(0, &["--json", "list-secrets", "-w", &w], None)
        .await
        .json();
    assert!(
        listed["result"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["status"]["state"] == "revoked"),
        "{listed}"
    );
    // A rewrap now reports each secret as revoked, with revoked's exit code.
    customer.set_broker_access(BrokerAccess::Enabled).await;
    let ext = env.broker.prepare_byok(&id).await.unwrap().external_id;
    let other = Customer::create(&id, &ext).await;
    env.broker
        .enable_byok(&id, &other.role_arn, &other.key_arn, None)
        .await
        .unwrap();
    customer.set_broker_access(BrokerAccess::Revoked).await;
    let failed = op.expect(14, &["rewrap", "-w", &w], None).await;
    assert!(failed.stdout.contains("failed     3"), "{}", failed.stdout);
    assert!(failed.stdout.contains("a: revoked"), "{}", failed.stdout);
    for c in &canaries {
        assert_no_canary("cli transcript", &op.transcript, c);
    }
    lambda.stop().await;
}
