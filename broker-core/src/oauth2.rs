//! The `oauth2` credential kind: a refresh token (and, where the platform's
//! OAuth client is per customer, its client secret) sealed under the
//! workspace's key, from which the broker itself obtains the access token
//! it injects.
//!
//! Why the broker refreshes: the refresh token lives for months and is the
//! valuable secret. If a platform refreshed outside keybroker, the refresh
//! token would sit where the customer's key does not protect it, and
//! revoking the broker would not stop refreshes. Here every refresh starts
//! with `kms:Decrypt` of the refresh token under the customer's key, so a
//! revocation stops the next refresh as it stops the next injection.
//!
//! What is sealed, and under which names (the encryption context stays
//! exactly `{workspace, secret}`; the customer's key policy denies any other
//! key, so a second blob of one secret gets a *derived name*, never a key):
//! - the secret item's blob, context `{ws, <name>}`: [`Material`] as JSON
//!   (refresh token, optional client secret). A rotated refresh token is
//!   written back here, conditional on the version read.
//! - the cached access token, context `{ws, <name>#access}` ([`ACCESS_SUFFIX`]),
//!   in the secret's oauth2 state item (`store::oauth2`).
//! - the PKCE verifier of a started authorization-code flow, context
//!   `{ws, <name>#pkce}` ([`PKCE_SUFFIX`]).
//!
//! `#` is not allowed in a secret name ([`crate::SecretName`]), so no real
//! secret can ever share a derived name's context.
//!
//! The token endpoint and client id are part of the [`crate::Binding`]
//! ([`OAuth2Binding`]): authenticated with every blob of the secret, so a
//! table write cannot point refreshes at another endpoint. The HTTP call
//! itself is the Lambda crate's ([`TokenTransport`]): this crate sends no
//! credential anywhere.
//!
//! States of a secret's access token (docs/ARCHITECTURE.md, "OAuth 2.0"):
//! `fresh` (cached, used as is) → `expiring` (within
//! [`OAuth2Settings::refresh_margin`] of expiry, or sealed for an older
//! secret version) → `refreshing` (one invocation holds the lease) → `fresh`;
//! `invalid_grant` → `reauth_required` (until the secret is connected
//! again); a revoked key → `revoked` from any state.

use std::future::Future;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, Zeroizing};

use crate::error::{BrokerError, Result};
use crate::secret::SecretValue;

mod pkce;

#[cfg(test)]
use pkce::base64url;
pub use pkce::{pkce_pair, random_state};

/// Derived-name suffix of the cached access token's blob.
pub const ACCESS_SUFFIX: &str = "access";
/// Derived-name suffix of a started flow's PKCE verifier blob.
pub const PKCE_SUFFIX: &str = "pkce";
/// Longest client id accepted.
const MAX_CLIENT_ID: usize = 256;
/// Lifetime assumed for an access token whose response has no `expires_in`.
const DEFAULT_EXPIRES_IN: u64 = 3600;

/// The token endpoint and client of an `oauth2` secret: part of its
/// binding, so authenticated with its blobs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OAuth2Binding {
    /// The token endpoint, `https://` (plain `http` only to loopback and
    /// only where the deployment allows it, as for upstreams).
    pub token_endpoint: String,
    /// The OAuth client id (not secret).
    pub client_id: String,
    /// Scope to ask for on refresh; `None`: the grant's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

impl OAuth2Binding {
    /// Refuse an endpoint or client id that could not be used safely.
    pub fn validate(&self) -> Result<()> {
        let bad = |why: &str| BrokerError::invalid("binding.oauth2", why);
        self.endpoint()?;
        if self.client_id.is_empty()
            || self.client_id.len() > MAX_CLIENT_ID
            || self.client_id.bytes().any(|b| b.is_ascii_control())
        {
            return Err(bad(
                "client_id must be 1-256 characters, no control characters",
            ));
        }
        if let Some(s) = &self.scope {
            if s.len() > 1024
                || s.bytes()
                    .any(|b| b.is_ascii_control() || b == b'"' || b == b'\\')
            {
                return Err(bad(
                    "scope must be at most 1024 characters of OAuth scope text",
                ));
            }
        }
        Ok(())
    }

    /// The token endpoint, parsed: http(s), a host, no userinfo, no fragment.
    /// Whether plain `http` may be used is the sender's decision (the
    /// deployment setting), as for upstream URLs.
    pub fn endpoint(&self) -> Result<url::Url> {
        let bad = |why: &str| BrokerError::invalid("binding.oauth2.token_endpoint", why);
        let url =
            url::Url::parse(&self.token_endpoint).map_err(|_| bad("does not parse as a URL"))?;
        if !matches!(url.scheme(), "https" | "http") {
            return Err(bad("must be https"));
        }
        if url.host().is_none() {
            return Err(bad("has no host"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(bad("must not carry userinfo"));
        }
        if url.fragment().is_some() {
            return Err(bad("must not carry a fragment"));
        }
        Ok(url)
    }
}

/// What the secret item of an `oauth2` secret seals: its refresh token and
/// optional client secret. Sealed as JSON; never printed (no `Debug` of the
/// values).
pub struct Material {
    /// The refresh token.
    pub refresh_token: SecretValue,
    /// The client secret, where the OAuth client is per customer.
    pub client_secret: Option<SecretValue>,
}

impl std::fmt::Debug for Material {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Material(<redacted>)")
    }
}

fn text<'a>(v: &'a SecretValue, what: &'static str) -> Result<&'a str> {
    std::str::from_utf8(v.expose()).map_err(|_| BrokerError::invalid(what, "must be UTF-8 text"))
}

/// `{"<key>": first, "client_secret": …}` as a secret value: the sealed
/// form of [`Material`] (key `refresh_token`) and of a started flow's
/// [`Pending`] (key `verifier`).
fn pair_to_value(
    key: &'static str,
    first: &SecretValue,
    client_secret: Option<&SecretValue>,
) -> Result<SecretValue> {
    let mut map = serde_json::Map::new();
    map.insert(key.into(), text(first, key)?.into());
    if let Some(c) = client_secret {
        map.insert("client_secret".into(), text(c, "client_secret")?.into());
    }
    let json = serde_json::to_vec(&map)
        .map_err(|_| BrokerError::invalid("oauth2 material", "does not serialise"))?;
    let mut map = map;
    for v in map.values_mut() {
        if let serde_json::Value::String(t) = v {
            t.zeroize();
        }
    }
    SecretValue::new(json)
}

/// The inverse of [`pair_to_value`]; anything else is refused.
fn pair_from_value(
    key: &'static str,
    v: &SecretValue,
) -> Result<(SecretValue, Option<SecretValue>)> {
    let bad = || {
        BrokerError::invalid(
            "oauth2 material",
            format!("must be JSON {{\"{key}\": \"…\", \"client_secret\": \"…\" (optional)}}"),
        )
    };
    let mut map: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(v.expose()).map_err(|_| bad())?;
    if map.keys().any(|k| k != key && k != "client_secret") {
        return Err(bad());
    }
    let mut take = |k: &str| match map.remove(k) {
        None => Ok(None),
        Some(serde_json::Value::String(t)) => {
            SecretValue::from_string(t).map(Some).map_err(|_| bad())
        }
        Some(_) => Err(bad()),
    };
    let first = take(key)?.ok_or_else(bad)?;
    Ok((first, take("client_secret")?))
}

impl Material {
    /// The sealed form (JSON) as a secret value.
    pub fn to_value(&self) -> Result<SecretValue> {
        pair_to_value(
            "refresh_token",
            &self.refresh_token,
            self.client_secret.as_ref(),
        )
    }

    /// Parse the sealed form. A value that is not this JSON is refused
    /// (`InvalidInput` at `put`, so a plain string cannot become an
    /// `oauth2` secret by accident).
    pub fn from_value(v: &SecretValue) -> Result<Self> {
        let (refresh_token, client_secret) = pair_from_value("refresh_token", v)?;
        Ok(Self {
            refresh_token,
            client_secret,
        })
    }
}

/// What a started authorization-code flow seals (derived name
/// `<name>#pkce`): the PKCE verifier, and the client secret the platform
/// passed at start, so neither is ever returned.
pub struct Pending {
    /// The PKCE verifier.
    pub verifier: SecretValue,
    /// The client secret, if any.
    pub client_secret: Option<SecretValue>,
}

impl Pending {
    /// The sealed form.
    pub fn to_value(&self) -> Result<SecretValue> {
        pair_to_value("verifier", &self.verifier, self.client_secret.as_ref())
    }

    /// Parse the sealed form.
    pub fn from_value(v: &SecretValue) -> Result<Self> {
        let (verifier, client_secret) = pair_from_value("verifier", v)?;
        Ok(Self {
            verifier,
            client_secret,
        })
    }
}

/// One request to the token endpoint, form-encoded by [`TokenForm::encode`].
pub enum TokenForm<'a> {
    /// `grant_type=refresh_token`.
    Refresh {
        /// The client.
        client: &'a OAuth2Binding,
        /// The refresh token.
        refresh_token: &'a SecretValue,
        /// The client secret, if any (`client_secret_post`).
        client_secret: Option<&'a SecretValue>,
    },
    /// `grant_type=authorization_code` with the PKCE verifier.
    Code {
        /// The client.
        client: &'a OAuth2Binding,
        /// The code the authorization server returned.
        code: &'a str,
        /// The verifier of the code challenge sent at start.
        verifier: &'a SecretValue,
        /// The redirect URI sent at start.
        redirect_uri: &'a str,
        /// The client secret, if any.
        client_secret: Option<&'a SecretValue>,
    },
}

impl TokenForm<'_> {
    /// The `application/x-www-form-urlencoded` body, as a secret value (it
    /// carries the refresh token or code and verifier).
    pub fn encode(&self) -> Result<SecretValue> {
        let mut f = url::form_urlencoded::Serializer::new(String::with_capacity(1024));
        let (client, secret) = match self {
            Self::Refresh {
                client,
                refresh_token,
                client_secret,
            } => {
                f.append_pair("grant_type", "refresh_token");
                f.append_pair("refresh_token", text(refresh_token, "refresh_token")?);
                if let Some(s) = &client.scope {
                    f.append_pair("scope", s);
                }
                (client, client_secret)
            }
            Self::Code {
                client,
                code,
                verifier,
                redirect_uri,
                client_secret,
            } => {
                f.append_pair("grant_type", "authorization_code");
                f.append_pair("code", code);
                f.append_pair("code_verifier", text(verifier, "code_verifier")?);
                f.append_pair("redirect_uri", redirect_uri);
                (client, client_secret)
            }
        };
        f.append_pair("client_id", &client.client_id);
        if let Some(s) = secret {
            f.append_pair("client_secret", text(s, "client_secret")?);
        }
        SecretValue::from_string(f.finish())
    }
}

/// What the token endpoint answered: status and body (the body holds
/// tokens, so it is wiped on drop).
pub struct TokenAnswer {
    /// HTTP status.
    pub status: u16,
    /// Response body.
    pub body: Zeroizing<Vec<u8>>,
}

/// Sends one token request. Implemented by the Lambda crate over its
/// upstream HTTP client (TLS, the deployment's destination rules, no
/// redirects); this crate never opens a connection itself.
pub trait TokenTransport: Sync {
    /// POST `body` as `application/x-www-form-urlencoded` to `endpoint`.
    /// The error is fixed text naming the failure kind, never the URL or
    /// the body.
    fn post_form(
        &self,
        endpoint: &url::Url,
        body: SecretValue,
    ) -> impl Future<Output = std::result::Result<TokenAnswer, String>> + Send;
}

/// A successful token response.
pub struct Tokens {
    /// The access token to inject.
    pub access_token: SecretValue,
    /// A rotated refresh token, if the server issued one.
    pub refresh_token: Option<SecretValue>,
    /// Seconds the access token lives.
    pub expires_in: u64,
}

#[derive(Deserialize)]
struct TokenWire {
    access_token: String,
    #[serde(default)]
    refresh_token: Option<String>,
    #[serde(default)]
    expires_in: Option<u64>,
}

#[derive(Deserialize)]
struct ErrorWire {
    error: String,
}

/// Parse a token endpoint answer (RFC 6749 §5.1, §5.2). `invalid_grant`
/// is [`BrokerError::ReauthRequired`] for `secret`; any other refusal names
/// its (sanitised) error code, never the description, which servers fill
/// with whatever they like.
pub fn parse_answer(answer: &TokenAnswer, secret: &str) -> Result<Tokens> {
    if answer.status == 200 {
        let mut w: TokenWire =
            serde_json::from_slice(&answer.body).map_err(|_| BrokerError::Unavailable {
                service: "oauth2 token endpoint",
                detail: "answered 200 without a token response".into(),
            })?;
        let at = std::mem::take(&mut w.access_token);
        let rt = w.refresh_token.take();
        return Ok(Tokens {
            access_token: SecretValue::from_string(at).map_err(|_| BrokerError::Unavailable {
                service: "oauth2 token endpoint",
                detail: "answered an empty access token".into(),
            })?,
            refresh_token: rt.and_then(|r| SecretValue::from_string(r).ok()),
            expires_in: w.expires_in.unwrap_or(DEFAULT_EXPIRES_IN),
        });
    }
    let code = serde_json::from_slice::<ErrorWire>(&answer.body)
        .ok()
        .map(|mut e| {
            let c: String = e
                .error
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
                .take(64)
                .collect();
            e.error.zeroize();
            c
        });
    match code.as_deref() {
        Some("invalid_grant") => Err(BrokerError::ReauthRequired {
            secret: secret.to_owned(),
        }),
        Some(c) if (400..500).contains(&answer.status) => Err(BrokerError::OAuth2Refused {
            secret: secret.to_owned(),
            code: c.to_owned(),
        }),
        _ => Err(BrokerError::Unavailable {
            service: "oauth2 token endpoint",
            detail: format!("answered HTTP {}", answer.status),
        }),
    }
}

/// Timing of refreshes: deployment settings (`KEYBROKER_OAUTH2_*`, read by
/// the functions), never stored.
#[derive(Debug, Clone, Copy)]
pub struct OAuth2Settings {
    /// How long a refresh lease holds. Longer than the token call's timeout
    /// plus the writes after it, so a live holder never loses it; short
    /// enough that a crashed holder blocks refreshes only this long.
    pub lease: Duration,
    /// How long an invocation that finds the lease taken waits for the
    /// holder's result before failing `refresh_pending` (retryable).
    pub wait: Duration,
    /// Poll interval while waiting.
    pub poll: Duration,
    /// Refresh this long before expiry at most (a quarter of the token's
    /// lifetime when that is shorter).
    pub refresh_margin: Duration,
}

impl Default for OAuth2Settings {
    fn default() -> Self {
        Self {
            lease: Duration::from_secs(15),
            wait: Duration::from_secs(5),
            poll: Duration::from_millis(100),
            refresh_margin: Duration::from_secs(60),
        }
    }
}

impl OAuth2Settings {
    /// When a token issued at `issued_ms`, expiring at `expires_ms`, stops
    /// being fresh.
    pub fn refresh_at_ms(&self, issued_ms: u64, expires_ms: u64) -> u64 {
        let life = expires_ms.saturating_sub(issued_ms);
        let margin = (self.refresh_margin.as_millis() as u64).min(life / 4);
        expires_ms.saturating_sub(margin)
    }
}

#[cfg(test)]
mod tests;
