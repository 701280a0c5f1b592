//! What both functions share at the boundary with the outside world, and
//! nothing that belongs to one of them: it imports neither [`crate::inject`]
//! nor [`crate::admin`].
//!
//! In: the environment, once per sandbox ([`init`]). Out: the one error
//! vocabulary ([`error`]), the records on stdout ([`record`]) with their
//! CloudWatch metrics ([`metrics`]), and every HTTP request a credential
//! can reach, through one guarded client: which addresses it may reach
//! ([`destination`]), the upstream request itself ([`upstream`]), and the
//! OAuth 2.0 token endpoint ([`token_client`]), which inject's refresh and
//! admin's code exchange both call.

pub mod destination;
pub mod error;
pub mod init;
pub mod metrics;
pub mod record;
pub mod token_client;
pub mod upstream;
