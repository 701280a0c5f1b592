//! # keybroker-lambda
//!
//! The deployed broker: two Lambda functions over `broker-core`. The folders
//! are the architecture:
//!
//! * [`inject`] (agent-facing): given a workspace, a secret name, an agent
//!   identity and an upstream request, it makes that **one** request with the
//!   credential injected where the secret's binding says, and returns the
//!   upstream's response. The agent never sees the credential: binding and
//!   Cedar policy are checked before `kms:Decrypt`, private and metadata
//!   addresses are refused at connect time, redirects are not followed,
//!   responses are bounded, never encoded or partial, and withheld when they
//!   echo the credential, and one audit record per call goes to stdout.
//!   A request that carries credential material is not sent, and each such
//!   request or echo counts against the secret's probe breaker, which
//!   quarantines the secret past a small budget ([`inject::probe`]).
//! * [`admin`] (control plane only): the operations of
//!   [`keybroker_contract::OPERATIONS`] (BYOK set-up and checks, secrets and
//!   their OAuth 2.0 connection, policies, limits, the probe breaker,
//!   rewraps and sweeps), one typed request and one handler each
//!   ([`admin::handle`]).
//! * [`edge`]: what both functions share where they meet the outside world:
//!   init from the environment, the error vocabulary, records on stdout and
//!   their metrics, and the guarded HTTP client (destinations, the upstream
//!   request, the OAuth 2.0 token endpoint).
//!
//! Dependencies point one way: `bin → inject | admin → edge → broker-core,
//! keybroker-contract`. `inject` and `admin` never import each other, and
//! `edge` imports neither, so a change to the control plane cannot reach
//! the injection path except through `edge` or the library.
//!
//! The binaries in `src/bin/` are thin: they build the AWS clients and the
//! HTTP client once per sandbox and hand each event to [`Injector::handle`]
//! or [`admin::handle`]. The contract is in docs/INVOCATION.md.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod admin;
pub mod edge;
pub mod inject;

pub use inject::Injector;
/// The wire contract this crate serves, for callers that link the
/// functions themselves (the fuzz targets, property tests).
pub use keybroker_contract as contract;
