//! User networks through the real docker CLI: create/inspect/ls/rm with subnet, gateway,
//! ip-range, bridge name, MTU, labels and internal; static IPs and MACs; isolation between
//! networks; connect/disconnect of a running container; masquerade to an "outside" netns.

mod engine;

use engine::{eventually, fails, stderr, stdout, Daemon, Kill, Outside, WHO};
use std::time::Duration;

/// The daemon's view of a link: `ip -o addr show DEV` and `ip -o link show DEV`.
fn link(d: &Daemon, dev: &str) -> String {
    let a = d.ns(&["ip", "-o", "addr", "show", "dev", dev]);
    let l = d.ns(&["ip", "-o", "link", "show", "dev", dev]);
    format!("{}{}", stdout(&a), stdout(&l))
}

/// Whether `from` (a container) reaches `ip:80` over TCP within 2 s.
fn reaches(d: &Daemon, from: &str, ip: &str) -> bool {
    let o = d.docker(&[
        "exec",
        from,
        "busybox",
        "timeout",
        "2",
        "wget",
        "-qO-",
        &format!("http://{ip}/index.html"),
    ]);
    o.status.success() && stdout(&o).contains("hi")
}

fn web(d: &Daemon, name: &str, extra: &[&str]) {
    let mut args = vec!["run", "-d", "--name", name];
    args.extend_from_slice(extra);
    args.extend_from_slice(&[
        "busybox",
        "sh",
        "-c",
        "echo hi > /index.html; httpd -f -p 80 -h /",
    ]);
    d.ok(&args);
}

#[test]
fn user_networks_are_created_inspected_listed_and_removed() {
    if !engine::usable() {
        return;
    }
    let d = Daemon::start();
    let id = d.ok(&[
        "network",
        "create",
        "--subnet",
        "10.77.0.0/24",
        "--gateway",
        "10.77.0.254",
        "--ip-range",
        "10.77.0.128/25",
        "-o",
        "com.docker.network.bridge.name=bt-u1",
        "-o",
        "com.docker.network.driver.mtu=1400",
        "--label",
        "team=net",
        "u1",
    ]);
    assert_eq!(id.len(), 64, "{id}");
    let f = d.ok(&[
        "network",
        "inspect",
        "-f",
        "{{.Driver}} {{range .IPAM.Config}}{{.Subnet}} {{.Gateway}} {{.IPRange}}{{end}} {{index .Labels \"team\"}} {{.Internal}}",
        "u1",
    ]);
    assert_eq!(
        f,
        "bridge 10.77.0.0/24 10.77.0.254 10.77.0.128/25 net false"
    );
    // The kernel's view: the bridge with the gateway address and the MTU.
    let l = link(&d, "bt-u1");
    assert!(
        l.contains("10.77.0.254/24") && l.contains("mtu 1400"),
        "{l}"
    );
    let ls = d.ok(&["network", "ls", "--format", "{{.Name}} {{.Driver}}"]);
    for want in ["bridge bridge", "host host", "none null", "u1 bridge"] {
        let want = if want == "none null" {
            "none none"
        } else {
            want
        };
        assert!(ls.lines().any(|l| l == want), "{want} missing in:\n{ls}");
    }
    assert_eq!(
        d.ok(&["network", "ls", "-q", "--filter", "label=team=net"]),
        id[..12]
    );

    // A container takes its address from the ip-range, its interface the MTU.
    d.ok(&[
        "run",
        "-d",
        "--name",
        "c1",
        "--network",
        "u1",
        "busybox",
        "sleep",
        "600",
    ]);
    let ip = d.ok(&[
        "inspect",
        "-f",
        "{{(index .NetworkSettings.Networks \"u1\").IPAddress}}",
        "c1",
    ]);
    let last: u8 = ip.rsplit('.').next().unwrap().parse().unwrap();
    assert!(ip.starts_with("10.77.0.") && last >= 128, "{ip}");
    let inside = d.ok(&["exec", "c1", "cat", "/sys/class/net/eth0/mtu"]);
    assert_eq!(inside, "1400");
    let eps = d.ok(&[
        "network",
        "inspect",
        "-f",
        "{{range .Containers}}{{.Name}} {{.IPv4Address}}{{end}}",
        "u1",
    ]);
    assert_eq!(eps, format!("c1 {ip}/24"));

    // Refusals, worded clearly.
    fails(&d.docker(&["network", "rm", "u1"]), "has active endpoints");
    fails(
        &d.docker(&["network", "rm", "bridge"]),
        "pre-defined network and cannot be removed",
    );
    fails(
        &d.docker(&["network", "create", "u1"]),
        "network with name u1 already exists",
    );
    fails(
        &d.docker(&["network", "create", "--subnet", "10.77.0.64/26", "u2"]),
        "Pool overlaps with other one on this address space",
    );
    fails(
        &d.docker(&["network", "create", "-d", "nosuchdriver", "u3"]),
        "plugin \"nosuchdriver\" not found",
    );
    fails(
        &d.docker(&[
            "network",
            "create",
            "--subnet",
            "10.78.0.0/24",
            "--gateway",
            "10.78.0.255",
            "u4",
        ]),
        "gateway 10.78.0.255 is not a host address of subnet 10.78.0.0/24",
    );
    fails(
        &d.docker(&[
            "run",
            "--rm",
            "--network",
            "u1",
            "--ip",
            "10.99.0.5",
            "busybox",
            "true",
        ]),
        "no configured subnet contains IP address 10.99.0.5",
    );
    fails(
        &d.docker(&["run", "--rm", "--ip", "172.30.0.5", "busybox", "true"]),
        "user specified IP address is supported on user defined networks only",
    );
    // A /30 holds one container besides the gateway.
    d.ok(&["network", "create", "--subnet", "10.78.9.0/30", "tiny"]);
    d.ok(&[
        "run",
        "-d",
        "--name",
        "t1",
        "--network",
        "tiny",
        "busybox",
        "sleep",
        "600",
    ]);
    fails(
        &d.docker(&["run", "--rm", "--network", "tiny", "busybox", "true"]),
        "no available IPv4 addresses",
    );
    d.ok(&["rm", "-f", "t1"]);
    d.ok(&["run", "--rm", "--network", "tiny", "busybox", "true"]);

    // Removal leaves no bridge; prune takes what nothing uses.
    d.ok(&["rm", "-f", "c1"]);
    d.ok(&["network", "rm", "u1"]);
    let gone = d.ns(&["ip", "link", "show", "dev", "bt-u1"]);
    assert!(!gone.status.success(), "bridge bt-u1 is still there");
    d.ok(&["network", "create", "p1"]);
    let pruned = d.ok(&["network", "prune", "-f"]);
    assert!(pruned.contains("p1") && pruned.contains("tiny"), "{pruned}");
    let ls = d.ok(&["network", "ls", "--format", "{{.Name}}"]);
    assert_eq!(ls.lines().count(), 3, "{ls}");
}

#[test]
fn static_addresses_isolation_and_connect_disconnect() {
    if !engine::usable() {
        return;
    }
    let d = Daemon::start();
    d.ok(&["network", "create", "--subnet", "10.81.0.0/24", "na"]);
    d.ok(&["network", "create", "--subnet", "10.82.0.0/24", "nb"]);
    web(
        &d,
        "a1",
        &[
            "--network",
            "na",
            "--ip",
            "10.81.0.10",
            "--mac-address",
            "02:42:aa:bb:cc:01",
        ],
    );
    d.ok(&[
        "run",
        "-d",
        "--name",
        "a2",
        "--network",
        "na",
        "busybox",
        "sleep",
        "600",
    ]);
    d.ok(&[
        "run",
        "-d",
        "--name",
        "b1",
        "--network",
        "nb",
        "busybox",
        "sleep",
        "600",
    ]);
    d.ok(&["run", "-d", "--name", "d1", "busybox", "sleep", "600"]);
    assert_eq!(
        d.ok(&["exec", "a1", "cat", "/sys/class/net/eth0/address"]),
        "02:42:aa:bb:cc:01"
    );
    let addr = d.ok(&[
        "exec", "a1", "busybox", "ip", "-o", "-4", "addr", "show", "eth0",
    ]);
    assert!(addr.contains("10.81.0.10/24"), "{addr}");
    // Same network: ICMP and TCP.
    assert!(
        eventually(Duration::from_secs(5), || reaches(&d, "a2", "10.81.0.10")),
        "a2 cannot reach a1 on their network"
    );
    let ping = d.docker(&[
        "exec",
        "a2",
        "busybox",
        "ping",
        "-c",
        "1",
        "-W",
        "2",
        "10.81.0.10",
    ]);
    assert!(ping.status.success(), "ping a2 -> a1: {}", stdout(&ping));
    // Other networks: nothing crosses.
    assert!(!reaches(&d, "b1", "10.81.0.10"), "nb reached na");
    assert!(
        !reaches(&d, "d1", "10.81.0.10"),
        "the default bridge reached na"
    );
    // The same address twice is refused.
    fails(
        &d.docker(&[
            "run",
            "--rm",
            "--network",
            "na",
            "--ip",
            "10.81.0.10",
            "busybox",
            "true",
        ]),
        "address 10.81.0.10 is already in use",
    );

    // Connect b1 to na with a static address and an alias: a second interface, and it
    // reaches a1; disconnect takes both away again.
    d.ok(&[
        "network",
        "connect",
        "--ip",
        "10.81.0.50",
        "--alias",
        "bee",
        "na",
        "b1",
    ]);
    let addrs = d.ok(&["exec", "b1", "cat", "/proc/net/dev"]);
    assert!(addrs.contains("eth1"), "{addrs}");
    let nets = d.ok(&[
        "inspect",
        "-f",
        "{{range $k, $v := .NetworkSettings.Networks}}{{$k}}={{$v.IPAddress}} {{end}}",
        "b1",
    ]);
    assert!(
        nets.contains("na=10.81.0.50") && nets.contains("nb=10.82.0."),
        "{nets}"
    );
    assert!(
        eventually(Duration::from_secs(5), || reaches(&d, "b1", "10.81.0.10")),
        "connected b1 cannot reach a1"
    );
    fails(
        &d.docker(&["network", "connect", "na", "b1"]),
        "already exists in network na",
    );
    d.ok(&["network", "disconnect", "na", "b1"]);
    let addrs = d.ok(&["exec", "b1", "cat", "/proc/net/dev"]);
    assert!(!addrs.contains("eth1"), "{addrs}");
    assert!(
        !reaches(&d, "b1", "10.81.0.10"),
        "disconnected b1 still reaches na"
    );
    // The address is free again.
    d.ok(&[
        "run",
        "--rm",
        "--network",
        "na",
        "--ip",
        "10.81.0.50",
        "busybox",
        "true",
    ]);

    // A stopped container connected to a second network joins it at start.
    d.ok(&[
        "create",
        "--name",
        "s1",
        "--network",
        "nb",
        "busybox",
        "sleep",
        "600",
    ]);
    d.ok(&["network", "connect", "na", "s1"]);
    d.ok(&["start", "s1"]);
    assert!(
        eventually(Duration::from_secs(5), || reaches(&d, "s1", "10.81.0.10")),
        "s1 did not join na at start"
    );
    d.ok(&["rm", "-f", "a1", "a2", "b1", "d1", "s1"]);
    d.ok(&["network", "rm", "na", "nb"]);
    let left = d.ns(&["ip", "-o", "link", "show"]);
    assert!(
        !stdout(&left).contains("vb"),
        "veths left: {}",
        stdout(&left)
    );
}

#[test]
fn outbound_is_masqueraded_and_internal_networks_stay_inside() {
    if !engine::usable() {
        return;
    }
    let d = Daemon::start();
    let outside = Outside::new(&d);
    // A server out there that answers with the address it sees.
    let _server = outside.peer_server("198.51.100.2");

    d.ok(&["network", "create", "--subnet", "10.83.0.0/24", "open"]);
    d.ok(&[
        "network",
        "create",
        "--internal",
        "--subnet",
        "10.84.0.0/24",
        "sealed",
    ]);
    let said = d.docker(&[
        "run",
        "--rm",
        "--network",
        "open",
        "busybox",
        "sh",
        "-c",
        "nc -w 3 198.51.100.2 8000 </dev/null",
    ]);
    assert_eq!(
        stdout(&said).trim(),
        "198.51.100.1",
        "the outside server should see the host's address: {}",
        stderr(&said)
    );
    let sealed = d.docker(&[
        "run",
        "--rm",
        "--network",
        "sealed",
        "busybox",
        "sh",
        "-c",
        "nc -w 2 198.51.100.2 8000 </dev/null",
    ]);
    assert!(
        stdout(&sealed).trim().is_empty(),
        "an internal network reached out: {}",
        stdout(&sealed)
    );
    // Published ports on a user network: the outside client (whose real address the
    // container sees), the host's own 127.0.0.1, and a container via the host (hairpin).
    // (UDP publishing: engine_network_scale.rs, with python3 from the host in a container.)
    d.ok(&[
        "run",
        "-d",
        "--name",
        "pub",
        "--network",
        "open",
        "-p",
        "8081:80",
        "busybox",
        "sh",
        "-c",
        WHO,
    ]);
    let from_outside = || outside.fetch("http://198.51.100.1:8081/cgi-bin/ip");
    assert!(
        eventually(Duration::from_secs(5), || from_outside()
            .contains("198.51.100.2")),
        "the published port should answer the outside client and show its real address: {:?} {} {}",
        from_outside(),
        d.ok(&["exec", "pub", "cat", "/w/cgi-bin/ip"]),
        d.ok(&["logs", "pub"]),
    );
    let local = d.ns(&[
        "busybox",
        "timeout",
        "3",
        "busybox",
        "wget",
        "-qO-",
        "http://127.0.0.1:8081/cgi-bin/ip",
    ]);
    assert!(
        !stdout(&local).trim().is_empty(),
        "127.0.0.1:8081: {}",
        stderr(&local)
    );
    let hairpin = d.docker(&[
        "run",
        "--rm",
        "--network",
        "open",
        "busybox",
        "busybox",
        "timeout",
        "3",
        "wget",
        "-qO-",
        "http://198.51.100.1:8081/cgi-bin/ip",
    ]);
    assert!(
        !stdout(&hairpin).trim().is_empty(),
        "hairpin: {}",
        stderr(&hairpin)
    );
    d.ok(&["rm", "-f", "pub"]);

    // Inside an internal network, containers still talk.
    web(&d, "in1", &["--network", "sealed", "--ip", "10.84.0.20"]);
    d.ok(&[
        "run",
        "-d",
        "--name",
        "in2",
        "--network",
        "sealed",
        "busybox",
        "sleep",
        "600",
    ]);
    if !eventually(Duration::from_secs(5), || reaches(&d, "in2", "10.84.0.20")) {
        let o = d.docker(&[
            "exec",
            "in2",
            "wget",
            "-qO-",
            "http://10.84.0.20/index.html",
        ]);
        let r = d.ns(&["nft", "list", "ruleset"]);
        panic!(
            "containers of an internal network cannot talk: {} {}\n{}",
            stdout(&o),
            stderr(&o),
            stdout(&r)
        );
    }
    assert_eq!(
        d.ok(&["network", "inspect", "-f", "{{.Internal}}", "sealed"]),
        "true"
    );
    d.ok(&["rm", "-f", "in1", "in2"]);
    d.ok(&["network", "rm", "open", "sealed"]);
    d.ns(&["ip", "link", "del", "bt-up"]);
}

/// A tiny upstream DNS server (the outside world's): A for example.org is 203.0.113.7,
/// everything else NXDOMAIN.
const FAKE_UPSTREAM: &str = r#"
import socket, struct
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("198.51.100.2", 53))
while True:
    q, peer = s.recvfrom(512)
    qid, flags, qd = struct.unpack(">HHH", q[:6])
    end = 12
    while q[end] != 0:
        end += q[end] + 1
    question = q[12:end + 5]
    known = b"\x07example\x03org\x00" in question and question[-4:-2] == b"\x00\x01"
    if known:
        hdr = struct.pack(">HHHHHH", qid, 0x8180, 1, 1, 0, 0)
        ans = b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 60, 4) + bytes([203, 0, 113, 7])
    else:
        hdr = struct.pack(">HHHHHH", qid, 0x8183, 1, 0, 0, 0)
        ans = b""
    s.sendto(hdr + question + ans, peer)
"#;

/// busybox nslookup tries only the first search domain, so names are asked absolute.
fn lookup(d: &Daemon, from: &str, name: &str) -> String {
    let o = d.docker(&["exec", from, "busybox", "nslookup", &format!("{name}.")]);
    format!("{}{}", stdout(&o), stderr(&o))
}

#[test]
fn containers_resolve_each_other_by_name_and_alias_and_other_names_upstream() {
    if !engine::usable() {
        return;
    }
    let mut d = Daemon::start();
    // An outside world with an upstream resolver; the daemon's resolv.conf points at it.
    let outside = Outside::new(&d);
    let _upstream = Kill(
        outside
            .cmd(&["python3", "-c", FAKE_UPSTREAM])
            .spawn()
            .unwrap(),
    );
    let conf = d.dir.path().join("resolv.conf");
    std::fs::write(&conf, "nameserver 198.51.100.2\nsearch example.test\n").unwrap();
    d.kill_daemon();
    let o = d.ns(&[
        "mount",
        "--bind",
        conf.to_str().unwrap(),
        "/etc/resolv.conf",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    d.spawn_daemon();

    d.ok(&["network", "create", "--subnet", "10.85.0.0/24", "dn"]);
    d.ok(&["network", "create", "--subnet", "10.86.0.0/24", "other"]);
    web(
        &d,
        "web",
        &[
            "--network",
            "dn",
            "--network-alias",
            "www",
            "--ip",
            "10.85.0.10",
        ],
    );
    d.ok(&[
        "run",
        "-d",
        "--name",
        "cli",
        "--network",
        "dn",
        "busybox",
        "sleep",
        "600",
    ]);
    d.ok(&[
        "run",
        "-d",
        "--name",
        "far",
        "--network",
        "other",
        "busybox",
        "sleep",
        "600",
    ]);
    let resolv = d.ok(&["exec", "cli", "cat", "/etc/resolv.conf"]);
    assert!(resolv.contains("nameserver 10.85.0.1"), "{resolv}");
    // By name, alias, short id; and a real connection by name.
    let id = d.ok(&["inspect", "-f", "{{.Id}}", "web"]);
    for name in ["web", "www", "WEB", &id[..12]] {
        let got = lookup(&d, "cli", name);
        assert!(got.contains("10.85.0.10"), "{name}: {got}");
    }
    assert!(reaches(&d, "cli", "www"), "cli cannot fetch http://www/");
    // Names stay on their network.
    let got = lookup(&d, "far", "web");
    assert!(
        !got.contains("10.85.0.10"),
        "another network resolved web: {got}"
    );
    // Other names go upstream.
    let got = lookup(&d, "cli", "example.org");
    assert!(got.contains("203.0.113.7"), "upstream: {got}");
    // Renames, connects, disconnects and stops are seen at once.
    d.ok(&["rename", "web", "web2"]);
    assert!(lookup(&d, "cli", "web2").contains("10.85.0.10"));
    d.ok(&["network", "connect", "--alias", "bridgehead", "dn", "far"]);
    let far_ip = d.ok(&[
        "inspect",
        "-f",
        "{{(index .NetworkSettings.Networks \"dn\").IPAddress}}",
        "far",
    ]);
    assert!(lookup(&d, "cli", "bridgehead").contains(&far_ip));
    assert!(
        lookup(&d, "far", "web2").contains("10.85.0.10"),
        "far on dn resolves web2"
    );
    d.ok(&["network", "disconnect", "dn", "far"]);
    assert!(!lookup(&d, "cli", "bridgehead").contains(&far_ip));
    d.ok(&["stop", "-t", "1", "web2"]);
    assert!(!lookup(&d, "cli", "web2").contains("10.85.0.10"));
    // After a daemon restart, running containers' names are back.
    d.ok(&["start", "web2"]);
    d.kill_daemon();
    d.spawn_daemon();
    assert!(lookup(&d, "cli", "www").contains("10.85.0.10"));
    d.ok(&["rm", "-f", "web2", "cli", "far"]);
    d.ok(&["network", "rm", "dn", "other"]);
    d.ns(&["ip", "link", "del", "bt-up"]);
}

#[test]
fn a_deleted_firewall_table_is_put_back_with_its_elements() {
    if !engine::usable() {
        return;
    }
    let d = Daemon::start();
    web(&d, "fw", &["-p", "8082:80"]);
    let fetch = || {
        let o = d.ns(&[
            "timeout",
            "3",
            "busybox",
            "wget",
            "-qO-",
            "http://127.0.0.1:8082/index.html",
        ]);
        stdout(&o).contains("hi")
    };
    assert!(eventually(Duration::from_secs(5), fetch), "published port");
    // Someone's firewall reload: berth's table is gone, then a chain loses its rules.
    for cmd in [
        &["nft", "delete", "table", "inet", "berth"][..],
        &["nft", "flush", "chain", "inet", "berth", "prerouting"],
    ] {
        let o = d.ns(cmd);
        assert!(o.status.success(), "{cmd:?}: {}", stderr(&o));
        let back = eventually(Duration::from_secs(5), || {
            let t = stdout(&d.ns(&["nft", "list", "table", "inet", "berth"]));
            t.contains(": 172.") && t.contains("dnat") && fetch()
        });
        assert!(
            back,
            "after {cmd:?} the table did not come back: {}",
            stdout(&d.ns(&["nft", "list", "table", "inet", "berth"]))
        );
    }
    d.ok(&["rm", "-f", "fw"]);
}

#[test]
fn the_berth_cli_drives_networks_too() {
    if !engine::usable() {
        return;
    }
    let d = Daemon::start();
    let id = d.berth(&[
        "network",
        "create",
        "--subnet",
        "10.87.0.0/24",
        "--label",
        "by=berth",
        "bn",
    ]);
    assert_eq!(id.len(), 64, "{id}");
    let ls = d.berth(&["network", "ls", "--format", "{{.Name}} {{.Driver}}"]);
    assert!(ls.lines().any(|l| l == "bn bridge"), "{ls}");
    assert_eq!(
        d.berth(&[
            "network",
            "inspect",
            "-f",
            "{{range .IPAM.Config}}{{.Subnet}}{{end}}",
            "bn"
        ]),
        "10.87.0.0/24"
    );
    d.berth(&[
        "run",
        "-d",
        "--name",
        "bweb",
        "--network",
        "bn",
        "--ip",
        "10.87.0.9",
        "--network-alias",
        "site",
        "busybox",
        "sh",
        "-c",
        "echo hi > /index.html; httpd -f -p 80 -h /",
    ]);
    d.berth(&["run", "-d", "--name", "bcli", "busybox", "sleep", "600"]);
    d.berth(&["network", "connect", "bn", "bcli"]);
    assert!(
        eventually(Duration::from_secs(5), || reaches(&d, "bcli", "site")),
        "bcli, connected with the berth CLI, cannot reach site by name"
    );
    d.berth(&["network", "disconnect", "bn", "bcli"]);
    assert!(!reaches(&d, "bcli", "10.87.0.9"), "still connected");
    d.berth(&["rm", "-f", "bweb", "bcli"]);
    d.berth(&["network", "rm", "bn"]);
    let ls = d.berth(&["network", "ls", "-q"]);
    assert_eq!(ls.lines().count(), 3, "{ls}");
}
