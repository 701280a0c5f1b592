//! The catalog filter against the policies an operator writes.

use super::*;

const NOW: i64 = 1_800_000_000;

fn hosts(h: &[&str]) -> Vec<String> {
    h.iter().map(|s| (*s).to_owned()).collect()
}

/// Which of `secrets` (each bound to `api.example.com`) `agent` sees.
fn seen(policy: Option<&str>, agent: &str, secrets: &[&str]) -> Vec<String> {
    let f = CatalogFilter::new(&PolicyCache::default(), policy, agent, NOW);
    secrets
        .iter()
        .filter(|s| f.could_use(s, &hosts(&["api.example.com"])))
        .map(|s| (*s).to_owned())
        .collect()
}

const ALL: &[&str] = &["github", "stripe", "maps"];

#[test]
fn no_policy_or_an_unusable_one_lists_nothing() {
    assert!(seen(None, "a", ALL).is_empty());
    assert!(seen(Some(""), "a", ALL).is_empty());
    assert!(seen(Some("permit("), "a", ALL).is_empty());
    let invalid = r#"permit(principal, action, resource) when { context.nope == 1 };"#;
    assert!(seen(Some(invalid), "a", ALL).is_empty());
}

#[test]
fn the_scope_decides_who_sees_what() {
    let p = r#"
        permit(principal == Agent::"a", action == Action::"inject", resource == Secret::"github");
        permit(principal, action, resource == Secret::"maps");
    "#;
    assert_eq!(seen(Some(p), "a", ALL), ["github", "maps"]);
    assert_eq!(seen(Some(p), "b", ALL), ["maps"]);
}

#[test]
fn conditions_on_the_unknown_request_widen_permits_and_drop_forbids() {
    // The agent may GET github's /repos: it could use github.
    let p = r#"
        permit(principal == Agent::"a", action, resource == Secret::"github")
        when { context.method == "GET" && context.path like "/repos/*" };
        forbid(principal, action, resource) when { context.path like "*/admin*" };
    "#;
    assert_eq!(seen(Some(p), "a", ALL), ["github"]);
    // Principal and resource tests in `when` are decided, split at `&&`.
    let p = r#"
        permit(principal, action, resource)
        when { principal == Agent::"a" && resource == Secret::"stripe" && context.method == "POST" };
    "#;
    assert_eq!(seen(Some(p), "a", ALL), ["stripe"]);
    assert!(seen(Some(p), "b", ALL).is_empty());
    // `unless` is split at `||`.
    let p = r#"
        permit(principal, action, resource)
        unless { resource == Secret::"maps" || context.path == "/x" };
    "#;
    assert_eq!(seen(Some(p), "a", ALL), ["github", "stripe"]);
}

#[test]
fn unconditional_forbids_hide_and_conditional_ones_do_not() {
    let p = r#"
        permit(principal, action, resource);
        forbid(principal == Agent::"a", action, resource == Secret::"stripe");
        forbid(principal, action, resource == Secret::"maps") when { context.method == "DELETE" };
    "#;
    assert_eq!(seen(Some(p), "a", ALL), ["github", "maps"]);
    assert_eq!(seen(Some(p), "b", ALL), ALL);
}

#[test]
fn time_and_host_are_decided() {
    let expired = format!(
        r#"permit(principal, action, resource) when {{ context.now < {} }};"#,
        NOW - 1
    );
    assert!(seen(Some(&expired), "a", ALL).is_empty());
    let live = format!(
        r#"permit(principal, action, resource) when {{ context.now < {} }};"#,
        NOW + 1
    );
    assert_eq!(seen(Some(&live), "a", ALL), ALL);
    let github_only =
        r#"permit(principal, action, resource) when { context.host == "api.github.com" };"#;
    let f = CatalogFilter::new(&PolicyCache::default(), Some(github_only), "a", NOW);
    assert!(f.could_use("x", &hosts(&["example.com", "api.github.com"])));
    assert!(!f.could_use("x", &hosts(&["example.com"])));
    assert!(
        !f.could_use("x", &[]),
        "no binding: it cannot be sent anywhere"
    );
}

#[test]
fn an_erroring_condition_hides_as_it_denies() {
    let p = r#"permit(principal, action, resource);
        forbid(principal, action, resource) when { context.now + 9223372036854775807 > 0 };"#;
    assert!(seen(Some(p), "a", ALL).is_empty());
}

#[test]
fn quotes_in_names_cannot_inject_policy_syntax() {
    let p = r#"permit(principal == Agent::"a", action, resource == Secret::"github");"#;
    let f = CatalogFilter::new(&PolicyCache::default(), Some(p), r#"a", action"#, NOW);
    assert!(!f.could_use("github", &hosts(&["h"])));
}
