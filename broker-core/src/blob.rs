//! The stored blob: a versioned, self-describing binary envelope.
//!
//! ```text
//! offset  size  field
//! 0       4     magic "KBRK"
//! 4       1     format version (1 or 2; this build writes 2)
//! 5       2     algorithm id, big endian (1 = AES-256-GCM, 96-bit nonce,
//!               128-bit tag, data key from KMS GenerateDataKey AES_256)
//! 7       1     key mode (1 = platform key, 2 = customer BYOK key)
//! 8       2     key ARN length n (1..=2048)
//! 10      n     key ARN, UTF-8
//! 10+n    2     encrypted data key length m (1..=6144)
//! 12+n    m     encrypted data key (KMS ciphertext blob)
//! 12+n+m  12    nonce
//! 24+n+m  32    version 2 only: binding digest (SHA-256, see
//!               [`crate::context::BindingDigest`])
//! ..      ..    ciphertext || 16-byte tag
//! ```
//!
//! Everything before the ciphertext is the *header*; the AES-GCM associated
//! data is `header || canonical encryption context`, so flipping any header
//! bit, moving the blob to another workspace/secret, or (version 2) changing
//! the secret's binding fails authentication. Version 1 blobs carry no
//! binding digest: their binding is not authenticated (they still open;
//! rotation rewrites them as version 2). See docs/BLOB_FORMAT.md for a test
//! vector of each version.

use crate::context::BindingDigest;
use crate::model::KeyMode;

/// Magic bytes at the start of every blob.
pub const MAGIC: &[u8; 4] = b"KBRK";
/// The format version this build writes: the binding is authenticated.
pub const VERSION: u8 = 2;
/// The first format version, still read: no binding digest.
pub const VERSION_1: u8 = 1;
/// Length of the binding digest in a version 2 header.
pub const DIGEST_LEN: usize = 32;
/// AES-256-GCM with a KMS-generated data key.
pub const ALG_AES256_GCM: u16 = 1;
/// Nonce length of the algorithm.
pub const NONCE_LEN: usize = 12;
/// Tag length of the algorithm.
pub const TAG_LEN: usize = 16;
const MAX_ARN_LEN: usize = 2048;
const MAX_EDK_LEN: usize = 6144;

/// Why a blob could not be parsed. Fuzzed: parsing never panics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BlobError {
    /// Not a keybroker blob.
    #[error("bad magic")]
    BadMagic,
    /// Written by a newer (or unknown) format version.
    #[error("unsupported blob version")]
    UnsupportedVersion,
    /// Names an algorithm this build does not implement.
    #[error("unknown algorithm id")]
    UnknownAlgorithm,
    /// Key mode byte is neither platform nor BYOK.
    #[error("unknown key mode")]
    UnknownKeyMode,
    /// Ends before a field it announces.
    #[error("truncated blob")]
    Truncated,
    /// A length field is out of range.
    #[error("length field out of range")]
    BadLength,
    /// The key ARN is not UTF-8.
    #[error("key ARN is not UTF-8")]
    BadKeyArn,
}

impl BlobError {
    /// Fixed text for [`crate::BrokerError::Tampered`].
    pub fn detail(self) -> &'static str {
        match self {
            Self::BadMagic => "bad magic",
            Self::UnsupportedVersion => "unsupported blob version",
            Self::UnknownAlgorithm => "unknown algorithm id",
            Self::UnknownKeyMode => "unknown key mode",
            Self::Truncated => "truncated blob",
            Self::BadLength => "length field out of range",
            Self::BadKeyArn => "key ARN is not UTF-8",
        }
    }
}

/// A parsed blob. Holds only ciphertext and public header fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blob {
    /// Whose key encrypted the data key.
    pub key_mode: KeyMode,
    /// The key that encrypted the data key; `Decrypt` is pinned to it.
    pub key_arn: String,
    /// The data key as KMS encrypted it.
    pub encrypted_data_key: Vec<u8>,
    /// AES-GCM nonce.
    pub nonce: [u8; NONCE_LEN],
    /// Digest of the binding the blob was sealed with: `Some` for version 2
    /// (the format follows from it), `None` for a version 1 blob.
    pub binding_digest: Option<BindingDigest>,
    /// AES-GCM ciphertext followed by the tag.
    pub ciphertext: Vec<u8>,
}

impl Blob {
    /// The format version this blob is encoded in.
    pub fn version(&self) -> u8 {
        if self.binding_digest.is_some() {
            VERSION
        } else {
            VERSION_1
        }
    }

    /// The authenticated header bytes (everything before the ciphertext).
    /// Fails only if a field is too long for its length prefix.
    pub fn header(&self) -> Result<Vec<u8>, BlobError> {
        let arn = self.key_arn.as_bytes();
        let edk = &self.encrypted_data_key;
        if arn.is_empty() || arn.len() > MAX_ARN_LEN || edk.is_empty() || edk.len() > MAX_EDK_LEN {
            return Err(BlobError::BadLength);
        }
        let mut h = Vec::with_capacity(24 + DIGEST_LEN + arn.len() + edk.len());
        h.extend_from_slice(MAGIC);
        h.push(self.version());
        h.extend_from_slice(&ALG_AES256_GCM.to_be_bytes());
        h.push(self.key_mode.to_byte());
        h.extend_from_slice(&(arn.len() as u16).to_be_bytes());
        h.extend_from_slice(arn);
        h.extend_from_slice(&(edk.len() as u16).to_be_bytes());
        h.extend_from_slice(edk);
        h.extend_from_slice(&self.nonce);
        if let Some(d) = &self.binding_digest {
            h.extend_from_slice(&d.0);
        }
        Ok(h)
    }

    /// Serialize: header then ciphertext.
    pub fn encode(&self) -> Result<Vec<u8>, BlobError> {
        let mut out = self.header()?;
        out.extend_from_slice(&self.ciphertext);
        Ok(out)
    }

    /// Parse, checking every length against the input before reading.
    pub fn decode(bytes: &[u8]) -> Result<Self, BlobError> {
        let mut r = Reader(bytes);
        if r.take(4)? != MAGIC {
            return Err(BlobError::BadMagic);
        }
        let version = r.u8()?;
        if version != VERSION && version != VERSION_1 {
            return Err(BlobError::UnsupportedVersion);
        }
        if r.u16()? != ALG_AES256_GCM {
            return Err(BlobError::UnknownAlgorithm);
        }
        let key_mode = KeyMode::from_byte(r.u8()?).ok_or(BlobError::UnknownKeyMode)?;
        let arn_len = usize::from(r.u16()?);
        if arn_len == 0 || arn_len > MAX_ARN_LEN {
            return Err(BlobError::BadLength);
        }
        let key_arn = std::str::from_utf8(r.take(arn_len)?)
            .map_err(|_| BlobError::BadKeyArn)?
            .to_owned();
        let edk_len = usize::from(r.u16()?);
        if edk_len == 0 || edk_len > MAX_EDK_LEN {
            return Err(BlobError::BadLength);
        }
        let encrypted_data_key = r.take(edk_len)?.to_vec();
        let mut nonce = [0u8; NONCE_LEN];
        nonce.copy_from_slice(r.take(NONCE_LEN)?);
        let binding_digest = if version == VERSION {
            let mut d = [0u8; DIGEST_LEN];
            d.copy_from_slice(r.take(DIGEST_LEN)?);
            Some(BindingDigest(d))
        } else {
            None
        };
        if r.0.len() < TAG_LEN {
            return Err(BlobError::Truncated);
        }
        Ok(Self {
            key_mode,
            key_arn,
            encrypted_data_key,
            nonce,
            binding_digest,
            ciphertext: r.0.to_vec(),
        })
    }
}

/// A cursor that never reads past its slice.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], BlobError> {
        if self.0.len() < n {
            return Err(BlobError::Truncated);
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn u8(&mut self) -> Result<u8, BlobError> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> Result<u16, BlobError> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Blob {
        Blob {
            key_mode: KeyMode::Byok,
            key_arn: "arn:aws:kms:us-east-1:222222222222:key/k".into(),
            encrypted_data_key: vec![7; 40],
            nonce: [9; NONCE_LEN],
            binding_digest: Some(BindingDigest([5; DIGEST_LEN])),
            ciphertext: vec![1; 20],
        }
    }

    fn sample_v1() -> Blob {
        Blob {
            binding_digest: None,
            ..sample()
        }
    }

    #[test]
    fn round_trip_both_versions() {
        for (b, version) in [(sample(), VERSION), (sample_v1(), VERSION_1)] {
            let bytes = b.encode().unwrap();
            assert_eq!(&bytes[..4], MAGIC);
            assert_eq!(bytes[4], version);
            assert_eq!(Blob::decode(&bytes).unwrap(), b);
            assert_eq!(bytes.len(), b.header().unwrap().len() + 20);
        }
        let v2 = sample().header().unwrap();
        let v1 = sample_v1().header().unwrap();
        assert_eq!(v2.len(), v1.len() + DIGEST_LEN);
        assert_eq!(&v2[5..v1.len()], &v1[5..], "v2 only appends the digest");
    }

    #[test]
    fn every_truncation_is_rejected() {
        for b in [sample(), sample_v1()] {
            let bytes = b.encode().unwrap();
            let full_header = b.header().unwrap().len();
            for cut in 0..full_header + TAG_LEN {
                assert!(Blob::decode(&bytes[..cut]).is_err(), "cut at {cut} parsed");
            }
        }
    }

    #[test]
    fn bad_fields_name_the_problem() {
        let good = sample().encode().unwrap();
        let with = |i: usize, v: u8| {
            let mut b = good.clone();
            b[i] = v;
            Blob::decode(&b).unwrap_err()
        };
        assert_eq!(with(0, b'X'), BlobError::BadMagic);
        assert_eq!(with(4, 3), BlobError::UnsupportedVersion);
        assert_eq!(with(4, 0), BlobError::UnsupportedVersion);
        assert_eq!(with(6, 2), BlobError::UnknownAlgorithm);
        assert_eq!(with(7, 3), BlobError::UnknownKeyMode);
        // ARN length over the limit, and one pointing past the end.
        assert_eq!(with(8, 0xff), BlobError::BadLength);
        assert_eq!(with(9, 0xff), BlobError::Truncated);
        assert_eq!(Blob::decode(b"").unwrap_err(), BlobError::Truncated);
    }

    #[test]
    fn oversize_fields_cannot_be_encoded() {
        let mut b = sample();
        b.key_arn = "a".repeat(MAX_ARN_LEN + 1);
        assert_eq!(b.encode().unwrap_err(), BlobError::BadLength);
        let mut b = sample();
        b.encrypted_data_key.clear();
        assert_eq!(b.encode().unwrap_err(), BlobError::BadLength);
    }
}
