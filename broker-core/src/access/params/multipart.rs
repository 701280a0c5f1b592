//! `multipart/form-data` bodies (RFC 7578): the structure must parse
//! strictly, and no part may be named like a method override.
//!
//! Two passes, because servers' multipart parsers differ (bare LF line
//! ends, header folding, nested parts): the strict pass refuses any body
//! an honest client would not send (no opening boundary, a part not closed,
//! a part without `Content-Disposition: form-data; name=...`), and a
//! lenient pass reads every `name=` parameter anywhere in the body, so
//! that a part a more forgiving parser would find is refused too.

use super::{is_override, percent_decode, refused};

fn bad(why: &str) -> String {
    format!("the multipart body does not parse: {why}")
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Check a multipart body with `boundary` (module docs).
pub(super) fn check(body: &[u8], boundary: &[u8]) -> Result<(), String> {
    let delim = [b"--", boundary].concat();
    let close = [b"\r\n", delim.as_slice()].concat();
    let mut pos = if body.starts_with(&delim) {
        delim.len()
    } else {
        find(body, &close).ok_or_else(|| bad("no opening boundary"))? + close.len()
    };
    let mut parts = 0;
    loop {
        let rest = &body[pos..];
        if rest.starts_with(b"--") {
            break;
        }
        let padding = rest
            .iter()
            .take_while(|&&b| b == b' ' || b == b'\t')
            .count();
        if !rest[padding..].starts_with(b"\r\n") {
            return Err(bad("a boundary line does not end in CRLF"));
        }
        let start = pos + padding + 2;
        let len = find(&body[start..], &close)
            .ok_or_else(|| bad("a part is not closed by the boundary"))?;
        part(&body[start..start + len])?;
        parts += 1;
        pos = start + len + close.len();
    }
    if parts == 0 {
        return Err(bad("no parts"));
    }
    scan(body)
}

/// One part: header lines, a blank line, content. Its
/// `Content-Disposition` must be `form-data` with a name.
fn part(p: &[u8]) -> Result<(), String> {
    let end = find(p, b"\r\n\r\n").ok_or_else(|| bad("a part has no header block"))?;
    let mut name = None;
    for line in p[..end].split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.first().is_some_and(|b| b.is_ascii_whitespace()) || line.contains(&b'\r') {
            return Err(bad("a part header is folded or has a bare CR"));
        }
        let (k, v) = line
            .iter()
            .position(|&b| b == b':')
            .map(|i| (&line[..i], &line[i + 1..]))
            .ok_or_else(|| bad("a part header has no ':'"))?;
        if !k.eq_ignore_ascii_case(b"content-disposition") {
            continue;
        }
        if name.is_some() {
            return Err(bad("a part has two Content-Disposition headers"));
        }
        let v = v.trim_ascii();
        let is_form_data = v.len() >= 9 && v[..9].eq_ignore_ascii_case(b"form-data");
        if !is_form_data {
            return Err(bad("a part's Content-Disposition is not form-data"));
        }
        name = names(v).into_iter().next();
        if name.is_none() {
            return Err(bad("a part has no name"));
        }
    }
    name.map(|_| ())
        .ok_or_else(|| bad("a part has no Content-Disposition"))
}

/// Every `name` / `name*` parameter value in `s`, decoded (lenient: any
/// position after `;`, whitespace or the start).
fn names(s: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut i = 0;
    while i + 4 <= s.len() {
        let at_boundary = i == 0 || matches!(s[i - 1], b';' | b' ' | b'\t' | b'\n' | b'\r');
        if !(at_boundary && s[i..i + 4].eq_ignore_ascii_case(b"name")) {
            i += 1;
            continue;
        }
        let mut j = i + 4;
        let star = s.get(j) == Some(&b'*');
        j += usize::from(star);
        while s.get(j).is_some_and(|b| *b == b' ' || *b == b'\t') {
            j += 1;
        }
        if s.get(j) != Some(&b'=') {
            i += 1;
            continue;
        }
        j += 1;
        while s.get(j).is_some_and(|b| *b == b' ' || *b == b'\t') {
            j += 1;
        }
        let (value, used) = value(&s[j..]);
        out.push(if star { extended(&value) } else { value });
        i = j + used.max(1);
    }
    out
}

/// A token or quoted-string value and the bytes it used.
fn value(s: &[u8]) -> (Vec<u8>, usize) {
    if s.first() != Some(&b'"') {
        let len = s
            .iter()
            .position(|&b| matches!(b, b';' | b'\r' | b'\n' | b' ' | b'\t'))
            .unwrap_or(s.len());
        return (s[..len].to_vec(), len);
    }
    let mut out = Vec::new();
    let mut i = 1;
    while i < s.len() {
        match s[i] {
            b'\\' if i + 1 < s.len() => {
                out.push(s[i + 1]);
                i += 2;
                continue;
            }
            b'"' => return (out, i + 1),
            b => out.push(b),
        }
        i += 1;
    }
    (out, s.len())
}

/// RFC 8187 `charset'lang'pct-encoded`, decoded (the charset is not
/// trusted: the name's bytes are what servers compare).
fn extended(v: &[u8]) -> Vec<u8> {
    let mut quotes = v.iter().enumerate().filter(|(_, &b)| b == b'\'');
    let start = match (quotes.next(), quotes.next()) {
        (Some(_), Some((i, _))) => i + 1,
        _ => 0,
    };
    percent_decode(&v[start..], false, false).unwrap_or_default()
}

/// The lenient pass: any `name=` anywhere that is an override.
fn scan(body: &[u8]) -> Result<(), String> {
    match names(body).into_iter().find(|n| is_override(n)) {
        Some(n) => Err(refused(&n, "multipart body")),
        None => Ok(()),
    }
}
