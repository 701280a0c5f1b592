//! [`Plan`]: one invocation a subcommand makes (which function, the
//! payload, how the reply is shown), and the one binding reader both the
//! secret commands and the OAuth 2.0 commands send ([`binding`]). Below
//! `ops` and `oauth2`, so each builds plans without importing the other.

use std::path::Path;

use keybroker_contract::{Binding, Injection, OnEcho as WireOnEcho};
use serde::Serialize;

use crate::args::{BindingArgs, OnEcho};
use crate::error::CliError;
use crate::invoke::{Function, Payload};

/// How a successful reply is shown to a human.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    /// `result` as `key  value` lines.
    Record,
    /// `result` as a table of secrets.
    SecretTable,
    /// `result` is a verification report: exits with the failed link's code.
    Verify,
    /// The inject function's reply: status, headers, body.
    Injection,
}

/// One invocation to make.
#[derive(Debug)]
pub struct Plan {
    /// Which function.
    pub function: Function,
    /// The request.
    pub payload: Payload,
    /// How to show the reply.
    pub view: View,
}

impl Plan {
    pub(crate) fn admin(request: &impl Serialize, view: View) -> Result<Self, CliError> {
        Ok(Self {
            function: Function::Admin,
            payload: Payload::new(request)?,
            view,
        })
    }
}

/// The binding: the file read as the contract's [`Binding`] (strictly: an
/// unknown field is refused here, before anything is sent), or built from
/// the flags.
pub(crate) fn binding(a: &BindingArgs) -> Result<Binding, CliError> {
    let bad = |reason: String| CliError::Argument {
        flag: "binding",
        reason,
    };
    if let Some(path) = &a.binding_file {
        let text = read_file(path, "--binding-file")?;
        return serde_json::from_str::<Binding>(&text)
            .map_err(|e| bad(format!("{} is not a binding: {e}", path.display())));
    }
    if a.host.is_empty() {
        return Err(bad("give --host (repeatable) or --binding-file".to_owned()));
    }
    let inject = match (&a.header, &a.basic_auth, &a.query_param) {
        (Some(name), None, None) => Injection::Header {
            name: name.clone(),
            template: a.template.clone(),
        },
        (None, Some(user), None) => Injection::BasicAuth {
            username: user.clone(),
        },
        (None, None, Some(param)) => Injection::Query {
            param: param.clone(),
        },
        _ => {
            return Err(bad(
                "give exactly one of --header, --basic-auth, --query-param".to_owned(),
            ))
        }
    };
    let mut b = Binding::new(a.host.clone(), inject);
    if !a.agent_header.is_empty() {
        b.agent_headers = Some(a.agent_header.clone());
    }
    b.on_echo = match a.on_echo {
        Some(OnEcho::Redact) => WireOnEcho::Redact,
        Some(OnEcho::Withhold) | None => WireOnEcho::Withhold,
    };
    Ok(b)
}

/// A file named by `flag`, as text.
pub(crate) fn read_file(path: &Path, flag: &'static str) -> Result<String, CliError> {
    std::fs::read_to_string(path).map_err(|e| CliError::Argument {
        flag,
        reason: format!("{}: {e}", path.display()),
    })
}
