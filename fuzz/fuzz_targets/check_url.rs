//! Any string into `Binding::check_url` with a fixed binding: never panics,
//! and an allowed URL always reaches exactly a bound host and port, with no
//! userinfo.
#![no_main]

use broker_core::{Binding, Injection};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(raw) = std::str::from_utf8(data) else {
        return;
    };
    for insecure in [false, true] {
        let binding = Binding {
            hosts: vec!["api.example.com".into(), "127.0.0.1:8080".into()],
            inject: Injection::Header {
                name: "Authorization".into(),
                template: "Bearer {secret}".into(),
            },
            allow_insecure_http: false,
            agent_headers: None,
            on_echo: Default::default(),
            oauth2: None,
        };
        if let Ok(allowed) = binding.check_url(raw, insecure) {
            let url = &allowed.url;
            let host = url.host_str().expect("allowed URL has a host");
            let port = url.port_or_known_default().expect("allowed URL has a port");
            let ok = matches!((host, port), ("api.example.com", 443) | ("127.0.0.1", 8080));
            assert!(ok, "{raw:?} allowed to {host}:{port}");
            // Plain http only with the deployment setting, only to loopback.
            assert!(url.scheme() == "https" || (insecure && host == "127.0.0.1"));
            assert!(url.username().is_empty() && url.password().is_none());
            let expected = if port == 8080 {
                format!("{host}:{port}")
            } else {
                host.to_owned()
            };
            assert_eq!(allowed.host, expected);
        }
    }
});
