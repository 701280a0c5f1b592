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
    assert_eq!(precheck(None, 1), Precheck::Unlimited);
    let none = Limits {
        window_seconds: 60,
        workspace: None,
        agent: None,
    };
    assert_eq!(precheck(Some(none), 1), Precheck::Unlimited);
    assert_eq!(
        precheck(
            Some(Limits {
                workspace: Some(0),
                ..none
            }),
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
            1
        ),
        Precheck::Refuse(LimitScope::Agent)
    );
    assert_eq!(
        precheck(Some(Limits::BUILT_IN_DEFAULT), 61_000),
        Precheck::Count {
            window: Window {
                index: 1,
                seconds: 60
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
        exceeded(LimitScope::Agent, l, 12_500),
        BrokerError::LimitExceeded {
            scope: LimitScope::Agent,
            limit: 7,
            window_seconds: 10,
            retry_after_ms: 7_500,
        }
    );
}

#[test]
fn an_unreadable_limits_item_gets_the_default_and_never_unlimited() {
    let own = Limits {
        window_seconds: 10,
        workspace: None,
        agent: Some(3),
    };
    let default = Some(Limits::BUILT_IN_DEFAULT);
    assert_eq!(StoredLimits::Set(own).effective(default), Some(own));
    assert_eq!(StoredLimits::Set(own).effective(None), Some(own));
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
    assert_eq!(StoredLimits::Set(own).own(), Some(own));
}
