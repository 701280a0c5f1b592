//! Calling the deployed functions through the Lambda `Invoke` API. The CLI
//! holds no table or KMS client: whoever runs it needs
//! `lambda:InvokeFunction` on the admin (or inject) function and nothing
//! else, so IAM on the function stays the only gate.

use aws_sdk_lambda::error::ProvideErrorMetadata;
use aws_sdk_lambda::primitives::Blob;
use serde::Serialize;
use serde_json::Value;
use zeroize::Zeroizing;

use crate::error::CliError;

/// Which of the two functions a request goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    /// The control plane.
    Admin,
    /// The agent-facing injection.
    Inject,
}

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
    /// `{"ok": false, "error": {"type", "message"}}` on failure.
    pub fn error(&self) -> Option<CliError> {
        if self.json["ok"] == Value::Bool(true) {
            return None;
        }
        let e = &self.json["error"];
        Some(CliError::Broker {
            kind: e["type"].as_str().unwrap_or("").to_owned(),
            message: e["message"].as_str().unwrap_or("(no message)").to_owned(),
        })
    }
}

/// The two functions behind one Lambda client.
#[derive(Debug, Clone)]
pub struct Broker {
    client: aws_sdk_lambda::Client,
    admin: String,
    inject: String,
}

impl Broker {
    /// Load AWS configuration the usual way (env, profile, SSO, instance
    /// role), with the target's overrides.
    pub async fn connect(target: &Target) -> Self {
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
        if let Some(r) = &target.region {
            loader = loader.region(aws_config::Region::new(r.clone()));
        }
        if let Some(p) = &target.profile {
            loader = loader.profile_name(p);
        }
        let sdk = loader.load().await;
        let mut conf = aws_sdk_lambda::config::Builder::from(&sdk);
        if let Some(url) = &target.endpoint_url {
            conf = conf.endpoint_url(url);
        }
        Self {
            client: aws_sdk_lambda::Client::from_conf(conf.build()),
            admin: target.admin.clone(),
            inject: target.inject.clone(),
        }
    }

    /// Invoke `function` synchronously with `payload`.
    ///
    /// The SDK takes its own copy of the bytes to sign and send, which it
    /// does not wipe; the CLI's buffer is wiped when `payload` drops.
    pub async fn invoke(&self, function: Function, payload: &Payload) -> Result<Reply, CliError> {
        let name = match function {
            Function::Admin => &self.admin,
            Function::Inject => &self.inject,
        };
        let out = self
            .client
            .invoke()
            .function_name(name)
            .payload(Blob::new(payload.0.to_vec()))
            .send()
            .await
            .map_err(|e| CliError::Invoke {
                function: name.clone(),
                detail: match (e.code(), e.message()) {
                    (Some(c), Some(m)) => format!("{c}: {m}"),
                    (Some(c), None) => c.to_owned(),
                    _ => aws_sdk_lambda::error::DisplayErrorContext(&e).to_string(),
                },
            })?;
        let bad = |detail: String| CliError::BadReply {
            function: name.clone(),
            detail,
        };
        let raw = out
            .payload()
            .map(|b| b.as_ref().to_vec())
            .unwrap_or_default();
        if let Some(kind) = out.function_error() {
            // Name the error type only: a function error's message is not
            // the broker's vetted reply.
            let parsed: Value = serde_json::from_slice(&raw).unwrap_or(Value::Null);
            return Err(bad(format!(
                "function error {kind} ({})",
                parsed["errorType"].as_str().unwrap_or("no errorType")
            )));
        }
        let json: Value = serde_json::from_slice(&raw)
            .map_err(|e| bad(format!("not JSON ({})", e.classify_name())))?;
        if !json["ok"].is_boolean() {
            return Err(bad(
                "no boolean `ok`: is this a keybroker function?".to_owned()
            ));
        }
        Ok(Reply { raw, json })
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
