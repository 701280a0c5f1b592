//! The token endpoint call of the `oauth2` kind (broker-core's
//! [`broker_core::TokenTransport`]): the one place the broker sends a
//! refresh token, authorization code or client secret anywhere.
//!
//! It goes through the upstream HTTP client ([`crate::edge::upstream::client`]),
//! so the token endpoint is host-checked exactly like an upstream: TLS
//! (plain `http` only to a loopback literal where the deployment allows
//! it), the deployment's destination rules on every DNS answer
//! ([`crate::edge::destination`]), no redirects (a 3xx is a failure, never
//! followed with the refresh token), no proxy. The endpoint itself comes
//! from the secret's authenticated binding, never from the agent. Errors are
//! fixed text: never the URL, the body or reqwest's message.

use std::time::{Duration, SystemTime};

use broker_core::oauth2::TokenAnswer;
use broker_core::SecretValue;
use zeroize::Zeroizing;

use crate::edge::destination;
use crate::edge::upstream::Limits;

/// Largest token response read (tokens and an ID token fit many times).
const MAX_TOKEN_RESPONSE: usize = 64 * 1024;
/// Upper bound on one token call: below the refresh lease (15 s by
/// default), so a live holder never outlives its lease.
const TOKEN_TIMEOUT: Duration = Duration::from_secs(5);

/// The token endpoint client of one invocation.
pub struct TokenClient<'a> {
    http: &'a reqwest::Client,
    limits: &'a Limits,
    deadline: Option<SystemTime>,
    allow_insecure_http: bool,
}

impl<'a> TokenClient<'a> {
    /// Over the function's shared HTTP client, within the invocation
    /// deadline (if any).
    pub fn new(
        http: &'a reqwest::Client,
        limits: &'a Limits,
        deadline: Option<SystemTime>,
        allow_insecure_http: bool,
    ) -> Self {
        Self {
            http,
            limits,
            deadline,
            allow_insecure_http,
        }
    }

    fn timeout(&self) -> Duration {
        self.deadline
            .and_then(|d| d.duration_since(SystemTime::now()).ok())
            .map_or(TOKEN_TIMEOUT, |left| {
                left.saturating_sub(crate::edge::upstream::DEADLINE_MARGIN)
                    .min(TOKEN_TIMEOUT)
            })
    }
}

impl broker_core::TokenTransport for TokenClient<'_> {
    async fn post_form(
        &self,
        endpoint: &url::Url,
        body: SecretValue,
    ) -> Result<TokenAnswer, String> {
        let loopback = match endpoint.host() {
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            _ => false,
        };
        match endpoint.scheme() {
            "https" => {}
            "http" if self.allow_insecure_http && loopback => {}
            _ => return Err("the token endpoint is not https".into()),
        }
        destination::check_literal(self.limits.destinations, endpoint.host())
            .map_err(|b| format!("the token endpoint's address is refused: {b}"))?;
        let bytes = Zeroizing::new(body.expose().to_vec());
        drop(body);
        let response = self
            .http
            .post(endpoint.clone())
            .header("content-type", "application/x-www-form-urlencoded")
            .header("accept", "application/json")
            .header("accept-encoding", "identity")
            .timeout(self.timeout())
            .body(bytes.to_vec())
            .send()
            .await
            .map_err(|e| {
                if let Some(b) = destination::blocked_cause(&e) {
                    format!("the token endpoint's address is refused: {b}")
                } else if e.is_timeout() {
                    "the token endpoint timed out".into()
                } else {
                    "the token endpoint could not be reached".into()
                }
            })?;
        let status = response.status().as_u16();
        if (300..400).contains(&status) {
            return Err(format!(
                "the token endpoint redirected (HTTP {status}); not followed"
            ));
        }
        let mut out = Zeroizing::new(Vec::new());
        let mut response = response;
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|_| "the token endpoint's answer was cut short".to_owned())?
        {
            if out.len() + chunk.len() > MAX_TOKEN_RESPONSE {
                return Err("the token endpoint's answer is too large".into());
            }
            out.extend_from_slice(&chunk);
        }
        Ok(TokenAnswer { status, body: out })
    }
}

/// The `KEYBROKER_OAUTH2_LEASE_MS` / `_WAIT_MS` / `_POLL_MS` /
/// `_MARGIN_MS` deployment settings over the defaults; a value that does not
/// parse fails start.
pub fn settings_from_env() -> Result<broker_core::OAuth2Settings, broker_core::BrokerError> {
    let mut s = broker_core::OAuth2Settings::default();
    for (var, field) in [
        ("KEYBROKER_OAUTH2_LEASE_MS", &mut s.lease),
        ("KEYBROKER_OAUTH2_WAIT_MS", &mut s.wait),
        ("KEYBROKER_OAUTH2_POLL_MS", &mut s.poll),
        ("KEYBROKER_OAUTH2_MARGIN_MS", &mut s.refresh_margin),
    ] {
        if let Ok(v) = std::env::var(var) {
            let ms: u64 = v
                .parse()
                .map_err(|_| broker_core::BrokerError::InvalidInput {
                    field: "oauth2 setting",
                    reason: format!("{var} must be a whole number of milliseconds"),
                })?;
            *field = Duration::from_millis(ms);
        }
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use broker_core::TokenTransport;

    fn body() -> SecretValue {
        SecretValue::from_string("grant_type=refresh_token&refresh_token=rt".into()).unwrap()
    }

    #[tokio::test]
    async fn refuses_plain_http_and_private_literals_before_connecting() {
        let limits = Limits::default();
        let http = crate::edge::upstream::client(&limits).unwrap();
        let t = TokenClient::new(&http, &limits, None, false);
        let e = t
            .post_form(&"http://idp.example/token".parse().unwrap(), body())
            .await
            .err()
            .unwrap();
        assert_eq!(e, "the token endpoint is not https");
        // Loopback is allowed over http only with the deployment setting,
        // and a private literal only where destinations allow it.
        let t = TokenClient::new(&http, &limits, None, true);
        let e = t
            .post_form(&"http://127.0.0.1:1/token".parse().unwrap(), body())
            .await
            .err()
            .unwrap();
        assert!(
            e.starts_with("the token endpoint's address is refused"),
            "{e}"
        );
        assert!(
            !e.contains("127.0.0.1") && !e.contains("refresh_token"),
            "{e}"
        );
    }

    #[test]
    fn settings_parse_or_fail_start() {
        // Unset: the defaults.
        let s = settings_from_env().unwrap();
        assert_eq!(s.lease, broker_core::OAuth2Settings::default().lease);
    }
}
