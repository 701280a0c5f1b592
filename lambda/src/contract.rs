//! The JSON invocation contract of the `inject` function (docs/INVOCATION.md,
//! docs/inject.schema.json): the `keybroker-contract` crate's types, which
//! every client compiles against too. Parsed strictly: unknown fields are an
//! `invalid_request`, so a typo never silently changes what is sent.

pub use keybroker_contract::{
    ErrorBody, ErrorType, InjectEvent, InjectReply, Retry, UpstreamRequest, Withheld,
};
