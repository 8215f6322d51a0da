//! Namespaces from the config: joining a network namespace by path, a private netns with its
//! own sysctls, user-namespace id mappings, and the cgroup and pid namespaces.

mod common;
use common::*;
use serde_json::json;
use std::os::unix::fs::MetadataExt;
use std::process::Command;

fn run_sh(sb: &Sandbox, script: &str, tweak: impl FnOnce(&mut Bundle)) -> (Bundle, Output) {
    let mut b = sb.bundle();
    b.sh(script);
    tweak(&mut b);
    let o = sb.run(&b);
    (b, o)
}

/// Interface names listed in /proc/net/dev.
fn interfaces(proc_net_dev: &str) -> Vec<String> {
    let mut v: Vec<String> = proc_net_dev
        .lines()
        .filter(|l| !l.contains('|') && !l.contains('['))
        .filter_map(|l| l.split_once(':').map(|(name, _)| name.trim().to_owned()))
        .filter(|n| !n.contains(' ') && !n.is_empty())
        .collect();
    v.sort();
    v
}

#[test]
fn joins_a_network_namespace_by_path() {
    each_runtime("joins_a_network_namespace_by_path", |rt| {
        if Command::new("ip").arg("-V").output().is_err() {
            eprintln!("SKIP: no `ip` (iproute2) to make a network namespace");
            return;
        }
        let sb = Sandbox::new(rt);
        let ns = sb.netns();
        let ns_path = format!("/run/netns/{ns}");
        // A veth pair entirely inside the test netns: nothing touches the host's network.
        let o = run_with_timeout(
            Command::new("ip").args([
                "-n", &ns, "link", "add", "bt0", "type", "veth", "peer", "name", "bt1",
            ]),
            CMD_TIMEOUT,
        );
        assert!(o.ok(), "ip link add in {ns}: {o:?}");
        let inode = std::fs::metadata(&ns_path).unwrap().ino();
        let (_, o) = run_sh(&sb, "readlink /proc/self/ns/net; cat /proc/net/dev", |b| {
            b.namespace("network", Some(&ns_path));
        });
        assert_eq!(o.code, 0, "{}: {o:?}", rt.name);
        let first = o.stdout.lines().next().unwrap_or_default();
        assert_eq!(
            first,
            format!("net:[{inode}]"),
            "{}: not in {ns_path}",
            rt.name
        );
        assert_eq!(
            interfaces(&o.stdout),
            ["bt0", "bt1", "lo"],
            "{}: {}",
            rt.name,
            o.stdout
        );
    });
}

#[test]
fn private_network_namespace_has_only_loopback_and_it_is_up() {
    compare_with_runc("private_network_namespace_has_only_loopback", |rt| {
        let sb = Sandbox::new(rt);
        let host = std::fs::read_link("/proc/self/ns/net").unwrap();
        // lo is up (runc and crun bring it up), so a server on 127.0.0.1 answers.
        let (_, o) = run_sh(
            &sb,
            "readlink /proc/self/ns/net; cat /sys/class/net/lo/flags; \
             busybox nc -l -p 7070 -e busybox echo pong & sleep 0.2; \
             busybox nc 127.0.0.1 7070 </dev/null; wait; cat /proc/net/dev",
            |_| {},
        );
        assert_eq!(o.code, 0, "{}: {o:?}", rt.name);
        let mut lines = o.stdout.lines();
        assert_ne!(
            lines.next().unwrap_or_default(),
            host.to_str().unwrap(),
            "{}: shares the host netns",
            rt.name
        );
        let flags = lines.next().unwrap_or_default();
        let flags = u32::from_str_radix(flags.trim_start_matches("0x"), 16).unwrap_or(0);
        assert_eq!(flags & 1, 1, "{}: lo is down: {o:?}", rt.name);
        assert_eq!(lines.next(), Some("pong"), "{}: {o:?}", rt.name);
        interfaces(&o.stdout)
    });
}

#[test]
fn sysctl_applies_to_the_container_netns_only() {
    each_runtime("sysctl_applies_to_the_container_netns_only", |rt| {
        let sb = Sandbox::new(rt);
        let before = read_trim(std::path::Path::new("/proc/sys/net/ipv4/ip_forward"));
        let want = if before == "1" { "0" } else { "1" };
        let (_, o) = run_sh(
            &sb,
            "cat /proc/sys/net/ipv4/ip_forward; cat /proc/sys/net/ipv4/ip_default_ttl",
            |b| {
                b.set(
                    "/linux/sysctl",
                    json!({ "net.ipv4.ip_forward": want, "net.ipv4.ip_default_ttl": "42" }),
                );
            },
        );
        assert_eq!(o.code, 0, "{}: {o:?}", rt.name);
        assert_eq!(o.stdout, format!("{want}\n42\n"), "{}: {o:?}", rt.name);
        let after = read_trim(std::path::Path::new("/proc/sys/net/ipv4/ip_forward"));
        assert_eq!(before, after, "{}: the host's ip_forward changed", rt.name);
    });
}

#[test]
fn user_namespace_maps_root_to_an_unprivileged_host_uid() {
    each_runtime(
        "user_namespace_maps_root_to_an_unprivileged_host_uid",
        |rt| {
            if read_trim(std::path::Path::new("/proc/sys/user/max_user_namespaces")) == "0" {
                eprintln!("SKIP: user namespaces are disabled (max_user_namespaces = 0)");
                return;
            }
            let sb = Sandbox::new(rt);
            let (b, o) = run_sh(
                &sb,
                "cat /proc/self/uid_map /proc/self/gid_map; id -u; id -g; touch /tmp/owned",
                |b| {
                    b.user_ns(100000, 200000);
                },
            );
            assert_eq!(o.code, 0, "{}: {o:?}", rt.name);
            let words: Vec<&str> = o.stdout.split_whitespace().collect();
            assert_eq!(
                words,
                ["0", "100000", "65536", "0", "200000", "65536", "0", "0"],
                "{}: {o:?}",
                rt.name
            );
            // What the container's root creates belongs to the mapped host ids.
            let meta = std::fs::metadata(b.host_path("/tmp/owned")).unwrap();
            assert_eq!((meta.uid(), meta.gid()), (100000, 200000), "{}", rt.name);
        },
    );
}

#[test]
fn cgroup_namespace_hides_the_host_path() {
    each_runtime("cgroup_namespace_hides_the_host_path", |rt| {
        let sb = Sandbox::new(rt);
        let (b, o) = run_sh(&sb, "cat /proc/self/cgroup", |_| {});
        assert_eq!(o.code, 0, "{}: {o:?}", rt.name);
        assert!(
            !o.stdout.contains(&b.id),
            "{}: host cgroup path visible: {}",
            rt.name,
            o.stdout
        );
        for line in o
            .stdout
            .lines()
            .filter(|l| l.contains("memory") || l.contains("pids"))
        {
            assert!(line.ends_with(":/"), "{}: {line}", rt.name);
        }
        // Without the cgroup namespace, the path is the configured cgroupsPath.
        let (b, o) = run_sh(&sb, "cat /proc/self/cgroup", |b| {
            b.remove_namespace("cgroup");
        });
        assert_eq!(o.code, 0, "{}: {o:?}", rt.name);
        let mem = o
            .stdout
            .lines()
            .find(|l| l.contains(":memory:"))
            .unwrap_or_default()
            .to_owned();
        assert!(
            mem.ends_with(&cgroups_path(&b.id)),
            "{}: {}",
            rt.name,
            o.stdout
        );
    });
}

#[test]
fn pid_namespace_shows_only_the_container() {
    compare_with_runc("pid_namespace_shows_only_the_container", |rt| {
        let sb = Sandbox::new(rt);
        let (_, o) = run_sh(&sb, "ls -d /proc/[0-9]* | sort", |_| {});
        assert_eq!(o.code, 0, "{}: {o:?}", rt.name);
        // sh (pid 1), ls and sort: nothing of the host.
        let n = o.stdout.lines().count();
        assert!((1..=3).contains(&n), "{}: {}", rt.name, o.stdout);
        o.stdout.lines().next().map(str::to_owned)
    });
}
