//! End-to-end suite: the real broker and real AWS SDK clients against the
//! local AWS stack (`bash tests/run.sh` starts it). One binary, one module
//! per area.

// Test code: a panic is how a test reports failure.
#![allow(clippy::unwrap_used)]

mod adversarial_request;
mod adversarial_request_params;
mod adversarial_response;
mod agent_client;
mod audit;
mod bad_input;
mod breaker;
mod bypass;
mod capture;
mod catalog;
mod check_workspace;
mod cli;
mod edge_errors;
mod fairness;
mod faults;
mod inject;
mod integrity;
mod key_policy;
mod key_switch;
mod leaks;
mod least_privilege;
mod lifecycle;
mod limits;
mod mcp;
mod mcp_http;
mod oauth2;
mod oracle;
mod platform_account;
mod readiness;
mod reconcile;
mod revocation;
mod rewrap;
mod rotation;
mod session_name;
mod source_identity;
mod stack_semantics;
mod table_writer;
mod tenants;
mod tls;

use broker_core::{SecretName, SecretValue, WorkspaceId};

/// A fresh workspace id.
pub fn ws() -> WorkspaceId {
    WorkspaceId::new(keybroker_tests::unique("ws")).unwrap()
}

/// A secret name.
pub fn name(s: &str) -> SecretName {
    SecretName::new(s).unwrap()
}

/// A BYOK workspace holding one secret, `api`, whose value is returned.
pub async fn byok_secret(
    env: &keybroker_tests::Env,
) -> (WorkspaceId, keybroker_tests::Customer, String) {
    byok_secret_in(env, ws()).await
}

/// Like [`byok_secret`], in workspace `ws`.
pub async fn byok_secret_in(
    env: &keybroker_tests::Env,
    ws: WorkspaceId,
) -> (WorkspaceId, keybroker_tests::Customer, String) {
    let customer = env.onboard_customer(&ws).await;
    let (text, value) = canary();
    env.broker
        .put_secret(&ws, &name("api"), &value)
        .await
        .unwrap();
    (ws, customer, text)
}

/// A canary credential: unique, recognisable, searched for in every output.
pub fn canary() -> (String, SecretValue) {
    let text = format!("sk-live-{}", keybroker_tests::unique("CANARY"));
    let value = SecretValue::from_string(text.clone()).unwrap();
    (text, value)
}
