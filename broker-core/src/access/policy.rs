//! Deny-by-default access policy, in Cedar (AWS's policy language).
//!
//! Each workspace stores one Cedar policy set. A request is
//! `principal = Agent::"<agent>"`, `action = Action::"inject"`,
//! `resource = Secret::"<name>"`, with context
//! `{ host, method, path, query, now }` describing the upstream request as
//! it will be sent ([`keybroker.cedarschema`](SCHEMA)). No policy, no
//! `permit` that matches, a policy that does not validate against the
//! schema, or *any* evaluation error means denied: Cedar itself skips an
//! erroring policy, which would silently drop an erroring `forbid`.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::{Arc, Mutex, OnceLock};

use cedar_policy::{
    Authorizer, Context, Decision, Entities, EntityUid, PolicySet, Request, RestrictedExpression,
    Schema, ValidationMode, Validator,
};

/// The Cedar schema every policy is validated against (shipped in the crate).
pub const SCHEMA: &str = include_str!("keybroker.cedarschema");

/// Largest policy text accepted: far above any hand-written policy set,
/// and it bounds what a warm sandbox parses and caches.
pub const MAX_POLICY_BYTES: usize = 64 * 1024;

/// What the policy is asked: the request as it will be sent.
#[derive(Debug, Clone, Copy)]
pub struct Question<'a> {
    /// Agent identity.
    pub agent: &'a str,
    /// Secret name.
    pub secret: &'a str,
    /// Upstream `host[:port]`.
    pub host: &'a str,
    /// Upstream method.
    pub method: &'a str,
    /// Normalised path.
    pub path: &'a str,
    /// Decoded query pairs (unique keys).
    pub query: &'a [(String, String)],
    /// Seconds since the Unix epoch.
    pub now: i64,
}

/// The validator for [`SCHEMA`], built once. `None` only if the shipped
/// schema failed to parse (a unit test rules that out); then every policy
/// is refused, never accepted unvalidated.
fn validator() -> Option<&'static Validator> {
    static VALIDATOR: OnceLock<Option<Validator>> = OnceLock::new();
    VALIDATOR
        .get_or_init(|| {
            Schema::from_cedarschema_str(SCHEMA)
                .ok()
                .map(|(schema, _)| Validator::new(schema))
        })
        .as_ref()
}

/// Parse and validate a policy set against [`SCHEMA`]; the error is Cedar's
/// own diagnostic (policy text only, never a secret).
pub fn parse(text: &str) -> Result<PolicySet, String> {
    if text.len() > MAX_POLICY_BYTES {
        return Err(format!(
            "policy is {} bytes; at most {MAX_POLICY_BYTES} are accepted",
            text.len()
        ));
    }
    let set = PolicySet::from_str(text).map_err(|e| format!("invalid Cedar policy: {e}"))?;
    let result = validator()
        .ok_or("the keybroker Cedar schema failed to load")?
        .validate(&set, ValidationMode::Strict);
    if !result.validation_passed() {
        let errors: Vec<String> = result.validation_errors().map(|e| e.to_string()).collect();
        return Err(format!(
            "Cedar policy does not validate against the keybroker schema: {}",
            errors.join("; ")
        ));
    }
    Ok(set)
}

/// Parsed, validated policy sets of one process, keyed by their exact text.
///
/// Parsing was a fifth of the broker's instructions per injection
/// (docs/BENCHMARKS.md, "Profiling"). Keying by the text itself, not by
/// workspace, means a changed policy is simply a miss: nothing can serve a
/// stale policy, and there is nothing to invalidate. The cache holds at most
/// [`PolicyCache::BUDGET_BYTES`] of policy text and starts over when full.
/// Errors are not cached (a stored policy that fails is re-checked, and
/// denies, every time).
#[derive(Default)]
pub struct PolicyCache {
    sets: Mutex<HashMap<String, Arc<PolicySet>>>,
}

impl std::fmt::Debug for PolicyCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PolicyCache({} sets)", self.len())
    }
}

impl PolicyCache {
    /// Total policy text kept before the cache starts over.
    pub const BUDGET_BYTES: usize = 1024 * 1024;

    /// The parsed form of `text`, parsed and validated now if not seen before.
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
        // A panic while holding the lock cannot leave the map inconsistent
        // (inserts and clears are single calls), so keep using it.
        self.sets.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn context(q: &Question<'_>) -> Result<Context, String> {
    let query = q.query.iter().map(|(k, v)| {
        RestrictedExpression::new_record([
            (
                "key".to_owned(),
                RestrictedExpression::new_string(k.clone()),
            ),
            (
                "value".to_owned(),
                RestrictedExpression::new_string(v.clone()),
            ),
        ])
    });
    let query = query
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("policy context: {e}"))?;
    Context::from_pairs([
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
        ("query".to_owned(), RestrictedExpression::new_set(query)),
        ("now".to_owned(), RestrictedExpression::new_long(q.now)),
    ])
    .map_err(|e| format!("policy context: {e}"))
}

/// Evaluate the workspace's policy for `q`. `Ok` only on an explicit
/// `Allow` reached without any evaluation error.
pub fn authorize(
    cache: &PolicyCache,
    policy: Option<&str>,
    q: &Question<'_>,
) -> Result<(), String> {
    let text = policy.ok_or("the workspace has no access policy (deny by default)")?;
    let policies = cache.get(text).map_err(|why| {
        format!("the workspace's stored policy is unusable, so every request is denied: {why}")
    })?;
    let uid = |ty: &str, id: &str| {
        EntityUid::from_str(&format!("{ty}::{}", serde_json::Value::from(id)))
            .map_err(|_| format!("{ty} id is not representable"))
    };
    let request = Request::new(
        uid("Agent", q.agent)?,
        uid("Action", "inject")?,
        uid("Secret", q.secret)?,
        context(q)?,
        None,
    )
    .map_err(|e| format!("policy request: {e}"))?;
    let answer = Authorizer::new().is_authorized(&request, &policies, &Entities::empty());
    let errors: Vec<String> = answer
        .diagnostics()
        .errors()
        .map(|e| e.to_string())
        .collect();
    if !errors.is_empty() {
        return Err(format!(
            "the policy errored while evaluating this request, so it is denied: {}",
            errors.join("; ")
        ));
    }
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

    fn q<'a>(agent: &'a str, method: &'a str, path: &'a str) -> Question<'a> {
        Question {
            agent,
            secret: "github",
            host: "api.github.com",
            method,
            path,
            query: &[],
            now: 1_800_000_000,
        }
    }

    fn check(policy: Option<&str>, q: &Question<'_>) -> Result<(), String> {
        authorize(&PolicyCache::default(), policy, q)
    }

    #[test]
    fn shipped_schema_parses() {
        let (_schema, warnings) = Schema::from_cedarschema_str(SCHEMA).unwrap();
        assert_eq!(warnings.count(), 0);
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
    fn query_and_time_are_in_the_context() {
        let only_open = r#"permit(principal, action == Action::"inject", resource)
            when { context.query == [{ key: "state", value: "open" }] && context.now < 1900000000 };"#;
        let pairs = |p: &[(&str, &str)]| -> Vec<(String, String)> {
            p.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let open = pairs(&[("state", "open")]);
        let closed = pairs(&[("state", "closed")]);
        let both = pairs(&[("state", "open"), ("page", "2")]);
        let ask = |query: &[(String, String)], now| {
            check(
                Some(only_open),
                &Question {
                    query,
                    now,
                    ..q("a", "GET", "/")
                },
            )
        };
        assert!(ask(&open, 1_800_000_000).is_ok());
        assert!(ask(&closed, 1_800_000_000).is_err());
        assert!(ask(&both, 1_800_000_000).is_err());
        assert!(ask(&[], 1_800_000_000).is_err());
        assert!(ask(&open, 1_900_000_000).is_err(), "the grant expired");
    }

    #[test]
    fn an_erroring_forbid_denies_instead_of_being_skipped() {
        // Validates (Long arithmetic), overflows at evaluation: Cedar
        // skips such a policy, which would drop the forbid.
        let policy = r#"permit(principal, action, resource);
            forbid(principal, action, resource) when { context.now + 9223372036854775807 > 0 };"#;
        parse(policy).unwrap();
        let err = check(Some(policy), &q("a", "GET", "/x")).unwrap_err();
        assert!(err.contains("errored"), "{err}");
    }

    #[test]
    fn policies_that_do_not_validate_are_refused_and_deny_if_stored() {
        for bad in [
            r#"permit(principal, action, resource) when { context.nope == 1 };"#,
            r#"permit(principal, action, resource) when { context.path == 1 };"#,
            r#"permit(principal == User::"x", action, resource);"#,
            r#"permit(principal, action == Action::"read", resource);"#,
            r#"permit(principal, action, resource) when { context.query.state == "open" };"#,
        ] {
            let err = parse(bad).unwrap_err();
            assert!(err.contains("does not validate"), "{bad}: {err}");
            let err = check(Some(bad), &q("a", "GET", "/x")).unwrap_err();
            assert!(err.contains("unusable"), "{err}");
        }
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
