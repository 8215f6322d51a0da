//! berth's cgroup v2 path, run for real on a hybrid host. Each `berth runtime` call runs in a
//! private mount namespace where the host's cgroup2 mount (/sys/fs/cgroup/unified) is bound
//! over /sys/fs/cgroup, so berth finds a pure v2 layout there. That cgroup2 has no resource
//! controllers on such a host (the v1 hierarchies hold them), so nothing is limited; but the
//! container is born in its cgroup (clone3 CLONE_INTO_CGROUP), its device rules are an eBPF
//! filter, `pause` freezes it through cgroup.freeze, and `kill --all` and `delete` go through
//! the v2 files. On a pure v2 host the other runtime tests cover all this, and this file skips.

mod common;
use common::*;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::time::Duration;

const HYBRID_V2: &str = "/sys/fs/cgroup/unified";

/// `berth runtime` seeing the host's cgroup2 as its whole cgroup tree, when that makes sense.
fn v2_view(test: &str) -> Option<Runtime> {
    if !can_run(test) {
        return None;
    }
    if cgroup_v2() {
        eprintln!("SKIP {test}: a pure cgroup v2 host; the other runtime tests cover v2");
        return None;
    }
    if !Path::new(HYBRID_V2).join("cgroup.procs").exists() {
        eprintln!("SKIP {test}: no cgroup2 mounted at {HYBRID_V2}");
        return None;
    }
    let berth = Runtime::berth();
    Some(Runtime {
        name: "berth".into(),
        bin: "unshare".into(),
        prefix: vec![
            "-m".into(),
            "sh".into(),
            "-c".into(),
            format!("mount --bind {HYBRID_V2} /sys/fs/cgroup && exec \"$0\" runtime \"$@\""),
            berth.bin.display().to_string(),
        ],
    })
}

fn v2_dir(id: &str) -> PathBuf {
    Path::new(HYBRID_V2).join(cgroups_path(id).trim_start_matches('/'))
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_default()
}

#[test]
fn born_in_its_v2_cgroup_with_device_filter_freeze_and_kill() {
    let Some(rt) = v2_view("born_in_its_v2_cgroup_with_device_filter_freeze_and_kill") else {
        return;
    };
    let sb = Sandbox::new(&rt);
    let mut b = sb.bundle();
    b.set(
        "/linux/devices",
        json!([{ "path": "/dev/loop-control", "type": "c", "major": 10, "minor": 237 }]),
    )
    .sh(
        "(: </dev/loop-control) 2>/dev/null && echo loop-allowed || echo loop-denied; \
         (: </dev/zero) && echo zero-ok; cat /proc/self/cgroup; exec sleep 60",
    );
    let pid = sb.start_container(&b);
    let dir = v2_dir(&b.id);
    assert!(dir.is_dir(), "no v2 cgroup at {}", dir.display());
    assert_eq!(read(&dir.join("cgroup.procs")).trim(), pid.to_string());
    let out = b.dir.join("create.out");
    assert!(
        wait_until(Duration::from_secs(5), || read(&out).contains("0::")),
        "{}",
        read(&out)
    );
    // Listed but not allowed: the eBPF filter says no; a default node is allowed. With a
    // cgroup namespace the process sees its own v2 cgroup as the root (the host's v1
    // hierarchies, which berth did not use here, are listed before it).
    let text = read(&out);
    assert!(text.starts_with("loop-denied\nzero-ok\n"), "{text}");
    assert!(text.ends_with("\n0::/\n"), "{text}");

    sb.cmd(&["pause", &b.id]).expect_ok("pause");
    assert_eq!(sb.status(&b.id), "paused");
    assert!(read(&dir.join("cgroup.events")).contains("frozen 1"));
    sb.cmd(&["resume", &b.id]).expect_ok("resume");
    assert_eq!(sb.status(&b.id), "running");
    assert!(read(&dir.join("cgroup.events")).contains("frozen 0"));

    sb.cmd(&["kill", "--all", &b.id, "KILL"])
        .expect_ok("kill --all");
    assert!(sb.wait_status(&b.id, "stopped", Duration::from_secs(5)));
    sb.cmd(&["delete", &b.id]).expect_ok("delete");
    assert!(!dir.exists(), "{} left behind", dir.display());
    assert!(sb.leftovers(&b.id).is_empty(), "{:?}", sb.leftovers(&b.id));
}
