//! The limits item both ways, failing closed, and the counter keys.

use super::*;
use crate::error::BrokerError;

fn ws() -> WorkspaceId {
    WorkspaceId::new("acme").unwrap()
}

#[test]
fn limits_round_trip_through_their_item() {
    for l in [
        Limits::BUILT_IN_DEFAULT,
        Limits {
            window_seconds: 1,
            workspace: Some(0),
            agent: Some(7),
        },
        Limits {
            window_seconds: 3600,
            workspace: None,
            agent: Some(100_000_000),
        },
    ] {
        let item = limits_item(&ws(), l, 1_700_000_000_123);
        assert_eq!(parse_limits(&item), Ok((l, 1_700_000_000_123)));
        assert_eq!(
            stored(&ws(), &item),
            StoredLimits::Set(l, 1_700_000_000_123)
        );
    }
}

#[test]
fn a_limits_item_no_operator_could_have_set_is_unreadable_never_unlimited() {
    let good = limits_item(&ws(), Limits::BUILT_IN_DEFAULT, 1_700_000_000_000);
    let with = |k: &str, v: AttributeValue| {
        let mut i = good.clone();
        i.insert(k.to_owned(), v);
        i
    };
    let without = |k: &str| {
        let mut i = good.clone();
        i.remove(k);
        i
    };
    let num = |v: &str| AttributeValue::N(v.to_owned());
    for bad in [
        with("unlimited", AttributeValue::Bool(true)),
        with("workspace_limit", AttributeValue::S("6000".into())),
        with("workspace_limit", num("-1")),
        with("workspace_limit", num("100000001")),
        with("agent_limit", AttributeValue::Null(true)),
        with("window_seconds", num("0")),
        with("window_seconds", num("4294967297")),
        with("window_seconds", AttributeValue::S("60".into())),
        with("window_anchor_ms", AttributeValue::S("0".into())),
        with("window_anchor_ms", num("-5")),
        with("window_anchor_ms", num("1.5")),
        without("window_seconds"),
        // Planted with no counts: it would read as "no limit".
        without("workspace_limit"),
        limits_key(&ws()),
    ] {
        assert!(
            matches!(parse_limits(&bad), Err(BrokerError::Storage { .. })),
            "{bad:?}"
        );
        assert_eq!(stored(&ws(), &bad), StoredLimits::Unreadable, "{bad:?}");
        // And what an unreadable item applies is a limit, whatever the
        // deployment default is.
        assert!(stored(&ws(), &bad).effective(None).is_some());
    }
}

#[test]
fn counter_keys_name_the_window_length_and_cannot_collide() {
    let w = Window {
        index: 29_000_000,
        seconds: 60,
        offset_ms: 0,
    };
    assert_eq!(counter_sk(w, None), "rate#60#29000000#workspace");
    assert_eq!(
        counter_sk(w, Some("agent-7")),
        "rate#60#29000000#agent#agent-7"
    );
    // The same index under another length is another counter.
    assert_ne!(
        counter_sk(Window { seconds: 30, ..w }, None),
        counter_sk(w, None)
    );
    // Windows of another anchor are other spans of time: other counters.
    let anchored = Window {
        offset_ms: 1_234,
        ..w
    };
    assert_eq!(
        counter_sk(anchored, None),
        "rate#60+1234#29000000#workspace"
    );
    assert_ne!(counter_sk(anchored, None), counter_sk(w, None));
    // An agent named like the workspace counter's suffix stays an agent.
    assert_ne!(counter_sk(w, Some("workspace")), counter_sk(w, None));
    // Neither is a secret's or the settings' sort key.
    assert!(!counter_sk(w, None).starts_with(crate::store::codec::SECRET_SK_PREFIX));
}

/// A counter item's count, as a reader of either format sees it: `n`
/// (absent: 0), failing closed on anything else.
fn parse_count(item: &Item) -> Result<u64> {
    match item.get("n") {
        None => Ok(0),
        Some(AttributeValue::N(v)) => v.parse().map_err(|_| malformed("n")),
        Some(_) => Err(malformed("n")),
    }
}

/// The committed counter items: the unsharded workspace counter (the
/// format of every deployment before shards and slots, still written with
/// one shard) and a shard item with an in-flight bucket.
fn fixture(name: &str) -> Item {
    crate::store::codec::tests::from_dynamodb_json(match name {
        "v1" => include_str!("../codec/fixtures/counter_item_v1.json"),
        _ => include_str!("../codec/fixtures/counter_shard_item_v1.json"),
    })
}

#[test]
fn the_committed_counter_items_read_and_their_keys_are_what_the_counter_writes() {
    let window = Window {
        index: 29_400_000,
        seconds: 60,
        offset_ms: 0,
    };
    let v1 = fixture("v1");
    assert_eq!(parse_count(&v1), Ok(41));
    assert_eq!(v1["sk"], s(shard_sk(window, 0)));
    assert_eq!(
        v1["sk"],
        s(counter_sk(window, None)),
        "shard 0 is the old key"
    );
    let shard = fixture("shard");
    assert_eq!(parse_count(&shard), Ok(7));
    assert_eq!(shard["sk"], s(shard_sk(window, 5)));
    assert_eq!(shard["sk"], s("rate#60#29400000#workspace#5"));
    assert_eq!(
        shard["slots_58800000"],
        n(2),
        "the slots of bucket 58800000"
    );
    let mut bad = v1.clone();
    bad.insert("n".into(), s("41"));
    assert!(parse_count(&bad).is_err(), "a count as text fails closed");
}

#[test]
fn v1_limits_item_test_vector_reads_with_epoch_aligned_windows() {
    let item = crate::store::codec::tests::from_dynamodb_json(include_str!(
        "../codec/fixtures/limits_item_v1.json"
    ));
    let l = Limits {
        window_seconds: 60,
        workspace: Some(6000),
        agent: Some(300),
    };
    assert_eq!(stored(&ws(), &item), StoredLimits::Set(l, 0));
    assert_eq!(stored(&ws(), &item).anchor_ms(), 0);
}

#[test]
fn v2_limits_item_test_vector_reads_with_its_anchor_and_is_what_set_limits_writes() {
    let item = crate::store::codec::tests::from_dynamodb_json(include_str!(
        "../codec/fixtures/limits_item_v2.json"
    ));
    let l = Limits {
        window_seconds: 3600,
        workspace: None,
        agent: Some(1),
    };
    assert_eq!(
        stored(&ws(), &item),
        StoredLimits::Set(l, 1_700_000_123_456)
    );
    // The writer produces the vector's attributes (the time aside).
    let mut written = limits_item(&ws(), l, 1_700_000_123_456);
    written.insert("updated_at".into(), n(1_700_000_123));
    assert_eq!(written, item);
}
