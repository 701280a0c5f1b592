//! The customer's revocation readiness check
//! (`terraform/readiness/check_revocation.py`), run against the stack.
//!
//! It exists so the suite runs the shipped script, with a customer
//! administrator's credentials, against real key and role state.

use std::ffi::OsString;
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
    let args = ["--json", "--key-arn", key_arn, "--role-arn", role_arn];
    run_customer_script(
        "check_revocation.py",
        &args.map(OsString::from),
        Some(account),
    )
}

/// Run one of the customer's scripts (`terraform/readiness/<script>`) with
/// `args`, as `account`'s administrator when given; `(exit code, its JSON
/// output or Null)`. A run that could not check (exit 2, no JSON) prints
/// what it said.
pub fn run_customer_script(
    script: &str,
    args: &[OsString],
    account: Option<&str>,
) -> (i32, serde_json::Value) {
    require_stack();
    let path = repo_root().join("terraform/readiness").join(script);
    let mut cmd = std::process::Command::new(readiness_python());
    cmd.arg(&path).args(args);
    if let Some(account) = account {
        cmd.env("AWS_ACCESS_KEY_ID", account)
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env_remove("AWS_SESSION_TOKEN")
            .env_remove("AWS_PROFILE");
    }
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("run {}: {e}", path.display()));
    let code = out.status.code().expect("exit code");
    let report = serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null);
    if code == 2 || report.is_null() {
        eprintln!(
            "{script} exit {code}\nstdout: {}\nstderr: {}",
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
