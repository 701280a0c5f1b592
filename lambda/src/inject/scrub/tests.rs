//! The needles and the readings against encoders written independently.

#![allow(clippy::unwrap_used)]

use super::*;
use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use base64::Engine;

const SECRET: &str = "sk-live/abc+def?==<x>&'\"q";

fn found(hay: &str) -> usize {
    Needles::new(SECRET.as_bytes(), &[]).count(hay.as_bytes())
}

/// Encoders as third parties write them, independent of `forms.rs`.
fn reference_forms(s: &str) -> Vec<(&'static str, String)> {
    let b = s.as_bytes();
    let mut v = vec![("raw", s.to_owned()), ("upper", s.to_ascii_uppercase())];
    for k in 0..3 {
        let mut framed = b"xyz"[..k].to_vec();
        framed.extend_from_slice(b);
        framed.extend_from_slice(b"tail!");
        v.push(("b64", STANDARD.encode(&framed)));
        v.push(("b64url", URL_SAFE.encode(&framed)));
    }
    v.push(("b64 exact", STANDARD.encode(b)));
    v.push(("b64url nopad", URL_SAFE_NO_PAD.encode(b)));
    v.push(("hex", b.iter().map(|c| format!("{c:02x}")).collect()));
    v.push(("HEX", b.iter().map(|c| format!("{c:02X}")).collect()));
    v.push(("pct all", b.iter().map(|c| format!("%{c:02X}")).collect()));
    v.push(("pct lower", b.iter().map(|c| format!("%{c:02x}")).collect()));
    v.push(("form", url::form_urlencoded::byte_serialize(b).collect()));
    v.push(("json", serde_json::to_string(s).unwrap()));
    v.push((
        "json slash",
        serde_json::to_string(s).unwrap().replace('/', "\\/"),
    ));
    v.push((
        "json all",
        s.encode_utf16().map(|u| format!("\\u{u:04X}")).collect(),
    ));
    v.push((
        "html dec",
        s.chars().map(|c| format!("&#{};", c as u32)).collect(),
    ));
    v.push((
        "html hex",
        s.chars().map(|c| format!("&#X{:X};", c as u32)).collect(),
    ));
    v.push((
        "html named",
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
            .replace('\'', "&#x27;")
            .replace('/', "&#x2F;"),
    ));
    let n = Needles::new(s.as_bytes(), &[]);
    let start = n.public_prefix_len() + 1;
    v.push(("fragment", s[start..start + n.fragment_len()].to_owned()));
    v
}

#[test]
fn every_predicted_form_is_found_inside_other_text() {
    for (form, enc) in reference_forms(SECRET) {
        let hay = format!("{{\"data\":\"prefix{enc}suffix\"}}");
        assert!(found(&hay) >= 1, "{form} not found: {hay}");
    }
}

#[test]
fn the_basic_pair_is_found_without_its_prefix() {
    let pair = format!("user:{SECRET}");
    let header = format!("Basic {}", STANDARD.encode(&pair));
    let n = Needles::new(SECRET.as_bytes(), &[pair.as_bytes(), header.as_bytes()]);
    for hay in [pair.clone(), STANDARD.encode(&pair), URL_SAFE.encode(&pair)] {
        assert!(n.count(hay.as_bytes()) >= 1, "{hay}");
    }
}

#[test]
fn redaction_replaces_each_occurrence_and_counts_it() {
    let n = Needles::new(SECRET.as_bytes(), &[]);
    let mut body = format!("a={SECRET} b={}.", STANDARD.encode(SECRET)).into_bytes();
    assert_eq!(n.redact(&mut body), 2);
    // The last base64 group also carries the bits of what follows the
    // secret, so it is not part of the needle (2 bits of the secret).
    assert_eq!(body, b"a=[REDACTED] b=[REDACTED]Q==.");
    assert_eq!(n.count(&body), 0);
}

#[test]
fn clean_bodies_public_prefixes_and_short_fragments_are_untouched() {
    let secret = b"sk-live-4f9a1c2e8b7d6a5f4e3d2c1b0a9f8e7d";
    let n = Needles::new(secret, &[]);
    assert_eq!((n.public_prefix_len(), n.fragment_len()), (8, 16));
    let mut body = b"{\"login\":\"octocat\",\"hint\":\"sk-live-...8e7d\"}".to_vec();
    assert_eq!(n.redact(&mut body), 0);
    // The public prefix and 15 characters after it: under a window.
    assert_eq!(n.count(b"sk-live-4f9a1c2e8b7d6a5"), 0);
    assert_eq!(n.count(b"docs: keys start sk-live-"), 0);
    assert_eq!(
        n.count(b"..4f9a1c2e8b7d6a5f.."),
        1,
        "16 characters of the random part"
    );
}

#[test]
fn partial_escapes_utf16_and_double_encoding_are_read_as_the_agent_would() {
    let n = Needles::new(SECRET.as_bytes(), &[]);
    let partial = SECRET.replace('+', "\\u002B").replace('\'', "\\u0027");
    let go = SECRET.replace('+', "&#43;");
    let twice = SECRET.replace('+', "%252B");
    let le16: Vec<u8> = SECRET.encode_utf16().flat_map(u16::to_le_bytes).collect();
    let mut bom16 = vec![0xFE, 0xFF];
    bom16.extend(SECRET.encode_utf16().flat_map(u16::to_be_bytes));
    for hay in [
        partial.as_bytes(),
        go.as_bytes(),
        twice.as_bytes(),
        &le16,
        &bom16,
    ] {
        assert!(n.count(hay) >= 1, "{}", String::from_utf8_lossy(hay));
    }
    // A non-ASCII secret in UTF-16 with no BOM: found by its NULs.
    let accented = "pässwörd-Ünïcödé-0123456789";
    let n = Needles::new(accented.as_bytes(), &[]);
    let be16: Vec<u8> = accented.encode_utf16().flat_map(u16::to_be_bytes).collect();
    assert!(n.count(&be16) >= 1);
    let declared: Vec<u8> = accented.encode_utf16().flat_map(u16::to_le_bytes).collect();
    assert!(n.count_text(&declared, Some(Text::Utf16Le)) >= 1);
}

#[test]
fn long_secrets_get_strided_fragments_that_still_cover_every_slice() {
    let secret: Vec<u8> = (0..4096u32).map(|i| b'a' + (i * 7 % 26) as u8).collect();
    let n = Needles::new(&secret, &[]);
    assert!(n.len() < MAX_FRAGMENTS + 64, "{}", n.len());
    assert!(!n.complete());
    let hex: String = secret.iter().map(|c| format!("{c:02X}")).collect();
    assert!(
        n.count(&hex.as_bytes()[2000..]) >= 1,
        "tail of a long hex echo"
    );
    assert!(n.count(STANDARD.encode(&secret[5..]).as_bytes()) >= 1);
    let frag = n.fragment_len();
    let stride = (secret.len() - frag + 1).div_ceil(MAX_FRAGMENTS);
    let slice = frag + stride - 1;
    for start in [0, 1, 17, 1000, secret.len() - slice] {
        assert!(n.count(&secret[start..start + slice]) >= 1, "{start}");
    }
}

#[test]
fn base64_inner_characters_are_exactly_the_stable_ones() {
    let s = b"0123456789";
    for align in 0..3 {
        let inner = base64_inner(s, align, &STANDARD_NO_PAD).unwrap();
        for (pre, post) in [
            (&b"\x00\x00"[..align], &b""[..]),
            (&b"\xff\xff"[..align], b"\xff\xff"),
        ] {
            let whole = STANDARD.encode([pre, s.as_slice(), post].concat());
            let inner = std::str::from_utf8(&inner).unwrap();
            assert!(whole.contains(inner), "{align}: {inner} not in {whole}");
        }
    }
}
