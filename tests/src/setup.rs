//! [`setup`]: what every test starts from. Each gets its own platform key
//! (with infra's key policy naming both execution roles) and a broker acting
//! as a session of the admin role; [`Env`] onboards customers. Above
//! `stack`, `customer` and `policy`, which it puts together.
//!
//! It exists so no test builds an SDK client or a broker by hand: every one
//! goes through the shipped identity (the iam-front evaluates the shipped
//! policies), and a test run without the stack fails instead of skipping.

use broker_core::{Broker, BrokerConfig, WorkspaceId};

use crate::customer::Customer;
use crate::policy::platform_key_policy;
use crate::stack::{
    account_sdk_config, broker_sdk_config, create_key, ensure_table, BROKER_ACCOUNT, TABLE,
};

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
