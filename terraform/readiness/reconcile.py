#!/usr/bin/env python3
"""keybroker reconcile: is every use of your key one keybroker recorded?

Run it in YOUR account, on two sets of files you hold:

  * your CloudTrail (the trail's S3 objects, `{"Records": [...]}` JSON,
    gzipped or not; or JSON lines, one event per line), and
  * keybroker's audit export for your workspace (JSON lines, gzipped or not:
    what keybroker delivers to you, see docs/OPERATIONS.md "Audit export").

    python3 reconcile.py --role-arn arn:aws:iam::...:role/keybroker/KeybrokerAccess \\
                         --trail ./cloudtrail/ --audit ./keybroker-audit/ [--json]

Every successful KMS call your trail shows for a session of keybroker's role
(`userIdentity.sessionContext.sessionIssuer.arn`) is a *use*. Each use must
match exactly one keybroker record (schema keybroker.audit.kms.v1) with the
same KMS request id (CloudTrail `requestID`), the same operation, workspace
and secret (the encryption context CloudTrail logs in plain text), and a time
within --skew seconds. A record matches one use only. Everything else is
reported:
  * UNMATCHED  a use no record accounts for: someone used the role's
    credentials outside keybroker, or keybroker used your key without
    recording it. Either way, investigate (revoke first if in doubt);
  * MISMATCH   a record with the use's request id says another operation,
    workspace, secret or time;
and, for information, refused calls by the role (errorCode; calls refused
by your key are in your trail only if made from your account: KMS logs a
denied cross-account call in the caller's account), the session names and
SourceIdentity values seen (which keybroker function and purpose made each
use: keybroker-inject.<ws> for agents' injections, -admin. for operators,
-check. for the scheduled status check, -verify. for the BYOK canary), and
records no trail event matches (keybroker claims a use your trail does not
show: usually trail delivery lag at the end of the window).

Exit 0: every use matched; 1: some did not; 2: the reconcile could not run.
Standard library only. Give --since/--until to compare a window both sides
have delivered in full (CloudTrail delivers within about 5 minutes,
keybroker's export within its buffer interval).
"""

import argparse
import gzip
import json
import os
import sys
from datetime import datetime, timezone

KMS_SCHEMA = "keybroker.audit.kms.v1"
MAX_LISTED = 50


def iso_ms(text):
    """Epoch milliseconds of an ISO 8601 UTC time (CloudTrail eventTime)."""
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


def ms_iso(ms):
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).isoformat().replace("+00:00", "Z")


def files_of(paths):
    for p in paths:
        if os.path.isdir(p):
            for root, _, names in sorted(os.walk(p)):
                for n in sorted(names):
                    yield os.path.join(root, n)
        elif os.path.exists(p):
            yield p
        else:
            raise ValueError(f"no such file or directory: {p}")


def read_text(path):
    with open(path, "rb") as f:
        data = f.read()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    return data.decode("utf-8")


def json_items(path):
    """The JSON values in a file: one document (a CloudTrail file's Records
    are unpacked) or one per line; lines that are not JSON are skipped."""
    text = read_text(path).strip()
    if not text:
        return
    try:
        doc = json.loads(text)
    except json.JSONDecodeError:
        for line in text.splitlines():
            try:
                yield json.loads(line)
            except json.JSONDecodeError:
                continue
        return
    if isinstance(doc, dict) and isinstance(doc.get("Records"), list):
        yield from doc["Records"]
    elif isinstance(doc, list):
        yield from doc
    else:
        yield doc


def role_events(trail_paths, role_arn, account):
    """KMS events of the role's sessions, once each (eventID), as delivered
    to `account`."""
    seen = set()
    for path in files_of(trail_paths):
        for e in json_items(path):
            if not isinstance(e, dict) or e.get("eventSource") != "kms.amazonaws.com":
                continue
            issuer = (((e.get("userIdentity") or {}).get("sessionContext") or {}).get("sessionIssuer") or {}).get("arn")
            if issuer != role_arn:
                continue
            if e.get("recipientAccountId") not in (None, account):
                continue
            key = e.get("eventID") or (e.get("requestID"), e.get("eventTime"))
            if key in seen:
                continue
            seen.add(key)
            yield e


def broker_records(audit_paths, role_arn):
    for path in files_of(audit_paths):
        for r in json_items(path):
            if isinstance(r, dict) and r.get("schema") == KMS_SCHEMA and r.get("role_arn") == role_arn:
                yield r


def describe(e):
    ui = e.get("userIdentity") or {}
    ctx = (e.get("requestParameters") or {}).get("encryptionContext") or {}
    return {
        "eventTime": e.get("eventTime"),
        "eventName": e.get("eventName"),
        "requestID": e.get("requestID"),
        "session": ui.get("arn"),
        "sourceIdentity": (ui.get("sessionContext") or {}).get("sourceIdentity"),
        "sourceIPAddress": e.get("sourceIPAddress"),
        "workspace": ctx.get("workspace"),
        "secret": ctx.get("secret"),
        "keyId": (e.get("requestParameters") or {}).get("keyId"),
    }


def differences(e, r, skew_ms):
    ctx = (e.get("requestParameters") or {}).get("encryptionContext") or {}
    out = []
    if r.get("operation") != e.get("eventName"):
        out.append(f"operation {r.get('operation')} != {e.get('eventName')}")
    for k in ("workspace", "secret"):
        if r.get(k) != ctx.get(k):
            out.append(f"{k} {r.get(k)!r} != {ctx.get(k)!r}")
    try:
        gap = abs(iso_ms(e["eventTime"]) - int(r.get("time_ms", 0)))
        if gap > skew_ms:
            out.append(f"time {ms_iso(int(r.get('time_ms', 0)))} is {gap / 1000:.0f} s from {e['eventTime']}")
    except (KeyError, ValueError, TypeError):
        out.append("time unreadable")
    return out


def reconcile(trail_paths, audit_paths, role_arn, since=None, until=None, skew_s=300):
    parts = role_arn.split(":")
    if len(parts) < 6 or parts[2] != "iam" or not parts[5].startswith("role/"):
        raise ValueError(f"not a role ARN: {role_arn}")
    account = parts[4]
    lo = iso_ms(since) if since else None
    hi = iso_ms(until) if until else None
    within = lambda ms: (lo is None or ms >= lo) and (hi is None or ms <= hi)

    by_id = {}
    records = 0
    for r in broker_records(audit_paths, role_arn):
        records += 1
        if r.get("outcome") == "ok" and r.get("kms_request_id"):
            by_id.setdefault(r["kms_request_id"], []).append(r)
    used = set()
    uses = matched = 0
    unmatched, mismatched, refused, sessions = [], [], [], {}
    for e in role_events(trail_paths, role_arn, account):
        if not within(iso_ms(e["eventTime"])):
            continue
        d = describe(e)
        if e.get("errorCode"):
            refused.append({**d, "errorCode": e["errorCode"]})
            continue
        uses += 1
        label = (d["session"] or "").rsplit("/", 1)[-1].split(".", 1)[0]
        sessions.setdefault(f"{label} (SourceIdentity {d['sourceIdentity']})", 0)
        sessions[f"{label} (SourceIdentity {d['sourceIdentity']})"] += 1
        candidates = [r for r in by_id.get(e.get("requestID"), []) if id(r) not in used]
        if not candidates:
            unmatched.append({**d, "why": "no keybroker record has this request id"})
            continue
        r = candidates[0]
        used.add(id(r))
        diff = differences(e, r, skew_s * 1000)
        if diff:
            mismatched.append({**d, "why": "; ".join(diff)})
        else:
            matched += 1
    unclaimed = [
        {"time": ms_iso(int(r.get("time_ms", 0))), "operation": r.get("operation"), "workspace": r.get("workspace"),
         "secret": r.get("secret"), "kms_request_id": rid, "session_name": r.get("session_name")}
        for rid, rs in by_id.items() for r in rs
        if id(r) not in used and within(int(r.get("time_ms", 0)))
    ]
    return {
        "role_arn": role_arn,
        "uses": uses,
        "matched": matched,
        "unmatched": unmatched,
        "mismatched": mismatched,
        "refused": refused,
        "sessions": sessions,
        "broker_records": records,
        "records_without_trail_event": unclaimed,
        "ok": not unmatched and not mismatched,
    }


def main(argv=None):
    ap = argparse.ArgumentParser(description="Match every use of your KMS key by keybroker's role to keybroker's audit records.")
    ap.add_argument("--role-arn", required=True, help="ARN of the role keybroker assumes (module output role_arn)")
    ap.add_argument("--trail", action="append", required=True, help="CloudTrail files or directories (repeatable)")
    ap.add_argument("--audit", action="append", required=True, help="keybroker audit export files or directories (repeatable)")
    ap.add_argument("--since", help="only events at or after this ISO 8601 UTC time")
    ap.add_argument("--until", help="only events at or before this ISO 8601 UTC time")
    ap.add_argument("--skew", type=int, default=300, help="seconds a record's time may differ from the event's (default 300)")
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    args = ap.parse_args(argv)
    try:
        result = reconcile(args.trail, args.audit, args.role_arn, args.since, args.until, args.skew)
    except (ValueError, OSError) as e:
        print(f"reconcile could not run: {e}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"{result['uses']} uses of the key by {args.role_arn}, {result['matched']} matched to keybroker records")
        for name, n in sorted(result["sessions"].items()):
            print(f"INFO  {n:6d} by {name}")
        for kind in ("unmatched", "mismatched"):
            for u in result[kind][:MAX_LISTED]:
                print(f"{'UNMATCHED' if kind == 'unmatched' else 'MISMATCH '} {u['eventTime']} {u['eventName']} "
                      f"workspace={u['workspace']} secret={u['secret']} session={u['session']} "
                      f"sourceIdentity={u['sourceIdentity']} ip={u['sourceIPAddress']} requestID={u['requestID']}: {u['why']}")
            if len(result[kind]) > MAX_LISTED:
                print(f"... and {len(result[kind]) - MAX_LISTED} more {kind} (use --json)")
        if result["refused"]:
            print(f"INFO  {len(result['refused'])} calls by the role were refused (errorCode in the trail)")
        if result["records_without_trail_event"]:
            print(f"WARN  {len(result['records_without_trail_event'])} keybroker records have no trail event "
                  "(trail delivery lag, or a gap in the trail files given)")
        print("every use is accounted for" if result["ok"] else "some uses are NOT accounted for")
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
