//! Each subcommand as a request: which function, which payload (the exact
//! JSON of docs/INVOCATION.md) and how its reply is shown. This match is the
//! one place the CLI knows the wire format of an operation.

use std::collections::BTreeMap;

use keybroker_contract::Binding;
use serde::Serialize;
use serde_json::{json, Value};

use crate::args::{Command, Inject};
use crate::error::CliError;
use crate::input::{read_policy, read_value, Source};
use crate::invoke::{Function, Payload};
use crate::plan::{binding, read_file, Plan, View};

/// A request carrying a value: borrows it, so it is serialized straight
/// into the payload's zeroizing buffer and never copied into a `Value`.
#[derive(Serialize)]
struct WithValue<'a> {
    op: &'static str,
    workspace: &'a str,
    secret: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    value: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    binding: Option<&'a Binding>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expected_version: Option<u64>,
}

/// The request for `command`. Reads values, policies and bindings from
/// their files or stdin first.
pub fn plan(command: &Command) -> Result<Plan, CliError> {
    use Command as C;
    use View::Record;
    match command {
        C::PrepareByok(a) => Plan::admin(
            &json!({ "op": "prepare_byok", "workspace": a.workspace }),
            Record,
        ),
        C::EnableByok(a) => Plan::admin(
            &json!({ "op": "enable_byok", "workspace": a.ws.workspace, "role_arn": a.role_arn,
                     "key_arn": a.key_arn, "region": a.key_region }),
            Record,
        ),
        C::VerifyByok(a) => Plan::admin(
            &json!({ "op": "verify_byok", "workspace": a.workspace }),
            View::Verify,
        ),
        C::DisableByok(a) => Plan::admin(
            &json!({ "op": "disable_byok", "workspace": a.workspace }),
            Record,
        ),
        C::PutSecret(a) => {
            let binding = binding(&a.binding)?;
            let source = a.value.source().ok_or(CliError::Argument {
                flag: "--value-file/--value-stdin",
                reason: "put-secret needs a value".to_owned(),
            })?;
            let value = read_value(&source)?;
            Plan::admin(
                &WithValue {
                    op: "put_secret",
                    workspace: &a.secret.ws.workspace,
                    secret: &a.secret.secret,
                    value: Some(value.expose()),
                    binding: Some(&binding),
                    expected_version: None,
                },
                Record,
            )
        }
        C::RotateSecret(a) => {
            let value = a.value.source().map(|s| read_value(&s)).transpose()?;
            Plan::admin(
                &WithValue {
                    op: "rotate_secret",
                    workspace: &a.secret.ws.workspace,
                    secret: &a.secret.secret,
                    value: value.as_ref().map(|v| v.expose()),
                    binding: None,
                    expected_version: a.expected_version,
                },
                Record,
            )
        }
        C::DeleteSecret(a) => Plan::admin(
            &json!({ "op": "delete_secret", "workspace": a.ws.workspace, "secret": a.secret }),
            Record,
        ),
        C::ListSecrets(a) => Plan::admin(
            &json!({ "op": "list_secrets", "workspace": a.workspace }),
            View::SecretTable,
        ),
        C::SetPolicy(a) => {
            let source =
                Source::from_flags(a.policy_file.clone(), a.policy_stdin).unwrap_or(Source::Stdin);
            let policy = read_policy(&source)?;
            Plan::admin(
                &json!({ "op": "set_policy", "workspace": a.ws.workspace, "policy": policy }),
                Record,
            )
        }
        // Paginated: `sweep` drives every page; this is the first one.
        C::Rewrap(a) => Plan::admin(&crate::sweep::rewrap_request(a, None), Record),
        C::CheckWorkspace(a) => Plan::admin(&crate::sweep::check_request(a, None)?, Record),
        C::SetLimits(a) => Plan::admin(
            &if a.clear {
                json!({ "op": "set_limits", "workspace": a.ws.workspace, "clear": true })
            } else {
                json!({ "op": "set_limits", "workspace": a.ws.workspace,
                        "limits": { "window_seconds": a.window_seconds,
                                    "workspace": a.workspace_limit, "agent": a.agent_limit } })
            },
            Record,
        ),
        C::ClearBreaker(a) => Plan::admin(
            &json!({ "op": "clear_breaker", "workspace": a.ws.workspace, "secret": a.secret }),
            Record,
        ),
        // `budget: null` (--default) is explicit on the wire, never a missing field.
        C::SetProbeBudget(a) => Plan::admin(
            &json!({ "op": "set_probe_budget", "workspace": a.secret.ws.workspace,
                     "secret": a.secret.secret, "budget": a.budget }),
            Record,
        ),
        C::StartOAuth2(a) => crate::oauth2::start_plan(a),
        C::CompleteOAuth2(a) => crate::oauth2::complete_plan(a),
        C::Inject(a) => Ok(Plan {
            function: Function::Inject,
            payload: Payload::new(&inject_event(a)?)?,
            view: View::Injection,
        }),
    }
}

fn inject_event(a: &Inject) -> Result<Value, CliError> {
    let mut headers = BTreeMap::new();
    for h in &a.headers {
        let (name, value) = h.split_once(':').ok_or(CliError::Argument {
            flag: "--request-header",
            reason: "expected `Name: value`".to_owned(),
        })?;
        headers.insert(name.trim().to_owned(), value.trim_start().to_owned());
    }
    let mut request = json!({ "method": a.method, "url": a.url, "headers": headers });
    if let Some(path) = &a.body_file {
        request["body"] = Value::String(read_file(path, "--body-file")?);
    }
    if let Some(t) = a.timeout_ms {
        request["timeout_ms"] = json!(t);
    }
    Ok(
        json!({ "workspace": a.secret.ws.workspace, "secret": a.secret.secret,
               "agent": a.agent, "request": request }),
    )
}

#[cfg(test)]
mod tests;
