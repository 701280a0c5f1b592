//! `start-oauth2` and `complete-oauth2`: connecting an `oauth2` secret
//! through the authorization-code flow (docs/INVOCATION.md, "The oauth2
//! kind"). The client secret and the provider's answer (its `code`) come
//! from a file or stdin, never from argv, like every credential the CLI
//! handles; the broker returns neither token.

use serde::Serialize;

use crate::args::{CompleteOAuth2, StartOAuth2};
use crate::error::CliError;
use crate::input::{read_value, Source};
use keybroker_contract::{Binding, OAuth2Binding};

use crate::plan::{binding, Plan, View};

#[derive(Serialize)]
struct StartRequest<'a> {
    op: &'static str,
    workspace: &'a str,
    secret: &'a str,
    binding: &'a Binding,
    authorization_endpoint: &'a str,
    redirect_uri: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    scope: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_secret: Option<&'a str>,
}

#[derive(Serialize)]
struct CompleteRequest<'a> {
    op: &'static str,
    workspace: &'a str,
    secret: &'a str,
    code: &'a str,
    state: &'a str,
}

/// The `start_oauth2` request: the binding (file or flags) gets the
/// `oauth2` member from `--token-endpoint`, `--client-id`, `--scope`.
pub fn start_plan(a: &StartOAuth2) -> Result<Plan, CliError> {
    let mut b = binding(&a.binding)?;
    let bad = |reason: &str| CliError::Argument {
        flag: "--binding-file",
        reason: reason.to_owned(),
    };
    if b.oauth2.is_some() {
        return Err(bad(
            "give the oauth2 member with --token-endpoint and --client-id, not in the file",
        ));
    }
    b.oauth2 = Some(OAuth2Binding {
        token_endpoint: a.token_endpoint.clone(),
        client_id: a.client_id.clone(),
        scope: a.scope.clone(),
    });
    let secret = Source::from_flags(a.client_secret_file.clone(), a.client_secret_stdin)
        .map(|s| read_value(&s))
        .transpose()?;
    Plan::admin(
        &StartRequest {
            op: "start_oauth2",
            workspace: &a.secret.ws.workspace,
            secret: &a.secret.secret,
            binding: &b,
            authorization_endpoint: &a.authorization_endpoint,
            redirect_uri: &a.redirect_uri,
            scope: a.scope.as_deref(),
            client_secret: secret.as_ref().map(|s| s.expose()),
        },
        View::Record,
    )
}

/// The `complete_oauth2` request from the URL the provider redirected the
/// user to (or its query string), read from `--callback-file` or
/// `--callback-stdin`.
pub fn complete_plan(a: &CompleteOAuth2) -> Result<Plan, CliError> {
    let source = Source::from_flags(a.callback_file.clone(), a.callback_stdin).ok_or(
        CliError::Argument {
            flag: "--callback-file/--callback-stdin",
            reason: "complete-oauth2 needs the redirect URL the provider sent".to_owned(),
        },
    )?;
    let text = read_value(&source)?;
    let (code, state) = code_and_state(text.expose())?;
    Plan::admin(
        &CompleteRequest {
            op: "complete_oauth2",
            workspace: &a.secret.ws.workspace,
            secret: &a.secret.secret,
            code: &code,
            state: &state,
        },
        View::Record,
    )
}

/// `code` and `state` from a redirect URL or a bare query string.
fn code_and_state(text: &str) -> Result<(zeroize::Zeroizing<String>, String), CliError> {
    let query = text.trim().split_once('?').map_or(text.trim(), |(_, q)| q);
    let (mut code, mut state) = (None, None);
    for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
        match k.as_ref() {
            "code" => code = Some(zeroize::Zeroizing::new(v.into_owned())),
            "state" => state = Some(v.into_owned()),
            "error" => {
                return Err(CliError::Argument {
                    flag: "callback",
                    reason: format!("the provider refused the authorization: {v}"),
                })
            }
            _ => {}
        }
    }
    match (code, state) {
        (Some(c), Some(s)) => Ok((c, s)),
        _ => Err(CliError::Argument {
            flag: "callback",
            reason: "the redirect URL has no code and state".to_owned(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_and_state_from_a_url_or_a_query() {
        let (c, s) = code_and_state("https://p.example/cb?code=abc&state=xyz&iss=x\n").unwrap();
        assert_eq!((c.as_str(), s.as_str()), ("abc", "xyz"));
        let (c, _) = code_and_state("code=a%2Bb&state=s").unwrap();
        assert_eq!(c.as_str(), "a+b");
        assert!(code_and_state("https://p.example/cb?error=access_denied&state=s").is_err());
        assert!(code_and_state("https://p.example/cb?state=s").is_err());
    }
}
