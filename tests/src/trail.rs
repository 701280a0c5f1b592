//! The local stack's CloudTrail (the iam-front's trail file, one
//! CloudTrail-shaped record per KMS and STS call it allows or denies) and
//! the customer's reconcile (`terraform/readiness/reconcile.py`) run on it.
//!
//! It exists so the suite reads the front's record as a customer reads a
//! trail, and runs the shipped reconcile, not a copy of its logic.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::readiness::run_customer_script;
use crate::stack::{repo_root, require_stack};

/// The trail file: `KEYBROKER_STACK_TRAIL` (`localstack/env.sh`), else
/// `<stack dir>/trail/cloudtrail.jsonl`.
pub fn trail_path() -> PathBuf {
    if let Some(p) = std::env::var_os("KEYBROKER_STACK_TRAIL") {
        return PathBuf::from(p);
    }
    std::env::var_os("KEYBROKER_STACK_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join(".stack"))
        .join("trail/cloudtrail.jsonl")
}

/// Every record in the trail so far.
pub fn trail_events() -> Vec<Value> {
    require_stack();
    let text = std::fs::read_to_string(trail_path())
        .unwrap_or_else(|e| panic!("read {}: {e}", trail_path().display()));
    text.lines()
        .map(|l| serde_json::from_str(l).expect("trail line is JSON"))
        .collect()
}

/// The trail records of the call that got `request_id`.
pub fn trail_events_of(request_id: &str) -> Vec<Value> {
    trail_events()
        .into_iter()
        .filter(|e| e["requestID"] == request_id)
        .collect()
}

/// The `keybroker.audit.kms.v1` lines in `output` (the functions' stdout).
pub fn kms_use_lines(output: &str) -> Vec<String> {
    output
        .lines()
        .filter(|l| {
            serde_json::from_str::<Value>(l)
                .is_ok_and(|v| v["schema"] == broker_core::kms_use::KMS_USE_SCHEMA)
        })
        .map(str::to_owned)
        .collect()
}

/// Run the customer's reconcile (`--json`) for `role_arn` on the stack's
/// trail and the audit export `audit`; `(exit code, report or Null)`.
pub fn reconcile(role_arn: &str, audit: &Path) -> (i32, Value) {
    let args: Vec<OsString> = vec![
        "--json".into(),
        "--role-arn".into(),
        role_arn.into(),
        "--trail".into(),
        trail_path().into(),
        "--audit".into(),
        audit.into(),
    ];
    run_customer_script("reconcile.py", &args, None)
}
