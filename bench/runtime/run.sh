#!/usr/bin/env bash
# bench/runtime: berth, runc, crun (and youki when installed) run the same busybox /bin/true
# bundle N times each, in one run; prints medians, p90 and the ratio to crun.
# Usage: bench/runtime/run.sh [N]   (root; BERTH_BIN to skip the release build;
#        BENCH_YOUKI=1 to `cargo install youki` first if it is missing — slow on 2 cores)
set -euo pipefail
N=${1:-50}
cd "$(dirname "$0")/../.."
./scripts/deps.sh
if [ -z "${BERTH_BIN:-}" ]; then
  cargo build --release -p berth >/dev/null 2>&1
  BERTH_BIN=$PWD/target/release/berth
fi
if [ "${BENCH_YOUKI:-0}" = 1 ] && ! command -v youki >/dev/null; then
  echo "installing youki (cargo install youki)..." >&2
  cargo install youki --locked >/dev/null 2>&1 || echo "youki install failed" >&2
fi
work=$(mktemp -d /tmp/berth-bench.XXXXXX)
cleanup() {
  for d in /sys/fs/cgroup/*/bench-* /sys/fs/cgroup/*/*/bench-*; do
    [ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null
  done
  rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/bundle/rootfs/bin"
cp /bin/busybox "$work/bundle/rootfs/bin/busybox"
ln -s busybox "$work/bundle/rootfs/bin/true"
(cd "$work/bundle" && runc spec)
base=$(jq '.process.terminal = false | .process.args = ["/bin/true"]' "$work/bundle/config.json")

# time_runs NAME CMD...: hyperfine, no shell in between; foreground `run` deletes the
# container on exit, so one id serves every run. Per-run ms into $work/NAME.ms.
time_runs() {
  local name=$1; shift
  echo "$base" | jq --arg p "/bench-$name" '.linux.cgroupsPath = $p' > "$work/bundle-$name.json"
  cp "$work/bundle-$name.json" "$work/bundle/config.json"
  if ! "$@" --root "$work/state-$name" run --bundle "$work/bundle" probe >/dev/null 2>"$work/$name.err"; then
    echo "$name failed: $(cat "$work/$name.err")" >&2; echo failed > "$work/$name.ms"; return
  fi
  hyperfine -N --warmup 3 --runs "$N" --export-json "$work/$name.json" \
    "$* --root $work/state-$name run --bundle $work/bundle bench" >/dev/null 2>&1
  jq '.results[0].times[] * 1000' "$work/$name.json" > "$work/$name.ms"
}
export -f time_runs
export base work N

time_runs berth "$BERTH_BIN" runtime
time_runs runc runc
# crun on this hybrid host: inside a private mount namespace with the v2 mount hidden.
unshare -m bash -c 'umount /sys/fs/cgroup/unified 2>/dev/null; time_runs crun crun'
command -v youki >/dev/null && time_runs youki youki

stat() { # file -> "median p90"
  sort -n "$1" | awk '{a[NR]=$1} END {m=a[int((NR+1)/2)]; p=a[int(NR*0.9)]; printf "%.2f %.2f", m, p}'
}
crun_med=$(stat "$work/crun.ms" | cut -d' ' -f1)
{
  echo "## bench/runtime — $(date -u +%F), $(nproc) cores, kernel $(uname -r), N=$N"
  echo
  echo "| runtime | version | median ms | p90 ms | ratio to crun |"
  echo "|---|---|---|---|---|"
  for rt in berth runc crun youki; do
    f="$work/$rt.ms"
    case $rt in
      berth) ver=$("$BERTH_BIN" --version | awk '{print $2}') ;;
      *) ver=$(command -v $rt >/dev/null && $rt --version 2>/dev/null | head -1 | awk '{print $NF}' || true) ;;
    esac
    if [ ! -s "$f" ] || grep -q failed "$f"; then
      echo "| $rt | ${ver:-} | ${ver:+failed}${ver:-not installed} | | |"; continue
    fi
    read -r med p90 <<<"$(stat "$f")"
    echo "| $rt | $ver | $med | $p90 | $(echo "scale=2; $med / $crun_med" | bc) |"
  done
} | tee "$work/table.md"
mkdir -p bench/out && cp "$work/table.md" "bench/out/runtime-$(date -u +%F).md"
