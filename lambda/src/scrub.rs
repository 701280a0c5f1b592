//! Response scrubbing: if an upstream echoes the credential (debug
//! endpoints, error pages that reflect headers), replace it before the agent
//! sees the response, in every form we can predict: raw, base64 (standard and
//! URL-safe, padded or not), percent-encoded, hex (lower and upper case), and
//! the injected header value itself.

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine;
use zeroize::Zeroizing;

/// What a scrubbed occurrence becomes.
pub const REDACTED: &[u8] = b"[REDACTED]";

/// The encoded forms to look for. Derived from the secret, so wiped on drop
/// like the secret itself.
pub struct Needles(Vec<Zeroizing<Vec<u8>>>);

/// Every form of `secret` (and of the injected `extra` value) to scrub.
pub fn needles(secret: &[u8], extra: &[&[u8]]) -> Needles {
    let mut out: Vec<Zeroizing<Vec<u8>>> = Vec::new();
    let mut add = |v: Vec<u8>| {
        let v = Zeroizing::new(v);
        if !v.is_empty() && !out.contains(&v) {
            out.push(v);
        }
    };
    for s in std::iter::once(secret).chain(extra.iter().copied()) {
        add(s.to_vec());
        for engine in [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD] {
            add(engine.encode(s).into_bytes());
        }
        add(url::form_urlencoded::byte_serialize(s)
            .collect::<String>()
            .into_bytes());
        add(percent_encode_all(s));
        add(hex(s, b"0123456789abcdef"));
        add(hex(s, b"0123456789ABCDEF"));
    }
    // Longest first, so a long form is replaced before a shorter one inside it.
    out.sort_by_key(|n| std::cmp::Reverse(n.len()));
    Needles(out)
}

/// Replace every occurrence of every needle; returns how many were replaced.
pub fn scrub(haystack: &mut Vec<u8>, needles: &Needles) -> usize {
    let mut count = 0;
    for n in &needles.0 {
        let n: &[u8] = n;
        if n.len() > haystack.len() {
            continue;
        }
        let mut out = Vec::with_capacity(haystack.len());
        let mut i = 0;
        while i < haystack.len() {
            if haystack[i..].starts_with(n) {
                out.extend_from_slice(REDACTED);
                i += n.len();
                count += 1;
            } else {
                out.push(haystack[i]);
                i += 1;
            }
        }
        *haystack = out;
    }
    count
}

fn hex(s: &[u8], digits: &[u8; 16]) -> Vec<u8> {
    s.iter()
        .flat_map(|b| [digits[usize::from(b >> 4)], digits[usize::from(b & 15)]])
        .collect()
}

fn percent_encode_all(s: &[u8]) -> Vec<u8> {
    s.iter()
        .flat_map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(b) {
                vec![*b]
            } else {
                format!("%{b:02X}").into_bytes()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_encoding_is_scrubbed() {
        let secret = b"sk-live/abc+def?==";
        let n = needles(secret, &[b"Bearer sk-live/abc+def?=="]);
        let b64 = STANDARD.encode(secret);
        let b64url = URL_SAFE_NO_PAD.encode(secret);
        let pct: String = url::form_urlencoded::byte_serialize(secret).collect();
        let hexl = hex(secret, b"0123456789abcdef");
        let mut body = format!(
            "raw={} b64={b64} url={b64url} pct={pct} hex={} auth=Bearer {}",
            String::from_utf8_lossy(secret),
            String::from_utf8_lossy(&hexl),
            String::from_utf8_lossy(secret)
        )
        .into_bytes();
        let count = scrub(&mut body, &n);
        let text = String::from_utf8(body).unwrap();
        assert!(count >= 5, "{count}: {text}");
        for form in [
            "sk-live",
            &b64,
            &b64url,
            &pct,
            std::str::from_utf8(&hexl).unwrap(),
        ] {
            assert!(!text.contains(form), "{form} survived: {text}");
        }
        assert!(text.starts_with("raw=[REDACTED] "));
    }

    #[test]
    fn clean_bodies_are_untouched() {
        let n = needles(b"secret-value", &[]);
        let mut body = b"{\"login\":\"octocat\"}".to_vec();
        assert_eq!(scrub(&mut body, &n), 0);
        assert_eq!(body, b"{\"login\":\"octocat\"}");
    }
}
