//! The read-only `list_secrets` operation of the `inject` function: which
//! secrets a workspace holds, where each may be sent and how it is
//! injected. Never a value, a ciphertext, a key ARN or a header template.
//!
//! Why on `inject` and not `admin`: agent runtimes may invoke `inject` and
//! must never reach `admin` (which writes secrets and policies). An agent
//! that is to pick the right secret for a host (the MCP server's
//! `list_secrets` tool, `mcp/`) needs this list, so the same IAM grant that
//! lets a runtime inject lets it list: `lambda:InvokeFunction` on `inject`
//! (infra/policies/agent-runtime-policy.json.tftpl). The inject execution
//! role reads the list with `dynamodb:Query`, projected to metadata only
//! (broker-core's `Store::list_secrets` never reads the blob attribute).
//!
//! What an agent sees is what it could use: only secrets the workspace's
//! Cedar policy could let this agent inject (broker-core
//! `access::visible`: some permit covers this agent and secret for one of
//! its bound hosts, and no unconditional forbid does), and each listing
//! counts against the injection limits, on the injections' own workspace
//! and agent counters (`Broker::list_usable_secrets`): over a limit it is
//! `throttled` with `retry_after_ms`, like an injection.
//!
//! Routing: an event with an `"op"` member is a catalog request; every
//! other event is an injection. `InjectEvent` refuses unknown fields, so no
//! injection event can carry `op`, and an older `inject` answers a catalog
//! request with a typed `invalid_request`.

use serde::{Deserialize, Serialize};

use broker_core::{Broker, BrokerError, Injection, LimitScope, SecretStatus, WorkspaceId};

use keybroker_contract::{ErrorBody, ErrorType, InjectReply};

/// Schema identifier of the catalog audit record.
pub const SCHEMA: &str = "keybroker.audit.catalog.v1";

/// Whether `event` asks for a catalog operation (has a top-level `op`).
/// Anything that does not parse as an object is not: the injection path
/// answers it with a typed `invalid_request`.
pub fn is_catalog_event(event: &str) -> bool {
    // Injection events (the hot path) almost never contain the text; an
    // escaped key (`"\u006fp"`) reaches the injection path, which refuses
    // it as an unknown field.
    if !event.contains("\"op\"") {
        return false;
    }
    #[derive(Deserialize)]
    struct Probe {
        #[serde(default)]
        op: Option<serde::de::IgnoredAny>,
    }
    serde_json::from_str::<Probe>(event).is_ok_and(|p| p.op.is_some())
}

pub use keybroker_contract::{CatalogEntry as SecretEntry, CatalogRequest, InjectionKind};

/// The injection point an agent may see: the header's or parameter's
/// name, never a template or user name.
pub fn injection_kind(i: &Injection) -> InjectionKind {
    match i {
        Injection::Header { name, .. } => InjectionKind::Header { name: name.clone() },
        Injection::BasicAuth { .. } => InjectionKind::BasicAuth,
        Injection::Query { param } => InjectionKind::Query {
            param: param.clone(),
        },
    }
}

/// One catalog audit line: who listed which workspace, and the outcome.
#[derive(Serialize)]
struct CatalogAudit<'a> {
    schema: &'static str,
    request_id: &'a str,
    op: &'static str,
    workspace: Option<&'a str>,
    agent: Option<&'a str>,
    outcome: &'a str,
    /// Secrets listed.
    count: usize,
    /// Secrets the policy hid from this agent (a number, never names).
    hidden: usize,
    /// The keybroker limit that refused the listing, if one did.
    #[serde(skip_serializing_if = "Option::is_none")]
    limit: Option<LimitScope>,
}

/// A listing: the entries and how many the policy hid.
struct Listed {
    secrets: Vec<SecretEntry>,
    hidden: usize,
}

/// Handle one catalog event; always answers with a JSON object shaped like
/// an inject answer (`ok`, and `error: {type, message}` on failure), and
/// always prints one audit line. `served`: `KEYBROKER_ALLOWED_WORKSPACES`,
/// the same tenant boundary injections have.
pub async fn handle(
    broker: &Broker,
    served: Option<&[String]>,
    event: &str,
    request_id: &str,
) -> serde_json::Value {
    let parsed = serde_json::from_str::<CatalogRequest>(event);
    let (workspace, agent) = match &parsed {
        Ok(CatalogRequest::ListSecrets { workspace, agent }) => {
            (Some(workspace.as_str()), Some(agent.as_str()))
        }
        Err(_) => (None, None),
    };
    let result = match &parsed {
        Ok(CatalogRequest::ListSecrets { workspace, agent }) => {
            list(broker, served, workspace, agent).await
        }
        Err(e) => Err((
            ErrorBody::new(
                ErrorType::InvalidRequest,
                format!("malformed catalog event: {e}"),
            ),
            None,
        )),
    };
    let (outcome, count, hidden, limit) = match &result {
        Ok(l) => ("ok", l.secrets.len(), l.hidden, None),
        Err((body, limit)) => (body.kind.as_str(), 0, 0, *limit),
    };
    let audit = CatalogAudit {
        schema: SCHEMA,
        request_id,
        op: "list_secrets",
        workspace,
        agent,
        outcome,
        count,
        hidden,
        limit,
    };
    if let Ok(line) = serde_json::to_string(&audit) {
        if let Err(e) = crate::edge::record::write_line(&line) {
            tracing::error!(request_id, error = %e, "could not write the catalog audit record");
        }
    }
    let value = match result {
        Ok(listed) => serde_json::to_value(keybroker_contract::CatalogReply {
            request_id: request_id.to_owned(),
            ok: true,
            secrets: listed.secrets,
        }),
        Err((body, _)) => {
            // The inject shape, with the body's own wait (a limit's window).
            let mut response = InjectReply::error(request_id, body.kind.clone(), "");
            response.error = Some(body);
            serde_json::to_value(response)
        }
    };
    value.unwrap_or_else(|_| serde_json::json!({ "request_id": request_id, "ok": false }))
}

/// A refusal: the edge's error body, and the keybroker limit behind it.
type Refused = (ErrorBody, Option<LimitScope>);

fn broker_refusal(e: &BrokerError) -> Refused {
    let limit = match e {
        BrokerError::LimitExceeded { scope, .. } => Some(*scope),
        _ => None,
    };
    (crate::edge::error::body_of(e), limit)
}

async fn list(
    broker: &Broker,
    served: Option<&[String]>,
    workspace: &str,
    agent: &str,
) -> Result<Listed, Refused> {
    let ws = WorkspaceId::new(workspace).map_err(|e| broker_refusal(&e))?;
    if let Some(served) = served {
        if !served.iter().any(|w| w == ws.as_str()) {
            let why = format!("workspace {ws} is not served by this function");
            return Err((ErrorBody::new(ErrorType::Denied, why), None));
        }
    }
    let catalog = broker
        .list_usable_secrets(&ws, agent)
        .await
        .map_err(|e| broker_refusal(&e))?;
    let secrets = catalog
        .secrets
        .iter()
        .map(|m| SecretEntry {
            name: m.name.to_string(),
            hosts: m
                .binding
                .as_ref()
                .map(|b| b.hosts.clone())
                .unwrap_or_default(),
            injection: m.binding.as_ref().map(|b| injection_kind(&b.inject)),
            status: match m.status {
                SecretStatus::Active => "active",
                _ => "revoked",
            }
            .to_owned(),
        })
        .collect();
    Ok(Listed {
        secrets,
        hidden: catalog.hidden,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_events_with_an_op_are_catalog_events() {
        assert!(is_catalog_event(
            r#"{"op":"list_secrets","workspace":"w","agent":"a"}"#
        ));
        assert!(!is_catalog_event(r#"{"op":null}"#));
        for not in [
            r#"{"workspace":"w","secret":"s","agent":"a","request":{}}"#,
            "[]",
            "not json",
            &"[".repeat(10_000),
        ] {
            assert!(!is_catalog_event(not), "{not:.40}");
        }
    }

    #[test]
    fn the_injection_kind_drops_templates_and_user_names() {
        let header = Injection::Header {
            name: "Authorization".into(),
            template: "Bearer {secret}".into(),
        };
        let basic = Injection::BasicAuth {
            username: "svc-user".into(),
        };
        let text =
            serde_json::to_string(&[injection_kind(&header), injection_kind(&basic)]).unwrap();
        assert_eq!(
            text,
            r#"[{"type":"header","name":"Authorization"},{"type":"basic_auth"}]"#
        );
    }

    #[test]
    fn the_audit_line_counts_hidden_secrets_and_names_a_refusing_limit() {
        let line = |limit| {
            serde_json::to_value(CatalogAudit {
                schema: SCHEMA,
                request_id: "r",
                op: "list_secrets",
                workspace: Some("w"),
                agent: Some("a"),
                outcome: "ok",
                count: 2,
                hidden: 3,
                limit,
            })
            .unwrap()
        };
        let ok = line(None);
        assert_eq!(
            (ok["count"].clone(), ok["hidden"].clone()),
            (2.into(), 3.into())
        );
        assert!(ok.get("limit").is_none(), "{ok}");
        assert_eq!(line(Some(LimitScope::Agent))["limit"], "agent");
    }

    #[test]
    fn a_limit_refusal_keeps_the_windows_wait() {
        let e = BrokerError::LimitExceeded {
            scope: LimitScope::Workspace,
            limit: 5,
            window_seconds: 60,
            retry_after_ms: 1234,
        };
        let (body, limit) = broker_refusal(&e);
        assert_eq!(body.kind, ErrorType::Throttled);
        assert_eq!(body.retry_after_ms, Some(1234));
        assert_eq!(limit, Some(LimitScope::Workspace));
        let invalid = BrokerError::InvalidInput {
            field: "agent",
            reason: "x".into(),
        };
        let (body, limit) = broker_refusal(&invalid);
        assert_eq!((body.kind, limit), (ErrorType::InvalidRequest, None));
    }

    #[test]
    fn a_malformed_catalog_event_is_an_invalid_request() {
        for bad in [
            r#"{"op":"list_secrets","workspace":"w"}"#,
            r#"{"op":"list_secrets","workspace":"w","agent":"a","extra":1}"#,
            r#"{"op":"delete_secret","workspace":"w","agent":"a"}"#,
        ] {
            let e = serde_json::from_str::<CatalogRequest>(bad);
            assert!(e.is_err(), "{bad}");
        }
    }
}
