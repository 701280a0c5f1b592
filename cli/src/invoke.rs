//! Calling the deployed functions through the Lambda `Invoke` API. The CLI
//! holds no table or KMS client: whoever runs it needs
//! `lambda:InvokeFunction` on the admin (or inject) function and nothing
//! else, so IAM on the function stays the only gate.

use aws_sdk_lambda::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_lambda::primitives::Blob;
pub use keybroker_contract::client::Function;
use keybroker_contract::client::{Client, Invoked, Transport, TransportError};
use keybroker_contract::{ErrorBody, ErrorType};
use serde::Serialize;
use serde_json::Value;
use zeroize::Zeroizing;

use crate::error::CliError;

/// Where the functions are and how to reach them.
#[derive(Debug, Clone)]
pub struct Target {
    /// Name or ARN of the admin function.
    pub admin: String,
    /// Name or ARN of the inject function.
    pub inject: String,
    /// Lambda endpoint override (the local runner).
    pub endpoint_url: Option<String>,
    /// Region override.
    pub region: Option<String>,
    /// Named profile from the shared AWS config.
    pub profile: Option<String>,
}

/// A serialized request. It may carry a secret value, so it lives in a
/// zeroizing buffer allocated at its exact size (no reallocation copies).
pub struct Payload(Zeroizing<Vec<u8>>);

impl Payload {
    /// Serialize `request` into a buffer of exactly the needed size.
    pub fn new<T: Serialize>(request: &T) -> Result<Self, CliError> {
        let fail = |e: serde_json::Error| CliError::Argument {
            flag: "request",
            reason: format!("cannot be serialized: {}", e.classify_name()),
        };
        let mut counter = Counter(0);
        serde_json::to_writer(&mut counter, request).map_err(fail)?;
        let mut buf = Zeroizing::new(Vec::with_capacity(counter.0));
        serde_json::to_writer(&mut *buf, request).map_err(fail)?;
        Ok(Self(buf))
    }

    /// The bytes, for tests.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for Payload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Payload({} bytes)", self.0.len())
    }
}

trait ClassifyName {
    fn classify_name(&self) -> &'static str;
}

impl ClassifyName for serde_json::Error {
    fn classify_name(&self) -> &'static str {
        // Never the error's Display: it could quote the input.
        match self.classify() {
            serde_json::error::Category::Io => "i/o",
            serde_json::error::Category::Syntax => "syntax",
            serde_json::error::Category::Data => "data",
            serde_json::error::Category::Eof => "eof",
        }
    }
}

struct Counter(usize);

impl std::io::Write for Counter {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0 += b.len();
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A broker reply: the raw bytes (what `--json` prints, unchanged) and the
/// parsed object.
#[derive(Debug)]
pub struct Reply {
    /// Exactly what the function returned.
    pub raw: Vec<u8>,
    /// Parsed.
    pub json: Value,
}

impl Reply {
    /// `Err(Broker)` when the reply is `ok: false`: both functions answer
    /// with the contract's error body on failure (an unknown type is kept).
    pub fn error(&self) -> Option<CliError> {
        if self.json["ok"] == Value::Bool(true) {
            return None;
        }
        let body = serde_json::from_value::<ErrorBody>(self.json["error"].clone())
            .unwrap_or_else(|_| ErrorBody::new(ErrorType::Other(String::new()), "(no error body)"));
        Some(CliError::Broker {
            kind: body.kind.as_str().to_owned(),
            message: body.message,
        })
    }

    /// The `result` read as `T` (the contract's reply for the operation).
    pub fn result<T: serde::de::DeserializeOwned>(&self, function: &str) -> Result<T, CliError> {
        serde_json::from_value(self.json["result"].clone()).map_err(|e| CliError::BadReply {
            function: function.to_owned(),
            detail: format!(
                "the result does not read as expected ({})",
                e.classify_name()
            ),
        })
    }
}

/// aws-sdk-lambda as the contract client's transport.
#[derive(Debug, Clone)]
pub struct LambdaTransport {
    client: aws_sdk_lambda::Client,
    admin: String,
    inject: String,
    /// Set when the configuration cannot work (no credentials or region):
    /// every call answers with it instead of an SDK error dump.
    unusable: Option<String>,
}

impl LambdaTransport {
    /// Load AWS configuration the usual way (env, profile, SSO, instance
    /// role), with the target's overrides, and check that it can sign.
    pub async fn connect(target: &Target) -> Self {
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
        if let Some(r) = &target.region {
            loader = loader.region(aws_config::Region::new(r.clone()));
        }
        if let Some(p) = &target.profile {
            loader = loader.profile_name(p);
        }
        let sdk = loader.load().await;
        let unusable = unusable(&sdk).await;
        let mut conf = aws_sdk_lambda::config::Builder::from(&sdk);
        if let Some(url) = &target.endpoint_url {
            conf = conf.endpoint_url(url);
        }
        Self {
            client: aws_sdk_lambda::Client::from_conf(conf.build()),
            admin: target.admin.clone(),
            inject: target.inject.clone(),
            unusable,
        }
    }
}

/// Why `sdk` cannot sign a request, in one line naming the fix; `None`:
/// it has a region and its credentials resolve.
pub async fn unusable(sdk: &aws_config::SdkConfig) -> Option<String> {
    use aws_credential_types::provider::ProvideCredentials;
    if sdk.region().is_none() {
        return Some(
            "no AWS region: set AWS_REGION (or --region, or a profile with a region)".to_owned(),
        );
    }
    let Some(provider) = sdk.credentials_provider() else {
        return Some(NO_CREDENTIALS.to_owned());
    };
    match provider.provide_credentials().await {
        Ok(_) => None,
        Err(_) => Some(NO_CREDENTIALS.to_owned()),
    }
}

/// The fix for missing credentials, in one line.
pub const NO_CREDENTIALS: &str = "no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE (aws configure / aws sso login)";

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
    fn function_name(&self, function: Function) -> &str {
        match function {
            Function::Admin => &self.admin,
            Function::Inject => &self.inject,
        }
    }

    async fn invoke(&self, function: Function, payload: &[u8]) -> Result<Invoked, TransportError> {
        if let Some(fix) = &self.unusable {
            return Err(TransportError::NotConfigured { fix: fix.clone() });
        }
        let out = self
            .client
            .invoke()
            .function_name(self.function_name(function))
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

/// The two functions behind one contract client.
#[derive(Debug, Clone)]
pub struct Broker {
    client: Client<LambdaTransport>,
}

impl Broker {
    /// Connect (see [`LambdaTransport::connect`]).
    pub async fn connect(target: &Target) -> Self {
        Self {
            client: Client::new(LambdaTransport::connect(target).await),
        }
    }

    /// The function's name, for messages.
    pub fn name(&self, function: Function) -> &str {
        self.client.transport().function_name(function)
    }

    /// Invoke `function` synchronously with `payload`.
    ///
    /// The SDK takes its own copy of the bytes to sign and send, which it
    /// does not wipe; the CLI's buffer is wiped when `payload` drops.
    pub async fn invoke(&self, function: Function, payload: &Payload) -> Result<Reply, CliError> {
        let answer = self
            .client
            .invoke_raw::<Value>(function, &payload.0)
            .await
            .map_err(CliError::from)?;
        if !answer.value["ok"].is_boolean() {
            return Err(CliError::BadReply {
                function: self.name(function).to_owned(),
                detail: "no boolean `ok`: is this a keybroker function?".to_owned(),
            });
        }
        Ok(Reply {
            raw: answer.raw,
            json: answer.value,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_is_exact_json_with_the_value_escaped() {
        let value = "sk-\"quoted\"\\\u{1}é";
        let p = Payload::new(&serde_json::json!({"op": "put_secret", "value": value})).unwrap();
        assert_eq!(p.0.capacity(), p.0.len(), "allocated exactly once");
        let back: Value = serde_json::from_slice(p.as_bytes()).unwrap();
        assert_eq!(back["value"], value);
        assert!(!format!("{p:?}").contains("sk-"));
    }

    #[test]
    fn replies_map_to_broker_errors_by_type() {
        let reply = |v: Value| Reply {
            raw: v.to_string().into_bytes(),
            json: v,
        };
        assert!(reply(serde_json::json!({"ok": true, "result": {}}))
            .error()
            .is_none());
        let e =
            reply(serde_json::json!({"ok": false, "error": {"type": "not_found", "message": "m"}}))
                .error()
                .unwrap();
        assert_eq!(e.exit_code(), 11);
        let e = reply(serde_json::json!({"ok": false})).error().unwrap();
        assert_eq!(e.exit_code(), crate::exit::UNKNOWN_TYPE);
    }
}
