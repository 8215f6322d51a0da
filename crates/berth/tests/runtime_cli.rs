//! runc's command line beyond the basic lifecycle: the exact JSON of `state`, `list` and `ps`,
//! create/start separation, `run --detach`, `kill` signals and `kill --all`, what `delete`
//! removes, `exec` options, `update`, `events --stats`, `spec`, and the errors runc gives for
//! wrong states (exit code 1 and a message).

mod common;
use common::*;
use serde_json::{json, Value};
use std::path::Path;
use std::time::Duration;

/// Sorted keys of a JSON object.
fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default();
    k.sort();
    k
}

fn sleeper(sb: &Sandbox) -> Bundle {
    let mut b = sb.bundle();
    b.args(&["sleep", "60"]);
    b
}

#[test]
fn state_json_matches_runc() {
    compare_with_runc("state_json_matches_runc", |rt| {
        let sb = Sandbox::new(rt);
        let mut b = sleeper(&sb);
        b.set("/annotations", json!({ "org.berth.test": "yes" }));
        sb.create(&b).expect_ok("create");
        let st = sb.state(&b.id);
        assert_eq!(st["id"], b.id.as_str(), "{}: {st}", rt.name);
        assert_eq!(st["status"], "created", "{}: {st}", rt.name);
        assert!(st["ociVersion"].is_string(), "{}: {st}", rt.name);
        assert_eq!(st["bundle"], b.path_str(), "{}: {st}", rt.name);
        assert_eq!(
            st["rootfs"],
            b.rootfs().to_str().unwrap(),
            "{}: {st}",
            rt.name
        );
        assert_eq!(
            st["annotations"]["org.berth.test"], "yes",
            "{}: {st}",
            rt.name
        );
        let created = st["created"].as_str().unwrap_or_default();
        assert!(
            created.contains('T') && created.ends_with('Z'),
            "{}: RFC 3339 UTC: {st}",
            rt.name
        );
        let pid = st["pid"].as_i64().unwrap();
        assert!(
            pid_alive(pid),
            "{}: created pid {pid} is not alive",
            rt.name
        );
        assert_eq!(
            read_trim(&b.dir.join("pid")),
            pid.to_string(),
            "{}: --pid-file",
            rt.name
        );
        sb.cmd(&["delete", "--force", &b.id])
            .expect_ok("delete --force");
        keys(&st)
    });
}

#[test]
fn create_does_not_run_the_process_until_start() {
    each_runtime("create_does_not_run_the_process_until_start", |rt| {
        let sb = Sandbox::new(rt);
        let mut b = sb.bundle();
        b.sh("touch /tmp/started; exec sleep 60");
        sb.create(&b).expect_ok("create");
        std::thread::sleep(Duration::from_millis(300));
        let marker = b.host_path("/tmp/started");
        assert!(
            !marker.exists(),
            "{}: the process ran before start",
            rt.name
        );
        let pid = sb.pid_of(&b.id);
        sb.cmd(&["start", &b.id]).expect_ok("start");
        assert!(
            wait_until(Duration::from_secs(5), || marker.exists()),
            "{}: never started",
            rt.name
        );
        assert_eq!(
            sb.pid_of(&b.id),
            pid,
            "{}: start must exec in the created pid",
            rt.name
        );
        assert_eq!(sb.status(&b.id), "running");
        sb.cmd(&["delete", "--force", &b.id])
            .expect_ok("delete --force");
    });
}

#[test]
fn run_detach_returns_with_the_container_running() {
    each_runtime("run_detach_returns_with_the_container_running", |rt| {
        let sb = Sandbox::new(rt);
        let mut b = sb.bundle();
        b.sh("echo detached-out; echo detached-err >&2; exec sleep 60");
        b.save();
        let pid_file = b.dir.join("run.pid");
        let o = sb.detached(
            &b,
            "run",
            &[
                "run",
                "--detach",
                "--bundle",
                b.path_str(),
                "--pid-file",
                pid_file.to_str().unwrap(),
                &b.id,
            ],
        );
        assert!(o.ok(), "{}: run --detach: {o:?}", rt.name);
        assert_eq!(sb.status(&b.id), "running", "{}", rt.name);
        let pid = sb.pid_of(&b.id);
        assert_eq!(read_trim(&pid_file), pid.to_string(), "{}", rt.name);
        // The container inherited the runtime's stdout and stderr.
        let out = b.dir.join("run.out");
        let err = b.dir.join("run.err");
        assert!(
            wait_until(Duration::from_secs(5), || std::fs::read_to_string(&out)
                .unwrap_or_default()
                == "detached-out\n"),
            "{}: stdout: {:?}",
            rt.name,
            std::fs::read_to_string(&out)
        );
        assert!(
            std::fs::read_to_string(&err)
                .unwrap()
                .contains("detached-err"),
            "{}",
            rt.name
        );
        sb.cmd(&["kill", &b.id, "KILL"]).expect_ok("kill");
        assert!(
            sb.wait_status(&b.id, "stopped", Duration::from_secs(5)),
            "{}",
            rt.name
        );
        sb.cmd(&["delete", &b.id]).expect_ok("delete");
    });
}

#[test]
fn list_json_matches_runc() {
    compare_with_runc("list_json_matches_runc", |rt| {
        let sb = Sandbox::new(rt);
        // No containers yet: runc prints `null`; an empty array is as good.
        let o = sb.cmd(&["list", "--format", "json"]).expect_ok("list");
        let empty: Value = serde_json::from_str(o.stdout.trim()).unwrap_or(json!("unparsable"));
        assert!(
            empty.is_null() || empty == json!([]),
            "{}: empty list: {:?}",
            rt.name,
            o.stdout
        );

        let a = sleeper(&sb);
        let b = sleeper(&sb);
        sb.create(&a).expect_ok("create a");
        sb.start_container(&b);
        let o = sb.cmd(&["list", "--format", "json"]).expect_ok("list");
        let list: Vec<Value> = serde_json::from_str(&o.stdout).unwrap();
        assert_eq!(list.len(), 2, "{}: {}", rt.name, o.stdout);
        let find = |id: &str| list.iter().find(|c| c["id"] == id).cloned().unwrap();
        let (ca, cb) = (find(&a.id), find(&b.id));
        assert_eq!(ca["status"], "created");
        assert_eq!(cb["status"], "running");
        assert_eq!(cb["pid"].as_i64().unwrap(), sb.pid_of(&b.id));
        assert_eq!(cb["bundle"], b.path_str());

        // Table and quiet forms.
        let table = sb.cmd(&["list"]).expect_ok("list").stdout;
        let header: Vec<&str> = table
            .lines()
            .next()
            .unwrap_or_default()
            .split_whitespace()
            .collect();
        assert_eq!(
            header,
            ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"],
            "{}",
            rt.name
        );
        assert!(
            table.contains(&a.id) && table.contains(&b.id),
            "{}: {table}",
            rt.name
        );
        let quiet = sb.cmd(&["list", "-q"]).expect_ok("list -q").stdout;
        let mut ids: Vec<&str> = quiet.lines().collect();
        ids.sort();
        let mut want = vec![a.id.as_str(), b.id.as_str()];
        want.sort();
        assert_eq!(ids, want, "{}", rt.name);
        keys(&cb)
    });
}

#[test]
fn ps_json_lists_host_pids() {
    each_runtime("ps_json_lists_host_pids", |rt| {
        let sb = Sandbox::new(rt);
        let b = sleeper(&sb);
        let pid = sb.start_container(&b);
        let ps = |sb: &Sandbox| -> Vec<i64> {
            let o = sb.cmd(&["ps", "--format", "json", &b.id]).expect_ok("ps");
            let mut v: Vec<i64> = serde_json::from_str(&o.stdout).unwrap();
            v.sort();
            v
        };
        assert_eq!(ps(&sb), vec![pid], "{}", rt.name);
        let exec_pid_file = b.dir.join("exec.pid");
        sb.detached(
            &b,
            "exec",
            &[
                "exec",
                "--detach",
                "--pid-file",
                exec_pid_file.to_str().unwrap(),
                &b.id,
                "sleep",
                "60",
            ],
        )
        .expect_ok("exec --detach");
        let exec_pid: i64 = read_trim(&exec_pid_file).parse().unwrap();
        let mut want = vec![pid, exec_pid];
        want.sort();
        assert_eq!(ps(&sb), want, "{}", rt.name);
        assert!(
            cgroup_pids(&b.id).contains(&exec_pid),
            "{}: exec'd process outside the cgroup",
            rt.name
        );
        let table = sb.cmd(&["ps", &b.id]).expect_ok("ps").stdout;
        assert!(
            table.lines().next().unwrap_or_default().contains("PID"),
            "{}: {table}",
            rt.name
        );
        sb.cmd(&["delete", "--force", &b.id])
            .expect_ok("delete --force");
        assert!(
            !pid_alive(exec_pid),
            "{}: delete --force left the exec'd process",
            rt.name
        );
    });
}

#[test]
fn kill_delivers_the_named_signal() {
    each_runtime("kill_delivers_the_named_signal", |rt| {
        let sb = Sandbox::new(rt);
        // No signal argument means SIGTERM, as in runc.
        for sig in [
            Some("TERM"),
            Some("SIGTERM"),
            Some("15"),
            None,
            Some("USR1"),
        ] {
            let mut b = sb.bundle();
            b.sh("trap 'echo TERM > /tmp/sig; exit 3' TERM; trap 'echo USR1 > /tmp/sig; exit 4' USR1; while :; do sleep 0.05; done");
            sb.start_container(&b);
            let mut args = vec!["kill", b.id.as_str()];
            args.extend(sig);
            sb.cmd(&args).expect_ok("kill");
            assert!(
                sb.wait_status(&b.id, "stopped", Duration::from_secs(5)),
                "{}: {sig:?}",
                rt.name
            );
            let want = if sig == Some("USR1") { "USR1" } else { "TERM" };
            assert_eq!(
                read_trim(&b.host_path("/tmp/sig")),
                want,
                "{}: {sig:?}",
                rt.name
            );
            sb.cmd(&["delete", &b.id]).expect_ok("delete");
        }
    });
}

#[test]
fn kill_all_reaches_processes_outside_a_pid_namespace() {
    each_runtime("kill_all_reaches_processes_outside_a_pid_namespace", |rt| {
        let sb = Sandbox::new(rt);
        let mut b = sb.bundle();
        // Without a pid namespace, killing the init leaves its children running: only
        // `kill --all` (every pid in the cgroup) stops them all.
        b.remove_namespace("pid")
            .sh("sleep 60 & sleep 60 & sleep 60 & wait");
        sb.start_container(&b);
        assert!(
            wait_until(Duration::from_secs(5), || cgroup_pids(&b.id).len() >= 4),
            "{}",
            rt.name
        );
        let pids = cgroup_pids(&b.id);
        sb.cmd(&["kill", "--all", &b.id, "KILL"])
            .expect_ok("kill --all");
        assert!(
            wait_until(Duration::from_secs(5), || pids
                .iter()
                .all(|p| !pid_alive(*p))),
            "{}: survivors of kill --all: {:?}",
            rt.name,
            cgroup_pids(&b.id)
        );
        assert!(
            sb.wait_status(&b.id, "stopped", Duration::from_secs(5)),
            "{}",
            rt.name
        );
        sb.cmd(&["delete", &b.id]).expect_ok("delete");
    });
}

#[test]
fn delete_removes_cgroups_state_and_process() {
    each_runtime("delete_removes_cgroups_state_and_process", |rt| {
        let sb = Sandbox::new(rt);
        let mut b = sleeper(&sb);
        b.resource("memory", json!({ "limit": 67108864 }))
            .resource("pids", json!({ "limit": 50 }));
        // A created container.
        sb.create(&b).expect_ok("create");
        let pid = sb.pid_of(&b.id);
        assert!(
            !cgroup_dirs(&b.id).is_empty(),
            "{}: no cgroup dirs for a created container",
            rt.name
        );
        assert_eq!(
            read_trim(&cgroup_file(
                &b.id,
                ("memory", "memory.limit_in_bytes"),
                "memory.max"
            )),
            "67108864"
        );
        sb.cmd(&["delete", "--force", &b.id])
            .expect_ok("delete --force (created)");
        assert!(
            sb.leftovers(&b.id).is_empty(),
            "{}: {:?}",
            rt.name,
            sb.leftovers(&b.id)
        );
        assert!(
            wait_until(Duration::from_secs(5), || !pid_alive(pid)),
            "{}: init survived",
            rt.name
        );

        // A running container: plain delete refuses, --force removes it.
        let b = sleeper(&sb);
        let pid = sb.start_container(&b);
        let o = sb.cmd(&["delete", &b.id]);
        assert_eq!(
            o.code, 1,
            "{}: delete of a running container: {o:?}",
            rt.name
        );
        assert!(
            pid_alive(pid) && sb.status(&b.id) == "running",
            "{}",
            rt.name
        );
        sb.cmd(&["delete", "--force", &b.id])
            .expect_ok("delete --force (running)");
        assert!(
            sb.leftovers(&b.id).is_empty(),
            "{}: {:?}",
            rt.name,
            sb.leftovers(&b.id)
        );
        assert!(
            wait_until(Duration::from_secs(5), || !pid_alive(pid)),
            "{}: init survived",
            rt.name
        );
    });
}

#[test]
fn wrong_states_and_unknown_ids_exit_1() {
    each_runtime("wrong_states_and_unknown_ids_exit_1", |rt| {
        let sb = Sandbox::new(rt);
        for args in [
            vec!["state", "no-such-ctr"],
            vec!["start", "no-such-ctr"],
            vec!["kill", "no-such-ctr", "KILL"],
            vec!["delete", "no-such-ctr"],
            vec!["pause", "no-such-ctr"],
            vec!["exec", "no-such-ctr", "true"],
        ] {
            let o = sb.cmd(&args);
            // runc's exec exits 255 on its own errors; every other command exits 1.
            let want = if args[0] == "exec" { 255 } else { 1 };
            assert_eq!(o.code, want, "{}: {args:?}: {o:?}", rt.name);
            assert!(
                o.stderr.contains("does not exist"),
                "{}: {args:?}: {o:?}",
                rt.name
            );
        }
        let b = sleeper(&sb);
        sb.start_container(&b);
        let o = sb.cmd(&["start", &b.id]);
        assert_eq!(o.code, 1, "{}: start twice: {o:?}", rt.name);
        let o = sb.cmd(&["resume", &b.id]);
        assert_eq!(
            o.code, 1,
            "{}: resume of a running container: {o:?}",
            rt.name
        );
        let o = sb.detached(&b, "dup", &["create", "--bundle", b.path_str(), &b.id]);
        assert_eq!(o.code, 1, "{}: duplicate id: {o:?}", rt.name);
        assert!(
            o.stderr.contains("exists"),
            "{}: duplicate id: {o:?}",
            rt.name
        );
        sb.cmd(&["kill", &b.id, "KILL"]).expect_ok("kill");
        assert!(sb.wait_status(&b.id, "stopped", Duration::from_secs(5)));
        let o = sb.cmd(&["kill", &b.id, "KILL"]);
        assert_eq!(o.code, 1, "{}: kill of a stopped container: {o:?}", rt.name);
        let o = sb.exec(&b.id, &["true"]);
        assert_eq!(
            o.code, 255,
            "{}: exec in a stopped container: {o:?}",
            rt.name
        );
        sb.cmd(&["delete", &b.id]).expect_ok("delete");
        let o = sb.cmd(&["delete", &b.id]);
        assert_eq!(o.code, 1, "{}: delete twice: {o:?}", rt.name);
        // delete --force of an unknown id succeeds quietly in runc (idempotent clean-up).
        let o = sb.cmd(&["delete", "--force", "no-such-ctr"]);
        assert_eq!(
            o.code, 0,
            "{}: delete --force of an unknown id: {o:?}",
            rt.name
        );
    });
}

#[test]
fn exec_options() {
    compare_with_runc("exec_options", |rt| {
        let sb = Sandbox::new(rt);
        let mut b = sleeper(&sb);
        b.set("/process/env", json!(["PATH=/bin", "FROM_CONFIG=1"]));
        sb.start_container(&b);
        let mut seen = Vec::new();
        // --env adds to the container's environment, --cwd and --user apply.
        let o = sb.cmd(&[
            "exec",
            "--env",
            "FOO=bar",
            "--cwd",
            "/tmp",
            "--user",
            "1000:1000",
            &b.id,
            "sh",
            "-c",
            "echo $FOO $FROM_CONFIG; pwd; id",
        ]);
        assert_eq!(o.code, 0, "{}: {o:?}", rt.name);
        assert_eq!(
            o.stdout, "bar 1\n/tmp\nuid=1000 gid=1000\n",
            "{}: {o:?}",
            rt.name
        );
        seen.push(o.stdout);
        // The exit code passes through.
        let o = sb.exec(&b.id, &["sh", "-c", "exit 7"]);
        assert_eq!(o.code, 7, "{}: {o:?}", rt.name);
        // The exec'd process has the container's capabilities.
        let o = sb.exec(&b.id, &["grep", "CapEff", "/proc/self/status"]);
        assert_eq!(
            o.stdout.trim(),
            format!("CapEff:\t{DEFAULT_CAPS_HEX}"),
            "{}: {o:?}",
            rt.name
        );
        seen.push(o.stdout);
        // --process takes a whole process.json.
        let process = b.dir.join("process.json");
        std::fs::write(
            &process,
            json!({
                "terminal": false,
                "user": { "uid": 0, "gid": 0 },
                "args": ["sh", "-c", "echo from-process-json $X; pwd"],
                "env": ["PATH=/bin", "X=42"],
                "cwd": "/etc"
            })
            .to_string(),
        )
        .unwrap();
        let o = sb.cmd(&["exec", "--process", process.to_str().unwrap(), &b.id]);
        assert_eq!(
            o.stdout, "from-process-json 42\n/etc\n",
            "{}: {o:?}",
            rt.name
        );
        seen.push(o.stdout);
        // exec's own failures exit 255 (runc), so they differ from any process exit code.
        let o = sb.exec(&b.id, &["/no/such/binary"]);
        assert_eq!(o.code, 255, "{}: {o:?}", rt.name);
        sb.cmd(&["delete", "--force", &b.id])
            .expect_ok("delete --force");
        seen
    });
}

#[test]
fn update_changes_the_cgroup_limits() {
    each_runtime("update_changes_the_cgroup_limits", |rt| {
        if cgroup_v2() {
            eprintln!("SKIP: this test reads cgroup v1 files");
            return;
        }
        let sb = Sandbox::new(rt);
        let b = sleeper(&sb);
        sb.start_container(&b);
        sb.cmd(&[
            "update",
            "--memory",
            "67108864",
            "--memory-swap",
            "134217728",
            "--cpu-quota",
            "50000",
            "--cpu-period",
            "100000",
            "--pids-limit",
            "9",
            &b.id,
        ])
        .expect_ok("update");
        let cg = |ctrl: &str, file: &str| read_trim(&cgroup_file(&b.id, (ctrl, file), ""));
        assert_eq!(
            cg("memory", "memory.limit_in_bytes"),
            "67108864",
            "{}",
            rt.name
        );
        assert_eq!(
            cg("memory", "memory.memsw.limit_in_bytes"),
            "134217728",
            "{}",
            rt.name
        );
        assert_eq!(cg("cpu", "cpu.cfs_quota_us"), "50000", "{}", rt.name);
        assert_eq!(cg("cpu", "cpu.cfs_period_us"), "100000", "{}", rt.name);
        assert_eq!(cg("pids", "pids.max"), "9", "{}", rt.name);
        // --resources reads a linux.resources JSON document ("-" would be stdin).
        let res = b.dir.join("resources.json");
        std::fs::write(&res, json!({ "pids": { "limit": 11 } }).to_string()).unwrap();
        sb.cmd(&["update", "--resources", res.to_str().unwrap(), &b.id])
            .expect_ok("update -r");
        assert_eq!(cg("pids", "pids.max"), "11", "{}", rt.name);
        sb.cmd(&["delete", "--force", &b.id])
            .expect_ok("delete --force");
    });
}

#[test]
fn events_stats_reports_cgroup_usage() {
    each_runtime("events_stats_reports_cgroup_usage", |rt| {
        let sb = Sandbox::new(rt);
        let mut b = sleeper(&sb);
        b.resource("memory", json!({ "limit": 67108864 }));
        sb.start_container(&b);
        let o = sb
            .cmd(&["events", "--stats", &b.id])
            .expect_ok("events --stats");
        let ev: Value = serde_json::from_str(o.stdout.trim())
            .unwrap_or_else(|e| panic!("{}: {e}: {o:?}", rt.name));
        assert_eq!(ev["type"], "stats", "{}", rt.name);
        assert_eq!(ev["id"], b.id.as_str(), "{}", rt.name);
        let data = &ev["data"];
        assert!(
            data["memory"]["usage"]["usage"].as_u64().unwrap_or(0) > 0,
            "{}: {ev}",
            rt.name
        );
        assert_eq!(
            data["memory"]["usage"]["limit"].as_u64(),
            Some(67108864),
            "{}: {ev}",
            rt.name
        );
        assert!(
            data["cpu"]["usage"]["total"].as_u64().unwrap_or(0) > 0,
            "{}: {ev}",
            rt.name
        );
        assert!(
            data["pids"]["current"].as_u64().unwrap_or(0) >= 1,
            "{}: {ev}",
            rt.name
        );
        sb.cmd(&["delete", "--force", &b.id])
            .expect_ok("delete --force");
    });
}

/// Turns a `spec` config into one the harness can run: no terminal, our args and cgroup path.
fn runnable_spec(dir: &Path, id: &str, args: &[&str]) {
    let path = dir.join("config.json");
    let mut v: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    v["process"]["terminal"] = json!(false);
    v["process"]["args"] = json!(args);
    v["linux"]["cgroupsPath"] = json!(cgroups_path(id));
    std::fs::write(path, v.to_string()).unwrap();
}

#[test]
fn spec_writes_a_config_that_run_accepts() {
    each_runtime("spec_writes_a_config_that_run_accepts", |rt| {
        let sb = Sandbox::new(rt);
        let b = sb.bundle();
        sb.cmd(&["spec", "--bundle", b.path_str()])
            .expect_ok("spec");
        let text = std::fs::read_to_string(b.dir.join("config.json")).unwrap();
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["root"]["path"], "rootfs", "{}", rt.name);
        assert!(v["ociVersion"].is_string(), "{}", rt.name);
        // A second spec refuses to overwrite.
        let o = sb.cmd(&["spec", "--bundle", b.path_str()]);
        assert_ne!(o.code, 0, "{}: spec overwrote config.json", rt.name);
        assert_eq!(
            std::fs::read_to_string(b.dir.join("config.json")).unwrap(),
            text
        );
        // The default spec has a read-only root: the container still runs.
        runnable_spec(
            &b.dir,
            &b.id,
            &[
                "sh",
                "-c",
                "echo from-spec; touch /x 2>/dev/null || echo ro-root",
            ],
        );
        let o = sb.cmd(&["run", "--bundle", b.path_str(), &b.id]);
        assert_eq!(
            (o.code, o.stdout.as_str()),
            (0, "from-spec\nro-root\n"),
            "{}: {o:?}",
            rt.name
        );

        // --rootless: a user namespace with mappings, no network namespace of its own.
        let dir = sb.dir.path().join("rootless");
        std::fs::create_dir(&dir).unwrap();
        sb.cmd(&["spec", "--rootless", "--bundle", dir.to_str().unwrap()])
            .expect_ok("spec --rootless");
        let v: Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("config.json")).unwrap())
                .unwrap();
        let ns: Vec<&str> = v["linux"]["namespaces"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|n| n["type"].as_str())
            .collect();
        assert!(ns.contains(&"user"), "{}: {ns:?}", rt.name);
        assert!(!ns.contains(&"network"), "{}: {ns:?}", rt.name);
        assert!(
            !v["linux"]["uidMappings"].as_array().unwrap().is_empty(),
            "{}",
            rt.name
        );
        assert!(
            !v["linux"]["gidMappings"].as_array().unwrap().is_empty(),
            "{}",
            rt.name
        );
    });
}

#[test]
fn failing_prestart_hook_aborts_and_leaves_nothing() {
    each_runtime("failing_prestart_hook_aborts_and_leaves_nothing", |rt| {
        let sb = Sandbox::new(rt);
        let mut b = sb.bundle();
        let marker = b.dir.join("ran");
        b.sh(&format!("touch /tmp/ran-{}", b.id)).hook(
            "prestart",
            "/bin/sh",
            &["sh", "-c", "exit 3"],
        );
        let o = sb.run(&b);
        assert_ne!(o.code, 0, "{}: {o:?}", rt.name);
        assert!(
            !b.host_path(&format!("/tmp/ran-{}", b.id)).exists(),
            "{}: the process ran",
            rt.name
        );
        assert!(!marker.exists());
        assert!(
            sb.leftovers(&b.id).is_empty(),
            "{}: {:?}",
            rt.name,
            sb.leftovers(&b.id)
        );
    });
}

#[test]
fn hook_state_has_status_bundle_and_pid() {
    each_runtime("hook_state_has_status_bundle_and_pid", |rt| {
        let sb = Sandbox::new(rt);
        let mut b = sb.bundle();
        // Alive for a while, so poststart sees a running process (with `true` it may already
        // be gone, and the state then says stopped with no pid, in runc too).
        b.args(&["sleep", "0.5"]);
        let dir = b.dir.display().to_string();
        for kind in ["createRuntime", "prestart", "poststart", "poststop"] {
            b.hook(
                kind,
                "/bin/sh",
                &["sh", "-c", &format!("cat > {dir}/{kind}.json")],
            );
        }
        let o = sb.run(&b);
        assert_eq!(o.code, 0, "{}: {o:?}", rt.name);
        // runc 1.1 says "creating" before start and "created" (berth: "running") in poststart.
        for (kind, statuses) in [
            ("createRuntime", &["creating"][..]),
            ("prestart", &["creating", "created"][..]),
            ("poststart", &["created", "running"][..]),
            ("poststop", &["stopped"][..]),
        ] {
            let text = std::fs::read_to_string(b.dir.join(format!("{kind}.json"))).unwrap();
            let v: Value = serde_json::from_str(&text).unwrap();
            assert_eq!(v["id"], b.id.as_str(), "{}: {kind}: {text}", rt.name);
            assert_eq!(v["bundle"], b.path_str(), "{}: {kind}: {text}", rt.name);
            assert!(v["ociVersion"].is_string(), "{}: {kind}: {text}", rt.name);
            let status = v["status"].as_str().unwrap_or_default();
            assert!(statuses.contains(&status), "{}: {kind}: {text}", rt.name);
            if kind != "poststop" {
                assert!(
                    v["pid"].as_i64().unwrap_or(0) > 0,
                    "{}: {kind}: {text}",
                    rt.name
                );
            }
        }
    });
}

#[test]
fn exec_keeps_the_containers_seccomp_filter() {
    compare_with_runc("exec_keeps_the_containers_seccomp_filter", |rt| {
        let sb = Sandbox::new(rt);
        let profile = json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{ "names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO" }]
        });
        let bundles: Vec<Bundle> = (0..2)
            .map(|_| {
                let mut b = sleeper(&sb);
                b.seccomp(profile.clone());
                sb.start_container(&b);
                b
            })
            .collect();
        let mut seen = Vec::new();
        for b in &bundles {
            let o = sb.exec(&b.id, &["sh", "-c", "mkdir /tmp/x; echo $?"]);
            assert!(
                o.stderr.contains("Operation not permitted"),
                "{}: {o:?}",
                rt.name
            );
            seen.push(o.stdout);
        }
        // berth keeps one copy of a profile its containers share, gone with the last of them.
        let shared = sb.root.join("@seccomp");
        let count = || std::fs::read_dir(&shared).map_or(0, |d| d.count());
        if rt.name == "berth" {
            assert_eq!(count(), 1, "one shared profile");
        }
        for b in &bundles {
            sb.cmd(&["delete", "--force", &b.id])
                .expect_ok("delete --force");
        }
        if rt.name == "berth" {
            assert_eq!(count(), 0, "the profile outlived its containers");
        }
        seen
    });
}
