#!/usr/bin/env bash
# Builds berth as it ships: `berth` and `berth-shim` next to it, both linked statically
# (glibc, non-PIE).
# - One shim runs per container for the container's whole life; linked statically it maps no
#   libc.so, libgcc_s or loader, so it faults in only the code it runs: about 0.90 MiB RSS
#   instead of 1.03 (docs/shim.md).
# - `berth` starts once per CLI call and per `berth runtime` call: without the loader and
#   its three libraries it starts 0.4-0.9 ms sooner (docs/runtime.md).
# cargo cannot set crt-static for one package, so each binary's own crate is built here with
# `cargo rustc` and the flags for it alone; its dependencies are ordinary rlibs. A later plain
# `cargo build` links dynamic binaries again; they work the same.
#
# Usage: scripts/build.sh [--release]   prints the directory holding berth and berth-shim
set -euo pipefail
cd "$(dirname "$0")/.."
profile=() dir=debug
case "${1:-}" in
  --release) profile=(--release) dir=release ;;
  '') ;;
  *) echo "usage: $0 [--release]" >&2; exit 2 ;;
esac
static=(-C target-feature=+crt-static -C relocation-model=static)
cargo rustc "${profile[@]}" -p berth-shim --bin berth-shim -- "${static[@]}" >&2
cargo rustc "${profile[@]}" -p berth --bin berth -- "${static[@]}" >&2
out=${CARGO_TARGET_DIR:-$PWD/target}/$dir
# A static link that silently came out dynamic would only show as time and memory.
for b in berth berth-shim; do
  if LC_ALL=C readelf -lW "$out/$b" | grep -qE 'INTERP|DYNAMIC'; then
    echo "$b did not link statically (is libc6-dev's libc.a installed?)" >&2
    exit 1
  fi
done
realpath "$out"
