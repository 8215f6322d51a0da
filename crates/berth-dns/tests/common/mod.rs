//! Test helpers: a DNS client over real sockets and a fake upstream server.

#![allow(dead_code)]

use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, Query, ResponseCode};
use hickory_proto::rr::rdata::A;
use hickory_proto::rr::{Name, RData, Record, RecordType};

pub const ID1: &str = "1111111111aa2222222222223333333333333333333333333333333333333333";
pub const ID2: &str = "4444444444bb5555555555556666666666666666666666666666666666666666";
pub const ID3: &str = "7777777777cc8888888888889999999999999999999999999999999999999999";

/// The address the fake upstream answers over UDP, and over TCP.
pub const UPSTREAM_UDP_IP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
pub const UPSTREAM_TCP_IP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);

pub fn names(n: &[&str]) -> Vec<String> {
    n.iter().map(|s| s.to_string()).collect()
}

pub fn query(id: u16, name: &str, rtype: RecordType) -> Vec<u8> {
    let mut m = Message::query();
    m.metadata.id = id;
    m.metadata.recursion_desired = true;
    m.add_query(Query::query(Name::from_ascii(name).expect("name"), rtype));
    m.to_vec().expect("encode")
}

/// Sends one packet over UDP from a fresh socket and waits up to `wait` for the answer.
pub fn udp_raw(server: SocketAddr, packet: &[u8], wait: Duration) -> Option<Message> {
    udp_raw_from(Ipv4Addr::LOCALHOST, server, packet, wait)
}

/// [`udp_raw`] from a socket bound to `client` (a container's address, on loopback).
pub fn udp_raw_from(
    client: Ipv4Addr,
    server: SocketAddr,
    packet: &[u8],
    wait: Duration,
) -> Option<Message> {
    let sock = UdpSocket::bind((client, 0)).expect("bind client");
    sock.send_to(packet, server).expect("send");
    let deadline = Instant::now() + wait;
    let mut buf = [0u8; 65535];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return None;
        }
        sock.set_read_timeout(Some(left)).expect("timeout");
        match sock.recv(&mut buf) {
            Ok(n) => {
                let m = Message::from_vec(&buf[..n]);
                return Some(m.expect("server sent a message that does not parse"));
            }
            // A receive with a timeout is not restarted after a signal, or after this process
            // was stopped and continued (signal(7)): it fails with EINTR. Receive again.
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => return None,
        }
    }
}

/// `recv`, again after EINTR (see [`udp_raw_from`]).
pub fn recv(sock: &UdpSocket, buf: &mut [u8]) -> std::io::Result<usize> {
    loop {
        match sock.recv(buf) {
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            other => return other,
        }
    }
}

pub fn udp(server: SocketAddr, id: u16, name: &str, rtype: RecordType) -> Message {
    udp_raw(server, &query(id, name, rtype), Duration::from_secs(5)).expect("no answer")
}

pub fn tcp(server: SocketAddr, id: u16, name: &str, rtype: RecordType) -> Message {
    let mut stream = TcpStream::connect(server).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let packet = query(id, name, rtype);
    let mut framed = (packet.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(&packet);
    stream.write_all(&framed).expect("write");
    Message::from_vec(&read_frame(&mut stream).expect("read")).expect("decode")
}

pub fn read_frame(stream: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    let mut len = [0u8; 2];
    stream.read_exact(&mut len)?;
    let mut buf = vec![0u8; usize::from(u16::from_be_bytes(len))];
    stream.read_exact(&mut buf)?;
    Ok(buf)
}

/// The A addresses of an answer.
pub fn addrs(m: &Message) -> Vec<Ipv4Addr> {
    m.answers
        .iter()
        .filter_map(|r| match r.data {
            RData::A(A(ip)) => Some(ip),
            _ => None,
        })
        .collect()
}

pub fn a(server: SocketAddr, name: &str) -> (ResponseCode, Vec<Ipv4Addr>) {
    let m = udp(server, 0x4242, name, RecordType::A);
    assert_eq!(m.metadata.id, 0x4242);
    (m.metadata.response_code, addrs(&m))
}

/// How the fake upstream behaves.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Mode {
    /// Answers every query with [`UPSTREAM_UDP_IP`] (over TCP, [`UPSTREAM_TCP_IP`]) after `delay`.
    Answer { delay: Duration },
    /// Never answers.
    Silent,
    /// Over UDP answers with TC set and no records; over TCP answers fully: with
    /// [`UPSTREAM_TCP_IP`] and the `more` addresses after it.
    Truncate { more: u8 },
}

/// A DNS server on 127.0.0.1 (UDP and TCP, same port) that answers every name with one address.
pub struct Upstream {
    pub addr: SocketAddr,
    /// The ids of the queries it received, and over which transport (`true`: TCP).
    pub seen: Arc<Mutex<Vec<(u16, bool)>>>,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl Upstream {
    pub fn start(mode: Mode) -> Upstream {
        // The same port for UDP and TCP: a free UDP port may be taken for TCP, so a few tries.
        let (udp, addr, tcp) = (0..16)
            .find_map(|_| {
                let udp = UdpSocket::bind("127.0.0.1:0").expect("bind upstream");
                let addr = udp.local_addr().expect("addr");
                let tcp = TcpListener::bind(addr).ok()?;
                Some((udp, addr, tcp))
            })
            .expect("bind upstream tcp");
        tcp.set_nonblocking(true).expect("nonblocking");
        udp.set_read_timeout(Some(Duration::from_millis(50)))
            .expect("timeout");
        let stop = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (s, seen2) = (stop.clone(), seen.clone());
        let udp_thread = std::thread::spawn(move || {
            let udp = Arc::new(udp);
            let mut buf = [0u8; 65535];
            while !s.load(Ordering::Relaxed) {
                let Ok((n, peer)) = udp.recv_from(&mut buf) else {
                    continue;
                };
                let q = Message::from_vec(&buf[..n]).expect("forwarded query parses");
                seen2.lock().unwrap().push((q.metadata.id, false));
                let reply = match mode {
                    Mode::Silent => continue,
                    Mode::Truncate { .. } => {
                        let mut r = response(&q, &[]);
                        r.metadata.truncation = true;
                        r
                    }
                    Mode::Answer { .. } => response(&q, &[UPSTREAM_UDP_IP]),
                };
                let bytes = reply.to_vec().expect("encode");
                let delay = match mode {
                    Mode::Answer { delay } => delay,
                    _ => Duration::ZERO,
                };
                let udp = udp.clone();
                std::thread::spawn(move || {
                    std::thread::sleep(delay);
                    let _ = udp.send_to(&bytes, peer);
                });
            }
        });
        let (s, seen2) = (stop.clone(), seen.clone());
        let tcp_thread = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                let Ok((mut stream, _)) = tcp.accept() else {
                    std::thread::sleep(Duration::from_millis(10));
                    continue;
                };
                stream.set_nonblocking(false).expect("blocking");
                stream
                    .set_read_timeout(Some(Duration::from_secs(2)))
                    .expect("timeout");
                let Ok(packet) = read_frame(&mut stream) else {
                    continue;
                };
                let q = Message::from_vec(&packet).expect("forwarded query parses");
                seen2.lock().unwrap().push((q.metadata.id, true));
                if mode == Mode::Silent {
                    continue;
                }
                let more = match mode {
                    Mode::Truncate { more } => more,
                    _ => 0,
                };
                let ips: Vec<Ipv4Addr> = (0..=more)
                    .map(|i| Ipv4Addr::new(192, 0, 2, 2 + i))
                    .collect();
                let bytes = response(&q, &ips).to_vec().expect("encode");
                let mut framed = (bytes.len() as u16).to_be_bytes().to_vec();
                framed.extend_from_slice(&bytes);
                let _ = stream.write_all(&framed);
            }
        });
        Upstream {
            addr,
            seen,
            stop,
            threads: vec![udp_thread, tcp_thread],
        }
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

fn response(q: &Message, ips: &[Ipv4Addr]) -> Message {
    let mut r = Message::response(q.metadata.id, q.metadata.op_code);
    r.metadata.recursion_desired = q.metadata.recursion_desired;
    r.metadata.recursion_available = true;
    r.queries = q.queries.clone();
    if let Some(query) = q.queries.first() {
        for ip in ips {
            let record = Record::from_rdata(query.name().clone(), 60, RData::A(A(*ip)));
            r.add_answer(record);
        }
    }
    r
}
