//! Fake-cgroupfs tests: exactly what gets written for v1 and v2 (real-kernel tests: tests/).

use super::*;
use oci_spec::runtime::LinuxResources;

fn resources(json: &str) -> LinuxResources {
    serde_json::from_str(json).unwrap()
}

/// A fake v2 root with a few controller files, and a pre-made leaf (cgroupfs makes files
/// itself; a tempdir cannot).
fn fake_v2(rel: &str, files: &[&str]) -> (tempfile::TempDir, Cgroup) {
    let t = tempfile::tempdir().unwrap();
    std::fs::write(
        t.path().join("cgroup.controllers"),
        "cpuset cpu io memory pids",
    )
    .unwrap();
    std::fs::write(t.path().join("cgroup.subtree_control"), "").unwrap();
    let leaf = t.path().join(rel);
    std::fs::create_dir_all(&leaf).unwrap();
    for f in files {
        std::fs::write(leaf.join(f), "").unwrap();
    }
    let cg = Cgroup::new(&Hierarchy::v2_at(t.path().to_path_buf()), rel);
    (t, cg)
}

fn content(p: &std::path::Path) -> String {
    std::fs::read_to_string(p).unwrap()
}

#[test]
fn v2_writes_the_converted_limits() {
    let files = [
        "memory.max",
        "memory.low",
        "memory.swap.max",
        "cpu.weight",
        "cpu.max",
        "cpuset.cpus",
        "pids.max",
        "io.weight",
        "io.max",
        "custom.file",
    ];
    let (t, cg) = fake_v2("berth/c1", &files);
    cg.apply(&resources(
        r#"{"memory":{"limit":33554432,"reservation":1048576,"swap":67108864},
            "cpu":{"shares":1024,"quota":20000,"period":100000,"cpus":"0"},
            "pids":{"limit":10},
            "blockIO":{"weight":500,"throttleReadBpsDevice":[{"major":8,"minor":0,"rate":1048576}]},
            "unified":{"custom.file":"42"}}"#,
    ))
    .unwrap();
    let d = t.path().join("berth/c1");
    assert_eq!(content(&d.join("memory.max")), "33554432");
    assert_eq!(content(&d.join("memory.low")), "1048576");
    assert_eq!(content(&d.join("memory.swap.max")), "33554432");
    assert_eq!(content(&d.join("cpu.weight")), "39");
    assert_eq!(content(&d.join("cpu.max")), "20000 100000");
    assert_eq!(content(&d.join("cpuset.cpus")), "0");
    assert_eq!(content(&d.join("pids.max")), "10");
    assert_eq!(
        content(&d.join("io.weight")),
        format!("default {}", blkio_to_io_weight(500))
    );
    assert_eq!(content(&d.join("io.max")), "8:0 rbps=1048576");
    assert_eq!(content(&d.join("custom.file")), "42");
}

#[test]
fn v2_unlimited_values_become_max() {
    let (t, cg) = fake_v2(
        "x",
        &["memory.max", "memory.swap.max", "cpu.max", "pids.max"],
    );
    cg.apply(&resources(
        r#"{"memory":{"limit":-1,"swap":-1},"cpu":{"period":50000},"pids":{"limit":0}}"#,
    ))
    .unwrap();
    let d = t.path().join("x");
    assert_eq!(content(&d.join("memory.max")), "max");
    assert_eq!(content(&d.join("memory.swap.max")), "max");
    assert_eq!(content(&d.join("cpu.max")), "max 50000");
    assert_eq!(content(&d.join("pids.max")), "max");
}

#[test]
fn v2_errors_name_the_problem() {
    let (_t, cg) = fake_v2("x", &["memory.max", "memory.swap.max"]);
    let e = cg
        .apply(&resources(r#"{"memory":{"limit":100,"swap":50}}"#))
        .unwrap_err();
    assert!(e.to_string().contains("below the memory limit"), "{e}");
    let e = cg
        .apply(&resources(r#"{"network":{"classID":1048577}}"#))
        .unwrap_err();
    assert!(e.to_string().contains("net_cls is not available"), "{e}");
    let e = cg
        .apply(&resources(r#"{"unified":{"../escape":"1"}}"#))
        .unwrap_err();
    assert!(e.to_string().contains("not a cgroup file name"), "{e}");
    // A file the kernel does not have: the error names the file.
    let e = cg.apply(&resources(r#"{"pids":{"limit":5}}"#)).unwrap_err();
    assert!(e.to_string().contains("pids.max"), "{e}");
}

#[test]
fn v2_create_enables_controllers_and_stats_parse() {
    let t = tempfile::tempdir().unwrap();
    std::fs::write(t.path().join("cgroup.controllers"), "cpu memory pids").unwrap();
    std::fs::write(t.path().join("cgroup.subtree_control"), "").unwrap();
    let cg = Cgroup::new(&Hierarchy::v2_at(t.path().to_path_buf()), "/a/b");
    cg.create().unwrap();
    assert!(t.path().join("a/b").is_dir());
    // The fake file keeps only the last write; the real one accumulates.
    assert_eq!(content(&t.path().join("cgroup.subtree_control")), "+pids");
    let d = t.path().join("a/b");
    std::fs::write(d.join("cpu.stat"), "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\nnr_periods 7\nnr_throttled 3\nthrottled_usec 20\n").unwrap();
    std::fs::write(d.join("memory.current"), "4096\n").unwrap();
    std::fs::write(d.join("memory.max"), "max\n").unwrap();
    std::fs::write(
        d.join("memory.events"),
        "low 0\nhigh 0\nmax 2\noom 1\noom_kill 1\n",
    )
    .unwrap();
    std::fs::write(d.join("pids.current"), "3\n").unwrap();
    let s = cg.stats().unwrap();
    assert_eq!(s.cpu.usage.total, 1_500_000);
    assert_eq!(s.cpu.throttling.throttled_periods, 3);
    assert_eq!(s.memory.usage.usage, 4096);
    assert_eq!(s.pids.current, 3);
    assert_eq!(cg.oom_kill_count().unwrap(), 1);
    let json = serde_json::to_value(&s).unwrap();
    assert!(json["cpu"]["throttling"]["throttledPeriods"].is_u64());
    assert!(json["blkio"]["ioServiceBytesRecursive"].is_array());
}

#[test]
fn v1_writes_per_controller_files() {
    let t = tempfile::tempdir().unwrap();
    let mut mounts = Vec::new();
    let files: &[(&str, &[&str])] = &[
        (
            "memory",
            &[
                "memory.limit_in_bytes",
                "memory.memsw.limit_in_bytes",
                "memory.soft_limit_in_bytes",
            ],
        ),
        (
            "cpu",
            &["cpu.shares", "cpu.cfs_quota_us", "cpu.cfs_period_us"],
        ),
        ("pids", &["pids.max"]),
        ("devices", &["devices.allow", "devices.deny"]),
        (
            "blkio",
            &["blkio.weight", "blkio.throttle.write_iops_device"],
        ),
    ];
    for (c, fs) in files {
        let d = t.path().join(c).join("berth/c");
        std::fs::create_dir_all(&d).unwrap();
        for f in *fs {
            std::fs::write(d.join(f), "").unwrap();
        }
        mounts.push((c.to_string(), t.path().join(c)));
    }
    let cg = Cgroup::new(&Hierarchy::v1_at(mounts), "/berth/c");
    cg.apply(&resources(
        r#"{"memory":{"limit":33554432,"swap":33554432,"reservation":1024},
            "cpu":{"shares":512,"quota":20000,"period":100000},
            "pids":{"limit":-1},
            "devices":[{"allow":false,"access":"rwm"},{"allow":true,"type":"c","major":1,"minor":3,"access":"rwm"},{"allow":true,"type":"c","major":136,"access":"rwm"}],
            "blockIO":{"weight":300,"throttleWriteIOPSDevice":[{"major":8,"minor":16,"rate":100}]}}"#,
    ))
    .unwrap();
    let p = |c: &str, f: &str| content(&t.path().join(c).join("berth/c").join(f));
    assert_eq!(p("memory", "memory.limit_in_bytes"), "33554432");
    assert_eq!(p("memory", "memory.memsw.limit_in_bytes"), "33554432");
    assert_eq!(p("memory", "memory.soft_limit_in_bytes"), "1024");
    assert_eq!(p("cpu", "cpu.shares"), "512");
    assert_eq!(p("cpu", "cpu.cfs_quota_us"), "20000");
    assert_eq!(p("cpu", "cpu.cfs_period_us"), "100000");
    assert_eq!(p("pids", "pids.max"), "max");
    assert_eq!(p("devices", "devices.deny"), "a *:* rwm");
    assert_eq!(p("devices", "devices.allow"), "c 136:* rwm");
    assert_eq!(p("blkio", "blkio.weight"), "300");
    assert_eq!(p("blkio", "blkio.throttle.write_iops_device"), "8:16 100");
    let e = cg
        .apply(&resources(r#"{"network":{"classID":1}}"#))
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "cgroup controller net_cls is not available on this host"
    );
    let e = cg
        .apply(&resources(r#"{"unified":{"memory.max":"1"}}"#))
        .unwrap_err();
    assert!(e.to_string().contains("needs cgroup v2"), "{e}");
}

#[test]
fn weight_conversions_match_runc() {
    assert_eq!(shares_to_weight(2), 1);
    assert_eq!(shares_to_weight(1024), 39);
    assert_eq!(shares_to_weight(262_144), 10_000);
    assert_eq!(blkio_to_io_weight(10), 1);
    assert_eq!(blkio_to_io_weight(1000), 10_000);
}

mod edge_cases;

#[test]
fn children_are_listed_across_v1_hierarchies() {
    let t = tempfile::tempdir().unwrap();
    let (mem, pids) = (t.path().join("memory"), t.path().join("pids"));
    std::fs::create_dir_all(mem.join("p/a")).unwrap();
    std::fs::create_dir_all(mem.join("p/b")).unwrap();
    std::fs::create_dir_all(pids.join("p/b")).unwrap();
    std::fs::create_dir_all(pids.join("p/c")).unwrap();
    std::fs::write(pids.join("p/cgroup.procs"), "").unwrap();
    let h = Hierarchy::v1_at(vec![("memory".into(), mem), ("pids".into(), pids)]);
    let parent = Cgroup::new(&h, "/p");
    assert_eq!(parent.children(), ["a", "b", "c"]);
    assert_eq!(parent.child("c").children(), Vec::<String>::new());
    assert!(parent.child("c").exists() && !parent.child("d").exists());
    assert!(Cgroup::new(&h, "/none").children().is_empty());
}
