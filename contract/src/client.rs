//! One typed Invoke client (feature `client`) for every caller: the CLI, the
//! MCP server and the test suite. The transport is the caller's (each one
//! brings aws-sdk-lambda configured its own way, or anything else that can
//! invoke a function), so this crate stays free of AWS; the client owns the
//! rest: the event's JSON, the reply's envelope, and one typed error for
//! every way a call can fail.

use std::future::Future;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::admin::{AdminOp, AdminRequest};
use crate::catalog::{CatalogReply, CatalogRequest};
use crate::error::{ErrorBody, ErrorType};
use crate::inject::{InjectEvent, InjectReply};

/// Which of the two functions a request goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    /// The control plane.
    Admin,
    /// The agent-facing injection (and its catalog).
    Inject,
}

/// What a transport got back from one invocation.
#[derive(Debug)]
pub struct Invoked {
    /// The function's payload, as returned.
    pub payload: Vec<u8>,
    /// Lambda's `FunctionError` (`Unhandled`: a crash or timeout), if any.
    pub function_error: Option<String>,
}

impl Invoked {
    /// From the two fields of an SDK `InvokeOutput` (`payload()`,
    /// `function_error()`), so each transport maps a reply in one line and
    /// the contract stays free of the AWS SDK. No payload is an empty one
    /// (the client then reports it as unreadable).
    pub fn from_output(payload: Option<&[u8]>, function_error: Option<&str>) -> Self {
        Self {
            payload: payload.map(<[u8]>::to_vec).unwrap_or_default(),
            function_error: function_error.map(str::to_owned),
        }
    }
}

/// Why a transport could not invoke.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransportError {
    /// No usable AWS configuration (credentials, region): `fix` is the one
    /// line that says what to set.
    #[error("{fix}")]
    NotConfigured {
        /// What to do, in one line.
        fix: String,
    },
    /// The invoke was refused and retrying will not help (no permission,
    /// no such function, payload too large).
    #[error("{detail}")]
    Misconfigured {
        /// The AWS error code and message.
        detail: String,
    },
    /// Lambda could not be reached or throttled: nothing ran.
    #[error("{detail}")]
    Unavailable {
        /// The AWS error code and message, or the connection failure.
        detail: String,
    },
}

/// Lambda `Invoke` error codes that retrying will not mend: the caller's
/// configuration is wrong (permission, function name, payload, signature).
const MISCONFIGURED_CODES: [&str; 6] = [
    "AccessDeniedException",
    "ResourceNotFoundException",
    "InvalidRequestContentException",
    "RequestTooLargeException",
    "UnrecognizedClientException",
    "InvalidSignatureException",
];

impl TransportError {
    /// A failed `Invoke`, as every aws-sdk-lambda transport reports it: the
    /// AWS error `code` and `message` when AWS answered, else `no_answer`
    /// (the kind of failure, named by the transport: never the SDK's nested
    /// `Debug`); [`TransportError::Misconfigured`] for the codes retrying
    /// will not mend, [`TransportError::Unavailable`] for the rest.
    pub fn invoke_failed(code: Option<&str>, message: Option<&str>, no_answer: &str) -> Self {
        let detail = match (code, message) {
            (Some(c), Some(m)) => format!("{c}: {m}"),
            (Some(c), None) => c.to_owned(),
            (None, _) => no_answer.to_owned(),
        };
        match code {
            Some(c) if MISCONFIGURED_CODES.contains(&c) => Self::Misconfigured { detail },
            _ => Self::Unavailable { detail },
        }
    }
}

/// Something that can invoke a function synchronously.
pub trait Transport {
    /// Invoke `function` with `payload`.
    fn invoke(
        &self,
        function: Function,
        payload: &[u8],
    ) -> impl Future<Output = Result<Invoked, TransportError>> + Send;
    /// The function's name or ARN, for messages.
    fn function_name(&self, function: Function) -> &str;
}

/// Why a call produced no `ok: true` answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    /// The broker answered `ok: false`.
    #[error("{body}")]
    Refused {
        /// The error body (type, message, retry advice).
        body: ErrorBody,
        /// The request id, when the reply has one (inject).
        request_id: Option<String>,
    },
    /// The function could not be invoked.
    #[error("invoking {function} failed: {source}")]
    Transport {
        /// The function.
        function: String,
        /// Why.
        #[source]
        source: TransportError,
    },
    /// The function ran and failed without a broker answer (a crash or
    /// timeout): the upstream may have received the request.
    #[error("{function} failed ({kind}) without an answer")]
    FunctionFailed {
        /// The function.
        function: String,
        /// Lambda's `FunctionError`.
        kind: String,
    },
    /// The answer is not a keybroker reply of the expected shape.
    #[error("{function} answered something unexpected: {detail}")]
    BadReply {
        /// The function.
        function: String,
        /// What was wrong (a serde category, never the payload).
        detail: String,
    },
    /// The request could not be serialised.
    #[error("the request cannot be serialised")]
    Unserialisable,
}

impl ClientError {
    /// The broker's error type, when the broker answered.
    pub fn error_type(&self) -> Option<&ErrorType> {
        match self {
            Self::Refused { body, .. } => Some(&body.kind),
            _ => None,
        }
    }
}

/// The admin reply envelope.
#[derive(Deserialize)]
struct AdminEnvelope<T> {
    ok: bool,
    #[serde(default = "Option::default")]
    result: Option<T>,
    #[serde(default)]
    error: Option<ErrorBody>,
}

/// A reply's raw bytes and its typed reading.
#[derive(Debug)]
pub struct Answer<T> {
    /// Exactly what the function returned (what `--json` prints).
    pub raw: Vec<u8>,
    /// Parsed.
    pub value: T,
}

/// The typed client over a transport.
#[derive(Debug, Clone)]
pub struct Client<T> {
    transport: T,
}

impl<T: Transport> Client<T> {
    /// A client over `transport`.
    pub fn new(transport: T) -> Self {
        Self { transport }
    }

    /// The transport.
    pub fn transport(&self) -> &T {
        &self.transport
    }

    /// One injection: the upstream's answer, or why there is none.
    pub async fn inject(&self, event: &InjectEvent) -> Result<Answer<InjectReply>, ClientError> {
        let payload = to_vec(event)?;
        let answer = self
            .invoke_raw::<InjectReply>(Function::Inject, &payload)
            .await?;
        let request_id = Some(answer.value.request_id.clone());
        match answer.value.into_result() {
            Ok(value) => Ok(Answer {
                raw: answer.raw,
                value,
            }),
            Err(body) => Err(ClientError::Refused { body, request_id }),
        }
    }

    /// inject's catalog.
    pub async fn catalog(&self, request: &CatalogRequest) -> Result<CatalogReply, ClientError> {
        let payload = to_vec(request)?;
        let answer = self
            .invoke_raw::<InjectReply>(Function::Inject, &payload)
            .await?;
        if !answer.value.ok {
            let request_id = Some(answer.value.request_id.clone());
            let body = answer.value.into_result().err().unwrap_or_else(|| {
                ErrorBody::new(ErrorType::Internal, "ok: false without an error body")
            });
            return Err(ClientError::Refused { body, request_id });
        }
        self.parse(Function::Inject, &answer.raw)
    }

    /// One admin operation, typed by its request.
    pub async fn admin<Op: AdminOp + Clone + Into<AdminRequest>>(
        &self,
        op: &Op,
    ) -> Result<Answer<Op::Reply>, ClientError> {
        let payload = to_vec(&op.clone().into())?;
        self.admin_bytes::<Op::Reply>(&payload).await
    }

    /// One admin operation from an already serialised request (the CLI
    /// builds requests that carry values in wiped buffers).
    pub async fn admin_bytes<R: DeserializeOwned>(
        &self,
        payload: &[u8],
    ) -> Result<Answer<R>, ClientError> {
        let answer = self
            .invoke_raw::<AdminEnvelope<R>>(Function::Admin, payload)
            .await?;
        let name = self.transport.function_name(Function::Admin);
        match answer.value {
            AdminEnvelope {
                ok: true,
                result: Some(value),
                ..
            } => Ok(Answer {
                raw: answer.raw,
                value,
            }),
            AdminEnvelope { ok: true, .. } => Err(ClientError::BadReply {
                function: name.to_owned(),
                detail: "ok: true without a result".to_owned(),
            }),
            AdminEnvelope { error, .. } => Err(ClientError::Refused {
                body: error.unwrap_or_else(|| {
                    ErrorBody::new(ErrorType::Internal, "ok: false without an error body")
                }),
                request_id: None,
            }),
        }
    }

    /// Invoke and parse the reply as `R` (no `ok` check).
    pub async fn invoke_raw<R: DeserializeOwned>(
        &self,
        function: Function,
        payload: &[u8],
    ) -> Result<Answer<R>, ClientError> {
        let name = self.transport.function_name(function).to_owned();
        let out = self
            .transport
            .invoke(function, payload)
            .await
            .map_err(|source| ClientError::Transport {
                function: name.clone(),
                source,
            })?;
        if let Some(kind) = out.function_error {
            // A crash or timeout: its payload is the runtime's report, not
            // a broker answer, and is not passed on.
            return Err(ClientError::FunctionFailed {
                function: name,
                kind,
            });
        }
        let value = self.parse(function, &out.payload)?;
        Ok(Answer {
            raw: out.payload,
            value,
        })
    }

    fn parse<R: DeserializeOwned>(&self, function: Function, raw: &[u8]) -> Result<R, ClientError> {
        serde_json::from_slice(raw).map_err(|e| ClientError::BadReply {
            function: self.transport.function_name(function).to_owned(),
            // Never the error's Display: it could quote the payload.
            detail: format!(
                "{:?} at line {} column {}",
                e.classify(),
                e.line(),
                e.column()
            ),
        })
    }
}

fn to_vec<T: Serialize>(v: &T) -> Result<Vec<u8>, ClientError> {
    serde_json::to_vec(v).map_err(|_| ClientError::Unserialisable)
}

#[cfg(test)]
mod tests {
    use super::{Invoked, TransportError};

    #[test]
    fn an_sdk_output_maps_field_for_field_and_no_payload_is_empty() {
        let crashed = Invoked::from_output(None, Some("Unhandled"));
        assert!(crashed.payload.is_empty());
        assert_eq!(crashed.function_error.as_deref(), Some("Unhandled"));
        let ok = Invoked::from_output(Some(br#"{"ok":true}"#), None);
        assert_eq!(ok.payload, br#"{"ok":true}"#);
        assert_eq!(ok.function_error, None);
    }

    #[test]
    fn an_invoke_failure_names_the_aws_code_or_the_kind_and_sorts_by_whether_retry_helps() {
        assert_eq!(
            TransportError::invoke_failed(Some("AccessDeniedException"), Some("no"), "x"),
            TransportError::Misconfigured {
                detail: "AccessDeniedException: no".into()
            }
        );
        assert_eq!(
            TransportError::invoke_failed(Some("InvalidSignatureException"), None, "x"),
            TransportError::Misconfigured {
                detail: "InvalidSignatureException".into()
            }
        );
        assert_eq!(
            TransportError::invoke_failed(Some("TooManyRequestsException"), Some("slow"), "x"),
            TransportError::Unavailable {
                detail: "TooManyRequestsException: slow".into()
            }
        );
        assert_eq!(
            TransportError::invoke_failed(None, None, "timed out"),
            TransportError::Unavailable {
                detail: "timed out".into()
            }
        );
    }
}
