//! The local AWS stack as the suite sees it: the broker's account, the
//! shared table, SDK configs for the broker and for any account, and
//! [`setup`], which gives every test its own platform key and a broker
//! acting as the admin execution role.
//!
//! It exists so no test builds an SDK client or a broker by hand: every one
//! goes through the shipped identity (the iam-front evaluates the shipped
//! policies), and a test run without the stack fails instead of skipping.

use std::path::PathBuf;

use aws_config::{BehaviorVersion, SdkConfig};
use aws_credential_types::Credentials;
use broker_core::{Broker, BrokerConfig, WorkspaceId};

use crate::broker_identity::{self, BrokerRole};
use crate::customer::Customer;
use crate::policy::platform_key_policy;

/// The broker's account in the local stack (its access key id, as
/// `localstack/env.sh` exports it: LocalStack maps a 12-digit key id to an
/// account).
pub const BROKER_ACCOUNT: &str = "111111111111";

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
        self.enable(ws, Customer::create(ws, &ext).await).await
    }

    /// Like [`Env::onboard_customer`], with a multi-Region key.
    pub async fn onboard_multi_region_customer(&self, ws: &WorkspaceId) -> Customer {
        let ext = self.broker.prepare_byok(ws).await.unwrap().external_id;
        self.enable(ws, Customer::create_multi_region(ws, &ext).await)
            .await
    }

    async fn enable(&self, ws: &WorkspaceId, customer: Customer) -> Customer {
        self.broker
            .enable_byok(ws, &customer.role_arn, &customer.key_arn, None)
            .await
            .unwrap();
        customer
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

/// Create the shared table unless it exists.
pub async fn ensure_table(ddb: &aws_sdk_dynamodb::Client) {
    match broker_core::create_table(ddb, TABLE).await {
        Ok(()) => {}
        Err(broker_core::BrokerError::Storage { detail }) if detail.contains("ResourceInUse") => {}
        Err(e) => panic!("create table: {e}"),
    }
}

/// Create a KMS key with `policy` (the default key policy if `None`), as
/// whoever `kms` acts for; returns its ARN.
pub(crate) async fn create_key(
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
