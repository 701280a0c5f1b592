//! The two settings that let the limiter scale with a tenant, and their
//! arithmetic (no I/O): a bound on a workspace's injections *in flight*
//! (fairness between tenants), and counters *sharded* over several items
//! (a workspace past one item's ~1,000 writes a second).
//!
//! # In flight
//!
//! A workspace may have at most `in_flight` injections between admission
//! and the end of their upstream call (`KEYBROKER_IN_FLIGHT_LIMIT`,
//! [`crate::BrokerConfig::in_flight_limit`]). Without it, one workspace at
//! its rate limit against a slow upstream (the 10 s cap) holds rate × 10 s
//! concurrent executions, which is the region's whole Lambda quota at the
//! default limit, and every other tenant is throttled by Lambda.
//!
//! A slot is an attribute `slots_<bucket>` of the workspace's counter item
//! (`store::counters`), taken by the same conditional `UpdateItem` that
//! counts the injection (`ADD n :one, slots_<bucket> :one` if both are under
//! their limits), and released by one more `UpdateItem` (`ADD slots_<bucket>
//! :minus`) after the upstream call, on success and on every error. The
//! bucket is the [`IN_FLIGHT_BUCKET_SECONDS`]-long slice of time the slot
//! was taken in: a sandbox that dies between taking and releasing (killed
//! at its timeout, out of memory) never releases, and its slot stops
//! counting when its bucket ends, at most 30 s later. Why buckets and not
//! an expiry per slot: an expiry per slot needs a list of slots on the
//! item and a read to drop the expired ones (an update expression cannot
//! filter a list), so a read before every write; a bucket is a counter,
//! one conditional `ADD`, and the crash leak is bounded by its length.
//!
//! The price: the bound is exact within a bucket, but a new bucket starts
//! at zero while the previous bucket's injections still run. An injection
//! lasts at most the function timeout, so up to **twice** the bound can be
//! in flight for that long after a bucket boundary. The slots of a
//! crashed sandbox count for at most one bucket. A counter item belongs to
//! a limits window: with windows shorter than the bucket, each window
//! starts the in-flight count afresh, and the bound holds per window only.
//!
//! # Shards
//!
//! With `KEYBROKER_COUNTER_SHARDS` = S > 1 ([`CounterShards`]), each
//! injection counts on one of S workspace counter items chosen at random
//! (shard 0 is the unsharded item, so S = 1 is the old format exactly),
//! and each shard admits at most `ceil(limit / S)` ([`per_shard`]). The
//! error bound of the count, for a workspace limit L:
//!
//! * **over**: at most `S · ceil(L/S) ≤ L + S − 1` injections pass per
//!   window (every shard full), so at most S − 1 more than the limit;
//! * **under**: a request is refused when *its* shard is full, even if
//!   another is not: the first refusal can come after as few as
//!   `ceil(L/S)` admissions in the worst case. With uniform random shards
//!   and many requests, each shard's share is binomial, and refusals start
//!   when the fullest shard fills, about `sqrt(2 · ln S · L / S)` requests
//!   per shard early; a refused caller retries after `retry_after_ms`.
//!
//! The agent limit is not sharded: it is per agent name, far below one
//! item's write rate. The in-flight bound is split the same way
//! (`ceil(in_flight / S)` per shard).

use crate::error::{BrokerError, Result};

/// Length of an in-flight bucket (module docs): above the 10 s upstream
/// cap and the default function timeout, so a healthy injection takes and
/// releases its slot in one bucket or the next.
pub const IN_FLIGHT_BUCKET_SECONDS: u64 = 30;

/// In-flight bound per workspace when `KEYBROKER_IN_FLIGHT_LIMIT` is
/// unset: 50 concurrent injections (at the 10 s upstream cap, 5/s; at a
/// 200 ms upstream, 250/s, above the default rate limit).
pub const DEFAULT_IN_FLIGHT_LIMIT: u32 = 50;

/// Largest settable in-flight bound (Lambda's default regional quota is
/// 1,000 concurrent executions; past that the bound means nothing).
pub const MAX_IN_FLIGHT_LIMIT: u32 = 100_000;

/// Largest `KEYBROKER_COUNTER_SHARDS`: 64 items take ~64,000 writes a
/// second; past that a workspace should be split, not its counter.
pub const MAX_COUNTER_SHARDS: u8 = 64;

/// How a refused in-flight request should wait: slots free as upstream
/// calls end, so soon, not at the window's end.
pub const IN_FLIGHT_RETRY_AFTER_MS: u64 = 1000;

/// The in-flight bucket `now_ms` falls in, and the counter attribute
/// that holds its slots (`slots_<index>`). The prefix is what inject's
/// role policy allows beside the fixed attributes (`dynamodb:Attributes`
/// with `StringLike` `slots_*`, infra/policies): no other attribute of the
/// table starts with it.
pub fn in_flight_attribute(now_ms: u64) -> String {
    format!("slots_{}", now_ms / (IN_FLIGHT_BUCKET_SECONDS * 1000))
}

/// Parse `KEYBROKER_IN_FLIGHT_LIMIT`: `off`, or 1 to
/// [`MAX_IN_FLIGHT_LIMIT`].
pub fn parse_in_flight(text: &str) -> Result<Option<u32>> {
    if text.trim() == "off" {
        return Ok(None);
    }
    text.trim()
        .parse::<u32>()
        .ok()
        .filter(|n| (1..=MAX_IN_FLIGHT_LIMIT).contains(n))
        .map(Some)
        .ok_or_else(|| {
            BrokerError::invalid(
                "KEYBROKER_IN_FLIGHT_LIMIT",
                format!("must be off or a whole number from 1 to {MAX_IN_FLIGHT_LIMIT}"),
            )
        })
}

/// How many workspace counter items a window's count is spread over
/// (module docs, "Shards"): 1 to [`MAX_COUNTER_SHARDS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CounterShards(u8);

impl CounterShards {
    /// One item: the stored format of every deployment before sharding.
    pub const ONE: Self = Self(1);

    /// `n` shards, if 1 to [`MAX_COUNTER_SHARDS`].
    pub fn new(n: u8) -> Result<Self> {
        if (1..=MAX_COUNTER_SHARDS).contains(&n) {
            Ok(Self(n))
        } else {
            Err(Self::invalid())
        }
    }

    fn invalid() -> BrokerError {
        BrokerError::invalid(
            "KEYBROKER_COUNTER_SHARDS",
            format!("must be a whole number from 1 to {MAX_COUNTER_SHARDS}"),
        )
    }

    /// Parse `KEYBROKER_COUNTER_SHARDS`.
    pub fn parse_setting(text: &str) -> Result<Self> {
        text.trim()
            .parse::<u8>()
            .map_err(|_| Self::invalid())
            .and_then(Self::new)
    }

    /// The number of shards.
    pub fn get(self) -> u8 {
        self.0
    }

    /// The shard 16 random bits pick: `random % S`, whose bias for S ≤ 64
    /// is below 0.1%.
    pub fn pick(self, random: u16) -> u8 {
        u8::try_from(random % u16::from(self.0)).unwrap_or(0)
    }
}

/// The per-shard limit of a count `limit` over `shards` items:
/// `ceil(limit / shards)`, so the whole never admits fewer than `limit`
/// when every shard fills (module docs, the error bound). A limit of 0
/// stays 0 (refused before counting anyway).
pub fn per_shard(limit: u64, shards: CounterShards) -> u64 {
    limit.div_ceil(u64::from(shards.get()))
}

/// The most a window can admit over all shards: `S · ceil(L/S)`, at most
/// `L + S − 1`.
pub fn admitted_at_most(limit: u64, shards: CounterShards) -> u64 {
    per_shard(limit, shards).saturating_mul(u64::from(shards.get()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_per_shard_limit_never_admits_less_than_the_limit_and_at_most_shards_minus_one_more() {
        for shards in 1..=MAX_COUNTER_SHARDS {
            let s = CounterShards::new(shards).unwrap();
            for limit in [0u64, 1, 2, 3, 7, 63, 64, 65, 999, 1000, 6000, 100_000_000] {
                let total = admitted_at_most(limit, s);
                assert!(total >= limit, "{limit}/{shards}");
                assert!(total < limit + u64::from(shards), "{limit}/{shards}");
                assert_eq!(per_shard(limit, s), limit.div_ceil(u64::from(shards)));
            }
        }
        assert_eq!(per_shard(0, CounterShards::new(8).unwrap()), 0);
        assert_eq!(per_shard(6000, CounterShards::ONE), 6000);
    }

    #[test]
    fn shard_settings_outside_1_to_64_are_refused() {
        for bad in ["0", "65", "-1", "", "two", "1.5", "300"] {
            assert!(CounterShards::parse_setting(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            CounterShards::parse_setting("1").unwrap(),
            CounterShards::ONE
        );
        assert_eq!(CounterShards::parse_setting(" 64 ").unwrap().get(), 64);
    }

    #[test]
    fn picks_cover_every_shard_and_stay_in_range() {
        let s = CounterShards::new(7).unwrap();
        let mut seen = [0u32; 7];
        for r in 0..=u16::MAX {
            seen[usize::from(s.pick(r))] += 1;
        }
        assert!(seen.iter().all(|&n| n >= 9362), "{seen:?}");
        assert_eq!(CounterShards::ONE.pick(u16::MAX), 0);
    }

    #[test]
    fn in_flight_settings_parse_strictly() {
        assert_eq!(parse_in_flight("off").unwrap(), None);
        assert_eq!(parse_in_flight("50").unwrap(), Some(50));
        for bad in ["0", "100001", "-3", "", "fifty"] {
            assert!(parse_in_flight(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn in_flight_buckets_are_30_seconds_and_named_by_index() {
        assert_eq!(in_flight_attribute(0), "slots_0");
        assert_eq!(in_flight_attribute(29_999), "slots_0");
        assert_eq!(in_flight_attribute(30_000), "slots_1");
        assert_eq!(in_flight_attribute(1_764_000_000_000), "slots_58800000");
    }
}
