//! The workspace-wide admin operations, `rewrap`, `check_workspace` and
//! `check_all_workspaces` (docs/INVOCATION.md): one page each, their
//! replies (the contract's types) and what their audit records say
//! changed. These replies carry per-secret (or per-workspace) failures as
//! error bodies.

use broker_core::{
    Broker, CheckPage, CheckReport, RewrapPage, RewrapRequest, SecretFailure, SecretName,
    WorkspaceId,
};
use keybroker_contract::{admin as wire, reply};

use crate::admin::audit::Changes;
use crate::admin::error::AdminError;
use crate::admin::op::{as_reply, name, ws, Handler};

impl Handler for wire::Rewrap {
    fn describe(&self, changes: &mut Changes) -> Option<String> {
        // Asked for, recorded even when the call is refused.
        changes.allow_leaving_customer_key = Some(self.allow_leaving_customer_key);
        Some("secrets".to_owned())
    }

    async fn run(self, broker: &Broker, changes: &mut Changes) -> Result<Self::Reply, AdminError> {
        let ws = ws(&self.workspace)?;
        let req = RewrapRequest {
            after: self.after.as_deref().map(name).transpose()?,
            limit: self.limit,
            allow_leaving_customer_key: self.allow_leaving_customer_key,
        };
        let page = broker.rewrap(&ws, &req).await?;
        rewrap_result(&ws, &page, self.allow_leaving_customer_key, changes)
    }
}

impl Handler for wire::CheckWorkspace {
    fn describe(&self, _: &mut Changes) -> Option<String> {
        Some("statuses".to_owned())
    }

    async fn run(self, broker: &Broker, changes: &mut Changes) -> Result<Self::Reply, AdminError> {
        let report = broker.check_workspace(&ws(&self.workspace)?).await?;
        check_result(&report, changes)
    }
}

impl Handler for wire::CheckAllWorkspaces {
    fn describe(&self, _: &mut Changes) -> Option<String> {
        Some("workspaces".to_owned())
    }

    async fn run(self, broker: &Broker, changes: &mut Changes) -> Result<Self::Reply, AdminError> {
        let after = self.after.as_deref().map(ws).transpose()?;
        let page = broker
            .check_workspaces(after.as_ref(), self.limit, self.scheduled)
            .await?;
        check_page_result(&page, changes)
    }
}

/// A per-secret failure: the secret's name and the shared error body
/// (`type`, `message`, `retry`): `conflict` means a rotation won the race,
/// and a rerun moves the rotated version.
fn failure(f: &SecretFailure) -> reply::SecretFailure {
    reply::SecretFailure {
        secret: f.secret.clone(),
        error: crate::edge::error::body_of(&f.error),
    }
}

/// Secret names as the reply lists them.
fn names(n: &[SecretName]) -> Vec<String> {
    n.iter().map(SecretName::to_string).collect()
}

/// One `rewrap` page as returned, and recorded in the audit record's
/// changes: the target key, how many moved, and how many left the
/// customer's key (with the flag that allowed it).
fn rewrap_result(
    ws: &WorkspaceId,
    page: &RewrapPage,
    allowed_leaving: bool,
    changes: &mut Changes,
) -> Result<reply::RewrapPage, AdminError> {
    changes.key_arn = Some(page.target.key_arn.to_string());
    changes.moved = Some(page.moved.len() as u64);
    changes.left_customer_key = Some(page.left_customer_key.len() as u64);
    changes.allow_leaving_customer_key = Some(allowed_leaving);
    Ok(reply::RewrapPage {
        workspace: ws.to_string(),
        target: as_reply(&page.target)?,
        moved: page.moved.len() as u64,
        skipped: page.skipped,
        failed: page.failed.len() as u64,
        left_customer_key: page.left_customer_key.len() as u64,
        moved_secrets: names(&page.moved),
        left_customer_key_secrets: names(&page.left_customer_key),
        failures: page.failed.iter().map(failure).collect(),
        next: page.next.as_ref().map(SecretName::to_string),
    })
}

/// One workspace's check as returned.
fn check_result(r: &CheckReport, changes: &mut Changes) -> Result<reply::CheckReport, AdminError> {
    changes.statuses_changed = Some(changes.statuses_changed.unwrap_or(0) + r.changed);
    Ok(reply::CheckReport {
        workspace: r.workspace.to_string(),
        probes: as_reply(&r.probes)?,
        secrets: r.active + r.revoked + r.unknown,
        active: r.active,
        revoked: r.revoked,
        unknown: r.unknown,
        changed: r.changed,
        failed: r.failed.len() as u64,
        failures: r.failed.iter().map(failure).collect(),
    })
}

/// One page of the all-workspaces check as returned.
fn check_page_result(
    page: &CheckPage,
    changes: &mut Changes,
) -> Result<reply::CheckPage, AdminError> {
    Ok(reply::CheckPage {
        checked: page.reports.len() as u64,
        workspaces: page
            .reports
            .iter()
            .map(|r| check_result(r, changes))
            .collect::<Result<_, _>>()?,
        failed_workspaces: page
            .failed
            .iter()
            .map(|(ws, e)| reply::WorkspaceFailure {
                workspace: ws.to_string(),
                error: crate::edge::error::body_of(e),
            })
            .collect(),
        next: page.next.as_ref().map(WorkspaceId::to_string),
    })
}
