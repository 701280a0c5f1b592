//! A hostile upstream for the adversarial suite: an API bound to a secret
//! that tries to hand the credential back to the agent. It speaks raw
//! HTTP/1.1 over TCP (one request per connection) so it can send what a
//! well-behaved server library would not: stacked or unknown encodings,
//! unsolicited `206`s, trailers, odd reason phrases, header names built
//! from the request.
//!
//! Every route is one [`Attack`]: it reads the credential from the request
//! (`Authorization: Bearer <secret>`, or `Basic` for the pair routes) and
//! reflects it in that attack's way. It counts accepted connections, so a
//! test can prove the broker never connected at all.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::reflect;

/// One way a bound upstream can reflect the credential. The route is
/// `/<name>` ([`Attack::path`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attack {
    /// Body gzip-compressed (real deflate codes), unasked.
    Gzip,
    /// Body zlib/deflate-compressed, unasked.
    Deflate,
    /// Body as a brotli stream, unasked.
    Brotli,
    /// `Content-Encoding` the broker has never heard of, body obfuscated.
    UnknownEncoding,
    /// `Content-Encoding: gzip, gzip` (compressed twice).
    StackedEncoding,
    /// `Transfer-Encoding: gzip, chunked`: hyper removes the chunking only.
    TransferEncodingGzip,
    /// `206 Partial Content` with a slice of the echo, unasked.
    Partial,
    /// `200` with a `Content-Range` and a slice of the echo.
    ContentRangeOn200,
    /// Ignores `Range`, but `?from=N&len=M` slices the echo (to be
    /// reassembled across requests).
    QuerySlice,
    /// The injected header value (`Bearer …`) in a response header.
    HeaderValue,
    /// The credential as a response header *name*.
    HeaderName,
    /// The credential in a `Location` of a redirect.
    RedirectLocation,
    /// The credential in the status line's reason phrase.
    ReasonPhrase,
    /// Raw in the body.
    BodyRaw,
    /// Upper-cased in the body.
    BodyUpper,
    /// base64 of the credential, inside a longer base64 value, at byte
    /// alignment 0, 1 or 2.
    Base64At0,
    /// See [`Attack::Base64At0`].
    Base64At1,
    /// See [`Attack::Base64At0`].
    Base64At2,
    /// URL-safe unpadded base64.
    Base64Url,
    /// A whole JSON document holding the echo, base64-encoded (a blob).
    Base64Blob,
    /// JSON string escaping as serde/Go/PHP write it (`\"`, `\u003c`, `\/`).
    JsonEscaped,
    /// Every character as `\uXXXX`.
    JsonUnicode,
    /// HTML named entities (`&amp;`, `&lt;`, `&quot;`, `&#x27;`, `&#x2F;`).
    HtmlNamed,
    /// Every character as `&#NN;`.
    HtmlDecimal,
    /// Every character as `&#xNN;`.
    HtmlHex,
    /// Every byte percent-encoded, upper-case hex.
    PercentUpper,
    /// Every byte percent-encoded, lower-case hex.
    PercentLower,
    /// Form encoding (`application/x-www-form-urlencoded`).
    FormEncoded,
    /// Hex, lower case.
    Hex,
    /// Hex, upper case.
    HexUpper,
    /// The Basic-auth `user:secret` pair without `Basic `, raw.
    BasicPairRaw,
    /// The pair base64-encoded inside a longer value (not at its start).
    BasicPairBase64,
    /// Chunked body, the echo split across two chunks.
    ChunkSplit,
    /// Chunked body without the echo, the echo in a trailer.
    Trailer,
    /// .NET's JSON encoder: `+` and HTML characters as `\u002B` … only.
    DotNetJson,
    /// Go's `html/template`: `+` as `&#43;`, quotes as `&#39;`/`&#34;`.
    GoHtmlTemplate,
    /// Gson: `=` as `\u003d`, `'` as `\u0027`, HTML characters.
    Gson,
    /// Punctuation as `&#NN` without the `;`.
    EntityNoSemicolon,
    /// Punctuation percent-encoded twice (`%252B`).
    DoublePercent,
    /// UTF-16LE declared in `charset`, no BOM.
    Utf16Declared,
    /// UTF-16BE with a BOM, no `charset`.
    Utf16Bom,
    /// UTF-16LE with neither BOM nor `charset`.
    Utf16Bare,
    /// UTF-32LE with a BOM.
    Utf32Bom,
    /// `charset=utf-7`: ASCII spelled in base64 runs.
    Utf7,
}

impl Attack {
    /// Every attack.
    pub const ALL: [Attack; 44] = [
        Self::Gzip,
        Self::Deflate,
        Self::Brotli,
        Self::UnknownEncoding,
        Self::StackedEncoding,
        Self::TransferEncodingGzip,
        Self::Partial,
        Self::ContentRangeOn200,
        Self::QuerySlice,
        Self::HeaderValue,
        Self::HeaderName,
        Self::RedirectLocation,
        Self::ReasonPhrase,
        Self::BodyRaw,
        Self::BodyUpper,
        Self::Base64At0,
        Self::Base64At1,
        Self::Base64At2,
        Self::Base64Url,
        Self::Base64Blob,
        Self::JsonEscaped,
        Self::JsonUnicode,
        Self::HtmlNamed,
        Self::HtmlDecimal,
        Self::HtmlHex,
        Self::PercentUpper,
        Self::PercentLower,
        Self::FormEncoded,
        Self::Hex,
        Self::HexUpper,
        Self::BasicPairRaw,
        Self::BasicPairBase64,
        Self::ChunkSplit,
        Self::Trailer,
        Self::DotNetJson,
        Self::GoHtmlTemplate,
        Self::Gson,
        Self::EntityNoSemicolon,
        Self::DoublePercent,
        Self::Utf16Declared,
        Self::Utf16Bom,
        Self::Utf16Bare,
        Self::Utf32Bom,
        Self::Utf7,
    ];

    /// The attacks of an ordinary server's encoders (partial escapes,
    /// charsets: `crate::reflect`), which no enumerated form matches: the
    /// last ten of [`Attack::ALL`].
    pub const REFLECT: &'static [Attack] = Self::ALL.split_at(34).1;

    /// The route, e.g. `/gzip`.
    pub fn path(self) -> String {
        let debug = format!("{self:?}");
        let mut out = String::from("/");
        for (i, c) in debug.chars().enumerate() {
            if c.is_ascii_uppercase() && i > 0 {
                out.push('-');
            }
            out.push(c.to_ascii_lowercase());
        }
        out
    }

    fn from_path(path: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.path() == path)
    }
}

/// The hostile server.
pub struct Hostile {
    /// Where it listens (127.0.0.1, ephemeral port).
    pub addr: SocketAddr,
    connections: Arc<AtomicUsize>,
    requests: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Hostile {
    /// Start listening.
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let connections = Arc::new(AtomicUsize::new(0));
        let requests: Arc<Mutex<Vec<String>>> = Arc::default();
        let (conns, reqs) = (connections.clone(), requests.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                conns.fetch_add(1, Ordering::SeqCst);
                let reqs = reqs.clone();
                tokio::spawn(async move {
                    let Some(mut stream) = crate::tls::accept(stream).await else {
                        return;
                    };
                    let Some(head) = read_head(&mut stream).await else {
                        return;
                    };
                    let request = Request::parse(&head);
                    reqs.lock().unwrap().push(request.target.clone());
                    let _ = stream.write_all(&respond(&request)).await;
                    let _ = stream.shutdown().await;
                });
            }
        });
        Self {
            addr,
            connections,
            requests,
            task,
        }
    }

    /// TCP connections accepted so far.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    /// Request targets (path and query) received so far.
    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }

    /// `https://127.0.0.1:<port><attack path>` (`http://` when the stack
    /// runs plain HTTP, see [`crate::tls`]).
    pub fn url(&self, attack: Attack) -> String {
        format!("{}://{}{}", crate::tls::scheme(), self.addr, attack.path())
    }
}

impl Drop for Hostile {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn read_head(stream: &mut (impl tokio::io::AsyncRead + Unpin)) -> Option<String> {
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

struct Request {
    target: String,
    headers: Vec<(String, String)>,
}

impl Request {
    fn parse(head: &str) -> Self {
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

fn respond(req: &Request) -> Vec<u8> {
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

/// Raw DEFLATE with fixed Huffman codes, literals only: real compressed
/// bits (no byte of the input survives as such), enough for any inflater.
fn deflate_fixed(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let (mut acc, mut n) = (0u32, 0u32);
    let mut put = |bits: u32, count: u32, out: &mut Vec<u8>| {
        acc |= bits << n;
        n += count;
        while n >= 8 {
            out.push((acc & 0xff) as u8);
            acc >>= 8;
            n -= 8;
        }
    };
    // Huffman codes go most significant bit first.
    let code = |c: u32, len: u32| (0..len).fold(0, |r, i| r | (((c >> (len - 1 - i)) & 1) << i));
    put(1, 1, &mut out); // BFINAL
    put(1, 2, &mut out); // BTYPE = 01, fixed codes
    for &b in data {
        let b = u32::from(b);
        if b < 144 {
            put(code(0x30 + b, 8), 8, &mut out);
        } else {
            put(code(0x190 + b - 144, 9), 9, &mut out);
        }
    }
    put(0, 7, &mut out); // end of block (256)
    if n > 0 {
        out.push((acc & 0xff) as u8);
    }
    out
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A gzip member (RFC 1952) around [`deflate_fixed`].
pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
    out.extend(deflate_fixed(data));
    out.extend(crc32(data).to_le_bytes());
    out.extend((data.len() as u32).to_le_bytes());
    out
}

/// A zlib stream (RFC 1950, what HTTP calls `deflate`).
pub fn zlib(data: &[u8]) -> Vec<u8> {
    let (mut a, mut b) = (1u32, 0u32);
    for &x in data {
        a = (a + u32::from(x)) % 65521;
        b = (b + a) % 65521;
    }
    let mut out = vec![0x78, 0x01];
    out.extend(deflate_fixed(data));
    out.extend(((b << 16) | a).to_be_bytes());
    out
}

/// A brotli stream (RFC 7932) of one uncompressed meta-block.
fn brotli_stored(data: &[u8]) -> Vec<u8> {
    // WBITS=16 ("0"), ISLAST=0, MNIBBLES=4 ("00"), MLEN-1 (16 bits),
    // ISUNCOMPRESSED=1, then pad to a byte; then the data; then an empty
    // last meta-block (ISLAST=1, ISLASTEMPTY=1).
    let mlen = (data.len().clamp(1, 65536) - 1) as u32;
    let bits: u32 = (mlen << 4) | (1 << 20);
    let mut out = vec![
        (bits & 0xff) as u8,
        ((bits >> 8) & 0xff) as u8,
        ((bits >> 16) & 0xff) as u8,
    ];
    out.extend_from_slice(&data[..data.len().min(65536)]);
    out.push(0b11);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_distinct_and_route_back() {
        let mut seen = std::collections::BTreeSet::new();
        for a in Attack::ALL {
            assert!(seen.insert(a.path()), "{a:?}");
            assert_eq!(Attack::from_path(&a.path()), Some(a));
        }
        assert_eq!(Attack::Base64At0.path(), "/base64-at0");
        assert_eq!(Attack::REFLECT.first(), Some(&Attack::DotNetJson));
        assert_eq!(Attack::REFLECT.len(), 10);
    }

    /// The compressed bodies really are compressed: `gzip -d` restores
    /// them, and the plaintext is not visible in the compressed bytes.
    #[test]
    fn gzip_and_zlib_are_real_and_hide_the_plaintext() {
        let data = b"{\"received\":\"sk-live-CANARY-0123456789\"}";
        let gz = gzip(data);
        assert!(!gz.windows(8).any(|w| w == b"sk-live-"));
        let dir = std::env::temp_dir().join(crate::unique("gz"));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("b.gz"), &gz).unwrap();
        let out = std::process::Command::new("gzip")
            .arg("-dc")
            .arg(dir.join("b.gz"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.stdout, data);
        let z = zlib(data);
        assert!(!z.windows(8).any(|w| w == b"sk-live-"));
        let _ = std::fs::remove_dir_all(dir);
    }
}
