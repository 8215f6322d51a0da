#!/usr/bin/env bash
# Builds berth as it ships: `berth` and `berth-shim` next to it, both linked statically and
# non-PIE (`berth` with glibc, the shim with musl when that target is installed).
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
target=${CARGO_TARGET_DIR:-$PWD/target}
out=$target/$dir
cargo rustc "${profile[@]}" -p berth --bin berth -- "${static[@]}" >&2
# The shim against musl when that target is installed: 24 KiB less private memory per
# container than with glibc, and as fast, because its launch helper allocates from a bump
# arena (docs/shim.md). Otherwise against glibc, which works the same.
musl=x86_64-unknown-linux-musl
if [ -d "$(rustc --print sysroot)/lib/rustlib/$musl/lib" ]; then
  cargo rustc "${profile[@]}" --target $musl -p berth-shim --bin berth-shim \
    -- -C relocation-model=static >&2
  cp "$target/$musl/$dir/berth-shim" "$out/berth-shim.new"
  mv "$out/berth-shim.new" "$out/berth-shim"
else
  echo "note: the $musl target is not installed; linking berth-shim with glibc" >&2
  cargo rustc "${profile[@]}" -p berth-shim --bin berth-shim -- "${static[@]}" >&2
fi
# A static link that silently came out dynamic would only show as time and memory.
for b in berth berth-shim; do
  if LC_ALL=C readelf -lW "$out/$b" | grep -qE 'INTERP|DYNAMIC'; then
    echo "$b did not link statically (is libc6-dev's libc.a installed?)" >&2
    exit 1
  fi
done
realpath "$out"
