//! The injection: the event an agent runtime sends `inject` and the reply
//! it gets (docs/INVOCATION.md, docs/inject.schema.json). The event is
//! parsed strictly by the function: unknown fields are an
//! `invalid_request`, so a typo never silently changes what is sent.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{ErrorBody, ErrorType};

/// One injection: make `request` with `secret` injected where it is bound.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InjectEvent {
    /// Workspace (tenant) the secret belongs to.
    pub workspace: String,
    /// Name of the secret to inject.
    pub secret: String,
    /// The agent asking, as asserted by the agent runtime that invokes us.
    pub agent: String,
    /// The upstream request, without the credential.
    pub request: UpstreamRequest,
}

/// The request the agent wants made.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamRequest {
    /// HTTP method, uppercase.
    pub method: String,
    /// Absolute URL; its host must be bound to the secret.
    pub url: String,
    /// Extra headers. May not include the injected header or framing headers.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Body as UTF-8 text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// Body as base64 (binary). At most one of `body` and `body_base64`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_base64: Option<String>,
    /// Timeout for this request, capped by the function's maximum.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
}

/// What the agent gets back. Read leniently (no field refused, every
/// optional one defaulted), so a newer deployment's additions are ignored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InjectReply {
    /// Correlates with the audit record.
    #[serde(default)]
    pub request_id: String,
    /// Whether an upstream response is included.
    pub ok: bool,
    /// Upstream status code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Upstream headers (scrubbed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headers: Option<BTreeMap<String, String>>,
    /// Upstream body if UTF-8 (scrubbed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// Upstream body if binary, base64 (scrubbed before encoding).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_base64: Option<String>,
    /// Set when the upstream answered but its headers and body are not
    /// returned: they echoed the credential. `ok` stays true (the request
    /// was made, with whatever side effects it had: do not blindly retry).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub withheld: Option<Withheld>,
    /// The error, when `ok` is false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorBody>,
}

/// Why an upstream response's headers and body were withheld.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Withheld {
    /// The response contained the credential in a recognised form, and the
    /// secret's binding says `on_echo: withhold` (the default).
    EchoWithheld,
    /// A reason from a newer deployment (only ever read).
    #[serde(other, skip_serializing)]
    Unknown,
}

impl InjectReply {
    /// A success with nothing filled in yet (`ok: true`).
    pub fn ok(request_id: &str) -> Self {
        Self {
            request_id: request_id.to_owned(),
            ok: true,
            status: None,
            headers: None,
            body: None,
            body_base64: None,
            withheld: None,
            error: None,
        }
    }

    /// The error, or the reply itself when `ok` is true. An `ok: false`
    /// reply without a body (never written by the functions) reads as
    /// `internal`.
    pub fn into_result(self) -> Result<Self, ErrorBody> {
        if self.ok {
            return Ok(self);
        }
        Err(self.error.unwrap_or_else(|| {
            ErrorBody::new(ErrorType::Internal, "ok: false without an error body")
        }))
    }

    /// An error response.
    pub fn error(request_id: &str, kind: ErrorType, message: impl Into<String>) -> Self {
        Self {
            request_id: request_id.to_owned(),
            ok: false,
            status: None,
            headers: None,
            body: None,
            body_base64: None,
            withheld: None,
            error: Some(ErrorBody::new(kind, message)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Retry;

    /// The published schema and the parser accept the same fields.
    #[test]
    fn schema_matches_the_types() {
        let schema: serde_json::Value =
            serde_json::from_str(include_str!("../../docs/inject.schema.json")).unwrap();
        let keys = |v: &serde_json::Value| {
            let mut k: Vec<String> = v["properties"]
                .as_object()
                .unwrap()
                .keys()
                .cloned()
                .collect();
            k.sort();
            k
        };
        assert_eq!(keys(&schema), ["agent", "request", "secret", "workspace"]);
        assert_eq!(
            keys(&schema["properties"]["request"]),
            [
                "body",
                "body_base64",
                "headers",
                "method",
                "timeout_ms",
                "url"
            ]
        );
        assert_eq!(schema["additionalProperties"], false);
        // The response schema lists exactly the fields InjectReply writes,
        // and the withheld marker's values.
        let mut full = InjectReply::ok("r");
        full.status = Some(200);
        full.headers = Some(BTreeMap::new());
        full.body = Some(String::new());
        full.body_base64 = Some(String::new());
        full.withheld = Some(Withheld::EchoWithheld);
        full.error = InjectReply::error("r", ErrorType::Denied, "m").error;
        let written = serde_json::to_value(&full).unwrap();
        let mut written: Vec<&String> = written.as_object().unwrap().keys().collect();
        written.sort();
        assert_eq!(
            written,
            keys(&schema["$defs"]["response"])
                .iter()
                .collect::<Vec<_>>()
        );
        assert_eq!(
            schema["$defs"]["response"]["properties"]["withheld"]["enum"],
            serde_json::json!([serde_json::to_value(Withheld::EchoWithheld).unwrap()])
        );
        let example = serde_json::json!({
            "workspace": "acme", "secret": "github", "agent": "agent-7",
            "request": { "method": "GET", "url": "https://api.github.com/x", "headers": {},
                         "body": "b", "body_base64": null, "timeout_ms": 5 }
        });
        serde_json::from_value::<InjectEvent>(example).unwrap();
        let errors: Vec<String> = schema["$defs"]["response"]["properties"]["error"]["properties"]
            ["type"]["enum"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect();
        assert_eq!(errors.len(), ErrorType::ALL.len());
        let error_fields = keys(&schema["$defs"]["response"]["properties"]["error"]);
        let mut written = serde_json::to_value(ErrorBody::new(ErrorType::Throttled, "m")).unwrap();
        let mut written: Vec<String> = written.as_object_mut().unwrap().keys().cloned().collect();
        written.sort();
        assert_eq!(written, error_fields);
        let advice =
            &schema["$defs"]["response"]["properties"]["error"]["properties"]["retry"]["enum"];
        for retry in [
            Retry::Backoff,
            Retry::Reread,
            Retry::IfIdempotent,
            Retry::Never,
        ] {
            assert!(advice
                .as_array()
                .unwrap()
                .contains(&serde_json::to_value(retry).unwrap()));
        }
        for kind in ErrorType::ALL {
            let name = serde_json::to_value(&kind).unwrap();
            assert!(
                errors.contains(&name.as_str().unwrap().to_owned()),
                "{name}"
            );
        }
    }
}
