//! Canary scanning: every encoding in which a planted secret could leak
//! through a text or byte channel, and the assertions that none did.
//!
//! It exists because a leak rarely looks like the raw secret: it is
//! base64'd, hex'd, escaped or case-folded on its way out.

/// Every form in which `canary` could leak through a text channel: raw,
/// base64 (standard and URL-safe, padded or not, at each of the three byte
/// alignments it can sit at inside a longer encoded value), hex in either
/// case, percent-encoded (every byte, either case; and form encoding), JSON
/// escapes (as serde writes them, and every character as `\uXXXX`) and HTML
/// escapes (named, `&#NN;`, `&#xNN;`).
pub fn canary_forms(canary: &str) -> Vec<(&'static str, String)> {
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
    use base64::Engine;
    let bytes = canary.as_bytes();
    let mut forms = vec![("raw", canary.to_owned())];
    for pad in 0..3 {
        // Encode with `pad` leading bytes, keep only the characters that
        // depend on the canary alone (drop the first and last group).
        let mut v = vec![b'.'; pad];
        v.extend_from_slice(bytes);
        for (name, enc) in [
            ("base64", STANDARD.encode(&v)),
            ("base64url", URL_SAFE_NO_PAD.encode(&v)),
        ] {
            let enc = enc.trim_end_matches('=');
            let start = if pad == 0 { 0 } else { 4 };
            let end = enc.len().saturating_sub(4);
            if end > start + 8 {
                forms.push((name, enc[start..end].to_owned()));
            }
        }
    }
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    forms.push(("hex", hex.clone()));
    forms.push(("HEX", hex.to_ascii_uppercase()));
    let pct: String = bytes.iter().map(|b| format!("%{b:02X}")).collect();
    forms.push(("percent", pct.clone()));
    forms.push(("percent-lower", pct.to_ascii_lowercase()));
    forms.push((
        "form",
        url::form_urlencoded::byte_serialize(bytes).collect(),
    ));
    let json = serde_json::to_string(canary).expect("a string serializes");
    forms.push(("json", json.trim_matches('"').to_owned()));
    forms.push(("json-slash", json.trim_matches('"').replace('/', "\\/")));
    let units: String = canary
        .encode_utf16()
        .map(|u| format!("\\u{u:04x}"))
        .collect();
    forms.push(("json-unicode", units));
    let named = canary
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;");
    forms.push(("html-named", named));
    let dec: String = canary.chars().map(|c| format!("&#{};", c as u32)).collect();
    forms.push(("html-decimal", dec));
    let hexent: String = canary
        .chars()
        .map(|c| format!("&#x{:x};", c as u32))
        .collect();
    forms.push(("html-hex", hexent));
    forms.dedup_by(|a, b| a.1 == b.1);
    forms
}

/// Panic if `text` (what `what` produced) holds `canary` in any form of
/// [`canary_forms`]. Case-insensitive except for the base64 forms (whose
/// case carries the data), so an upper- or lower-cased echo counts too.
pub fn assert_no_canary(what: &str, text: &str, canary: &str) {
    let lower = text.to_ascii_lowercase();
    for (form, needle) in canary_forms(canary) {
        let hit = match form {
            "base64" | "base64url" => text.contains(&needle),
            _ => lower.contains(&needle.to_ascii_lowercase()),
        };
        assert!(!hit, "{what} contains the canary ({form}: {needle})");
    }
}

/// [`assert_no_canary`] over raw bytes (e.g. a DynamoDB binary attribute
/// that is not the blob).
pub fn assert_no_canary_bytes(what: &str, bytes: &[u8], canary: &str) {
    assert!(
        !bytes.windows(canary.len()).any(|w| w == canary.as_bytes()),
        "{what} contains the canary (raw bytes)"
    );
    assert_no_canary(what, &String::from_utf8_lossy(bytes), canary);
}

/// Panic if `text` (JSON lines, read as a JSON reader reads them:
/// [`json_unescaped`]) holds a piece of `canary` the broker would
/// recognise: a fragment window of its random part (after the public
/// prefix, as long as the broker's windows: keybroker_lambda::inject::scrub),
/// case-folded; or any form of it the broker's scan finds, read as an
/// agent would (decoded charsets and escapes). [`assert_no_canary`] checks
/// the whole value in forms enumerated independently of the broker, on the
/// raw text.
pub fn assert_no_fragment(what: &str, text: &str, canary: &str) {
    let needles = keybroker_lambda::inject::scrub::Needles::new(canary.as_bytes(), &[]);
    let read = json_unescaped(text);
    let lower = read.to_ascii_lowercase();
    let random = &canary.as_bytes()[needles.public_prefix_len()..];
    for w in random.windows(needles.fragment_len()) {
        let w = String::from_utf8_lossy(w).to_ascii_lowercase();
        if let Some(at) = lower.find(&w) {
            // Where it is, to tell which reply or line carried it.
            let around = lower.get(at.saturating_sub(300)..(at + w.len() + 300).min(lower.len()));
            panic!("{what} contains a fragment {w:?}, here: {around:?}");
        }
    }
    assert_eq!(
        needles.count(read.as_bytes()),
        0,
        "{what} contains a decoded form of the canary"
    );
}

/// `text` with its JSON string escapes read, as a reader of the JSON sees
/// it (`\n` a newline, `\\` a backslash, `\u0041` an `A`; a sequence
/// that is not an escape is kept). Every output scanned here is JSON lines,
/// and an escape's letter is the encoder's, not content: an agent's body of
/// a newline and 13 known characters is `\n` and those characters in the
/// reply, and that `n` with the 13 can spell a window of the credential
/// (it did, once in nine runs) although no piece of it was sent back.
fn json_unescaped(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let read = match chars.peek() {
            Some('"') => Some('"'),
            Some('\\') => Some('\\'),
            Some('/') => Some('/'),
            Some('b') => Some('\u{8}'),
            Some('f') => Some('\u{c}'),
            Some('n') => Some('\n'),
            Some('r') => Some('\r'),
            Some('t') => Some('\t'),
            Some('u') => {
                let hex: String = chars.clone().skip(1).take(4).collect();
                let decoded = (hex.len() == 4)
                    .then(|| u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32))
                    .flatten();
                if decoded.is_some() {
                    // With the `next` below: the `u` and its four digits.
                    chars.nth(3);
                }
                decoded
            }
            _ => None,
        };
        match read {
            Some(r) => {
                chars.next();
                out.push(r);
            }
            None => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_escapes_read_as_a_reader_reads_them() {
        assert_eq!(
            json_unescaped(r#"a\nb\"c\\nd\u0041\u00zz\q"#),
            "a\nb\"c\\ndA\\u00zz\\q"
        );
    }

    #[test]
    fn an_escape_letter_beside_known_text_is_not_a_fragment_but_content_is() {
        let canary = "sk-ant-api03-Xn0123456789abcdefghijkl";
        let len =
            keybroker_lambda::inject::scrub::Needles::new(canary.as_bytes(), &[]).fragment_len();
        // `\n` and the characters after the credential's `n`: the escape's
        // `n` completes a window of the JSON text, not of the content.
        let after_n = &canary[15..14 + len];
        assert_no_fragment("json", &format!(r#"{{"body":"\n{after_n}!"}}"#), canary);
        let leaked = &canary[14..14 + len];
        let r = std::panic::catch_unwind(|| {
            assert_no_fragment("json", &format!(r#"{{"body":"\n{leaked}"}}"#), canary)
        });
        assert!(r.is_err(), "a window after an escape is still found");
    }
}
