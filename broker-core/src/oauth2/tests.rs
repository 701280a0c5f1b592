use super::*;

fn client() -> OAuth2Binding {
    OAuth2Binding {
        token_endpoint: "https://idp.example/token".into(),
        client_id: "kb".into(),
        scope: None,
    }
}

#[test]
fn material_round_trips_and_refuses_plain_strings() {
    let m = Material {
        refresh_token: SecretValue::from_string("rt-1".into()).unwrap(),
        client_secret: Some(SecretValue::from_string("cs-1".into()).unwrap()),
    };
    let v = m.to_value().unwrap();
    let back = Material::from_value(&v).unwrap();
    assert_eq!(back.refresh_token.expose(), b"rt-1");
    assert_eq!(back.client_secret.unwrap().expose(), b"cs-1");
    let plain = SecretValue::from_string("sk-live-123".into()).unwrap();
    let e = Material::from_value(&plain).unwrap_err();
    assert!(!e.to_string().contains("sk-live"), "{e}");
    assert_eq!(
        format!("{back_dbg:?}", back_dbg = Material::from_value(&v).unwrap()),
        "Material(<redacted>)"
    );
}

#[test]
fn invalid_grant_is_reauth_required_and_descriptions_are_dropped() {
    let a = TokenAnswer {
        status: 400,
        body: Zeroizing::new(
            br#"{"error":"invalid_grant","error_description":"rt-1 is used"}"#.to_vec(),
        ),
    };
    let e = parse_answer(&a, "gh").err().unwrap();
    assert!(matches!(e, BrokerError::ReauthRequired { .. }));
    assert!(!e.to_string().contains("rt-1"));
    let a = TokenAnswer {
        status: 401,
        body: Zeroizing::new(br#"{"error":"invalid_client\"<x>"}"#.to_vec()),
    };
    let e = parse_answer(&a, "gh").err().unwrap();
    assert_eq!(e.kind(), "oauth2_refused");
    assert!(e.to_string().contains("invalid_clientx"), "{e}");
    let a = TokenAnswer {
        status: 503,
        body: Zeroizing::new(b"down".to_vec()),
    };
    assert_eq!(parse_answer(&a, "gh").err().unwrap().kind(), "unavailable");
}

#[test]
fn token_response_parses_rotation_and_default_lifetime() {
    let a = TokenAnswer {
        status: 200,
        body: Zeroizing::new(
            br#"{"access_token":"at","refresh_token":"rt2","token_type":"Bearer"}"#.to_vec(),
        ),
    };
    let t = parse_answer(&a, "gh").unwrap();
    assert_eq!(t.access_token.expose(), b"at");
    assert_eq!(t.refresh_token.unwrap().expose(), b"rt2");
    assert_eq!(t.expires_in, DEFAULT_EXPIRES_IN);
}

#[test]
fn forms_carry_the_client_and_grant() {
    let rt = SecretValue::from_string("r t&1".into()).unwrap();
    let body = TokenForm::Refresh {
        client: &client(),
        refresh_token: &rt,
        client_secret: None,
    }
    .encode()
    .unwrap();
    assert_eq!(
        std::str::from_utf8(body.expose()).unwrap(),
        "grant_type=refresh_token&refresh_token=r+t%261&client_id=kb"
    );
}

#[test]
fn endpoint_rules() {
    let mut b = client();
    b.validate().unwrap();
    for bad in [
        "ftp://x/token",
        "https://u:p@x/token",
        "https://x/token#f",
        "not a url",
    ] {
        b.token_endpoint = bad.into();
        assert!(b.validate().is_err(), "{bad}");
    }
}

#[test]
fn pkce_is_s256_of_a_43_char_verifier() {
    let (v, c) = pkce_pair().unwrap();
    assert_eq!(v.len(), 43);
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, v.expose());
    assert_eq!(c, base64url(d.as_ref()));
    // RFC 7636 appendix B.
    let d = aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        b"dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
    );
    assert_eq!(
        base64url(d.as_ref()),
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    );
}

#[test]
fn refresh_margin_is_capped_by_a_quarter_of_the_lifetime() {
    let s = OAuth2Settings::default();
    assert_eq!(s.refresh_at_ms(0, 3_600_000), 3_540_000);
    assert_eq!(s.refresh_at_ms(0, 8_000), 6_000);
}
