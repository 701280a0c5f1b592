//! Real compression for the encoded attacks, written out so the suite
//! needs no compression crate: DEFLATE with fixed Huffman codes (every byte
//! really coded), gzip and zlib around it, and a stored brotli stream.

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
pub(super) fn brotli_stored(data: &[u8]) -> Vec<u8> {
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
