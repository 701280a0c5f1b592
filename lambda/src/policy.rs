//! Deny-by-default access policy, in Cedar (AWS's policy language).
//!
//! Each workspace stores one Cedar policy set. A request is
//! `principal = Agent::"<agent>"`, `action = Action::"inject"`,
//! `resource = Secret::"<name>"`, with context `{ host, method, path }`
//! describing the upstream request. No policy, or no `permit` that matches,
//! means denied. Examples: docs/INVOCATION.md.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::{Arc, Mutex};

use cedar_policy::{
    Authorizer, Context, Decision, Entities, EntityUid, PolicySet, Request, RestrictedExpression,
};

/// What the policy is asked.
#[derive(Debug, Clone, Copy)]
pub struct Query<'a> {
    /// Agent identity.
    pub agent: &'a str,
    /// Secret name.
    pub secret: &'a str,
    /// Upstream `host[:port]`.
    pub host: &'a str,
    /// Upstream method.
    pub method: &'a str,
    /// Upstream path (no query string).
    pub path: &'a str,
}

/// Largest policy text accepted: far above any hand-written policy set,
/// and it bounds what a warm sandbox parses and caches.
pub const MAX_POLICY_BYTES: usize = 64 * 1024;

/// Parse a policy set; the error is Cedar's own diagnostic text.
pub fn parse(text: &str) -> Result<PolicySet, String> {
    if text.len() > MAX_POLICY_BYTES {
        return Err(format!(
            "policy is {} bytes; at most {MAX_POLICY_BYTES} are accepted",
            text.len()
        ));
    }
    PolicySet::from_str(text).map_err(|e| format!("invalid Cedar policy: {e}"))
}

/// Parsed policy sets of one sandbox, keyed by their exact text.
///
/// Parsing was a fifth of the broker's instructions per injection
/// (docs/BENCHMARKS.md, "Profiling"). Keying by the text itself, not by
/// workspace, means a changed policy is simply a miss: nothing can serve a
/// stale policy, and there is nothing to invalidate. The cache holds at most
/// [`PolicyCache::BUDGET_BYTES`] of policy text and starts over when full.
#[derive(Default)]
pub struct PolicyCache {
    sets: Mutex<HashMap<String, Arc<PolicySet>>>,
}

impl PolicyCache {
    /// Total policy text kept before the cache starts over.
    pub const BUDGET_BYTES: usize = 1024 * 1024;

    /// The parsed form of `text`, parsed now if not seen before.
    pub fn get(&self, text: &str) -> Result<Arc<PolicySet>, String> {
        if let Some(set) = self.lock().get(text) {
            return Ok(set.clone());
        }
        let set = Arc::new(parse(text)?);
        let mut sets = self.lock();
        let held: usize = sets.keys().map(String::len).sum();
        if held + text.len() > Self::BUDGET_BYTES {
            sets.clear();
        }
        sets.insert(text.to_owned(), set.clone());
        Ok(set)
    }

    /// Entries held (for tests).
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<PolicySet>>> {
        // A poisoned map is still a valid map of parsed sets.
        self.sets.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// `Ok(())` if a policy permits `q`, else why not.
pub fn authorize(cache: &PolicyCache, policy: Option<&str>, q: &Query<'_>) -> Result<(), String> {
    let text = policy.ok_or("the workspace has no access policy (deny by default)")?;
    let policies = cache.get(text)?;
    let uid = |ty: &str, id: &str| {
        EntityUid::from_str(&format!("{ty}::{}", serde_json::Value::from(id)))
            .map_err(|_| format!("{ty} id is not representable"))
    };
    let context = Context::from_pairs([
        (
            "host".to_owned(),
            RestrictedExpression::new_string(q.host.to_owned()),
        ),
        (
            "method".to_owned(),
            RestrictedExpression::new_string(q.method.to_owned()),
        ),
        (
            "path".to_owned(),
            RestrictedExpression::new_string(q.path.to_owned()),
        ),
    ])
    .map_err(|e| format!("policy context: {e}"))?;
    let request = Request::new(
        uid("Agent", q.agent)?,
        uid("Action", "inject")?,
        uid("Secret", q.secret)?,
        context,
        None,
    )
    .map_err(|e| format!("policy request: {e}"))?;
    let answer = Authorizer::new().is_authorized(&request, &policies, &Entities::empty());
    match answer.decision() {
        Decision::Allow => Ok(()),
        Decision::Deny => Err(format!(
            "no policy permits agent {:?} to inject secret {:?} into {} {}{}",
            q.agent, q.secret, q.method, q.host, q.path
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: &str = r#"
        permit(principal == Agent::"agent-1", action == Action::"inject", resource == Secret::"github")
        when { context.host == "api.github.com" && context.method == "GET" && context.path like "/repos/*" };
        forbid(principal, action, resource) when { context.path like "*/admin*" };
    "#;

    fn q<'a>(agent: &'a str, method: &'a str, path: &'a str) -> Query<'a> {
        Query {
            agent,
            secret: "github",
            host: "api.github.com",
            method,
            path,
        }
    }

    fn check(policy: Option<&str>, q: &Query<'_>) -> Result<(), String> {
        authorize(&PolicyCache::default(), policy, q)
    }

    #[test]
    fn deny_by_default_and_permit_when_matching() {
        assert!(check(None, &q("agent-1", "GET", "/repos/x")).is_err());
        assert!(check(Some(""), &q("agent-1", "GET", "/repos/x")).is_err());
        assert!(check(Some(POLICY), &q("agent-1", "GET", "/repos/x")).is_ok());
        assert!(check(Some(POLICY), &q("agent-2", "GET", "/repos/x")).is_err());
        assert!(check(Some(POLICY), &q("agent-1", "POST", "/repos/x")).is_err());
        assert!(check(Some(POLICY), &q("agent-1", "GET", "/user")).is_err());
        assert!(check(Some(POLICY), &q("agent-1", "GET", "/repos/x/admin")).is_err());
    }

    #[test]
    fn quotes_in_ids_cannot_inject_policy_syntax() {
        let evil = r#"agent-1", action == Action::"inject"#;
        assert!(check(Some(POLICY), &q(evil, "GET", "/repos/x")).is_err());
    }

    #[test]
    fn cache_answers_by_exact_text_so_a_changed_policy_applies_at_once() {
        let cache = PolicyCache::default();
        let permit = r#"permit(principal, action, resource);"#;
        let forbid = r#"forbid(principal, action, resource);"#;
        let req = q("agent-1", "GET", "/repos/x");
        assert!(authorize(&cache, Some(permit), &req).is_ok());
        assert!(authorize(&cache, Some(permit), &req).is_ok());
        assert_eq!(cache.len(), 1, "the second call is a hit");
        assert!(authorize(&cache, Some(forbid), &req).is_err());
        assert_eq!(cache.len(), 2);
    }

    #[test]
    fn cache_starts_over_past_its_budget_and_never_caches_errors() {
        let cache = PolicyCache::default();
        assert!(cache.get("permit(").is_err());
        assert!(cache.is_empty());
        // Distinct valid texts, each padded with a comment, until past budget.
        let pad = "/".repeat(60 * 1024);
        let texts: Vec<String> = (0..20)
            .map(|i| format!("//{i}{pad}\npermit(principal, action, resource);"))
            .collect();
        for t in &texts {
            cache.get(t).unwrap();
        }
        let held: usize = texts.len() * texts[0].len();
        assert!(held > PolicyCache::BUDGET_BYTES);
        assert!(
            cache.len() < texts.len(),
            "the cache must have started over"
        );
    }

    #[test]
    fn oversized_policy_is_refused_with_its_size() {
        let big = format!("//{}\n", "x".repeat(MAX_POLICY_BYTES));
        let err = parse(&big).unwrap_err();
        assert!(err.contains("at most"), "{err}");
    }

    #[test]
    fn invalid_policy_text_is_reported() {
        assert!(parse("permit(")
            .unwrap_err()
            .contains("invalid Cedar policy"));
    }
}
