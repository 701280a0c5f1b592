//! Probing made expensive and visible: the scan of what the agent supplied,
//! and the one point where each answer is decided against the secret's
//! probe breaker (broker-core's `breaker` module has the design and the
//! argument; this is the inject function's half of it).
//!
//! * **The request scan.** After `kms:Decrypt` and before anything is sent,
//!   the needles ([`crate::inject::scrub`]) are built and run over what the agent
//!   supplied: the URL as given and as it will be sent (path and query), every
//!   header name and value, and the body. An honest agent never holds a
//!   piece of the credential, so a hit is a *probe*: the request is not
//!   sent, and the agent gets `probe`.
//! * **Echoes count too.** A response that contained a form of the
//!   credential (withheld, or redacted for a binding that opted in) is a
//!   probe event of kind `echo`.
//! * **The decision points.** [`decide`] runs right after the request scan
//!   (before anything is sent) and again after the response scan, for every
//!   answer alike (success, echo, upstream failure): a hit is counted with a
//!   conditional update (over the budget: `quarantined`); a miss reads the
//!   breaker, consistently, and is answered `quarantined` if a concurrent
//!   request tripped it. So every answer decided after the trip is the same,
//!   at the same moment of the request, whatever its scan found
//!   (broker-core's `breaker` module has the argument).

use broker_core::{Broker, BrokerError, Injection, Probation, ProbeKind, SecretValue};

use crate::edge::upstream;
use crate::inject::scrub::{charset, Needles};

/// What the agent is told when its request carried credential material.
/// Fixed text: never a value, never where it was found.
pub const PROBE_MESSAGE: &str = "the request contained material derived from the credential \
     (in its URL, a header or its body) and was not sent; an honest request never does. This is \
     recorded and counted against the secret's probe budget: past it the secret is quarantined \
     for every agent until an operator clears it";

/// Every form of the credential to look for: the secret itself, the value
/// injected at the binding's injection point, and for Basic auth the
/// `user:secret` pair. Built once per injection, before the request is
/// sent, and used for both scans.
pub fn needles(inject: &Injection, secret: &SecretValue) -> Needles {
    let injected = upstream::injected_value(inject, secret);
    let pair = match inject {
        Injection::BasicAuth { username } => Some(upstream::basic_pair(username, secret)),
        _ => None,
    };
    let mut extra: Vec<&[u8]> = vec![injected.as_slice()];
    extra.extend(pair.as_ref().map(|p| p.as_slice()));
    Needles::new(secret.expose(), &extra)
}

/// What the agent supplied, as the request scan sees it.
pub struct AgentMaterial<'a> {
    /// The URL as the event gave it (raw text).
    pub url: &'a str,
    /// The URL as it will be sent (normalised by the access check).
    pub sent_url: &'a str,
    /// The agent's headers, names and values as given.
    pub headers: &'a [(&'a str, &'a str)],
    /// The body as it will be sent (base64 decoded).
    pub body: &'a [u8],
}

/// Occurrences of any form of the credential in what the agent supplied,
/// read every way an upstream might decode it (`scrub`'s module docs): the
/// body in the charset the agent's `Content-Type` declares, if the scan
/// reads that charset (one it does not read is still scanned raw, and an
/// upstream's echo of it is scanned again on the way back).
pub fn scan_request(needles: &Needles, m: &AgentMaterial<'_>) -> usize {
    let declared = m
        .headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-type"))
        .and_then(|(_, v)| charset::declared(v.as_bytes()).ok().flatten());
    needles.count(m.url.as_bytes())
        + needles.count(m.sent_url.as_bytes())
        + m.headers
            .iter()
            .map(|(k, v)| needles.count(k.as_bytes()) + needles.count(v.as_bytes()))
            .sum::<usize>()
        + needles.count_text(m.body, declared)
}

/// Decide an answer against the breaker, after the scans: `found` is the
/// probe event the scans found, if any. `Ok(Some(count))`: the event was
/// counted (the count after it), answer as planned; `Ok(None)`: nothing was
/// found and the breaker has not tripped, answer as planned. An error
/// (`Quarantined`, or the table failing) replaces the planned answer.
pub async fn decide(
    broker: &Broker,
    probation: &Probation,
    found: Option<ProbeKind>,
) -> Result<Option<u64>, BrokerError> {
    match found {
        Some(kind) => broker.count_probe(probation, kind).await.map(Some),
        None => broker
            .confirm_not_quarantined(probation)
            .await
            .map(|()| None),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    const SECRET: &str = "sk-test-0123456789abcdefXYZ";

    fn needles_of(secret: &str) -> Needles {
        let secret = SecretValue::from_string(secret.to_owned()).unwrap();
        let inject = Injection::Header {
            name: "authorization".into(),
            template: "Bearer {secret}".into(),
        };
        needles(&inject, &secret)
    }

    fn scan(url: &str, headers: &[(&str, &str)], body: &[u8]) -> usize {
        let n = needles_of(SECRET);
        scan_request(
            &n,
            &AgentMaterial {
                url,
                sent_url: url,
                headers,
                body,
            },
        )
    }

    #[test]
    fn credential_material_anywhere_in_the_request_is_found() {
        let n = needles_of(SECRET);
        let start = n.public_prefix_len() + 1;
        let frag = &SECRET[start..start + n.fragment_len()];
        let escaped = frag.replace('0', "%30");
        let utf16: Vec<u8> = frag.encode_utf16().flat_map(u16::to_le_bytes).collect();
        assert!(scan("https://h/", &[], &utf16) >= 1, "a UTF-16 body");
        assert!(scan(&format!("https://h/?q={escaped}"), &[], b"") >= 1);
        for (url, headers, body) in [
            (format!("https://h/x?q={SECRET}"), vec![], String::new()),
            (format!("https://h/{frag}"), vec![], String::new()),
            ("https://h/".into(), vec![("x-note", frag)], String::new()),
            ("https://h/".into(), vec![(frag, "v")], String::new()),
            ("https://h/".into(), vec![], format!("{{\"q\":\"{frag}\"}}")),
            (
                "https://h/".into(),
                vec![],
                SECRET.to_ascii_uppercase().to_string(),
            ),
        ] {
            let h: Vec<(&str, &str)> = headers.to_vec();
            assert!(scan(&url, &h, body.as_bytes()) >= 1, "{url} {h:?} {body}");
        }
    }

    #[test]
    fn an_honest_request_is_not_a_probe() {
        assert_eq!(
            scan(
                "https://api.example.com/v1/items?page=2",
                &[("accept", "application/json"), ("x-note", "Bearer tokens")],
                br#"{"name":"sk-test-01","hint":"...XYZ"}"#,
            ),
            0
        );
    }
}
