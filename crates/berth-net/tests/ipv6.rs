//! Dual-stack bridge networks, in throw-away namespaces: IPv6 between containers, isolation,
//! masquerade out, published ports answering over IPv6 with the client's real address, and
//! nothing left after teardown.

mod support;

use std::net::SocketAddr;

use berth_net::{Protocol, DEFAULT_TABLE};
use support::*;

fn sock6(ip: &str, port: u16) -> SocketAddr {
    format!("[{ip}]:{port}").parse().unwrap()
}

#[test]
fn dual_stack_containers_talk_over_ipv6_and_nothing_crosses_networks() {
    if !root_or_skip() {
        return;
    }
    let w = World::new();
    let a = network6("6a", "10.96.0.0/24", "fd00:96::/64");
    let b = network6("6b", "10.97.0.0/24", "fd00:97::/64");
    let (c1, _) = w.container6(&a, "c61", "10.96.0.2", "fd00:96::2", vec![]);
    let (c2, _) = w.container6(&a, "c62", "10.96.0.3", "fd00:96::3", vec![]);
    let (c3, _) = w.container6(&b, "c63", "10.97.0.2", "fd00:97::2", vec![]);

    // the kernel's view: the address and a default route through the gateway
    let addrs = c1.sh(&["ip", "-6", "addr", "show", "eth0"]);
    assert!(addrs.contains("fd00:96::2/64"), "{addrs}");
    let routes = c1.sh(&["ip", "-6", "route"]);
    assert!(
        routes.contains("default via fd00:96::1 dev eth0"),
        "{routes}"
    );
    let bridge = w.host.sh(&["ip", "-6", "addr", "show", &a.bridge]);
    assert!(bridge.contains("fd00:96::1/64"), "{bridge}");

    let server = tcp_server_on(&c2, "::", 7000);
    let said = tcp_client(&c1, sock6("fd00:96::3", 7000)).expect("c1 -> c2 over IPv6");
    assert!(said.starts_with("[fd00:96::2]:"), "c2 saw {said}");
    server.join().unwrap();
    // the gateway answers too (NDP and forwarding on the bridge)
    assert!(
        c1.run(&["busybox", "ping", "-6", "-c", "1", "-W", "1", "fd00:96::1"])
            .status
            .success(),
        "c1 pings its IPv6 gateway"
    );

    // another network's container gets nothing through, over IPv6 either
    let server = tcp_server_on(&c2, "::", 7001);
    assert!(
        tcp_client(&c3, sock6("fd00:96::3", 7001)).is_none(),
        "c3 on network b must not reach c2 on network a"
    );
    let _ = server.join();
}

#[test]
fn ipv6_goes_out_masqueraded_and_published_ports_answer_over_ipv6() {
    if !root_or_skip() {
        return;
    }
    let w = World::new();
    let net = network6("6p", "10.98.0.0/24", "fd00:98::/64");
    let ports = vec![
        port(None, 8080, 80, Protocol::Tcp),
        port(None, 5353, 53, Protocol::Udp),
        port(Some(HOST_IP6), 9090, 90, Protocol::Tcp),
        port(Some("0.0.0.0"), 7070, 70, Protocol::Tcp),
    ];
    let (web, req) = w.container6(&net, "web6", "10.98.0.2", "fd00:98::2", ports);

    // out: the outside server sees the host's IPv6 address
    let server = tcp_server_on(&w.outside, "::", 8000);
    let said = tcp_client(&web, sock6(OUTSIDE_IP6, 8000)).expect("container reaches out");
    let peer = server.join().unwrap().expect("outside accepted");
    assert_eq!(peer.ip().to_string(), HOST_IP6, "outside saw {said}");

    // in: `-p 8080:80` answers on the host's IPv6 address, and the container sees the
    // outside client's real address
    let server = tcp_server_on(&web, "::", 80);
    let said = tcp_client(&w.outside, sock6(HOST_IP6, 8080)).expect("outside -> [host]:8080");
    assert!(
        said.starts_with(&format!("[{OUTSIDE_IP6}]:")),
        "container saw {said}"
    );
    server.join().unwrap();
    // ... and on IPv4 as before
    let server = tcp_server_on(&web, "0.0.0.0", 80);
    let said = tcp_client(&w.outside, format!("{HOST_IP}:8080").parse().unwrap());
    assert!(said.expect("outside -> v4").starts_with("192.0.2.2:"));
    server.join().unwrap();

    // UDP over IPv6
    let server = udp_server_on(&web, "::", 53);
    let said = udp_client(&w.outside, sock6(HOST_IP6, 5353)).expect("udp reply over IPv6");
    assert!(
        said.starts_with(&format!("[{OUTSIDE_IP6}]:")),
        "container saw {said}"
    );
    server.join().unwrap();

    // bound to one IPv6 host address
    let server = tcp_server_on(&web, "::", 90);
    assert!(tcp_client(&w.outside, sock6(HOST_IP6, 9090)).is_some());
    server.join().unwrap();
    // `-p 0.0.0.0:7070:70` is IPv4 only, as docker's
    let server = tcp_server_on(&web, "::", 70);
    assert!(
        tcp_client(&w.outside, sock6(HOST_IP6, 7070)).is_none(),
        "an IPv4-only publication must not answer on IPv6"
    );
    let _ = server.join();

    // teardown removes every IPv6 map element
    w.host
        .within(|| berth_net::teardown(&req, DEFAULT_TABLE, true))
        .unwrap();
    for map in ["pub_any6", "pub_addr6", "pub_any4", "pub_addr4"] {
        let listed = w.nft(&["list", "map", "inet", DEFAULT_TABLE, map]);
        assert!(!listed.contains("elements"), "{map} still has {listed}");
    }
    let server = tcp_server_on(&web, "::", 80);
    assert!(tcp_client(&w.outside, sock6(HOST_IP6, 8080)).is_none());
    let _ = server.join();

    // removing the network takes its IPv6 subnet out of the sets
    w.host
        .within(|| berth_net::remove_network(&net, DEFAULT_TABLE))
        .unwrap();
    for set in ["nets6", "masq_nets6"] {
        let listed = w.nft(&["list", "set", "inet", DEFAULT_TABLE, set]);
        assert!(!listed.contains("fd00:98::"), "{set} still has {listed}");
    }
}

#[test]
fn ipv6_requests_are_validated() {
    let plain = network("6v", "10.99.0.0/24", false);
    let mut req = request(&plain, "x", "10.99.0.2", vec![]);
    req.endpoint.ip6 = Some("fd00:99::2".parse().unwrap());
    let err = req.validate().unwrap_err().to_string();
    assert!(err.contains("has no IPv6 subnet"), "{err}");

    let dual = network6("6v", "10.99.0.0/24", "fd00:99::/64");
    let mut req = request(&dual, "x", "10.99.0.2", vec![]);
    req.endpoint.ip6 = Some("fd00:1::2".parse().unwrap());
    let err = req.validate().unwrap_err().to_string();
    assert!(err.contains("outside subnet fd00:99::/64"), "{err}");

    let mut req = request(
        &dual,
        "x",
        "10.99.0.2",
        vec![port(Some("2001:db8::1"), 80, 80, Protocol::Tcp)],
    );
    let err = req.validate().unwrap_err().to_string();
    assert!(err.contains("no IPv6 address"), "{err}");
    req.endpoint.ip6 = Some("fd00:99::2".parse().unwrap());
    req.validate().unwrap();
}
