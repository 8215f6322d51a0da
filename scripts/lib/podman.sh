# shellcheck shell=bash
# Shared by the benches: podman configured to keep everything in a run's own directory.

# podman_conf DIR RUNROOT [ENGINE_LINE...]: storage under DIR/root with state in RUNROOT,
# cgroupfs and file events (no systemd here), network configs in DIR/net, temporary files in
# DIR/tmp; podman reads the files through CONTAINERS_CONF and CONTAINERS_STORAGE_CONF, so the
# timed command line stays the plain `podman run ...`. This host lacks CAP_SYS_RESOURCE, so
# podman's default rlimits (nofile/nproc raised to 1048576) fail with EPERM at setrlimit: the
# containers get the current hard nofile and a lower nproc. ENGINE_LINEs go to [engine].
podman_conf() {
  local d=$1 runroot=$2 line
  shift 2
  mkdir -p "$d/tmp" "$d/net"
  printf '[storage]\ndriver = "overlay"\ngraphroot = "%s/root"\nrunroot = "%s"\n' "$d" "$runroot" \
    >"$d/storage.conf"
  {
    echo '[containers]'
    echo "default_ulimits = [\"nofile=$(ulimit -Hn):$(ulimit -Hn)\", \"nproc=4096:4096\"]"
    echo '[engine]'
    echo 'cgroup_manager = "cgroupfs"'
    echo 'events_logger = "file"'
    echo "tmp_dir = \"$d/tmp\""
    for line in "$@"; do echo "$line"; done
    echo '[network]'
    echo "network_config_dir = \"$d/net\""
  } >"$d/containers.conf"
  export CONTAINERS_CONF=$d/containers.conf CONTAINERS_STORAGE_CONF=$d/storage.conf
}
