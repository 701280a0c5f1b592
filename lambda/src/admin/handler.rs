//! [`handle`]: one admin invocation from the event's text to its reply and
//! audit record. The contract's `AdminRequest` is dispatched to each
//! operation's [`Handler`] by `keybroker_contract::with_admin_ops!`, so
//! this file holds no list of operations.

use broker_core::{Broker, WorkspaceId};
use keybroker_contract::{AdminRequest, ErrorBody, OPERATIONS};
use serde_json::{json, Value};

use crate::admin::audit::{AdminRecord, Caller, Changes};
use crate::admin::error::AdminError;
use crate::admin::op::{to_json, Handler};

/// Handle one admin invocation: `{"ok": true, "result": ...}` or
/// `{"ok": false, "error": {"type", "message", "retry", ...}}` (the same
/// error body as inject's), and write one audit record
/// ([`crate::admin::audit`]) whatever the outcome.
pub async fn handle(broker: &Broker, event: &str, request_id: &str, caller: Caller) -> Value {
    let mut audit = AdminRecord::start(request_id, caller);
    let result = match serde_json::from_str::<AdminRequest>(event) {
        Ok(req) => {
            audit.operation = Some(req.operation());
            audit.workspace = req.workspace().and_then(valid_workspace);
            audit.target = describe(&req, &mut audit.changes);
            run(broker, req, &mut audit.changes).await
        }
        Err(e) => {
            describe_malformed(event, &mut audit);
            Err(AdminError::Malformed(e))
        }
    };
    audit.finish(result.as_ref().err().map(AdminError::kind));
    if let Err(e) = crate::edge::record::write_line(&audit.to_line()) {
        tracing::error!(request_id, error = %e, "could not write the admin audit record");
    }
    match result {
        Ok(v) => json!({ "ok": true, "result": v }),
        Err(e) => json!({ "ok": false, "error": ErrorBody::new(e.kind(), e.to_string()) }),
    }
}

/// `describe` and `run` for every operation, each to its [`Handler`].
macro_rules! dispatch {
    ($($Variant:ident)*) => {
        /// The audit target, and what the call asks to change
        /// ([`Handler::describe`]).
        fn describe(req: &AdminRequest, changes: &mut Changes) -> Option<String> {
            match req {
                $(AdminRequest::$Variant(r) => r.describe(changes),)*
            }
        }

        /// The operation's handler ([`Handler::run`]).
        async fn run(
            broker: &Broker,
            req: AdminRequest,
            changes: &mut Changes,
        ) -> Result<Value, AdminError> {
            match req {
                $(AdminRequest::$Variant(r) => r.run(broker, changes).await.and_then(to_json),)*
            }
        }
    };
}

keybroker_contract::with_admin_ops!(dispatch);

/// A malformed event still says what it tried, where that is safe to
/// record: a known operation name and a valid workspace id.
fn describe_malformed(event: &str, audit: &mut AdminRecord) {
    let Ok(v) = serde_json::from_str::<Value>(event) else {
        return;
    };
    audit.operation = v["op"]
        .as_str()
        .and_then(|op| OPERATIONS.iter().find(|known| **known == op).copied());
    audit.workspace = v["workspace"].as_str().and_then(valid_workspace);
}

fn valid_workspace(ws: &str) -> Option<String> {
    WorkspaceId::new(ws).ok().map(|w| w.to_string())
}
