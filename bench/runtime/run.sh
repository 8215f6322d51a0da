#!/usr/bin/env bash
# bench/runtime: berth, runc, crun and youki each run the same busybox /bin/true bundle N times,
# side by side in one run; prints a markdown table (median, p90, ratio to crun) and writes it
# to bench/out/runtime-<date>.md. See bench/runtime/README.md.
#
# Usage (as root): bench/runtime/run.sh [N]        N runs per runtime, default 50
#   BERTH_BIN=path   use this berth binary instead of building it with `scripts/build.sh --release`
#   BENCH_YOUKI=0    leave youki out (otherwise `cargo install youki --locked --features v1,v2`
#                    when it is missing)
#   BENCH_WARMUP=3   untimed runs per runtime before the timed ones
#   BENCH_ORDER=interleaved  round by round, shuffled (default); `sequential`: each runtime's
#                    N runs in one block, one runtime after the other
#   BENCH_SETTLE=0   seconds of pause before each timed run (not timed)
set -uo pipefail
export LC_ALL=C # $EPOCHREALTIME with a '.'
unset RUST_BACKTRACE RUST_LIB_BACKTRACE # backtrace capture would slow the Rust runtimes' errors

N=${1:-50}
WARMUP=${BENCH_WARMUP:-3}
case $N in '' | *[!0-9]* | 0) echo "usage: $0 [N>0]" >&2; exit 2 ;; esac
[ "$(id -u)" = 0 ] || { echo "bench/runtime needs root" >&2; exit 1; }
cd "$(dirname "$0")/../.." || exit 1
REPO=$PWD

# --- anchors -------------------------------------------------------------------------------
need=()
for pkg in runc crun busybox-static jq; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "installing ${need[*]} (apt-get)..." >&2
  DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null ||
    { echo "apt-get install ${need[*]} failed" >&2; exit 1; }
fi
BUSYBOX=/bin/busybox
[ -x "$BUSYBOX" ] || { echo "no $BUSYBOX (busybox-static)" >&2; exit 1; }

if [ -z "${BERTH_BIN:-}" ]; then
  echo "building berth (scripts/build.sh --release: linked statically)..." >&2
  "$REPO/scripts/build.sh" --release >/dev/null || { echo "berth build failed" >&2; exit 1; }
  BERTH_BIN=$REPO/target/release/berth
fi
BERTH_BIN=$(realpath "$BERTH_BIN")

youki_note=
if [ "${BENCH_YOUKI:-1}" != 0 ] && ! command -v youki >/dev/null 2>&1; then
  # the youki crate enables no cgroup backend by default: without v1 it fails on any v1 or
  # hybrid host ("v1 cgroup feature is required, but was not enabled during compile time")
  echo "youki is not on PATH: installing it (cargo install youki --locked --features v1,v2);" \
    "this takes many" \
    "minutes on a small machine (BENCH_YOUKI=0 skips it)..." >&2
  if ! cargo install youki --locked --features v1,v2 >"${TMPDIR:-/tmp}/bench-youki-install.log" 2>&1; then
    echo "youki install failed (log: ${TMPDIR:-/tmp}/bench-youki-install.log); continuing without it" >&2
    youki_note="cargo install youki failed"
  fi
fi
export PATH=$PATH:${CARGO_HOME:-$HOME/.cargo}/bin

# --- bundle --------------------------------------------------------------------------------
WORK=$(mktemp -d /tmp/berth-bench-runtime.XXXXXX)
B=$WORK/bundle
RUNTIMES=(berth runc crun youki)

rm_bench_cgroups() { # every /sys/fs/cgroup/<hierarchy>/bench-* tree, depth-first
  local d
  find /sys/fs/cgroup -maxdepth 2 -name 'bench-*' -type d 2>/dev/null | while read -r d; do
    find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null
  done
}
cleanup() {
  local rt id
  for rt in "${RUNTIMES[@]}"; do # containers a failed or interrupted run left behind
    [ -d "$WORK/state-$rt" ] || continue
    for id in $(ls "$WORK/state-$rt" 2>/dev/null); do
      case $rt in
        berth) "$BERTH_BIN" runtime --root "$WORK/state-$rt" delete --force "$id" ;;
        crun) unshare -m sh -c 'umount /sys/fs/cgroup/unified 2>/dev/null; exec crun "$@"' sh \
          --root "$WORK/state-$rt" delete --force "$id" ;;
        *) "$rt" --root "$WORK/state-$rt" delete --force "$id" ;;
      esac >/dev/null 2>&1
    done
  done
  rm_bench_cgroups
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$B/rootfs/bin"
cp "$BUSYBOX" "$B/rootfs/bin/busybox"
ln -s busybox "$B/rootfs/bin/true"
(cd "$B" && runc spec) || { echo "runc spec failed" >&2; exit 1; }
jq '.process.terminal = false | .process.args = ["/bin/true"]
    | .linux.namespaces = [{"type":"pid"},{"type":"network"},{"type":"ipc"},{"type":"uts"},{"type":"mount"}]' \
  "$B/config.json" >"$WORK/config.base.json" || exit 1

# --- timing --------------------------------------------------------------------------------
# The runtimes take turns: round i runs each runtime once, in a shuffled order, so that a
# change in the machine's load (this is a shared 2-core VM) falls on all of them alike. Each
# runtime has its own bundle directory, its config differing only in `linux.cgroupsPath`
# (/bench-NAME/x); they share one read-only rootfs.
#
# crun refuses this hybrid host ("cgroups in hybrid mode not supported, drop all controllers
# from cgroupv2"), so the whole loop, every runtime's runs and the kernel floor's, runs in one
# private mount namespace with /sys/fs/cgroup/unified unmounted; unshare and the loop's shell
# are in no runtime's times. On a host with only cgroup v2 or only v1 the umount is a no-op.
#
# Each run: `CMD --root STATE run --bundle BUNDLE-NAME bench-NAME-I`, a fresh id, foreground,
# timed with bash's $EPOCHREALTIME (a builtin: no process between the two readings but the
# runtime's own fork+exec, as with hyperfine -N). Per-run µs go to $WORK/NAME.us; a failed
# probe's error to $WORK/NAME.err and "failed" to $WORK/NAME.status; failed timed runs are
# counted in $WORK/NAME.fails.
for rt in "${RUNTIMES[@]}"; do
  mkdir -p "$WORK/bundle-$rt"
  jq --arg p "/bench-$rt/x" --arg root "$B/rootfs" \
    '.linux.cgroupsPath = $p | .root.path = $root' \
    "$WORK/config.base.json" >"$WORK/bundle-$rt/config.json" || exit 1
done
cmd_of() { # NAME -> the command line that runs it
  case $1 in
    berth) echo "$BERTH_BIN runtime" ;;
    *) echo "$1" ;;
  esac
}
active=()
for rt in "${RUNTIMES[@]}"; do
  if [ "$rt" = youki ] && [ "${BENCH_YOUKI:-1}" = 0 ]; then
    echo "BENCH_YOUKI=0" >"$WORK/youki.status"
  elif [ "$rt" = youki ] && ! command -v youki >/dev/null 2>&1; then
    echo "${youki_note:-not on PATH}" >"$WORK/youki.status"
  else
    active+=("$rt:$(cmd_of "$rt")")
  fi
done

rounds() { # runs in the private mount namespace; args: NAME:CMD...
  umount /sys/fs/cgroup/unified 2>/dev/null
  local entry name cmd st i t0 t1 id
  local -a live=()
  for entry in "$@"; do # probe (must exit 0, bounded) and warm up
    name=${entry%%:*} cmd=${entry#*:} st=$WORK/state-$name
    : >"$WORK/$name.us"
    echo 0 >"$WORK/$name.fails"
    if ! timeout 20 $cmd --root "$st" run --bundle "$WORK/bundle-$name" "bench-$name-probe" \
      </dev/null >"$WORK/$name.out" 2>"$WORK/$name.err"; then
      $cmd --root "$st" delete --force "bench-$name-probe" >/dev/null 2>&1
      cat "$WORK/$name.out" >>"$WORK/$name.err"
      echo failed >"$WORK/$name.status"
      echo "$name failed: $(head -c 2000 "$WORK/$name.err")" >&2
      continue
    fi
    for ((i = 1; i <= WARMUP; i++)); do
      $cmd --root "$st" run --bundle "$WORK/bundle-$name" "bench-$name-w$i" </dev/null >/dev/null 2>&1 ||
        $cmd --root "$st" delete --force "bench-$name-w$i" >/dev/null 2>&1
    done
    live+=("$entry")
  done
  live+=("floor:unshare -fmpniu $BUSYBOX true")
  : >"$WORK/floor.us"
  # The order of the timed runs, one NAME:CMD (spaces as @) a line: N rounds of every row
  # in a shuffled order, or (sequential) each row's N runs in a block.
  local -a order=()
  if [ "$ORDER" = sequential ]; then
    for entry in "${live[@]}"; do
      for ((i = 1; i <= N; i++)); do order+=("${entry// /@}"); done
    done
  else
    for ((i = 1; i <= N; i++)); do
      order+=($(printf '%s\n' "${live[@]// /@}" | shuf))
    done
  fi
  echo "timing ${#live[@]} rows x $N runs ($ORDER)..." >&2
  local -A seq=()
  for entry in "${order[@]}"; do
    entry=${entry//@/ } name=${entry%%:*} cmd=${entry#*:} st=$WORK/state-$name
    seq[$name]=$((${seq[$name]:-0} + 1))
    # BENCH_SETTLE: let the previous run's deferred work (netns and cgroup teardown in
    # kernel workers, RCU callbacks) finish first. Off by default: on this VM an idle pause
    # makes every runtime slower, crun most (its cgroup.procs write waits for an RCU grace
    # period, which idle vCPUs stretch).
    [ "$SETTLE" = 0 ] || sleep "$SETTLE"
    if [ "$name" = floor ]; then
      t0=$EPOCHREALTIME
      $cmd
      t1=$EPOCHREALTIME
      echo $((${t1/./} - ${t0/./})) >>"$WORK/floor.us"
      continue
    fi
    id=bench-$name-${seq[$name]}
    t0=$EPOCHREALTIME
    if $cmd --root "$st" run --bundle "$WORK/bundle-$name" "$id" </dev/null >/dev/null 2>>"$WORK/$name.runerr"; then
      t1=$EPOCHREALTIME
      echo $((${t1/./} - ${t0/./})) >>"$WORK/$name.us"
    else
      echo $(($(cat "$WORK/$name.fails") + 1)) >"$WORK/$name.fails"
      $cmd --root "$st" delete --force "$id" >/dev/null 2>&1
    fi
  done
}
export -f rounds
SETTLE=${BENCH_SETTLE:-0}
ORDER=${BENCH_ORDER:-interleaved}
case $ORDER in interleaved | sequential) ;; *) echo "BENCH_ORDER: interleaved or sequential" >&2; exit 2 ;; esac
export WORK N WARMUP BUSYBOX SETTLE ORDER
unshare -m bash -c 'rounds "$@"' bash "${active[@]}"
rm_bench_cgroups

# --- report --------------------------------------------------------------------------------
stats() { # file of µs -> "median p90" in ms (p90: nearest rank)
  sort -n "$1" | awk '{a[NR] = $1 / 1000}
    END { m = (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2
          r = int(NR * 0.9); if (r < NR * 0.9) r++; if (r < 1) r = 1
          printf "%.2f %.2f", m, a[r] }'
}
version() {
  case $1 in
    berth) "$BERTH_BIN" --version 2>/dev/null | head -1 | awk '{print $NF}' ;;
    *) command -v "$1" >/dev/null 2>&1 && "$1" --version 2>/dev/null | head -1 | awk '{print $NF}' ;;
  esac
}
ok() { [ ! -e "$WORK/$1.status" ] && [ -s "$WORK/$1.us" ]; }

crun_med=
ok crun && crun_med=$(stats "$WORK/crun.us" | cut -d' ' -f1)
date_s=$(date -u +%F)
{
  echo "## bench/runtime — $(date -u '+%F %H:%M UTC')"
  echo
  echo "Machine: $(nproc) cores, kernel $(uname -r)$(. /etc/os-release 2>/dev/null && echo ", $PRETTY_NAME")." \
    "Each runtime runs the same busybox \`/bin/true\` bundle (pid, net, ipc, uts, mount namespaces;" \
    "\`runc spec\` mounts) in the foreground with a fresh id per run; $WARMUP warmup runs, then $N timed."
  echo
  echo "| runtime | version | median ms | p90 ms | ratio to crun | runs |"
  echo "|---|---|---|---|---|---|"
  for rt in "${RUNTIMES[@]}"; do
    ver=$(version "$rt")
    if ! ok "$rt"; then
      st=$(cat "$WORK/$rt.status" 2>/dev/null || echo failed)
      [ "$st" = failed ] || st="not available ($st)"
      echo "| $rt | ${ver:--} | $st | | | 0 |"
      continue
    fi
    read -r med p90 <<<"$(stats "$WORK/$rt.us")"
    runs=$(wc -l <"$WORK/$rt.us")
    fails=$(cat "$WORK/$rt.fails" 2>/dev/null || echo 0)
    [ "$fails" != 0 ] && runs="$runs ($fails failed)"
    ratio=n/a
    [ -n "$crun_med" ] && ratio=$(awk -v a="$med" -v b="$crun_med" 'BEGIN {printf "%.2f", a / b}')
    echo "| $rt | ${ver:--} | $med | $p90 | $ratio | $runs |"
  done
  read -r med p90 <<<"$(stats "$WORK/floor.us")"
  ratio=n/a
  [ -n "$crun_med" ] && ratio=$(awk -v a="$med" -v b="$crun_med" 'BEGIN {printf "%.2f", a / b}')
  echo "| kernel floor: \`unshare -fmpniu true\` | util-linux | $med | $p90 | $ratio | $(wc -l <"$WORK/floor.us") |"
  echo
  echo "ratio to crun = runtime median / crun median (berth's target: ≤ 0.33)." \
    "Order: $ORDER$([ "$ORDER" = interleaved ] && echo " (round by round, shuffled)"), pause before each run: ${SETTLE}s;" \
    "all runs in one private mount namespace with /sys/fs/cgroup/unified unmounted (crun refuses a hybrid cgroup host)."
} | tee "$WORK/table.md"
for rt in "${RUNTIMES[@]}"; do
  [ -s "$WORK/$rt.runerr" ] && echo "$rt stderr from failed runs: $(sort -u "$WORK/$rt.runerr" | head -c 1000)" >&2
done
mkdir -p "$REPO/bench/out" && cp "$WORK/table.md" "$REPO/bench/out/runtime-$date_s.md"
echo "written: bench/out/runtime-$date_s.md" >&2
