//! Names answered from the zone, over real UDP and TCP sockets on 127.0.0.x.

mod common;

use std::net::{Ipv4Addr, SocketAddr};
use std::process::Command;
use std::time::Duration;

use berth_dns::{Server, Zone};
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{RData, RecordType};

use common::*;

const WEB: Ipv4Addr = Ipv4Addr::new(10, 88, 0, 2);
const DB: Ipv4Addr = Ipv4Addr::new(10, 88, 0, 3);
const OTHER: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 2);

/// A zone with `web` and `db` (sharing the alias `svc`) on `front`, and `hidden` on `back`; and a
/// server for `front` on `ip`, with no upstream.
fn setup(ip: [u8; 4]) -> (Zone, Server) {
    let zone = Zone::new();
    zone.set("front", ID1, &names(&["/web", "www"]), WEB);
    zone.set("front", ID2, &names(&["db", "svc"]), DB);
    zone.set(
        "front",
        "cace0000cace",
        &names(&["cache", "svc"]),
        Ipv4Addr::new(10, 88, 0, 4),
    );
    zone.set("back", ID3, &names(&["hidden"]), OTHER);
    let bind = SocketAddr::from((ip, 0));
    let server = Server::start(bind, "front", zone.clone(), Vec::new()).expect("start");
    assert_eq!(server.local_addr().ip(), bind.ip());
    assert_ne!(server.local_addr().port(), 0);
    (zone, server)
}

#[test]
fn a_by_name_alias_and_short_id_in_any_case() {
    let (_zone, server) = setup([127, 0, 0, 2]);
    let s = server.local_addr();
    for name in [
        "web",
        "web.",
        "WeB.",
        "www",
        "WWW.",
        "1111111111aa",
        "1111111111AA.",
        "web.front.",
    ] {
        assert_eq!(a(s, name), (ResponseCode::NoError, vec![WEB]), "{name}");
    }
    let m = udp(s, 7, "web.", RecordType::A);
    assert_eq!(m.answers[0].ttl, 600);
    assert!(m.metadata.authoritative);
    assert_eq!(m.queries[0].name().to_ascii(), "web.");
}

#[test]
fn shared_alias_gives_every_address_rotated() {
    let (_zone, server) = setup([127, 0, 0, 3]);
    let s = server.local_addr();
    let first = a(s, "svc").1;
    let second = a(s, "svc").1;
    assert_eq!(first.len(), 2);
    let mut sorted = first.clone();
    sorted.sort();
    assert_eq!(sorted, vec![DB, Ipv4Addr::new(10, 88, 0, 4)]);
    assert_ne!(first, second, "round robin");
}

#[test]
fn another_networks_names_are_not_visible() {
    let (zone, server) = setup([127, 0, 0, 4]);
    let s = server.local_addr();
    // Not ours, and no upstream: SERVFAIL, and never `back`'s address.
    assert_eq!(a(s, "hidden"), (ResponseCode::ServFail, vec![]));
    assert_eq!(a(s, "7777777777cc").0, ResponseCode::ServFail);
    // Attached to `front` too (with another address there): found, with front's address.
    zone.set(
        "front",
        ID3,
        &names(&["hidden"]),
        Ipv4Addr::new(10, 88, 0, 9),
    );
    assert_eq!(a(s, "hidden").1, vec![Ipv4Addr::new(10, 88, 0, 9)]);
}

#[test]
fn a_container_on_two_networks_sees_names_on_both() {
    let (zone, server) = setup([127, 0, 0, 13]);
    let s = server.local_addr();
    // A container on `front` and `back`, here at 127.0.0.50 on `front`, asks `front`'s server.
    let both = Ipv4Addr::new(127, 0, 0, 50);
    zone.set("front", "b0b0b0b0b0b0", &names(&["both"]), both);
    zone.set(
        "back",
        "b0b0b0b0b0b0",
        &names(&["both"]),
        Ipv4Addr::new(10, 99, 0, 50),
    );
    let ask = |from: Ipv4Addr, name: &str| {
        let packet = query(3, name, RecordType::A);
        let m = udp_raw_from(from, s, &packet, Duration::from_secs(5)).expect("answer");
        (m.metadata.response_code, addrs(&m))
    };
    assert_eq!(ask(both, "hidden"), (ResponseCode::NoError, vec![OTHER]));
    assert_eq!(ask(both, "web"), (ResponseCode::NoError, vec![WEB]));
    // Its own name: `front`'s address first, being the network asked.
    assert_eq!(ask(both, "both").1, vec![both]);
    // Anyone else on `front` still does not see `back`.
    assert_eq!(
        ask(Ipv4Addr::new(127, 0, 0, 51), "hidden").0,
        ResponseCode::ServFail
    );
}

#[test]
fn aaaa_of_a_known_name_is_empty_noerror() {
    let (_zone, server) = setup([127, 0, 0, 5]);
    let m = udp(server.local_addr(), 9, "web", RecordType::AAAA);
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert!(m.answers.is_empty());
}

#[test]
fn ptr_of_a_container_address() {
    let (_zone, server) = setup([127, 0, 0, 6]);
    let m = udp(
        server.local_addr(),
        10,
        "2.0.88.10.in-addr.arpa.",
        RecordType::PTR,
    );
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    match &m.answers[..] {
        [r] => match &r.data {
            RData::PTR(target) => assert_eq!(target.0.to_ascii(), "web."),
            other => panic!("{other:?}"),
        },
        other => panic!("{other:?}"),
    }
    // `back`'s container is not ours: forwarded, and with no upstream, SERVFAIL.
    let m = udp(
        server.local_addr(),
        11,
        "2.0.99.10.in-addr.arpa.",
        RecordType::PTR,
    );
    assert_eq!(m.metadata.response_code, ResponseCode::ServFail);
}

#[test]
fn removal_takes_names_away() {
    let (zone, server) = setup([127, 0, 0, 7]);
    let s = server.local_addr();
    zone.remove("front", ID1);
    assert_eq!(a(s, "web").0, ResponseCode::ServFail);
    assert_eq!(a(s, "db").1, vec![DB]);
    zone.remove_network("front");
    assert_eq!(a(s, "db").0, ResponseCode::ServFail);
}

#[test]
fn tcp_queries_answer_too() {
    let (_zone, server) = setup([127, 0, 0, 8]);
    let m = tcp(server.local_addr(), 0x0102, "WEB", RecordType::A);
    assert_eq!(m.metadata.id, 0x0102);
    assert_eq!(addrs(&m), vec![WEB]);
}

#[test]
fn garbage_does_not_stop_the_server() {
    let (_zone, server) = setup([127, 0, 0, 9]);
    let s = server.local_addr();
    let wait = Duration::from_millis(300);
    // Too short: dropped.
    assert!(udp_raw(s, &[1, 2, 3], wait).is_none());
    // A response, not a query: dropped (no reflection loops).
    let mut response = query(5, "web.", RecordType::A);
    response[2] |= 0x80;
    assert!(udp_raw(s, &response, wait).is_none());
    // A header that promises a question that is not there: FORMERR with the id.
    let mut cut = query(0x0bad, "web.", RecordType::A);
    cut.truncate(14);
    let m = udp_raw(s, &cut, wait).expect("FORMERR");
    assert_eq!(
        (m.metadata.id, m.metadata.response_code),
        (0x0bad, ResponseCode::FormErr)
    );
    // Noise of every length.
    for len in [12, 13, 40, 512, 1500] {
        let noise: Vec<u8> = (0..len).map(|i| (i * 37 % 251) as u8 & 0x7f).collect();
        let _ = udp_raw(s, &noise, Duration::from_millis(50));
    }
    // Garbage over TCP: a frame that promises more than it sends, then a hang-up.
    {
        use std::io::Write;
        let mut t = std::net::TcpStream::connect(s).expect("connect");
        t.write_all(&[0x10, 0x00, 1, 2, 3]).expect("write");
    }
    assert_eq!(a(s, "web").1, vec![WEB]);
    assert_eq!(
        tcp(s, 1, "web", RecordType::A).metadata.response_code,
        ResponseCode::NoError
    );
}

#[test]
fn drop_stops_and_closes_both_sockets() {
    let (_zone, server) = setup([127, 0, 0, 10]);
    let addr = server.local_addr();
    let mut open = std::net::TcpStream::connect(addr).expect("connect");
    drop(server);
    // By the time drop returns, the listener is closed (connections are refused), connections
    // already open are closed, and UDP queries go unanswered. (Binding the port again is no
    // proof: any process may take a free ephemeral port meanwhile.)
    // A child process another test spawns at that moment may hold a copy of the listener until
    // its exec closes it (every socket is close-on-exec), hence the few tries.
    let start = std::time::Instant::now();
    while std::net::TcpStream::connect(addr).is_ok() {
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "listener still open"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    eprintln!("refused after {:?}", start.elapsed());
    open.set_read_timeout(Some(Duration::from_secs(2)))
        .expect("timeout");
    assert!(read_frame(&mut open).is_err(), "open connection closed");
    let silent = udp_raw(
        addr,
        &query(1, "web.", RecordType::A),
        Duration::from_millis(200),
    );
    assert!(silent.is_none());
}

#[test]
fn start_reports_bind_errors() {
    let (_zone, server) = setup([127, 0, 0, 11]);
    let err = Server::start(server.local_addr(), "front", Zone::new(), Vec::new())
        .expect_err("port taken");
    assert!(err.to_string().contains("binding"), "{err}");
}

/// An independent client: busybox's nslookup (or dig) against the server, skipped if absent.
#[test]
fn busybox_nslookup_or_dig_agrees() {
    let (_zone, server) = setup([127, 0, 0, 12]);
    let s = server.local_addr();
    let have = |cmd: &str, arg: &str| Command::new(cmd).arg(arg).output().is_ok();
    let output = if have("dig", "-v") {
        Command::new("dig")
            .args(["+short", "+tries=1", "+time=2", "-p", &s.port().to_string()])
            .arg(format!("@{}", s.ip()))
            .args(["www", "A"])
            .output()
    } else if have("busybox", "true") {
        Command::new("busybox")
            .args(["nslookup", "-type=a", "-timeout=2", "-retry=1"])
            .arg(format!("-port={}", s.port()))
            .args(["www.", &s.ip().to_string()])
            .output()
    } else {
        eprintln!("skipped: neither dig nor busybox is installed");
        return;
    };
    let output = output.expect("run the client");
    let stdout = String::from_utf8_lossy(&output.stdout);
    eprintln!("{stdout}{}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.contains(&WEB.to_string()), "{stdout}");
}
