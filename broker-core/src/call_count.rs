//! Counts AWS calls per service with an SDK interceptor.
//!
//! The broker's cost model is "one DynamoDB read and one KMS Decrypt per warm
//! injection, no STS call while a session is valid". Counting inside the SDK
//! (one increment per operation, retries not double-counted) lets tests and
//! benchmarks check that model against the real clients instead of trusting it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::BeforeSerializationInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_types::config_bag::ConfigBag;
use serde::Serialize;

/// Running totals, shared by every client a [`crate::Broker`] builds.
#[derive(Debug, Default)]
pub(crate) struct CallCounts {
    kms: AtomicU64,
    sts: AtomicU64,
    dynamodb: AtomicU64,
}

/// A snapshot of [`CallCounts`]; subtract two to get the calls in between.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct AwsCalls {
    /// KMS operations (GenerateDataKey, Decrypt), any credentials.
    pub kms: u64,
    /// STS operations (AssumeRole).
    pub sts: u64,
    /// DynamoDB operations.
    pub dynamodb: u64,
}

impl std::ops::Sub for AwsCalls {
    type Output = Self;
    fn sub(self, rhs: Self) -> Self {
        Self {
            kms: self.kms - rhs.kms,
            sts: self.sts - rhs.sts,
            dynamodb: self.dynamodb - rhs.dynamodb,
        }
    }
}

impl CallCounts {
    pub(crate) fn snapshot(&self) -> AwsCalls {
        AwsCalls {
            kms: self.kms.load(Ordering::Relaxed),
            sts: self.sts.load(Ordering::Relaxed),
            dynamodb: self.dynamodb.load(Ordering::Relaxed),
        }
    }
}

/// Which counter an interceptor bumps.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Counter {
    Kms,
    Sts,
    DynamoDb,
}

/// The interceptor attached to each client.
#[derive(Debug)]
pub(crate) struct CountCalls {
    counts: Arc<CallCounts>,
    counter: Counter,
}

impl CountCalls {
    pub(crate) fn new(counts: Arc<CallCounts>, counter: Counter) -> Self {
        Self { counts, counter }
    }
}

impl Intercept for CountCalls {
    fn name(&self) -> &'static str {
        "keybroker::CountCalls"
    }

    fn read_before_execution(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let c = match self.counter {
            Counter::Kms => &self.counts.kms,
            Counter::Sts => &self.counts.sts,
            Counter::DynamoDb => &self.counts.dynamodb,
        };
        c.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}
