#!/usr/bin/env bash
# Installs what berth's tests and demo need on a fresh Debian machine (idempotent).
set -euo pipefail
need=()
# docker.io: dockerd for the image interop tests (engine_registry) and the benches.
for pkg in busybox-static runc crun iproute2 jq hyperfine bc nftables docker-registry apache2-utils skopeo podman python3-docker docker.io; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  # docker.io's postinst would start dockerd on the host: a policy-rc.d that says no keeps
  # it (and any other service) from starting; the tests start their own.
  rc_policy=
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
    rc_policy=/usr/sbin/policy-rc.d
  fi
  st=0
  apt-get update -qq && apt-get install -y -qq "${need[@]}" >/dev/null || st=$?
  [ -n "$rc_policy" ] && rm -f "$rc_policy"
  [ $st = 0 ] || exit $st
fi
