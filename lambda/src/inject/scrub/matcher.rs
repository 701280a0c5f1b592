//! Finding many needles in a response body, built anew on every injection.
//!
//! The needles are derived from the credential, so nothing built from them
//! may outlive the request: the matcher is built per injection, and its
//! build cost is paid on every one. A general automaton (aho-corasick, a
//! contiguous NFA) took 0.5 ms to build for a 40-byte API key and 3 ms for a
//! 300-byte token: more than half of the broker's instructions per injection
//! (docs/BENCHMARKS.md, "Issue 17, CPU per injection"). This matcher builds
//! in microseconds and scans as fast:
//!
//! * each needle's first `k` bytes (`k` = the shortest needle, at most 8),
//!   ASCII-lowercased, are its *key*, a `u64`;
//! * a 8,192-bit filter holds a hash of every key, and a sorted table maps
//!   each key to its needles, longest first;
//! * the scan loads the `k` bytes at each position of the body, lowercases
//!   them with a few word operations, and tests the filter; only on a hit
//!   does it look the key up and compare whole needles.
//!
//! Semantics are aho-corasick's ASCII-case-insensitive leftmost-longest
//! (the property test below checks it against aho-corasick itself): the
//! earliest position where any needle matches, the longest needle there,
//! then on after it, matches never overlapping.
//!
//! Cost of a scan: linear in the body, unless the body nearly matches a
//! long needle at position after position. Each such position costs up to
//! that needle's length (at most 768 bytes for an encoded form, the
//! secret's own length for the raw form), and near-misses can only crowd
//! together for a credential that repeats itself (`aaaa…`); aho-corasick
//! was linear even then. The body is capped at 1 MiB
//! ([`crate::edge::upstream::Limits`]).
//!
//! The keys and the filter are derived from the credential too: both are
//! wiped on drop (the automaton used before kept unwiped copies of every
//! needle in its transition tables).

use zeroize::Zeroizing;

/// Bits in the filter; a power of two. A few hundred keys at most (up to
/// 256 fragment windows plus the encoded forms) keep it about 5% full.
const FILTER_BITS: usize = 8192;

/// The needles, and an index that finds them by their first `k` bytes. See
/// the module docs.
pub struct Matcher {
    needles: Vec<Zeroizing<Vec<u8>>>,
    /// Bytes per key: the shortest needle's length, at most 8; 0 if there
    /// are no needles (then nothing matches).
    k: usize,
    /// Selects the low `k` bytes of a little-endian word.
    mask: u64,
    /// Keys, sorted, each with its needle's index (`order`).
    keys: Zeroizing<Vec<u64>>,
    /// `order[i]` is the needle whose key is `keys[i]`; among equal keys,
    /// longer needles come first.
    order: Vec<usize>,
    filter: Zeroizing<[u64; FILTER_BITS / 64]>,
}

impl Matcher {
    /// Index `needles` (empty ones are never found).
    pub fn new(needles: Vec<Zeroizing<Vec<u8>>>) -> Self {
        let k = needles
            .iter()
            .map(|n| n.len())
            .filter(|&l| l > 0)
            .min()
            .unwrap_or(0)
            .min(8);
        let mut entries: Vec<(usize, usize)> = needles
            .iter()
            .enumerate()
            .filter(|(_, n)| !n.is_empty())
            .map(|(i, n)| (i, n.len()))
            .collect();
        let mask = if k >= 8 {
            u64::MAX
        } else {
            (1u64 << (8 * k)) - 1
        };
        let key_of = |i: usize| key(&needles[i], mask);
        entries.sort_unstable_by(|a, b| key_of(a.0).cmp(&key_of(b.0)).then(b.1.cmp(&a.1)));
        let mut keys = Zeroizing::new(Vec::with_capacity(entries.len()));
        let mut filter = Zeroizing::new([0u64; FILTER_BITS / 64]);
        for &(i, _) in &entries {
            let key = key_of(i);
            keys.push(key);
            let bit = slot(key);
            filter[bit / 64] |= 1 << (bit % 64);
        }
        Self {
            needles,
            k,
            mask,
            keys,
            order: entries.into_iter().map(|(i, _)| i).collect(),
            filter,
        }
    }

    /// How many needles there are.
    pub fn len(&self) -> usize {
        self.needles.len()
    }

    /// Whether there are none (then nothing is ever found).
    pub fn is_empty(&self) -> bool {
        self.needles.is_empty()
    }

    /// Non-overlapping leftmost-longest matches in `haystack`, as byte
    /// ranges, in order.
    pub fn find_iter<'a>(
        &'a self,
        haystack: &'a [u8],
    ) -> impl Iterator<Item = std::ops::Range<usize>> + 'a {
        let mut at = 0;
        std::iter::from_fn(move || {
            if self.k == 0 {
                return None;
            }
            while at + self.k <= haystack.len() {
                let window = key(&haystack[at..], self.mask);
                let bit = slot(window);
                if self.filter[bit / 64] & (1 << (bit % 64)) != 0 {
                    if let Some(len) = self.longest_at(window, &haystack[at..]) {
                        let found = at..at + len;
                        at += len;
                        return Some(found);
                    }
                }
                at += 1;
            }
            None
        })
    }

    /// The longest needle with key `window` that `rest` starts with.
    fn longest_at(&self, window: u64, rest: &[u8]) -> Option<usize> {
        let first = self.keys.partition_point(|&k| k < window);
        self.keys[first..]
            .iter()
            .zip(&self.order[first..])
            .take_while(|(&k, _)| k == window)
            .map(|(_, &i)| self.needles[i].as_slice())
            .find(|n| rest.len() >= n.len() && rest[..n.len()].eq_ignore_ascii_case(n))
            .map(<[u8]>::len)
    }
}

/// The first bytes of `s` that `mask` selects (the low `k` bytes of a
/// little-endian word; `s` has at least `k`), ASCII-lowercased.
fn key(s: &[u8], mask: u64) -> u64 {
    let word = match s.first_chunk::<8>() {
        Some(eight) => u64::from_le_bytes(*eight),
        None => {
            let mut buf = [0u8; 8];
            buf[..s.len()].copy_from_slice(s);
            u64::from_le_bytes(buf)
        }
    };
    lowercase(word) & mask
}

/// ASCII-lowercase the eight bytes of `x` at once: `A`..=`Z` gain 0x20,
/// every other byte (including non-ASCII) is left alone.
fn lowercase(x: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    let low7 = x & (0x7f * ONES);
    // Per byte, the top bit of `low7 + c` is set iff the byte is >= 0x80 - c;
    // no byte carries into the next, since low7 < 0x80 and c < 0x80.
    let ge_a = low7 + (0x80 - u64::from(b'A')) * ONES;
    let gt_z = low7 + (0x80 - u64::from(b'Z') - 1) * ONES;
    let upper = ge_a & !gt_z & !x & (0x80 * ONES);
    x | (upper >> 2)
}

/// Which filter bit a key sets: the top bits of a multiplicative hash.
fn slot(key: u64) -> usize {
    (key.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - FILTER_BITS.trailing_zeros())) as usize
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use aho_corasick::{AhoCorasickBuilder, MatchKind};
    use proptest::prelude::*;

    fn needles(list: &[&[u8]]) -> Vec<Zeroizing<Vec<u8>>> {
        list.iter().map(|n| Zeroizing::new(n.to_vec())).collect()
    }

    fn ranges(list: &[&[u8]], hay: &[u8]) -> Vec<std::ops::Range<usize>> {
        Matcher::new(needles(list)).find_iter(hay).collect()
    }

    /// What aho-corasick finds with the settings the matcher replaces.
    fn oracle(list: &[&[u8]], hay: &[u8]) -> Vec<std::ops::Range<usize>> {
        let list: Vec<&[u8]> = list.iter().copied().filter(|n| !n.is_empty()).collect();
        AhoCorasickBuilder::new()
            .match_kind(MatchKind::LeftmostLongest)
            .ascii_case_insensitive(true)
            .build(&list)
            .unwrap()
            .find_iter(hay)
            .map(|m| m.range())
            .collect()
    }

    #[test]
    fn lowercase_folds_exactly_the_ascii_capitals() {
        for b in 0..=255u8 {
            let word = u64::from_le_bytes([b, b'A', b'z', 0xC3, b'@', b'[', b'Z', 0x80]);
            let folded = lowercase(word).to_le_bytes();
            assert_eq!(folded[0], b.to_ascii_lowercase(), "{b:#x}");
            assert_eq!(&folded[1..], &[b'a', b'z', 0xC3, b'@', b'[', b'z', 0x80]);
        }
    }

    #[test]
    fn longest_match_wins_at_the_leftmost_position() {
        let list: &[&[u8]] = &[b"secret", b"secret-value", b"cret-v"];
        assert_eq!(ranges(list, b"a SECRET-Value b"), vec![2..14]);
        assert_eq!(ranges(list, b"xsecret-valsecret"), vec![1..7, 11..17]);
    }

    #[test]
    fn short_needles_tails_and_empty_inputs() {
        assert_eq!(ranges(&[b"ab", b"abcdefghij"], b"xxAB"), vec![2..4]);
        assert!(ranges(&[b"abcdefghij"], b"abcdefghi").is_empty());
        assert!(ranges(&[], b"anything").is_empty());
        assert_eq!(ranges(&[b"", b"q"], b"qQ"), vec![0..1, 1..2]);
        assert!(ranges(&[b"abc"], b"").is_empty());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// Small alphabets so that needles overlap, share keys and prefixes,
        /// and occur in the haystack often.
        #[test]
        fn finds_what_aho_corasick_finds(
            list in prop::collection::vec(prop::collection::vec(
                prop::sample::select(b"aAbB-\xc3\x80".to_vec()), 1..14), 0..12),
            hay in prop::collection::vec(
                prop::sample::select(b"aAbB-\xc3\x80x".to_vec()), 0..200),
        ) {
            let list: Vec<&[u8]> = list.iter().map(Vec::as_slice).collect();
            prop_assert_eq!(ranges(&list, &hay), oracle(&list, &hay));
        }

        /// Needles planted in random bytes are found where planted.
        #[test]
        fn planted_needles_are_found(
            list in prop::collection::vec(prop::collection::vec(any::<u8>(), 6..40), 1..30),
            noise in prop::collection::vec(any::<u8>(), 0..300),
            pick in any::<prop::sample::Index>(),
            at in any::<prop::sample::Index>(),
        ) {
            let list: Vec<&[u8]> = list.iter().map(Vec::as_slice).collect();
            let planted = list[pick.index(list.len())];
            let at = at.index(noise.len() + 1);
            let hay = [&noise[..at], planted, &noise[at..]].concat();
            let found = ranges(&list, &hay);
            prop_assert_eq!(&found, &oracle(&list, &hay));
            prop_assert!(found.iter().any(|r| r.start <= at && at < r.end));
        }
    }
}
