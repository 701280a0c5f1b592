//! Revocation beats every other path to the customer's key (issue 13).
//!
//! The module keeps the key policy's root "Enable IAM User Permissions"
//! statement (against lock-out), so an identity policy on the customer role,
//! or a grant, keeps the broker decrypting after the `KeybrokerUseKey` Allow
//! is removed: these tests show that hole, then show that the revocation
//! switch (`broker_access = "revoked"`, an explicit Deny) closes it, and
//! that the standing Denies keep the role inside its box (two operations,
//! one workspace, `{workspace, secret}` context) whatever an identity policy
//! grants. They need the local stack's front to evaluate identity policies
//! and grants as AWS does. The last test measures how long each revocation
//! route takes to bite; it prints the times and never asserts one.

use std::time::{Duration, Instant};

use aws_sdk_kms::error::ProvideErrorMetadata;
use aws_sdk_kms::types::{DataKeySpec, GrantOperation};
use broker_core::{BrokerError, RevokedReason, WorkspaceId};
use keybroker_tests::{setup, BrokerAccess, Customer, Env};

use crate::name;

/// How long a route may take to refuse a read before we report it as not
/// revoked (a bound on the polling loop, not an assertion about speed).
const POLL_LIMIT: Duration = Duration::from_secs(20);

/// What reading `api` after a revocation route showed.
struct Outcome {
    /// The refusal, if one came within [`POLL_LIMIT`].
    refused: Option<BrokerError>,
    /// From the customer's call returning to the refusal (or to giving up).
    after: Duration,
    /// Reads made, including the refused one.
    reads: u32,
}

/// Read `api` until refused or `limit` has passed, from `since`.
async fn poll_reads(env: &Env, ws: &WorkspaceId, since: Instant, limit: Duration) -> Outcome {
    let mut reads = 0;
    loop {
        reads += 1;
        match env.broker.read_plaintext(ws, &name("api")).await {
            Err(e) => {
                return Outcome {
                    refused: Some(e),
                    after: since.elapsed(),
                    reads,
                }
            }
            Ok(_) if since.elapsed() >= limit => {
                return Outcome {
                    refused: None,
                    after: since.elapsed(),
                    reads,
                }
            }
            Ok(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

fn report(route: &str, o: &Outcome) {
    match &o.refused {
        Some(e) => println!(
            "revocation latency | {route:<48} | first refused read {:>7.3} s after the call returned, read #{} ({})",
            o.after.as_secs_f64(),
            o.reads,
            e.kind()
        ),
        None => println!(
            "revocation latency | {route:<48} | NOT refused: {} reads over {:.1} s still decrypted",
            o.reads,
            o.after.as_secs_f64()
        ),
    }
}

fn reason(o: &Outcome) -> RevokedReason {
    let e = o.refused.as_ref().expect("refused");
    e.revoked_reason()
        .unwrap_or_else(|| panic!("expected Revoked, got {e:?}"))
}

/// The hole and its fix, for a bypass already in place on `customer`'s role
/// (`what` names it): removing the Allow leaves the secret readable; the
/// switch refuses it; enabling brings it back.
async fn statement_removal_is_bypassed_but_the_switch_is_not(
    env: &Env,
    ws: &WorkspaceId,
    customer: &Customer,
    text: &str,
    what: &str,
) {
    customer
        .set_broker_access(BrokerAccess::StatementRemoved)
        .await;
    let o = poll_reads(env, ws, Instant::now(), Duration::from_secs(2)).await;
    report(&format!("statement removed, {what} in place"), &o);
    assert!(
        o.refused.is_none(),
        "with {what}, removing KeybrokerUseKey alone revoked: the stack no longer shows the \
         hole the switch exists for ({:?})",
        o.refused
    );
    let got = env.broker.read_plaintext(ws, &name("api")).await.unwrap();
    assert_eq!(got.value.expose(), text.as_bytes());
    drop(got);

    customer.set_broker_access(BrokerAccess::Revoked).await;
    let o = poll_reads(env, ws, Instant::now(), POLL_LIMIT).await;
    report(&format!("switch revoked, {what} in place"), &o);
    assert_eq!(reason(&o), RevokedReason::KeyAccessDenied);
    // The explicit Deny also stops writes (GenerateDataKey).
    let e = env
        .broker
        .rotate_secret(ws, &name("api"), None, None)
        .await
        .unwrap_err();
    assert_eq!(e.revoked_reason(), Some(RevokedReason::KeyAccessDenied));

    customer.set_broker_access(BrokerAccess::Enabled).await;
    let got = env.broker.read_plaintext(ws, &name("api")).await.unwrap();
    assert_eq!(got.value.expose(), text.as_bytes());
}

#[tokio::test]
async fn identity_policy_survives_statement_removal_but_not_the_switch() {
    let env = setup().await;
    let (ws, customer, text) = crate::byok_secret(&env).await;
    customer
        .put_role_policy(
            "AllowKmsOutsideTerraform",
            &["kms:Decrypt", "kms:GenerateDataKey"],
        )
        .await;
    statement_removal_is_bypassed_but_the_switch_is_not(
        &env,
        &ws,
        &customer,
        &text,
        "an identity policy allowing kms:Decrypt",
    )
    .await;
}

#[tokio::test]
async fn grant_survives_statement_removal_but_not_the_switch() {
    let env = setup().await;
    let (ws, customer, text) = crate::byok_secret(&env).await;
    customer
        .grant_role(&[GrantOperation::Decrypt, GrantOperation::GenerateDataKey])
        .await;
    statement_removal_is_bypassed_but_the_switch_is_not(
        &env,
        &ws,
        &customer,
        &text,
        "a grant for Decrypt/GenerateDataKey",
    )
    .await;
}

fn assert_denied<E: ProvideErrorMetadata + std::fmt::Debug>(
    what: &str,
    r: Result<impl std::fmt::Debug, E>,
) {
    match r {
        Ok(v) => panic!("{what}: the customer role was allowed ({v:?})"),
        Err(e) => assert_eq!(e.code(), Some("AccessDeniedException"), "{what}: {e:?}"),
    }
}

/// Even with `kms:*` in an identity policy on the role (which the root
/// delegation honours), the standing Denies keep a session of the role to
/// GenerateDataKey/Decrypt in its own workspace's `{workspace, secret}`
/// context: no grant, no policy change, no key-state change, no other
/// workspace, no missing or extra context key.
#[tokio::test]
async fn standing_denies_hold_against_an_identity_policy_allowing_kms_star() {
    let env = setup().await;
    let (ws, customer, _) = crate::byok_secret(&env).await;
    let ext = env.broker.workspace(&ws).await.unwrap().external_id;
    customer.put_role_policy("AllowAllKms", &["kms:*"]).await;
    // Without the Allow, everything the role can still do comes from the
    // identity policy: the control call shows it does get through.
    customer
        .set_broker_access(BrokerAccess::StatementRemoved)
        .await;
    let kms = customer.role_kms(&ext).await;
    let gdk = |ctx: &[(&str, &str)]| {
        let mut req = kms
            .generate_data_key()
            .key_id(&customer.key_arn)
            .key_spec(DataKeySpec::Aes256);
        for (k, v) in ctx {
            req = req.encryption_context(*k, *v);
        }
        req.send()
    };
    gdk(&[("workspace", ws.as_str()), ("secret", "api")])
        .await
        .expect("control: the identity policy allows the pinned context");

    assert_denied(
        "CreateGrant for the role itself",
        kms.create_grant()
            .key_id(&customer.key_arn)
            .grantee_principal(&customer.role_arn)
            .operations(GrantOperation::Decrypt)
            .send()
            .await,
    );
    assert_denied(
        "PutKeyPolicy",
        kms.put_key_policy()
            .key_id(&customer.key_arn)
            .policy_name("default")
            .policy("{}")
            .send()
            .await,
    );
    assert_denied(
        "ScheduleKeyDeletion",
        kms.schedule_key_deletion()
            .key_id(&customer.key_arn)
            .pending_window_in_days(7)
            .send()
            .await,
    );
    assert_denied(
        "Encrypt",
        kms.encrypt()
            .key_id(&customer.key_arn)
            .plaintext(aws_sdk_kms::primitives::Blob::new(b"x".to_vec()))
            .encryption_context("workspace", ws.as_str())
            .encryption_context("secret", "api")
            .send()
            .await,
    );
    let other = crate::ws();
    assert_denied(
        "another workspace's context",
        gdk(&[("workspace", other.as_str()), ("secret", "api")]).await,
    );
    assert_denied("no secret key", gdk(&[("workspace", ws.as_str())]).await);
    assert_denied(
        "an extra context key",
        gdk(&[("workspace", ws.as_str()), ("secret", "api"), ("x", "y")]).await,
    );
    assert_denied("no context at all", gdk(&[]).await);
}

/// How long each route takes to refuse the next read, on this stack. Printed
/// (`cargo test ... -- --nocapture`), documented in terraform/README.md and
/// docs/ARCHITECTURE.md, never asserted. On AWS, key-policy routes are
/// eventually consistent (usually seconds, documented as up to minutes).
#[tokio::test]
async fn revocation_latency_of_each_route() {
    let env = setup().await;

    // Key-policy and key-state routes, each on a fresh customer.
    for route in [
        "key policy: KeybrokerUseKey removed",
        "key policy: broker_access = revoked",
        "DisableKey",
        "ScheduleKeyDeletion",
    ] {
        let (ws, customer, _) = crate::byok_secret(&env).await;
        assert!(env.broker.read_plaintext(&ws, &name("api")).await.is_ok());
        match route {
            "key policy: KeybrokerUseKey removed" => {
                customer
                    .set_broker_access(BrokerAccess::StatementRemoved)
                    .await
            }
            "key policy: broker_access = revoked" => {
                customer.set_broker_access(BrokerAccess::Revoked).await
            }
            "DisableKey" => customer.disable_key().await,
            _ => customer.schedule_deletion().await,
        }
        let o = poll_reads(&env, &ws, Instant::now(), POLL_LIMIT).await;
        report(route, &o);
        let want = match route {
            "DisableKey" => RevokedReason::KeyDisabled,
            "ScheduleKeyDeletion" => RevokedReason::KeyPendingDeletion,
            _ => RevokedReason::KeyAccessDenied,
        };
        assert_eq!(reason(&o), want, "{route}");
    }

    // Trust policy: stops new sessions only. A broker holding a live
    // session keeps decrypting until the session expires (≤ 13 min here).
    let (ws, customer, _) = crate::byok_secret(&env).await;
    assert!(env.broker.read_plaintext(&ws, &name("api")).await.is_ok());
    customer
        .set_trust_external_id(Some("kb-some-other-external-id-000000000000"))
        .await;
    let o = poll_reads(&env, &ws, Instant::now(), Duration::from_secs(3)).await;
    report("trust policy changed, live session", &o);
    assert!(
        o.refused.is_none(),
        "a live session was cut by a trust-policy change: {:?}",
        o.refused
    );
    // A broker without a session (a fresh Lambda sandbox, or after expiry).
    let cold = setup().await;
    let o = poll_reads(&cold, &ws, Instant::now(), POLL_LIMIT).await;
    report("trust policy changed, no live session", &o);
    assert_eq!(reason(&o), RevokedReason::RoleAssumptionDenied);
}

#[tokio::test]
async fn account_wide_key_policy_allow_survives_statement_removal_but_not_the_switch() {
    let env = setup().await;
    let (ws, customer, text) = crate::byok_secret(&env).await;
    let extra = customer.account_wide_decrypt_statement();
    customer
        .set_edited_key_policy(BrokerAccess::StatementRemoved, |st| st.push(extra.clone()))
        .await;
    let o = poll_reads(&env, &ws, Instant::now(), Duration::from_secs(2)).await;
    report("statement removed, account-wide key-policy Allow", &o);
    assert!(o.refused.is_none(), "{:?}", o.refused);
    let got = env.broker.read_plaintext(&ws, &name("api")).await.unwrap();
    assert_eq!(got.value.expose(), text.as_bytes());
    drop(got);

    customer
        .set_edited_key_policy(BrokerAccess::Revoked, |st| st.push(extra))
        .await;
    let o = poll_reads(&env, &ws, Instant::now(), POLL_LIMIT).await;
    report("switch revoked, account-wide key-policy Allow", &o);
    assert_eq!(reason(&o), RevokedReason::KeyAccessDenied);
}
