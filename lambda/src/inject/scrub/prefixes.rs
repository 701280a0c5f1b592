//! Where a token's public part ends.
//!
//! Many credential formats start with text that is the same for every
//! token of the format (`sk-ant-api03-`, `github_pat_`, `glpat-`) or that
//! anyone can compute (a JWT's header). A fragment window that lies in that
//! part is no secret: `sk-ant-api03` in a docs page is not a probe, and an
//! attacker who knows the prefix must not get a window that is mostly
//! prefix and one guessed character (the one-character oracle issue 22
//! measured). So fragment windows start where the public part ends
//! ([`public_prefix_len`]) and carry the entropy `entropy.rs` asks for.
//!
//! Two sources, and the longer wins:
//! * **known formats**: a list of vendors' published prefixes, including
//!   the parts that are fixed per format (a version, a key type);
//! * **a rule** for formats the list does not know: up to
//!   [`MAX_SEGMENTS`] leading segments of lowercase letters and digits, each
//!   at most [`MAX_SEGMENT`] long and ending in `-`, `_` or `.`
//!   (`acme_live_`, `key-`); and a JWT's first segment (its header: base64
//!   of a small, guessable JSON object).
//!
//! Taking too much as public only shortens what fragments cover (the whole
//! value and its encodings are always needles); taking too little keeps a
//! window that is mostly public. So the rule errs towards more.

/// Published prefixes of common credential formats, longest match wins.
/// The fixed part of each format only: what follows is random.
const KNOWN: &[&str] = &[
    "sk-ant-api03-",
    "sk-ant-admin01-",
    "sk-ant-oat01-",
    "sk-ant-ort01-",
    "sk-proj-",
    "sk-svcacct-",
    "sk-admin-",
    "sk_live_",
    "sk_test_",
    "rk_live_",
    "rk_test_",
    "whsec_",
    "github_pat_",
    "ghp_",
    "gho_",
    "ghu_",
    "ghs_",
    "ghr_",
    "glpat-",
    "gldt-",
    "glrt-",
    "xoxb-",
    "xoxp-",
    "xoxa-",
    "xoxe.xoxp-",
    "xapp-",
    "dop_v1_",
    "doo_v1_",
    "dor_v1_",
    "pypi-AgEIcHlwaS5vcmc",
    "npm_",
    "hf_",
    "SG.",
    "shpat_",
    "shpss_",
    "shpca_",
    "lin_api_",
    "lin_oauth_",
    "secret_",
    "ntn_",
    "AIza",
    "ya29.",
    "1//",
    "AKIA",
    "ASIA",
    "dapi",
    "glc_",
    "sq0atp-",
    "EAAB",
    "atlassian_",
    "ATATT3x",
];

/// Most leading segments the rule takes as public.
const MAX_SEGMENTS: usize = 3;
/// Longest segment the rule takes as public (`api03`, `admin01`, `live`).
const MAX_SEGMENT: usize = 8;

/// Bytes at the start of `secret` that are public: the longest of a known
/// format's prefix, the segment rule, and a JWT header. Never the whole
/// secret (at least one byte is left).
pub fn public_prefix_len(secret: &[u8]) -> usize {
    let known = KNOWN
        .iter()
        .map(|p| p.as_bytes())
        .filter(|p| secret.starts_with(p))
        .map(<[u8]>::len)
        .max()
        .unwrap_or(0);
    let public = known.max(segments(secret)).max(jwt_header(secret));
    public.min(secret.len().saturating_sub(1))
}

/// The segment rule (module docs).
fn segments(secret: &[u8]) -> usize {
    let mut end = 0;
    for _ in 0..MAX_SEGMENTS {
        let rest = &secret[end..];
        let run = rest
            .iter()
            .take_while(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            .count();
        if run == 0 || run > MAX_SEGMENT || !matches!(rest.get(run), Some(b'-' | b'_' | b'.')) {
            break;
        }
        end += run + 1;
    }
    end
}

/// A JWT's header and its dot: `eyJ` is base64 of `{"`.
fn jwt_header(secret: &[u8]) -> usize {
    if !secret.starts_with(b"eyJ") {
        return 0;
    }
    secret
        .iter()
        .position(|&b| b == b'.')
        .map_or(0, |dot| dot + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_formats_rules_and_jwts() {
        for (secret, public) in [
            ("sk-ant-api03-AbCdEf0123", "sk-ant-api03-"),
            ("github_pat_11ABCDEFG_xyz", "github_pat_"),
            ("glpat-xxxxxxxxxxxxxxxxxxxx", "glpat-"),
            ("pypi-AgEIcHlwaS5vcmcCJDAwMDA", "pypi-AgEIcHlwaS5vcmc"),
            ("acme_live_Zx81kQ", "acme_live_"),
            ("key-0f1e2d3c4b5a", "key-"),
            (
                "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig",
                "eyJhbGciOiJIUzI1NiJ9.",
            ),
            ("Zx81kQ-random_token", ""),
            ("averyverylongword-x", ""),
            ("sk-", "sk"),
        ] {
            assert_eq!(
                &secret[..public_prefix_len(secret.as_bytes())],
                public,
                "{secret}"
            );
        }
    }
}
