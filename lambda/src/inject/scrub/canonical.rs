//! One level of escapes decoded: the canonical copy the needles are also
//! matched against.
//!
//! Enumerating encoder styles loses to any serialiser that escapes only some
//! characters (.NET writes `+` as `\u002B`, Go's `html/template` writes
//! `&#43;`, Gson `\u003d`): the credential then appears in no predicted
//! form. Decoding instead covers every such mix at once. [`unescape`]
//! decodes, in one pass, each escape syntax an ordinary server or client
//! writes and a reader (a browser, a JSON parser, a URL decoder) undoes:
//!
//! * JSON and JavaScript: `\uXXXX` (surrogate pairs joined), `\u{X…}`,
//!   `\UXXXXXXXX`, `\xXX`, and `\"` `\\` `\/` `\'` `\b` `\f` `\n` `\r` `\t`;
//! * HTML and XML character references: `&#NN;` and `&#xNN;` (the `;` is
//!   optional, as browsers read it; without it, the reading that ends in
//!   printable ASCII is taken, as a reader would disambiguate `&#608`), the
//!   named references of every ASCII
//!   character that has one, and `&amp` `&lt` `&gt` `&quot` without `;`;
//! * percent-encoding: `%XX`, and the legacy `%uXXXX`.
//!
//! The scanner runs it twice (`scrub::Needles::count`): `%2B` inside a JSON
//! string, `&amp;#43;` and `%252B` are two levels. Anything not a complete
//! escape is copied as it is. Every decoded form is at most as long as its
//! escape, so the copy never outgrows the input (it is allocated once, at
//! the input's length, and wiped on drop).

use zeroize::Zeroizing;

/// Where the next escape character is, from `from` on.
fn next_escape(input: &[u8], from: usize) -> Option<usize> {
    input[from..]
        .iter()
        .position(|b| matches!(b, b'\\' | b'&' | b'%'))
        .map(|p| from + p)
}

/// The input with one level of escapes decoded, or `None` if nothing in
/// it decodes (the common case, no escape character at all, makes no
/// copy; the caller has scanned the input itself already).
pub fn unescape(input: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    let mut at = next_escape(input, 0)?;
    let mut out: Option<Zeroizing<Vec<u8>>> = None;
    let mut copied = 0;
    loop {
        let decoded = match input[at] {
            b'\\' => backslash(&input[at..]),
            b'&' => reference(&input[at..]),
            _ => percent(&input[at..]),
        };
        let mut next = at + 1;
        if let Some((value, used)) = decoded {
            let out = out.get_or_insert_with(|| Zeroizing::new(Vec::with_capacity(input.len())));
            out.extend_from_slice(&input[copied..at]);
            value.put(out);
            copied = at + used;
            next = copied;
        }
        match next_escape(input, next) {
            Some(n) => at = n,
            None => break,
        }
    }
    let mut out = out?;
    out.extend_from_slice(&input[copied..]);
    debug_assert!(
        out.len() <= input.len(),
        "a decoded form outgrew its escape"
    );
    Some(out)
}

/// What an escape stands for.
enum Decoded {
    /// A byte as it is (`%XX`, `\xXX`).
    Byte(u8),
    /// A Unicode scalar value, written as UTF-8.
    Char(char),
}

impl Decoded {
    fn put(self, out: &mut Vec<u8>) {
        match self {
            Decoded::Byte(b) => out.push(b),
            Decoded::Char(c) => {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
}

/// `s[..n]` as a hexadecimal number, if all of it is hex digits.
fn hex(s: &[u8], n: usize) -> Option<u32> {
    let digits = s.get(..n)?;
    digits.iter().try_fold(0u32, |acc, &b| {
        let d = char::from(b).to_digit(16)?;
        Some(acc * 16 + d)
    })
}

/// The leading run of digits of `s` in `radix`, at most `max` of them:
/// (value, length).
fn digits(s: &[u8], radix: u32, max: usize) -> Option<(u32, usize)> {
    let run = s
        .iter()
        .take(max)
        .take_while(|&&b| char::from(b).is_digit(radix))
        .count();
    if run == 0 {
        return None;
    }
    let value = s[..run].iter().try_fold(0u32, |acc, &b| {
        acc.checked_mul(radix)?
            .checked_add(char::from(b).to_digit(radix)?)
    })?;
    Some((value, run))
}

/// A code point as a character; surrogates, NUL and values past U+10FFFF
/// are not decoded (the escape is kept).
fn scalar(cp: u32) -> Option<Decoded> {
    (cp != 0)
        .then(|| char::from_u32(cp))
        .flatten()
        .map(Decoded::Char)
}

/// A backslash escape at the start of `s`: (what it stands for, bytes used).
fn backslash(s: &[u8]) -> Option<(Decoded, usize)> {
    let simple = |c: char| Some((Decoded::Char(c), 2));
    match *s.get(1)? {
        b'u' if s.get(2) == Some(&b'{') => {
            let (cp, n) = digits(&s[3..], 16, 6)?;
            (s.get(3 + n) == Some(&b'}'))
                .then(|| scalar(cp))
                .flatten()
                .map(|d| (d, 4 + n))
        }
        b'u' => {
            let high = hex(&s[2..], 4)?;
            if (0xD800..0xDC00).contains(&high) && s.get(6..8) == Some(b"\\u") {
                let low = hex(&s[8..], 4)?;
                if (0xDC00..0xE000).contains(&low) {
                    let cp = 0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00);
                    return scalar(cp).map(|d| (d, 12));
                }
            }
            scalar(high).map(|d| (d, 6))
        }
        b'U' => scalar(hex(&s[2..], 8)?).map(|d| (d, 10)),
        b'x' => hex(&s[2..], 2).map(|b| (Decoded::Byte(b as u8), 4)),
        b'"' => simple('"'),
        b'\\' => simple('\\'),
        b'/' => simple('/'),
        b'\'' => simple('\''),
        b'b' => simple('\u{8}'),
        b'f' => simple('\u{c}'),
        b'n' => simple('\n'),
        b'r' => simple('\r'),
        b't' => simple('\t'),
        _ => None,
    }
}

/// Named references of ASCII characters (HTML's list, every one that
/// names a printable ASCII character), with the `;`.
const NAMED: &[(&str, u8)] = &[
    ("&excl;", b'!'),
    ("&quot;", b'"'),
    ("&QUOT;", b'"'),
    ("&num;", b'#'),
    ("&dollar;", b'$'),
    ("&percnt;", b'%'),
    ("&amp;", b'&'),
    ("&AMP;", b'&'),
    ("&apos;", b'\''),
    ("&lpar;", b'('),
    ("&rpar;", b')'),
    ("&ast;", b'*'),
    ("&midast;", b'*'),
    ("&plus;", b'+'),
    ("&comma;", b','),
    ("&period;", b'.'),
    ("&sol;", b'/'),
    ("&colon;", b':'),
    ("&semi;", b';'),
    ("&lt;", b'<'),
    ("&LT;", b'<'),
    ("&equals;", b'='),
    ("&gt;", b'>'),
    ("&GT;", b'>'),
    ("&quest;", b'?'),
    ("&commat;", b'@'),
    ("&lsqb;", b'['),
    ("&lbrack;", b'['),
    ("&bsol;", b'\\'),
    ("&rsqb;", b']'),
    ("&rbrack;", b']'),
    ("&Hat;", b'^'),
    ("&lowbar;", b'_'),
    ("&UnderBar;", b'_'),
    ("&grave;", b'`'),
    ("&DiacriticalGrave;", b'`'),
    ("&lcub;", b'{'),
    ("&lbrace;", b'{'),
    ("&verbar;", b'|'),
    ("&vert;", b'|'),
    ("&VerticalLine;", b'|'),
    ("&rcub;", b'}'),
    ("&rbrace;", b'}'),
    ("&Tab;", b'\t'),
    ("&NewLine;", b'\n'),
    // Legacy references browsers read without the `;`.
    ("&amp", b'&'),
    ("&lt", b'<'),
    ("&gt", b'>'),
    ("&quot", b'"'),
];

/// A character reference at the start of `s`.
fn reference(s: &[u8]) -> Option<(Decoded, usize)> {
    if s.get(1) == Some(&b'#') {
        let (radix, start) = match s.get(2) {
            Some(b'x' | b'X') => (16, 3),
            _ => (10, 2),
        };
        let (cp, n) = digits(&s[start..], radix, 8)?;
        if s.get(start + n) == Some(&b';') {
            return scalar(cp).map(|d| (d, start + n + 1));
        }
        // Without the `;`, where the digits end is ambiguous to a reader
        // (`&#608` is `ɠ`, or `<` then `8`): take the longest reading that
        // is printable ASCII, as credentials are, else all the digits.
        let ascii = (1..=n).rev().find_map(|len| {
            let (v, _) = digits(&s[start..start + len], radix, len)?;
            (0x20..0x7F).contains(&v).then_some((v, len))
        });
        let (cp, n) = ascii.unwrap_or((cp, n));
        return scalar(cp).map(|d| (d, start + n));
    }
    NAMED
        .iter()
        .find(|(name, _)| s.starts_with(name.as_bytes()))
        .map(|&(name, b)| (Decoded::Byte(b), name.len()))
}

/// A percent escape at the start of `s`.
fn percent(s: &[u8]) -> Option<(Decoded, usize)> {
    if matches!(s.get(1), Some(b'u' | b'U')) {
        if let Some(cp) = hex(&s[2..], 4) {
            return scalar(cp).map(|d| (d, 6));
        }
    }
    hex(&s[1..], 2).map(|b| (Decoded::Byte(b as u8), 3))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn once(s: &str) -> String {
        String::from_utf8(unescape(s.as_bytes()).unwrap().to_vec()).unwrap()
    }

    #[test]
    fn partial_escapers_come_back_whole() {
        for (escaped, plain) in [
            (r"ab\u002Bc\u0027d", "ab+c'd"),     // .NET JsonSerializer
            ("ab&#43;cd", "ab+cd"),              // Go html/template
            (r"ab\u003dcd", "ab=cd"),            // Gson
            ("a%2Bb%2fc", "a+b/c"),              // percent, either case
            ("a&#x2b;b&#X2F;c&#61d", "a+b/c=d"), // hex refs, no `;`
            ("&lt;&amp;&gt;&quot;&apos;&plus;&sol;", "<&>\"'+/"),
            ("&amp&lt", "&<"), // legacy, no `;`
            (r"\u{1F600}\uD83D\uDE00\U0001F600", "😀😀😀"),
            (r#"\"\\\/\'\x41"#, "\"\\/'A"),
            ("%u002B", "+"),
        ] {
            assert_eq!(once(escaped), plain, "{escaped}");
        }
    }

    #[test]
    fn two_levels_need_two_passes() {
        let twice = |s: &str| {
            let one = unescape(s.as_bytes()).unwrap();
            String::from_utf8(unescape(&one).unwrap().to_vec()).unwrap()
        };
        assert_eq!(twice("a%252Bb"), "a+b");
        assert_eq!(twice("a&amp;#43;b"), "a+b");
        assert_eq!(twice(r"a\u0026#43;b"), "a+b");
    }

    #[test]
    fn incomplete_escapes_and_plain_text_are_kept() {
        assert!(unescape(b"plain text, no escapes").is_none());
        assert!(
            unescape(b"50% off & more").is_none(),
            "nothing decodes: no copy"
        );
        for s in [
            r"\u12",
            r"\uZZZZ",
            "%2",
            "%zz",
            "&#;",
            "&unknown;",
            "&",
            r"\",
            r"\q",
            r"\uD800x",
            "&#0;",
            "&#x110000;",
            r"\u{}",
            r"\u{41",
        ] {
            assert!(unescape(s.as_bytes()).is_none(), "{s}");
        }
        // A lone high surrogate is kept; what follows still decodes.
        assert_eq!(once(r"\uD800\u0041"), r"\uD800A");
    }
}
