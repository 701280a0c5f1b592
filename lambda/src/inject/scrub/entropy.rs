//! How long a fragment window must be to be worth guarding.
//!
//! A window is a needle: a response (or a request) containing it is an echo
//! (or a probe), and the agent learns that it matched. If a window could be
//! guessed, that answer would be an oracle; so a window must carry more
//! entropy than an attacker can search through, and windows shorter than
//! that guard nothing an attacker could not learn anyway.
//!
//! The bar is [`WINDOW_BITS`] = 64 bits. Matching is ASCII-case-insensitive,
//! so the alphabet is counted case-folded: a base62 token gives log2(36) ≈
//! 5.17 bits a character (13 characters), hex 4 bits (16), digits 3.32
//! (20). One request can test about 2^20 windows (a 1 MiB body of
//! overlapping candidates), so finding the first window of an unknown
//! token takes about 2^43 requests on average: docs/THREAT_MODEL.md, "What
//! an attacker still learns".
//!
//! The alphabet is estimated from the character classes the secret's
//! random part uses (a generator draws from whole classes), with symbols
//! and non-ASCII bytes counted one by one as they occur (an underestimate,
//! which only makes windows longer). A secret that is not random (a
//! dictionary password) gets windows shorter than its entropy warrants;
//! such a secret can be guessed without any oracle.

/// Entropy a fragment window must carry, in bits.
pub const WINDOW_BITS: f64 = 64.0;

/// Shortest window ever used, whatever the alphabet: a window of fewer
/// bytes would be a common substring of ordinary text.
pub const MIN_WINDOW: usize = 10;

/// Bytes a window of `random` (the part of the secret after its public
/// prefix) must have to carry [`WINDOW_BITS`].
pub fn window_len(random: &[u8]) -> usize {
    let bits = bits_per_byte(random);
    let len = (WINDOW_BITS / bits).ceil();
    // `bits` is at least 1 (`bits_per_byte`), so this fits in a usize.
    (len as usize).max(MIN_WINDOW)
}

/// Case-folded alphabet size the secret's classes imply, as bits a byte
/// (at least 1).
fn bits_per_byte(random: &[u8]) -> f64 {
    let digits = random.iter().any(u8::is_ascii_digit);
    let letters = random.iter().any(u8::is_ascii_alphabetic);
    let hex_only = random
        .iter()
        .all(|b| b.is_ascii_digit() || matches!(b.to_ascii_lowercase(), b'a'..=b'f'));
    let mut others = [false; 256];
    for &b in random.iter().filter(|b| !b.is_ascii_alphanumeric()) {
        others[usize::from(b)] = true;
    }
    let symbols = others.iter().filter(|&&seen| seen).count();
    let alphabet = match (digits, letters) {
        (_, true) if hex_only && digits => 16,
        (true, true) => 36,
        (false, true) => 26,
        (true, false) => 10,
        (false, false) => 0,
    } + symbols;
    (alphabet.max(2) as f64).log2()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_carry_64_folded_bits() {
        for (random, len) in [
            ("AbCdEfGhIjKlMnOpQrStUvWx0123", 13),
            ("0123456789abcdef0123456789abcdef", 16),
            ("12345678901234567890123", 20),
            ("abcdefghijklmnopqrstuvwxyz", 14),
            ("Az3+/=Az3+/=", 13),
        ] {
            assert_eq!(window_len(random.as_bytes()), len, "{random}");
        }
        // A single repeated symbol still gets a window, at the floor rule.
        assert_eq!(window_len(b"------"), 64);
    }
}
