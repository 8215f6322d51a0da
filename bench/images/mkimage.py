#!/usr/bin/env python3
"""Writes the benchmark image as a docker-archive (what `docker save` writes): busybox-static
in the first layer, then three layers sized from SIZE_MB: incompressible (random) files,
compressible text, and many small files (half random, half text). Deterministic: the same
SIZE_MB and SEED give the same bytes, so every tool gets the same image; different SEEDs
share no layer.

usage: mkimage.py OUT.tar SIZE_MB TAG [SEED]
"""

import hashlib
import io
import json
import os
import platform
import random
import sys
import tarfile
import tempfile

MTIME = 1_700_000_000
MIB = 1 << 20
APPLETS = ["sh", "true", "echo", "cat", "ls", "sleep", "du", "wc", "md5sum", "find"]
WORDS = (
    "container image layer registry manifest digest config overlay snapshot blob push pull "
    "load save tag busybox berth docker podman kernel namespace cgroup network bridge route "
    "address port socket stream buffer chunk block inode directory file path mount root user "
    "group process thread signal exit status error warning info debug trace"
).split()


def info(name, size=0, mode=0o644, kind=tarfile.REGTYPE, link=""):
    ti = tarfile.TarInfo(name)
    ti.size, ti.mode, ti.type, ti.linkname = size, mode, kind, link
    ti.mtime, ti.uid, ti.gid, ti.uname, ti.gname = MTIME, 0, 0, "root", "root"
    return ti


def text(rng, n):
    """About n bytes of word salad (compresses about 3:1 with gzip)."""
    out, size = [], 0
    while size < n:
        line = " ".join(rng.choices(WORDS, k=12)) + f" {rng.randrange(1 << 30)}\n"
        out.append(line)
        size += len(line)
    return "".join(out).encode()[:n]


class Layer:
    """One layer tar, written to a temporary file; its sha256 (the diff id) as it goes."""

    def __init__(self, tmpdir):
        self.f = tempfile.NamedTemporaryFile(dir=tmpdir, delete=False)
        self.tar = tarfile.open(fileobj=self, mode="w", format=tarfile.PAX_FORMAT)
        self.h = hashlib.sha256()
        self.dirs = set()

    def write(self, b):
        self.h.update(b)
        return self.f.write(b)

    def tell(self):
        return self.f.tell()

    def mkdirs(self, path):
        parts = path.strip("/").split("/")[:-1]
        for i in range(1, len(parts) + 1):
            d = "/".join(parts[:i])
            if d not in self.dirs:
                self.dirs.add(d)
                self.tar.addfile(info(d, mode=0o755, kind=tarfile.DIRTYPE))

    def add(self, path, data, mode=0o644):
        self.mkdirs(path)
        self.tar.addfile(info(path, len(data), mode), io.BytesIO(data))

    def link(self, path, target):
        self.mkdirs(path)
        self.tar.addfile(info(path, mode=0o777, kind=tarfile.SYMTYPE, link=target))

    def close(self):
        self.tar.close()
        self.f.close()
        return self.f.name, "sha256:" + self.h.hexdigest()


def main():
    out, size_mb, tag = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    seed = int(sys.argv[4]) if len(sys.argv) > 4 else 1
    rng = random.Random(seed)
    tmpdir = os.path.dirname(os.path.abspath(out))
    budget = max(size_mb - 2, 3) * MIB
    layers = []

    base = Layer(tmpdir)
    with open("/bin/busybox", "rb") as f:
        base.add("bin/busybox", f.read(), 0o755)
    for a in APPLETS:
        base.link(f"bin/{a}", "busybox")
    base.add("etc/bench-seed", f"{seed}\n".encode())  # no two seeds share a layer
    base.add("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n")
    base.add("etc/group", b"root:x:0:\n")
    layers.append(base.close())

    rand = Layer(tmpdir)  # 45%: 4 MiB files of random bytes
    for i in range(max(1, round(budget * 0.45 / (4 * MIB)))):
        rand.add(f"data/random/{i:03d}.bin", rng.randbytes(4 * MIB))
    layers.append(rand.close())

    txt = Layer(tmpdir)  # 40%: 4 MiB text files
    for i in range(max(1, round(budget * 0.40 / (4 * MIB)))):
        txt.add(f"data/text/{i:03d}.txt", text(rng, 4 * MIB))
    layers.append(txt.close())

    small = Layer(tmpdir)  # 15%: 8 KiB files, 64 a directory
    for i in range(max(1, round(budget * 0.15 / 8192))):
        data = rng.randbytes(8192) if i % 2 else text(rng, 8192)
        small.add(f"data/small/{i // 64:03d}/{i:05d}", data)
    layers.append(small.close())

    arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
    config = json.dumps(
        {
            "architecture": arch,
            "os": "linux",
            "created": "2024-01-01T00:00:00Z",
            "config": {
                "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
                "Cmd": ["/bin/sh"],
            },
            "rootfs": {"type": "layers", "diff_ids": [d for _, d in layers]},
            "history": [
                {"created": "2024-01-01T00:00:00Z", "created_by": f"bench/images layer {i}"}
                for i in range(len(layers))
            ],
        },
        separators=(",", ":"),
    ).encode()
    config_name = hashlib.sha256(config).hexdigest() + ".json"
    manifest = [{"Config": config_name, "RepoTags": [tag], "Layers": []}]
    with tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as ar:
        ar.addfile(info(config_name, len(config)), io.BytesIO(config))
        for path, diff in layers:
            name = diff.split(":")[1] + "/layer.tar"
            manifest[0]["Layers"].append(name)
            ar.addfile(info(diff.split(":")[1], mode=0o755, kind=tarfile.DIRTYPE))
            with open(path, "rb") as f:
                ar.addfile(info(name, os.path.getsize(path)), f)
            os.unlink(path)
        m = json.dumps(manifest).encode()
        ar.addfile(info("manifest.json", len(m)), io.BytesIO(m))
    print(out)


if __name__ == "__main__":
    main()
