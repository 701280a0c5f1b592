#!/usr/bin/env python3
"""keybroker revocation readiness check: can you lock keybroker out at will?

Run it in YOUR account (the customer's), with credentials that may read the
key and the role (kms:DescribeKey, kms:GetKeyPolicy, kms:ListGrants,
iam:GetRole, iam:ListRolePolicies, iam:GetRolePolicy,
iam:ListAttachedRolePolicies, iam:GetPolicy, iam:GetPolicyVersion):

    python3 check_revocation.py --key-arn arn:aws:kms:...:key/... \\
                                --role-arn arn:aws:iam::...:role/keybroker/KeybrokerAccess [--json]

It lists everything that could keep keybroker's role decrypting after you
revoke it, and exits
    0  revocation is guaranteed: the explicit Deny is in force
       (broker_access = "revoked"), or nothing but the module's
       KeybrokerUseKey statement reaches the role and every standing Deny
       is in place;
    1  revocation is NOT guaranteed (each FAIL line says why);
    2  the check could not run (bad arguments, an AWS call failed): treat
       as not guaranteed.

What defeats revocation, and is reported as FAIL:
  * a KMS grant on the key whose grantee is the role (or the role's account);
  * an identity policy on the role (inline or attached) that allows KMS
    actions: the key policy's "Enable IAM User Permissions" statement
    delegates to IAM, so it works without KeybrokerUseKey;
  * another key-policy Allow that reaches the role (by its ARN, or "*");
  * a missing standing Deny (other actions, other workspaces, a missing
    "secret" context key, extra context keys).
Other grants on the key are WARN. Needs boto3 (pip install boto3); honours
the usual AWS_* environment (profile, region, AWS_ENDPOINT_URL).
"""

import argparse
import fnmatch
import json
import sys

try:
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError
except ImportError:  # pragma: no cover - reported, not raised
    print("check_revocation.py needs boto3: pip install boto3", file=sys.stderr)
    sys.exit(2)

# The two operations keybroker uses; everything else must be denied.
BROKER_ACTIONS = {"kms:generatedatakey", "kms:decrypt"}
CONTEXT_KEYS = {"workspace", "secret"}


def as_list(v):
    if v is None:
        return []
    return v if isinstance(v, list) else [v]


def lower_keys(d):
    return {k.lower(): v for k, v in (d or {}).items()}


class Report:
    def __init__(self):
        self.findings = []

    def add(self, level, code, detail):
        self.findings.append({"level": level, "code": code, "detail": detail})

    def fails(self):
        return [f for f in self.findings if f["level"] == "FAIL"]


def parse_arn(arn, service):
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or parts[2] != service:
        raise ValueError(f"not an {service} ARN: {arn}")
    return {"partition": parts[1], "region": parts[3], "account": parts[4], "resource": parts[5]}


def principals(stmt):
    """The AWS principals a statement names ("*" for everyone)."""
    p = stmt.get("Principal")
    if p == "*":
        return ["*"]
    if isinstance(p, dict):
        return [str(x) for x in as_list(p.get("AWS"))]
    return []


def role_condition(stmt):
    """The principal ARNs an ArnEquals/ArnLike/StringEquals aws:PrincipalArn
    condition restricts the statement to (None when it has none)."""
    for op, body in (stmt.get("Condition") or {}).items():
        if op in ("ArnEquals", "ArnLike", "StringEquals", "StringLike"):
            v = lower_keys(body).get("aws:principalarn")
            if v is not None:
                return [str(x) for x in as_list(v)]
    return None


def applies_to_role(stmt, role_arn, role_account, partition):
    """Whether a statement's principal part reaches the role: "role" (by ARN
    or by a PrincipalArn condition), "everyone", "account" (root
    delegation to IAM), or None."""
    names = principals(stmt)
    restricted = role_condition(stmt)
    if restricted is not None:
        if any(fnmatch.fnmatchcase(role_arn, pat) for pat in restricted):
            return "role"
        return None
    root = {f"arn:{partition}:iam::{role_account}:root", role_account}
    if "*" in names:
        return "everyone"
    if role_arn in names:
        return "role"
    if any(n in root for n in names):
        return "account"
    return None


def action_matches(stmt, action):
    """Whether the statement's Action/NotAction covers `action` (lowercase)."""
    if "NotAction" in stmt:
        return not any(fnmatch.fnmatchcase(action, a.lower()) for a in as_list(stmt["NotAction"]))
    return any(fnmatch.fnmatchcase(action, a.lower()) for a in as_list(stmt.get("Action")))


def reaches_kms(stmt, key_arn):
    """An Allow that grants some KMS action on this key (or on "*")."""
    if stmt.get("Effect") != "Allow":
        return False
    if not any(action_matches(stmt, a) for a in ("kms:decrypt", "kms:generatedatakey", "kms:creategrant", "kms:reencryptfrom")):
        return False
    if "NotResource" in stmt:
        return not any(fnmatch.fnmatchcase(key_arn, r) for r in as_list(stmt["NotResource"]))
    return any(fnmatch.fnmatchcase(key_arn, r) for r in as_list(stmt.get("Resource")))


def is_full_deny(stmt):
    """A Deny of every KMS action with no condition but the principal's."""
    if stmt.get("Effect") != "Deny" or "NotAction" in stmt:
        return False
    if not any(a in ("kms:*", "*") for a in as_list(stmt.get("Action"))):
        return False
    ops = set((stmt.get("Condition") or {}).keys())
    return ops <= {"ArnEquals", "ArnLike", "StringEquals", "StringLike"} and all(
        set(lower_keys(stmt["Condition"][op]).keys()) == {"aws:principalarn"} for op in ops)


def standing_denies(denies):
    """Which of the four standing Denies (by meaning, not Sid) are present."""
    found = set()
    for s in denies:
        cond = s.get("Condition") or {}
        if "NotAction" in s and {a.lower() for a in as_list(s["NotAction"])} <= BROKER_ACTIONS:
            found.add("other-actions")
        if not action_matches(s, "kms:decrypt"):
            continue
        if "kms:encryptioncontext:workspace" in lower_keys(cond.get("StringNotEquals")):
            found.add("other-workspaces")
        if str(lower_keys(cond.get("Null")).get("kms:encryptioncontext:secret", "")).lower() == "true":
            found.add("missing-secret")
        extra = lower_keys(cond.get("ForAnyValue:StringNotEquals")).get("kms:encryptioncontextkeys")
        if extra is not None and set(as_list(extra)) <= CONTEXT_KEYS:
            found.add("extra-context-keys")
    return found


STANDING = {
    "other-actions": "Deny of every action but GenerateDataKey/Decrypt (CreateGrant, PutKeyPolicy, ReEncrypt, ...)",
    "other-workspaces": "Deny outside this workspace's encryption context",
    "missing-secret": "Deny when the 'secret' encryption-context key is missing",
    "extra-context-keys": "Deny for encryption-context keys other than workspace/secret",
}


def identity_policies(iam, role_name):
    """(label, document) for every inline and attached policy of the role."""
    out = []
    for page in iam.get_paginator("list_role_policies").paginate(RoleName=role_name):
        for name in page["PolicyNames"]:
            doc = iam.get_role_policy(RoleName=role_name, PolicyName=name)["PolicyDocument"]
            out.append((f"inline policy {name}", doc))
    for page in iam.get_paginator("list_attached_role_policies").paginate(RoleName=role_name):
        for att in page["AttachedPolicies"]:
            arn = att["PolicyArn"]
            version = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
            doc = iam.get_policy_version(PolicyArn=arn, VersionId=version)["PolicyVersion"]["Document"]
            out.append((f"attached policy {arn}", doc))
    return out


def as_doc(doc):
    # IAM returns documents URL-decoded as dicts through boto3; be lenient.
    if isinstance(doc, str):
        from urllib.parse import unquote
        doc = json.loads(unquote(doc))
    return doc


def check(session, key_arn, role_arn):
    rep = Report()
    k = parse_arn(key_arn, "kms")
    r = parse_arn(role_arn, "iam")
    if not r["resource"].startswith("role/"):
        raise ValueError(f"not a role ARN: {role_arn}")
    role_name = r["resource"].rsplit("/", 1)[-1]
    kms = session.client("kms", region_name=k["region"] or None)
    iam = session.client("iam")

    state = kms.describe_key(KeyId=key_arn)["KeyMetadata"]["KeyState"]
    rep.add("INFO", "key-state", f"key state: {state}")
    policy = json.loads(kms.get_key_policy(KeyId=key_arn, PolicyName="default")["Policy"])
    stmts = as_list(policy.get("Statement"))

    reach = [(s, applies_to_role(s, role_arn, r["account"], k["partition"])) for s in stmts]
    denies = [s for s, how in reach if s.get("Effect") == "Deny" and how in ("role", "everyone")]
    revoked = any(is_full_deny(s) for s in denies)
    use_key = [s for s, how in reach if s.get("Effect") == "Allow" and how == "role" and s.get("Sid") == "KeybrokerUseKey"]
    switch = "revoked" if revoked else ("enabled" if use_key else "statement-removed")
    rep.add("INFO", "switch", {
        "revoked": "broker_access = revoked: an explicit Deny of kms:* for the role is in the key policy",
        "enabled": "broker_access = enabled: KeybrokerUseKey allows the role",
        "statement-removed": "no KeybrokerUseKey and no explicit Deny: only the absence of an Allow keeps the role out",
    }[switch])
    if any(s.get("Effect") == "Deny" and "aws:tokenissuetime" in json.dumps(s).lower() for s in denies):
        rep.add("INFO", "session-cutoff", "a Deny on aws:TokenIssueTime kills the role's older sessions")

    present = standing_denies(denies)
    for name, what in STANDING.items():
        if name in present:
            rep.add("OK", f"standing-deny:{name}", f"standing {what} for the role")
        else:
            rep.add("FAIL", f"missing-standing-deny:{name}", f"missing standing {what} for the role")

    delegates = False
    for s, how in reach:
        if s.get("Effect") != "Allow" or not action_matches(s, "kms:decrypt") and not action_matches(s, "kms:creategrant"):
            continue
        sid = s.get("Sid", "(no Sid)")
        if how == "account":
            delegates = True
        elif how == "everyone":
            rep.add("FAIL", "key-policy-reaches-role", f"key policy statement {sid} allows Principal \"*\"")
        elif how == "role" and sid != "KeybrokerUseKey":
            rep.add("FAIL", "key-policy-reaches-role", f"key policy statement {sid} allows the role")

    role = iam.get_role(RoleName=role_name)["Role"]
    boundary = (role.get("PermissionsBoundary") or {}).get("PermissionsBoundaryArn")
    allowed_by_boundary = True
    if boundary:
        version = iam.get_policy(PolicyArn=boundary)["Policy"]["DefaultVersionId"]
        bdoc = as_doc(iam.get_policy_version(PolicyArn=boundary, VersionId=version)["PolicyVersion"]["Document"])
        allowed_by_boundary = any(reaches_kms(s, key_arn) for s in as_list(bdoc.get("Statement")))
        rep.add("INFO", "permissions-boundary", f"permissions boundary {boundary} {'allows' if allowed_by_boundary else 'does not allow'} KMS use of this key")
    for label, doc in identity_policies(iam, role_name):
        doc = as_doc(doc)
        hits = [s for s in as_list(doc.get("Statement")) if reaches_kms(s, key_arn)]
        if not hits:
            rep.add("WARN", "identity-policy", f"{label} is attached to the role (allows no KMS use of this key)")
        elif delegates and allowed_by_boundary:
            rep.add("FAIL", "identity-policy-allows-kms", f"{label} allows KMS use of this key, and the key policy delegates to IAM: it survives removing KeybrokerUseKey")
        else:
            rep.add("WARN", "identity-policy-allows-kms", f"{label} allows KMS use of this key (ineffective today: {'the boundary' if not allowed_by_boundary else 'the key policy does not delegate to IAM'})")

    root = f"arn:{k['partition']}:iam::{r['account']}:root"
    for page in kms.get_paginator("list_grants").paginate(KeyId=key_arn):
        for g in page["Grants"]:
            grantee = g.get("GranteePrincipal", "")
            ops = ",".join(g.get("Operations", []))
            sess = f"arn:{k['partition']}:sts::{r['account']}:assumed-role/{role_name}/"
            if grantee in (role_arn, root, r["account"]) or grantee.startswith(sess):
                rep.add("FAIL", "grant-to-role", f"grant {g.get('GrantId')} to {grantee} allows {ops}: it survives removing KeybrokerUseKey")
            else:
                rep.add("WARN", "grant", f"grant {g.get('GrantId')} to {grantee} allows {ops}")

    if revoked:
        # The explicit Deny beats every Allow, identity policy and grant: the
        # rest is what would come back the day access is re-enabled.
        for f in rep.findings:
            if f["level"] == "FAIL":
                f["level"] = "WARN"
                f["detail"] += " (overridden while the explicit Deny is in force)"
        guaranteed = True
    else:
        guaranteed = not rep.fails()
    return {"key_arn": key_arn, "role_arn": role_arn, "key_state": state, "switch": switch,
            "guaranteed": guaranteed, "findings": rep.findings}


def main(argv=None):
    ap = argparse.ArgumentParser(description="Check that revoking keybroker's access to your KMS key cannot be bypassed.")
    ap.add_argument("--key-arn", required=True, help="ARN of the BYOK key (module output key_arn)")
    ap.add_argument("--role-arn", required=True, help="ARN of the role keybroker assumes (module output role_arn)")
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    args = ap.parse_args(argv)
    try:
        result = check(boto3.session.Session(), args.key_arn, args.role_arn)
    except (ValueError, ClientError, BotoCoreError) as e:
        print(f"revocation readiness check could not run: {e}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for f in result["findings"]:
            print(f"{f['level']:4}  {f['code']}: {f['detail']}")
        print("revocation is guaranteed" if result["guaranteed"] else "revocation is NOT guaranteed")
    return 0 if result["guaranteed"] else 1


if __name__ == "__main__":
    sys.exit(main())
