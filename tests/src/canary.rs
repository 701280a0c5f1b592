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

/// Panic if `text` holds a piece of `canary` the broker would recognise: a
/// fragment window of its random part (after the public prefix, as long as
/// the broker's windows: keybroker_lambda::inject::scrub), raw and case-folded; or
/// any form of it the broker's scan finds, read as an agent would (decoded
/// charsets and escapes). [`assert_no_canary`] checks the whole value in
/// forms enumerated independently of the broker.
pub fn assert_no_fragment(what: &str, text: &str, canary: &str) {
    let needles = keybroker_lambda::inject::scrub::Needles::new(canary.as_bytes(), &[]);
    let lower = text.to_ascii_lowercase();
    let random = &canary.as_bytes()[needles.public_prefix_len()..];
    for w in random.windows(needles.fragment_len()) {
        let w = String::from_utf8_lossy(w).to_ascii_lowercase();
        assert!(!lower.contains(&w), "{what} contains a fragment {w:?}");
    }
    assert_eq!(
        needles.count(text.as_bytes()),
        0,
        "{what} contains a decoded form of the canary"
    );
}
