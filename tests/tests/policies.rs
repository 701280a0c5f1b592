//! The broker's IAM and KMS policies, as shipped: renders every template in
//! `infra/policies/` with sample values (the same trivial `${name}`
//! substitution `infra/check.sh` cross-checks against Terraform's
//! `templatefile()`), and checks that each execution role may do exactly
//! what its code calls, on exactly the broker's resources. Needs no emulator.
//!
//! Adding an action, widening a resource or dropping a condition in a
//! template makes a test here fail; the `checks_catch_*` tests prove the
//! checks themselves can fail.

// Test code: a panic is how a test reports failure.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use serde_json::{json, Value};

// ---------------------------------------------------------------------------
// What the code calls. Each entry names the broker-core function behind it;
// change these lists only together with the code.
// ---------------------------------------------------------------------------

/// The inject function: load, check, decrypt, record status.
const INJECT_ACTIONS: &[(&str, &str)] = &[
    // Store::get_secret_and_workspace, via Broker::load: secret + workspace in one read.
    (
        "dynamodb:BatchGetItem",
        "Store::get_secret_and_workspace (Broker::load)",
    ),
    // Store::list_secrets, via the read-only catalog op (lambda/src/catalog.rs).
    ("dynamodb:Query", "Store::list_secrets (catalog::handle)"),
    // Store::set_status, via Broker::decrypt -> record_status (revoked / recovered),
    // Store::count_injection, via Broker::admit (the injection limits), and
    // Store::count_probe, via Broker::count_probe (the probe breaker, a hit).
    (
        "dynamodb:UpdateItem",
        "Store::set_status (Broker::decrypt -> record_status), Store::count_injection (Broker::admit), Store::count_probe (Broker::count_probe)",
    ),
    // Store::breaker, via Broker::confirm_not_quarantined: the probe breaker
    // read after a scan that found nothing (lambda/src/probe.rs).
    (
        "dynamodb:GetItem",
        "Store::breaker (Broker::confirm_not_quarantined)",
    ),
    // keyring::unwrap, via Broker::open, for secrets under the platform key.
    ("kms:Decrypt", "keyring::unwrap (Broker::open)"),
    // keyring::generate, via broker::oauth2::refresh_under_lease: a refreshed
    // access token and a rotated refresh token of an oauth2 secret.
    (
        "kms:GenerateDataKey",
        "keyring::generate (Broker::refresh_under_lease, oauth2)",
    ),
    // Broker::warm_up (Lambda init): opens the KMS connection on the platform key.
    ("kms:DescribeKey", "Broker::warm_up"),
    // RoleSessions::assume, via Broker::customer_kms, for BYOK secrets.
    (
        "sts:AssumeRole",
        "RoleSessions::assume (Broker::customer_kms)",
    ),
    // RoleSessions::assume sets SourceIdentity on every session.
    (
        "sts:SetSourceIdentity",
        "RoleSessions::assume (SourceIdentity)",
    ),
    // The Lambda runtime writes stdout (audit records) and stderr (tracing).
    ("logs:CreateLogStream", "Lambda runtime log delivery"),
    ("logs:PutLogEvents", "Lambda runtime log delivery"),
];

/// The admin function: workspaces, BYOK setup, secrets, policies.
const ADMIN_ACTIONS: &[(&str, &str)] = &[
    // Store::get_workspace: prepare_byok, workspace, enable/verify/disable_byok, put;
    // Store::secret_exists: clear_breaker, set_probe_budget.
    (
        "dynamodb:GetItem",
        "Store::get_workspace, Store::secret_exists",
    ),
    // Store::create_workspace (prepare_byok), Store::write_secret (put, rotate)
    // and Store::set_limits.
    (
        "dynamodb:PutItem",
        "Store::create_workspace, Store::write_secret, Store::set_limits",
    ),
    // Store::set_byok (enable/disable_byok), Store::set_policy, and the
    // breaker's Store::clear_breaker and Store::set_probe_budget.
    (
        "dynamodb:UpdateItem",
        "Store::set_byok, Store::set_policy, Store::clear_breaker, Store::set_probe_budget",
    ),
    // Store::delete_secret (and its breaker, Store::delete_breaker) and
    // Store::set_limits (clear).
    (
        "dynamodb:DeleteItem",
        "Store::delete_secret, Store::delete_breaker, Store::set_limits (clear)",
    ),
    // Store::list_secrets, Store::breakers (list_secrets), Store::secrets_page
    // (rewrap, check_workspace).
    (
        "dynamodb:Query",
        "Store::list_secrets, Store::breakers, Store::secrets_page",
    ),
    // Store::workspaces_page: check_all_workspaces pages over the table.
    (
        "dynamodb:Scan",
        "Store::workspaces_page (check_all_workspaces)",
    ),
    // Store::get_secret_and_workspace, via Broker::rotate_secret.
    (
        "dynamodb:BatchGetItem",
        "Store::get_secret_and_workspace (Broker::rotate_secret)",
    ),
    // keyring::generate, via seal_with (put_secret, rotate_secret) on the platform key.
    ("kms:GenerateDataKey", "keyring::generate (seal_with)"),
    // keyring::unwrap, via Broker::open (rotate_secret keeping the current value).
    ("kms:Decrypt", "keyring::unwrap (Broker::open)"),
    // Broker::warm_up (Lambda init): opens the KMS connection on the platform key.
    ("kms:DescribeKey", "Broker::warm_up"),
    // RoleSessions::assume / fresh_kms_client: enable_byok, verify_byok, BYOK put/rotate.
    (
        "sts:AssumeRole",
        "RoleSessions::assume (verify::run, write_key)",
    ),
    // RoleSessions::assume sets SourceIdentity on every session.
    (
        "sts:SetSourceIdentity",
        "RoleSessions::assume (SourceIdentity)",
    ),
    ("logs:CreateLogStream", "Lambda runtime log delivery"),
    ("logs:PutLogEvents", "Lambda runtime log delivery"),
];

/// The only attributes inject's UpdateItem may touch: the keys, the version
/// it conditions on, the status fields `Store::set_status` writes, the
/// count and expiry `Store::count_injection` writes on counter items, and
/// the probe count and last event `Store::count_probe` writes on breaker
/// items (never `probe_budget`: only admin sets a budget).
const INJECT_UPDATE_ATTRIBUTES: &[&str] = &[
    "pk",
    "sk",
    "version",
    "status",
    "status_reason",
    "status_since",
    "n",
    "expires_at",
    "probes",
    "last_probe_at",
    "last_probe_kind",
    // Store::write_back_secret_blob (a rotated refresh token, on the
    // version read) and the oauth2 state item (store/oauth2.rs).
    "blob",
    "updated_at",
    "oauth_secret_version",
    "oauth_access",
    "oauth_issued_at",
    "oauth_expires_at",
    "oauth_lease_until",
    "oauth_lease_owner",
    "oauth_reauth_since",
    // The in-flight slots of a workspace counter, one attribute per 30 s
    // bucket (`limits::scale::in_flight_attribute`): the one pattern.
    "slots_*",
];

// ---------------------------------------------------------------------------
// Sample values (the same as infra/check.sh).
// ---------------------------------------------------------------------------

const ACCOUNT: &str = "111111111111";
const TABLE: &str = "arn:aws:dynamodb:eu-west-1:111111111111:table/keybroker";
const KEY_V1: &str = "arn:aws:kms:eu-west-1:111111111111:key/11111111-2222-3333-4444-555555555555";
const KEY_V2: &str = "arn:aws:kms:eu-west-1:111111111111:key/66666666-7777-8888-9999-000000000000";
/// What `infra/` outputs as `broker_principal_arns` with its defaults.
const INJECT_ROLE: &str = "arn:aws:iam::111111111111:role/keybroker-inject";
const ADMIN_ROLE: &str = "arn:aws:iam::111111111111:role/keybroker-admin";
const INJECT_LOGS: &str =
    "arn:aws:logs:eu-west-1:111111111111:log-group:/aws/lambda/keybroker-inject";
const ADMIN_LOGS: &str =
    "arn:aws:logs:eu-west-1:111111111111:log-group:/aws/lambda/keybroker-admin";
/// The default customer-role pattern: the customer module's role_path.
const CUSTOMER_ROLES: &str = "arn:aws:iam::*:role/keybroker/*";
const INJECT_FUNCTION: &str = "arn:aws:lambda:eu-west-1:111111111111:function:keybroker-inject";

/// Every template infra/ ships; a new one must be added (and checked) here.
const TEMPLATES: &[&str] = &[
    "admin-role-policy.json.tftpl",
    "agent-runtime-policy.json.tftpl",
    "inject-role-policy.json.tftpl",
    "lambda-trust-policy.json.tftpl",
    "platform-key-generate-statement.json.tftpl",
    "platform-key-policy.json.tftpl",
];

// ---------------------------------------------------------------------------
// Rendering.
// ---------------------------------------------------------------------------

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn read(rel: &str) -> String {
    let path = repo().join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The template rendered by the repo's one renderer (scripts/policy_render.py,
/// through the harness): every placeholder must have a value and every value
/// must be used, as the check scripts require.
fn render(rel: &str, values: &[(&str, &str)]) -> String {
    keybroker_tests::render_template(rel, values)
}

fn parse(rel: &str, text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{rel} renders invalid JSON: {e}"))
}

fn json_array(items: &[&str]) -> String {
    serde_json::to_string(items).unwrap()
}

fn inject_policy() -> Value {
    let rel = "infra/policies/inject-role-policy.json.tftpl";
    parse(
        rel,
        &render(
            rel,
            &[
                ("table_arn", TABLE),
                ("platform_key_arns_json", &json_array(&[KEY_V1, KEY_V2])),
                ("customer_role_arns_json", &json_array(&[CUSTOMER_ROLES])),
                ("log_group_arn", INJECT_LOGS),
            ],
        ),
    )
}

fn admin_policy() -> Value {
    let rel = "infra/policies/admin-role-policy.json.tftpl";
    parse(
        rel,
        &render(
            rel,
            &[
                ("table_arn", TABLE),
                ("platform_key_arns_json", &json_array(&[KEY_V1, KEY_V2])),
                ("active_platform_key_arn", KEY_V2),
                ("customer_role_arns_json", &json_array(&[CUSTOMER_ROLES])),
                ("log_group_arn", ADMIN_LOGS),
            ],
        ),
    )
}

/// The platform key policy as infra/kms.tf renders it for an active or a
/// retired key generation.
fn key_policy(active: bool) -> Value {
    let statement = render(
        "infra/policies/platform-key-generate-statement.json.tftpl",
        &[("admin_role_arn", ADMIN_ROLE)],
    );
    let splice = if active {
        format!(",{statement}")
    } else {
        String::new()
    };
    let rel = "infra/policies/platform-key-policy.json.tftpl";
    parse(
        rel,
        &render(
            rel,
            &[
                ("partition", "aws"),
                ("account_id", ACCOUNT),
                ("inject_role_arn", INJECT_ROLE),
                ("admin_role_arn", ADMIN_ROLE),
                ("generate_data_key_statement", &splice),
            ],
        ),
    )
}

fn agent_policy() -> Value {
    let rel = "infra/policies/agent-runtime-policy.json.tftpl";
    parse(
        rel,
        &render(rel, &[("inject_function_arn", INJECT_FUNCTION)]),
    )
}

// ---------------------------------------------------------------------------
// Reading policies.
// ---------------------------------------------------------------------------

/// A string or an array of strings, as IAM allows.
fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a
            .iter()
            .map(|x| x.as_str().unwrap_or("<not a string>").to_owned())
            .collect(),
        Value::Null => vec![],
        other => vec![format!("<unexpected {other}>")],
    }
}

fn statements(doc: &Value) -> Vec<Value> {
    doc["Statement"].as_array().cloned().unwrap_or_default()
}

fn actions(doc: &Value) -> BTreeSet<String> {
    statements(doc)
        .iter()
        .flat_map(|s| strings(&s["Action"]))
        .collect()
}

fn expected(list: &[(&str, &str)]) -> BTreeSet<String> {
    list.iter().map(|(a, _)| (*a).to_owned()).collect()
}

/// The encryption-context condition every platform-key use must carry: the
/// context keys are workspace/secret only, and a context is present.
fn context_condition() -> Value {
    json!({
        "ForAllValues:StringEquals": { "kms:EncryptionContextKeys": ["workspace", "secret"] },
        "Null": { "kms:EncryptionContextKeys": "false" }
    })
}

/// Problems with an execution role's identity policy: action set, effects,
/// resources and conditions. Empty means it is exactly right.
fn identity_policy_problems(
    doc: &Value,
    want: &[(&str, &str)],
    own_logs: &str,
    generate_keys: &[&str],
) -> Vec<String> {
    let mut problems = Vec::new();
    if doc["Version"] != "2012-10-17" {
        problems.push("Version must be 2012-10-17".to_owned());
    }
    let have = actions(doc);
    let want_set = expected(want);
    for a in have.difference(&want_set) {
        problems.push(format!(
            "unexpected action {a}: no broker-core code calls it"
        ));
    }
    for a in want_set.difference(&have) {
        let who = want.iter().find(|(x, _)| x == a).map(|(_, w)| *w);
        problems.push(format!(
            "missing action {a} (needed by {})",
            who.unwrap_or("?")
        ));
    }
    let decrypt_keys = [KEY_V1, KEY_V2];
    for s in statements(doc) {
        let sid = s["Sid"].as_str().unwrap_or("<no Sid>").to_owned();
        if s["Effect"] != "Allow" {
            problems.push(format!("{sid}: only Allow statements are expected"));
        }
        for k in ["NotAction", "NotResource", "Principal", "NotPrincipal"] {
            if !s[k].is_null() {
                problems.push(format!("{sid}: {k} is not allowed in an identity policy"));
            }
        }
        let resources = strings(&s["Resource"]);
        if resources.is_empty() {
            problems.push(format!("{sid}: no Resource"));
        }
        for a in strings(&s["Action"]) {
            if a.contains('*') {
                problems.push(format!("{sid}: wildcard action {a}"));
            }
            let allowed: Vec<String> = match a.split(':').next().unwrap_or_default() {
                "dynamodb" => vec![TABLE.to_owned()],
                "kms" if a == "kms:GenerateDataKey" => {
                    generate_keys.iter().map(|k| (*k).to_owned()).collect()
                }
                "kms" => decrypt_keys.iter().map(|k| (*k).to_owned()).collect(),
                "sts" => vec![CUSTOMER_ROLES.to_owned()],
                "logs" => vec![format!("{own_logs}:*")],
                _ => vec![],
            };
            for r in &resources {
                if r == "*" {
                    problems.push(format!("{sid}: {a} on Resource \"*\""));
                } else if !allowed.contains(r) {
                    problems.push(format!("{sid}: {a} on unexpected resource {r}"));
                }
            }
            if is_crypto(&a) && s["Condition"] != context_condition() {
                problems.push(format!(
                    "{sid}: {a} must carry the {{workspace, secret}} encryption-context condition"
                ));
            }
        }
    }
    problems
}

/// Problems specific to inject: it must not be able to write anything but
/// status fields, nor create data keys.
fn inject_restriction_problems(doc: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    for a in actions(doc) {
        let allowed_write = a == "dynamodb:UpdateItem";
        // Reads: one secret + workspace, the metadata list (catalog), and
        // the probe breaker after a clean scan.
        let read = a == "dynamodb:BatchGetItem" || a == "dynamodb:Query" || a == "dynamodb:GetItem";
        if a.starts_with("dynamodb:") && !read && !allowed_write {
            problems.push(format!("inject may not call {a}"));
        }
        // GenerateDataKey: oauth2 refreshes seal the tokens they obtain.
        if a.starts_with("kms:")
            && a != "kms:Decrypt"
            && a != "kms:DescribeKey"
            && a != "kms:GenerateDataKey"
        {
            problems.push(format!(
                "inject may not call {a} (only Decrypt, and GenerateDataKey for oauth2 refreshes)"
            ));
        }
    }
    let want_attrs: BTreeSet<String> = INJECT_UPDATE_ATTRIBUTES
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    for s in statements(doc) {
        if !strings(&s["Action"])
            .iter()
            .any(|a| a == "dynamodb:UpdateItem")
        {
            continue;
        }
        let cond = &s["Condition"];
        let attrs: BTreeSet<String> =
            strings(&cond["ForAllValues:StringLike"]["dynamodb:Attributes"])
                .into_iter()
                .collect();
        let only_that = cond.as_object().map(|o| o.len()) == Some(1);
        if attrs != want_attrs || !only_that {
            problems.push(format!(
                "inject's UpdateItem must be limited to attributes {want_attrs:?} (ForAllValues:StringLike on dynamodb:Attributes), found {cond}"
            ));
        }
        if strings(&s["Action"]).len() != 1 {
            problems.push("inject's UpdateItem statement must hold no other action".to_owned());
        }
    }
    problems
}

/// Per principal: the actions a key policy grants it.
fn key_policy_grants(doc: &Value) -> BTreeMap<String, BTreeSet<String>> {
    let mut grants: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for s in statements(doc) {
        for p in strings(&s["Principal"]["AWS"]) {
            grants.entry(p).or_default().extend(strings(&s["Action"]));
        }
    }
    grants
}

fn is_crypto(action: &str) -> bool {
    let a = action.trim_start_matches("kms:");
    action.starts_with("kms:")
        && (a == "Decrypt"
            || a == "Encrypt"
            || a.starts_with("ReEncrypt")
            || a.starts_with("GenerateDataKey")
            || a == "CreateGrant"
            || a == "GenerateMac"
            || a == "Sign"
            || a.starts_with("Verify")
            || a == "DeriveSharedSecret"
            || a.contains('*'))
}

fn key_policy_problems(doc: &Value, active: bool) -> Vec<String> {
    let mut problems = Vec::new();
    let root = format!("arn:aws:iam::{ACCOUNT}:root");
    let grants = key_policy_grants(doc);
    let principals: BTreeSet<&str> = grants.keys().map(String::as_str).collect();
    let want_principals = BTreeSet::from([root.as_str(), INJECT_ROLE, ADMIN_ROLE]);
    if principals != want_principals {
        problems.push(format!(
            "key policy principals {principals:?} != {want_principals:?}"
        ));
    }
    for a in grants.get(&root).into_iter().flatten() {
        if is_crypto(a) {
            problems.push(format!(
                "the account root (so any IAM policy) is granted cryptographic use: {a}"
            ));
        }
    }
    let set = |xs: &[&str]| xs.iter().map(|s| (*s).to_owned()).collect::<BTreeSet<_>>();
    let want_admin = if active {
        set(&["kms:Decrypt", "kms:GenerateDataKey"])
    } else {
        set(&["kms:Decrypt"])
    };
    if grants.get(INJECT_ROLE) != Some(&set(&["kms:Decrypt", "kms:GenerateDataKey"])) {
        problems.push(format!(
            "inject role key grants {:?} != {{kms:Decrypt, kms:GenerateDataKey}} (oauth2 refreshes)",
            grants.get(INJECT_ROLE)
        ));
    }
    if grants.get(ADMIN_ROLE) != Some(&want_admin) {
        problems.push(format!(
            "admin role key grants {:?} != {want_admin:?}",
            grants.get(ADMIN_ROLE)
        ));
    }
    for s in statements(doc) {
        let sid = s["Sid"].as_str().unwrap_or("<no Sid>");
        // In a key policy "*" means this key: AWS requires it.
        if s["Resource"] != "*" {
            problems.push(format!("{sid}: key policy Resource must be \"*\""));
        }
        if s["Effect"] != "Allow" {
            problems.push(format!("{sid}: only Allow statements are expected"));
        }
        let to_broker = strings(&s["Principal"]["AWS"])
            .iter()
            .any(|p| p == INJECT_ROLE || p == ADMIN_ROLE);
        if to_broker && s["Condition"] != context_condition() {
            problems.push(format!(
                "{sid}: broker use must carry the {{workspace, secret}} encryption-context condition"
            ));
        }
    }
    problems
}

fn assert_no_problems(what: &str, problems: &[String]) {
    assert!(problems.is_empty(), "{what}:\n  {}", problems.join("\n  "));
}

// ---------------------------------------------------------------------------
// Tests.
// ---------------------------------------------------------------------------

#[test]
fn every_shipped_template_is_checked_here() {
    let mut on_disk: Vec<String> = std::fs::read_dir(repo().join("infra/policies"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tftpl"))
        .collect();
    on_disk.sort();
    assert_eq!(on_disk, TEMPLATES, "add new templates to this test");
}

#[test]
fn inject_role_may_do_exactly_what_its_code_calls() {
    let doc = inject_policy();
    assert_no_problems(
        "inject role policy",
        // GenerateDataKey on every platform key generation: an oauth2
        // refresh seals under the key its secret was sealed with.
        &identity_policy_problems(&doc, INJECT_ACTIONS, INJECT_LOGS, &[KEY_V1, KEY_V2]),
    );
}

/// IAM's `StringLike` on one value: `*` matches any run, `?` one character.
fn string_like(pattern: &str, value: &str) -> bool {
    match pattern.split_once('*') {
        None => {
            pattern.len() == value.len()
                && pattern
                    .chars()
                    .zip(value.chars())
                    .all(|(p, v)| p == '?' || p == v)
        }
        Some((head, rest)) => {
            value.len() >= head.len()
                && string_like(head, &value[..head.len()])
                && (head.len()..=value.len()).any(|i| string_like(rest, &value[i..]))
        }
    }
}

/// The in-flight slot attribute the code writes is allowed by the shipped
/// policy's one pattern, and by no literal name; no literal name falls
/// under the pattern (so it cannot widen what inject may write). Moto
/// relays DynamoDB without IAM, so this is the check that stands in for
/// AWS's evaluation of `dynamodb:Attributes`.
#[test]
fn inject_may_write_the_in_flight_slot_attributes_the_code_names() {
    let doc = inject_policy();
    let allowed = strings(
        &doc["Statement"][1]["Condition"]["ForAllValues:StringLike"]["dynamodb:Attributes"],
    );
    assert!(!allowed.is_empty(), "{doc}");
    for now_ms in [0, 29_999, 1_764_000_000_000, u64::MAX / 2] {
        let attr = broker_core::limits::scale::in_flight_attribute(now_ms);
        let matching: Vec<&String> = allowed.iter().filter(|p| string_like(p, &attr)).collect();
        assert_eq!(matching, [&"slots_*".to_owned()], "{attr}");
    }
    for literal in allowed.iter().filter(|p| !p.contains(['*', '?'])) {
        assert!(
            !string_like("slots_*", literal),
            "{literal} falls under slots_*"
        );
    }
    assert!(!allowed.iter().any(|p| string_like(p, "probe_budget")));
    assert!(!allowed.iter().any(|p| string_like(p, "binding")));
}

#[test]
fn admin_role_may_do_exactly_what_its_code_calls() {
    let doc = admin_policy();
    // GenerateDataKey only under the active (last) platform key.
    assert_no_problems(
        "admin role policy",
        &identity_policy_problems(&doc, ADMIN_ACTIONS, ADMIN_LOGS, &[KEY_V2]),
    );
}

#[test]
fn inject_writes_status_and_oauth2_fields_only() {
    assert_no_problems(
        "inject restrictions",
        &inject_restriction_problems(&inject_policy()),
    );
}

#[test]
fn platform_key_policy_lets_only_the_broker_roles_use_the_key() {
    assert_no_problems(
        "active key policy",
        &key_policy_problems(&key_policy(true), true),
    );
    assert_no_problems(
        "retired key policy",
        &key_policy_problems(&key_policy(false), false),
    );
}

#[test]
fn warm_up_describe_key_is_allowed_by_identity_and_delegated_by_the_key_policy() {
    // Broker::warm_up calls kms:DescribeKey on the platform key: the identity
    // policies allow it, and the key policy's account-root statement lets
    // IAM decide it (a same-account key needs both).
    let root = format!("arn:aws:iam::{ACCOUNT}:root");
    for active in [true, false] {
        let grants = key_policy_grants(&key_policy(active));
        assert!(
            grants
                .get(&root)
                .is_some_and(|a| a.contains("kms:DescribeKey")),
            "key policy (active: {active}) does not delegate kms:DescribeKey to IAM"
        );
    }
    for (role, doc) in [(INJECT_ROLE, inject_policy()), (ADMIN_ROLE, admin_policy())] {
        assert!(actions(&doc).contains("kms:DescribeKey"), "{role}");
    }
}

#[test]
fn key_policy_and_identity_policies_grant_the_same_kms_actions() {
    let grants = key_policy_grants(&key_policy(true));
    for (role, doc) in [(INJECT_ROLE, inject_policy()), (ADMIN_ROLE, admin_policy())] {
        // Cryptographic use must be granted by both; kms:DescribeKey reaches
        // the roles through the key policy's account-root statement
        // (KeyAdministration delegates it to IAM), like any metadata read.
        let identity: BTreeSet<String> =
            actions(&doc).into_iter().filter(|a| is_crypto(a)).collect();
        assert_eq!(
            grants.get(role),
            Some(&identity),
            "{role}: key policy and identity policy disagree on KMS actions"
        );
    }
}

#[test]
fn lambda_trust_policy_trusts_the_lambda_service_only() {
    let rel = "infra/policies/lambda-trust-policy.json.tftpl";
    let doc = parse(rel, &render(rel, &[]));
    let st = statements(&doc);
    assert_eq!(st.len(), 1);
    assert_eq!(st[0]["Effect"], "Allow");
    assert_eq!(
        st[0]["Principal"],
        json!({ "Service": "lambda.amazonaws.com" })
    );
    assert_eq!(st[0]["Action"], "sts:AssumeRole");
}

#[test]
fn agent_runtimes_may_invoke_inject_only() {
    let doc = agent_policy();
    let st = statements(&doc);
    assert_eq!(st.len(), 1);
    assert_eq!(st[0]["Effect"], "Allow");
    assert_eq!(strings(&st[0]["Action"]), ["lambda:InvokeFunction"]);
    assert_eq!(strings(&st[0]["Resource"]), [INJECT_FUNCTION]);
    // The shipped example is this template rendered, not a hand copy.
    let example = read("examples/agent-client/agent-runtime-policy.json");
    assert_eq!(parse("example", &example), doc);
}

#[test]
fn customer_trust_policy_names_each_broker_principal() {
    // Customers trust both execution roles (output broker_principal_arns):
    // inject assumes their role on reads, admin on verify/put/rotate.
    let external_id = "kb-ext-7f3c9a1e5b2d4f6a8c0e1b3d5f7a9c2e";
    for principal in [INJECT_ROLE, ADMIN_ROLE] {
        assert!(
            accepted_by_customer_module(principal),
            "{principal} fails the customer module's broker_principal_arns validation"
        );
    }
    {
        let rel = "terraform/policies/trust-policy.json.tftpl";
        let principals = serde_json::to_string(&[INJECT_ROLE, ADMIN_ROLE]).unwrap();
        let doc = parse(
            rel,
            &render(
                rel,
                &[
                    ("broker_principal_arns_json", principals.as_str()),
                    ("external_id", external_id),
                ],
            ),
        );
        let st = statements(&doc);
        assert_eq!(st.len(), 2);
        for s in &st {
            assert_eq!(strings(&s["Principal"]["AWS"]), [INJECT_ROLE, ADMIN_ROLE]);
        }
        // AssumeRole needs the external id and a keybroker-* SourceIdentity
        // (RoleSessions::assume sends `keybroker-inject` / `keybroker-admin`).
        assert_eq!(st[0]["Action"], "sts:AssumeRole");
        assert_eq!(
            st[0]["Condition"],
            json!({
                "StringEquals": { "sts:ExternalId": external_id },
                "StringLike": { "sts:SourceIdentity": "keybroker-*" }
            })
        );
        assert_eq!(st[1]["Action"], "sts:SetSourceIdentity");
        assert_eq!(
            st[1]["Condition"],
            json!({ "StringLike": { "sts:SourceIdentity": "keybroker-*" } })
        );
    }
}

#[test]
fn default_customer_role_pattern_covers_the_customer_modules_default_path() {
    let customer = hcl_default(&read("terraform/variables.tf"), "role_path");
    let broker = hcl_default(&read("infra/variables.tf"), "customer_role_path");
    assert_eq!(customer, broker);
    assert_eq!(CUSTOMER_ROLES, format!("arn:aws:iam::*:role{broker}*"));
}

// The checks above must be able to fail.

#[test]
fn checks_catch_an_added_action() {
    let mut doc = inject_policy();
    doc["Statement"][0]["Action"] = json!(["dynamodb:BatchGetItem", "dynamodb:PutItem"]);
    let p = identity_policy_problems(&doc, INJECT_ACTIONS, INJECT_LOGS, &[KEY_V1, KEY_V2]);
    assert!(
        p.iter()
            .any(|m| m.contains("unexpected action dynamodb:PutItem")),
        "{p:?}"
    );
    assert!(!inject_restriction_problems(&doc).is_empty());

    let mut doc = inject_policy();
    doc["Statement"][2]["Action"] = json!(["kms:Decrypt", "kms:Encrypt"]);
    assert!(
        !identity_policy_problems(&doc, INJECT_ACTIONS, INJECT_LOGS, &[KEY_V1, KEY_V2]).is_empty()
    );
    assert!(!inject_restriction_problems(&doc).is_empty());
}

#[test]
fn checks_catch_a_widened_resource_or_dropped_condition() {
    let mut doc = admin_policy();
    doc["Statement"][0]["Resource"] = json!("*");
    assert!(!identity_policy_problems(&doc, ADMIN_ACTIONS, ADMIN_LOGS, &[KEY_V2]).is_empty());

    let mut doc = admin_policy();
    doc["Statement"][1]["Condition"] = Value::Null;
    assert!(!identity_policy_problems(&doc, ADMIN_ACTIONS, ADMIN_LOGS, &[KEY_V2]).is_empty());

    // GenerateDataKey under a retired key.
    let mut doc = admin_policy();
    doc["Statement"][2]["Resource"] = json!([KEY_V1, KEY_V2]);
    assert!(!identity_policy_problems(&doc, ADMIN_ACTIONS, ADMIN_LOGS, &[KEY_V2]).is_empty());

    let mut doc = inject_policy();
    doc["Statement"][1]["Condition"]["ForAllValues:StringLike"]["dynamodb:Attributes"] = json!([
        "pk",
        "sk",
        "version",
        "status",
        "status_reason",
        "status_since",
        "binding"
    ]);
    assert!(!inject_restriction_problems(&doc).is_empty());

    let mut doc = key_policy(true);
    doc["Statement"][0]["Action"] = json!("kms:*");
    assert!(!key_policy_problems(&doc, true).is_empty());
}

// ---------------------------------------------------------------------------
// Helpers for the cross-module checks.
// ---------------------------------------------------------------------------

/// The customer module's broker_principal_arns validation (per entry), by hand:
/// `^arn:aws(-cn|-us-gov)?:iam::[0-9]{12}:(role|user)/(seg/)*name$`.
fn accepted_by_customer_module(arn: &str) -> bool {
    let ok_char = |c: char| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c);
    let Some(rest) = ["arn:aws:", "arn:aws-cn:", "arn:aws-us-gov:"]
        .iter()
        .find_map(|p| arn.strip_prefix(p))
    else {
        return false;
    };
    let Some(rest) = rest.strip_prefix("iam::") else {
        return false;
    };
    let (account, rest) = rest.split_at(rest.find(':').unwrap_or(0));
    if account.len() != 12 || !account.chars().all(|c| c.is_ascii_digit()) {
        return false;
    }
    let Some(path) = rest
        .strip_prefix(":role/")
        .or_else(|| rest.strip_prefix(":user/"))
    else {
        return false;
    };
    let segments: Vec<&str> = path.split('/').collect();
    let name = segments.last().copied().unwrap_or_default();
    segments
        .iter()
        .all(|s| !s.is_empty() && s.chars().all(ok_char))
        && name.len() <= 64
}

/// The `default = "..."` of `variable "<name>"` in a variables.tf.
fn hcl_default(tf: &str, name: &str) -> String {
    let start = tf
        .find(&format!("variable \"{name}\""))
        .unwrap_or_else(|| panic!("no variable {name}"));
    let block = &tf[start..];
    let end = block.find("\n}").unwrap_or(block.len());
    let line = block[..end]
        .lines()
        .find(|l| l.trim_start().starts_with("default"))
        .unwrap_or_else(|| panic!("variable {name} has no default"));
    let value = line.split_once('=').unwrap().1.trim();
    value.trim_matches('"').to_owned()
}
