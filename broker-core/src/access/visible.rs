//! Which secrets an agent's policy could let it use: the filter of the
//! agent-facing catalog (`list_secrets` on `inject`).
//!
//! "Could use" means: **for some request the binding allows, the
//! workspace's Cedar policy would permit this agent to inject this
//! secret.** Only the request's host (one of the binding's hosts) and the
//! time are known when listing; method, path and query are not. So the
//! question is asked of a *relaxed* copy of the policy set, built from the
//! policies' JSON form, that can only say yes more often than the real one:
//!
//! * each `when` condition is split at its top-level `&&` (each `unless` at
//!   its top-level `||`); a part that reads only `context.host` and
//!   `context.now` is kept, any other part is dropped from a `permit` (the
//!   permit gets wider) and makes a `forbid` be dropped whole (the forbid
//!   cannot then hide anything);
//! * the relaxed set is evaluated with `context = { host, now }` for each
//!   of the secret's bound hosts; an `Allow` for any host, reached without
//!   an evaluation error, lists the secret.
//!
//! So a secret is hidden when no `permit` names this agent and this secret
//! in its scope (or in conditions on `principal`, `resource`, `host` or
//! `now`), when an unconditional `forbid` covers it, when every grant has
//! expired, when it has no binding, and when the workspace has no usable
//! policy (deny by default). It may be listed and then denied for the
//! request the agent actually makes (a path or method the policy forbids):
//! the list is a hint, the access check is the rule.

use std::str::FromStr;

use cedar_policy::{
    Authorizer, Context, Decision, Effect, Entities, EntityUid, Policy, PolicySet, Request,
    RestrictedExpression,
};
use serde_json::Value;

use super::policy::PolicyCache;

/// The context attributes the relaxed policy can still decide.
const KNOWN: [&str; 2] = ["host", "now"];

/// Whether `expr` (Cedar's JSON expression form) reads `context` only
/// through [`KNOWN`] attributes.
fn decidable(expr: &Value) -> bool {
    match expr {
        Value::Object(m) => {
            if let Some(Value::Object(dot)) = m.get(".") {
                let on_context = dot.get("left") == Some(&serde_json::json!({ "Var": "context" }));
                if on_context {
                    return dot
                        .get("attr")
                        .and_then(Value::as_str)
                        .is_some_and(|a| KNOWN.contains(&a));
                }
            }
            if m.get("Var").and_then(Value::as_str) == Some("context") {
                return false;
            }
            m.values().all(decidable)
        }
        Value::Array(items) => items.iter().all(decidable),
        _ => true,
    }
}

/// `body` split at its top-level `op` (`&&` for `when`, `||` for `unless`).
fn split(op: &str, body: Value, out: &mut Vec<Value>) {
    match body {
        Value::Object(mut m) if m.len() == 1 && m.contains_key(op) => {
            let mut both = m.remove(op).unwrap_or_default();
            split(op, both["left"].take(), out);
            split(op, both["right"].take(), out);
        }
        other => out.push(other),
    }
}

/// The relaxed form of one policy (module docs); `None`: a forbid that
/// depends on what is not known, dropped.
fn relax(p: &Policy) -> Result<Option<Policy>, String> {
    let mut est = p
        .to_json()
        .map_err(|e| format!("policy {} has no JSON form: {e}", p.id()))?;
    let conditions = match est.get_mut("conditions").map(Value::take) {
        Some(Value::Array(c)) => c,
        _ => Vec::new(),
    };
    let mut kept = Vec::new();
    let mut dropped = false;
    for mut c in conditions {
        let kind = c["kind"].as_str().unwrap_or_default().to_owned();
        let op = if kind == "unless" { "||" } else { "&&" };
        let mut parts = Vec::new();
        split(op, c["body"].take(), &mut parts);
        for body in parts {
            if decidable(&body) {
                kept.push(serde_json::json!({ "kind": kind, "body": body }));
            } else {
                dropped = true;
            }
        }
    }
    if dropped && p.effect() == Effect::Forbid {
        return Ok(None);
    }
    est["conditions"] = Value::Array(kept);
    Policy::from_json(Some(p.id().clone()), est)
        .map(Some)
        .map_err(|e| format!("policy {} could not be relaxed: {e}", p.id()))
}

/// The catalog's question for one agent, over one workspace's policy.
#[derive(Debug)]
pub struct CatalogFilter {
    /// `None`: no usable policy, nothing is listed.
    relaxed: Option<PolicySet>,
    agent: Option<EntityUid>,
    now: i64,
}

fn uid(ty: &str, id: &str) -> Option<EntityUid> {
    EntityUid::from_str(&format!("{ty}::{}", Value::from(id))).ok()
}

impl CatalogFilter {
    /// The filter for `agent` under the workspace's `policy` text at `now`
    /// (Unix seconds). A missing or unusable policy lists nothing, as it
    /// permits nothing.
    pub fn new(cache: &PolicyCache, policy: Option<&str>, agent: &str, now: i64) -> Self {
        let relaxed = policy
            .and_then(|text| cache.get(text).ok())
            .and_then(|set| {
                let mut out = PolicySet::new();
                for p in set.policies() {
                    if let Some(r) = relax(p).ok()? {
                        out.add(r).ok()?;
                    }
                }
                Some(out)
            });
        Self {
            relaxed,
            agent: uid("Agent", agent),
            now,
        }
    }

    /// Whether the agent could use `secret`, bound to `hosts` (module
    /// docs). No hosts: it cannot be sent anywhere, so no.
    pub fn could_use(&self, secret: &str, hosts: &[String]) -> bool {
        let (Some(set), Some(agent), Some(resource)) =
            (&self.relaxed, &self.agent, uid("Secret", secret))
        else {
            return false;
        };
        let Some(action) = uid("Action", "inject") else {
            return false;
        };
        hosts.iter().any(|host| {
            let pairs = [
                (
                    "host".to_owned(),
                    RestrictedExpression::new_string(host.clone()),
                ),
                ("now".to_owned(), RestrictedExpression::new_long(self.now)),
            ];
            let Ok(context) = Context::from_pairs(pairs) else {
                return false;
            };
            let Ok(request) = Request::new(
                agent.clone(),
                action.clone(),
                resource.clone(),
                context,
                None,
            ) else {
                return false;
            };
            let answer = Authorizer::new().is_authorized(&request, set, &Entities::empty());
            answer.diagnostics().errors().next().is_none() && answer.decision() == Decision::Allow
        })
    }
}

#[cfg(test)]
mod tests;
