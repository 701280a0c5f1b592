//! The suite's recurring assertions, named for what they prove.
//!
//! It exists because the same three-to-eight-line chains (`unwrap_err()`
//! then a match on the revocation reason; "the response is an error of type
//! X and holds no canary") were written out in many tests: one named helper
//! says what is checked, and a fix to the check reaches every test.

use broker_core::{BrokerError, RevokedReason};

use crate::canary::assert_no_canary;

/// The reason of a `Revoked` error; panics (naming the error) on any other.
pub fn revoked_reason(e: &BrokerError) -> RevokedReason {
    e.revoked_reason()
        .unwrap_or_else(|| panic!("expected Revoked, got {e:?}"))
}

/// `result` must be `Err(Revoked { reason, .. })`; returns the error for
/// further checks (its message, say).
pub fn assert_revoked<T: std::fmt::Debug>(
    result: Result<T, BrokerError>,
    reason: RevokedReason,
) -> BrokerError {
    let e = match result {
        Err(e) => e,
        Ok(v) => panic!("expected Revoked ({reason:?}), got Ok({v:?})"),
    };
    assert_eq!(revoked_reason(&e), reason, "{e:?}");
    e
}

/// The `error.type` of a Lambda response (`inject` or `admin`), which must
/// be an error (`ok: false`).
pub fn error_type(r: &serde_json::Value) -> &str {
    assert_eq!(r["ok"], false, "expected an error: {r}");
    r["error"]["type"].as_str().unwrap_or_default()
}

/// A Lambda response must be an error of type `want`, and hold `canary` in
/// no form anywhere (message, fields, whatever else it carries).
pub fn assert_error_response(what: &str, r: &serde_json::Value, want: &str, canary: &str) {
    assert_eq!(error_type(r), want, "{what}: {r}");
    assert_no_canary(what, &r.to_string(), canary);
}
