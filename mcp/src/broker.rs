//! The broker, as the agent runtime reaches it: `lambda:InvokeFunction` on
//! the inject function (docs/INVOCATION.md). Every event carries the
//! configured workspace and agent, never anything a tool call names.

use aws_sdk_lambda::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_lambda::primitives::Blob;
use keybroker_contract::client::{
    Client, ClientError, Function, Invoked, Transport, TransportError,
};
use keybroker_contract::{CatalogRequest, InjectEvent, InjectReply};

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

pub use keybroker_contract::{CatalogEntry as SecretEntry, UpstreamRequest};

/// aws-sdk-lambda as the contract client's transport, bound to the one
/// function this server invokes.
#[derive(Debug, Clone)]
pub struct LambdaTransport {
    lambda: aws_sdk_lambda::Client,
    function: String,
    /// Set when the AWS configuration cannot sign (no region or
    /// credentials): every call answers with this one line.
    unusable: Option<String>,
}

impl LambdaTransport {
    /// Bind `lambda` to `function`; `unusable` from [`unusable`].
    pub fn new(lambda: aws_sdk_lambda::Client, function: String, unusable: Option<String>) -> Self {
        Self {
            lambda,
            function,
            unusable,
        }
    }
}

/// Why `sdk` cannot sign a request, in one line naming the fix.
pub async fn unusable(sdk: &aws_config::SdkConfig) -> Option<String> {
    use aws_credential_types::provider::ProvideCredentials;
    if sdk.region().is_none() {
        return Some("no AWS region: set AWS_REGION for the MCP server".to_owned());
    }
    let ok = match sdk.credentials_provider() {
        Some(p) => p.provide_credentials().await.is_ok(),
        None => false,
    };
    (!ok).then(|| {
        "no AWS credentials: give the MCP server AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE".to_owned()
    })
}

/// What failed when AWS gave no answer: the failure's kind, for
/// [`TransportError::invoke_failed`].
fn no_answer<E, R>(e: &SdkError<E, R>) -> &'static str {
    match e {
        SdkError::TimeoutError(_) => "timed out",
        SdkError::DispatchFailure(_) => "could not reach the Lambda endpoint",
        _ => "the request could not be made",
    }
}

impl Transport for LambdaTransport {
    fn function_name(&self, _: Function) -> &str {
        &self.function
    }

    async fn invoke(&self, _: Function, payload: &[u8]) -> Result<Invoked, TransportError> {
        if let Some(fix) = &self.unusable {
            return Err(TransportError::NotConfigured { fix: fix.clone() });
        }
        let out = self
            .lambda
            .invoke()
            .function_name(&self.function)
            .payload(Blob::new(payload.to_vec()))
            .send()
            .await
            .map_err(|e| TransportError::invoke_failed(e.code(), e.message(), no_answer(&e)))?;
        Ok(Invoked::from_output(
            out.payload().map(|b| b.as_ref()),
            out.function_error(),
        ))
    }
}

/// A contract client bound to one function, workspace and agent.
#[derive(Debug, Clone)]
pub struct Broker {
    client: Client<LambdaTransport>,
    workspace: String,
    agent: String,
}

impl Broker {
    /// Bind `transport` to the configured identity.
    pub fn new(transport: LambdaTransport, workspace: String, agent: String) -> Self {
        Self {
            client: Client::new(transport),
            workspace,
            agent,
        }
    }

    /// The workspace this server acts in.
    pub fn workspace(&self) -> &str {
        &self.workspace
    }

    /// Make one upstream request with `secret` injected; returns the
    /// broker's `ok: true` answer.
    pub async fn inject(
        &self,
        secret: &str,
        request: UpstreamRequest,
    ) -> Result<InjectReply, BrokerFailure> {
        let event = InjectEvent {
            workspace: self.workspace.clone(),
            secret: secret.to_owned(),
            agent: self.agent.clone(),
            request,
        };
        let answer = self.client.inject(&event).await.map_err(failure)?;
        Ok(answer.value)
    }

    /// The workspace's secrets: names, hosts, injection kinds.
    pub async fn list_secrets(&self) -> Result<Vec<SecretEntry>, BrokerFailure> {
        let request = CatalogRequest::ListSecrets {
            workspace: self.workspace.clone(),
            agent: self.agent.clone(),
        };
        Ok(self
            .client
            .catalog(&request)
            .await
            .map_err(failure)?
            .secrets)
    }
}

/// The contract client's error as a tool failure.
fn failure(e: ClientError) -> BrokerFailure {
    let invocation = |kind, function: String, detail: String| BrokerFailure::Invocation {
        kind,
        function,
        detail,
    };
    match e {
        ClientError::Refused { body, request_id } => BrokerFailure::Refused {
            kind: body.kind.as_str().to_owned(),
            retry: serde_json::to_value(body.retry)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned)),
            retry_after_ms: body.retry_after_ms,
            message: body.message,
            request_id,
        },
        ClientError::Transport { function, source } => {
            let kind = match source {
                TransportError::NotConfigured { .. } | TransportError::Misconfigured { .. } => {
                    "misconfigured"
                }
                TransportError::Unavailable { .. } => "unavailable",
            };
            invocation(kind, function, source.to_string())
        }
        ClientError::FunctionFailed { function, kind } => invocation(
            "broker_failure",
            function,
            format!("the function failed ({kind})"),
        ),
        ClientError::BadReply { function, detail } => {
            invocation("broker_failure", function, detail)
        }
        ClientError::Unserialisable => invocation(
            "unavailable",
            String::new(),
            "the request cannot be serialised".to_owned(),
        ),
    }
}
