//! The broker, as the agent runtime reaches it: `lambda:InvokeFunction` on
//! the inject function (docs/INVOCATION.md). Every event carries the
//! configured workspace and agent, never anything a tool call names.

use std::collections::BTreeMap;

use aws_sdk_lambda::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_lambda::primitives::Blob;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// Why a call did not produce an answer.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum BrokerFailure {
    /// The broker answered `ok: false` with a typed error (docs/INVOCATION.md,
    /// "Errors"). `kind` is its stable `error.type`.
    #[error("{kind}: {message}")]
    Refused {
        /// `error.type`, e.g. `denied`, `revoked`.
        kind: String,
        /// The broker's message (never holds the credential).
        message: String,
        /// Correlates with the broker's audit record.
        request_id: Option<String>,
        /// The broker's own retry advice (`backoff`, `reread`,
        /// `if_idempotent`, `never`), passed on unchanged so the model is
        /// told what every other caller is told.
        retry: Option<String>,
        /// The broker's minimum wait before a retry, when it gives one.
        retry_after_ms: Option<u64>,
    },
    /// The function could not be invoked, or failed without a broker
    /// answer (IAM denial, throttling by Lambda, timeout, crash).
    #[error("invoking {function} failed: {detail}")]
    Invocation {
        /// The tool error type it becomes: `unavailable` (Lambda could not
        /// be reached or throttled: nothing ran, retry), `misconfigured`
        /// (denied invoke permission, no such function: retrying will not
        /// help) or `broker_failure` (the function ran and crashed or timed
        /// out: the upstream may have received the request).
        kind: &'static str,
        /// The function.
        function: String,
        /// What the SDK or the runtime reported (no payload).
        detail: String,
    },
}

/// The upstream request a tool call asks for.
#[derive(Debug, Serialize)]
pub struct UpstreamRequest<'a> {
    /// HTTP method.
    pub method: &'a str,
    /// Absolute URL.
    pub url: &'a str,
    /// Extra headers.
    pub headers: &'a BTreeMap<String, String>,
    /// UTF-8 body.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<&'a str>,
}

/// One entry of the `list_secrets` catalog (lambda/src/catalog.rs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretEntry {
    /// Secret name.
    pub name: String,
    /// Hosts it may be sent to.
    #[serde(default)]
    pub hosts: Vec<String>,
    /// Where it is injected: `{"type": "header", "name"}`, `{"type":
    /// "basic_auth"}` or `{"type": "query", "param"}`; `None`: unbound.
    #[serde(default)]
    pub injection: Option<Value>,
    /// `active` or `revoked`.
    #[serde(default)]
    pub status: String,
}

/// A Lambda client bound to one function, workspace and agent.
#[derive(Debug, Clone)]
pub struct Broker {
    lambda: aws_sdk_lambda::Client,
    function: String,
    workspace: String,
    agent: String,
}

impl Broker {
    /// Bind `lambda` to the configured identity.
    pub fn new(
        lambda: aws_sdk_lambda::Client,
        function: String,
        workspace: String,
        agent: String,
    ) -> Self {
        Self {
            lambda,
            function,
            workspace,
            agent,
        }
    }

    /// The workspace this server acts in.
    pub fn workspace(&self) -> &str {
        &self.workspace
    }

    /// Make one upstream request with `secret` injected; returns the
    /// broker's `ok: true` answer (status, headers, body or body_base64,
    /// withheld, request_id).
    pub async fn inject(
        &self,
        secret: &str,
        request: &UpstreamRequest<'_>,
    ) -> Result<Value, BrokerFailure> {
        self.invoke(&json!({
            "workspace": self.workspace,
            "secret": secret,
            "agent": self.agent,
            "request": request,
        }))
        .await
    }

    /// The workspace's secrets: names, hosts, injection kinds.
    pub async fn list_secrets(&self) -> Result<Vec<SecretEntry>, BrokerFailure> {
        let answer = self
            .invoke(&json!({
                "op": "list_secrets",
                "workspace": self.workspace,
                "agent": self.agent,
            }))
            .await?;
        serde_json::from_value(answer["secrets"].clone())
            .map_err(|e| self.failure("broker_failure", e.to_string()))
    }

    fn failure(&self, kind: &'static str, detail: String) -> BrokerFailure {
        BrokerFailure::Invocation {
            kind,
            function: self.function.clone(),
            detail,
        }
    }

    async fn invoke(&self, event: &Value) -> Result<Value, BrokerFailure> {
        let payload =
            serde_json::to_vec(event).map_err(|e| self.failure("unavailable", e.to_string()))?;
        let out = self
            .lambda
            .invoke()
            .function_name(&self.function)
            .payload(Blob::new(payload))
            .send()
            .await
            .map_err(|e| {
                let kind = match e.code() {
                    Some(
                        "AccessDeniedException"
                        | "ResourceNotFoundException"
                        | "InvalidRequestContentException"
                        | "RequestTooLargeException",
                    ) => "misconfigured",
                    _ => "unavailable",
                };
                let detail = match e.code() {
                    Some(code) => format!("{code}: {}", e.message().unwrap_or_default()),
                    None => DisplayErrorContext(&e).to_string(),
                };
                self.failure(kind, detail)
            })?;
        if let Some(kind) = out.function_error() {
            // A crash or timeout, not a broker answer: its payload is the
            // runtime's error report, not passed on.
            return Err(self.failure("broker_failure", format!("the function failed ({kind})")));
        }
        let bytes = out.payload().map(|b| b.as_ref()).unwrap_or_default();
        let answer: Value = serde_json::from_slice(bytes)
            .map_err(|_| self.failure("broker_failure", "the answer is not JSON".to_owned()))?;
        if answer["ok"] == Value::Bool(true) {
            return Ok(answer);
        }
        Err(BrokerFailure::Refused {
            kind: answer["error"]["type"]
                .as_str()
                .unwrap_or("unknown")
                .to_owned(),
            message: answer["error"]["message"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            request_id: answer["request_id"].as_str().map(str::to_owned),
            retry: answer["error"]["retry"].as_str().map(str::to_owned),
            retry_after_ms: answer["error"]["retry_after_ms"].as_u64(),
        })
    }
}
