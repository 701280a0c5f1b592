//! Concurrent writers never lose an update, and concurrent cold reads share
//! one AssumeRole.

use broker_core::BrokerError;
use keybroker_tests::setup;

use crate::{canary, name, ws};

#[tokio::test]
async fn concurrent_rotations_one_wins_one_conflicts() {
    let env = setup().await;
    let ws = ws();
    let (_, v1) = canary();
    env.broker.put_secret(&ws, &name("r"), &v1).await.unwrap();

    for round in 1..=3u64 {
        let (a_text, a) = canary();
        let (b_text, b) = canary();
        let n = name("r");
        let (ra, rb) = tokio::join!(
            env.broker.rotate_secret(&ws, &n, Some(&a), Some(round)),
            env.broker.rotate_secret(&ws, &n, Some(&b), Some(round)),
        );
        let (winner, loser) = match (&ra, &rb) {
            (Ok(_), Err(e)) => (a_text, e),
            (Err(e), Ok(_)) => (b_text, e),
            other => panic!("round {round}: expected one winner, got {other:?}"),
        };
        assert!(
            matches!(loser, BrokerError::Conflict { what: "secret", .. }),
            "{loser:?}"
        );
        let got = env.broker.read_plaintext(&ws, &n).await.unwrap();
        assert_eq!(
            got.value.expose(),
            winner.as_bytes(),
            "round {round}: winner's value stands"
        );
        assert_eq!(got.metadata.version, round + 1);
    }
    // A stale expected version is a conflict, not an overwrite.
    let (_, v) = canary();
    let e = env
        .broker
        .rotate_secret(&ws, &name("r"), Some(&v), Some(1))
        .await
        .unwrap_err();
    assert!(matches!(e, BrokerError::Conflict { .. }), "{e:?}");
}

#[tokio::test]
async fn concurrent_cold_reads_share_one_assume_role() {
    let env = setup().await;
    let ws = ws();
    env.onboard_customer(&ws).await;
    let (_, v) = canary();
    env.broker.put_secret(&ws, &name("c"), &v).await.unwrap();

    // A second broker instance (a fresh Lambda sandbox) starts cold.
    let cold = setup().await;
    let before = cold.broker.aws_calls();
    let n = name("c");
    let reads = (0..16).map(|_| cold.broker.read_plaintext(&ws, &n));
    for r in futures::future::join_all(reads).await {
        r.unwrap();
    }
    let calls = cold.broker.aws_calls() - before;
    assert_eq!(
        calls.sts, 1,
        "one AssumeRole for 16 concurrent cold reads: {calls:?}"
    );
    assert_eq!(calls.kms, 16);
}
