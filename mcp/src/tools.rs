//! The two tools: their schemas and descriptions, their arguments, and how
//! broker answers become MCP tool results.
//!
//! Neither schema has a workspace or agent property, and both refuse
//! properties they do not list (`additionalProperties: false`, enforced
//! again when the arguments are parsed): identity is the server's
//! configuration, never the model's choice.

use std::collections::BTreeMap;
use std::sync::Arc;

use rmcp::model::{CallToolResult, ContentBlock, JsonObject, Tool, ToolAnnotations};
use serde::Deserialize;
use serde_json::{json, Value};

use keybroker_contract::{InjectReply, InjectionKind};

use crate::broker::{BrokerFailure, SecretEntry};

/// Tool name: one upstream request with a secret injected.
pub const HTTP_REQUEST: &str = "http_request";
/// Tool name: the workspace's secrets, without values.
pub const LIST_SECRETS: &str = "list_secrets";

/// Arguments of [`HTTP_REQUEST`].
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpRequestArgs {
    /// Secret name.
    pub secret: String,
    /// HTTP method.
    pub method: String,
    /// Absolute URL.
    pub url: String,
    /// Extra headers.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// UTF-8 body.
    #[serde(default)]
    pub body: Option<String>,
}

/// Arguments of [`LIST_SECRETS`]: none.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListSecretsArgs {}

/// Parse tool arguments strictly; the error names what is wrong.
pub fn parse_args<T: for<'de> Deserialize<'de>>(args: Option<JsonObject>) -> Result<T, String> {
    serde_json::from_value(Value::Object(args.unwrap_or_default())).map_err(|e| e.to_string())
}

fn schema(v: Value) -> Arc<JsonObject> {
    match v {
        Value::Object(o) => Arc::new(o),
        _ => Arc::new(JsonObject::new()),
    }
}

/// Both tools, with `http_request`'s description listing where each secret
/// may go (`catalog`: the last `list_secrets` answer, `None` if unknown).
pub fn tools(workspace: &str, catalog: Option<&[SecretEntry]>) -> Vec<Tool> {
    let http = Tool::new(
        HTTP_REQUEST,
        http_request_description(workspace, catalog),
        schema(json!({
            "type": "object",
            "properties": {
                "secret": { "type": "string", "description": "Name of the secret to inject (see list_secrets)." },
                "method": { "type": "string", "description": "HTTP method, e.g. GET or POST." },
                "url": { "type": "string", "description": "Absolute https URL; its host must be one the secret is bound to." },
                "headers": {
                    "type": "object",
                    "additionalProperties": { "type": "string" },
                    "description": "Extra request headers. Never the credential's own header: the broker sets it."
                },
                "body": { "type": "string", "description": "Request body as UTF-8 text." }
            },
            "required": ["secret", "method", "url"],
            "additionalProperties": false
        })),
    )
    .with_annotations(
        ToolAnnotations::with_title("HTTP request with a stored credential")
            .read_only(false)
            .destructive(true)
            .idempotent(false)
            .open_world(true),
    );
    let list = Tool::new(
        LIST_SECRETS,
        format!(
            "List the secrets of workspace {workspace}: each one's name, the hosts it may be \
             sent to, where it is injected (header, basic auth or query parameter) and its \
             status. Never returns a secret's value."
        ),
        schema(json!({ "type": "object", "properties": {}, "additionalProperties": false })),
    )
    .with_annotations(
        ToolAnnotations::with_title("List available secrets")
            .read_only(true)
            .destructive(false)
            .idempotent(true)
            .open_world(false),
    );
    vec![http, list]
}

/// `http_request`'s description: what it does, and which hosts each secret
/// reaches, so the model picks the right one.
pub fn http_request_description(workspace: &str, catalog: Option<&[SecretEntry]>) -> String {
    let mut d = format!(
        "Make one HTTP request with a stored credential of workspace {workspace} injected by \
         keybroker. You never see the credential: name the secret, and the broker adds it where \
         the secret's binding says, only for the hosts it is bound to. Returns the upstream's \
         status, headers and body; on failure an error with a type and retry advice."
    );
    match catalog {
        None => d.push_str(" Call list_secrets to see the available secrets and their hosts."),
        Some([]) => d.push_str(" This workspace has no secrets yet."),
        Some(secrets) => {
            d.push_str("\n\nSecrets and the hosts each may be sent to:");
            for s in secrets {
                d.push_str(&format!("\n- {}: {}", s.name, entry_summary(s)));
            }
        }
    }
    d
}

fn entry_summary(s: &SecretEntry) -> String {
    let hosts = if s.hosts.is_empty() {
        "no hosts (cannot be used)".to_owned()
    } else {
        s.hosts.join(", ")
    };
    let how = match &s.injection {
        Some(InjectionKind::Header { name }) => format!(" (as header {name})"),
        Some(InjectionKind::BasicAuth) => " (as HTTP basic auth)".to_owned(),
        Some(InjectionKind::Query { param }) => format!(" (as query parameter {param})"),
        Some(InjectionKind::Other) | None => String::new(),
    };
    let status = if s.status == "revoked" {
        " [revoked by the key owner]"
    } else {
        ""
    };
    format!("{hosts}{how}{status}")
}

/// What to tell the model about an error of type `kind`, in words. Whether
/// to retry is the broker's decision (its `retry` field); this only says
/// what to do instead.
fn advice(kind: &str) -> &'static str {
    match kind {
        "throttled" | "unavailable" => {
            "retry with backoff: the broker failed before the upstream was called"
        }
        "upstream_error" => {
            "the upstream may have received the request: retry only if repeating it is harmless (GET, HEAD, PUT, DELETE)"
        }
        "revoked" => {
            "the key owner revoked the broker's access to this secret: stop using it and tell the workspace owner"
        }
        "denied" => {
            "the secret's binding or the workspace policy forbids this request; nothing was sent (check the hosts in list_secrets)"
        }
        "broker_failure" => {
            "the inject function failed without an answer (crash or timeout): the upstream may have received the request"
        }
        "misconfigured" => {
            "this server may not invoke the inject function, or it does not exist: tell the operator"
        }
        "not_found" => "no such secret: call list_secrets",
        "invalid_request" => "fix the arguments",
        "integrity" => "the stored secret failed integrity checks: an operator must look",
        _ => "do not retry",
    }
}

/// Retry advice, in the broker's vocabulary (docs/INVOCATION.md,
/// "Errors"), for the failures this server reports itself because no
/// broker answer came back.
fn local_retry(kind: &str) -> &'static str {
    match kind {
        "unavailable" => "backoff",
        "broker_failure" => "if_idempotent",
        _ => "never",
    }
}

/// A tool error (`isError: true`) with the error type, its message, the
/// retry advice (`retry`, and `retry_after_ms` when the broker gives one)
/// and what to do instead (`advice`), as structured content and as text.
fn error_result(
    kind: &str,
    message: &str,
    request_id: Option<&str>,
    retry: &str,
    retry_after_ms: Option<u64>,
) -> CallToolResult {
    let mut error = json!({
        "type": kind, "message": message, "retry": retry, "advice": advice(kind),
    });
    if let Some(ms) = retry_after_ms {
        error["retry_after_ms"] = json!(ms);
    }
    let body = json!({ "error": error, "request_id": request_id });
    let mut r = CallToolResult::error(vec![ContentBlock::text(body.to_string())]);
    r.structured_content = Some(body);
    r
}

/// Arguments that do not match the tool's schema: a tool error, so the
/// model can correct itself (not a protocol error).
pub fn invalid_arguments(why: &str) -> CallToolResult {
    error_result("invalid_request", why, None, "never", None)
}

/// The tool result of a broker failure.
pub fn failure_result(f: &BrokerFailure) -> CallToolResult {
    match f {
        BrokerFailure::Refused {
            kind,
            message,
            request_id,
            retry,
            retry_after_ms,
        } => error_result(
            kind,
            message,
            request_id.as_deref(),
            // An older broker gives no advice: never retry what it refused.
            retry.as_deref().unwrap_or("never"),
            *retry_after_ms,
        ),
        // No broker answer: never retried here.
        BrokerFailure::Invocation { kind, .. } => {
            error_result(kind, &f.to_string(), None, local_retry(kind), None)
        }
    }
}

/// A successful result: `value` as structured content and as text.
pub fn ok_result(value: Value) -> CallToolResult {
    let mut r = CallToolResult::success(vec![ContentBlock::text(value.to_string())]);
    r.structured_content = Some(value);
    r
}

/// What `http_request` returns from the broker's answer: status, headers,
/// body (or body_base64), the withheld marker, request_id. `ok` is dropped
/// (an `isError: false` result says it).
pub fn http_response(answer: &InjectReply) -> Value {
    let answer = serde_json::to_value(answer).unwrap_or_default();
    let mut out = serde_json::Map::new();
    for k in [
        "status",
        "headers",
        "body",
        "body_base64",
        "withheld",
        "request_id",
    ] {
        if let Some(v) = answer.get(k) {
            out.insert(k.to_owned(), v.clone());
        }
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, hosts: &[&str], injection: Value, status: &str) -> SecretEntry {
        SecretEntry {
            name: name.into(),
            hosts: hosts.iter().map(|h| (*h).to_owned()).collect(),
            injection: Some(serde_json::from_value(injection).unwrap()),
            status: status.into(),
        }
    }

    #[test]
    fn schemas_have_no_identity_and_refuse_extra_properties() {
        for tool in tools("w", None) {
            let s = Value::Object((*tool.input_schema).clone());
            assert_eq!(s["additionalProperties"], false, "{}", tool.name);
            for id in ["workspace", "agent"] {
                assert!(s["properties"].get(id).is_none(), "{} has {id}", tool.name);
            }
        }
        let extra =
            json!({"secret": "s", "method": "GET", "url": "https://a", "workspace": "other"});
        let Value::Object(extra) = extra else {
            unreachable!()
        };
        let e = parse_args::<HttpRequestArgs>(Some(extra)).unwrap_err();
        assert!(e.contains("workspace"), "{e}");
        let Value::Object(extra) = json!({"agent": "root"}) else {
            unreachable!()
        };
        assert!(parse_args::<ListSecretsArgs>(Some(extra)).is_err());
        assert!(parse_args::<ListSecretsArgs>(None).is_ok());
    }

    #[test]
    fn the_description_names_each_secrets_hosts() {
        let catalog = [
            entry(
                "github",
                &["api.github.com"],
                json!({"type": "header", "name": "Authorization"}),
                "active",
            ),
            entry(
                "maps",
                &["maps.example.com", "tiles.example.com"],
                json!({"type": "query", "param": "key"}),
                "revoked",
            ),
        ];
        let d = http_request_description("acme", Some(&catalog));
        assert!(
            d.contains("- github: api.github.com (as header Authorization)"),
            "{d}"
        );
        assert!(
            d.contains("- maps: maps.example.com, tiles.example.com (as query parameter key) [revoked by the key owner]"),
            "{d}"
        );
        assert!(http_request_description("acme", None).contains("list_secrets"));
        assert!(http_request_description("acme", Some(&[])).contains("no secrets"));
    }

    #[test]
    fn errors_carry_type_and_retry_advice() {
        let r = failure_result(&BrokerFailure::Refused {
            kind: "revoked".into(),
            message: "key disabled".into(),
            request_id: Some("r-1".into()),
            retry: Some("never".into()),
            retry_after_ms: None,
        });
        assert_eq!(r.is_error, Some(true));
        let s = r.structured_content.unwrap();
        assert_eq!(s["error"]["type"], "revoked");
        assert_eq!(s["error"]["retry"], "never");
        assert_eq!(s["request_id"], "r-1");
        assert!(s["error"].get("retry_after_ms").is_none());
        // The broker's advice and wait are passed on, not re-derived.
        let r = failure_result(&BrokerFailure::Refused {
            kind: "throttled".into(),
            message: "slow down".into(),
            request_id: None,
            retry: Some("backoff".into()),
            retry_after_ms: Some(1500),
        });
        let s = r.structured_content.unwrap();
        assert_eq!(s["error"]["retry"], "backoff");
        assert_eq!(s["error"]["retry_after_ms"], 1500);
        // An older broker without advice: never retried.
        let r = failure_result(&BrokerFailure::Refused {
            kind: "denied".into(),
            message: "m".into(),
            request_id: None,
            retry: None,
            retry_after_ms: None,
        });
        assert_eq!(r.structured_content.unwrap()["error"]["retry"], "never");
        let r = failure_result(&BrokerFailure::Invocation {
            kind: "misconfigured",
            function: "f".into(),
            detail: "AccessDeniedException: no".into(),
        });
        let s = r.structured_content.unwrap();
        assert_eq!(s["error"]["type"], "misconfigured");
        assert_eq!(s["error"]["retry"], "never");
    }

    #[test]
    fn the_http_response_keeps_only_the_upstream_answer() {
        let v = http_response(
            &serde_json::from_value(json!({
                "ok": true, "request_id": "r", "status": 200,
                "headers": {"a": "b"}, "body": "x", "extra": 1
            }))
            .unwrap(),
        );
        assert_eq!(
            v,
            json!({"request_id": "r", "status": 200, "headers": {"a": "b"}, "body": "x"})
        );
    }
}
