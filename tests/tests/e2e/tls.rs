//! The transport the suite runs on: every hop over TLS by default (issue
//! 17). The functions trust the local stack's CA only because the harness
//! configures it the way an operator configures a private CA
//! (`SSL_CERT_FILE`, docs/OPERATIONS.md); with the public roots alone, as on
//! Lambda, the same binary refuses the stack's certificates.

use keybroker_tests::lambda_env::{LambdaEnv, RunOptions, Upstream};
use keybroker_tests::{setup, tls};
use serde_json::json;

use crate::{name, ws};

/// The system bundle a broker without any CA setting trusts (what
/// rustls-native-certs finds through openssl-probe when `SSL_CERT_FILE` is
/// unset): Debian's, or Amazon Linux's (Lambda's provided.al2023).
fn public_roots() -> String {
    [
        "/etc/ssl/certs/ca-certificates.crt",
        "/etc/pki/tls/certs/ca-bundle.crt",
    ]
    .into_iter()
    .find(|p| std::path::Path::new(p).exists())
    .expect("a system CA bundle")
    .to_owned()
}

/// A BYOK workspace with secret `api` bound to `up`, set up through the
/// library (so a function that cannot reach AWS is not needed for it).
async fn bound_secret(env: &keybroker_tests::Env, up: &Upstream) -> String {
    let ws = ws();
    env.onboard_customer(&ws).await;
    let binding: broker_core::Binding = serde_json::from_value(json!({
        "hosts": [up.addr.to_string()],
        "inject": { "type": "header", "name": "Authorization", "template": "Bearer {secret}" }
    }))
    .unwrap();
    let value = broker_core::SecretValue::from_string(keybroker_tests::unique("sk-tls")).unwrap();
    env.broker
        .put_bound_secret(&ws, &name("api"), &value, &binding)
        .await
        .unwrap();
    env.broker
        .set_policy(&ws, r#"permit(principal, action, resource);"#)
        .await
        .unwrap();
    ws.to_string()
}

fn event(ws: &str, up: &Upstream) -> serde_json::Value {
    json!({ "workspace": ws, "secret": "api", "agent": "agent-tls",
            "request": { "method": "GET", "url": format!("{}/data", up.base()) } })
}

#[tokio::test]
async fn every_hop_is_tls_and_trust_in_the_local_ca_is_the_operator_setting() {
    if !tls::enabled() {
        eprintln!("stack runs plain HTTP (KEYBROKER_STACK_TLS=0): nothing to check here");
        return;
    }
    for var in ["AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB"] {
        let url = std::env::var(var).unwrap();
        assert!(url.starts_with("https://"), "{var}={url}");
    }
    let env = setup().await;
    let up = Upstream::start().await;
    assert!(up.base().starts_with("https://"), "{}", up.base());
    let ws = bound_secret(&env, &up).await;

    // Configured with the stack's CA (SSL_CERT_FILE: public roots + CA),
    // and without the plain-http deployment setting: the injection works.
    let lambda = LambdaEnv::start(&env).await;
    let r = lambda.invoke("inject", &event(&ws, &up)).await;
    assert_eq!(r["ok"], true, "{r}");
    assert_eq!(up.records().len(), 1);
    lambda.stop().await;

    // The same binary with the public roots only (what it has on Lambda):
    // the local CA is unknown, so neither AWS nor the upstream is reached
    // and nothing is sent.
    let opts = RunOptions {
        env: vec![("SSL_CERT_FILE".to_owned(), public_roots())],
        ..RunOptions::default()
    };
    let lambda = LambdaEnv::start_with(&env, &opts).await;
    let r = lambda.invoke("inject", &event(&ws, &up)).await;
    assert_eq!(r["ok"], false, "an unknown CA must be refused: {r}");
    assert_eq!(up.records().len(), 1, "the upstream got a request");
    let audit = lambda.audit_records();
    assert_eq!(audit.len(), 1, "{audit:?}");
    assert_eq!(audit[0]["aws_calls"]["kms"], 0, "{audit:?}");
    lambda.stop().await;
}
