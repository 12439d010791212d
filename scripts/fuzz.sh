#!/usr/bin/env bash
# Runs each fuzz target of the distributed wire layer for FUZZ_SECONDS (default 60)
# with libFuzzer and no sanitizer; the targets' own counting allocator checks the
# allocation caps. Installs cargo-fuzz if it is missing.
#
#   scripts/fuzz.sh                 # all targets, 60 s each
#   FUZZ_SECONDS=600 scripts/fuzz.sh handshake
#   FUZZ_TOOLCHAIN=+nightly scripts/fuzz.sh
#
# Crashes land in fuzz/artifacts/<target>/; the corpus grows in fuzz/corpus/<target>/.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi

secs=${FUZZ_SECONDS:-60}
toolchain=${FUZZ_TOOLCHAIN:-}
if [ "$#" -gt 0 ]; then
    targets=("$@")
else
    targets=(read_frame decode handshake)
fi

for t in "${targets[@]}"; do
    echo "== fuzz $t for ${secs}s"
    # shellcheck disable=SC2086 # $toolchain is empty or one word
    cargo $toolchain fuzz run --sanitizer none "$t" -- \
        -max_total_time="$secs" -rss_limit_mb=4096 -max_len=65536
done
