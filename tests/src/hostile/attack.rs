//! [`Attack`]: one way a bound upstream can reflect the credential, and
//! its route.

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

    pub(crate) fn from_path(path: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.path() == path)
    }
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
}
