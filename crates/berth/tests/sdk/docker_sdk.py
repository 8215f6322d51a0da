#!/usr/bin/env python3
"""What users of the Python docker SDK do, against a berth daemon.

Usage: docker_sdk.py SOCKET HOLDER_PID

SOCKET is the daemon's API socket; HOLDER_PID a process in the daemon's network namespace
(published ports are fetched from there). Every check asserts on what an SDK user sees;
the first failure ends the script with a traceback and a non-zero status.
"""

import subprocess
import sys
import time

import docker
import docker.errors


def step(name):
    print("--", name, flush=True)


def eventually(f, limit=10.0):
    """f() turns true within `limit` seconds. A NotFound on the way counts as not yet: the
    SDK's list() inspects each container it listed, and an auto-removed one may be gone by
    then (docker answers the same)."""
    end = time.time() + limit
    while time.time() < end:
        try:
            if f():
                return True
        except docker.errors.NotFound:
            pass
        time.sleep(0.1)
    return f()


def expect_error(cls, f):
    try:
        f()
    except cls as e:
        return e
    raise AssertionError("expected %s" % cls.__name__)


def main():
    sock, holder = sys.argv[1], sys.argv[2]
    client = docker.DockerClient(base_url="unix://" + sock, timeout=60)
    api = client.api
    print("docker SDK", docker.__version__, "API", api.api_version, flush=True)

    step("version, ping, info")
    assert client.ping() is True
    v = client.version()
    for k in ("Version", "ApiVersion", "MinAPIVersion", "Os", "Arch"):
        assert v.get(k), (k, v)
    assert v["Os"] == "linux", v
    info = client.info()
    for k in ("Containers", "Images", "Driver", "ServerVersion", "NCPU", "MemTotal"):
        assert k in info, (k, sorted(info))
    assert info["Images"] >= 1, info["Images"]

    step("images")
    imgs = client.images.list()
    tagged = [i for i in imgs if "busybox:latest" in i.tags]
    assert len(tagged) == 1, [i.tags for i in imgs]
    img = client.images.get("busybox")
    assert img.id == tagged[0].id and img.id.startswith("sha256:"), (img.id, tagged[0].id)
    assert img.tags == ["busybox:latest"], img.tags
    assert img.short_id.startswith("sha256:"), img.short_id
    assert img.attrs["Os"] == "linux", img.attrs.get("Os")
    assert client.images.list(name="busybox")[0].id == img.id
    e = expect_error(docker.errors.ImageNotFound, lambda: client.images.get("no-such-image-here"))
    assert e.status_code == 404, e.status_code

    step("containers.run, attached")
    out = client.containers.run("busybox", ["sh", "-c", "echo hello from berth"], remove=True)
    assert out == b"hello from berth\n", out
    out = client.containers.run(
        "busybox",
        "sh -c 'echo $GREETING $(pwd) $(id -u)'",
        environment={"GREETING": "hi"},
        working_dir="/tmp",
        user="65534",
        remove=True,
    )
    assert out == b"hi /tmp 65534\n", out
    e = expect_error(
        docker.errors.ContainerError,
        lambda: client.containers.run("busybox", ["sh", "-c", "echo oops >&2; exit 3"]),
    )
    assert e.exit_status == 3, e.exit_status
    assert b"oops" in e.stderr, e.stderr
    e.container.remove()
    e = expect_error(docker.errors.ImageNotFound, lambda: client.containers.run("no-such-image-here", "true"))

    step("containers.run, detached")
    c = client.containers.run(
        "busybox",
        ["sh", "-c", "trap 'echo bye; exit 0' TERM; echo started; while true; do sleep 0.1; done"],
        detach=True,
        name="sdk-ticker",
        labels={"suite": "sdk"},
        environment=["A=1"],
    )
    assert len(c.id) == 64, c.id
    assert c.name == "sdk-ticker", c.name
    c.reload()
    assert c.status == "running", c.status
    st = c.attrs["State"]
    assert st["Running"] is True and st["Status"] == "running", st
    assert st["Pid"] > 0, st
    assert c.attrs["Config"]["Image"] == "busybox", c.attrs["Config"]
    assert "A=1" in c.attrs["Config"]["Env"], c.attrs["Config"]["Env"]
    assert c.attrs["Config"]["Labels"] == {"suite": "sdk"}, c.attrs["Config"]["Labels"]
    assert c.labels == {"suite": "sdk"}, c.labels
    assert c.attrs["Name"] == "/sdk-ticker", c.attrs["Name"]
    ip = c.attrs["NetworkSettings"]["IPAddress"]
    assert ip and ip.count(".") == 3, c.attrs["NetworkSettings"]
    assert c.attrs["NetworkSettings"]["Networks"]["bridge"]["IPAddress"] == ip
    assert c.image.id == img.id, (c.image.id, img.id)
    assert eventually(lambda: b"started" in c.logs()), c.logs()
    assert c.logs(stdout=True, stderr=False) == b"started\n", c.logs()
    assert client.containers.get("sdk-ticker").id == c.id
    assert client.containers.get(c.id[:12]).id == c.id

    step("exec_run")
    r = c.exec_run(["sh", "-c", "echo out; echo err >&2; exit 4"])
    assert r.exit_code == 4, r
    assert b"out" in r.output and b"err" in r.output, r.output
    r = c.exec_run("sh -c 'echo $X $(id -u)'", environment={"X": "42"}, user="nobody")
    assert (r.exit_code, r.output) == (0, b"42 65534\n"), r
    r = c.exec_run(["sh", "-c", "echo o; echo e >&2"], demux=True)
    assert r.output == (b"o\n", b"e\n"), r.output
    r = c.exec_run("true")
    assert r.exit_code == 0 and r.output == b"", r
    # Output that is ready before the client has read the 101 head is not lost
    # (docker-py reads from the raw socket under its buffered reader).
    for i in range(20):
        r = c.exec_run(["echo", str(i)])
        assert (r.exit_code, r.output) == (0, b"%d\n" % i), (i, r)

    step("update, events")
    r = c.update(mem_limit="64m", cpu_shares=512, restart_policy={"Name": "on-failure", "MaximumRetryCount": 2})
    assert r.get("Warnings") in (None, []), r
    c.reload()
    hc = c.attrs["HostConfig"]
    assert (hc["Memory"], hc["CpuShares"]) == (64 << 20, 512), hc
    assert hc["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 2}, hc["RestartPolicy"]
    e = expect_error(docker.errors.APIError, lambda: c.update(mem_limit="1m"))
    assert "Minimum memory limit allowed is 6MB" in e.explanation, e.explanation
    now = time.time()
    evs = client.events(since=now - 120, until=now + 1, filters={"container": "sdk-ticker"}, decode=True)
    actions = [ev["Action"] for ev in evs]
    assert actions[:2] == ["create", "start"] and "update" in actions, actions
    assert all(ev["Actor"]["Attributes"]["suite"] == "sdk" for ev in client.events(
        since=now - 120, until=now + 1, filters={"label": "suite=sdk"}, decode=True)), "label filter"

    step("containers.list filters")
    other = client.containers.create("busybox", "true", name="sdk-created", labels={"suite": "other"})
    names = lambda **kw: sorted(x.name for x in client.containers.list(**kw))
    assert names() == ["sdk-ticker"], names()
    assert names(all=True) == ["sdk-created", "sdk-ticker"], names(all=True)
    assert names(all=True, filters={"status": "created"}) == ["sdk-created"]
    assert names(all=True, filters={"label": "suite=sdk"}) == ["sdk-ticker"]
    assert names(all=True, filters={"name": "sdk-cre"}) == ["sdk-created"]
    assert names(all=True, filters={"id": c.id[:12]}) == ["sdk-ticker"]
    assert names(filters={"status": "exited"}, all=True) == []
    other.start()
    assert other.wait(timeout=30)["StatusCode"] == 0
    assert names(all=True, filters={"status": "exited"}) == ["sdk-created"]
    other.remove()

    step("stop, wait, start, kill, remove")
    c.stop(timeout=5)
    assert c.wait(timeout=30) == {"StatusCode": 0, "Error": None} or c.wait()["StatusCode"] == 0
    c.reload()
    assert c.status == "exited", c.status
    assert c.attrs["State"]["ExitCode"] == 0, c.attrs["State"]
    assert b"bye" in c.logs()
    c.start()
    c.reload()
    assert c.status == "running", c.status
    c.kill()
    assert c.wait(timeout=30)["StatusCode"] == 137
    c.reload()
    assert c.attrs["State"]["ExitCode"] == 137, c.attrs["State"]
    c.remove()
    expect_error(docker.errors.NotFound, lambda: client.containers.get("sdk-ticker"))
    e = expect_error(docker.errors.NotFound, lambda: client.containers.get("nothing-by-this-name"))
    assert "nothing-by-this-name" in e.explanation, e.explanation
    assert e.status_code == 404

    step("wait on a running container, auto-remove")
    w = client.containers.run("busybox", ["sh", "-c", "sleep 0.5; exit 9"], detach=True)
    assert w.wait(timeout=30)["StatusCode"] == 9
    w.remove(v=True, force=True)
    a = client.containers.run("busybox", "true", detach=True, auto_remove=True)
    assert eventually(lambda: a.id not in [x.id for x in client.containers.list(all=True)])

    step("published ports")
    web = client.containers.run(
        "busybox",
        ["sh", "-c", "echo served-by-berth > /index.html; httpd -f -p 80 -h /"],
        detach=True,
        name="sdk-web",
        ports={"80/tcp": 8080},
    )
    web.reload()
    assert web.ports == {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}]} or (
        web.ports["80/tcp"][0]["HostPort"] == "8080"
    ), web.ports
    assert web.attrs["HostConfig"]["PortBindings"]["80/tcp"][0]["HostPort"] == "8080"
    assert "80/tcp" in web.attrs["Config"]["ExposedPorts"], web.attrs["Config"]

    def fetch():
        p = subprocess.run(
            ["nsenter", "-t", holder, "--net", "timeout", "3", "busybox", "wget", "-qO-",
             "http://127.0.0.1:8080/index.html"],
            capture_output=True,
        )
        return p.stdout == b"served-by-berth\n"

    assert eventually(fetch), "published port 8080 did not answer"
    assert api.port(web.id, 80)[0]["HostPort"] == "8080"
    e = expect_error(
        docker.errors.APIError,
        lambda: client.containers.run("busybox", "true", detach=True, ports={"81/tcp": 8080}),
    )
    assert e.status_code >= 400, e.status_code
    assert "8080" in e.explanation, e.explanation
    web.remove(force=True)
    # The failed container is left created, as docker leaves it.
    for x in client.containers.list(all=True):
        x.remove(force=True)

    step("volumes")
    vol = client.volumes.create(name="sdk-vol", labels={"k": "v"})
    assert vol.name == "sdk-vol", vol.name
    assert vol.attrs["Driver"] == "local", vol.attrs
    assert vol.attrs["Mountpoint"], vol.attrs
    assert "sdk-vol" in [x.name for x in client.volumes.list()]
    assert client.volumes.get("sdk-vol").attrs["Labels"] == {"k": "v"}
    out = client.containers.run(
        "busybox", ["sh", "-c", "echo kept > /data/f"], volumes={"sdk-vol": {"bind": "/data", "mode": "rw"}},
        remove=True,
    )
    out = client.containers.run(
        "busybox", ["cat", "/data/f"], volumes=["sdk-vol:/data:ro"], remove=True,
    )
    assert out == b"kept\n", out
    user = client.containers.create("busybox", "true", volumes=["sdk-vol:/data"])
    e = expect_error(docker.errors.APIError, vol.remove)
    assert e.status_code == 409, (e.status_code, e.explanation)
    assert "in use" in e.explanation, e.explanation
    user.remove()
    vol.remove()
    assert "sdk-vol" not in [x.name for x in client.volumes.list()]
    expect_error(docker.errors.NotFound, lambda: client.volumes.get("sdk-vol"))

    step("errors")
    c = client.containers.run("busybox", "sleep 100", detach=True, name="sdk-busy")
    e = expect_error(docker.errors.APIError, c.remove)
    assert e.status_code == 409, e.status_code
    assert "container is running" in e.explanation, e.explanation
    e = expect_error(
        docker.errors.APIError,
        lambda: client.containers.create("busybox", "true", name="sdk-busy"),
    )
    assert e.status_code == 409, e.status_code
    assert 'The container name "/sdk-busy" is already in use' in e.explanation, e.explanation
    e = expect_error(
        docker.errors.APIError,
        lambda: client.containers.run("busybox", "/no/such/binary", detach=True, name="sdk-nobin"),
    )
    assert "/no/such/binary" in e.explanation, e.explanation
    client.containers.get("sdk-nobin").remove(force=True)
    c.remove(force=True)
    assert client.containers.list(all=True) == []
    client.close()
    print("ok", flush=True)


if __name__ == "__main__":
    main()
