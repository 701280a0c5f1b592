//! Harness for the end-to-end suite and the demo: real AWS SDK clients
//! pointed at the local AWS stack (`localstack/start.sh`), plus the customer's
//! side of BYOK built from the *shipped* Terraform policy templates.
//!
//! Nothing here mocks AWS. What the harness adds is setup the customer or the
//! operator would do with other tools: a table, a platform key, a customer
//! key and role, key-state changes.
//!
//! One module per job (each says why it exists):
//! - [`stack`]: the stack's accounts, table and SDK configs, [`setup`];
//! - [`customer`]: the customer's role and key, and what they can change;
//! - [`policy`]: the shipped policy templates, rendered (by
//!   `scripts/policy_render.py`, the repo's one renderer);
//! - [`items`]: raw DynamoDB items, to inspect, tamper with and plant;
//! - [`canary`]: every form a leaked secret could take, and the scans;
//! - [`assert`]: the suite's recurring assertions, named;
//! - [`readiness`]: the customer's revocation readiness check, run;
//! - [`trail`]: the stack's CloudTrail (the front's record) and the
//!   customer's reconcile run on it;
//! - [`broker_identity`], [`lambda_env`], [`hostile`]: the broker's execution
//!   roles, the Lambda functions run in-process, hostile upstreams;
//! - [`echo`]: an honest upstream that returns what it is sent (the oracle
//!   the probe breaker is tested against).
//!
//! Every public name is re-exported here, so call sites say
//! `keybroker_tests::setup` whatever module it lives in.

// Test and demo code: a panic is how it reports failure.
#![allow(clippy::unwrap_used)]

pub mod assert;
pub mod bench_report;
pub mod bench_steps;
pub mod broker_identity;
pub mod canary;
pub mod contract_check;
pub mod customer;
pub mod echo;
pub mod hostile;
pub mod items;
pub mod lambda_env;
pub mod load;
pub mod oauth;
pub mod policy;
pub mod readiness;
pub mod reflect;
pub mod setup;
pub mod stack;
pub mod tls;
pub mod trail;

pub use assert::{assert_error_response, assert_revoked, error_type, revoked_reason};
pub use broker_identity::{BrokerRole, ADMIN_ROLE_ARN, BROKER_PRINCIPALS, INJECT_ROLE_ARN};
pub use canary::{assert_no_canary, assert_no_canary_bytes, assert_no_fragment, canary_forms};
pub use customer::{Customer, CUSTOMER_ROLE_NAME};
pub use items::{
    blob_of, delete_raw_item, plant_secret_item, put_raw_item, raw_sort_keys, secret_item,
    workspace_item, Item,
};
pub use policy::{
    key_policy, platform_key_policy, render_policy, render_template, trust_policy,
    trust_policy_without_source_identity, BrokerAccess,
};
pub use readiness::{readiness_check, readiness_codes, readiness_python};
pub use setup::{setup, Env};
pub use stack::{
    account_sdk_config, broker_sdk_config, ensure_table, front_denials, random_account, repo_root,
    require_stack, unique, BROKER_ACCOUNT, TABLE,
};
pub use trail::{kms_use_lines, reconcile, trail_events, trail_events_of, trail_path};
