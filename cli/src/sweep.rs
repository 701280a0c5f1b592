//! The workspace-wide, paginated operations: `rewrap` and
//! `check-workspace` (`--all`: every workspace). Each page is one admin
//! invocation driven by [`crate::pages`] (progress bar on stderr, resume
//! token on interruption). The wire format is docs/INVOCATION.md's: a page
//! answers `next`, sent back as `after` for the next page; the resume token
//! is `{"after": NEXT}`.

use serde_json::{json, Value};

use keybroker_contract::reply;

use crate::args::{CheckWorkspace, Command, Rewrap};
use crate::error::CliError;
use crate::exit;
use crate::invoke::{Broker, Payload, Reply};
use crate::pages::{drive, progress_bar, AdminPages, Page};

/// The request of a `rewrap` page after `resume` (`None`: the first).
pub fn rewrap_request(a: &Rewrap, resume: Option<&Value>) -> Value {
    let mut r = json!({ "op": "rewrap", "workspace": a.ws.workspace });
    if a.allow_leaving_customer_key {
        r["allow_leaving_customer_key"] = json!(true);
    }
    if let Some(limit) = a.limit {
        r["limit"] = json!(limit);
    }
    if let Some(after) = resume.map(|t| &t["after"]).filter(|v| !v.is_null()) {
        r["after"] = after.clone();
    }
    r
}

/// The request of a `check-workspace` page after `resume`.
pub fn check_request(a: &CheckWorkspace, resume: Option<&Value>) -> Result<Value, CliError> {
    if !a.all {
        let ws = a.workspace.as_ref().ok_or(CliError::Argument {
            flag: "--workspace",
            reason: "give a workspace, or --all".to_owned(),
        })?;
        return Ok(json!({ "op": "check_workspace", "workspace": ws }));
    }
    let mut r = json!({ "op": "check_all_workspaces" });
    if let Some(limit) = a.limit {
        r["limit"] = json!(limit);
    }
    if let Some(after) = resume.map(|t| &t["after"]).filter(|v| !v.is_null()) {
        r["after"] = after.clone();
    }
    Ok(r)
}

/// A reply read as a page: `done` counts what it went through, `next`
/// becomes the resume token.
fn page(reply: &Reply, done: impl Fn(&Value) -> u64) -> Page {
    let result = &reply.json["result"];
    Page {
        done: done(result),
        total: None,
        next: result
            .get("next")
            .filter(|n| !n.is_null())
            .map(|n| json!({ "after": n })),
        reply: reply.json.clone(),
    }
}

fn count(v: &Value, k: &str) -> u64 {
    v[k].as_u64().unwrap_or(0)
}

/// Run `command` if it is a paginated one; `None` otherwise.
pub async fn run(
    command: &Command,
    broker: &Broker,
    json_out: bool,
) -> Option<Result<u8, CliError>> {
    Some(match command {
        Command::Rewrap(a) => rewrap(a, broker, json_out).await,
        Command::CheckWorkspace(a) => check(a, broker, json_out).await,
        _ => return None,
    })
}

fn resume_token(text: Option<&str>) -> Result<Option<Value>, CliError> {
    text.map(|t| {
        serde_json::from_str::<Value>(t).map_err(|e| CliError::Argument {
            flag: "--resume",
            reason: format!("not a resume token ({e})"),
        })
    })
    .transpose()
}

async fn rewrap(a: &Rewrap, broker: &Broker, json_out: bool) -> Result<u8, CliError> {
    let mut source = AdminPages {
        broker,
        request: |resume: Option<&Value>| Payload::new(&rewrap_request(a, resume)),
        read: |reply: &Reply| {
            Ok(page(reply, |r| {
                count(r, "moved") + count(r, "skipped") + count(r, "failed")
            }))
        },
    };
    let bar = progress_bar("rewrap", json_out);
    let replies = drive(&mut source, resume_token(a.resume.as_deref())?, &bar).await?;
    let results: Vec<reply::RewrapPage> = typed(&replies)?;
    let sum = |f: fn(&reply::RewrapPage) -> u64| results.iter().map(f).sum::<u64>();
    let failures: Vec<&reply::SecretFailure> = results.iter().flat_map(|r| &r.failures).collect();
    if json_out {
        print_lines(&replies);
    } else {
        let target = results
            .first()
            .map(|r| format!("{} {}", r.target.key_mode, r.target.key_arn))
            .unwrap_or_else(|| "(no page)".to_owned());
        let mut text = format!(
            "target     {target}\nmoved      {}\nskipped    {}\nfailed     {}\n",
            sum(|r| r.moved),
            sum(|r| r.skipped),
            sum(|r| r.failed),
        );
        if sum(|r| r.left_customer_key) > 0 {
            text.push_str(&format!(
                "left the customer's key  {}\n",
                sum(|r| r.left_customer_key)
            ));
        }
        text.push_str(&failure_lines(&failures));
        crate::print(text.as_bytes());
    }
    Ok(failures_code(&failures))
}

async fn check(a: &CheckWorkspace, broker: &Broker, json_out: bool) -> Result<u8, CliError> {
    let all = a.all;
    let mut source = AdminPages {
        broker,
        request: |resume: Option<&Value>| Payload::new(&check_request(a, resume)?),
        read: |reply: &Reply| {
            Ok(page(reply, |r| {
                if all {
                    count(r, "checked")
                } else {
                    count(r, "secrets")
                }
            }))
        },
    };
    let bar = progress_bar("check", json_out);
    let replies = drive(&mut source, resume_token(a.resume.as_deref())?, &bar).await?;
    let mut reports: Vec<reply::CheckReport> = Vec::new();
    for r in &replies {
        // A workspace's check, or one page of the all-workspaces check.
        match serde_json::from_value::<reply::CheckPage>(r["result"].clone()) {
            Ok(page) => reports.extend(page.workspaces),
            Err(_) => reports.push(result_of(r)?),
        }
    }
    let failures: Vec<&reply::SecretFailure> = reports.iter().flat_map(|r| &r.failures).collect();
    if json_out {
        print_lines(&replies);
    } else {
        let mut text = String::from("workspace  secrets  active  revoked  unknown  changed\n");
        for r in &reports {
            text.push_str(&format!(
                "{}  {}  {}  {}  {}  {}\n",
                r.workspace, r.secrets, r.active, r.revoked, r.unknown, r.changed,
            ));
        }
        text.push_str(&failure_lines(&failures));
        crate::print(text.as_bytes());
    }
    Ok(failures_code(&failures))
}

fn print_lines(replies: &[Value]) {
    let mut out = String::new();
    for r in replies {
        out.push_str(&r.to_string());
        out.push('\n');
    }
    crate::print(out.as_bytes());
}

fn failure_lines(failures: &[&reply::SecretFailure]) -> String {
    failures
        .iter()
        .map(|f| format!("  {}: {}\n", f.secret, f.error))
        .collect()
}

/// Exit code: OK when nothing failed, else the first failure's type's (a
/// `conflict` means a rotation won: rerun).
fn failures_code(failures: &[&reply::SecretFailure]) -> u8 {
    failures
        .first()
        .map_or(exit::OK, |f| exit::for_type(f.error.kind.as_str()))
}

/// A reply's `result` as the contract's type.
fn result_of<T: serde::de::DeserializeOwned>(reply: &Value) -> Result<T, CliError> {
    serde_json::from_value(reply["result"].clone()).map_err(|_| CliError::BadReply {
        function: "admin".to_owned(),
        detail: "a page's result does not read as the contract's reply".to_owned(),
    })
}

fn typed<T: serde::de::DeserializeOwned>(replies: &[Value]) -> Result<Vec<T>, CliError> {
    replies.iter().map(result_of).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::Cli;
    use clap::Parser;

    fn command(argv: &[&str]) -> Command {
        Cli::try_parse_from(argv).unwrap().command
    }

    #[test]
    fn requests_follow_the_resume_token() {
        let Command::Rewrap(a) = command(&[
            "keybroker",
            "rewrap",
            "-w",
            "acme",
            "--limit",
            "5",
            "--allow-leaving-customer-key",
        ]) else {
            panic!()
        };
        assert_eq!(
            rewrap_request(&a, None),
            json!({ "op": "rewrap", "workspace": "acme", "limit": 5, "allow_leaving_customer_key": true })
        );
        assert_eq!(
            rewrap_request(&a, Some(&json!({ "after": "gh" })))["after"],
            "gh"
        );
        let Command::CheckWorkspace(c) = command(&["keybroker", "check-workspace", "--all"]) else {
            panic!()
        };
        assert_eq!(
            check_request(&c, Some(&json!({ "after": "ws-1" }))).unwrap(),
            json!({ "op": "check_all_workspaces", "after": "ws-1" })
        );
        let Command::CheckWorkspace(c) = command(&["keybroker", "check-workspace", "-w", "acme"])
        else {
            panic!()
        };
        assert_eq!(
            check_request(&c, None).unwrap(),
            json!({ "op": "check_workspace", "workspace": "acme" })
        );
    }
}
