//! The CLI run as a new user would run it before setting up AWS: no
//! credentials, no region, no config files. It must answer with one line
//! naming the fix (never the SDK's nested `Debug` of a dispatch failure),
//! and the invoke-failed exit code. No stack needed.

use std::process::Command;

fn run(extra_env: &[(&str, &str)]) -> (i32, String, String) {
    let dir = std::env::temp_dir().join(format!("keybroker-nocreds-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_keybroker"));
    cmd.env_clear()
        .env("HOME", &dir)
        .env("AWS_CONFIG_FILE", dir.join("config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", dir.join("credentials"))
        // No instance role to find here; keeps the test from waiting on IMDS.
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .args(["list-secrets", "-w", "acme"]);
    for (k, v) in extra_env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("the CLI runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn assert_one_line(stderr: &str, fix: &str) {
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line, got: {stderr}");
    assert!(lines[0].contains(fix), "{stderr}");
    for dump in ["DispatchFailure", "ConnectorError", "{", "Some("] {
        assert!(!stderr.contains(dump), "SDK dump in: {stderr}");
    }
}

#[test]
fn no_credentials_is_one_line_naming_the_fix() {
    let (code, stdout, stderr) = run(&[("AWS_REGION", "us-east-1")]);
    assert_eq!(code, 3, "invoke-failed exit code");
    assert!(stdout.is_empty());
    assert_one_line(&stderr, "no AWS credentials: set AWS_ACCESS_KEY_ID");
}

#[test]
fn no_region_is_one_line_naming_the_fix() {
    let (code, _, stderr) = run(&[]);
    assert_eq!(code, 3);
    assert_one_line(&stderr, "no AWS region: set AWS_REGION");
}
