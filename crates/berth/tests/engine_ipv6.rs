//! Dual-stack user networks through the real docker CLI: `--ipv6` with an IPv6 subnet (or
//! a unique-local /64 picked by berth), `--ip6`, IPv6 between containers, AAAA answers,
//! masquerade out over IPv6, and a published port reached over IPv6 from an "outside"
//! netns, the container seeing the client's real address.

mod engine;

use engine::{eventually, fails, stderr, stdout, Daemon, Outside, WHO};
use std::time::Duration;

#[test]
fn dual_stack_networks_work_through_the_docker_cli() {
    if !engine::usable() {
        return;
    }
    let d = Daemon::start();
    d.ok(&[
        "network",
        "create",
        "--ipv6",
        "--subnet",
        "10.78.0.0/24",
        "--subnet",
        "fd00:78::/64",
        "-o",
        "com.docker.network.bridge.name=bt-v6",
        "v6net",
    ]);
    let f = d.ok(&[
        "network",
        "inspect",
        "-f",
        "{{.EnableIPv6}} {{range .IPAM.Config}}{{.Subnet}}/{{.Gateway}} {{end}}",
        "v6net",
    ]);
    assert_eq!(
        f, "true 10.78.0.0/24/10.78.0.1 fd00:78::/64/fd00:78::1",
        "{f}"
    );
    let bridge = stdout(&d.ns(&["ip", "-o", "-6", "addr", "show", "dev", "bt-v6"]));
    assert!(bridge.contains("fd00:78::1/64"), "{bridge}");

    d.ok(&[
        "run",
        "-d",
        "--name",
        "web6",
        "--network",
        "v6net",
        "--ip6",
        "fd00:78::10",
        "busybox",
        "sh",
        "-c",
        WHO,
    ]);
    let got = d.ok(&[
        "inspect",
        "-f",
        "{{.NetworkSettings.Networks.v6net.GlobalIPv6Address}}/{{.NetworkSettings.Networks.v6net.GlobalIPv6PrefixLen}} {{.NetworkSettings.Networks.v6net.IPv6Gateway}}",
        "web6",
    ]);
    assert_eq!(got, "fd00:78::10/64 fd00:78::1");
    let listed = d.ok(&[
        "network",
        "inspect",
        "-f",
        "{{range .Containers}}{{.IPv6Address}}{{end}}",
        "v6net",
    ]);
    assert_eq!(listed, "fd00:78::10/64");
    let inside = d.ok(&["exec", "web6", "busybox", "ip", "-6", "route"]);
    assert!(inside.contains("default via fd00:78::1"), "{inside}");
    let hosts = d.ok(&["exec", "web6", "cat", "/etc/hosts"]);
    assert!(hosts.contains("fd00:78::10\t"), "{hosts}");

    // another container reaches it over IPv6, by address and by name (AAAA)
    let by_addr = d.docker(&[
        "run",
        "--rm",
        "--network",
        "v6net",
        "busybox",
        "busybox",
        "timeout",
        "3",
        "wget",
        "-qO-",
        "http://[fd00:78::10]/cgi-bin/ip",
    ]);
    assert!(
        stdout(&by_addr).trim().starts_with("[fd00:78::"),
        "IPv6 between containers: {} {}",
        stdout(&by_addr),
        stderr(&by_addr)
    );
    let aaaa = d.docker(&[
        "run",
        "--rm",
        "--network",
        "v6net",
        "busybox",
        "busybox",
        "nslookup",
        "-type=AAAA",
        "web6.",
    ]);
    assert!(
        stdout(&aaaa).contains("fd00:78::10"),
        "AAAA of web6: {} {}",
        stdout(&aaaa),
        stderr(&aaaa)
    );
    let a = d.docker(&[
        "run",
        "--rm",
        "--network",
        "v6net",
        "busybox",
        "busybox",
        "nslookup",
        "web6.",
    ]);
    assert!(stdout(&a).contains("10.78.0."), "A of web6: {}", stdout(&a));

    // clear errors
    fails(
        &d.docker(&[
            "run",
            "--rm",
            "--network",
            "v6net",
            "--ip6",
            "fd00:99::5",
            "busybox",
            "true",
        ]),
        "no configured subnet contains IP address fd00:99::5",
    );
    fails(
        &d.docker(&[
            "run",
            "--rm",
            "--network",
            "v6net",
            "--ip6",
            "fd00:78::10",
            "busybox",
            "true",
        ]),
        "already in use",
    );
    d.ok(&["network", "create", "--subnet", "10.79.0.0/24", "v4only"]);
    fails(
        &d.docker(&[
            "run",
            "--rm",
            "--network",
            "v4only",
            "--ip6",
            "fd00:78::11",
            "busybox",
            "true",
        ]),
        "not IPv6-enabled",
    );
    fails(
        &d.docker(&[
            "network",
            "create",
            "--ipv6",
            "--subnet",
            "fd00:78:0:0:1::/80",
            "clash",
        ]),
        "Pool overlaps",
    );
    // without a subnet, berth picks a unique-local /64
    d.ok(&["network", "create", "--ipv6", "v6auto"]);
    let auto = d.ok(&[
        "network",
        "inspect",
        "-f",
        "{{range .IPAM.Config}}{{.Subnet}} {{end}}",
        "v6auto",
    ]);
    assert!(auto.contains(" fd") && auto.ends_with("::/64"), "{auto}");

    // removal leaves no IPv6 address, route or set element behind
    d.ok(&["rm", "-f", "web6"]);
    d.ok(&["network", "rm", "v6net", "v6auto", "v4only"]);
    let routes = stdout(&d.ns(&["ip", "-6", "route"]));
    assert!(!routes.contains("fd00:78::"), "{routes}");
    let sets = stdout(&d.ns(&["nft", "list", "set", "inet", "berth", "nets6"]));
    assert!(!sets.contains("fd00:78::"), "{sets}");
}

#[test]
fn ipv6_goes_out_masqueraded_and_published_ports_answer_over_ipv6() {
    if !engine::usable() {
        return;
    }
    let d = Daemon::start();
    let outside = Outside::new(&d);
    // A server out there that answers with the address it sees.
    let _server = outside.peer_server("2001:db8:77::2");
    d.ok(&[
        "network",
        "create",
        "--ipv6",
        "--subnet",
        "10.76.0.0/24",
        "--subnet",
        "fd00:76::/64",
        "out6",
    ]);
    let said = d.docker(&[
        "run",
        "--rm",
        "--network",
        "out6",
        "busybox",
        "sh",
        "-c",
        "nc -w 3 2001:db8:77::2 8000 </dev/null",
    ]);
    assert_eq!(
        stdout(&said).trim(),
        "2001:db8:77::1",
        "the outside server should see the host's IPv6 address: {}",
        stderr(&said)
    );

    d.ok(&[
        "run",
        "-d",
        "--name",
        "pub6",
        "--network",
        "out6",
        "-p",
        "8086:80",
        "busybox",
        "sh",
        "-c",
        WHO,
    ]);
    let from_outside = || outside.fetch("http://[2001:db8:77::1]:8086/cgi-bin/ip");
    assert!(
        eventually(Duration::from_secs(5), || from_outside()
            .contains("2001:db8:77::2")),
        "the published port should answer over IPv6 with the client's real address: {}",
        from_outside()
    );
    // after rm, the IPv6 map has no element left and the port no longer answers
    d.ok(&["rm", "-f", "pub6"]);
    let map = stdout(&d.ns(&["nft", "list", "map", "inet", "berth", "pub_any6"]));
    assert!(!map.contains("elements"), "{map}");
    assert!(!from_outside().contains("2001:db8:77::2"));
    d.ok(&["network", "rm", "out6"]);
}

#[test]
fn the_berth_cli_makes_dual_stack_networks_too() {
    if !engine::usable() {
        return;
    }
    let d = Daemon::start();
    d.berth(&[
        "network",
        "create",
        "--ipv6",
        "--subnet",
        "10.75.0.0/24",
        "--subnet",
        "fd00:75::/64",
        "b6",
    ]);
    let cfg = d.berth(&[
        "network",
        "inspect",
        "-f",
        "{{.EnableIPv6}} {{range .IPAM.Config}}{{.Subnet}} {{end}}",
        "b6",
    ]);
    assert_eq!(cfg, "true 10.75.0.0/24 fd00:75::/64");
    d.berth(&[
        "run",
        "-d",
        "--name",
        "b6a",
        "--network",
        "b6",
        "--ip6",
        "fd00:75::20",
        "busybox",
        "sleep",
        "600",
    ]);
    d.berth(&[
        "run",
        "-d",
        "--name",
        "b6b",
        "--network",
        "b6",
        "busybox",
        "sleep",
        "600",
    ]);
    let ip6 = d.berth(&[
        "inspect",
        "-f",
        "{{.NetworkSettings.Networks.b6.GlobalIPv6Address}}",
        "b6a",
    ]);
    assert_eq!(ip6, "fd00:75::20");
    // b6b got the next IPv6 address and pings b6a by its IPv6 address
    let ip6b = d.berth(&[
        "inspect",
        "-f",
        "{{.NetworkSettings.Networks.b6.GlobalIPv6Address}}",
        "b6b",
    ]);
    assert!(ip6b.starts_with("fd00:75::") && ip6b != ip6, "{ip6b}");
    d.berth(&[
        "exec",
        "b6b",
        "busybox",
        "ping",
        "-6",
        "-c",
        "1",
        "-W",
        "2",
        "fd00:75::20",
    ]);
    d.berth(&["rm", "-f", "b6a", "b6b"]);
    d.berth(&["network", "rm", "b6"]);
}
