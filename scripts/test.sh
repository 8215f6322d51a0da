#!/usr/bin/env bash
# Runs berth's test suite (as root: the runtime tests create namespaces and cgroups).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/deps.sh
cargo build --workspace --all-targets
cargo test --workspace --no-fail-fast -- --test-threads=2
