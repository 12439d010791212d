#!/usr/bin/env bash
# Checks the root workspace's dependency graph with cargo-deny against deny.toml:
# banned crates and duplicate versions (bans), licenses, and where crates come from
# (sources: crates.io only). Offline: no advisory database is fetched. Installs
# cargo-deny from crates.io if it is missing.
#
#   scripts/deny.sh
set -euo pipefail
cd "$(dirname "$0")/.."

if ! cargo deny --version >/dev/null 2>&1; then
    cargo install --locked cargo-deny
fi

cargo deny --offline --workspace check bans licenses sources
