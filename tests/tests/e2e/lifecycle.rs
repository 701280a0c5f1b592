//! Round trips in both key modes, mode switching, and the CRUD contract.

use broker_core::{BrokerError, KeyMode, SecretStatus, SecretValue};
use keybroker_tests::{setup, Customer};

use crate::{canary, name, ws};

#[tokio::test]
async fn platform_mode_round_trip() {
    let env = setup().await;
    let ws = ws();
    let (text, value) = canary();
    let meta = env
        .broker
        .put_secret(&ws, &name("openai"), &value)
        .await
        .unwrap();
    assert_eq!(meta.key_mode, KeyMode::Platform);
    assert_eq!(meta.key_arn, env.platform_key_arn);
    assert_eq!(meta.version, 1);

    let got = env
        .broker
        .read_plaintext(&ws, &name("openai"))
        .await
        .unwrap();
    assert_eq!(got.value.expose(), text.as_bytes());
    assert_eq!(got.metadata.key_arn, env.platform_key_arn);
}

#[tokio::test]
async fn byok_round_trip_and_one_assume_role_per_session() {
    let env = setup().await;
    let ws = ws();
    let settings = env.broker.prepare_byok(&ws).await.unwrap();
    assert!(settings.external_id.len() >= 32);
    // The external id is stable: preparing again returns the same one.
    assert_eq!(
        env.broker.prepare_byok(&ws).await.unwrap().external_id,
        settings.external_id
    );

    let customer = Customer::create(&ws, &settings.external_id).await;
    let enabled = env
        .broker
        .enable_byok(&ws, &customer.role_arn, &customer.key_arn, None)
        .await
        .unwrap();
    assert!(enabled.byok_enabled());
    assert_eq!(enabled.region().map(|r| r.as_str()), Some("us-east-1"));

    let (text, value) = canary();
    let meta = env
        .broker
        .put_secret(&ws, &name("github"), &value)
        .await
        .unwrap();
    assert_eq!(meta.key_mode, KeyMode::Byok);
    assert_eq!(meta.key_arn, customer.key_arn);

    let before = env.broker.aws_calls();
    for _ in 0..3 {
        let got = env
            .broker
            .read_plaintext(&ws, &name("github"))
            .await
            .unwrap();
        assert_eq!(got.value.expose(), text.as_bytes());
    }
    let calls = env.broker.aws_calls() - before;
    // Warm reads: one DynamoDB read and one KMS Decrypt each, no STS call
    // (the session from put_secret is reused).
    assert_eq!(
        (calls.dynamodb, calls.kms, calls.sts),
        (3, 3, 0),
        "{calls:?}"
    );

    let report = env.broker.verify_byok(&ws).await.unwrap();
    assert!(report.is_ok(), "{report:?}");
    assert_eq!(report.external_id, settings.external_id);
}

#[tokio::test]
async fn existing_secrets_keep_their_mode_until_rotated() {
    let env = setup().await;
    let ws = ws();
    let (old_text, old_value) = canary();
    env.broker
        .put_secret(&ws, &name("old"), &old_value)
        .await
        .unwrap();

    let customer = env.onboard_customer(&ws).await;

    let (_, new_value) = canary();
    env.broker
        .put_secret(&ws, &name("new"), &new_value)
        .await
        .unwrap();
    let modes = |list: Vec<broker_core::SecretMetadata>| {
        let mut v: Vec<(String, KeyMode)> = list
            .into_iter()
            .map(|m| (m.name.to_string(), m.key_mode))
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    };
    assert_eq!(
        modes(env.broker.list_secrets(&ws).await.unwrap()),
        vec![
            ("new".into(), KeyMode::Byok),
            ("old".into(), KeyMode::Platform)
        ]
    );
    // The platform secret still reads while BYOK is on.
    let got = env.broker.read_plaintext(&ws, &name("old")).await.unwrap();
    assert_eq!(got.value.expose(), old_text.as_bytes());

    // Rotation without a new value re-encrypts the same value under the
    // customer's key.
    let rotated = env
        .broker
        .rotate_secret(&ws, &name("old"), None, None)
        .await
        .unwrap();
    assert_eq!((rotated.key_mode, rotated.version), (KeyMode::Byok, 2));
    assert_eq!(rotated.key_arn, customer.key_arn);
    let got = env.broker.read_plaintext(&ws, &name("old")).await.unwrap();
    assert_eq!(got.value.expose(), old_text.as_bytes());

    // Disabling BYOK sends new writes back to the platform key while BYOK
    // secrets stay readable.
    env.broker.disable_byok(&ws).await.unwrap();
    let (_, v3) = canary();
    let m = env
        .broker
        .put_secret(&ws, &name("third"), &v3)
        .await
        .unwrap();
    assert_eq!(m.key_mode, KeyMode::Platform);
    assert!(env.broker.read_plaintext(&ws, &name("new")).await.is_ok());
}

#[tokio::test]
async fn crud_contract() {
    let env = setup().await;
    let ws = ws();
    let (_, value) = canary();
    env.broker
        .put_secret(&ws, &name("a"), &value)
        .await
        .unwrap();
    // Creating twice is a conflict, not an overwrite.
    let e = env
        .broker
        .put_secret(&ws, &name("a"), &value)
        .await
        .unwrap_err();
    assert!(
        matches!(e, BrokerError::Conflict { what: "secret", .. }),
        "{e:?}"
    );

    let list = env.broker.list_secrets(&ws).await.unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].status, SecretStatus::Active);

    env.broker.delete_secret(&ws, &name("a")).await.unwrap();
    assert!(env.broker.list_secrets(&ws).await.unwrap().is_empty());
    for e in [
        env.broker
            .read_plaintext(&ws, &name("a"))
            .await
            .unwrap_err(),
        env.broker.delete_secret(&ws, &name("a")).await.unwrap_err(),
        env.broker
            .rotate_secret(&ws, &name("a"), Some(&value), None)
            .await
            .unwrap_err(),
    ] {
        assert!(
            matches!(e, BrokerError::NotFound { what: "secret", .. }),
            "{e:?}"
        );
    }
    // BYOK cannot be enabled or verified on a workspace never prepared.
    let other = crate::ws();
    let e = env
        .broker
        .enable_byok(
            &other,
            "arn:aws:iam::222222222222:role/x",
            "arn:aws:kms:us-east-1:222222222222:key/k",
            None,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            BrokerError::NotFound {
                what: "workspace",
                ..
            }
        ),
        "{e:?}"
    );
}

#[tokio::test]
async fn enable_byok_rejects_bad_input_before_any_aws_call() {
    let env = setup().await;
    let ws = ws();
    env.broker.prepare_byok(&ws).await.unwrap();
    let before = env.broker.aws_calls();
    let cases = [
        (
            "arn:aws:iam::222222222222:user/bob",
            "arn:aws:kms:us-east-1:222222222222:key/k",
            None,
            "role_arn",
        ),
        (
            "arn:aws:iam::222222222222:role/r",
            "arn:aws:kms:us-east-1:222222222222:alias/a",
            None,
            "key_arn",
        ),
        (
            "arn:aws:iam::222222222222:role/r",
            "arn:aws:kms:us-east-1:222222222222:key/k",
            Some("mars"),
            "region",
        ),
    ];
    for (role, key, region, field) in cases {
        let e = env
            .broker
            .enable_byok(&ws, role, key, region)
            .await
            .unwrap_err();
        assert!(
            matches!(e, BrokerError::InvalidInput { field: f, .. } if f == field),
            "{e:?}"
        );
    }
    assert_eq!(env.broker.aws_calls() - before, Default::default());
    // Oversized values never reach AWS either.
    assert!(SecretValue::new(vec![b'x'; broker_core::MAX_SECRET_LEN + 1]).is_err());
}
