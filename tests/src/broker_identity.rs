//! Who the broker is in the local stack: sessions of its two execution
//! roles, as on AWS, never the account root.
//!
//! The harness creates `keybroker-inject` and `keybroker-admin` in the
//! broker account (infra's names and default path `/`), with the Lambda
//! trust policy and the identity policies rendered from `infra/policies`,
//! and obtains a session of each by assuming it as the `lambda.amazonaws.com`
//! service principal, the way Lambda hands an execution role's credentials to
//! a function. The iam-front evaluates those identity policies, the key and
//! trust policies, and the cross-account rule for `sts:AssumeRole` on
//! customer roles under `role/keybroker/*`, so what the shipped policies
//! do not grant fails here as it would on AWS.

use aws_config::SdkConfig;
use aws_credential_types::Credentials;

use crate::{account_sdk_config, render_template, BROKER_ACCOUNT, TABLE};

/// One of the broker's two execution roles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BrokerRole {
    /// The `inject` function's role: reads secrets.
    Inject,
    /// The `admin` function's role: writes, rotates, onboards.
    Admin,
}

/// ARN of the `inject` function's execution role in the local stack.
pub const INJECT_ROLE_ARN: &str = "arn:aws:iam::111111111111:role/keybroker-inject";
/// ARN of the `admin` function's execution role in the local stack.
pub const ADMIN_ROLE_ARN: &str = "arn:aws:iam::111111111111:role/keybroker-admin";
/// What customer trust policies name (terraform's `broker_principal_arns`,
/// infra's output of the same name): both execution roles.
pub const BROKER_PRINCIPALS: [&str; 2] = [INJECT_ROLE_ARN, ADMIN_ROLE_ARN];

/// The access key id the iam-front takes as the Lambda service principal
/// (`localstack/iam-front/src/decide.js`, `SERVICE_PRINCIPALS`).
const LAMBDA_SERVICE: &str = "lambda.amazonaws.com";

/// Customer roles the broker may assume: infra's default
/// (`arn:<partition>:iam::*:role<customer_role_path>*`, path `/keybroker/`).
const CUSTOMER_ROLE_ARNS: &str = r#"["arn:aws:iam::*:role/keybroker/*"]"#;

/// Platform keys the roles may use. infra lists each generation's key ARN;
/// the suite makes a fresh platform key per test, so the harness allows every
/// key of the broker account (the key policies still name the roles).
const PLATFORM_KEY_ARNS: &str = r#"["arn:aws:kms:us-east-1:111111111111:key/*"]"#;
const ACTIVE_PLATFORM_KEY_ARN: &str = "arn:aws:kms:us-east-1:111111111111:key/*";

impl BrokerRole {
    /// The role's name (infra: `${name_prefix}-inject` / `-admin`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Inject => "keybroker-inject",
            Self::Admin => "keybroker-admin",
        }
    }

    /// The role's ARN.
    pub fn arn(self) -> &'static str {
        match self {
            Self::Inject => INJECT_ROLE_ARN,
            Self::Admin => ADMIN_ROLE_ARN,
        }
    }

    /// The role's identity policy, rendered from `infra/policies` as infra
    /// renders it.
    pub fn identity_policy(self) -> String {
        let template = match self {
            Self::Inject => "infra/policies/inject-role-policy.json.tftpl",
            Self::Admin => "infra/policies/admin-role-policy.json.tftpl",
        };
        let table_arn = format!("arn:aws:dynamodb:us-east-1:{BROKER_ACCOUNT}:table/{TABLE}");
        let log_group = format!(
            "arn:aws:logs:us-east-1:{BROKER_ACCOUNT}:log-group:/aws/lambda/{}",
            self.name()
        );
        let mut values = vec![
            ("table_arn", table_arn.as_str()),
            ("platform_key_arns_json", PLATFORM_KEY_ARNS),
            ("customer_role_arns_json", CUSTOMER_ROLE_ARNS),
            ("log_group_arn", log_group.as_str()),
        ];
        // Only admin generates data keys, under the active key alone.
        if matches!(self, Self::Admin) {
            values.push(("active_platform_key_arn", ACTIVE_PLATFORM_KEY_ARN));
        }
        render_template(template, &values)
    }
}

/// Create both execution roles if missing and (re)attach their identity
/// policies. Idempotent, safe for concurrent tests (same documents).
pub async fn ensure_broker_roles() {
    let iam = aws_sdk_iam::Client::new(&account_sdk_config(BROKER_ACCOUNT).await);
    let trust = render_template("infra/policies/lambda-trust-policy.json.tftpl", &[]);
    for role in [BrokerRole::Inject, BrokerRole::Admin] {
        match iam
            .create_role()
            .role_name(role.name())
            .assume_role_policy_document(&trust)
            .max_session_duration(3600)
            .send()
            .await
        {
            Ok(_) => {}
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_entity_already_exists_exception()) => {}
            Err(e) => panic!("CreateRole {}: {e:?}", role.name()),
        }
        iam.put_role_policy()
            .role_name(role.name())
            .policy_name(role.name())
            .policy_document(role.identity_policy())
            .send()
            .await
            .unwrap_or_else(|e| panic!("PutRolePolicy {}: {e:?}", role.name()));
    }
}

/// A session of `role`, obtained as Lambda obtains it: `AssumeRole` by the
/// `lambda.amazonaws.com` service principal, which the role's trust policy
/// must allow. Call [`ensure_broker_roles`] first.
pub async fn role_session(role: BrokerRole) -> Credentials {
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .credentials_provider(Credentials::new(
            LAMBDA_SERVICE,
            "test",
            None,
            None,
            "lambda-service",
        ))
        .load()
        .await;
    let out = aws_sdk_sts::Client::new(&sdk)
        .assume_role()
        .role_arn(role.arn())
        // Lambda names the session after the function.
        .role_session_name(role.name())
        .duration_seconds(3600)
        .send()
        .await
        .unwrap_or_else(|e| panic!("AssumeRole {} as {LAMBDA_SERVICE}: {e:?}", role.name()));
    let c = out.credentials().expect("credentials");
    Credentials::new(
        c.access_key_id(),
        c.secret_access_key(),
        Some(c.session_token().to_owned()),
        std::time::SystemTime::try_from(*c.expiration()).ok(),
        "lambda-execution-role",
    )
}

/// SDK config acting as a session of `role` (the roles are ensured first).
pub async fn role_sdk_config(role: BrokerRole) -> SdkConfig {
    ensure_broker_roles().await;
    let creds = role_session(role).await;
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .credentials_provider(creds)
        .load()
        .await
}

/// The environment Lambda gives a function for its execution role's session.
pub async fn lambda_credentials_env(role: BrokerRole) -> Vec<(String, String)> {
    let c = role_session(role).await;
    vec![
        ("AWS_ACCESS_KEY_ID".to_owned(), c.access_key_id().to_owned()),
        (
            "AWS_SECRET_ACCESS_KEY".to_owned(),
            c.secret_access_key().to_owned(),
        ),
        (
            "AWS_SESSION_TOKEN".to_owned(),
            c.session_token().unwrap_or_default().to_owned(),
        ),
    ]
}
