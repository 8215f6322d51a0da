//! Bad configs: a clear error naming the problem, no panic, and nothing left behind.

mod common;
use common::*;
use serde_json::json;

fn expect_clear_failure(test: &str, keyword: &str, break_it: impl Fn(&mut Bundle)) {
    under_test_only(test, |rt| {
        let sb = Sandbox::new(rt);
        let mut b = sb.bundle();
        b.args(&["true"]);
        break_it(&mut b);
        if !b.config.is_null() {
            b.save();
        }
        let o = sb.cmd(&["run", "--bundle", b.path_str(), &b.id]);
        assert_ne!(o.code, 0, "{o:?}");
        assert!(!o.stderr.contains("panicked"), "{o:?}");
        assert!(
            o.stderr.to_lowercase().contains(keyword),
            "wanted {keyword:?}: {o:?}"
        );
        assert!(sb.leftovers(&b.id).is_empty(), "{:?}", sb.leftovers(&b.id));
    });
}

#[test]
fn missing_rootfs() {
    expect_clear_failure("missing_rootfs", "rootfs", |b| {
        b.set("/root/path", json!("no-such-rootfs"));
    });
}

#[test]
fn unknown_namespace() {
    expect_clear_failure("unknown_namespace", "namespace", |b| {
        b.set(
            "/linux/namespaces",
            json!([{ "type": "bogus" }, { "type": "mount" }]),
        );
    });
}

#[test]
fn invalid_json() {
    expect_clear_failure("invalid_json", "config.json", |b| {
        std::fs::write(b.dir.join("config.json"), "{ \"ociVersion\": ").unwrap();
        b.config = json!(null); // keep the harness from rewriting the broken file
    });
}

#[test]
fn impossible_uid_mapping() {
    expect_clear_failure("impossible_uid_mapping", "mapping", |b| {
        b.user_ns(4294967000u64, 100000);
    });
}

#[test]
fn executable_not_found() {
    expect_clear_failure("executable_not_found", "no such file or directory", |b| {
        b.args(&["/no/such/binary"]);
    });
}

#[test]
fn missing_hook_binary() {
    expect_clear_failure("missing_hook_binary", "hook", |b| {
        b.hook("prestart", "/no/such/hook", &["hook"]);
    });
}

#[test]
fn create_failures_leave_nothing_either() {
    under_test_only("create_failures_leave_nothing_either", |rt| {
        let sb = Sandbox::new(rt);
        let mut b = sb.bundle();
        b.args(&["true"]).set("/root/path", json!("no-such-rootfs"));
        let o = sb.create(&b);
        assert_ne!(o.code, 0, "{o:?}");
        assert!(!o.stderr.contains("panicked"), "{o:?}");
        assert!(o.stderr.contains("rootfs"), "{o:?}");
        assert!(sb.leftovers(&b.id).is_empty(), "{:?}", sb.leftovers(&b.id));
        let o = sb.cmd(&["list", "-q"]);
        assert!(!o.stdout.contains(&b.id), "{o:?}");
    });
}

#[test]
fn unknown_signal_is_refused_and_the_container_keeps_running() {
    under_test_only(
        "unknown_signal_is_refused_and_the_container_keeps_running",
        |rt| {
            let sb = Sandbox::new(rt);
            let mut b = sb.bundle();
            b.args(&["sleep", "60"]);
            let pid = sb.start_container(&b);
            let o = sb.cmd(&["kill", &b.id, "SIGBOGUS"]);
            assert_ne!(o.code, 0, "{o:?}");
            assert!(!o.stderr.contains("panicked"), "{o:?}");
            assert!(o.stderr.to_lowercase().contains("signal"), "{o:?}");
            assert!(pid_alive(pid));
            assert_eq!(sb.status(&b.id), "running");
            sb.cmd(&["delete", "--force", &b.id])
                .expect_ok("delete --force");
        },
    );
}

#[test]
fn invalid_process_json_for_exec() {
    under_test_only("invalid_process_json_for_exec", |rt| {
        let sb = Sandbox::new(rt);
        let mut b = sb.bundle();
        b.args(&["sleep", "60"]);
        sb.start_container(&b);
        let process = b.dir.join("process.json");
        std::fs::write(&process, "{ \"args\": ").unwrap();
        let o = sb.cmd(&["exec", "--process", process.to_str().unwrap(), &b.id]);
        assert_ne!(o.code, 0, "{o:?}");
        assert!(!o.stderr.contains("panicked"), "{o:?}");
        assert!(o.stderr.contains("process.json"), "{o:?}");
        assert_eq!(sb.status(&b.id), "running");
        sb.cmd(&["delete", "--force", &b.id])
            .expect_ok("delete --force");
    });
}
