//! The admin side of the `oauth2` kind: `start_oauth2` (the authorization
//! URL, PKCE S256 and `state`; the verifier and client secret are sealed,
//! never returned) and `complete_oauth2` (the broker exchanges the code
//! itself and seals the refresh token), so the platform's control plane
//! never holds a token. The code exchange goes through the same token
//! client as inject's refreshes ([`crate::edge::token_client::TokenClient`]: TLS,
//! destination rules, no redirects), built once per sandbox on first use.

use std::sync::OnceLock;

use broker_core::{Broker, SecretValue, StartOAuth2};
use keybroker_contract::{admin as wire, reply};

use crate::admin::audit::{binding_digest_hex, Changes};
use crate::admin::error::AdminError;
use crate::admin::op::{as_reply, name, secret_target, ws, Handler};
use crate::admin::request;
use crate::edge::destination::Destinations;
use crate::edge::token_client::TokenClient;
use crate::edge::upstream::{self, Limits};

/// `start_oauth2`: `{authorization_url, state, expires_at}`.
impl Handler for wire::StartOauth2 {
    fn describe(&self, _: &mut Changes) -> Option<String> {
        secret_target(&self.secret)
    }

    async fn run(self, broker: &Broker, changes: &mut Changes) -> Result<Self::Reply, AdminError> {
        let (ws, name) = (ws(&self.workspace)?, name(&self.secret)?);
        let client_secret = self
            .client_secret
            .map(|s| SecretValue::from_string(s.into_inner()))
            .transpose()?;
        let binding = request::binding(self.binding);
        changes.binding_sha256 = Some(binding_digest_hex(&binding));
        let started = broker
            .start_oauth2(
                &ws,
                &name,
                StartOAuth2 {
                    binding: &binding,
                    authorization_endpoint: &self.authorization_endpoint,
                    redirect_uri: &self.redirect_uri,
                    scope: self.scope.as_deref(),
                    client_secret,
                },
            )
            .await?;
        Ok(reply::OAuth2Started {
            authorization_url: started.authorization_url,
            state: started.state,
            expires_at: started.expires_at,
        })
    }
}

/// `complete_oauth2`: the stored secret's metadata (never a token).
impl Handler for wire::CompleteOauth2 {
    fn describe(&self, _: &mut Changes) -> Option<String> {
        secret_target(&self.secret)
    }

    async fn run(self, broker: &Broker, changes: &mut Changes) -> Result<Self::Reply, AdminError> {
        let (ws, name) = (ws(&self.workspace)?, name(&self.secret)?);
        let (http, limits) = token_http()?;
        let tokens = TokenClient::new(
            http,
            limits,
            None,
            broker.access_settings().allow_insecure_http,
        );
        let meta = broker
            .complete_oauth2(&ws, &name, self.code.expose(), &self.state, &tokens)
            .await?;
        changes.secret_written(&meta, false);
        as_reply(meta)
    }
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
