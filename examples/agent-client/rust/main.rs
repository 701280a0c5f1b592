//! Call keybroker's `inject` function from a Rust agent runtime.
//!
//! Not part of the keybroker workspace: copy it into your runtime's crate
//! (README.md next to this file lists the dependencies). The runtime holds
//! lambda:InvokeFunction on `inject` only (../agent-runtime-policy.json) and
//! asserts which agent it acts for; the credential never reaches it.

use std::time::Duration;

use aws_sdk_lambda::primitives::Blob;
use serde_json::{json, Value};

/// What a caller does with each `ok: false` type (docs/INVOCATION.md).
#[derive(Debug)]
pub enum InjectError {
    /// `throttled` / `unavailable`: AWS failed before the upstream request
    /// was sent, so a retry is safe for any method (already retried here).
    Retryable { kind: String, message: String },
    /// `revoked`: the customer locked the broker out of their key. Stop
    /// using the secret and tell the workspace owner; do not retry.
    Revoked { message: String },
    /// `denied`: binding or Cedar policy forbids it; nothing was decrypted.
    Denied { message: String },
    /// `upstream_error`: the upstream failed or timed out; it may have
    /// received the request, so retry only idempotent requests.
    Upstream { message: String },
    /// `invalid_request`, `not_found`, `integrity`: fix the call, the name,
    /// or page the operator.
    Other { kind: String, message: String },
    /// The invocation itself failed (Lambda timeout, crash): not a broker answer.
    Invocation(String),
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
        let kind = answer["error"]["type"].as_str().unwrap_or("unknown").to_owned();
        let message = answer["error"]["message"].as_str().unwrap_or_default().to_owned();
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
    unreachable!("the loop returns on its last attempt")
}

#[tokio::main]
async fn main() {
    let config = aws_config::load_from_env().await;
    let lambda = aws_sdk_lambda::Client::new(&config);
    let event = json!({
        "workspace": "acme",
        "secret": "github",
        "agent": "agent-7",
        "request": {
            "method": "GET",
            "url": "https://api.github.com/repos/acme/app/issues",
            "headers": { "accept": "application/vnd.github+json" }
        }
    });
    match inject(&lambda, "keybroker-inject", &event).await {
        Ok(answer) => println!("{} {}", answer["status"], answer["body"]),
        Err(InjectError::Revoked { message }) => eprintln!("access revoked by the key owner: {message}"),
        Err(e) => eprintln!("inject failed: {e:?}"),
    }
}
