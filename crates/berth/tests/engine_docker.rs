//! The real docker CLI against `berth daemon`: run, ps, logs, exec, inspect templates,
//! stop/kill/rm, resource limits, volumes, published ports, errors, and containers that
//! outlive a killed daemon.

mod engine;

use engine::{eventually, stderr, stdout, Daemon};
use std::time::Duration;

#[test]
fn run_rm_prints_output_and_returns_the_exit_code() {
    if !engine::usable() {
        return;
    }
    let d = Daemon::start();
    let out = d.docker(&[
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "echo to-out; echo to-err >&2; exit 7",
    ]);
    assert_eq!(out.status.code(), Some(7), "{}", stderr(&out));
    assert_eq!(stdout(&out), "to-out\n");
    assert_eq!(stderr(&out), "to-err\n");
    // --rm: nothing is left, not even a stopped container.
    assert!(eventually(Duration::from_secs(5), || d
        .all_ids()
        .is_empty()));
    // Environment, working dir, user and hostname reach the process.
    let out = d.ok(&[
        "run",
        "--rm",
        "-e",
        "GREETING=hi",
        "-w",
        "/tmp",
        "-u",
        "65534:65534",
        "-h",
        "boxy",
        "busybox",
        "sh",
        "-c",
        "echo $GREETING $(pwd) $(id -u):$(id -g) $(hostname)",
    ]);
    assert_eq!(out, "hi /tmp 65534:65534 boxy");
}

#[test]
fn detached_container_lifecycle_through_ps_logs_exec_stop_rm() {
    if !engine::usable() {
        return;
    }
    let d = Daemon::start();
    let id = d.ok(&["run", "-d", "--name", "ticker", "busybox", "sh", "-c",
        "trap 'echo bye; exit 0' TERM; i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.1; done"]);
    assert_eq!(id.len(), 64);
    let ps = d.ok(&["ps", "--format", "{{.Names}} {{.Status}}"]);
    assert!(ps.starts_with("ticker Up"), "{ps}");
    assert!(eventually(Duration::from_secs(5), || d
        .ok(&["logs", "ticker"])
        .contains("tick 3")));
    assert_eq!(d.ok(&["logs", "--tail", "1", "ticker"]).lines().count(), 1);
    // exec: output, exit code, environment and user.
    let out = d.docker(&[
        "exec",
        "-e",
        "X=42",
        "-u",
        "nobody",
        "ticker",
        "sh",
        "-c",
        "echo $X $(id -u); exit 3",
    ]);
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(stdout(&out), "42 65534\n");
    // An exec with no output at all (its shim may be gone before the attach).
    for _ in 0..5 {
        assert_eq!(d.docker(&["exec", "ticker", "true"]).status.code(), Some(0));
    }
    // inspect templates find docker's fields.
    let f = d.ok(&[
        "inspect",
        "-f",
        "{{.State.Running}} {{.State.Status}} {{.Name}} {{.Config.Image}} {{.Id}}",
        "ticker",
    ]);
    assert_eq!(f, format!("true running /ticker busybox {id}"));
    let pid: i32 = d
        .ok(&["inspect", "-f", "{{.State.Pid}}", "ticker"])
        .parse()
        .unwrap();
    assert!(std::path::Path::new(&format!("/proc/{pid}")).exists());
    // stop sends SIGTERM: the trap runs and the exit code is 0.
    d.ok(&["stop", "ticker"]);
    assert!(d.ok(&["logs", "ticker"]).contains("bye"));
    assert_eq!(
        d.ok(&[
            "inspect",
            "-f",
            "{{.State.Status}} {{.State.ExitCode}}",
            "ticker"
        ]),
        "exited 0"
    );
    let ps = d.ok(&["ps", "-a", "--format", "{{.Names}} {{.Status}}"]);
    assert!(ps.starts_with("ticker Exited (0)"), "{ps}");
    // Started again, killed, removed: its cgroup goes too.
    d.ok(&["start", "ticker"]);
    assert_eq!(
        d.ok(&["inspect", "-f", "{{.State.Running}}", "ticker"]),
        "true"
    );
    assert!(
        !d.cgroup_dirs(&id).is_empty(),
        "a running container has its cgroup"
    );
    d.ok(&["kill", "ticker"]);
    assert!(eventually(Duration::from_secs(5), || {
        d.ok(&["inspect", "-f", "{{.State.ExitCode}}", "ticker"]) == "137"
    }));
    d.ok(&["rm", "ticker"]);
    assert_eq!(d.cgroup_dirs(&id), Vec::<std::path::PathBuf>::new());
    let out = d.docker(&["inspect", "ticker"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("No such object: ticker"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn errors_read_like_dockers() {
    if !engine::usable() {
        return;
    }
    let d = Daemon::start();
    d.ok(&["run", "-d", "--name", "one", "busybox", "sleep", "100"]);
    let out = d.docker(&["run", "-d", "--name", "one", "busybox", "true"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(
        stderr(&out).contains("The container name \"/one\" is already in use"),
        "{}",
        stderr(&out)
    );
    let out = d.docker(&["rm", "one"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("container is running"),
        "{}",
        stderr(&out)
    );
    let out = d.docker(&["run", "--rm", "no-such-image-here"]);
    assert_eq!(out.status.code(), Some(125));
    let out = d.docker(&["stop", "nothing-by-this-name"]);
    assert!(
        stderr(&out).contains("No such container: nothing-by-this-name"),
        "{}",
        stderr(&out)
    );
    let out = d.docker(&["run", "--rm", "busybox", "/no/such/binary"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("/no/such/binary"), "{}", stderr(&out));
    // exec of a missing program: docker's message in the stream, exit code 127.
    let out = d.docker(&["exec", "one", "no-such-program"]);
    assert_eq!(out.status.code(), Some(127), "{}", stderr(&out));
    let said = format!("{}{}", stdout(&out), stderr(&out));
    assert!(
        said.contains("OCI runtime exec failed") && said.contains("no-such-program"),
        "{said}"
    );
    d.ok(&["rm", "-f", "one"]);
}

/// Whether memory limits can be tested here; says why not.
fn memory_controller() -> bool {
    let here = std::path::Path::new("/sys/fs/cgroup/memory").exists()
        || std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists();
    if !here {
        eprintln!("SKIP: no memory controller");
    }
    here
}

#[test]
fn memory_and_pids_limits_are_enforced() {
    if !engine::usable() {
        return;
    }
    if !memory_controller() {
        return;
    }
    let d = Daemon::start();
    // 32 MiB limit, 100 MiB wanted: the kernel kills it; docker sees 137 and OOMKilled.
    let out = d.docker(&[
        "run",
        "--name",
        "hog",
        "-m",
        "32m",
        "busybox",
        "sh",
        "-c",
        "x=$(head -c 100000000 /dev/zero | tr '\\0' a); echo survived",
    ]);
    assert_eq!(out.status.code(), Some(137), "{}", stderr(&out));
    assert!(!stdout(&out).contains("survived"));
    assert_eq!(
        d.ok(&[
            "inspect",
            "-f",
            "{{.State.OOMKilled}} {{.HostConfig.Memory}}",
            "hog"
        ]),
        "true 33554432"
    );
    // pids.max 5: the sixth process cannot be forked.
    let out = d.docker(&[
        "run",
        "--rm",
        "--pids-limit",
        "5",
        "busybox",
        "sh",
        "-c",
        "for i in 1 2 3 4 5 6 7 8; do sleep 5 & done; wait; echo done",
    ]);
    assert!(
        stderr(&out).contains("can't fork")
            || stderr(&out).contains("Resource temporarily unavailable"),
        "stdout {} stderr {}",
        stdout(&out),
        stderr(&out)
    );
}

#[test]
fn named_volumes_keep_data_between_containers() {
    if !engine::usable() {
        return;
    }
    let d = Daemon::start();
    d.ok(&["volume", "create", "keep"]);
    d.ok(&[
        "run",
        "--rm",
        "-v",
        "keep:/data",
        "busybox",
        "sh",
        "-c",
        "echo persisted > /data/f",
    ]);
    assert_eq!(
        d.ok(&[
            "run",
            "--rm",
            "-v",
            "keep:/data:ro",
            "busybox",
            "cat",
            "/data/f"
        ]),
        "persisted"
    );
    let out = d.docker(&[
        "run",
        "--rm",
        "-v",
        "keep:/data:ro",
        "busybox",
        "touch",
        "/data/g",
    ]);
    assert!(!out.status.success(), "a read-only volume accepted a write");
    assert!(d.ok(&["volume", "ls", "-q"]).lines().any(|l| l == "keep"));
    // A bind mount shows host files; --read-only refuses writes to the rootfs.
    let host = d.dir.path().join("shared");
    std::fs::create_dir_all(&host).unwrap();
    std::fs::write(host.join("h"), "from host").unwrap();
    let spec = format!("{}:/h", host.display());
    assert_eq!(
        d.ok(&["run", "--rm", "-v", &spec, "busybox", "cat", "/h/h"]),
        "from host"
    );
    let out = d.docker(&["run", "--rm", "--read-only", "busybox", "touch", "/x"]);
    assert!(!out.status.success());
    d.ok(&["volume", "rm", "keep"]);
    assert!(!d.ok(&["volume", "ls", "-q"]).lines().any(|l| l == "keep"));
}

/// The volume's directory on the host, from `volume inspect`.
fn volume_dir(d: &Daemon, name: &str) -> std::path::PathBuf {
    d.ok(&["volume", "inspect", "-f", "{{.Mountpoint}}", name])
        .into()
}

#[test]
fn empty_volumes_are_filled_from_the_image_once_unless_nocopy() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    if !engine::usable() {
        return;
    }
    let d = Daemon::start();
    // An image with /data (owned by nobody, 0750): a file (0640), a subdirectory, and a
    // symlink pointing out of it; VOLUME /data.
    let base = d.dir.path().join("img");
    std::fs::create_dir_all(&base).unwrap();
    engine::busybox_tar(&base);
    let root = base.join("bb");
    let data = root.join("data");
    std::fs::create_dir_all(data.join("sub")).unwrap();
    std::fs::write(data.join("hello"), "from the image\n").unwrap();
    std::fs::write(data.join("sub/deep"), "deep\n").unwrap();
    std::os::unix::fs::symlink("/etc/passwd", data.join("link")).unwrap();
    std::fs::set_permissions(data.join("hello"), std::fs::Permissions::from_mode(0o640)).unwrap();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o750)).unwrap();
    for p in [&data, &data.join("hello"), &data.join("sub")] {
        std::os::unix::fs::chown(p, Some(65534), Some(65534)).unwrap();
    }
    let tar = base.join("withdata.tar");
    let ok = std::process::Command::new("tar")
        .arg("-C")
        .arg(&root)
        .arg("-cf")
        .arg(&tar)
        .arg(".")
        .status()
        .unwrap();
    assert!(ok.success());
    d.ok(&[
        "import",
        "--change",
        "VOLUME /data",
        tar.to_str().unwrap(),
        "withdata",
    ]);

    // A new named volume takes the image's files, owners, modes and symlinks as they are.
    assert_eq!(
        d.ok(&[
            "run",
            "--rm",
            "-v",
            "filled:/data",
            "withdata",
            "cat",
            "/data/hello",
            "/data/sub/deep"
        ]),
        "from the image\ndeep"
    );
    let v = volume_dir(&d, "filled");
    let md = std::fs::metadata(v.join("hello")).unwrap();
    assert_eq!((md.uid(), md.mode() & 0o7777), (65534, 0o640));
    let md = std::fs::metadata(&v).unwrap();
    assert_eq!(
        (md.uid(), md.gid(), md.mode() & 0o7777),
        (65534, 65534, 0o750)
    );
    assert_eq!(
        std::fs::read_link(v.join("link")).unwrap(),
        std::path::Path::new("/etc/passwd")
    );
    // Once it has content, it is the volume's: nothing is copied over it again.
    std::fs::remove_file(v.join("hello")).unwrap();
    std::fs::write(v.join("mine"), "mine").unwrap();
    assert_eq!(
        d.ok(&[
            "run",
            "--rm",
            "-v",
            "filled:/data",
            "withdata",
            "ls",
            "/data"
        ]),
        "link\nmine\nsub"
    );
    // The image's VOLUME (an anonymous volume) is filled too.
    assert_eq!(
        d.ok(&["run", "--rm", "withdata", "cat", "/data/hello"]),
        "from the image"
    );
    // nocopy, both spellings: the volume stays empty.
    assert_eq!(
        d.ok(&[
            "run",
            "--rm",
            "-v",
            "bare:/data:nocopy",
            "withdata",
            "ls",
            "-A",
            "/data"
        ]),
        ""
    );
    assert_eq!(
        d.ok(&[
            "run",
            "--rm",
            "--mount",
            "type=volume,src=bare2,dst=/data,volume-nocopy",
            "withdata",
            "ls",
            "-A",
            "/data",
        ]),
        ""
    );
    assert_eq!(
        std::fs::read_dir(volume_dir(&d, "bare")).unwrap().count(),
        0
    );
    // A bind mount is never written to.
    let host = d.dir.path().join("bindsrc");
    std::fs::create_dir_all(&host).unwrap();
    let spec = format!("{}:/data", host.display());
    d.ok(&["run", "--rm", "-v", &spec, "withdata", "true"]);
    assert_eq!(std::fs::read_dir(&host).unwrap().count(), 0);
}

#[test]
fn published_port_answers_host_loopback_and_other_containers() {
    if !engine::usable() {
        return;
    }
    let d = Daemon::start();
    d.ok(&[
        "run",
        "-d",
        "--name",
        "web",
        "-p",
        "8080:80",
        "busybox",
        "sh",
        "-c",
        "echo served-by-berth > /index.html; httpd -f -p 80 -h /",
    ]);
    assert_eq!(
        d.ok(&["port", "web"]).lines().next().unwrap_or(""),
        "80/tcp -> 0.0.0.0:8080"
    );
    let got = eventually(Duration::from_secs(5), || {
        let o = d.ns(&[
            "timeout",
            "3",
            "busybox",
            "wget",
            "-qO-",
            "127.0.0.1:8080/index.html",
        ]);
        stdout(&o) == "served-by-berth\n"
    });
    assert!(got, "published port did not answer on 127.0.0.1");
    let ip = d.ok(&["inspect", "-f", "{{.NetworkSettings.IPAddress}}", "web"]);
    let out = d.ok(&[
        "run",
        "--rm",
        "busybox",
        "wget",
        "-qO-",
        &format!("http://{ip}/index.html"),
    ]);
    assert_eq!(out, "served-by-berth");
    // --network none: only loopback.
    let out = d.ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "busybox",
        "cat",
        "/proc/net/dev",
    ]);
    assert!(!out.contains("eth0") && out.contains("lo:"), "{out}");
    // --network host: the daemon's own namespace.
    let out = d.ok(&[
        "run",
        "--rm",
        "--network",
        "host",
        "busybox",
        "cat",
        "/proc/net/dev",
    ]);
    assert!(out.contains("docker0") || out.contains("berth0"), "{out}");
}

#[test]
fn containers_outlive_a_killed_daemon_and_are_picked_up_again() {
    if !engine::usable() {
        return;
    }
    let mut d = Daemon::start();
    d.ok(&[
        "run",
        "-d",
        "--name",
        "survivor",
        "busybox",
        "sh",
        "-c",
        "i=0; while true; do echo line $i; i=$((i+1)); sleep 0.05; done",
    ]);
    d.ok(&[
        "run",
        "-d",
        "--name",
        "short",
        "busybox",
        "sh",
        "-c",
        "sleep 1; exit 5",
    ]);
    let pid = d.ok(&["inspect", "-f", "{{.State.Pid}}", "survivor"]);
    let id = d.ok(&["inspect", "-f", "{{.Id}}", "survivor"]);
    d.kill_daemon();
    // While no daemon runs: the container lives, its log grows, the short one exits.
    let log = d
        .dir
        .path()
        .join("data/containers")
        .join(&id[..12])
        .join("container.log");
    let before = std::fs::metadata(&log).map(|m| m.len()).unwrap_or(0);
    std::thread::sleep(Duration::from_millis(1500));
    let after = std::fs::metadata(&log).map(|m| m.len()).unwrap_or(0);
    assert!(
        after > before,
        "log stopped growing without the daemon ({before} -> {after})"
    );
    assert!(
        std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "container died with the daemon"
    );
    d.spawn_daemon();
    assert_eq!(
        d.ok(&[
            "inspect",
            "-f",
            "{{.State.Running}} {{.State.Pid}}",
            "survivor"
        ]),
        format!("true {pid}")
    );
    assert_eq!(
        d.ok(&[
            "inspect",
            "-f",
            "{{.State.Status}} {{.State.ExitCode}}",
            "short"
        ]),
        "exited 5"
    );
    d.ok(&["stop", "-t", "1", "survivor"]);
    assert_eq!(
        d.ok(&["inspect", "-f", "{{.State.Running}}", "survivor"]),
        "false"
    );
}

#[test]
fn restart_policy_on_failure_restarts_then_gives_up() {
    if !engine::usable() {
        return;
    }
    let d = Daemon::start();
    d.ok(&[
        "run",
        "-d",
        "--name",
        "flaky",
        "--restart",
        "on-failure:2",
        "busybox",
        "sh",
        "-c",
        "exit 1",
    ]);
    let done = eventually(Duration::from_secs(15), || {
        d.ok(&[
            "inspect",
            "-f",
            "{{.RestartCount}} {{.State.Status}}",
            "flaky",
        ]) == "2 exited"
    });
    assert!(
        done,
        "{}",
        d.ok(&[
            "inspect",
            "-f",
            "{{.RestartCount}} {{.State.Status}}",
            "flaky"
        ])
    );
}

/// A raw attach on the daemon's socket, as an SDK makes it: the 101 head read, then the
/// stream.
fn raw_attach(d: &Daemon, name: &str, query: &str) -> (std::os::unix::net::UnixStream, String) {
    use std::io::{Read, Write};
    let mut s = std::os::unix::net::UnixStream::connect(&d.sock).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(
        s,
        "POST /v1.41/containers/{name}/attach?stream=1&stdin=1&stdout=1&stderr=1{query} HTTP/1.1\r\n\
         Host: berth\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: 0\r\n\r\n"
    )
    .unwrap();
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && s.read(&mut b).unwrap() == 1 {
        head.push(b[0]);
    }
    (s, String::from_utf8_lossy(&head).into_owned())
}

/// Reads until `want` shows up in what came back (or the read times out).
fn read_until(s: &mut std::os::unix::net::UnixStream, want: &str) -> String {
    use std::io::Read;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&got).contains(want) {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8_lossy(&got).into_owned()
}

/// Whether the daemon closed the stream: EOF within the read timeout.
fn closed(s: &mut std::os::unix::net::UnixStream) -> bool {
    use std::io::Read;
    let mut buf = [0u8; 256];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(_) => return false,
        }
    }
}

#[test]
fn detach_keys_end_a_raw_attach_and_leave_the_container_and_its_stdin() {
    use std::io::Write;
    if !engine::usable() {
        return;
    }
    let d = Daemon::start();
    d.ok(&[
        "run",
        "-d",
        "-i",
        "--name",
        "echoer",
        "--network",
        "none",
        "busybox",
        "cat",
    ]);
    let (mut s, head) = raw_attach(&d, "echoer", "");
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    s.write_all(b"hello\n").unwrap();
    assert!(read_until(&mut s, "hello").contains("hello"));
    // docker's default keys: ctrl-p ctrl-q, split over two writes.
    s.write_all(b"\x10").unwrap();
    std::thread::sleep(Duration::from_millis(50));
    s.write_all(b"\x11").unwrap();
    assert!(closed(&mut s), "the attach did not end on ctrl-p ctrl-q");
    assert_eq!(
        d.ok(&["inspect", "-f", "{{.State.Running}}", "echoer"]),
        "true"
    );
    // The container's stdin stayed open: a new attach still talks to cat.
    let (mut s, _) = raw_attach(&d, "echoer", "&detachKeys=ctrl-a,x");
    s.write_all(b"again\n").unwrap();
    assert!(read_until(&mut s, "again").contains("again"));
    // Other keys: a broken-off sequence passes through, the whole one detaches.
    s.write_all(b"\x01y\n").unwrap();
    assert!(read_until(&mut s, "\x01y").contains("\x01y"));
    s.write_all(b"\x01x").unwrap();
    assert!(closed(&mut s), "the attach did not end on ctrl-a x");
    assert_eq!(
        d.ok(&["inspect", "-f", "{{.State.Running}}", "echoer"]),
        "true"
    );
    // Bad keys: docker's 400.
    let (_, head) = raw_attach(&d, "echoer", "&detachKeys=ctrl-1");
    assert!(head.starts_with("HTTP/1.1 400"), "{head}");
    d.ok(&["rm", "-f", "echoer"]);
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[test]
fn events_are_replayed_since_a_time_filtered_and_streamed_live() {
    if !engine::usable() {
        return;
    }
    let d = Daemon::start();
    // Live: a listener started first sees the start of a container run after it.
    let mut live = d
        .docker_cmd(&[
            "events",
            "--filter",
            "event=start",
            "--format",
            "{{.Type}} {{.Action}} {{.Actor.Attributes.name}}",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let out = live.stdout.take().unwrap();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    // The listener is subscribed once it reports a start.
    let none = ["--network", "none", "busybox", "true"];
    let mut args = vec!["create", "--name", "ev-warm"];
    args.extend(none);
    d.ok(&args);
    let subscribed = (0..20).any(|_| {
        d.ok(&["start", "ev-warm"]);
        rx.recv_timeout(Duration::from_millis(500)).is_ok()
    });
    assert!(subscribed, "docker events never reported a start");
    let since = unix_now().to_string();
    let mut args = vec!["run", "--name", "ev-a", "--label", "team=blue"];
    args.extend(none);
    d.ok(&args);
    let mut args = vec!["run", "--rm", "--name", "ev-b"];
    args.extend(none);
    d.ok(&args);
    d.ok(&["rm", "ev-a"]);
    d.ok(&["volume", "create", "ev-vol"]);
    let seen: Vec<String> = std::iter::from_fn(|| rx.recv_timeout(Duration::from_secs(5)).ok())
        .filter(|l| l != "container start ev-warm")
        .take(2)
        .collect();
    let _ = live.kill();
    let _ = live.wait();
    assert_eq!(seen, ["container start ev-a", "container start ev-b"]);

    // Replayed: everything since a time, up to a time just ahead, then the stream ends.
    let until = (unix_now() + 1).to_string();
    let past = |filters: &[&str]| -> Vec<String> {
        let mut args = vec!["events", "--since", &since, "--until", &until];
        args.extend(filters);
        args.extend([
            "--format",
            "{{.Type}} {{.Action}} {{.Actor.Attributes.name}}",
        ]);
        d.ok(&args).lines().map(String::from).collect()
    };
    assert_eq!(
        past(&["--filter", "container=ev-a"]),
        [
            "container create ev-a",
            "container attach ev-a",
            "container start ev-a",
            "container die ev-a",
            "container destroy ev-a"
        ]
    );
    // Container labels are attributes; a label filter keeps that container's events alone.
    let blue = past(&["--filter", "label=team=blue", "--filter", "event=die"]);
    assert_eq!(blue, ["container die ev-a"]);
    let both = past(&["--filter", "type=container", "--filter", "event=destroy"]);
    assert_eq!(both.len(), 2, "{both:?}");
    assert!(
        both.iter()
            .all(|l| l.contains("ev-a") || l.contains("ev-b")),
        "{both:?}"
    );
    let volumes = d.ok(&[
        "events",
        "--since",
        &since,
        "--until",
        &until,
        "--filter",
        "type=volume",
        "--format",
        "{{.Action}} {{.Actor.ID}} {{.Actor.Attributes.driver}}",
    ]);
    assert_eq!(volumes, "create ev-vol local");
    // The exit code rides on die.
    let code = d.ok(&[
        "events",
        "--since",
        &since,
        "--until",
        &until,
        "--filter",
        "container=ev-b",
        "--filter",
        "event=die",
        "--format",
        "{{.Actor.Attributes.exitCode}}",
    ]);
    assert_eq!(code, "0");
    // A window that ends before it begins is refused, as dockerd does.
    let out = d.docker(&["events", "--since", "200", "--until", "100"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("`since` time (200) cannot be after `until` time (100)"),
        "{}",
        stderr(&out)
    );
}

/// A cgroup file of the container's, from whichever hierarchy has it (v1 or v2 names).
fn cgroup_value(d: &Daemon, id: &str, files: &[&str]) -> String {
    d.cgroup_file(id, files)
        .unwrap_or_else(|| panic!("none of {files:?} for {id}"))
        .trim()
        .to_string()
}

#[test]
fn update_changes_a_running_containers_limits_and_they_last() {
    if !engine::usable() {
        return;
    }
    if !memory_controller() {
        return;
    }
    let d = Daemon::start();
    let id = d.ok(&[
        "run",
        "-d",
        "--name",
        "upd",
        "-m",
        "128m",
        "--pids-limit",
        "50",
        "busybox",
        "sleep",
        "600",
    ]);
    let memory = ["memory.limit_in_bytes", "memory.max"];
    let hog = [
        "exec",
        "upd",
        "sh",
        "-c",
        "x=$(head -c 60000000 /dev/zero | tr '\\0' a); echo survived",
    ];
    assert_eq!(d.ok(&hog), "survived", "60 MB fits in 128m");

    assert_eq!(
        d.ok(&["update", "-m", "32m", "--pids-limit", "5", "upd"]),
        "upd"
    );
    assert_eq!(cgroup_value(&d, &id, &memory), "33554432");
    assert_eq!(cgroup_value(&d, &id, &["pids.max"]), "5");
    // The kernel enforces the new limits on the running container.
    let out = d.docker(&hog);
    assert_eq!(out.status.code(), Some(137), "{}", stderr(&out));
    assert!(!stdout(&out).contains("survived"));
    let out = d.docker(&[
        "exec",
        "upd",
        "sh",
        "-c",
        "for i in 1 2 3 4 5 6 7 8; do sleep 5 & done; wait; echo done",
    ]);
    assert!(
        stderr(&out).contains("can't fork")
            || stderr(&out).contains("Resource temporarily unavailable"),
        "stdout {} stderr {}",
        stdout(&out),
        stderr(&out)
    );

    // Refused with dockerd's words, and nothing changes.
    let out = d.docker(&["update", "-m", "1m", "upd"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("Minimum memory limit allowed is 6MB"),
        "{}",
        stderr(&out)
    );
    let out = d.docker(&["update", "-m", "64m", "no-such-ctr"]);
    assert!(
        stderr(&out).contains("No such container: no-such-ctr"),
        "{}",
        stderr(&out)
    );
    assert_eq!(cgroup_value(&d, &id, &memory), "33554432");

    // The record has them: inspect shows them and a restart keeps them.
    d.ok(&["update", "--restart", "on-failure:3", "upd"]);
    assert_eq!(
        d.ok(&[
            "inspect",
            "-f",
            "{{.HostConfig.Memory}} {{.HostConfig.PidsLimit}} {{.HostConfig.RestartPolicy.Name}}:{{.HostConfig.RestartPolicy.MaximumRetryCount}}",
            "upd"
        ]),
        "33554432 5 on-failure:3"
    );
    d.ok(&["restart", "-t", "0", "upd"]);
    assert_eq!(cgroup_value(&d, &id, &memory), "33554432");
    assert_eq!(cgroup_value(&d, &id, &["pids.max"]), "5");
    // -1 lifts the pids limit.
    d.ok(&["update", "--pids-limit", "-1", "upd"]);
    assert_eq!(cgroup_value(&d, &id, &["pids.max"]), "max");
    d.ok(&["rm", "-f", "upd"]);
}

#[test]
fn run_flags_reach_the_kernel_namespaces_limits_groups_sysctls_devices() {
    if !engine::usable() {
        return;
    }
    let d = Daemon::start();
    let run = |flags: &[&str], script: &str| -> String {
        let mut args = vec!["run", "--rm"];
        args.extend(flags);
        args.extend(["busybox", "sh", "-c", script]);
        d.ok(&args)
    };
    // Limits, OOM score, groups and namespaced sysctls, as the process sees them.
    let out = run(
        &[
            "--ulimit",
            "nofile=1234:2345",
            "--oom-score-adj",
            "300",
            "--group-add",
            "1234",
            "--group-add",
            "nogroup",
            "--sysctl",
            "net.ipv4.ip_forward=1",
            "--sysctl",
            "kernel.shmmax=123456789",
        ],
        "ulimit -n; ulimit -Hn; cat /proc/self/oom_score_adj; grep Groups /proc/self/status; \
         cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shmmax",
    );
    assert_eq!(
        out.lines().map(str::trim).collect::<Vec<_>>(),
        [
            "1234",
            "2345",
            "300",
            "Groups:\t1234 65534",
            "1",
            "123456789"
        ]
    );
    // A host device node, made under another name.
    let out = run(
        &["--device", "/dev/zero:/dev/myzero:r"],
        "ls -l /dev/myzero; head -c 3 /dev/myzero | busybox wc -c",
    );
    assert!(out.starts_with("crw"), "{out}");
    assert!(out.contains("1,   5") || out.contains("1, 5"), "{out}");
    assert!(out.ends_with('3'), "{out}");

    // The daemon's namespaces: pid, ipc, uts (the hostname is read, never set).
    let host_ns = |t: &str| std::fs::read_link(format!("/proc/self/ns/{t}")).unwrap();
    for (flag, t) in [("--pid", "pid"), ("--ipc", "ipc")] {
        let out = run(&[flag, "host"], &format!("readlink /proc/self/ns/{t}"));
        assert_eq!(out, host_ns(t).to_string_lossy(), "{flag} host");
    }
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    assert_eq!(run(&["--uts", "host"], "hostname"), hostname.trim());
    assert_eq!(
        std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap(),
        hostname
    );
    assert_eq!(
        run(&["--ipc", "none"], "test -e /dev/shm || echo none"),
        "none"
    );

    // Another container's: its processes and its System V / POSIX shared memory.
    d.ok(&[
        "run",
        "-d",
        "--name",
        "donor",
        "--ipc",
        "shareable",
        "busybox",
        "sh",
        "-c",
        "echo shared > /dev/shm/f; exec sleep 600",
    ]);
    assert!(eventually(Duration::from_secs(5), || d
        .docker(&["exec", "donor", "cat", "/dev/shm/f"])
        .status
        .success()));
    let donor_ipc = d.ok(&["exec", "donor", "busybox", "readlink", "/proc/self/ns/ipc"]);
    assert_eq!(
        run(
            &["--pid", "container:donor"],
            "cat /proc/1/cmdline | tr '\\0' ' '"
        ),
        "sleep 600"
    );
    assert_eq!(
        run(
            &["--ipc", "container:donor"],
            "readlink /proc/self/ns/ipc; cat /dev/shm/f"
        ),
        format!("{donor_ipc}\nshared")
    );
    d.ok(&["run", "-d", "--name", "private", "busybox", "sleep", "600"]);
    let out = d.docker(&[
        "run",
        "--rm",
        "--ipc",
        "container:private",
        "busybox",
        "true",
    ]);
    assert!(
        stderr(&out).contains("non-shareable IPC"),
        "{}",
        stderr(&out)
    );

    // Refused with dockerd's words.
    for (flags, want) in [
        (
            &["--device", "/dev/no-such-dev"][..],
            "error gathering device information while adding custom device \"/dev/no-such-dev\"",
        ),
        (
            &["--network", "host", "--sysctl", "net.ipv4.ip_forward=1"],
            "not allowed in host network namespace",
        ),
        (
            &["--oom-score-adj", "5000"],
            "range for oom score adj is [-1000, 1000]",
        ),
        (
            &["--pid", "container:nobody-here"],
            "No such container: nobody-here",
        ),
    ] {
        let mut args = vec!["run", "--rm"];
        args.extend(flags);
        args.extend(["busybox", "true"]);
        let out = d.docker(&args);
        assert!(!out.status.success(), "{flags:?}");
        assert!(stderr(&out).contains(want), "{flags:?}: {}", stderr(&out));
    }
    // The donor's /dev/shm, mounted by the engine on the host side, goes with it.
    let shm_mounts = || {
        let m = stdout(&d.ns(&["cat", "/proc/self/mounts"]));
        m.lines()
            .filter(|l| l.contains("/containers/") && l.contains("/shm "))
            .count()
    };
    assert_eq!(shm_mounts(), 1, "the donor's shm on the host side");
    d.ok(&["rm", "-f", "donor", "private"]);
    assert_eq!(shm_mounts(), 0, "the donor's shm is left mounted");
}

#[test]
fn healthchecks_turn_healthy_then_unhealthy_and_are_reported() {
    if !engine::usable() {
        return;
    }
    let d = Daemon::start();
    let since = unix_now().to_string();
    // Healthy while /tmp/ok exists; unhealthy after two failures in a row once it is gone.
    d.ok(&[
        "run",
        "-d",
        "--name",
        "hc",
        "--health-cmd",
        "test -e /tmp/ok && echo fine",
        "--health-interval",
        "200ms",
        "--health-retries",
        "2",
        "busybox",
        "sh",
        "-c",
        "mkdir -p /tmp; touch /tmp/ok; exec sleep 600",
    ]);
    let status = |name: &str| d.ok(&["inspect", "-f", "{{.State.Health.Status}}", name]);
    let wait_for = |name: &str, want: &str| {
        assert!(
            eventually(Duration::from_secs(20), || status(name) == want),
            "{name} never became {want}: {}",
            d.ok(&["inspect", "-f", "{{json .State.Health}}", name])
        );
    };
    wait_for("hc", "healthy");
    assert_eq!(
        d.ok(&[
            "inspect",
            "-f",
            "{{(index .State.Health.Log 0).Output}}",
            "hc"
        ]),
        "fine"
    );
    let ps = d.ok(&[
        "ps",
        "--filter",
        "health=healthy",
        "--format",
        "{{.Names}} {{.Status}}",
    ]);
    assert!(ps.starts_with("hc Up") && ps.ends_with("(healthy)"), "{ps}");
    d.ok(&["exec", "hc", "busybox", "rm", "/tmp/ok"]);
    wait_for("hc", "unhealthy");
    let streak: u32 = d
        .ok(&["inspect", "-f", "{{.State.Health.FailingStreak}}", "hc"])
        .parse()
        .unwrap();
    assert!(streak >= 2, "{streak}");

    // A probe past its timeout is a failure, and is killed.
    d.ok(&[
        "run",
        "-d",
        "--name",
        "slow",
        "--health-cmd",
        "sleep 30",
        "--health-timeout",
        "300ms",
        "--health-interval",
        "200ms",
        "--health-retries",
        "1",
        "busybox",
        "sleep",
        "600",
    ]);
    wait_for("slow", "unhealthy");
    let out = d.ok(&[
        "inspect",
        "-f",
        "{{(index .State.Health.Log 0).Output}}",
        "slow",
    ]);
    assert!(out.contains("exceeded timeout"), "{out}");
    let probes = d.ok(&["top", "slow"]);
    assert!(
        probes.lines().filter(|l| l.contains("sleep 30")).count() <= 1,
        "timed-out probes left running: {probes}"
    );

    // Each change of status was an event.
    let until = (unix_now() + 1).to_string();
    let events = d.ok(&[
        "events",
        "--since",
        &since,
        "--until",
        &until,
        "--filter",
        "container=hc",
        "--filter",
        "event=health_status",
        "--format",
        "{{.Action}}",
    ]);
    assert_eq!(
        events.lines().collect::<Vec<_>>(),
        ["health_status: healthy", "health_status: unhealthy"]
    );
    // Neither probes nor execs leave directories on /run once their containers are gone.
    d.ok(&["rm", "-f", "hc", "slow"]);
    let execs = || std::fs::read_dir(d.dir.path().join("run/exec")).map_or(0, |r| r.count());
    let left = || -> Vec<String> {
        let dirs = std::fs::read_dir(d.dir.path().join("run/exec"));
        let dirs = dirs.into_iter().flatten().flatten();
        dirs.map(|e| {
            let files = std::fs::read_dir(e.path()).into_iter().flatten().flatten();
            let names: Vec<_> = files.map(|f| f.file_name()).collect();
            format!("{:?}: {names:?}", e.file_name())
        })
        .collect()
    };
    assert!(
        eventually(Duration::from_secs(5), || execs() == 0),
        "exec directories left: {:?}",
        left()
    );
}

#[test]
fn init_is_pid_1_reaps_orphans_and_passes_on_exit_codes_and_signals() {
    if !engine::usable() {
        return;
    }
    let d = Daemon::start();
    let out = d.docker(&[
        "run",
        "--rm",
        "--init",
        "busybox",
        "sh",
        "-c",
        "cat /proc/1/comm; exit 3",
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert_eq!(stdout(&out), "docker-init\n");
    // `sh` leaves an orphan behind and becomes `sleep`, which never waits for anyone: with
    // the init as pid 1 the orphan is reaped, without it it stays a zombie.
    let zombies = |name: &str| {
        d.ok(&[
            "exec",
            name,
            "sh",
            "-c",
            "for f in /proc/[0-9]*/status; do busybox grep -q '^State:.Z' $f && echo zombie; done; true",
        ])
    };
    for (init, want) in [(true, ""), (false, "zombie")] {
        let name = if init { "with-init" } else { "without" };
        let mut args = vec!["run", "-d", "--name", name];
        if init {
            args.push("--init");
        }
        args.extend(["busybox", "sh", "-c", "(sleep 0.1 &); exec sleep 600"]);
        d.ok(&args);
        std::thread::sleep(Duration::from_millis(800));
        assert_eq!(zombies(name), want, "{name}");
    }
    // A signal to the container reaches the command through the init.
    d.ok(&[
        "run",
        "-d",
        "--init",
        "--name",
        "sig",
        "busybox",
        "sh",
        "-c",
        "trap 'echo got-term; exit 0' TERM; echo ready; while true; do sleep 0.1; done",
    ]);
    assert!(eventually(Duration::from_secs(5), || d
        .ok(&["logs", "sig"])
        .contains("ready")));
    d.ok(&["stop", "-t", "20", "sig"]);
    assert_eq!(d.ok(&["inspect", "-f", "{{.State.ExitCode}}", "sig"]), "0");
    assert!(d.ok(&["logs", "sig"]).contains("got-term"));
    d.ok(&["rm", "-f", "with-init", "without", "sig"]);
}

#[test]
fn volumes_from_shares_another_containers_volumes() {
    if !engine::usable() {
        return;
    }
    let d = Daemon::start();
    d.ok(&[
        "run",
        "--name",
        "data",
        "-v",
        "/data",
        "-v",
        "vf-named:/named",
        "busybox",
        "sh",
        "-c",
        "echo hello > /data/f; echo n > /named/g",
    ]);
    let cat = ["sh", "-c", "cat /data/f /named/g"];
    let mut args = vec!["run", "--rm", "--volumes-from", "data", "busybox"];
    args.extend(cat);
    assert_eq!(d.ok(&args), "hello\nn");
    // `:ro` makes them read-only here.
    let out = d.docker(&[
        "run",
        "--rm",
        "--volumes-from",
        "data:ro",
        "busybox",
        "sh",
        "-c",
        "echo x > /data/f",
    ]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("Read-only file system"),
        "{}",
        stderr(&out)
    );
    // They stay the donor's: `rm -v` of a borrower leaves even its anonymous volume.
    d.ok(&[
        "create",
        "--name",
        "borrower",
        "--volumes-from",
        "data",
        "busybox",
        "true",
    ]);
    d.ok(&["rm", "-v", "borrower"]);
    assert_eq!(d.ok(&args), "hello\nn");
    let out = d.docker(&["run", "--rm", "--volumes-from", "nope", "busybox", "true"]);
    assert!(
        stderr(&out).contains("No such container: nope"),
        "{}",
        stderr(&out)
    );
    let out = d.docker(&["volume", "rm", "vf-named"]);
    assert!(
        stderr(&out).contains("volume is in use"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn cgroupns_host_oom_kill_disable_and_userns_refused() {
    if !engine::usable() {
        return;
    }
    let d = Daemon::start();
    let host_cgns = std::fs::read_link("/proc/self/ns/cgroup").unwrap();
    let ns = |flags: &[&str]| {
        let mut args = vec!["run", "--rm"];
        args.extend(flags);
        args.extend(["busybox", "busybox", "readlink", "/proc/self/ns/cgroup"]);
        d.ok(&args)
    };
    assert_eq!(ns(&["--cgroupns", "host"]), host_cgns.to_string_lossy());
    assert_ne!(ns(&["--cgroupns", "private"]), host_cgns.to_string_lossy());
    // The OOM killer off (cgroup v1), or discarded with dockerd's warning (v2).
    let out = d.docker(&[
        "run",
        "-d",
        "--name",
        "nokill",
        "-m",
        "32m",
        "--oom-kill-disable",
        "busybox",
        "sleep",
        "600",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let id = stdout(&out).trim().to_string();
    if std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists()
        && !std::path::Path::new("/sys/fs/cgroup/memory").exists()
    {
        assert!(
            stderr(&out).contains("OomKillDisable discarded"),
            "{}",
            stderr(&out)
        );
    } else {
        let ctl = d
            .cgroup_file(&id, &["memory.oom_control"])
            .unwrap_or_default();
        assert!(ctl.contains("oom_kill_disable 1"), "{ctl}");
    }
    d.ok(&["rm", "-f", "nokill"]);
    // The docker CLI refuses this itself; berth's CLI leaves it to the daemon.
    let out = std::process::Command::new(engine::berth_bin())
        .arg("-H")
        .arg(format!(
            "unix://{}",
            d.dir.path().join("berth.sock").display()
        ))
        .args(["run", "--rm", "--userns", "remap", "busybox", "true"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("no user namespace remapping"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn export_writes_the_containers_own_filesystem() {
    if !engine::usable() {
        return;
    }
    let d = Daemon::start();
    d.ok(&[
        "run",
        "-d",
        "--name",
        "ex",
        "-v",
        "/data",
        "busybox",
        "sh",
        "-c",
        "mkdir -p /tmp; echo made > /tmp/made-here; echo vol > /data/in-volume; exec sleep 600",
    ]);
    assert!(eventually(Duration::from_secs(5), || d
        .docker(&["exec", "ex", "cat", "/tmp/made-here"])
        .status
        .success()));
    let list = |name: &str| -> Vec<String> {
        let file = d.dir.path().join(format!("{name}.tar"));
        d.ok(&["export", "-o", file.to_str().unwrap(), name]);
        let out = std::process::Command::new("tar")
            .arg("-tf")
            .arg(&file)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        stdout(&out).lines().map(String::from).collect()
    };
    for state in ["running", "stopped"] {
        let names = list("ex");
        for want in ["bin/busybox", "etc/passwd", "tmp/made-here"] {
            assert!(
                names.iter().any(|n| n == want),
                "{state}: {want} in {names:?}"
            );
        }
        assert!(
            names
                .iter()
                .all(|n| !n.starts_with('/') && !n.starts_with("./")),
            "{state}: {names:?}"
        );
        assert!(
            !names
                .iter()
                .any(|n| n.starts_with("proc/1") || n.ends_with("in-volume")),
            "{state}: kernel filesystems or volumes exported: {names:?}"
        );
        if state == "running" {
            d.ok(&["stop", "-t", "0", "ex"]);
        }
    }
    d.ok(&["rm", "ex"]);
}

#[test]
fn diff_lists_what_a_container_changed() {
    if !engine::usable() {
        return;
    }
    let d = Daemon::start();
    d.ok(&[
        "run",
        "--name",
        "ch",
        "-v",
        "/data",
        "busybox",
        "sh",
        "-c",
        "mkdir -p /tmp; echo x > /tmp/new; echo y >> /etc/passwd; busybox rm /bin/cat; echo v > /data/f",
    ]);
    let want = "C /bin\nD /bin/cat\nC /etc\nC /etc/passwd\nA /tmp\nA /tmp/new";
    assert_eq!(d.ok(&["diff", "ch"]), want);
    assert_eq!(d.berth(&["diff", "ch"]), want);
    d.ok(&["rm", "ch"]);
    // What a container wrote is its size: `ps -s` and `inspect -s`.
    d.ok(&[
        "run",
        "--name",
        "big",
        "busybox",
        "sh",
        "-c",
        "head -c 2000000 /dev/zero > /big",
    ]);
    let size = d.ok(&[
        "ps",
        "-a",
        "-s",
        "--filter",
        "name=big",
        "--format",
        "{{.Size}}",
    ]);
    assert!(size.starts_with("2MB (virtual "), "{size}");
    let rw: u64 = d
        .ok(&["inspect", "-s", "-f", "{{.SizeRw}}", "big"])
        .parse()
        .unwrap();
    assert!((2_000_000..2_100_000).contains(&rw), "{rw}");
    let df = d.ok(&["system", "df", "--format", "{{.Type}} {{.Size}}"]);
    assert!(df.lines().any(|l| l == "Containers 2MB"), "{df}");
    d.ok(&["rm", "big"]);
}

#[test]
fn commit_makes_an_image_of_a_containers_changes() {
    if !engine::usable() {
        return;
    }
    let d = Daemon::start();
    d.ok(&[
        "run",
        "--name",
        "src",
        "-v",
        "/data",
        "busybox",
        "sh",
        "-c",
        "mkdir -p /app; echo hello > /app/greeting; busybox rm /bin/cat; echo v > /data/x",
    ]);
    let id = d.ok(&[
        "commit",
        "--change",
        "CMD [\"busybox\", \"cat\", \"/app/greeting\"]",
        "-m",
        "first",
        "-a",
        "me",
        "src",
        "committed:v1",
    ]);
    assert!(id.starts_with("sha256:"), "{id}");
    // The new image: its CMD, the added file, the deleted one still gone, no volume data.
    assert_eq!(d.ok(&["run", "--rm", "committed:v1"]), "hello");
    assert_eq!(
        d.ok(&[
            "run",
            "--rm",
            "committed:v1",
            "sh",
            "-c",
            "test -e /bin/cat || echo gone; test -e /data/x || echo no-volume-data"
        ]),
        "gone\nno-volume-data"
    );
    assert_eq!(
        d.ok(&["history", "--format", "{{.Comment}}", "committed:v1"])
            .lines()
            .next(),
        Some("first")
    );
    assert_eq!(
        d.ok(&["inspect", "-f", "{{.Author}}", "committed:v1"]),
        "me"
    );
    // A running container keeps running; a commit of the new image's container stacks.
    d.ok(&[
        "run",
        "-d",
        "--name",
        "live",
        "committed:v1",
        "sh",
        "-c",
        "echo live > /app/more; exec sleep 600",
    ]);
    assert!(eventually(Duration::from_secs(5), || d
        .docker(&["exec", "live", "busybox", "cat", "/app/more"])
        .status
        .success()));
    d.ok(&["commit", "live", "committed:v2"]);
    assert_eq!(
        d.ok(&["inspect", "-f", "{{.State.Status}}", "live"]),
        "running"
    );
    assert_eq!(
        d.ok(&[
            "run",
            "--rm",
            "committed:v2",
            "busybox",
            "cat",
            "/app/greeting",
            "/app/more"
        ]),
        "hello\nlive"
    );
    let layers = |img: &str| {
        d.ok(&["inspect", "-f", "{{len .RootFS.Layers}}", img])
            .parse::<usize>()
            .unwrap()
    };
    assert_eq!(layers("committed:v2"), layers("committed:v1") + 1);
    d.ok(&["rm", "-f", "live", "src"]);
}

#[test]
fn mount_type_tmpfs_takes_its_size_and_mode() {
    if !engine::usable() {
        return;
    }
    let d = Daemon::start();
    let out = d.ok(&[
        "run",
        "--rm",
        "--mount",
        "type=tmpfs,destination=/scratch,tmpfs-size=1m,tmpfs-mode=1770",
        "busybox",
        "sh",
        "-c",
        "busybox stat -c %a /scratch; busybox df -k /scratch | busybox tail -n 1",
    ]);
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("1770"), "{out}");
    let total: Vec<&str> = lines
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    assert_eq!(total.get(1), Some(&"1024"), "{out}");
}

#[test]
fn options_berth_cannot_honour_are_refused_not_dropped() {
    if !engine::usable() {
        return;
    }
    let d = Daemon::start();
    for (flags, want) in [
        (
            &["--runtime", "nope"][..],
            "unknown or invalid runtime name: nope",
        ),
        (
            &["--storage-opt", "size=1G"],
            "--storage-opt is supported only for overlay over xfs",
        ),
        (&["--gpus", "all"], "could not select device driver"),
        (
            &["--volume-driver", "nfsplug", "-v", "vd:/x"],
            "plugin \"nfsplug\" not found",
        ),
    ] {
        let mut args = vec!["run", "--rm"];
        args.extend(flags);
        args.extend(["busybox", "true"]);
        let out = d.docker(&args);
        assert!(!out.status.success(), "{flags:?}");
        assert!(stderr(&out).contains(want), "{flags:?}: {}", stderr(&out));
    }
    assert!(d.all_ids().is_empty(), "a refused create left a container");
    d.ok(&["run", "--rm", "--runtime", "runc", "busybox", "true"]);
}

#[test]
fn block_io_throttles_reach_the_cgroup() {
    if !engine::usable() {
        return;
    }
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    // Any block device node of this host names the device the throttle is for.
    let Some((dev, rdev)) = std::fs::read_dir("/dev").ok().and_then(|rd| {
        rd.flatten().find_map(|e| {
            let m = e.metadata().ok()?;
            m.file_type()
                .is_block_device()
                .then(|| (e.path(), m.rdev()))
        })
    }) else {
        eprintln!("SKIP: no block device node in /dev");
        return;
    };
    let (major, minor) = (libc::major(rdev), libc::minor(rdev));
    let d = Daemon::start();
    let dev = dev.to_string_lossy().into_owned();
    let read = format!("{dev}:1mb");
    let iops = format!("{dev}:100");
    let id = d.ok(&[
        "run",
        "-d",
        "--device-read-bps",
        &read,
        "--device-write-iops",
        &iops,
        "busybox",
        "sleep",
        "600",
    ]);
    let v2 = std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists()
        && !std::path::Path::new("/sys/fs/cgroup/blkio").exists();
    let read_file = |f: &str| d.cgroup_file(&id, &[f]).unwrap_or_default();
    if v2 {
        let max = read_file("io.max");
        assert!(
            max.contains(&format!(
                "{major}:{minor} rbps=1048576 wbps=max riops=max wiops=100"
            )),
            "{max}"
        );
    } else {
        let bps = read_file("blkio.throttle.read_bps_device");
        assert_eq!(bps.trim(), format!("{major}:{minor} 1048576"));
        let wiops = read_file("blkio.throttle.write_iops_device");
        assert_eq!(wiops.trim(), format!("{major}:{minor} 100"));
    }
    d.ok(&["rm", "-f", &id]);
    let out = d.docker(&[
        "run",
        "--rm",
        "--device-read-bps",
        "/dev/null:1mb",
        "busybox",
        "true",
    ]);
    assert!(
        stderr(&out).contains("/dev/null is not a block device"),
        "{}",
        stderr(&out)
    );
}
