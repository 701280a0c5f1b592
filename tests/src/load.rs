//! The load test of `tests/bench.sh` (issue 26 item 5): many workspaces,
//! many sandboxes, thousands of injections through the real release
//! `inject` under lambda-runner, counting the AWS calls they make, so that
//! `scripts/capacity.py --check` can compare the capacity model with what
//! the binaries did at the same scale (docs/CAPACITY.md).
//!
//! Scale: `KEYBROKER_LOAD="<sandboxes>,<workspaces>,<injections>[,<byok share>]"`
//! (default [`Scale::DEFAULT`]). A share of the workspaces (the rest use the
//! platform key) is onboarded as BYOK customers, each with its own role and
//! key in its own account; every workspace has one bound secret. The driver
//! keeps `sandboxes` invocations in flight, each to a workspace picked
//! uniformly at random (a fixed seed), with no affinity, as Lambda routes.
//! Counts come from two places that must agree: the audit records'
//! `aws_calls` (the functions' own call counter) and the stack's
//! CloudTrail-like trail (the front's record of KMS and STS calls).

use std::time::Instant;

use futures::StreamExt;
use keybroker_contract::client::ClientError;
use keybroker_contract::{InjectEvent, UpstreamRequest};
use serde_json::{json, Value};

use crate::lambda_env::{LambdaEnv, RunOptions, Upstream};
use crate::{setup, trail, Env};

/// The agent every load-test policy permits.
const AGENT: &str = "load-agent";

/// The load test's size.
#[derive(Debug, Clone, Copy)]
pub struct Scale {
    /// Concurrent sandboxes of `inject` (and invocations kept in flight).
    pub sandboxes: usize,
    /// Workspaces, one secret each.
    pub workspaces: usize,
    /// Injections in the measured run.
    pub injections: usize,
    /// Share of the workspaces that are BYOK (their own key and role).
    pub byok_share: f64,
}

impl Scale {
    /// 20 sandboxes, 500 workspaces (a fifth BYOK), 10,000 injections:
    /// about what 2 shared cores finish in a few minutes.
    pub const DEFAULT: Scale = Scale {
        sandboxes: 20,
        workspaces: 500,
        injections: 10_000,
        byok_share: 0.2,
    };

    /// From `KEYBROKER_LOAD`, else [`Scale::DEFAULT`]; a malformed value
    /// is refused rather than silently replaced.
    pub fn from_env() -> Result<Scale, String> {
        let Ok(v) = std::env::var("KEYBROKER_LOAD") else {
            return Ok(Self::DEFAULT);
        };
        let parts: Vec<&str> = v.split(',').map(str::trim).collect();
        let int = |i: usize| -> Result<usize, String> {
            parts
                .get(i)
                .ok_or_else(|| {
                    format!(
                        "KEYBROKER_LOAD={v}: expected sandboxes,workspaces,injections[,byok share]"
                    )
                })?
                .parse()
                .map_err(|e| format!("KEYBROKER_LOAD={v}: {e}"))
        };
        let byok_share = match parts.get(3) {
            Some(s) => s
                .parse::<f64>()
                .map_err(|e| format!("KEYBROKER_LOAD={v}: {e}"))?,
            None => Self::DEFAULT.byok_share,
        };
        let scale = Scale {
            sandboxes: int(0)?,
            workspaces: int(1)?,
            injections: int(2)?,
            byok_share,
        };
        if scale.sandboxes == 0 || scale.workspaces == 0 || !(0.0..=1.0).contains(&byok_share) {
            return Err(format!(
                "KEYBROKER_LOAD={v}: sizes must be > 0, the share in [0, 1]"
            ));
        }
        Ok(scale)
    }

    fn byok_workspaces(&self) -> usize {
        (self.workspaces as f64 * self.byok_share).round() as usize
    }
}

/// A small deterministic generator (xorshift64*): the workspace order is
/// the same on every run, and no dependency is needed for it.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 33) as usize % n
    }
}

/// Create the workspaces: the first `byok` onboarded as customers, each
/// with one secret bound to `up` and a policy permitting [`AGENT`].
async fn workspaces(env: &Env, up: &Upstream, scale: Scale) -> Vec<String> {
    let byok = scale.byok_workspaces();
    let one = |i: usize| async move {
        let ws = broker_core::WorkspaceId::new(crate::unique("load")).unwrap();
        if i < byok {
            env.onboard_customer(&ws).await;
        }
        let binding: broker_core::Binding = serde_json::from_value(json!({
            "hosts": [up.addr.to_string()],
            "inject": { "type": "header", "name": "Authorization", "template": "Bearer {secret}" }
        }))
        .unwrap();
        let value =
            broker_core::SecretValue::from_string(format!("sk-load-{i:06}-0123456789")).unwrap();
        let name = broker_core::SecretName::new("api").unwrap();
        env.broker
            .put_bound_secret(&ws, &name, &value, &binding)
            .await
            .unwrap();
        env.broker
            .set_policy(
                &ws,
                &format!(r#"permit(principal == Agent::"{AGENT}", action, resource);"#),
            )
            .await
            .unwrap();
        ws.to_string()
    };
    futures::stream::iter(0..scale.workspaces)
        .map(one)
        .buffered(8)
        .collect()
        .await
}

/// Count the trail's KMS and STS records from line `from` on: the calls
/// the front saw, by `eventName`, and those that carried an error code.
fn trail_counts(from: usize) -> Value {
    let events = trail::trail_events();
    let mut by_name = serde_json::Map::new();
    let mut errors = 0u64;
    for e in events.iter().skip(from) {
        let name = e["eventName"]
            .as_str()
            .unwrap_or("(no eventName)")
            .to_owned();
        let n = by_name.entry(name).or_insert(json!(0));
        *n = json!(n.as_u64().unwrap_or(0) + 1);
        if e.get("errorCode").is_some() {
            errors += 1;
        }
    }
    by_name.insert("with_error_code".into(), json!(errors));
    Value::Object(by_name)
}

/// One injection through the contract's client; its outcome as the
/// figures count it: `ok`, the broker's error type, or why there was no
/// broker answer (`invoke_error`, `function_error`, `bad_reply`).
async fn outcome(lambda: &LambdaEnv, ev: &InjectEvent) -> String {
    match lambda.client().inject(ev).await {
        Ok(_) => "ok".to_owned(),
        Err(ClientError::Refused { body, .. }) => body.kind.as_str().to_owned(),
        Err(ClientError::FunctionFailed { .. }) => "function_error".to_owned(),
        Err(ClientError::BadReply { .. }) => "bad_reply".to_owned(),
        Err(_) => "invoke_error".to_owned(),
    }
}

/// Run the load test; its figures as JSON (what `capacity.py --check`
/// reads: `scale`, `duration_s`, `calls`, `trail`, `outcomes`).
pub async fn run(scale: Scale) -> Value {
    let env = setup().await;
    let up = Upstream::start().await;
    let t_setup = Instant::now();
    let ws = workspaces(&env, &up, scale).await;
    let setup_s = t_setup.elapsed().as_secs_f64();
    let opts = RunOptions {
        profile: "release",
        instances: scale.sandboxes,
        rust_log: "warn",
        ..RunOptions::default()
    };
    let lambda = LambdaEnv::start_with(&env, &opts).await;
    let trail_start = trail::trail_events().len();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let picks: Vec<usize> = (0..scale.injections).map(|_| rng.below(ws.len())).collect();
    let url = format!("{}/data", up.base());
    let t0 = Instant::now();
    let answers: Vec<String> = futures::stream::iter(picks)
        .map(|i| {
            let ev = InjectEvent {
                workspace: ws[i].to_string(),
                secret: "api".into(),
                agent: AGENT.into(),
                request: UpstreamRequest {
                    method: "GET".into(),
                    url: url.clone(),
                    ..Default::default()
                },
            };
            let lambda = &lambda;
            async move { outcome(lambda, &ev).await }
        })
        .buffer_unordered(scale.sandboxes)
        .collect()
        .await;
    let duration_s = t0.elapsed().as_secs_f64();
    let trail = trail_counts(trail_start);
    let audit = lambda.audit_records();
    // What CloudWatch Logs would ingest: everything the functions printed
    // (audit records on stdout, RUST_LOG=warn logs on stderr).
    let log_bytes = lambda.output().len();
    lambda.stop().await;
    let sum = |k: &str| -> u64 {
        audit
            .iter()
            .map(|a| a["aws_calls"][k].as_u64().unwrap_or(0))
            .sum()
    };
    let mut outcomes = serde_json::Map::new();
    for key in answers {
        let n = outcomes.entry(key).or_insert(json!(0));
        *n = json!(n.as_u64().unwrap_or(0) + 1);
    }
    json!({
        "scale": { "sandboxes": scale.sandboxes, "workspaces": scale.workspaces,
                   "byok_workspaces": scale.byok_workspaces(), "secrets_per_workspace": 1,
                   "injections": scale.injections },
        "setup_s": setup_s,
        "duration_s": duration_s,
        "rate_per_s": scale.injections as f64 / duration_s,
        "audit_records": audit.len(),
        "log_bytes_per_injection": log_bytes as f64 / scale.injections.max(1) as f64,
        "calls": { "dynamodb": sum("dynamodb"), "kms": sum("kms"), "sts": sum("sts") },
        "trail": trail,
        "outcomes": outcomes,
    })
}
