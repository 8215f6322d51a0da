#!/usr/bin/env bash
# Builds berth and runs its main job: a busybox container through `berth runtime run`,
# with its own pid, mount, uts, ipc and network namespaces (loopback up inside).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/deps.sh
cargo build --release -p berth
work=$(mktemp -d)
trap 'rm -rf "$work"; rmdir /sys/fs/cgroup/*/berth 2>/dev/null || true' EXIT
mkdir -p "$work/rootfs/bin"
cp /bin/busybox "$work/rootfs/bin/busybox"
for t in sh ip hostname ps cat id ifconfig; do ln -s busybox "$work/rootfs/bin/$t"; done
./target/release/berth runtime spec --bundle "$work"
jq '.process.terminal = false
    | .process.capabilities |= with_entries(.value += ["CAP_NET_ADMIN"])
    | .process.args = ["sh", "-c", "ifconfig lo up; echo \"hello from $(hostname), pid $$\"; ip -o addr show lo; ps"]' \
  "$work/config.json" > "$work/config.tmp" && mv "$work/config.tmp" "$work/config.json"
./target/release/berth runtime --root "$work/state" run --bundle "$work" "demo-$$"
