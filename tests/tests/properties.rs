//! Property tests (proptest) on the three parsers an attacker can feed:
//! the stored blob (`Blob::decode`), the host binding (`Binding::check_url`)
//! and the inject event (`serde_json` into `InjectEvent`). None may panic;
//! the blob round-trips exactly; an allowed URL always reaches a bound
//! host and port. No AWS stack needed. The same surfaces have cargo-fuzz
//! targets in `fuzz/`.

// Test code: a panic is how a test reports failure.
#![allow(clippy::unwrap_used)]

use broker_core::blob::{Blob, NONCE_LEN, TAG_LEN};
use broker_core::context::BindingDigest;
use broker_core::{Binding, Injection, KeyMode};
use keybroker_lambda::contract::InjectEvent;
use proptest::prelude::*;

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

// --- blob -------------------------------------------------------------------

fn blob_strategy() -> impl Strategy<Value = Blob> {
    (
        prop_oneof![Just(KeyMode::Platform), Just(KeyMode::Byok)],
        "[ -~]{1,300}",
        proptest::collection::vec(any::<u8>(), 1..600),
        any::<[u8; NONCE_LEN]>(),
        // `None`: a version 1 blob; `Some`: version 2.
        proptest::option::of(any::<[u8; 32]>()),
        proptest::collection::vec(any::<u8>(), TAG_LEN..400),
    )
        .prop_map(
            |(key_mode, key_arn, encrypted_data_key, nonce, digest, ciphertext)| Blob {
                key_mode,
                key_arn,
                encrypted_data_key,
                nonce,
                binding_digest: digest.map(BindingDigest),
                ciphertext,
            },
        )
}

/// Bytes that start like a blob more often than pure noise would.
fn blobish_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..200),
        (
            proptest::collection::vec(any::<u8>(), 0..8),
            proptest::collection::vec(any::<u8>(), 0..200)
        )
            .prop_map(|(head, tail)| {
                let mut v = b"KBRK\x01\x00\x01".to_vec();
                v.extend(head);
                v.extend(tail);
                v
            }),
    ]
}

proptest! {
    #![proptest_config(config(2000))]

    #[test]
    fn blob_decode_never_panics_and_reencodes_exactly(bytes in blobish_bytes()) {
        if let Ok(b) = Blob::decode(&bytes) {
            // Whatever parses has exactly one encoding: the bytes it came from.
            prop_assert_eq!(b.encode().unwrap(), bytes);
        }
    }

    #[test]
    fn blob_round_trips(b in blob_strategy()) {
        let bytes = b.encode().unwrap();
        prop_assert_eq!(Blob::decode(&bytes).unwrap(), b.clone());
        // Every strict prefix that cuts into the header or tag is refused.
        let min = b.header().unwrap().len() + TAG_LEN;
        for cut in [0, 4, 7, 9, min - 1] {
            prop_assert!(Blob::decode(&bytes[..cut]).is_err());
        }
    }
}

// --- host binding -----------------------------------------------------------

fn binding() -> Binding {
    Binding {
        hosts: vec![
            "api.example.com".into(),
            "uploads.example.com:8443".into(),
            "127.0.0.1:8080".into(),
        ],
        inject: Injection::Header {
            name: "Authorization".into(),
            template: "Bearer {secret}".into(),
        },
        allow_insecure_http: false,
        agent_headers: None,
        on_echo: Default::default(),
        oauth2: None,
    }
}

/// (host, port) pairs a URL may reach under `binding()`.
fn bound(insecure: bool) -> Vec<(String, u16, &'static str)> {
    let mut v = vec![
        ("api.example.com".to_owned(), 443, "https"),
        ("uploads.example.com".to_owned(), 8443, "https"),
        ("127.0.0.1".to_owned(), 8080, "https"),
    ];
    // Plain http, when the deployment allows it, only to loopback literals.
    if insecure {
        v.push(("127.0.0.1".to_owned(), 8080, "http"));
    }
    v
}

/// URL-shaped strings built from pieces attackers use.
fn urlish() -> impl Strategy<Value = String> {
    let scheme = prop_oneof![
        Just("https://"),
        Just("http://"),
        Just("HTTPS://"),
        Just("https:/"),
        Just("https:\\\\"),
        Just("ftp://"),
        Just("//"),
        Just(""),
    ];
    let userinfo = prop_oneof![
        4 => Just(""),
        1 => Just("user@"),
        1 => Just("api.example.com@"),
        1 => Just("u:p@"),
        1 => Just("%40@"),
    ];
    let host = prop_oneof![
        3 => proptest::sample::select(vec![
            "api.example.com",
            "API.Example.COM",
            "api.example.com.",
            "api.example.com.evil.com",
            "evil.com",
            "uploads.example.com",
            "127.0.0.1",
            "127.1",
            "0x7f.0.0.1",
            "2130706433",
            "localhost",
            "[::1]",
            "[::ffff:127.0.0.1]",
            "api%2eexample.com",
            "xn--api-example-xyz.com",
            "аpi.example.com",
            "api.example.com\\@evil.com",
            "api.example.com%00.evil.com",
        ])
        .prop_map(str::to_owned),
        1 => "[a-z0-9.\\-]{0,20}".prop_map(|s: String| s),
    ];
    let port = prop_oneof![
        4 => Just(String::new()),
        1 => Just(":443".to_owned()),
        1 => Just(":8443".to_owned()),
        1 => Just(":8080".to_owned()),
        1 => Just(":80".to_owned()),
        1 => Just(":".to_owned()),
        1 => Just(":0443".to_owned()),
        1 => (0u32..70000).prop_map(|p| format!(":{p}")),
    ];
    let rest = prop_oneof![
        Just("/".to_owned()),
        Just(String::new()),
        Just("/x?y=1#z".to_owned()),
        Just("@evil.com/".to_owned()),
        Just("#@evil.com".to_owned()),
        "[ -~]{0,20}",
    ];
    (scheme, userinfo, host, port, rest).prop_map(|(s, u, h, p, r)| format!("{s}{u}{h}{p}{r}"))
}

fn assert_bound(raw: &str, insecure: bool) -> Result<(), TestCaseError> {
    let b = binding();
    if let Ok(allowed) = b.check_url(raw, insecure) {
        let url = &allowed.url;
        let host = url.host_str().unwrap_or_default().to_owned();
        let port = url.port_or_known_default().unwrap_or(0);
        prop_assert!(
            bound(insecure).contains(&(host.clone(), port, url.scheme())),
            "{raw:?} allowed to {}://{host}:{port}",
            url.scheme()
        );
        prop_assert!(
            url.username().is_empty() && url.password().is_none(),
            "{raw:?}"
        );
        let expected = if port == 443 || (port == 80 && url.scheme() == "http") {
            host
        } else {
            format!("{host}:{port}")
        };
        prop_assert_eq!(allowed.host, expected);
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(3000))]

    #[test]
    fn check_url_allows_only_bound_hosts(raw in urlish(), insecure in any::<bool>()) {
        assert_bound(&raw, insecure)?;
    }

    #[test]
    fn check_url_never_panics_on_any_string(raw in "\\PC{0,80}", insecure in any::<bool>()) {
        assert_bound(&raw, insecure)?;
    }
}

// --- inject event parser --------------------------------------------------------

fn jsonish() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        Just("null".to_owned()),
        Just("true".to_owned()),
        Just("1e999".to_owned()),
        Just("-0".to_owned()),
        Just("18446744073709551616".to_owned()),
        Just("\"\\ud800\"".to_owned()),
        Just("\"\\u0000\"".to_owned()),
        "\"[ -~]{0,10}\"",
        "[0-9]{1,25}",
    ];
    let key = prop_oneof![
        Just("workspace"),
        Just("secret"),
        Just("agent"),
        Just("request"),
        Just("method"),
        Just("url"),
        Just("headers"),
        Just("body"),
        Just("body_base64"),
        Just("timeout_ms"),
        Just("extra"),
    ];
    leaf.prop_recursive(6, 64, 8, move |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6)
                .prop_map(|v| format!("[{}]", v.join(","))),
            proptest::collection::vec((key.clone(), inner), 0..8).prop_map(|kv| {
                let fields: Vec<String> = kv
                    .into_iter()
                    .map(|(k, v)| format!("\"{k}\":{v}"))
                    .collect();
                format!("{{{}}}", fields.join(","))
            }),
        ]
    })
}

proptest! {
    #![proptest_config(config(2000))]

    #[test]
    fn event_parser_never_panics_on_jsonish_text(text in jsonish()) {
        let _ = serde_json::from_str::<InjectEvent>(&text);
        let _ = serde_json::from_str::<keybroker_lambda::admin::AdminRequest>(&text);
    }

    #[test]
    fn event_parser_never_panics_on_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = serde_json::from_slice::<InjectEvent>(&bytes);
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash(depth in 100usize..20_000, open in "[\\[{]") {
        let (o, c) = if open == "[" { ("[", "]") } else { ("{\"request\":", "}") };
        let text = format!("{}{}", o.repeat(depth), c.repeat(depth));
        prop_assert!(serde_json::from_str::<InjectEvent>(&text).is_err());
        prop_assert!(serde_json::from_str::<serde_json::Value>(&text).is_err() || depth <= 128);
    }
}

#[test]
fn valid_event_still_parses() {
    let text = r#"{"workspace":"acme","secret":"s","agent":"a",
        "request":{"method":"GET","url":"https://api.example.com/"}}"#;
    serde_json::from_str::<InjectEvent>(text).unwrap();
}
