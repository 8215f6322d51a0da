//! Real cgroup v2: create, join, freeze, signal, kill, stats, destroy on the kernel. On a pure
//! v2 host this uses /sys/fs/cgroup; on a hybrid v1 host the (controller-less) cgroup2 at
//! /sys/fs/cgroup/unified, which still has cgroup.freeze, cgroup.kill and cgroup.events.
//! Skips, saying why, when not root or when no cgroup2 is mounted.

mod common;

use berth_cgroups::{Cgroup, Hierarchy};
use common::{resources, root_or_skip, sleeper, unique_path, Guard};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};

/// The first cgroup2 mountpoint in /proc/self/mountinfo.
fn cgroup2_mount() -> Option<PathBuf> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    text.lines().find_map(|l| {
        let f: Vec<&str> = l.split(' ').collect();
        let dash = f.iter().position(|x| *x == "-")?;
        (f.get(dash + 1) == Some(&"cgroup2")).then(|| PathBuf::from(f[4]))
    })
}

fn v2_or_skip(test: &str) -> Option<Hierarchy> {
    if !root_or_skip(test) {
        return None;
    }
    let h = Hierarchy::detect().unwrap();
    if h.is_v2() {
        return Some(h);
    }
    match cgroup2_mount() {
        Some(root) => {
            eprintln!(
                "note {test}: not a cgroup v2 host; testing on the hybrid cgroup2 at {}",
                root.display()
            );
            Some(Hierarchy::v2_at(root))
        }
        None => {
            eprintln!("SKIP {test}: this host has no cgroup2 mounted (cgroup v1 only)");
            None
        }
    }
}

/// Puts the root's cgroup.subtree_control back as it was (create() enables controllers on
/// the way down; on a shared host that must not outlive the test). Dropped last.
struct SubtreeRestore(PathBuf, String);

impl SubtreeRestore {
    fn new(h: &Hierarchy) -> SubtreeRestore {
        let Hierarchy::V2 { root } = h else {
            panic!("v2 only")
        };
        let before =
            std::fs::read_to_string(root.join("cgroup.subtree_control")).unwrap_or_default();
        SubtreeRestore(root.clone(), before)
    }
}

impl Drop for SubtreeRestore {
    fn drop(&mut self) {
        let file = self.0.join("cgroup.subtree_control");
        let now = std::fs::read_to_string(&file).unwrap_or_default();
        for c in now.split_whitespace() {
            if !self.1.split_whitespace().any(|b| b == c) {
                let _ = std::fs::write(&file, format!("-{c}"));
            }
        }
    }
}

fn events(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("cgroup.events")).unwrap()
}

#[test]
fn lifecycle() {
    let Some(h) = v2_or_skip("real_v2::lifecycle") else {
        return;
    };
    let _restore = SubtreeRestore::new(&h);
    let cg = Cgroup::new(&h, &unique_path());
    let mut g = Guard::new(&cg);
    cg.create().unwrap();
    let dir = cg.v2_dir().unwrap();
    assert!(dir.is_dir());

    // Limits for whatever controllers this hierarchy offers.
    let offered = std::fs::read_to_string(dir.join("cgroup.controllers")).unwrap();
    let has = |c: &str| offered.split_whitespace().any(|o| o == c);
    if has("pids") {
        let r = resources(r#"{"pids":{"limit":5}}"#);
        cg.apply(&r).unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.join("pids.max"))
                .unwrap()
                .trim(),
            "5"
        );
    } else {
        let r = resources(r#"{"pids":{"limit":5}}"#);
        let e = cg.apply(&r).unwrap_err();
        assert_eq!(
            e.to_string(),
            "cgroup controller pids is not available on this host"
        );
    }
    if has("hugetlb") && Path::new("/sys/kernel/mm/hugepages/hugepages-2048kB").exists() {
        let r = resources(r#"{"hugepageLimits":[{"pageSize":"2MB","limit":4194304}]}"#);
        cg.apply(&r).unwrap();
        let v = std::fs::read_to_string(dir.join("hugetlb.2MB.max")).unwrap();
        assert_eq!(v.trim(), "4194304");
    }

    let child = sleeper();
    let pid = child.id() as i32;
    g.children.push(child);
    cg.add_pid(pid).unwrap();
    assert_eq!(cg.pids().unwrap(), vec![pid]);
    assert!(events(&dir).contains("populated 1"));

    cg.freeze().unwrap();
    assert!(cg.is_frozen().unwrap());
    assert!(events(&dir).contains("frozen 1"));
    cg.thaw().unwrap();
    assert!(!cg.is_frozen().unwrap());
    assert!(events(&dir).contains("frozen 0"));

    // cpu.stat is a core file: usage is there even without the cpu controller.
    let st = cg.stats().unwrap();
    assert!(std::fs::read_to_string(dir.join("cpu.stat"))
        .unwrap()
        .contains("usage_usec"));
    let json = serde_json::to_value(&st).unwrap();
    assert!(json["cpu"]["usage"]["total"].is_u64());

    // A signal other than SIGKILL goes freeze → kill → thaw.
    cg.kill_all(libc::SIGTERM).unwrap();
    let status = g.children[0].wait().unwrap();
    assert_eq!(status.signal(), Some(libc::SIGTERM));
    assert!(!cg.is_frozen().unwrap());

    // SIGKILL through cgroup.kill (5.14+), or the same freeze path on older kernels.
    let child = sleeper();
    let pid = child.id() as i32;
    g.children[0] = child;
    cg.add_pid(pid).unwrap();
    cg.kill_all(libc::SIGKILL).unwrap();
    let status = g.children[0].wait().unwrap();
    assert_eq!(status.signal(), Some(libc::SIGKILL));

    cg.destroy().unwrap();
    assert!(!cg.exists());
    assert!(!dir.exists());
}

/// Device rules on v2 are an eBPF program on the cgroup: a process moved in may use /dev/null
/// (allowed) but not /dev/zero (denied: EPERM); an `update` replaces the program, so /dev/zero
/// opens afterwards, and no second program is left behind. On a hybrid host the program
/// applies through the cgroup2 mount as well (the kernel checks both v1 and v2).
#[test]
fn device_rules_are_enforced() {
    let Some(h) = v2_or_skip("real_v2::device_rules_are_enforced") else {
        return;
    };
    let cg = Cgroup::new(&h, &unique_path());
    let mut g = Guard::new(&cg);
    cg.create().unwrap();
    let deny_zero = resources(
        r#"{"devices":[{"allow":false,"access":"rwm"},
                       {"allow":true,"type":"c","major":1,"minor":3,"access":"rw"}]}"#,
    );
    if let Err(e) = cg.apply(&deny_zero) {
        let msg = e.to_string();
        assert!(msg.contains("device filter"), "{msg}");
        eprintln!("SKIP real_v2::device_rules_are_enforced: this kernel refused BPF: {msg}");
        return;
    }
    // A shell that waits for a line (so it is in the cgroup before it opens anything), then
    // tries both devices.
    let probe = |g: &mut Guard| -> String {
        use std::io::{BufRead, Write};
        let mut child = std::process::Command::new("sh")
            .args([
                "-c",
                "read go; (: </dev/null) 2>/dev/null && echo null-ok || echo null-denied; \
                 (: </dev/zero) 2>/dev/null && echo zero-ok || echo zero-denied",
            ])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        cg.add_pid(child.id() as i32).unwrap();
        let mut stdin = child.stdin.take().unwrap();
        writeln!(stdin, "go").unwrap();
        let mut out = String::new();
        let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
        while let Some(Ok(l)) = lines.next() {
            out.push_str(&l);
            out.push(' ');
        }
        child.wait().unwrap();
        g.children.push(child);
        out
    };
    assert_eq!(probe(&mut g), "null-ok zero-denied ");
    let allow_zero = resources(
        r#"{"devices":[{"allow":false,"access":"rwm"},
                       {"allow":true,"type":"c","major":1,"minor":3,"access":"rw"},
                       {"allow":true,"type":"c","major":1,"minor":5,"access":"r"}]}"#,
    );
    cg.apply(&allow_zero).unwrap();
    assert_eq!(probe(&mut g), "null-ok zero-ok ");
    // And back: the newest program alone decides.
    cg.apply(&deny_zero).unwrap();
    assert_eq!(probe(&mut g), "null-ok zero-denied ");
}
