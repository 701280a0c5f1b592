//! The Lambda side of the harness: a recording upstream server, and the real
//! `inject` / `admin` binaries run by `lambda-runner` and invoked through
//! `aws-sdk-lambda`, exactly as an agent runtime would.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_lambda::primitives::Blob;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use lambda_runner::{FunctionSpec, Runner};
use serde_json::Value;

use keybroker_contract::client::{Client, Function, Invoked, Transport, TransportError};

use crate::broker_identity::{lambda_credentials_env, BrokerRole};
use crate::contract_check;
use crate::{broker_sdk_config, repo_root, Env, TABLE};

/// A compiled workspace binary of `profile` (`debug` or `release`): build
/// it first (`tests/run.sh` and `tests/bench.sh` do).
pub fn workspace_bin(name: &str, profile: &str) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target"));
    let path = target.join(profile).join(name);
    assert!(
        path.exists(),
        "{} is missing: run `cargo build --workspace --bins` (tests/run.sh does)",
        path.display()
    );
    path
}

/// How to run the functions.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Cargo profile directory of the binaries: `debug` or `release`.
    pub profile: &'static str,
    /// Concurrent sandboxes per function.
    pub instances: usize,
    /// `RUST_LOG` for the functions.
    pub rust_log: &'static str,
    /// Extra environment for the functions (later entries win, so this
    /// overrides the defaults, e.g. `KEYBROKER_ALLOW_PRIVATE_UPSTREAMS=0`).
    pub env: Vec<(String, String)>,
    /// Command the `inject` function runs under (profiling, or a shell that
    /// redirects its output); empty: none.
    pub inject_wrapper: Vec<String>,
    /// Function timeout: the runner gives each invocation this deadline
    /// (`Lambda-Runtime-Deadline-Ms`) and answers `Sandbox.Timedout` past it.
    pub timeout: Duration,
    /// Where the runner serves the Invoke API (loopback; port 0: any free
    /// one, what the tests use; the local broker uses a fixed one).
    pub listen: SocketAddr,
    /// Where the functions' output goes; `None`: a fresh temporary
    /// directory.
    pub log_dir: Option<PathBuf>,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            profile: "debug",
            instances: 1,
            rust_log: "debug",
            env: Vec::new(),
            inject_wrapper: Vec::new(),
            timeout: Duration::from_secs(20),
            listen: ([127, 0, 0, 1], 0).into(),
            log_dir: None,
        }
    }
}

/// One request the upstream received.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// Method.
    pub method: String,
    /// Path and query.
    pub uri: String,
    /// Headers, lowercase names.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Vec<u8>,
}

impl Recorded {
    /// First value of a header.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A local upstream API that records what it receives. Routes:
/// `/echo` reflects headers and query (a debug endpoint leaking the
/// credential), `/redirect` answers 302 elsewhere, `/big` sends 2 MiB,
/// `/slow` waits 5 s, `/binary` sends non-UTF-8 bytes, `/close` answers
/// `{"ok":true}` and closes the connection (the next call reconnects),
/// anything else `{"ok":true}`.
pub struct Upstream {
    /// Where it listens.
    pub addr: SocketAddr,
    records: Arc<Mutex<Vec<Recorded>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Upstream {
    /// Start on an ephemeral loopback port.
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let records: Arc<Mutex<Vec<Recorded>>> = Arc::default();
        let recs = records.clone();
        let task = crate::tls::serve(listener, move |req| route(req, recs.clone(), addr));
        Self {
            addr,
            records,
            task,
        }
    }

    /// `https://127.0.0.1:<port>` (`http://` when the stack runs plain
    /// HTTP, see [`crate::tls`]).
    pub fn base(&self) -> String {
        format!("{}://{}", crate::tls::scheme(), self.addr)
    }

    /// What it received so far.
    pub fn records(&self) -> Vec<Recorded> {
        self.records.lock().unwrap().clone()
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn route(
    req: Request<Incoming>,
    recs: Arc<Mutex<Vec<Recorded>>>,
    addr: SocketAddr,
) -> Response<Full<Bytes>> {
    let method = req.method().to_string();
    let uri = req.uri().to_string();
    let path = req.uri().path().to_owned();
    let headers: Vec<(String, String)> = req
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes().to_vec())
        .unwrap_or_default();
    recs.lock().unwrap().push(Recorded {
        method,
        uri: uri.clone(),
        headers: headers.clone(),
        body,
    });
    let ok = |body: Bytes| {
        let mut r = Response::new(Full::new(body));
        r.headers_mut().insert("x-upstream", "yes".parse().unwrap());
        r
    };
    match path.as_str() {
        "/echo" => {
            let echoed = serde_json::json!({ "uri": uri, "headers": headers });
            let mut r = ok(Bytes::from(echoed.to_string()));
            // A header that reflects the credential too.
            if let Some((_, v)) = headers.iter().find(|(k, _)| k == "authorization") {
                if let Ok(v) = v.parse() {
                    r.headers_mut().insert("x-echo-auth", v);
                }
            }
            r
        }
        "/redirect" => {
            let mut r = ok(Bytes::new());
            *r.status_mut() = StatusCode::FOUND;
            r.headers_mut().insert(
                "location",
                format!("{}://{addr}/stolen", crate::tls::scheme())
                    .parse()
                    .unwrap(),
            );
            r
        }
        "/big" => ok(Bytes::from(vec![b'x'; 2 * 1024 * 1024])),
        "/slow" => {
            tokio::time::sleep(Duration::from_secs(5)).await;
            ok(Bytes::from_static(b"late"))
        }
        "/binary" => ok(Bytes::from((0u8..=255).collect::<Vec<u8>>())),
        "/close" => {
            let mut r = ok(Bytes::from_static(br#"{"ok":true}"#));
            r.headers_mut()
                .insert("connection", "close".parse().unwrap());
            r
        }
        _ => ok(Bytes::from_static(br#"{"ok":true}"#)),
    }
}

/// The two functions under the runner, and a Lambda client pointed at it.
pub struct LambdaEnv {
    runner: Option<Runner>,
    /// `aws-sdk-lambda` client whose endpoint is the runner.
    pub lambda: aws_sdk_lambda::Client,
    log_dir: PathBuf,
}

impl LambdaEnv {
    /// Start debug `inject` and `admin` for `env`'s table and platform key.
    pub async fn start(env: &Env) -> Self {
        Self::start_with(env, &RunOptions::default()).await
    }

    /// Start `inject` and `admin` as `opts` says.
    pub async fn start_with(env: &Env, opts: &RunOptions) -> Self {
        let log_dir = opts
            .log_dir
            .clone()
            .unwrap_or_else(|| std::env::temp_dir().join(crate::unique("keybroker-runner")));
        let vars = vec![
            ("KEYBROKER_TABLE".to_owned(), TABLE.to_owned()),
            (
                "KEYBROKER_PLATFORM_KEY_ARN".to_owned(),
                env.platform_key_arn.clone(),
            ),
            ("RUST_LOG".to_owned(), opts.rust_log.to_owned()),
            // The local upstreams listen on 127.0.0.1: this deployment
            // allows private destinations (`opts.env` may turn it off).
            (
                keybroker_lambda::edge::destination::ALLOW_PRIVATE_ENV.to_owned(),
                "1".to_owned(),
            ),
        ]
        .into_iter()
        // Trust in the stack's CA (TLS), or plain http allowed on loopback
        // (a deployment setting, never a stored one: `AccessSettings`).
        .chain(crate::tls::function_env())
        .chain(opts.env.iter().cloned())
        .collect::<Vec<_>>();
        // Each function runs as a session of its own execution role, handed
        // over in the environment as Lambda does (after `vars`, so nothing
        // overrides them).
        crate::broker_identity::ensure_broker_roles().await;
        let inject_creds = lambda_credentials_env(BrokerRole::Inject).await;
        let admin_creds = lambda_credentials_env(BrokerRole::Admin).await;
        let spec = |name: &str| {
            let mut s = FunctionSpec::new(name, workspace_bin(name, opts.profile));
            s.env = vars.clone();
            s.env.extend(if name == "inject" {
                inject_creds.clone()
            } else {
                admin_creds.clone()
            });
            s.timeout = opts.timeout;
            s.instances = opts.instances;
            if name == "inject" {
                s.wrapper = opts.inject_wrapper.clone();
            }
            s
        };
        let runner = Runner::start(
            opts.listen,
            vec![spec("inject"), spec("admin")],
            Some(log_dir.clone()),
        )
        .await
        .expect("runner starts");
        let sdk = broker_sdk_config().await;
        let conf = aws_sdk_lambda::config::Builder::from(&sdk)
            .endpoint_url(runner.endpoint())
            .build();
        Self {
            runner: Some(runner),
            lambda: aws_sdk_lambda::Client::from_conf(conf),
            log_dir,
        }
    }

    /// Invoke `function` with `payload`; returns the decoded response, and
    /// panics on a function error (the handlers must never raise one) or on
    /// an admin result that is not exactly the contract's reply
    /// ([`crate::contract_check`]).
    pub async fn invoke(&self, function: &str, payload: &Value) -> Value {
        let out = self
            .lambda
            .invoke()
            .function_name(function)
            .payload(Blob::new(serde_json::to_vec(payload).unwrap()))
            .send()
            .await
            .expect("Invoke reaches the runner");
        let body = out
            .payload()
            .map(|b| b.as_ref().to_vec())
            .unwrap_or_default();
        assert!(
            out.function_error().is_none(),
            "function error: {}",
            String::from_utf8_lossy(&body)
        );
        let reply: Value = serde_json::from_slice(&body).expect("response is JSON");
        if function == "admin" {
            contract_check::assert_admin_reply(payload, &reply);
        }
        reply
    }

    /// An admin call that must succeed; returns its `result`.
    pub async fn admin(&self, payload: Value) -> Value {
        let r = self.invoke("admin", &payload).await;
        assert_eq!(r["ok"], true, "admin {payload}: {r}");
        r["result"].clone()
    }

    /// The typed client every other caller uses (keybroker-contract's,
    /// as the CLI and the MCP server do), over this runner: a reply that
    /// does not have the contract's shape is an error, not a `null`.
    pub fn client(&self) -> Client<&Self> {
        Client::new(self)
    }

    /// Everything the functions printed: stdout (audit) and stderr (logs).
    pub fn output(&self) -> String {
        let mut all = String::new();
        if let Ok(dir) = std::fs::read_dir(&self.log_dir) {
            for entry in dir.flatten() {
                all.push_str(&std::fs::read_to_string(entry.path()).unwrap_or_default());
            }
        }
        all
    }

    /// The audit records printed by every `inject` instance so far.
    pub fn audit_records(&self) -> Vec<Value> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(&self.log_dir)
            .into_iter()
            .flatten()
            .flatten()
        {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with("inject-") && name.ends_with(".stdout") {
                let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
                out.extend(
                    text.lines()
                        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
                        .filter(|v| v["schema"] == keybroker_lambda::inject::audit::SCHEMA),
                );
            }
        }
        out
    }

    /// Where the functions' output goes (one file per instance and stream).
    pub fn log_dir(&self) -> &std::path::Path {
        &self.log_dir
    }

    /// The runner (cold-start timings, process ids).
    pub fn runner(&self) -> &Runner {
        self.runner.as_ref().expect("running")
    }

    /// Stop the functions.
    pub async fn stop(mut self) {
        if let Some(r) = self.runner.take() {
            r.shutdown().await;
        }
    }
}

/// The runner as the contract client's transport: the same aws-sdk-lambda
/// Invoke the CLI's transport makes, against the runner's endpoint.
impl Transport for &LambdaEnv {
    fn invoke(
        &self,
        function: Function,
        payload: &[u8],
    ) -> impl std::future::Future<Output = Result<Invoked, TransportError>> + Send {
        let call = self
            .lambda
            .invoke()
            .function_name(self.function_name(function))
            .payload(Blob::new(payload.to_vec()));
        let request = payload.to_vec();
        async move {
            use aws_sdk_lambda::error::ProvideErrorMetadata;
            let out = call.send().await.map_err(|e| {
                TransportError::invoke_failed(e.code(), e.message(), "the runner did not answer")
            })?;
            let invoked =
                Invoked::from_output(out.payload().map(|b| b.as_ref()), out.function_error());
            // Only admin's: the load test's injections pay no parse here.
            if function == Function::Admin {
                if let (Ok(request), Ok(reply)) = (
                    serde_json::from_slice::<Value>(&request),
                    serde_json::from_slice::<Value>(&invoked.payload),
                ) {
                    contract_check::assert_admin_reply(&request, &reply);
                }
            }
            Ok(invoked)
        }
    }

    fn function_name(&self, function: Function) -> &str {
        match function {
            Function::Admin => "admin",
            Function::Inject => "inject",
        }
    }
}
