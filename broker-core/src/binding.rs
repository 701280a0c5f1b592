//! Where a credential may go, decided when it is stored, not by the agent.
//!
//! Each secret carries a [`Binding`]: the exact hosts it may be sent to and
//! the one place in the request it is injected (a header template, HTTP
//! basic auth, or a query parameter). An agent asks "make this request with
//! secret X"; the broker checks the URL against the binding *before* any KMS
//! call, so a prompt-injected agent cannot point a credential at a host of
//! its choosing. URLs are parsed with the WHATWG parser (the same `url` crate
//! the HTTP client uses), so what we check is what gets connected to:
//! userinfo is refused, IDN hosts are compared in punycode, hosts are
//! case-folded, a trailing dot is a different host, and the port is explicit.

use serde::{Deserialize, Serialize};

use crate::error::{BrokerError, Result};
use crate::header_names::{is_denied, is_token, MAX_HEADERS};

/// Hosts per binding; credentials belong to one API, a few hosts at most.
pub const MAX_HOSTS: usize = 16;
/// The placeholder a header template must contain exactly once.
pub const SECRET_PLACEHOLDER: &str = "{secret}";

/// A secret's destination rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Binding {
    /// Exact hosts, lowercase, optionally with `:port` (default: the
    /// scheme's port). No wildcards: a wildcard is how a credential leaks to
    /// an attacker-controlled subdomain.
    pub hosts: Vec<String>,
    /// Where the secret goes in the request.
    pub inject: Injection,
    /// Legacy, grants nothing: plain http is a deployment setting
    /// ([`crate::access::AccessSettings`]), so a table write cannot turn it
    /// on. Still parsed because stored items outlive code.
    #[serde(default)]
    pub allow_insecure_http: bool,
    /// If set, the only headers (case-insensitive) an agent may send with
    /// this secret; the fixed deny-list of [`crate::header_names`]
    /// applies either way. `None`: any header not denied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_headers: Option<Vec<String>>,
    /// What the broker does when the upstream echoes the credential in any
    /// form it recognises. Absent in stored JSON when it is the default, so
    /// bindings written before this field existed read and re-serialize
    /// unchanged.
    #[serde(default, skip_serializing_if = "OnEcho::is_default")]
    pub on_echo: OnEcho,
    /// Set for the `oauth2` kind ([`crate::oauth2`]): the token endpoint and
    /// client the broker refreshes with; the injected value is then the
    /// current access token, not the sealed value. Absent for static
    /// credentials, so older bindings keep their canonical form (digest).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oauth2: Option<crate::oauth2::OAuth2Binding>,
}

/// What happens to a response that echoes the credential.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnEcho {
    /// The agent gets the status and an `echo_withheld` marker, no headers
    /// and no body. The default: an agent learns nothing from the response,
    /// so it cannot use the upstream as an oracle for guesses.
    #[default]
    Withhold,
    /// The agent gets the response with each recognised occurrence replaced
    /// by `[REDACTED]`. Weaker: whether a candidate comes back redacted tells
    /// a guessing agent whether it matched part of the credential, and any
    /// form the scrubber does not predict passes through.
    Redact,
}

impl OnEcho {
    /// Whether this is the default ([`OnEcho::Withhold`]).
    pub fn is_default(&self) -> bool {
        *self == Self::Withhold
    }
}

/// The one place a secret is put into a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Injection {
    /// A header whose value is `template` with `{secret}` replaced, e.g.
    /// `Authorization: Bearer {secret}` or `x-api-key: {secret}`.
    Header {
        /// Header name (case-insensitive).
        name: String,
        /// Value template containing `{secret}` exactly once.
        template: String,
    },
    /// `Authorization: Basic base64(username:secret)`.
    BasicAuth {
        /// The user name sent with the secret as password.
        username: String,
    },
    /// A query parameter set to the secret.
    Query {
        /// Parameter name.
        param: String,
    },
}

/// Headers that frame the request itself: an injection may never set them
/// (and the Lambda edge refuses them from agents too).
pub const FRAMING_HEADERS: [&str; 6] = [
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "upgrade",
    "te",
];

impl Injection {
    /// The request header this injection writes, lowercase (none for query).
    pub fn header_name(&self) -> Option<String> {
        match self {
            Self::Header { name, .. } => Some(name.to_ascii_lowercase()),
            Self::BasicAuth { .. } => Some("authorization".into()),
            Self::Query { .. } => None,
        }
    }
}

/// A URL the binding allows, as parsed (what will actually be connected to).
#[derive(Debug, Clone)]
pub struct AllowedUrl {
    /// The parsed URL.
    pub url: url::Url,
    /// `host[:port]` as matched.
    pub host: String,
}

impl Binding {
    /// Reject bindings that could not be enforced or would break requests.
    pub fn validate(&self) -> Result<()> {
        let bad = |why: String| BrokerError::invalid("binding", why);
        if self.hosts.is_empty() || self.hosts.len() > MAX_HOSTS {
            return Err(bad(format!("must list 1..={MAX_HOSTS} hosts")));
        }
        for h in &self.hosts {
            let (host, port) =
                split_port(h).ok_or_else(|| bad(format!("host {h:?} has an invalid port")))?;
            let ok = !host.is_empty()
                && host.len() <= 253
                && !host.ends_with('.')
                && !host.starts_with('.')
                && !host.contains("..")
                && host.bytes().all(|b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-'
                });
            if !ok || port == Some(0) {
                return Err(bad(format!(
                    "host {h:?} must be an exact lowercase host name (punycode for IDN) with optional :port"
                )));
            }
        }
        if let Some(o) = &self.oauth2 {
            o.validate()?;
        }
        if let Some(allow) = &self.agent_headers {
            if allow.len() > MAX_HEADERS {
                return Err(bad(format!(
                    "agent_headers lists more than {} headers",
                    MAX_HEADERS
                )));
            }
            for h in allow {
                let lower = h.to_ascii_lowercase();
                if !is_token(h) || is_denied(&lower) {
                    return Err(bad(format!(
                        "agent header {h:?} is not a header agents may ever send"
                    )));
                }
                if Some(lower) == self.inject.header_name() {
                    return Err(bad(format!(
                        "agent header {h:?} is where the secret is injected"
                    )));
                }
            }
        }
        match &self.inject {
            Injection::Header { name, template } => {
                let lower = name.to_ascii_lowercase();
                if !is_token(name) || FRAMING_HEADERS.contains(&lower.as_str()) || is_denied(&lower)
                {
                    return Err(bad(format!(
                        "header name {name:?} is not an injectable header"
                    )));
                }
                if template.matches(SECRET_PLACEHOLDER).count() != 1 {
                    return Err(bad(
                        "header template must contain {secret} exactly once".into()
                    ));
                }
                if template.bytes().any(|b| b.is_ascii_control()) {
                    return Err(bad("header template contains control characters".into()));
                }
            }
            Injection::BasicAuth { username } => {
                if username.contains(':') || username.bytes().any(|b| b.is_ascii_control()) {
                    return Err(bad(
                        "basic auth username must not contain ':' or control characters".into(),
                    ));
                }
            }
            Injection::Query { param } => {
                if param.is_empty()
                    || !param
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
                {
                    return Err(bad(format!(
                        "query parameter {param:?} must be [A-Za-z0-9_.-]+"
                    )));
                }
            }
        }
        Ok(())
    }

    /// Check `raw`'s scheme, userinfo, host and port against the binding;
    /// the error says why it is denied. Plain `http` only to a loopback IP
    /// literal and only if the *deployment* allows it
    /// (`allow_insecure_http`, from [`crate::access::AccessSettings`]: local
    /// stacks); the binding's own legacy field is ignored. Path and query are the access check's
    /// (`access::path`).
    pub fn check_url(&self, raw: &str, allow_insecure_http: bool) -> Result<AllowedUrl, String> {
        let url = url::Url::parse(raw).map_err(|e| format!("URL does not parse: {e}"))?;
        let loopback = match url.host() {
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            _ => false,
        };
        match url.scheme() {
            "https" => {}
            "http" if allow_insecure_http && loopback => {}
            s => {
                return Err(format!(
                    "scheme {s:?} is not allowed (https only in this deployment)"
                ))
            }
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err("URLs with userinfo (user@host) are not allowed".into());
        }
        let host = match url.host() {
            Some(url::Host::Domain(d)) => d.to_owned(),
            Some(url::Host::Ipv4(ip)) => ip.to_string(),
            Some(url::Host::Ipv6(ip)) => format!("[{ip}]"),
            None => return Err("URL has no host".into()),
        };
        let port = url.port_or_known_default().ok_or("URL has no port")?;
        let default_port = if url.scheme() == "https" { 443 } else { 80 };
        let allowed = self.hosts.iter().any(|h| match split_port(h) {
            Some((bh, Some(bp))) => bh == host && bp == port,
            Some((bh, None)) => bh == host && port == default_port,
            None => false,
        });
        if !allowed {
            let shown = if port == default_port {
                host.clone()
            } else {
                format!("{host}:{port}")
            };
            return Err(format!("host {shown} is not bound to this secret"));
        }
        let host = if port == default_port {
            host
        } else {
            format!("{host}:{port}")
        };
        Ok(AllowedUrl { url, host })
    }
}

/// `host[:port]` → (host, port). `None` if the port is not a number.
fn split_port(h: &str) -> Option<(&str, Option<u16>)> {
    match h.rsplit_once(':') {
        Some((host, port)) => port.parse().ok().map(|p| (host, Some(p))),
        None => Some((h, None)),
    }
}

#[cfg(test)]
mod tests;
