//! How ordinary, honest servers write text back: the encoders of the
//! partial-escaping and charset attacks in [`crate::hostile`] (issue 22,
//! items 2 and 3). Each is written from the library's documented behaviour,
//! independently of the broker's decoder (lambda/src/scrub/canonical.rs).

/// `s` with each character in `table` replaced by its escape.
fn escape(s: &str, table: &[(char, &str)]) -> String {
    s.chars()
        .map(|c| {
            table
                .iter()
                .find(|(k, _)| *k == c)
                .map_or_else(|| c.to_string(), |(_, v)| (*v).to_owned())
        })
        .collect()
}

/// .NET's `System.Text.Json` default encoder: HTML-sensitive characters
/// and `+` as `\uXXXX`, upper-case hex.
pub fn dotnet_json(s: &str) -> String {
    escape(
        s,
        &[
            ('+', "\\u002B"),
            ('\'', "\\u0027"),
            ('"', "\\u0022"),
            ('<', "\\u003C"),
            ('>', "\\u003E"),
            ('&', "\\u0026"),
            ('`', "\\u0060"),
            ('\\', "\\\\"),
        ],
    )
}

/// Go's `html/template` in HTML text: `&#43;` for `+`, `&#39;` and `&#34;`.
pub fn go_html_template(s: &str) -> String {
    escape(
        s,
        &[
            ('&', "&amp;"),
            ('<', "&lt;"),
            ('>', "&gt;"),
            ('"', "&#34;"),
            ('\'', "&#39;"),
            ('+', "&#43;"),
        ],
    )
}

/// Gson's default HTML-safe writer: `<>&='` as lower-case `\u00XX`.
pub fn gson(s: &str) -> String {
    escape(
        s,
        &[
            ('<', "\\u003c"),
            ('>', "\\u003e"),
            ('&', "\\u0026"),
            ('=', "\\u003d"),
            ('\'', "\\u0027"),
            ('"', "\\\""),
            ('\\', "\\\\"),
        ],
    )
}

/// Every punctuation character as a decimal reference without the `;`,
/// which browsers still read (`&#43`).
pub fn entity_without_semicolon(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_punctuation() {
                format!("&#{}", c as u32)
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// Every non-alphanumeric byte percent-encoded twice (`+` → `%252B`), as a
/// value passed through two URL builders.
pub fn double_percent(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                char::from(b).to_string()
            } else {
                format!("%25{b:02X}")
            }
        })
        .collect()
}

/// UTF-16, little- or big-endian, no BOM.
pub fn utf16(s: &str, big_endian: bool) -> Vec<u8> {
    s.encode_utf16()
        .flat_map(|u| {
            if big_endian {
                u.to_be_bytes()
            } else {
                u.to_le_bytes()
            }
        })
        .collect()
}

/// UTF-32 little-endian with its BOM.
pub fn utf32le_with_bom(s: &str) -> Vec<u8> {
    std::iter::once('\u{FEFF}')
        .chain(s.chars())
        .flat_map(|c| (c as u32).to_le_bytes())
        .collect()
}

/// UTF-7 (RFC 2152) with every character in one base64 run: the ASCII text
/// spelled with none of its own bytes.
pub fn utf7(s: &str) -> String {
    use base64::engine::general_purpose::STANDARD_NO_PAD;
    use base64::Engine;
    format!("+{}-", STANDARD_NO_PAD.encode(utf16(s, true)))
}

/// A credential-shaped canary with a punctuation character every third
/// character, so that a partial escaper leaves no raw run of it as long as
/// a fragment window (the broker's windows are at least 10 bytes).
pub fn punctuated_canary() -> String {
    const MARKS: &[char] = &['+', '\'', '<', '&', '"', '='];
    let id = crate::unique("PUNCT").replace('-', "");
    let mut out = String::from("pk");
    for (i, c) in id.chars().enumerate() {
        if i % 3 == 0 {
            out.push(MARKS[(i / 3) % MARKS.len()]);
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_escaper_changes_every_punctuation_mark_it_names() {
        let s = "a+b'c\"d<e>f&g=h";
        assert_eq!(
            dotnet_json(s),
            "a\\u002Bb\\u0027c\\u0022d\\u003Ce\\u003Ef\\u0026g=h"
        );
        assert_eq!(go_html_template(s), "a&#43;b&#39;c&#34;d&lt;e&gt;f&amp;g=h");
        assert_eq!(gson(s), "a+b\\u0027c\\\"d\\u003ce\\u003ef\\u0026g\\u003dh");
        assert_eq!(double_percent("a+b"), "a%252Bb");
        assert_eq!(entity_without_semicolon("a+b"), "a&#43b");
        assert_eq!(utf7("Hi"), "+AEgAaQ-");
        let c = punctuated_canary();
        assert!(
            c.chars().filter(char::is_ascii_punctuation).count() >= 4,
            "{c}"
        );
    }
}
