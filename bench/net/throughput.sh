#!/usr/bin/env bash
# bench/net/throughput.sh: TCP throughput through each engine's container network, side by
# side in one run, all measured with the same iperf3 (the host's /usr/bin/iperf3):
#
#   c2c       container -> container on the engine's default bridge network
#   pub-host  the engine's host netns -> the host's address 198.18.0.1:15201, published with
#             `-p 15201:5201` to the server container
#   pub-lo    the same to 127.0.0.1:15201
#   pub-ext   a client on "another host" (an outside netns behind a veth) -> 198.18.0.1:15201
#   loopback  client and server on 127.0.0.1 in a fresh netns: the ceiling
#
# Engines: berth (`berth daemon`, driven by the berth CLI), docker (Debian's dockerd with the
# containerd it starts; published ports by DNAT, and docker-proxy for 127.0.0.1) and podman
# (netavark, iptables). The containers run only `sleep`; iperf3 runs from the host binary in
# a container's network namespace (`nsenter -t PID -n iperf3 ...`). Each run is
# `iperf3 -c ... -O 1 -t SECS -J` (one stream; the first second omitted); the table shows the
# median Gbit/s of ROUNDS runs, runs of all paths and engines interleaved round by round.
#
# Every engine lives in its own throw-away pid+net+mount namespace (init: tini; private tmpfs
# on /run and /var/lib) with a veth "uplink" (198.18.0.1/24, RFC 2544's benchmark range) to
# its own outside netns (198.18.0.2): no traffic leaves namespaces made here, and the host's
# interfaces, routes and firewall are never touched. Killing a namespace's init at the end
# takes its daemon, shims, containers and iperf3 servers with it; the outside and loopback
# netns are deleted, and the containers' cgroups removed (only this run's).
#
# Usage (root): bench/net/throughput.sh   prints a markdown section on stdout.
#   BERTH_BIN=path   berth (berth-shim next to it, or BERTH_SHIM); default: the release build
#   BENCH_ENGINES="berth docker podman"   BENCH_IPERF_ROUNDS=3   BENCH_IPERF_SECS=5
set -uo pipefail
export LC_ALL=C
cd "$(dirname "$0")/../.." || exit 1

ROUNDS=${BENCH_IPERF_ROUNDS:-3}
SECS=${BENCH_IPERF_SECS:-5}
read -r -a ENGINES <<<"${BENCH_ENGINES:-berth docker podman}"
IPERF=${IPERF:-/usr/bin/iperf3}
BERTH_BIN=$(realpath "${BERTH_BIN:-${CARGO_TARGET_DIR:-$PWD/target}/release/berth}")
BERTH_SHIM=${BERTH_SHIM:-$(dirname "$BERTH_BIN")/berth-shim}
HOST_IP=198.18.0.1  # the engine's "host" address, on its uplink
EXT_IP=198.18.0.2   # the outside client's
HOST_PORT=15201     # published
SRV_PORT=5201       # iperf3 in the server container

[ "$(id -u)" = 0 ] || { echo "bench/net/throughput.sh needs root" >&2; exit 1; }
for b in "$IPERF" tini jq; do command -v "$b" >/dev/null || { echo "no $b" >&2; exit 1; }; done

WORK=$(mktemp -d /tmp/bench-net-tput.XXXXXX)
T=$WORK/t
mkdir -p "$T"
P=bnt$$                          # prefix of every netns this run makes
DOCKER_CG=bench-net-docker-$$    # dockerd's --cgroup-parent
HOLDERS=()                       # NAME:PID of each engine namespace's init
LOOP_PID=
libpod_parent_existed=0
[ -d /sys/fs/cgroup/pids/libpod_parent ] && libpod_parent_existed=1
berth_parent_existed=0 # the berth daemon's parent cgroup, removed after if this run made it
[ -d /sys/fs/cgroup/pids/berth ] && berth_parent_existed=1

# --- namespaces ------------------------------------------------------------------------------
# ns_new NAME: a pid+net+mount namespace whose init is tini, lo up, private tmpfs on /run and
# /var/lib; its init's pid (as the host sees it) to $WORK/NAME.ns. Then its uplink: a veth to
# a new outside netns ${P}o-NAME, the host end with $HOST_IP.
ns_new() {
  local name=$1 up pid=
  unshare --pid --fork --mount-proc --net --mount --propagation private -- tini -- sleep infinity \
    2>"$WORK/$name.ns.err" &
  up=$!
  for _ in $(seq 100); do
    pid=$(pgrep -P "$up" | head -1) && [ -n "$pid" ] && break
    sleep 0.02
  done
  [ -n "$pid" ] || { kill "$up" 2>/dev/null; echo "could not make the $name namespace"; return 1; }
  HOLDERS+=("$name:$pid")
  if [ "$(readlink "/proc/$pid/ns/net")" = "$(readlink /proc/self/ns/net)" ]; then
    echo "the $name namespace is the host's"; return 1
  fi
  echo "$pid" >"$WORK/$name.ns"
  in_ns "$name" sh -c 'ip link set lo up && mount -t tmpfs -o mode=755 tmpfs /run &&
    mount -t tmpfs -o mode=755 tmpfs /var/lib' || return 1
  ip netns add "${P}o-$name" &&
    ip -n "${P}o-$name" link add eth0 type veth peer name uplink0 netns "$pid" &&
    ip -n "${P}o-$name" addr add "$EXT_IP/24" dev eth0 &&
    ip -n "${P}o-$name" link set lo up && ip -n "${P}o-$name" link set eth0 up &&
    in_ns "$name" sh -c "ip addr add $HOST_IP/24 dev uplink0 && ip link set uplink0 up"
}
in_ns() { # NAME CMD...: CMD inside NAME's namespaces (its /proc: pids as the engine sees them)
  local name=$1; shift
  nsenter -t "$(cat "$WORK/$name.ns")" --net --mount --pid -- "$@"
}
outside() { local name=$1; shift; nsenter --net="/run/netns/${P}o-$name" -- "$@"; }

# --- cleanup: leave nothing behind -----------------------------------------------------------
. scripts/lib/cgroups.sh # rm_cgroups
. scripts/lib/podman.sh  # podman_conf
cleanup() {
  trap '' INT TERM
  local h pid id left='' ns e
  # containers first, through their engine (it releases what it made), then the daemons
  for e in "${ENGINES[@]}"; do
    local rm=(rm -f); [ "$e" = podman ] && rm=(rm -f -t 0) # podman's -f waits for SIGTERM first
    # shellcheck disable=SC2046 # ids, one a word
    [ -s "$WORK/$e.ids" ] && [ -n "${CLI[$e]:-}" ] &&
      timeout 60 nsenter -t "$(cat "$WORK/$e.ns")" --net --mount --pid -- \
        ${CLI[$e]} "${rm[@]}" $(cat "$WORK/$e.ids") >/dev/null 2>&1
  done
  for pid in "$(cat "$WORK/berth.pid" 2>/dev/null)" "$(cat "$WORK/docker.pid" 2>/dev/null)"; do
    [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null
  done
  [ -n "$LOOP_PID" ] && kill "$LOOP_PID" 2>/dev/null
  sleep 1
  # SIGKILL to a pid namespace's init kills everything in it (and in the containers' nested ones)
  for h in "${HOLDERS[@]}"; do kill -KILL "${h#*:}" 2>/dev/null; done
  for h in "${HOLDERS[@]}"; do
    for _ in $(seq 100); do [ -e "/proc/${h#*:}" ] || break; sleep 0.05; done
  done
  for ns in $(ip netns list | awk '{ print $1 }' | grep "^$P" || true); do ip netns del "$ns"; done
  # cgroups: only ours (dockerd's under its own parent; berth's and podman's by container id).
  # One whose last task is still exiting refuses rmdir for a moment: retry for up to 10 s.
  for _ in $(seq 20); do
    rm_cgroups "$DOCKER_CG"
    while read -r id; do rm_cgroups "berth/$id"; done < <(cat "$WORK/berth.ids" 2>/dev/null)
    while read -r id; do rm_cgroups "libpod_parent/libpod-$id"; done < <(cat "$WORK/podman.ids" 2>/dev/null)
    [ $libpod_parent_existed = 0 ] && rm_cgroups libpod_parent
    [ $berth_parent_existed = 0 ] && rm_cgroups berth
    left=$(for d in /sys/fs/cgroup/*/"$DOCKER_CG"; do [ -d "$d" ] && echo "$d"; done
      while read -r id; do ls -d /sys/fs/cgroup/*/berth/"$id" 2>/dev/null; done < <(cat "$WORK/berth.ids" 2>/dev/null)
      while read -r id; do ls -d /sys/fs/cgroup/*/libpod_parent/libpod-"$id" 2>/dev/null; done < <(cat "$WORK/podman.ids" 2>/dev/null))
    [ -z "$left" ] && break
    sleep 0.5
  done
  [ -n "$left" ] && echo "cgroups that would not go: $left" >&2
  rm -rf "$WORK"
}
declare -A CLI=()     # engine -> its command line (run inside its namespace)
declare -A FAILED=()  # engine -> why it is not measured
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# --- the image and the engines ---------------------------------------------------------------
mkdir -p "$WORK/rootfs/bin" "$WORK/rootfs/etc"
cp /bin/busybox "$WORK/rootfs/bin/busybox"
for t in sh sleep; do ln -s busybox "$WORK/rootfs/bin/$t"; done
echo 'root:x:0:0:root:/root:/bin/sh' >"$WORK/rootfs/etc/passwd"
echo 'root:x:0:' >"$WORK/rootfs/etc/group"
tar -C "$WORK/rootfs" -cf "$WORK/busybox.tar" .

wait_api() { # ENGINE: until its `version` answers (30 s)
  for _ in $(seq 300); do in_ns "$1" ${CLI[$1]} version >/dev/null 2>&1 && return 0; sleep 0.1; done
  return 1
}

start_berth() {
  local d=$WORK/berth
  [ -x "$BERTH_BIN" ] && [ -x "$BERTH_SHIM" ] || { echo "no $BERTH_BIN or $BERTH_SHIM"; return 1; }
  mkdir -p "$d"
  in_ns berth env BERTH_SHIM="$BERTH_SHIM" "$BERTH_BIN" daemon --data-root "$d/data" \
    --exec-root "$d/run" -H "unix://$d/berth.sock" >"$d/daemon.log" 2>&1 &
  CLI[berth]="$BERTH_BIN -H unix://$d/berth.sock"
  wait_api berth || { echo "berth daemon did not come up: $(tail -5 "$d/daemon.log")"; return 1; }
  pgrep -f "^$BERTH_BIN daemon --data-root $d/data" | head -1 >"$WORK/berth.pid"
  in_ns berth ${CLI[berth]} import "$WORK/busybox.tar" busybox >/dev/null
}

start_docker() {
  local d=$WORK/docker
  mkdir -p "$d"
  # dockerd 20.10 writes its trust key to /etc/docker/key.json unless told otherwise; no
  # --containerd: it starts its own, state under --exec-root
  printf '{"deprecated-key-path": "%s/key.json"}\n' "$d" >"$d/daemon.json"
  in_ns docker dockerd --config-file "$d/daemon.json" --data-root "$d/data" --exec-root "$d/exec" \
    --pidfile "$d/dockerd.pid" -H "unix://$d/docker.sock" --cgroup-parent "/$DOCKER_CG" \
    >"$d/daemon.log" 2>&1 &
  CLI[docker]="$(command -v docker) -H unix://$d/docker.sock"
  wait_api docker || { echo "dockerd did not come up: $(tail -5 "$d/daemon.log")"; return 1; }
  pgrep -f "^dockerd --config-file $d/daemon.json" | head -1 >"$WORK/docker.pid"
  in_ns docker ${CLI[docker]} import "$WORK/busybox.tar" busybox >/dev/null
}

start_podman() {
  local d=$WORK/podman
  podman_conf "$d" "$d/runroot"
  export TMPDIR=$d/tmp
  # crun refuses a hybrid cgroup host: hide the v2 mount in podman's namespace
  in_ns podman umount /sys/fs/cgroup/unified 2>/dev/null
  CLI[podman]=podman
  in_ns podman podman import "$WORK/busybox.tar" busybox >/dev/null
}

# run_containers ENGINE: `srv` (published HOST_PORT -> SRV_PORT) and `cli` on the default
# bridge, each `sleep`; iperf3 -s in srv's netns. Pids (as the engine sees them) and srv's
# address to $WORK/ENGINE.{srv,cli,ip}.
run_containers() {
  local e=$1 c pid
  for c in srv cli; do
    local pub=(); [ $c = srv ] && pub=(-p "$HOST_PORT:$SRV_PORT")
    in_ns "$e" ${CLI[$e]} run -d --name "bench-$c" "${pub[@]}" busybox sleep 3600 >>"$WORK/$e.ids" ||
      { echo "$e: run -d bench-$c failed"; return 1; }
    pid=$(in_ns "$e" ${CLI[$e]} inspect -f '{{.State.Pid}}' "bench-$c") &&
      [ -n "$pid" ] && [ "$pid" != 0 ] || { echo "$e: no pid for bench-$c"; return 1; }
    echo "$pid" >"$WORK/$e.$c"
  done
  in_ns "$e" nsenter -t "$(cat "$WORK/$e.srv")" -n ip -4 -o addr show dev eth0 |
    awk '{ sub("/.*", "", $4); print $4; exit }' >"$WORK/$e.ip"
  [ -s "$WORK/$e.ip" ] || { echo "$e: bench-srv has no IPv4 address on eth0"; return 1; }
  in_ns "$e" nsenter -t "$(cat "$WORK/$e.srv")" -n "$IPERF" -s -D -p "$SRV_PORT" ||
    { echo "$e: iperf3 -s in bench-srv failed"; return 1; }
}

# --- the paths -------------------------------------------------------------------------------
# One line per path in $WORK/paths: "NAME CLIENT-COMMAND..." (the iperf3 client's arguments
# but -O/-t/-J come after)
paths() {
  local e
  echo "loopback nsenter --net=/run/netns/${P}lo -- $IPERF -c 127.0.0.1 -p $SRV_PORT"
  for e in "${ENGINES[@]}"; do
    [ -z "${FAILED[$e]:-}" ] || continue
    local ns
    ns=$(cat "$WORK/$e.ns")
    echo "$e-c2c nsenter -t $ns --net --mount --pid -- nsenter -t $(cat "$WORK/$e.cli") -n $IPERF -c $(cat "$WORK/$e.ip") -p $SRV_PORT"
    echo "$e-pub-host nsenter -t $ns --net --mount --pid -- $IPERF -c $HOST_IP -p $HOST_PORT"
    echo "$e-pub-lo nsenter -t $ns --net --mount --pid -- $IPERF -c 127.0.0.1 -p $HOST_PORT"
    echo "$e-pub-ext nsenter --net=/run/netns/${P}o-$e -- $IPERF -c $HOST_IP -p $HOST_PORT"
  done
}

# iperf NAME SECS CMD...: one run; Gbit/s on stdout, or fails with iperf3's error in $T/NAME.err
iperf() {
  local name=$1 secs=$2; shift 2
  timeout $((secs + 30)) "$@" --connect-timeout 3000 -O 1 -t "$secs" -J >"$T/$name.json" 2>&1
  local gbps
  gbps=$(jq -r '.end.sum_received.bits_per_second // empty' "$T/$name.json" 2>/dev/null)
  if [ -z "$gbps" ]; then
    { jq -r '.error // empty' "$T/$name.json" 2>/dev/null || head -c 200 "$T/$name.json"; } |
      head -c 200 | tr '\n|' '  ' >"$T/$name.err"
    [ -s "$T/$name.err" ] || echo "no result (timeout?)" >"$T/$name.err"
    return 1
  fi
  awk -v b="$gbps" 'BEGIN { printf "%.2f\n", b / 1e9 }'
}

# --- run -------------------------------------------------------------------------------------
ip netns add "${P}lo" && ip -n "${P}lo" link set lo up
nsenter --net="/run/netns/${P}lo" -- "$IPERF" -s -p "$SRV_PORT" >/dev/null 2>&1 &
LOOP_PID=$!

for e in "${ENGINES[@]}"; do
  echo "throughput: starting $e..." >&2
  { ns_new "$e" && "start_$e" && run_containers "$e"; } >"$WORK/$e.start" 2>&1 ||
    FAILED[$e]=$(tail -c 300 "$WORK/$e.start" | tr '\n|' '  ')
  [ -n "${FAILED[$e]:-}" ] && echo "throughput: $e not available: ${FAILED[$e]}" >&2
done
sleep 1

paths >"$WORK/paths"
# probe: a 1 s run of each path; a path that fails is reported, not timed
: >"$WORK/paths.ok"
while read -r name cmd; do
  read -r -a argv <<<"$cmd"
  if iperf "$name.probe" 1 "${argv[@]}" >/dev/null; then
    echo "$name $cmd" >>"$WORK/paths.ok"
  else
    cp "$T/$name.probe.err" "$T/$name.failed"
    echo "throughput: $name does not work: $(cat "$T/$name.failed")" >&2
  fi
done <"$WORK/paths"

# ROUNDS rounds; each runs every path once, starting one further along each round
mapfile -t lines <"$WORK/paths.ok"
v=${#lines[@]}
for ((r = 0; r < ROUNDS; r++)); do
  for ((k = 0; k < v; k++)); do
    read -r name cmd <<<"${lines[(k + r) % v]}"
    read -r -a argv <<<"$cmd"
    echo "throughput: round $((r + 1))/$ROUNDS, $name" >&2
    if g=$(iperf "$name" "$SECS" "${argv[@]}"); then
      echo "$g" >>"$T/$name.gbps"
    else
      echo "$(cat "$T/$name.err")" >>"$T/$name.fails"
    fi
  done
done

# --- report ----------------------------------------------------------------------------------
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) { print "-"; exit }
  m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.2f", m }'; }
cell() { # NAME: "median (min-max)", or why there is none
  local f=$T/$1.gbps
  if [ -s "$T/$1.failed" ]; then echo "fails: $(cat "$T/$1.failed")"; return; fi
  if [ ! -s "$f" ]; then
    if [ -s "$T/$1.fails" ]; then echo "all runs failed: $(head -1 "$T/$1.fails")"; else echo "-"; fi
    return
  fi
  local fails=""
  [ -s "$T/$1.fails" ] && fails=", $(wc -l <"$T/$1.fails") failed"
  echo "$(median <"$f") ($(sort -n "$f" | head -1)-$(sort -n "$f" | tail -1)$fails)"
}
engine_cell() { # ENGINE PATH
  if [ -n "${FAILED[$1]:-}" ]; then echo "not available"; else cell "$1-$2"; fi
}
ratio() { # PATH: berth's median / docker's
  local b d
  b=$( [ -s "$T/berth-$1.gbps" ] && median <"$T/berth-$1.gbps")
  d=$( [ -s "$T/docker-$1.gbps" ] && median <"$T/docker-$1.gbps")
  awk -v a="${b:-}" -v b="${d:-}" 'BEGIN { if (a != "" && b + 0 > 0) printf "%.2f", a / b; else print "n/a" }'
}
has() { local e; for e in "${ENGINES[@]}"; do [ "$e" = "$1" ] && return 0; done; return 1; }

echo "## throughput with iperf3 (Gbit/s, median of $ROUNDS runs of ${SECS} s, min-max in brackets)"
echo
hdr="| path |"; sep="|---|"
for e in "${ENGINES[@]}"; do hdr="$hdr $e |"; sep="$sep---|"; done
has berth && has docker && { hdr="$hdr berth / docker |"; sep="$sep---|"; }
echo "$hdr"; echo "$sep"
declare -A LABEL=(
  [c2c]="container → container, one bridge network"
  [pub-host]="published port: host → host address (${HOST_IP}:${HOST_PORT})"
  [pub-lo]="published port: host → 127.0.0.1:${HOST_PORT}"
  [pub-ext]="published port: outside netns → host address"
)
for p in c2c pub-host pub-lo pub-ext; do
  row="| ${LABEL[$p]} |"
  for e in "${ENGINES[@]}"; do row="$row $(engine_cell "$e" "$p") |"; done
  has berth && has docker && row="$row $(ratio "$p") |"
  echo "$row"
done
echo
echo "Loopback ceiling (client and server on 127.0.0.1 in one netns, no engine): $(cell loopback) Gbit/s."
echo
echo "iperf3 $("$IPERF" --version | awk '{ print $2; exit }'), one TCP stream, \`-O 1 -t $SECS\`;" \
  "rounds interleave every path and engine. Engines:" \
  "$(has berth && echo "berth $("$BERTH_BIN" --version 2>/dev/null | awk '{ print $NF; exit }') (nftables DNAT; 127.0.0.1 by DNAT with route_localnet);")" \
  "$(has docker && echo "docker $(dockerd --version 2>/dev/null | awk '{ gsub(",", "", $3); print $3 }') (iptables DNAT from outside and from the host's address; 127.0.0.1 through docker-proxy);")" \
  "$(has podman && echo "podman $(podman --version 2>/dev/null | awk '{ print $NF }') with netavark $(/usr/lib/podman/netavark --version 2>/dev/null | awk '{ print $NF }') (iptables DNAT).")"
for e in "${ENGINES[@]}"; do
  [ -n "${FAILED[$e]:-}" ] && echo "- $e was not available: ${FAILED[$e]}"
done
exit 0
