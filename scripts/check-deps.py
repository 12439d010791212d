#!/usr/bin/env python3
"""Lists the `crate::` edges between the top-level folders of src/ and fails when
they form a cycle. Top-level files are not folders: error.rs is the crate's one
error enum, which every folder returns and which wraps the error types of the
folders below it (store's StoreError, distributed's WireError), so it is left
out of the cycle check.

The intended direction (see src/expr/mod.rs and STYLE.md):
array (user API) -> expr / ops / linalg (build) -> graph (data) <- exec,
distributed (run); store and error below them all. Comments are ignored, so a
doc link does not count as a dependency.

Usage: python3 scripts/check-deps.py [--quiet]
"""
import os
import re
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src")
REF = re.compile(r"\bcrate::([a-z_][a-z0-9_]*)")


def top_modules():
    mods = {}
    for name in sorted(os.listdir(ROOT)):
        path = os.path.join(ROOT, name)
        if os.path.isdir(path) and name != "bin":
            files = []
            for d, _, fs in os.walk(path):
                files += [os.path.join(d, f) for f in fs if f.endswith(".rs")]
            mods[name] = files
    return mods


def code_lines(path):
    with open(path, encoding="utf-8") as f:
        for line in f:
            code = line.split("//", 1)[0]
            if code.strip():
                yield code


def edges(mods):
    out = {m: {} for m in mods}
    for m, files in mods.items():
        for path in files:
            for n, code in enumerate(code_lines(path), 1):
                for target in REF.findall(code):
                    if target in mods and target != m:
                        out[m].setdefault(target, os.path.relpath(path, os.path.join(ROOT, "..")))
    return out


def find_cycle(graph):
    state = {}
    stack = []

    def visit(v):
        state[v] = 1
        stack.append(v)
        for w in sorted(graph[v]):
            if state.get(w) == 1:
                return stack[stack.index(w):] + [w]
            if w not in state:
                c = visit(w)
                if c:
                    return c
        stack.pop()
        state[v] = 2
        return None

    for v in sorted(graph):
        if v not in state:
            c = visit(v)
            if c:
                return c
    return None


def main():
    quiet = "--quiet" in sys.argv
    graph = edges(top_modules())
    if not quiet:
        for m in sorted(graph):
            if graph[m]:
                print(f"{m} -> {', '.join(sorted(graph[m]))}")
    cycle = find_cycle(graph)
    if cycle:
        print("import cycle between folders of src/: " + " -> ".join(cycle), file=sys.stderr)
        for a, b in zip(cycle, cycle[1:]):
            print(f"  {a} -> {b}: first in {graph[a][b]}", file=sys.stderr)
        return 1
    if not quiet:
        print("no cycles")
    return 0


if __name__ == "__main__":
    sys.exit(main())
