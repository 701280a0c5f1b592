//! Every admin result the suite sees, held to the contract exactly.
//!
//! The clients read replies leniently (a missing field defaults, an
//! unknown one is ignored), which is right for them and hides drift: a
//! field the functions stop writing reads as its default, one they add is
//! never seen. So the harness (`LambdaEnv::invoke`, and the runner as the
//! typed client's transport) checks each `ok` admin result strictly: read
//! as the operation's reply type (`AdminOp::Reply`) and written again, it
//! must be the same JSON. A field renamed, dropped or added on either
//! side, or a `null` written where the contract omits it, fails the test
//! that made the call. The list of operations is the contract's own
//! (`with_admin_ops!`), so an operation added there is checked without an
//! edit here.

use keybroker_contract::admin::*;
use keybroker_contract::{AdminOp, AdminRequest};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

macro_rules! strict_results {
    ($($Variant:ident)*) => {
        /// `Err(why)` unless `result` is exactly what the contract's reply
        /// type for `req`'s operation reads and writes back.
        pub fn check_admin_result(req: &AdminRequest, result: &Value) -> Result<(), String> {
            match req {
                $(AdminRequest::$Variant(_) => {
                    round_trips::<<$Variant as AdminOp>::Reply>(<$Variant as AdminOp>::OP, result)
                })*
            }
        }
    };
}

keybroker_contract::with_admin_ops!(strict_results);

/// Panic unless an `ok` reply to an admin `request` the contract reads
/// has exactly the contract's result (a request it does not read, such as
/// the suite's malformed events, has no reply type to hold it to).
pub fn assert_admin_reply(request: &Value, reply: &Value) {
    if reply["ok"] != true {
        return;
    }
    if let Ok(req) = serde_json::from_value::<AdminRequest>(request.clone()) {
        if let Err(why) = check_admin_result(&req, &reply["result"]) {
            panic!("admin reply off the contract: {why}");
        }
    }
}

fn round_trips<R: DeserializeOwned + Serialize>(op: &str, result: &Value) -> Result<(), String> {
    let read: R = serde_json::from_value(result.clone())
        .map_err(|e| format!("{op}: the result does not read as the contract's reply: {e}"))?;
    let again = serde_json::to_value(&read).map_err(|e| format!("{op}: {e}"))?;
    if &again == result {
        Ok(())
    } else {
        Err(format!(
            "{op}: the result and the contract's reply differ\n  function: {result}\n  contract: {again}"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn req(v: Value) -> AdminRequest {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn an_exact_result_passes_and_drift_either_way_fails() {
        let r = req(json!({ "op": "delete_secret", "workspace": "w", "secret": "s" }));
        assert_eq!(check_admin_result(&r, &json!({ "deleted": "s" })), Ok(()));
        for drifted in [
            json!({ "deleted": "s", "extra": 1 }),
            json!({ "removed": "s" }),
            json!({ "deleted": 7 }),
        ] {
            assert!(check_admin_result(&r, &drifted).is_err(), "{drifted}");
        }
        // A lenient default the function did not write is drift too.
        let r = req(json!({ "op": "clear_breaker", "workspace": "w", "secret": "s" }));
        assert!(check_admin_result(&r, &json!({ "cleared": 0, "was_quarantined": false })).is_ok());
        assert!(check_admin_result(&r, &json!({ "cleared": 0 })).is_err());
    }
}
