//! # broker-core
//!
//! Bring-your-own-key envelope encryption of agent credentials, so that a
//! customer can lock the platform out of their credentials, for good, from
//! their own AWS account.
//!
//! ## The design in one pass
//!
//! A *workspace* is one customer. Each of its credentials (API key, OAuth
//! token) is a *secret*, stored in DynamoDB as a [`blob`]: a versioned binary
//! envelope. To write a secret the broker asks KMS for a fresh AES-256 data
//! key (`keyring`), seals the credential locally with AES-256-GCM
//! (`envelope`) and keeps only the KMS-encrypted data key beside the
//! ciphertext. Both the data key (at KMS) and the ciphertext (as AES-GCM
//! associated data) are bound to the encryption context
//! `{"workspace": <id>, "secret": <name>}` ([`context`]), so a blob moved to
//! another workspace or name never decrypts.
//!
//! Which key? Without BYOK, the platform's own KMS key. With BYOK on, the
//! customer's key in the customer's account, reached by assuming the
//! customer's IAM role with an external id the broker generated for that
//! workspace ([`assume_role`], [`external_id`]). The mode is recorded per
//! secret: turning BYOK on changes new and rotated secrets only.
//!
//! ```text
//!  write:  value ──AES-GCM──▶ blob ◀── data key ◀─GenerateDataKey─ KMS key (platform | customer)
//!  read:   blob ──Decrypt(KeyId pinned, context)──▶ data key ──AES-GCM──▶ value (zeroized on drop)
//! ```
//!
//! ## Revocation
//!
//! The broker caches assumed-role *credentials* (one `AssumeRole` per
//! workspace, role and purpose per session), never a data key or a
//! credential in clear. Every read calls `kms:Decrypt`, so when the customer
//! removes the broker from the key policy, disables the key or schedules its
//! deletion, the first read after KMS applies the change (KMS is eventually
//! consistent: usually seconds, sometimes minutes) fails with
//! [`BrokerError::Revoked`] naming why, and the record stays in DynamoDB
//! marked revoked ([`SecretStatus::Revoked`]) so `list` shows which secrets
//! are affected.
//!
//! ## Evidence for the customer
//!
//! Every session names its purpose and function in the customer's
//! CloudTrail ([`assume_role::session_name`], `SourceIdentity`), and every
//! KMS call made with it is handed to the sink set with
//! [`Broker::with_kms_use_sink`] as a [`kms_use::KmsUse`] carrying the KMS
//! request id, which the customer's CloudTrail records too: the key a
//! customer's reconcile matches the two on.
//!
//! ## Injection: one check, one typed result
//!
//! An injection is [`Broker::load`] (one DynamoDB read), then
//! [`Broker::authorize`], the one access check of the request ([`access`]:
//! agent, method, normalised URL against the binding, agent headers, the
//! workspace's schema-validated Cedar policy), then [`Broker::admit`], which
//! counts the request against the workspace's injection limits ([`limits`]),
//! then [`Broker::decrypt_for_injection`], which takes the resulting
//! [`Admitted`] value by value and returns the [`ApprovedRequest`] to
//! send. `Authorized` and `Admitted` have private fields, so decrypting for
//! injection without the check and the limits does not compile. [`Broker::read_plaintext`] decrypts
//! with no check: it is for the library's own reads (rotation tooling,
//! operators, tests), and the `inject` function never calls it.
//!
//! ## What this crate does not do
//!
//! It does not send credentials anywhere: the Lambda crate injects them into
//! one upstream request. It does not create tables or keys in production:
//! `infra/` and `terraform/` do. It does not enforce IAM: AWS does, and in
//! tests the local stack's IAM front does.
//!
//! ## Errors
//!
//! One enum, [`BrokerError`], grouped by what the caller does next; AWS error
//! codes are mapped in one place (`aws_error`), by code, because several of
//! the ones that matter are unmodelled in the Rust SDK.
//!
//! ## Where each decision lives
//!
//! - **Envelope** (encryption context, seal, the checks that run before
//!   `kms:Decrypt`, blob → [`BrokerError::Tampered`]): [`sealing`], the one
//!   module that builds an [`EncryptionContext`](context::EncryptionContext);
//!   below it [`envelope`] (AES-GCM), [`blob`] (the format) and
//!   [`keyring`] (the KMS calls, key id pinned).
//! - **BYOK session** (platform key or customer role, which KMS client a
//!   secret needs, enable/verify/disable): [`broker::byok`], over the
//!   cached sessions of [`assume_role`]; the state itself is the [`Byok`]
//!   enum, so "enabled without a role" cannot be stored or represented;
//!   the canary round trip is [`broker::verify`].
//! - **Revocation mapping** (which AWS error means the customer locked the
//!   broker out, and why): [`aws_error`], into [`RevokedReason`]; the
//!   revoked mark `list` shows is recorded by [`broker::read`].
//! - **Access check** (binding, agent headers, Cedar policy):
//!   [`access`], reached only through [`Broker::authorize`]; the header
//!   rules it and the binding share are [`header_names`].
//! - **Injection limits** (fixed windows per workspace and per agent, the
//!   arithmetic, the default): [`limits`]; the counters and the limits item
//!   are `store::counters`, the step on the read path [`broker::admit`].
//! - **Probe breaker** (per-secret count of answers that showed
//!   credential-derived material, the quarantine, and why every answer is
//!   decided after its scan): [`breaker`]; the item is `store::breaker`,
//!   the check before `kms:Decrypt` is in [`broker::admit`], the decisions
//!   after the scans and the operator's controls in `broker::breaker`.
//! - **OAuth 2.0 credentials** (the `oauth2` kind: sealed refresh token,
//!   cached access token under a derived name, the refresh lease, rotation
//!   written back on the version read, `reauth_required`): [`oauth2`]; the
//!   state item is `store::oauth2`, the flow `broker::oauth2`.
//! - **Stored format** (items both ways, fail-closed parsing):
//!   [`store::codec`]; the DynamoDB calls are [`store`].
//! - **Identifiers** ([`WorkspaceId`], [`SecretName`], [`KeyArn`],
//!   [`RoleArn`], [`Region`]): validated once at the edge and carried typed
//!   through the model, never re-parsed.

#![forbid(unsafe_code)]
#![deny(missing_docs)]
// The map above links into crate-private modules on purpose: it is for
// maintainers (`cargo doc --document-private-items` renders it).
#![allow(rustdoc::private_intra_doc_links)]

pub mod access;
mod arn;
pub mod assume_role;
mod aws_error;
pub mod binding;
pub mod blob;
pub mod breaker;
mod broker;
mod call_count;
pub mod context;
pub mod deployment;
pub mod envelope;
mod error;
pub mod external_id;
pub mod header_names;
mod keyring;
pub mod kms_use;
pub mod limits;
mod loaded;
mod model;
mod names;
pub mod oauth2;
mod sealing;
mod secret;
mod session_purpose;
mod store;

pub use access::{AccessError, AccessRequest, AccessSettings, ApprovedRequest, Authorized};
pub use arn::{KeyArn, Region, RoleArn};
pub use assume_role::{SessionPurpose, DENIED_TTL};
pub use binding::{Binding, Injection, OnEcho};
pub use breaker::{BreakerCleared, BreakerState, BudgetChange, Probation, ProbeKind};
pub use broker::admit::{Admitted, InFlightSlot, LimitsChange};
pub use broker::catalog::Catalog;
pub use broker::check::{CheckPage, CheckReport, Probe, ProbeOutcome};
pub use broker::oauth2::OAuth2Status;
pub use broker::oauth2_connect::{StartOAuth2, Started};
pub use broker::read::Decrypted;
pub use broker::rewrap::{KeyTarget, RewrapPage, RewrapRequest, SecretFailure};
pub use broker::verify::{VerifyReport, VerifyStep};
pub use broker::Broker;
pub use call_count::AwsCalls;
pub use deployment::{AwsTimeouts, BrokerConfig};
pub use error::{BrokerError, Result, RevokedReason};
pub use kms_use::{KmsUse, KmsUseSink};
pub use limits::{LimitScope, Limits, StoredLimits};
pub use loaded::LoadedSecret;
pub use model::{
    Byok, ByokLink, ByokStateError, KeyMode, SecretMetadata, SecretStatus, WorkspaceSettings,
};
pub use names::{SecretName, WorkspaceId};
pub use oauth2::{OAuth2Binding, OAuth2Settings, TokenTransport};
pub use secret::{SecretValue, MAX_SECRET_LEN};
pub use store::create_table;
