//! One canonical form of the request target, computed once, before the
//! binding and the policy look at it, and sent exactly as computed.
//!
//! Why: the policy judges a string, the upstream acts on what its own
//! decoder makes of that string. If the two differ (`/%61dmin` judged,
//! `/admin` served; `/a/%2e%2e/admin`; `/x%2Fadmin`; `/admin;x=1`), a
//! `forbid` on `/admin` is bypassed. So the broker refuses every form whose
//! meaning servers disagree on, decodes the rest into the one form every
//! server agrees on, and sends that form.
//!
//! Rules for the path (each segment between `/`):
//! * escapes of unreserved characters (`A-Z a-z 0-9 - . _ ~`) are decoded;
//!   every other escape is kept, hex uppercased;
//! * refused: encoded `/` or `\` (`%2F`, `%5C`), `%25` (double encoding), an
//!   invalid escape, `;` (path parameters), backslash, control characters
//!   raw or encoded (`%00`-`%1F`, `%7F`), any character outside RFC 3986
//!   `pchar` (spaces, quotes, non-ASCII: percent-encode them), dot segments
//!   `.` and `..` raw or encoded, and empty segments (`//`) except a
//!   trailing `/`.
//!
//! Rules for the query: pairs split on `&`, each `key=value` or `key`;
//! refused: a raw `+` (form decoders read a space, RFC 3986 decoders a
//! plus), a raw `;` (an old separator), a second raw `=` in a pair, empty
//! pairs, invalid escapes, control characters, escapes that do not decode to
//! UTF-8, and a key given twice after decoding (servers take the first, the
//! last, or a list: the policy could not know which). Keys and values are
//! fully decoded for the policy and re-encoded canonically (unreserved
//! characters as is, every other byte `%XX`) for the upstream, so the
//! server decodes exactly what the policy saw. `%25` is allowed in the
//! query: it decodes to a literal `%`, which is data there, not structure.

/// Why a target was refused. The message is for the agent; it never
/// contains anything but the agent's own request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TargetError(pub String);

fn bad(why: impl Into<String>) -> TargetError {
    TargetError(why.into())
}

/// A path and query in canonical form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The canonical path (starts with `/`), exactly as sent.
    pub path: String,
    /// Decoded query pairs in request order (keys unique).
    pub query: Vec<(String, String)>,
    /// The canonical query string as sent (no leading `?`), if any.
    pub query_text: Option<String>,
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// RFC 3986 `sub-delims` without `;` (refused in paths) and `+` (handled
/// per part).
fn is_sub_delim(b: u8) -> bool {
    matches!(
        b,
        b'!' | b'$' | b'&' | b'\'' | b'(' | b')' | b'*' | b'+' | b',' | b'='
    )
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// The byte an escape at `s[i]` (`%XX`) stands for.
fn escape_at(s: &[u8], i: usize) -> Result<u8, TargetError> {
    match (
        s.get(i + 1).copied().and_then(hex),
        s.get(i + 2).copied().and_then(hex),
    ) {
        (Some(h), Some(l)) => Ok(h << 4 | l),
        _ => Err(bad("the URL has an invalid percent-escape")),
    }
}

fn is_control(b: u8) -> bool {
    b < 0x20 || b == 0x7f
}

fn push_escape(out: &mut String, b: u8) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    out.push('%');
    out.push(HEX[usize::from(b >> 4)] as char);
    out.push(HEX[usize::from(b & 15)] as char);
}

/// Canonical form of one path segment.
fn segment(raw: &str) -> Result<String, TargetError> {
    let s = raw.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        let b = s[i];
        if b == b'%' {
            let d = escape_at(s, i)?;
            match d {
                b'/' | b'\\' => return Err(bad("the path has an encoded '/' or '\\' (%2F, %5C)")),
                b'%' => return Err(bad("the path has an encoded '%' (%25, double encoding)")),
                _ if is_control(d) => return Err(bad("the path has an encoded control character")),
                _ if is_unreserved(d) => out.push(d as char),
                _ => push_escape(&mut out, d),
            }
            i += 3;
            continue;
        }
        match b {
            b';' => return Err(bad("the path has a ';' (path parameters are refused)")),
            b'\\' => return Err(bad("the path has a backslash")),
            _ if is_control(b) => return Err(bad("the path has a control character")),
            _ if is_unreserved(b) || is_sub_delim(b) || b == b':' || b == b'@' => {
                out.push(b as char)
            }
            _ => {
                return Err(bad(format!(
                    "the path has a character that must be percent-encoded (byte 0x{b:02X})"
                )))
            }
        }
        i += 1;
    }
    if out == "." || out == ".." {
        return Err(bad(
            "the path has a dot segment ('.' or '..', raw or encoded)",
        ));
    }
    Ok(out)
}

/// Canonical form of a raw path (as written in the URL, before any
/// decoding). An empty path is `/`.
pub fn normalise_path(raw: &str) -> Result<String, TargetError> {
    if raw.is_empty() {
        return Ok("/".into());
    }
    let rest = raw
        .strip_prefix('/')
        .ok_or_else(|| bad("the path must start with '/'"))?;
    let segments: Vec<&str> = rest.split('/').collect();
    let mut out = String::with_capacity(raw.len());
    for (i, seg) in segments.iter().enumerate() {
        if seg.is_empty() && i + 1 < segments.len() {
            return Err(bad("the path has an empty segment ('//')"));
        }
        out.push('/');
        out.push_str(&segment(seg)?);
    }
    Ok(out)
}

/// Decode one query component fully; refuse what could decode differently.
fn query_part(raw: &str) -> Result<String, TargetError> {
    let s = raw.as_bytes();
    let mut bytes = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        let b = s[i];
        let d = match b {
            b'%' => {
                let d = escape_at(s, i)?;
                i += 2;
                d
            }
            b'+' => {
                return Err(bad(
                    "the query has a raw '+' (servers read it as space or plus): send %20 or %2B",
                ))
            }
            b';' => return Err(bad("the query has a raw ';' (an old pair separator)")),
            b'=' => return Err(bad("a query pair has a second raw '=': send %3D")),
            _ if is_unreserved(b) || is_sub_delim(b) || matches!(b, b':' | b'@' | b'/' | b'?') => b,
            _ if is_control(b) => return Err(bad("the query has a control character")),
            _ => {
                return Err(bad(format!(
                    "the query has a character that must be percent-encoded (byte 0x{b:02X})"
                )))
            }
        };
        if is_control(d) {
            return Err(bad("the query has an encoded control character"));
        }
        bytes.push(d);
        i += 1;
    }
    String::from_utf8(bytes).map_err(|_| bad("the query's escapes do not decode to UTF-8"))
}

fn encode_part(out: &mut String, s: &str) {
    for &b in s.as_bytes() {
        if is_unreserved(b) {
            out.push(b as char);
        } else {
            push_escape(out, b);
        }
    }
}

/// Decoded query pairs in request order, keys unique.
pub type Pairs = Vec<(String, String)>;

/// Decoded pairs and canonical text of a raw query (without `?`).
pub fn normalise_query(raw: &str) -> Result<(Pairs, Option<String>), TargetError> {
    if raw.is_empty() {
        return Ok((Vec::new(), None));
    }
    let mut pairs: Vec<(String, String)> = Vec::new();
    let mut text = String::with_capacity(raw.len());
    for pair in raw.split('&') {
        if pair.is_empty() {
            return Err(bad("the query has an empty pair ('&&' or a trailing '&')"));
        }
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let (k, v) = (query_part(k)?, query_part(v)?);
        if k.is_empty() {
            return Err(bad("the query has a pair with an empty key"));
        }
        if pairs.iter().any(|(seen, _)| *seen == k) {
            return Err(bad(format!(
                "the query sets {k:?} more than once (servers disagree on which counts)"
            )));
        }
        if !text.is_empty() {
            text.push('&');
        }
        encode_part(&mut text, &k);
        text.push('=');
        encode_part(&mut text, &v);
        pairs.push((k, v));
    }
    Ok((pairs, Some(text)))
}

/// Split an absolute `scheme://authority/path?query#fragment` URL as the
/// agent wrote it and canonicalise path and query. The raw text is used,
/// not a parser's view of it: WHATWG parsers already turn `%2e%2e` into
/// `..` and `\` into `/`, which hides exactly the tricks refused here.
pub fn normalise_target(raw_url: &str) -> Result<Target, TargetError> {
    if raw_url
        .bytes()
        .any(|b| is_control(b) || b == b' ' || b == b'\\')
    {
        return Err(bad(
            "the URL has whitespace, control characters or a backslash",
        ));
    }
    let after_scheme = raw_url
        .split_once("://")
        .map(|(_, rest)| rest)
        .ok_or_else(|| bad("the URL must be absolute (scheme://host/path)"))?;
    let start = after_scheme
        .find(['/', '?', '#'])
        .unwrap_or(after_scheme.len());
    let target = &after_scheme[start..];
    let target = target.split_once('#').map_or(target, |(t, _)| t);
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let (query, query_text) = normalise_query(query)?;
    Ok(Target {
        path: normalise_path(path)?,
        query,
        query_text,
    })
}

#[cfg(test)]
mod tests;
