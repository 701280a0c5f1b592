//! AWS failing under the broker: faults injected at the local stack's front
//! (`POST /_front/faults`, localstack/README.md "Fault injection"), and
//! brokers pointed at closed ports. Every failure must come back as the
//! right typed error within a bounded time: no hang, no panic.
//!
//! The broker configures no retry or timeout of its own, so the SDK
//! defaults apply: the standard retry mode, 3 attempts in all, with
//! exponential backoff; a 3.1 s connect timeout; no operation or read
//! timeout (see `kms_that_never_answers_is_cut_off_by_an_operation_timeout`).

use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_credential_types::Credentials;
use broker_core::{Broker, BrokerConfig, BrokerError, SecretName, WorkspaceId};
use keybroker_tests::{broker_sdk_config, setup, Customer, Env, TABLE};
use serde_json::{json, Value};

use crate::{canary, name, ws};

/// The SDK's default attempts per operation (standard retry mode).
const SDK_ATTEMPTS: u64 = 3;

/// A fault rule installed at the front; removed again on drop.
pub(crate) struct Fault {
    id: u64,
    base: String,
}

fn front() -> String {
    keybroker_tests::require_stack();
    std::env::var("AWS_ENDPOINT_URL").unwrap()
}

impl Fault {
    /// Install `rule`. `None` when the running front predates fault
    /// injection (a stack started before it was added and kept running):
    /// the test is then skipped, loudly, unless `KEYBROKER_FAULTS_REQUIRED`
    /// is set, as `tests/run.sh` does when it starts the stack itself.
    pub(crate) async fn add(rule: Value) -> Option<Self> {
        let base = front();
        let r = reqwest::Client::new()
            .post(format!("{base}/_front/faults"))
            .body(rule.to_string())
            .send()
            .await
            .expect("front reachable");
        let status = r.status();
        let text = r.text().await.unwrap();
        let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        if body.get("added").is_none() && body.get("error").is_none() {
            let why = format!(
                "the iam-front at {base} has no fault injection (HTTP {status}): \
                 restart the local stack (localstack/stop.sh; localstack/start.sh)"
            );
            if std::env::var_os("KEYBROKER_FAULTS_REQUIRED").is_some() {
                panic!("{why}");
            }
            eprintln!("SKIPPED fault test: {why}");
            return None;
        }
        assert!(status.is_success(), "fault {rule} refused: {body}");
        Some(Self {
            id: body["added"][0]["id"].as_u64().expect("rule id"),
            base,
        })
    }

    /// This rule's counters: (requests it matched, requests it faulted).
    pub(crate) async fn counts(&self) -> (u64, u64) {
        let text = reqwest::get(format!("{}/_front/faults", self.base))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let all: Value = serde_json::from_str(&text).unwrap();
        let rule = all["rules"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"].as_u64() == Some(self.id))
            .cloned()
            .expect("rule still listed");
        (
            rule["matched"].as_u64().unwrap(),
            rule["faulted"].as_u64().unwrap(),
        )
    }

    pub(crate) async fn remove(self) {
        reqwest::Client::new()
            .delete(format!("{}/_front/faults?id={}", self.base, self.id))
            .send()
            .await
            .unwrap();
    }
}

async fn platform_secret(env: &Env) -> (WorkspaceId, SecretName) {
    let ws = ws();
    let (_, value) = canary();
    env.broker
        .put_secret(&ws, &name("api"), &value)
        .await
        .unwrap();
    (ws, name("api"))
}

fn kms_fault(key_arn: &str, error: &str, status: u16, count: u64) -> Value {
    json!({ "service": "kms", "operation": "Decrypt", "resource": key_arn,
            "error": error, "status": status, "count": count })
}

#[tokio::test]
async fn kms_throttling_beyond_the_sdk_retries_is_throttled() {
    let env = setup().await;
    let (ws, n) = platform_secret(&env).await;
    let Some(fault) = Fault::add(kms_fault(
        &env.platform_key_arn,
        "ThrottlingException",
        400,
        50,
    ))
    .await
    else {
        return;
    };
    let started = Instant::now();
    let e = env.broker.read_plaintext(&ws, &n).await.unwrap_err();
    let took = started.elapsed();
    assert!(
        matches!(&e, BrokerError::Throttled { service: "kms", code } if code == "ThrottlingException"),
        "{e:?}"
    );
    let (matched, faulted) = fault.counts().await;
    assert_eq!(
        matched, SDK_ATTEMPTS,
        "the SDK retried a throttled Decrypt (took {took:?})"
    );
    assert_eq!(faulted, matched);
    eprintln!("faults: throttled Decrypt, {matched} attempts in {took:?}");
    fault.remove().await;
    env.broker.read_plaintext(&ws, &n).await.unwrap();
}

#[tokio::test]
async fn kms_internal_errors_beyond_the_sdk_retries_are_unavailable() {
    let env = setup().await;
    let (ws, n) = platform_secret(&env).await;
    let Some(fault) = Fault::add(kms_fault(
        &env.platform_key_arn,
        "KMSInternalException",
        500,
        50,
    ))
    .await
    else {
        return;
    };
    let e = env.broker.read_plaintext(&ws, &n).await.unwrap_err();
    assert!(
        matches!(&e, BrokerError::Unavailable { service: "kms", detail } if detail == "KMSInternalException"),
        "{e:?}"
    );
    assert_eq!(fault.counts().await, (SDK_ATTEMPTS, SDK_ATTEMPTS));
    // A failure that is not a revocation leaves the record's status alone.
    let list = env.broker.list_secrets(&ws).await.unwrap();
    assert_eq!(
        serde_json::to_value(list[0].status).unwrap()["state"],
        json!("active"),
        "{list:?}"
    );
    fault.remove().await;
}

#[tokio::test]
async fn brief_throttling_is_absorbed_by_retry_with_backoff() {
    let env = setup().await;
    let (ws, n) = platform_secret(&env).await;
    for blips in [1, 2] {
        let Some(fault) = Fault::add(kms_fault(
            &env.platform_key_arn,
            "ThrottlingException",
            400,
            blips,
        ))
        .await
        else {
            return;
        };
        let started = Instant::now();
        env.broker
            .read_plaintext(&ws, &n)
            .await
            .unwrap_or_else(|e| panic!("{blips} throttles: {e:?}"));
        assert_eq!(
            fault.counts().await,
            (blips + 1, blips),
            "{blips} throttled attempts, then one that passed"
        );
        eprintln!(
            "faults: {blips} throttles absorbed in {:?}",
            started.elapsed()
        );
        fault.remove().await;
    }
}

#[tokio::test]
async fn sts_outage_does_not_stop_reads_while_the_session_is_cached() {
    let env = setup().await;
    let ws = ws();
    let ext = env.broker.prepare_byok(&ws).await.unwrap().external_id;
    let customer = Customer::create(&ws, &ext).await;
    env.broker
        .enable_byok(&ws, &customer.role_arn, &customer.key_arn, None)
        .await
        .unwrap();
    let (_, value) = canary();
    env.broker
        .put_secret(&ws, &name("api"), &value)
        .await
        .unwrap();
    let Some(fault) = Fault::add(json!({ "service": "sts", "operation": "AssumeRole",
        "resource": customer.role_arn, "error": "InternalFailure", "status": 500 }))
    .await
    else {
        return;
    };
    let calls = env.broker.aws_calls();
    for _ in 0..3 {
        env.broker.read_plaintext(&ws, &name("api")).await.unwrap();
    }
    let spent = env.broker.aws_calls() - calls;
    assert_eq!(spent.sts, 0, "{spent:?}");
    assert_eq!(spent.kms, 3, "{spent:?}");
    assert_eq!(fault.counts().await, (0, 0), "no AssumeRole was attempted");

    // The fault is real: a broker without a cached session cannot read.
    let cold = Broker::new(
        &broker_sdk_config().await,
        BrokerConfig::new(TABLE, env.platform_key_arn.clone()),
    )
    .unwrap();
    let e = cold.read_plaintext(&ws, &name("api")).await.unwrap_err();
    assert!(
        matches!(&e, BrokerError::Unavailable { service: "sts", .. }),
        "{e:?}"
    );
    let (matched, _) = fault.counts().await;
    assert_eq!(matched, SDK_ATTEMPTS, "AssumeRole retried");
    fault.remove().await;
}

/// A hand-built SDK config (no environment, no service-specific endpoint
/// overrides) sending every service to `endpoint`.
fn config_for(endpoint: &str) -> SdkConfig {
    SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            keybroker_tests::BROKER_ACCOUNT,
            "test",
            None,
            None,
            "closed-port-test",
        )))
        .endpoint_url(endpoint)
        .build()
}

const CLOSED: &str = "http://127.0.0.1:1";
/// Generous: the point is that it returns, not how fast.
const BOUND: Duration = Duration::from_secs(60);

async fn bounded<T>(what: &str, f: impl std::future::Future<Output = T>) -> T {
    let started = Instant::now();
    let out = tokio::time::timeout(BOUND, f)
        .await
        .unwrap_or_else(|_| panic!("{what} did not return within {BOUND:?}"));
    eprintln!("faults: {what} returned in {:?}", started.elapsed());
    out
}

#[tokio::test]
async fn dynamodb_down_mid_rotation_is_a_clear_error_and_changes_nothing() {
    let env = setup().await;
    let (ws, n) = platform_secret(&env).await;
    let before = env.broker.list_secrets(&ws).await.unwrap();
    let down = Broker::new(
        &config_for(CLOSED),
        BrokerConfig::new(TABLE, env.platform_key_arn.clone()),
    )
    .unwrap();
    let (_, value) = canary();
    for (what, r) in [
        (
            "rotate (new value)",
            bounded("rotate", down.rotate_secret(&ws, &n, Some(&value), Some(1)))
                .await
                .map(|_| ()),
        ),
        (
            "rotate (re-seal)",
            bounded("rotate", down.rotate_secret(&ws, &n, None, None))
                .await
                .map(|_| ()),
        ),
    ] {
        let e = r.unwrap_err();
        assert!(
            matches!(&e, BrokerError::Unavailable { service: "dynamodb", detail } if detail == "could not connect"),
            "{what}: {e:?}"
        );
    }
    assert_eq!(down.aws_calls().kms, 0, "nothing sealed without the record");
    let after = env.broker.list_secrets(&ws).await.unwrap();
    assert_eq!(
        serde_json::to_string(&after).unwrap(),
        serde_json::to_string(&before).unwrap()
    );
}

#[tokio::test]
async fn with_the_whole_stack_gone_every_operation_is_unavailable_in_bounded_time() {
    let down = Broker::new(
        &config_for(CLOSED),
        BrokerConfig::new(
            TABLE,
            "arn:aws:kms:us-east-1:111111111111:key/00000000-0000-0000-0000-000000000000",
        ),
    )
    .unwrap();
    let ws = WorkspaceId::new("stack-gone").unwrap();
    let n = name("api");
    let (_, value) = canary();
    let binding: broker_core::Binding = serde_json::from_value(json!({
        "hosts": ["api.example.com"],
        "inject": { "type": "header", "name": "Authorization", "template": "Bearer {secret}" }
    }))
    .unwrap();
    let role = "arn:aws:iam::222222222222:role/R";
    let key = "arn:aws:kms:us-east-1:222222222222:key/abc";
    let started = Instant::now();
    let results: Vec<(&str, Result<(), BrokerError>)> = vec![
        (
            "prepare_byok",
            bounded("prepare_byok", down.prepare_byok(&ws))
                .await
                .map(drop),
        ),
        (
            "workspace",
            bounded("workspace", down.workspace(&ws)).await.map(drop),
        ),
        (
            "enable_byok",
            bounded("enable_byok", down.enable_byok(&ws, role, key, None))
                .await
                .map(drop),
        ),
        (
            "verify_byok",
            bounded("verify_byok", down.verify_byok(&ws))
                .await
                .map(drop),
        ),
        (
            "disable_byok",
            bounded("disable_byok", down.disable_byok(&ws))
                .await
                .map(drop),
        ),
        (
            "put_secret",
            bounded("put_secret", down.put_secret(&ws, &n, &value))
                .await
                .map(drop),
        ),
        (
            "put_bound_secret",
            bounded(
                "put_bound_secret",
                down.put_bound_secret(&ws, &n, &value, &binding),
            )
            .await
            .map(drop),
        ),
        (
            "rotate_secret",
            bounded("rotate_secret", down.rotate_secret(&ws, &n, None, None))
                .await
                .map(drop),
        ),
        ("load", bounded("load", down.load(&ws, &n)).await.map(drop)),
        (
            "read_plaintext",
            bounded("read_plaintext", down.read_plaintext(&ws, &n))
                .await
                .map(drop),
        ),
        (
            "list_secrets",
            bounded("list_secrets", down.list_secrets(&ws))
                .await
                .map(drop),
        ),
        (
            "delete_secret",
            bounded("delete_secret", down.delete_secret(&ws, &n))
                .await
                .map(drop),
        ),
        (
            "set_policy",
            bounded(
                "set_policy",
                down.set_policy(&ws, "permit(principal, action, resource);"),
            )
            .await
            .map(drop),
        ),
    ];
    for (what, r) in results {
        let e = r.expect_err(what);
        assert!(
            matches!(
                &e,
                BrokerError::Unavailable {
                    service: "dynamodb",
                    ..
                }
            ),
            "{what}: {e:?}"
        );
    }
    // A warm-up against a dead stack is silent and bounded too.
    bounded("warm_up", down.warm_up()).await;
    eprintln!(
        "faults: 13 operations against a dead stack in {:?}",
        started.elapsed()
    );
}

/// A KMS endpoint that accepts the connection but never answers (every
/// attempt held 60 s by the front) is cut off by the broker's attempt and
/// operation timeouts (`KEYBROKER_AWS_TIMEOUTS`, default 3 s / 8 s; this
/// deployment's 0.5 s / 1.5 s) instead of holding the read until the
/// Lambda times out. Found by this test; the SDK sets no such timeout by
/// default.
#[tokio::test]
async fn kms_that_never_answers_is_cut_off_by_an_operation_timeout() {
    let env = setup().await;
    let (ws, n) = platform_secret(&env).await;
    let broker = Broker::new(
        &broker_sdk_config().await,
        BrokerConfig {
            aws_timeouts: broker_core::AwsTimeouts::parse_setting(
                "attempt_ms=500,operation_ms=1500",
            )
            .unwrap(),
            ..BrokerConfig::new(TABLE, env.platform_key_arn.clone())
        },
    )
    .unwrap();
    let Some(fault) = Fault::add(json!({ "service": "kms", "operation": "Decrypt",
        "resource": env.platform_key_arn, "error": "KMSInternalException", "status": 500,
        "count": 10, "delay_ms": 60_000 }))
    .await
    else {
        return;
    };
    let r = tokio::time::timeout(Duration::from_secs(20), broker.read_plaintext(&ws, &n)).await;
    fault.remove().await;
    let e = r
        .expect("the read should give up on a silent KMS well within 20 s")
        .unwrap_err();
    assert!(
        matches!(&e, BrokerError::Unavailable { service: "kms", .. }),
        "{e:?}"
    );
}
