#!/usr/bin/env bash
# bench/engine: the whole engine, side by side in one run: berth (driven by the real docker CLI
# and by berth's own CLI), dockerd (Debian's docker.io, with its own containerd) and podman.
# Rows: `run --rm busybox true` on the default bridge and with `--network none`; `exec C true`
# into a running container; COUNT `run -d ... sleep 3600` containers (time, memory, shim RSS,
# removal). Every engine lives in its own throw-away network, mount and pid namespace, so the
# host's interfaces, routes and firewall are never touched, and killing the namespace's init at
# the end (or on interrupt) takes every daemon, shim and container with it.
# Prints a markdown table and writes it to bench/engine/results.md. See bench/engine/README.md.
#
# Usage (as root): bench/engine/run.sh [N] [COUNT]   N timed runs per row (20), COUNT (100)
#   BERTH_BIN=path      use this berth (berth-shim next to it, or BERTH_SHIM) instead of building
#   BENCH_ENGINES="berth docker podman"   the engines to run (berth is always the subject)
#   BENCH_WARMUP=3      untimed rounds before the timed ones
#   BENCH_STALL=300     seconds without progress after which a client command is killed
set -uo pipefail
export LC_ALL=C # $EPOCHREALTIME with a '.'
unset RUST_BACKTRACE RUST_LIB_BACKTRACE

N=${1:-20}
COUNT=${2:-100}
WARMUP=${BENCH_WARMUP:-3}
STALL=${BENCH_STALL:-300}
read -r -a ENGINES <<<"${BENCH_ENGINES:-berth docker podman}"
case $N in '' | *[!0-9]* | 0) echo "usage: $0 [N>0] [COUNT>=0]" >&2; exit 2 ;; esac
case $COUNT in '' | *[!0-9]*) echo "usage: $0 [N>0] [COUNT>=0]" >&2; exit 2 ;; esac
[ "$(id -u)" = 0 ] || { echo "bench/engine needs root" >&2; exit 1; }
cd "$(dirname "$0")/../.." || exit 1
REPO=$PWD
has() { local e; for e in "${ENGINES[@]}"; do [ "$e" = "$1" ] && return 0; done; return 1; }

# --- what the engines need -------------------------------------------------------------------
need=()
[ -x /bin/busybox ] || need+=(busybox-static)
command -v tini >/dev/null 2>&1 || need+=(tini)
# dockerd and containerd; also the docker CLI, which drives berth too
if { has docker && ! command -v dockerd >/dev/null 2>&1; } || ! command -v docker >/dev/null 2>&1; then
  need+=(docker.io)
fi
has podman && ! command -v podman >/dev/null 2>&1 && need+=(podman)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing ${need[*]} (apt-get)..." >&2
  # docker.io's postinst would start dockerd on the host, in the host's network namespace:
  # a policy-rc.d that says no keeps it (and any other service) from starting now.
  rc_policy=
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
    rc_policy=/usr/sbin/policy-rc.d
  fi
  DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  st=$?
  [ -n "$rc_policy" ] && rm -f "$rc_policy"
  [ $st = 0 ] || { echo "apt-get install ${need[*]} failed" >&2; exit 1; }
fi
DOCKER_CLI=$(command -v docker) || { echo "no docker CLI" >&2; exit 1; }

if [ -z "${BERTH_BIN:-}" ]; then
  echo "building berth (scripts/build.sh --release: the shim linked statically)..." >&2
  "$REPO/scripts/build.sh" --release >/dev/null || { echo "berth build failed" >&2; exit 1; }
  BERTH_BIN=${CARGO_TARGET_DIR:-$REPO/target}/release/berth
fi
BERTH_BIN=$(realpath "$BERTH_BIN")
BERTH_SHIM=${BERTH_SHIM:-$(dirname "$BERTH_BIN")/berth-shim}
if [ ! -x "$BERTH_BIN" ] || [ ! -x "$BERTH_SHIM" ]; then echo "no $BERTH_BIN or $BERTH_SHIM" >&2; exit 1; fi

# --- namespaces, and leaving nothing behind --------------------------------------------------
WORK=$(mktemp -d "${TMPDIR:-/tmp}/berth-bench-engine.XXXXXX")
T=$WORK/t # timings
mkdir -p "$T"
DOCKER_CG=berth-bench-docker-$$ # dockerd's --cgroup-parent: its containers' cgroups, all ours
HOLDERS=()                      # NAME:PID of each namespace's init (tini)
libpod_parent_existed=0
[ -d /sys/fs/cgroup/pids/libpod_parent ] && libpod_parent_existed=1
berth_parent_existed=0 # the berth daemon's parent cgroup, removed after if this run made it
[ -d /sys/fs/cgroup/pids/berth ] && berth_parent_existed=1

# ns_new NAME: a new network, mount and pid namespace whose init is tini (it reaps the shims'
# orphans, as a host's init does); lo up, and private tmpfs on /run and /var/lib, so that what
# an engine writes there by default (podman's blob-info cache in /var/lib/containers/cache,
# state under /run) stays in the namespace. Its init's pid goes to $WORK/NAME.ns.
ns_new() {
  local name=$1 up pid=
  unshare --pid --fork --mount-proc --net --mount --propagation private -- tini -- sleep infinity \
    2>"$WORK/$name.ns.err" &
  up=$!
  for _ in $(seq 100); do
    pid=$(pgrep -P "$up" | head -1) && [ -n "$pid" ] && break
    sleep 0.02
  done
  [ -n "$pid" ] || { kill "$up" 2>/dev/null; echo "could not make the $name namespace" >&2; exit 1; }
  HOLDERS+=("$name:$pid")
  # never go on in the host's namespaces
  if [ "$(readlink "/proc/$pid/ns/net")" = "$(readlink /proc/self/ns/net)" ] ||
    [ "$(readlink "/proc/$pid/ns/mnt")" = "$(readlink /proc/self/ns/mnt)" ]; then
    echo "the $name namespace is the host's" >&2; exit 1
  fi
  echo "$pid" >"$WORK/$name.ns"
  in_ns "$name" sh -c 'ip link set lo up && mount -t tmpfs -o mode=755 tmpfs /run &&
    mount -t tmpfs -o mode=755 tmpfs /var/lib'
}
in_ns() { # NAME CMD...: run CMD inside NAME's namespaces
  local name=$1; shift
  nsenter -t "$(cat "$WORK/$name.ns")" --net --mount --pid -- "$@"
}

. scripts/lib/cgroups.sh # rm_cgroups
. scripts/lib/podman.sh  # podman_conf
berth_ids() { # every container id berth reported creating (the events log) or still has
  { cat "$WORK/berth/created" 2>/dev/null
    ls "/proc/$(cat "$WORK/berth.ns" 2>/dev/null)/root/run/berth/runtime" 2>/dev/null; } | sort -u
}
podman_ids() { # the same for podman: its events file and its containers' storage
  { grep -ho '"ID":"[0-9a-f]\{64\}"' "$WORK/podman/tmp/events/events.log" 2>/dev/null | cut -d'"' -f4
    ls "$WORK/podman/root/overlay-containers" 2>/dev/null; } | sort -u
}

cleanup() {
  trap '' INT TERM
  local h pid id left=
  [ -n "${EVENTS_PID:-}" ] && kill "$EVENTS_PID" 2>/dev/null
  # daemons first, politely (they unmount and delete what they can), then the namespaces' inits:
  # SIGKILL to a pid namespace's init kills everything in it and in the containers' nested ones.
  for pid in "$(cat "$WORK/berth/host.pid" 2>/dev/null)" "$(cat "$WORK/docker/host.pid" 2>/dev/null)"; do
    [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null
  done
  sleep 1
  for h in "${HOLDERS[@]}"; do kill -KILL "${h#*:}" 2>/dev/null; done
  for h in "${HOLDERS[@]}"; do
    for _ in $(seq 100); do [ -e "/proc/${h#*:}" ] || break; sleep 0.05; done
  done
  # The kernel frees the namespaces (and their mounts, links, rules) as the last task goes.
  # cgroups: only ours. dockerd's are all under its own parent; berth's and podman's by id. A
  # cgroup whose last task is still exiting refuses rmdir for a moment: retry for up to 10 s.
  berth_ids >"$WORK/ids.berth"
  podman_ids >"$WORK/ids.podman"
  for _ in $(seq 20); do
    rm_cgroups "$DOCKER_CG"
    while read -r id; do rm_cgroups "berth/$id"; done <"$WORK/ids.berth"
    while read -r id; do rm_cgroups "libpod_parent/libpod-$id"; done <"$WORK/ids.podman"
    [ $libpod_parent_existed = 0 ] && rm_cgroups libpod_parent
    [ $berth_parent_existed = 0 ] && rm_cgroups berth
    left=$(for d in /sys/fs/cgroup/*/"$DOCKER_CG"; do [ -d "$d" ] && echo "$d"; done
      while read -r id; do ls -d /sys/fs/cgroup/*/berth/"$id" 2>/dev/null; done <"$WORK/ids.berth"
      while read -r id; do ls -d /sys/fs/cgroup/*/libpod_parent/libpod-"$id" 2>/dev/null; done <"$WORK/ids.podman")
    [ -z "$left" ] && break
    sleep 0.5
  done
  [ -n "$left" ] && echo "cgroups that would not go: $left" >&2
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# --- the image -------------------------------------------------------------------------------
mkdir -p "$WORK/rootfs/bin" "$WORK/rootfs/etc"
cp /bin/busybox "$WORK/rootfs/bin/busybox"
for t in sh true sleep echo; do ln -s busybox "$WORK/rootfs/bin/$t"; done
echo 'root:x:0:0:root:/root:/bin/sh' >"$WORK/rootfs/etc/passwd"
echo 'root:x:0:' >"$WORK/rootfs/etc/group"
tar -C "$WORK/rootfs" -cf "$WORK/busybox.tar" .

# The clients (docker CLI, berth CLI) and podman, which has no daemon, run in the "client"
# namespace: podman's bridge and firewall rules are made there, and every timed command is
# started from a bash already inside it (no nsenter in any timing).
ns_new client

wait_api() { # CLI...: until `CLI version` answers (30 s)
  for _ in $(seq 300); do "$@" version >/dev/null 2>&1 && return 0; sleep 0.1; done
  return 1
}

# --- engines: start (daemon in its namespace), import the image -----------------------------
# Each sets CLI_<engine> (the command line that talks to it) or marks the engine failed.
start_berth() {
  local d=$WORK/berth
  mkdir -p "$d"
  ns_new berth
  in_ns berth env BERTH_SHIM="$BERTH_SHIM" "$BERTH_BIN" daemon --data-root "$d/data" \
    --exec-root /run/berth -H "unix://$d/berth.sock" --nft-table berthbench --bridge bbench0 \
    >"$d/daemon.log" 2>&1 &
  CLI_berth="$DOCKER_CLI -H unix://$d/berth.sock"
  CLI_berthcli="$BERTH_BIN -H unix://$d/berth.sock"
  # shellcheck disable=SC2086
  wait_api $CLI_berth || { echo "berth daemon did not come up: $(tail -5 "$d/daemon.log")"; return 1; }
  # its pid as the host sees it (anchored: not the nsenter that started it)
  pgrep -f "^$BERTH_BIN daemon --data-root $d/data" | head -1 >"$d/host.pid"
  # every container id it creates, for the cleanup (its cgroups are /berth/<id>, shared)
  # shellcheck disable=SC2086
  $CLI_berth events --filter type=container --filter event=create --format '{{.Actor.ID}}' \
    >"$d/created" 2>/dev/null &
  EVENTS_PID=$!
  # shellcheck disable=SC2086
  $CLI_berth import "$WORK/busybox.tar" busybox >/dev/null
}

start_docker() {
  local d=$WORK/docker
  mkdir -p "$d"
  ns_new docker
  # dockerd 20.10 writes its trust key to /etc/docker/key.json unless told otherwise
  printf '{"deprecated-key-path": "%s/key.json"}\n' "$d" >"$d/daemon.json"
  # no --containerd: dockerd starts its own containerd, state under --exec-root, root under
  # --data-root; --cgroup-parent keeps the containers' cgroups in a tree of this run's own
  in_ns docker dockerd --config-file "$d/daemon.json" --data-root "$d/data" --exec-root /run/docker \
    --pidfile "$d/dockerd.pid" -H "unix://$d/docker.sock" --cgroup-parent "/$DOCKER_CG" \
    >"$d/daemon.log" 2>&1 &
  CLI_docker="$DOCKER_CLI -H unix://$d/docker.sock"
  # shellcheck disable=SC2086
  wait_api $CLI_docker || { echo "dockerd did not come up: $(tail -5 "$d/daemon.log")"; return 1; }
  # not its --pidfile: that holds the pid inside its namespace
  pgrep -f "^dockerd --config-file $d/daemon.json" | head -1 >"$d/host.pid"
  # shellcheck disable=SC2086
  $CLI_docker import "$WORK/busybox.tar" busybox >/dev/null
}

start_podman() {
  local d=$WORK/podman
  podman_conf "$d" /run/podman-runroot
  # crun (podman's runtime here) refuses a hybrid cgroup host ("cgroups in hybrid mode not
  # supported, drop all controllers from cgroupv2"): hide the v2 mount in podman's namespace.
  in_ns client umount /sys/fs/cgroup/unified 2>/dev/null
  CLI_podman=podman
  TMPDIR=$d/tmp in_ns client podman import "$WORK/busybox.tar" busybox >/dev/null 2>"$d/import.err" ||
    { echo "podman import failed: $(cat "$d/import.err")"; return 1; }
}

declare -A FAILED=() # engine -> why it is not in the table
for e in "${ENGINES[@]}"; do
  echo "starting $e..." >&2
  "start_$e" >"$WORK/$e.start" 2>&1 || FAILED[$e]=$(tail -c 300 "$WORK/$e.start" | tr '\n' ' ')
  [ -n "${FAILED[$e]:-}" ] && echo "$e: ${FAILED[$e]}" >&2
done
ok() { has "$1" && [ -z "${FAILED[$1]:-}" ]; }
# Variants: each engine by its name, and berth a second time through its own CLI, "berthcli".
label() {
  case $1 in
    berth) echo "berth (docker CLI)" ;;
    berthcli) echo "berth (berth CLI)" ;;
    docker) echo "docker" ;;
    podman) echo "podman" ;;
  esac
}
engine_of() { case $1 in berthcli) echo berth ;; *) echo "$1" ;; esac; }

# --- timing ----------------------------------------------------------------------------------
# rounds FILE R W: FILE holds variants, "NAME COMMAND..." a line. W untimed then R timed rounds;
# each round runs every variant once, starting one further along each round, so a slow stretch
# of the machine falls on all engines alike. Times come from bash's $EPOCHREALTIME around the
# command (only the client's own fork+exec besides it, as with hyperfine -N). µs per successful
# run to $T/NAME.us; each failed run adds a line to $T/NAME.fails and its stderr to NAME.err.
rounds() {
  local file=$1 R=$2 W=$3 r k v name rest t0 t1 rc
  local -a lines cmd
  mapfile -t lines <"$file"
  v=${#lines[@]}
  for ((r = 1 - W; r <= R; r++)); do
    for ((k = 0; k < v; k++)); do
      read -r name rest <<<"${lines[(k + r + v * W) % v]}"
      read -r -a cmd <<<"$rest"
      echo "$name, round $r" >"$T/progress"
      t0=$EPOCHREALTIME
      "${cmd[@]}" </dev/null >/dev/null 2>"$T/$name.last"
      rc=$?
      t1=$EPOCHREALTIME
      if [ $rc = 0 ]; then
        ((r > 0)) && echo $((${t1/./} - ${t0/./})) >>"$T/$name.us"
      elif ((r > 0)); then
        echo 1 >>"$T/$name.fails"
        echo "exit $rc: $(head -c 300 "$T/$name.last" | tr '\n' ' ')" >>"$T/$name.err"
      fi
    done
  done
}
# probe FILE: one untimed try of each variant, bounded: one that hangs is left out (and noted
# in NAME.probe), one that fails stays in (its failed runs are counted and shown)
probe() {
  local name rest rc
  local -a cmd
  while read -r name rest; do
    read -r -a cmd <<<"$rest"
    timeout 120 "${cmd[@]}" </dev/null >/dev/null 2>"$T/$name.probe"
    rc=$?
    if [ $rc = 124 ]; then
      echo "hung (no exit in 120 s)" >"$T/$name.probe"
    else
      echo "$name $rest"
      [ $rc = 0 ] || echo "$name: probe failed: $(head -c 300 "$T/$name.probe")" >&2
    fi
  done <"$1"
}
# many NAME CLI...: COUNT times `CLI run -d --name bench-many-I busybox sleep 3600`;
# total µs to $T/NAME.many, failed runs to NAME.manyfails
many() {
  local name=$1 i t0 t1 fails=0
  shift
  t0=$EPOCHREALTIME
  for ((i = 1; i <= COUNT; i++)); do
    echo "$name, run -d number $i" >"$T/progress"
    "$@" run -d --name "bench-many-$i" busybox sleep 3600 </dev/null >/dev/null 2>>"$T/$name.manyerr" ||
      fails=$((fails + 1))
  done
  t1=$EPOCHREALTIME
  echo $((${t1/./} - ${t0/./})) >"$T/$name.many"
  echo "$fails" >"$T/$name.manyfails"
}
# rm_many NAME CLI RMARGS...: one `CLI rm RMARGS bench-many-1 ... bench-many-COUNT`; µs to NAME.rm
rm_many() {
  local name=$1 i t0 t1
  local -a clicmd names=()
  read -r -a clicmd <<<"$2"
  shift 2
  for ((i = 1; i <= COUNT; i++)); do names+=("bench-many-$i"); done
  t0=$EPOCHREALTIME
  "${clicmd[@]}" rm "$@" "${names[@]}" </dev/null >/dev/null 2>>"$T/$name.rmerr"
  t1=$EPOCHREALTIME
  echo $((${t1/./} - ${t0/./})) >"$T/$name.rm"
}
export -f rounds probe many rm_many
export T COUNT
kill_tree() { # PID: it and its descendants, children first
  local c
  for c in $(pgrep -P "$1"); do kill_tree "$c"; done
  kill -KILL "$1" 2>/dev/null
}
# in_client CMD...: CMD (an exported function or a command) in the client namespace. In the
# background, so a signal to this script is handled at once, not after the loop; and watched:
# if $T/progress (which the functions above update before each command) stays the same for
# $STALL seconds, the command is killed and the stall is reported (a hung engine must not hang
# the benchmark).
in_client() {
  local pid last now same=0
  echo "start: $*" >"$T/progress"
  in_ns client bash -c '"$@"' bash "$@" &
  pid=$!
  last=$(<"$T/progress")
  while kill -0 "$pid" 2>/dev/null; do
    sleep 0.5 &
    wait $!
    now=$(<"$T/progress")
    if [ "$now" != "$last" ]; then last=$now; same=0; else same=$((same + 1)); fi
    if [ $same -ge $((STALL * 2)) ]; then
      echo "no progress in ${STALL} s, killed: ${now#start: }" | tee -a "$WORK/stalls" >&2
      kill_tree "$pid"
      break
    fi
  done
  wait "$pid" 2>/dev/null
}

# variants FILE ARGS...: one line per engine (and client) that is up, "NAME CLI ARGS..."
variants() {
  local file=$1; shift
  : >"$file"
  ok berth && echo "berth $CLI_berth $*" >>"$file"
  ok berth && echo "berthcli $CLI_berthcli $*" >>"$file"
  ok docker && echo "docker $CLI_docker $*" >>"$file"
  ok podman && echo "podman $CLI_podman $*" >>"$file"
}

timed() { # ROW ARGS...: probe, then N interleaved rounds of `CLI ARGS...` per engine, as ROW-NAME
  local row=$1; shift
  variants "$WORK/$row.all" "$@"
  sed -i "s/^/$row-/" "$WORK/$row.all"
  in_client probe "$WORK/$row.all" >"$WORK/$row.ok"
  echo "timing $row: $(wc -l <"$WORK/$row.ok") variants x $N runs..." >&2
  [ -s "$WORK/$row.ok" ] && in_client rounds "$WORK/$row.ok" "$N" "$WARMUP"
}

# --- rows 1 and 2: run --rm busybox true, default bridge and --network none -------------------
timed bridge run --rm busybox true
timed none run --rm --network none busybox true

# --- row 4: exec into a running container ----------------------------------------------------
for e in berth docker podman; do
  ok "$e" || continue
  cli=CLI_$e
  # shellcheck disable=SC2086
  in_client ${!cli} run -d --name bench-exec busybox sleep 3600 >/dev/null 2>"$T/exec-$e.start" ||
    echo "$e: could not start the exec container: $(cat "$T/exec-$e.start")" >&2
done
timed exec exec bench-exec true
for e in berth docker podman; do
  ok "$e" || continue
  cli=CLI_$e
  # shellcheck disable=SC2086
  in_client ${!cli} rm -f bench-exec >/dev/null 2>&1
done

# --- row 3: COUNT containers kept running ----------------------------------------------------
mem_avail() { awk '/^MemAvailable:/ { print $2 }' /proc/meminfo; } # kB
# What the host cannot take back without killing something, in kB: anonymous and shmem pages,
# unreclaimable slab, kernel stacks, page tables. Steadier than MemAvailable, which moves with
# the page cache and the kernel's estimate of it.
mem_held() { awk '/^(AnonPages|Shmem|SUnreclaim|KernelStack|PageTables):/ { s += $2 } END { print s }' /proc/meminfo; }
# ns_procs NAME: the pids in NAME's pid namespace (daemons, shims, conmon), not the containers
# (they are in nested pid namespaces), not its init and holder
ns_procs() {
  local want p init
  init=$(cat "$WORK/$1.ns")
  want=$(readlink "/proc/$init/ns/pid")
  for p in /proc/[0-9]*; do
    [ "$(readlink "$p/ns/pid" 2>/dev/null)" = "$want" ] || continue
    p=${p#/proc/}
    [ "$p" = "$init" ] && continue
    [ "$(cat "/proc/$p/comm" 2>/dev/null)" = sleep ] &&
      [ "$(awk '/^PPid/ { print $2 }' "/proc/$p/status" 2>/dev/null)" = "$init" ] && continue
    echo "$p"
  done
}
pss_sum() { # NAME: kB of PSS over ns_procs NAME
  local p s=0 v
  for p in $(ns_procs "$1"); do
    v=$(awk '/^Pss:/ { print $2 }' "/proc/$p/smaps_rollup" 2>/dev/null)
    s=$((s + ${v:-0}))
  done
  echo "$s"
}
rss_of() { # NAME COMM: VmRSS kB of each process named COMM in NAME's namespace, one a line
  local p
  for p in $(ns_procs "$1"); do
    [ "$(cat "/proc/$p/comm" 2>/dev/null)" = "$2" ] && awk '/^VmRSS:/ { print $2 }' "/proc/$p/status"
  done
}
declare -A NSOF=([berth]=berth [docker]=docker [podman]=client)
declare -A SHIM=([berth]=berth-shim [docker]=containerd-shim [podman]=conmon) # comm, 15 chars
declare -A DAEMON=([berth]=berth [docker]="dockerd containerd" [podman]="")
if [ "$COUNT" -gt 0 ]; then
  # berth through its own CLI first: should the docker CLI's path wedge the daemon, it comes after
  for e in berthcli berth docker podman; do
    ok "$(engine_of "$e")" || continue
    cli=CLI_$e
    ns=${NSOF[$(engine_of "$e")]}
    echo "row 3, $(label "$e"): $COUNT x run -d ..." >&2
    sleep 2
    m0=$(mem_avail); h0=$(mem_held); p0=$(pss_sum "$ns")
    d0=$(for c in ${DAEMON[$(engine_of "$e")]}; do rss_of "$ns" "$c"; done | awk '{ s += $1 } END { print s + 0 }')
    # shellcheck disable=SC2086
    in_client many "$e" ${!cli}
    if [ ! -s "$T/$e.many" ]; then # it stalled: the engine is wedged, nothing more to ask it
      tail -1 "$WORK/stalls" >"$T/$e.hung" 2>/dev/null
      continue
    fi
    sleep 2
    m1=$(mem_avail); h1=$(mem_held); p1=$(pss_sum "$ns")
    d1=$(for c in ${DAEMON[$(engine_of "$e")]}; do rss_of "$ns" "$c"; done | awk '{ s += $1 } END { print s + 0 }')
    rss_of "$ns" "${SHIM[$(engine_of "$e")]}" >"$T/$e.shimrss"
    rmargs=(-f); [ "$e" = podman ] && rmargs=(-f -t 0) # podman rm -f waits for SIGTERM's timeout first
    in_client rm_many "$e" "${!cli}" "${rmargs[@]}"
    echo "$m0 $m1 $p0 $p1 $d0 $d1 $h0 $h1" >"$T/$e.mem"
    # shellcheck disable=SC2086
    left=$(in_client ${!cli} ps -aq 2>/dev/null | wc -l)
    echo "$left" >"$T/$e.left"
  done
fi

# --- report ----------------------------------------------------------------------------------
cg_dir() { # the first /sys/fs/cgroup/<controller>/$1 (or v2 /sys/fs/cgroup/$1) that exists
  local d
  for d in /sys/fs/cgroup/*/"$1" /sys/fs/cgroup/"$1"; do [ -d "$d" ] && { echo "$d"; return 0; }; done
  return 1
}
leaks() { # ENGINE: its containers' cgroups still there now that it has removed every container
  local id d
  case $1 in
    berth) for id in $(berth_ids); do [ -n "$(cg_dir "berth/$id")" ] && echo "$id"; done ;;
    docker) d=$(cg_dir "$DOCKER_CG") && find "$d" -mindepth 1 -type d ;;
    podman) for id in $(podman_ids); do [ -n "$(cg_dir "libpod_parent/libpod-$id")" ] && echo "$id"; done ;;
  esac | wc -l
}
stats() { # file of µs -> "median p90" in ms (p90: nearest rank)
  sort -n "$1" | awk '{ a[NR] = $1 / 1000 }
    END { if (NR == 0) { print "- -"; exit }
          m = (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2
          r = int(NR * 0.9); if (r < NR * 0.9) r++; if (r < 1) r = 1
          printf "%.1f %.1f", m, a[r] }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 > 0 && a != "-") printf "%.2f", a / b; else print "n/a" }'; }
latency_rows() { # ROW: one table line per variant
  local row=$1 v med p90 base runs fails why
  base=$( [ -s "$T/$row-docker.us" ] && stats "$T/$row-docker.us" | cut -d' ' -f1)
  for v in berth berthcli docker podman; do
    has "$(engine_of "$v")" || continue
    why=${FAILED[$(engine_of "$v")]:-}
    if [ -n "$why" ]; then
      echo "| $(label "$v") | not available | | | |"; continue
    fi
    if ! grep -q "^$row-$v " "$WORK/$row.ok" 2>/dev/null; then
      echo "| $(label "$v") | failed: $(head -c 150 "$T/$row-$v.probe" | tr '\n|' '  ') | | | |"; continue
    fi
    runs=$(wc -l 2>/dev/null <"$T/$row-$v.us" || echo 0)
    fails=$(wc -l 2>/dev/null <"$T/$row-$v.fails" || echo 0)
    if [ "$runs" = 0 ]; then
      echo "| $(label "$v") | all $fails failed: $(head -c 150 "$T/$row-$v.err" | tr '\n|' '  ') | | | 0 |"
      continue
    fi
    read -r med p90 <<<"$(stats "$T/$row-$v.us")"
    [ "$fails" != 0 ] && runs="$runs ($fails failed)"
    echo "| $(label "$v") | $med | $p90 | $(ratio "$med" "${base:-}") | $runs |"
  done
}
version() {
  case $1 in
    berth) "$BERTH_BIN" --version 2>/dev/null | awk '{ print $NF; exit }' ;;
    docker) dockerd --version 2>/dev/null | awk '{ gsub(",", "", $3); print $3; exit }' ;;
    podman) echo "$(podman --version 2>/dev/null | awk '{ print $NF }'), crun $(crun --version 2>/dev/null | awk '{ print $NF; exit }'), conmon $(conmon --version 2>/dev/null | awk '{ print $NF; exit }')" ;;
  esac
}
mib() { awk -v k="$1" -v n="${2:-1}" 'BEGIN { printf "%.2f", k / 1024 / n }'; }

{
  echo "## bench/engine — $(date -u '+%F %H:%M UTC')"
  echo
  echo "Machine: $(nproc) cores, kernel $(uname -r)$(sed -n 's/^PRETTY_NAME="\(.*\)"/, \1/p' /etc/os-release 2>/dev/null)," \
    "load average at the end $(cut -d' ' -f1-3 /proc/loadavg). N=$N timed runs per row after $WARMUP warmup" \
    "rounds, engines interleaved run by run. docker CLI $("$DOCKER_CLI" version --format '{{.Client.Version}}' 2>/dev/null)."
  for e in "${ENGINES[@]}"; do echo "- $e: $(version "$e")${FAILED[$e]:+ — not available: ${FAILED[$e]}}"; done
  echo
  echo "### run --rm busybox true, default bridge network (median ms)"
  echo
  echo "| engine | median ms | p90 ms | ratio to docker | runs |"
  echo "|---|---|---|---|---|"
  latency_rows bridge
  echo
  echo "### run --rm --network none busybox true (median ms)"
  echo
  echo "| engine | median ms | p90 ms | ratio to docker | runs |"
  echo "|---|---|---|---|---|"
  latency_rows none
  echo
  echo "### exec bench-exec true, into a running container (median ms)"
  echo
  echo "| engine | median ms | p90 ms | ratio to docker | runs |"
  echo "|---|---|---|---|---|"
  latency_rows exec
  if [ "$COUNT" -gt 0 ]; then
    echo
    echo "### $COUNT containers: run -d busybox sleep 3600, one after another, default bridge"
    echo
    echo "| engine | run -d x$COUNT s | ms each | ratio to docker | shims | shim RSS MiB (median) | engine PSS MiB per container | daemon RSS growth MiB | host MemAvailable drop MiB per container | host memory held MiB per container | rm -f all s | left |"
    echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
    base=$( [ -s "$T/docker.many" ] && awk -v c="$COUNT" '{ printf "%.1f", $1 / 1000 / c }' "$T/docker.many")
    for e in berthcli berth docker podman; do
      has "$(engine_of "$e")" || continue
      if [ -s "$T/$e.hung" ]; then
        echo "| $(label "$e") | hung: $(sed 's/.*run -d number \([0-9]*\).*/run -d number \1 got no answer/' "$T/$e.hung") in $STALL s | | | | | | | | | | |"
        continue
      fi
      if [ ! -s "$T/$e.many" ]; then echo "| $(label "$e") | not available | | | | | | | | | | |"; continue; fi
      read -r m0 m1 p0 p1 d0 d1 h0 h1 <"$T/$e.mem"
      tot=$(awk '{ printf "%.1f", $1 / 1e6 }' "$T/$e.many")
      each=$(awk -v c="$COUNT" '{ printf "%.1f", $1 / 1000 / c }' "$T/$e.many")
      fails=$(cat "$T/$e.manyfails")
      [ "$fails" != 0 ] && tot="$tot ($fails failed)"
      shims=$(wc -l <"$T/$e.shimrss")
      shim=$(sort -n "$T/$e.shimrss" | awk '{ a[NR] = $1 } END { if (NR) printf "%.2f", ((NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2) / 1024; else print "-" }')
      daemon=-; [ "$e" != podman ] && daemon=$(mib $((d1 - d0)))
      rmt=$(awk '{ printf "%.1f", $1 / 1e6 }' "$T/$e.rm")
      echo "| $(label "$e") | $tot | $each | $(ratio "$each" "${base:-}") | $shims | $shim | $(mib $((p1 - p0)) "$COUNT") | $daemon | $(mib $((m0 - m1)) "$COUNT") | $(mib $((h1 - h0)) "$COUNT") | $rmt | $(cat "$T/$e.left") |"
    done
  fi
  echo
  echo -n "Container cgroups the engines left behind after removing all their containers:"
  for e in berth docker podman; do
    ok "$e" || continue
    if [ -s "$T/$e.hung" ] || [ -s "$T/${e}cli.hung" ]; then
      echo -n " $e n/a (it hung with containers running);"
    else
      echo -n " $e $(leaks "$e");"
    fi
  done
  echo
  echo
  echo "ratio to docker = this engine's median / dockerd's median (below 1 is faster). Every engine" \
    "ran in its own network, mount and pid namespace; podman's and the clients' namespace has the" \
    "cgroup v2 mount hidden (crun refuses hybrid hosts). podman rm used \`-f -t 0\` (docker's \`rm -f\` kills at once)." \
    "Data roots (images, containers' layers and logs) on /tmp (ext4); runtime state (berth's and dockerd's" \
    "--exec-root, podman's runroot) on the namespace's tmpfs /run, where their defaults put it."
  errs=()
  for f in "$T"/*.err "$T"/*.manyerr "$T"/*.rmerr; do [ -s "$f" ] && errs+=("$f"); done
  if [ -s "$WORK/stalls" ]; then
    echo
    echo "Stalled client commands (killed after $STALL s without progress):"
    echo
    sed 's/^/- /' "$WORK/stalls"
  fi
  if [ ${#errs[@]} -gt 0 ]; then
    echo
    echo "Errors of failed runs, by kind (ids and tempdir paths replaced; how many times):"
    echo
    for f in "${errs[@]}"; do
      echo "- $(basename "$f" | sed 's/\.err$/ (timed runs)/; s/\.manyerr$/ (COUNT row, run -d)/; s/\.rmerr$/ (COUNT row, rm)/'):"
      sed -E "s#$WORK#<tmp>#g; s/[0-9a-f]{12,64}/<id>/g" "$f" | cut -c1-200 | sort | uniq -c | sort -rn | head -4 |
        while read -r n msg; do echo "  - ${n}x \`$msg\`"; done
    done
  fi
} | tee "$WORK/table.md"
cp "$WORK/table.md" "$REPO/bench/engine/results.md"
echo "written: bench/engine/results.md" >&2
