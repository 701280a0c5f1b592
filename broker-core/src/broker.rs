//! The broker's operations: the one type callers hold.

use std::sync::Arc;

use aws_config::SdkConfig;

use crate::access::{
    AccessError, AccessRequest, AccessSettings, ApprovedRequest, Authorized, Gate,
};
use crate::arn::{KeyArn, RoleArn};
use crate::assume_role::{RoleSessions, RoleTarget};
use crate::binding::Binding;
use crate::blob::Blob;
use crate::call_count::{AwsCalls, CallCounts, CountCalls, Counter};
use crate::context::{BindingDigest, EncryptionContext};
use crate::deployment::BrokerConfig;
use crate::envelope::{self, WrappedKey};
use crate::error::{BrokerError, Result};
use crate::keyring;
use crate::model::{now, KeyMode, SecretMetadata, SecretStatus, WorkspaceSettings};
use crate::names::{SecretName, WorkspaceId};
use crate::secret::SecretValue;
use crate::store::{new_metadata, SecretRecord, Store};
use crate::verify::{self, VerifyReport};

/// A decrypted secret with the metadata of the version it came from (the
/// key ARN and mode are what audit records need).
#[derive(Debug)]
pub struct Decrypted {
    /// The credential in clear; drop it as soon as the request is sent.
    pub value: SecretValue,
    /// Metadata of the version that was read.
    pub metadata: SecretMetadata,
}

/// A secret's record and its workspace's settings, loaded but not
/// decrypted: what binding and policy checks look at.
#[derive(Debug)]
pub struct LoadedSecret {
    ws: WorkspaceId,
    name: SecretName,
    rec: SecretRecord,
    settings: Option<WorkspaceSettings>,
}

impl LoadedSecret {
    /// The stored metadata, including the binding.
    pub fn metadata(&self) -> &SecretMetadata {
        &self.rec.meta
    }

    /// The workspace's policy text, if any.
    pub fn policy(&self) -> Option<&str> {
        self.settings.as_ref().and_then(|s| s.policy.as_deref())
    }
}

/// The broker: AWS clients built once, shared by all calls.
///
/// Cheap to share behind an `Arc`; every method takes `&self`.
pub struct Broker {
    store: Store,
    platform_kms: aws_sdk_kms::Client,
    platform_key: KeyArn,
    sessions: RoleSessions,
    calls: Arc<CallCounts>,
    gate: Gate,
    min_blob_version: u8,
}

impl std::fmt::Debug for Broker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Broker")
            .field("platform_key", &self.platform_key.as_str())
            .finish_non_exhaustive()
    }
}

/// Where a write's data key comes from.
struct WriteKey {
    kms: aws_sdk_kms::Client,
    key_arn: String,
    mode: KeyMode,
}

impl Broker {
    /// Build the clients from a loaded AWS config (endpoint overrides such as
    /// `AWS_ENDPOINT_URL` carry over, which is how tests reach the local stack).
    pub fn new(sdk: &SdkConfig, config: BrokerConfig) -> Result<Self> {
        let platform_key = KeyArn::parse(&config.platform_key_arn)?;
        let calls = Arc::new(CallCounts::default());
        let counter = |c| CountCalls::new(calls.clone(), c);
        let kms_base = aws_sdk_kms::config::Builder::from(sdk)
            .interceptor(counter(Counter::Kms))
            .timeout_config(aws_timeouts())
            .build();
        let sts = aws_sdk_sts::Client::from_conf(
            aws_sdk_sts::config::Builder::from(sdk)
                .interceptor(counter(Counter::Sts))
                .timeout_config(aws_timeouts())
                .build(),
        );
        let ddb = aws_sdk_dynamodb::Client::from_conf(
            aws_sdk_dynamodb::config::Builder::from(sdk)
                .interceptor(counter(Counter::DynamoDb))
                .timeout_config(aws_timeouts())
                .build(),
        );
        Ok(Self {
            store: Store::new(ddb, config.table),
            platform_kms: aws_sdk_kms::Client::from_conf(kms_base.clone()),
            platform_key,
            sessions: RoleSessions::new(sts, kms_base),
            calls,
            gate: Gate::new(config.access),
            min_blob_version: config.min_blob_version,
        })
    }

    /// Open the connections the first request needs (DynamoDB, KMS) now:
    /// on Lambda, a cold sandbox otherwise spends most of its first request
    /// in TLS handshakes. Call it during init; failures are logged and
    /// otherwise ignored (the request path reports real errors).
    pub async fn warm_up(&self) {
        let (ddb, kms) = tokio::join!(
            self.store.warm_up(),
            self.platform_kms
                .describe_key()
                .key_id(self.platform_key.as_str())
                .send()
        );
        if let Err(e) = ddb {
            tracing::debug!(error = %e, "DynamoDB warm-up failed");
        }
        if let Err(e) = kms {
            let e = crate::aws_error::classify(crate::aws_error::Service::Kms, None, &e);
            tracing::debug!(error = %e, "KMS warm-up failed");
        }
    }

    /// AWS calls made so far by this broker's clients.
    pub fn aws_calls(&self) -> AwsCalls {
        self.calls.snapshot()
    }

    /// Get a workspace's settings, creating the workspace (BYOK off, fresh
    /// external id) on first call. The external id is what the customer puts
    /// in their role's trust policy; it never changes afterwards.
    pub async fn prepare_byok(&self, ws: &WorkspaceId) -> Result<WorkspaceSettings> {
        if let Some(w) = self.store.get_workspace(ws).await? {
            return Ok(w);
        }
        let fresh = WorkspaceSettings {
            workspace: ws.to_string(),
            external_id: crate::external_id::generate()?,
            byok_enabled: false,
            role_arn: None,
            key_arn: None,
            region: None,
            updated_at: now(),
            policy: None,
        };
        match self.store.create_workspace(&fresh).await {
            Ok(()) => Ok(fresh),
            // Someone created it between our read and write: theirs stands.
            Err(BrokerError::Conflict { .. }) => self.workspace(ws).await,
            Err(e) => Err(e),
        }
    }

    /// A workspace's settings; `NotFound` if it was never prepared.
    pub async fn workspace(&self, ws: &WorkspaceId) -> Result<WorkspaceSettings> {
        self.store
            .get_workspace(ws)
            .await?
            .ok_or_else(|| BrokerError::NotFound {
                what: "workspace",
                name: ws.to_string(),
            })
    }

    /// Turn BYOK on with the customer's role and key. The link is verified
    /// first (a canary round trip) and nothing is stored if any step fails:
    /// the error names the broken link. `region` defaults to the key's.
    pub async fn enable_byok(
        &self,
        ws: &WorkspaceId,
        role_arn: &str,
        key_arn: &str,
        region: Option<&str>,
    ) -> Result<WorkspaceSettings> {
        let role = RoleArn::parse(role_arn)?;
        let key = KeyArn::parse(key_arn)?;
        let region = region.unwrap_or(key.region());
        if crate::arn::check_region(region).is_err() {
            return Err(BrokerError::invalid("region", "is not an AWS region name"));
        }
        let mut settings = self.workspace(ws).await?;
        settings.byok_enabled = true;
        settings.role_arn = Some(role.as_str().to_owned());
        settings.key_arn = Some(key.as_str().to_owned());
        settings.region = Some(region.to_owned());
        settings.updated_at = now();
        let report = verify::run(self, ws, &settings).await;
        if let Some(e) = report.error {
            return Err(e);
        }
        self.store.set_byok(&settings).await?;
        self.sessions.evict(ws);
        Ok(settings)
    }

    /// Check a workspace's stored BYOK link end to end without changing it.
    pub async fn verify_byok(&self, ws: &WorkspaceId) -> Result<VerifyReport> {
        let settings = self.workspace(ws).await?;
        if settings.role_arn.is_none() || settings.key_arn.is_none() {
            return Err(BrokerError::NotFound {
                what: "BYOK settings",
                name: ws.to_string(),
            });
        }
        Ok(verify::run(self, ws, &settings).await)
    }

    /// New and rotated secrets go back to the platform key. Secrets already
    /// under the customer's key stay there (the role stays configured) until
    /// rotated.
    pub async fn disable_byok(&self, ws: &WorkspaceId) -> Result<WorkspaceSettings> {
        let mut settings = self.workspace(ws).await?;
        settings.byok_enabled = false;
        settings.updated_at = now();
        self.store.set_byok(&settings).await?;
        Ok(settings)
    }

    /// Store a new secret under the workspace's current key mode, with no
    /// binding (it can be read by the library but never injected).
    /// `Conflict` if the name is taken (rotate it instead).
    pub async fn put_secret(
        &self,
        ws: &WorkspaceId,
        name: &SecretName,
        value: &SecretValue,
    ) -> Result<SecretMetadata> {
        self.put(ws, name, value, None).await
    }

    /// Store a new secret that may be injected only as `binding` says.
    pub async fn put_bound_secret(
        &self,
        ws: &WorkspaceId,
        name: &SecretName,
        value: &SecretValue,
        binding: &Binding,
    ) -> Result<SecretMetadata> {
        binding.validate()?;
        self.put(ws, name, value, Some(binding)).await
    }

    async fn put(
        &self,
        ws: &WorkspaceId,
        name: &SecretName,
        value: &SecretValue,
        binding: Option<&Binding>,
    ) -> Result<SecretMetadata> {
        let settings = self.store.get_workspace(ws).await?;
        let key = self.write_key(ws, settings.as_ref()).await?;
        let meta = new_metadata(ws, name, key.mode, &key.key_arn, binding.cloned());
        let blob = self.seal(ws, name, value, &key, binding).await?;
        self.store
            .write_secret(
                &SecretRecord {
                    meta: meta.clone(),
                    blob,
                },
                None,
            )
            .await?;
        tracing::info!(workspace = %ws, secret = %name, key_mode = meta.key_mode.as_str(), "secret stored");
        Ok(meta)
    }

    /// Re-encrypt a secret under the workspace's *current* key mode, with a
    /// new value or (if `None`) its current one, always in the current blob
    /// format (this is the operation that rewrites version 1 blobs). With
    /// `expected_version`, the rotation only applies on top of that version;
    /// in any case a rotation racing another one fails with `Conflict`
    /// instead of losing either.
    ///
    /// The stored binding is carried forward, so the current version is
    /// opened first even when a new value is given: that authenticates the
    /// binding (version 2) before it is sealed again, so a binding changed by
    /// a table write is refused (`Tampered`) instead of being laundered into
    /// a fresh blob. A version 1 blob's binding cannot be authenticated and is
    /// carried forward as stored. There is no operation that changes a
    /// binding: delete the secret and put it again.
    pub async fn rotate_secret(
        &self,
        ws: &WorkspaceId,
        name: &SecretName,
        new_value: Option<&SecretValue>,
        expected_version: Option<u64>,
    ) -> Result<SecretMetadata> {
        let (rec, settings) = self.store.get_secret_and_workspace(ws, name).await?;
        let rec = rec.ok_or_else(|| not_found_secret(name))?;
        if let Some(v) = expected_version.filter(|v| *v != rec.meta.version) {
            return Err(BrokerError::Conflict {
                what: "secret",
                name: name.to_string(),
                detail: format!("expected version {v}, found {}", rec.meta.version),
            });
        }
        let current = self.open(ws, name, &rec, settings.as_ref()).await?;
        let value = new_value.unwrap_or(&current);
        let key = self.write_key(ws, settings.as_ref()).await?;
        let blob = self
            .seal(ws, name, value, &key, rec.meta.binding.as_ref())
            .await?;
        drop(current);
        let meta = SecretMetadata {
            version: rec.meta.version + 1,
            key_mode: key.mode,
            key_arn: key.key_arn,
            updated_at: now(),
            status: SecretStatus::Active,
            ..rec.meta.clone()
        };
        self.store
            .write_secret(
                &SecretRecord {
                    meta: meta.clone(),
                    blob,
                },
                Some(rec.meta.version),
            )
            .await?;
        tracing::info!(workspace = %ws, secret = %name, version = meta.version, key_mode = meta.key_mode.as_str(), "secret rotated");
        Ok(meta)
    }

    /// Decrypt a secret for the library's own use (rotation tooling,
    /// operators, tests): one DynamoDB read and `kms:Decrypt`, no access
    /// check. **Never send the result upstream**: an injection goes through
    /// [`Broker::load`], [`Broker::authorize`] and
    /// [`Broker::decrypt_for_injection`], which is the only path the
    /// `inject` function has.
    pub async fn read_plaintext(&self, ws: &WorkspaceId, name: &SecretName) -> Result<Decrypted> {
        let loaded = self.load(ws, name).await?;
        self.decrypt(loaded).await
    }

    /// First step of an injection: one DynamoDB read fetching the secret's
    /// record and its workspace's settings and policy, no KMS call.
    /// [`Broker::authorize`] checks the request on the result; only its
    /// [`Authorized`] answer can be decrypted for injection, so a denied
    /// request never reaches the customer's key.
    pub async fn load(&self, ws: &WorkspaceId, name: &SecretName) -> Result<LoadedSecret> {
        let (rec, settings) = self.store.get_secret_and_workspace(ws, name).await?;
        let rec = rec.ok_or_else(|| not_found_secret(name))?;
        Ok(LoadedSecret {
            ws: ws.clone(),
            name: name.clone(),
            rec,
            settings,
        })
    }

    /// Second step: the one access check of the request against the
    /// secret's binding and its workspace's policy (crate `access` module).
    /// No AWS call.
    pub fn authorize(
        &self,
        loaded: LoadedSecret,
        request: &AccessRequest<'_>,
    ) -> std::result::Result<Authorized, AccessError> {
        self.gate.check(loaded, request)
    }

    /// The deployment's access settings.
    pub fn access_settings(&self) -> AccessSettings {
        self.gate.settings()
    }

    /// Last step: `kms:Decrypt` for a request that passed
    /// [`Broker::authorize`]. Returns the approved request (what to send)
    /// with the credential. Nothing decrypted is cached, so revocation
    /// applies to the very next read.
    pub async fn decrypt_for_injection(
        &self,
        authorized: Authorized,
    ) -> Result<(ApprovedRequest, Decrypted)> {
        let (request, loaded) = authorized.into_parts();
        Ok((request, self.decrypt(loaded).await?))
    }

    /// `kms:Decrypt` and open. A revoked read keeps the record and marks it
    /// in `list`.
    async fn decrypt(&self, loaded: LoadedSecret) -> Result<Decrypted> {
        let LoadedSecret {
            ws,
            name,
            rec,
            settings,
        } = loaded;
        let (ws, name) = (&ws, &name);
        let result = self.open(ws, name, &rec, settings.as_ref()).await;
        let seen = match &result {
            Ok(_) => Some(SecretStatus::Active),
            Err(BrokerError::Revoked { reason, .. }) => Some(SecretStatus::Revoked {
                reason: *reason,
                since: now(),
            }),
            Err(_) => None,
        };
        self.record_status(&rec.meta, seen).await;
        let value = result?;
        Ok(Decrypted {
            value,
            metadata: SecretMetadata {
                status: SecretStatus::Active,
                ..rec.meta
            },
        })
    }

    /// Replace the workspace's access policy (Cedar text). Refused with
    /// `InvalidInput` unless it parses and validates against the shipped
    /// schema (`access::policy::SCHEMA`): the library refuses what the check
    /// could not use. Creates the workspace if needed.
    pub async fn set_policy(&self, ws: &WorkspaceId, policy: &str) -> Result<()> {
        crate::access::policy::parse(policy).map_err(|why| BrokerError::invalid("policy", why))?;
        self.prepare_byok(ws).await?;
        self.store.set_policy(ws, policy).await
    }

    /// Metadata of every secret in the workspace, blobs excluded.
    pub async fn list_secrets(&self, ws: &WorkspaceId) -> Result<Vec<SecretMetadata>> {
        self.store.list_secrets(ws).await
    }

    /// Delete a secret; `NotFound` if absent.
    pub async fn delete_secret(&self, ws: &WorkspaceId, name: &SecretName) -> Result<()> {
        self.store.delete_secret(ws, name).await?;
        tracing::info!(workspace = %ws, secret = %name, "secret deleted");
        Ok(())
    }

    /// Persist a status change only when it changes (a revoked reason first
    /// seen, or recovery), so warm reads stay at one DynamoDB call. Failing
    /// to record is logged, never allowed to mask the read's own outcome.
    async fn record_status(&self, meta: &SecretMetadata, seen: Option<SecretStatus>) {
        let changed = match (meta.status, seen) {
            (_, None) => false,
            (SecretStatus::Active, Some(SecretStatus::Active)) => false,
            (
                SecretStatus::Revoked { reason: a, .. },
                Some(SecretStatus::Revoked { reason: b, .. }),
            ) => a != b,
            _ => true,
        };
        let Some(status) = seen.filter(|_| changed) else {
            return;
        };
        if matches!(status, SecretStatus::Revoked { .. }) {
            tracing::warn!(workspace = %meta.workspace, secret = %meta.name, ?status, "secret key access revoked");
        }
        if let Err(e) = self.store.set_status(meta, status).await {
            tracing::warn!(workspace = %meta.workspace, secret = %meta.name, error = %e, "could not record secret status");
        }
    }

    /// The key new versions are written under: the customer's if BYOK is on.
    async fn write_key(
        &self,
        ws: &WorkspaceId,
        settings: Option<&WorkspaceSettings>,
    ) -> Result<WriteKey> {
        match settings.filter(|s| s.byok_enabled) {
            None => Ok(WriteKey {
                kms: self.platform_kms.clone(),
                key_arn: self.platform_key.as_str().to_owned(),
                mode: KeyMode::Platform,
            }),
            Some(s) => {
                let key_arn = s.key_arn.clone().ok_or_else(|| malformed_settings(ws))?;
                let key = KeyArn::parse(&key_arn)?;
                let kms = self.customer_kms(ws, s, key.region()).await?;
                Ok(WriteKey {
                    kms,
                    key_arn,
                    mode: KeyMode::Byok,
                })
            }
        }
    }

    /// A KMS client acting as the workspace's customer role (cached session).
    async fn customer_kms(
        &self,
        ws: &WorkspaceId,
        settings: &WorkspaceSettings,
        region: &str,
    ) -> Result<aws_sdk_kms::Client> {
        let role_arn = settings
            .role_arn
            .as_deref()
            .ok_or_else(|| malformed_settings(ws))?;
        let target = RoleTarget {
            role_arn,
            external_id: &settings.external_id,
            region,
        };
        self.sessions.kms_client(ws, &target).await
    }

    pub(crate) async fn fresh_customer_kms(
        &self,
        ws: &WorkspaceId,
        target: &RoleTarget<'_>,
    ) -> Result<aws_sdk_kms::Client> {
        self.sessions.fresh_kms_client(ws, target).await
    }

    async fn seal(
        &self,
        ws: &WorkspaceId,
        name: &SecretName,
        value: &SecretValue,
        key: &WriteKey,
        binding: Option<&Binding>,
    ) -> Result<Vec<u8>> {
        let binding = BindingDigest::of(binding);
        seal_with(&key.kms, &key.key_arn, key.mode, ws, name, value, &binding).await
    }

    /// Decrypt a stored record with the key its blob names, authenticating
    /// the record's binding (version 2 blobs). Every check that needs no key
    /// runs before `kms:Decrypt`: a record altered in the table is refused
    /// without touching the customer's key.
    async fn open(
        &self,
        ws: &WorkspaceId,
        name: &SecretName,
        rec: &SecretRecord,
        settings: Option<&WorkspaceSettings>,
    ) -> Result<SecretValue> {
        let tampered = |detail| BrokerError::Tampered {
            secret: name.to_string(),
            detail,
        };
        let blob = Blob::decode(&rec.blob).map_err(|e| tampered(e.detail()))?;
        if blob.key_mode != rec.meta.key_mode || blob.key_arn != rec.meta.key_arn {
            return Err(tampered(
                "record metadata and blob header disagree on the key",
            ));
        }
        if blob.version() < self.min_blob_version {
            return Err(tampered(
                "blob format version is below this deployment's minimum (KEYBROKER_MIN_BLOB_VERSION)",
            ));
        }
        let binding = BindingDigest::of(rec.meta.binding.as_ref());
        // Names the failure early; the AEAD check in `open_with` is the one
        // that counts (a rewritten header digest fails the tag).
        envelope::check_binding(&blob, &binding).map_err(tampered)?;
        let kms = match blob.key_mode {
            KeyMode::Platform => self.platform_kms.clone(),
            KeyMode::Byok => {
                let settings = settings.ok_or_else(|| malformed_settings(ws))?;
                let key = KeyArn::parse(&blob.key_arn)
                    .map_err(|_| tampered("blob key ARN is invalid"))?;
                self.customer_kms(ws, settings, key.region()).await?
            }
        };
        let result = open_with(&kms, &blob, ws, name, &binding).await;
        if matches!(result, Err(BrokerError::Revoked { .. })) && blob.key_mode == KeyMode::Byok {
            // Re-assume next time: the customer may have fixed the link.
            self.sessions.evict(ws);
        }
        result
    }
}

/// Bounds on every AWS call. The SDK sets none by default beyond connect,
/// so an endpoint that accepts a connection and never answers would hold a
/// request until the Lambda itself times out. Each attempt gets 3 s (KMS,
/// STS and DynamoDB answer in milliseconds), the whole operation with the
/// SDK's retries 8 s, inside the inject function's 15 s budget; a timeout
/// surfaces as `Unavailable`.
fn aws_timeouts() -> aws_smithy_types::timeout::TimeoutConfig {
    aws_smithy_types::timeout::TimeoutConfig::builder()
        .connect_timeout(std::time::Duration::from_secs(2))
        .operation_attempt_timeout(std::time::Duration::from_secs(3))
        .operation_timeout(std::time::Duration::from_secs(8))
        .build()
}

/// Envelope-encrypt `value` under `key_arn` through `kms`.
pub(crate) async fn seal_with(
    kms: &aws_sdk_kms::Client,
    key_arn: &str,
    mode: KeyMode,
    ws: &WorkspaceId,
    name: &SecretName,
    value: &SecretValue,
    binding: &BindingDigest,
) -> Result<Vec<u8>> {
    let ctx = EncryptionContext {
        workspace: ws,
        secret: name,
    };
    let dk = keyring::generate(kms, key_arn, &ctx).await?;
    let wrapped = WrappedKey {
        key_mode: mode,
        key_arn,
        encrypted_data_key: &dk.encrypted,
    };
    envelope::seal(value, &dk.plaintext, &wrapped, &ctx, binding)
}

/// Unwrap the data key through `kms` and open the blob, which must have
/// been sealed with `binding` (version 2; version 1 carries none).
pub(crate) async fn open_with(
    kms: &aws_sdk_kms::Client,
    blob: &Blob,
    ws: &WorkspaceId,
    name: &SecretName,
    binding: &BindingDigest,
) -> Result<SecretValue> {
    let ctx = EncryptionContext {
        workspace: ws,
        secret: name,
    };
    let data_key = keyring::unwrap(kms, blob, &ctx).await?;
    envelope::open(blob, &data_key, &ctx, binding)
}

fn not_found_secret(name: &SecretName) -> BrokerError {
    BrokerError::NotFound {
        what: "secret",
        name: name.to_string(),
    }
}

fn malformed_settings(ws: &WorkspaceId) -> BrokerError {
    BrokerError::Storage {
        detail: format!("workspace {ws} has BYOK secrets but no complete BYOK settings"),
    }
}
