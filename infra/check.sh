#!/usr/bin/env bash
# Offline checks for the broker's own Terraform (infra/); nothing is downloaded:
#   1. `terraform fmt -check -recursive` when terraform is installed;
#   2. render every policy template with sample values (python3, stdlib only),
#      check the placeholder contract, the JSON, and the shape that matters
#      (no "*" resource in identity policies, no wildcard actions, the key
#      policy's root statement grants no cryptographic use);
#   3. when terraform is installed, check that Terraform's own templatefile()
#      gives byte-identical output to the trivial ${var} substitution used
#      here and by tests/tests/policies.rs (which checks the action sets);
#   4. only when KEYBROKER_TF_PLUGIN_DIR points at a local provider mirror:
#      `terraform init -plugin-dir`, `validate` and `terraform test` (mock
#      provider, tests/*.tftest.hcl) in a throw-away copy;
#   5. the agent-runtime examples parse (Python, JSON) and
#      scripts/package-lambda.sh is valid bash.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../scripts/check_lib.sh
. "$here/../scripts/check_lib.sh"
repo="$KB_REPO"
cd "$here"

kb_terraform_setup "$here"

echo "== render + validate infra policy templates"
kb_python - "$here" <<'PY'
import json, os, re, sys, tempfile

from policy_render import contract_problems, render, templatefile_matches  # the repo's one renderer

root = sys.argv[1]
pol = os.path.join(root, "policies")
TF = os.environ.get("KB_TERRAFORM", "")

# The placeholder contract (keep in sync with policies/README.md and the .tf files).
EXPECTED = {
    "lambda-trust-policy.json.tftpl": set(),
    "inject-role-policy.json.tftpl": {"table_arn", "platform_key_arns_json", "customer_role_arns_json", "log_group_arn"},
    "admin-role-policy.json.tftpl": {"table_arn", "platform_key_arns_json", "active_platform_key_arn", "customer_role_arns_json", "log_group_arn"},
    "platform-key-policy.json.tftpl": {"partition", "account_id", "inject_role_arn", "admin_role_arn", "generate_data_key_statement"},
    "platform-key-generate-statement.json.tftpl": {"admin_role_arn"},
    "agent-runtime-policy.json.tftpl": {"inject_function_arn"},
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

on_disk = {n for n in os.listdir(pol) if n.endswith(".tftpl")}
check(on_disk == set(EXPECTED), f"templates on disk {sorted(on_disk)} != contract {sorted(EXPECTED)}")

for name, expected in EXPECTED.items():
    for problem in contract_problems(name, read(name), expected):
        fail(problem)

# Sample values (the same as tests/tests/policies.rs).
ACCOUNT = "111111111111"
TABLE = f"arn:aws:dynamodb:eu-west-1:{ACCOUNT}:table/keybroker"
KEY_V1 = f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/11111111-2222-3333-4444-555555555555"
KEY_V2 = f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/66666666-7777-8888-9999-000000000000"
INJECT_ROLE = f"arn:aws:iam::{ACCOUNT}:role/keybroker-inject"
ADMIN_ROLE = f"arn:aws:iam::{ACCOUNT}:role/keybroker-admin"
LOGS = f"arn:aws:logs:eu-west-1:{ACCOUNT}:log-group:/aws/lambda/keybroker-"
CUSTOMER_ROLES = ["arn:aws:iam::*:role/keybroker/*"]
INJECT_FN = f"arn:aws:lambda:eu-west-1:{ACCOUNT}:function:keybroker-inject"
compact = lambda v: json.dumps(v, separators=(",", ":"))  # like Terraform's jsonencode()

values = {}
values["trust"] = {}
values["inject"] = {"table_arn": TABLE, "platform_key_arns_json": compact([KEY_V1, KEY_V2]),
                    "customer_role_arns_json": compact(CUSTOMER_ROLES), "log_group_arn": LOGS + "inject"}
values["admin"] = {"table_arn": TABLE, "platform_key_arns_json": compact([KEY_V1, KEY_V2]),
                   "active_platform_key_arn": KEY_V2, "customer_role_arns_json": compact(CUSTOMER_ROLES),
                   "log_group_arn": LOGS + "admin"}
values["generate"] = {"admin_role_arn": ADMIN_ROLE}
values["agent"] = {"inject_function_arn": INJECT_FN}
files = {"trust": "lambda-trust-policy.json.tftpl", "inject": "inject-role-policy.json.tftpl",
         "admin": "admin-role-policy.json.tftpl", "generate": "platform-key-generate-statement.json.tftpl",
         "agent": "agent-runtime-policy.json.tftpl"}

rendered = {label: render(read(files[label]), values[label]) for label in files}
key_common = {"partition": "aws", "account_id": ACCOUNT, "inject_role_arn": INJECT_ROLE, "admin_role_arn": ADMIN_ROLE}
values["key_active"] = dict(key_common, generate_data_key_statement="," + rendered["generate"])
values["key_retired"] = dict(key_common, generate_data_key_statement="")
for label in ("key_active", "key_retired"):
    files[label] = "platform-key-policy.json.tftpl"
    rendered[label] = render(read(files[label]), values[label])

docs = {}
for label, text in rendered.items():
    try:
        docs[label] = json.loads(text)
        print(f"  {label}: valid JSON")
    except json.JSONDecodeError as e:
        fail(f"{label}: invalid JSON: {e}")

def as_list(v):
    return v if isinstance(v, list) else [v]

def statements(doc):
    return doc.get("Statement", [doc]) if "Statement" in doc else [doc]

CRYPTO = re.compile(r"^kms:(Decrypt|Encrypt|ReEncrypt.*|GenerateDataKey.*|CreateGrant|GenerateMac|Sign|Verify.*|DeriveSharedSecret)$")

for label, doc in docs.items():
    if label == "generate":
        continue
    check(doc.get("Version") == "2012-10-17", f"{label}: Version must be 2012-10-17")
    for s in statements(doc):
        check(s.get("Effect") == "Allow", f"{label}/{s.get('Sid')}: only Allow statements are expected")
        check("NotAction" not in s and "NotResource" not in s, f"{label}/{s.get('Sid')}: NotAction/NotResource not allowed")
        for a in as_list(s.get("Action", [])):
            check("*" not in a, f"{label}/{s.get('Sid')}: wildcard action {a!r}")
        if label in ("inject", "admin", "agent"):
            for r in as_list(s.get("Resource")):
                check(r != "*", f"{label}/{s.get('Sid')}: identity policy with Resource \"*\"")
                check("*" not in r or r in CUSTOMER_ROLES or r.endswith(":*") and r.startswith(LOGS),
                      f"{label}/{s.get('Sid')}: unexpected wildcard resource {r!r}")

for label in ("key_active", "key_retired"):
    if label not in docs:
        continue
    st = docs[label]["Statement"]
    sids = [s["Sid"] for s in st]
    # InjectSealsRefreshedOAuth2Tokens: an oauth2 refresh seals under the
    # key its secret was sealed with, so every generation has it.
    want = ["KeyAdministration", "BrokerDecrypt", "InjectSealsRefreshedOAuth2Tokens"] + (["BrokerGenerateDataKey"] if label == "key_active" else [])
    check(sids == want, f"{label}: statements {sids} != {want}")
    root = st[0]
    check(root["Principal"] == {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, f"{label}: administration is for the account root")
    crypto = [a for a in as_list(root["Action"]) if CRYPTO.match(a)]
    check(not crypto, f"{label}: the root statement grants cryptographic use {crypto}")
    check(all(s["Resource"] == "*" for s in st), f"{label}: key policy statements must say Resource \"*\" (this key)")

if TF:
    print("== cross-check with terraform templatefile()")
    with tempfile.TemporaryDirectory() as tmp:
        for label, text in rendered.items():
            ok, detail = templatefile_matches(TF, tmp, os.path.join(pol, files[label]), values[label], text, label)
            print(f"  {label}: {'identical' if ok else 'DIFFERENT'}")
            if not ok:
                fail(f"{label}: terraform templatefile() output differs: {detail}")

if failures:
    print(f"{len(failures)} check(s) failed")
    sys.exit(1)
print("all infra policy template checks passed")
PY

echo "== agent-runtime examples and packaging script"
python3 -c 'import sys; compile(open(sys.argv[1]).read(), sys.argv[1], "exec")' "$repo/examples/agent-client/invoke.py"
python3 -c 'import json, sys; json.load(open(sys.argv[1]))' "$repo/examples/agent-client/agent-runtime-policy.json"
bash -n "$repo/scripts/package-lambda.sh"
if command -v shellcheck >/dev/null 2>&1; then
  shellcheck -x "$repo/scripts/package-lambda.sh" "$repo/scripts/check_lib.sh" "$here/check.sh"
fi
echo "ok"

if kb_plugin_dir_enabled; then
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  cp -r "$here" "$work/infra"
  rm -rf "$work/infra/.terraform" "$work/infra/.terraform.lock.hcl"
  (cd "$work/infra" && terraform init -backend=false -input=false -no-color \
      -plugin-dir="$KEYBROKER_TF_PLUGIN_DIR" >/dev/null && terraform validate -no-color \
      && terraform test -no-color)
fi
