//! The customer's revocation readiness check
//! (`terraform/readiness/check_revocation.py`), run against the stack.
//!
//! It exists so the suite runs the shipped script, with a customer
//! administrator's credentials, against real key and role state.

use std::path::PathBuf;

use crate::stack::{repo_root, require_stack};

/// The Python that runs the readiness check: `KEYBROKER_PYTHON`, else the
/// local stack's LocalStack venv (it has boto3).
pub fn readiness_python() -> PathBuf {
    if let Some(p) = std::env::var_os("KEYBROKER_PYTHON") {
        return PathBuf::from(p);
    }
    let stack = std::env::var_os("KEYBROKER_STACK_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join(".stack"));
    stack.join("venv-localstack/bin/python")
}

/// Run `terraform/readiness/check_revocation.py` with `account`'s
/// administrator credentials; `(exit code, parsed --json report or Null)`.
pub fn readiness_check(account: &str, key_arn: &str, role_arn: &str) -> (i32, serde_json::Value) {
    require_stack();
    let script = repo_root().join("terraform/readiness/check_revocation.py");
    let out = std::process::Command::new(readiness_python())
        .arg(&script)
        .args(["--json", "--key-arn", key_arn, "--role-arn", role_arn])
        .env("AWS_ACCESS_KEY_ID", account)
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_PROFILE")
        .output()
        .unwrap_or_else(|e| panic!("run {}: {e}", script.display()));
    let code = out.status.code().expect("exit code");
    let report = serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null);
    if code == 2 || report.is_null() {
        eprintln!(
            "readiness check exit {code}\nstdout: {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    (code, report)
}

/// The `code`s of a readiness report's findings at `level` (FAIL, WARN, OK, INFO).
pub fn readiness_codes(report: &serde_json::Value, level: &str) -> Vec<String> {
    report["findings"]
        .as_array()
        .map(|fs| {
            fs.iter()
                .filter(|f| f["level"] == level)
                .filter_map(|f| f["code"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}
