#!/usr/bin/env bash
# bench/net: per-container network setup and teardown, side by side in one run:
# berth (`berth net`), netavark (podman's network tool, its JSON on stdin) and the CNI bridge
# plugin (Debian's containernetworking-plugins, invoked directly). Everything runs inside a
# throw-away "host" netns per tool; each container is a fresh netns.
# Usage: bench/net/run.sh [N] [SCALE]   (N timed attach/detach cycles, SCALE containers kept)
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${1:-40}
SCALE=${2:-1000}
BERTH=${BERTH:-$PWD/target/release/berth}
NETAVARK=${NETAVARK:-/usr/lib/podman/netavark}
CNI=${CNI:-/usr/lib/cni}
[ -x "$BERTH" ] || cargo build --release -p berth >/dev/null
cargo build --release -p berth-net --example netbench >/dev/null 2>&1
NETBENCH=$PWD/target/release/examples/netbench
TMP=$(mktemp -d /tmp/bench-net.XXXX)
P=bnb$$
cleanup() {
  for ns in $(ip netns list | awk '{print $1}' | grep "^$P" || true); do ip netns del "$ns"; done
  rm -rf "$TMP"
}
trap cleanup EXIT

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

# attach|detach <tool> <hostns> <netns> <octet> <i> <ports>
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

ms() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", (b - a) * 1000 }'; }
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) { print "-"; exit } m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.2f", m }'; }

# cycle <tool> <octet> <ports>: N timed attach+detach with the bridge already there
cycle() {
  local tool=$1 o=$2 ports=$3 host="${P}h$o" i t0 t1 t2 t3
  ip netns add "$host"
  ip netns add "${P}w$o"; op attach "$tool" "$host" "${P}w$o" "$o" 9999 0 # warm-up: makes the bridge
  : >"$TMP/$tool-$ports.setup"; : >"$TMP/$tool-$ports.teardown"; : >"$TMP/$tool-$ports.cycle"
  for i in $(seq 1 "$N"); do
    ip netns add "${P}c$o-$i"
    t0=$EPOCHREALTIME; op attach "$tool" "$host" "${P}c$o-$i" "$o" "$i" "$ports"
    t1=$EPOCHREALTIME; op detach "$tool" "$host" "${P}c$o-$i" "$o" "$i" "$ports"
    t2=$EPOCHREALTIME; ip netns del "${P}c$o-$i"
    t3=$EPOCHREALTIME
    ms "$t0" "$t1" >>"$TMP/$tool-$ports.setup"; echo >>"$TMP/$tool-$ports.setup"
    ms "$t1" "$t2" >>"$TMP/$tool-$ports.teardown"; echo >>"$TMP/$tool-$ports.teardown"
    ms "$t0" "$t3" >>"$TMP/$tool-$ports.cycle"; echo >>"$TMP/$tool-$ports.cycle"
  done
  ip netns del "${P}w$o"; ip netns del "$host"
}

# scale <tool> <octet>: SCALE containers kept on one network; setup time of each
scale() {
  local tool=$1 o=$2 host="${P}s$o" i t0 t1
  ip netns add "$host"
  : >"$TMP/$tool.scale"
  for i in $(seq 1 "$SCALE"); do
    ip netns add "${P}k$o-$i"
    t0=$EPOCHREALTIME; op attach "$tool" "$host" "${P}k$o-$i" "$o" "$i" 0; t1=$EPOCHREALTIME
    ms "$t0" "$t1" >>"$TMP/$tool.scale"; echo >>"$TMP/$tool.scale"
  done
  for i in $(seq 1 "$SCALE"); do ip netns del "${P}k$o-$i"; done
  ip netns del "$host"
}

tools=(berth berth-full netavark cni)
o=20
for t in "${tools[@]}"; do o=$((o + 1)); cycle "$t" "$o" 0; done
for t in berth netavark; do o=$((o + 1)); cycle "$t" "$o" 1; done

echo "## per-container network setup and teardown, bridge present (N=$N, medians in ms)"
echo
echo "| tool | published ports | setup | teardown | setup+teardown | whole cycle incl. netns delete | ratio to netavark (setup+teardown) |"
echo "|---|---|---|---|---|---|---|"
for ports in 0 1; do
  base_s=$(median <"$TMP/netavark-$ports.setup"); base_t=$(median <"$TMP/netavark-$ports.teardown")
  for t in "${tools[@]}"; do
    [ -s "$TMP/$t-$ports.setup" ] || continue
    s=$(median <"$TMP/$t-$ports.setup"); d=$(median <"$TMP/$t-$ports.teardown"); c=$(median <"$TMP/$t-$ports.cycle")
    st=$(awk -v a="$s" -v b="$d" 'BEGIN { printf "%.2f", a + b }')
    r=$(awk -v a="$st" -v b="$base_s" -v c="$base_t" 'BEGIN { printf "%.3f", a / (b + c) }')
    echo "| $t | $ports | $s | $d | $st | $c | $r |"
  done
done
echo
echo "In-process (the library call the engine makes; no process start, no nsenter):"
echo
echo "| tool | published ports | setup | teardown | setup+teardown | note |"
echo "|---|---|---|---|---|---|"
"$NETBENCH" "$N" 0

if [ "$SCALE" -gt 0 ]; then
  for t in berth netavark cni; do o=$((o + 1)); scale "$t" "$o"; done
  echo
  echo "## setup cost as one network fills up (SCALE=$SCALE, median ms of the containers around each count)"
  echo
  echo "| tool | 1-10 | 91-110 | $((SCALE - 9))-$SCALE |"
  echo "|---|---|---|---|"
  for t in berth netavark cni; do
    a=$(sed -n '1,10p' "$TMP/$t.scale" | median); b=$(sed -n '91,110p' "$TMP/$t.scale" | median)
    c=$(sed -n "$((SCALE - 9)),${SCALE}p" "$TMP/$t.scale" | median)
    echo "| $t | $a | $b | $c |"
  done
  "$NETBENCH" 0 "$SCALE" | tail -1
fi
