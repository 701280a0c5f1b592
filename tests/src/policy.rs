//! The shipped policy templates, rendered for the stack: the customer's key
//! and trust policies (`terraform/policies`) and the platform key policy
//! (`infra/policies`).
//!
//! It exists so the policies under test are the shipped ones, never a copy:
//! a change to a template changes what the stack enforces in the suite.

use broker_core::WorkspaceId;

use crate::broker_identity::{ADMIN_ROLE_ARN, BROKER_PRINCIPALS, INJECT_ROLE_ARN};
use crate::stack::{repo_root, BROKER_ACCOUNT};

/// The platform key's policy as infra renders it for the active generation:
/// the account root administers, both execution roles decrypt, the admin
/// role generates data keys.
pub fn platform_key_policy() -> String {
    let generate = render_template(
        "infra/policies/platform-key-generate-statement.json.tftpl",
        &[("admin_role_arn", ADMIN_ROLE_ARN)],
    );
    render_template(
        "infra/policies/platform-key-policy.json.tftpl",
        &[
            ("partition", "aws"),
            ("account_id", BROKER_ACCOUNT),
            ("inject_role_arn", INJECT_ROLE_ARN),
            ("admin_role_arn", ADMIN_ROLE_ARN),
            ("generate_data_key_statement", &format!(",{generate}")),
        ],
    )
}

/// Render one of the customer module's policy templates
/// (`terraform/policies/*.tftpl`); see [`render_template`].
pub fn render_policy(template: &str, vars: &[(&str, &str)]) -> String {
    render_template(&format!("terraform/policies/{template}"), vars)
}

/// Render a policy template (`path` relative to the repository root, e.g.
/// `infra/policies/inject-role-policy.json.tftpl`) with the repo's one
/// renderer, `scripts/policy_render.py` (the one the check scripts use and
/// cross-check byte for byte against Terraform's `templatefile()`), so the
/// policy under test is the shipped one rendered the shipped way. Panics on
/// a placeholder without a value or invalid JSON.
pub fn render_template(path: &str, vars: &[(&str, &str)]) -> String {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let root = repo_root();
    let script = root.join("scripts/policy_render.py");
    let values: serde_json::Map<String, serde_json::Value> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), serde_json::Value::from(*v)))
        .collect();
    let mut child = Command::new("python3")
        .arg(&script)
        .arg("render")
        .arg(root.join(path))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("run python3 {}: {e}", script.display()));
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(serde_json::Value::Object(values).to_string().as_bytes())
        .expect("write values");
    let out = child.wait_with_output().expect("renderer output");
    assert!(
        out.status.success(),
        "rendering {path} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).expect("rendered policy is UTF-8");
    serde_json::from_str::<serde_json::Value>(&text)
        .unwrap_or_else(|e| panic!("{path} renders to invalid JSON: {e}\n{text}"));
    text
}

/// What the key policy says about the broker, beyond its standing Denies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BrokerAccess {
    /// `broker_access = "enabled"`: the `KeybrokerUseKey` Allow.
    Enabled,
    /// `broker_access = "revoked"`: the `KeybrokerRevoked` explicit Deny.
    Revoked,
    /// Neither: the Allow removed and no Deny. The module never renders this
    /// (it was the old `enable_broker_access = false`); the suite keeps it to
    /// show why removing the Allow alone does not revoke when an identity
    /// policy or a grant still reaches the role.
    StatementRemoved,
}

/// The customer's key policy as the module renders it (the shipped
/// templates, spliced as `terraform/main.tf` does), for the role `role_arn`
/// pinned to workspace `ws`.
pub fn key_policy(account: &str, role_arn: &str, ws: &WorkspaceId, access: BrokerAccess) -> String {
    let switch = match access {
        BrokerAccess::Enabled => format!(
            ",{}",
            render_policy(
                "broker-key-statement.json.tftpl",
                &[("broker_role_arn", role_arn), ("workspace_id", ws.as_str())],
            )
        ),
        BrokerAccess::Revoked => format!(
            ",{}",
            render_policy(
                "broker-revoke-statement.json.tftpl",
                &[("broker_role_arn", role_arn)],
            )
        ),
        BrokerAccess::StatementRemoved => String::new(),
    };
    let admins = format!("[\"arn:aws:iam::{account}:root\"]");
    // What main.tf derives from broker_principal_arns: the broker's account.
    let broker_accounts = format!("[\"{BROKER_ACCOUNT}\"]");
    render_policy(
        "key-policy.json.tftpl",
        &[
            ("partition", "aws"),
            ("account_id", account),
            ("key_admins_json", &admins),
            ("broker_account_ids_json", &broker_accounts),
            ("broker_role_arn", role_arn),
            ("workspace_id", ws.as_str()),
            ("broker_statement", &switch),
            ("session_cutoff_statement", ""),
        ],
    )
}

/// The customer's trust policy: the shipped template naming the broker and
/// requiring `external_id` (and a `keybroker-*` SourceIdentity), or with
/// `None` the same statements without the `sts:ExternalId` condition (a role
/// that trusts the broker for any external id, which the shipped module
/// never creates).
pub fn trust_policy(external_id: Option<&str>) -> String {
    let principals = serde_json::to_string(&BROKER_PRINCIPALS).expect("JSON");
    let rendered = render_policy(
        "trust-policy.json.tftpl",
        &[
            ("broker_principal_arns_json", principals.as_str()),
            ("external_id", external_id.unwrap_or("unused")),
        ],
    );
    if external_id.is_some() {
        return rendered;
    }
    let mut doc: serde_json::Value = serde_json::from_str(&rendered).expect("trust policy JSON");
    for statement in doc["Statement"].as_array_mut().expect("Statement array") {
        if let Some(c) = statement["Condition"].as_object_mut() {
            c.remove("StringEquals");
        }
    }
    doc.to_string()
}

/// The trust policy the module shipped before issue 23: `sts:AssumeRole`
/// with the external id, and no `sts:SetSourceIdentity`. STS refuses the
/// broker's AssumeRole (it sets a SourceIdentity) against it.
pub fn trust_policy_without_source_identity(external_id: &str) -> String {
    let mut doc: serde_json::Value =
        serde_json::from_str(&trust_policy(Some(external_id))).expect("trust policy JSON");
    let statements = doc["Statement"].as_array_mut().expect("Statement array");
    statements.retain(|s| s["Action"] == "sts:AssumeRole");
    for s in statements.iter_mut() {
        if let Some(c) = s["Condition"].as_object_mut() {
            c.remove("StringLike");
        }
    }
    doc.to_string()
}
