//! Workspace ids of every valid length work with BYOK. STS limits
//! `RoleSessionName` to 64 characters of `[\w+=,.@-]`; the broker once sent
//! `keybroker-{ws}`, 73 characters for a 63-character id, which AWS refuses
//! with a ValidationError (the local stack's front validates requests
//! against the AWS service models, so it refuses it too).

use broker_core::WorkspaceId;
use keybroker_tests::{setup, unique};

use crate::{byok_secret_in, name};

/// A valid 63-character workspace id (the longest the broker accepts),
/// unique per run, starting with `prefix`.
fn long_ws(prefix: &str) -> WorkspaceId {
    let tail = unique("w");
    let pad = 63 - prefix.len() - tail.len();
    let ws = WorkspaceId::new(format!("{prefix}{}{tail}", "a".repeat(pad))).unwrap();
    assert_eq!(ws.as_str().len(), 63);
    ws
}

#[tokio::test]
async fn byok_works_for_a_63_character_workspace_id() {
    let env = setup().await;
    // Two ids that share their first 51 characters (more than a shortened
    // session name keeps; the unit tests prove their names differ).
    for ws in [long_ws("long-"), long_ws("long-")] {
        let (ws, _customer, text) = byok_secret_in(&env, ws).await;
        let got = env.broker.read_plaintext(&ws, &name("api")).await.unwrap();
        assert_eq!(got.value.expose(), text.as_bytes(), "{ws}");
    }
}
