//! `check_workspace`: make every secret's status true now, not at its next
//! read. Statuses are otherwise written by reads only, so after a customer
//! revokes, `list_secrets` says `active` for every secret nobody has read.
//!
//! The secrets of a workspace are grouped by what a read of them needs:
//! the key mode, the key and (BYOK) the role the read assumes (the recorded
//! one, or the workspace's current link's for an item from before roles
//! were recorded). Each group is probed once through the real path, a
//! `kms:Decrypt` of one of its secrets' blobs (the plaintext is dropped at
//! once), and its answer is written to every secret of the group whose
//! status differs, on condition of the version read (a secret rotated
//! meanwhile keeps what its rotation wrote). A probe that fails for a
//! reason other than revocation (a tampered blob, KMS unavailable) tries the
//! group's next secret, up to [`PROBES_PER_GROUP`], then leaves the group's
//! statuses as they were.
//!
//! [`Broker::check_workspaces`] runs it over every workspace in the table,
//! a page at a time (what the scheduled rule in `infra/schedule.tf` does).

use serde::Serialize;

use super::rewrap::{SecretFailure, DEFAULT_PAGE_LIMIT, MAX_PAGE_LIMIT};
use super::Broker;
use crate::arn::{KeyArn, RoleArn};
use crate::assume_role::SessionPurpose;
use crate::error::{BrokerError, Result, RevokedReason};
use crate::model::{now, KeyMode, SecretMetadata, SecretStatus};
use crate::names::WorkspaceId;
use crate::store::SecretRecord;

/// Secrets of a group tried before its probe is given up.
pub const PROBES_PER_GROUP: usize = 3;

/// Name of the scheduled job's cursor item.
const SCHEDULE_JOB: &str = "check_workspace";

/// What one probe of a (key, role) found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum ProbeOutcome {
    /// `kms:Decrypt` succeeded.
    Active,
    /// The key owner locked the broker out.
    Revoked {
        /// Which link broke.
        reason: RevokedReason,
    },
    /// No probe gave an answer (statuses left as they were).
    Unknown {
        /// The error type of the last attempt (`BrokerError::kind`).
        error: &'static str,
    },
}

/// One distinct (key, role) of a workspace and what probing it found.
#[derive(Debug, Clone, Serialize)]
pub struct Probe {
    /// Platform or the customer's key.
    pub key_mode: KeyMode,
    /// The key.
    pub key_arn: KeyArn,
    /// The role reads of these secrets assume (BYOK).
    pub role_arn: Option<RoleArn>,
    /// Secrets under this key and role.
    pub secrets: u64,
    /// What the probe found.
    #[serde(flatten)]
    pub outcome: ProbeOutcome,
}

/// What `check_workspace` did to one workspace.
#[derive(Debug, Clone)]
pub struct CheckReport {
    /// The workspace.
    pub workspace: WorkspaceId,
    /// One per distinct (key, role).
    pub probes: Vec<Probe>,
    /// Secrets now marked active.
    pub active: u64,
    /// Secrets now marked revoked.
    pub revoked: u64,
    /// Secrets whose group could not be probed (status unchanged).
    pub unknown: u64,
    /// Statuses written (changed by this check).
    pub changed: u64,
    /// Secrets that could not be read or updated.
    pub failed: Vec<SecretFailure>,
}

/// One page of [`Broker::check_workspaces`].
#[derive(Debug, Clone)]
pub struct CheckPage {
    /// Each workspace checked, in order.
    pub reports: Vec<CheckReport>,
    /// Workspaces whose check failed as a whole (e.g. settings unreadable).
    pub failed: Vec<(WorkspaceId, BrokerError)>,
    /// Resume after this workspace; `None` at the end of the table.
    pub next: Option<WorkspaceId>,
}

/// Secrets sharing what a read of them needs.
struct Group {
    mode: KeyMode,
    key: KeyArn,
    role: Option<RoleArn>,
    members: Vec<SecretMetadata>,
    candidates: Vec<SecretRecord>,
}

impl Broker {
    /// Probe each distinct (key, role) of `ws` once and bring every
    /// secret's status in line with the answer (see the module docs).
    pub async fn check_workspace(&self, ws: &WorkspaceId) -> Result<CheckReport> {
        let settings = self.store.get_workspace(ws).await?;
        let mut groups: Vec<Group> = Vec::new();
        let mut failed = Vec::new();
        let mut after = None;
        loop {
            let page = self
                .store
                .secrets_page(ws, after.as_ref(), MAX_PAGE_LIMIT)
                .await?;
            for (secret, rec) in page.items {
                let rec = match rec {
                    Ok(rec) => rec,
                    Err(error) => {
                        failed.push(SecretFailure { secret, error });
                        continue;
                    }
                };
                let m = &rec.meta;
                let role = match m.key_mode {
                    KeyMode::Platform => None,
                    KeyMode::Byok => m.read_role(settings.as_ref()).cloned(),
                };
                let at = groups
                    .iter()
                    .position(|g| g.mode == m.key_mode && g.key == m.key_arn && g.role == role);
                let g = match at {
                    Some(i) => &mut groups[i],
                    None => {
                        groups.push(Group {
                            mode: m.key_mode,
                            key: m.key_arn.clone(),
                            role,
                            members: Vec::new(),
                            candidates: Vec::new(),
                        });
                        groups.last_mut().ok_or_else(|| BrokerError::Storage {
                            detail: "group list empty after push".into(),
                        })?
                    }
                };
                g.members.push(rec.meta.clone());
                if g.candidates.len() < PROBES_PER_GROUP {
                    g.candidates.push(rec);
                }
            }
            match page.next {
                Some(n) => after = Some(n),
                None => break,
            }
        }
        let mut report = CheckReport {
            workspace: ws.clone(),
            probes: Vec::new(),
            active: 0,
            revoked: 0,
            unknown: 0,
            changed: 0,
            failed,
        };
        for g in groups {
            let outcome = self.probe(ws, &g.candidates, settings.as_ref()).await;
            let seen = match &outcome {
                ProbeOutcome::Active => Some(SecretStatus::Active),
                ProbeOutcome::Revoked { reason } => Some(SecretStatus::Revoked {
                    reason: *reason,
                    since: now(),
                }),
                ProbeOutcome::Unknown { .. } => None,
            };
            let n = g.members.len() as u64;
            match seen {
                Some(SecretStatus::Active) => report.active += n,
                Some(SecretStatus::Revoked { .. }) => report.revoked += n,
                None => report.unknown += n,
            }
            if let Some(status) = seen {
                for meta in &g.members {
                    if !status_changes(meta.status, status) {
                        continue;
                    }
                    match self.store.set_status(meta, status).await {
                        Ok(()) => report.changed += 1,
                        Err(error) => report.failed.push(SecretFailure {
                            secret: meta.name.to_string(),
                            error,
                        }),
                    }
                }
            }
            report.probes.push(Probe {
                key_mode: g.mode,
                key_arn: g.key,
                role_arn: g.role,
                secrets: n,
                outcome,
            });
        }
        tracing::info!(workspace = %ws, active = report.active, revoked = report.revoked, unknown = report.unknown, changed = report.changed, "workspace checked");
        Ok(report)
    }

    /// One page of workspaces of the whole table, each checked. With
    /// `scheduled`, `after` is ignored: the page starts where the last
    /// scheduled page stopped (stored in the table) and stores where this
    /// one stops, wrapping to the start after the last workspace, so a
    /// fixed EventBridge input walks the whole table run after run.
    pub async fn check_workspaces(
        &self,
        after: Option<&WorkspaceId>,
        limit: Option<u32>,
        scheduled: bool,
    ) -> Result<CheckPage> {
        let limit = limit.unwrap_or(DEFAULT_PAGE_LIMIT);
        if !(1..=MAX_PAGE_LIMIT).contains(&limit) {
            return Err(BrokerError::invalid(
                "limit",
                format!("must be 1 to {MAX_PAGE_LIMIT}"),
            ));
        }
        let stored;
        let after = if scheduled {
            stored = self.store.schedule_cursor(SCHEDULE_JOB).await?;
            stored.as_ref()
        } else {
            after
        };
        let (workspaces, next) = self.store.workspaces_page(after, limit).await?;
        let mut page = CheckPage {
            reports: Vec::new(),
            failed: Vec::new(),
            next,
        };
        for ws in workspaces {
            match self.check_workspace(&ws).await {
                Ok(r) => page.reports.push(r),
                Err(e) => page.failed.push((ws, e)),
            }
        }
        if scheduled {
            self.store
                .set_schedule_cursor(SCHEDULE_JOB, page.next.as_ref())
                .await?;
        }
        Ok(page)
    }

    /// Open the group's candidates in turn until one gives an answer about
    /// the key; the plaintext is dropped (zeroized) at once.
    async fn probe(
        &self,
        ws: &WorkspaceId,
        candidates: &[SecretRecord],
        settings: Option<&crate::model::WorkspaceSettings>,
    ) -> ProbeOutcome {
        let mut last = ProbeOutcome::Unknown { error: "none" };
        for rec in candidates {
            match self
                .open(ws, &rec.meta.name, rec, settings, SessionPurpose::Check)
                .await
            {
                Ok(value) => {
                    drop(value);
                    return ProbeOutcome::Active;
                }
                Err(BrokerError::Revoked { reason, .. }) => {
                    return ProbeOutcome::Revoked { reason };
                }
                Err(e) => last = ProbeOutcome::Unknown { error: e.kind() },
            }
        }
        last
    }
}

/// Whether `seen` is news against the stored status: a state change, or a
/// different revocation reason (the same rule reads apply).
pub(super) fn status_changes(stored: SecretStatus, seen: SecretStatus) -> bool {
    match (stored, seen) {
        (SecretStatus::Active, SecretStatus::Active) => false,
        (SecretStatus::Revoked { reason: a, .. }, SecretStatus::Revoked { reason: b, .. }) => {
            a != b
        }
        _ => true,
    }
}
