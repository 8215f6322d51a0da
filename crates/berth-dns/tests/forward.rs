//! Names that are not containers': forwarded to a fake upstream on 127.0.0.1.

mod common;

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use berth_dns::{Options, Server, Zone};
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::RecordType;

use common::*;

const WEB: Ipv4Addr = Ipv4Addr::new(10, 88, 0, 2);

fn server(ip: [u8; 4], upstreams: Vec<SocketAddr>, timeout: Duration) -> (Zone, Server) {
    let zone = Zone::new();
    zone.set("front", ID1, &names(&["web"]), WEB);
    let options = Options {
        upstreams,
        timeout,
        ..Options::default()
    };
    let server = Server::start_with(SocketAddr::from((ip, 0)), "front", zone.clone(), options)
        .expect("start");
    (zone, server)
}

const NOW: Duration = Duration::ZERO;

#[test]
fn forwarded_answer_keeps_the_clients_id() {
    let up = Upstream::start(Mode::Answer { delay: NOW });
    let (_z, server) = server([127, 0, 1, 1], vec![up.addr], Duration::from_secs(2));
    for id in [0u16, 1, 0xbeef, 0xffff] {
        let m = udp(server.local_addr(), id, "example.org.", RecordType::A);
        assert_eq!(m.metadata.id, id);
        assert_eq!(m.metadata.response_code, ResponseCode::NoError);
        assert_eq!(addrs(&m), vec![UPSTREAM_UDP_IP]);
    }
    let seen = up.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 4);
    assert!(seen.iter().all(|(_, tcp)| !tcp));
}

#[test]
fn removed_container_name_is_forwarded() {
    let up = Upstream::start(Mode::Answer { delay: NOW });
    let (zone, server) = server([127, 0, 1, 2], vec![up.addr], Duration::from_secs(2));
    assert_eq!(a(server.local_addr(), "web").1, vec![WEB]);
    zone.remove("front", ID1);
    assert_eq!(a(server.local_addr(), "web").1, vec![UPSTREAM_UDP_IP]);
}

#[test]
fn silent_upstream_gives_servfail_in_time() {
    let up = Upstream::start(Mode::Silent);
    let (_z, server) = server([127, 0, 1, 3], vec![up.addr], Duration::from_millis(400));
    let start = Instant::now();
    let m = udp(server.local_addr(), 0x5151, "example.org.", RecordType::A);
    let took = start.elapsed();
    assert_eq!(m.metadata.id, 0x5151);
    assert_eq!(m.metadata.response_code, ResponseCode::ServFail);
    assert_eq!(m.queries[0].name().to_ascii(), "example.org.");
    assert!(took >= Duration::from_millis(350), "{took:?}");
    assert!(took < Duration::from_millis(1500), "{took:?}");
}

#[test]
fn default_timeout_is_about_two_seconds() {
    let up = Upstream::start(Mode::Silent);
    let zone = Zone::new();
    let server = Server::start(
        "127.0.1.4:0".parse().expect("addr"),
        "n",
        zone,
        vec![up.addr],
    )
    .expect("start");
    let start = Instant::now();
    let m = udp(server.local_addr(), 1, "example.org.", RecordType::A);
    assert_eq!(m.metadata.response_code, ResponseCode::ServFail);
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(1900) && took < Duration::from_secs(3),
        "{took:?}"
    );
}

#[test]
fn next_upstream_answers_when_the_first_is_silent() {
    let silent = Upstream::start(Mode::Silent);
    let good = Upstream::start(Mode::Answer { delay: NOW });
    let ups = vec![silent.addr, good.addr];
    let (_z, server) = server([127, 0, 1, 5], ups, Duration::from_millis(800));
    let m = udp(server.local_addr(), 3, "example.org.", RecordType::A);
    assert_eq!(addrs(&m), vec![UPSTREAM_UDP_IP]);
    assert_eq!(silent.seen.lock().unwrap().len(), 1);
}

#[test]
fn tcp_client_is_forwarded_over_tcp() {
    let up = Upstream::start(Mode::Answer { delay: NOW });
    let (_z, server) = server([127, 0, 1, 6], vec![up.addr], Duration::from_secs(2));
    let m = tcp(server.local_addr(), 0x7777, "example.org.", RecordType::A);
    assert_eq!(m.metadata.id, 0x7777);
    assert_eq!(addrs(&m), vec![UPSTREAM_TCP_IP]);
    assert!(up.seen.lock().unwrap()[0].1, "asked over TCP");
}

#[test]
fn truncated_udp_answer_is_retried_over_tcp() {
    let up = Upstream::start(Mode::Truncate { more: 0 });
    let (_z, server) = server([127, 0, 1, 7], vec![up.addr], Duration::from_secs(2));
    let m = udp(
        server.local_addr(),
        0x0909,
        "big.example.org.",
        RecordType::A,
    );
    assert_eq!(m.metadata.id, 0x0909);
    assert!(!m.metadata.truncation);
    assert_eq!(addrs(&m), vec![UPSTREAM_TCP_IP]);
    let seen = up.seen.lock().unwrap().clone();
    assert_eq!(
        seen.iter().map(|s| s.1).collect::<Vec<_>>(),
        vec![false, true]
    );
}

#[test]
fn no_upstream_gives_servfail_at_once() {
    let (_z, server) = server([127, 0, 1, 8], Vec::new(), Duration::from_secs(2));
    let start = Instant::now();
    assert_eq!(
        a(server.local_addr(), "example.org").0,
        ResponseCode::ServFail
    );
    assert!(start.elapsed() < Duration::from_millis(500));
}

#[test]
fn own_address_as_upstream_is_ignored() {
    let (_z, server) = server([127, 0, 1, 9], Vec::new(), Duration::from_millis(500));
    server.set_upstreams(vec![server.local_addr()]);
    assert_eq!(
        a(server.local_addr(), "example.org").0,
        ResponseCode::ServFail
    );
    let up = Upstream::start(Mode::Answer { delay: NOW });
    server.set_upstreams(vec![up.addr]);
    assert_eq!(
        a(server.local_addr(), "example.org").1,
        vec![UPSTREAM_UDP_IP]
    );
}

/// Twenty queries wait on a slow upstream; local names still answer at once, and the twenty are
/// forwarded side by side (all done in about one delay, not twenty).
#[test]
fn slow_upstream_blocks_neither_local_answers_nor_other_forwards() {
    let delay = Duration::from_millis(600);
    let up = Upstream::start(Mode::Answer { delay });
    let (_z, server) = server([127, 0, 1, 10], vec![up.addr], Duration::from_secs(2));
    let s = server.local_addr();
    let client = UdpSocket::bind("127.0.0.1:0").expect("bind");
    client
        .set_read_timeout(Some(Duration::from_secs(3)))
        .expect("timeout");
    let start = Instant::now();
    for id in 0..20u16 {
        let name = format!("host{id}.example.org.");
        client
            .send_to(&query(1000 + id, &name, RecordType::A), s)
            .expect("send");
    }
    let local_start = Instant::now();
    for _ in 0..5 {
        assert_eq!(a(s, "web").1, vec![WEB]);
    }
    let local = local_start.elapsed();
    assert!(
        local < Duration::from_millis(500),
        "local answers took {local:?}"
    );
    let mut ids = Vec::new();
    let mut buf = [0u8; 4096];
    for _ in 0..20 {
        let n = recv(&client, &mut buf).expect("forwarded answer");
        let m = Message::from_vec(&buf[..n]).expect("decode");
        assert_eq!(addrs(&m), vec![UPSTREAM_UDP_IP]);
        ids.push(m.metadata.id);
    }
    let all = start.elapsed();
    assert!(all < delay * 3, "20 forwards took {all:?}");
    ids.sort();
    assert_eq!(ids, (1000..1020).collect::<Vec<_>>());
}

/// A truncated answer whose full form is too big for the client's UDP limit goes back truncated
/// (the client then asks over TCP itself, and gets it all).
#[test]
fn answer_too_big_for_the_client_goes_back_truncated() {
    let up = Upstream::start(Mode::Truncate { more: 60 });
    let (_z, server) = server([127, 0, 1, 11], vec![up.addr], Duration::from_secs(2));
    let m = udp(
        server.local_addr(),
        0x0a0a,
        "big.example.org.",
        RecordType::A,
    );
    assert_eq!(m.metadata.id, 0x0a0a);
    assert!(m.metadata.truncation);
    assert!(m.answers.is_empty());
    let m = tcp(
        server.local_addr(),
        0x0b0b,
        "big.example.org.",
        RecordType::A,
    );
    assert_eq!(m.metadata.id, 0x0b0b);
    assert_eq!(m.answers.len(), 61);
}
