//! Bridge networks end to end, in throw-away namespaces: what crosses, what is dropped,
//! what the other side sees, and what is left afterwards.

mod support;

use std::net::{Ipv4Addr, SocketAddr};
use std::os::fd::AsFd;

use berth_net::nft::ruleset;
use berth_net::{Protocol, DEFAULT_TABLE};
use support::*;

fn sock(ip: Ipv4Addr, port: u16) -> SocketAddr {
    SocketAddr::from((ip, port))
}

#[test]
fn golden_ruleset_is_what_berth_renders() {
    let rendered = ruleset::render(DEFAULT_TABLE);
    if std::env::var_os("BLESS").is_some() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/ruleset.nft");
        std::fs::write(path, &rendered).unwrap();
    }
    assert_eq!(rendered, include_str!("golden/ruleset.nft"));
}

#[test]
fn kernel_lists_the_ruleset_exactly_as_the_golden_file() {
    if !root_or_skip() {
        return;
    }
    let w = World::new();
    w.host
        .within(|| berth_net::apply_firewall(DEFAULT_TABLE))
        .unwrap();
    // applying twice is harmless (daemon restarts re-apply)
    w.host
        .within(|| berth_net::apply_firewall(DEFAULT_TABLE))
        .unwrap();
    let listed = w.nft(&["list", "table", "inet", DEFAULT_TABLE]);
    assert_eq!(listed, include_str!("golden/ruleset.nft"));
}

#[test]
fn containers_on_one_network_talk_icmp_and_tcp() {
    if !root_or_skip() {
        return;
    }
    let w = World::new();
    let net = network("a", "10.91.0.0/24", false);
    let (c1, _) = w.container(&net, "c1", "10.91.0.2", vec![]);
    let (c2, _) = w.container(&net, "c2", "10.91.0.3", vec![]);
    assert!(c1.ping(Ipv4Addr::new(10, 91, 0, 3)), "c1 -> c2 ping");
    assert!(c2.ping(Ipv4Addr::new(10, 91, 0, 2)), "c2 -> c1 ping");
    let server = tcp_server(&c2, 7000);
    let seen = tcp_client(&c1, sock(Ipv4Addr::new(10, 91, 0, 3), 7000));
    let seen = seen.expect("c1 connected to c2");
    assert!(seen.starts_with("10.91.0.2:"), "c2 saw {seen}");
    let peer = server.join().unwrap().expect("c2 accepted");
    assert_eq!(
        peer.ip().to_string(),
        "10.91.0.2",
        "no NAT inside a network"
    );
    // the witness: ip sees eth0 with the address and the default route
    let addrs = c1.sh(&["ip", "-4", "-o", "addr", "show", "dev", "eth0"]);
    assert!(addrs.contains("10.91.0.2/24"), "{addrs}");
    let routes = c1.sh(&["ip", "route"]);
    assert!(
        routes.contains("default via 10.91.0.1 dev eth0"),
        "{routes}"
    );
}

#[test]
fn nothing_crosses_between_two_networks() {
    if !root_or_skip() {
        return;
    }
    let w = World::new();
    let a = network("a", "10.92.0.0/24", false);
    let b = network("b", "10.93.0.0/24", false);
    let (ca, _) = w.container(&a, "ca", "10.92.0.2", vec![]);
    let (cb, _) = w.container(&b, "cb", "10.93.0.2", vec![]);
    assert!(
        !ca.ping(Ipv4Addr::new(10, 93, 0, 2)),
        "a -> b must be dropped"
    );
    assert!(
        !cb.ping(Ipv4Addr::new(10, 92, 0, 2)),
        "b -> a must be dropped"
    );
    let server = tcp_server(&cb, 7001);
    assert_eq!(
        tcp_client(&ca, sock(Ipv4Addr::new(10, 93, 0, 2), 7001)),
        None
    );
    assert_eq!(server.join().unwrap(), None, "nothing reached b");
    // both still reach their own gateway and the host
    assert!(ca.ping(Ipv4Addr::new(10, 92, 0, 1)));
    assert!(cb.ping(HOST_IP));
}

#[test]
fn outbound_traffic_is_masqueraded_to_the_hosts_address() {
    if !root_or_skip() {
        return;
    }
    let w = World::new();
    let net = network("m", "10.94.0.0/24", false);
    let (c, _) = w.container(&net, "c", "10.94.0.2", vec![]);
    assert!(c.ping(OUTSIDE_IP), "container reaches the internet");
    let server = tcp_server(&w.outside, 8000);
    let said = tcp_client(&c, sock(OUTSIDE_IP, 8000)).expect("connected out");
    let peer = server.join().unwrap().expect("outside accepted");
    assert_eq!(
        peer.ip().to_string(),
        HOST_IP.to_string(),
        "outside sees the host, not {said}"
    );
}

#[test]
fn published_ports_answer_outside_host_and_containers_with_real_client_addresses() {
    if !root_or_skip() {
        return;
    }
    let w = World::new();
    let net = network("p", "10.95.0.0/24", false);
    let ports = vec![
        port(None, 8080, 80, Protocol::Tcp),
        port(None, 5353, 53, Protocol::Udp),
        port(Some("127.0.0.1"), 9090, 90, Protocol::Tcp),
    ];
    let (web, _) = w.container(&net, "web", "10.95.0.2", ports);
    let (other, _) = w.container(&net, "other", "10.95.0.3", vec![]);

    // from the outside: DNAT, and the container sees the client's real address
    let server = tcp_server(&web, 80);
    let said = tcp_client(&w.outside, sock(HOST_IP, 8080)).expect("outside -> published");
    assert_eq!(said, format!("{}", server.join().unwrap().unwrap()));
    assert!(said.starts_with("192.0.2.2:"), "container saw {said}");

    // UDP from the outside
    let server = udp_server(&web, 53);
    let said = udp_client(&w.outside, sock(HOST_IP, 5353)).expect("udp reply");
    assert!(said.starts_with("192.0.2.2:"), "container saw {said}");
    server.join().unwrap();

    // from the host itself, through 127.0.0.1 and through its own address
    let server = tcp_server(&web, 80);
    assert!(
        tcp_client(&w.host, sock(Ipv4Addr::LOCALHOST, 8080)).is_some(),
        "host 127.0.0.1"
    );
    server.join().unwrap();
    let server = tcp_server(&web, 80);
    assert!(
        tcp_client(&w.host, sock(HOST_IP, 8080)).is_some(),
        "host's address"
    );
    server.join().unwrap();

    // bound to 127.0.0.1 only: answers there, not on the host's outside address
    let server = tcp_server(&web, 90);
    assert!(tcp_client(&w.host, sock(Ipv4Addr::LOCALHOST, 9090)).is_some());
    server.join().unwrap();
    let server = tcp_server(&web, 90);
    assert_eq!(
        tcp_client(&w.outside, sock(HOST_IP, 9090)),
        None,
        "127.0.0.1-only port"
    );
    assert_eq!(server.join().unwrap(), None);

    // hairpin: another container, and the container itself, through the host's address
    let server = tcp_server(&web, 80);
    assert!(
        tcp_client(&other, sock(HOST_IP, 8080)).is_some(),
        "other container"
    );
    server.join().unwrap();
    let server = tcp_server(&web, 80);
    assert!(
        tcp_client(&web, sock(HOST_IP, 8080)).is_some(),
        "the container itself"
    );
    server.join().unwrap();

    // a port nobody published is not forwarded, and container IPs are not reachable
    // from outside directly
    w.outside
        .sh(&["ip", "route", "add", "10.95.0.0/24", "via", "192.0.2.1"]);
    let server = tcp_server(&web, 80);
    assert_eq!(
        tcp_client(&w.outside, sock(Ipv4Addr::new(10, 95, 0, 2), 80)),
        None
    );
    assert_eq!(server.join().unwrap(), None);
}

#[test]
fn internal_network_cannot_reach_out_but_talks_inside() {
    if !root_or_skip() {
        return;
    }
    let w = World::new();
    let net = network("i", "10.96.0.0/24", true);
    let (c1, _) = w.container(&net, "i1", "10.96.0.2", vec![]);
    let (c2, _) = w.container(&net, "i2", "10.96.0.3", vec![]);
    assert!(
        c1.ping(Ipv4Addr::new(10, 96, 0, 3)),
        "inside an internal network"
    );
    let routes = c1.sh(&["ip", "route"]);
    assert!(!routes.contains("default"), "no default route: {routes}");
    // even with a route added by hand, the firewall drops the way out
    c1.sh(&["ip", "route", "add", "default", "via", "10.96.0.1"]);
    let server = tcp_server(&w.outside, 8001);
    assert_eq!(tcp_client(&c1, sock(OUTSIDE_IP, 8001)), None);
    assert_eq!(
        server.join().unwrap(),
        None,
        "nothing left the internal network"
    );
    drop(c2);
}

#[test]
fn user_chain_runs_before_berths_accept_rules() {
    if !root_or_skip() {
        return;
    }
    let w = World::new();
    let net = network("u", "10.97.0.0/24", false);
    let (web, _) = w.container(
        &net,
        "uweb",
        "10.97.0.2",
        vec![port(None, 8080, 80, Protocol::Tcp)],
    );
    w.nft(&[
        "add",
        "rule",
        "inet",
        DEFAULT_TABLE,
        "user",
        "ip",
        "saddr",
        "192.0.2.2",
        "drop",
    ]);
    let server = tcp_server(&web, 80);
    assert_eq!(
        tcp_client(&w.outside, sock(HOST_IP, 8080)),
        None,
        "user rule dropped it"
    );
    assert_eq!(server.join().unwrap(), None);
    // re-applying berth's rules keeps the user's rule and the published port
    w.host
        .within(|| berth_net::apply_firewall(DEFAULT_TABLE))
        .unwrap();
    let user = w.nft(&["list", "chain", "inet", DEFAULT_TABLE, "user"]);
    assert!(user.contains("ip saddr 192.0.2.2 drop"), "{user}");
    let map = w.nft(&["list", "map", "inet", DEFAULT_TABLE, "pub_any4"]);
    assert!(map.contains("tcp . 8080 : 10.97.0.2 . 80"), "{map}");
}

#[test]
fn a_removed_table_comes_back_with_the_next_container() {
    if !root_or_skip() {
        return;
    }
    let w = World::new();
    let net = network("r", "10.98.0.0/24", false);
    let (_c1, _) = w.container(&net, "r1", "10.98.0.2", vec![]);
    w.nft(&["delete", "table", "inet", DEFAULT_TABLE]);
    let (c2, _) = w.container(
        &net,
        "r2",
        "10.98.0.3",
        vec![port(None, 8081, 80, Protocol::Tcp)],
    );
    let server = tcp_server(&c2, 80);
    assert!(tcp_client(&w.outside, sock(HOST_IP, 8081)).is_some());
    server.join().unwrap();
}

#[test]
fn teardown_and_network_removal_leave_nothing() {
    if !root_or_skip() {
        return;
    }
    let w = World::new();
    let net = network("t", "10.99.0.0/24", false);
    let ports = vec![
        port(None, 8082, 80, Protocol::Tcp),
        port(Some("127.0.0.1"), 8083, 80, Protocol::Udp),
    ];
    let (c, req) = w.container(&net, "t1", "10.99.0.2", ports);
    let host_veth = berth_net::host_veth_name("t1", &net.name);
    assert!(w.host.sh(&["ip", "-o", "link"]).contains(&host_veth));
    w.host
        .within(|| berth_net::teardown(&req, DEFAULT_TABLE, true))
        .unwrap();
    assert!(
        !w.host.sh(&["ip", "-o", "link"]).contains(&host_veth),
        "veth deleted"
    );
    assert!(
        !c.sh(&["ip", "-o", "link"]).contains("eth0"),
        "peer gone too"
    );
    for map in ["pub_any4", "pub_addr4"] {
        let listed = w.nft(&["list", "map", "inet", DEFAULT_TABLE, map]);
        assert!(
            !listed.contains("elements"),
            "{map} still has elements: {listed}"
        );
    }
    // tearing down twice is fine
    w.host
        .within(|| berth_net::teardown(&req, DEFAULT_TABLE, true))
        .unwrap();
    w.host
        .within(|| berth_net::remove_network(&net, DEFAULT_TABLE))
        .unwrap();
    let links = w.host.sh(&["ip", "-o", "link"]);
    assert!(!links.contains(&net.bridge), "bridge removed: {links}");
    for set in ["bridges", "intra", "nets", "masq_nets"] {
        let listed = w.nft(&["list", "set", "inet", DEFAULT_TABLE, set]);
        assert!(!listed.contains("elements"), "{set}: {listed}");
    }
    let addrs = w.host.sh(&["ip", "-4", "-o", "addr"]);
    assert!(
        !addrs.contains("10.99.0.1"),
        "gateway address gone: {addrs}"
    );
}

#[test]
fn bad_requests_are_refused_clearly_and_leave_nothing() {
    if !root_or_skip() {
        return;
    }
    let w = World::new();
    let net = network("e", "10.100.0.0/24", false);
    let c = Ns::new("bad");
    let cfd = c.fd.as_fd();
    let mut req = request(&net, "bad", "10.101.0.2", vec![]);
    let err = w
        .host
        .within(|| berth_net::setup(&req, cfd, DEFAULT_TABLE))
        .unwrap_err();
    assert!(
        err.to_string().contains("outside subnet 10.100.0.0/24"),
        "{err}"
    );
    req.endpoint.ip = "10.100.0.1".parse().unwrap();
    let err = w
        .host
        .within(|| berth_net::setup(&req, cfd, DEFAULT_TABLE))
        .unwrap_err();
    assert!(err.to_string().contains("gateway"), "{err}");
    req.endpoint.ip = "10.100.0.2".parse().unwrap();
    req.endpoint.mac = Some("01:00:00:00:00:01".into());
    let err = w
        .host
        .within(|| berth_net::setup(&req, cfd, DEFAULT_TABLE))
        .unwrap_err();
    assert!(err.to_string().contains("multicast"), "{err}");
    assert!(
        !w.host.sh(&["ip", "-o", "link"]).contains(&net.bridge),
        "nothing made"
    );

    // the same container twice: refused, and the first attachment keeps working
    req.endpoint.mac = None;
    w.host
        .within(|| berth_net::setup(&req, cfd, DEFAULT_TABLE))
        .unwrap();
    let err = w
        .host
        .within(|| berth_net::setup(&req, cfd, DEFAULT_TABLE))
        .unwrap_err();
    assert!(err.to_string().contains("exists"), "{err}");
    assert!(c.ping(net.gateway));
}

#[test]
fn two_hundred_containers_on_one_network_are_all_reachable() {
    if !root_or_skip() {
        return;
    }
    let w = World::new();
    let net = network("big", "10.102.0.0/16", false);
    let mut all = Vec::new();
    for i in 0..200u32 {
        let ip = Ipv4Addr::from(u32::from(Ipv4Addr::new(10, 102, 0, 10)) + i);
        all.push((
            w.container(&net, &format!("k{i}"), &ip.to_string(), vec![])
                .0,
            ip,
        ));
    }
    // every container answers the host, and the first and last answer each other
    let ips: Vec<String> = all.iter().map(|(_, ip)| ip.to_string()).collect();
    let script = format!(
        "for ip in {}; do busybox ping -c 1 -W 1 $ip >/dev/null || echo FAIL $ip; done",
        ips.join(" ")
    );
    let out = w.host.sh(&["sh", "-c", &script]);
    assert!(!out.contains("FAIL"), "{out}");
    assert!(all[0].0.ping(all[199].1));
    assert!(all[199].0.ping(all[0].1));
}

#[test]
fn the_watcher_repairs_a_deleted_table_and_a_flushed_chain() {
    if !root_or_skip() {
        return;
    }
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::{Duration, Instant};
    let w = World::new();
    let net = network("w", "10.103.0.0/24", false);
    let (web, req) = w.container(
        &net,
        "wweb",
        "10.103.0.2",
        vec![port(None, 8084, 80, Protocol::Tcp)],
    );
    let stop = AtomicBool::new(false);
    let intact = |w: &World| {
        w.host
            .within(|| berth_net::check_firewall(DEFAULT_TABLE))
            .unwrap()
    };
    assert_eq!(intact(&w), Vec::<String>::new());
    let repairs = std::thread::scope(|s| {
        let watcher = s.spawn(|| {
            w.host.within(|| {
                berth_net::watch_firewall(DEFAULT_TABLE, &stop, || {
                    berth_net::restore_elements(
                        std::slice::from_ref(&net),
                        std::slice::from_ref(&req),
                        DEFAULT_TABLE,
                    )
                })
            })
        });
        // the watcher must stop even when an assertion below fails
        struct StopOnDrop<'a>(&'a AtomicBool);
        impl Drop for StopOnDrop<'_> {
            fn drop(&mut self) {
                self.0.store(true, Ordering::Relaxed);
            }
        }
        let _guard = StopOnDrop(&stop);
        let wait_intact = |what: &str| {
            let t0 = Instant::now();
            loop {
                let problems = intact(&w);
                if problems.is_empty() {
                    break;
                }
                assert!(
                    t0.elapsed() < Duration::from_secs(3),
                    "not repaired after {what}: {problems:?}"
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        };
        std::thread::sleep(Duration::from_millis(100));
        w.nft(&["delete", "table", "inet", DEFAULT_TABLE]);
        std::thread::sleep(Duration::from_millis(500));
        if watcher.is_finished() {
            panic!("watcher stopped: {:?}", watcher.join().unwrap());
        }
        wait_intact("table deleted");
        w.nft(&["flush", "chain", "inet", DEFAULT_TABLE, "forward"]);
        wait_intact("chain flushed");
        drop(_guard);
        watcher.join().unwrap().unwrap()
    });
    assert!(repairs >= 2, "repairs: {repairs}");
    // the published port works again: the elements came back too
    let server = tcp_server(&web, 80);
    assert!(tcp_client(&w.outside, sock(HOST_IP, 8084)).is_some());
    server.join().unwrap();
}

#[test]
fn a_port_published_twice_is_refused_by_name() {
    if !root_or_skip() {
        return;
    }
    let w = World::new();
    let net = network("d", "10.104.0.0/24", false);
    let (_c1, _) = w.container(
        &net,
        "d1",
        "10.104.0.2",
        vec![port(None, 8085, 80, Protocol::Tcp)],
    );
    let c2 = Ns::new("d2");
    let req = request(
        &net,
        "d2",
        "10.104.0.3",
        vec![port(None, 8085, 80, Protocol::Tcp)],
    );
    let cfd = c2.fd.as_fd();
    let err = w
        .host
        .within(|| berth_net::setup(&req, cfd, DEFAULT_TABLE))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("port 8085/tcp") && err.contains("already published"),
        "{err}"
    );
    // nothing of the failed attachment is left: no veth, no eth0 in its netns
    assert!(!w
        .host
        .sh(&["ip", "-o", "link"])
        .contains(&berth_net::host_veth_name("d2", &net.name)));
    assert!(!c2.sh(&["ip", "-o", "link"]).contains("eth0"));
}

#[test]
fn a_restarted_container_replaces_its_stale_veth() {
    if !root_or_skip() {
        return;
    }
    let w = World::new();
    let net = network("r", "10.89.0.0/24", false);
    // The first run's netns is still alive (the kernel has not reaped it yet) when the
    // same container starts again: its host veth name is taken.
    let (old, req) = w.container(&net, "rs", "10.89.0.2", vec![]);
    w.host
        .within(|| berth_net::teardown(&req, DEFAULT_TABLE, false))
        .unwrap();
    let (new, _) = w.container(&net, "rs", "10.89.0.2", vec![]);
    let (c2, _) = w.container(&net, "rs2", "10.89.0.3", vec![]);
    assert!(c2.ping(Ipv4Addr::new(10, 89, 0, 2)), "the new run answers");
    assert!(new.run(&["ip", "link", "show", "eth0"]).status.success());
    assert!(
        !old.run(&["ip", "link", "show", "eth0"]).status.success(),
        "the old run's peer went with its veth"
    );
}
