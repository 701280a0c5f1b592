use super::*;

fn binding(hosts: &[&str]) -> Binding {
    Binding {
        hosts: hosts.iter().map(|s| s.to_string()).collect(),
        inject: Injection::Header {
            name: "Authorization".into(),
            template: "Bearer {secret}".into(),
        },
        allow_insecure_http: false,
        agent_headers: None,
        on_echo: OnEcho::Withhold,
        oauth2: None,
    }
}

/// Bindings stored before `on_echo` existed read as `withhold` and
/// serialize back byte for byte; `redact` is opt-in; typos are refused.
#[test]
fn on_echo_defaults_to_withhold_and_old_json_is_unchanged() {
    let old = r#"{"hosts":["api.example.com"],"inject":{"type":"header","name":"x-key","template":"{secret}"},"allow_insecure_http":false}"#;
    let b: Binding = serde_json::from_str(old).unwrap();
    assert_eq!(b.on_echo, OnEcho::Withhold);
    assert_eq!(serde_json::to_string(&b).unwrap(), old);
    let redact = old.replace("false}", r#"false,"on_echo":"redact"}"#);
    let r: Binding = serde_json::from_str(&redact).unwrap();
    assert_eq!(r.on_echo, OnEcho::Redact);
    assert_eq!(serde_json::to_string(&r).unwrap(), redact);
    for bad in [
        r#""on_echo":"pass""#,
        r#""on_echo":null"#,
        r#""on_echho":"redact""#,
    ] {
        let text = old.replace("false}", &format!("false,{bad}}}"));
        assert!(serde_json::from_str::<Binding>(&text).is_err(), "{text}");
    }
}

#[test]
fn exact_host_and_port_only() {
    let b = binding(&["api.github.com", "uploads.example.com:8443"]);
    b.validate().unwrap();
    for ok in [
        "https://api.github.com/user",
        "https://API.GitHub.com/user?x=1",
        "https://api.github.com:443/x",
        "https://uploads.example.com:8443/",
    ] {
        assert!(b.check_url(ok, false).is_ok(), "{ok}");
    }
    for bad in [
        "http://api.github.com/user",         // downgrade
        "https://api.github.com.evil.com/",   // suffix
        "https://evil.com/?h=api.github.com", // query
        "https://api.github.com@evil.com/",   // userinfo trick
        "https://user:pw@api.github.com/",    // userinfo
        "https://api.github.com./",           // trailing dot
        "https://api.github.com:444/",        // other port
        "https://uploads.example.com/",       // bound port only
        "https://140.82.112.6/",              // IP literal
        "https://xn--pple-43d.com/",          // punycode lookalike
        "https://аpple.com/",                 // IDN (Cyrillic a)
        "ftp://api.github.com/",
        "api.github.com/user",
        "",
    ] {
        assert!(b.check_url(bad, false).is_err(), "{bad}");
    }
}

#[test]
fn http_only_when_allowed_and_ports_explicit() {
    let mut b = binding(&["127.0.0.1:8080"]);
    assert!(b.check_url("http://127.0.0.1:8080/", false).is_err());
    // The stored flag grants nothing: only the deployment's does.
    b.allow_insecure_http = true;
    assert!(b.check_url("http://127.0.0.1:8080/", false).is_err());
    assert_eq!(
        b.check_url("http://127.0.0.1:8080/x", true).unwrap().host,
        "127.0.0.1:8080"
    );
    assert!(b.check_url("http://127.0.0.1:8081/", true).is_err());
    assert!(b.check_url("http://localhost:8080/", true).is_err());
    // Even a deployment that allows http never sends it off the machine.
    let public = binding(&["api.example.com"]);
    assert!(public.check_url("http://api.example.com/", true).is_err());
}

#[test]
fn invalid_bindings_are_rejected() {
    let header = |name: &str, template: &str| Binding {
        inject: Injection::Header {
            name: name.into(),
            template: template.into(),
        },
        ..binding(&["a.example"])
    };
    for b in [
        binding(&[]),
        binding(&["*.example.com"]),
        binding(&["Example.com"]),
        binding(&["example.com."]),
        binding(&["example.com:0"]),
        binding(&["example.com:http"]),
        header("Host", "{secret}"),
        header("Content-Length", "{secret}"),
        header("X Key", "{secret}"),
        header("x-key", "no placeholder"),
        header("x-key", "{secret}{secret}"),
        header("x-key", "{secret}\r\nevil: 1"),
    ] {
        assert!(b.validate().is_err(), "{b:?}");
    }
    let q = Binding {
        inject: Injection::Query {
            param: "a&b".into(),
        },
        ..binding(&["a.example"])
    };
    assert!(q.validate().is_err());
    let allow = |h: &str| Binding {
        agent_headers: Some(vec![h.to_owned()]),
        ..binding(&["a.example"])
    };
    allow("accept").validate().unwrap();
    for h in ["x-forwarded-for", "Range", "authorization", "bad name"] {
        assert!(allow(h).validate().is_err(), "{h}");
    }
    assert!(header("X-HTTP-Method-Override", "{secret}")
        .validate()
        .is_err());
}

#[test]
fn json_shape_is_stable() {
    let b: Binding = serde_json::from_str(
        r#"{"hosts":["api.example.com"],"inject":{"type":"basic_auth","username":"me"}}"#,
    )
    .unwrap();
    assert_eq!(b.inject.header_name().as_deref(), Some("authorization"));
    assert!(serde_json::from_str::<Binding>(
        r#"{"hosts":[],"inject":{"type":"query","param":"k"},"extra":1}"#
    )
    .is_err());
}
