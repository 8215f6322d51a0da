#!/bin/bash
# pid 1 of the guest, on its overlay root: a fresh kernel with cgroup v2 alone. Mounts what a
# host has, runs the job named on the kernel command line, leaves its exit status in
# /guest-out/exit, and powers off.
mount -t cgroup2 -o nsdelegate cgroup2 /sys/fs/cgroup
mount -t tmpfs tmpfs /run
mkdir -p /dev/pts /dev/shm /dev/mqueue
mount -t devpts -o newinstance,ptmxmode=0666 devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
mount -t mqueue mqueue /dev/mqueue
ip link set lo up
hostname berth-guest
# A data disk when one was given, at /gd, and TMPDIR on it: overlayfs cannot take its upper
# layer from an overlay, and the tests and benches make their data roots in TMPDIR. (Not a
# mount over /tmp: the host's checkout may live there.)
if modprobe virtio_blk 2>/dev/null && sleep 0.5 && [ -b /dev/vda ]; then
  mkdir -p /gd && mount /dev/vda /gd
  mkdir -p /gd/tmp && chmod 1777 /gd/tmp
  export TMPDIR=/gd/tmp
fi
echo; echo "guest: kernel $(uname -r), $(nproc) cpus, $(stat -fc %T /sys/fs/cgroup)" \
  "(controllers: $(cat /sys/fs/cgroup/cgroup.controllers))"
job=$(sed -n 's/.*guest\.job=\([^ ]*\).*/\1/p' /proc/cmdline)
cd "$(sed -n 's/.*guest\.cwd=\([^ ]*\).*/\1/p' /proc/cmdline)" 2>/dev/null || cd /
bash "$job"
echo $? >/guest-out/exit
sync
echo o >/proc/sysrq-trigger
sleep 10
