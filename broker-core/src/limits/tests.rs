//! The limit arithmetic: window boundaries, overflow, clock skew, the
//! deployment setting's grammar, and what needs no AWS call.

use super::*;

const MIN: u32 = 60;

#[test]
fn windows_are_aligned_to_the_epoch_and_half_open() {
    // 60 s windows: [0, 60000) is window 0, 60000 starts window 1.
    assert_eq!(Window::at(0, MIN).index, 0);
    assert_eq!(Window::at(59_999, MIN).index, 0);
    assert_eq!(Window::at(60_000, MIN).index, 1);
    assert_eq!(Window::at(60_000, MIN).end_ms(), 120_000);
    // Two sandboxes anywhere in the same minute agree on the window.
    assert_eq!(Window::at(61_000, MIN), Window::at(119_999, MIN));
}

#[test]
fn retry_after_points_at_the_next_window_and_never_beyond_one_window() {
    let w = Window::at(60_000, MIN);
    assert_eq!(
        w.retry_after_ms(60_000),
        60_000,
        "at the start: a full window"
    );
    assert_eq!(w.retry_after_ms(119_999), 1, "last millisecond: 1 ms");
    // After the window ended (a slow request): at least 1 ms, not 0.
    assert_eq!(w.retry_after_ms(500_000), 1);
    // A clock far behind the window (skew, or stepped back): at most one
    // window, never the distance back to it.
    assert_eq!(w.retry_after_ms(0), 60_000);
}

#[test]
fn clock_skew_lands_in_an_adjacent_window_with_its_own_counters() {
    // Sandbox A is 800 ms ahead of B, just before a boundary: A counts in
    // the next window already. Counters are keyed by window, so neither
    // resets the other; the combined pass is bounded by two windows' worth
    // (the fixed-window boundary burst), never more.
    let b = Window::at(119_500, MIN);
    let a = Window::at(119_500 + 800, MIN);
    assert_eq!(a.index, b.index + 1);
    assert!(a.retry_after_ms(120_300) <= 60_000);
}

#[test]
fn arithmetic_saturates_instead_of_overflowing() {
    let w = Window::at(u64::MAX, MAX_WINDOW_SECONDS);
    assert_eq!(w.end_ms(), u64::MAX);
    assert!(w.retry_after_ms(u64::MAX) >= 1);
    assert_eq!(w.expires_at(), u64::MAX / 1000 + 3600 + 60);
    // A zero-length window (never validated, but never a division by zero).
    assert_eq!(Window::at(5_000, 0).seconds, 1);
    assert_eq!(Window::at(5_000, 0).index, 5);
}

#[test]
fn counters_outlive_their_window_by_one_window() {
    let w = Window::at(60_000, MIN);
    assert_eq!(w.expires_at(), 120 + 60 + 60);
}

#[test]
fn validation_refuses_what_cannot_be_enforced() {
    let ok = Limits {
        window_seconds: 60,
        workspace: Some(10),
        agent: None,
    };
    assert_eq!(ok.validate(), Ok(ok));
    for bad in [
        Limits {
            window_seconds: 0,
            ..ok
        },
        Limits {
            window_seconds: MAX_WINDOW_SECONDS + 1,
            ..ok
        },
        Limits {
            workspace: Some(MAX_PER_WINDOW + 1),
            ..ok
        },
        Limits {
            agent: Some(u64::MAX),
            ..ok
        },
        // No count at all would read as "no limit": not a workspace setting.
        Limits {
            workspace: None,
            agent: None,
            ..ok
        },
    ] {
        assert!(
            matches!(bad.validate(), Err(BrokerError::InvalidInput { .. })),
            "{bad:?}"
        );
    }
}

#[test]
fn the_deployment_setting_parses_strictly() {
    assert_eq!(Limits::parse_setting("off"), Ok(None));
    assert_eq!(
        Limits::parse_setting("window=60,workspace=6000"),
        Ok(Some(Limits::BUILT_IN_DEFAULT))
    );
    assert_eq!(
        Limits::parse_setting("window=5, agent=none, workspace=3"),
        Ok(Some(Limits {
            window_seconds: 5,
            workspace: Some(3),
            agent: None
        }))
    );
    // Both counts none has always meant what `off` says.
    assert_eq!(
        Limits::parse_setting("window=60,workspace=none,agent=none"),
        Ok(None)
    );
    for bad in [
        "",
        "on",
        "workspace=10",
        "window=60,window=30",
        "window=60,workspace=-1",
        "window=60,workspace=1e3",
        "window=0,workspace=1",
        "window=60,tenant=1",
        "window=60,workspace",
    ] {
        assert!(Limits::parse_setting(bad).is_err(), "{bad:?} parsed");
    }
}

#[test]
fn precheck_needs_no_call_without_limits_and_refuses_zero_without_counting() {
    assert_eq!(precheck(None, 0, 1), Precheck::Unlimited);
    let none = Limits {
        window_seconds: 60,
        workspace: None,
        agent: None,
    };
    assert_eq!(precheck(Some(none), 0, 1), Precheck::Unlimited);
    assert_eq!(
        precheck(
            Some(Limits {
                workspace: Some(0),
                ..none
            }),
            0,
            1
        ),
        Precheck::Refuse(LimitScope::Workspace)
    );
    assert_eq!(
        precheck(
            Some(Limits {
                agent: Some(0),
                workspace: Some(5),
                ..none
            }),
            0,
            1
        ),
        Precheck::Refuse(LimitScope::Agent)
    );
    assert_eq!(
        precheck(Some(Limits::BUILT_IN_DEFAULT), 0, 61_000),
        Precheck::Count {
            window: Window {
                index: 1,
                seconds: 60,
                offset_ms: 0,
            },
            workspace: Some(6_000),
            agent: None
        }
    );
}

#[test]
fn the_refusal_carries_the_limit_and_the_wait() {
    let l = Limits {
        window_seconds: 10,
        workspace: Some(100),
        agent: Some(7),
    };
    assert_eq!(
        exceeded(LimitScope::Agent, l, 0, 12_500),
        BrokerError::LimitExceeded {
            scope: LimitScope::Agent,
            limit: 7,
            window_seconds: 10,
            retry_after_ms: 7_500,
        }
    );
    // Windows anchored at 11,000: the window started 1.5 s ago.
    assert_eq!(
        exceeded(LimitScope::Agent, l, 11_000, 12_500),
        BrokerError::LimitExceeded {
            scope: LimitScope::Agent,
            limit: 7,
            window_seconds: 10,
            retry_after_ms: 8_500,
        }
    );
}

#[test]
fn anchored_windows_start_at_their_anchor_and_repeat_every_length() {
    let anchor = 1_700_000_012_345;
    let first = Window::anchored(anchor, MIN, anchor);
    // Set just now: a full window to go.
    assert_eq!(first.retry_after_ms(anchor), 60_000);
    assert_eq!(first.end_ms(), anchor + 60_000);
    assert_eq!(first, Window::anchored(anchor + 59_999, MIN, anchor));
    let next = Window::anchored(anchor + 60_000, MIN, anchor);
    assert_eq!(next.index, first.index + 1);
    assert_eq!(next.end_ms(), anchor + 120_000);
    // Only the anchor's offset into the epoch-aligned window matters: the
    // same spans of time, whichever anchor of that offset named them.
    assert_eq!(first, Window::anchored(anchor, MIN, anchor - 600_000));
    assert_eq!(first.offset_ms, anchor % 60_000);
    assert_eq!(first.offset_ms, 32_345);
    // Anchor 0 is the epoch-aligned window.
    assert_eq!(Window::anchored(61_000, MIN, 0), Window::at(61_000, MIN));
    // A clock behind the anchor still gets a window and a bounded wait.
    let behind = Window::anchored(anchor - 1, MIN, anchor);
    assert_eq!(behind.index + 1, first.index);
    assert_eq!(behind.retry_after_ms(anchor - 1), 1);
    // Before the first offset after the epoch: window 0, never an underflow.
    assert_eq!(Window::anchored(5, MIN, 12_345).index, 0);
    // A far-future anchor saturates instead of overflowing.
    assert!(Window::anchored(u64::MAX, MIN, u64::MAX).end_ms() >= 1);
}

#[test]
fn an_unreadable_limits_item_gets_the_default_and_never_unlimited() {
    let own = Limits {
        window_seconds: 10,
        workspace: None,
        agent: Some(3),
    };
    let default = Some(Limits::BUILT_IN_DEFAULT);
    assert_eq!(StoredLimits::Set(own, 5).effective(default), Some(own));
    assert_eq!(StoredLimits::Set(own, 5).effective(None), Some(own));
    assert_eq!(StoredLimits::Set(own, 5).anchor_ms(), 5);
    // The default's windows are epoch-aligned, whatever an item said.
    assert_eq!(StoredLimits::Unset.anchor_ms(), 0);
    assert_eq!(StoredLimits::Unreadable.anchor_ms(), 0);
    assert_eq!(StoredLimits::Unset.effective(default), default);
    assert_eq!(StoredLimits::Unset.effective(None), None, "off, no item");
    let planted_default = Limits {
        window_seconds: 1800,
        workspace: Some(2),
        agent: None,
    };
    assert_eq!(
        StoredLimits::Unreadable.effective(Some(planted_default)),
        Some(planted_default)
    );
    assert_eq!(
        StoredLimits::Unreadable.effective(None),
        Some(Limits::BUILT_IN_DEFAULT),
        "under off, a planted item still never means unlimited"
    );
    assert_eq!(StoredLimits::Unreadable.own(), None);
    assert_eq!(StoredLimits::Set(own, 5).own(), Some(own));
}
