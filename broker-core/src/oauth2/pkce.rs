//! PKCE (RFC 7636, S256) and the authorization request's `state`: random
//! bytes as unpadded base64url. Self-contained, so the code flow's
//! randomness has one place to be read and checked.

use zeroize::Zeroizing;

use crate::error::{BrokerError, Result};
use crate::secret::SecretValue;

/// A PKCE verifier (RFC 7636: 43 characters of base64url from 32 random
/// bytes) and its S256 challenge.
pub fn pkce_pair() -> Result<(SecretValue, String)> {
    let mut bytes = Zeroizing::new([0u8; 32]);
    aws_lc_rs::rand::fill(bytes.as_mut()).map_err(|_| BrokerError::Unavailable {
        service: "rng",
        detail: "system random generator failed".into(),
    })?;
    let verifier = base64url(bytes.as_ref());
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes());
    let challenge = base64url(digest.as_ref());
    Ok((SecretValue::from_string(verifier)?, challenge))
}

/// A `state` for an authorization request: 32 random bytes, base64url.
pub fn random_state() -> Result<String> {
    let mut bytes = [0u8; 32];
    aws_lc_rs::rand::fill(&mut bytes).map_err(|_| BrokerError::Unavailable {
        service: "rng",
        detail: "system random generator failed".into(),
    })?;
    Ok(base64url(&bytes))
}

/// Unpadded base64url (RFC 4648 §5), for PKCE and `state`.
pub fn base64url(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len() * 4 / 3 + 2);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..=chunk.len() {
            out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}
