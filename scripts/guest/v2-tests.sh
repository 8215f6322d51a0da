#!/usr/bin/env bash
# Runs berth's runtime, cgroup and engine tests on a pure cgroup v2 kernel
# (scripts/guest/run.sh): the OOM kill under memory.max, pids.max, a cpu.max quota,
# cgroup.freeze, cgroup.kill, the device eBPF filter, delete leaving no cgroup, `docker run -m
# --pids-limit` and `docker stats` through the engine — for real, not on a fake tree. Each
# runtime test also runs its runc half when runc is installed, as on the host.
# Usage: scripts/guest/v2-tests.sh [TEST-FILTER]
set -euo pipefail
cd "$(dirname "$0")/../.."
tests=(-p berth --test runtime_limits --test runtime_lifecycle --test runtime_basic
  --test runtime_errors --test runtime_cli --test engine_docker --test engine_stats
  -p berth-cgroups --test real_v2)
bins=$(cargo test "${tests[@]}" --no-run --message-format=json 2>/dev/null |
  jq -r 'select(.profile.test == true and .executable != null) | .executable')
[ -n "$bins" ] || { echo "$0: no test binaries were built" >&2; exit 1; }
# scripts/test.sh has built berth as it ships and says where; alone, build it here the same way.
if [ -z "${BERTH_TEST_BIN:-}" ] || [ -z "${BERTH_TEST_SHIM:-}" ]; then
  bin=$(./scripts/build.sh)
  mkdir -p "$bin/static"
  cp "$bin/berth" "$bin/berth-shim" "$bin/static/"
  export BERTH_TEST_BIN=$bin/static/berth BERTH_TEST_SHIM=$bin/static/berth-shim
fi
filter=${1:-}
# In the guest: each binary one test at a time (two emulated CPUs), then what is left.
job='rc=0
for t in '"$(echo $bins)"'; do
  echo "== ${t##*/}"
  "$t" --test-threads=1 '"$filter"' 2>&1 | grep -vE "^(running [0-9]+ tests?|)$"
  [ "${PIPESTATUS[0]}" = 0 ] || rc=1
done
# The engine'"'"'s shared parent cgroup may stay, as docker'"'"'s does; empty, it can be removed.
rmdir /sys/fs/cgroup/berth 2>/dev/null
left=$(find /sys/fs/cgroup -mindepth 1 -type d | head -5)
[ -z "$left" ] || { echo "left behind in /sys/fs/cgroup: $left"; rc=1; }
exit $rc'
exec scripts/guest/run.sh --disk 8192 --mem 6144 -- env BERTH_TEST_SLOW=5 BERTH_TEST_BIN="$BERTH_TEST_BIN" \
  BERTH_TEST_SHIM="$BERTH_TEST_SHIM" bash -c "$job"
