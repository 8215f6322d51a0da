//! What a process sees inside a container, the same under berth and runc on one bundle.

mod common;
use common::*;
use serde_json::json;

fn run_sh(rt: &Runtime, script: &str, tweak: impl Fn(&mut Bundle)) -> Output {
    let sb = Sandbox::new(rt);
    let mut b = sb.bundle();
    b.sh(script);
    tweak(&mut b);
    sb.run(&b)
}

#[test]
fn pid_1_hostname_and_ids() {
    let out = compare_with_runc("pid_1_hostname_and_ids", |rt| {
        let o = run_sh(rt, "echo $$; hostname; id", |b| {
            b.hostname("berth-test-host").user(1000, 1000, &[10]);
        });
        (o.code, o.stdout)
    });
    if let Some((code, stdout)) = out {
        assert_eq!(code, 0);
        assert_eq!(stdout, "1\nberth-test-host\nuid=1000 gid=1000 groups=10\n");
    }
}

#[test]
fn capabilities_match_runc() {
    let out = compare_with_runc("capabilities_match_runc", |rt| {
        let o = run_sh(
            rt,
            "grep -E '^Cap(Inh|Prm|Eff|Bnd|Amb)' /proc/self/status",
            |_| {},
        );
        assert_eq!(o.code, 0, "{}", o.stderr);
        o.stdout
    });
    if let Some(caps) = out {
        assert!(caps.contains("CapEff:\t"), "{caps}");
    }
}

#[test]
fn mount_table_and_masked_paths_match_runc() {
    let out = compare_with_runc("mount_table_and_masked_paths_match_runc", |rt| {
        let o = run_sh(
            rt,
            "awk '{print $2, $3}' /proc/self/mounts | grep -v '^/sys/fs/cgroup'; wc -c < /proc/kcore; echo 1 > /proc/sys/kernel/domainname 2>/dev/null || echo procsys-ro",
            |_| {},
        );
        (o.code, o.stdout)
    });
    if let Some((_, stdout)) = out {
        assert!(stdout.contains("/proc proc"), "{stdout}");
        assert!(stdout.contains("/dev/pts devpts"), "{stdout}");
        assert!(stdout.contains("procsys-ro"), "{stdout}");
    }
}

#[test]
fn readonly_root_refuses_writes() {
    each_runtime("readonly_root_refuses_writes", |rt| {
        let o = run_sh(rt, "touch /x", |b| {
            b.readonly_root();
        });
        assert_ne!(o.code, 0);
        assert!(o.stderr.contains("Read-only file system"), "{}", o.stderr);
    });
}

#[test]
fn seccomp_rule_returns_eperm() {
    each_runtime("seccomp_rule_returns_eperm", |rt| {
        let o = run_sh(rt, "mkdir /tmp/x; echo done", |b| {
            b.seccomp(json!({
                "defaultAction": "SCMP_ACT_ALLOW",
                "syscalls": [{ "names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO" }]
            }));
        });
        assert!(o.stderr.contains("Operation not permitted"), "{}", o.stderr);
        assert_eq!(o.stdout, "done\n");
    });
}

#[test]
fn rlimits_nnp_oom_score_and_sysctl() {
    let out = compare_with_runc("rlimits_nnp_oom_score_and_sysctl", |rt| {
        let o = run_sh(
            rt,
            "ulimit -n; grep NoNewPrivs /proc/self/status; cat /proc/self/oom_score_adj; cat /proc/sys/net/ipv4/ip_forward",
            |b| {
                b.set("/process/rlimits", json!([{ "type": "RLIMIT_NOFILE", "soft": 1234, "hard": 1234 }]))
                    .set("/process/noNewPrivileges", json!(true))
                    .set("/process/oomScoreAdj", json!(500))
                    .set("/linux/sysctl", json!({ "net.ipv4.ip_forward": "1" }));
            },
        );
        (o.code, o.stdout)
    });
    if let Some((code, stdout)) = out {
        assert_eq!(code, 0);
        assert_eq!(stdout, "1234\nNoNewPrivs:\t1\n500\n1\n");
    }
}

#[test]
fn user_namespace_mapping() {
    each_runtime("user_namespace_mapping", |rt| {
        let o = run_sh(rt, "cat /proc/self/uid_map; id -u", |b| {
            b.namespace("user", None)
                .set(
                    "/linux/uidMappings",
                    json!([{ "containerID": 0, "hostID": 100000, "size": 65536 }]),
                )
                .set(
                    "/linux/gidMappings",
                    json!([{ "containerID": 0, "hostID": 100000, "size": 65536 }]),
                );
        });
        assert_eq!(o.code, 0, "{}", o.stderr);
        let words: Vec<&str> = o.stdout.split_whitespace().collect();
        assert_eq!(words, ["0", "100000", "65536", "0"], "{}", o.stdout);
    });
}
