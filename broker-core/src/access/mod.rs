//! The one access check of an injection, and the only way to an
//! [`Authorized`] value.
//!
//! Every rule about the request an agent asks for lives here: agent name,
//! method, URL (binding, scheme, normalised path and query), headers,
//! method-override parameters in the query and the body ([`params`]), the
//! query-injection collision, and the workspace's Cedar policy. The result
//! is [`Authorized`], which only [`Gate::check`] can build (its fields are
//! private) and which [`crate::Broker::decrypt_for_injection`] takes *by
//! value*: decrypting for injection without having passed the check does
//! not compile. The value carries exactly what will be sent (normalised
//! URL, method, vetted headers), so the request the policy judged is the
//! request that goes out.
//!
//! The check is event-independent (no Lambda types) and runs after the one
//! DynamoDB read and before any KMS call, so a refused request never shows
//! up as key usage in the customer's CloudTrail.

pub mod headers;
pub mod params;
pub mod path;
pub mod policy;
pub mod visible;

use crate::binding::{Binding, Injection};
use crate::loaded::LoadedSecret;
use crate::model::SecretMetadata;

/// Methods an agent may ask for.
pub const METHODS: [&str; 7] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

/// What the agent asks for, as it asked (nothing trusted yet).
#[derive(Debug, Clone, Copy)]
pub struct AccessRequest<'a> {
    /// The agent identity asserted by the agent runtime.
    pub agent: &'a str,
    /// HTTP method, uppercase.
    pub method: &'a str,
    /// Absolute URL as written by the agent.
    pub url: &'a str,
    /// Agent headers, names as given.
    pub headers: &'a [(&'a str, &'a str)],
    /// The request body as it will be sent: a form, multipart or JSON body
    /// is read for method-override parameters ([`params`]), by the
    /// Content-Type among `headers`.
    pub body: &'a [u8],
}

/// Why a request was refused. Both kinds mean nothing was decrypted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccessError {
    /// The request is malformed or asks for something never allowed
    /// (method, header, agent name).
    #[error("{0}")]
    Invalid(String),
    /// The binding or the policy forbids it, or its URL is ambiguous.
    #[error("{0}")]
    Denied(String),
}

/// Deployment settings of the check: read once at start, never from the
/// table, so a table write cannot change them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AccessSettings {
    /// Allow `http://` upstreams at loopback IP literals (local stacks
    /// only; never any other host). Replaces the old per-binding
    /// `allow_insecure_http`, which no longer grants anything.
    pub allow_insecure_http: bool,
}

impl AccessSettings {
    /// Name of the environment variable: `1` or `true` turns plain http on,
    /// unset, `0` or `false` leaves it off; anything else is an error (a
    /// setting that does not parse fails closed, at start). Read by
    /// `BrokerConfig::from_env`, with every other deployment setting.
    pub const ALLOW_INSECURE_HTTP_VAR: &'static str = "KEYBROKER_ALLOW_INSECURE_HTTP";
}

/// The request exactly as it will be sent, after the check.
#[derive(Debug, Clone)]
pub struct ApprovedRequest {
    method: &'static str,
    url: url::Url,
    host: String,
    headers: Vec<(String, String)>,
    binding: Binding,
}

impl ApprovedRequest {
    /// Uppercase method.
    pub fn method(&self) -> &'static str {
        self.method
    }

    /// Normalised URL: scheme, bound host and port, canonical path and query.
    /// The query credential (if any) is not in it; the sender appends it.
    pub fn url(&self) -> &url::Url {
        &self.url
    }

    /// `host[:port]` as matched against the binding.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// Vetted agent headers, lowercase names, sorted.
    pub fn headers(&self) -> &[(String, String)] {
        &self.headers
    }

    /// Where the secret goes.
    pub fn injection(&self) -> &Injection {
        &self.binding.inject
    }

    /// The binding the request was checked against.
    pub fn binding(&self) -> &Binding {
        &self.binding
    }
}

/// Proof that a loaded secret passed the access check for one request.
/// Only [`Gate::check`] builds it.
#[derive(Debug)]
pub struct Authorized {
    request: ApprovedRequest,
    loaded: LoadedSecret,
    agent: String,
}

impl Authorized {
    /// The request that was approved.
    pub fn request(&self) -> &ApprovedRequest {
        &self.request
    }

    /// Metadata of the secret that was checked.
    pub fn metadata(&self) -> &SecretMetadata {
        self.loaded.metadata()
    }

    /// The agent name the check accepted (the injection limits count it).
    pub fn agent(&self) -> &str {
        &self.agent
    }

    /// The loaded secret (the injection limits read its workspace's).
    pub(crate) fn loaded(&self) -> &LoadedSecret {
        &self.loaded
    }

    pub(crate) fn into_parts(self) -> (ApprovedRequest, LoadedSecret) {
        (self.request, self.loaded)
    }
}

/// The access check with its per-process state (parsed policies).
#[derive(Debug, Default)]
pub struct Gate {
    settings: AccessSettings,
    policies: policy::PolicyCache,
}

impl Gate {
    /// A gate for a deployment's settings.
    pub fn new(settings: AccessSettings) -> Self {
        Self {
            settings,
            policies: policy::PolicyCache::default(),
        }
    }

    /// The deployment settings in force.
    pub fn settings(&self) -> AccessSettings {
        self.settings
    }

    /// The parsed policies of this process (the catalog filter shares them).
    pub(crate) fn policies(&self) -> &policy::PolicyCache {
        &self.policies
    }

    /// Check `req` against `loaded`'s binding and its workspace's policy.
    pub fn check(
        &self,
        loaded: LoadedSecret,
        req: &AccessRequest<'_>,
    ) -> Result<Authorized, AccessError> {
        self.check_at(loaded, req, crate::model::now())
    }

    /// [`Gate::check`] at a given time (Unix seconds), for tests of grants
    /// that expire.
    pub fn check_at(
        &self,
        loaded: LoadedSecret,
        req: &AccessRequest<'_>,
        now: u64,
    ) -> Result<Authorized, AccessError> {
        use AccessError::{Denied, Invalid};
        check_agent(req.agent).map_err(Invalid)?;
        let method = METHODS
            .iter()
            .copied()
            .find(|m| *m == req.method)
            .ok_or_else(|| Invalid(format!("method must be one of {}", METHODS.join(", "))))?;
        let meta = loaded.metadata();
        let binding = meta.binding.as_ref().ok_or_else(|| {
            Denied(format!(
                "secret {:?} has no binding: it may not be sent anywhere",
                meta.name
            ))
        })?;
        let target = path::normalise_target(req.url).map_err(|e| Denied(e.0))?;
        let allowed = binding
            .check_url(req.url, self.settings.allow_insecure_http)
            .map_err(Denied)?;
        let mut url = allowed.url;
        url.set_fragment(None);
        url.set_path(&target.path);
        url.set_query(target.query_text.as_deref());
        if url.path() != target.path || url.query() != target.query_text.as_deref() {
            // The URL parser would send something else than was checked.
            return Err(Denied("the URL does not have one unambiguous form".into()));
        }
        let injected = binding.inject.header_name();
        let headers = headers::vet(
            req.headers.iter().copied(),
            injected.as_deref(),
            binding.agent_headers.as_deref(),
        )
        .map_err(Invalid)?;
        params::check_query(&target.query).map_err(Invalid)?;
        let content_type = headers
            .iter()
            .find(|(k, _)| k == "content-type")
            .map(|(_, v)| v.as_str());
        params::check_body(content_type, req.body).map_err(Invalid)?;
        if let Injection::Query { param } = &binding.inject {
            if target.query.iter().any(|(k, _)| k == param) {
                return Err(Invalid(format!(
                    "the URL already sets query parameter {param:?}, where the secret goes"
                )));
            }
        }
        policy::authorize(
            &self.policies,
            loaded.policy(),
            &policy::Question {
                agent: req.agent,
                secret: meta.name.as_str(),
                host: &allowed.host,
                method,
                path: &target.path,
                query: &target.query,
                now: i64::try_from(now).unwrap_or(i64::MAX),
            },
        )
        .map_err(Denied)?;
        let binding = binding.clone();
        Ok(Authorized {
            request: ApprovedRequest {
                method,
                url,
                host: allowed.host,
                headers,
                binding,
            },
            loaded,
            agent: req.agent.to_owned(),
        })
    }
}

/// Agent names are ids in Cedar entity uids and audit records.
pub(crate) fn check_agent(agent: &str) -> Result<(), String> {
    let ok = (1..=128).contains(&agent.len())
        && agent
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._:@-".contains(&b));
    ok.then_some(())
        .ok_or_else(|| "agent must be 1-128 characters of A-Z a-z 0-9 . _ : @ -".to_owned())
}
