#!/usr/bin/env bash
# Builds the criterion-less bench target NAME in release mode (once; cargo skips an
# up-to-date build) and prints the path of its executable. Used by run.sh and
# run_distributed.sh, which then run the binary directly, one process per run.
#
#   bin="$(bash benches/compare/bench_bin.sh compare "$py")"
set -euo pipefail
name="$1"
py="$2"
bin="$(cargo bench --bench "$name" --no-run --message-format=json 2>/dev/null \
    | "$py" -c '
import json, sys
name = sys.argv[1]
exe = None
for line in sys.stdin:
    try:
        m = json.loads(line)
    except ValueError:
        continue
    if m.get("reason") == "compiler-artifact" and m.get("target", {}).get("name") == name and m.get("executable"):
        exe = m["executable"]
print(exe or "")' "$name")"
if [ -z "$bin" ] || [ ! -x "$bin" ]; then
    echo "bench_bin.sh: could not build the $name binary; rerun 'cargo bench --bench $name --no-run' to see why" >&2
    exit 1
fi
echo "$bin"
