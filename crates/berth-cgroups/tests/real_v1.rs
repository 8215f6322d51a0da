//! Real cgroup v1 on this host: limits land in the kernel, freeze stops processes, pids.max
//! holds, kill_all and destroy leave nothing. Skips (saying so) when not root or not v1.

mod common;

use berth_cgroups::{Cgroup, Hierarchy};
use common::{proc_state, resources, root_or_skip, sleeper, unique_path, Guard};
use std::io::Write;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The v1 hierarchy, or None (with a message) when this test cannot run here.
fn v1_or_skip(test: &str) -> Option<Hierarchy> {
    if !root_or_skip(test) {
        return None;
    }
    let h = Hierarchy::detect().unwrap();
    if h.is_v2() {
        eprintln!("SKIP {test}: this host has cgroup v2, the test needs v1");
        return None;
    }
    Some(h)
}

fn dir_of(h: &Hierarchy, controller: &str, path: &str) -> PathBuf {
    h.v1_mount(controller)
        .unwrap()
        .join(path.trim_start_matches('/'))
}

fn read(p: PathBuf) -> String {
    std::fs::read_to_string(&p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .trim()
        .to_string()
}

#[test]
fn lifecycle() {
    let Some(h) = v1_or_skip("real_v1::lifecycle") else {
        return;
    };
    let path = unique_path();
    let cg = Cgroup::new(&h, &path);
    let mut g = Guard::new(&cg);
    cg.create().unwrap();
    assert!(cg.exists());
    let Hierarchy::V1 { mounts } = &h else {
        unreachable!()
    };
    for (_, m) in mounts {
        assert!(m.join(&path[1..]).is_dir(), "{} missing", m.display());
    }
    // A new cpuset dir got its parent's cpus and mems, or it could not take tasks.
    if let Some(cs) = h.v1_mount("cpuset") {
        assert_eq!(
            read(dir_of(&h, "cpuset", &path).join("cpuset.cpus")),
            read(cs.join("cpuset.cpus"))
        );
        assert_eq!(
            read(dir_of(&h, "cpuset", &path).join("cpuset.mems")),
            read(cs.join("cpuset.mems"))
        );
    }

    cg.apply(&resources(
        r#"{"pids":{"limit":5},"memory":{"limit":67108864,"swap":134217728},
            "cpu":{"shares":512,"quota":50000,"period":100000}}"#,
    ))
    .unwrap();
    let mem = dir_of(&h, "memory", &path);
    assert_eq!(read(mem.join("memory.limit_in_bytes")), "67108864");
    assert_eq!(read(mem.join("memory.memsw.limit_in_bytes")), "134217728");
    assert_eq!(read(dir_of(&h, "pids", &path).join("pids.max")), "5");
    assert_eq!(
        read(dir_of(&h, "cpu", &path).join("cpu.cfs_quota_us")),
        "50000"
    );
    // Lowering both: limit must go before memsw; raising: memsw first. Both orders work.
    cg.apply(&resources(
        r#"{"memory":{"limit":33554432,"swap":33554432}}"#,
    ))
    .unwrap();
    assert_eq!(read(mem.join("memory.memsw.limit_in_bytes")), "33554432");
    cg.apply(&resources(r#"{"memory":{"limit":-1}}"#)).unwrap();
    assert_eq!(
        read(mem.join("memory.limit_in_bytes")),
        "9223372036854771712"
    );

    let child = sleeper();
    let pid = child.id() as i32;
    g.children.push(child);
    cg.add_pid(pid).unwrap();
    assert_eq!(cg.pids().unwrap(), vec![pid]);
    for (_, m) in mounts {
        let procs = read(m.join(&path[1..]).join("cgroup.procs"));
        assert_eq!(procs, pid.to_string(), "{}", m.display());
    }

    cg.freeze().unwrap();
    assert!(cg.is_frozen().unwrap());
    assert_eq!(
        read(dir_of(&h, "freezer", &path).join("freezer.state")),
        "FROZEN"
    );
    // A frozen task sleeps uninterruptibly in the v1 freezer.
    assert_eq!(proc_state(pid), Some('D'));
    cg.thaw().unwrap();
    assert!(!cg.is_frozen().unwrap());
    // A thawed task runs for a moment before it is back in its sleep.
    for _ in 0..100 {
        if proc_state(pid) == Some('S') {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert_eq!(proc_state(pid), Some('S'));

    let st = cg.stats().unwrap();
    assert_eq!(st.pids.current, 1);
    assert_eq!(st.pids.limit, 5);
    assert_eq!(st.memory.usage.limit, 9223372036854771712);
    let json = serde_json::to_value(&st).unwrap();
    assert!(json["memory"]["raw"]["rss"].is_u64(), "{json}");

    cg.kill_all(libc::SIGKILL).unwrap();
    let status = g.children[0].wait().unwrap();
    assert_eq!(status.signal(), Some(libc::SIGKILL));
    cg.destroy().unwrap();
    assert!(!cg.exists());
    for (_, m) in mounts {
        assert!(!m.join(&path[1..]).exists(), "{} left behind", m.display());
    }
    // Destroying twice is fine.
    cg.destroy().unwrap();
}

#[test]
fn pids_limit_holds_and_kill_all_reaches_every_process() {
    let Some(h) = v1_or_skip("real_v1::pids_limit") else {
        return;
    };
    let cg = Cgroup::new(&h, &unique_path());
    let mut g = Guard::new(&cg);
    cg.create().unwrap();
    cg.apply(&resources(r#"{"pids":{"limit":5}}"#)).unwrap();
    // The shell waits for a line, so that it is in the cgroup before it forks.
    let mut sh = Command::new("sh")
        .arg("-c")
        .arg("read x; for i in 1 2 3 4 5 6 7 8; do sleep 30 >/dev/null 2>&1 & done")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    cg.add_pid(sh.id() as i32).unwrap();
    let mut stdin = sh.stdin.take().unwrap();
    writeln!(stdin, "go").unwrap();
    drop(stdin);
    g.children.push(sh);
    let out = g.children.pop().unwrap().wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.is_empty(), "no fork failed under pids.max=5");
    assert!(err.contains("fork"), "{err}");
    // The shell gave up (or finished) after the fourth or fifth sleep: sh + sleeps <= 5.
    let pids = cg.pids().unwrap();
    assert!(
        (4..=5).contains(&pids.len()),
        "pids in the cgroup: {pids:?}; stderr: {err}"
    );
    assert_eq!(cg.stats().unwrap().pids.current, pids.len() as u64);

    // The sleeps are orphans now: only kill_all can reach them.
    cg.kill_all(libc::SIGKILL).unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while !cg.pids().unwrap().is_empty() {
        assert!(Instant::now() < deadline, "processes survived kill_all");
        std::thread::sleep(Duration::from_millis(10));
    }
    cg.destroy().unwrap();
    assert!(!cg.exists());
}

#[test]
fn kernel_errors_and_missing_controllers_are_clear() {
    let Some(h) = v1_or_skip("real_v1::errors") else {
        return;
    };
    let path = unique_path();
    let cg = Cgroup::new(&h, &path);
    let _g = Guard::new(&cg);
    cg.create().unwrap();
    if h.v1_mount("cpuset").is_some() {
        let e = cg
            .apply(&resources(r#"{"cpu":{"cpus":"4095"}}"#))
            .unwrap_err()
            .to_string();
        let file = dir_of(&h, "cpuset", &path).join("cpuset.cpus");
        // The kernel's words, without Rust's "(os error N)".
        let want = format!("writing \"4095\" to {}: ", file.display());
        assert!(e.starts_with(&want) && !e.contains("os error"), "{e}");
    }
    if h.v1_mount("net_cls").is_none() {
        let e = cg
            .apply(&resources(r#"{"network":{"classID":1048577}}"#))
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "cgroup controller net_cls is not available on this host"
        );
        // Asking for nothing is fine.
        cg.apply(&resources(r#"{"network":{}}"#)).unwrap();
    } else {
        eprintln!("note: this host has net_cls; the missing-controller case is not checked");
    }
}
