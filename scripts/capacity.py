#!/usr/bin/env python3
"""keybroker's capacity model (issue 26 item 4; docs/CAPACITY.md).

From a workload (workspaces, secrets, sandboxes, request rate, upstream
latency, BYOK share, session lifetime) and the broker's calls per injection,
compute for each AWS quota that binds how much of it the workload uses, the
request rate at which it saturates, the first thing that breaks, the
AssumeRole rate of the session cache, and the cost per million injections.

Python standard library only; runs in well under a second.

    python3 scripts/capacity.py                  # the two reference workloads
    python3 scripts/capacity.py --rate 5000 --workspaces 50
    python3 scripts/capacity.py --check target/bench/load-tls.json

--check compares the counts of a load test (tests/bench.sh --load-only,
tests/src/load.rs) with the model run at the same scale, within the
tolerances in TOLERANCE, and exits 1 when one is outside.

Every constant below names its source; figures marked ASSUMED have none.
"""

import argparse
import json
import math
import sys

# --- AWS quotas (docs/CAPACITY.md, "Sources") --------------------------------
LAMBDA_REGION_CONCURRENCY = 1_000  # per account and Region, default, adjustable
LAMBDA_SCALE_UP_PER_10S = 1_000  # new environments per 10 s, per function
KMS_CRYPTO_PER_S = 10_000  # symmetric crypto requests, per account and Region
DDB_PARTITION_RRU, DDB_PARTITION_WRU = 3_000, 1_000  # per partition (and item)
DDB_TABLE_RRU, DDB_TABLE_WRU = 40_000, 40_000  # per table, on demand, default
STS_BUDGET_PER_S = 500  # ASSUMED: AWS publishes no AssumeRole rate; not raisable
LOGS_PUT_TPS = 5_000  # ASSUMED: PutLogEvents per account and Region (see docs)

# --- Prices, us-east-1 (facts.md, third wave) --------------------------------
LAMBDA_GB_S = 0.0000133334  # arm64
LAMBDA_PER_REQUEST = 0.20 / 1e6
KMS_PER_REQUEST = 3.0 / 1e6
DDB_PER_RRU, DDB_PER_WRU = 0.125 / 1e6, 0.625 / 1e6
LOGS_PER_GB = 0.50  # CloudWatch Logs standard ingestion, first tier

# --- The broker, measured on main (docs/CAPACITY.md, "Calls per injection") ---
# A clean warm injection: one BatchGetItem of 5 keys (secret, workspace,
# limits, breaker, oauth2 state), one counter UpdateItem (which also takes
# the in-flight slot), two consistent GetItem of the breaker (after each
# scan): 4 calls, plus the slot's release when the in-flight bound is on
# (`calls`), as the audit's `aws_calls` counts them.
DDB_CALLS = 4
BATCH_KEYS = 5  # strongly consistent: 1 RRU each (missing items included)
BREAKER_READS = 3  # the breaker item: in the batch, and after each scan
COUNTER_WRITES = 1  # default limits: one window counter per injection
KMS_CALLS = 1  # kms:Decrypt
SESSION_REUSE_S = 900 - 120  # 15 min sessions renewed 2 min early
TOLERANCE = {"dynamodb": 0.02, "kms": 0.02, "sts": 0.10}


def args_parser():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    a = p.add_argument
    a("--workspaces", type=int, help="workspaces (default: each reference workload)")
    a("--secrets", type=int, default=1, help="secrets per workspace, used evenly")
    a("--rate", type=float, help="injections per second, spread evenly over workspaces")
    a("--sandboxes", type=int, help="inject environments (default: Little's law)")
    a("--upstream-ms", type=float, default=170.0, help="upstream latency per call")
    a("--aws-ms", type=float, default=5.0, help="in-Region round trip per DynamoDB/KMS call (ASSUMED)")
    a("--cpu-ms", type=float, default=2.0, help="broker CPU per injection at a full vCPU (BENCHMARKS.md)")
    a("--memory-mb", type=int, default=512)
    a("--byok-share", type=float, default=1.0, help="share of workspaces with their own key")
    a("--session-s", type=float, default=SESSION_REUSE_S, help="session reuse time")
    a("--negative-cache-s", type=float, default=5.0, help="revoked answer cached per sandbox (REVOKED_TTL)")
    a("--revoked-rate", type=float, default=0.0, help="attempts/s against revoked workspaces")
    a("--counter-shards", type=int, default=1, help="KEYBROKER_COUNTER_SHARDS (1-64)")
    a("--ws-concurrency-cap", type=int, default=50, help="KEYBROKER_IN_FLIGHT_LIMIT, 0 off")
    a("--inject-reserved", type=int, default=800, help="inject_reserved_concurrency (infra), 0 none")
    a("--region-concurrency", type=int, default=LAMBDA_REGION_CONCURRENCY)
    a("--kms-quota", type=float, default=KMS_CRYPTO_PER_S)
    a("--sts-budget", type=float, default=STS_BUDGET_PER_S)
    a("--log-bytes", type=float, default=1500.0, help="log bytes per injection (measured: CAPACITY.md)")
    a("--check", metavar="RESULT_JSON", help="compare a load-test result with the model")
    a("--json", action="store_true", help="print the model as JSON")
    return p


def calls(o):
    """DynamoDB and KMS use per injection: calls, read and write units."""
    in_flight = 1 if o.ws_concurrency_cap else 0  # scale: +1 call per injection
    return {
        "dynamodb_calls": DDB_CALLS + in_flight,
        "rru": BATCH_KEYS + (BREAKER_READS - 1),
        "wru": COUNTER_WRITES + in_flight,
        "kms": KMS_CALLS,
    }


def duration_s(o, c):
    """Billed duration: upstream wait, AWS round trips, CPU stretched by the
    CPU share (a full vCPU at 1,769 MB, proportionally less below)."""
    stretch = max(1.0, 1769 / o.memory_mb)
    return (o.upstream_ms + (c["dynamodb_calls"] + c["kms"]) * o.aws_ms + o.cpu_ms * stretch) / 1e3


def assume_rate(pair_rate, pairs, reuse_s):
    """AssumeRole/s of `pairs` (sandbox, workspace) caches, each hit at
    `pair_rate`: a renewal process, one AssumeRole per reuse_s + 1/rate."""
    if pair_rate <= 0:
        return 0.0
    return pairs * pair_rate / (1 + pair_rate * reuse_s)


def assumes_in(pair_rate, pairs, reuse_s, t):
    """Expected AssumeRole calls of a run of t seconds starting cold."""
    first = pairs * (1 - math.exp(-pair_rate * t))
    later = assume_rate(pair_rate, pairs, reuse_s) * max(0.0, t - reuse_s)
    return first + later


def model(o):
    c = calls(o)
    d = duration_s(o, c)
    concurrency = o.rate * d
    sandboxes = o.sandboxes or max(1, math.ceil(concurrency))
    ws_rate = o.rate / o.workspaces
    byok_ws = round(o.workspaces * o.byok_share)
    pair_rate = ws_rate / sandboxes
    sts = assume_rate(pair_rate, sandboxes * byok_ws, o.session_s)
    # A revoked workspace evicts the session: each attempt is an AssumeRole
    # (and a denied Decrypt) unless a negative cache holds the answer.
    revoked_pair = o.revoked_rate / sandboxes
    if o.negative_cache_s > 0 and revoked_pair > 0:
        sts_revoked = sandboxes * revoked_pair / (1 + revoked_pair * o.negative_cache_s)
    else:
        sts_revoked = o.revoked_rate
    sts_total = sts + sts_revoked
    secret_rate = ws_rate / o.secrets
    limit = o.inject_reserved or o.region_concurrency
    # Each quota: (name, use per second, quota, rate at which it saturates).
    quotas = []

    def q(name, use, quota, note=""):
        quotas.append({"quota": name, "use": use, "limit": quota,
                       "used": use / quota if quota else 0.0,
                       "saturates_at_rate": o.rate * quota / use if use else math.inf, "note": note})

    q("Lambda concurrency (inject)", concurrency, limit,
      "reserved" if o.inject_reserved else "Region quota, shared with admin")
    q("Lambda scale-up from zero (s to reach)", concurrency / (LAMBDA_SCALE_UP_PER_10S / 10), 60,
      "1,000 environments per 10 s; a minute of ramp counted as the limit")
    q("STS AssumeRole, broker account", sts_total, o.sts_budget, "per account, not raisable")
    q("KMS, one customer account and Region", ws_rate * c["kms"] if byok_ws else 0,
      o.kms_quota, "BYOK: counted in the key owner's account, beside its own use")
    q("KMS, broker account (platform key)", o.rate * (1 - o.byok_share) * c["kms"], o.kms_quota)
    q("DynamoDB partition of one workspace, reads", ws_rate * c["rru"], DDB_PARTITION_RRU,
      "all of a workspace's items share its partition key")
    q("DynamoDB partition of one workspace, writes", ws_rate * c["wru"], DDB_PARTITION_WRU)
    q("DynamoDB item: the breaker (hot key), reads", secret_rate * BREAKER_READS, DDB_PARTITION_RRU,
      "read %d times per clean injection" % BREAKER_READS)
    q("DynamoDB item: the limit counter, writes", ws_rate * COUNTER_WRITES / o.counter_shards,
      DDB_PARTITION_WRU, "%d shard(s)" % o.counter_shards)
    q("DynamoDB table, reads (on demand)", o.rate * c["rru"], DDB_TABLE_RRU, "adjustable")
    q("DynamoDB table, writes (on demand)", o.rate * c["wru"], DDB_TABLE_WRU, "adjustable")
    # Lambda delivers each environment's logs in batches; ASSUMED one
    # PutLogEvents per environment per second while busy.
    q("CloudWatch Logs PutLogEvents", min(concurrency, o.rate), LOGS_PUT_TPS,
      "%.1f MB/s ingested" % (o.rate * o.log_bytes / 1e6))
    if o.ws_concurrency_cap:
        q("broker: per-workspace in-flight cap", ws_rate * d, o.ws_concurrency_cap,
          "refused as throttled beyond it (by design)")
    first = min(quotas, key=lambda x: x["saturates_at_rate"])
    gb_s = o.memory_mb / 1024 * d
    cost = {
        "lambda": gb_s * LAMBDA_GB_S * 1e6 + LAMBDA_PER_REQUEST * 1e6,
        "kms": c["kms"] * KMS_PER_REQUEST * 1e6,
        "dynamodb": (c["rru"] * DDB_PER_RRU + c["wru"] * DDB_PER_WRU) * 1e6,
        "logs": o.log_bytes / 1e9 * LOGS_PER_GB * 1e6,
        "sts": 0.0,
    }
    cost["total"] = sum(cost.values())
    return {
        "workload": {"rate": o.rate, "workspaces": o.workspaces, "secrets": o.secrets,
                     "byok_workspaces": byok_ws, "sandboxes": sandboxes,
                     "billed_duration_ms": d * 1e3, "concurrency": concurrency},
        "per_injection": dict(c, assume_role=sts_total / o.rate if o.rate else 0.0),
        "assume_role_per_s": sts_total,
        "deploy_burst_assume_role_per_s": min(o.rate * o.byok_share, sandboxes * byok_ws),
        "quotas": quotas,
        "first_to_break": first["quota"],
        "first_breaks_at_rate": first["saturates_at_rate"],
        "cost_per_million_usd": cost,
    }


def show(title, m):
    w = m["workload"]
    print(f"== {title}")
    print(f"   {w['rate']:,.0f}/s over {w['workspaces']:,} workspaces ({w['byok_workspaces']:,} BYOK), "
          f"{w['secrets']} secret(s) each; billed duration {w['billed_duration_ms']:.0f} ms; "
          f"concurrency {w['concurrency']:,.0f}; sandboxes {w['sandboxes']:,}")
    p = m["per_injection"]
    print(f"   per injection: {p['dynamodb_calls']} DynamoDB calls ({p['rru']} RRU, {p['wru']} WRU), "
          f"{p['kms']} KMS Decrypt, {p['assume_role']:.3f} AssumeRole "
          f"({m['assume_role_per_s']:,.0f}/s; cold caches after a deploy: up to "
          f"{m['deploy_burst_assume_role_per_s']:,.0f}/s)")
    print(f"   {'quota':<46} {'use/s':>10} {'limit':>8} {'used':>7} {'saturates at':>13}")
    for q in sorted(m["quotas"], key=lambda x: x["saturates_at_rate"]):
        sat = "never" if math.isinf(q["saturates_at_rate"]) else f"{q['saturates_at_rate']:,.0f}/s"
        print(f"   {q['quota']:<46} {q['use']:>10,.0f} {q['limit']:>8,.0f} {q['used']:>7.0%} {sat:>13}"
              + (f"  ({q['note']})" if q["note"] else ""))
    print(f"   first to break: {m['first_to_break']} at {m['first_breaks_at_rate']:,.0f} injections/s")
    c = m["cost_per_million_usd"]
    print("   cost per million injections: " + ", ".join(f"{k} ${v:.2f}" for k, v in c.items()))


def check(o, path):
    with open(path) as f:
        result = json.load(f)
    load = result.get("load", result)
    if "failed" in load:
        print(f"capacity --check: the load step failed: {load['failed']}")
        return 1
    s = load["scale"]
    o.workspaces, o.sandboxes = s["workspaces"], s["sandboxes"]
    o.byok_share = s["byok_workspaces"] / s["workspaces"]
    n, t = s["injections"], load["duration_s"]
    o.rate = n / t
    c = calls(o)
    pair_rate = o.rate / o.workspaces / o.sandboxes
    expected = {
        "dynamodb": n * c["dynamodb_calls"],
        "kms": n * c["kms"],
        "sts": assumes_in(pair_rate, o.sandboxes * s["byok_workspaces"], o.session_s, t),
    }
    failed = 0
    print(f"capacity --check {path}: {n:,} injections in {t:.0f} s ({o.rate:.0f}/s), "
          f"{o.sandboxes} sandboxes, {o.workspaces} workspaces ({s['byok_workspaces']} BYOK)")
    for k, want in expected.items():
        got = load["calls"][k]
        off = abs(got - want) / want if want else float(got != 0)
        ok = off <= TOLERANCE[k]
        failed += not ok
        print(f"   {k:<9} measured {got:>8,}  simulated {want:>10,.1f}  off {off:6.1%}  "
              f"tolerance {TOLERANCE[k]:.0%}  {'ok' if ok else 'OUTSIDE'}")
    bad = {k: v for k, v in load.get("outcomes", {}).items() if k != "ok"}
    print(f"   outcomes {load.get('outcomes')}; throttled or failed: {sum(bad.values())} "
          f"(simulated 0: no local quota binds)")
    failed += bool(bad)
    trail = load.get("trail", {})
    print(f"   trail (the front's record): AssumeRole {trail.get('AssumeRole', 0):,}, "
          f"Decrypt {trail.get('Decrypt', 0):,}, with an error code {trail.get('with_error_code', 0)}")
    return 1 if failed else 0


def main():
    o = args_parser().parse_args()
    if o.check:
        return check(o, o.check)
    runs = []
    if o.rate or o.workspaces:
        o.rate, o.workspaces = o.rate or 1000.0, o.workspaces or 1
        runs.append(("custom workload", model(o)))
    else:
        for title, rate, ws in [("1,000/s from one customer (one workspace)", 1000.0, 1),
                                ("100,000/s across 10,000 customers", 100_000.0, 10_000)]:
            o.rate, o.workspaces = rate, ws
            runs.append((title, model(o)))
    if o.json:
        print(json.dumps({t: m for t, m in runs}, indent=2, default=str))
    else:
        for t, m in runs:
            show(t, m)
    return 0


if __name__ == "__main__":
    sys.exit(main())
