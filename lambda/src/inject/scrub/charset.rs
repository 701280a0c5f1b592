//! Text the agent would decode differently from the bytes the scanner sees.
//!
//! The needles are bytes of the credential as UTF-8 (and so as ASCII, for
//! most credentials). A response in UTF-16 or UTF-32 has a NUL between or
//! around those bytes, so no needle matches it, and the agent decodes it.
//! Servers pick the charset from `Accept-Charset` (refused from agents, by
//! broker-core's header rules), from their own configuration, or write a
//! BOM with no `charset` parameter at all. So:
//!
//! * a declared `charset` is either one whose ASCII range is ASCII (UTF-8,
//!   the ISO-8859 and Windows code pages, the common ASCII-based East Asian
//!   ones), which the raw scan covers, or UTF-16/UTF-32, which are read
//!   ([`Text`]: decoded for a credential that is not ASCII; for an ASCII
//!   one, removing the NULs below gives the same text); any other ([`Unsupported`]: UTF-7, EBCDIC, ISO-2022, whose
//!   ASCII text can be spelled with other bytes) refuses the response;
//! * a BOM decides the encoding when no charset is declared;
//! * a body with NULs in it, whatever it declares, is also scanned with its
//!   NULs removed (an ASCII credential in UTF-16 or UTF-32 of either byte
//!   order, at any alignment, comes back contiguous), and, for a credential
//!   that is not ASCII, decoded as each UTF-16 and UTF-32 byte order.

use zeroize::Zeroizing;

/// How the body's text is encoded, as far as the scan cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Text {
    /// ASCII bytes are ASCII characters (UTF-8 and ASCII-based charsets).
    AsciiBased,
    /// UTF-16, little-endian.
    Utf16Le,
    /// UTF-16, big-endian.
    Utf16Be,
    /// UTF-32, little-endian.
    Utf32Le,
    /// UTF-32, big-endian.
    Utf32Be,
}

/// A declared charset the broker neither scans as ASCII nor decodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unsupported;

/// Charsets (lowercase, as IANA names and common aliases) whose bytes
/// 0x00–0x7F are ASCII. Multi-byte ones may put ASCII-range bytes inside a
/// character, which can only add matches, never hide the credential.
const ASCII_BASED: &[&str] = &[
    "utf-8",
    "utf8",
    "us-ascii",
    "ascii",
    "latin1",
    "l1",
    "big5",
    "gbk",
    "gb2312",
    "gb18030",
    "shift_jis",
    "sjis",
    "windows-31j",
    "euc-jp",
    "euc-kr",
    "koi8-r",
    "koi8-u",
];

/// The text encoding a `Content-Type` value declares: `Ok(None)` when it
/// names no charset.
pub fn declared(content_type: &[u8]) -> Result<Option<Text>, Unsupported> {
    let value = String::from_utf8_lossy(content_type).to_ascii_lowercase();
    let Some(charset) = value.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        (k.trim() == "charset").then(|| v.trim().trim_matches(|c| c == '"' || c == '\'').to_owned())
    }) else {
        return Ok(None);
    };
    let charset = charset.as_str();
    let numbered = |prefix: &str| {
        charset
            .strip_prefix(prefix)
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
    };
    match charset {
        "utf-16" | "utf-16le" | "ucs-2" | "unicode" => Ok(Some(Text::Utf16Le)),
        "utf-16be" => Ok(Some(Text::Utf16Be)),
        "utf-32" | "utf-32le" => Ok(Some(Text::Utf32Le)),
        "utf-32be" => Ok(Some(Text::Utf32Be)),
        c if ASCII_BASED.contains(&c)
            || numbered("iso-8859-")
            || numbered("windows-125")
            || numbered("cp125") =>
        {
            Ok(Some(Text::AsciiBased))
        }
        _ => Err(Unsupported),
    }
}

/// The encoding a BOM at the start of `body` names (UTF-32's before
/// UTF-16's, which they begin with).
pub fn bom(body: &[u8]) -> Option<Text> {
    match body {
        [0xFF, 0xFE, 0, 0, ..] => Some(Text::Utf32Le),
        [0, 0, 0xFE, 0xFF, ..] => Some(Text::Utf32Be),
        [0xFF, 0xFE, ..] => Some(Text::Utf16Le),
        [0xFE, 0xFF, ..] => Some(Text::Utf16Be),
        _ => None,
    }
}

/// `body` as UTF-8, read as `text` (a BOM, if any, decodes to U+FEFF;
/// invalid units to U+FFFD). `None` for [`Text::AsciiBased`]: nothing to
/// decode.
pub fn to_utf8(body: &[u8], text: Text) -> Option<Zeroizing<Vec<u8>>> {
    let (width, big) = match text {
        Text::AsciiBased => return None,
        Text::Utf16Le => (2, false),
        Text::Utf16Be => (2, true),
        Text::Utf32Le => (4, false),
        Text::Utf32Be => (4, true),
    };
    let unit = |c: &[u8]| -> u32 {
        let mut bytes = [0u8; 4];
        bytes[..c.len()].copy_from_slice(c);
        if big {
            bytes[..c.len()].reverse();
        }
        u32::from_le_bytes(bytes)
    };
    // UTF-8 takes at most 3 bytes per UTF-16 unit (4 per pair) and 4 per
    // UTF-32 unit, so 3/2 of the input bounds both: allocated once.
    let mut out = Zeroizing::new(Vec::with_capacity(body.len() / 2 * 3 + 4));
    let mut put = |c: char| {
        let mut buf = [0u8; 4];
        out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
    };
    let chunks = body.chunks_exact(width);
    if width == 4 {
        chunks.for_each(|c| put(char::from_u32(unit(c)).unwrap_or('\u{FFFD}')));
    } else {
        let units = chunks.map(|c| unit(c) as u16);
        char::decode_utf16(units).for_each(|c| put(c.unwrap_or('\u{FFFD}')));
    }
    Some(out)
}

/// `body` without its NUL bytes, or `None` if it has none.
pub fn without_nuls(body: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    let nuls = body.iter().filter(|&&b| b == 0).count();
    if nuls == 0 {
        return None;
    }
    let mut out = Zeroizing::new(Vec::with_capacity(body.len() - nuls));
    out.extend(body.iter().copied().filter(|&b| b != 0));
    Some(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn declared_charsets_are_scanned_decoded_or_refused() {
        for (ct, text) in [
            ("application/json", None),
            ("text/html; charset=UTF-8", Some(Text::AsciiBased)),
            ("text/plain;charset=\"iso-8859-15\"", Some(Text::AsciiBased)),
            ("text/plain; charset=windows-1252", Some(Text::AsciiBased)),
            ("text/plain; charset=utf-16", Some(Text::Utf16Le)),
            ("text/plain; charset=UTF-16BE", Some(Text::Utf16Be)),
            ("text/plain; charset=utf-32be", Some(Text::Utf32Be)),
        ] {
            assert_eq!(declared(ct.as_bytes()), Ok(text), "{ct}");
        }
        for ct in [
            "text/plain; charset=utf-7",
            "text/plain; charset=IBM037",
            "text/plain; charset=iso-2022-jp",
            "text/plain; charset=iso-8859-",
            "text/plain; charset=",
        ] {
            assert_eq!(declared(ct.as_bytes()), Err(Unsupported), "{ct}");
        }
    }

    #[test]
    fn utf16_and_utf32_decode_to_the_utf8_the_agent_would_read() {
        let text = "sk-é😀";
        let le16: Vec<u8> = text.encode_utf16().flat_map(u16::to_le_bytes).collect();
        let be16: Vec<u8> = text.encode_utf16().flat_map(u16::to_be_bytes).collect();
        let le32: Vec<u8> = text
            .chars()
            .flat_map(|c| (c as u32).to_le_bytes())
            .collect();
        let be32: Vec<u8> = text
            .chars()
            .flat_map(|c| (c as u32).to_be_bytes())
            .collect();
        for (bytes, t) in [
            (le16, Text::Utf16Le),
            (be16, Text::Utf16Be),
            (le32, Text::Utf32Le),
            (be32, Text::Utf32Be),
        ] {
            assert_eq!(
                to_utf8(&bytes, t).unwrap().as_slice(),
                text.as_bytes(),
                "{t:?}"
            );
        }
        assert_eq!(bom(&[0xFF, 0xFE, b'a', 0]), Some(Text::Utf16Le));
        assert_eq!(bom(&[0xFF, 0xFE, 0, 0]), Some(Text::Utf32Le));
        assert_eq!(bom(b"plain"), None);
        assert_eq!(without_nuls(b"a\0b\0").unwrap().as_slice(), b"ab");
        assert!(without_nuls(b"ab").is_none());
    }
}
