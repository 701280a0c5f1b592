//! Deny-by-default access policy, in Cedar (AWS's policy language).
//!
//! Each workspace stores one Cedar policy set. A request is
//! `principal = Agent::"<agent>"`, `action = Action::"inject"`,
//! `resource = Secret::"<name>"`, with context `{ host, method, path }`
//! describing the upstream request. No policy, or no `permit` that matches,
//! means denied. Examples: docs/INVOCATION.md.

use std::str::FromStr;

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

/// Parse a policy set; the error is Cedar's own diagnostic text.
pub fn parse(text: &str) -> Result<PolicySet, String> {
    PolicySet::from_str(text).map_err(|e| format!("invalid Cedar policy: {e}"))
}

/// `Ok(())` if a policy permits `q`, else why not.
pub fn authorize(policy: Option<&str>, q: &Query<'_>) -> Result<(), String> {
    let text = policy.ok_or("the workspace has no access policy (deny by default)")?;
    let policies = parse(text)?;
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

    #[test]
    fn deny_by_default_and_permit_when_matching() {
        assert!(authorize(None, &q("agent-1", "GET", "/repos/x")).is_err());
        assert!(authorize(Some(""), &q("agent-1", "GET", "/repos/x")).is_err());
        assert!(authorize(Some(POLICY), &q("agent-1", "GET", "/repos/x")).is_ok());
        assert!(authorize(Some(POLICY), &q("agent-2", "GET", "/repos/x")).is_err());
        assert!(authorize(Some(POLICY), &q("agent-1", "POST", "/repos/x")).is_err());
        assert!(authorize(Some(POLICY), &q("agent-1", "GET", "/user")).is_err());
        assert!(authorize(Some(POLICY), &q("agent-1", "GET", "/repos/x/admin")).is_err());
    }

    #[test]
    fn quotes_in_ids_cannot_inject_policy_syntax() {
        let evil = r#"agent-1", action == Action::"inject"#;
        assert!(authorize(Some(POLICY), &q(evil, "GET", "/repos/x")).is_err());
    }

    #[test]
    fn invalid_policy_text_is_reported() {
        assert!(parse("permit(")
            .unwrap_err()
            .contains("invalid Cedar policy"));
    }
}
