//! Recognising the credential in an upstream response (and in what the
//! agent sends: `crate::inject::probe`).
//!
//! A bound upstream may reflect the request (debug endpoints, error pages,
//! "echo" APIs) and so hand the credential back to the agent. This module
//! derives the forms of the credential it can cheaply predict (the
//! *needles*) and finds them in one ASCII-case-insensitive pass over the
//! bytes however many forms there are (`scrub/matcher.rs`, built per
//! injection in microseconds). What the response layer does with a match
//! (withhold the response, or redact the match) is decided in
//! [`crate::inject::response`].
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
mod forms;
mod matcher;
mod prefixes;

use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use zeroize::Zeroizing;

use charset::Text;
use forms::{base64_inner, copy, encoded_forms, json_minimal};
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
            let escaped = json_minimal(text);
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

#[cfg(test)]
mod tests;
