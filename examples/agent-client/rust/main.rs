//! Call keybroker's `inject` function from a Rust agent runtime.
//!
//! Copy `inject()` into your runtime (README.md next to this file lists the
//! dependencies). The runtime holds lambda:InvokeFunction on `inject` only
//! (../agent-runtime-policy.json) and asserts which agent it acts for; the
//! credential never reaches it. As a CLI (the e2e suite runs it against the
//! local Lambda runner, tests/tests/e2e/agent_client.rs):
//!
//! ```text
//! agent-client --function keybroker-inject --workspace acme --secret github \
//!     --agent agent-7 --header accept:application/vnd.github+json \
//!     GET https://api.github.com/repos/acme/app/issues
//! ```
//!
//! AWS settings come from the standard chain (`AWS_REGION`, `AWS_PROFILE`,
//! ...; `AWS_ENDPOINT_URL_LAMBDA` for a local runner). Exit status as
//! invoke.py: 0 ok, 2 invalid_request, 3 denied, 4 revoked, 5 not_found,
//! 6 upstream_error, 7 throttled or unavailable after retries, 8
//! integrity, 1 anything else.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::Duration;

use aws_sdk_lambda::primitives::Blob;
use serde_json::{json, Value};

/// What a caller does with each `ok: false` type (docs/INVOCATION.md).
#[derive(Debug)]
pub enum InjectError {
    /// `throttled` / `unavailable`: AWS failed before the upstream request
    /// was sent, so a retry is safe for any method (already retried here).
    Retryable {
        /// `error.type`.
        kind: String,
        /// `error.message`.
        message: String,
    },
    /// `revoked`: the customer locked the broker out of their key. Stop
    /// using the secret and tell the workspace owner; do not retry.
    Revoked {
        /// `error.message`.
        message: String,
    },
    /// `denied`: binding or Cedar policy forbids it; nothing was decrypted.
    Denied {
        /// `error.message`.
        message: String,
    },
    /// `upstream_error`: the upstream failed or timed out; it may have
    /// received the request, so retry only idempotent requests.
    Upstream {
        /// `error.message`.
        message: String,
    },
    /// `invalid_request`, `not_found`, `integrity`: fix the call, the name,
    /// or page the operator.
    Other {
        /// `error.type`.
        kind: String,
        /// `error.message`.
        message: String,
    },
    /// The invocation itself failed (Lambda timeout, crash): not a broker answer.
    Invocation(String),
}

impl InjectError {
    /// The CLI's exit status for this error (the same as invoke.py's).
    fn exit_code(&self) -> u8 {
        match self {
            Self::Retryable { .. } => 7,
            Self::Revoked { .. } => 4,
            Self::Denied { .. } => 3,
            Self::Upstream { .. } => 6,
            Self::Other { kind, .. } => match kind.as_str() {
                "invalid_request" => 2,
                "not_found" => 5,
                "integrity" => 8,
                _ => 1,
            },
            Self::Invocation(_) => 1,
        }
    }
}

/// Invoke `inject` and return the upstream's answer (`status`, `headers`,
/// `body` or `body_base64`), retrying throttled/unavailable with backoff.
pub async fn inject(
    lambda: &aws_sdk_lambda::Client,
    function: &str,
    event: &Value,
) -> Result<Value, InjectError> {
    let payload = serde_json::to_vec(event).map_err(|e| InjectError::Invocation(e.to_string()))?;
    let mut delay = Duration::from_millis(200);
    for attempt in 1..=3 {
        let out = lambda
            .invoke()
            .function_name(function)
            .payload(Blob::new(payload.clone()))
            .send()
            .await
            .map_err(|e| InjectError::Invocation(format!("{e:?}")))?;
        if let Some(err) = out.function_error() {
            return Err(InjectError::Invocation(format!("{function} failed: {err}")));
        }
        let bytes = out.payload().map(|b| b.as_ref()).unwrap_or_default();
        let answer: Value =
            serde_json::from_slice(bytes).map_err(|e| InjectError::Invocation(e.to_string()))?;
        if answer["ok"] == json!(true) {
            return Ok(answer);
        }
        let kind = answer["error"]["type"]
            .as_str()
            .unwrap_or("unknown")
            .to_owned();
        let message = answer["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        match kind.as_str() {
            "throttled" | "unavailable" if attempt < 3 => {
                tokio::time::sleep(delay).await;
                delay *= 2;
            }
            "throttled" | "unavailable" => return Err(InjectError::Retryable { kind, message }),
            "revoked" => return Err(InjectError::Revoked { message }),
            "denied" => return Err(InjectError::Denied { message }),
            "upstream_error" => return Err(InjectError::Upstream { message }),
            _ => return Err(InjectError::Other { kind, message }),
        }
    }
    Err(InjectError::Invocation("no attempt was made".to_owned()))
}

/// The command line: `--function F --workspace W --secret S --agent A
/// [--header NAME:VALUE]... [--body TEXT] METHOD URL`.
fn parse_args(args: impl Iterator<Item = String>) -> Result<(String, Value), String> {
    let mut flags: BTreeMap<String, String> = BTreeMap::new();
    let mut headers = serde_json::Map::new();
    let mut positional = Vec::new();
    let mut args = args.peekable();
    while let Some(a) = args.next() {
        let Some(flag) = a.strip_prefix("--") else {
            positional.push(a);
            continue;
        };
        let value = args.next().ok_or(format!("--{flag} needs a value"))?;
        if flag == "header" {
            let (name, v) = value
                .split_once(':')
                .ok_or(format!("--header {value:?} is not NAME:VALUE"))?;
            headers.insert(name.trim().to_lowercase(), json!(v.trim()));
        } else {
            flags.insert(flag.to_owned(), value);
        }
    }
    let [method, url] =
        <[String; 2]>::try_from(positional).map_err(|_| "expected METHOD and URL".to_owned())?;
    let flag = |name: &str| {
        flags
            .get(name)
            .cloned()
            .ok_or(format!("--{name} is required"))
    };
    let mut request = json!({ "method": method.to_uppercase(), "url": url, "headers": headers });
    if let Some(body) = flags.get("body") {
        request["body"] = json!(body);
    }
    let event = json!({
        "workspace": flag("workspace")?,
        "secret": flag("secret")?,
        "agent": flag("agent")?,
        "request": request,
    });
    let function = flags
        .get("function")
        .cloned()
        .unwrap_or_else(|| "keybroker-inject".to_owned());
    Ok((function, event))
}

#[tokio::main]
async fn main() -> ExitCode {
    let (function, event) = match parse_args(std::env::args().skip(1)) {
        Ok(parsed) => parsed,
        Err(e) => {
            eprintln!("agent-client: {e}");
            return ExitCode::from(2);
        }
    };
    let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let lambda = aws_sdk_lambda::Client::new(&config);
    match inject(&lambda, &function, &event).await {
        Ok(answer) => {
            println!("{answer}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            if let InjectError::Revoked { message } = &e {
                eprintln!("access revoked by the key owner: {message}");
            } else {
                eprintln!("inject failed: {e:?}");
            }
            ExitCode::from(e.exit_code())
        }
    }
}
