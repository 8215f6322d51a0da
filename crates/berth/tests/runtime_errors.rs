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
        b.namespace("user", None)
            .set(
                "/linux/uidMappings",
                json!([{ "containerID": 0, "hostID": 4294967000u64, "size": 65536 }]),
            )
            .set(
                "/linux/gidMappings",
                json!([{ "containerID": 0, "hostID": 100000, "size": 65536 }]),
            );
    });
}

#[test]
fn executable_not_found() {
    expect_clear_failure("executable_not_found", "executable", |b| {
        b.args(&["/no/such/binary"]);
    });
}
