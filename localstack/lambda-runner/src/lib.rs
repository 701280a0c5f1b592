//! # lambda-runner
//!
//! Runs the real Lambda `bootstrap` binaries locally, the way the Lambda
//! service does, so tests, the demo and the benchmarks exercise the shipped
//! artifact and not a test double of it:
//!
//! * to each function *instance* (one child process, like one sandbox) it
//!   serves the **Runtime API** (`/2018-06-01/runtime/invocation/next`,
//!   `.../response`, `.../error`, `/runtime/init/error`) on its own loopback
//!   port, with the `AWS_LAMBDA_*` environment `lambda_runtime` requires;
//! * to callers it serves the **Invoke API**
//!   (`POST /2015-03-31/functions/{name}/invocations`), so `aws-sdk-lambda`'s
//!   `Invoke` pointed at the runner works unchanged.
//!
//! Instances of a function pull from one queue, as concurrent sandboxes do.
//! The runner records when each instance started and first polled for work:
//! the cold-start figure the benchmarks report. It is a development tool,
//! never deployed: no auth, no Docker, loopback only.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::process::{Child, Command};
use tokio::sync::{mpsc, oneshot};

/// One function to run.
#[derive(Debug, Clone)]
pub struct FunctionSpec {
    /// Name callers invoke it by.
    pub name: String,
    /// The `bootstrap` executable.
    pub binary: PathBuf,
    /// Concurrent instances (sandboxes).
    pub instances: usize,
    /// Extra environment for the process (the runner's own is inherited).
    pub env: Vec<(String, String)>,
    /// Invocation timeout.
    pub timeout: Duration,
    /// Memory size reported to the runtime, MB.
    pub memory_mb: u32,
    /// A command the binary runs under (e.g. `valgrind --tool=callgrind`);
    /// empty runs it directly.
    pub wrapper: Vec<String>,
}

impl FunctionSpec {
    /// One instance, 30 s timeout, 128 MB.
    pub fn new(name: &str, binary: impl Into<PathBuf>) -> Self {
        Self {
            name: name.to_owned(),
            binary: binary.into(),
            instances: 1,
            env: Vec::new(),
            timeout: Duration::from_secs(30),
            memory_mb: 128,
            wrapper: Vec::new(),
        }
    }
}

/// Cold-start timing of one instance.
#[derive(Debug, Clone)]
pub struct ColdStart {
    /// Which function the instance runs.
    pub function: String,
    /// Spawn to first `/next` poll: the runtime's init.
    pub to_first_poll: Duration,
    /// When the process was spawned (to time spawn → first completed
    /// invocation from the caller's side).
    pub spawned: Instant,
}

enum Outcome {
    Response(Bytes),
    Error(Bytes),
}

struct Invocation {
    id: String,
    payload: Bytes,
    respond: oneshot::Sender<Outcome>,
}

struct Function {
    spec: FunctionSpec,
    queue: mpsc::Sender<Invocation>,
    inbox: Arc<tokio::sync::Mutex<mpsc::Receiver<Invocation>>>,
    pending: Mutex<HashMap<String, oneshot::Sender<Outcome>>>,
    init_error: Mutex<Option<String>>,
}

/// A running runner. Dropping it kills the child processes.
pub struct Runner {
    endpoint: String,
    children: Vec<(String, Child)>,
    cold_starts: Arc<Mutex<Vec<ColdStart>>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Runner {
    /// Start the Invoke API on `listen` (port 0 for any free port) and every
    /// instance of every function. Child stdout/stderr go to
    /// `<log_dir>/<name>-<i>.{stdout,stderr}` when `log_dir` is set.
    pub async fn start(
        listen: SocketAddr,
        specs: Vec<FunctionSpec>,
        log_dir: Option<PathBuf>,
    ) -> std::io::Result<Self> {
        let mut functions = HashMap::new();
        for spec in specs {
            let (tx, rx) = mpsc::channel(1024);
            let f = Arc::new(Function {
                spec: spec.clone(),
                queue: tx,
                inbox: Arc::new(tokio::sync::Mutex::new(rx)),
                pending: Mutex::new(HashMap::new()),
                init_error: Mutex::new(None),
            });
            functions.insert(spec.name.clone(), f);
        }
        let functions = Arc::new(functions);
        let cold_starts = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        let mut children = Vec::new();

        for f in functions.values() {
            for i in 0..f.spec.instances {
                let listener = TcpListener::bind("127.0.0.1:0").await?;
                let api = listener.local_addr()?;
                let spawned = Instant::now();
                let first_poll = Arc::new(Mutex::new(None::<Instant>));
                let (f2, fp, cs) = (f.clone(), first_poll.clone(), cold_starts.clone());
                tasks.push(tokio::spawn(serve(listener, move |req| {
                    runtime_api(f2.clone(), req, spawned, fp.clone(), cs.clone())
                })));
                let mut cmd = match f.spec.wrapper.split_first() {
                    Some((program, args)) => {
                        let mut c = Command::new(program);
                        c.args(args).arg(&f.spec.binary);
                        c
                    }
                    None => Command::new(&f.spec.binary),
                };
                cmd.envs(f.spec.env.iter().cloned())
                    .env("AWS_LAMBDA_RUNTIME_API", api.to_string())
                    .env("AWS_LAMBDA_FUNCTION_NAME", &f.spec.name)
                    .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
                    .env(
                        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
                        f.spec.memory_mb.to_string(),
                    )
                    .env(
                        "AWS_LAMBDA_LOG_GROUP_NAME",
                        format!("/aws/lambda/{}", f.spec.name),
                    )
                    .env("AWS_LAMBDA_LOG_STREAM_NAME", format!("local/{i}"))
                    .stdin(Stdio::null())
                    .kill_on_drop(true);
                match &log_dir {
                    Some(dir) => {
                        std::fs::create_dir_all(dir)?;
                        let out =
                            std::fs::File::create(dir.join(format!("{}-{i}.stdout", f.spec.name)))?;
                        let err =
                            std::fs::File::create(dir.join(format!("{}-{i}.stderr", f.spec.name)))?;
                        cmd.stdout(out).stderr(err);
                    }
                    None => {
                        cmd.stdout(Stdio::inherit()).stderr(Stdio::inherit());
                    }
                }
                children.push((f.spec.name.clone(), cmd.spawn()?));
            }
        }

        let listener = TcpListener::bind(listen).await?;
        let endpoint = format!("http://{}", listener.local_addr()?);
        let fns = functions.clone();
        tasks.push(tokio::spawn(serve(listener, move |req| {
            invoke_api(fns.clone(), req)
        })));
        Ok(Self {
            endpoint,
            children,
            cold_starts,
            tasks,
        })
    }

    /// Base URL of the Invoke API (use as the Lambda client's endpoint).
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Cold starts observed so far, one per instance that has polled.
    pub fn cold_starts(&self) -> Vec<ColdStart> {
        self.cold_starts
            .lock()
            .map(|v| v.clone())
            .unwrap_or_default()
    }

    /// Process ids of `function`'s instances (for CPU and RSS measurement).
    pub fn pids_of(&self, function: &str) -> Vec<u32> {
        self.children
            .iter()
            .filter(|(name, _)| name == function)
            .filter_map(|(_, c)| c.id())
            .collect()
    }

    /// Kill the instances and stop serving.
    pub async fn shutdown(mut self) {
        for (_, c) in &mut self.children {
            let _ = c.kill().await;
        }
        for t in &self.tasks {
            t.abort();
        }
    }
}

type Reply = Response<Full<Bytes>>;

async fn serve<F, Fut>(listener: TcpListener, handler: F)
where
    F: Fn(Request<Incoming>) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = Reply> + Send + 'static,
{
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let handler = handler.clone();
        tokio::spawn(async move {
            let svc = service_fn(move |req| {
                let h = handler.clone();
                async move { Ok::<_, Infallible>(h(req).await) }
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}

fn reply(status: StatusCode, body: impl Into<Bytes>) -> Reply {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    r
}

async fn body_of(req: Request<Incoming>) -> Bytes {
    req.into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default()
}

fn now_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0)
}

static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

async fn runtime_api(
    f: Arc<Function>,
    req: Request<Incoming>,
    spawned: Instant,
    first_poll: Arc<Mutex<Option<Instant>>>,
    cold_starts: Arc<Mutex<Vec<ColdStart>>>,
) -> Reply {
    let path = req.uri().path().to_owned();
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match (req.method(), parts.as_slice()) {
        (&Method::GET, ["2018-06-01", "runtime", "invocation", "next"]) => {
            if let Ok(mut fp) = first_poll.lock() {
                if fp.is_none() {
                    let now = Instant::now();
                    *fp = Some(now);
                    if let Ok(mut cs) = cold_starts.lock() {
                        cs.push(ColdStart {
                            function: f.spec.name.clone(),
                            to_first_poll: now - spawned,
                            spawned,
                        });
                    }
                }
            }
            let next = f.inbox.lock().await.recv().await;
            let Some(inv) = next else {
                return reply(StatusCode::INTERNAL_SERVER_ERROR, "runner shutting down");
            };
            if let Ok(mut p) = f.pending.lock() {
                p.insert(inv.id.clone(), inv.respond);
            }
            let deadline = now_ms() + f.spec.timeout.as_millis();
            let mut r = reply(StatusCode::OK, inv.payload);
            let h = r.headers_mut();
            let arn = format!(
                "arn:aws:lambda:us-east-1:111111111111:function:{}",
                f.spec.name
            );
            for (k, v) in [
                ("lambda-runtime-aws-request-id", inv.id.clone()),
                ("lambda-runtime-deadline-ms", deadline.to_string()),
                ("lambda-runtime-invoked-function-arn", arn),
                (
                    "lambda-runtime-trace-id",
                    format!("Root=1-local-{}", inv.id),
                ),
                ("content-type", "application/json".into()),
            ] {
                if let Ok(v) = v.parse() {
                    h.insert(k, v);
                }
            }
            r
        }
        (
            &Method::POST,
            ["2018-06-01", "runtime", "invocation", id, kind @ ("response" | "error")],
        ) => {
            let id = (*id).to_owned();
            let is_error = *kind == "error";
            let body = body_of(req).await;
            let responder = f.pending.lock().ok().and_then(|mut p| p.remove(&id));
            match responder {
                Some(tx) => {
                    let _ = tx.send(if is_error {
                        Outcome::Error(body)
                    } else {
                        Outcome::Response(body)
                    });
                    reply(StatusCode::ACCEPTED, r#"{"status":"OK"}"#)
                }
                None => reply(
                    StatusCode::BAD_REQUEST,
                    r#"{"errorType":"InvalidRequestID"}"#,
                ),
            }
        }
        (&Method::POST, ["2018-06-01", "runtime", "init", "error"]) => {
            let body = body_of(req).await;
            if let Ok(mut e) = f.init_error.lock() {
                *e = Some(String::from_utf8_lossy(&body).into_owned());
            }
            reply(StatusCode::ACCEPTED, r#"{"status":"OK"}"#)
        }
        _ => reply(StatusCode::NOT_FOUND, "unknown runtime API path"),
    }
}

async fn invoke_api(
    functions: Arc<HashMap<String, Arc<Function>>>,
    req: Request<Incoming>,
) -> Reply {
    let path = req.uri().path().to_owned();
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let name = match (req.method(), parts.as_slice()) {
        (&Method::POST, ["2015-03-31", "functions", name, "invocations"]) => {
            // Accept a name or an ARN (…:function:NAME).
            name.rsplit(':').next().unwrap_or(name).to_owned()
        }
        _ => return reply(StatusCode::NOT_FOUND, r#"{"Message":"unknown path"}"#),
    };
    let Some(f) = functions.get(&name).cloned() else {
        let mut r = reply(
            StatusCode::NOT_FOUND,
            r#"{"Type":"User","Message":"Function not found"}"#,
        );
        if let Ok(v) = "ResourceNotFoundException".parse() {
            r.headers_mut().insert("x-amzn-errortype", v);
        }
        return r;
    };
    if let Some(e) = f.init_error.lock().ok().and_then(|e| e.clone()) {
        return function_error(Bytes::from(e));
    }
    let payload = body_of(req).await;
    let id = format!(
        "local-{:08}",
        NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    );
    let (tx, rx) = oneshot::channel();
    if f.queue
        .send(Invocation {
            id,
            payload,
            respond: tx,
        })
        .await
        .is_err()
    {
        return reply(
            StatusCode::SERVICE_UNAVAILABLE,
            r#"{"Message":"function stopped"}"#,
        );
    }
    match tokio::time::timeout(f.spec.timeout, rx).await {
        Ok(Ok(Outcome::Response(body))) => {
            let mut r = reply(StatusCode::OK, body);
            if let Ok(v) = "$LATEST".parse() {
                r.headers_mut().insert("x-amz-executed-version", v);
            }
            r
        }
        Ok(Ok(Outcome::Error(body))) => function_error(body),
        Ok(Err(_)) => function_error(Bytes::from_static(
            br#"{"errorType":"Runtime.ExitError","errorMessage":"instance went away"}"#,
        )),
        Err(_) => function_error(Bytes::from_static(
            br#"{"errorType":"Sandbox.Timedout","errorMessage":"Task timed out"}"#,
        )),
    }
}

fn function_error(body: Bytes) -> Reply {
    let mut r = reply(StatusCode::OK, body);
    if let Ok(v) = "Unhandled".parse() {
        r.headers_mut().insert("x-amz-function-error", v);
    }
    r
}
