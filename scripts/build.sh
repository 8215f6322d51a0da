#!/usr/bin/env bash
# Builds berth as it ships: the `berth` binary, and `berth-shim` next to it linked statically
# (glibc, non-PIE). One shim runs per container for the container's whole life; linked
# statically it maps no libc.so, libgcc_s or loader, so it faults in only the code it runs:
# about 0.90 MiB RSS instead of 1.03 (docs/shim.md). cargo cannot set crt-static for one
# package, so the shim's own crate is linked again here with `cargo rustc`; its dependencies
# are the rlibs `cargo build` already made. A later plain `cargo build -p berth-shim` links a
# dynamic shim again (it works the same, with more memory).
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
cargo build "${profile[@]}" -p berth -p berth-shim >&2
cargo rustc "${profile[@]}" -p berth-shim --bin berth-shim -- \
  -C target-feature=+crt-static -C relocation-model=static >&2
out=${CARGO_TARGET_DIR:-$PWD/target}/$dir
# A static link that silently came out dynamic would only show as memory: check it here.
if LC_ALL=C readelf -lW "$out/berth-shim" | grep -qE 'INTERP|DYNAMIC'; then
  echo "berth-shim did not link statically (is libc6-dev's libc.a installed?)" >&2
  exit 1
fi
realpath "$out"
