#!/usr/bin/env python3
"""The repository's structure rules, checked (docs/ARCHITECTURE.md):

* no source file over 450 lines in any crate's src/;
* no import cycle between the files of a crate;
* no upward import: a file never imports its ancestor module's file
  (a parent's mod.rs declares and re-exports; what children share lives in
  a sibling), and in lambda/ the folders are layers:
  inject | admin -> edge, never edge -> inject/admin, never inject <-> admin.

Imports are read from the text: every `crate::a::b` path (including the
`use crate::{a, b::c}` groups) and every path through a child module the
file declares (`mod c;` ... `c::x`). Comments and strings are stripped
first, so a doc link is not an import. A path resolves to the deepest file
that exists for it. Run by `bash tests/run.sh --fast` (no stack, under a
second); exits 1 with one line per violation.
"""

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CRATES = ["broker-core", "contract", "lambda", "cli", "mcp", "logging", "tests"]
MAX_LINES = 450
# lambda's folders: which may import which (a folder not listed: free).
LAYERS = {"edge": set(), "inject": {"edge"}, "admin": {"edge"}}
IDENT = r"[A-Za-z_][A-Za-z0-9_]*"


def strip_comments_and_strings(text):
    """The code alone: comments, string and char literals blanked."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif text.startswith("/*", i):
            depth, i = 1, i + 2
            while i < n and depth:
                if text.startswith("/*", i):
                    depth, i = depth + 1, i + 2
                elif text.startswith("*/", i):
                    depth, i = depth - 1, i + 2
                else:
                    i += 1
        elif c == "r" and re.match(r'r#*"', text[i:]) and (i == 0 or not text[i - 1].isalnum()):
            hashes = re.match(r'r(#*)"', text[i:]).group(1)
            end = text.find('"' + hashes, i + 2 + len(hashes))
            i = n if end < 0 else end + 1 + len(hashes)
            out.append('""')
        elif c == '"':
            i += 1
            while i < n and text[i] != '"':
                i += 2 if text[i] == "\\" else 1
            i += 1
            out.append('""')
        elif c == "'" and re.match(r"'(\\.|[^\\'])'", text[i:]):
            i += len(re.match(r"'(\\.[^']*|[^\\'])'", text[i:]).group(0))
        else:
            out.append(c)
            i += 1
    return "".join(out)


def expand_use_group(prefix, body):
    """`a::{b, c::{d, e}}` as full paths (the group's text after `{`)."""
    paths, depth, part = [], 0, ""
    for ch in body:
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        if ch == "," and depth == 0:
            paths.append(part)
            part = ""
        else:
            part += ch
    paths.append(part)
    out = []
    for p in (p.strip() for p in paths):
        if not p:
            continue
        m = re.match(r"^(.*?)::\{(.*)\}$", p, re.S)
        if m:
            out += expand_use_group(prefix + [s for s in m.group(1).split("::") if s], m.group(2))
        else:
            out.append(prefix + [s.strip() for s in re.split(r"::| as ", p)[:] if s.strip()])
    return out


def crate_paths(code):
    """Every `crate::...` path the code names, as segment lists."""
    paths = []
    for m in re.finditer(r"\bcrate::((?:" + IDENT + r"::)*)\{", code):
        depth, j = 1, m.end()
        while j < len(code) and depth:
            depth += {"{": 1, "}": -1}.get(code[j], 0)
            j += 1
        prefix = [s for s in m.group(1).split("::") if s]
        paths += expand_use_group(prefix, code[m.end(): j - 1])
    for m in re.finditer(r"\bcrate((?:::" + IDENT + r")+)", code):
        if not code.startswith("::{", m.end()):
            paths.append(m.group(1).split("::")[1:])
    return paths


def module_file(src, segments):
    """The deepest file under `src` that a prefix of `segments` names."""
    best = None
    for k in range(1, len(segments) + 1):
        base = src.joinpath(*segments[:k])
        if base.with_suffix(".rs").is_file():
            best = base.with_suffix(".rs")
        elif (base / "mod.rs").is_file():
            best = base / "mod.rs"
        else:
            break
    return best


def module_of(src, f):
    """A file's module path (segments below the crate root)."""
    rel = f.relative_to(src).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "mod":
        parts.pop()
    if parts and parts[0] == "bin":
        return None  # each bin is its own crate root
    return parts


def child_dir(src, f):
    """Where the modules `f` declares live."""
    if f.name in ("mod.rs", "lib.rs", "main.rs"):
        return f.parent
    return f.with_suffix("")


def check_crate(crate):
    problems = []
    src = ROOT / crate / "src"
    if not src.is_dir():
        return problems
    files = sorted(src.rglob("*.rs"))
    edges = {f: set() for f in files}
    for f in files:
        text = f.read_text()
        lines = text.count("\n") + (0 if text.endswith("\n") else 1)
        if lines > MAX_LINES:
            problems.append(f"{f.relative_to(ROOT)}: {lines} lines (at most {MAX_LINES})")
        if module_of(src, f) is None:
            continue
        code = strip_comments_and_strings(text)
        targets = [module_file(src, p) for p in crate_paths(code)]
        for child in re.findall(r"^\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+(" + IDENT + r")\s*;", code, re.M):
            if re.search(r"(?<!::)\b" + child + r"::", code):
                d = child_dir(src, f) / child
                targets.append(d.with_suffix(".rs") if d.with_suffix(".rs").is_file() else d / "mod.rs")
        for t in targets:
            if t is not None and t != f and t.is_file():
                edges[f].add(t)
    root_files = {src / "lib.rs", src / "main.rs"}
    for f, ts in edges.items():
        mf = module_of(src, f)
        for t in ts:
            if t in root_files:
                continue
            mt = module_of(src, t)
            if mt is not None and mf is not None and len(mt) < len(mf) and mf[: len(mt)] == mt:
                problems.append(f"{f.relative_to(ROOT)} imports its ancestor {t.relative_to(ROOT)} (upward)")
            if crate == "lambda" and mf and mt and mf[0] in LAYERS and mt[0] in LAYERS:
                if mt[0] != mf[0] and mt[0] not in LAYERS[mf[0]]:
                    problems.append(f"{f.relative_to(ROOT)} imports {t.relative_to(ROOT)}: {mf[0]}/ may not import {mt[0]}/")
    problems += [f"import cycle: {' -> '.join(str(x.relative_to(ROOT)) for x in c)}" for c in cycles(edges)]
    return problems


def cycles(edges):
    """Strongly connected components of more than one file (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in edges:
        if v not in index:
            visit(v)
    return out


def main(argv):
    crates = argv or CRATES
    problems = [p for c in crates for p in check_crate(c)]
    for p in problems:
        print(p)
    if problems:
        return 1
    print(f"layout: ok ({', '.join(crates)}): no file over {MAX_LINES} lines, no cycle, no upward import")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
