//! CloudWatch metrics from the audit records, in Embedded Metric Format
//! (EMF): each outcome record carries an `_aws` member naming which of its
//! top-level members are metrics and dimensions, so CloudWatch Logs extracts
//! the metrics from the same JSON line that is the audit record. No metrics
//! API call, no extra AWS call per injection, and a metric can never
//! disagree with its record.
//!
//! Dimensions are low-cardinality on purpose: `Function` (`inject` or
//! `admin`) and `Outcome` (`ok` or an error type, a fixed set). Workspace,
//! secret and agent names are *not* dimensions: each distinct value set is a
//! separate billed custom metric, so tenant-named dimensions grow cost with
//! every tenant and secret, and they would publish tenant names into a
//! second store with its own access rules. Per-workspace questions are
//! answered from the records themselves (Logs Insights, docs/OPERATIONS.md).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::edge::error::ErrorType;

/// The CloudWatch namespace of every keybroker metric (infra/monitoring.tf
/// alarms on it).
pub const NAMESPACE: &str = "keybroker";

/// Metric names. Stable: alarms and dashboards name them.
pub mod names {
    /// One per `inject` call, whatever its outcome.
    pub const INJECTIONS: &str = "Injections";
    /// `inject` calls refused (audit `decision: deny`): invalid request,
    /// binding or policy denial, unknown secret.
    pub const DENIALS: &str = "Denials";
    /// Calls that found the secret's key revoked.
    pub const REVOCATIONS: &str = "Revocations";
    /// Failures of the broker, AWS, the stored data or the upstream (not
    /// refusals, not revocations): [`crate::edge::error::ErrorType::is_error`].
    pub const ERRORS: &str = "Errors";
    /// `inject` calls refused by a keybroker injection limit (outcome
    /// `throttled`, audit `limit` set). Not counted in `Errors`, so an
    /// operator tells a limit doing its job from AWS throttling the broker
    /// (outcome `throttled` with `Errors` = 1).
    pub const RATE_LIMITED: &str = "RateLimited";
    /// `inject` calls whose request carried material derived from the
    /// credential (outcome `probe`, or `quarantined` when the breaker had
    /// tripped). An honest agent never causes one: alarm on any.
    pub const PROBES: &str = "Probes";
    /// `inject` calls whose upstream answer contained a form of the
    /// credential (withheld, or redacted for a binding that opted in), each
    /// counted against the secret's probe budget. Alarm on any: either an
    /// agent is probing through an echoing endpoint, or the host reflects
    /// the credential and should not be bound to it.
    pub const ECHO_WITHHELD: &str = "EchoWithheld";
    /// `inject` calls refused because the secret's probe breaker tripped.
    pub const QUARANTINED: &str = "Quarantined";
    /// `inject` calls refused because an `oauth2` secret's identity provider
    /// refused its refresh token (outcome `reauth_required`): the customer
    /// must connect it again. Alarm on any.
    pub const REAUTH_REQUIRED: &str = "ReauthRequired";
    /// One per `admin` call, whatever its outcome.
    pub const ADMIN_OPERATIONS: &str = "AdminOperations";
}

/// Which function wrote the record: the `Function` dimension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    /// The agent-facing function.
    Inject,
    /// The control-plane function.
    Admin,
}

impl Function {
    fn as_str(self) -> &'static str {
        match self {
            Self::Inject => "inject",
            Self::Admin => "admin",
        }
    }
}

/// The EMF members of one record, flattened into it when serialised.
#[derive(Debug, Serialize)]
pub struct Metrics {
    #[serde(rename = "_aws")]
    aws: Metadata,
    #[serde(rename = "Function")]
    function: &'static str,
    #[serde(rename = "Outcome")]
    outcome: String,
    #[serde(flatten)]
    values: BTreeMap<&'static str, u8>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct Metadata {
    timestamp: u64,
    #[serde(rename = "CloudWatchMetrics")]
    cloudwatch_metrics: [Directive; 1],
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct Directive {
    namespace: &'static str,
    dimensions: [&'static [&'static str]; 2],
    metrics: Vec<Definition>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct Definition {
    name: &'static str,
    unit: &'static str,
}

/// Aggregated per function, and per function and outcome.
const DIMENSIONS: [&[&str]; 2] = [&["Function"], &["Function", "Outcome"]];

impl Metrics {
    /// The metrics of one call of `function` at `time_ms` that ended with
    /// `outcome` (`None`: success). Every metric of the function is present
    /// with 0 or 1, so a sum over a period is a count and an alarm sees 0,
    /// not missing data, when nothing went wrong.
    pub fn of(function: Function, time_ms: u64, outcome: Option<&ErrorType>) -> Self {
        let flag = |b: bool| u8::from(b);
        let revoked = outcome == Some(&ErrorType::Revoked);
        let error = outcome.is_some_and(|t| t.is_error());
        let values: BTreeMap<&'static str, u8> = match function {
            Function::Inject => [
                (names::INJECTIONS, 1),
                (
                    names::DENIALS,
                    flag(outcome.is_some_and(|t| t.is_refusal())),
                ),
                (names::REVOCATIONS, flag(revoked)),
                (names::ERRORS, flag(error)),
                (names::RATE_LIMITED, 0),
                (names::PROBES, 0),
                (names::ECHO_WITHHELD, 0),
                (
                    names::QUARANTINED,
                    flag(outcome == Some(&ErrorType::Quarantined)),
                ),
                (
                    names::REAUTH_REQUIRED,
                    flag(outcome == Some(&ErrorType::ReauthRequired)),
                ),
            ]
            .into(),
            Function::Admin => [
                (names::ADMIN_OPERATIONS, 1),
                (names::REVOCATIONS, flag(revoked)),
                (names::ERRORS, flag(error)),
            ]
            .into(),
        };
        Self {
            aws: Metadata {
                timestamp: time_ms,
                cloudwatch_metrics: [Directive {
                    namespace: NAMESPACE,
                    dimensions: DIMENSIONS,
                    metrics: values
                        .keys()
                        .map(|name| Definition {
                            name,
                            unit: "Count",
                        })
                        .collect(),
                }],
            },
            function: function.as_str(),
            outcome: outcome.map_or("ok", |t| t.as_str()).to_owned(),
            values,
        }
    }
}

impl Metrics {
    /// Mark an `inject` call refused by a keybroker limit: `RateLimited`
    /// 1, `Errors` 0 (the `Outcome` dimension stays `throttled`, the wire
    /// type agents see).
    pub fn rate_limited(mut self) -> Self {
        if let Some(v) = self.values.get_mut(names::RATE_LIMITED) {
            *v = 1;
            self.values.insert(names::ERRORS, 0);
        }
        self
    }
}

impl Metrics {
    /// Mark an `inject` call whose scan found a form of the credential:
    /// `Probes` 1 for the request, `EchoWithheld` 1 for the response
    /// (whatever the breaker then answered). No effect on admin records.
    pub fn probe(mut self, kind: broker_core::ProbeKind) -> Self {
        let name = match kind {
            broker_core::ProbeKind::Request => names::PROBES,
            broker_core::ProbeKind::Echo => names::ECHO_WITHHELD,
        };
        if let Some(v) = self.values.get_mut(name) {
            *v = 1;
        }
        self
    }
}

/// A record and its metrics as one JSON object: the record's own members
/// plus `_aws`, `Function`, `Outcome` and the metric values.
#[derive(Serialize)]
pub struct WithMetrics<'a, T: Serialize> {
    #[serde(flatten)]
    record: &'a T,
    #[serde(flatten)]
    metrics: Metrics,
}

/// Serialise `record` with `metrics` as one line.
pub fn line<T: Serialize>(record: &T, metrics: Metrics) -> serde_json::Result<String> {
    serde_json::to_string(&WithMetrics { record, metrics })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn emf(function: Function, outcome: Option<ErrorType>) -> Value {
        let l = line(
            &json!({ "schema": "s", "workspace": "acme" }),
            Metrics::of(function, 7, outcome.as_ref()),
        )
        .unwrap();
        serde_json::from_str(&l).unwrap()
    }

    /// The EMF specification's rules: `_aws.Timestamp` in ms, one
    /// directive with a namespace, dimension sets naming top-level string
    /// members, metric definitions naming top-level numeric members.
    fn assert_valid_emf(v: &Value) {
        let aws = &v["_aws"];
        assert!(aws["Timestamp"].is_u64(), "{v}");
        let directives = aws["CloudWatchMetrics"].as_array().unwrap();
        assert_eq!(directives.len(), 1);
        let d = &directives[0];
        assert_eq!(d["Namespace"], NAMESPACE);
        for set in d["Dimensions"].as_array().unwrap() {
            let set = set.as_array().unwrap();
            assert!(!set.is_empty() && set.len() <= 30);
            for dim in set {
                assert!(v[dim.as_str().unwrap()].is_string(), "{dim} in {v}");
            }
        }
        for m in d["Metrics"].as_array().unwrap() {
            assert_eq!(m["Unit"], "Count");
            assert!(v[m["Name"].as_str().unwrap()].is_u64(), "{m} in {v}");
        }
    }

    #[test]
    fn inject_records_count_each_outcome_once() {
        let cases = [
            (None, "ok", [1, 0, 0, 0]),
            (Some(ErrorType::Denied), "denied", [1, 1, 0, 0]),
            (
                Some(ErrorType::InvalidRequest),
                "invalid_request",
                [1, 1, 0, 0],
            ),
            (Some(ErrorType::Revoked), "revoked", [1, 0, 1, 0]),
            (Some(ErrorType::Integrity), "integrity", [1, 0, 0, 1]),
            (
                Some(ErrorType::UpstreamError),
                "upstream_error",
                [1, 0, 0, 1],
            ),
        ];
        for (outcome, name, [inj, den, rev, err]) in cases {
            let v = emf(Function::Inject, outcome);
            assert_valid_emf(&v);
            assert_eq!(v["Function"], "inject");
            assert_eq!(v["Outcome"], name);
            assert_eq!(v["Injections"], inj);
            assert_eq!(v["Denials"], den, "{name}");
            assert_eq!(v["Revocations"], rev, "{name}");
            assert_eq!(v["Errors"], err, "{name}");
            assert_eq!(v["RateLimited"], 0, "{name}");
            assert_eq!(v["_aws"]["Timestamp"], 7);
            // The record's own members survive the flattening.
            assert_eq!(v["workspace"], "acme");
        }
    }

    #[test]
    fn a_keybroker_limit_is_told_apart_from_aws_throttling() {
        let line_of =
            |m: Metrics| -> Value { serde_json::from_str(&line(&json!({}), m).unwrap()).unwrap() };
        let aws = line_of(Metrics::of(
            Function::Inject,
            7,
            Some(&ErrorType::Throttled),
        ));
        let ours =
            line_of(Metrics::of(Function::Inject, 7, Some(&ErrorType::Throttled)).rate_limited());
        assert_valid_emf(&ours);
        assert_eq!(
            (aws["Outcome"].clone(), ours["Outcome"].clone()),
            (json!("throttled"), json!("throttled"))
        );
        assert_eq!(
            (aws["Errors"].clone(), aws["RateLimited"].clone()),
            (json!(1), json!(0))
        );
        assert_eq!(
            (ours["Errors"].clone(), ours["RateLimited"].clone()),
            (json!(0), json!(1))
        );
        // Admin records have no such metric, and marking one adds none.
        let admin = line_of(Metrics::of(Function::Admin, 7, None).rate_limited());
        assert!(admin.get("RateLimited").is_none());
    }

    #[test]
    fn probes_echoes_and_quarantines_are_counted_apart() {
        use broker_core::ProbeKind;
        let line_of =
            |m: Metrics| -> Value { serde_json::from_str(&line(&json!({}), m).unwrap()).unwrap() };
        let clean = line_of(Metrics::of(Function::Inject, 7, None));
        for m in ["Probes", "EchoWithheld", "Quarantined"] {
            assert_eq!(clean[m], 0, "{m} is present as 0: {clean}");
        }
        let probe = line_of(
            Metrics::of(Function::Inject, 7, Some(&ErrorType::Probe)).probe(ProbeKind::Request),
        );
        assert_valid_emf(&probe);
        assert_eq!(
            (
                &probe["Probes"],
                &probe["EchoWithheld"],
                &probe["Quarantined"]
            ),
            (&json!(1), &json!(0), &json!(0))
        );
        assert_eq!(
            (&probe["Denials"], &probe["Errors"]),
            (&json!(1), &json!(0))
        );
        // An echo over the budget: the event is counted, and the refusal.
        let tripped = line_of(
            Metrics::of(Function::Inject, 7, Some(&ErrorType::Quarantined)).probe(ProbeKind::Echo),
        );
        assert_eq!(
            (
                &tripped["Probes"],
                &tripped["EchoWithheld"],
                &tripped["Quarantined"]
            ),
            (&json!(0), &json!(1), &json!(1))
        );
        assert_eq!(tripped["Outcome"], "quarantined");
        let admin = line_of(Metrics::of(Function::Admin, 7, None).probe(ProbeKind::Echo));
        assert!(admin.get("EchoWithheld").is_none());
    }

    #[test]
    fn admin_records_count_operations_and_never_dimension_tenants() {
        let v = emf(Function::Admin, Some(ErrorType::Storage));
        assert_valid_emf(&v);
        assert_eq!(v["AdminOperations"], 1);
        assert_eq!(v["Errors"], 1);
        assert_eq!(v["Revocations"], 0);
        assert!(v.get("Injections").is_none());
        let dims: Vec<&str> = v["_aws"]["CloudWatchMetrics"][0]["Dimensions"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|s| s.as_array().unwrap().iter().map(|d| d.as_str().unwrap()))
            .collect();
        assert!(
            dims.iter().all(|d| ["Function", "Outcome"].contains(d)),
            "{dims:?}"
        );
    }
}
