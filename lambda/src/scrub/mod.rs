//! Recognising the credential in an upstream response (and in what the
//! agent sends: `crate::probe`).
//!
//! A bound upstream may reflect the request (debug endpoints, error pages,
//! "echo" APIs) and so hand the credential back to the agent. This module
//! derives the forms of the credential it can cheaply predict (the
//! *needles*) and finds them in one ASCII-case-insensitive pass over the
//! bytes however many forms there are (`scrub/matcher.rs`, built per
//! injection in microseconds). What the response layer does with a match
//! (withhold the response, or redact the match) is decided in
//! [`crate::response`].
//!
//! Forms, for the secret and for each extra value (the injected header value,
//! the Basic-auth `user:secret` pair):
//! * raw;
//! * base64, standard and URL-safe alphabets, at each of the three byte
//!   alignments the value can sit at inside a longer base64 string (only the
//!   characters that depend on the value alone, so padding and whatever
//!   surrounds it do not matter);
//! * hex (either case: matching is case-insensitive);
//! * percent-encoding, JSON string escapes and HTML escapes of the whole
//!   value in the styles encoders write when they escape everything they
//!   escape (kept: they also catch a value longer than [`MAX_WHOLE`], whose
//!   canonical copy below only the fragments would cover);
//! * raw fragments of the secret's random part: windows that start after
//!   its public prefix (`scrub/prefixes.rs`: `sk-ant-api03-` is no secret)
//!   and carry 64 bits of case-folded entropy (`scrub/entropy.rs`: 13
//!   characters of a base62 token, 16 of hex), so an upstream that echoes
//!   slices of it is caught, and no window is guessable (a random part
//!   shorter than a window is one needle, whole).
//!
//! Enumerated forms lose to partial escapers (`\u002B` for `+` alone), so
//! every scan also reads the bytes as the agent would and matches every
//! needle there too ([`Needles::count_text`]): decoded from UTF-16 or
//! UTF-32 (`scrub/charset.rs`, by BOM, declared charset, or the NULs
//! between characters), then with one and two levels of escapes decoded
//! (`scrub/canonical.rs`: `\uXXXX`, character references, `%XX`).
//!
//! Case-insensitive matching also catches an upstream that upper- or
//! lower-cases what it reflects. What no scrubber can catch (an arbitrary
//! transformation, or slices shorter than a window) is written down in
//! docs/THREAT_MODEL.md: the host binding is the primary control.
//!
//! Every derived form and decoded copy lives in a [`Zeroizing`] buffer
//! sized before it is written (no reallocation leaves a stale copy
//! behind), and the matcher's index of them is wiped on drop too. (The
//! HTTP client's copy of the outgoing header is freed but not wiped.)

mod canonical;
pub mod charset;
mod entropy;
mod matcher;
mod prefixes;

use base64::engine::general_purpose::{GeneralPurpose, STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use base64::Engine;
use zeroize::Zeroizing;

use charset::Text;
use matcher::Matcher;

/// What a redacted occurrence becomes.
pub const REDACTED: &[u8] = b"[REDACTED]";

/// Most fragment windows per secret: a long secret (a private key) gets
/// windows at a stride, so any fragment of `fragment_len + stride - 1`
/// bytes still contains one.
const MAX_FRAGMENTS: usize = 256;

/// Values up to this long are encoded whole; a longer one (a private key, a
/// long JWT) is encoded as its first and last `MAX_WHOLE` bytes, which any
/// encoded echo of the whole value contains. That keeps the matcher small
/// (it is built per injection), but redaction could then leave the middle
/// of an encoded echo behind, so such a secret's echo is always withheld
/// ([`Needles::complete`]).
pub const MAX_WHOLE: usize = 128;

/// Derived forms shorter than this are dropped (a short base64 run of a
/// tiny secret would match everywhere); the raw secret is always kept.
const MIN_FORM: usize = 6;

type Form = Zeroizing<Vec<u8>>;

/// The forms to look for and the matcher that finds them. Derived from the
/// secret, so both are wiped on drop like the secret itself. No `Debug`.
pub struct Needles {
    /// The forms, and the index that finds them.
    matcher: Matcher,
    complete: bool,
    /// Bytes of the secret that are public (no window starts before).
    public_prefix: usize,
    /// Bytes per fragment window.
    fragment_len: usize,
    /// Whether the secret is ASCII (then NUL-stripping decodes any
    /// UTF-16 or UTF-32 copy of it).
    ascii: bool,
}

impl Needles {
    /// Every form of `secret` and of each `extra` value (values that contain
    /// the secret, as sent: the injected header value, the Basic pair).
    pub fn new(secret: &[u8], extra: &[&[u8]]) -> Self {
        let mut forms: Vec<Form> = Vec::new();
        let mut add = |f: Option<Form>, always: bool| {
            if let Some(f) = f {
                if !f.is_empty() && (always || f.len() >= MIN_FORM) {
                    forms.push(f);
                }
            }
        };
        add(Some(copy(secret)), true);
        let mut complete = true;
        for base in std::iter::once(secret).chain(extra.iter().copied()) {
            let parts = if base.len() <= MAX_WHOLE {
                vec![base]
            } else {
                complete = false;
                vec![head(base, MAX_WHOLE), tail(base, MAX_WHOLE)]
            };
            for f in parts.into_iter().flat_map(encoded_forms) {
                add(Some(f), false);
            }
        }
        // A JSON document that quotes the secret, then base64-encoded (a
        // debug dump in a cookie or token): the escaped form's base64.
        if let Ok(text) = std::str::from_utf8(head(secret, MAX_WHOLE)) {
            let escaped = exact(|o| json(o, text, Json::Minimal));
            if escaped.as_slice() != head(secret, MAX_WHOLE) {
                for engine in [&STANDARD_NO_PAD, &URL_SAFE_NO_PAD] {
                    for align in 0..3 {
                        add(base64_inner(&escaped, align, engine), false);
                    }
                }
            }
        }
        let public_prefix = prefixes::public_prefix_len(secret);
        let random = &secret[public_prefix..];
        let fragment_len = entropy::window_len(random);
        if random.len() >= fragment_len {
            let windows = random.len() - fragment_len + 1;
            let stride = windows.div_ceil(MAX_FRAGMENTS).max(1);
            for start in (0..windows).step_by(stride) {
                add(Some(copy(&random[start..start + fragment_len])), false);
            }
        } else {
            // A random part shorter than a window is a needle whole: an
            // echo of it without the prefix gives away all the secret has.
            add(Some(copy(random)), false);
        }
        // Many forms coincide (an alphanumeric secret is its own percent and
        // JSON encodings). Sorting then dropping repeats is O(n log n); a
        // `contains` check per form was quadratic in the ~200 forms of a
        // long token. Dropped repeats are wiped like every form.
        forms.sort_unstable_by(|a, b| a.as_slice().cmp(b.as_slice()));
        forms.dedup_by(|a, b| a.as_slice() == b.as_slice());
        let matcher = Matcher::new(forms);
        Self {
            matcher,
            complete,
            public_prefix,
            fragment_len,
            ascii: secret.is_ascii(),
        }
    }

    /// Bytes at the start of the secret taken as public: no fragment
    /// window starts before them.
    pub fn public_prefix_len(&self) -> usize {
        self.public_prefix
    }

    /// Bytes in each fragment window of the secret's random part.
    pub fn fragment_len(&self) -> usize {
        self.fragment_len
    }

    /// Whether every encoded form covers the whole value, so that
    /// [`Needles::redact`] removes whole echoes (false for values longer
    /// than [`MAX_WHOLE`]: redact those responses by withholding them).
    pub fn complete(&self) -> bool {
        self.complete
    }

    /// How many forms are searched for.
    pub fn len(&self) -> usize {
        self.matcher.len()
    }

    /// Whether there is nothing to search for (never, for a real secret).
    pub fn is_empty(&self) -> bool {
        self.matcher.is_empty()
    }

    /// Occurrences of any form in `haystack` or in what an agent would
    /// read it as, with no charset declared ([`Needles::count_text`]).
    pub fn count(&self, haystack: &[u8]) -> usize {
        self.count_text(haystack, None)
    }

    /// Occurrences of any form in `haystack` read every way the module
    /// docs list, `declared` being the charset its `Content-Type` names:
    /// the count in the first reading that has any (0: clean in all).
    pub fn count_text(&self, haystack: &[u8], declared: Option<Text>) -> usize {
        let raw = self.count_raw(haystack);
        if raw > 0 {
            return raw;
        }
        // An ASCII credential in UTF-16 or UTF-32 of any byte order and
        // alignment is contiguous once the NULs are gone, so that one copy
        // is all it needs; a credential that is not ASCII needs the body
        // decoded (as declared or by BOM, and, if it has NULs, every way).
        let mut texts: Vec<Form> = Vec::new();
        let stripped = charset::without_nuls(haystack);
        if !self.ascii {
            if let Some(text) = charset::bom(haystack).or(declared) {
                texts.extend(charset::to_utf8(haystack, text));
            }
            if stripped.is_some() {
                for text in [Text::Utf16Le, Text::Utf16Be, Text::Utf32Le, Text::Utf32Be] {
                    texts.extend(charset::to_utf8(haystack, text));
                }
            }
        }
        texts.extend(stripped);
        let bases = std::iter::once(haystack).chain(texts.iter().map(|t| t.as_slice()));
        for (i, base) in bases.enumerate() {
            let mut found = if i == 0 { 0 } else { self.count_raw(base) };
            if found == 0 {
                if let Some(once) = canonical::unescape(base) {
                    found = self.count_raw(&once);
                    if found == 0 {
                        found =
                            canonical::unescape(&once).map_or(0, |twice| self.count_raw(&twice));
                    }
                }
            }
            if found > 0 {
                return found;
            }
        }
        0
    }

    /// Non-overlapping occurrences of any form in the bytes as they are.
    fn count_raw(&self, haystack: &[u8]) -> usize {
        self.matcher.find_iter(haystack).count()
    }

    /// Replace every occurrence with [`REDACTED`]; returns how many.
    pub fn redact(&self, haystack: &mut Vec<u8>) -> usize {
        let mut out = Vec::with_capacity(haystack.len());
        let mut last = 0;
        let mut count = 0;
        for hit in self.matcher.find_iter(haystack.as_slice()) {
            out.extend_from_slice(&haystack[last..hit.start]);
            out.extend_from_slice(REDACTED);
            last = hit.end;
            count += 1;
        }
        if count > 0 {
            out.extend_from_slice(&haystack[last..]);
            *haystack = out;
        }
        count
    }
}

/// The first `n` bytes of `s`, shortened to a UTF-8 boundary.
fn head(s: &[u8], n: usize) -> &[u8] {
    let mut end = n.min(s.len());
    while end > 0 && end < s.len() && s[end] & 0xC0 == 0x80 {
        end -= 1;
    }
    &s[..end]
}

/// The last `n` bytes of `s`, shortened to a UTF-8 boundary.
fn tail(s: &[u8], n: usize) -> &[u8] {
    let mut start = s.len().saturating_sub(n);
    while start < s.len() && s[start] & 0xC0 == 0x80 {
        start += 1;
    }
    &s[start..]
}

fn copy(s: &[u8]) -> Form {
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

/// Every encoded form of `s` (not the raw value itself).
fn encoded_forms(s: &[u8]) -> Vec<Form> {
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
fn base64_inner(s: &[u8], align: usize, engine: &GeneralPurpose) -> Option<Form> {
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use base64::engine::general_purpose::{STANDARD, URL_SAFE};

    const SECRET: &str = "sk-live/abc+def?==<x>&'\"q";

    fn found(hay: &str) -> usize {
        Needles::new(SECRET.as_bytes(), &[]).count(hay.as_bytes())
    }

    /// Encoders as third parties write them, independent of the code above.
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
}
