//! create → start → state → kill → delete, kill --all, exec, update, ps, events, spec, hooks.

mod common;
use common::*;
use serde_json::json;
use std::time::Duration;

#[test]
fn create_start_kill_delete() {
    each_runtime("create_start_kill_delete", |rt| {
        let sb = Sandbox::new(rt);
        let mut b = sb.bundle();
        b.sh("sleep 60");
        sb.create(&b).expect_ok("create");
        let st = sb.state(&b.id);
        assert_eq!(st["status"], "created");
        let pid = st["pid"].as_i64().unwrap();
        assert!(pid_alive(pid));
        assert_eq!(read_trim(&b.dir.join("pid")), pid.to_string());
        sb.cmd(&["start", &b.id]).expect_ok("start");
        assert_eq!(sb.status(&b.id), "running");
        sb.cmd(&["kill", &b.id, "KILL"]).expect_ok("kill");
        assert!(sb.wait_status(&b.id, "stopped", Duration::from_secs(5)));
        sb.cmd(&["delete", &b.id]).expect_ok("delete");
        assert!(sb.leftovers(&b.id).is_empty(), "{:?}", sb.leftovers(&b.id));
        let o = sb.cmd(&["state", &b.id]);
        assert!(!o.ok() && o.stderr.contains("does not exist"), "{o:?}");
    });
}

#[test]
fn kill_all_kills_every_process() {
    each_runtime("kill_all_kills_every_process", |rt| {
        let sb = Sandbox::new(rt);
        let mut b = sb.bundle();
        b.sh("sleep 60 & sleep 60 & sleep 60 & wait");
        sb.start_container(&b);
        assert!(wait_until(Duration::from_secs(5), || cgroup_pids(&b.id)
            .len()
            >= 4));
        sb.cmd(&["kill", "--all", &b.id, "KILL"])
            .expect_ok("kill --all");
        assert!(wait_until(Duration::from_secs(5), || cgroup_pids(&b.id).is_empty()));
        sb.cmd(&["delete", "--force", &b.id]).expect_ok("delete");
        assert!(sb.leftovers(&b.id).is_empty());
    });
}

#[test]
fn exec_joins_the_container() {
    each_runtime("exec_joins_the_container", |rt| {
        let sb = Sandbox::new(rt);
        let mut b = sb.bundle();
        b.sh("sleep 60").hostname("exec-host");
        sb.start_container(&b);
        let o = sb.exec(
            &b.id,
            &[
                "sh",
                "-c",
                "hostname; echo $$; cat /proc/1/cmdline | tr '\\0' ' '",
            ],
        );
        assert_eq!(o.code, 0, "{o:?}");
        let lines: Vec<&str> = o.stdout.lines().collect();
        assert_eq!(lines[0], "exec-host");
        assert_ne!(lines[1], "1");
        assert!(lines[2].contains("sleep 60"), "{o:?}");
        let o = sb.exec(&b.id, &["sh", "-c", "exit 7"]);
        assert_eq!(o.code, 7);
        sb.cmd(&["delete", "--force", &b.id])
            .expect_ok("delete --force");
    });
}

#[test]
fn update_ps_events_list() {
    under_test_only("update_ps_events_list", |rt| {
        let sb = Sandbox::new(rt);
        let mut b = sb.bundle();
        b.sh("sleep 60");
        let pid = sb.start_container(&b);
        sb.cmd(&["update", "--pids-limit", "7", &b.id])
            .expect_ok("update");
        assert_eq!(
            read_trim(&cgroup_file(&b.id, ("pids", "pids.max"), "pids.max")),
            "7"
        );
        let o = sb.cmd(&["ps", "--format", "json", &b.id]).expect_ok("ps");
        let pids: Vec<i64> = serde_json::from_str(&o.stdout).unwrap();
        assert_eq!(pids, vec![pid]);
        let o = sb.cmd(&["events", "--stats", &b.id]).expect_ok("events");
        let ev: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
        assert_eq!(ev["type"], "stats");
        assert_eq!(ev["data"]["pids"]["limit"], 7);
        assert!(ev["data"]["memory"]["usage"]["usage"].as_u64().unwrap() > 0);
        let o = sb.cmd(&["list", "--format", "json"]).expect_ok("list");
        let l: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
        assert_eq!(l[0]["id"], b.id.as_str());
        assert_eq!(l[0]["status"], "running");
        sb.cmd(&["delete", "--force", &b.id]).expect_ok("delete");
    });
}

#[test]
fn hooks_get_the_state_on_stdin() {
    each_runtime("hooks_get_the_state_on_stdin", |rt| {
        let sb = Sandbox::new(rt);
        let mut b = sb.bundle();
        // Long enough for poststart to see a live pid (runc omits it once stopped).
        b.args(&["sleep", "0.3"]);
        let dir = b.dir.display().to_string();
        for kind in ["prestart", "createRuntime", "poststart", "poststop"] {
            let script = format!("cat > {dir}/{kind}.json");
            b.hook(kind, "/bin/sh", &["sh", "-c", &script]);
        }
        let o = sb.run(&b);
        assert_eq!(o.code, 0, "{o:?}");
        for kind in ["prestart", "createRuntime", "poststart", "poststop"] {
            let text = std::fs::read_to_string(b.dir.join(format!("{kind}.json")))
                .unwrap_or_else(|e| panic!("{kind} hook did not run: {e}"));
            let v: serde_json::Value = serde_json::from_str(&text).unwrap();
            assert_eq!(v["id"], b.id.as_str(), "{kind}: {text}");
            assert!(v["pid"].is_i64() || kind == "poststop", "{kind}: {text}");
        }
    });
}

/// The two hooks that run inside the container: createContainer in its mount namespace
/// before pivot_root (host paths still visible), startContainer after `start`, before the
/// process, with the container's root (it writes to the container's /dev/shm, which the
/// process then prints). Both get the state; the process still runs as its user after them.
#[test]
fn container_hooks_run_inside_with_the_state() {
    each_runtime("container_hooks_run_inside_with_the_state", |rt| {
        let sb = Sandbox::new(rt);
        let mut b = sb.bundle();
        let dir = b.dir.display().to_string();
        b.hook(
            "createContainer",
            "/bin/sh",
            &["sh", "-c", &format!("cat > {dir}/createContainer.json")],
        );
        b.hook(
            "startContainer",
            "/bin/sh",
            &["sh", "-c", "cat > /dev/shm/start.json"],
        );
        b.sh("cat /dev/shm/start.json; echo; id -u")
            .user(1000, 1000, &[]);
        let o = sb.run(&b);
        assert_eq!(o.code, 0, "{o:?}");
        let created = std::fs::read_to_string(b.dir.join("createContainer.json"))
            .expect("the createContainer hook ran");
        let created: serde_json::Value = serde_json::from_str(&created).unwrap();
        assert_eq!(created["id"], b.id.as_str());
        let (started, uid) = o.stdout.trim_end().rsplit_once('\n').expect("two lines");
        let started: serde_json::Value = serde_json::from_str(started).unwrap();
        assert_eq!(started["id"], b.id.as_str(), "{}", o.stdout);
        assert!(started["pid"].as_i64().unwrap_or(0) > 0, "{}", o.stdout);
        assert_eq!(uid, "1000");
    });
}

#[test]
fn spec_writes_a_runnable_config() {
    under_test_only("spec_writes_a_runnable_config", |rt| {
        let sb = Sandbox::new(rt);
        let b = sb.bundle();
        std::fs::remove_file(b.dir.join("config.json")).ok();
        let o = sb.cmd(&["spec", "--bundle", b.path_str()]);
        assert!(o.ok(), "{o:?}");
        let mut v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(b.dir.join("config.json")).unwrap())
                .unwrap();
        v["process"]["terminal"] = json!(false);
        v["process"]["args"] = json!(["sh", "-c", "echo from-spec"]);
        v["linux"]["cgroupsPath"] = json!(cgroups_path(&b.id));
        std::fs::write(b.dir.join("config.json"), v.to_string()).unwrap();
        let o = sb.cmd(&["run", "--bundle", b.path_str(), &b.id]);
        assert_eq!(o.stdout, "from-spec\n", "{o:?}");
    });
}
