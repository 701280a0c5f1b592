//! Evidence for the customer: one record per KMS call the broker makes with
//! a customer's role, carrying what the customer's CloudTrail shows for the
//! same call (the KMS request id, the session name and SourceIdentity, the
//! `{workspace, secret}` encryption context).
//!
//! The broker's audit records say which injection, rewrap or check a secret
//! was read for; the customer's CloudTrail says the key was used. Matching
//! the two (`terraform/readiness/reconcile.py`) needs a key both sides hold,
//! and the only one is the request id KMS returns in `x-amzn-RequestId` and
//! writes into the CloudTrail event as `requestID`. This module records it
//! with an SDK interceptor on every assumed-role KMS client
//! ([`crate::assume_role`]), so no call site can forget it: the sink set
//! with [`crate::Broker::with_kms_use_sink`] gets a [`KmsUse`] after each
//! `GenerateDataKey` and `Decrypt`, allowed or refused. Platform-key calls
//! are not recorded (they are not in any customer's trail).
//!
//! A record holds names and ids only: never a plaintext, a ciphertext or a
//! data key (the interceptor reads the request's key id and encryption
//! context and the response's headers, never a body).

use std::sync::Arc;

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeSerializationInterceptorContextRef, FinalizerInterceptorContextRef,
};
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};
use serde::Serialize;

use crate::session_purpose::SessionPurpose;

/// Schema identifier of [`KmsUse`] records; bump on incompatible change.
pub const KMS_USE_SCHEMA: &str = "keybroker.audit.kms.v1";

/// Where [`KmsUse`] records go (the Lambda functions print them to stdout
/// as audit lines). Called synchronously after each call; keep it cheap.
pub type KmsUseSink = Arc<dyn Fn(&KmsUse) + Send + Sync>;

/// One KMS call made with a customer's role.
#[derive(Debug, Clone, Serialize)]
pub struct KmsUse {
    /// [`KMS_USE_SCHEMA`].
    pub schema: &'static str,
    /// Unix time in milliseconds when the call started.
    pub time_ms: u64,
    /// `GenerateDataKey` or `Decrypt` (CloudTrail's `eventName`).
    pub operation: &'static str,
    /// The `workspace` of the encryption context.
    pub workspace: Option<String>,
    /// The `secret` of the encryption context.
    pub secret: Option<String>,
    /// The key the call named (`KeyId`).
    pub key_arn: Option<String>,
    /// The customer role the session belongs to.
    pub role_arn: String,
    /// The session's `RoleSessionName`.
    pub session_name: String,
    /// The session's `SourceIdentity`.
    pub source_identity: &'static str,
    /// Why the broker called (inject, admin, check, verify).
    pub purpose: SessionPurpose,
    /// The request id KMS answered with (CloudTrail's `requestID`); `None`
    /// when no answer came back (a timeout, a connection error).
    pub kms_request_id: Option<String>,
    /// `ok`, or the error code KMS answered with (`AccessDeniedException`,
    /// `DisabledException`, ...), or `no_response`.
    pub outcome: String,
}

impl KmsUse {
    /// The record as one JSON line.
    pub fn to_line(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| {
            format!("{{\"schema\":\"{KMS_USE_SCHEMA}\",\"error\":\"unserializable\"}}")
        })
    }
}

/// Who made the calls of one assumed-role KMS client.
#[derive(Debug, Clone)]
pub(crate) struct SessionLabel {
    pub role_arn: String,
    pub session_name: String,
    pub purpose: SessionPurpose,
}

/// The interceptor on each assumed-role KMS client.
pub(crate) struct RecordKmsUse {
    sink: KmsUseSink,
    session: SessionLabel,
}

impl std::fmt::Debug for RecordKmsUse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordKmsUse")
            .field("session", &self.session)
            .finish_non_exhaustive()
    }
}

impl RecordKmsUse {
    pub(crate) fn new(sink: KmsUseSink, session: SessionLabel) -> Self {
        Self { sink, session }
    }
}

/// What the request said, kept from before serialization (the input is
/// consumed by then) to after the answer.
#[derive(Debug, Clone)]
struct Pending {
    time_ms: u64,
    operation: &'static str,
    key_arn: Option<String>,
    workspace: Option<String>,
    secret: Option<String>,
}

impl Storable for Pending {
    type Storer = StoreReplace<Self>;
}

impl Pending {
    fn of(
        operation: &'static str,
        key_arn: Option<&String>,
        ctx: Option<&std::collections::HashMap<String, String>>,
    ) -> Self {
        let value = |k: &str| ctx.and_then(|c| c.get(k)).cloned();
        Self {
            time_ms: now_ms(),
            operation,
            key_arn: key_arn.cloned(),
            workspace: value("workspace"),
            secret: value("secret"),
        }
    }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

impl Intercept for RecordKmsUse {
    fn name(&self) -> &'static str {
        "keybroker::RecordKmsUse"
    }

    fn read_before_execution(
        &self,
        context: &BeforeSerializationInterceptorContextRef<'_>,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        use aws_sdk_kms::operation::decrypt::DecryptInput;
        use aws_sdk_kms::operation::generate_data_key::GenerateDataKeyInput;
        let input = context.input();
        let pending = if let Some(i) = input.downcast_ref::<DecryptInput>() {
            Pending::of("Decrypt", i.key_id.as_ref(), i.encryption_context.as_ref())
        } else if let Some(i) = input.downcast_ref::<GenerateDataKeyInput>() {
            Pending::of(
                "GenerateDataKey",
                i.key_id.as_ref(),
                i.encryption_context.as_ref(),
            )
        } else {
            // The broker makes no other call with a customer role.
            return Ok(());
        };
        cfg.interceptor_state().store_put(pending);
        Ok(())
    }

    fn read_after_execution(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(p) = cfg.load::<Pending>().cloned() else {
            return Ok(());
        };
        let response = context.response();
        let kms_request_id = response
            .and_then(|r| r.headers().get("x-amzn-requestid"))
            .map(str::to_owned);
        let outcome = match (context.output_or_error(), response) {
            (Some(Ok(_)), _) => "ok".to_owned(),
            (Some(Err(e)), Some(_)) => error_code(e.as_operation_error()),
            _ => "no_response".to_owned(),
        };
        (self.sink)(&KmsUse {
            schema: KMS_USE_SCHEMA,
            time_ms: p.time_ms,
            operation: p.operation,
            workspace: p.workspace,
            secret: p.secret,
            key_arn: p.key_arn,
            role_arn: self.session.role_arn.clone(),
            session_name: self.session.session_name.clone(),
            source_identity: self.session.purpose.source_identity(),
            purpose: self.session.purpose,
            kms_request_id,
            outcome,
        });
        Ok(())
    }
}

/// The AWS error code of a failed Decrypt / GenerateDataKey.
fn error_code(e: Option<&aws_smithy_runtime_api::client::interceptors::context::Error>) -> String {
    use aws_sdk_kms::error::ProvideErrorMetadata;
    use aws_sdk_kms::operation::decrypt::DecryptError;
    use aws_sdk_kms::operation::generate_data_key::GenerateDataKeyError;
    let code = e.and_then(|e| {
        e.downcast_ref::<DecryptError>()
            .and_then(|d| d.code())
            .or_else(|| {
                e.downcast_ref::<GenerateDataKeyError>()
                    .and_then(|g| g.code())
            })
    });
    code.unwrap_or("error").to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_is_one_json_line_of_names_and_ids() {
        let u = KmsUse {
            schema: KMS_USE_SCHEMA,
            time_ms: 1,
            operation: "Decrypt",
            workspace: Some("acme".into()),
            secret: Some("github".into()),
            key_arn: Some("arn:aws:kms:us-east-1:222222222222:key/k".into()),
            role_arn: "arn:aws:iam::222222222222:role/keybroker/KeybrokerAccess".into(),
            session_name: "keybroker-inject.acme".into(),
            source_identity: SessionPurpose::Inject.source_identity(),
            purpose: SessionPurpose::Inject,
            kms_request_id: Some("req-1".into()),
            outcome: "ok".into(),
        };
        let line = u.to_line();
        assert!(!line.contains('\n'));
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["schema"], "keybroker.audit.kms.v1");
        assert_eq!(v["purpose"], "inject");
        assert_eq!(v["source_identity"], "keybroker-inject");
        assert_eq!(v["kms_request_id"], "req-1");
        assert_eq!(
            v.as_object().unwrap().keys().count(),
            12,
            "every field, no more: {line}"
        );
    }
}
