//! The customer's side of BYOK: an account with a role and a KMS key set up
//! from the shipped templates, and the key-state and policy changes a
//! customer (or their administrator) can make afterwards.
//!
//! It exists so every BYOK test starts from what `terraform/` creates and
//! changes it only the way a customer could.

use aws_credential_types::Credentials;
use broker_core::WorkspaceId;

use crate::policy::{key_policy, trust_policy, BrokerAccess};
use crate::readiness::readiness_check;
use crate::stack::{account_sdk_config, broker_sdk_config, create_key, random_account};

/// Name of the role [`Customer`] creates (under path `/keybroker/`, as the
/// Terraform module does).
pub const CUSTOMER_ROLE_NAME: &str = "KeybrokerAccess";

/// The customer's side of BYOK: a KMS key and a role in their own account,
/// set up from the shipped policy templates.
pub struct Customer {
    /// The customer's account id.
    pub account: String,
    /// The customer's KMS client (acting as the account's admin).
    pub kms: aws_sdk_kms::Client,
    /// The customer's IAM client.
    pub iam: aws_sdk_iam::Client,
    /// The key the customer created for the broker.
    pub key_arn: String,
    /// The role the broker assumes.
    pub role_arn: String,
    /// The workspace the key policy's broker statement is pinned to (the
    /// customer's workspace, unless created with [`Customer::create_pinned_to`]).
    pub workspace: WorkspaceId,
}

impl Customer {
    /// What a customer does with `terraform/`: create the role (trust policy
    /// naming the broker and the workspace's external id) and the key (key
    /// policy granting that role, pinned to the workspace).
    pub async fn create(ws: &WorkspaceId, external_id: &str) -> Self {
        Self::build(Some(external_id), ws).await
    }

    /// Like [`Customer::create`], with the trust policy requiring
    /// `trust_external_id` (which may differ from the workspace's), or with
    /// `None` no external id at all (see [`trust_policy`]).
    pub async fn create_with_trust(ws: &WorkspaceId, trust_external_id: Option<&str>) -> Self {
        Self::build(trust_external_id, ws).await
    }

    /// Like [`Customer::create`], with the key policy's broker statement
    /// pinned to `key_workspace` instead of the customer's own workspace
    /// (e.g. a key set up for another workspace).
    pub async fn create_pinned_to(external_id: &str, key_workspace: &WorkspaceId) -> Self {
        Self::build(Some(external_id), key_workspace).await
    }

    /// Like [`Customer::create`], with a multi-Region primary key (replicate
    /// it with [`Customer::replicate`]).
    pub async fn create_multi_region(ws: &WorkspaceId, external_id: &str) -> Self {
        Self::build_with(Some(external_id), ws, true).await
    }

    async fn build(trust_external_id: Option<&str>, key_workspace: &WorkspaceId) -> Self {
        Self::build_with(trust_external_id, key_workspace, false).await
    }

    async fn build_with(
        trust_external_id: Option<&str>,
        key_workspace: &WorkspaceId,
        multi_region: bool,
    ) -> Self {
        let ws = key_workspace;
        let account = random_account();
        let sdk = account_sdk_config(&account).await;
        let iam = aws_sdk_iam::Client::new(&sdk);
        let kms = aws_sdk_kms::Client::new(&sdk);
        let role = iam
            .create_role()
            .role_name(CUSTOMER_ROLE_NAME)
            .path("/keybroker/")
            .assume_role_policy_document(trust_policy(trust_external_id))
            .max_session_duration(3600)
            .send()
            .await
            .expect("CreateRole");
        let role_arn = role.role().map(|r| r.arn().to_owned()).expect("role ARN");
        let policy = key_policy(&account, &role_arn, ws, BrokerAccess::Enabled);
        let key_arn = if multi_region {
            kms.create_key()
                .description("customer BYOK multi-Region key (test)")
                .policy(policy)
                .multi_region(true)
                .send()
                .await
                .expect("CreateKey (multi-Region)")
                .key_metadata()
                .map(|m| m.arn().expect("key ARN").to_owned())
                .expect("key metadata")
        } else {
            create_key(&kms, Some(policy), "customer BYOK key (test)").await
        };
        Self {
            account,
            kms,
            iam,
            key_arn,
            role_arn,
            workspace: ws.clone(),
        }
    }

    /// `DisableKey`.
    pub async fn disable_key(&self) {
        self.kms
            .disable_key()
            .key_id(&self.key_arn)
            .send()
            .await
            .expect("DisableKey");
    }

    /// `EnableKey`.
    pub async fn enable_key(&self) {
        self.kms
            .enable_key()
            .key_id(&self.key_arn)
            .send()
            .await
            .expect("EnableKey");
    }

    /// `ScheduleKeyDeletion` with the shortest window.
    pub async fn schedule_deletion(&self) {
        self.kms
            .schedule_key_deletion()
            .key_id(&self.key_arn)
            .pending_window_in_days(7)
            .send()
            .await
            .expect("ScheduleKeyDeletion");
    }

    /// `CancelKeyDeletion` then `EnableKey` (a cancelled key comes back disabled).
    pub async fn cancel_deletion(&self) {
        self.kms
            .cancel_key_deletion()
            .key_id(&self.key_arn)
            .send()
            .await
            .expect("CancelKeyDeletion");
        self.enable_key().await;
    }

    /// `UpdateAssumeRolePolicy`: the role's trust policy now requires
    /// `external_id` (`None`: no external id condition).
    pub async fn set_trust_external_id(&self, external_id: Option<&str>) {
        self.iam
            .update_assume_role_policy()
            .role_name(CUSTOMER_ROLE_NAME)
            .policy_document(trust_policy(external_id))
            .send()
            .await
            .expect("UpdateAssumeRolePolicy");
    }

    /// `PutKeyPolicy`: the module's key policy with the broker's access set
    /// to `access` (what `terraform apply` of `broker_access` does).
    pub async fn set_broker_access(&self, access: BrokerAccess) {
        let region = self.key_arn.split(':').nth(3).expect("key ARN region");
        self.set_broker_access_on(&self.key_arn, region, access)
            .await;
    }

    /// `PutKeyPolicy` with the module's key policy for `access`, its
    /// statements changed by `edit` first: a hand-edited key policy (an
    /// extra Allow, the standing Denies stripped, …).
    pub async fn set_edited_key_policy(
        &self,
        access: BrokerAccess,
        edit: impl FnOnce(&mut Vec<serde_json::Value>),
    ) {
        let mut doc: serde_json::Value = serde_json::from_str(&key_policy(
            &self.account,
            &self.role_arn,
            &self.workspace,
            access,
        ))
        .expect("key policy JSON");
        edit(doc["Statement"].as_array_mut().expect("Statement array"));
        self.kms
            .put_key_policy()
            .key_id(&self.key_arn)
            .policy_name("default")
            .policy(doc.to_string())
            .send()
            .await
            .expect("PutKeyPolicy");
    }

    /// An Allow of GenerateDataKey/Decrypt for everyone in this account
    /// ("anyone here may decrypt"): reaches the broker's role through the
    /// key policy alone, no identity policy needed.
    pub fn account_wide_decrypt_statement(&self) -> serde_json::Value {
        serde_json::json!({
            "Sid": "AccountWideDecrypt",
            "Effect": "Allow",
            "Principal": {"AWS": "*"},
            "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
            "Resource": "*",
            "Condition": {"StringEquals": {"kms:CallerAccount": self.account}}
        })
    }

    /// Attach an inline identity policy to the customer role allowing
    /// `actions` on this key: what an administrator could do outside
    /// Terraform (the module's exclusive management shows it as drift).
    pub async fn put_role_policy(&self, policy_name: &str, actions: &[&str]) {
        let doc = serde_json::json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Effect": "Allow",
                "Action": actions,
                "Resource": self.key_arn,
            }]
        });
        self.iam
            .put_role_policy()
            .role_name(CUSTOMER_ROLE_NAME)
            .policy_name(policy_name)
            .policy_document(doc.to_string())
            .send()
            .await
            .expect("PutRolePolicy");
    }

    /// `CreateGrant` on the key for the customer role (as a key
    /// administrator may), for `operations`; returns the grant id.
    pub async fn grant_role(&self, operations: &[aws_sdk_kms::types::GrantOperation]) -> String {
        self.kms
            .create_grant()
            .key_id(&self.key_arn)
            .grantee_principal(&self.role_arn)
            .set_operations(Some(operations.to_vec()))
            .send()
            .await
            .expect("CreateGrant")
            .grant_id()
            .expect("grant id")
            .to_owned()
    }
}

impl Customer {
    /// A KMS client acting as a session of the customer role, assumed from
    /// the broker's identity with `external_id`: what the broker holds, for
    /// tests that call KMS with it directly. The session looks like the
    /// broker's own (its session name and SourceIdentity), as a thief's
    /// copy of the broker's credentials would.
    pub async fn role_kms(&self, external_id: &str) -> aws_sdk_kms::Client {
        let sdk = broker_sdk_config().await;
        let creds = aws_sdk_sts::Client::new(&sdk)
            .assume_role()
            .role_arn(&self.role_arn)
            .role_session_name(format!("keybroker-admin.{}", self.workspace))
            .source_identity("keybroker-admin")
            .external_id(external_id)
            .duration_seconds(900)
            .send()
            .await
            .expect("AssumeRole")
            .credentials
            .expect("credentials");
        let session = Credentials::new(
            creds.access_key_id(),
            creds.secret_access_key(),
            Some(creds.session_token().to_owned()),
            None,
            "customer-role-session",
        );
        let conf = aws_sdk_kms::config::Builder::from(&sdk)
            .credentials_provider(session)
            .build();
        aws_sdk_kms::Client::from_conf(conf)
    }

    /// A KMS client in `region` acting as a session of the customer role
    /// (see [`Customer::role_kms`]).
    pub async fn role_kms_in(&self, external_id: &str, region: &str) -> aws_sdk_kms::Client {
        in_region(&self.role_kms(external_id).await, region)
    }

    /// Run the customer's revocation readiness check
    /// (`terraform/readiness/check_revocation.py --json`) as this account's
    /// administrator against the stack; returns its exit code and report.
    pub fn readiness_check(&self) -> (i32, serde_json::Value) {
        readiness_check(&self.account, &self.key_arn, &self.role_arn)
    }
}

impl Customer {
    /// `CreateGrant` on the key for any `grantee` (a principal in another
    /// account included, as AWS allows), for `operations`; returns the grant id.
    pub async fn grant_to(
        &self,
        grantee: &str,
        operations: &[aws_sdk_kms::types::GrantOperation],
    ) -> String {
        self.kms
            .create_grant()
            .key_id(&self.key_arn)
            .grantee_principal(grantee)
            .set_operations(Some(operations.to_vec()))
            .send()
            .await
            .expect("CreateGrant")
            .grant_id()
            .expect("grant id")
            .to_owned()
    }

    /// A second key in this account with the module's key policy for the
    /// same role and workspace (what a second module instance creates).
    pub async fn create_second_key(&self) -> String {
        let policy = key_policy(
            &self.account,
            &self.role_arn,
            &self.workspace,
            BrokerAccess::Enabled,
        );
        create_key(&self.kms, Some(policy), "customer BYOK key 2 (test)").await
    }

    /// This account's KMS client in `region`.
    pub fn kms_in(&self, region: &str) -> aws_sdk_kms::Client {
        in_region(&self.kms, region)
    }

    /// `ReplicateKey` of the (multi-Region) key into `region`, with the
    /// primary's current key policy; returns the replica's ARN.
    pub async fn replicate(&self, region: &str) -> String {
        let policy = self
            .kms
            .get_key_policy()
            .key_id(&self.key_arn)
            .policy_name("default")
            .send()
            .await
            .expect("GetKeyPolicy")
            .policy
            .expect("policy");
        self.kms
            .replicate_key()
            .key_id(&self.key_arn)
            .replica_region(region)
            .policy(policy)
            .send()
            .await
            .expect("ReplicateKey")
            .replica_key_metadata()
            .and_then(|m| m.arn())
            .expect("replica ARN")
            .to_owned()
    }

    /// `PutKeyPolicy` on `key_arn` (in `region`): the module's key policy for `access`.
    pub async fn set_broker_access_on(&self, key_arn: &str, region: &str, access: BrokerAccess) {
        self.kms_in(region)
            .put_key_policy()
            .key_id(key_arn)
            .policy_name("default")
            .policy(key_policy(
                &self.account,
                &self.role_arn,
                &self.workspace,
                access,
            ))
            .send()
            .await
            .expect("PutKeyPolicy");
    }
}

/// The same KMS client (credentials, endpoint) in another Region.
fn in_region(kms: &aws_sdk_kms::Client, region: &str) -> aws_sdk_kms::Client {
    aws_sdk_kms::Client::from_conf(
        kms.config()
            .to_builder()
            .region(aws_sdk_kms::config::Region::new(region.to_owned()))
            .build(),
    )
}
