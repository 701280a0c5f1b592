//! The wire JSON of each subcommand, and that no value is taken from argv.

use super::*;
use crate::args::Cli;
use clap::Parser;

fn payload(argv: &[&str]) -> Value {
    let cli = Cli::try_parse_from(argv).unwrap();
    serde_json::from_slice(plan(&cli.command).unwrap().payload.as_bytes()).unwrap()
}

#[test]
fn requests_are_the_documented_wire_json() {
    assert_eq!(
        payload(&["keybroker", "list-secrets", "-w", "acme"]),
        json!({ "op": "list_secrets", "workspace": "acme" })
    );
    assert_eq!(
        payload(&[
            "keybroker",
            "enable-byok",
            "-w",
            "acme",
            "--role-arn",
            "r",
            "--key-arn",
            "k"
        ]),
        json!({ "op": "enable_byok", "workspace": "acme", "role_arn": "r", "key_arn": "k", "region": null })
    );
    assert_eq!(
        payload(&[
            "keybroker",
            "rotate-secret",
            "-w",
            "acme",
            "-s",
            "gh",
            "--expected-version",
            "3"
        ]),
        json!({ "op": "rotate_secret", "workspace": "acme", "secret": "gh", "expected_version": 3 })
    );
    assert_eq!(
        payload(&["keybroker", "clear-breaker", "-w", "a", "-s", "gh"]),
        json!({ "op": "clear_breaker", "workspace": "a", "secret": "gh" })
    );
    for (flag, budget) in [
        (&["--budget", "10"][..], json!(10)),
        (&["--default"], json!(null)),
    ] {
        let argv = [
            &["keybroker", "set-probe-budget", "-w", "a", "-s", "gh"][..],
            flag,
        ]
        .concat();
        assert_eq!(
            payload(&argv),
            json!({ "op": "set_probe_budget", "workspace": "a", "secret": "gh", "budget": budget })
        );
    }
    assert_eq!(
        payload(&[
            "keybroker",
            "inject",
            "-w",
            "acme",
            "-s",
            "gh",
            "--agent",
            "a7",
            "--url",
            "https://api.example.com/x",
            "-H",
            "accept: application/json"
        ]),
        json!({ "workspace": "acme", "secret": "gh", "agent": "a7",
                "request": { "method": "GET", "url": "https://api.example.com/x",
                             "headers": { "accept": "application/json" } } })
    );
}

#[test]
fn bindings_from_flags() {
    let dir = std::env::temp_dir().join(format!("keybroker-cli-ops-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let value = dir.join("v");
    std::fs::write(&value, "tok\n").unwrap();
    let v = value.to_str().unwrap();
    let p = payload(&[
        "keybroker",
        "put-secret",
        "-w",
        "acme",
        "-s",
        "gh",
        "--value-file",
        v,
        "--host",
        "api.github.com",
        "--header",
        "Authorization",
        "--on-echo",
        "redact",
    ]);
    assert_eq!(p["value"], "tok");
    assert_eq!(
        p["binding"],
        json!({ "hosts": ["api.github.com"], "on_echo": "redact", "allow_insecure_http": false,
                "inject": { "type": "header", "name": "Authorization", "template": "Bearer {secret}" } })
    );
    let p = payload(&[
        "keybroker",
        "put-secret",
        "-w",
        "a",
        "-s",
        "b",
        "--value-file",
        v,
        "--host",
        "h",
        "--query-param",
        "key",
        "--agent-header",
        "accept",
    ]);
    assert_eq!(
        p["binding"],
        json!({ "hosts": ["h"], "agent_headers": ["accept"], "allow_insecure_http": false, "inject": { "type": "query", "param": "key" } })
    );
    // No injection point: refused before anything is read or sent.
    let cli = Cli::try_parse_from([
        "keybroker",
        "put-secret",
        "-w",
        "a",
        "-s",
        "b",
        "--value-file",
        v,
        "--host",
        "h",
    ])
    .unwrap();
    assert_eq!(
        plan(&cli.command).unwrap_err().exit_code(),
        crate::exit::LOCAL_INPUT
    );
    std::fs::remove_dir_all(dir).unwrap();
}

/// The attack: a value on the command line. There is no flag for it,
/// and put-secret refuses to run without a file or stdin.
#[test]
fn no_value_is_ever_taken_from_argv() {
    for argv in [
        &[
            "keybroker",
            "put-secret",
            "-w",
            "a",
            "-s",
            "b",
            "--host",
            "h",
            "--header",
            "x",
            "--value",
            "sk-x",
        ][..],
        &[
            "keybroker",
            "put-secret",
            "-w",
            "a",
            "-s",
            "b",
            "--host",
            "h",
            "--header",
            "x",
            "sk-x",
        ],
        &[
            "keybroker",
            "put-secret",
            "-w",
            "a",
            "-s",
            "b",
            "--host",
            "h",
            "--header",
            "x",
        ],
        &[
            "keybroker",
            "rotate-secret",
            "-w",
            "a",
            "-s",
            "b",
            "--value",
            "sk-x",
        ],
    ] {
        let e = Cli::try_parse_from(argv).unwrap_err();
        assert_eq!(e.exit_code(), i32::from(crate::exit::USAGE), "{argv:?}");
    }
}
