//! What the broker refuses before any AWS call. The broker here points at
//! an endpoint nothing listens on: an operation that reached AWS would fail
//! with a transport error, not with the typed refusal asserted.

use super::*;
use crate::access::policy::MAX_POLICY_BYTES;

fn offline_broker() -> Broker {
    let sdk = aws_config::SdkConfig::builder()
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url("http://127.0.0.1:9")
        .behavior_version(aws_config::BehaviorVersion::latest())
        .build();
    let platform = "arn:aws:kms:us-east-1:111111111111:key/00000000-0000-4000-8000-000000000000";
    Broker::new(&sdk, BrokerConfig::new("table", platform)).unwrap()
}

#[tokio::test]
async fn set_policy_refuses_a_policy_the_check_cannot_use() {
    let broker = offline_broker();
    let ws = WorkspaceId::new("acme").unwrap();
    let oversize = format!(
        "{}permit(principal, action, resource);",
        " ".repeat(MAX_POLICY_BYTES)
    );
    let bad = [
        "permit(principal, action, resource",
        r#"{"Version":"2012-10-17"}"#,
        r#"permit(principal == User::"x", action, resource);"#,
        r#"permit(principal, action == Action::"read", resource);"#,
        r#"permit(principal, action, resource) when { context.nope == 1 };"#,
        &oversize,
    ];
    // The control: what is refused here is refused for what it says.
    assert!(crate::access::policy::parse("permit(principal, action, resource);").is_ok());
    for policy in bad {
        let e = broker.set_policy(&ws, policy).await.unwrap_err();
        assert!(
            matches!(
                e,
                BrokerError::InvalidInput {
                    field: "policy",
                    ..
                }
            ),
            "{policy:.60}: {e:?}"
        );
    }
    assert_eq!(
        broker.aws_calls(),
        AwsCalls::default(),
        "no AWS call was made"
    );
}

#[test]
fn a_platform_key_that_is_not_a_key_arn_is_refused() {
    let sdk = aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .build();
    let alias = "arn:aws:kms:us-east-1:111111111111:alias/platform";
    let e = Broker::new(&sdk, BrokerConfig::new("table", alias)).unwrap_err();
    assert!(
        matches!(
            e,
            BrokerError::InvalidInput {
                field: "key_arn",
                ..
            }
        ),
        "{e:?}"
    );
}
