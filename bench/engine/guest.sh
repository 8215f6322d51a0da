#!/usr/bin/env bash
# bench/engine on a fresh host: run.sh inside scripts/guest/run.sh's VM (Debian's 6.12 cloud
# kernel, cgroup v2 alone, booted for this run, so no memory cgroup or superblock history),
# its work directory on the guest's own ext4 disk (overlayfs and the engines' storage need a
# real filesystem). The CPU is emulated: read the memory columns, not the times.
# The table is printed and left in target/guest/out/results.md.
# Usage (as root): bench/engine/guest.sh [N] [COUNT]   (defaults 2 and 30)
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=$(./scripts/build.sh --release)
n=${1:-2} count=${2:-30}
job="BERTH_BIN=$bin/berth BERTH_SHIM=$bin/berth-shim BENCH_STALL=900 bench/engine/run.sh $n $count &&
  cp bench/engine/results.md /guest-out/results.md"
exec scripts/guest/run.sh --disk 16384 --mem 8192 -- bash -c "$job"
