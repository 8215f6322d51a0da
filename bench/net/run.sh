#!/usr/bin/env bash
# bench/net: berth's network stack next to the tools it replaces, side by side in one run.
#
#  1. Per-container network setup and teardown, bridge present: berth (`berth net`, its CLI
#     without a daemon), netavark (podman's network tool, its JSON on stdin) and the CNI
#     bridge plugin (Debian's containernetworking-plugins, invoked directly); N timed
#     attach+detach cycles each, with and without a published port. Then the same library
#     call in-process (what the engine pays), from berth-net's `netbench` example.
#  2. Setup and teardown with 1, 100 and 1000 containers already attached to one network:
#     the network is filled to each level (untimed), then SCALE_N timed attach+detach cycles
#     of one more container. The CLIs, and berth-net in-process (bench/net/inproc); and that
#     again with IPv6 turned off in every netns, an experiment that shows what IPv6's
#     link-local multicast (flooded by the bridge to every port) costs at scale.
#  3. Throughput with iperf3 against docker and podman: container -> container and through a
#     published port, loopback as the ceiling (bench/net/throughput.sh, see its header).
#
# Parts 1 and 2 run inside a throw-away "host" netns per tool; each container is a fresh
# netns (ip netns add), so the host's interfaces, routes and firewall are never touched.
# Times are bash's $EPOCHREALTIME around each command: the CLI rows include a process start
# (bash fork, nsenter, the tool's exec). Medians; ratios are to netavark (parts 1, 2) and to
# docker (part 3). The markdown goes to stdout and to bench/net/results.md.
#
# Usage (root): bench/net/run.sh [N] [SCALE]
#   N      timed cycles per row of part 1 (40)
#   SCALE  the largest level of part 2 (1000); the levels are 1, 100 and SCALE
#   BENCH_NET_PARTS="setup scale throughput"  the parts to run
#   BENCH_SCALE_N=20       timed cycles per level
#   BENCH_SCALE_CAP=N      cap netavark's and CNI's levels at N (berth always goes to SCALE)
#   BERTH_BIN=path         berth (berth-shim next to it); default: cargo build --release
#   throughput.sh's: BENCH_ENGINES, BENCH_IPERF_ROUNDS, BENCH_IPERF_SECS
set -euo pipefail
export LC_ALL=C
cd "$(dirname "$0")/../.."
REPO=$PWD
N=${1:-40}
SCALE=${2:-1000}
SCALE_N=${BENCH_SCALE_N:-20}
SCALE_CAP=${BENCH_SCALE_CAP:-$SCALE}
PARTS=" ${BENCH_NET_PARTS:-setup scale throughput} "
TARGET=${CARGO_TARGET_DIR:-$REPO/target}
NETAVARK=${NETAVARK:-/usr/lib/podman/netavark}
CNI=${CNI:-/usr/lib/cni}
[ "$(id -u)" = 0 ] || { echo "bench/net needs root" >&2; exit 1; }

# --- builds ----------------------------------------------------------------------------------
if [ -z "${BERTH_BIN:-}" ]; then
  echo "building berth (scripts/build.sh --release: the shim linked statically)..." >&2
  "$REPO/scripts/build.sh" --release >/dev/null
  BERTH_BIN=$TARGET/release/berth
fi
BERTH=$(realpath "$BERTH_BIN")
export BERTH_BIN=$BERTH
NETBENCH=$TARGET/release/examples/netbench
INPROC=$TARGET/release/bench-net-inproc
if [[ $PARTS == *" setup "* ]]; then
  echo "building berth-net's netbench example..." >&2
  cargo build --release -p berth-net --example netbench >&2
fi
if [[ $PARTS == *" scale "* ]]; then
  echo "building bench/net/inproc..." >&2
  cargo build --release --manifest-path bench/net/inproc/Cargo.toml --target-dir "$TARGET" >&2
fi

TMP=$(mktemp -d /tmp/bench-net.XXXX)
P=bnb$$ # prefix of every netns this run makes
cleanup() {
  for ns in $(ip netns list | awk '{print $1}' | grep "^$P" || true); do ip netns del "$ns"; done
  rm -rf "$TMP"
}
trap cleanup EXIT

# --- the tools -------------------------------------------------------------------------------
ip4() { echo "10.$1.$(( ($2 + 2) / 250 )).$(( ($2 + 2) % 250 + 2 ))"; }

# request <tool> <octet> <i> <ports:0|1>: the tool's JSON for container i
request() {
  local tool=$1 o=$2 i=$3 ports=$4 ip; ip=$(ip4 "$o" "$i")
  case $tool in
    berth*)
      local p='[]'; [ "$ports" = 1 ] && p='[{"host_port":8080,"container_port":80}]'
      printf '{"network":{"name":"bench","bridge":"bb%s","subnet":"10.%s.0.0/16","gateway":"10.%s.0.1"},"endpoint":{"container_id":"c%s","ip":"%s","ports":%s}}' \
        "$o" "$o" "$o" "$i" "$ip" "$p" ;;
    netavark)
      local p='[]'; [ "$ports" = 1 ] && p='[{"host_ip":"","container_port":80,"host_port":8080,"range":1,"protocol":"tcp"}]'
      printf '{"container_id":"%064d","container_name":"c%s","networks":{"bench":{"interface_name":"eth0","static_ips":["%s"]}},"network_info":{"bench":{"name":"bench","id":"%064d","driver":"bridge","network_interface":"nv%s","subnets":[{"subnet":"10.%s.0.0/16","gateway":"10.%s.0.1"}],"ipv6_enabled":false,"internal":false,"dns_enabled":false,"ipam_options":{"driver":"host-local"}}},"port_mappings":%s}' \
        "$i" "$i" "$ip" "$o" "$o" "$o" "$o" "$p" ;;
    cni)
      printf '{"cniVersion":"1.0.0","name":"bench","type":"bridge","bridge":"cb%s","isGateway":true,"ipMasq":true,"ipam":{"type":"host-local","ranges":[[{"subnet":"10.%s.0.0/16"}]],"dataDir":"%s/ipam-%s"}}' \
        "$o" "$o" "$TMP" "$o" ;;
  esac
}

# op attach|detach <tool> <hostns> <netns> <octet> <i> <ports>
op() {
  local what=$1 tool=$2 host=$3 ns=$4 o=$5 i=$6 ports=$7 req
  req=$(request "$tool" "$o" "$i" "$ports")
  local enter=(nsenter "--net=/run/netns/$host")
  case "$tool:$what" in
    berth:attach|berth-full:attach) "${enter[@]}" "$BERTH" net setup "/run/netns/$ns" <<<"$req" >/dev/null ;;
    berth:detach) "${enter[@]}" "$BERTH" net teardown <<<"$req" ;;
    berth-full:detach) "${enter[@]}" "$BERTH" net teardown --remove-link <<<"$req" ;;
    netavark:attach) "${enter[@]}" "$NETAVARK" --config "$TMP" setup "/run/netns/$ns" <<<"$req" >/dev/null ;;
    netavark:detach) "${enter[@]}" "$NETAVARK" --config "$TMP" teardown "/run/netns/$ns" <<<"$req" ;;
    cni:attach|cni:detach)
      local cmd=ADD; [ "$what" = detach ] && cmd=DEL
      CNI_COMMAND=$cmd CNI_CONTAINERID="c$i" CNI_NETNS="/run/netns/$ns" CNI_IFNAME=eth0 CNI_PATH=$CNI \
        "${enter[@]}" "$CNI/bridge" <<<"$req" >/dev/null ;;
  esac
}

# settle: wait until the kernel has reaped the netns deleted so far (it does that in a worker,
# after `ip netns del` returns, and with a veth on a bridge of 1000 ports that takes seconds),
# so one tool's leftovers are not timed with the next: until the count of live network
# namespaces (slab net_namespace) is back near where it was at the start, or stops falling
# for 10 s; at most 5 minutes.
netns_live() { awk '$1 == "net_namespace" { print $2 }' /proc/slabinfo 2>/dev/null; }
NETNS0=$(netns_live)
settle() {
  local n low stale=0
  [ -n "$NETNS0" ] || { sleep 10; return 0; }
  low=$(netns_live)
  for _ in $(seq 600); do
    n=$(netns_live)
    [ "$n" -le $((NETNS0 + 20)) ] && return 0
    if [ "$n" -lt "$low" ]; then low=$n; stale=0; else stale=$((stale + 1)); fi
    [ "$stale" -ge 20 ] && return 0
    sleep 0.5
  done
}

ms() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f\n", (b - a) * 1000 }'; }
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) { print "-"; exit } m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.2f", m }'; }
sum() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-") print "-"; else printf "%.2f", a + b }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b + 0 == 0) print "n/a"; else printf "%.3f", a / b }'; }

# timed_cycle <tool> <host> <octet> <i> <ports> <file prefix>: a fresh netns, attach, detach,
# netns delete; ms of each to PREFIX.setup/.teardown/.cycle
timed_cycle() {
  local tool=$1 host=$2 o=$3 i=$4 ports=$5 f=$6 ns="${P}c$3-$4" t0 t1 t2 t3
  ip netns add "$ns"
  t0=$EPOCHREALTIME; op attach "$tool" "$host" "$ns" "$o" "$i" "$ports"
  t1=$EPOCHREALTIME; op detach "$tool" "$host" "$ns" "$o" "$i" "$ports"
  t2=$EPOCHREALTIME; ip netns del "$ns"
  t3=$EPOCHREALTIME
  ms "$t0" "$t1" >>"$f.setup"; ms "$t1" "$t2" >>"$f.teardown"; ms "$t0" "$t3" >>"$f.cycle"
}

# --- part 1: N cycles with the bridge present -------------------------------------------------
# cycle <tool> <octet> <ports>
cycle() {
  local tool=$1 o=$2 ports=$3 host="${P}h$2" i
  ip netns add "$host"
  ip netns add "${P}w$o"; op attach "$tool" "$host" "${P}w$o" "$o" 9999 0 # warm-up: makes the bridge
  for i in $(seq 1 "$N"); do timed_cycle "$tool" "$host" "$o" "$i" "$ports" "$TMP/$tool-$ports"; done
  ip netns del "${P}w$o"; ip netns del "$host"
  settle
}

part_setup() {
  local tools=(berth berth-full netavark cni) t o=20 ports
  echo "part 1: $N cycles per tool..." >&2
  for t in "${tools[@]}"; do o=$((o + 1)); cycle "$t" "$o" 0; done
  for t in berth netavark; do o=$((o + 1)); cycle "$t" "$o" 1; done

  echo "## per-container network setup and teardown, bridge present (N=$N, medians in ms)"
  echo
  echo "| tool | published ports | setup | teardown | setup+teardown | whole cycle incl. netns delete | ratio to netavark (setup+teardown) |"
  echo "|---|---|---|---|---|---|---|"
  for ports in 0 1; do
    local base s d c st
    base=$(sum "$(median <"$TMP/netavark-$ports.setup")" "$(median <"$TMP/netavark-$ports.teardown")")
    for t in "${tools[@]}"; do
      [ -s "$TMP/$t-$ports.setup" ] || continue
      s=$(median <"$TMP/$t-$ports.setup"); d=$(median <"$TMP/$t-$ports.teardown"); c=$(median <"$TMP/$t-$ports.cycle")
      st=$(sum "$s" "$d")
      echo "| $t | $ports | $s | $d | $st | $c | $(ratio "$st" "$base") |"
    done
  done
  echo
  echo "In-process (berth-net's \`netbench\` example: the library call the engine makes; no process start, no nsenter):"
  echo
  echo "| tool | published ports | setup | teardown | setup+teardown | note |"
  echo "|---|---|---|---|---|---|"
  "$NETBENCH" "$N" 0 2>"$TMP/netbench.err" ||
    echo "| netbench failed | $(grep -m1 -A1 panicked "$TMP/netbench.err" | tail -1 | head -c 200 | tr '|' ' ') | | | | |"
  echo
}

# --- part 2: setup and teardown with 1, 100, SCALE containers attached -------------------------
LEVELS=(1) # 1, 100 and SCALE, ascending, none twice
[ "$SCALE" -ge 100 ] && LEVELS+=(100)
[ "$SCALE" -gt 1 ] && [ "$SCALE" -ne 100 ] && LEVELS+=("$SCALE")
# levels <tool> <octet> <max level>: fill one network to each level (the first container makes
# the bridge), then SCALE_N timed cycles of one more container; files $TMP/<tool>@<level>.*
levels() {
  local tool=$1 o=$2 max=$3 host="${P}s$2" kept=0 timed=5000 L c t0 t1
  ip netns add "$host"
  for L in "${LEVELS[@]}"; do
    [ "$L" -le "$max" ] || break
    echo "part 2: $tool, filling to $L..." >&2
    while [ "$kept" -lt "$L" ]; do
      kept=$((kept + 1))
      ip netns add "${P}k$o-$kept"
      t0=$EPOCHREALTIME; op attach "$tool" "$host" "${P}k$o-$kept" "$o" "$kept" 0; t1=$EPOCHREALTIME
      ms "$t0" "$t1" >>"$TMP/$tool.fill"
    done
    tail -n 20 "$TMP/$tool.fill" >"$TMP/$tool@$L.fill"
    for c in $(seq 1 "$SCALE_N"); do # each a new container id (berth's veth is named after it)
      timed=$((timed + 1))
      timed_cycle "$tool" "$host" "$o" "$timed" 0 "$TMP/$tool@$L"
    done
  done
  for c in $(seq 1 "$kept"); do ip netns del "${P}k$o-$c"; done
  ip netns del "$host"
  settle
}

part_scale() {
  local o=40 t L cap s d st base
  for t in berth netavark cni; do
    o=$((o + 1)); cap=$SCALE
    [ "$t" = berth ] || cap=$SCALE_CAP
    levels "$t" "$o" "$cap"
  done
  echo "part 2: berth-net in-process..." >&2
  "$INPROC" "$SCALE_N" "${LEVELS[@]}" >"$TMP/inproc.levels"
  settle
  echo "part 2: berth-net in-process, IPv6 off (experiment)..." >&2
  BENCH_NO_IPV6=1 "$INPROC" "$SCALE_N" "${LEVELS[@]}" >"$TMP/inproc-noipv6.levels"
  settle

  echo "## setup and teardown with 1, 100 and $SCALE containers already attached to one network"
  echo
  echo "Median ms of $SCALE_N attach+detach cycles of one more container at each level" \
    "(in brackets: the median setup of the last 20 containers added to reach it)."
  echo
  echo "| tool | containers attached | setup | teardown | setup+teardown | whole cycle incl. netns delete | ratio to netavark (setup+teardown) |"
  echo "|---|---|---|---|---|---|---|"
  for L in "${LEVELS[@]}"; do
    base=$( [ -s "$TMP/netavark@$L.setup" ] &&
      sum "$(median <"$TMP/netavark@$L.setup")" "$(median <"$TMP/netavark@$L.teardown")" || echo -)
    for t in berth netavark cni; do
      if [ ! -s "$TMP/$t@$L.setup" ]; then
        echo "| $t | $L | not run (BENCH_SCALE_CAP=$SCALE_CAP) | | | | |"; continue
      fi
      s=$(median <"$TMP/$t@$L.setup"); d=$(median <"$TMP/$t@$L.teardown")
      st=$(sum "$s" "$d")
      echo "| $t | $L | $s ($(median <"$TMP/$t@$L.fill")) | $d | $st | $(median <"$TMP/$t@$L.cycle") | $(ratio "$st" "$base") |"
    done
  done
  for t in inproc inproc-noipv6; do
    local label="berth (in-process)"
    [ $t = inproc-noipv6 ] && label="berth (in-process, IPv6 off: experiment)"
    while read -r L s d fill; do
      st=$(sum "$s" "$d")
      printf '| %s | %s | %.2f (%.2f) | %.2f | %s | | |\n' "$label" "$L" "$s" "$fill" "$d" "$st"
    done <"$TMP/$t.levels"
  done
  echo
  echo "IPv6 off (experiment): the same in-process run with \`disable_ipv6\` set in the host netns" \
    "and in every container netns before any link exists (berth does not do that yet): without" \
    "IPv6's link-local traffic (DAD, router and MLD solicitations, which the bridge floods to every" \
    "port and every container's IPv6 stack then handles) setup stays flat."
  echo
}

# --- the report ------------------------------------------------------------------------------
report() {
  echo "# bench/net — $(date -u '+%F %H:%M UTC')"
  echo
  echo "Machine: $(nproc) cores ($(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)), kernel $(uname -r)$(sed -n 's/^PRETTY_NAME="\(.*\)"/, \1/p' /etc/os-release 2>/dev/null)," \
    "load average at the start $(cut -d' ' -f1-3 /proc/loadavg)." \
    "berth $("$BERTH" --version 2>/dev/null | awk '{ print $NF; exit }') ($(git -C "$REPO" rev-parse --short HEAD 2>/dev/null))," \
    "netavark $("$NETAVARK" --version 2>/dev/null | awk '{ print $NF }'), CNI plugins $(dpkg-query -W -f '${Version}' containernetworking-plugins 2>/dev/null || echo '?')," \
    "\`bench/net/run.sh $N $SCALE\` (BENCH_SCALE_N=$SCALE_N${BENCH_SCALE_CAP:+, BENCH_SCALE_CAP=$SCALE_CAP})."
  echo
  [[ $PARTS == *" setup "* ]] && part_setup
  [[ $PARTS == *" scale "* ]] && part_scale
  if [[ $PARTS == *" throughput "* ]]; then
    echo "part 3: throughput..." >&2
    settle
    bench/net/throughput.sh || echo "(throughput.sh failed: exit $?)"
    echo
  fi
  echo "Notes: every CLI row pays a process start (bash fork, nsenter, the tool's exec), about" \
    "6-7 ms here; the in-process rows are berth's own work. berth's teardown without published ports" \
    "leaves the veth to the kernel (it goes with the netns); berth-full deletes it (--remove-link)." \
    "CNI's bridge plugin does its own IPAM (host-local) and has no port publishing without the" \
    "portmap plugin, hence only the no-port rows for it. Load average at the end:" \
    "$(cut -d' ' -f1-3 /proc/loadavg)."
}

report | tee "$TMP/results.md"
cp "$TMP/results.md" "$REPO/bench/net/results.md"
echo "written: bench/net/results.md" >&2
