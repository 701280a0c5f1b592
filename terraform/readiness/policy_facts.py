"""What a key policy, trust policy or grant says, read without AWS calls.

Shared by check_revocation.py (the readiness check); pure functions on the
documents boto3 returns, so they are easy to reason about and to test. They
read statements, they do not evaluate conditions: a statement whose
conditions might not match is still reported (the safe direction).
"""

import fnmatch
import json

# The two operations keybroker uses; everything else must be denied.
BROKER_ACTIONS = {"kms:generatedatakey", "kms:decrypt"}
CONTEXT_KEYS = {"workspace", "secret"}
# Condition keys that, set to this account, keep an Allow for "*" inside it.
ACCOUNT_KEYS = ("kms:calleraccount", "aws:principalaccount")


def as_list(v):
    if v is None:
        return []
    return v if isinstance(v, list) else [v]


def lower_keys(d):
    return {k.lower(): v for k, v in (d or {}).items()}


def parse_arn(arn, service):
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or parts[2] != service:
        raise ValueError(f"not an {service} ARN: {arn}")
    return {"partition": parts[1], "region": parts[3], "account": parts[4], "resource": parts[5]}


def account_of(principal):
    """The account an AWS principal (ARN or bare 12-digit id) is in; None for "*"."""
    if principal.isdigit() and len(principal) == 12:
        return principal
    parts = principal.split(":")
    if len(parts) >= 6 and parts[0] == "arn" and parts[4].isdigit():
        return parts[4]
    return None


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


def account_condition(stmt):
    """The accounts a StringEquals kms:CallerAccount / aws:PrincipalAccount
    condition restricts the statement to (None when it has none)."""
    body = lower_keys((stmt.get("Condition") or {}).get("StringEquals"))
    for k in ACCOUNT_KEYS:
        if k in body:
            return {str(x) for x in as_list(body[k])}
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


def platform_deny_accounts(stmt):
    """The accounts a Deny of every KMS action for everyone in them covers
    (StringEquals aws:PrincipalAccount and no other condition); empty set
    for any other statement."""
    if stmt.get("Effect") != "Deny" or "NotAction" in stmt or principals(stmt) != ["*"]:
        return set()
    if not any(a in ("kms:*", "*") for a in as_list(stmt.get("Action"))):
        return set()
    cond = stmt.get("Condition") or {}
    if set(cond) != {"StringEquals"} or set(lower_keys(cond["StringEquals"])) != {"aws:principalaccount"}:
        return set()
    return {str(a) for a in as_list(lower_keys(cond["StringEquals"])["aws:principalaccount"])}


def standing_denies(denies):
    """Which of the four standing Denies for the role (by meaning, not Sid) are present."""
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


def foreign_principals(stmt, inside):
    """The principals outside the accounts `inside` that an Allow reaches:
    named ones whose account is not inside, or "*" without a condition
    keeping it to accounts inside."""
    if stmt.get("Effect") != "Allow":
        return []
    out = []
    for p in principals(stmt):
        if p == "*":
            accounts = account_condition(stmt)
            if accounts is None or not accounts <= inside:
                out.append("*")
        elif account_of(p) not in inside:
            out.append(p)
    return out


def deny_set(policy):
    """The policy's Deny statements, canonical (for comparing replicas)."""
    return {json.dumps(s, sort_keys=True) for s in as_list(policy.get("Statement")) if s.get("Effect") == "Deny"}


def trust_accounts(trust):
    """The accounts of the AWS principals a trust policy allows to assume the role."""
    out = set()
    for s in as_list(trust.get("Statement")):
        if s.get("Effect") == "Allow" and action_matches(s, "sts:assumerole"):
            out |= {a for a in (account_of(p) for p in principals(s)) if a}
    return out


def trust_allows_source_identity(trust):
    """Whether the trust policy lets someone set a SourceIdentity (the broker always does)."""
    return any(s.get("Effect") == "Allow" and action_matches(s, "sts:setsourceidentity")
               for s in as_list(trust.get("Statement")))


def as_doc(doc):
    # IAM returns documents URL-decoded as dicts through boto3; be lenient.
    if isinstance(doc, str):
        from urllib.parse import unquote
        doc = json.loads(unquote(doc))
    return doc
