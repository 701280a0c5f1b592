#!/usr/bin/env bash
# Offline checks for the customer Terraform module (no provider download needed):
#   1. `terraform fmt -check -recursive` when terraform is installed;
#   2. render every policy template with sample values (python3, stdlib only),
#      for both enable_broker_access = true and false, and validate the JSON
#      and the security-relevant shape of the result;
#   3. when terraform is installed, cross-check that Terraform's own
#      templatefile() produces byte-identical output to the trivial ${var}
#      substitution used here (and by the Rust tests).
#   4. optional, only when KEYBROKER_TF_PLUGIN_DIR points at a local provider
#      mirror (nothing is downloaded): `terraform init -plugin-dir`, `validate`
#      (module + examples/basic) and `terraform test` (mock provider) in a
#      throw-away copy, so no .terraform/ is left in the repo.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"

if command -v terraform >/dev/null 2>&1; then
  # fmt/console need no CLI config; silence the "Unable to open CLI
  # configuration file" warning when the user has none.
  if [ ! -e "${TF_CLI_CONFIG_FILE:-${HOME:-/nonexistent}/.terraformrc}" ]; then
    export TF_CLI_CONFIG_FILE=/dev/null
  fi
  echo "== terraform fmt -check -recursive"
  terraform fmt -check -recursive -diff "$here"
  echo "ok"
  export KB_TERRAFORM="$(command -v terraform)"
else
  echo "terraform not installed; skipping fmt check"
  export KB_TERRAFORM=""
fi

echo "== render + validate policy templates"
python3 - "$here" <<'PY'
import json, os, re, subprocess, sys, tempfile

root = sys.argv[1]
pol = os.path.join(root, "policies")
TF = os.environ.get("KB_TERRAFORM", "")

# The placeholder contract (keep in sync with policies/README.md and main.tf).
EXPECTED = {
    "trust-policy.json.tftpl": {"broker_principal_arns_json", "external_id"},
    "broker-key-statement.json.tftpl": {"broker_role_arn", "workspace_id"},
    "key-policy.json.tftpl": {"partition", "account_id", "key_admins_json", "broker_statement"},
}

PLACEHOLDER = re.compile(r"\$\{([^}]*)\}")
failures = []

def fail(msg):
    failures.append(msg)
    print("FAIL:", msg)

def read(name):
    with open(os.path.join(pol, name), encoding="utf-8") as f:
        return f.read()

def render(text, values):
    """Trivial ${name} substitution -- exactly what the Rust tests do."""
    def sub(m):
        return values[m.group(1)]
    return PLACEHOLDER.sub(sub, text)

# 1. placeholder hygiene: only plain ${identifier}, no directives / escapes.
for name, expected in EXPECTED.items():
    text = read(name)
    found = set(PLACEHOLDER.findall(text))
    bad = [p for p in found if not re.fullmatch(r"[a-z_][a-z0-9_]*", p)]
    if bad:
        fail(f"{name}: non-plain placeholders {bad}")
    if found != expected:
        fail(f"{name}: placeholders {sorted(found)} != expected {sorted(expected)}")
    if "%{" in text or "$${" in text or "%%{" in text:
        fail(f"{name}: contains template directives or escapes")
    print(f"  {name}: placeholders {sorted(found)}")

# 2. sample values (same shapes the module passes).
ACCOUNT = "222222222222"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/keybroker/KeybrokerAccess"
WORKSPACE = "acme-prod"
BROKER_PRINCIPALS = [
    "arn:aws:iam::111111111111:role/keybroker-inject",
    "arn:aws:iam::111111111111:role/keybroker-admin",
]
trust_vals = {
    # As main.tf passes it: jsonencode(var.broker_principal_arns), compact.
    "broker_principal_arns_json": json.dumps(BROKER_PRINCIPALS, separators=(",", ":")),
    "external_id": "kb-ext-7f3c9a1e5b2d4f6a8c0e1b3d5f7a9c2e:x/y@z=1,2+3.4_5-6",
}
stmt_vals = {"broker_role_arn": ROLE_ARN, "workspace_id": WORKSPACE}
admins = [f"arn:aws:iam::{ACCOUNT}:role/SecurityAdmin", f"arn:aws:iam::{ACCOUNT}:user/alice"]

rendered = {}
rendered["trust"] = render(read("trust-policy.json.tftpl"), trust_vals)
rendered["stmt"] = render(read("broker-key-statement.json.tftpl"), stmt_vals)
for label, broker_statement, admin_list in [
    ("key_on", "," + rendered["stmt"], admins),
    ("key_off", "", admins),
    ("key_on_root_admin", "," + rendered["stmt"], [f"arn:aws:iam::{ACCOUNT}:root"]),
]:
    rendered[label] = render(read("key-policy.json.tftpl"), {
        "partition": "aws",
        "account_id": ACCOUNT,
        # compact, like Terraform's jsonencode() (any JSON array text works)
        "key_admins_json": json.dumps(admin_list, separators=(",", ":")),
        "broker_statement": broker_statement,
    })

docs = {}
for label, text in rendered.items():
    try:
        docs[label] = json.loads(text)
        print(f"  {label}: valid JSON")
    except json.JSONDecodeError as e:
        fail(f"{label}: invalid JSON: {e}")

# 3. shape checks.
def check(cond, msg):
    if not cond:
        fail(msg)

if "trust" in docs:
    st = docs["trust"]["Statement"]
    check(len(st) == 1, "trust: exactly one statement")
    s = st[0]
    check(s["Effect"] == "Allow" and s["Action"] == "sts:AssumeRole", "trust: Allow sts:AssumeRole only")
    check(s["Principal"] == {"AWS": BROKER_PRINCIPALS}, "trust: principals are exactly the broker's roles")
    check(s["Condition"] == {"StringEquals": {"sts:ExternalId": trust_vals["external_id"]}}, "trust: ExternalId condition")

expected_broker = {
    "Sid": "KeybrokerUseKey",
    "Effect": "Allow",
    "Principal": {"AWS": ROLE_ARN},
    "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
    "Resource": "*",
    "Condition": {
        "StringEquals": {"kms:EncryptionContext:workspace": WORKSPACE},
        "ForAllValues:StringEquals": {"kms:EncryptionContextKeys": ["workspace", "secret"]},
        "Null": {"kms:EncryptionContextKeys": "false"},
    },
}
if "stmt" in docs:
    check(docs["stmt"] == expected_broker, "broker statement: unexpected content")

def sids(doc):
    return [s.get("Sid") for s in doc["Statement"]]

for label in ("key_on", "key_off", "key_on_root_admin"):
    if label not in docs:
        continue
    d = docs[label]
    check(d.get("Version") == "2012-10-17", f"{label}: Version")
    want = ["Enable IAM User Permissions", "KeyAdministrators"] + (["KeybrokerUseKey"] if label != "key_off" else [])
    check(sids(d) == want, f"{label}: statement Sids {sids(d)} != {want}")
    root = d["Statement"][0]
    check(root["Principal"] == {"AWS": f"arn:aws:iam::{ACCOUNT}:root"} and root["Action"] == "kms:*", f"{label}: root statement")
    if label != "key_off":
        check(d["Statement"][2] == expected_broker, f"{label}: embedded broker statement")
    # nothing but the broker statement may name the broker role
    others = [s for s in d["Statement"] if s.get("Sid") != "KeybrokerUseKey"]
    check(ROLE_ARN not in json.dumps(others), f"{label}: broker role appears outside KeybrokerUseKey")
if "key_on" in docs:
    check(docs["key_on"]["Statement"][1]["Principal"] == {"AWS": admins}, "key_on: admin list")

# 4. cross-check against Terraform's templatefile() (no providers needed).
if TF:
    print("== cross-check with terraform templatefile()")
    with tempfile.TemporaryDirectory() as tmp:
        def tf_equal(label, expr):
            path = os.path.join(tmp, label + ".json")
            with open(path, "w", encoding="utf-8") as f:
                f.write(rendered[label])
            full = f'({expr}) == file({json.dumps(path)})'
            out = subprocess.run([TF, "console"], input=full + "\n", cwd=tmp,
                                 capture_output=True, text=True)
            ok = out.returncode == 0 and out.stdout.strip() == "true"
            print(f"  {label}: {'identical' if ok else 'DIFFERENT'}")
            if not ok:
                fail(f"{label}: terraform templatefile() output differs: {out.stdout.strip()} {out.stderr.strip()[-400:]}")

        def hcl(s):
            return json.dumps(s)  # JSON string literal is a valid HCL string here (no ${ or %{)

        def tmpl(name):
            return hcl(os.path.join(pol, name))

        trust_expr = "templatefile(%s, {broker_principal_arns_json = jsonencode(%s), external_id = %s})" % (
            tmpl("trust-policy.json.tftpl"), json.dumps(BROKER_PRINCIPALS), hcl(trust_vals["external_id"]))
        stmt_expr = "templatefile(%s, {broker_role_arn = %s, workspace_id = %s})" % (
            tmpl("broker-key-statement.json.tftpl"), hcl(ROLE_ARN), hcl(WORKSPACE))
        def key_expr(admin_list, broker_on):
            # mirrors locals.broker_statement / locals.key_policy in main.tf
            broker = 'join("", [",", %s])' % stmt_expr if broker_on else '""'
            return ("templatefile(%s, {partition = \"aws\", account_id = %s, "
                    "key_admins_json = jsonencode(%s), broker_statement = %s})") % (
                tmpl("key-policy.json.tftpl"), hcl(ACCOUNT),
                "[" + ", ".join(hcl(a) for a in admin_list) + "]", broker)

        tf_equal("trust", trust_expr)
        tf_equal("stmt", stmt_expr)
        tf_equal("key_on", key_expr(admins, True))
        tf_equal("key_off", key_expr(admins, False))
        tf_equal("key_on_root_admin", key_expr([f"arn:aws:iam::{ACCOUNT}:root"], True))

if failures:
    print(f"{len(failures)} check(s) failed")
    sys.exit(1)
print("all policy template checks passed")
PY

if [ -n "${KEYBROKER_TF_PLUGIN_DIR:-}" ] && [ -n "$KB_TERRAFORM" ]; then
  echo "== terraform init/validate/test with local plugin dir $KEYBROKER_TF_PLUGIN_DIR"
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  cp -r "$here" "$work/module"
  rm -rf "$work/module/.terraform" "$work/module/examples/basic/.terraform"
  for dir in "$work/module" "$work/module/examples/basic"; do
    (cd "$dir" && terraform init -backend=false -input=false -no-color \
        -plugin-dir="$KEYBROKER_TF_PLUGIN_DIR" >/dev/null && terraform validate -no-color)
  done
  (cd "$work/module" && terraform test -no-color)
else
  echo "KEYBROKER_TF_PLUGIN_DIR not set; skipping terraform init/validate/test"
fi
