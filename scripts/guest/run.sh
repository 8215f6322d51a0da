#!/usr/bin/env bash
# Runs a command in a throw-away VM with a fresh kernel and cgroup v2 alone: what this cgroup
# v1 host cannot show (v2 limits enforced, a host with no history of containers).
# - The kernel is Debian's 6.12 cloud kernel (apt-get download, never installed here).
# - The guest's root is this machine's / shared read-only over virtiofs under a tmpfs overlay:
#   the same binaries, tests and tools, and nothing it writes reaches this machine, except
#   files under /guest-out (--out DIR here; by default a directory removed at the end).
# - No network device; qemu emulates the CPU (TCG: this machine offers no nested KVM that
#   runs a stock kernel), so everything runs about 10 times slower.
# Usage: scripts/guest/run.sh [--disk MiB] [--mem MiB] [--cpus N] [--out DIR] -- COMMAND [ARG...]
#   --disk: an empty ext4 disk at /gd, with TMPDIR=/gd/tmp (overlayfs needs a real upper).
# Prints the guest's console; exits with COMMAND's status, or 77 (and says why) when no guest
# can be made here (qemu or the kernel cannot be had).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
disk=0 mem=4096 cpus=2 out=
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out=$(realpath -m "$2"); shift 2 ;;
    --disk) disk=$2; shift 2 ;;
    --mem) mem=$2; shift 2 ;;
    --cpus) cpus=$2; shift 2 ;;
    --) shift; break ;;
    *) echo "usage: $0 [--disk MiB] [--mem MiB] [--cpus N] [--out DIR] -- COMMAND [ARG...]" >&2; exit 2 ;;
  esac
done
[ $# -gt 0 ] || { echo "$0: no command given" >&2; exit 2; }
g=${CARGO_TARGET_DIR:-$repo/target}/guest
mkdir -p "$g"

# What it needs from Debian: qemu (with its virtiofsd), depmod, a static busybox, xz.
need=()
for pkg in qemu-system-x86 kmod busybox-static xz-utils; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
skip() { echo "SKIP scripts/guest: $*" >&2; exit 77; }
if [ ${#need[@]} -gt 0 ]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" \
    >/dev/null || skip "cannot install ${need[*]}"
fi
virtiofsd=/usr/lib/qemu/virtiofsd
[ -x $virtiofsd ] || skip "$virtiofsd not found (qemu-system-x86 too new or too old?)"

# The kernel, its modules (depmod'ed for the host's modprobe) and the initramfs, made once.
if [ ! -e "$g/kernel/ready" ]; then
  rm -rf "$g/kernel" "$g/deb" && mkdir -p "$g/kernel" "$g/deb"
  meta=linux-image-6.12-cloud-amd64
  pkg=$(apt-cache depends "$meta" | sed -n 's/^ *Depends: \(linux-image-[0-9].*\)/\1/p' | head -1)
  [ -n "$pkg" ] || skip "apt knows no $meta"
  (cd "$g/deb" && apt-get download -q "$pkg" 2>/dev/null >/dev/null) || skip "cannot download $pkg"
  dpkg-deb -x "$g"/deb/*.deb "$g/kernel"
  ver=$(ls "$g/kernel/lib/modules")
  depmod -b "$g/kernel" "$ver"
  ir=$g/initramfs && rm -rf "$ir" && mkdir -p "$ir"/{bin,proc,sys,dev,host,rw,newroot}
  cp "$(command -v busybox)" "$ir/bin/busybox"
  xz -dc "$(find "$g/kernel/lib/modules/$ver" -name 'overlay.ko.xz')" >"$ir/overlay.ko"
  cp "$here/init" "$ir/init"
  (cd "$ir" && find . | busybox cpio -o -H newc 2>/dev/null | gzip -1 >"$g/kernel/initramfs.gz")
  touch "$g/kernel/ready"
fi
ver=$(ls "$g/kernel/lib/modules")

# This run's own directory (guests may run side by side): the job, the sockets, the disk,
# and the output share unless --out names one.
run=$(mktemp -d "$g/run.XXXXXX")
out=${out:-$run/out}
mkdir -p "$out" && rm -f "$out/exit"
{
  echo '#!/bin/bash'
  printf '%q ' "$@"
  echo
} >"$run/job.sh"
drive=()
if [ "$disk" != 0 ]; then
  truncate -s "${disk}M" "$run/disk.img" && mkfs.ext4 -q -F "$run/disk.img"
  drive=(-drive "file=$run/disk.img,if=virtio,format=raw,cache=unsafe")
fi

pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$run"
}
trap cleanup EXIT
# cache=always: the shared root does not change while the guest runs, and the guest
# re-reading every binary at each open (cache=auto) made a container start take seconds.
$virtiofsd --socket-path="$run/root.sock" -o source=/ -o cache=always -o sandbox=chroot 2>"$g/virtiofsd-root.log" &
pids+=($!)
$virtiofsd --socket-path="$run/out.sock" -o source="$out" -o cache=none -o sandbox=chroot 2>"$g/virtiofsd-out.log" &
pids+=($!)
for _ in $(seq 100); do [ -S "$run/root.sock" ] && [ -S "$run/out.sock" ] && break; sleep 0.05; done
qemu-system-x86_64 -accel tcg,thread=${GUEST_TCG_THREAD:-single} -cpu max -smp "$cpus" -m "$mem" \
  -nographic -no-reboot -nic none \
  -object "memory-backend-memfd,id=mem,size=${mem}M,share=on" -numa node,memdev=mem \
  -chardev "socket,id=root,path=$run/root.sock" -device vhost-user-fs-pci,chardev=root,tag=host \
  -chardev "socket,id=out,path=$run/out.sock" -device vhost-user-fs-pci,chardev=out,tag=out \
  "${drive[@]}" \
  -kernel "$g/kernel/boot/vmlinuz-$ver" -initrd "$g/kernel/initramfs.gz" \
  -append "console=ttyS0 quiet panic=-1 guest.modules=$g/kernel/lib/modules/$ver guest.init=$here/guest-init.sh guest.job=$run/job.sh guest.cwd=$PWD" |
  grep --line-buffered -v -e 'virtio_fs_enqueue_req' -e '^\s*$' -e $'\e'
if [ ! -s "$out/exit" ]; then
  echo "$0: the guest left no exit status (it crashed or timed out)" >&2
  exit 1
fi
exit "$(cat "$out/exit")"
