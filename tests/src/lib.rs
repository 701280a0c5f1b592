//! Harness for the end-to-end suite and the demo: real AWS SDK clients
//! pointed at the local AWS stack (`localstack/start.sh`), plus the customer's
//! side of BYOK built from the *shipped* Terraform policy templates.
//!
//! Nothing here mocks AWS. What the harness adds is setup the customer or the
//! operator would do with other tools: a table, a platform key, a customer
//! key and role, key-state changes.

// Test and demo code: a panic is how it reports failure.
#![allow(clippy::unwrap_used)]

pub mod broker_identity;
pub mod hostile;
pub mod lambda_env;
pub mod tls;

use std::path::PathBuf;

use aws_config::{BehaviorVersion, SdkConfig};
use aws_credential_types::Credentials;
use broker_core::{Broker, BrokerConfig, WorkspaceId};

/// The broker's account in the local stack (its access key id, as
/// `localstack/env.sh` exports it: LocalStack maps a 12-digit key id to an
/// account).
pub const BROKER_ACCOUNT: &str = "111111111111";

pub use broker_identity::{BrokerRole, ADMIN_ROLE_ARN, BROKER_PRINCIPALS, INJECT_ROLE_ARN};

/// Table the suite and demo share; every test uses its own workspaces.
pub const TABLE: &str = "keybroker-e2e";

/// Fail loudly (not skip) when the stack env is missing: a silently skipped
/// end-to-end test would be a test that cannot fail.
pub fn require_stack() {
    if std::env::var_os("AWS_ENDPOINT_URL").is_none()
        || std::env::var_os("AWS_ENDPOINT_URL_DYNAMODB").is_none()
    {
        panic!(
            "AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_DYNAMODB are not set: run the suite with \
             `bash tests/run.sh`, which starts the local AWS stack, or \
             `eval \"$(localstack/start.sh)\"` first"
        );
    }
}

/// A random lowercase hex suffix, for names unique per test run.
pub fn unique(prefix: &str) -> String {
    let id = broker_core::external_id::generate().expect("rng");
    format!("{prefix}-{}", &id[..12])
}

/// A random 12-digit account id for an isolated "customer" in the stack.
pub fn random_account() -> String {
    let id = broker_core::external_id::generate().expect("rng");
    let digits: String = id
        .bytes()
        .map(|b| char::from(b'0' + (b % 10)))
        .take(11)
        .collect();
    format!("2{digits}")
}

/// SDK config acting as the broker: a session of its `admin` execution role
/// (the role that writes, and that may read too), as the admin function gets
/// it from Lambda. Never the account root: the shipped identity, key and
/// trust policies are what the stack evaluates. For the operator's own
/// actions (creating tables and platform keys) use
/// `account_sdk_config(BROKER_ACCOUNT)`.
pub async fn broker_sdk_config() -> SdkConfig {
    require_stack();
    broker_identity::role_sdk_config(BrokerRole::Admin).await
}

/// SDK config acting as `account`'s administrator.
pub async fn account_sdk_config(account: &str) -> SdkConfig {
    require_stack();
    aws_config::defaults(BehaviorVersion::latest())
        .credentials_provider(Credentials::new(account, "test", None, None, "local-stack"))
        .load()
        .await
}

/// Everything a test needs on the broker's side.
pub struct Env {
    /// The broker under test.
    pub broker: Broker,
    /// A raw DynamoDB client, to inspect and tamper with stored items.
    pub ddb: aws_sdk_dynamodb::Client,
    /// The broker account's KMS client (platform key administration).
    pub kms: aws_sdk_kms::Client,
    /// The platform key this broker uses for non-BYOK workspaces.
    pub platform_key_arn: String,
}

impl Env {
    /// What every BYOK test starts from: prepare the workspace, let a new
    /// customer apply the module with its external id, enable BYOK.
    pub async fn onboard_customer(&self, ws: &WorkspaceId) -> Customer {
        let ext = self.broker.prepare_byok(ws).await.unwrap().external_id;
        let customer = Customer::create(ws, &ext).await;
        self.broker
            .enable_byok(ws, &customer.role_arn, &customer.key_arn, None)
            .await
            .unwrap();
        customer
    }
}

/// A raw DynamoDB item, for tests that inspect or tamper with storage.
pub type Item = std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>;

/// The stored item of secret `n` (strongly consistent read).
pub async fn secret_item(env: &Env, ws: &WorkspaceId, n: &broker_core::SecretName) -> Item {
    raw_item(env, ws, &format!("secret#{n}")).await
}

/// The stored settings item of workspace `ws` (strongly consistent read).
pub async fn workspace_item(env: &Env, ws: &WorkspaceId) -> Item {
    raw_item(env, ws, "workspace").await
}

async fn raw_item(env: &Env, ws: &WorkspaceId, sk: &str) -> Item {
    use aws_sdk_dynamodb::types::AttributeValue;
    env.ddb
        .get_item()
        .table_name(TABLE)
        .key("pk", AttributeValue::S(format!("ws#{ws}")))
        .key("sk", AttributeValue::S(sk.to_owned()))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
        .expect("item exists")
}

/// Write `item` as secret `n` of workspace `ws`: what an attacker (or a
/// bug) with DynamoDB write access could do.
pub async fn plant_secret_item(
    env: &Env,
    mut item: Item,
    ws: &WorkspaceId,
    n: &broker_core::SecretName,
) {
    use aws_sdk_dynamodb::types::AttributeValue;
    item.insert("pk".into(), AttributeValue::S(format!("ws#{ws}")));
    item.insert("sk".into(), AttributeValue::S(format!("secret#{n}")));
    item.insert("workspace".into(), AttributeValue::S(ws.to_string()));
    item.insert("name".into(), AttributeValue::S(n.to_string()));
    put_raw_item(env, item).await;
}

/// Write `item` as it is, keys included: a table writer's raw `PutItem`.
pub async fn put_raw_item(env: &Env, item: Item) {
    env.ddb
        .put_item()
        .table_name(TABLE)
        .set_item(Some(item))
        .send()
        .await
        .unwrap();
}

/// The blob attribute of a secret item.
pub fn blob_of(item: &Item) -> Vec<u8> {
    match &item["blob"] {
        aws_sdk_dynamodb::types::AttributeValue::B(b) => b.as_ref().to_vec(),
        other => panic!("blob is {other:?}"),
    }
}

/// Create (if needed) the table and a fresh platform key (with infra's key
/// policy naming both execution roles), as the operator, and a broker acting
/// as a session of the admin role.
pub async fn setup() -> Env {
    let operator = account_sdk_config(BROKER_ACCOUNT).await;
    let ddb = aws_sdk_dynamodb::Client::new(&operator);
    ensure_table(&ddb).await;
    let kms = aws_sdk_kms::Client::new(&operator);
    let platform_key_arn = create_key(
        &kms,
        Some(platform_key_policy()),
        "keybroker platform key (test)",
    )
    .await;
    let broker = Broker::new(
        &broker_sdk_config().await,
        BrokerConfig::new(TABLE, platform_key_arn.clone()),
    )
    .expect("broker config");
    Env {
        broker,
        ddb,
        kms,
        platform_key_arn,
    }
}

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

/// Create the shared table unless it exists.
pub async fn ensure_table(ddb: &aws_sdk_dynamodb::Client) {
    match broker_core::create_table(ddb, TABLE).await {
        Ok(()) => {}
        Err(broker_core::BrokerError::Storage { detail }) if detail.contains("ResourceInUse") => {}
        Err(e) => panic!("create table: {e}"),
    }
}

async fn create_key(
    kms: &aws_sdk_kms::Client,
    policy: Option<String>,
    description: &str,
) -> String {
    let out = kms
        .create_key()
        .description(description)
        .set_policy(policy)
        .send()
        .await
        .expect("CreateKey");
    out.key_metadata()
        .and_then(|m| m.arn())
        .expect("key ARN")
        .to_owned()
}

/// Repository root (the parent of `tests/`).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// Render one of the customer module's policy templates
/// (`terraform/policies/*.tftpl`); see [`render_template`].
pub fn render_policy(template: &str, vars: &[(&str, &str)]) -> String {
    render_template(&format!("terraform/policies/{template}"), vars)
}

/// Render a policy template (`path` relative to the repository root, e.g.
/// `infra/policies/inject-role-policy.json.tftpl`) the way `templatefile`
/// does for plain `${name}` placeholders, so the policy under test is the
/// shipped one. Panics on a placeholder left unrendered or invalid JSON.
pub fn render_template(path: &str, vars: &[(&str, &str)]) -> String {
    let file = repo_root().join(path);
    let mut text =
        std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("read {}: {e}", file.display()));
    for (k, v) in vars {
        text = text.replace(&format!("${{{k}}}"), v);
    }
    assert!(
        !text.contains("${"),
        "unrendered placeholder in {path}:\n{text}"
    );
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
    render_policy(
        "key-policy.json.tftpl",
        &[
            ("partition", "aws"),
            ("account_id", account),
            ("key_admins_json", &admins),
            ("broker_role_arn", role_arn),
            ("workspace_id", ws.as_str()),
            ("broker_statement", &switch),
            ("session_cutoff_statement", ""),
        ],
    )
}

/// The customer's trust policy: the shipped template naming the broker and
/// requiring `external_id`, or with `None` the same statement without its
/// `sts:ExternalId` condition (a role that trusts the broker account for any
/// external id, which the shipped module never creates).
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
        statement
            .as_object_mut()
            .expect("statement object")
            .remove("Condition");
    }
    doc.to_string()
}

/// Name of the role [`Customer`] creates (under path `/keybroker/`, as the
/// Terraform module does).
pub const CUSTOMER_ROLE_NAME: &str = "KeybrokerAccess";

/// The customer's side of BYOK: a KMS key and a role in their own account,
/// set up from the shipped policy templates.
pub struct Customer {
    /// The customer's account id.
    pub account: String,
    /// The customer's KMS client (acting as the account's admin).
    pub kms: aws_sdk_kms::Client,
    /// The customer's IAM client.
    pub iam: aws_sdk_iam::Client,
    /// The key the customer created for the broker.
    pub key_arn: String,
    /// The role the broker assumes.
    pub role_arn: String,
    /// The workspace the key policy's broker statement is pinned to (the
    /// customer's workspace, unless created with [`Customer::create_pinned_to`]).
    pub workspace: WorkspaceId,
}

impl Customer {
    /// What a customer does with `terraform/`: create the role (trust policy
    /// naming the broker and the workspace's external id) and the key (key
    /// policy granting that role, pinned to the workspace).
    pub async fn create(ws: &WorkspaceId, external_id: &str) -> Self {
        Self::build(Some(external_id), ws).await
    }

    /// Like [`Customer::create`], with the trust policy requiring
    /// `trust_external_id` (which may differ from the workspace's), or with
    /// `None` no external id at all (see [`trust_policy`]).
    pub async fn create_with_trust(ws: &WorkspaceId, trust_external_id: Option<&str>) -> Self {
        Self::build(trust_external_id, ws).await
    }

    /// Like [`Customer::create`], with the key policy's broker statement
    /// pinned to `key_workspace` instead of the customer's own workspace
    /// (e.g. a key set up for another workspace).
    pub async fn create_pinned_to(external_id: &str, key_workspace: &WorkspaceId) -> Self {
        Self::build(Some(external_id), key_workspace).await
    }

    async fn build(trust_external_id: Option<&str>, key_workspace: &WorkspaceId) -> Self {
        let ws = key_workspace;
        let account = random_account();
        let sdk = account_sdk_config(&account).await;
        let iam = aws_sdk_iam::Client::new(&sdk);
        let kms = aws_sdk_kms::Client::new(&sdk);
        let role = iam
            .create_role()
            .role_name(CUSTOMER_ROLE_NAME)
            .path("/keybroker/")
            .assume_role_policy_document(trust_policy(trust_external_id))
            .max_session_duration(3600)
            .send()
            .await
            .expect("CreateRole");
        let role_arn = role.role().map(|r| r.arn().to_owned()).expect("role ARN");
        let policy = key_policy(&account, &role_arn, ws, BrokerAccess::Enabled);
        let key_arn = create_key(&kms, Some(policy), "customer BYOK key (test)").await;
        Self {
            account,
            kms,
            iam,
            key_arn,
            role_arn,
            workspace: ws.clone(),
        }
    }

    /// `DisableKey`.
    pub async fn disable_key(&self) {
        self.kms
            .disable_key()
            .key_id(&self.key_arn)
            .send()
            .await
            .expect("DisableKey");
    }

    /// `EnableKey`.
    pub async fn enable_key(&self) {
        self.kms
            .enable_key()
            .key_id(&self.key_arn)
            .send()
            .await
            .expect("EnableKey");
    }

    /// `ScheduleKeyDeletion` with the shortest window.
    pub async fn schedule_deletion(&self) {
        self.kms
            .schedule_key_deletion()
            .key_id(&self.key_arn)
            .pending_window_in_days(7)
            .send()
            .await
            .expect("ScheduleKeyDeletion");
    }

    /// `CancelKeyDeletion` then `EnableKey` (a cancelled key comes back disabled).
    pub async fn cancel_deletion(&self) {
        self.kms
            .cancel_key_deletion()
            .key_id(&self.key_arn)
            .send()
            .await
            .expect("CancelKeyDeletion");
        self.enable_key().await;
    }

    /// `UpdateAssumeRolePolicy`: the role's trust policy now requires
    /// `external_id` (`None`: no external id condition).
    pub async fn set_trust_external_id(&self, external_id: Option<&str>) {
        self.iam
            .update_assume_role_policy()
            .role_name(CUSTOMER_ROLE_NAME)
            .policy_document(trust_policy(external_id))
            .send()
            .await
            .expect("UpdateAssumeRolePolicy");
    }

    /// `PutKeyPolicy`: the module's key policy with the broker's access set
    /// to `access` (what `terraform apply` of `broker_access` does).
    pub async fn set_broker_access(&self, access: BrokerAccess) {
        self.kms
            .put_key_policy()
            .key_id(&self.key_arn)
            .policy_name("default")
            .policy(key_policy(
                &self.account,
                &self.role_arn,
                &self.workspace,
                access,
            ))
            .send()
            .await
            .expect("PutKeyPolicy");
    }

    /// `PutKeyPolicy` with the module's key policy for `access`, its
    /// statements changed by `edit` first: a hand-edited key policy (an
    /// extra Allow, the standing Denies stripped, …).
    pub async fn set_edited_key_policy(
        &self,
        access: BrokerAccess,
        edit: impl FnOnce(&mut Vec<serde_json::Value>),
    ) {
        let mut doc: serde_json::Value = serde_json::from_str(&key_policy(
            &self.account,
            &self.role_arn,
            &self.workspace,
            access,
        ))
        .expect("key policy JSON");
        edit(doc["Statement"].as_array_mut().expect("Statement array"));
        self.kms
            .put_key_policy()
            .key_id(&self.key_arn)
            .policy_name("default")
            .policy(doc.to_string())
            .send()
            .await
            .expect("PutKeyPolicy");
    }

    /// An Allow of GenerateDataKey/Decrypt for everyone in this account
    /// ("anyone here may decrypt"): reaches the broker's role through the
    /// key policy alone, no identity policy needed.
    pub fn account_wide_decrypt_statement(&self) -> serde_json::Value {
        serde_json::json!({
            "Sid": "AccountWideDecrypt",
            "Effect": "Allow",
            "Principal": {"AWS": "*"},
            "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
            "Resource": "*",
            "Condition": {"StringEquals": {"kms:CallerAccount": self.account}}
        })
    }

    /// Attach an inline identity policy to the customer role allowing
    /// `actions` on this key: what an administrator could do outside
    /// Terraform (the module's exclusive management shows it as drift).
    pub async fn put_role_policy(&self, policy_name: &str, actions: &[&str]) {
        let doc = serde_json::json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Effect": "Allow",
                "Action": actions,
                "Resource": self.key_arn,
            }]
        });
        self.iam
            .put_role_policy()
            .role_name(CUSTOMER_ROLE_NAME)
            .policy_name(policy_name)
            .policy_document(doc.to_string())
            .send()
            .await
            .expect("PutRolePolicy");
    }

    /// `CreateGrant` on the key for the customer role (as a key
    /// administrator may), for `operations`; returns the grant id.
    pub async fn grant_role(&self, operations: &[aws_sdk_kms::types::GrantOperation]) -> String {
        self.kms
            .create_grant()
            .key_id(&self.key_arn)
            .grantee_principal(&self.role_arn)
            .set_operations(Some(operations.to_vec()))
            .send()
            .await
            .expect("CreateGrant")
            .grant_id()
            .expect("grant id")
            .to_owned()
    }
}

impl Customer {
    /// A KMS client acting as a session of the customer role, assumed from
    /// the broker's identity with `external_id`: what the broker holds, for
    /// tests that call KMS with it directly.
    pub async fn role_kms(&self, external_id: &str) -> aws_sdk_kms::Client {
        let sdk = broker_sdk_config().await;
        let creds = aws_sdk_sts::Client::new(&sdk)
            .assume_role()
            .role_arn(&self.role_arn)
            .role_session_name("keybroker-test")
            .external_id(external_id)
            .duration_seconds(900)
            .send()
            .await
            .expect("AssumeRole")
            .credentials
            .expect("credentials");
        let session = Credentials::new(
            creds.access_key_id(),
            creds.secret_access_key(),
            Some(creds.session_token().to_owned()),
            None,
            "customer-role-session",
        );
        let conf = aws_sdk_kms::config::Builder::from(&sdk)
            .credentials_provider(session)
            .build();
        aws_sdk_kms::Client::from_conf(conf)
    }

    /// Run the customer's revocation readiness check
    /// (`terraform/readiness/check_revocation.py --json`) as this account's
    /// administrator against the stack; returns its exit code and report.
    pub fn readiness_check(&self) -> (i32, serde_json::Value) {
        readiness_check(&self.account, &self.key_arn, &self.role_arn)
    }
}

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

/// Every form in which `canary` could leak through a text channel: raw,
/// base64 (standard and URL-safe, padded or not, at each of the three byte
/// alignments it can sit at inside a longer encoded value), hex in either
/// case, percent-encoded (every byte, either case; and form encoding), JSON
/// escapes (as serde writes them, and every character as `\uXXXX`) and HTML
/// escapes (named, `&#NN;`, `&#xNN;`).
pub fn canary_forms(canary: &str) -> Vec<(&'static str, String)> {
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
    use base64::Engine;
    let bytes = canary.as_bytes();
    let mut forms = vec![("raw", canary.to_owned())];
    for pad in 0..3 {
        // Encode with `pad` leading bytes, keep only the characters that
        // depend on the canary alone (drop the first and last group).
        let mut v = vec![b'.'; pad];
        v.extend_from_slice(bytes);
        for (name, enc) in [
            ("base64", STANDARD.encode(&v)),
            ("base64url", URL_SAFE_NO_PAD.encode(&v)),
        ] {
            let enc = enc.trim_end_matches('=');
            let start = if pad == 0 { 0 } else { 4 };
            let end = enc.len().saturating_sub(4);
            if end > start + 8 {
                forms.push((name, enc[start..end].to_owned()));
            }
        }
    }
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    forms.push(("hex", hex.clone()));
    forms.push(("HEX", hex.to_ascii_uppercase()));
    let pct: String = bytes.iter().map(|b| format!("%{b:02X}")).collect();
    forms.push(("percent", pct.clone()));
    forms.push(("percent-lower", pct.to_ascii_lowercase()));
    forms.push((
        "form",
        url::form_urlencoded::byte_serialize(bytes).collect(),
    ));
    let json = serde_json::to_string(canary).expect("a string serializes");
    forms.push(("json", json.trim_matches('"').to_owned()));
    forms.push(("json-slash", json.trim_matches('"').replace('/', "\\/")));
    let units: String = canary
        .encode_utf16()
        .map(|u| format!("\\u{u:04x}"))
        .collect();
    forms.push(("json-unicode", units));
    let named = canary
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;");
    forms.push(("html-named", named));
    let dec: String = canary.chars().map(|c| format!("&#{};", c as u32)).collect();
    forms.push(("html-decimal", dec));
    let hexent: String = canary
        .chars()
        .map(|c| format!("&#x{:x};", c as u32))
        .collect();
    forms.push(("html-hex", hexent));
    forms.dedup_by(|a, b| a.1 == b.1);
    forms
}

/// Panic if `text` (what `what` produced) holds `canary` in any form of
/// [`canary_forms`]. Case-insensitive except for the base64 forms (whose
/// case carries the data), so an upper- or lower-cased echo counts too.
pub fn assert_no_canary(what: &str, text: &str, canary: &str) {
    let lower = text.to_ascii_lowercase();
    for (form, needle) in canary_forms(canary) {
        let hit = match form {
            "base64" | "base64url" => text.contains(&needle),
            _ => lower.contains(&needle.to_ascii_lowercase()),
        };
        assert!(!hit, "{what} contains the canary ({form}: {needle})");
    }
}

/// [`assert_no_canary`] over raw bytes (e.g. a DynamoDB binary attribute
/// that is not the blob).
pub fn assert_no_canary_bytes(what: &str, bytes: &[u8], canary: &str) {
    assert!(
        !bytes.windows(canary.len()).any(|w| w == canary.as_bytes()),
        "{what} contains the canary (raw bytes)"
    );
    assert_no_canary(what, &String::from_utf8_lossy(bytes), canary);
}

/// The iam-front's most recent denials (`GET /_front/denials`): each with
/// `principal`, `action`, `resource` and `reason`. Lets a test prove that
/// something was *not* denied (e.g. a warm-up call AWS would log as
/// AccessDenied in CloudTrail).
pub async fn front_denials() -> Vec<serde_json::Value> {
    require_stack();
    let base = std::env::var("AWS_ENDPOINT_URL").expect("AWS_ENDPOINT_URL");
    let text = reqwest::get(format!("{base}/_front/denials"))
        .await
        .expect("GET /_front/denials")
        .text()
        .await
        .expect("denials body");
    let body: serde_json::Value = serde_json::from_str(&text).expect("denials JSON");
    body["denials"].as_array().cloned().expect("denials array")
}
