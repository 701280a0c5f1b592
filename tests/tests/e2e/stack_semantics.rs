//! What the other proofs assume of the local stack, checked against it, so
//! that a stack laxer than AWS fails here, every run, rather than a breaker
//! test now and then.
//!
//! The probe breaker's bound (`breaker.rs`, `oracle.rs`) and the in-flight
//! slots (`fairness.rs`) rest on DynamoDB's conditional writes being atomic
//! per item: of many concurrent `ADD n` guarded by `n < limit`, exactly
//! `limit` succeed. moto's server runs each request on its own thread with
//! no lock between a condition and its update, so under a burst two writers
//! could both see `n = 2` and both write. The iam-front serializes
//! DynamoDB requests to make the stack as strict as DynamoDB
//! (localstack/README.md, "Where the stack still differs from AWS").

use aws_sdk_dynamodb::types::AttributeValue;
use keybroker_tests::stack::{
    account_sdk_config, ensure_table, front_health, unique, BROKER_ACCOUNT, TABLE,
};

/// Items raced, each by [`WRITERS`] concurrent writers.
const ROUNDS: usize = 8;
const WRITERS: usize = 48;
/// The guarded count each item may reach.
const LIMIT: u64 = 3;

/// moto's race needs a thread switch inside one request, so the count
/// alone catches it only now and then (under load); the front's own
/// measure of concurrency to moto catches a queue that stopped serializing
/// on every run.
#[tokio::test]
async fn concurrent_conditional_updates_of_one_item_are_atomic() {
    let ddb = aws_sdk_dynamodb::Client::new(&account_sdk_config(BROKER_ACCOUNT).await);
    ensure_table(&ddb).await;
    let key = |pk: &str| {
        [
            ("pk".to_owned(), AttributeValue::S(pk.to_owned())),
            ("sk".to_owned(), AttributeValue::S("race".to_owned())),
        ]
        .into()
    };
    for round in 0..ROUNDS {
        let pk = unique("ws#race");
        let writes = (0..WRITERS).map(|_| {
            ddb.update_item()
                .table_name(TABLE)
                .set_key(Some(key(&pk)))
                .update_expression("ADD n :one")
                .condition_expression("attribute_not_exists(n) OR n < :limit")
                .expression_attribute_values(":one", AttributeValue::N("1".into()))
                .expression_attribute_values(":limit", AttributeValue::N(LIMIT.to_string()))
                .send()
        });
        let results = futures::future::join_all(writes).await;
        let mut won = 0u64;
        for r in results {
            match r {
                Ok(_) => won += 1,
                Err(e) => assert!(
                    e.as_service_error()
                        .is_some_and(|s| s.is_conditional_check_failed_exception()),
                    "round {round}: a write failed otherwise: {e:?}"
                ),
            }
        }
        let stored = ddb
            .get_item()
            .table_name(TABLE)
            .set_key(Some(key(&pk)))
            .consistent_read(true)
            .send()
            .await
            .expect("GetItem");
        let n = match stored.item().and_then(|i| i.get("n")) {
            Some(AttributeValue::N(n)) => n.parse::<u64>().expect("a number"),
            other => panic!("round {round}: no count stored: {other:?}"),
        };
        assert_eq!(
            (won, n),
            (LIMIT, LIMIT),
            "round {round}: {won} of {WRITERS} guarded writes succeeded and {n} stored; \
             DynamoDB allows exactly {LIMIT}"
        );
    }
    let health = front_health().await;
    assert_eq!(
        health["dynamodb_most_in_flight"], 1,
        "the iam-front relayed DynamoDB requests to moto concurrently: {health}"
    );
}
