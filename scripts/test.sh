#!/usr/bin/env bash
# Runs berth's test suite (as root: the runtime tests create namespaces and cgroups).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/deps.sh
cargo build --workspace --all-targets
# The tests run berth and its shim as berth ships them, linked statically by
# scripts/build.sh. Kept apart: `cargo test` links target/debug's dynamic again.
bin=$(./scripts/build.sh)
mkdir -p "$bin/static"
cp "$bin/berth" "$bin/berth-shim" "$bin/static/"
export BERTH_TEST_BIN=$bin/static/berth BERTH_TEST_SHIM=$bin/static/berth-shim
cargo test --workspace --no-fail-fast -- --test-threads=2
