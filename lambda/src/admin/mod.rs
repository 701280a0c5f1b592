//! The `admin` function: everything that changes what is stored. A separate
//! function from `inject`, so a deployment can let agent runtimes invoke
//! `inject` only and keep these operations for the platform's control plane.
//!
//! [`handle`] parses the contract's `AdminRequest` and hands it to the
//! operation's handler (`op::Handler`, one impl per request type), grouped
//! by what they change: `byok`, `secrets` (and the workspace's policy and
//! limits), `breaker` (and `list_secrets`, which shows each breaker),
//! `sweep` (rewrap and the status checks), `oauth2` (the code flow).
//! `request` converts what requests carry into broker-core's types, and
//! [`audit`] is the one record each call writes. Adding an operation is
//! one variant in the contract and one `Handler` impl here.

pub mod audit;
mod breaker;
mod byok;
mod error;
mod handler;
mod oauth2;
mod op;
mod request;
mod secrets;
mod sweep;

pub use error::AdminError;
pub use handler::handle;
pub use keybroker_contract::{AdminRequest, OPERATIONS};
