//! The admin wire form is the contract crate's ([`keybroker_contract::admin`]:
//! one request struct per `"op"`, the [`AdminRequest`] enum, its names);
//! this module converts what those requests carry into broker-core's types,
//! which add the validation. Both conversions are exhaustive struct
//! literals and patterns: a field added to either side does not compile
//! until the other has it, and the test below parses the same JSON both ways.

use keybroker_contract as wire;

/// A binding as broker-core stores and checks it.
pub fn binding(b: wire::Binding) -> broker_core::Binding {
    let wire::Binding {
        hosts,
        inject,
        allow_insecure_http,
        agent_headers,
        on_echo,
        oauth2,
    } = b;
    broker_core::Binding {
        hosts,
        inject: match inject {
            wire::Injection::Header { name, template } => {
                broker_core::Injection::Header { name, template }
            }
            wire::Injection::BasicAuth { username } => {
                broker_core::Injection::BasicAuth { username }
            }
            wire::Injection::Query { param } => broker_core::Injection::Query { param },
        },
        allow_insecure_http,
        agent_headers,
        on_echo: match on_echo {
            wire::OnEcho::Withhold => broker_core::OnEcho::Withhold,
            wire::OnEcho::Redact => broker_core::OnEcho::Redact,
        },
        oauth2: oauth2.map(|o| {
            let wire::OAuth2Binding {
                token_endpoint,
                client_id,
                scope,
            } = o;
            broker_core::OAuth2Binding {
                token_endpoint,
                client_id,
                scope,
            }
        }),
    }
}

/// Limits as broker-core checks them.
pub fn limits(l: wire::Limits) -> broker_core::Limits {
    let wire::Limits {
        window_seconds,
        workspace,
        agent,
    } = l;
    broker_core::Limits {
        window_seconds,
        workspace,
        agent,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The same JSON reads the same way through the wire type and
    /// broker-core's, and writes back byte for byte.
    #[test]
    fn bindings_and_limits_read_the_same_both_ways() {
        for json in [
            r#"{"hosts":["api.github.com"],"inject":{"type":"header","name":"authorization","template":"Bearer {secret}"},"allow_insecure_http":false}"#,
            r#"{"hosts":["h:8443"],"inject":{"type":"basic_auth","username":"u"},"allow_insecure_http":false,"agent_headers":["accept"],"on_echo":"redact"}"#,
            r#"{"hosts":["h"],"inject":{"type":"query","param":"key"},"allow_insecure_http":false,"oauth2":{"token_endpoint":"https://t/x","client_id":"c","scope":"s"}}"#,
        ] {
            let wire: wire::Binding = serde_json::from_str(json).unwrap();
            let core: broker_core::Binding = serde_json::from_str(json).unwrap();
            assert_eq!(binding(wire.clone()), core);
            assert_eq!(serde_json::to_string(&wire).unwrap(), json);
            assert_eq!(serde_json::to_string(&core).unwrap(), json);
        }
        let json = r#"{"window_seconds":60,"workspace":10,"agent":null}"#;
        let wire: wire::Limits = serde_json::from_str(json).unwrap();
        let core: broker_core::Limits = serde_json::from_str(json).unwrap();
        assert_eq!(limits(wire), core);
        assert_eq!(serde_json::to_string(&wire).unwrap(), json);
    }
}
