"""The repo's one renderer of its policy templates (*.json.tftpl).

terraform/check.sh and infra/check.sh import it, and the Rust tests run it
(tests/src/policy.rs `render_template` calls `python3 policy_render.py render
PATH` with the values as a JSON object on stdin), so the checks and the suite
render the templates the same way, and as Terraform's templatefile() does for
plain ${name} placeholders: a trivial substitution, verified byte for byte
against `terraform console` by the check scripts when terraform is installed.
Standard library only.

Command line: `policy_render.py render TEMPLATE < values.json` prints the
rendered template; exit 1 (and a message on stderr) when the template breaks
the placeholder contract for these values: a placeholder without a value, a
value no placeholder uses, or a directive or escape (`%{`, `$${`).
"""

import json
import os
import re
import subprocess
import sys

PLACEHOLDER = re.compile(r"\$\{([^}]*)\}")


def render(text, values):
    """Substitute every ${name} with values[name] (KeyError if one is missing)."""
    return PLACEHOLDER.sub(lambda m: values[m.group(1)], text)


def contract_problems(name, text, expected):
    """What breaks the placeholder contract in template `name`: only plain
    ${identifier} placeholders, exactly `expected`, no directives or escapes."""
    problems = []
    found = set(PLACEHOLDER.findall(text))
    bad = [p for p in found if not re.fullmatch(r"[a-z_][a-z0-9_]*", p)]
    if bad:
        problems.append(f"{name}: non-plain placeholders {bad}")
    if found != set(expected):
        problems.append(f"{name}: placeholders {sorted(found)} != expected {sorted(expected)}")
    if "%{" in text or "$${" in text or "%%{" in text:
        problems.append(f"{name}: contains template directives or escapes")
    return problems


def templatefile_matches(terraform, tmp, template_path, values, rendered, label):
    """True when Terraform's templatefile(template_path, values) is
    byte-identical to `rendered`; otherwise (False, detail)."""
    path = os.path.join(tmp, label + ".json")
    with open(path, "w", encoding="utf-8") as f:
        f.write(rendered)
    args = ", ".join(f"{k} = {json.dumps(v)}" for k, v in sorted(values.items()))
    expr = f"templatefile({json.dumps(template_path)}, {{{args}}}) == file({json.dumps(path)})"
    out = subprocess.run([terraform, "console"], input=expr + "\n", cwd=tmp,
                         capture_output=True, text=True)
    ok = out.returncode == 0 and out.stdout.strip() == "true"
    return ok, f"{out.stdout.strip()} {out.stderr.strip()[-400:]}"


def main(argv):
    """`render TEMPLATE`: values (a JSON object of strings) on stdin."""
    if len(argv) != 3 or argv[1] != "render":
        print("usage: policy_render.py render TEMPLATE < values.json", file=sys.stderr)
        return 2
    with open(argv[2], encoding="utf-8") as f:
        text = f.read()
    values = json.load(sys.stdin)
    problems = contract_problems(argv[2], text, values.keys())
    if problems:
        print("\n".join(problems), file=sys.stderr)
        return 1
    sys.stdout.write(render(text, values))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
