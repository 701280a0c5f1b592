//! Harness for the end-to-end suite and the demo: real AWS SDK clients
//! pointed at the local AWS stack (`localstack/start.sh`), plus the customer's
//! side of BYOK built from the *shipped* Terraform policy templates.
//!
//! Nothing here mocks AWS. What the harness adds is setup the customer or the
//! operator would do with other tools: a table, a platform key, a customer
//! key and role, key-state changes.

// Test and demo code: a panic is how it reports failure.
#![allow(clippy::unwrap_used)]

pub mod hostile;
pub mod lambda_env;

use std::path::PathBuf;

use aws_config::{BehaviorVersion, SdkConfig};
use aws_credential_types::Credentials;
use broker_core::{Broker, BrokerConfig, WorkspaceId};

/// The broker's account in the local stack (its access key id, as
/// `localstack/env.sh` exports it: LocalStack maps a 12-digit key id to an
/// account).
pub const BROKER_ACCOUNT: &str = "111111111111";

/// The principal customer trust policies name in the local stack.
pub const BROKER_PRINCIPAL: &str = "arn:aws:iam::111111111111:root";

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

/// SDK config acting as the broker (credentials from the environment).
pub async fn broker_sdk_config() -> SdkConfig {
    require_stack();
    aws_config::defaults(BehaviorVersion::latest()).load().await
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
    use aws_sdk_dynamodb::types::AttributeValue;
    env.ddb
        .get_item()
        .table_name(TABLE)
        .key("pk", AttributeValue::S(format!("ws#{ws}")))
        .key("sk", AttributeValue::S(format!("secret#{n}")))
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

/// Create (if needed) the table and a fresh platform key, and a broker.
pub async fn setup() -> Env {
    let sdk = broker_sdk_config().await;
    let ddb = aws_sdk_dynamodb::Client::new(&sdk);
    ensure_table(&ddb).await;
    let kms = aws_sdk_kms::Client::new(&sdk);
    let platform_key_arn = create_key(&kms, None, "keybroker platform key (test)").await;
    let broker = Broker::new(
        &sdk,
        BrokerConfig {
            table: TABLE.into(),
            platform_key_arn: platform_key_arn.clone(),
        },
    )
    .expect("broker config");
    Env {
        broker,
        ddb,
        kms,
        platform_key_arn,
    }
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
/// (`terraform/policies/*.tftpl`) the way `templatefile` does for plain
/// `${name}` placeholders, so the policy under test is the shipped one.
pub fn render_policy(template: &str, vars: &[(&str, &str)]) -> String {
    let path = repo_root().join("terraform/policies").join(template);
    let mut text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    for (k, v) in vars {
        text = text.replace(&format!("${{{k}}}"), v);
    }
    assert!(
        !text.contains("${"),
        "unrendered placeholder in {template}:\n{text}"
    );
    serde_json::from_str::<serde_json::Value>(&text)
        .unwrap_or_else(|e| panic!("{template} renders to invalid JSON: {e}\n{text}"));
    text
}

/// The customer's key policy, with or without the broker statement.
pub fn key_policy(account: &str, role_arn: &str, ws: &WorkspaceId, broker_access: bool) -> String {
    let statement = if broker_access {
        let s = render_policy(
            "broker-key-statement.json.tftpl",
            &[("broker_role_arn", role_arn), ("workspace_id", ws.as_str())],
        );
        format!(",{s}")
    } else {
        String::new()
    };
    let admins = format!("[\"arn:aws:iam::{account}:root\"]");
    let path = repo_root().join("terraform/policies/key-policy.json.tftpl");
    let text = std::fs::read_to_string(path).expect("key policy template");
    let text = text
        .replace("${partition}", "aws")
        .replace("${account_id}", account)
        .replace("${key_admins_json}", &admins)
        .replace("${broker_statement}", &statement);
    serde_json::from_str::<serde_json::Value>(&text).expect("key policy renders to JSON");
    text
}

/// The customer's trust policy: the shipped template naming the broker and
/// requiring `external_id`, or with `None` the same statement without its
/// `sts:ExternalId` condition (a role that trusts the broker account for any
/// external id, which the shipped module never creates).
pub fn trust_policy(external_id: Option<&str>) -> String {
    let principals = format!("[\"{BROKER_PRINCIPAL}\"]");
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
        let policy = key_policy(&account, &role_arn, ws, true);
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

    /// `PutKeyPolicy` with or without the broker statement.
    pub async fn set_broker_access(&self, allowed: bool) {
        self.kms
            .put_key_policy()
            .key_id(&self.key_arn)
            .policy_name("default")
            .policy(key_policy(
                &self.account,
                &self.role_arn,
                &self.workspace,
                allowed,
            ))
            .send()
            .await
            .expect("PutKeyPolicy");
    }
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
