//! Refusals by the library itself (`broker_core`): invalid names and
//! values, bindings that would leak the credential, malformed BYOK ARNs and
//! regions, things that do not exist, and an external id the customer's
//! role does not require. Each is the exact `BrokerError`, and a refusal
//! decided before any AWS call changes nothing and reaches neither KMS nor
//! STS.

use broker_core::{
    AwsCalls, Binding, BrokerError, Injection, RevokedReason, SecretName, SecretValue, WorkspaceId,
    MAX_SECRET_LEN,
};
use keybroker_tests::{assert_revoked, setup, Customer, Env};

use super::{done, state, State};
use crate::{canary, name, ws};

fn header_binding(host: &str, name: &str, template: &str) -> Binding {
    Binding {
        hosts: vec![host.into()],
        inject: Injection::Header {
            name: name.into(),
            template: template.into(),
        },
        allow_insecure_http: false,
        agent_headers: None,
        on_echo: Default::default(),
        oauth2: None,
    }
}

fn hosts(hs: &[&str]) -> Binding {
    Binding {
        hosts: hs.iter().map(|s| s.to_string()).collect(),
        ..header_binding("x", "Authorization", "Bearer {secret}")
    }
}

#[test]
fn invalid_names_are_typed_invalid_input() {
    let mut n = 0;
    let long_ws = "a".repeat(64);
    for bad in [
        "",
        "ab",
        long_ws.as_str(),
        "../x",
        "a/b",
        "%2e%2e",
        "Acme",
        "-acme",
        "acmé",
        "acme\n",
        "acme ws",
        "ws\u{0}x",
        "ｗｓ-fullwidth",
    ] {
        expect_err!(
            n,
            format!("workspace {bad:?}"),
            WorkspaceId::new(bad),
            BrokerError::InvalidInput {
                field: "workspace",
                ..
            }
        );
    }
    let long_name = "s".repeat(129);
    for bad in [
        "",
        long_name.as_str(),
        "../x",
        "a/b",
        "%2e%2e",
        "..",
        ".hidden",
        "__keybroker_verify__",
        "__x",
        "ключ",
        "a b",
        "a\0b",
        "a\r\nb",
        "a:b",
        "a\\b",
    ] {
        expect_err!(
            n,
            format!("secret {bad:?}"),
            SecretName::new(bad),
            BrokerError::InvalidInput {
                field: "secret",
                ..
            }
        );
    }
    // The edges that must still be accepted.
    WorkspaceId::new("a".repeat(63)).unwrap();
    SecretName::new("s".repeat(128)).unwrap();
    SecretName::new("a.b_c-D").unwrap();
    expect_err!(
        n,
        "empty value",
        SecretValue::new(Vec::new()),
        BrokerError::InvalidInput {
            field: "secret value",
            ..
        }
    );
    expect_err!(
        n,
        "oversized value",
        SecretValue::new(vec![b'x'; MAX_SECRET_LEN + 1]),
        BrokerError::InvalidInput {
            field: "secret value",
            ..
        }
    );
    SecretValue::new(vec![b'x'; MAX_SECRET_LEN]).unwrap();
    done("names and values", n);
    assert!(n >= 30);
}

/// A workspace with BYOK prepared and one good secret (bound to
/// `api.example.com`): where the library refusals are tried.
struct Refusals {
    env: Env,
    ws: WorkspaceId,
    value: SecretValue,
    good: Binding,
    before: State,
    calls: AwsCalls,
}

impl Refusals {
    async fn stage() -> Self {
        let env = setup().await;
        let ws = ws();
        env.broker.prepare_byok(&ws).await.unwrap();
        let (_, value) = canary();
        let good = header_binding("api.example.com", "Authorization", "Bearer {secret}");
        env.broker
            .put_bound_secret(&ws, &name("good"), &value, &good)
            .await
            .unwrap();
        let before = state(&env, &ws).await;
        let calls = env.broker.aws_calls();
        Self {
            env,
            ws,
            value,
            good,
            before,
            calls,
        }
    }

    /// Every refusal since [`Refusals::stage`] reached neither KMS nor STS
    /// and changed nothing.
    async fn assert_nothing_happened(&self) {
        let spent = self.env.broker.aws_calls() - self.calls;
        assert_eq!(spent.kms, 0, "a refused input reached KMS: {spent:?}");
        assert_eq!(spent.sts, 0, "a refused input reached STS: {spent:?}");
        assert_eq!(
            state(&self.env, &self.ws).await,
            self.before,
            "a refused input changed state"
        );
    }
}

#[tokio::test]
async fn leaky_bindings_are_refused_at_put_before_any_aws_call() {
    let t = Refusals::stage().await;
    let (env, ws, value, good) = (&t.env, &t.ws, &t.value, &t.good);
    let mut n = 0;
    let basic = |u: &str| Binding {
        inject: Injection::BasicAuth { username: u.into() },
        ..good.clone()
    };
    let query = |p: &str| Binding {
        inject: Injection::Query { param: p.into() },
        ..good.clone()
    };
    let seventeen: Vec<String> = (0..17).map(|i| format!("h{i}.example.com")).collect();
    let seventeen: Vec<&str> = seventeen.iter().map(String::as_str).collect();
    let mut insecure_wild = hosts(&["*"]);
    insecure_wild.allow_insecure_http = true;
    for (label, b) in [
        ("wildcard host", hosts(&["*.example.com"])),
        ("bare wildcard", insecure_wild),
        ("no hosts", hosts(&[])),
        ("17 hosts", hosts(&seventeen)),
        ("uppercase host", hosts(&["API.example.com"])),
        ("trailing dot", hosts(&["api.example.com."])),
        ("leading dot", hosts(&[".example.com"])),
        ("empty label", hosts(&["api..example.com"])),
        ("port 0", hosts(&["api.example.com:0"])),
        ("port not a number", hosts(&["api.example.com:https"])),
        ("port out of range", hosts(&["api.example.com:65536"])),
        ("userinfo in host", hosts(&["user@api.example.com"])),
        ("path in host", hosts(&["api.example.com/x"])),
        ("scheme in host", hosts(&["https://api.example.com"])),
        ("IDN not punycode", hosts(&["bücher.example"])),
        ("IPv6 literal", hosts(&["[::1]"])),
        ("empty host", hosts(&[""])),
        (
            "no placeholder",
            header_binding("a.example", "X-Key", "static"),
        ),
        (
            "two placeholders",
            header_binding("a.example", "X-Key", "{secret}{secret}"),
        ),
        (
            "CRLF in template",
            header_binding("a.example", "X-Key", "{secret}\r\nX-Evil: 1"),
        ),
        (
            "NUL in template",
            header_binding("a.example", "X-Key", "{secret}\0"),
        ),
        (
            "framing header",
            header_binding("a.example", "Content-Length", "{secret}"),
        ),
        (
            "host header",
            header_binding("a.example", "Host", "{secret}"),
        ),
        (
            "transfer-encoding",
            header_binding("a.example", "Transfer-Encoding", "{secret}"),
        ),
        (
            "space in header name",
            header_binding("a.example", "X Key", "{secret}"),
        ),
        (
            "CRLF in header name",
            header_binding("a.example", "X-Key\r\nX-Evil", "{secret}"),
        ),
        (
            "empty header name",
            header_binding("a.example", "", "{secret}"),
        ),
        ("basic auth user with ':'", basic("a:b")),
        ("basic auth user with CRLF", basic("a\r\nb")),
        ("query param with '&'", query("a&b")),
        ("query param with '='", query("a=b")),
        ("empty query param", query("")),
    ] {
        expect_err!(
            n,
            label,
            env.broker
                .put_bound_secret(ws, &name("new"), value, &b)
                .await,
            BrokerError::InvalidInput {
                field: "binding",
                ..
            }
        );
    }
    t.assert_nothing_happened().await;
    done("library bindings", n);
    assert!(n >= 32, "{n}");
}

#[tokio::test]
async fn malformed_byok_arns_and_regions_are_refused_before_any_aws_call() {
    let t = Refusals::stage().await;
    let (env, ws) = (&t.env, &t.ws);
    let mut n = 0;
    // Invalid ARNs and regions at enable_byok: refused before any AWS call.
    let role = "arn:aws:iam::222222222222:role/keybroker/KeybrokerAccess";
    let key = "arn:aws:kms:us-east-1:222222222222:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    for (label, r, k, region, field) in [
        ("role: not an ARN", "not-an-arn", key, None, "role_arn"),
        ("role: empty", "", key, None, "role_arn"),
        (
            "role: a user",
            "arn:aws:iam::222222222222:user/bob",
            key,
            None,
            "role_arn",
        ),
        (
            "role: short account",
            "arn:aws:iam::2222:role/R",
            key,
            None,
            "role_arn",
        ),
        (
            "role: wrong service",
            "arn:aws:sts::222222222222:role/R",
            key,
            None,
            "role_arn",
        ),
        ("key: not an ARN", role, "1234abcd", None, "key_arn"),
        (
            "key: alias",
            role,
            "arn:aws:kms:us-east-1:222222222222:alias/mine",
            None,
            "key_arn",
        ),
        (
            "key: bad region",
            role,
            "arn:aws:kms:moon-1:222222222222:key/abc",
            None,
            "key_arn",
        ),
        (
            "key: path trick",
            role,
            "arn:aws:kms:us-east-1:222222222222:key/../abc",
            None,
            "key_arn",
        ),
        (
            "key: CRLF",
            role,
            "arn:aws:kms:us-east-1:222222222222:key/abc\r\n",
            None,
            "key_arn",
        ),
        ("region: not a region", role, key, Some("moon-1"), "region"),
        ("region: uppercase", role, key, Some("US-EAST-1"), "region"),
    ] {
        let e = env.broker.enable_byok(ws, r, k, region).await.unwrap_err();
        assert!(
            matches!(&e, BrokerError::InvalidInput { field: f, .. } if *f == field),
            "{label}: {e:?}"
        );
        n += 1;
    }
    t.assert_nothing_happened().await;
    done("library BYOK ARNs", n);
    assert!(n >= 12, "{n}");
}

#[tokio::test]
async fn missing_things_are_not_found_and_stale_versions_conflict() {
    let t = Refusals::stage().await;
    let (env, ws, value) = (&t.env, &t.ws, &t.value);
    let role = "arn:aws:iam::222222222222:role/keybroker/KeybrokerAccess";
    let key = "arn:aws:kms:us-east-1:222222222222:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    let mut n = 0;
    // Things that do not exist.
    let ghost = crate::ws();
    expect_err!(
        n,
        "read a missing secret",
        env.broker.read_plaintext(ws, &name("ghost")).await,
        BrokerError::NotFound { what: "secret", .. }
    );
    expect_err!(
        n,
        "load a missing secret",
        env.broker.load(ws, &name("ghost")).await,
        BrokerError::NotFound { what: "secret", .. }
    );
    expect_err!(
        n,
        "delete a missing secret",
        env.broker.delete_secret(ws, &name("ghost")).await,
        BrokerError::NotFound { what: "secret", .. }
    );
    expect_err!(
        n,
        "rotate a missing secret",
        env.broker
            .rotate_secret(ws, &name("ghost"), Some(value), None)
            .await,
        BrokerError::NotFound { what: "secret", .. }
    );
    expect_err!(
        n,
        "verify BYOK that was never enabled",
        env.broker.verify_byok(ws).await,
        BrokerError::NotFound {
            what: "BYOK settings",
            ..
        }
    );
    expect_err!(
        n,
        "settings of an unknown workspace",
        env.broker.workspace(&ghost).await,
        BrokerError::NotFound {
            what: "workspace",
            ..
        }
    );
    expect_err!(
        n,
        "enable BYOK on an unknown workspace",
        env.broker.enable_byok(&ghost, role, key, None).await,
        BrokerError::NotFound {
            what: "workspace",
            ..
        }
    );
    expect_err!(
        n,
        "disable BYOK on an unknown workspace",
        env.broker.disable_byok(&ghost).await,
        BrokerError::NotFound {
            what: "workspace",
            ..
        }
    );
    expect_err!(
        n,
        "rotate with a stale version",
        env.broker
            .rotate_secret(ws, &name("good"), Some(value), Some(7))
            .await,
        BrokerError::Conflict { what: "secret", .. }
    );

    t.assert_nothing_happened().await;
    assert!(env.broker.list_secrets(&ghost).await.unwrap().is_empty());
    done("library missing", n);
    assert!(n >= 9, "{n}");
}

#[tokio::test]
async fn external_id_mismatch_refuses_enable_and_stores_nothing() {
    let env = setup().await;
    let ws = ws();
    let ext = env.broker.prepare_byok(&ws).await.unwrap().external_id;
    let before = state(&env, &ws).await;
    for trust in [Some(format!("{ext}x")), Some(String::new()), None] {
        let customer = Customer::create_with_trust(&ws, trust.as_deref()).await;
        let r = env
            .broker
            .enable_byok(&ws, &customer.role_arn, &customer.key_arn, None)
            .await;
        if trust.is_none() {
            // A trust policy without the condition lets the broker in: the
            // external id protects the customer only if they require it.
            // The broker still verified the link before storing it.
            r.unwrap();
            continue;
        }
        assert_revoked(r, RevokedReason::RoleAssumptionDenied);
        assert_eq!(state(&env, &ws).await, before, "trust {trust:?}");
    }
}
