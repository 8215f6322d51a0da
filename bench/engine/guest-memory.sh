#!/usr/bin/env bash
# Host memory per idle berth container on a fresh host: in scripts/guest/'s VM (Debian's 6.12
# cloud kernel booted for this run, cgroup v2 alone, so no memory cgroup or superblock history
# of this machine), the data root on the guest's own ext4 disk. COUNT `run -d busybox sleep
# 3600` on the default bridge, then COUNT more with `--network none`; between snapshots the
# caches are dropped and the kernel's deferred frees are given time to land (the CPU is
# emulated and slow: read the memory, not the times). "Held" is the growth of AnonPages +
# Shmem + SUnreclaim + KernelStack + PageTables, as in run.sh.
# Usage (as root): bench/engine/guest-memory.sh [COUNT]   (default 100)
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=$(./scripts/build.sh --release)
count=${1:-100}
case $count in '' | *[!0-9]* | 0) echo "usage: $0 [COUNT>0]" >&2; exit 2 ;; esac
job='set -u
B='"$bin"'/berth; export BERTH_SHIM='"$bin"'/berth-shim BERTH_HOST=unix:///run/gm.sock
n='"$count"'
$B daemon --data-root "$TMPDIR/data" --exec-root /run/berth -H $BERTH_HOST >"$TMPDIR/daemon.log" 2>&1 &
for _ in $(seq 300); do [ -S /run/gm.sock ] && break; sleep 0.1; done
mkdir -p "$TMPDIR/img/bin"; cp /bin/busybox "$TMPDIR/img/bin/"
for t in sh true sleep; do ln -s busybox "$TMPDIR/img/bin/$t"; done
tar -C "$TMPDIR/img" -cf "$TMPDIR/busybox.tar" . && $B import "$TMPDIR/busybox.tar" busybox >/dev/null
for _ in 1 2 3; do $B run --rm busybox true; done
settle() { sleep 5; sync; echo 3 >/proc/sys/vm/drop_caches; sleep 2; }
held() { awk "/^(AnonPages|Shmem|SUnreclaim|KernelStack|PageTables):/ { s += \$2 } END { print s }" /proc/meminfo; }
field() { awk -v f="$1:" "\$1 == f { print \$2 }" /proc/meminfo; }
echo "| network | containers | held MiB per container | SUnreclaim KiB | AnonPages KiB | PageTables KiB | KernelStack KiB | Shmem KiB | shim RSS KiB (median) |"
echo "|---|---|---|---|---|---|---|---|---|"
for net in bridge none; do
  settle; h0=$(held); declare -A f0; for f in SUnreclaim AnonPages PageTables KernelStack Shmem; do f0[$f]=$(field $f); done
  for i in $(seq $n); do $B run -d --network $net --name "m$i" busybox sleep 3600 >/dev/null || { echo "run $i failed"; exit 1; }; done
  settle; h1=$(held)
  row="| $net | $n | $(echo "scale=3; ($h1 - $h0) / $n / 1024" | bc)"
  for f in SUnreclaim AnonPages PageTables KernelStack Shmem; do row+=" | $(( ($(field $f) - ${f0[$f]}) / n ))"; done
  rss=$(for p in $(pgrep -f "$BERTH_SHIM"); do awk "/^VmRSS:/ { print \$2 }" /proc/$p/status; done | sort -n | awk "{ a[NR] = \$1 } END { print a[int((NR + 1) / 2)] }")
  echo "$row | $rss |"
  $B rm -f $(seq -f "m%g" $n) >/dev/null
done
kill %1; wait'
exec scripts/guest/run.sh --disk 8192 --mem 6144 -- bash -c "$job"
