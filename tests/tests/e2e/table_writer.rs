//! An attacker with write access to the DynamoDB table (and no KMS key)
//! tries to make the broker send a credential somewhere its owner did not
//! bind it, or to move new secrets off the customer's key. Each test is one
//! attack; each ends in a typed error before anything reaches an upstream.
//!
//! Attacks here: rebinding a v2 secret's host, its injection point or its
//! header (through the deployed `inject`), rebinding with the header digest
//! rewritten to match, removing the binding, swapping in another secret's
//! blob, relabelling a v2 blob as v1 (with and without the digest), putting
//! back an old v1 blob (refused under `KEYBROKER_MIN_BLOB_VERSION=2`),
//! laundering a rebinding through rotation, and five malformed workspace
//! settings that used to read as "BYOK off".

use aws_sdk_dynamodb::primitives::Blob as DdbBlob;
use aws_sdk_dynamodb::types::AttributeValue;
use broker_core::blob::{Blob, DIGEST_LEN, VERSION, VERSION_1};
use broker_core::context::{BindingDigest, EncryptionContext};
use broker_core::envelope::{seal_legacy_v1, DataKey, WrappedKey, BINDING_MISMATCH};
use broker_core::{
    Binding, Broker, BrokerConfig, BrokerError, KeyMode, SecretName, SecretValue, WorkspaceId,
};
use keybroker_tests::lambda_env::Upstream;
use keybroker_tests::{
    blob_of, broker_sdk_config, plant_secret_item, put_raw_item, secret_item, setup,
    workspace_item, Env, Item, TABLE,
};
use serde_json::{json, Value};

use crate::inject::{bearer, bound_secret, error_type, inject_event, start};
use crate::{canary, name, ws};

fn with_blob(mut item: Item, blob: Vec<u8>) -> Item {
    item.insert("blob".into(), AttributeValue::B(DdbBlob::new(blob)));
    item
}

/// The stored binding JSON of an item.
fn binding_json(item: &Item) -> Value {
    match &item["binding"] {
        AttributeValue::S(s) => serde_json::from_str(s).unwrap(),
        other => panic!("binding is {other:?}"),
    }
}

fn with_binding(mut item: Item, binding: &Value) -> Item {
    item.insert("binding".into(), AttributeValue::S(binding.to_string()));
    item
}

/// A binding for `host` with a bearer header, as the admin API takes it.
fn binding_for(host: &str) -> Binding {
    serde_json::from_value(json!({
        "hosts": [host], "inject": bearer(), "allow_insecure_http": true
    }))
    .unwrap()
}

async fn put_bound(env: &Env, ws: &WorkspaceId, n: &SecretName, host: &str) -> SecretValue {
    let (_, value) = canary();
    env.broker
        .put_bound_secret(ws, n, &value, &binding_for(host))
        .await
        .unwrap();
    value
}

fn assert_tampered(e: &BrokerError, detail: &str, what: &str) {
    assert!(
        matches!(e, BrokerError::Tampered { detail: d, .. } if *d == detail),
        "{what}: {e:?}"
    );
}

#[tokio::test]
async fn rebinding_a_secret_in_the_table_fails_before_anything_is_sent() {
    let (env, lambda, up) = start().await;
    let evil = Upstream::start().await;
    let (ws_text, canary) = bound_secret(&lambda, &up, bearer()).await;
    let ws = WorkspaceId::new(ws_text.as_str()).unwrap();
    let url = format!("{}/echo", up.base());
    let ok = lambda.invoke("inject", &inject_event(&ws_text, &url)).await;
    assert_eq!(ok["ok"], true, "{ok}");
    let original = secret_item(&env, &ws, &name("api")).await;
    let bound = binding_json(&original);

    let mut to_evil = bound.clone();
    to_evil["hosts"] = json!([evil.addr.to_string()]);
    let mut to_query = bound.clone();
    to_query["inject"] = json!({ "type": "query", "param": "leak" });
    let mut to_header = bound.clone();
    to_header["inject"] = json!({ "type": "header", "name": "X-Debug", "template": "{secret}" });
    for (what, binding, target) in [
        ("host", to_evil, format!("{}/echo", evil.base())),
        ("injection point", to_query, url.clone()),
        ("header", to_header, url.clone()),
    ] {
        plant_secret_item(
            &env,
            with_binding(original.clone(), &binding),
            &ws,
            &name("api"),
        )
        .await;
        let r = lambda
            .invoke("inject", &inject_event(&ws_text, &target))
            .await;
        assert_eq!(error_type(&r), "integrity", "{what}: {r}");
        assert!(
            r["error"]["message"]
                .as_str()
                .unwrap()
                .contains(BINDING_MISMATCH),
            "{what}: {r}"
        );
    }
    assert!(evil.records().is_empty(), "the rebound host got a request");
    assert_eq!(
        up.records().len(),
        1,
        "only the legitimate request was sent"
    );

    // Restoring the item restores service: the key was never the problem.
    plant_secret_item(&env, original, &ws, &name("api")).await;
    let again = lambda.invoke("inject", &inject_event(&ws_text, &url)).await;
    assert_eq!(again["ok"], true, "{again}");
    assert!(!lambda.output().contains(&canary));
    lambda.stop().await;
}

#[tokio::test]
async fn rebinding_with_the_header_digest_rewritten_fails_the_tag() {
    let env = setup().await;
    let ws = ws();
    put_bound(&env, &ws, &name("api"), "api.example.com").await;
    let original = secret_item(&env, &ws, &name("api")).await;

    let evil = binding_for("evil.example.com");
    let mut blob = Blob::decode(&blob_of(&original)).unwrap();
    assert_eq!(blob.version(), VERSION, "new writes are v2");
    blob.binding_digest = Some(BindingDigest::of(Some(&evil)));
    let forged = with_binding(
        with_blob(original.clone(), blob.encode().unwrap()),
        &serde_json::to_value(&evil).unwrap(),
    );
    plant_secret_item(&env, forged, &ws, &name("api")).await;
    let e = env
        .broker
        .read_plaintext(&ws, &name("api"))
        .await
        .unwrap_err();
    assert_tampered(&e, "authentication tag does not verify", "forged digest");

    // Removing the binding is a change of binding too.
    let mut unbound = original.clone();
    unbound.remove("binding");
    plant_secret_item(&env, unbound, &ws, &name("api")).await;
    let e = env
        .broker
        .read_plaintext(&ws, &name("api"))
        .await
        .unwrap_err();
    assert_tampered(&e, BINDING_MISMATCH, "binding removed");
}

#[tokio::test]
async fn another_secrets_blob_swapped_in_fails() {
    let env = setup().await;
    let ws = ws();
    // Same binding, same key: only the name differs.
    put_bound(&env, &ws, &name("a"), "api.example.com").await;
    put_bound(&env, &ws, &name("b"), "api.example.com").await;
    let b = secret_item(&env, &ws, &name("b")).await;
    plant_secret_item(&env, b.clone(), &ws, &name("a")).await;
    let e = env
        .broker
        .read_plaintext(&ws, &name("a"))
        .await
        .unwrap_err();
    assert!(
        matches!(&e, BrokerError::ContextMismatch { secret, .. } if secret == "a"),
        "{e:?}"
    );
}

#[tokio::test]
async fn a_v2_blob_relabelled_as_v1_fails() {
    let env = setup().await;
    let ws = ws();
    put_bound(&env, &ws, &name("api"), "api.example.com").await;
    let original = secret_item(&env, &ws, &name("api")).await;
    let bytes = blob_of(&original);
    let v1_header = Blob {
        binding_digest: None,
        ..Blob::decode(&bytes).unwrap()
    }
    .header()
    .unwrap()
    .len();
    let mut relabelled = bytes.clone();
    relabelled[4] = VERSION_1;
    let mut stripped = relabelled.clone();
    stripped.drain(v1_header..v1_header + DIGEST_LEN);
    for (what, blob) in [("version byte", relabelled), ("digest stripped", stripped)] {
        plant_secret_item(&env, with_blob(original.clone(), blob), &ws, &name("api")).await;
        let e = env
            .broker
            .read_plaintext(&ws, &name("api"))
            .await
            .unwrap_err();
        assert_tampered(&e, "authentication tag does not verify", what);
    }
}

/// A version 1 blob of `n` as an earlier build wrote it: a real data key
/// from the platform key, the old layout, no binding digest.
async fn legacy_v1_blob(
    env: &Env,
    ws: &WorkspaceId,
    n: &SecretName,
    value: &SecretValue,
) -> Vec<u8> {
    let ctx = EncryptionContext {
        workspace: ws,
        secret: n,
    };
    // As the broker's admin session: the platform key policy lets only the
    // broker roles generate data keys, as infra/ deploys it.
    let out = aws_sdk_kms::Client::new(&broker_sdk_config().await)
        .generate_data_key()
        .key_id(&env.platform_key_arn)
        .key_spec(aws_sdk_kms::types::DataKeySpec::Aes256)
        .set_encryption_context(Some(ctx.to_kms()))
        .send()
        .await
        .unwrap();
    let key = DataKey::from_kms_plaintext(out.plaintext.unwrap().into_inner()).unwrap();
    let edk = out.ciphertext_blob.unwrap().into_inner();
    let wrapped = WrappedKey {
        key_mode: KeyMode::Platform,
        key_arn: &env.platform_key_arn,
        encrypted_data_key: &edk,
    };
    seal_legacy_v1(value, &key, &wrapped, &ctx).unwrap()
}

/// A broker of the same deployment with `KEYBROKER_MIN_BLOB_VERSION=2`.
async fn strict_broker(env: &Env) -> Broker {
    Broker::new(
        &broker_sdk_config().await,
        BrokerConfig {
            min_blob_version: VERSION,
            ..BrokerConfig::new(TABLE, env.platform_key_arn.clone())
        },
    )
    .unwrap()
}

#[tokio::test]
async fn an_old_v1_blob_put_back_is_refused_once_the_deployment_requires_v2() {
    let env = setup().await;
    let ws = ws();
    let value = put_bound(&env, &ws, &name("api"), "api.example.com").await;
    let current = secret_item(&env, &ws, &name("api")).await;

    // The attacker kept a v1 blob of this secret and pairs it with a
    // binding of their choosing: v1 binds no binding.
    let old = legacy_v1_blob(&env, &ws, &name("api"), &value).await;
    let evil = serde_json::to_value(binding_for("evil.example.com")).unwrap();
    plant_secret_item(
        &env,
        with_binding(with_blob(current, old), &evil),
        &ws,
        &name("api"),
    )
    .await;
    // Default deployment: v1 still opens (compatibility; docs/BLOB_FORMAT.md).
    let opened = env.broker.read_plaintext(&ws, &name("api")).await.unwrap();
    assert_eq!(opened.value.expose(), value.expose());
    // Required v2: refused before any KMS call.
    let strict = strict_broker(&env).await;
    let e = strict.read_plaintext(&ws, &name("api")).await.unwrap_err();
    assert!(matches!(e, BrokerError::Tampered { .. }), "{e:?}");
    assert_eq!(strict.aws_calls().kms, 0, "refused before kms:Decrypt");
}

#[tokio::test]
async fn rotation_rewrites_v1_as_v2_and_never_seals_a_rebinding() {
    let env = setup().await;
    let ws = ws();
    // A legitimate v1 secret, as an earlier build stored it.
    let value = put_bound(&env, &ws, &name("old"), "api.example.com").await;
    let item = secret_item(&env, &ws, &name("old")).await;
    let v1 = legacy_v1_blob(&env, &ws, &name("old"), &value).await;
    plant_secret_item(&env, with_blob(item, v1), &ws, &name("old")).await;
    let meta = env
        .broker
        .rotate_secret(&ws, &name("old"), None, None)
        .await
        .unwrap();
    assert_eq!(meta.version, 2);
    let rotated = blob_of(&secret_item(&env, &ws, &name("old")).await);
    assert_eq!(rotated[4], VERSION, "rotation writes v2");
    let strict = strict_broker(&env).await;
    let got = strict.read_plaintext(&ws, &name("old")).await.unwrap();
    assert_eq!(got.value.expose(), value.expose());

    // A v2 secret rebound in the table, then rotated with a new value by an
    // unsuspecting admin: the rotation refuses instead of sealing the
    // attacker's binding, and nothing is written.
    put_bound(&env, &ws, &name("api"), "api.example.com").await;
    let original = secret_item(&env, &ws, &name("api")).await;
    let evil = serde_json::to_value(binding_for("evil.example.com")).unwrap();
    plant_secret_item(
        &env,
        with_binding(original.clone(), &evil),
        &ws,
        &name("api"),
    )
    .await;
    let (_, fresh) = canary();
    let e = env
        .broker
        .rotate_secret(&ws, &name("api"), Some(&fresh), None)
        .await
        .unwrap_err();
    assert_tampered(&e, BINDING_MISMATCH, "rotation over a rebinding");
    let after = secret_item(&env, &ws, &name("api")).await;
    assert_eq!(blob_of(&after), blob_of(&original), "nothing was re-sealed");
}

#[tokio::test]
async fn malformed_workspace_settings_fail_closed_never_to_byok_off() {
    let env = setup().await;
    let ws = ws();
    env.onboard_customer(&ws).await;
    let original = workspace_item(&env, &ws).await;
    let (_, value) = canary();

    let edit = |f: &dyn Fn(&mut Item)| {
        let mut item = original.clone();
        f(&mut item);
        item
    };
    let cases = [
        (
            "byok_enabled as a string",
            edit(&|i| {
                i.insert("byok_enabled".into(), AttributeValue::S("true".into()));
            }),
        ),
        (
            "byok_enabled missing",
            edit(&|i| {
                i.remove("byok_enabled");
            }),
        ),
        (
            "BYOK on without a role",
            edit(&|i| {
                i.remove("role_arn");
            }),
        ),
        (
            "key ARN as a number",
            edit(&|i| {
                i.insert("key_arn".into(), AttributeValue::N("1".into()));
            }),
        ),
        (
            "an unknown mode attribute",
            edit(&|i| {
                i.insert("key_mode".into(), AttributeValue::S("platform".into()));
            }),
        ),
    ];
    for (i, (what, item)) in cases.into_iter().enumerate() {
        put_raw_item(&env, item).await;
        let n = name(&format!("new-{i}"));
        let e = env.broker.put_secret(&ws, &n, &value).await.unwrap_err();
        assert!(
            matches!(&e, BrokerError::Storage { detail } if detail.contains("malformed")),
            "{what}: {e:?}"
        );
        assert!(
            env.broker.list_secrets(&ws).await.unwrap().is_empty(),
            "{what}: a secret was stored"
        );
    }

    put_raw_item(&env, original).await;
    let meta = env
        .broker
        .put_secret(&ws, &name("after"), &value)
        .await
        .unwrap();
    assert_eq!(
        meta.key_mode,
        KeyMode::Byok,
        "restored settings: BYOK again"
    );
}
