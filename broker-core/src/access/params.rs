//! Method override by parameter: the request the policy judges is the
//! request that is sent, so no parameter may turn it into another method.
//!
//! Rails (`Rack::MethodOverride`), Laravel, Symfony, CakePHP, Yii, Spring's
//! `HiddenHttpMethodFilter`, Sinatra, Hono and Express's `method-override`
//! read `_method` from the query or a form body and act on *that* method:
//! `POST /items/1?_method=DELETE` is a DELETE to them while Cedar judged a
//! POST. Laravel reads it from JSON input too; Salesforce's REST API reads
//! `_HttpMethod`; some stacks take the override headers' names as
//! parameters. So a request is refused (before `kms:Decrypt`) when any
//! [`OVERRIDE_PARAMS`] name appears as
//!
//! * a query key (decoded; also decoded once more, for servers that decode
//!   twice);
//! * a key of an `application/x-www-form-urlencoded` body (split on `&`
//!   and `;`, `+` as space, escapes decoded);
//! * the `name` of a `multipart/form-data` part;
//! * a top-level key of a JSON body (`application/json`, `*/*+json`).
//!
//! Names are compared after the folds servers apply: ASCII case, leading
//! and trailing spaces, PHP's `.`, ` ` and `[` into `_` (and `a[b]` is
//! array `a`), `-` as `_`.
//!
//! **A body whose Content-Type claims form, multipart or JSON but does not
//! parse as one is refused**, not skipped: the framework behind the
//! upstream may be more lenient than this parser (a bare-LF multipart, a
//! stray escape) and find a parameter this check never saw. An honest
//! client's body parses. A charset other than UTF-8 or US-ASCII in the
//! Content-Type is refused for the same reason (the parameter names would
//! be bytes this check does not read).
//!
//! **Bodies of any other type, or with no Content-Type, are still looked
//! at** leniently: Rack parses a POST body without a Content-Type as a
//! form, and servers configured to parse every body as JSON exist. Such a
//! body is refused if it reads as a form with an override key or as a JSON
//! object with one; if it reads as neither, it is passed on.

use serde::de::IgnoredAny;

/// Override parameter names, folded (see [`fold`]).
pub const OVERRIDE_PARAMS: [&str; 5] = [
    // Rails, Laravel, Symfony, CakePHP, Yii, Spring, Sinatra, Express, Hono.
    "_method",
    // Salesforce REST.
    "_httpmethod",
    // The override headers, taken as parameters by some stacks.
    "x_http_method_override",
    "x_http_method",
    "x_method_override",
];

/// A parameter name as servers read it: lowercase, trimmed, cut at `[` (PHP
/// arrays) or NUL, with `-`, `.` and ` ` as `_`.
fn fold(name: &[u8]) -> Vec<u8> {
    let end = name
        .iter()
        .position(|&b| b == b'[' || b == 0)
        .unwrap_or(name.len());
    name[..end]
        .trim_ascii()
        .iter()
        .map(|&b| match b {
            b'-' | b'.' | b' ' => b'_',
            b => b.to_ascii_lowercase(),
        })
        .collect()
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).and_then(|d| u8::try_from(d).ok())
}

/// `%XX` decoded (and `+` as space if `plus`); `None` on an invalid escape
/// when `strict`, kept as is otherwise.
fn percent_decode(s: &[u8], plus: bool, strict: bool) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            b'%' => match (
                s.get(i + 1).and_then(|&b| hex(b)),
                s.get(i + 2).and_then(|&b| hex(b)),
            ) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 3;
                    continue;
                }
                _ if strict => return None,
                _ => out.push(b'%'),
            },
            b'+' if plus => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    Some(out)
}

/// Whether `name` is an override parameter, as given or decoded once more.
pub fn is_override(name: &[u8]) -> bool {
    let hit = |n: &[u8]| OVERRIDE_PARAMS.iter().any(|p| fold(n) == p.as_bytes());
    hit(name) || percent_decode(name, false, false).is_some_and(|d| hit(&d))
}

fn refused(key: &[u8], where_: &str) -> String {
    format!(
        "the {where_} sets {:?}, a method override: the policy judged the request's own method",
        String::from_utf8_lossy(key)
    )
}

/// Refuse decoded query pairs with an override key.
pub fn check_query(pairs: &[(String, String)]) -> Result<(), String> {
    match pairs.iter().find(|(k, _)| is_override(k.as_bytes())) {
        Some((k, _)) => Err(refused(k.as_bytes(), "query")),
        None => Ok(()),
    }
}

/// How a body is read, from its Content-Type.
#[derive(Debug, PartialEq, Eq)]
enum Kind {
    Form,
    Multipart(String),
    Json,
    Other,
}

/// A parameter of a header value: `k=v` or `k="v"` (backslash escapes).
fn param_value(raw: &str) -> String {
    let v = raw.trim();
    match v.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
        Some(q) => {
            let mut out = String::with_capacity(q.len());
            let mut chars = q.chars();
            while let Some(c) = chars.next() {
                out.extend(if c == '\\' { chars.next() } else { Some(c) });
            }
            out
        }
        None => v.to_owned(),
    }
}

/// The body kind a Content-Type declares; refuses a non-UTF-8 charset and
/// a multipart type without a usable boundary.
fn kind(content_type: Option<&str>) -> Result<Kind, String> {
    let Some(ct) = content_type else {
        return Ok(Kind::Other);
    };
    let mut parts = ct.split(';');
    let media = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
    let mut boundary = None;
    for p in parts {
        let Some((k, v)) = p.split_once('=') else {
            continue;
        };
        let k = k.trim().to_ascii_lowercase();
        let v = param_value(v);
        if k == "charset"
            && !["utf-8", "utf8", "us-ascii"].contains(&v.to_ascii_lowercase().as_str())
        {
            return Err(format!(
                "the Content-Type names charset {v:?}: request bodies must be UTF-8"
            ));
        }
        if k == "boundary" {
            boundary = Some(v);
        }
    }
    let subtype = media.split_once('/').map_or("", |(_, s)| s);
    Ok(match media.as_str() {
        "application/x-www-form-urlencoded" => Kind::Form,
        "multipart/form-data" => {
            match boundary {
                Some(b) if (1..=70).contains(&b.len()) => Kind::Multipart(b),
                _ => return Err(
                    "the multipart/form-data Content-Type has no usable boundary (1-70 characters)"
                        .into(),
                ),
            }
        }
        _ if subtype == "json" || subtype.ends_with("+json") => Kind::Json,
        _ => Kind::Other,
    })
}

/// Refuse a body with an override parameter (module docs).
/// `content_type` is the Content-Type header the broker will send.
pub fn check_body(content_type: Option<&str>, body: &[u8]) -> Result<(), String> {
    if body.is_empty() {
        return Ok(());
    }
    match kind(content_type)? {
        Kind::Form => form(body, true),
        Kind::Multipart(boundary) => multipart::check(body, boundary.as_bytes()),
        Kind::Json => json(body, true),
        Kind::Other => {
            form(body, false)?;
            json(body, false)
        }
    }
}

/// Form keys; `strict`: an invalid escape is an error, not a literal.
fn form(body: &[u8], strict: bool) -> Result<(), String> {
    let invalid = || "the form body has an invalid percent-escape".to_owned();
    for pair in body.split(|&b| b == b'&' || b == b';') {
        let mut halves = pair.splitn(2, |&b| b == b'=');
        let key = halves.next().unwrap_or_default();
        let decoded = percent_decode(key, true, strict).ok_or_else(invalid)?;
        if strict {
            percent_decode(halves.next().unwrap_or_default(), true, true).ok_or_else(invalid)?;
        }
        if is_override(&decoded) {
            return Err(refused(&decoded, "form body"));
        }
    }
    Ok(())
}

/// Top-level JSON keys; `strict`: a body that does not parse is an error.
fn json(body: &[u8], strict: bool) -> Result<(), String> {
    let is_object = body.trim_ascii_start().first() == Some(&b'{');
    if !is_object {
        return match serde_json::from_slice::<IgnoredAny>(body) {
            Err(_) if strict => Err("the body is declared JSON but does not parse".into()),
            _ => Ok(()),
        };
    }
    match serde_json::from_slice::<std::collections::BTreeMap<String, IgnoredAny>>(body) {
        Ok(keys) => match keys.keys().find(|k| is_override(k.as_bytes())) {
            Some(k) => Err(refused(k.as_bytes(), "JSON body")),
            None => Ok(()),
        },
        Err(_) if strict => Err("the body is declared JSON but does not parse".into()),
        Err(_) => Ok(()),
    }
}

mod multipart;

#[cfg(test)]
mod tests;
