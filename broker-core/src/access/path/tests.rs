use super::*;

#[test]
fn unreserved_escapes_are_decoded_others_uppercased() {
    assert_eq!(normalise_path("/%61dmin").unwrap(), "/admin");
    assert_eq!(normalise_path("/%41%7e%2D%5f%2e").unwrap(), "/A~-_.");
    assert_eq!(normalise_path("/a%2cb%c3%a9").unwrap(), "/a%2Cb%C3%A9");
    assert_eq!(normalise_path("").unwrap(), "/");
    assert_eq!(normalise_path("/repos/").unwrap(), "/repos/");
    assert_eq!(
        normalise_path("/a:b@c!$&'()*+,=").unwrap(),
        "/a:b@c!$&'()*+,="
    );
}

#[test]
fn ambiguous_paths_are_refused() {
    for bad in [
        "/a%2Fadmin",
        "/a%2fadmin",
        "/a%5Cadmin",
        "/a%5cadmin",
        "/a\\admin",
        "/%2e%2e/admin",
        "/.%2e/admin",
        "/%2E/admin",
        "/a/../admin",
        "/a/./admin",
        "/%252e%252e/admin",
        "/admin;x=1",
        "/admin;",
        "/a%00",
        "/a%0a",
        "/a%7F",
        "/a\u{1}",
        "/a%zz",
        "/a%4",
        "/a%",
        "//admin",
        "/a//b",
        "/a b",
        "/a\"b",
        "/é",
        "/a[b]",
        "a/b",
    ] {
        assert!(normalise_path(bad).is_err(), "{bad:?} must be refused");
    }
}

#[test]
fn query_is_decoded_for_the_policy_and_reencoded_for_the_server() {
    let (pairs, text) = normalise_query("st%61te=open&q=a%20b%2Bc&flag").unwrap();
    assert_eq!(
        pairs,
        [
            ("state".to_owned(), "open".to_owned()),
            ("q".into(), "a b+c".into()),
            ("flag".into(), String::new())
        ]
    );
    assert_eq!(text.as_deref(), Some("state=open&q=a%20b%2Bc&flag="));
    assert_eq!(normalise_query("").unwrap(), (Vec::new(), None));
    assert_eq!(
        normalise_query("p=100%25").unwrap().0[0].1,
        "100%",
        "a literal percent is data in a query"
    );
}

#[test]
fn ambiguous_queries_are_refused() {
    for bad in [
        "state=open&state=closed",
        "state=open&st%61te=closed",
        "q=a+b",
        "a=1;b=2",
        "a=b=c",
        "a=1&&b=2",
        "a=1&",
        "=x",
        "a=%0a",
        "a=%zz",
        "a=%ff",
        "a=\u{7f}",
        "a=<b>",
    ] {
        assert!(normalise_query(bad).is_err(), "{bad:?} must be refused");
    }
}

#[test]
fn target_uses_the_raw_text_not_a_parser_view() {
    let t = normalise_target("http://h:1/%61dmin?st%61te=open#frag").unwrap();
    assert_eq!(t.path, "/admin");
    assert_eq!(t.query_text.as_deref(), Some("state=open"));
    assert_eq!(normalise_target("https://h").unwrap().path, "/");
    assert_eq!(normalise_target("https://h?a=1").unwrap().path, "/");
    for bad in [
        "http://h/a\\..\\admin",
        "http://h/a/%2e%2e/admin",
        "http://h/a b",
        "http://h/a\t",
        "h/a",
    ] {
        assert!(normalise_target(bad).is_err(), "{bad:?}");
    }
}

mod props {
    use super::super::*;
    use proptest::prelude::*;

    fn raw_path() -> impl Strategy<Value = String> {
        // Segments built from the interesting alphabet: escapes of every
        // class, dots, separators, parameters.
        let atom = prop_oneof![
            "[a-zA-Z0-9._~!$&'()*+,=:@-]{0,4}",
            Just("%2e".to_owned()),
            Just("%2E".to_owned()),
            Just("%2f".to_owned()),
            Just("%5C".to_owned()),
            Just("%25".to_owned()),
            Just(";".to_owned()),
            Just(".".to_owned()),
            Just("..".to_owned()),
            "%[0-9a-fA-F]{2}",
        ];
        prop::collection::vec(prop::collection::vec(atom, 0..4), 0..5).prop_map(|segs| {
            segs.into_iter()
                .map(|atoms| format!("/{}", atoms.concat()))
                .collect::<String>()
        })
    }

    proptest! {
        #[test]
        fn normalise_is_idempotent_and_never_yields_separators_or_dots(raw in raw_path()) {
            if let Ok(once) = normalise_path(&raw) {
                prop_assert_eq!(normalise_path(&once), Ok(once.clone()));
                let lower = once.to_ascii_lowercase();
                for forbidden in ["%2f", "%5c", "%25", ";", "\\", "//"] {
                    prop_assert!(!lower.contains(forbidden), "{} in {}", forbidden, once);
                }
                for seg in once.split('/').skip(1) {
                    prop_assert!(seg != "." && seg != "..", "dot segment in {}", once);
                }
                // Escapes left are uppercase and never of unreserved bytes.
                let b = once.as_bytes();
                for (i, _) in once.match_indices('%') {
                    let d = escape_at(b, i).unwrap();
                    prop_assert!(!is_unreserved(d));
                    prop_assert!(!b[i + 1..i + 3].iter().any(u8::is_ascii_lowercase));
                }
            }
        }

        #[test]
        fn query_text_is_a_fixed_point(raw in "[a-z%0-9=&]{0,24}") {
            if let Ok((pairs, Some(text))) = normalise_query(&raw) {
                let (again, text2) = normalise_query(&text).unwrap();
                prop_assert_eq!(pairs, again);
                prop_assert_eq!(Some(text), text2);
            }
        }
    }
}
