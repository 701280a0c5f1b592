//! The local AWS stack as the suite sees it: the broker's account, the
//! shared table, SDK configs for the broker and for any account, keys.
//! [`crate::setup`] builds on it (and on the customer), never the reverse.
//!
//! It exists so no test builds an SDK client or a broker by hand: every one
//! goes through the shipped identity (the iam-front evaluates the shipped
//! policies), and a test run without the stack fails instead of skipping.

use std::path::PathBuf;

use aws_config::{BehaviorVersion, SdkConfig};
use aws_credential_types::Credentials;

use crate::broker_identity::{self, BrokerRole};

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
    let body = front_get("/_front/denials").await;
    body["denials"].as_array().cloned().expect("denials array")
}

/// The iam-front's health check (`GET /_keybroker_front/health`): where it
/// forwards, and `dynamodb_most_in_flight`, the most DynamoDB requests it
/// ever had in flight to moto at once (1: serialized, as it must be).
pub async fn front_health() -> serde_json::Value {
    front_get("/_keybroker_front/health").await
}

async fn front_get(path: &str) -> serde_json::Value {
    require_stack();
    let base = std::env::var("AWS_ENDPOINT_URL").expect("AWS_ENDPOINT_URL");
    let text = reqwest::get(format!("{base}{path}"))
        .await
        .unwrap_or_else(|e| panic!("GET {path}: {e}"))
        .text()
        .await
        .unwrap_or_else(|e| panic!("GET {path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("GET {path}: not JSON ({e}): {text}"))
}
