#!/usr/bin/env python3
"""Call keybroker's `inject` function from an agent runtime, with boto3.

The runtime (not the agent) holds the IAM permission to invoke `inject`
(agent-runtime-policy.json) and asserts which agent it is acting for. The
broker makes ONE upstream request with the stored credential injected and
returns the upstream's status, headers and body; the credential never reaches
this process. The contract is docs/INVOCATION.md.

    pip install boto3
    python3 invoke.py --function keybroker-inject --workspace acme \\
        --secret github --agent agent-7 \\
        --header accept:application/vnd.github+json \\
        GET https://api.github.com/repos/acme/app/issues

Against the local runner (docs/INVOCATION.md, "Running it locally"), add
`--endpoint-url http://127.0.0.1:9001`.

Exit status: 0 ok (whatever the upstream status), 2 invalid_request,
3 denied, 4 revoked, 5 not_found, 6 upstream_error, 7 throttled or
unavailable after retries, 8 integrity, 1 anything else.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time

# What the broker's error types mean for a caller (docs/INVOCATION.md, Errors).
# throttled / unavailable come from DynamoDB, STS or KMS, all of which run
# BEFORE the upstream request is sent, so retrying them is safe for any method.
RETRY_ANY_METHOD = {"throttled", "unavailable"}
# upstream_error may mean the upstream received the request (a timeout), so
# only retry it when repeating the request is harmless.
IDEMPOTENT = {"GET", "HEAD", "OPTIONS", "PUT", "DELETE"}
EXIT = {
    "invalid_request": 2,  # our bug: fix the call, never retry
    "denied": 3,  # binding or Cedar policy: ask the workspace owner; nothing was decrypted
    "revoked": 4,  # the customer locked the broker out of their key: stop, tell them
    "not_found": 5,  # no such secret in that workspace
    "upstream_error": 6,  # unreachable, timed out, or answered more than 1 MiB
    "throttled": 7,
    "unavailable": 7,
    "integrity": 8,  # stored secret failed integrity checks: page the operator
}


class InjectError(Exception):
    """A typed `ok: false` answer from the broker."""

    def __init__(self, kind: str, message: str, request_id: str | None):
        super().__init__(f"{kind}: {message} (request_id {request_id})")
        self.kind = kind
        self.message = message
        self.request_id = request_id


class BrokerFailure(Exception):
    """The invocation itself failed (Lambda timeout, crash, out of memory).

    The broker always answers with a JSON object, so this is a platform or
    deployment problem; its audit record may be missing.
    """


def lambda_client(region: str | None, endpoint_url: str | None):
    import boto3  # imported here so `python3 -m py_compile` needs no boto3
    from botocore.config import Config

    config = Config(
        # Lambda's own throttling (TooManyRequestsException) and transient
        # network errors are retried by botocore's standard mode.
        retries={"max_attempts": 3, "mode": "standard"},
        connect_timeout=5,
        # Longer than the inject function's timeout (15 s by default).
        read_timeout=30,
    )
    return boto3.client("lambda", region_name=region, endpoint_url=endpoint_url, config=config)


def inject(
    client,
    function: str,
    *,
    workspace: str,
    secret: str,
    agent: str,
    method: str,
    url: str,
    headers: dict[str, str] | None = None,
    body: str | None = None,
    timeout_ms: int | None = None,
    attempts: int = 3,
) -> dict:
    """Invoke `inject` once (plus retries where safe) and return the answer.

    Returns the response object ({"ok": true, "status", "headers", "body" or
    "body_base64", "request_id"}) or raises InjectError / BrokerFailure.
    """
    event = {
        "workspace": workspace,
        "secret": secret,
        "agent": agent,
        "request": {"method": method, "url": url, "headers": headers or {}},
    }
    if body is not None:
        event["request"]["body"] = body
    if timeout_ms is not None:
        event["request"]["timeout_ms"] = timeout_ms
    payload = json.dumps(event).encode()

    for attempt in range(1, attempts + 1):
        answer = client.invoke(FunctionName=function, InvocationType="RequestResponse", Payload=payload)
        raw = answer["Payload"].read()
        if answer.get("FunctionError"):
            raise BrokerFailure(f"{function} failed ({answer['FunctionError']}): {raw[:500]!r}")
        response = json.loads(raw)
        if response.get("ok"):
            return response
        error = response.get("error") or {}
        kind = error.get("type", "unknown")
        retryable = kind in RETRY_ANY_METHOD or (kind == "upstream_error" and method.upper() in IDEMPOTENT)
        if retryable and attempt < attempts:
            # Exponential backoff with full jitter: 0-0.4 s, 0-0.8 s, ...
            time.sleep(random.uniform(0, 0.2 * 2**attempt))
            continue
        raise InjectError(kind, error.get("message", ""), response.get("request_id"))
    raise AssertionError("unreachable")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Invoke keybroker's inject function.")
    p.add_argument("--function", default="keybroker-inject", help="inject function name or ARN")
    p.add_argument("--workspace", required=True)
    p.add_argument("--secret", required=True)
    p.add_argument("--agent", required=True, help="identity of the agent this runtime acts for")
    p.add_argument("--header", action="append", default=[], metavar="NAME:VALUE")
    p.add_argument("--body", help="UTF-8 request body")
    p.add_argument("--timeout-ms", type=int)
    p.add_argument("--region")
    p.add_argument("--endpoint-url", help="e.g. http://127.0.0.1:9001 for the local lambda-runner")
    p.add_argument("method")
    p.add_argument("url")
    args = p.parse_args(argv)

    headers = {}
    for h in args.header:
        name, sep, value = h.partition(":")
        if not sep:
            p.error(f"--header {h!r} is not NAME:VALUE")
        headers[name.strip().lower()] = value.strip()

    client = lambda_client(args.region, args.endpoint_url)
    try:
        response = inject(
            client,
            args.function,
            workspace=args.workspace,
            secret=args.secret,
            agent=args.agent,
            method=args.method.upper(),
            url=args.url,
            headers=headers,
            body=args.body,
            timeout_ms=args.timeout_ms,
        )
    except InjectError as e:
        print(f"keybroker refused: {e}", file=sys.stderr)
        if e.kind == "revoked":
            print("the workspace's key owner has revoked access; do not retry until they restore it", file=sys.stderr)
        return EXIT.get(e.kind, 1)
    except BrokerFailure as e:
        print(f"keybroker invocation failed: {e}", file=sys.stderr)
        return 1
    json.dump(response, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
