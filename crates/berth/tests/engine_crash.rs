//! `kill -9` of the daemon while 50 `docker run -d` are in flight: after a restart every
//! container is either fully there (running: process, cgroup, rootfs mount, veth, address,
//! published ports, shim) or fully gone from the host (none of those), as seen by an
//! independent witness reading the daemon's namespaces, /proc and /sys/fs/cgroup. Two rounds
//! on the same daemon, killed at different points; then `docker rm -f` of everything leaves
//! nothing at all.

mod engine;

use engine::{eventually, names_in, stdout, Daemon};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

/// Containers started per round.
const N: usize = 50;
/// Every `PUBLISH_EVERY`th container publishes a port.
const PUBLISH_EVERY: usize = 5;

/// What the daemon says about one container.
#[derive(Debug)]
struct Seen {
    status: String,
    pid: i32,
    ip: String,
    /// Published host ports.
    ports: BTreeSet<u16>,
}

/// What the host really has, per kind of resource.
#[derive(Debug, Default)]
struct Host {
    /// Host ends of veths in the daemon's netns.
    veths: BTreeSet<String>,
    /// Overlay rootfs mounts under the data root: the container dirs' names (id[..12]).
    mounts: BTreeSet<String>,
    /// Names of the cgroups under the daemon's cgroup parent, in any hierarchy.
    cgroups: BTreeSet<String>,
    /// Container ids of `berth-shim start` processes in the daemon's mount namespace.
    shims: Vec<String>,
    /// Names of the cgroups under the daemon's parent that hold a process.
    procs: BTreeSet<String>,
    /// Published host port -> container address, from berth's nftables map.
    nft_ports: BTreeMap<u16, String>,
    /// Container dirs under the data root (id[..12]).
    dirs: BTreeSet<String>,
    /// Runtime state dirs (full ids).
    runtime: BTreeSet<String>,
    /// Shared seccomp profiles under the runtime root that no container links.
    orphan_profiles: Vec<String>,
}

fn veth(id: &str) -> String {
    berth_net::host_veth_name(id, "bridge")
}

fn ns_of(pid: &str, kind: &str) -> Option<PathBuf> {
    std::fs::read_link(format!("/proc/{pid}/ns/{kind}")).ok()
}

/// Read everything the witness counts.
fn witness(d: &Daemon) -> Host {
    let mut h = Host::default();
    let links = stdout(&d.ns(&["ip", "-o", "link", "show", "type", "veth"]));
    for l in links.lines() {
        // "12: vb0123456789a@if2: <...> ..."
        if let Some(name) = l.split(": ").nth(1) {
            let name = name.split('@').next().unwrap_or(name);
            h.veths.insert(name.to_string());
        }
    }
    let data = d.dir.path().join("data/containers");
    let mi = std::fs::read_to_string(format!("/proc/{}/mountinfo", d.holder_pid())).unwrap();
    for l in mi.lines() {
        let mp = l.split(' ').nth(4).unwrap_or("");
        if let Ok(rest) = Path::new(mp).strip_prefix(&data) {
            let c: Vec<_> = rest.components().collect();
            assert_eq!(
                rest.file_name().and_then(|f| f.to_str()),
                Some("rootfs"),
                "unexpected mount {mp}"
            );
            h.mounts
                .insert(c[0].as_os_str().to_string_lossy().into_owned());
        }
    }
    for parent in d.cgroup_parents() {
        h.cgroups.extend(engine::cgroups_in(&parent));
    }
    let under = format!("/{}/", d.cgroup_parent);
    let mnt = ns_of(&d.holder_pid().to_string(), "mnt");
    for e in names_in(Path::new("/proc")) {
        if e.parse::<u32>().is_err() {
            continue;
        }
        if let Ok(cg) = std::fs::read_to_string(format!("/proc/{e}/cgroup")) {
            // "4:pids:/<parent>/<id>" (v2: "0::/<parent>/<id>")
            for l in cg.lines() {
                if let Some((_, rest)) = l.split_once(&under) {
                    h.procs
                        .insert(rest.split('/').next().unwrap_or(rest).to_string());
                }
            }
        }
        if ns_of(&e, "mnt") != mnt {
            continue;
        }
        let Ok(cmd) = std::fs::read(format!("/proc/{e}/cmdline")) else {
            continue;
        };
        let argv: Vec<String> = cmd
            .split(|b| *b == 0)
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        if argv.first().is_some_and(|a| a.ends_with("berth-shim")) {
            assert_eq!(argv.get(1).map(String::as_str), Some("start"), "{argv:?}");
            let id = argv
                .iter()
                .position(|a| a == "--id")
                .and_then(|i| argv.get(i + 1))
                .cloned()
                .unwrap_or_default();
            h.shims.push(id);
        }
    }
    let nft = stdout(&d.ns(&["nft", "list", "map", "inet", "berth", "pub_any4"]));
    if let Some(i) = nft.find("elements = {") {
        let body = &nft[i + "elements = {".len()..];
        let body = &body[..body.find('}').unwrap_or(body.len())];
        for el in body.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            // "tcp . 20005 : 172.17.0.7 . 80"
            let (k, v) = el.split_once(" : ").unwrap_or_else(|| panic!("{el}"));
            let port: u16 = k.rsplit(' ').next().unwrap().parse().unwrap();
            let ip = v.split(' ').next().unwrap().to_string();
            assert!(h.nft_ports.insert(port, ip).is_none(), "port {port} twice");
        }
    }
    h.dirs = names_in(&data);
    let runtime = d.dir.path().join("run/runtime");
    h.runtime = names_in(&runtime);
    // Not a container: the profiles its containers share (berth-runtime's state.rs).
    h.runtime.remove("@seccomp");
    if let Ok(rd) = std::fs::read_dir(runtime.join("@seccomp")) {
        use std::os::unix::fs::MetadataExt;
        h.orphan_profiles = rd
            .flatten()
            .filter(|e| e.metadata().is_ok_and(|m| m.nlink() == 1))
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
    }
    h
}

/// The daemon's view: every container `docker ps -a` lists, inspected.
fn seen(d: &Daemon) -> BTreeMap<String, Seen> {
    let ids = d.all_ids();
    let mut out = BTreeMap::new();
    if ids.is_empty() {
        return out;
    }
    let mut args = vec!["inspect"];
    args.extend(ids.iter().map(String::as_str));
    let v: serde_json::Value = serde_json::from_str(&d.ok(&args)).unwrap();
    for c in v.as_array().unwrap() {
        let ports = c["NetworkSettings"]["Ports"]
            .as_object()
            .into_iter()
            .flatten()
            .flat_map(|(_, b)| b.as_array().cloned().unwrap_or_default())
            .filter_map(|b| b["HostPort"].as_str().and_then(|p| p.parse().ok()))
            .collect();
        out.insert(
            c["Id"].as_str().unwrap().to_string(),
            Seen {
                status: c["State"]["Status"].as_str().unwrap().to_string(),
                pid: c["State"]["Pid"].as_i64().unwrap() as i32,
                ip: c["NetworkSettings"]["IPAddress"]
                    .as_str()
                    .unwrap()
                    .to_string(),
                ports,
            },
        );
    }
    out
}

/// Every listed container is entirely there or entirely not running; every other known
/// container left nothing. Returns (running, stopped) counts.
fn check(d: &Daemon, known: &BTreeSet<String>) -> (usize, usize) {
    let seen = seen(d);
    let h = witness(d);
    let mut problems = Vec::new();
    let mut p = |s: String| problems.push(s);
    let running: BTreeMap<&String, &Seen> =
        seen.iter().filter(|(_, s)| s.status == "running").collect();
    let mut ips = BTreeMap::new();
    for (id, s) in &seen {
        let short = &id[..12];
        if !h.dirs.contains(short) {
            p(format!("{id} ({}) has no container dir", s.status));
        }
        if s.status == "running" {
            if s.pid <= 0 || !Path::new(&format!("/proc/{}", s.pid)).exists() {
                p(format!("{id} running without a process (pid {})", s.pid));
            }
            for (what, there) in [
                ("veth", h.veths.contains(&veth(id))),
                ("rootfs mount", h.mounts.contains(short)),
                ("cgroup", h.cgroups.contains(id)),
                ("process in its cgroup", h.procs.contains(id)),
                ("shim", h.shims.contains(id)),
                ("runtime state", h.runtime.contains(id)),
            ] {
                if !there {
                    p(format!("{id} running without its {what}"));
                }
            }
            if s.ip.is_empty() {
                p(format!("{id} running without an address"));
            } else if let Some(other) = ips.insert(s.ip.clone(), id.clone()) {
                p(format!("{id} and {other} both have {}", s.ip));
            }
            for port in &s.ports {
                if h.nft_ports.get(port) != Some(&s.ip) {
                    p(format!(
                        "{id}: port {port} maps to {:?}, not {}",
                        h.nft_ports.get(port),
                        s.ip
                    ));
                }
            }
        } else {
            if !matches!(s.status.as_str(), "created" | "exited") {
                p(format!("{id} is {}", s.status));
            }
            if !s.ports.is_empty() || !s.ip.is_empty() {
                p(format!("{id} ({}) keeps {} {:?}", s.status, s.ip, s.ports));
            }
        }
    }
    for id in known {
        if running.contains_key(id) {
            continue;
        }
        let short = &id[..12];
        for (what, there) in [
            ("veth", h.veths.contains(&veth(id))),
            ("rootfs mount", h.mounts.contains(short)),
            ("cgroup", h.cgroups.contains(id)),
            ("process", h.procs.contains(id)),
            ("shim", h.shims.contains(id)),
            ("runtime state", h.runtime.contains(id)),
        ] {
            if there {
                let state = seen.get(id).map_or("gone", |s| s.status.as_str());
                p(format!("{id} ({state}) left its {what}"));
            }
        }
        if !seen.contains_key(id) && h.dirs.contains(short) {
            p(format!("{id} (gone) left its container dir"));
        }
    }
    // Nothing the daemon does not account for, whoever it belonged to.
    let want_veths: BTreeSet<String> = running.keys().map(|id| veth(id)).collect();
    if h.veths != want_veths {
        p(format!(
            "veths: extra {:?}, missing {:?}",
            h.veths.difference(&want_veths).collect::<Vec<_>>(),
            want_veths.difference(&h.veths).collect::<Vec<_>>()
        ));
    }
    let want_ids: BTreeSet<String> = running.keys().map(|id| id.to_string()).collect();
    for (what, have) in [("cgroups", &h.cgroups), ("processes in cgroups", &h.procs)] {
        if *have != want_ids {
            p(format!(
                "{what} under the daemon's parent: extra {:?}, missing {:?}",
                have.difference(&want_ids).collect::<Vec<_>>(),
                want_ids.difference(have).collect::<Vec<_>>()
            ));
        }
    }
    let want_mounts: BTreeSet<String> = running.keys().map(|id| id[..12].to_string()).collect();
    if h.mounts != want_mounts {
        p(format!(
            "mounts: extra {:?}",
            h.mounts.difference(&want_mounts).collect::<Vec<_>>()
        ));
    }
    let listed: BTreeSet<String> = seen.keys().map(|id| id[..12].to_string()).collect();
    if h.dirs != listed {
        p(format!(
            "container dirs of no container: {:?}",
            h.dirs.difference(&listed).collect::<Vec<_>>()
        ));
    }
    let want_shims: BTreeSet<String> = running.keys().map(|id| id.to_string()).collect();
    let mut shims = h.shims.clone();
    shims.sort();
    if shims.len() != want_shims.len() || shims.iter().any(|s| !want_shims.contains(s)) {
        p(format!("shims {shims:?} for running {want_shims:?}"));
    }
    let run_ids: BTreeSet<String> = want_shims.clone();
    if h.runtime != run_ids {
        p(format!(
            "runtime state of no running container: {:?}",
            h.runtime.difference(&run_ids).collect::<Vec<_>>()
        ));
    }
    if !h.orphan_profiles.is_empty() {
        p(format!(
            "seccomp profiles no container links: {:?}",
            h.orphan_profiles
        ));
    }
    let want_ports: BTreeSet<u16> = running.values().flat_map(|s| s.ports.clone()).collect();
    let nft_ports: BTreeSet<u16> = h.nft_ports.keys().copied().collect();
    if nft_ports != want_ports {
        p(format!("nft ports {nft_ports:?}, published {want_ports:?}"));
    }
    assert!(
        problems.is_empty(),
        "{} problems:\n{}\ndaemon log (tail):\n{}",
        problems.len(),
        problems.join("\n"),
        tail(&d.log(), 60)
    );
    eprintln!(
        "witness: {} veths, {} mounts, {} cgroups, {} shims, {} nft ports, {} dirs",
        h.veths.len(),
        h.mounts.len(),
        h.cgroups.len(),
        h.shims.len(),
        h.nft_ports.len(),
        h.dirs.len()
    );
    (running.len(), seen.len() - running.len())
}

fn tail(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// 50 concurrent `docker run -d` (every fifth with a published port); the daemon is killed
/// once `kill_at` of them have returned (or `max_wait` passed), then restarted. Returns the ids
/// the CLIs learned (from `--cidfile`, written right after the create).
fn crash_round(d: &mut Daemon, round: usize, kill_at: usize, max_wait: Duration) -> Vec<String> {
    let cids = d.dir.path().join(format!("cids-{round}"));
    std::fs::create_dir_all(&cids).unwrap();
    let mut kids: Vec<Child> = (0..N)
        .map(|i| {
            let name = format!("r{round}-{i}");
            let cidfile = cids.join(&name);
            let port = format!("{}:80", 20000 + round * 100 + i);
            let mut args = vec![
                "run",
                "-d",
                "--name",
                &name,
                "--cidfile",
                cidfile.to_str().unwrap(),
            ];
            if i % PUBLISH_EVERY == 0 {
                args.extend(["-p", &port]);
            }
            args.extend(["busybox", "sleep", "1000"]);
            d.docker_cmd(&args)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    // `docker run -d` returns once its container runs: count those, kill at `kill_at`.
    let t0 = Instant::now();
    let mut done = vec![None; N];
    let mut ok = 0;
    while t0.elapsed() < max_wait && ok < kill_at {
        for (k, st) in kids.iter_mut().zip(done.iter_mut()) {
            if st.is_none() {
                *st = k.try_wait().unwrap();
            }
        }
        ok = done.iter().flatten().filter(|s| s.success()).count();
        std::thread::sleep(Duration::from_millis(5));
    }
    d.kill_daemon();
    eprintln!(
        "round {round}: killed after {:?}, {ok} of {N} `docker run -d` done",
        t0.elapsed()
    );
    // Back at once, as a supervisor would restart it: shims the old daemon spawned may still
    // be making their containers while the new one recovers. CLIs that had not connected yet
    // talk to the new daemon.
    d.spawn_daemon();
    let end = Instant::now() + Duration::from_secs(60);
    for k in &mut kids {
        while k.try_wait().unwrap().is_none() && Instant::now() < end {
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = k.kill();
        let _ = k.wait();
    }
    names_in(&cids)
        .iter()
        .filter_map(|f| std::fs::read_to_string(cids.join(f)).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| s.len() == 64)
        .collect()
}

#[test]
fn killed_daemon_during_50_starts_leaves_containers_whole_or_gone() {
    if !engine::usable() {
        return;
    }
    let mut d = Daemon::start();
    let mut known = BTreeSet::new();
    // Early (few running, most starts in flight), later (most running), and very early
    // (creates in flight; the delay varies from run to run).
    let jitter = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|t| t.subsec_millis() as u64 % 300)
        .unwrap_or(0);
    let rounds = [
        (0, 3, Duration::from_secs(60)),
        (1, 30, Duration::from_secs(60)),
        (2, N + 1, Duration::from_millis(100 + jitter)),
    ];
    for (round, kill_at, max_wait) in rounds {
        known.extend(crash_round(&mut d, round, kill_at, max_wait));
        known.extend(d.all_ids());
        let (run, stopped) = check(&d, &known);
        let names = d.ok(&["ps", "-a", "--format", "{{.Names}}"]);
        let absent = (0..N)
            .filter(|i| !names.lines().any(|l| l == format!("r{round}-{i}")))
            .count();
        eprintln!(
            "round {round}: {run} running and {stopped} stopped in all; {absent} of this round's never made or undone"
        );
        // The daemon works on: a new container gets an address of its own, and a port a
        // vanished container published is free again.
        let port = (0..N)
            .step_by(PUBLISH_EVERY)
            .map(|i| 20000 + round * 100 + i)
            .find(|p| {
                !seen(&d)
                    .values()
                    .any(|s| s.status == "running" && s.ports.contains(&(*p as u16)))
            });
        let mut args = vec!["run", "-d"];
        let spec = port.map(|p| format!("{p}:80"));
        if let Some(s) = &spec {
            args.extend(["-p", s.as_str()]);
        }
        args.extend(["busybox", "sleep", "1000"]);
        known.insert(d.ok(&args));
        check(&d, &known);
    }
    // Everything goes, and takes everything with it.
    let ids = d.all_ids();
    for chunk in ids.chunks(20) {
        let mut args = vec!["rm", "-f"];
        args.extend(chunk.iter().map(String::as_str));
        d.ok(&args);
    }
    assert!(eventually(Duration::from_secs(10), || d
        .all_ids()
        .is_empty()));
    assert_eq!(check(&d, &known), (0, 0));
    let h = witness(&d);
    assert!(
        h.veths.is_empty()
            && h.mounts.is_empty()
            && h.cgroups.is_empty()
            && h.shims.is_empty()
            && h.procs.is_empty()
            && h.nft_ports.is_empty()
            && h.dirs.is_empty()
            && h.runtime.is_empty()
            && h.orphan_profiles.is_empty(),
        "{h:?}"
    );
}

/// A daemon that dies for good leaves containers whose processes live in namespaces of their
/// own: the test's cleanup still finds them by cgroup, and nothing stays behind.
#[test]
fn a_daemon_that_never_comes_back_leaves_nothing_after_the_test() {
    if !engine::usable() {
        return;
    }
    let mut d = Daemon::start();
    let running = d.ok(&["run", "-d", "--network", "none", "busybox", "sleep", "1000"]);
    let created = d.ok(&["create", "--network", "none", "busybox", "sleep", "1000"]);
    d.kill_daemon();
    let dirs = d.cgroup_dirs(&running);
    assert!(!dirs.is_empty(), "the running container has its cgroup");
    let pids = std::fs::read_to_string(dirs[0].join("cgroup.procs")).unwrap();
    let pid: i32 = pids.lines().next().unwrap().trim().parse().unwrap();
    let parents = d.cgroup_parents();
    drop(d);
    assert!(
        parents.iter().all(|p| !p.exists()),
        "the test's cgroup parent outlived it: {parents:?}"
    );
    let _ = created;
    assert!(
        eventually(Duration::from_secs(5), || !Path::new(&format!(
            "/proc/{pid}"
        ))
        .exists()),
        "the container's process {pid} outlived the test"
    );
}

/// A killed daemon can leave cgroups that no record names (a create cut short with it). The
/// restarted daemon removes the empty ones under its parent; it keeps its running
/// containers' cgroups, any cgroup that holds a process, and names that are not container ids.
#[test]
fn a_restarted_daemon_removes_leftover_empty_cgroups() {
    if !engine::usable() {
        return;
    }
    let mut d = Daemon::start();
    let running = d.ok(&["run", "-d", "--network", "none", "busybox", "sleep", "1000"]);
    let exited = d.ok(&["run", "-d", "--network", "none", "busybox", "true"]);
    assert_eq!(d.ok(&["wait", &exited]), "0");
    d.kill_daemon();
    let (leftover, busy, other) = ("ab".repeat(32), "cd".repeat(32), "not-a-container");
    let parents = d.cgroup_parents();
    for p in &parents {
        for n in [leftover.as_str(), busy.as_str(), other] {
            std::fs::create_dir(p.join(n)).unwrap();
        }
    }
    // A process in `busy` (the pids hierarchy on v1, the only one on v2).
    let pids_parent = parents
        .iter()
        .find(|p| p.parent().is_some_and(|r| r.ends_with("pids")))
        .unwrap_or(&parents[0]);
    let sleeper = engine::Kill(
        std::process::Command::new("sleep")
            .arg("1000")
            .spawn()
            .unwrap(),
    );
    std::fs::write(
        pids_parent.join(&busy).join("cgroup.procs"),
        sleeper.0.id().to_string(),
    )
    .unwrap();
    d.spawn_daemon();
    for p in &parents {
        assert!(!p.join(&leftover).exists(), "{} survived", p.display());
        assert!(p.join(&busy).is_dir() && p.join(other).is_dir());
        assert!(
            p.join(&running).is_dir(),
            "the running container's cgroup went"
        );
        assert!(!p.join(&exited).exists());
    }
    assert!(
        d.log().contains("holds processes"),
        "the daemon did not report the cgroup it left: {}",
        d.log()
    );
    assert_eq!(
        d.ok(&["inspect", "-f", "{{.State.Status}}", &running]),
        "running"
    );
    d.ok(&["exec", &running, "true"]);
    drop(sleeper);
    // Dropping the daemon removes the rest (its whole parent).
}
