//! keybroker's wire contract: every JSON object that crosses a Lambda
//! `Invoke` of the `inject` or `admin` function (docs/INVOCATION.md,
//! docs/inject.schema.json), as types that the functions and every client
//! (the CLI, the MCP server, the test suite) compile against. A renamed
//! field is then a compile error in each of them, not a `None` at run time.
//!
//! Modelled on `aws_lambda_events`: serde-only types, no client code unless
//! the `client` feature asks for it, and no AWS dependency at all, so the
//! heaviest caller and the lightest share one vocabulary.
//!
//! Direction of strictness: what the *functions* parse (the events) refuses
//! unknown fields, so a typo never silently changes what is sent; what the
//! *clients* parse (the replies) ignores unknown fields and keeps an unknown
//! error type as [`ErrorType::Other`], so an older CLI still reads a newer
//! deployment.
//!
//! What this crate does not do: validate. A [`Binding`] here is its wire
//! shape; broker-core decides whether it can be enforced.
//!
//! ```text
//! error     ErrorType, Retry, ErrorBody: the one error vocabulary
//! inject    InjectEvent → InjectReply (the injection)
//! catalog   CatalogRequest → CatalogReply (inject's read-only list_secrets)
//! binding   Binding, Injection, OnEcho, OAuth2Binding, Limits (wire shapes)
//! admin     AdminRequest (one variant per op), AdminOp (its reply type)
//! reply     the admin replies
//! client    (feature) Client over a Transport: typed calls, typed errors
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod admin;
pub mod binding;
pub mod catalog;
#[cfg(feature = "client")]
pub mod client;
pub mod error;
pub mod inject;
pub mod reply;

pub use admin::{AdminOp, AdminRequest, OPERATIONS};
pub use binding::{Binding, Injection, Limits, OAuth2Binding, OnEcho};
pub use catalog::{CatalogEntry, CatalogReply, CatalogRequest, InjectionKind};
pub use error::{ErrorBody, ErrorType, Retry, THROTTLED_RETRY_AFTER_MS};
pub use inject::{InjectEvent, InjectReply, UpstreamRequest, Withheld};
