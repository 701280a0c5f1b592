//! The response scanner's per-injection cost: deriving the needles and the
//! matcher from the credential (done on every injection, since nothing
//! derived from the credential may outlive it), then scanning a body as
//! the agent would read it (raw, escapes decoded once and twice, UTF-16
//! decoded): a clean JSON body, one full of escapes (the worst ordinary
//! case: every reading is made), and a UTF-16 one
//! (`cargo bench -p keybroker-lambda`; docs/BENCHMARKS.md).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use keybroker_lambda::inject::scrub::Needles;

/// A typical API key, and a long one (an OAuth refresh token, a JWT).
const SECRETS: [(&str, &[u8]); 2] = [
    ("40B", b"sk-live-4f9a1c2e8b7d6a5f4e3d2c1b0a9f8e7d"),
    (
        "300B",
        b"eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiYWRtaW4iOnRydWUsImlhdCI6MTUxNjIzOTAyMn0.NHVaYe26MbtOYhSKkoKYdFVomg4i8ZJd8_-RU8VNbftc4TSMb4bXP3l3YlNWACwyXPGffz1aXhqFBcA6SFqk8XCd4KTW2Y0tWNBc1Asw",
    ),
];

/// A JSON body like a typical API answer, with no credential in it.
fn body(len: usize) -> Vec<u8> {
    let item = br#"{"id":"msg_01XFDUDYJgAACzvnptvVoYEL","type":"message","role":"assistant","content":[{"type":"text","text":"Hello! How can I help?"}]},"#;
    item.iter().copied().cycle().take(len).collect()
}

/// A body with an escape of each kind every few bytes (.NET-style JSON,
/// HTML references, percent-encoded links): every reading is decoded.
fn escaped(len: usize) -> Vec<u8> {
    let item =
        br#"{"q":"a+b 'c'","html":"&lt;p&gt;x&#43;y&amp;z","next":"%2Fv1%3Fpage%3D2%252B"},"#;
    item.iter().copied().cycle().take(len).collect()
}

/// [`body`] as UTF-16LE with a BOM, `len` bytes in all.
fn utf16(len: usize) -> Vec<u8> {
    let text = String::from_utf8(body(len / 2)).expect("ASCII");
    let mut out = vec![0xFF, 0xFE];
    out.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
    out.truncate(len);
    out
}

fn scrub(c: &mut Criterion) {
    let mut group = c.benchmark_group("scrub");
    for (label, secret) in SECRETS {
        let header = [b"Bearer ".as_slice(), secret].concat();
        group.bench_with_input(BenchmarkId::new("needles", label), &secret, |b, s| {
            b.iter(|| Needles::new(s, &[&header]))
        });
        let needles = Needles::new(secret, &[&header]);
        for len in [4 * 1024, 64 * 1024] {
            group.throughput(Throughput::Bytes(len as u64));
            for (kind, hay) in [
                ("count", body(len)),
                ("count-escaped", escaped(len)),
                ("count-utf16", utf16(len)),
            ] {
                group.bench_with_input(
                    BenchmarkId::new(format!("{kind}-{label}"), len),
                    &hay,
                    |b, h| b.iter(|| assert_eq!(needles.count(h), 0)),
                );
            }
        }
    }
    group.finish();
}

criterion_group!(benches, scrub);
criterion_main!(benches);
