//! Connecting an `oauth2` secret without the platform seeing its tokens:
//! `start_oauth2` returns the authorization URL (PKCE S256 and `state`;
//! the verifier, and a per-customer client secret, are sealed and never
//! returned), and `complete_oauth2` takes the code, exchanges it itself and
//! seals the refresh token as the secret (with the first access token
//! cached), so no platform component but the broker holds either token.

use super::Broker;
use crate::assume_role::SessionPurpose;
use crate::binding::Binding;
use crate::error::{BrokerError, Result};
use crate::model::{now, SecretMetadata, SecretStatus};
use crate::names::{SecretName, WorkspaceId};
use crate::oauth2::{
    parse_answer, pkce_pair, random_state, Material, Pending, TokenForm, TokenTransport,
    ACCESS_SUFFIX, PKCE_SUFFIX,
};
use crate::sealing;
use crate::secret::SecretValue;
use crate::store::oauth2::OAuth2State;
use crate::store::oauth2_start::OAuth2Start;
use crate::store::SecretRecord;

/// How long a started flow can be completed.
pub const FLOW_TTL_SECONDS: u64 = 600;

/// What `start_oauth2` needs.
pub struct StartOAuth2<'a> {
    /// The binding the secret will get (its `oauth2` member is required).
    pub binding: &'a Binding,
    /// The provider's authorization endpoint.
    pub authorization_endpoint: &'a str,
    /// Where the provider sends the user back with the code.
    pub redirect_uri: &'a str,
    /// Scope to ask for (`None`: the provider's default).
    pub scope: Option<&'a str>,
    /// The client secret, where the OAuth client is per customer.
    pub client_secret: Option<SecretValue>,
}

/// A started flow: the URL to send the user to.
#[derive(Debug, Clone)]
pub struct Started {
    /// The authorization URL (with `state` and the S256 challenge).
    pub authorization_url: String,
    /// The `state` the provider will send back (not secret).
    pub state: String,
    /// Until when (Unix seconds) it can be completed.
    pub expires_at: u64,
}

fn flow_url(raw: &str) -> Result<url::Url> {
    let url = url::Url::parse(raw)
        .map_err(|_| BrokerError::invalid("authorization_endpoint", "does not parse as a URL"))?;
    if !matches!(url.scheme(), "https" | "http") || url.fragment().is_some() {
        return Err(BrokerError::invalid(
            "authorization_endpoint",
            "must be an https URL without a fragment",
        ));
    }
    Ok(url)
}

impl Broker {
    /// Start an authorization-code flow for secret `name`: seal a fresh
    /// PKCE verifier (and the client secret) under the workspace's current
    /// key as `<name>#pkce`, record the flow, and return the URL.
    pub async fn start_oauth2(
        &self,
        ws: &WorkspaceId,
        name: &SecretName,
        req: StartOAuth2<'_>,
    ) -> Result<Started> {
        req.binding.validate()?;
        let client = req.binding.oauth2.as_ref().ok_or_else(|| {
            BrokerError::invalid("binding", "an oauth2 flow needs binding.oauth2")
        })?;
        let mut url = flow_url(req.authorization_endpoint)?;
        url::Url::parse(req.redirect_uri)
            .map_err(|_| BrokerError::invalid("redirect_uri", "does not parse as a URL"))?;
        let (verifier, challenge) = pkce_pair()?;
        let state = random_state()?;
        let pending = Pending {
            verifier,
            client_secret: req.client_secret,
        };
        let settings = self.store.get_workspace(ws).await?;
        let key = self.write_key(ws, settings.as_ref()).await?;
        let sealed = sealing::seal(
            &key.kms,
            &key.key_arn,
            key.mode,
            ws,
            &name.derived(PKCE_SUFFIX),
            &pending.to_value()?,
            Some(req.binding),
        )
        .await?;
        drop(pending);
        let started_at = now();
        let binding_json = serde_json::to_string(req.binding)
            .map_err(|_| BrokerError::invalid("binding", "does not serialise"))?;
        self.store
            .put_oauth2_start(
                ws,
                name,
                &OAuth2Start {
                    state: state.clone(),
                    verifier: sealed,
                    redirect_uri: req.redirect_uri.to_owned(),
                    binding: binding_json,
                    started_at,
                    key_mode: key.mode,
                    key_arn: key.key_arn,
                    role_arn: key.role,
                },
            )
            .await?;
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("response_type", "code")
                .append_pair("client_id", &client.client_id)
                .append_pair("redirect_uri", req.redirect_uri)
                .append_pair("state", &state)
                .append_pair("code_challenge", &challenge)
                .append_pair("code_challenge_method", "S256");
            if let Some(s) = req.scope {
                q.append_pair("scope", s);
            }
        }
        tracing::info!(workspace = %ws, secret = %name, "oauth2 flow started");
        Ok(Started {
            authorization_url: url.into(),
            state,
            expires_at: started_at + FLOW_TTL_SECONDS,
        })
    }

    /// Complete the flow of `name` with the `code` and `state` the provider
    /// returned: exchange the code through `transport` (PKCE verifier and
    /// client secret opened from the seal), store the refresh token as the
    /// secret (replacing an earlier one of that name) and cache the first
    /// access token. A wrong `state` is refused and leaves the flow; a
    /// right one consumes it, whatever the exchange then says.
    pub async fn complete_oauth2<T: TokenTransport>(
        &self,
        ws: &WorkspaceId,
        name: &SecretName,
        code: &str,
        state: &str,
        transport: &T,
    ) -> Result<SecretMetadata> {
        let flow = self
            .store
            .get_oauth2_start(ws, name)
            .await?
            .ok_or_else(|| BrokerError::NotFound {
                what: "oauth2 flow",
                name: name.to_string(),
            })?;
        if !constant_time_eq(flow.state.as_bytes(), state.as_bytes()) {
            return Err(BrokerError::invalid(
                "state",
                "does not match the started flow",
            ));
        }
        self.store.consume_oauth2_start(ws, name, state).await?;
        if now() > flow.started_at + FLOW_TTL_SECONDS {
            return Err(BrokerError::invalid(
                "state",
                "the flow expired: start it again",
            ));
        }
        let binding: Binding = serde_json::from_str(&flow.binding)
            .map_err(|_| crate::store::codec::malformed("oauth_binding"))?;
        let client = binding
            .oauth2
            .clone()
            .ok_or_else(|| crate::store::codec::malformed("oauth_binding"))?;
        let settings = self.store.get_workspace(ws).await?;
        let t = now();
        let rec = SecretRecord {
            meta: SecretMetadata {
                workspace: ws.clone(),
                name: name.clone(),
                version: 0,
                key_mode: flow.key_mode,
                key_arn: flow.key_arn.clone(),
                role_arn: flow.role_arn.clone(),
                created_at: t,
                updated_at: t,
                status: SecretStatus::Active,
                binding: Some(binding.clone()),
            },
            blob: flow.verifier.clone(),
        };
        let pkce_name = name.derived(PKCE_SUFFIX);
        let pending = Pending::from_value(
            &self
                .open(
                    ws,
                    &pkce_name,
                    &rec,
                    settings.as_ref(),
                    SessionPurpose::Admin,
                )
                .await?,
        )?;
        let body = TokenForm::Code {
            client: &client,
            code,
            verifier: &pending.verifier,
            redirect_uri: &flow.redirect_uri,
            client_secret: pending.client_secret.as_ref(),
        }
        .encode()?;
        let issued_at_ms = super::oauth2::now_ms();
        let answer = transport
            .post_form(&client.endpoint()?, body)
            .await
            .map_err(|detail| BrokerError::Unavailable {
                service: "oauth2 token endpoint",
                detail,
            })?;
        let tokens = parse_answer(&answer, name.as_str())?;
        drop(answer);
        let refresh_token = tokens
            .refresh_token
            .ok_or_else(|| BrokerError::OAuth2Refused {
                secret: name.to_string(),
                code: "no_refresh_token".into(),
            })?;
        let material = Material {
            refresh_token,
            client_secret: pending.client_secret,
        };
        match self.delete_secret(ws, name).await {
            Ok(()) | Err(BrokerError::NotFound { .. }) => {}
            Err(e) => return Err(e),
        }
        let meta = self
            .put_bound_secret(ws, name, &material.to_value()?, &binding)
            .await?;
        drop(material);
        let kms = self
            .kms_for(ws, &meta, settings.as_ref(), SessionPurpose::Admin)
            .await?;
        let access = sealing::seal(
            &kms,
            &meta.key_arn,
            meta.key_mode,
            ws,
            &name.derived(ACCESS_SUFFIX),
            &tokens.access_token,
            Some(&binding),
        )
        .await?;
        self.store
            .put_oauth2_state(
                ws,
                name,
                &OAuth2State {
                    secret_version: meta.version,
                    access: Some(access),
                    issued_at_ms,
                    expires_at_ms: issued_at_ms + tokens.expires_in.saturating_mul(1000),
                    ..OAuth2State::default()
                },
            )
            .await?;
        tracing::info!(workspace = %ws, secret = %name, "oauth2 secret connected");
        Ok(meta)
    }
}

/// Compare without an early exit (the `state` is a CSRF token).
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
