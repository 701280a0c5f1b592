//! Raw DynamoDB items: read, write and pick apart what the broker stored.
//!
//! It exists for the tests that play an attacker (or a bug) with write
//! access to the table: they inspect stored items, tamper with them and plant
//! new ones, bypassing the broker, then check how the broker reacts.

use broker_core::WorkspaceId;

use crate::setup::Env;
use crate::stack::TABLE;

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

/// Sort keys of workspace `ws`'s items starting with `prefix` (e.g. the
/// injection counters, `rate#`), strongly consistent.
pub async fn raw_sort_keys(env: &Env, ws: &WorkspaceId, prefix: &str) -> Vec<String> {
    use aws_sdk_dynamodb::types::AttributeValue;
    let out = env
        .ddb
        .query()
        .table_name(TABLE)
        .key_condition_expression("pk = :pk AND begins_with(sk, :p)")
        .expression_attribute_values(":pk", AttributeValue::S(format!("ws#{ws}")))
        .expression_attribute_values(":p", AttributeValue::S(prefix.to_owned()))
        .consistent_read(true)
        .send()
        .await
        .unwrap();
    out.items()
        .iter()
        .filter_map(|i| match i.get("sk") {
            Some(AttributeValue::S(sk)) => Some(sk.clone()),
            _ => None,
        })
        .collect()
}

/// Delete item `sk` of workspace `ws`: a table writer's raw `DeleteItem`.
pub async fn delete_raw_item(env: &Env, ws: &WorkspaceId, sk: &str) {
    use aws_sdk_dynamodb::types::AttributeValue;
    env.ddb
        .delete_item()
        .table_name(TABLE)
        .key("pk", AttributeValue::S(format!("ws#{ws}")))
        .key("sk", AttributeValue::S(sk.to_owned()))
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
