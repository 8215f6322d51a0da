//! cgroup limits a user can see enforced: OOM kill, pids.max, a CPU quota, freeze/thaw.

mod common;
use common::*;
use serde_json::json;
use std::time::{Duration, Instant};

#[test]
fn memory_limit_oom_kills_a_100mib_allocator() {
    each_runtime("memory_limit_oom_kills_a_100mib_allocator", |rt| {
        let sb = Sandbox::new(rt);
        let mut b = sb.bundle();
        // dd's 100 MiB block is one allocation it fills: over a 32 MiB limit, the OOM killer.
        b.sh("dd if=/dev/zero of=/dev/null bs=100M count=1")
            .resource("memory", json!({ "limit": 33554432, "swap": 33554432 }));
        let o = sb.run(&b);
        assert_eq!(o.code, 137, "expected SIGKILL from the OOM killer: {o:?}");
    });
}

#[test]
fn pids_limit_stops_a_fork() {
    each_runtime("pids_limit_stops_a_fork", |rt| {
        let sb = Sandbox::new(rt);
        let mut b = sb.bundle();
        b.sh("for i in 1 2 3 4 5 6 7 8 9 10 11 12; do sleep 5 & done 2>&1; kill $(jobs -p) 2>/dev/null; true")
            .resource("pids", json!({ "limit": 5 }));
        let o = sb.run(&b);
        let all = format!("{}{}", o.stdout, o.stderr);
        assert!(
            all.contains("can't fork") || all.contains("Resource temporarily unavailable"),
            "{o:?}"
        );
    });
}

#[test]
fn cpu_quota_holds_a_busy_loop_near_20_percent() {
    each_runtime("cpu_quota_holds_a_busy_loop_near_20_percent", |rt| {
        let sb = Sandbox::new(rt);
        let mut b = sb.bundle();
        b.sh("while :; do :; done")
            .resource("cpu", json!({ "quota": 20000, "period": 100000 }));
        sb.start_container(&b);
        std::thread::sleep(Duration::from_millis(300));
        let (t0, c0) = (Instant::now(), cgroup_cpu_ns(&b.id));
        std::thread::sleep(Duration::from_millis(1500));
        let (wall, cpu) = (
            t0.elapsed().as_nanos() as f64,
            (cgroup_cpu_ns(&b.id) - c0) as f64,
        );
        let share = cpu / wall;
        assert!(
            (0.10..=0.30).contains(&share),
            "cpu share {share:.3}, expected ~0.20"
        );
        sb.cmd(&["kill", &b.id, "KILL"]).expect_ok("kill");
    });
}

#[test]
fn pause_freezes_and_resume_thaws() {
    each_runtime("pause_freezes_and_resume_thaws", |rt| {
        let sb = Sandbox::new(rt);
        let mut b = sb.bundle();
        b.sh("i=0; while :; do i=$((i+1)); echo $i > /tmp/counter; done");
        sb.start_container(&b);
        let counter = b.host_path("/tmp/counter");
        let read = || read_trim(&counter).parse::<u64>().unwrap_or(0);
        assert!(
            wait_until(Duration::from_secs(5), || read() > 0),
            "counter never started"
        );
        sb.cmd(&["pause", &b.id]).expect_ok("pause");
        assert_eq!(sb.status(&b.id), "paused");
        let frozen = read();
        std::thread::sleep(Duration::from_millis(300));
        assert_eq!(read(), frozen, "the counter moved while paused");
        sb.cmd(&["resume", &b.id]).expect_ok("resume");
        assert_eq!(sb.status(&b.id), "running");
        assert!(
            wait_until(Duration::from_secs(5), || read() > frozen),
            "the counter stayed frozen"
        );
        sb.cmd(&["kill", &b.id, "KILL"]).expect_ok("kill");
    });
}
