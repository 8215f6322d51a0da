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

/// berth runs the init on another CPU while it makes the cgroup (create.rs); the process
/// must still start with the CPUs it would have had.
#[test]
fn cpu_affinity_matches_runc() {
    let out = compare_with_runc("cpu_affinity_matches_runc", |rt| {
        let o = run_sh(rt, "grep Cpus_allowed_list /proc/self/status", |_| {});
        assert_eq!(o.code, 0, "{}", o.stderr);
        o.stdout
    });
    if let Some(allowed) = out {
        let ours = std::fs::read_to_string("/proc/self/status").unwrap();
        let ours = ours.lines().find(|l| l.starts_with("Cpus_allowed_list"));
        assert_eq!(allowed.trim(), ours.unwrap().trim());
    }
}

/// linux.devices: nodes made with their type, numbers, mode and owner, one in a directory
/// /dev does not have yet; a listed node is not usable unless the device rules allow it
/// (under deny-all only runc's defaults are), while /dev/net/tun is one of the defaults;
/// /dev/console cannot be made and used.
#[test]
fn configured_devices_match_runc() {
    let out = compare_with_runc("configured_devices_match_runc", |rt| {
        let o = run_sh(
            rt,
            "stat -c '%n %F %t:%T %a %u:%g' /dev/net/tun /dev/loop-control; \
             head -c 1 /dev/loop-control >/dev/null 2>&1 || echo loop-control denied; \
             mknod /dev/console2 c 5 1 && (echo x > /dev/console2) 2>/dev/null || echo console denied",
            |b| {
                b.set(
                    "/linux/devices",
                    json!([
                        { "path": "/dev/net/tun", "type": "c", "major": 10, "minor": 200,
                          "fileMode": 0o620, "uid": 1000, "gid": 5 },
                        { "path": "/dev/loop-control", "type": "c", "major": 10, "minor": 237,
                          "fileMode": 0o600 }
                    ]),
                );
            },
        );
        (o.code, o.stdout, o.stderr)
    });
    if let Some((code, stdout, stderr)) = out {
        assert_eq!(code, 0, "{stderr}");
        assert_eq!(
            stdout,
            "/dev/net/tun character special file a:c8 620 1000:5\n\
             /dev/loop-control character special file a:ed 600 0:0\n\
             loop-control denied\nconsole denied\n"
        );
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
            b.user_ns(100000, 100000);
        });
        assert_eq!(o.code, 0, "{}", o.stderr);
        let words: Vec<&str> = o.stdout.split_whitespace().collect();
        assert_eq!(words, ["0", "100000", "65536", "0"], "{}", o.stdout);
    });
}

#[test]
fn run_passes_exit_code_and_stdio_through() {
    compare_with_runc("run_passes_exit_code_and_stdio_through", |rt| {
        let o = run_sh(rt, "echo to-stdout; echo to-stderr >&2; exit 7", |_| {});
        assert_eq!(o.code, 7, "{}: {o:?}", rt.name);
        assert_eq!(o.stdout, "to-stdout\n", "{}: {o:?}", rt.name);
        assert!(o.stderr.contains("to-stderr"), "{}: {o:?}", rt.name);
        // Killed by a signal: 128 + signal number. (Outside a pid namespace: the init of a
        // pid namespace cannot SIGKILL itself.)
        let o = run_sh(rt, "kill -9 $$", |b| {
            b.remove_namespace("pid");
        });
        assert_eq!(o.code, 137, "{}: {o:?}", rt.name);
        o.code
    });
}

#[test]
fn default_capabilities_are_the_docker_14() {
    each_runtime("default_capabilities_are_the_docker_14", |rt| {
        let o = run_sh(
            rt,
            "grep -E '^Cap(Inh|Prm|Eff|Bnd|Amb)' /proc/self/status",
            |_| {},
        );
        assert_eq!(o.code, 0, "{}: {o:?}", rt.name);
        for (field, want) in [
            ("CapPrm", DEFAULT_CAPS_HEX),
            ("CapEff", DEFAULT_CAPS_HEX),
            ("CapBnd", DEFAULT_CAPS_HEX),
            ("CapInh", "0000000000000000"),
            ("CapAmb", "0000000000000000"),
        ] {
            assert!(
                o.stdout.contains(&format!("{field}:\t{want}\n")),
                "{}: {field}: {}",
                rt.name,
                o.stdout
            );
        }
        // A non-root user keeps the bounding set but has no effective capabilities.
        let o = run_sh(rt, "grep -E '^Cap(Eff|Bnd)' /proc/self/status", |b| {
            b.user(1000, 1000, &[]);
        });
        assert_eq!(
            o.stdout,
            format!("CapEff:\t0000000000000000\nCapBnd:\t{DEFAULT_CAPS_HEX}\n"),
            "{}",
            rt.name
        );
    });
}

#[test]
fn masked_paths_read_empty_and_readonly_paths_refuse_writes() {
    each_runtime(
        "masked_paths_read_empty_and_readonly_paths_refuse_writes",
        |rt| {
            // Only the masked paths this kernel has (no /proc/kcore here, for one).
            let exists = |p: &&&str| std::path::Path::new(**p).exists();
            let files: Vec<&str> = [
                "/proc/kcore",
                "/proc/keys",
                "/proc/timer_list",
                "/proc/sched_debug",
            ]
            .iter()
            .filter(exists)
            .copied()
            .collect();
            let dirs: Vec<&str> = ["/proc/acpi", "/proc/scsi", "/sys/firmware"]
                .iter()
                .filter(exists)
                .copied()
                .collect();
            let mut script = String::new();
            for f in &files {
                script += &format!("echo \"{f} $(cat {f} 2>/dev/null | wc -c)\"; ");
            }
            for d in &dirs {
                script += &format!("echo \"{d} $(ls -A {d} 2>/dev/null | wc -l)\"; ");
                script += &format!("mkdir {d}/x 2>/dev/null && echo \"{d} writable\"; ");
            }
            // Whatever masks them leaves nothing else behind in /dev.
            script += "ls -A /dev | grep -i mask; ";
            script += "{ echo 1 > /proc/sys/vm/drop_caches; } 2>&1; echo \"write=$?\"";
            let o = run_sh(rt, &script, |_| {});
            assert_eq!(o.code, 0, "{}: {o:?}", rt.name);
            for p in files.iter().chain(dirs.iter()) {
                assert!(
                    o.stdout.lines().any(|l| l == format!("{p} 0")),
                    "{}: {p} is not masked: {}",
                    rt.name,
                    o.stdout
                );
            }
            assert!(
                !o.stdout.contains("writable") && !o.stdout.contains("mask"),
                "{}: {}",
                rt.name,
                o.stdout
            );
            assert!(
                o.stdout.contains("write=1"),
                "{}: /proc/sys writable: {}",
                rt.name,
                o.stdout
            );
            assert!(
                o.stdout.contains("Read-only file system"),
                "{}: {}",
                rt.name,
                o.stdout
            );
        },
    );
}

#[test]
fn seccomp_errno_ret_and_default_action() {
    each_runtime("seccomp_errno_ret_and_default_action", |rt| {
        // errnoRet picks the errno (2 = ENOENT) ...
        let o = run_sh(rt, "mkdir /tmp/x", |b| {
            b.seccomp(json!({
                "defaultAction": "SCMP_ACT_ALLOW",
                "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
                "syscalls": [{ "names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 2 }]
            }));
        });
        assert_ne!(o.code, 0, "{}: {o:?}", rt.name);
        assert!(
            o.stderr.contains("No such file or directory"),
            "{}: {o:?}",
            rt.name
        );
        // ... and a default of ERRNO with an allow-list denies everything else.
        let o = run_sh(rt, "echo still-here; uname -n", |b| {
            b.seccomp(json!({
                "defaultAction": "SCMP_ACT_ALLOW",
                "syscalls": [{ "names": ["uname"], "action": "SCMP_ACT_ERRNO" }]
            }));
        });
        assert!(o.stdout.contains("still-here"), "{}: {o:?}", rt.name);
        assert!(
            !o.stdout.contains("berth-test"),
            "{}: uname was allowed: {o:?}",
            rt.name
        );
    });
}

#[test]
fn env_cwd_and_hard_rlimit() {
    compare_with_runc("env_cwd_and_hard_rlimit", |rt| {
        let o = run_sh(
            rt,
            "echo \"$GREETING\"; pwd; ulimit -n; ulimit -Hn; grep NoNewPrivs /proc/self/status",
            |b| {
                b.set("/process/env", json!(["PATH=/bin", "GREETING=hello world"]))
                    .set("/process/cwd", json!("/tmp"))
                    .set(
                        "/process/rlimits",
                        json!([{ "type": "RLIMIT_NOFILE", "soft": 1234, "hard": 1300 }]),
                    );
            },
        );
        assert_eq!(o.code, 0, "{}: {o:?}", rt.name);
        assert_eq!(
            o.stdout, "hello world\n/tmp\n1234\n1300\nNoNewPrivs:\t0\n",
            "{}: {o:?}",
            rt.name
        );
        o.stdout
    });
}

#[test]
fn masked_directories_make_no_filesystem_of_their_own() {
    // Every superblock costs kernel memory, and a slot in each memory cgroup of the host.
    // runc mounts a tmpfs on each masked directory; berth binds one removed directory of the
    // container's /dev tmpfs instead, so they all share /dev's filesystem.
    if !can_run("masked_directories_make_no_filesystem_of_their_own") {
        return;
    }
    let rt = Runtime::under_test();
    if rt.is_runc() {
        eprintln!("SKIP masked_directories_make_no_filesystem_of_their_own: berth's own way");
        return;
    }
    let dirs: Vec<&str> = ["/proc/acpi", "/proc/scsi", "/sys/firmware"]
        .into_iter()
        .filter(|p| std::path::Path::new(p).is_dir())
        .collect();
    if dirs.is_empty() {
        eprintln!("SKIP masked_directories_make_no_filesystem_of_their_own: none here");
        return;
    }
    let o = run_sh(&rt, &format!("stat -c %d /dev {}", dirs.join(" ")), |_| {});
    assert_eq!(o.code, 0, "{o:?}");
    let devs: Vec<&str> = o.stdout.lines().collect();
    assert_eq!(devs.len(), dirs.len() + 1, "{o:?}");
    assert!(devs.iter().all(|d| *d == devs[0]), "{dirs:?}: {o:?}");
}
