//! Method override by parameter, as tables: each spelling in the query,
//! form, multipart and JSON bodies, encoded and folded; what passes.

use super::*;

/// Spellings servers read as `_method` (or another override name).
const OVERRIDES: &[&str] = &[
    "_method",
    "_METHOD",
    "_Method",
    " _method",
    "_method ",
    ".method",
    "-method",
    "_method[]",
    "_method[x]",
    "_HttpMethod",
    "_httpmethod",
    "x-http-method-override",
    "X_HTTP_METHOD_OVERRIDE",
    "x-http-method",
    "x-method-override",
    "%5Fmethod",
    "%5fMETHOD",
];

fn pairs(k: &str) -> Vec<(String, String)> {
    vec![
        ("a".to_owned(), "1".to_owned()),
        (k.to_owned(), "DELETE".to_owned()),
    ]
}

#[test]
fn every_override_spelling_is_refused_in_the_decoded_query() {
    for k in OVERRIDES {
        let err = check_query(&pairs(k)).unwrap_err();
        assert!(err.contains("method override"), "{k}: {err}");
    }
    for ok in ["method", "_methods", "my_method", "http_method", "_m"] {
        assert!(check_query(&pairs(ok)).is_ok(), "{ok}");
    }
}

/// A key as it would be written in a form body: encoded like a browser
/// (every byte `%XX` but letters), or raw.
fn encoded(k: &str) -> String {
    k.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

const FORM: Option<&str> = Some("application/x-www-form-urlencoded");

#[test]
fn every_override_spelling_is_refused_in_a_form_body_raw_and_encoded() {
    for k in OVERRIDES {
        for key in [k.to_string(), encoded(k)] {
            for body in [
                format!("{key}=DELETE"),
                format!("a=1&{key}=DELETE"),
                format!("a=1;{key}=DELETE"),
                format!("a=1&{key}"),
            ] {
                let err = check_body(FORM, body.as_bytes()).unwrap_err();
                assert!(err.contains("method override"), "{body}: {err}");
            }
        }
    }
    // `+` is a space to form decoders: `+_method` is ` _method`, trimmed.
    assert!(check_body(FORM, b"+_method=DELETE").is_err());
    assert!(
        check_body(FORM, b"a=_method&b=2").is_ok(),
        "a value is data"
    );
    assert!(check_body(FORM, b"method=DELETE&q=a+b%20c").is_ok());
}

#[test]
fn a_declared_form_that_does_not_parse_is_refused() {
    for body in ["a=%zz", "a%4=1", "x=1&%"] {
        let err = check_body(FORM, body.as_bytes()).unwrap_err();
        assert!(err.contains("percent-escape"), "{body}: {err}");
    }
}

fn multipart_body(name_param: &str) -> String {
    format!(
        "--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n\
         --XyZ\r\nContent-Disposition: form-data; {name_param}\r\n\r\nDELETE\r\n--XyZ--\r\n"
    )
}

const MULTIPART: Option<&str> = Some("multipart/form-data; boundary=XyZ");

#[test]
fn every_override_spelling_is_refused_as_a_multipart_part_name() {
    for k in OVERRIDES {
        for param in [
            format!("name=\"{k}\""),
            format!("NAME=\"{k}\""),
            format!("name*=UTF-8''{}", encoded(k)),
        ] {
            let body = multipart_body(&param);
            let err = check_body(MULTIPART, body.as_bytes()).unwrap_err();
            assert!(err.contains("method override"), "{param}: {err}");
        }
    }
    // Unquoted, and with a quoted boundary in the Content-Type.
    let body = multipart_body("name=_method");
    assert!(check_body(
        Some("multipart/form-data; boundary=\"XyZ\""),
        body.as_bytes()
    )
    .is_err());
    // A file part's name counts; its filename does not.
    let ok = multipart_body("name=\"upload\"; filename=\"_method\"");
    assert!(check_body(MULTIPART, ok.as_bytes()).is_ok(), "{ok}");
}

#[test]
fn a_multipart_part_a_lenient_parser_would_find_is_refused() {
    // Bare LF line ends: the strict pass sees one part named `a`; a
    // forgiving server sees `_method` too.
    let body = "--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\n--XyZ\nContent-Disposition: form-data; name=\"_method\"\n\nDELETE\r\n--XyZ--";
    assert!(check_body(MULTIPART, body.as_bytes()).is_err());
}

#[test]
fn a_declared_multipart_that_does_not_parse_is_refused() {
    let no_disposition = "--XyZ\r\nContent-Type: text/plain\r\n\r\n1\r\n--XyZ--";
    let unclosed = "--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1";
    let not_form_data = "--XyZ\r\nContent-Disposition: attachment; name=\"a\"\r\n\r\n1\r\n--XyZ--";
    let folded = "--XyZ\r\nContent-Disposition: form-data;\r\n name=\"a\"\r\n\r\n1\r\n--XyZ--";
    for body in [
        "no boundary at all",
        no_disposition,
        unclosed,
        not_form_data,
        folded,
        "--XyZ--",
    ] {
        let err = check_body(MULTIPART, body.as_bytes()).unwrap_err();
        assert!(err.contains("does not parse"), "{body}: {err}");
    }
    for ct in ["multipart/form-data", "multipart/form-data; boundary="] {
        assert!(check_body(Some(ct), b"x").is_err(), "{ct}");
    }
    assert!(check_body(MULTIPART, multipart_body("name=\"b\"").as_bytes()).is_ok());
}

const JSON: Option<&str> = Some("application/json");

#[test]
fn every_override_spelling_is_refused_as_a_top_level_json_key() {
    for k in OVERRIDES {
        let key = serde_json::to_string(k).unwrap();
        let body = format!("{{\"a\":1,{key}:\"DELETE\"}}");
        for ct in [
            JSON,
            Some("application/merge-patch+json; charset=utf-8"),
            Some("text/json"),
        ] {
            let err = check_body(ct, body.as_bytes()).unwrap_err();
            assert!(err.contains("method override"), "{body}: {err}");
        }
    }
    // A JSON escape of the key is the key.
    assert!(check_body(JSON, br#"{"\u005fmethod":"DELETE"}"#).is_err());
    // Nested keys and values are data.
    assert!(check_body(JSON, br#"{"a":{"_method":"DELETE"},"b":"_method"}"#).is_ok());
    assert!(check_body(JSON, br#"[{"_method":"DELETE"}]"#).is_ok());
}

#[test]
fn a_declared_json_body_that_does_not_parse_is_refused() {
    for body in [r#"{"_method":"#, "{'a':1}", "{} x", "[1,", r#"{"a":1,}"#] {
        let err = check_body(JSON, body.as_bytes()).unwrap_err();
        assert!(err.contains("does not parse"), "{body}: {err}");
    }
}

#[test]
fn bodies_of_other_types_are_read_leniently_and_never_refused_for_not_parsing() {
    // Rack reads a POST body without a Content-Type as a form.
    for ct in [None, Some("text/plain"), Some("application/octet-stream")] {
        assert!(check_body(ct, b"_method=DELETE").is_err(), "{ct:?}");
        assert!(check_body(ct, b"a=%zz&%5Fmethod=PUT").is_err(), "{ct:?}");
        assert!(
            check_body(ct, br#"{"_method":"DELETE"}"#).is_err(),
            "{ct:?}"
        );
        for ok in [
            &b"hello world"[..],
            b"{not json",
            b"%zz",
            b"\xff\xfe\x00",
            b"a=1&b=2",
        ] {
            assert!(check_body(ct, ok).is_ok(), "{ct:?} {ok:?}");
        }
    }
    assert!(check_body(JSON, b"").is_ok());
}

#[test]
fn only_utf8_charsets_are_accepted() {
    for ct in [
        "application/json; charset=utf-16",
        "application/x-www-form-urlencoded; charset=\"UTF-32\"",
        "text/plain; charset=utf-7",
        "multipart/form-data; boundary=XyZ; charset=ibm037",
    ] {
        let err = check_body(Some(ct), b"{}").unwrap_err();
        assert!(err.contains("charset"), "{ct}: {err}");
    }
    for ct in [
        "application/json; charset=UTF-8",
        "text/plain; charset=us-ascii",
        "application/json;charset=\"utf-8\"",
    ] {
        assert!(check_body(Some(ct), b"{}").is_ok(), "{ct}");
    }
}
