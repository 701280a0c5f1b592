//! End-to-end suite: the real broker and real AWS SDK clients against the
//! local AWS stack (`bash tests/run.sh` starts it). One binary, one module
//! per area.

// Test code: a panic is how a test reports failure.
#![allow(clippy::unwrap_used)]

mod adversarial_response;
mod bad_input;
mod capture;
mod faults;
mod inject;
mod integrity;
mod key_policy;
mod leaks;
mod lifecycle;
mod revocation;
mod rotation;

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
    let ws = ws();
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
