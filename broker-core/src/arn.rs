//! Parsing of the two ARNs a customer pastes in. Checked before any AWS call
//! so a typo is an `InvalidInput` naming the field, not a confusing KMS error;
//! and only full key ARNs are accepted (no aliases, no bare key ids), because
//! the read path compares the key id KMS answers with to the one recorded.

use serde::Serialize;

use crate::error::{BrokerError, Result};
use crate::names::string_id;

/// A parsed `arn:<partition>:kms:<region>:<account>:key/<key-id>`.
/// Serialises as the ARN text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyArn {
    arn: String,
    region: String,
    account: String,
}

impl KeyArn {
    /// Parse and validate a KMS key ARN.
    pub fn parse(s: &str) -> Result<Self> {
        let bad = |why: &str| BrokerError::invalid("key_arn", why.to_owned());
        let parts: Vec<&str> = s.splitn(6, ':').collect();
        let [arn, partition, service, region, account, resource] = parts[..] else {
            return Err(bad("expected arn:aws:kms:<region>:<account>:key/<key-id>"));
        };
        if arn != "arn" || !partition.starts_with("aws") || service != "kms" {
            return Err(bad("expected arn:aws:kms:<region>:<account>:key/<key-id>"));
        }
        check_region(region).map_err(|()| bad("has no valid region"))?;
        check_account(account).map_err(|_| bad("has no 12-digit account id"))?;
        let key_id = resource
            .strip_prefix("key/")
            .ok_or_else(|| bad("must name a key (key/<id>), not an alias"))?;
        if key_id.is_empty()
            || key_id.len() > 128
            || !key_id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Err(bad("has an invalid key id"));
        }
        Ok(Self {
            arn: s.to_owned(),
            region: region.to_owned(),
            account: account.to_owned(),
        })
    }

    /// The full ARN.
    pub fn as_str(&self) -> &str {
        &self.arn
    }

    /// The region the key lives in: the KMS client must be built for it.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// The account that owns the key.
    pub fn account(&self) -> &str {
        &self.account
    }
}

/// A parsed `arn:<partition>:iam::<account>:role/<path/>name`.
/// Serialises as the ARN text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleArn {
    arn: String,
    account: String,
}

impl RoleArn {
    /// Parse and validate an IAM role ARN.
    pub fn parse(s: &str) -> Result<Self> {
        let bad = |why: &str| BrokerError::invalid("role_arn", why.to_owned());
        let parts: Vec<&str> = s.splitn(6, ':').collect();
        let [arn, partition, service, region, account, resource] = parts[..] else {
            return Err(bad("expected arn:aws:iam::<account>:role/<name>"));
        };
        if arn != "arn" || !partition.starts_with("aws") || service != "iam" || !region.is_empty() {
            return Err(bad("expected arn:aws:iam::<account>:role/<name>"));
        }
        check_account(account).map_err(|_| bad("has no 12-digit account id"))?;
        let name = resource
            .strip_prefix("role/")
            .ok_or_else(|| bad("must name a role (role/<name>)"))?;
        let ok = !name.is_empty()
            && name.len() <= 512
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-/".contains(&b));
        if !ok {
            return Err(bad("has an invalid role name"));
        }
        Ok(Self {
            arn: s.to_owned(),
            account: account.to_owned(),
        })
    }

    /// The full ARN.
    pub fn as_str(&self) -> &str {
        &self.arn
    }

    /// The customer account that owns the role.
    pub fn account(&self) -> &str {
        &self.account
    }
}

string_id!(KeyArn);
string_id!(RoleArn);

/// An AWS region name (`us-east-1`), checked by shape: where the customer
/// key lives and which endpoint the customer-role KMS client is built for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Region(String);

impl Region {
    /// Validate and wrap; `InvalidInput` naming `region` otherwise.
    pub fn parse(s: &str) -> Result<Self> {
        check_region(s)
            .map(|()| Self(s.to_owned()))
            .map_err(|()| BrokerError::invalid("region", "is not an AWS region name"))
    }

    /// The region name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

string_id!(Region);

macro_rules! serialize_as_str {
    ($($t:ty),*) => {$(
        impl Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
    )*};
}
serialize_as_str!(KeyArn, RoleArn);

fn check_account(s: &str) -> std::result::Result<(), ()> {
    (s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit()))
        .then_some(())
        .ok_or(())
}

/// A region looks like `us-east-1`, `eu-central-2`, `us-gov-west-1`.
fn check_region(s: &str) -> std::result::Result<(), ()> {
    let ok = (4..=32).contains(&s.len())
        && s.split('-').count() >= 3
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && s.bytes().last().is_some_and(|b| b.is_ascii_digit());
    ok.then_some(()).ok_or(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "arn:aws:kms:eu-west-1:222222222222:key/1234abcd-12ab-34cd-56ef-1234567890ab";

    #[test]
    fn key_arns() {
        let k = KeyArn::parse(KEY).unwrap();
        assert_eq!(k.region(), "eu-west-1");
        assert_eq!(k.account(), "222222222222");
        for bad in [
            "",
            "arn:aws:kms:eu-west-1:222222222222:alias/mine",
            "arn:aws:kms:eu-west-1:2222:key/abc",
            "arn:aws:s3:eu-west-1:222222222222:key/abc",
            "arn:aws:kms::222222222222:key/abc",
            "arn:aws:kms:eu-west-1:222222222222:key/",
            "arn:aws:kms:eu-west-1:222222222222:key/a b",
            "1234abcd-12ab-34cd-56ef-1234567890ab",
        ] {
            assert_eq!(
                KeyArn::parse(bad).unwrap_err().kind(),
                "invalid_input",
                "{bad}"
            );
        }
    }

    #[test]
    fn role_arns() {
        let r = RoleArn::parse("arn:aws:iam::222222222222:role/keybroker/KeybrokerAccess").unwrap();
        assert_eq!(r.account(), "222222222222");
        for bad in [
            "arn:aws:iam::222222222222:user/bob",
            "arn:aws:iam:us-east-1:222222222222:role/x",
            "arn:aws:iam::22:role/x",
            "arn:aws:iam::222222222222:role/",
            "arn:aws:iam::222222222222:role/a\"b",
        ] {
            assert!(RoleArn::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn regions() {
        for ok in ["us-east-1", "eu-central-2", "us-gov-west-1"] {
            assert_eq!(Region::parse(ok).unwrap(), ok);
        }
        for bad in [
            "",
            "moon-1",
            "US-EAST-1",
            "us-east",
            "us-east-1a",
            "us east 1",
        ] {
            assert_eq!(
                Region::parse(bad).unwrap_err().kind(),
                "invalid_input",
                "{bad}"
            );
        }
    }

    #[test]
    fn arns_print_and_serialise_as_their_text() {
        let k = KeyArn::parse(KEY).unwrap();
        assert!(k == KEY && format!("{k}") == KEY);
        assert_eq!(serde_json::to_value(&k).unwrap(), KEY);
        let role = "arn:aws:iam::222222222222:role/R";
        assert_eq!(
            serde_json::to_value(RoleArn::parse(role).unwrap()).unwrap(),
            role
        );
    }
}
