//! Fake-cgroupfs tests for the finer points: write order, conversions, missing controllers.

use super::{content, fake_v2, resources};
use crate::{Cgroup, Hierarchy};
use std::fs;
use std::path::Path;

/// A fake v1 tree: `files` per controller, pre-made under `rel` (cgroupfs would make them).
fn fake_v1(rel: &str, files: &[(&str, &[&str])]) -> (tempfile::TempDir, Cgroup) {
    let t = tempfile::tempdir().unwrap();
    let mut mounts = Vec::new();
    for (c, fs_) in files {
        let d = t.path().join(c).join(rel.trim_start_matches('/'));
        fs::create_dir_all(&d).unwrap();
        for f in *fs_ {
            fs::write(d.join(f), "").unwrap();
        }
        mounts.push((c.to_string(), t.path().join(c)));
    }
    let cg = Cgroup::new(&Hierarchy::v1_at(mounts), rel);
    (t, cg)
}

fn at(t: &tempfile::TempDir, p: &str) -> String {
    content(&t.path().join(p))
}

#[test]
fn v2_io_max_is_one_line_per_device() {
    let (t, cg) = fake_v2("x", &["io.max", "io.weight"]);
    cg.apply(&resources(
        r#"{"blockIO":{"weightDevice":[{"major":8,"minor":0,"weight":1000}],
            "throttleReadBpsDevice":[{"major":8,"minor":0,"rate":1}],
            "throttleWriteBpsDevice":[{"major":8,"minor":0,"rate":2}],
            "throttleReadIOPSDevice":[{"major":8,"minor":0,"rate":3}],
            "throttleWriteIOPSDevice":[{"major":8,"minor":0,"rate":4}]}}"#,
    ))
    .unwrap();
    assert_eq!(at(&t, "x/io.max"), "8:0 rbps=1 wbps=2 riops=3 wiops=4");
    assert_eq!(at(&t, "x/io.weight"), "8:0 10000");
}

#[test]
fn v2_bfq_weight_when_io_weight_is_absent() {
    let (t, cg) = fake_v2("x", &["io.bfq.weight"]);
    cg.apply(&resources(r#"{"blockIO":{"weight":300}}"#))
        .unwrap();
    assert_eq!(at(&t, "x/io.bfq.weight"), "300");
}

#[test]
fn v2_missing_controller_is_named() {
    let (t, cg) = fake_v2("x", &["memory.max"]);
    fs::write(t.path().join("x/cgroup.controllers"), "memory\n").unwrap();
    cg.apply(&resources(r#"{"memory":{"limit":1048576}}"#))
        .unwrap();
    for (json, ctrl) in [
        (r#"{"pids":{"limit":3}}"#, "pids"),
        (r#"{"cpu":{"quota":1000}}"#, "cpu"),
        (r#"{"cpu":{"cpus":"0"}}"#, "cpuset"),
        (r#"{"blockIO":{"weight":100}}"#, "io"),
        (
            r#"{"network":{"priorities":[{"name":"eth0","priority":1}]}}"#,
            "net_prio",
        ),
        (
            r#"{"hugepageLimits":[{"pageSize":"2MB","limit":0}]}"#,
            "hugetlb",
        ),
    ] {
        let e = cg.apply(&resources(json)).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("cgroup controller {ctrl} is not available on this host")
        );
    }
    // Absent values ask for nothing.
    cg.apply(&resources(r#"{"cpu":{},"blockIO":{},"network":{}}"#))
        .unwrap();
}

#[test]
fn v2_swap_follows_runc() {
    let (t, cg) = fake_v2("x", &["memory.max", "memory.swap.max"]);
    cg.apply(&resources(r#"{"memory":{"limit":-1}}"#)).unwrap();
    assert_eq!(at(&t, "x/memory.max"), "max");
    assert_eq!(at(&t, "x/memory.swap.max"), "max");
    cg.apply(&resources(r#"{"memory":{"limit":100,"swap":100}}"#))
        .unwrap();
    assert_eq!(at(&t, "x/memory.swap.max"), "0");
    let e = cg
        .apply(&resources(r#"{"memory":{"swap":100}}"#))
        .unwrap_err();
    assert!(e.to_string().contains("needs a memory limit"), "{e}");
    let e = cg
        .apply(&resources(r#"{"cpu":{"realtimeRuntime":1000}}"#))
        .unwrap_err();
    assert!(e.to_string().contains("need cgroup v1"), "{e}");
}

#[test]
fn write_errors_read_like_the_kernel() {
    let (t, cg) = fake_v2("x", &[]);
    let e = cg
        .apply(&resources(r#"{"memory":{"limit":33554432}}"#))
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "writing \"33554432\" to {}: No such file or directory",
            t.path().join("x/memory.max").display()
        )
    );
}

#[test]
fn v1_devices_start_from_deny_all_and_skip_fifos() {
    let (t, cg) = fake_v1("/c", &[("devices", &["devices.allow", "devices.deny"])]);
    cg.apply(&resources(
        r#"{"devices":[{"allow":true,"type":"c","major":1,"minor":3,"access":"rw"},
                       {"allow":true,"type":"p","access":"rwm"}]}"#,
    ))
    .unwrap();
    assert_eq!(at(&t, "devices/c/devices.deny"), "a");
    assert_eq!(at(&t, "devices/c/devices.allow"), "c 1:3 rw");
}

#[test]
fn v1_memory_and_blkio_details() {
    let (t, cg) = fake_v1(
        "/c",
        &[
            (
                "memory",
                &[
                    "memory.limit_in_bytes",
                    "memory.memsw.limit_in_bytes",
                    "memory.oom_control",
                    "memory.swappiness",
                ],
            ),
            ("blkio", &["blkio.bfq.weight", "blkio.bfq.weight_device"]),
            (
                "hugetlb",
                &[
                    "hugetlb.2MB.limit_in_bytes",
                    "hugetlb.2MB.rsvd.limit_in_bytes",
                ],
            ),
        ],
    );
    cg.apply(&resources(
        r#"{"memory":{"limit":-1,"disableOOMKiller":true,"swappiness":10},
            "blockIO":{"weight":200,"weightDevice":[{"major":8,"minor":0,"weight":300}]},
            "hugepageLimits":[{"pageSize":"2MB","limit":2097152}]}"#,
    ))
    .unwrap();
    assert_eq!(at(&t, "memory/c/memory.limit_in_bytes"), "-1");
    assert_eq!(at(&t, "memory/c/memory.memsw.limit_in_bytes"), "-1");
    assert_eq!(at(&t, "memory/c/memory.oom_control"), "1");
    assert_eq!(at(&t, "memory/c/memory.swappiness"), "10");
    assert_eq!(at(&t, "blkio/c/blkio.bfq.weight"), "200");
    assert_eq!(at(&t, "blkio/c/blkio.bfq.weight_device"), "8:0 300");
    assert_eq!(at(&t, "hugetlb/c/hugetlb.2MB.limit_in_bytes"), "2097152");
    assert_eq!(
        at(&t, "hugetlb/c/hugetlb.2MB.rsvd.limit_in_bytes"),
        "2097152"
    );

    // Without swap accounting a real swap limit cannot be honoured.
    fs::remove_file(t.path().join("memory/c/memory.memsw.limit_in_bytes")).unwrap();
    let e = cg
        .apply(&resources(r#"{"memory":{"limit":100,"swap":200}}"#))
        .unwrap_err();
    assert!(e.to_string().contains("swap accounting"), "{e}");
}

#[test]
fn v1_create_copies_cpuset_into_every_new_level() {
    let t = tempfile::tempdir().unwrap();
    let m = t.path().join("cpuset");
    for d in ["", "berth", "berth/c"] {
        fs::create_dir_all(m.join(d)).unwrap();
        fs::write(m.join(d).join("cpuset.cpus"), "").unwrap();
        fs::write(m.join(d).join("cpuset.mems"), "").unwrap();
    }
    fs::write(m.join("cpuset.cpus"), "0-3\n").unwrap();
    fs::write(m.join("cpuset.mems"), "0\n").unwrap();
    let cg = Cgroup::new(
        &Hierarchy::v1_at(vec![("cpuset".into(), m.clone())]),
        "berth/c",
    );
    cg.create().unwrap();
    for d in ["berth", "berth/c"] {
        assert_eq!(content(&m.join(d).join("cpuset.cpus")), "0-3");
        assert_eq!(content(&m.join(d).join("cpuset.mems")), "0");
    }
}

#[test]
fn joined_hierarchies_are_one_directory() {
    let m = Path::new("/sys/fs/cgroup/cpu,cpuacct").to_path_buf();
    let h = Hierarchy::v1_at(vec![
        ("cpu".into(), m.clone()),
        ("cpuacct".into(), m.clone()),
        ("name=systemd".into(), "/sys/fs/cgroup/systemd".into()),
    ]);
    let cg = Cgroup::new(&h, "/../berth/../x");
    assert_eq!(
        cg.mount_dirs(),
        vec![
            ("cpu,cpuacct".to_string(), m.join("berth/x")),
            (
                "systemd".to_string(),
                "/sys/fs/cgroup/systemd/berth/x".into()
            ),
        ]
    );
    assert_eq!(cg.v2_dir(), None);
}

#[test]
fn pids_include_sub_cgroups() {
    let (t, cg) = fake_v2("x", &["cgroup.procs"]);
    fs::write(t.path().join("x/cgroup.procs"), "12\n7\n").unwrap();
    fs::create_dir(t.path().join("x/inner")).unwrap();
    fs::write(t.path().join("x/inner/cgroup.procs"), "30\n7\n").unwrap();
    assert_eq!(cg.pids().unwrap(), vec![7, 12, 30]);
    let gone = Cgroup::new(&Hierarchy::v2_at(t.path().to_path_buf()), "nope");
    assert_eq!(gone.pids().unwrap(), Vec::<i32>::new());
}
