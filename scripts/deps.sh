#!/usr/bin/env bash
# Installs what berth's tests and demo need on a fresh Debian machine (idempotent).
set -euo pipefail
need=()
for pkg in busybox-static runc crun iproute2 jq hyperfine bc nftables docker-registry apache2-utils skopeo podman python3-docker; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need[@]}" >/dev/null
fi
