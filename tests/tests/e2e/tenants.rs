//! The tenant boundary of the deployed `inject`: by default any caller may
//! name any workspace; a function deployed with
//! `KEYBROKER_ALLOWED_WORKSPACES` serves only those, before any AWS call.

use keybroker_tests::lambda_env::{LambdaEnv, RunOptions, Upstream};
use keybroker_tests::setup;

use crate::inject::{bearer, bound_secret, bound_secret_in, error_type, inject_event};
use crate::ws;

#[tokio::test]
async fn a_pinned_inject_function_serves_only_its_workspaces() {
    let env = setup().await;
    let up = Upstream::start().await;
    let mine = ws().to_string();
    let opts = RunOptions {
        env: vec![(
            "KEYBROKER_ALLOWED_WORKSPACES".into(),
            format!("other-ws,{mine}"),
        )],
        ..RunOptions::default()
    };
    let lambda = LambdaEnv::start_with(&env, &opts).await;
    let (mine, _) = bound_secret_in(&lambda, &up, bearer(), mine).await;
    // Another tenant's workspace, with a secret and a policy permitting the
    // same agent: the caller of this function may still not name it.
    let (theirs, _) = bound_secret(&lambda, &up, bearer()).await;

    let url = format!("{}/data", up.base());
    let r = lambda.invoke("inject", &inject_event(&theirs, &url)).await;
    assert_eq!(error_type(&r), "denied", "{r}");
    assert!(up.records().is_empty(), "another tenant's secret was used");
    let audit = lambda.audit_records();
    assert_eq!(
        audit.last().unwrap()["aws_calls"],
        serde_json::json!({"kms": 0, "sts": 0, "dynamodb": 0}),
        "refused before any AWS call"
    );

    let r = lambda.invoke("inject", &inject_event(&mine, &url)).await;
    assert_eq!(r["ok"], true, "{r}");
    assert_eq!(up.records().len(), 1);
    lambda.stop().await;
}
