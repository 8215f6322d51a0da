#!/usr/bin/env bash
# Builds berth and runs its main job: a busybox web server in a container (`berth runtime`,
# own pid/mount/uts/ipc/net namespaces), attached to a bridge network by `berth net` with
# port 8080 published, and fetched through the published port. The "host" is a throw-away
# network namespace, so the machine's own network is never touched.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/deps.sh
cargo build --release -p berth
berth=$PWD/target/release/berth
work=$(mktemp -d)
trap 'rm -rf "$work"; rmdir /sys/fs/cgroup/*/berth 2>/dev/null || true' EXIT
mkdir -p "$work/rootfs/bin" "$work/rootfs/www"
cp /bin/busybox "$work/rootfs/bin/busybox"
for t in sh ip httpd hostname; do ln -s busybox "$work/rootfs/bin/$t"; done
echo "hello from a berth container" > "$work/rootfs/www/index.html"
"$berth" runtime spec --bundle "$work"
jq '.process.terminal = false
    | .process.args = ["sh", "-c", "echo \"container $(hostname): $(ip -o -4 addr show eth0 | tr -s \" \" | cut -d\" \" -f4)\"; exec httpd -f -p 80 -h /www"]' \
  "$work/config.json" > "$work/config.tmp" && mv "$work/config.tmp" "$work/config.json"
cat > "$work/net.json" <<'JSON'
{"network": {"name": "demo", "bridge": "berth-demo", "subnet": "10.123.0.0/24", "gateway": "10.123.0.1"},
 "endpoint": {"container_id": "demo", "ip": "10.123.0.2",
              "ports": [{"host_port": 8080, "container_port": 80}]}}
JSON
export berth work
unshare --net bash -euo pipefail -c '
  id="demo-$$"
  ip link set lo up
  "$berth" runtime --root "$work/state" create --bundle "$work" "$id"
  pid=$(jq .pid <("$berth" runtime --root "$work/state" state "$id"))
  echo "berth net setup: $("$berth" net setup "/proc/$pid/ns/net" < "$work/net.json" | jq -c .)"
  "$berth" runtime --root "$work/state" start "$id"
  sleep 0.3
  page=$(timeout 5 busybox wget -qO- http://127.0.0.1:8080/)
  echo "GET http://127.0.0.1:8080/ (DNAT to the container) -> $page"
  "$berth" runtime --root "$work/state" kill "$id" KILL
  sleep 0.2
  "$berth" net teardown < "$work/net.json"
  "$berth" runtime --root "$work/state" delete --force "$id"
'
