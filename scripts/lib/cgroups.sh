# shellcheck shell=bash
# Shared by scripts/demo.sh and the benches: remove cgroup trees a run made.

# rm_cgroups PATH: rmdir, depth-first, /sys/fs/cgroup/<controller>/PATH in every v1 hierarchy
# and /sys/fs/cgroup/PATH on the v2 root (directories that are still in use stay).
rm_cgroups() {
  local d
  for d in /sys/fs/cgroup/*/"$1" /sys/fs/cgroup/"$1"; do
    [ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null
  done
  return 0
}
