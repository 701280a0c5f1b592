//! The `inject` handler: check, decrypt, send, scrub, audit, forget.
//!
//! Order matters. Everything that can refuse a request (event shape, names,
//! then broker-core's one access check: agent, method, URL, headers,
//! policy) runs after one DynamoDB read and *before* `kms:Decrypt`, so a
//! denied request never touches the customer's key and never shows up as
//! key usage in their CloudTrail. The injection limits come next
//! (`Broker::admit`: a request over a limit is `throttled` with the
//! window's wait, and decrypts nothing). Only the check's `Authorized`
//! value, admitted by the limits, can be decrypted for injection, and what
//! is sent is the request it approved (normalised URL, method, vetted
//! headers), not the event's text. The
//! plaintext lives only between decrypt and send, inside this function, and
//! is wiped on drop.
//! A quarantined secret is refused in `admit`, before `kms:Decrypt`. After
//! it, what the agent supplied is scanned for the credential before
//! anything is sent (a hit is a `probe`: not sent), and what comes back is
//! checked and shaped by [`crate::inject::response`]: encoded or partial answers
//! are refused, and an echoed credential withholds (or, if the binding opts
//! in, redacts) the response. Every answer after the request scan is then
//! decided against the secret's probe breaker ([`crate::inject::probe`]).

pub mod audit;
pub mod catalog;
mod exchange;
mod handler;
pub mod probe;
mod refusal;
pub mod response;
pub mod scrub;

pub use handler::Injector;
