//! External ids for cross-account roles.
//!
//! AWS's confused-deputy guidance: the *vendor* generates the external id, one
//! per customer, so no customer can pick another customer's id and trick the
//! broker into acting for them. It is not a secret (the customer sees it and
//! it sits in their trust policy), but it must be unguessable and unique:
//! 32 bytes from the system CSPRNG, hex encoded (64 characters).

use crate::error::{BrokerError, Result};

/// Generate a fresh external id.
pub fn generate() -> Result<String> {
    let mut bytes = [0u8; 32];
    aws_lc_rs::rand::fill(&mut bytes).map_err(|_| BrokerError::Unavailable {
        service: "rng",
        detail: "system random generator failed".into(),
    })?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    #[test]
    fn long_unique_and_trust_policy_safe() {
        let a = super::generate().unwrap();
        let b = super::generate().unwrap();
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
    }
}
