//! Validated identifiers. A workspace id or secret name ends up in DynamoDB
//! keys, in the KMS encryption context (which CloudTrail logs in clear), in
//! STS session names and in customer key-policy conditions, so each is held
//! to a charset all of those accept, checked once at the edge.

use serde::Serialize;

use crate::error::{BrokerError, Result};

/// The comparisons and printing every validated string id shares, so that
/// callers (and test assertions such as `meta.name == "openai"`) can compare
/// a typed id with plain text without unwrapping it.
macro_rules! string_id {
    ($t:ty) => {
        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
        impl PartialEq<str> for $t {
            fn eq(&self, other: &str) -> bool {
                self.as_str() == other
            }
        }
        impl PartialEq<&str> for $t {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }
        impl PartialEq<String> for $t {
            fn eq(&self, other: &String) -> bool {
                self.as_str() == other
            }
        }
        impl AsRef<str> for $t {
            fn as_ref(&self) -> &str {
                self.as_str()
            }
        }
    };
}
pub(crate) use string_id;

/// A tenant of the platform. Lowercase letters, digits and `-`, 3 to 63
/// characters, starting with a letter or digit: the same rule the customer
/// Terraform module validates, so an id the broker accepts always fits the
/// key policy's `kms:EncryptionContext:workspace` condition.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct WorkspaceId(String);

impl WorkspaceId {
    /// Validate and wrap.
    pub fn new(s: impl Into<String>) -> Result<Self> {
        let s = s.into();
        let ok_len = (3..=63).contains(&s.len());
        let ok_first = s
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
        let ok_chars = s
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if ok_len && ok_first && ok_chars {
            Ok(Self(s))
        } else {
            Err(BrokerError::invalid(
                "workspace",
                "must be 3-63 characters of a-z, 0-9 and '-', starting with a letter or digit",
            ))
        }
    }

    /// The id as stored and sent to AWS.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

string_id!(WorkspaceId);

/// The name of a credential within a workspace. Letters, digits, `.`, `_`
/// and `-`, 1 to 128 characters, not starting with `.` or `__` (the broker
/// reserves `__keybroker_verify__` for its canary). No `/`, so no path tricks.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct SecretName(String);

/// The secret name the BYOK verification canary uses in its encryption
/// context; user secrets can never take it.
pub(crate) const VERIFY_CANARY_NAME: &str = "__keybroker_verify__";

impl SecretName {
    /// Validate and wrap.
    pub fn new(s: impl Into<String>) -> Result<Self> {
        let s = s.into();
        let ok_len = (1..=128).contains(&s.len());
        let ok_chars = s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if !ok_len || !ok_chars {
            return Err(BrokerError::invalid(
                "secret",
                "must be 1-128 characters of A-Z, a-z, 0-9, '.', '_' and '-'",
            ));
        }
        if s.starts_with('.') || s.starts_with("__") {
            return Err(BrokerError::invalid(
                "secret",
                "must not start with '.' or '__' (reserved)",
            ));
        }
        Ok(Self(s))
    }

    /// The derived name `<name>#<suffix>` of a second blob of this secret
    /// (the `oauth2` kind's access token and PKCE verifier,
    /// [`crate::oauth2`]): only the encryption context's *value* differs,
    /// never its keys. `#` is refused by [`SecretName::new`], so no real
    /// secret can take a derived name.
    pub(crate) fn derived(&self, suffix: &str) -> Self {
        Self(format!("{}#{suffix}", self.0))
    }

    pub(crate) fn verify_canary() -> Self {
        Self(VERIFY_CANARY_NAME.to_owned())
    }

    /// The name as stored and sent to AWS.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

string_id!(SecretName);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workspace_ids() {
        for ok in ["acme", "a1-b2", "123", &"a".repeat(63)] {
            assert!(WorkspaceId::new(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "ab",
            "-ab",
            "Acme",
            "ac me",
            "a/b",
            "a_b",
            &"a".repeat(64),
            "acmé",
        ] {
            let e = WorkspaceId::new(bad).unwrap_err();
            assert_eq!(e.kind(), "invalid_input", "{bad}");
        }
    }

    #[test]
    fn secret_names() {
        for ok in ["openai", "GITHUB_TOKEN", "a.b-c_d", "x", &"a".repeat(128)] {
            assert!(SecretName::new(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "../etc",
            "a/b",
            ".hidden",
            "__keybroker_verify__",
            "a b",
            "a\nb",
            &"a".repeat(129),
            "ключ",
        ] {
            assert!(SecretName::new(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_canary_name_is_reserved_but_constructible_inside() {
        assert_eq!(SecretName::verify_canary(), VERIFY_CANARY_NAME);
        assert!(SecretName::new(VERIFY_CANARY_NAME).is_err());
    }

    #[test]
    fn ids_compare_with_text_and_print_as_stored() {
        let ws = WorkspaceId::new("acme").unwrap();
        let owned = String::from("acme");
        assert!(ws == "acme" && ws == *"acme" && ws == owned);
        assert!(ws != "acme2");
        assert_eq!(ws.to_string(), "acme");
        assert_eq!(serde_json::to_string(&ws).unwrap(), "\"acme\"");
        let name = SecretName::new("GITHUB_TOKEN").unwrap();
        assert!(name == "GITHUB_TOKEN" && name != "github_token");
        assert_eq!(format!("{name}"), "GITHUB_TOKEN");
    }
}
