//! Exit codes: one per error `type` the broker answers with, so a script can
//! branch on `$?` without parsing JSON. The table is the single source: the
//! `--help` text is generated from it and a unit test holds `cli/README.md`
//! to it.
//!
//! The map is keyed by the type *string*, not by an enum of the broker's: the
//! CLI does not link broker-core, and a type a newer broker adds still gets a
//! defined code ([`UNKNOWN_TYPE`]).

/// Success.
pub const OK: u8 = 0;
/// The CLI failed before the call: a value, policy, binding or body file (or
/// stdin) could not be read, was empty, too large, not UTF-8 or not usable.
pub const LOCAL_INPUT: u8 = 1;
/// Usage error (clap's own code: unknown flag, missing argument).
pub const USAGE: u8 = 2;
/// The Lambda `Invoke` call failed: no credentials, network, IAM denied
/// `lambda:InvokeFunction`, no such function.
pub const INVOKE_FAILED: u8 = 3;
/// The function raised a Lambda function error or answered something that
/// is not the broker's JSON reply (wrong function name, broken deployment).
pub const BAD_REPLY: u8 = 4;
/// A broker error `type` this CLI does not know (a newer broker).
pub const UNKNOWN_TYPE: u8 = 20;

/// Broker error `type` → exit code, with what it means for an operator.
/// Both functions answer with one vocabulary (docs/inject.schema.json; a
/// test below keeps this table covering it). Deployments older than that
/// vocabulary answered admin errors as `invalid_input`, `tampered` and
/// `context_mismatch`; those keep the code of the type that replaced them.
pub const BROKER_TYPES: &[(&str, u8, &str)] = &[
    (
        "invalid_request",
        10,
        "malformed request, bad name, forbidden header",
    ),
    (
        "invalid_input",
        10,
        "older deployments' admin name for invalid_request",
    ),
    ("not_found", 11, "no such secret or workspace"),
    (
        "conflict",
        12,
        "raced by another write (rotate --expected-version)",
    ),
    (
        "denied",
        13,
        "binding, policy or destination rules forbid it",
    ),
    ("revoked", 14, "the key owner locked the broker out"),
    (
        "throttled",
        15,
        "a keybroker injection limit, or AWS throttled the broker: retry after retry_after_ms",
    ),
    ("unavailable", 16, "an AWS dependency failed: retry later"),
    (
        "upstream_error",
        17,
        "the upstream failed, timed out or answered too much",
    ),
    (
        "integrity",
        18,
        "stored secret failed integrity checks: investigate",
    ),
    (
        "tampered",
        18,
        "older deployments' admin name for integrity",
    ),
    (
        "context_mismatch",
        18,
        "older deployments' admin name for integrity",
    ),
    (
        "storage",
        19,
        "DynamoDB failed or a stored item is unreadable",
    ),
    ("internal", 21, "the function itself failed: read its logs"),
    (
        "probe",
        22,
        "the request carried material derived from the credential: not sent, counted",
    ),
    (
        "quarantined",
        23,
        "the secret's probe breaker tripped: review, then clear-breaker",
    ),
    (
        "reauth_required",
        24,
        "the oauth2 secret's identity provider refused its refresh token: connect it again",
    ),
];

/// The exit code for a broker error `type` (unknown types: [`UNKNOWN_TYPE`]).
pub fn for_type(kind: &str) -> u8 {
    BROKER_TYPES
        .iter()
        .find(|(t, _, _)| *t == kind)
        .map_or(UNKNOWN_TYPE, |(_, code, _)| *code)
}

/// Every code with its meaning, in order: what `--help` and the README show.
pub fn table() -> Vec<(String, u8, &'static str)> {
    let mut rows = vec![
        ("success".to_owned(), OK, "the operation succeeded"),
        (
            "local input".to_owned(),
            LOCAL_INPUT,
            "a value, policy, binding or body could not be read or used",
        ),
        (
            "usage".to_owned(),
            USAGE,
            "unknown flag or missing argument",
        ),
        (
            "invoke failed".to_owned(),
            INVOKE_FAILED,
            "Lambda Invoke failed (credentials, network, IAM, function name)",
        ),
        (
            "bad reply".to_owned(),
            BAD_REPLY,
            "function error or a reply that is not the broker's JSON",
        ),
    ];
    rows.extend(
        BROKER_TYPES
            .iter()
            .map(|(t, c, m)| (format!("`{t}`"), *c, *m)),
    );
    rows.push((
        "any other `type`".to_owned(),
        UNKNOWN_TYPE,
        "an error type this CLI does not know",
    ));
    rows
}

/// The table as `--help` prints it.
pub fn help_text() -> String {
    let mut out = String::from("Exit codes:\n");
    for (what, code, meaning) in table() {
        out.push_str(&format!(
            "  {code:>3}  {:<20} {meaning}\n",
            what.replace('`', "")
        ));
    }
    out
}

/// The table as a Markdown table (what `cli/README.md` must contain).
pub fn markdown() -> String {
    let mut out = String::from("| exit code | error `type` / cause | meaning |\n|---|---|---|\n");
    for (what, code, meaning) in table() {
        out.push_str(&format!("| {code} | {what} | {meaning} |\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_types_map_to_their_code_and_unknown_ones_to_the_fallback() {
        assert_eq!(for_type("not_found"), 11);
        assert_eq!(for_type("invalid_request"), for_type("invalid_input"));
        assert_eq!(for_type("revoked"), 14);
        assert_eq!(for_type("integrity"), for_type("tampered"));
        assert_eq!(for_type("a_type_from_the_future"), UNKNOWN_TYPE);
        assert_eq!(for_type(""), UNKNOWN_TYPE);
    }

    #[test]
    fn codes_never_collide_with_the_cli_s_own_or_with_unrelated_types() {
        let own = [
            OK,
            LOCAL_INPUT,
            USAGE,
            INVOKE_FAILED,
            BAD_REPLY,
            UNKNOWN_TYPE,
        ];
        for (t, code, _) in BROKER_TYPES {
            assert!(!own.contains(code), "{t} reuses a CLI code");
        }
        // Types sharing a code are the documented aliases only.
        let shared: Vec<_> = BROKER_TYPES
            .iter()
            .filter(|(_, c, _)| BROKER_TYPES.iter().filter(|(_, d, _)| d == c).count() > 1)
            .map(|(t, _, _)| *t)
            .collect();
        assert_eq!(
            shared,
            [
                "invalid_request",
                "invalid_input",
                "integrity",
                "tampered",
                "context_mismatch"
            ]
        );
    }

    /// Every error type the functions can answer (the published schema's
    /// enum) has its own code, so a new type on the broker side fails here
    /// instead of exiting with the unknown-type fallback.
    #[test]
    fn every_published_error_type_has_a_code() {
        let schema: serde_json::Value =
            serde_json::from_str(include_str!("../../docs/inject.schema.json"))
                .expect("the schema is JSON");
        let types = schema["$defs"]["response"]["properties"]["error"]["properties"]["type"]
            ["enum"]
            .as_array()
            .expect("the schema lists the error types");
        assert!(!types.is_empty());
        for t in types {
            let t = t.as_str().expect("type names are strings");
            assert_ne!(for_type(t), UNKNOWN_TYPE, "no exit code for `{t}`");
        }
    }

    /// The README documents exactly the table the code uses.
    #[test]
    fn readme_shows_the_table() {
        let readme = include_str!("../README.md");
        assert!(
            readme.contains(&markdown()),
            "cli/README.md must contain this table verbatim:\n{}",
            markdown()
        );
    }
}
