#!/usr/bin/env bash
# Checks the root workspace's dependency graph with cargo-deny against deny.toml:
# banned crates and duplicate versions (bans), licenses, and where crates come from
# (sources: crates.io only). No advisory database is fetched. Installs cargo-deny
# from crates.io if it is missing (minutes of compiling, once per machine).
# Runs in CI (.ci/run).
#
#   scripts/deny.sh
set -euo pipefail
cd "$(dirname "$0")/.."

if ! cargo deny --version >/dev/null 2>&1; then
    # cargo-deny's own release profile (fat LTO, one codegen unit) makes this build
    # several times longer, for a check that runs in seconds: not worth it here.
    CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
        cargo install --locked cargo-deny --version 0.20.2
fi

# cargo-deny reads the graph through `cargo metadata`, which resolves every
# platform's dependencies (deny.toml names no targets) and so needs the manifests of
# crates that no Linux build downloads (windows-sys, ...). A fresh clone has only
# what its builds fetched, and `--offline` below would stop at the first missing
# one. `cargo fetch` with no --target downloads them all, from the locked versions.
cargo fetch --locked

cargo deny --offline --workspace check bans licenses sources
