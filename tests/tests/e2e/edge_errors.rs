//! The Lambda edge speaks one error vocabulary: the deployed `inject` and
//! `admin` answer the same library error with the same `type` and retry
//! advice. Every admin operation leaves one `keybroker.audit.admin.v1`
//! record that never holds a value or a policy's text, and the audit
//! records carry their CloudWatch metrics (EMF).

use keybroker_lambda::admin::audit::{sha256_hex, SCHEMA as ADMIN_SCHEMA};
use keybroker_lambda::edge::metrics::NAMESPACE;
use keybroker_tests::lambda_env::{LambdaEnv, Upstream};
use keybroker_tests::{assert_no_canary, Customer};
use serde_json::{json, Value};

use crate::inject::{bearer, bound_secret_in, inject_event, start, AGENT};

/// The error body of a failed call, checked for the shared shape.
fn error_of(r: &Value) -> &Value {
    assert_eq!(r["ok"], false, "expected an error: {r}");
    let e = &r["error"];
    assert!(e["type"].is_string() && e["message"].is_string(), "{r}");
    assert!(e["retry"].is_string(), "no retry advice: {r}");
    e
}

/// A BYOK workspace onboarded through `admin`, holding secret `api` bound to
/// `up` with a policy that lets [`AGENT`] use it.
async fn byok_bound(lambda: &LambdaEnv, up: &Upstream) -> (String, Customer) {
    let ws = crate::ws().to_string();
    let prepared = lambda
        .admin(json!({ "op": "prepare_byok", "workspace": ws }))
        .await;
    let ext = prepared["external_id"].as_str().unwrap().to_owned();
    let customer =
        Customer::create(&broker_core::WorkspaceId::new(ws.as_str()).unwrap(), &ext).await;
    lambda
        .admin(json!({ "op": "enable_byok", "workspace": ws,
                       "role_arn": customer.role_arn, "key_arn": customer.key_arn }))
        .await;
    bound_secret_in(lambda, up, bearer(), ws.clone()).await;
    (ws, customer)
}

/// The outcome record (with its EMF members) of inject call `r`.
fn inject_record(lambda: &LambdaEnv, r: &Value) -> Value {
    let id = r["request_id"].as_str().unwrap();
    lambda
        .audit_records()
        .into_iter()
        .find(|v| v["request_id"] == id)
        .unwrap_or_else(|| panic!("no audit record for {id}"))
}

/// The record is valid EMF in keybroker's namespace, with exactly these
/// metric values.
fn assert_emf(record: &Value, outcome: &str, want: &[(&str, u64)]) {
    let directive = &record["_aws"]["CloudWatchMetrics"][0];
    assert_eq!(directive["Namespace"], NAMESPACE, "{record}");
    assert!(record["_aws"]["Timestamp"].is_u64(), "{record}");
    assert_eq!(record["Outcome"], outcome, "{record}");
    let names: Vec<&str> = directive["Metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["Name"].as_str().unwrap())
        .collect();
    for (metric, value) in want {
        assert!(names.contains(metric), "{metric} not declared: {record}");
        assert_eq!(record[*metric], *value, "{metric}: {record}");
    }
    // Tenant names are never dimensions.
    for set in directive["Dimensions"].as_array().unwrap() {
        for d in set.as_array().unwrap() {
            assert!(
                ["Function", "Outcome"].contains(&d.as_str().unwrap()),
                "{record}"
            );
        }
    }
}

#[tokio::test]
async fn inject_and_admin_answer_the_same_library_error_alike_with_metrics() {
    let (_env, lambda, up) = start().await;
    let (ws, customer) = byok_bound(&lambda, &up).await;
    let url = format!("{}/x", up.base());

    // An injection, counted.
    let ok = lambda.invoke("inject", &inject_event(&ws, &url)).await;
    assert_eq!(ok["ok"], true, "{ok}");
    assert_emf(
        &inject_record(&lambda, &ok),
        "ok",
        &[
            ("Injections", 1),
            ("Denials", 0),
            ("Revocations", 0),
            ("Errors", 0),
        ],
    );

    // A denial (unbound host), counted.
    let denied = lambda
        .invoke("inject", &inject_event(&ws, "http://unbound.example/x"))
        .await;
    assert_eq!(error_of(&denied)["type"], "denied", "{denied}");
    assert_eq!(error_of(&denied)["retry"], "never");
    assert_emf(
        &inject_record(&lambda, &denied),
        "denied",
        &[
            ("Injections", 1),
            ("Denials", 1),
            ("Revocations", 0),
            ("Errors", 0),
        ],
    );

    // not_found: a secret that does not exist.
    let mut ghost = inject_event(&ws, &url);
    ghost["secret"] = json!("ghost");
    let from_inject = lambda.invoke("inject", &ghost).await;
    let from_admin = lambda
        .invoke(
            "admin",
            &json!({ "op": "delete_secret", "workspace": ws, "secret": "ghost" }),
        )
        .await;
    same_error(&from_inject, &from_admin, "not_found", "never");

    // invalid_request: the library refuses the workspace name.
    let mut bad_ws = inject_event(&ws, &url);
    bad_ws["workspace"] = json!("../etc");
    let from_inject = lambda.invoke("inject", &bad_ws).await;
    let from_admin = lambda
        .invoke(
            "admin",
            &json!({ "op": "list_secrets", "workspace": "../etc" }),
        )
        .await;
    same_error(&from_inject, &from_admin, "invalid_request", "never");
    assert_eq!(
        error_of(&from_inject)["message"],
        error_of(&from_admin)["message"],
        "one library error, one message"
    );

    // revoked: the customer disables their key; inject's read and admin's
    // re-encrypting rotation both hit it.
    customer.disable_key().await;
    let from_inject = lambda.invoke("inject", &inject_event(&ws, &url)).await;
    let from_admin = lambda
        .invoke(
            "admin",
            &json!({ "op": "rotate_secret", "workspace": ws, "secret": "api" }),
        )
        .await;
    same_error(&from_inject, &from_admin, "revoked", "never");
    assert_emf(
        &inject_record(&lambda, &from_inject),
        "revoked",
        &[
            ("Injections", 1),
            ("Denials", 0),
            ("Revocations", 1),
            ("Errors", 0),
        ],
    );
    let admin_rec = admin_records(&lambda)
        .into_iter()
        .find(|r| r["operation"] == "rotate_secret")
        .expect("the refused rotation is audited");
    assert_emf(
        &admin_rec,
        "revoked",
        &[("AdminOperations", 1), ("Revocations", 1), ("Errors", 0)],
    );
    assert_eq!(up.records().len(), 1, "only the first injection was sent");
    customer.enable_key().await;
    lambda.stop().await;
}

/// Both answers are errors of `kind` with `retry` advice, and agree.
fn same_error(from_inject: &Value, from_admin: &Value, kind: &str, retry: &str) {
    let (i, a) = (error_of(from_inject), error_of(from_admin));
    assert_eq!(i["type"], kind, "inject: {from_inject}");
    assert_eq!(a["type"], kind, "admin: {from_admin}");
    assert_eq!(i["retry"], retry, "inject: {from_inject}");
    assert_eq!(a["retry"], retry, "admin: {from_admin}");
}

/// Every admin audit record the admin function printed, in order.
pub(crate) fn admin_records(lambda: &LambdaEnv) -> Vec<Value> {
    lambda
        .output()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["schema"] == ADMIN_SCHEMA)
        .collect()
}

#[tokio::test]
async fn every_admin_operation_is_audited_with_what_changed_and_no_value() {
    let (_env, lambda, up) = start().await;
    let ws = crate::ws().to_string();
    let value = format!("sk-live-{}", keybroker_tests::unique("CANARY"));
    let rotated = format!("sk-live-{}", keybroker_tests::unique("CANARY"));
    let marker = keybroker_tests::unique("POLICYCANARY");
    let policy = format!(
        r#"permit(principal == Agent::"{AGENT}", action == Action::"inject", resource) when {{ context.path != "/{marker}" }};"#
    );
    let binding = json!({ "hosts": [up.addr.to_string()], "inject": bearer() });

    let prepared = lambda
        .admin(json!({ "op": "prepare_byok", "workspace": ws }))
        .await;
    let ext = prepared["external_id"].as_str().unwrap();
    let customer =
        Customer::create(&broker_core::WorkspaceId::new(ws.as_str()).unwrap(), ext).await;
    let calls: Vec<(Value, &str)> = vec![
        (
            json!({ "op": "enable_byok", "workspace": ws, "role_arn": customer.role_arn, "key_arn": customer.key_arn }),
            "ok",
        ),
        (json!({ "op": "verify_byok", "workspace": ws }), "ok"),
        (
            json!({ "op": "put_secret", "workspace": ws, "secret": "api", "value": value, "binding": binding }),
            "ok",
        ),
        (
            json!({ "op": "rotate_secret", "workspace": ws, "secret": "api", "value": rotated, "expected_version": 1 }),
            "ok",
        ),
        (
            json!({ "op": "rotate_secret", "workspace": ws, "secret": "api", "value": value, "expected_version": 1 }),
            "conflict",
        ),
        (json!({ "op": "list_secrets", "workspace": ws }), "ok"),
        (
            json!({ "op": "set_policy", "workspace": ws, "policy": policy }),
            "ok",
        ),
        (
            json!({ "op": "set_policy", "workspace": ws, "policy": format!("permit( {marker}") }),
            "invalid_request",
        ),
        // A value in a field of the wrong type: serde's message would echo it.
        (
            json!({ "op": "rotate_secret", "workspace": ws, "secret": "api", "expected_version": value }),
            "invalid_request",
        ),
        (json!({ "op": "rewrap", "workspace": ws }), "ok"),
        (json!({ "op": "check_workspace", "workspace": ws }), "ok"),
        (
            json!({ "op": "delete_secret", "workspace": ws, "secret": "api" }),
            "ok",
        ),
        (json!({ "op": "disable_byok", "workspace": ws }), "ok"),
    ];
    for (event, want) in &calls {
        let r = lambda.invoke("admin", event).await;
        let got = if r["ok"] == true {
            "ok"
        } else {
            error_of(&r)["type"].as_str().unwrap()
        };
        assert_eq!(got, *want, "{}: {r}", event["op"]);
    }

    let records = admin_records(&lambda);
    // prepare_byok, then one per call, in order.
    assert_eq!(records.len(), calls.len() + 1, "{records:#?}");
    assert_eq!(records[0]["operation"], "prepare_byok");
    for (rec, (event, want)) in records[1..].iter().zip(&calls) {
        assert_eq!(rec["operation"], event["op"], "{rec}");
        assert_eq!(rec["workspace"], ws.as_str(), "{rec}");
        assert_eq!(rec["outcome"], *want, "{rec}");
        assert!(
            rec["caller"]["invoked_function_arn"]
                .as_str()
                .is_some_and(|a| a.starts_with("arn:aws:lambda:") && a.ends_with(":admin")),
            "{rec}"
        );
        assert_emf(rec, want, &[("AdminOperations", 1)]);
    }
    let by_op = |op: &str| {
        records
            .iter()
            .find(|r| r["operation"] == op)
            .unwrap()
            .clone()
    };
    let rewrap = by_op("rewrap");
    assert_eq!(rewrap["target"], "secrets");
    assert_eq!(
        (
            &rewrap["changes"]["moved"],
            &rewrap["changes"]["allow_leaving_customer_key"]
        ),
        (&json!(0), &json!(false))
    );
    assert_eq!(by_op("check_workspace")["changes"]["statuses_changed"], 0);
    let enable = by_op("enable_byok");
    assert_eq!(enable["target"], "byok");
    assert_eq!(enable["changes"]["role_arn"], customer.role_arn.as_str());
    assert_eq!(enable["changes"]["byok_key_arn"], customer.key_arn.as_str());
    let put = by_op("put_secret");
    assert_eq!(put["target"], "api");
    assert_eq!(put["changes"]["version_to"], 1);
    assert_eq!(
        put["changes"]["binding_hosts"],
        json!([up.addr.to_string()])
    );
    assert_eq!(
        put["changes"]["binding_sha256"].as_str().map(str::len),
        Some(64)
    );
    assert_eq!(put["changes"]["key_arn"], customer.key_arn.as_str());
    let rotation = by_op("rotate_secret");
    assert_eq!(rotation["changes"]["version_from"], 1);
    assert_eq!(rotation["changes"]["version_to"], 2);
    assert_eq!(rotation["changes"]["value_replaced"], true);
    let set = by_op("set_policy");
    assert_eq!(set["target"], "policy");
    assert_eq!(
        set["changes"]["policy_sha256"],
        sha256_hex(policy.as_bytes())
    );
    assert_eq!(by_op("delete_secret")["changes"]["deleted"], true);

    // No value and no policy text anywhere the functions wrote (audit on
    // stdout, logs on stderr), in any encoding.
    let output = lambda.output();
    for canary in [&value, &rotated, &marker] {
        assert_no_canary("admin function output", &output, canary);
    }
    assert!(!output.contains(&policy));
    lambda.stop().await;
}
