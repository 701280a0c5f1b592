//! Canary secrets never appear anywhere but inside the ciphertext: not in
//! errors (Display or Debug), not in logs, not in `list` output, not in any
//! DynamoDB attribute, not even in the blob in clear.

use aws_sdk_dynamodb::types::AttributeValue;
use broker_core::{BrokerError, Decrypted};
use keybroker_tests::{setup, TABLE};

use crate::{canary, capture, name, ws};

/// The canary and its common encodings.
fn forms(canary: &str) -> Vec<String> {
    let hex: String = canary.bytes().map(|b| format!("{b:02x}")).collect();
    vec![canary.to_owned(), hex, canary.to_ascii_lowercase()]
}

fn assert_clean(what: &str, text: &str, canary: &str) {
    for f in forms(canary) {
        assert!(!text.contains(&f), "canary leaked into {what}: {text}");
    }
}

#[tokio::test]
async fn canary_appears_nowhere_but_the_ciphertext() {
    capture::install();
    let env = setup().await;
    let ws = ws();
    let customer = env.onboard_customer(&ws).await;
    let (text, value) = canary();
    assert_clean("SecretValue Debug", &format!("{value:?}"), &text);

    let meta = env
        .broker
        .put_secret(&ws, &name("k"), &value)
        .await
        .unwrap();
    assert_clean("metadata Debug", &format!("{meta:?}"), &text);
    let got: Decrypted = env.broker.read_plaintext(&ws, &name("k")).await.unwrap();
    assert_eq!(got.value.expose(), text.as_bytes());
    assert_clean("Decrypted Debug", &format!("{got:?} {got:#?}"), &text);
    assert_clean("Broker Debug", &format!("{:?}", env.broker), &text);

    // Every error path the suite can provoke, Display and Debug.
    let mut errors: Vec<BrokerError> = Vec::new();
    errors.push(
        env.broker
            .put_secret(&ws, &name("k"), &value)
            .await
            .unwrap_err(),
    );
    customer.disable_key().await;
    errors.push(
        env.broker
            .read_plaintext(&ws, &name("k"))
            .await
            .unwrap_err(),
    );
    errors.push(
        env.broker
            .rotate_secret(&ws, &name("k"), Some(&value), None)
            .await
            .unwrap_err(),
    );
    customer.enable_key().await;
    errors.push(
        env.broker
            .rotate_secret(&ws, &name("k"), Some(&value), Some(99))
            .await
            .unwrap_err(),
    );
    for e in &errors {
        assert_clean("error", &format!("{e} {e:?}"), &text);
    }
    assert_eq!(errors.len(), 4);

    let list = env.broker.list_secrets(&ws).await.unwrap();
    assert_clean("list", &serde_json::to_string(&list).unwrap(), &text);
    let report = env.broker.verify_byok(&ws).await.unwrap();
    assert_clean("verify report", &format!("{report:?}"), &text);

    // DynamoDB: scan every item of the workspace, every attribute.
    let items = env
        .ddb
        .query()
        .table_name(TABLE)
        .key_condition_expression("pk = :pk")
        .expression_attribute_values(":pk", AttributeValue::S(format!("ws#{ws}")))
        .send()
        .await
        .unwrap()
        .items
        .unwrap_or_default();
    assert_eq!(items.len(), 2, "workspace + secret");
    for item in &items {
        for (k, v) in item {
            match v {
                AttributeValue::B(b) => {
                    let bytes = b.as_ref();
                    assert!(
                        !bytes.windows(text.len()).any(|w| w == text.as_bytes()),
                        "plaintext inside binary attribute {k}"
                    );
                }
                other => assert_clean(&format!("attribute {k}"), &format!("{other:?}"), &text),
            }
        }
    }

    let logs = capture::logs();
    assert!(logs.contains("secret stored"), "logs were captured");
    assert_clean("logs", &logs, &text);
}

/// No `RUST_LOG` value lifts the log ceiling: with the runtime, the SDK and
/// hyper asked for `trace`, an admin `put_secret` (whose event holds the
/// value) and an injection (whose KMS `Decrypt` answer holds the data key)
/// write no form of the canary to any log line of either function.
#[tokio::test]
async fn no_rust_log_value_logs_the_secret() {
    use keybroker_tests::assert_no_canary;
    use keybroker_tests::lambda_env::{LambdaEnv, RunOptions, Upstream};

    use crate::inject::{bearer, bound_secret, inject_event};

    let env = setup().await;
    let up = Upstream::start().await;
    for rust_log in [
        "trace",
        "debug",
        // `broker_core=info` only shows that the logger is alive.
        "lambda_runtime=trace,aws_smithy_runtime=trace,hyper=trace,broker_core=info",
        "lambda_runtime::layers::api_response=trace,aws_smithy_runtime_api=trace,h2=trace,rustls=trace,reqwest=trace,broker_core=info",
    ] {
        let opts = RunOptions {
            rust_log,
            ..RunOptions::default()
        };
        let lambda = LambdaEnv::start_with(&env, &opts).await;
        let (ws, canary) = bound_secret(&lambda, &up, bearer()).await;
        let r = lambda
            .invoke("inject", &inject_event(&ws, &format!("{}/data", up.base())))
            .await;
        assert_eq!(r["ok"], true, "{rust_log}: {r}");
        let output = lambda.output();
        assert!(
            output.contains("secret stored"),
            "{rust_log}: the functions logged nothing"
        );
        assert_no_canary(&format!("logs under RUST_LOG={rust_log}"), &output, &canary);
        lambda.stop().await;
    }
}
