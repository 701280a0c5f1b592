#!/usr/bin/env bash
# Offline checks for the customer Terraform module (no provider download needed):
#   1. `terraform fmt -check -recursive` when terraform is installed;
#   2. render every policy template with sample values (python3, stdlib only),
#      for broker_access = "enabled" and "revoked" (and a session cut-off),
#      with the repo's one renderer (scripts/policy_render.py, also used by
#      infra/check.sh), and validate the JSON and the security-relevant shape:
#      the standing Denies are always there, the switch is an Allow or an
#      explicit Deny;
#   3. when terraform is installed, cross-check that Terraform's own
#      templatefile() produces byte-identical output to the trivial ${var}
#      substitution used here (and by the Rust tests).
#   4. when terraform is installed, evaluate main.tf's locals (no provider:
#      data sources and the role ARN replaced by sample values) and check
#      that its key policy equals the rendered one for broker_access enabled,
#      revoked, the deprecated enable_broker_access = false, and a session
#      cut-off;
#   5. optional, only when KEYBROKER_TF_PLUGIN_DIR points at a local provider
#      mirror (nothing is downloaded): `terraform init -plugin-dir`, `validate`
#      (module + examples/basic) and `terraform test` (mock provider) in a
#      throw-away copy, so no .terraform/ is left in the repo.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../scripts/check_lib.sh
. "$here/../scripts/check_lib.sh"
cd "$here"

kb_terraform_setup "$here"

echo "== render + validate policy templates"
kb_python - "$here" <<'PY'
import json, os, subprocess, sys, tempfile

from policy_render import contract_problems, render, templatefile_matches  # the repo's one renderer

module_dir = sys.argv[1]
pol = os.path.join(module_dir, "policies")
TF = os.environ.get("KB_TERRAFORM", "")

# The placeholder contract (keep in sync with policies/README.md and main.tf).
EXPECTED = {
    "trust-policy.json.tftpl": {"broker_principal_arns_json", "external_id"},
    "broker-key-statement.json.tftpl": {"broker_role_arn", "workspace_id"},
    "broker-revoke-statement.json.tftpl": {"broker_role_arn"},
    "broker-session-cutoff-statement.json.tftpl": {"broker_role_arn", "sessions_issued_before"},
    "key-policy.json.tftpl": {"partition", "account_id", "key_admins_json", "broker_account_ids_json",
                              "broker_role_arn", "workspace_id", "broker_statement",
                              "session_cutoff_statement"},
}

failures = []

def fail(msg):
    failures.append(msg)
    print("FAIL:", msg)

def check(cond, msg):
    if not cond:
        fail(msg)

def read(name):
    with open(os.path.join(pol, name), encoding="utf-8") as f:
        return f.read()

# 1. placeholder hygiene: only plain ${identifier}, no directives / escapes.
on_disk = {n for n in os.listdir(pol) if n.endswith(".tftpl")}
check(on_disk == set(EXPECTED), f"templates on disk {sorted(on_disk)} != contract {sorted(EXPECTED)}")
for name, expected in EXPECTED.items():
    for problem in contract_problems(name, read(name), expected):
        fail(problem)
    print(f"  {name}: placeholders {sorted(expected)}")

# 2. sample values (same shapes the module passes).
ACCOUNT = "222222222222"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/keybroker/KeybrokerAccess"
WORKSPACE = "acme-prod"
CUTOFF = "2026-11-25T22:00:00Z"
BROKER_PRINCIPALS = [
    "arn:aws:iam::111111111111:role/keybroker/keybroker-inject",
    "arn:aws:iam::111111111111:role/keybroker/keybroker-admin",
]
BROKER_ACCOUNTS = ["111111111111"]  # what main.tf derives from BROKER_PRINCIPALS
admins = [f"arn:aws:iam::{ACCOUNT}:role/SecurityAdmin", f"arn:aws:iam::{ACCOUNT}:user/alice"]
compact = lambda v: json.dumps(v, separators=(",", ":"))  # like Terraform's jsonencode()

files, values = {}, {}
files["trust"], values["trust"] = "trust-policy.json.tftpl", {
    "broker_principal_arns_json": compact(BROKER_PRINCIPALS),
    "external_id": "kb-ext-7f3c9a1e5b2d4f6a8c0e1b3d5f7a9c2e:x/y@z=1,2+3.4_5-6",
}
files["allow"], values["allow"] = "broker-key-statement.json.tftpl", {"broker_role_arn": ROLE_ARN, "workspace_id": WORKSPACE}
files["revoke"], values["revoke"] = "broker-revoke-statement.json.tftpl", {"broker_role_arn": ROLE_ARN}
files["cutoff"], values["cutoff"] = "broker-session-cutoff-statement.json.tftpl", {"broker_role_arn": ROLE_ARN, "sessions_issued_before": CUTOFF}
rendered = {label: render(read(files[label]), values[label]) for label in list(files)}

# The key policy as main.tf splices it: the switch statement (Allow or Deny),
# then the optional session cut-off, each with a leading comma.
for label, switch, cutoff, admin_list in [
    ("key_enabled", "allow", False, admins),
    ("key_revoked", "revoke", False, admins),
    ("key_enabled_root_admin", "allow", False, [f"arn:aws:iam::{ACCOUNT}:root"]),
    ("key_enabled_cutoff", "allow", True, admins),
]:
    files[label] = "key-policy.json.tftpl"
    values[label] = {
        "partition": "aws",
        "account_id": ACCOUNT,
        "key_admins_json": compact(admin_list),
        "broker_account_ids_json": compact(BROKER_ACCOUNTS),
        "broker_role_arn": ROLE_ARN,
        "workspace_id": WORKSPACE,
        "broker_statement": "," + rendered[switch],
        "session_cutoff_statement": ("," + rendered["cutoff"]) if cutoff else "",
    }
    rendered[label] = render(read(files[label]), values[label])

docs = {}
for label, text in rendered.items():
    try:
        docs[label] = json.loads(text)
        print(f"  {label}: valid JSON")
    except json.JSONDecodeError as e:
        fail(f"{label}: invalid JSON: {e}")

# 3. shape checks.
if "trust" in docs:
    st = docs["trust"]["Statement"]
    check(len(st) == 2, "trust: exactly two statements (AssumeRole, SetSourceIdentity)")
    s, si = st[0], st[1] if len(st) > 1 else {}
    source_identity = {"StringLike": {"sts:SourceIdentity": "keybroker-*"}}
    check(s["Effect"] == "Allow" and s["Action"] == "sts:AssumeRole", "trust: Allow sts:AssumeRole only")
    check(s["Principal"] == {"AWS": BROKER_PRINCIPALS}, "trust: principals are exactly the broker's roles")
    check(s["Condition"] == dict({"StringEquals": {"sts:ExternalId": values["trust"]["external_id"]}}, **source_identity),
          "trust: ExternalId condition and a keybroker-* SourceIdentity required")
    check(si.get("Effect") == "Allow" and si.get("Action") == "sts:SetSourceIdentity"
          and si.get("Principal") == {"AWS": BROKER_PRINCIPALS} and si.get("Condition") == source_identity,
          "trust: the broker's roles may set a keybroker-* SourceIdentity, nothing else")

ONLY_ROLE = {"ArnEquals": {"aws:PrincipalArn": ROLE_ARN}}
expected_allow = {
    "Sid": "KeybrokerUseKey",
    "Effect": "Allow",
    "Principal": {"AWS": ROLE_ARN},
    "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
    "Resource": "*",
    "Condition": {
        "StringEquals": {"kms:EncryptionContext:workspace": WORKSPACE},
        "ForAllValues:StringEquals": {"kms:EncryptionContextKeys": ["workspace", "secret"]},
        "Null": {"kms:EncryptionContextKeys": "false", "kms:EncryptionContext:secret": "false"},
    },
}
def deny(sid, extra=None, action="kms:*", not_action=None):
    d = {"Sid": sid, "Effect": "Deny", "Principal": {"AWS": "*"}}
    if not_action:
        d["NotAction"] = not_action
    else:
        d["Action"] = action
    d["Resource"] = "*"
    d["Condition"] = dict(ONLY_ROLE, **(extra or {}))
    return d
expected_revoke = deny("KeybrokerRevoked")
expected_cutoff = deny("KeybrokerRevokeOlderSessions", {"DateLessThan": {"aws:TokenIssueTime": CUTOFF}})
# The standing Denies, always present whatever the switch says.
STANDING = [
    deny("KeybrokerDenyAllButGenerateDataKeyAndDecrypt", not_action=["kms:GenerateDataKey", "kms:Decrypt"]),
    deny("KeybrokerDenyOtherWorkspaces", {"StringNotEquals": {"kms:EncryptionContext:workspace": WORKSPACE}}),
    deny("KeybrokerDenyMissingSecretContext", {"Null": {"kms:EncryptionContext:secret": "true"}}),
    deny("KeybrokerDenyExtraContextKeys", {"ForAnyValue:StringNotEquals": {"kms:EncryptionContextKeys": ["workspace", "secret"]}}),
    # Every principal of the broker's own account(s), whatever names it
    # (a grant, a key-policy Allow for its roles or its root).
    {"Sid": "KeybrokerDenyPlatformAccount", "Effect": "Deny", "Principal": {"AWS": "*"}, "Action": "kms:*",
     "Resource": "*", "Condition": {"StringEquals": {"aws:PrincipalAccount": BROKER_ACCOUNTS}}},
]
check(docs.get("allow") == expected_allow, "KeybrokerUseKey: unexpected content")
check(docs.get("revoke") == expected_revoke, "KeybrokerRevoked: unexpected content")
check(docs.get("cutoff") == expected_cutoff, "KeybrokerRevokeOlderSessions: unexpected content")

def sids(doc):
    return [s.get("Sid") for s in doc["Statement"]]

for label in ("key_enabled", "key_revoked", "key_enabled_root_admin", "key_enabled_cutoff"):
    if label not in docs:
        continue
    d = docs[label]
    st = d["Statement"]
    check(d.get("Version") == "2012-10-17", f"{label}: Version")
    switch = expected_revoke if label == "key_revoked" else expected_allow
    tail = [expected_cutoff] if label.endswith("cutoff") else []
    check(st[2:] == STANDING + [switch] + tail, f"{label}: broker statements {sids(d)[2:]} are not the standing Denies + switch")
    root = st[0]
    check(root["Principal"] == {"AWS": f"arn:aws:iam::{ACCOUNT}:root"} and root["Action"] == "kms:*", f"{label}: root statement")
    # No Allow but KeybrokerUseKey may name the broker role.
    others = [s for s in st if s["Effect"] == "Allow" and s.get("Sid") != "KeybrokerUseKey"]
    check(ROLE_ARN not in json.dumps(others), f"{label}: broker role appears in another Allow")
    if label == "key_revoked":
        check("KeybrokerUseKey" not in sids(d), "key_revoked: the Allow must be gone")
if "key_enabled" in docs:
    check(docs["key_enabled"]["Statement"][1]["Principal"] == {"AWS": admins}, "key_enabled: admin list")

# 4. cross-check against Terraform's templatefile() (no providers needed).
if TF:
    print("== cross-check with terraform templatefile()")
    with tempfile.TemporaryDirectory() as tmp:
        for label, text in rendered.items():
            ok, detail = templatefile_matches(TF, tmp, os.path.join(pol, files[label]), values[label], text, label)
            print(f"  {label}: {'identical' if ok else 'DIFFERENT'}")
            if not ok:
                fail(f"{label}: terraform templatefile() output differs: {detail}")

# 5. main.tf splices the templates exactly as rendered above: evaluate its
#    locals with `terraform console` (data sources and the role ARN replaced
#    by the sample values, so no provider is needed) for each switch setting.
if TF:
    print("== main.tf locals.key_policy for each switch setting")
    main_tf = open(os.path.join(module_dir, "main.tf"), encoding="utf-8").read()
    a = main_tf.index("locals {")
    b = main_tf.index("\n}\n", a) + 3
    locals_tf = (main_tf[a:b]
                 .replace("data.aws_caller_identity.current.account_id", json.dumps(ACCOUNT))
                 .replace("data.aws_partition.current.partition", '"aws"')
                 .replace("aws_iam_role.broker.arn", json.dumps(ROLE_ARN))
                 .replace("${path.module}", module_dir))
    with tempfile.TemporaryDirectory() as tmp:
        with open(os.path.join(tmp, "main.tf"), "w", encoding="utf-8") as f:
            f.write(locals_tf + "\n" + open(os.path.join(module_dir, "variables.tf"), encoding="utf-8").read())
        common = ["-var", f"workspace_id={WORKSPACE}", "-var", f"broker_principal_arns={json.dumps(BROKER_PRINCIPALS)}",
                  "-var", f"external_id={values['trust']['external_id']}", "-var", f"key_admin_arns={json.dumps(admins)}"]
        for label, extra in [
            ("key_enabled", []),
            ("key_revoked", ["-var", "broker_access=revoked"]),
            ("key_revoked", ["-var", "enable_broker_access=false"]),
            ("key_enabled_cutoff", ["-var", f"revoke_sessions_issued_before={CUTOFF}"]),
        ]:
            path = os.path.join(tmp, label + ".json")
            with open(path, "w", encoding="utf-8") as f:
                f.write(rendered[label])
            expr = f"jsondecode(local.key_policy) == jsondecode(file({json.dumps(path)}))"
            out = subprocess.run([TF, "console"] + common + extra, input=expr + "\n", cwd=tmp,
                                 capture_output=True, text=True)
            ok = out.returncode == 0 and out.stdout.strip() == "true"
            print(f"  {label} {' '.join(extra[1::2]) or '(defaults)'}: {'same' if ok else 'DIFFERENT'}")
            if not ok:
                fail(f"main.tf key policy for {extra or 'defaults'} differs from {label}: {out.stdout.strip()} {out.stderr.strip()[-400:]}")

if failures:
    print(f"{len(failures)} check(s) failed")
    sys.exit(1)
print("all policy template checks passed")
PY

echo "== readiness/check_revocation.py parses (run against the stack by the e2e suite: e2e readiness::*)"
python3 -c 'import sys; compile(open(sys.argv[1]).read(), sys.argv[1], "exec")' "$here/readiness/check_revocation.py"
echo "ok"

if kb_plugin_dir_enabled; then
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  cp -r "$here" "$work/module"
  rm -rf "$work/module/.terraform" "$work/module/examples/basic/.terraform"
  for dir in "$work/module" "$work/module/examples/basic"; do
    (cd "$dir" && terraform init -backend=false -input=false -no-color \
        -plugin-dir="$KEYBROKER_TF_PLUGIN_DIR" >/dev/null && terraform validate -no-color)
  done
  (cd "$work/module" && terraform test -no-color)
fi
