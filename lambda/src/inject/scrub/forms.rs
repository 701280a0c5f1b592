//! The encoded forms of a value that encoders write when they escape
//! everything they escape: base64 at each alignment, hex, percent-encoding,
//! JSON and HTML escapes (the list is in the parent module's docs). Each is
//! written into a buffer sized exactly first ([`exact`]), so no buffer
//! holding part of the secret is reallocated.

use base64::engine::general_purpose::{GeneralPurpose, STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use base64::Engine;
use zeroize::Zeroizing;

use super::Form;

pub(super) fn copy(s: &[u8]) -> Form {
    let mut v = Zeroizing::new(Vec::with_capacity(s.len()));
    v.extend_from_slice(s);
    v
}

/// Somewhere an encoder writes: counting first, then filling a buffer of
/// exactly that size, so no buffer holding part of the secret is ever
/// reallocated (which would leave the old one unwiped).
trait Sink {
    fn put(&mut self, bytes: &[u8]);
}

impl Sink for usize {
    fn put(&mut self, bytes: &[u8]) {
        *self += bytes.len();
    }
}

impl Sink for Vec<u8> {
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

/// Run `encode` twice: once to size the output, once to write it.
fn exact(encode: impl Fn(&mut dyn Sink)) -> Form {
    let mut len = 0usize;
    encode(&mut len);
    let mut out = Zeroizing::new(Vec::with_capacity(len));
    encode(&mut *out);
    out
}

const HEX_LOWER: &[u8; 16] = b"0123456789abcdef";

fn put_hex_byte(out: &mut dyn Sink, b: u8) {
    out.put(&[
        HEX_LOWER[usize::from(b >> 4)],
        HEX_LOWER[usize::from(b & 15)],
    ]);
}

/// `n` in lowercase hex, at least `width` digits.
fn put_hex(out: &mut dyn Sink, n: u32, width: usize) {
    let mut digits = [0u8; 8];
    let mut i = digits.len();
    let mut n = n;
    while n > 0 || digits.len() - i < width {
        i -= 1;
        digits[i] = HEX_LOWER[(n & 15) as usize];
        n >>= 4;
    }
    out.put(&digits[i..]);
}

fn put_decimal(out: &mut dyn Sink, n: u32) {
    let mut digits = [0u8; 10];
    let mut i = digits.len();
    let mut n = n;
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.put(&digits[i..]);
}

/// The JSON string escape of `s` as serde_json and most encoders write it.
pub(super) fn json_minimal(s: &str) -> Form {
    exact(|o| json(o, s, Json::Minimal))
}

/// Every encoded form of `s` (not the raw value itself).
pub(super) fn encoded_forms(s: &[u8]) -> Vec<Form> {
    let mut out = Vec::new();
    for engine in [&STANDARD_NO_PAD, &URL_SAFE_NO_PAD] {
        for align in 0..3 {
            out.extend(base64_inner(s, align, engine));
        }
    }
    out.push(exact(|o| s.iter().for_each(|&b| put_hex_byte(o, b))));
    for keep in [
        b"".as_slice(),
        b"-._~".as_slice(),
        b"-._~/".as_slice(),
        b"-._~!'()*".as_slice(),
    ] {
        out.push(exact(|o| percent(o, s, keep, false)));
    }
    out.push(exact(|o| percent(o, s, b"-._*", true)));
    if let Ok(text) = std::str::from_utf8(s) {
        for style in [
            Json::Minimal,
            Json::Slash,
            Json::HtmlSafe,
            Json::HtmlSafeSlash,
            Json::All,
        ] {
            out.push(exact(|o| json(o, text, style)));
        }
        for style in [
            Html::Named,
            Html::Owasp,
            Html::Apos,
            Html::Decimal,
            Html::Hex,
        ] {
            out.push(exact(|o| html(o, text, style)));
        }
    }
    out
}

/// The base64 characters of `s` that do not depend on what surrounds it,
/// when `s` starts `align` bytes into a 3-byte group of a longer encoded
/// string. Padding never falls inside this range, so one needle per
/// alphabet and alignment covers padded and unpadded encodings.
pub(super) fn base64_inner(s: &[u8], align: usize, engine: &GeneralPurpose) -> Option<Form> {
    let mut input = Zeroizing::new(Vec::with_capacity(align + s.len()));
    input.resize(align, 0);
    input.extend_from_slice(s);
    let mut encoded = Zeroizing::new(vec![0u8; input.len().div_ceil(3) * 4]);
    let n = engine
        .encode_slice(input.as_slice(), encoded.as_mut_slice())
        .ok()?;
    // Character i carries bits 6i..6i+6 of the input; keep those entirely
    // within the bits of `s` (8*align .. 8*(align+len)).
    let start = (8 * align).div_ceil(6);
    let end = (8 * (align + s.len()) / 6).min(n);
    (end > start).then(|| copy(&encoded[start..end]))
}

/// Percent-encode every byte not in `keep` (alphanumerics are kept unless
/// `keep` is empty); `plus` writes a space as `+` (form encoding).
fn percent(out: &mut dyn Sink, s: &[u8], keep: &[u8], plus: bool) {
    for &b in s {
        if !keep.is_empty() && (b.is_ascii_alphanumeric() || keep.contains(&b)) {
            out.put(&[b]);
        } else if plus && b == b' ' {
            out.put(b"+");
        } else {
            out.put(b"%");
            put_hex_byte(out, b);
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Json {
    /// What serde_json and most encoders write.
    Minimal,
    /// Minimal plus `\/` (PHP's json_encode, some Java encoders).
    Slash,
    /// Minimal plus `<`, `>`, `&`, U+2028/9 as `\uXXXX` (Go's encoding/json).
    HtmlSafe,
    /// Both of the above (PHP's `JSON_HEX_TAG | JSON_HEX_AMP` defaults).
    HtmlSafeSlash,
    /// Every character as `\uXXXX` (surrogate pairs beyond the BMP).
    All,
}

fn put_u_escape(out: &mut dyn Sink, unit: u16) {
    out.put(b"\\u");
    put_hex(out, u32::from(unit), 4);
}

fn json(out: &mut dyn Sink, s: &str, style: Json) {
    for c in s.chars() {
        if style == Json::All {
            let mut units = [0u16; 2];
            for &u in c.encode_utf16(&mut units).iter() {
                put_u_escape(out, u);
            }
            continue;
        }
        match c {
            '"' => out.put(b"\\\""),
            '\\' => out.put(b"\\\\"),
            '\n' => out.put(b"\\n"),
            '\r' => out.put(b"\\r"),
            '\t' => out.put(b"\\t"),
            '\u{8}' => out.put(b"\\b"),
            '\u{c}' => out.put(b"\\f"),
            '/' if matches!(style, Json::Slash | Json::HtmlSafeSlash) => out.put(b"\\/"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}'
                if matches!(style, Json::HtmlSafe | Json::HtmlSafeSlash) =>
            {
                put_u_escape(out, c as u16)
            }
            c if (c as u32) < 0x20 => put_u_escape(out, c as u16),
            c => {
                let mut buf = [0u8; 4];
                out.put(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Html {
    /// `& < > "` named, `'` as `&#39;` (Python's html.escape, Rails).
    Named,
    /// Named, `'` as `&#x27;`, `/` as `&#x2F;` (OWASP's recommendation).
    Owasp,
    /// Named, `'` as `&apos;`.
    Apos,
    /// Every character as `&#NN;`.
    Decimal,
    /// Every character as `&#xNN;`.
    Hex,
}

fn html(out: &mut dyn Sink, s: &str, style: Html) {
    for c in s.chars() {
        match style {
            Html::Decimal => {
                out.put(b"&#");
                put_decimal(out, c as u32);
                out.put(b";");
                continue;
            }
            Html::Hex => {
                out.put(b"&#x");
                put_hex(out, c as u32, 1);
                out.put(b";");
                continue;
            }
            _ => {}
        }
        match c {
            '&' => out.put(b"&amp;"),
            '<' => out.put(b"&lt;"),
            '>' => out.put(b"&gt;"),
            '"' => out.put(b"&quot;"),
            '\'' if style == Html::Owasp => out.put(b"&#x27;"),
            '\'' if style == Html::Apos => out.put(b"&apos;"),
            '\'' => out.put(b"&#39;"),
            '/' if style == Html::Owasp => out.put(b"&#x2F;"),
            c => {
                let mut buf = [0u8; 4];
                out.put(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
}
