//! The breaker item both ways, failing closed.

use super::*;

fn ws() -> WorkspaceId {
    WorkspaceId::new("acme").unwrap()
}

fn name() -> SecretName {
    SecretName::new("github").unwrap()
}

fn item(extra: &[(&str, AttributeValue)]) -> Item {
    let mut i = breaker_key(&ws(), &name());
    for (k, v) in extra {
        i.insert((*k).to_owned(), v.clone());
    }
    i
}

fn num(v: &str) -> AttributeValue {
    AttributeValue::N(v.to_owned())
}

#[test]
fn a_breaker_item_reads_back_what_was_counted() {
    assert_eq!(parse_breaker(&item(&[])), Ok(BreakerState::default()));
    let full = item(&[
        ("probes", num("3")),
        ("probe_budget", num("10")),
        ("last_probe_at", num("1700000000000")),
        ("last_probe_kind", s("echo")),
        ("updated_at", num("1700000000")),
    ]);
    assert_eq!(
        parse_breaker(&full),
        Ok(BreakerState {
            probes: 3,
            probe_budget: Some(10),
            last_probe_at_ms: Some(1_700_000_000_000),
            last_probe_kind: Some(ProbeKind::Echo),
        })
    );
    assert_eq!(breaker_name(&full).as_deref(), Some("github"));
    assert_eq!(
        breaker_key(&ws(), &name())["sk"],
        s("breaker#github"),
        "beside secret#github, never read as it"
    );
}

#[test]
fn a_breaker_item_this_build_cannot_read_is_refused_not_cleared() {
    for bad in [
        item(&[("probes", s("3"))]),
        item(&[("probes", num("-1"))]),
        item(&[("probes", num("1.5"))]),
        item(&[("probe_budget", num("0"))]),
        item(&[("probe_budget", num("1001"))]),
        item(&[("probe_budget", num("4294967297"))]),
        item(&[("last_probe_kind", s("guess"))]),
        item(&[("last_probe_kind", num("1"))]),
        item(&[("tripped", AttributeValue::Bool(false))]),
    ] {
        assert!(
            matches!(parse_breaker(&bad), Err(BrokerError::Storage { .. })),
            "{bad:?}"
        );
    }
}

#[test]
fn the_breaker_sorts_apart_from_every_other_item_of_the_partition() {
    for other in [
        "limits",
        "rate#60#1#workspace",
        "secret#github",
        "workspace",
    ] {
        assert!(BREAKER_SK_PREFIX < other, "{other}");
        assert!(!other.starts_with(BREAKER_SK_PREFIX), "{other}");
    }
}
