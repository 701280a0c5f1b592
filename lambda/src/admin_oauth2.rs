//! The admin side of the `oauth2` kind: `start_oauth2` (the authorization
//! URL, PKCE S256 and `state`; the verifier and client secret are sealed,
//! never returned) and `complete_oauth2` (the broker exchanges the code
//! itself and seals the refresh token), so the platform's control plane
//! never holds a token. The code exchange goes through the same token
//! client as inject's refreshes ([`crate::oauth2::TokenClient`]: TLS,
//! destination rules, no redirects), built once per sandbox on first use.

use std::sync::OnceLock;

use broker_core::{Binding, Broker, SecretName, SecretValue, StartOAuth2, WorkspaceId};
use serde_json::{json, Value};

use crate::admin::AdminError;
use crate::admin_audit::Changes;
use crate::destination::Destinations;
use crate::upstream::{self, Limits};

/// The wire fields of `start_oauth2`.
pub struct StartArgs {
    /// Workspace.
    pub workspace: String,
    /// Secret name.
    pub secret: String,
    /// The binding the secret will get (`oauth2` member required).
    pub binding: Binding,
    /// The provider's authorization endpoint.
    pub authorization_endpoint: String,
    /// The redirect URI registered with the provider.
    pub redirect_uri: String,
    /// Scope to ask for.
    pub scope: Option<String>,
    /// The client secret, where the OAuth client is per customer.
    pub client_secret: Option<String>,
}

/// `start_oauth2`: `{authorization_url, state, expires_at}`.
pub async fn start(
    broker: &Broker,
    a: StartArgs,
    changes: &mut Changes,
) -> Result<Value, AdminError> {
    let (ws, name) = (WorkspaceId::new(&a.workspace)?, SecretName::new(&a.secret)?);
    let client_secret = a.client_secret.map(SecretValue::from_string).transpose()?;
    changes.binding_sha256 = serde_json::to_vec(&a.binding)
        .ok()
        .map(|b| crate::admin_audit::sha256_hex(&b));
    let started = broker
        .start_oauth2(
            &ws,
            &name,
            StartOAuth2 {
                binding: &a.binding,
                authorization_endpoint: &a.authorization_endpoint,
                redirect_uri: &a.redirect_uri,
                scope: a.scope.as_deref(),
                client_secret,
            },
        )
        .await?;
    Ok(json!({
        "authorization_url": started.authorization_url,
        "state": started.state,
        "expires_at": started.expires_at,
    }))
}

/// `complete_oauth2`: the stored secret's metadata (never a token).
pub async fn complete(
    broker: &Broker,
    workspace: &str,
    secret: &str,
    code: &str,
    state: &str,
    changes: &mut Changes,
) -> Result<Value, AdminError> {
    let (ws, name) = (WorkspaceId::new(workspace)?, SecretName::new(secret)?);
    let (http, limits) = token_http()?;
    let tokens = crate::oauth2::TokenClient::new(
        http,
        limits,
        None,
        broker.access_settings().allow_insecure_http,
    );
    let meta = broker
        .complete_oauth2(&ws, &name, code, state, &tokens)
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
