//! The wire form of the workspace-wide admin operations, `rewrap` and
//! `check_workspace` (docs/INVOCATION.md): their results as JSON and what
//! their audit records say changed. Kept apart from `admin.rs`, which only
//! dispatches to it, since these replies carry per-secret failures.

use broker_core::{CheckPage, CheckReport, RewrapPage, SecretFailure, WorkspaceId};
use serde_json::{json, Value};

use crate::admin_audit::Changes;

/// A per-secret failure: the secret's name and the shared error body
/// (`type`, `message`, `retry`): `conflict` means a rotation won the race,
/// and a rerun moves the rotated version.
fn failure(f: &SecretFailure) -> Value {
    json!({ "secret": f.secret, "error": crate::edge_error::body_of(&f.error) })
}

/// One `rewrap` page as returned, and recorded in the audit record's
/// changes: the target key, how many moved, and how many left the
/// customer's key (with the flag that allowed it).
pub fn rewrap_result(
    ws: &WorkspaceId,
    page: &RewrapPage,
    allowed_leaving: bool,
    changes: &mut Changes,
) -> Value {
    changes.key_arn = Some(page.target.key_arn.to_string());
    changes.moved = Some(page.moved.len() as u64);
    changes.left_customer_key = Some(page.left_customer_key.len() as u64);
    changes.allow_leaving_customer_key = Some(allowed_leaving);
    json!({
        "workspace": ws,
        "target": page.target,
        "moved": page.moved.len(),
        "skipped": page.skipped,
        "failed": page.failed.len(),
        "left_customer_key": page.left_customer_key.len(),
        "moved_secrets": page.moved,
        "left_customer_key_secrets": page.left_customer_key,
        "failures": page.failed.iter().map(failure).collect::<Vec<_>>(),
        "next": page.next,
    })
}

/// One workspace's check as returned.
pub fn check_result(r: &CheckReport, changes: &mut Changes) -> Value {
    changes.statuses_changed = Some(changes.statuses_changed.unwrap_or(0) + r.changed);
    json!({
        "workspace": r.workspace,
        "probes": r.probes,
        "secrets": r.active + r.revoked + r.unknown,
        "active": r.active,
        "revoked": r.revoked,
        "unknown": r.unknown,
        "changed": r.changed,
        "failed": r.failed.len(),
        "failures": r.failed.iter().map(failure).collect::<Vec<_>>(),
    })
}

/// One page of the all-workspaces check as returned.
pub fn check_page_result(page: &CheckPage, changes: &mut Changes) -> Value {
    let reports: Vec<Value> = page
        .reports
        .iter()
        .map(|r| check_result(r, changes))
        .collect();
    json!({
        "checked": page.reports.len(),
        "workspaces": reports,
        "failed_workspaces": page.failed.iter().map(|(ws, e)| json!({
            "workspace": ws, "error": crate::edge_error::body_of(e),
        })).collect::<Vec<_>>(),
        "next": page.next,
    })
}
