//! The admin side of the `oauth2` kind: `start_oauth2` (the authorization
//! URL, PKCE S256 and `state`; the verifier and client secret are sealed,
//! never returned) and `complete_oauth2` (the broker exchanges the code
//! itself and seals the refresh token), so the platform's control plane
//! never holds a token. The code exchange goes through the same token
//! client as inject's refreshes ([`crate::oauth2::TokenClient`]: TLS,
//! destination rules, no redirects), built once per sandbox on first use.

use std::sync::OnceLock;

use broker_core::{Broker, SecretName, SecretValue, StartOAuth2, WorkspaceId};
use keybroker_contract::{admin as wire, reply};
use serde_json::Value;

use crate::admin::AdminError;
use crate::admin_audit::Changes;
use crate::destination::Destinations;
use crate::upstream::{self, Limits};

/// `start_oauth2`: `{authorization_url, state, expires_at}`.
pub async fn start(
    broker: &Broker,
    a: wire::StartOauth2,
    changes: &mut Changes,
) -> Result<Value, AdminError> {
    let (ws, name) = (WorkspaceId::new(&a.workspace)?, SecretName::new(&a.secret)?);
    let client_secret = a
        .client_secret
        .map(|s| SecretValue::from_string(s.into_inner()))
        .transpose()?;
    let binding = crate::admin_request::binding(a.binding);
    changes.binding_sha256 = Some(crate::admin::binding_digest_hex(&binding));
    let started = broker
        .start_oauth2(
            &ws,
            &name,
            StartOAuth2 {
                binding: &binding,
                authorization_endpoint: &a.authorization_endpoint,
                redirect_uri: &a.redirect_uri,
                scope: a.scope.as_deref(),
                client_secret,
            },
        )
        .await?;
    serde_json::to_value(reply::OAuth2Started {
        authorization_url: started.authorization_url,
        state: started.state,
        expires_at: started.expires_at,
    })
    .map_err(|_| AdminError::Unserialisable)
}

/// `complete_oauth2`: the stored secret's metadata (never a token).
pub async fn complete(
    broker: &Broker,
    r: wire::CompleteOauth2,
    changes: &mut Changes,
) -> Result<Value, AdminError> {
    let (ws, name) = (WorkspaceId::new(&r.workspace)?, SecretName::new(&r.secret)?);
    let (http, limits) = token_http()?;
    let tokens = crate::oauth2::TokenClient::new(
        http,
        limits,
        None,
        broker.access_settings().allow_insecure_http,
    );
    let meta = broker
        .complete_oauth2(&ws, &name, r.code.expose(), &r.state, &tokens)
        .await?;
    let meta = serde_json::to_value(meta).map_err(|_| AdminError::Unserialisable)?;
    changes.version_to = meta["version"].as_u64();
    changes.key_arn = meta["key_arn"].as_str().map(str::to_owned);
    Ok(meta)
}

/// The token client's HTTP client and limits, built once per sandbox
/// (the deployment's destination rules, as inject's).
fn token_http() -> Result<(&'static reqwest::Client, &'static Limits), AdminError> {
    static HTTP: OnceLock<Option<(reqwest::Client, Limits)>> = OnceLock::new();
    let built = HTTP.get_or_init(|| {
        let limits = Limits {
            destinations: Destinations::from_env().ok()?,
            ..Limits::default()
        };
        Some((upstream::client(&limits).ok()?, limits))
    });
    built
        .as_ref()
        .map(|(h, l)| (h, l))
        .ok_or(AdminError::Broker(broker_core::BrokerError::Unavailable {
            service: "oauth2 token endpoint",
            detail: "the HTTP client could not be built (destination setting or TLS)".into(),
        }))
}
