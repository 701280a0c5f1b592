//! Refusals by the control-plane `admin` function: unknown ops and fields,
//! bad names, values and bindings, invalid Cedar, malformed BYOK ARNs, stale
//! versions and missing things. Each is the exact `error.type`, with no
//! canary in the answer, and nothing changed.

use broker_core::{WorkspaceId, MAX_SECRET_LEN};
use serde_json::{json, Value};

use super::{assert_refusals, done, stage, state};

#[tokio::test]
async fn refused_admin_calls_are_typed_and_change_nothing() {
    let s = stage().await;
    let ws = WorkspaceId::new(s.ws.as_str()).unwrap();
    let before = state(&s.env, &ws).await;
    let bearer =
        json!({ "type": "header", "name": "Authorization", "template": "Bearer {secret}" });
    let put = |secret: &str, value: Value, binding: Value| json!({ "op": "put_secret", "workspace": s.ws, "secret": secret, "value": value, "binding": binding });
    let good_binding = json!({ "hosts": ["api.example.com"], "inject": bearer });
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "unknown op",
            json!({ "op": "drop_table", "workspace": s.ws }),
            "invalid_request",
        ),
        ("no op", json!({ "workspace": s.ws }), "invalid_request"),
        (
            "unknown field",
            json!({ "op": "list_secrets", "workspace": s.ws, "all": true }),
            "invalid_request",
        ),
        (
            "bad workspace",
            json!({ "op": "list_secrets", "workspace": "../x" }),
            "invalid_request",
        ),
        (
            "rewrap page of 0",
            json!({ "op": "rewrap", "workspace": s.ws, "limit": 0 }),
            "invalid_request",
        ),
        (
            "rewrap page over the maximum",
            json!({ "op": "rewrap", "workspace": s.ws, "limit": 201 }),
            "invalid_request",
        ),
        (
            "rewrap cursor not a secret name",
            json!({ "op": "rewrap", "workspace": s.ws, "after": "../x" }),
            "invalid_request",
        ),
        (
            "check of all workspaces after a bad id",
            json!({ "op": "check_all_workspaces", "after": "Not A Workspace" }),
            "invalid_request",
        ),
        (
            "check_workspace without a workspace",
            json!({ "op": "check_workspace" }),
            "invalid_request",
        ),
        (
            "bad secret name",
            put("a/b", json!("v"), good_binding.clone()),
            "invalid_request",
        ),
        (
            "empty value",
            put("new", json!(""), good_binding.clone()),
            "invalid_request",
        ),
        (
            "oversized value",
            put(
                "new",
                json!("v".repeat(MAX_SECRET_LEN + 1)),
                good_binding.clone(),
            ),
            "invalid_request",
        ),
        (
            "value not a string",
            put("new", json!(["v"]), good_binding.clone()),
            "invalid_request",
        ),
        (
            "no binding",
            json!({ "op": "put_secret", "workspace": s.ws, "secret": "new", "value": "v" }),
            "invalid_request",
        ),
        (
            "wildcard binding",
            put(
                "new",
                json!("v"),
                json!({ "hosts": ["*.example.com"], "inject": bearer }),
            ),
            "invalid_request",
        ),
        (
            "binding unknown field",
            put(
                "new",
                json!("v"),
                json!({ "hosts": ["a.example"], "inject": bearer, "any_host": true }),
            ),
            "invalid_request",
        ),
        (
            "binding unknown inject type",
            put(
                "new",
                json!("v"),
                json!({ "hosts": ["a.example"], "inject": { "type": "cookie", "name": "c" } }),
            ),
            "invalid_request",
        ),
        (
            "template CRLF",
            put(
                "new",
                json!("v"),
                json!({ "hosts": ["a.example"], "inject": { "type": "header", "name": "X-Key", "template": "{secret}\r\nX-Evil: 1" } }),
            ),
            "invalid_request",
        ),
        (
            "invalid Cedar",
            json!({ "op": "set_policy", "workspace": s.ws, "policy": "permit(principal, action, resource" }),
            "invalid_request",
        ),
        (
            "Cedar that is not a policy",
            json!({ "op": "set_policy", "workspace": s.ws, "policy": "{\"Version\":\"2012-10-17\"}" }),
            "invalid_request",
        ),
        (
            "Cedar unknown entity syntax",
            json!({ "op": "set_policy", "workspace": s.ws, "policy": "permit(principal == Agent::, action, resource);" }),
            "invalid_request",
        ),
        (
            "Cedar policy over 64 KiB",
            json!({ "op": "set_policy", "workspace": s.ws,
                    "policy": format!("// {}\npermit(principal, action, resource);", "x".repeat(64 * 1024)) }),
            "invalid_request",
        ),
        (
            "enable_byok bad role ARN",
            json!({ "op": "enable_byok", "workspace": s.ws, "role_arn": "x", "key_arn": "y" }),
            "invalid_request",
        ),
        (
            "enable_byok alias key",
            json!({ "op": "enable_byok", "workspace": s.ws, "role_arn": "arn:aws:iam::222222222222:role/R", "key_arn": "arn:aws:kms:us-east-1:222222222222:alias/a" }),
            "invalid_request",
        ),
        (
            "rotate negative version",
            json!({ "op": "rotate_secret", "workspace": s.ws, "secret": "api", "expected_version": -1 }),
            "invalid_request",
        ),
        (
            "rotate stale version",
            json!({ "op": "rotate_secret", "workspace": s.ws, "secret": "api", "value": "v", "expected_version": 99 }),
            "conflict",
        ),
        (
            "delete missing",
            json!({ "op": "delete_secret", "workspace": s.ws, "secret": "ghost" }),
            "not_found",
        ),
        (
            "verify without BYOK",
            json!({ "op": "verify_byok", "workspace": s.ws }),
            "not_found",
        ),
        (
            "clear_breaker of a missing secret",
            json!({ "op": "clear_breaker", "workspace": s.ws, "secret": "ghost" }),
            "not_found",
        ),
        (
            "clear_breaker bad secret name",
            json!({ "op": "clear_breaker", "workspace": s.ws, "secret": "a/b" }),
            "invalid_request",
        ),
        (
            "clear_breaker without a secret",
            json!({ "op": "clear_breaker", "workspace": s.ws }),
            "invalid_request",
        ),
        (
            "set_probe_budget of 0",
            json!({ "op": "set_probe_budget", "workspace": s.ws, "secret": "api", "budget": 0 }),
            "invalid_request",
        ),
        (
            "set_probe_budget over 1000",
            json!({ "op": "set_probe_budget", "workspace": s.ws, "secret": "api", "budget": 1001 }),
            "invalid_request",
        ),
        (
            "set_probe_budget negative",
            json!({ "op": "set_probe_budget", "workspace": s.ws, "secret": "api", "budget": -1 }),
            "invalid_request",
        ),
        (
            "set_probe_budget not a number",
            json!({ "op": "set_probe_budget", "workspace": s.ws, "secret": "api", "budget": "3" }),
            "invalid_request",
        ),
        (
            "set_probe_budget without a budget (null means the default: say it)",
            json!({ "op": "set_probe_budget", "workspace": s.ws, "secret": "api" }),
            "invalid_request",
        ),
        (
            "set_probe_budget of a missing secret",
            json!({ "op": "set_probe_budget", "workspace": s.ws, "secret": "ghost", "budget": 5 }),
            "not_found",
        ),
    ];
    let n = assert_refusals(&s, "admin", &cases).await;
    assert_eq!(state(&s.env, &ws).await, before);
    done("admin", n);
    assert!(n >= 20);
    s.lambda.stop().await;
}
