//! More of the docker CLI list against `berth daemon`: run's --env-file, --entrypoint, -P,
//! --add-host, --dns and CPU flags; top, pause/unpause, attach, wait, history, system df;
//! the restart policies always and unless-stopped.

mod engine;

use engine::{eventually, Daemon};
use std::time::Duration;

/// A cgroup v1 file of the container, read from inside it (/sys/fs/cgroup is mounted ro).
fn cgroup_file(d: &Daemon, name: &str, controller: &str, file: &str) -> String {
    d.ok(&[
        "exec",
        name,
        "cat",
        &format!("/sys/fs/cgroup/{controller}/{file}"),
    ])
}

#[test]
fn run_flags_reach_the_container() {
    if !engine::usable() {
        return;
    }
    let d = Daemon::start();
    // --env-file: KEY=VALUE lines, comments and blank lines skipped, -e wins.
    let env = d.dir.path().join("env.list");
    std::fs::write(&env, "# settings\nCOLOR=blue\n\nSIZE=big\n").unwrap();
    let out = d.ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "--env-file",
        env.to_str().unwrap(),
        "-e",
        "SIZE=small",
        "busybox",
        "sh",
        "-c",
        "echo $COLOR $SIZE",
    ]);
    assert_eq!(out, "blue small");
    // --entrypoint replaces the image's; the command becomes its arguments.
    let out = d.ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "--entrypoint",
        "echo",
        "busybox",
        "from",
        "entry",
    ]);
    assert_eq!(out, "from entry");
    // --add-host and --dns land in /etc/hosts and /etc/resolv.conf.
    let out = d.ok(&[
        "run",
        "--rm",
        "--add-host",
        "db.example:10.9.8.7",
        "--dns",
        "192.0.2.53",
        "busybox",
        "cat",
        "/etc/hosts",
        "/etc/resolv.conf",
    ]);
    assert!(
        out.contains("10.9.8.7\tdb.example") || out.contains("10.9.8.7 db.example"),
        "{out}"
    );
    assert!(out.contains("nameserver 192.0.2.53"), "{out}");
    // CPU flags become the cgroup's settings.
    d.ok(&[
        "run",
        "-d",
        "--name",
        "cpu",
        "--network",
        "none",
        "--cpus",
        "0.5",
        "--cpu-shares",
        "512",
        "--cpuset-cpus",
        "0",
        "busybox",
        "sleep",
        "100",
    ]);
    assert_eq!(cgroup_file(&d, "cpu", "cpu", "cpu.cfs_quota_us"), "50000");
    assert_eq!(cgroup_file(&d, "cpu", "cpu", "cpu.cfs_period_us"), "100000");
    assert_eq!(cgroup_file(&d, "cpu", "cpu", "cpu.shares"), "512");
    assert_eq!(cgroup_file(&d, "cpu", "cpuset", "cpuset.cpus"), "0");
    d.ok(&["rm", "-f", "cpu"]);
}

#[test]
fn publish_all_maps_the_images_exposed_ports() {
    if !engine::usable() {
        return;
    }
    let d = Daemon::start();
    let dir = d.dir.path().join("web");
    std::fs::create_dir_all(&dir).unwrap();
    let tar = engine::busybox_tar(&dir);
    d.ok(&[
        "import",
        "--change",
        "EXPOSE 80/tcp",
        tar.to_str().unwrap(),
        "web",
    ]);
    d.ok(&["run", "-d", "--name", "pub", "-P", "web", "sleep", "100"]);
    let port = d.ok(&["port", "pub", "80/tcp"]);
    let host_port: u16 = port
        .lines()
        .next()
        .and_then(|l| l.rsplit(':').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no host port for 80/tcp: {port}"));
    assert!(host_port > 0, "{port}");
    let ports = d.ok(&["inspect", "-f", "{{json .NetworkSettings.Ports}}", "pub"]);
    assert!(
        ports.contains(&format!("\"HostPort\":\"{host_port}\"")),
        "{ports}"
    );
    d.ok(&["rm", "-f", "pub"]);
}

#[test]
fn top_pause_attach_wait_history_and_df() {
    if !engine::usable() {
        return;
    }
    let d = Daemon::start();
    d.ok(&[
        "run",
        "-d",
        "--name",
        "talker",
        "--network",
        "none",
        "busybox",
        "sh",
        "-c",
        "while true; do echo tick; sleep 0.2; done",
    ]);
    // top lists the container's processes.
    let top = d.ok(&["top", "talker"]);
    assert!(top.contains("PID") && top.contains("sleep"), "{top}");
    // pause freezes it (no new output), unpause thaws it.
    d.ok(&["pause", "talker"]);
    assert_eq!(
        d.ok(&["inspect", "-f", "{{.State.Status}}", "talker"]),
        "paused"
    );
    let before = d.ok(&["logs", "talker"]).lines().count();
    std::thread::sleep(Duration::from_millis(700));
    assert_eq!(
        d.ok(&["logs", "talker"]).lines().count(),
        before,
        "output while paused"
    );
    d.ok(&["unpause", "talker"]);
    assert!(eventually(Duration::from_secs(5), || d
        .ok(&["logs", "talker"])
        .lines()
        .count()
        > before));
    // attach receives what the container writes from then on.
    let mut attach = d
        .docker_cmd(&["attach", "--no-stdin", "talker"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut out = attach.stdout.take().unwrap();
    let mut buf = [0u8; 64];
    let n = std::io::Read::read(&mut out, &mut buf).unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).contains("tick"));
    let _ = attach.kill();
    let _ = attach.wait();
    // wait prints the exit code once it stops.
    d.ok(&[
        "run",
        "-d",
        "--name",
        "seven",
        "--network",
        "none",
        "busybox",
        "sh",
        "-c",
        "sleep 0.3; exit 7",
    ]);
    assert_eq!(d.ok(&["wait", "seven"]), "7");
    // history and system df.
    let hist = d.ok(&["history", "busybox"]);
    assert!(hist.starts_with("IMAGE"), "{hist}");
    assert!(hist.lines().count() >= 2, "{hist}");
    let df = d.ok(&["system", "df"]);
    assert!(
        df.contains("Images") && df.contains("Containers") && df.contains("Local Volumes"),
        "{df}"
    );
    d.ok(&["rm", "-f", "talker", "seven"]);
}

#[test]
fn restart_always_and_unless_stopped() {
    if !engine::usable() {
        return;
    }
    let d = Daemon::start();
    let restarts = |name: &str| -> u32 {
        d.ok(&["inspect", "-f", "{{.RestartCount}}", name])
            .parse()
            .unwrap_or(0)
    };
    for policy in ["always", "unless-stopped"] {
        let name = format!("r-{policy}");
        d.ok(&[
            "run",
            "-d",
            "--name",
            &name,
            "--network",
            "none",
            "--restart",
            policy,
            "busybox",
            "sh",
            "-c",
            "sleep 0.2; exit 0",
        ]);
        // A clean exit is restarted too.
        assert!(
            eventually(Duration::from_secs(10), || restarts(&name) >= 2),
            "{policy}: restarted {} times",
            restarts(&name)
        );
        // docker stop ends it for good: no restart after a user's stop.
        d.ok(&["stop", "-t", "0", &name]);
        let count = restarts(&name);
        std::thread::sleep(Duration::from_millis(800));
        assert_eq!(
            d.ok(&["inspect", "-f", "{{.State.Running}}", &name]),
            "false",
            "{policy}: running again after stop"
        );
        assert_eq!(restarts(&name), count);
        d.ok(&["rm", "-f", &name]);
    }
}

#[test]
fn restart_logs_follow_and_timestamps_info_and_more_cgroup_flags() {
    if !engine::usable() {
        return;
    }
    let d = Daemon::start();
    // restart: a new process (a new start time), still running.
    d.ok(&[
        "run",
        "-d",
        "--name",
        "again",
        "--network",
        "none",
        "busybox",
        "sleep",
        "100",
    ]);
    let started = d.ok(&["inspect", "-f", "{{.State.StartedAt}}", "again"]);
    d.ok(&["restart", "-t", "0", "again"]);
    assert_eq!(
        d.ok(&["inspect", "-f", "{{.State.Running}}", "again"]),
        "true"
    );
    assert_ne!(
        d.ok(&["inspect", "-f", "{{.State.StartedAt}}", "again"]),
        started
    );
    d.ok(&["rm", "-f", "again"]);
    // logs -f follows until the container exits; -t puts docker's timestamp first.
    d.ok(&[
        "run",
        "-d",
        "--name",
        "slow",
        "--network",
        "none",
        "busybox",
        "sh",
        "-c",
        "echo first; sleep 0.6; echo second",
    ]);
    assert_eq!(d.ok(&["logs", "-f", "slow"]), "first\nsecond");
    let stamped = d.ok(&["logs", "-t", "slow"]);
    for line in stamped.lines() {
        let (ts, text) = line.split_once(' ').unwrap();
        assert!(
            ts.len() >= 20 && ts.contains('T') && ts.ends_with('Z'),
            "{line}"
        );
        assert!(text == "first" || text == "second", "{line}");
    }
    // info answers the fields docker's template knows.
    assert_eq!(d.ok(&["info", "--format", "{{.ContainersStopped}}"]), "1");
    assert!(d.ok(&["info"]).contains("Server Version"));
    // --cpu-quota/--cpu-period and --memory-reservation.
    d.ok(&[
        "run",
        "-d",
        "--name",
        "quota",
        "--network",
        "none",
        "--cpu-quota",
        "20000",
        "--cpu-period",
        "50000",
        "--memory-reservation",
        "16m",
        "busybox",
        "sleep",
        "100",
    ]);
    assert_eq!(cgroup_file(&d, "quota", "cpu", "cpu.cfs_quota_us"), "20000");
    assert_eq!(
        cgroup_file(&d, "quota", "cpu", "cpu.cfs_period_us"),
        "50000"
    );
    assert_eq!(
        cgroup_file(&d, "quota", "memory", "memory.soft_limit_in_bytes"),
        (16u64 << 20).to_string()
    );
    d.ok(&["rm", "-f", "quota", "slow"]);
}

#[test]
fn volume_and_system_prune_remove_only_what_nothing_uses() {
    if !engine::usable() {
        return;
    }
    let d = Daemon::start();
    d.ok(&["volume", "create", "named"]);
    d.ok(&["volume", "create", "inuse"]);
    // An anonymous volume left by a container removed without -v.
    d.ok(&[
        "run",
        "--name",
        "anon",
        "--network",
        "none",
        "-v",
        "/data",
        "busybox",
        "true",
    ]);
    let anon = d.ok(&["inspect", "-f", "{{range .Mounts}}{{.Name}}{{end}}", "anon"]);
    d.ok(&["rm", "anon"]);
    d.ok(&[
        "run",
        "-d",
        "--name",
        "user",
        "--network",
        "none",
        "-v",
        "inuse:/v",
        "busybox",
        "sleep",
        "100",
    ]);
    // docker 23+: prune takes anonymous volumes only; -a takes unused named ones too.
    d.ok(&["volume", "prune", "-f"]);
    let left = d.ok(&["volume", "ls", "-q"]);
    assert!(
        !left.lines().any(|l| l == anon),
        "anonymous volume kept: {left}"
    );
    assert!(left.lines().any(|l| l == "named"), "{left}");
    d.ok(&["volume", "prune", "-af"]);
    let left = d.ok(&["volume", "ls", "-q"]);
    assert_eq!(left, "inuse", "only the volume in use stays");
    // system prune: stopped containers go, running ones stay.
    d.ok(&[
        "run",
        "--name",
        "done",
        "--network",
        "none",
        "busybox",
        "true",
    ]);
    d.ok(&["system", "prune", "-f"]);
    let names = d.ok(&["ps", "-a", "--format", "{{.Names}}"]);
    assert_eq!(names, "user");
    d.ok(&["rm", "-f", "user"]);
}

#[test]
fn run_with_a_terminal() {
    if !engine::usable()
        || !std::process::Command::new("script")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    {
        return;
    }
    let d = Daemon::start();
    // docker run -t on a terminal: the process sees a tty (whose \n comes back as \r\n).
    let line = format!(
        "docker -H unix://{} run --rm -t --network none busybox sh -c 'test -t 1 && echo on-a-tty'",
        d.sock.display()
    );
    let o = std::process::Command::new("script")
        .args(["-qefc", &line, "/dev/null"])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{out}");
    assert!(out.contains("on-a-tty\r"), "{out:?}");
}

#[test]
fn running_containers_cost_the_daemon_no_thread_each() {
    if !engine::usable() {
        return;
    }
    let d = Daemon::start();
    let pid = d.daemon_pid().unwrap();
    let threads = || {
        std::fs::read_dir(format!("/proc/{pid}/task"))
            .unwrap()
            .count()
    };
    let before = threads();
    for i in 0..30 {
        d.ok(&[
            "run",
            "-d",
            "--name",
            &format!("idle{i}"),
            "--network",
            "none",
            "busybox",
            "sleep",
            "6",
        ]);
    }
    // docker run -d also asks the daemon to wait, then goes away; that waiter ends too.
    let mut after = threads();
    assert!(eventually(Duration::from_secs(5), || {
        after = threads();
        after < before + 10
    }));
    // One watcher for all exits (plus what the runtime pools keep), not one thread each.
    assert!(
        after < before + 10,
        "threads: {before} before, {after} with 30 containers"
    );
    // And every exit is still seen: each sleep ends by itself and is recorded as such.
    assert!(eventually(Duration::from_secs(20), || d
        .ok(&["ps", "-q"])
        .is_empty()));
    let codes = d.ok(&["ps", "-a", "--format", "{{.Status}}"]);
    assert_eq!(codes.lines().count(), 30);
    assert!(
        codes.lines().all(|l| l.starts_with("Exited (0)")),
        "{codes}"
    );
}

#[test]
fn an_rm_containers_layer_is_volatile_and_a_kept_ones_is_not() {
    if !engine::usable() {
        return;
    }
    // overlayfs has `volatile` from 5.10; before it berth mounts the ordinary way.
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let mut v = release
        .split(['.', '-'])
        .map(|p| p.parse::<u32>().unwrap_or(0));
    if (v.next().unwrap_or(0), v.next().unwrap_or(0)) < (5, 10) {
        eprintln!(
            "skipped: kernel {} has no overlayfs volatile",
            release.trim()
        );
        return;
    }
    let d = Daemon::start();
    // The root mount's line in the container's own mountinfo: overlay's options.
    let root_mount = "busybox grep ' / / ' /proc/self/mountinfo";
    let rm = d.ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "busybox",
        "sh",
        "-c",
        root_mount,
    ]);
    assert!(rm.contains("overlay") && rm.contains("volatile"), "{rm}");
    let kept = d.ok(&[
        "run",
        "--name",
        "kept",
        "--network",
        "none",
        "busybox",
        "sh",
        "-c",
        root_mount,
    ]);
    assert!(
        kept.contains("overlay") && !kept.contains("volatile"),
        "{kept}"
    );
    d.ok(&["rm", "kept"]);
}

/// `--cgroup-parent`: the container's cgroup is made under it, with its limits, and goes
/// with the container; a parent that climbs out of the hierarchy is refused.
#[test]
fn cgroup_parent_places_the_container() {
    if !engine::usable() {
        return;
    }
    let d = Daemon::start();
    let sub = format!("/{}/custom", d.cgroup_parent);
    let id = d.ok(&[
        "run",
        "-d",
        "--cgroup-parent",
        &sub,
        "-m",
        "32m",
        "busybox",
        "sleep",
        "1000",
    ]);
    assert_eq!(
        d.ok(&["inspect", "-f", "{{.HostConfig.CgroupParent}}", &id]),
        sub
    );
    let pid = d.ok(&["inspect", "-f", "{{.State.Pid}}", &id]);
    let cg = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    assert!(cg.contains(&format!("{sub}/{id}\n")), "{cg}");
    let dirs: Vec<_> = engine::cgroup_roots()
        .iter()
        .map(|r| r.join(&sub[1..]).join(&id))
        .filter(|p| p.is_dir())
        .collect();
    let limit = dirs
        .iter()
        .find_map(|p| {
            std::fs::read_to_string(p.join("memory.limit_in_bytes"))
                .or_else(|_| std::fs::read_to_string(p.join("memory.max")))
                .ok()
        })
        .unwrap_or_default();
    assert_eq!(limit.trim(), "33554432", "{dirs:?}");
    d.ok(&["rm", "-f", &id]);
    assert!(dirs.iter().all(|p| !p.exists()), "{dirs:?} left");
    let out = d.docker(&["run", "--cgroup-parent", "../escape", "busybox", "true"]);
    let err = engine::stderr(&out);
    assert!(
        !out.status.success() && err.contains("invalid cgroup parent"),
        "{err}"
    );
}

#[test]
fn berth_update_sets_a_cpu_quota_on_a_running_container() {
    if !engine::usable() {
        return;
    }
    let d = Daemon::start();
    let id = d.berth(&["run", "-d", "busybox", "sleep", "1000"]);
    assert_eq!(d.berth(&["update", "--cpus", "0.5", &id[..12]]), &id[..12]);
    let quota = d
        .cgroup_file(&id, &["cpu.cfs_quota_us", "cpu.max"])
        .unwrap_or_default();
    assert!(
        quota.trim() == "50000" || quota.trim() == "50000 100000",
        "{quota}"
    );
    assert_eq!(
        d.berth(&["inspect", "-f", "{{.HostConfig.NanoCpus}}", &id]),
        "500000000"
    );
    d.berth(&["rm", "-f", &id]);
}

#[test]
fn berth_run_health_flags_make_a_healthy_container() {
    if !engine::usable() {
        return;
    }
    let d = Daemon::start();
    d.berth(&[
        "run",
        "-d",
        "--name",
        "hc",
        "--health-cmd",
        "true",
        "--health-interval",
        "100ms",
        "busybox",
        "sleep",
        "600",
    ]);
    assert!(eventually(Duration::from_secs(20), || d.berth(&[
        "inspect",
        "-f",
        "{{.State.Health.Status}}",
        "hc"
    ]) == "healthy"));
    let ps = d.berth(&["ps", "--format", "{{.Status}}"]);
    assert!(ps.ends_with("(healthy)"), "{ps}");
    d.berth(&["rm", "-f", "hc"]);
}

#[test]
fn berth_export_writes_a_tar_of_the_container() {
    if !engine::usable() {
        return;
    }
    let d = Daemon::start();
    d.berth(&["create", "--name", "ex", "busybox", "true"]);
    let file = d.dir.path().join("ex.tar");
    d.berth(&["export", "-o", file.to_str().unwrap(), "ex"]);
    let out = std::process::Command::new("tar")
        .arg("-tf")
        .arg(&file)
        .output()
        .unwrap();
    let names = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(names.lines().any(|l| l == "bin/busybox"), "{names}");
    d.berth(&["container", "export", "-o", file.to_str().unwrap(), "ex"]);
    d.berth(&["rm", "ex"]);
}

#[test]
fn berth_commit_makes_a_runnable_image() {
    if !engine::usable() {
        return;
    }
    let d = Daemon::start();
    d.berth(&[
        "run",
        "--name",
        "src",
        "busybox",
        "sh",
        "-c",
        "echo made > /f",
    ]);
    let id = d.berth(&[
        "commit",
        "-c",
        "CMD [\"busybox\", \"cat\", \"/f\"]",
        "-m",
        "by berth",
        "src",
        "made:1",
    ]);
    assert!(id.starts_with("sha256:"), "{id}");
    assert_eq!(d.berth(&["run", "--rm", "made:1"]), "made");
    assert_eq!(d.berth(&["diff", "src"]), "A /f");
    d.berth(&["rm", "src"]);
}
