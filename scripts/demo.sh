#!/usr/bin/env bash
# Builds berth and runs its main job: `berth daemon` (the Docker Engine API) and, through the
# `berth` CLI, a busybox web server container on the default bridge network with port 8080
# published, fetched through the published port. The "host" is a throw-away network and mount
# namespace, so the machine's own network is never touched.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/cgroups.sh
./scripts/deps.sh
bin=$(./scripts/build.sh --release)
work=$(mktemp -d /tmp/berth-demo.XXXXXX)
holder=""
# berth's containers' cgroups live under /berth in each hierarchy; remove that parent at the
# end when this demo made it.
had_cgroup_parent=$(ls -d /sys/fs/cgroup/*/berth /sys/fs/cgroup/berth 2>/dev/null | head -1 || true)
cleanup() {
  [ -n "$holder" ] && kill "$holder" 2>/dev/null || true
  sleep 0.2
  [ -z "$had_cgroup_parent" ] && rm_cgroups berth
  rm -rf "$work"
}
trap cleanup EXIT

# An image: a busybox rootfs imported as `busybox`.
mkdir -p "$work/rootfs/bin" "$work/rootfs/etc"
cp /bin/busybox "$work/rootfs/bin/busybox"
for t in sh echo httpd hostname ip cut tr; do ln -s busybox "$work/rootfs/bin/$t"; done
echo 'root:x:0:0:root:/root:/bin/sh' > "$work/rootfs/etc/passwd"
tar -C "$work/rootfs" -cf "$work/busybox.tar" .

# The "host": its own netns and mount ns, held open by a sleeping process.
unshare --net --mount --propagation private sleep infinity &
holder=$!
sleep 0.2
in_host() { nsenter -t "$holder" --net --mount -- "$@"; }
in_host ip link set lo up
sock="unix://$work/berth.sock"
in_host "$bin/berth" daemon --data-root "$work/data" --exec-root "$work/run" -H "$sock" \
  > "$work/daemon.log" 2>&1 &
berth() { "$bin/berth" -H "$sock" "$@"; }
for _ in $(seq 100); do berth version >/dev/null 2>&1 && break; sleep 0.05; done

berth import "$work/busybox.tar" busybox
berth run -d --name web -p 8080:80 busybox sh -c \
  'mkdir -p /www; echo "hello from a berth container ($(hostname), $(ip -o -4 addr show eth0 | tr -s " " | cut -d" " -f4))" > /www/index.html; exec httpd -f -p 80 -h /www'
berth ps
for _ in $(seq 50); do
  page=$(in_host timeout 2 busybox wget -qO- http://127.0.0.1:8080/ 2>/dev/null) && break
  sleep 0.1
done
echo "GET http://127.0.0.1:8080/ (published port, DNAT to the container) -> ${page:-nothing}"
berth rm -f web >/dev/null
in_host pkill -TERM -f "$bin/berth daemon" || true
[ -n "${page:-}" ]
