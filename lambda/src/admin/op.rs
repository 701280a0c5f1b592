//! [`Handler`]: what each admin operation's request does, one impl per
//! request type of the contract. The handler names its audit target and
//! what it asks to change before it runs, so a refused call is recorded as
//! asked; then it runs against the library. Ids arrive as text and are
//! validated once, by [`ws`] and [`name`], into broker-core's types.

use broker_core::{Broker, BrokerError, SecretName, WorkspaceId};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use crate::admin::audit::Changes;
use crate::admin::error::AdminError;

/// One admin operation. `keybroker_contract::with_admin_ops!` dispatches
/// every variant of the contract's `AdminRequest` to its impl, so an
/// operation added to the contract does not compile until it has one.
pub(crate) trait Handler: keybroker_contract::AdminOp<Reply: Serialize> + Sized {
    /// The audit record's target (a valid secret name, or what kind of
    /// thing changes), filling `changes` with what the call asks to change:
    /// names, ARNs, hashes and counts, never a value or a policy's text.
    fn describe(&self, changes: &mut Changes) -> Option<String>;

    /// Run the operation; `changes` gets what did change. The result is
    /// the contract's reply type for the operation, so a reply field the
    /// handler builds and the contract renames does not compile.
    async fn run(self, broker: &Broker, changes: &mut Changes) -> Result<Self::Reply, AdminError>;
}

/// The workspace id, validated.
pub(crate) fn ws(s: &str) -> Result<WorkspaceId, BrokerError> {
    WorkspaceId::new(s)
}

/// The secret name, validated.
pub(crate) fn name(s: &str) -> Result<SecretName, BrokerError> {
    SecretName::new(s)
}

/// A secret name as an audit target: only a valid one (an invalid one is
/// what was refused, and could be anything).
pub(crate) fn secret_target(s: &str) -> Option<String> {
    SecretName::new(s).ok().map(|n| n.to_string())
}

/// A reply as the reply's `result`.
pub(crate) fn to_json<T: Serialize>(v: T) -> Result<Value, AdminError> {
    serde_json::to_value(v).map_err(|_| AdminError::Unserialisable)
}

/// A library result as the contract's reply type, where the two have the
/// same JSON (the library's types serialise the stored model, the
/// contract's are what clients read). Read as a client reads it: a field
/// the contract lacks is dropped, an optional one missing is defaulted, a
/// required one missing is `Unserialisable`. What keeps the two the same
/// is the suite, which holds every admin result it sees to the contract
/// exactly (tests/src/contract_check.rs).
pub(crate) fn as_reply<T: Serialize, R: DeserializeOwned>(v: T) -> Result<R, AdminError> {
    serde_json::from_value(to_json(v)?).map_err(|_| AdminError::Unserialisable)
}
