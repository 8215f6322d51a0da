#!/usr/bin/env bash
# bench/images: moving a ~100 MB image, side by side in one run: berth (through its own CLI
# and through the docker CLI), dockerd (Debian's docker.io, with its own containerd) and
# podman. Rows: load and save of a docker-archive, push to and pull from a local
# docker-registry (plain HTTP on 127.0.0.1), and the first `run --rm` after the pull.
# Also the berth daemon's peak RSS while it loads, pulls and unpacks, at two image sizes
# (memory should not grow with the image).
#
# Everything runs in one throw-away network + mount namespace (the registries on its
# 127.0.0.1; podman in a child mount namespace with the cgroup v2 mount hidden, as crun
# wants on this hybrid host), with its own data roots under a temporary directory; the
# host's /run, /var/lib/containers and /var/tmp are covered there. See README.md.
#
# Usage (as root): bench/images/run.sh [N]     N timed rounds (5) after one warmup round
#   BERTH_BIN=path        use this berth (berth-shim next to it) instead of building one
#   BENCH_ENGINES="berth docker podman"   which engines (berth is always measured)
#   BENCH_SIZE_MB=100     the image's size;  BENCH_BIG_MB=400  the second size for the
#                         memory rows (0: skip);  BENCH_WARMUP=1  untimed rounds first
set -uo pipefail
export LC_ALL=C # $EPOCHREALTIME with a '.'
unset RUST_BACKTRACE RUST_LIB_BACKTRACE

N=${1:-5}
SIZE=${BENCH_SIZE_MB:-100}
BIG=${BENCH_BIG_MB:-400}
WARMUP=${BENCH_WARMUP:-1}
read -r -a ENGINES <<<"${BENCH_ENGINES:-berth docker podman}"
case $N in '' | *[!0-9]* | 0) echo "usage: $0 [N>0]" >&2; exit 2 ;; esac
[ "$(id -u)" = 0 ] || { echo "bench/images needs root" >&2; exit 1; }
cd "$(dirname "$0")/../.." || exit 1
REPO=$PWD
has() { local e; for e in berth "${ENGINES[@]}"; do [ "$e" = "$1" ] && return 0; done; return 1; }

for t in docker-registry python3 nsenter unshare; do
  command -v "$t" >/dev/null || { echo "missing $t (scripts/deps.sh installs what is needed)" >&2; exit 1; }
done
has docker && ! command -v dockerd >/dev/null && { echo "no dockerd: docker left out" >&2; ENGINES=("${ENGINES[@]/docker/}"); }
has podman && ! command -v podman >/dev/null && { echo "no podman: podman left out" >&2; ENGINES=("${ENGINES[@]/podman/}"); }
DOCKER_CLI=$(command -v docker) || { echo "no docker CLI" >&2; exit 1; }

if [ -z "${BERTH_BIN:-}" ]; then
  echo "building berth (scripts/build.sh --release: the shim linked statically)..." >&2
  "$REPO/scripts/build.sh" --release >/dev/null || { echo "berth build failed" >&2; exit 1; }
  BERTH_BIN=${CARGO_TARGET_DIR:-$REPO/target}/release/berth
fi
BERTH_BIN=$(realpath "$BERTH_BIN")
BERTH_SHIM=${BERTH_SHIM:-$(dirname "$BERTH_BIN")/berth-shim}
{ [ -x "$BERTH_BIN" ] && [ -x "$BERTH_SHIM" ]; } || { echo "no $BERTH_BIN or $BERTH_SHIM" >&2; exit 1; }

# --- the namespaces, and leaving nothing behind ---------------------------------------------
WORK=$(mktemp -d /tmp/berth-bench-images.XXXXXX)
berth_parent_existed=0 # the berth daemon's parent cgroup, removed after if this run made it
[ -d /sys/fs/cgroup/pids/berth ] && berth_parent_existed=1
T=$WORK/t
mkdir -p "$T"
DOCKER_CG=berth-bench-images-$$ # dockerd's --cgroup-parent
PIDS=()                          # every daemon and registry we started (host pids)
EVENTS_PIDS=()                   # berth's event streams (container ids)
HOLD=
PHOLD=

# in the bench's namespaces, and podman's (the same netns). Not for `&`: $! would be a
# subshell's pid; background starts call nsenter themselves.
in_ns() { nsenter -t "$HOLD" --net --mount -- "$@"; }
in_pns() { nsenter -t "$PHOLD" --net --mount -- "$@"; }

ns_mnts() { # the mount namespaces we made
  [ -n "$HOLD" ] && readlink "/proc/$HOLD/ns/mnt" 2>/dev/null
  [ -n "$PHOLD" ] && readlink "/proc/$PHOLD/ns/mnt" 2>/dev/null
}
. scripts/lib/cgroups.sh # rm_cgroups
. scripts/lib/podman.sh  # podman_conf
cleanup() {
  trap '' INT TERM
  local p m mnts id left
  for p in "${EVENTS_PIDS[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
  for _ in $(seq 100); do
    left=0
    for p in "${PIDS[@]}"; do [ -e "/proc/$p" ] && left=1; done
    [ $left = 0 ] && break
    sleep 0.1
  done
  # whatever still lives in our mount namespaces (a containerd, a shim, conmon) goes too
  mnts=$(ns_mnts)
  if [ -n "$mnts" ]; then
    for p in /proc/[0-9]*; do
      m=$(readlink "$p/ns/mnt" 2>/dev/null) || continue
      grep -qxF "$m" <<<"$mnts" && kill -KILL "${p#/proc/}" 2>/dev/null
    done
  fi
  for _ in $(seq 50); do
    left=0
    if [ -n "$mnts" ]; then
      for p in /proc/[0-9]*; do
        m=$(readlink "$p/ns/mnt" 2>/dev/null) || continue
        grep -qxF "$m" <<<"$mnts" && left=1
      done
    fi
    [ $left = 0 ] && break
    sleep 0.1
  done
  # cgroups: dockerd's under its own parent; berth's and podman's by container id
  for _ in $(seq 20); do
    rm_cgroups "$DOCKER_CG"
    for id in $(cat "$WORK/berth.ids" 2>/dev/null); do rm_cgroups "berth/$id"; done
    [ $berth_parent_existed = 0 ] && rm_cgroups berth
    for id in $(grep -ho '"ID":"[0-9a-f]\{64\}"' "$WORK/podman/tmp/events/events.log" 2>/dev/null | cut -d'"' -f4 | sort -u); do
      rm_cgroups "libpod_parent/libpod-$id"
    done
    left=$(ls -d /sys/fs/cgroup/*/"$DOCKER_CG" 2>/dev/null)
    [ -z "$left" ] && break
    sleep 0.5
  done
  [ -n "$left" ] && echo "cgroups that would not go: $left" >&2
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

unshare --net --mount --propagation private sleep infinity &
HOLD=$!
disown "$HOLD" # no "Killed" notice when cleanup ends it
for _ in $(seq 100); do
  [ "$(readlink "/proc/$HOLD/ns/net")" != "$(readlink /proc/self/ns/net)" ] &&
    [ "$(readlink "/proc/$HOLD/ns/mnt")" != "$(readlink /proc/self/ns/mnt)" ] && break
  sleep 0.02
done
# never go on in the host's namespaces
if [ "$(readlink "/proc/$HOLD/ns/net")" = "$(readlink /proc/self/ns/net)" ] ||
  [ "$(readlink "/proc/$HOLD/ns/mnt")" = "$(readlink /proc/self/ns/mnt)" ]; then
  echo "could not make the namespaces" >&2; exit 1
fi
mkdir -p "$WORK/varlib-containers" "$WORK/vartmp"
in_ns sh -c "ip link set lo up && mount -t tmpfs -o mode=755 tmpfs /run &&
  mount --bind $WORK/varlib-containers /var/lib/containers && mount --bind $WORK/vartmp /var/tmp" ||
  { echo "could not set up the namespace" >&2; exit 1; }
if has podman; then
  # (started with nsenter itself, not through in_ns: $! must be the holder, not a subshell)
  nsenter -t "$HOLD" --net --mount -- unshare --mount --propagation private sleep infinity &
  PHOLD=$!
  disown "$PHOLD"
  for _ in $(seq 100); do
    m=$(readlink "/proc/$PHOLD/ns/mnt")
    [ "$m" != "$(readlink "/proc/$HOLD/ns/mnt")" ] && [ "$m" != "$(readlink /proc/self/ns/mnt)" ] && break
    sleep 0.02
  done
  if [ "$(readlink "/proc/$PHOLD/ns/mnt")" = "$(readlink /proc/self/ns/mnt)" ] ||
    [ "$(readlink "/proc/$PHOLD/ns/net")" != "$(readlink "/proc/$HOLD/ns/net")" ]; then
    echo "podman's namespace is not what it should be" >&2; exit 1
  fi
  # crun refuses a hybrid cgroup host: hide the v2 mount from podman (in its namespace only)
  in_pns umount /sys/fs/cgroup/unified 2>/dev/null
fi

# --- the images ------------------------------------------------------------------------------
# Every round loads and pulls images no tool has seen (other seeds: no layer in common), so
# nothing is deleted during the timed rounds: deleting an image's files just before making
# new ones sends ext4's inode allocator through its recently-deleted inodes (perf: 3/4 of
# berth's unpack time went to find_inode_bit/recently_deleted that way), a cost of the
# bench's own clean-up, not of the tool. For round r: img-r.tar (bench/img:r) is loaded;
# bench/pull:r, another seed, is pulled.
echo "writing the ${SIZE} MB images (and ${BIG} MB for the memory rows)..." >&2
for ((r = 1 - WARMUP; r <= N; r++)); do
  python3 bench/images/mkimage.py "$WORK/img-$r.tar" "$SIZE" "bench/img:$r" "$((1000 + r))" >/dev/null || exit 1
done
IMG_BYTES=$(stat -c %s "$WORK/img-$N.tar")

# --- registries -----------------------------------------------------------------------------
# reg_start NAME PORT: a docker-registry on 127.0.0.1:PORT in the namespace, storage in WORK
reg_start() {
  local d=$WORK/reg-$1
  mkdir -p "$d"
  cat >"$d/config.yml" <<EOF
version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: $d/data
http:
  addr: 127.0.0.1:$2
  secret: bench
EOF
  nsenter -t "$HOLD" --net --mount -- docker-registry serve "$d/config.yml" >"$d/log" 2>&1 &
  echo $! >"$d/pid"
  PIDS+=("$!")
  for _ in $(seq 200); do
    in_ns bash -c "exec 3<>/dev/tcp/127.0.0.1/$2" 2>/dev/null && return 0
    sleep 0.05
  done
  echo "registry $1 did not start: $(tail -3 "$d/log")" >&2
  return 1
}
reg_stop() { # NAME: stop it and drop its storage
  local d=$WORK/reg-$1 p
  p=$(cat "$d/pid" 2>/dev/null) && kill "$p" 2>/dev/null && while [ -e "/proc/$p" ]; do sleep 0.02; done
  rm -rf "$d"
}
PULL_PORT=5000
PUSH_PORT=5100 # a fresh registry (new port, empty storage) for every push, so no tool can skip
#                or cross-mount a blob it pushed in an earlier round
reg_start pull $PULL_PORT || exit 1
PULL=127.0.0.1:$PULL_PORT/bench/pull # round r pulls $PULL:r
BIG_REF=127.0.0.1:$PULL_PORT/bench/big:1
# The pulled image is gzip-compressed, as registries usually serve: skopeo compresses the
# archive's plain layers on the way in (docker if skopeo is missing).
seed() { # ARCHIVE REF
  if command -v skopeo >/dev/null; then
    in_ns env TMPDIR="$WORK/vartmp" skopeo copy -q --dest-tls-verify=false "docker-archive:$1" "docker://$2" >/dev/null
  else
    return 1
  fi
}

# --- the engines -----------------------------------------------------------------------------
# berth runs two daemons, one per client, so neither finds what the other fetched. The
# CLI_* are read through ${!c} in cli().
# shellcheck disable=SC2034
CLI_berth="$BERTH_BIN -H unix://$WORK/berth/sock"
# shellcheck disable=SC2034
CLI_berthd="env DOCKER_CONFIG=$WORK/docker-cli $DOCKER_CLI -H unix://$WORK/berthd/sock"
CLI_docker="env DOCKER_CONFIG=$WORK/docker-cli $DOCKER_CLI -H unix://$WORK/docker/sock"
wait_api() { for _ in $(seq 300); do "$@" version >/dev/null 2>&1 && return 0; sleep 0.1; done; return 1; }

start_berth() {
  local d
  for d in berth berthd; do
    mkdir -p "$WORK/$d"
    BERTH_SHIM=$BERTH_SHIM nsenter -t "$HOLD" --net --mount -- "$BERTH_BIN" daemon \
      --data-root "$WORK/$d/data" --exec-root "$WORK/$d/run" -H "unix://$WORK/$d/sock" \
      >"$WORK/$d/log" 2>&1 &
    PIDS+=("$!")
    if [ $d = berth ]; then BERTH_PID=$!; else BERTHD_PID=$!; fi
    wait_api "$BERTH_BIN" -H "unix://$WORK/$d/sock" ||
      { echo "berth did not come up: $(tail -5 "$WORK/$d/log")"; return 1; }
    # its containers' ids, for the cgroup check at the end
    "$BERTH_BIN" -H "unix://$WORK/$d/sock" events --filter type=container --filter event=create \
      --format '{{.Actor.ID}}' >>"$WORK/berth.ids" 2>/dev/null &
    EVENTS_PIDS+=("$!")
  done
}
start_docker() {
  local d=$WORK/docker
  mkdir -p "$d"
  printf '{"deprecated-key-path": "%s/key.json"}\n' "$d" >"$d/daemon.json"
  nsenter -t "$HOLD" --net --mount -- dockerd --config-file "$d/daemon.json" --data-root "$d/data" --exec-root "$d/exec" \
    --pidfile "$d/dockerd.pid" -H "unix://$d/sock" --cgroup-parent "/$DOCKER_CG" \
    --bridge=none --iptables=false --ip-masq=false --ip-forward=false >"$d/log" 2>&1 &
  DOCKER_PID=$!
  PIDS+=("$DOCKER_PID")
  # shellcheck disable=SC2086
  wait_api $CLI_docker || { echo "dockerd did not come up: $(tail -5 "$d/log")"; return 1; }
}
start_podman() {
  local d=$WORK/podman
  podman_conf "$d" "$d/runroot" "image_copy_tmp_dir = \"$WORK/vartmp\""
  in_pns podman info >/dev/null 2>"$d/info.err" || { echo "podman cannot run: $(tail -3 "$d/info.err")"; return 1; }
}

declare -A FAILED=()
VARIANTS=()
for e in berth "${ENGINES[@]}"; do
  [ -z "$e" ] && continue
  [ "$e" = berth ] && [ ${#VARIANTS[@]} -gt 0 ] && continue
  echo "starting $e..." >&2
  if "start_$e" >"$WORK/$e.start" 2>&1; then
    case $e in berth) VARIANTS+=(berth berthd) ;; *) VARIANTS+=("$e") ;; esac
  else
    FAILED[$e]=$(tail -c 300 "$WORK/$e.start" | tr '\n' ' ')
    echo "$e: ${FAILED[$e]}" >&2
  fi
done
[ -n "${FAILED[berth]:-}" ] && exit 1
echo "seeding the pull registry (skopeo, gzip)..." >&2
for ((r = 1 - WARMUP; r <= N; r++)); do
  python3 bench/images/mkimage.py "$WORK/seed.tar" "$SIZE" "bench/pull:$r" "$((2000 + r))" >/dev/null || exit 1
  before=$(du -sb "$WORK/reg-pull/data" 2>/dev/null | cut -f1)
  seed "$WORK/seed.tar" "$PULL:$r" || { echo "could not push the image to the registry (skopeo)" >&2; exit 1; }
  GZ_BYTES=$(($(du -sb "$WORK/reg-pull/data" | cut -f1) - ${before:-0}))
done
rm -f "$WORK/seed.tar"
if [ "$BIG" -gt 0 ]; then
  python3 bench/images/mkimage.py "$WORK/big.tar" "$BIG" bench/big:1 3000 >/dev/null &&
    seed "$WORK/big.tar" "$BIG_REF" || exit 1
fi

# --- one operation per variant ---------------------------------------------------------------
cli() { # VARIANT ARGS...: the variant's client in its namespace
  local v=$1; shift
  case $v in
    podman) in_pns podman "$@" ;;
    *) local c="CLI_$v"; read -r -a cmd <<<"${!c}"; in_ns "${cmd[@]}" "$@" ;;
  esac
}
tls() { [ "$1" = podman ] && echo --tls-verify=false; } # podman's flag for a plain-HTTP registry
engine_pid() { # VARIANT: the daemon(s) doing the work (for peak RSS)
  case $1 in
    berth) echo "$BERTH_PID" ;;
    berthd) echo "$BERTHD_PID" ;;
    docker) echo "$DOCKER_PID $(pgrep -P "$DOCKER_PID" containerd)" ;;
  esac
}
clear_peak() { local p; for p in $(engine_pid "$1"); do echo 5 >"/proc/$p/clear_refs" 2>/dev/null; done; }
peak_kb() { # the sum of VmHWM over the variant's daemons (since clear_peak)
  local p s=0 v
  for p in $(engine_pid "$1"); do
    v=$(awk '/^VmHWM:/ { print $2 }' "/proc/$p/status" 2>/dev/null)
    s=$((s + ${v:-0}))
  done
  echo "$s"
}
# timed ROW VARIANT ARGS...: time `client ARGS` (µs to T/ROW-VARIANT.us when counting) and
# the daemon's peak RSS meanwhile (kB to .kb); a failure is counted and its stderr kept
COUNTING=0
timed() {
  local row=$1 v=$2 t0 t1 rc
  shift 2
  sync
  clear_peak "$v"
  t0=$EPOCHREALTIME
  cli "$v" "$@" </dev/null >/dev/null 2>"$T/last.err"
  rc=$?
  t1=$EPOCHREALTIME
  if [ $rc = 0 ]; then
    if [ "$COUNTING" = 1 ]; then
      echo $((${t1/./} - ${t0/./})) >>"$T/$row-$v.us"
      [ -n "$(engine_pid "$v")" ] && peak_kb "$v" >>"$T/$row-$v.kb"
    fi
  else
    echo "exit $rc: $(head -c 300 "$T/last.err" | tr '\n' ' ')" >>"$T/$row-$v.err"
  fi
  return $rc
}
clean() { # VARIANT: no image left (so the next load/pull has nothing to reuse)
  case $1 in
    podman) cli podman rmi -af >/dev/null 2>&1 ;;
    *)
      local ids
      ids=$(cli "$1" images -q 2>/dev/null | sort -u)
      # shellcheck disable=SC2086
      [ -n "$ids" ] && cli "$1" rmi -f $ids >/dev/null 2>&1
      ;;
  esac
  [ -n "$(cli "$1" images -q 2>/dev/null)" ] && echo "$1: images left after rmi" >&2
}
push_fresh() { # ROW VARIANT SRC: tag SRC for a new empty registry, push it (timed), stop it
  local row=$1 v=$2 src=$3 ref
  PUSH_PORT=$((PUSH_PORT + 1))
  ref=127.0.0.1:$PUSH_PORT/bench/push:1
  reg_start push "$PUSH_PORT" || return 1
  cli "$v" tag "$src" "$ref" >/dev/null 2>&1
  # shellcheck disable=SC2046
  timed "$row" "$v" push $(tls "$v") "$ref" &&
    [ "$COUNTING" = 1 ] && du -sb "$WORK/reg-push/data" | cut -f1 >>"$T/$row-$v.bytes"
  cli "$v" rmi "$ref" >/dev/null 2>&1
  reg_stop push
}

round() { # R: every variant once, starting one further along each round
  local r=$1 k v nv=${#VARIANTS[@]}
  for ((k = 0; k < nv; k++)); do
    v=${VARIANTS[(k + r + nv) % nv]}
    echo "round $r: $v" >&2
    # the archive: load, save, push of the loaded image
    timed load "$v" load -i "$WORK/img-$r.tar"
    timed save "$v" save -o "$WORK/saved.tar" "bench/img:$r"
    [ "$COUNTING" = 1 ] && [ -s "$WORK/saved.tar" ] && stat -c %s "$WORK/saved.tar" >>"$T/save-$v.bytes"
    rm -f "$WORK/saved.tar"
    push_fresh push "$v" "bench/img:$r"
    # the registry: pull, the first container, push of the pulled image
    # shellcheck disable=SC2046
    timed pull "$v" pull $(tls "$v") "$PULL:$r"
    timed run "$v" run --rm --network none "$PULL:$r" true
    push_fresh push2 "$v" "$PULL:$r"
  done
}
for ((r = 1 - WARMUP; r <= N; r++)); do
  COUNTING=$([ $r -gt 0 ] && echo 1 || echo 0)
  round "$r"
done
for v in "${VARIANTS[@]}"; do clean "$v"; done

# --- memory: the berth daemon's peak RSS at two image sizes ----------------------------------
# mem_row VARIANT SIZE ROW ARGS...: one untimed run; the daemon's VmRSS before, peak during
mem_row() {
  local v=$1 size=$2 row=$3 before
  shift 3
  sync
  before=$(awk '/^VmRSS:/ { print $2 }' "/proc/$BERTH_PID/status")
  clear_peak "$v"
  if cli "$v" "$@" </dev/null >/dev/null 2>"$T/mem.err"; then
    echo "$row $size $before $(peak_kb "$v")" >>"$T/mem"
  else
    echo "$row $size failed: $(head -c 200 "$T/mem.err")" >>"$T/mem"
  fi
}
echo "memory rows..." >&2
for spec in "img-$N.tar $PULL:$N $SIZE" "big.tar $BIG_REF $BIG"; do
  read -r ar ref size <<<"$spec"
  [ "$size" -gt 0 ] && [ -s "$WORK/$ar" ] || continue
  clean berth
  mem_row berth "$size" load load -i "$WORK/$ar"
  clean berth
  mem_row berth "$size" pull pull "$ref"
  mem_row berth "$size" run run --rm --network none "$ref" true
  clean berth
done
# the berth CLI's own peak RSS while it streams the archive to the daemon
CLI_KB=$( { /usr/bin/time -f %M "$BERTH_BIN" -H "unix://$WORK/berth/sock" load -i "$WORK/img-$N.tar" >/dev/null; } 2>&1 | tail -1)
clean berth

# --- report ----------------------------------------------------------------------------------
stats() { # file of µs -> "median min max" in s
  sort -n "$1" | awk '{ a[NR] = $1 / 1e6 }
    END { if (NR == 0) { print "- - -"; exit }
          m = (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2
          printf "%.2f %.2f %.2f", m, a[1], a[NR] }'
}
median() { sort -n "$1" | awk '{ a[NR] = $1 } END { if (NR) print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2; else print "" }'; }
label() {
  case $1 in
    berth) echo "berth (berth CLI)" ;;
    berthd) echo "berth (docker CLI)" ;;
    docker) echo "docker" ;;
    podman) echo "podman" ;;
  esac
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 > 0 && a != "-") printf "%.2f", a / b; else print "n/a" }'; }
mb() { awk -v b="$1" 'BEGIN { if (b == "") print "-"; else printf "%.1f", b / 1e6 }'; }
mib() { awk -v k="$1" 'BEGIN { if (k == "") print "-"; else printf "%.1f", k / 1024 }'; }
row_table() { # ROW TITLE
  local row=$1 v med min max base runs fails extra
  echo "### $2"
  echo
  echo "| engine | median s | min s | max s | ratio to podman | runs | $3 |"
  echo "|---|---|---|---|---|---|---|"
  base=$( [ -s "$T/$row-podman.us" ] && stats "$T/$row-podman.us" | cut -d' ' -f1)
  for v in "${VARIANTS[@]}"; do
    runs=$(cat "$T/$row-$v.us" 2>/dev/null | wc -l)
    fails=$(cat "$T/$row-$v.err" 2>/dev/null | wc -l)
    read -r med min max <<<"$(stats "$T/$row-$v.us" 2>/dev/null || echo "- - -")"
    [ "$fails" != 0 ] && runs="$runs ($fails failed: $(head -c 120 "$T/$row-$v.err" | tr '\n|' '  '))"
    case $row in
      push | push2) extra="$(mb "$(median "$T/$row-$v.bytes" 2>/dev/null)") MB stored" ;;
      save) extra="$(mb "$(median "$T/$row-$v.bytes" 2>/dev/null)") MB archive" ;;
      *) extra=$( [ -s "$T/$row-$v.kb" ] && echo "$(mib "$(median "$T/$row-$v.kb")") MiB" || echo "-") ;;
    esac
    echo "| $(label "$v") | $med | $min | $max | $(ratio "$med" "${base:-}") | $runs | $extra |"
  done
  echo
}
sum_table() { # pull + first run, per run
  echo "### pull, then the first \`run --rm --network none IMG true\` (sum of the medians)"
  echo
  echo "| engine | pull s | first run s | sum s | ratio to podman |"
  echo "|---|---|---|---|---|"
  local v p r s base
  base=$(awk -v a="$(stats "$T/pull-podman.us" 2>/dev/null | cut -d' ' -f1)" -v b="$(stats "$T/run-podman.us" 2>/dev/null | cut -d' ' -f1)" 'BEGIN { if (a != "" && a != "-") printf "%.2f", a + b }')
  for v in "${VARIANTS[@]}"; do
    p=$(stats "$T/pull-$v.us" 2>/dev/null | cut -d' ' -f1)
    r=$(stats "$T/run-$v.us" 2>/dev/null | cut -d' ' -f1)
    s=$(awk -v a="$p" -v b="$r" 'BEGIN { if (a != "-" && b != "-") printf "%.2f", a + b; else print "-" }')
    echo "| $(label "$v") | $p | $r | $s | $(ratio "$s" "${base:-}") |"
  done
  echo
}
version() {
  case $1 in
    berth) "$BERTH_BIN" --version 2>/dev/null | awk '{ print $NF; exit }' ;;
    docker) dockerd --version 2>/dev/null | awk '{ gsub(",", "", $3); print $3; exit }' ;;
    podman) podman --version 2>/dev/null | awk '{ print $NF }' ;;
  esac
}
target() { # ROW: berth (berth CLI) vs podman
  local b p
  b=$(stats "$T/$1-berth.us" 2>/dev/null | cut -d' ' -f1)
  p=$(stats "$T/$1-podman.us" 2>/dev/null | cut -d' ' -f1)
  awk -v b="$b" -v p="$p" -v row="$1" 'BEGIN {
    if (b == "-" || p == "-" || b == "" || p == "") { printf "%s: n/a", row; exit }
    printf "%s %.1fx faster than podman (%s)", row, p / b, (p / b >= 2) ? "met" : "NOT met" }'
}

REPORT=$WORK/report.md
{
  echo "## bench/images — $(date -u '+%F %H:%M UTC')"
  echo
  echo "Machine: $(nproc) cores, $(awk '/^MemTotal:/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)," \
    "kernel $(uname -r)$(sed -n 's/^PRETTY_NAME="\(.*\)"/, \1/p' /etc/os-release 2>/dev/null)," \
    "$(df -h --output=source,fstype "$WORK" | tail -1 | awk '{ print $2 " on " $1 }')," \
    "load average at the end $(cut -d' ' -f1-3 /proc/loadavg). N=$N timed rounds after $WARMUP warmup," \
    "variants interleaved (each round starts one further along)."
  echo "Image: $(mb "$IMG_BYTES") MB docker-archive, 4 layers (busybox-static; random; text; 1800 small files)," \
    "$(mb "$GZ_BYTES") MB in the registry as gzip (pushed there by skopeo)."
  for e in berth docker podman; do has "$e" && echo "- $e: $(version "$e")${FAILED[$e]:+ — not available: ${FAILED[$e]}}"; done
  echo "- docker CLI $("$DOCKER_CLI" version --format '{{.Client.Version}}' 2>/dev/null), docker-registry $(docker-registry --version 2>/dev/null | awk '{ print $NF }')"
  echo
  echo "**Target** (berth ≥ 2× faster than podman on load, pull and push, berth CLI): $(target load); $(target pull); $(target push); $(target push2)."
  echo
  row_table load "load -i (docker-archive, ${SIZE} MB) — ratio below 1 is faster" "daemon peak RSS"
  row_table save "save -o" "size"
  row_table push "push of the loaded image to an empty registry" "registry size after"
  row_table pull "pull from the registry (gzip layers), nothing local" "daemon peak RSS"
  row_table run "first \`run --rm --network none IMG true\` right after the pull" "daemon peak RSS"
  sum_table
  row_table push2 "push of the pulled image to an empty registry" "registry size after"
  echo "### berth daemon memory (one untimed run each: VmRSS before, peak VmHWM during)"
  echo
  echo "| step | image MB | RSS before MiB | peak MiB |"
  echo "|---|---|---|---|"
  awk '{ row = ($1 == "run") ? "first run --rm" : $1
         if ($4 ~ /^[0-9]+$/) printf "| %s | %s | %.1f | %.1f |\n", row, $2, $3 / 1024, $4 / 1024
         else printf "| %s | %s | failed | |\n", row, $2 }' "$T/mem" 2>/dev/null
  echo
  echo "The berth CLI's own peak RSS while it streams the ${SIZE} MB archive to the daemon: $(mib "$CLI_KB") MiB."
  echo
  echo "Notes: times are the client command's wall time (bash \`\$EPOCHREALTIME\`, nsenter's fork+exec" \
    "included for every variant alike), after \`sync\`. Every push goes to a new, empty registry so no" \
    "tool can skip or cross-mount a blob. berth keeps layers as they came: a loaded archive's layers are" \
    "stored, and pushed, uncompressed (see 'registry size after'), where docker and podman gzip them on" \
    "push; and berth's load and pull return once the image is stored and verified, and unpack its" \
    "layers (in parallel) in the background from that moment, where docker and podman unpack before" \
    "load and pull return: berth's first-run row carries what unpacking was still left, so compare" \
    "the sums (pull + first run) as well. docker ran with --bridge=none" \
    "(its containers use --network none, like the others)."
  for f in "$T"/*.err; do
    [ -s "$f" ] || continue
    [ "${f##*/}" = last.err ] || [ "${f##*/}" = mem.err ] && continue
    echo
    echo "Failures, ${f##*/}: $(head -c 400 "$f" | tr '\n' ' ')"
  done
} >"$REPORT"
cat "$REPORT"
{ echo; cat "$REPORT"; } >>bench/images/results.md
echo "(appended to bench/images/results.md)" >&2
