//! What of an upstream answer reaches the agent.
//!
//! The agent controls the request (everything but host and injection point)
//! and may repeat it at will, and the upstream may be hostile. So:
//! * **No encodings**: the broker asked for `identity`; a response with any
//!   other `Content-Encoding` (gzip, br, unknown, stacked) or a
//!   `Transfer-Encoding` other than `chunked` is refused, since scanning
//!   compressed bytes finds nothing and the agent would decode them.
//! * **No partial content**: a `206` or any `Content-Range` is refused, so a
//!   response cannot be a slice that hides the credential from the scan.
//! * **No charset the scan cannot read**: a `Content-Type` charset that is
//!   neither ASCII-based nor UTF-16/UTF-32 (which the scan decodes) is
//!   refused (`scrub::charset`: UTF-7, EBCDIC, ISO-2022).
//! * **Withhold, don't redact** (by default): if any form of the credential
//!   ([`crate::inject::scrub`]) appears in any header name or value or in the body,
//!   the agent gets only the status and the `echo_withheld` marker. A binding
//!   may opt into [`OnEcho::Redact`], which returns the response with each
//!   occurrence replaced, and is documented as weaker (a guessing oracle).

use std::collections::BTreeMap;

use broker_core::OnEcho;
use serde::Serialize;

use crate::edge::upstream::Answer;
use crate::inject::scrub::charset::{self, Text};
use crate::inject::scrub::Needles;

/// What the broker did about an echoed credential (audit field `echo`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EchoAction {
    /// Headers and body withheld from the agent.
    Withheld,
    /// Occurrences replaced with `[REDACTED]`.
    Redacted,
}

/// The agent's view of an upstream answer.
#[derive(Debug)]
pub struct Shaped {
    /// Upstream status.
    pub status: u16,
    /// Headers (lowercase names) and body, or `None` when withheld.
    pub content: Option<(BTreeMap<String, String>, Vec<u8>)>,
    /// What was done about an echo, if there was one.
    pub echo: Option<EchoAction>,
    /// Occurrences of the credential found (in any form).
    pub found: usize,
}

/// A response the broker cannot vouch for. The message names the rule,
/// never a header value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FramingError {
    /// A `Content-Encoding` other than identity: the scan for the
    /// credential would look at compressed bytes.
    #[error(
        "upstream answered with a Content-Encoding the broker did not ask for \
         (it requests identity); the response is not passed on"
    )]
    Encoded,
    /// A `Transfer-Encoding` other than chunked.
    #[error(
        "upstream answered with a Transfer-Encoding other than chunked; \
         the response is not passed on"
    )]
    TransferEncoding,
    /// 206 or `Content-Range`: a slice could cut an echo in two.
    #[error(
        "upstream answered with partial content (206 or Content-Range); \
         the broker only passes on whole responses"
    )]
    Partial,
    /// A charset whose text the scan would not see as the agent does.
    #[error(
        "upstream answered in a charset the broker does not scan (only ASCII-based charsets, \
         UTF-16 and UTF-32 are read); the response is not passed on"
    )]
    Charset,
}

/// Refuse responses the broker cannot vouch for: encoded, partial, or in
/// a charset the scan cannot read.
/// The message names the rule, never a header value (the upstream writes
/// those, and may have put the credential there).
pub fn check_framing(answer: &Answer) -> Result<(), FramingError> {
    let tokens = |name: &str| {
        answer
            .headers
            .get(name)
            .map(|v| {
                String::from_utf8_lossy(v)
                    .split(',')
                    .map(|t| t.trim().to_ascii_lowercase())
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default()
    };
    if tokens("content-encoding")
        .iter()
        .any(|t| t.as_str() != "identity")
    {
        return Err(FramingError::Encoded);
    }
    if tokens("transfer-encoding")
        .iter()
        .any(|t| !matches!(t.as_str(), "chunked" | "identity"))
    {
        return Err(FramingError::TransferEncoding);
    }
    if answer.status == 206 || answer.headers.contains_key("content-range") {
        return Err(FramingError::Partial);
    }
    declared_text(answer)
        .map(|_| ())
        .map_err(|charset::Unsupported| FramingError::Charset)
}

/// The text encoding the answer's `Content-Type` declares, if any.
fn declared_text(answer: &Answer) -> Result<Option<Text>, charset::Unsupported> {
    answer
        .headers
        .get("content-type")
        .map_or(Ok(None), |v| charset::declared(v))
}

/// Decide what the agent sees. `hidden` names headers never passed on
/// (framing and hop headers), which are still scanned.
pub fn shape(
    answer: Answer,
    needles: &Needles,
    on_echo: OnEcho,
    hidden: impl Fn(&str) -> bool,
) -> Shaped {
    // check_framing refused an unsupported charset; here it reads as none.
    let text = declared_text(&answer).ok().flatten();
    let Answer {
        status,
        headers,
        mut body,
    } = answer;
    let found = headers
        .iter()
        .map(|(k, v)| needles.count(k.as_bytes()) + needles.count(v))
        .sum::<usize>()
        + needles.count_text(&body, text);
    let withheld = Shaped {
        status,
        content: None,
        echo: Some(EchoAction::Withheld),
        found,
    };
    // Redaction only when every form covers the whole value (scrub::MAX_WHOLE).
    if found > 0 && (on_echo == OnEcho::Withhold || !needles.complete()) {
        return withheld;
    }
    let mut out = BTreeMap::new();
    for (k, mut v) in headers {
        if hidden(&k) {
            continue;
        }
        let mut name = k.into_bytes();
        needles.redact(&mut name);
        needles.redact(&mut v);
        out.insert(
            String::from_utf8_lossy(&name).into_owned(),
            String::from_utf8_lossy(&v).into_owned(),
        );
    }
    needles.redact(&mut body);
    // Belt and braces: whatever redaction left must be clean, or nothing goes.
    let left = out
        .iter()
        .map(|(k, v)| needles.count(k.as_bytes()) + needles.count(v.as_bytes()))
        .sum::<usize>()
        + needles.count_text(&body, text);
    if left > 0 {
        return withheld;
    }
    Shaped {
        status,
        content: Some((out, body)),
        echo: (found > 0).then_some(EchoAction::Redacted),
        found,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    const SECRET: &[u8] = b"sk-test-0123456789abcdef";

    fn answer(status: u16, headers: &[(&str, &str)], body: &[u8]) -> Answer {
        Answer {
            status,
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec()))
                .collect(),
            body: body.to_vec(),
        }
    }

    #[test]
    fn encodings_and_partial_content_are_refused() {
        for (status, h) in [
            (200, ("content-encoding", "gzip")),
            (200, ("content-encoding", "identity, br")),
            (200, ("content-encoding", "x-unknown")),
            (200, ("content-encoding", "")),
            (200, ("transfer-encoding", "gzip, chunked")),
            (200, ("content-range", "bytes 0-3/10")),
            (200, ("content-type", "text/plain; charset=utf-7")),
            (200, ("content-type", "text/html; charset=IBM037")),
            (206, ("x", "y")),
        ] {
            assert!(check_framing(&answer(status, &[h], b"")).is_err(), "{h:?}");
        }
        for h in [
            ("content-encoding", "identity"),
            ("transfer-encoding", "chunked"),
            ("content-type", "application/json; charset=utf-16"),
            ("content-type", "text/html; charset=windows-1252"),
        ] {
            assert!(check_framing(&answer(200, &[h], b"")).is_ok(), "{h:?}");
        }
    }

    #[test]
    fn an_echo_anywhere_withholds_everything_by_default() {
        let n = Needles::new(SECRET, &[]);
        let s = std::str::from_utf8(SECRET).unwrap();
        let name = format!("x-{s}");
        for a in [
            answer(200, &[("x-echo", s)], b"fine"),
            answer(200, &[(name.as_str(), "v")], b"fine"),
            answer(401, &[], format!("bad key {s}").as_bytes()),
            answer(200, &[("connection", s)], b"hidden header still counts"),
        ] {
            let status = a.status;
            let shaped = shape(a, &n, OnEcho::Withhold, |h| h == "connection");
            assert!(shaped.content.is_none());
            assert_eq!(shaped.status, status);
            assert_eq!(shaped.echo, Some(EchoAction::Withheld));
            assert!(shaped.found >= 1);
        }
        let clean = shape(
            answer(200, &[("a", "b")], b"ok"),
            &n,
            OnEcho::Withhold,
            |_| false,
        );
        assert_eq!(clean.echo, None);
        let (h, body) = clean.content.unwrap();
        assert_eq!((h["a"].as_str(), body.as_slice()), ("b", b"ok".as_slice()));
    }

    #[test]
    fn a_partially_escaped_echo_is_withheld_even_where_redaction_was_chosen() {
        let n = Needles::new(SECRET, &[]);
        let s = std::str::from_utf8(SECRET).unwrap().replace('a', "\\u0061");
        let utf16: Vec<u8> = std::str::from_utf8(SECRET)
            .unwrap()
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect();
        for (headers, body) in [
            (vec![], s.into_bytes()),
            (
                vec![("content-type", "text/plain; charset=utf-16le")],
                utf16,
            ),
        ] {
            let shaped = shape(answer(200, &headers, &body), &n, OnEcho::Redact, |_| false);
            assert_eq!(shaped.echo, Some(EchoAction::Withheld));
            assert!(shaped.content.is_none());
        }
    }

    #[test]
    fn redact_is_opt_in_and_leaves_no_form_behind() {
        let n = Needles::new(SECRET, &[]);
        let s = std::str::from_utf8(SECRET).unwrap();
        let name = format!("x-{s}");
        let a = answer(200, &[(name.as_str(), s)], format!("k={s}").as_bytes());
        let shaped = shape(a, &n, OnEcho::Redact, |_| false);
        assert_eq!(shaped.echo, Some(EchoAction::Redacted));
        assert_eq!(shaped.found, 3);
        let (h, body) = shaped.content.unwrap();
        assert_eq!(h["x-[REDACTED]"], "[REDACTED]");
        assert_eq!(body, b"k=[REDACTED]");
    }
}
