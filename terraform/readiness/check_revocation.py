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
    "secret" context key, extra context keys);
and, whatever the switch says (KeybrokerRevoked names the role only):
  * a grant, or a key-policy Allow, that reaches a principal outside your
    account (the broker's roles or root, anyone else's; "*" unless a
    kms:CallerAccount / aws:PrincipalAccount condition keeps it to yours);
    --allow-account adds accounts of yours;
  * a missing KeybrokerDenyPlatformAccount (Deny of kms:* for every
    principal of the broker's account, read from the role's trust policy);
  * a multi-Region key whose primary or replicas carry other Denies than
    this key (each has its own key policy), or that cannot be read; their
    grants are checked like this key's.
Other grants on the key are WARN. Needs boto3 (pip install boto3); honours
the usual AWS_* environment (profile, region, AWS_ENDPOINT_URL).
"""

import argparse
import json
import sys

try:
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError
except ImportError:  # pragma: no cover - reported, not raised
    print("check_revocation.py needs boto3: pip install boto3", file=sys.stderr)
    sys.exit(2)

from policy_facts import (  # beside this file
    account_of, action_matches, applies_to_role, as_doc, as_list, deny_set, foreign_principals,
    is_full_deny, parse_arn, platform_deny_accounts, reaches_kms, standing_denies, trust_accounts,
    trust_allows_source_identity,
)


class Report:
    def __init__(self):
        self.findings = []

    def add(self, level, code, detail):
        self.findings.append({"level": level, "code": code, "detail": detail})

    def fails(self):
        return [f for f in self.findings if f["level"] == "FAIL"]


STANDING = {
    "other-actions": "Deny of every action but GenerateDataKey/Decrypt (CreateGrant, PutKeyPolicy, ReEncrypt, ...)",
    "other-workspaces": "Deny outside this workspace's encryption context",
    "missing-secret": "Deny when the 'secret' encryption-context key is missing",
    "extra-context-keys": "Deny for encryption-context keys other than workspace/secret",
}

# FAILs the revocation switch does not cure: KeybrokerRevoked names the
# role, not the broker's own account, other accounts or other keys.
BEYOND_THE_SWITCH = {
    "grant-to-foreign-principal",
    "key-policy-reaches-foreign-principal",
    "missing-standing-deny:platform-account",
    "replica-deny-set-differs",
    "replica-unreadable",
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


def grant_findings(rep, kms, key_arn, role_arn, inside, covered, where=""):
    """Every grant on one key: to the role (or its account) FAIL, to a
    principal outside `inside` FAIL, others WARN."""
    r = parse_arn(role_arn, "iam")
    role_name = r["resource"].rsplit("/", 1)[-1]
    root = f"arn:{r['partition']}:iam::{r['account']}:root"
    sess = f"arn:{r['partition']}:sts::{r['account']}:assumed-role/{role_name}/"
    for page in kms.get_paginator("list_grants").paginate(KeyId=key_arn):
        for g in page["Grants"]:
            grantee = g.get("GranteePrincipal", "")
            ops = ",".join(g.get("Operations", []))
            what = f"grant {g.get('GrantId')}{where} to {grantee} allows {ops}"
            account = account_of(grantee)
            if grantee in (role_arn, root, r["account"]) or grantee.startswith(sess):
                rep.add("FAIL", "grant-to-role", f"{what}: it survives removing KeybrokerUseKey")
            elif account not in inside:
                blocked = (" (the broker's account: KeybrokerDenyPlatformAccount blocks it today; remove it)"
                           if account in covered else "")
                rep.add("FAIL", "grant-to-foreign-principal",
                        f"{what}: a principal outside your account, which the revocation switch does not cover{blocked}")
            else:
                rep.add("WARN", "grant", what)


def replica_findings(rep, session, meta, key_arn, policy, role_arn, inside, covered):
    """A multi-Region key: every other key of the set must carry the same
    Denies (each replica has its own key policy: revoking one does not
    revoke the others), and its grants are checked like this key's."""
    cfg = meta.get("MultiRegionConfiguration") or {}
    related = [cfg.get("PrimaryKey")] + list(cfg.get("ReplicaKeys") or [])
    related = [k for k in related if k and k.get("Arn") and k["Arn"] != key_arn]
    rep.add("INFO", "multi-region", f"multi-Region key ({cfg.get('MultiRegionKeyType', '?')}); related keys: "
            + (", ".join(k["Arn"] for k in related) or "none"))
    mine = deny_set(policy)
    for other in related:
        arn, region = other["Arn"], other.get("Region") or parse_arn(other["Arn"], "kms")["region"]
        kms = session.client("kms", region_name=region)
        try:
            theirs = deny_set(json.loads(kms.get_key_policy(KeyId=arn, PolicyName="default")["Policy"]))
            grant_findings(rep, kms, arn, role_arn, inside, covered, where=f" on {arn}")
        except ClientError as e:
            rep.add("FAIL", "replica-unreadable", f"{arn}: its key policy and grants could not be read ({e}): treat it as not revocable")
            continue
        if theirs == mine:
            rep.add("OK", f"replica-denies:{region}", f"{arn} carries the same Denies as this key")
            continue
        sid = lambda t: json.loads(t).get("Sid", "(no Sid)")
        lacking = sorted(sid(t) for t in mine - theirs)
        extra = sorted(sid(t) for t in theirs - mine)
        rep.add("FAIL", "replica-deny-set-differs",
                f"{arn} has other Denies than this key (lacks {lacking or 'none'}, adds {extra or 'none'}): "
                "revoking here does not revoke there; apply the same key policy to every key of the set")


def check(session, key_arn, role_arn, allow_accounts=()):
    rep = Report()
    k = parse_arn(key_arn, "kms")
    r = parse_arn(role_arn, "iam")
    if not r["resource"].startswith("role/"):
        raise ValueError(f"not a role ARN: {role_arn}")
    role_name = r["resource"].rsplit("/", 1)[-1]
    kms = session.client("kms", region_name=k["region"] or None)
    iam = session.client("iam")

    meta = kms.describe_key(KeyId=key_arn)["KeyMetadata"]
    state = meta["KeyState"]
    rep.add("INFO", "key-state", f"key state: {state}")
    policy = json.loads(kms.get_key_policy(KeyId=key_arn, PolicyName="default")["Policy"])
    stmts = as_list(policy.get("Statement"))
    role = iam.get_role(RoleName=role_name)["Role"]
    trust = as_doc(role.get("AssumeRolePolicyDocument") or {})

    # Who is "inside": your account (the role's and the key's) and any you
    # vouch for; never the broker's, which its trust policy names.
    broker_accounts = trust_accounts(trust) - {r["account"]}
    vouched = set(allow_accounts)
    if vouched & broker_accounts:
        raise ValueError(f"--allow-account names the broker's account(s) {sorted(vouched & broker_accounts)}")
    inside = {r["account"], k["account"]} | vouched

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
    covered = set().union(*[platform_deny_accounts(s) for s in stmts])
    if not broker_accounts:
        rep.add("WARN", "no-broker-account", "the role's trust policy names no principal outside your account: cannot tell the broker's account")
    elif broker_accounts <= covered:
        rep.add("OK", "standing-deny:platform-account",
                f"standing Deny of kms:* for every principal of the broker's account(s) {sorted(broker_accounts)}")
    else:
        rep.add("FAIL", "missing-standing-deny:platform-account",
                f"no Deny of kms:* for every principal of the broker's account(s) {sorted(broker_accounts - covered)} "
                "(KeybrokerDenyPlatformAccount): a grant or Allow naming one of its roles or its root would reach the key whatever the switch says")
    if not trust_allows_source_identity(trust):
        rep.add("WARN", "trust-policy-no-source-identity",
                "the role's trust policy does not allow sts:SetSourceIdentity: keybroker's sessions (which always set one) are refused; re-apply the module")

    delegates = False
    for s, how in reach:
        sid = s.get("Sid", "(no Sid)")
        foreign = foreign_principals(s, inside)
        if foreign and reaches_kms(s, key_arn):
            blocked = [p for p in foreign if account_of(p) in covered]
            note = f" ({', '.join(blocked)} blocked today by the platform-account Deny; remove the statement)" if blocked else ""
            rep.add("FAIL", "key-policy-reaches-foreign-principal",
                    f"key policy statement {sid} allows {', '.join(foreign)}, outside your account: the revocation switch does not cover it{note}")
        if s.get("Effect") != "Allow" or not action_matches(s, "kms:decrypt") and not action_matches(s, "kms:creategrant"):
            continue
        if how == "account":
            delegates = True
        elif how == "everyone":
            rep.add("FAIL", "key-policy-reaches-role", f"key policy statement {sid} allows Principal \"*\"")
        elif how == "role" and sid != "KeybrokerUseKey":
            rep.add("FAIL", "key-policy-reaches-role", f"key policy statement {sid} allows the role")

    boundary = (role.get("PermissionsBoundary") or {}).get("PermissionsBoundaryArn")
    allowed_by_boundary = True
    if boundary:
        version = iam.get_policy(PolicyArn=boundary)["Policy"]["DefaultVersionId"]
        bdoc = as_doc(iam.get_policy_version(PolicyArn=boundary, VersionId=version)["PolicyVersion"]["Document"])
        allowed_by_boundary = any(reaches_kms(s, key_arn) for s in as_list(bdoc.get("Statement")))
        rep.add("INFO" if allowed_by_boundary else "WARN", "permissions-boundary",
                f"permissions boundary {boundary} {'allows' if allowed_by_boundary else 'does not allow'} KMS use of this key"
                + ("" if allowed_by_boundary else ": its implicit deny makes KeybrokerUseKey ineffective (BYOK verify fails)"))
    for label, doc in identity_policies(iam, role_name):
        doc = as_doc(doc)
        hits = [s for s in as_list(doc.get("Statement")) if reaches_kms(s, key_arn)]
        if not hits:
            rep.add("WARN", "identity-policy", f"{label} is attached to the role (allows no KMS use of this key)")
        elif delegates and allowed_by_boundary:
            rep.add("FAIL", "identity-policy-allows-kms", f"{label} allows KMS use of this key, and the key policy delegates to IAM: it survives removing KeybrokerUseKey")
        else:
            rep.add("WARN", "identity-policy-allows-kms", f"{label} allows KMS use of this key (ineffective today: {'the boundary' if not allowed_by_boundary else 'the key policy does not delegate to IAM'})")

    grant_findings(rep, kms, key_arn, role_arn, inside, covered)
    if meta.get("MultiRegion"):
        replica_findings(rep, session, meta, key_arn, policy, role_arn, inside, covered)

    if revoked:
        # The explicit Deny beats every Allow, identity policy and grant that
        # reaches the role: the rest is what would come back the day access is
        # re-enabled. It does not cover other principals or other keys.
        for f in rep.findings:
            if f["level"] == "FAIL" and f["code"] not in BEYOND_THE_SWITCH:
                f["level"] = "WARN"
                f["detail"] += " (overridden while the explicit Deny is in force)"
    guaranteed = not rep.fails()
    return {"key_arn": key_arn, "role_arn": role_arn, "key_state": state, "switch": switch,
            "multi_region": bool(meta.get("MultiRegion")), "guaranteed": guaranteed, "findings": rep.findings}


def main(argv=None):
    ap = argparse.ArgumentParser(description="Check that revoking keybroker's access to your KMS key cannot be bypassed.")
    ap.add_argument("--key-arn", required=True, help="ARN of the BYOK key (module output key_arn)")
    ap.add_argument("--role-arn", required=True, help="ARN of the role keybroker assumes (module output role_arn)")
    ap.add_argument("--allow-account", action="append", default=[], metavar="ACCOUNT_ID",
                    help="another account of yours whose principals may appear in grants and Allows (repeatable; never the broker's)")
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    args = ap.parse_args(argv)
    try:
        result = check(boto3.session.Session(), args.key_arn, args.role_arn, args.allow_account)
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
