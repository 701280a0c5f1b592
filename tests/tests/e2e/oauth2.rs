//! The `oauth2` kind end to end: the real `inject` and `admin` binaries
//! (lambda-runner, one process per sandbox) against the stack's real
//! authorization server (`oidc-provider`: refresh-token rotation with reuse
//! detection; each test account's access tokens live 120 s, set through
//! the provider's `/_test/ttl`, and a test ends a cached token's life by
//! its recorded expiry instead of waiting). The provider's own records (its
//! token-endpoint calls and grants, per test account) are the witness.

use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;

use keybroker_tests::lambda_env::{LambdaEnv, RunOptions, Upstream};
use keybroker_tests::oauth::{Grant, OAuthServer};
use keybroker_tests::policy::BrokerAccess;
use keybroker_tests::{assert_no_canary, setup, unique, Env};
use serde_json::{json, Value};

use crate::inject::{bearer, error_type, inject_event, AGENT};

/// Sandboxes per function in the concurrency test.
const SANDBOXES: usize = 10;
/// Concurrent injections in the concurrency test.
const CONCURRENT: usize = 200;

fn permit_all() -> String {
    format!(r#"permit(principal == Agent::"{AGENT}", action == Action::"inject", resource);"#)
}

fn opts(instances: usize, extra: &[(&str, &str)]) -> RunOptions {
    RunOptions {
        instances,
        rust_log: "info",
        env: extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        ..RunOptions::default()
    }
}

/// Connect `account` at the provider and store its grant as secret `api`
/// of a new workspace (or `ws`), bound to `up`.
async fn connect(
    lambda: &LambdaEnv,
    oauth: &OAuthServer,
    up: &Upstream,
    account: &str,
    ws: Option<String>,
) -> (String, Grant) {
    let ws = ws.unwrap_or_else(|| crate::ws().to_string());
    // This account's access tokens live 120 s, whatever the stack's
    // default: none expires by itself during a test (`let_token_expire`
    // says when one has).
    oauth.set_access_token_ttl(account, 120).await;
    let grant = oauth.connect_account(account).await;
    let value =
        json!({ "refresh_token": grant.refresh_token, "client_secret": oauth.client_secret });
    lambda
        .admin(json!({
            "op": "put_secret", "workspace": ws, "secret": "api", "value": value.to_string(),
            "binding": { "hosts": [up.addr.to_string()], "inject": bearer(),
                         "oauth2": { "token_endpoint": oauth.token_endpoint(), "client_id": oauth.client_id } }
        }))
        .await;
    lambda
        .admin(json!({ "op": "set_policy", "workspace": ws, "policy": permit_all() }))
        .await;
    (ws, grant)
}

async fn inject(lambda: &LambdaEnv, ws: &str, up: &Upstream) -> Value {
    lambda
        .invoke("inject", &inject_event(ws, &format!("{}/ok", up.base())))
        .await
}

/// The bearer token of the upstream's last request.
fn last_bearer(up: &Upstream) -> String {
    let recs = up.records();
    let auth = recs
        .last()
        .unwrap()
        .header("authorization")
        .unwrap()
        .to_owned();
    auth.strip_prefix("Bearer ").unwrap().to_owned()
}

/// Put the cached access token of `ws`'s secret `api` past its refresh
/// point without waiting for it: its recorded expiry (the state item's
/// `oauth_expires_at`, what the broker decides by) becomes 4 ms after its
/// issue, so the next injection refreshes as after a real expiry (the
/// provider's own copy of the token is not consulted).
async fn let_token_expire(env: &Env, ws: &str) {
    env.ddb
        .update_item()
        .table_name(keybroker_tests::TABLE)
        .key("pk", AttributeValue::S(format!("ws#{ws}")))
        .key("sk", AttributeValue::S("oauth2#api".into()))
        .update_expression("SET oauth_expires_at = oauth_issued_at + :life")
        .condition_expression("attribute_exists(oauth_access)")
        .expression_attribute_values(":life", AttributeValue::N("4".into()))
        .send()
        .await
        .expect("a cached access token to expire");
}

/// Every secret of the test in no response, audit record or log line.
fn assert_no_secrets(lambda: &LambdaEnv, responses: &[Value], secrets: &[&str]) {
    let out = lambda.output();
    let audit = serde_json::to_string(&lambda.audit_records()).unwrap();
    let answers = serde_json::to_string(responses).unwrap();
    for s in secrets {
        assert_no_canary("function output (audit and logs)", &out, s);
        assert_no_canary("audit records", &audit, s);
        assert_no_canary("responses", &answers, s);
    }
}

async fn start(
    instances: usize,
    extra: &[(&str, &str)],
) -> (Env, LambdaEnv, Upstream, OAuthServer) {
    let env = setup().await;
    let lambda = LambdaEnv::start_with(&env, &opts(instances, extra)).await;
    (
        env,
        lambda,
        Upstream::start().await,
        OAuthServer::connect().await,
    )
}

#[tokio::test]
async fn one_refresh_across_sandboxes_keeps_the_grant_and_leaks_nothing() {
    let (env, lambda, up, oauth) = start(SANDBOXES, &[("KEYBROKER_OAUTH2_WAIT_MS", "15000")]).await;
    let account = unique("acct");
    let (ws, grant) = connect(&lambda, &oauth, &up, &account, None).await;
    let mut responses = Vec::new();

    // First use: no cached token, one refresh (the provider rotates).
    let r = inject(&lambda, &ws, &up).await;
    assert_eq!(r["ok"], true, "{r}");
    assert_eq!(oauth.refreshes(&account).await, 1);
    let first = last_bearer(&up);
    assert_ne!(
        first, grant.access_token,
        "a fresh token from the broker's own refresh"
    );
    responses.push(r);

    // Cached and unexpired: no token call, and the warm path's AWS calls
    // are those of a static secret (one BatchGetItem, the limit counter,
    // the breaker's reads, one kms:Decrypt).
    let r = inject(&lambda, &ws, &up).await;
    assert_eq!(r["ok"], true, "{r}");
    assert_eq!(oauth.refreshes(&account).await, 1, "cached token reused");
    assert_eq!(last_bearer(&up), first);
    responses.push(r);
    let static_ws = crate::ws().to_string();
    lambda
        .admin(json!({
            "op": "put_secret", "workspace": static_ws, "secret": "api", "value": unique("sk-static"),
            "binding": { "hosts": [up.addr.to_string()], "inject": bearer() }
        }))
        .await;
    lambda
        .admin(json!({ "op": "set_policy", "workspace": static_ws, "policy": permit_all() }))
        .await;
    let _ = inject(&lambda, &static_ws, &up).await;
    let _ = inject(&lambda, &static_ws, &up).await;
    let audit = lambda.audit_records();
    let calls_of = |w: &str| {
        audit
            .iter()
            .filter(|a| a["workspace"] == w && a["decision"] == "allow")
            .max_by_key(|a| a["_aws"]["Timestamp"].as_u64())
            .map(|a| a["aws_calls"].clone())
            .unwrap()
    };
    assert_eq!(
        calls_of(&ws),
        calls_of(&static_ws),
        "warm path unchanged in AWS calls"
    );
    assert_eq!(calls_of(&ws), json!({"kms": 1, "sts": 0, "dynamodb": 5}));

    // Expired: 200 concurrent injections over 10 sandboxes, one refresh.
    // The refreshed token lives 120 s, so the whole burst runs on it.
    let_token_expire(&env, &ws).await;
    let before = up.records().len();
    let started = Instant::now();
    let all = futures::future::join_all((0..CONCURRENT).map(|_| inject(&lambda, &ws, &up))).await;
    let elapsed = started.elapsed();
    let ok = all.iter().filter(|r| r["ok"] == true).count();
    assert_eq!(
        ok,
        CONCURRENT,
        "every injection succeeded: {:?}",
        all.iter().find(|r| r["ok"] != true)
    );
    assert_eq!(
        oauth.refreshes(&account).await,
        2,
        "exactly one token-endpoint call for {CONCURRENT} injections"
    );
    assert_eq!(oauth.invalid_grants(&account).await, 0, "no invalid_grant");
    let recs = up.records();
    let tokens: std::collections::BTreeSet<String> = recs[before..]
        .iter()
        .map(|r| r.header("authorization").unwrap().to_owned())
        .collect();
    assert_eq!(
        tokens.len(),
        1,
        "every injection sent the one refreshed token"
    );
    assert_ne!(tokens.iter().next().unwrap(), &format!("Bearer {first}"));
    let pids: std::collections::BTreeSet<u32> =
        lambda.runner().pids_of("inject").into_iter().collect();
    assert_eq!(pids.len(), SANDBOXES, "{SANDBOXES} sandboxes");
    println!("{CONCURRENT} concurrent injections after expiry: {elapsed:?}, 1 refresh");

    // The provider's own record: the grant is alive, with one live
    // (unconsumed) refresh token, the one the broker wrote back.
    let grants = oauth.grants(&account).await;
    assert_eq!(grants.len(), 1, "{grants:?}");
    assert_eq!(grants[0]["live_refresh_tokens"], 1, "{grants:?}");
    assert_eq!(grants[0]["consumed_refresh_tokens"], 2, "{grants:?}");

    responses.extend(all);
    let refreshed = tokens
        .iter()
        .next()
        .unwrap()
        .trim_start_matches("Bearer ")
        .to_owned();
    assert_no_secrets(
        &lambda,
        &responses,
        &[
            &grant.refresh_token,
            &grant.access_token,
            &first,
            &refreshed,
            &oauth.client_secret,
        ],
    );
    lambda.stop().await;
}

#[tokio::test]
async fn revocation_by_the_switch_stops_injection_and_refresh() {
    let (env, lambda, up, oauth) = start(1, &[]).await;
    let account = unique("acct");
    let ws = crate::ws();
    let customer = env.onboard_customer(&ws).await;
    let (ws, grant) = connect(&lambda, &oauth, &up, &account, Some(ws.to_string())).await;
    let r = inject(&lambda, &ws, &up).await;
    assert_eq!(r["ok"], true, "{r}");
    assert_eq!(oauth.refreshes(&account).await, 1);
    let version = |l: Value| {
        (
            l[0]["version"].clone(),
            l[0]["oauth2"]["access_expires_at_ms"].clone(),
        )
    };
    let v0 = version(
        lambda
            .admin(json!({"op": "list_secrets", "workspace": ws}))
            .await,
    );

    customer.set_broker_access(BrokerAccess::Revoked).await;
    let r = inject(&lambda, &ws, &up).await;
    assert_eq!(error_type(&r), "revoked", "{r}");
    let_token_expire(&env, &ws).await;
    let v1 = version(
        lambda
            .admin(json!({"op": "list_secrets", "workspace": ws}))
            .await,
    );
    let r2 = inject(&lambda, &ws, &up).await;
    assert_eq!(error_type(&r2), "revoked", "{r2}");
    assert_eq!(
        oauth.refreshes(&account).await,
        1,
        "no refresh once revoked"
    );
    let v2 = version(
        lambda
            .admin(json!({"op": "list_secrets", "workspace": ws}))
            .await,
    );
    assert!(v1.0.as_u64().is_some() && v1.1.as_u64().is_some(), "{v1:?}");
    assert_eq!(v0.0, v1.0, "nothing sealed by the first revoked injection");
    assert_eq!(
        v1, v2,
        "nothing new sealed: same version, same cached token"
    );

    // Restored: the refresh resumes with the same grant.
    customer.set_broker_access(BrokerAccess::Enabled).await;
    let r3 = inject(&lambda, &ws, &up).await;
    assert_eq!(r3["ok"], true, "{r3}");
    assert_eq!(oauth.refreshes(&account).await, 2);
    assert_no_secrets(
        &lambda,
        &[r, r2, r3],
        &[&grant.refresh_token, &oauth.client_secret],
    );
    lambda.stop().await;
}

#[tokio::test]
async fn a_grant_revoked_at_the_provider_is_reauth_required() {
    let (env, lambda, up, oauth) = start(1, &[]).await;
    let account = unique("acct");
    let (ws, grant) = connect(&lambda, &oauth, &up, &account, None).await;
    let r = inject(&lambda, &ws, &up).await;
    assert_eq!(r["ok"], true, "{r}");
    oauth.revoke_grants(&account).await;
    let_token_expire(&env, &ws).await;
    let r = inject(&lambda, &ws, &up).await;
    assert_eq!(error_type(&r), "reauth_required", "{r}");
    assert_eq!(r["error"]["retry"], "never", "{r}");
    // (The provider cannot attribute a refresh of a destroyed grant to
    // its account, so this one is not in the account's count.)
    let refreshes = oauth.refreshes(&account).await;
    // Marked: the next injection fails at once, without a token call.
    let r2 = inject(&lambda, &ws, &up).await;
    assert_eq!(error_type(&r2), "reauth_required", "{r2}");
    assert_eq!(
        oauth.refreshes(&account).await,
        refreshes,
        "no refresh once reauth_required"
    );
    let audit = lambda.audit_records();
    let last = audit.last().unwrap();
    assert_eq!(last["Outcome"], "reauth_required", "{last}");
    assert_eq!(last["ReauthRequired"], 1, "{last}");
    assert_eq!(
        last["aws_calls"]["kms"], 0,
        "refused before kms:Decrypt: {last}"
    );
    assert_no_secrets(
        &lambda,
        &[r, r2],
        &[&grant.refresh_token, &oauth.client_secret],
    );
    lambda.stop().await;
}

#[tokio::test]
async fn a_sandbox_killed_holding_the_lease_blocks_refresh_only_until_it_expires() {
    let lease = [
        ("KEYBROKER_OAUTH2_LEASE_MS", "3000"),
        ("KEYBROKER_OAUTH2_WAIT_MS", "8000"),
    ];
    let (env, doomed, up, oauth) = start(1, &lease).await;
    let other = LambdaEnv::start_with(&env, &opts(1, &lease)).await;
    let account = unique("acct");
    let (ws, grant) = connect(&other, &oauth, &up, &account, None).await;

    // The doomed sandbox takes the lease and is killed inside its token call.
    oauth.delay_next_token(4000).await;
    let client = doomed.lambda.clone();
    let event = serde_json::to_vec(&inject_event(&ws, &format!("{}/ok", up.base()))).unwrap();
    let pending = tokio::spawn(async move {
        let _ = client
            .invoke()
            .function_name("inject")
            .payload(aws_sdk_lambda::primitives::Blob::new(event))
            .send()
            .await;
    });
    let t0 = Instant::now();
    while oauth.in_flight().await == 0 {
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "the doomed sandbox never called the token endpoint"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for pid in doomed.runner().pids_of("inject") {
        let _ = std::process::Command::new("kill")
            .args(["-9", &pid.to_string()])
            .status();
    }
    let killed = Instant::now();

    // The next injection waits out the dead holder's lease, then refreshes.
    let r = inject(&other, &ws, &up).await;
    let waited = killed.elapsed();
    assert_eq!(r["ok"], true, "{r}");
    assert!(
        waited < Duration::from_secs(8),
        "blocked past the lease: {waited:?}"
    );
    assert_eq!(
        oauth.refreshes(&account).await,
        1,
        "the killed call never reached the provider's logic"
    );
    assert_eq!(oauth.invalid_grants(&account).await, 0);
    let grants = oauth.grants(&account).await;
    assert_eq!(grants[0]["live_refresh_tokens"], 1, "{grants:?}");
    assert_no_secrets(&other, &[r], &[&grant.refresh_token, &oauth.client_secret]);
    pending.abort();
    other.stop().await;
    doomed.stop().await;
}

#[tokio::test]
async fn connected_by_the_code_flow_and_used_unchanged_from_the_cli_and_mcp() {
    let (_env, lambda, up, oauth) = start(1, &[]).await;
    let account = unique("acct");
    let ws = crate::ws().to_string();
    let mut op = crate::cli::Operator::new(&lambda);
    let host = up.addr.to_string();
    let auth_endpoint = format!("{}/auth", oauth.base);
    let token_endpoint = oauth.token_endpoint();

    // start: the URL carries the S256 challenge and state, never a verifier.
    let started = op
        .expect(
            0,
            &[
                "--json",
                "start-oauth2",
                "-w",
                &ws,
                "-s",
                "api",
                "--host",
                &host,
                "--header",
                "Authorization",
                "--token-endpoint",
                &token_endpoint,
                "--client-id",
                &oauth.client_id,
                "--scope",
                "openid api",
                "--authorization-endpoint",
                &auth_endpoint,
                "--redirect-uri",
                &oauth.redirect_uri,
                "--client-secret-stdin",
            ],
            Some(&oauth.client_secret),
        )
        .await
        .json();
    let url = started["result"]["authorization_url"]
        .as_str()
        .unwrap()
        .to_owned();
    let state = started["result"]["state"].as_str().unwrap().to_owned();
    let parsed = url::Url::parse(&url).unwrap();
    let q: std::collections::BTreeMap<String, String> = parsed.query_pairs().into_owned().collect();
    assert_eq!(q["code_challenge_method"], "S256", "{url}");
    assert_eq!(q["state"], state);
    assert!(
        !q.contains_key("code_verifier") && !url.contains(&oauth.client_secret),
        "{url}"
    );

    // The user signs in (the test's account) and the provider redirects.
    let back = oauth.follow(&format!("{url}&login_hint={account}")).await;
    let get = |k: &str| back.iter().find(|(n, _)| n == k).unwrap().1.clone();
    assert_eq!(get("state"), state);
    let callback = format!(
        "{}?code={}&state={}",
        oauth.redirect_uri,
        get("code"),
        state
    );

    // A wrong state is refused and leaves the flow.
    let wrong = format!("{}?code={}&state=forged", oauth.redirect_uri, get("code"));
    op.expect(
        10,
        &[
            "complete-oauth2",
            "-w",
            &ws,
            "-s",
            "api",
            "--callback-stdin",
        ],
        Some(&wrong),
    )
    .await;
    let done = op
        .expect(
            0,
            &[
                "--json",
                "complete-oauth2",
                "-w",
                &ws,
                "-s",
                "api",
                "--callback-stdin",
            ],
            Some(&callback),
        )
        .await
        .json();
    assert_eq!(done["result"]["version"], 1, "{done}");
    assert_eq!(
        oauth.stats(&account).await["token"]["authorization_code"],
        1
    );
    // The flow is consumed: a replay finds nothing.
    let replay = op
        .run(
            &[
                "complete-oauth2",
                "-w",
                &ws,
                "-s",
                "api",
                "--callback-stdin",
            ],
            Some(&callback),
        )
        .await;
    assert_ne!(replay.code, 0, "{}", replay.stdout);
    lambda
        .admin(json!({ "op": "set_policy", "workspace": ws, "policy": permit_all() }))
        .await;

    // The CLI's inject, unchanged: the access token the broker obtained.
    let ok = format!("{}/ok", up.base());
    op.expect(
        0,
        &[
            "inject", "-w", &ws, "-s", "api", "--agent", AGENT, "--url", &ok,
        ],
        None,
    )
    .await;
    let at = last_bearer(&up);
    assert!(!at.is_empty());
    assert_eq!(
        oauth.refreshes(&account).await,
        0,
        "the first access token was cached by complete"
    );

    // MCP's http_request, unchanged.
    let (mut mcp, _server) =
        crate::mcp::connect("stdio", &ws, &crate::mcp::runtime_env(&lambda)).await;
    let r = mcp
        .call(
            "http_request",
            json!({ "secret": "api", "method": "GET", "url": ok }),
        )
        .await;
    assert_eq!(r["isError"], false, "{r}");
    assert_eq!(last_bearer(&up), at);
    let transcript = mcp.finish().await;

    for s in [&at, &oauth.client_secret, &get("code")] {
        assert_no_canary("CLI transcript", &op.transcript, s);
        assert_no_canary("MCP transcript", &transcript, s);
    }
    assert_no_secrets(&lambda, &[started, done], &[&at, &oauth.client_secret]);
    lambda.stop().await;
}
